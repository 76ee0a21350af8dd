package taxii

import (
	"github.com/ctibroker/ctibroker/stix"
)

// Limits of one posted object (DESIGN.md "Limits").
const (
	MaxObjectSize = 16 << 20 // bytes
	MaxJSONDepth  = 64
)

// STIXValidator returns an ObjectValidator running v (the STIX 2.1 MUST-level
// checks) on each posted object, with v.Lenient set from the configuration's
// lenient profile: second-precision created/modified, upper-case UUID hex and
// TLP 1.0 marking definitions that differ from the predefined ones are then
// accepted (stix warnings). The first error finding refuses the object; the
// strict profile also refuses upper-case UUID hex.
func STIXValidator(v stix.Validator) ObjectValidator {
	strict, lenient := v, v
	strict.Lenient, lenient.Lenient = false, true
	return func(obj *stix.RawObject, isLenient bool) error {
		val := &strict
		if isLenient {
			val = &lenient
		}
		for _, f := range val.ValidateObject(obj) {
			if f.Severity == stix.SeverityError || !isLenient && strictRules[f.Rule] {
				return f.ValidationError()
			}
		}
		return nil
	}
}

// strictRules are stix warning rules the strict profile refuses: STIX allows
// upper-case UUID hex (SHOULD), the strict TAXII profile does not.
var strictRules = map[string]bool{"uuid-case": true}

// jsonDepth returns the nesting depth of a JSON value (strings skipped).
func jsonDepth(b []byte) int {
	depth, most, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			most = max(most, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return most
}
