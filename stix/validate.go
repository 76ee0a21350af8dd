package stix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Severity says whether a Finding breaks a MUST (error) or a SHOULD (warning).
type Severity uint8

const (
	// SeverityError is a MUST-level violation: the input is not valid STIX 2.1.
	SeverityError Severity = iota + 1
	// SeverityWarning is a SHOULD-level violation: valid, but not best practice.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// Finding is one validation result. Rule is a short stable name (e.g.
// "required", "id-type-mismatch", "timestamp-precision"); Message says what is
// wrong in words.
type Finding struct {
	Severity   Severity
	ObjectID   string // the object's id, when known
	ObjectType string // the object's type, when known
	Path       string // where the object is in the input, e.g. "objects[3]"; "" for the top level
	Property   string // the property, e.g. "created" or "external_references[0].source_name"
	Rule       string
	Message    string
}

// FormatFinding renders f on one line: severity, object (id, else path, else
// "input"), property, rule and message.
func FormatFinding(f Finding) string {
	obj := f.ObjectID
	if obj == "" {
		obj = f.Path
	} else if f.Path != "" {
		obj = f.Path + " " + obj
	}
	if obj == "" {
		obj = "input"
	}
	prop := f.Property
	if prop == "" {
		prop = "-"
	}
	return fmt.Sprintf("%s: %s: %s: [%s] %s", f.Severity, obj, prop, f.Rule, f.Message)
}

// ValidationError converts f to the package's error type, e.g. for a TAXII 400.
func (f Finding) ValidationError() *ValidationError {
	return &ValidationError{ID: f.ObjectID, Type: f.ObjectType, Property: f.Property, Reason: f.Rule + ": " + f.Message}
}

// HasErrors reports whether fs holds at least one SeverityError finding.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// PatternChecker checks a STIX pattern (§9) and returns an error describing the
// first problem (with its column), or nil. stix/pattern provides one; stix itself
// does not parse patterns.
type PatternChecker func(pattern string) error

// Validator checks STIX 2.1 content at the MUST level (errors) and the SHOULD level
// (warnings). The zero value is usable: DefaultLimits, no pattern checking.
type Validator struct {
	// Limits bounds the input; the zero value means DefaultLimits.
	Limits Limits
	// PatternChecker, if set, validates indicator patterns whose pattern_type is
	// "stix". Without it patterns are not checked.
	PatternChecker PatternChecker
	// Lenient is the TAXII lenient profile: created/modified with second
	// precision, TLP 1.0 marking definitions that differ from the predefined
	// objects, and URL values that are not RFC 3986 draw warnings instead of
	// errors. (Upper-case UUID hex is a warning in every profile: the OASIS
	// examples in ../shared/testdata/stix/valid use it.)
	Lenient bool
}

func (v *Validator) limits() Limits {
	if v.Limits == (Limits{}) {
		return DefaultLimits
	}
	return v.Limits
}

// Validate validates raw, which may be a bundle, a TAXII envelope, a bare array of
// objects or a single object, with the zero Validator.
func Validate(raw []byte) []Finding {
	var v Validator
	return v.Validate(raw)
}

// Validate validates raw, which may be a bundle, a TAXII envelope, a bare array of
// objects or a single object. Malformed JSON and exceeded limits are findings
// too (rules "json", "limit", "not-object").
func (v *Validator) Validate(raw []byte) []Finding {
	fs, _ := v.ValidateReader(bytes.NewReader(raw))
	return fs
}

// ValidateReader is Validate over a stream: it holds one object at a time (and the
// ids seen, for the duplicate check). The error is non-nil only if reading r
// failed; malformed input is reported as findings.
func (v *Validator) ValidateReader(r io.Reader) ([]Finding, error) {
	lim := v.limits()
	d := NewDecoder(r, lim)
	var out []Finding
	seen := map[string]bool{}
	var ioErr error
	for {
		o, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f, recoverable, isIO := decodeFinding(d.Path(), err)
			out = append(out, f)
			if isIO {
				ioErr = err
			}
			if recoverable {
				continue
			}
			return out, ioErr
		}
		path := ""
		if d.env.Kind != ContainerSingle {
			path = d.Path()
		}
		c := objCheck{v: v, lim: lim, path: path, ms: d.members, out: out}
		c.check()
		out = c.out
		if o.Type == "bundle" && path != "" {
			out = append(out, Finding{Severity: SeverityError, ObjectID: o.ID, ObjectType: o.Type, Path: path,
				Property: "type", Rule: "nested-bundle", Message: "a bundle may not contain a bundle (§8)"})
		}
		if o.ID != "" {
			key := o.ID
			if o.Modified != nil {
				key += "\x00" + o.Modified.String()
			}
			if seen[key] {
				out = append(out, Finding{Severity: SeverityWarning, ObjectID: o.ID, ObjectType: o.Type, Path: path,
					Property: "id", Rule: "duplicate-version",
					Message: "another object in this input has the same id and modified (§3.6)"})
			}
			seen[key] = true
		}
	}
	out = append(out, containerFindings(d.Envelope())...)
	return out, ioErr
}

