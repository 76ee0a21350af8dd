package stix_test

// testPatternChecker is nil until stix/pattern is available to plug in.
var testPatternChecker func(string) error
