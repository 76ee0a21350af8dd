package ingest

import (
	"errors"
	"fmt"
	"html"
	"net/netip"
	"strings"
)

// Placeholders is a set of lower-case values a provider puts where a value is
// missing or withheld ("n/a", "[redacted]", "0.0.0.0", ...). Providers that
// recognise different sets each declare their own.
type Placeholders map[string]bool

// ReportedPlaceholders is the placeholder set IsPlaceholder and NormalizeReported
// use.
var ReportedPlaceholders = Placeholders{
	"-": true, "--": true, "n/a": true, "na": true, "none": true, "null": true, "nil": true, "unknown": true,
	"redacted": true, "[redacted]": true, "<redacted>": true, "removed": true, "hidden": true, "xxx": true,
	"0.0.0.0": true, "::": true, "255.255.255.255": true, "x.x.x.x": true, "*.*.*.*": true,
}

// ErrMissing is returned by CheckReported and NormalizeReported for an empty or
// all-white-space value. Its text, "missing", is the warning providers give.
var ErrMissing = errors.New("missing")

// PlaceholderError is returned for a value that stands in for a missing one:
// a member of the placeholder set, nothing but masking characters ("xx.xx",
// "***"), or (Address) an IP address that is unspecified or 255.255.255.255.
// Its text is the warning providers give.
type PlaceholderError struct {
	Value   string // the value as reported
	Address bool   // it normalised to a placeholder IP address
}

func (e *PlaceholderError) Error() string {
	if e.Address {
		return fmt.Sprintf("placeholder address %q instead of a value", e.Value)
	}
	return fmt.Sprintf("placeholder %q instead of a value", e.Value)
}

// Has reports whether v, trimmed and in lower case, is in p or consists only of
// the masking characters x * ? . - : #.
func (p Placeholders) Has(v string) bool {
	s := strings.ToLower(strings.TrimSpace(v))
	return p[s] || strings.Trim(s, "x*?.-:#") == ""
}

// IsPlaceholder reports whether v is a placeholder of ReportedPlaceholders
// (see Placeholders.Has).
func IsPlaceholder(v string) bool { return ReportedPlaceholders.Has(v) }

// CheckReported returns ErrMissing for an empty or white-space value and a
// *PlaceholderError for a placeholder of p; nil otherwise.
func (p Placeholders) CheckReported(value string) error {
	if strings.TrimSpace(value) == "" {
		return ErrMissing
	}
	if p.Has(value) {
		return &PlaceholderError{Value: value}
	}
	return nil
}

// NormalizeReported normalises a value a provider reported as typ: CheckReported,
// then HTML entities of a URL are unescaped, then Normalize, then an IP address
// that is a placeholder (see CheckAddress) is rejected. The error is ErrMissing,
// a *PlaceholderError or Normalize's error.
func (p Placeholders) NormalizeReported(typ, value string) (Value, error) {
	if err := p.CheckReported(value); err != nil {
		return Value{}, err
	}
	if typ == TypeURL && strings.Contains(value, "&") {
		value = html.UnescapeString(value)
	}
	v, err := Normalize(typ, value)
	if err != nil {
		return Value{}, err
	}
	if err := CheckAddress(v, value); err != nil {
		return Value{}, err
	}
	return v, nil
}

// NormalizeReported is ReportedPlaceholders.NormalizeReported.
func NormalizeReported(typ, value string) (Value, error) {
	return ReportedPlaceholders.NormalizeReported(typ, value)
}

// CheckAddress returns a *PlaceholderError with Address set, naming reported,
// when v is an IPv4 or IPv6 address that stands in for a missing one (0.0.0.0,
// ::, 255.255.255.255); nil otherwise.
func CheckAddress(v Value, reported string) error {
	if v.Type != TypeIPv4 && v.Type != TypeIPv6 {
		return nil
	}
	if p, err := netip.ParseAddr(v.Value); err == nil && (p.IsUnspecified() || p == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
		return &PlaceholderError{Value: reported, Address: true}
	}
	return nil
}

// CleanText unescapes HTML entities in s and trims white space.
func CleanText(s string) string {
	if strings.Contains(s, "&") {
		s = html.UnescapeString(s)
	}
	return strings.TrimSpace(s)
}

// SectorOf returns vocab's value for name trimmed and in lower case (vocab maps
// a provider's lower-case industry names onto industry-sector-ov); else the
// name's runs of ASCII letters and digits joined by "-" ("Oil & Gas" →
// "oil-gas"), or "other" when it has none. Unlike SectorVocab, which the Runner
// applies to every sector, it drops all punctuation.
func SectorOf(name string, vocab map[string]string) string {
	k := strings.ToLower(strings.TrimSpace(name))
	if s, ok := vocab[k]; ok {
		return s
	}
	var b strings.Builder
	dash := false
	for _, r := range k {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		} else {
			dash = true
		}
	}
	if b.Len() == 0 {
		return "other"
	}
	return b.String()
}
