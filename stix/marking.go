package stix

import "encoding/json"

// MarkingDefinition is a STIX 2.1 Marking Definition (§7.2.1). It has created but
// no modified and is never versioned. TLP 2.0 markings use Extensions instead of
// DefinitionType/Definition; see TLP.
type MarkingDefinition struct {
	Common
	Name           string          `json:"name,omitempty"`
	DefinitionType string          `json:"definition_type,omitempty"`
	Definition     json.RawMessage `json:"definition,omitempty"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (m *MarkingDefinition) Validate() error { return validateTyped(m) }
