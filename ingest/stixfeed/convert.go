package stixfeed

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
)

// Provider is the name stixfeed registers under in the ingest.Registry.
const Provider = "stix"

// Converter turns received STIX objects into batch content: the objects as
// received, and observations for simple-pattern indicators. It is pure.
type Converter struct {
	// Validator checks each object; objects with error findings are skipped with a
	// warning. nil: the lenient validator with pattern checking.
	Validator *stix.Validator
	// Now is the reference time for valid_until; zero: not checked.
	Now time.Time
	// DefaultTLP applies to values whose indicator carries no TLP marking.
	DefaultTLP string
}

func (c *Converter) validator() *stix.Validator {
	if c.Validator != nil {
		return c.Validator
	}
	return &stix.Validator{Lenient: true, PatternChecker: pattern.Check}
}

// indicatorFields are what an indicator's observation needs beyond Common.
type indicatorFields struct {
	Pattern     string `json:"pattern"`
	PatternType string `json:"pattern_type"`
	ValidFrom   string `json:"valid_from"`
	ValidUntil  string `json:"valid_until"`
}

// hashTypes maps STIX hash keys (upper case, as pattern paths carry them) onto
// ingest type names.
var hashTypes = map[string]string{"MD5": "md5", "SHA-1": "sha1", "SHA1": "sha1", "SHA-256": "sha256", "SHA256": "sha256",
	"SHA-512": "sha512", "SHA512": "sha512", "SSDEEP": "ssdeep"}

// ValueOf returns the ingest type and value of a simple pattern
// ([ipv4-addr:value = '…'], [file:hashes.'SHA-256' = '…'], …), and false for any
// other pattern.
func ValueOf(p string) (typ, value string, ok bool) {
	objType, path, value, ok := pattern.Simple(p)
	if !ok {
		return "", "", false
	}
	switch objType {
	case "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr":
		if path == "value" {
			return objType, value, true
		}
	case "file":
		if key, ok := strings.CutPrefix(path, "hashes."); ok {
			if t, ok := hashTypes[strings.ToUpper(strings.Trim(key, "'"))]; ok {
				return t, value, true
			}
		}
	}
	return "", "", false
}

// Add appends o to out: the object, and for a simple-pattern indicator its
// observation. record names o in warnings (e.g. "objects[3]").
func (c *Converter) Add(out *ingest.Batch, o *stix.RawObject, record string) {
	warn := func(field, format string, a ...any) {
		out.Warnings = append(out.Warnings, ingest.Warning{Record: record, Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	if o.ID != "" {
		record += " " + o.ID
	}
	for _, f := range c.validator().ValidateObject(o) {
		if f.Severity == stix.SeverityError {
			prop := f.Property
			if prop == "" {
				prop = "-"
			}
			warn(prop, "[%s] %s; object skipped", f.Rule, f.Message)
			return
		}
	}
	out.Objects = append(out.Objects, o)
	if o.Type != "indicator" {
		return
	}
	var ind indicatorFields
	if err := json.Unmarshal(o.JSON, &ind); err != nil {
		warn("-", "%v", err)
		return
	}
	if ind.PatternType != "stix" {
		return
	}
	typ, value, ok := ValueOf(ind.Pattern)
	if !ok {
		return
	}
	if _, err := ingest.Normalize(typ, value); err != nil {
		warn("pattern", "%v", err)
		return
	}
	detect, revoked := true, o.Revoked
	if ind.ValidUntil != "" && !c.Now.IsZero() {
		if t, err := stix.ParseTimestamp(ind.ValidUntil); err == nil && !t.After(c.Now) {
			revoked = true
		}
	}
	if revoked {
		detect = false
	}
	var seen time.Time
	switch {
	case o.Modified != nil:
		seen = o.Modified.Time
	case o.Created != nil:
		seen = o.Created.Time
	}
	tlp := ""
	if l := stix.MaxTLP(o.ObjectMarkingRefs); l != stix.TLPNone {
		tlp = strings.ToLower(strings.TrimPrefix(l.String(), "TLP:"))
	} else {
		tlp = c.DefaultTLP
	}
	v := map[string]any{"indicator": o.ID}
	if o.Confidence != nil {
		v["confidence"] = *o.Confidence
	}
	if o.CreatedByRef != "" {
		v["created_by_ref"] = o.CreatedByRef
	}
	verdict, _ := json.Marshal(v)
	out.Observations = append(out.Observations, ingest.Observation{Type: typ, Value: value, Verdict: verdict,
		Detect: detect, Revoked: revoked, Seen: seen, Context: ingest.Context{Labels: o.Labels, TLP: tlp}})
}

// Decode streams a bundle, TAXII envelope, JSON array of objects or single
// object from r (gzip is recognised by its magic bytes) and calls each for every
// object with its path ("objects[3]"). Elements that are not objects, or exceed
// the object size limit, go to skip with their error; the stream continues. Any
// other error ends decoding: malformed JSON, a cut-off stream (wrapping
// io.ErrUnexpectedEOF), or each's own error, returned as is.
func Decode(r io.Reader, lim stix.Limits, each func(o *stix.RawObject, path string) error, skip func(path string, err error)) (stix.Envelope, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return stix.Envelope{}, err
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	d := stix.NewDecoder(br, lim)
	for {
		o, err := d.Next()
		if errors.Is(err, io.EOF) {
			return d.Envelope(), nil
		}
		var ne *stix.NotObjectError
		var le *stix.LimitError
		if err != nil && (errors.As(err, &ne) || errors.As(err, &le) && le.Limit == "max object size") {
			skip(d.Path(), err)
			continue
		}
		if err != nil {
			return d.Envelope(), err
		}
		if err := each(o, d.Path()); err != nil {
			return d.Envelope(), err
		}
	}
}
