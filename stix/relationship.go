package stix

// Relationship is a STIX 2.1 Relationship SRO (§5.1).
type Relationship struct {
	Common
	RelationshipType string     `json:"relationship_type"`
	Description      string     `json:"description,omitempty"`
	SourceRef        string     `json:"source_ref"`
	TargetRef        string     `json:"target_ref"`
	StartTime        *Timestamp `json:"start_time,omitempty"`
	StopTime         *Timestamp `json:"stop_time,omitempty"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (r *Relationship) Validate() error { return validateTyped(r) }
