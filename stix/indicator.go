package stix

// Indicator is a STIX 2.1 Indicator SDO (§4.7).
type Indicator struct {
	Common
	Name            string           `json:"name,omitempty"`
	Description     string           `json:"description,omitempty"`
	IndicatorTypes  []string         `json:"indicator_types,omitempty"`
	Pattern         string           `json:"pattern"`
	PatternType     string           `json:"pattern_type"`
	PatternVersion  string           `json:"pattern_version,omitempty"`
	ValidFrom       Timestamp        `json:"valid_from"`
	ValidUntil      *Timestamp       `json:"valid_until,omitempty"`
	KillChainPhases []KillChainPhase `json:"kill_chain_phases,omitempty"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
// The pattern's syntax is not checked here (see Validator.PatternChecker).
func (i *Indicator) Validate() error { return validateTyped(i) }
