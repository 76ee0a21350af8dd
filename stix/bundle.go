package stix

import (
	"encoding/json"
	"fmt"
)

// Bundle is a STIX 2.1 bundle (§8): a transport wrapper, not stored or versioned.
// It has no spec_version.
type Bundle struct {
	Type    string   `json:"type"`
	ID      string   `json:"id"`
	Objects []Object `json:"objects,omitempty"`
}

// NewBundle returns a bundle with a new UUIDv4 id holding objs.
func NewBundle(objs ...Object) *Bundle {
	return &Bundle{Type: "bundle", ID: NewID("bundle"), Objects: objs}
}

// Validate reports the first MUST-level problem of the bundle or its objects as
// a *ValidationError, or nil.
func (b *Bundle) Validate() error {
	raw, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("validate bundle: %w", err)
	}
	for _, f := range Validate(raw) {
		if f.Severity == SeverityError {
			return f.ValidationError()
		}
	}
	return nil
}
