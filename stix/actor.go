package stix

// ThreatActor is a STIX 2.1 Threat Actor SDO (§4.17).
type ThreatActor struct {
	Common
	Name                 string     `json:"name"`
	Description          string     `json:"description,omitempty"`
	ThreatActorTypes     []string   `json:"threat_actor_types,omitempty"`
	Aliases              []string   `json:"aliases,omitempty"`
	FirstSeen            *Timestamp `json:"first_seen,omitempty"`
	LastSeen             *Timestamp `json:"last_seen,omitempty"`
	Roles                []string   `json:"roles,omitempty"`
	Goals                []string   `json:"goals,omitempty"`
	Sophistication       string     `json:"sophistication,omitempty"`
	ResourceLevel        string     `json:"resource_level,omitempty"`
	PrimaryMotivation    string     `json:"primary_motivation,omitempty"`
	SecondaryMotivations []string   `json:"secondary_motivations,omitempty"`
	PersonalMotivations  []string   `json:"personal_motivations,omitempty"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (t *ThreatActor) Validate() error { return validateTyped(t) }

// IntrusionSet is a STIX 2.1 Intrusion Set SDO (§4.9).
type IntrusionSet struct {
	Common
	Name                 string     `json:"name"`
	Description          string     `json:"description,omitempty"`
	Aliases              []string   `json:"aliases,omitempty"`
	FirstSeen            *Timestamp `json:"first_seen,omitempty"`
	LastSeen             *Timestamp `json:"last_seen,omitempty"`
	Goals                []string   `json:"goals,omitempty"`
	ResourceLevel        string     `json:"resource_level,omitempty"`
	PrimaryMotivation    string     `json:"primary_motivation,omitempty"`
	SecondaryMotivations []string   `json:"secondary_motivations,omitempty"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (s *IntrusionSet) Validate() error { return validateTyped(s) }

// Campaign is a STIX 2.1 Campaign SDO (§4.2).
type Campaign struct {
	Common
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Aliases     []string   `json:"aliases,omitempty"`
	FirstSeen   *Timestamp `json:"first_seen,omitempty"`
	LastSeen    *Timestamp `json:"last_seen,omitempty"`
	Objective   string     `json:"objective,omitempty"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (c *Campaign) Validate() error { return validateTyped(c) }
