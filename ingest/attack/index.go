package attack

// Index resolves ATT&CK ids.
type Index struct{}
