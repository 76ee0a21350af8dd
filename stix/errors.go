package stix

import "fmt"

// ValidationError is one MUST-level finding about an object: which object, which
// property, which rule.
type ValidationError struct {
	ID       string // object id, when known
	Type     string // object type, when known
	Property string // property path, e.g. "pattern" or "objects[3].created"
	Reason   string // the rule broken, e.g. "required"
}

// Error returns "id: property: reason", with the type if the id is unknown.
func (e *ValidationError) Error() string {
	obj := e.ID
	if obj == "" {
		obj = e.Type
	}
	if obj == "" {
		return fmt.Sprintf("%s: %s", e.Property, e.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", obj, e.Property, e.Reason)
}
