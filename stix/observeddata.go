package stix

// ObservedData is a STIX 2.1 Observed Data SDO (§4.13).
type ObservedData struct {
	Common
	FirstObserved  Timestamp `json:"first_observed"`
	LastObserved   Timestamp `json:"last_observed"`
	NumberObserved int       `json:"number_observed"`
	ObjectRefs     []string  `json:"object_refs"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (o *ObservedData) Validate() error { return validateTyped(o) }
