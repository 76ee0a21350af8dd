package stix

// ExtensionDefinition is a STIX 2.1 Extension Definition (§7.3). CreatedByRef is
// required by §7.3.
type ExtensionDefinition struct {
	Common
	Name                string   `json:"name"`
	Description         string   `json:"description,omitempty"`
	Schema              string   `json:"schema"`
	Version             string   `json:"version"`
	ExtensionTypes      []string `json:"extension_types"`
	ExtensionProperties []string `json:"extension_properties,omitempty"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (e *ExtensionDefinition) Validate() error { return validateTyped(e) }