// decodeFinding turns a Decoder error into a finding.
func decodeFinding(path string, err error) (f Finding, recoverable, isIO bool) {
	f = Finding{Severity: SeverityError, Path: path, Rule: "json", Message: err.Error()}
	var ne *NotObjectError
	var le *LimitError
	var se *SyntaxError
	switch {
	case errors.As(err, &ne):
		f.Rule = "not-object"
		f.Message = "each member of objects must be a JSON object with a type: " + err.Error()
		return f, path != "", false
	case errors.As(err, &le):
		f.Rule = "limit"
		return f, le.Limit == "max object size" && path != "", false
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, ErrTrailingData):
		return f, false, false
	}
	var de *DecodeError
	if errors.As(err, &de) {
		// Other decoder errors (empty input, duplicate objects, …) are input problems.
		if de.Err != nil && !isReadError(de.Err) {
			return f, false, false
		}
	}
	f.Rule = "read"
	return f, false, true
}

func isReadError(err error) bool {
	var se *SyntaxError
	var ne *NotObjectError
	var le *LimitError
	if errors.As(err, &se) || errors.As(err, &ne) || errors.As(err, &le) {
		return false
	}
	msg := err.Error()
	return !(strings.HasPrefix(msg, "empty input") || strings.Contains(msg, `duplicate "objects"`) ||
		strings.HasPrefix(msg, "want "))
}

// containerFindings checks the bundle or envelope around the objects (§8; TAXII
// 2.1 §3.7 envelope).
func containerFindings(env Envelope) []Finding {
	var out []Finding
	add := func(sev Severity, prop, rule, msg string) {
		out = append(out, Finding{Severity: sev, ObjectID: env.ID, ObjectType: env.Type, Property: prop, Rule: rule, Message: msg})
	}
	switch env.Kind {
	case ContainerList:
		add(SeverityWarning, "", "bare-list", "input is a bare JSON array, not a bundle or TAXII envelope")
	case ContainerBundle:
		if env.ID == "" {
			add(SeverityError, "id", "required", "a bundle must have an id (§8)")
		} else {
			typ, problem, upper := checkIdentifier(env.ID)
			switch {
			case problem != "":
				add(SeverityError, "id", "identifier", fmt.Sprintf("%s: %s", quote(env.ID), problem))
			case typ != "bundle":
				add(SeverityError, "id", "id-type-mismatch", fmt.Sprintf("%s does not start with \"bundle--\"", quote(env.ID)))
			case upper:
				add(SeverityWarning, "id", "uuid-case", "UUID should be lower-case hex")
			}
			if problem == "" && uuidVersion(env.ID) != '4' {
				add(SeverityWarning, "id", "uuid-version", "a bundle id should use a UUIDv4 (§2.9)")
			}
		}
		for i, m := range env.Members {
			switch m {
			case "type", "id":
				if env.Kinds[i] != "string" {
					add(SeverityError, m, "type-mismatch", m+" must be a string")
				}
			case "objects":
			case "spec_version":
				add(SeverityWarning, m, "bundle-spec-version", "a STIX 2.1 bundle has no spec_version (that is STIX 2.0)")
			default:
				add(SeverityWarning, m, "custom-property", fmt.Sprintf("bundle property %s is not defined by STIX 2.1", quote(m)))
			}
		}
		if env.Count == 0 && contains(env.Members, "objects") {
			add(SeverityError, "objects", "empty-list", "objects, if present, must not be empty")
		}
	case ContainerEnvelope:
		for i, m := range env.Members {
			switch m {
			case "objects":
			case "more":
				if env.Kinds[i] != "boolean" {
					add(SeverityError, m, "type-mismatch", "more must be a boolean (TAXII 2.1 §3.7)")
				}
			case "next":
				if env.Kinds[i] != "string" {
					add(SeverityError, m, "type-mismatch", "next must be a string (TAXII 2.1 §3.7)")
				}
			case "type":
				add(SeverityError, m, "container-type", fmt.Sprintf("top-level type %s: want \"bundle\"", quote(env.Type)))
			default:
				add(SeverityWarning, m, "unknown-member", fmt.Sprintf("envelope member %s is not defined by TAXII 2.1", quote(m)))
			}
		}
	}
	return out
}

// ValidateObject validates one object already decoded (e.g. by a Decoder), without
// the checks that need its container (duplicates, bundle id). The findings share
// o.JSON's memory.
func (v *Validator) ValidateObject(o *RawObject) []Finding {
	lim := v.limits()
	mb := getMembers()
	_, members, err := parseObjectFill(o.JSON, lim, 0, mb.ms, fillNone)
	if err != nil {
		putMembers(mb, members, len(o.JSON))
		f, _, _ := decodeFinding("", err)
		f.ObjectID, f.ObjectType = o.ID, o.Type
		return []Finding{f}
	}
	c := objCheck{v: v, lim: lim, ms: members}
	c.check()
	putMembers(mb, members, len(o.JSON))
	return c.out
}

// ParseAndValidate parses one object (like ParseRaw) and validates it in one
// pass. The object and the findings share b's memory, so b must not be modified
// or reused afterwards. err is non-nil only when b is not a JSON object within
// the limits; the findings then repeat it.
func (v *Validator) ParseAndValidate(b []byte) (*RawObject, []Finding, error) {
	lim := v.limits()
	mb := getMembers()
	blk, members, err := parseObjectFill(b, lim, 0, mb.ms, fillDeferred)
	if err != nil {
		putMembers(mb, members, len(b))
		f, _, _ := decodeFinding("", err)
		return nil, []Finding{f}, err
	}
	o := &blk.obj
	c := objCheck{v: v, lim: lim, ms: members, blk: blk}
	if blk.deferRefs {
		c.fillRefs = &o.ExternalReferences
	}
	if blk.deferExt {
		c.fillExt = &o.Extensions
	}
	c.check()
	putMembers(mb, members, len(b))
	return o, c.out, nil
}
