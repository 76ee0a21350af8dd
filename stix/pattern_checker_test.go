package stix_test

import "github.com/ctibroker/ctibroker/stix/pattern"

// testPatternChecker is the real STIX pattern parser, plugged in as cmd does.
var testPatternChecker = pattern.Check
