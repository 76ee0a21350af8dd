package ingest_test

import (
	"errors"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
)

func TestIsPlaceholder(t *testing.T) {
	for in, want := range map[string]bool{
		"-": true, " N/A ": true, "None": true, "nil": true, "[REDACTED]": true, "<redacted>": true,
		"removed": true, "0.0.0.0": true, "::": true, "255.255.255.255": true, "x.x.x.x": true,
		"*.*.*.*": true, "xx.xx": true, "***": true, "??": true, "#": true, "": true, "   ": true,
		"198.51.100.3": false, "example.com": false, "x.example": false, "0": false, "nothing": false,
		"d41d8cd98f00b204e9800998ecf8427e": false,
	} {
		if got := ingest.IsPlaceholder(in); got != want {
			t.Errorf("IsPlaceholder(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestPlaceholdersOwnSet(t *testing.T) {
	small := ingest.Placeholders{"n/a": true}
	for in, want := range map[string]bool{"N/A": true, "nil": false, "removed": false, "--": true, "xxx": true} {
		if got := small.Has(in); got != want {
			t.Errorf("Has(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestNormalizeReported(t *testing.T) {
	for name, tt := range map[string]struct {
		typ, in string
		want    ingest.Value
		msg     string // the error's text, "" for none
	}{
		"ip":                 {"ip", " 198.51.100.3 ", ingest.Value{Type: "ipv4-addr", Value: "198.51.100.3"}, ""},
		"empty":              {"ip", "", ingest.Value{}, "missing"},
		"white space":        {"url", " \t\n", ingest.Value{}, "missing"},
		"placeholder":        {"hostname", " N/A", ingest.Value{}, `placeholder " N/A" instead of a value`},
		"masked":             {"ip", "xx.xx.xx.xx", ingest.Value{}, `placeholder "xx.xx.xx.xx" instead of a value`},
		"zero ipv4 in set":   {"ip", "0.0.0.0", ingest.Value{}, `placeholder "0.0.0.0" instead of a value`},
		"zero ipv4 /32":      {"ip", "0.0.0.0/32", ingest.Value{}, `placeholder address "0.0.0.0/32" instead of a value`},
		"ipv6 unspecified":   {"ip", "0:0::0", ingest.Value{}, `placeholder address "0:0::0" instead of a value`},
		"broadcast defanged": {"ip", "255[.]255[.]255[.]255", ingest.Value{}, `placeholder address "255[.]255[.]255[.]255" instead of a value`},
		"cidr zero kept":     {"ip", "0.0.0.0/8", ingest.Value{Type: "ipv4-addr", Value: "0.0.0.0/8"}, ""},
		"url unescaped":      {"url", "http://a.example/?x=1&amp;y=2", ingest.Value{Type: "url", Value: "http://a.example/?x=1&y=2"}, ""},
		"domain not unescaped": {"hostname", "a&amp;b.example", ingest.Value{},
			`domain-name "a&amp;b.example": label "a&amp;b": character '&' not allowed: invalid indicator value`},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ingest.NormalizeReported(tt.typ, tt.in)
			if tt.msg == "" {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizeReported(%q, %q) = %+v, %v; want %+v", tt.typ, tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil || err.Error() != tt.msg {
				t.Fatalf("NormalizeReported(%q, %q) error = %v; want %q", tt.typ, tt.in, err, tt.msg)
			}
			if got != (ingest.Value{}) {
				t.Errorf("value %+v returned with an error", got)
			}
		})
	}
}

func TestNormalizeReportedErrors(t *testing.T) {
	if _, err := ingest.NormalizeReported("ip", " "); !errors.Is(err, ingest.ErrMissing) {
		t.Errorf("missing: %v is not ErrMissing", err)
	}
	var pe *ingest.PlaceholderError
	if _, err := ingest.NormalizeReported("ip", "n/a"); !errors.As(err, &pe) || pe.Address || pe.Value != "n/a" {
		t.Errorf("placeholder: %#v", err)
	}
	if _, err := ingest.NormalizeReported("ip", "::0"); !errors.As(err, &pe) || !pe.Address || pe.Value != "::0" {
		t.Errorf("placeholder address: %#v", err)
	}
	if _, err := ingest.NormalizeReported("ip", "not an address"); !errors.Is(err, ingest.ErrInvalidValue) {
		t.Errorf("invalid: %v does not wrap ErrInvalidValue", err)
	}
	// A provider's own set decides what is a placeholder.
	if _, err := (ingest.Placeholders{}).NormalizeReported("hostname", "nil"); errors.As(err, &pe) || !errors.Is(err, ingest.ErrInvalidValue) {
		t.Errorf("nil outside the set: %v", err)
	}
}

func TestCheckAddress(t *testing.T) {
	for _, tt := range []struct {
		v    ingest.Value
		want bool
	}{
		{ingest.Value{Type: ingest.TypeIPv4, Value: "0.0.0.0"}, true},
		{ingest.Value{Type: ingest.TypeIPv4, Value: "255.255.255.255"}, true},
		{ingest.Value{Type: ingest.TypeIPv6, Value: "::"}, true},
		{ingest.Value{Type: ingest.TypeIPv4, Value: "198.51.100.3"}, false},
		{ingest.Value{Type: ingest.TypeIPv4, Value: "0.0.0.0/0"}, false},
		{ingest.Value{Type: ingest.TypeDomain, Value: "0.0.0.0"}, false},
	} {
		if err := ingest.CheckAddress(tt.v, "r"); (err != nil) != tt.want {
			t.Errorf("CheckAddress(%+v) = %v, want error %v", tt.v, err, tt.want)
		}
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"  plain  ":              "plain",
		"Tom &amp; Jerry\n":      "Tom & Jerry",
		"&lt;b&gt; &#45; &quot;": `<b> - "`,
		"no entity & here":       "no entity & here",
		"":                       "",
	} {
		if got := ingest.CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSectorOf(t *testing.T) {
	vocab := map[string]string{"oil & gas": "energy", "finance": "financial-services"}
	for in, want := range map[string]string{
		" Oil & Gas ":         "energy",
		"FINANCE":             "financial-services",
		"Civil Society/NGOs":  "civil-society-ngos",
		"  -- Retail, 2024 !": "retail-2024",
		"Énergie":             "nergie",
		"&&":                  "other",
		"":                    "other",
	} {
		if got := ingest.SectorOf(in, vocab); got != want {
			t.Errorf("SectorOf(%q) = %q, want %q", in, got, want)
		}
	}
}
