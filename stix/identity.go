package stix

// Identity is a STIX 2.1 Identity SDO (§4.5).
type Identity struct {
	Common
	Name               string   `json:"name"`
	Description        string   `json:"description,omitempty"`
	Roles              []string `json:"roles,omitempty"`
	IdentityClass      string   `json:"identity_class,omitempty"`
	Sectors            []string `json:"sectors,omitempty"`
	ContactInformation string   `json:"contact_information,omitempty"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (i *Identity) Validate() error { return validateTyped(i) }
