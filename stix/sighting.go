package stix

// Sighting is a STIX 2.1 Sighting SRO (§5.2).
type Sighting struct {
	Common
	Description      string     `json:"description,omitempty"`
	FirstSeen        *Timestamp `json:"first_seen,omitempty"`
	LastSeen         *Timestamp `json:"last_seen,omitempty"`
	Count            *int       `json:"count,omitempty"`
	SightingOfRef    string     `json:"sighting_of_ref"`
	ObservedDataRefs []string   `json:"observed_data_refs,omitempty"`
	WhereSightedRefs []string   `json:"where_sighted_refs,omitempty"`
	Summary          bool       `json:"summary,omitempty"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (s *Sighting) Validate() error { return validateTyped(s) }
