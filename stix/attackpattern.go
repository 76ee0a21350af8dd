package stix

// AttackPattern is a STIX 2.1 Attack Pattern SDO (§4.1). ATT&CK techniques carry
// their id in ExternalReferences (source_name "mitre-attack").
type AttackPattern struct {
	Common
	Name            string           `json:"name"`
	Description     string           `json:"description,omitempty"`
	Aliases         []string         `json:"aliases,omitempty"`
	KillChainPhases []KillChainPhase `json:"kill_chain_phases,omitempty"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (a *AttackPattern) Validate() error { return validateTyped(a) }
