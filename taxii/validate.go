package taxii

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

// Limits of one posted object (DESIGN.md "Limits").
const (
	MaxObjectSize = 16 << 20 // bytes
	MaxJSONDepth  = 64
)

// scoTypes are the STIX 2.1 cyber-observable types (§6), which need neither
// created nor modified nor spec_version.
var scoTypes = map[string]bool{
	"artifact": true, "autonomous-system": true, "directory": true, "domain-name": true,
	"email-addr": true, "email-message": true, "file": true, "ipv4-addr": true, "ipv6-addr": true,
	"mac-addr": true, "mutex": true, "network-traffic": true, "process": true, "software": true,
	"url": true, "user-account": true, "windows-registry-key": true, "x509-certificate": true,
}

// tlp1 are the TLP 1.0 marking-definition ids (STIX 2.1 §7.2.1.4) and their levels.
var tlp1 = map[string]string{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "white",
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
}

var (
	uuidLowerRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	uuidAnyRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// stixTimeRE is a STIX timestamp with its fraction captured (§2.15).
	stixTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$`)
)

// rawFields are the properties the built-in checks read as the producer wrote them.
type rawFields struct {
	Type           string         `json:"type"`
	ID             string         `json:"id"`
	SpecVersion    *string        `json:"spec_version"`
	Created        *string        `json:"created"`
	Modified       *string        `json:"modified"`
	DefinitionType string         `json:"definition_type"`
	Definition     map[string]any `json:"definition"`
}

// validateObject is the built-in structural check of a posted object, used
// when Deps.Validate is nil. It checks what the server relies on (type, id,
// spec_version, created/modified) and the lenient profile's deviations:
// second-precision created/modified, uppercase UUID hex and TLP 1.0 markings
// are accepted only when lenient.
func validateObject(obj *stix.RawObject, lenient bool) error {
	fail := func(prop, reason string) error {
		return &stix.ValidationError{ID: obj.ID, Type: obj.Type, Property: prop, Reason: reason}
	}
	var f rawFields
	if err := json.Unmarshal(obj.JSON, &f); err != nil {
		return fail("", "not a JSON object: "+err.Error())
	}
	if !typeRE.MatchString(f.Type) {
		if f.Type == "" {
			return fail("type", "required")
		}
		return fail("type", "must be 3-250 characters of a-z, 0-9 and '-'")
	}
	typ, uid, ok := strings.Cut(f.ID, "--")
	switch {
	case f.ID == "":
		return fail("id", "required")
	case !ok || typ != f.Type:
		return fail("id", "must be <type>--<UUID> with the object's type")
	case uuidLowerRE.MatchString(uid):
	case lenient && uuidAnyRE.MatchString(uid):
	default:
		return fail("id", "UUID part must be lower-case hex in 8-4-4-4-12 form")
	}
	sco := scoTypes[f.Type]
	if f.SpecVersion == nil {
		if !sco {
			return fail("spec_version", "required")
		}
	} else if *f.SpecVersion != "2.1" {
		return fail("spec_version", "unsupported spec_version "+*f.SpecVersion+"; this collection takes STIX 2.1")
	}
	var created, modified time.Time
	for _, p := range []struct {
		name string
		v    *string
		t    *time.Time
	}{{"created", f.Created, &created}, {"modified", f.Modified, &modified}} {
		if p.v == nil {
			continue
		}
		m := stixTimeRE.FindStringSubmatch(*p.v)
		if m == nil {
			return fail(p.name, "not a STIX timestamp (RFC 3339, UTC, Z)")
		}
		t, err := time.Parse(time.RFC3339Nano, *p.v)
		if err != nil {
			return fail(p.name, "not a valid date and time")
		}
		*p.t = t
		if len(m[1]) < 4 && !lenient { // m[1] holds the dot
			return fail(p.name, "must be precise to at least the millisecond (STIX 2.1 §3.2); the lenient profile accepts it")
		}
	}
	if !sco {
		if f.Created == nil {
			return fail("created", "required")
		}
		if f.Modified == nil && f.Type != "marking-definition" {
			return fail("modified", "required")
		}
	}
	if f.Modified != nil && f.Created != nil && modified.Before(created) {
		return fail("modified", "must not be earlier than created")
	}
	if f.Type == "marking-definition" && f.DefinitionType == "tlp" {
		level, known := tlp1[f.ID]
		if !known {
			return fail("id", "a TLP 1.0 marking-definition must use one of the four standard ids")
		}
		if v, _ := f.Definition["tlp"].(string); v != level {
			return fail("definition.tlp", "must be \""+level+"\" for this id")
		}
		if !lenient {
			return fail("definition_type", "TLP 1.0 markings are accepted by the lenient profile only; use the TLP 2.0 marking definitions")
		}
	}
	return nil
}

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
