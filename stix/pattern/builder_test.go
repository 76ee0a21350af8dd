package pattern_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/stix/pattern"
)

func TestEquals(t *testing.T) {
	sha := "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"
	for name, tt := range map[string]struct{ typ, path, value, want string }{
		"domain":          {"domain-name", "value", "example.com", "[domain-name:value = 'example.com']"},
		"hash bare":       {"file", "hashes.SHA-256", sha, "[file:hashes.'SHA-256' = '" + sha + "']"},
		"hash quoted":     {"file", "hashes.'SHA-256'", sha, "[file:hashes.'SHA-256' = '" + sha + "']"},
		"md5 plain":       {"file", "hashes.MD5", "d41d8cd98f00b204e9800998ecf8427e", "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"},
		"escaping":        {"file", "name", `it's C:\x`, `[file:name = 'it\'s C:\\x']`},
		"quote in key":    {"x-custom", "a.'it\\'s'", "v", `[x-custom:a.'it\'s' = 'v']`},
		"dot in key":      {"file", "extensions.'x-ext.v2'.name", "v", "[file:extensions.'x-ext.v2'.name = 'v']"},
		"keyword key":     {"x", "OR", "v", "[x:'OR' = 'v']"},
		"digit key":       {"x", "1st", "v", "[x:'1st' = 'v']"},
		"space in key":    {"x", "a b", "v", "[x:'a b' = 'v']"},
		"index steps":     {"email-message", "to_refs[*].value", "a@example.com", "[email-message:to_refs[*].value = 'a@example.com']"},
		"negative index":  {"x", "list[-1][0]", "v", "[x:list[-1][0] = 'v']"},
		"unicode value":   {"url", "value", "http://例え.jp/ü", "[url:value = 'http://例え.jp/ü']"},
		"empty value":     {"x", "name", "", "[x:name = '']"},
		"bad object type": {"file:x", "name", "v", ""},
		"keyword type":    {"AND", "name", "v", ""},
		"empty path":      {"file", "", "v", ""},
		"empty key":       {"file", "hashes..x", "v", ""},
		"index first":     {"file", "[0]", "v", ""},
		"bad index":       {"file", "a[x]", "v", ""},
		"open quote":      {"file", "'abc", "v", ""},
		"bad escape":      {"file", `'a\b'`, "v", ""},
		"junk after":      {"file", "'a'b", "v", ""},
	} {
		t.Run(name, func(t *testing.T) {
			got := pattern.Equals(tt.typ, tt.path, tt.value)
			if got != tt.want {
				t.Fatalf("Equals(%q, %q, %q) = %q, want %q", tt.typ, tt.path, tt.value, got, tt.want)
			}
			_, err := pattern.EqualsComparison(tt.typ, tt.path, tt.value)
			if (err != nil) != (tt.want == "") {
				t.Fatalf("EqualsComparison error = %v, want error %v", err, tt.want == "")
			}
			if got == "" {
				return
			}
			typ, path, value, ok := pattern.Simple(got)
			if !ok || typ != tt.typ || value != tt.value {
				t.Fatalf("Simple(%q) = %q, %q, %q, %v", got, typ, path, value, ok)
			}
			// The canonical path reads back to the same rendering.
			if again := pattern.Equals(typ, path, value); again != got {
				t.Fatalf("Equals(Simple()) = %q, want %q", again, got)
			}
		})
	}
}

// TestEqualsRoundTrip is the builder's property test: for arbitrary values
// (quotes, backslashes, Unicode, control characters, invalid UTF-8) and
// arbitrary keys, Parse(Equals(...)) gives back the same value and key.
func TestEqualsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"'", `\`, `\\`, `\'`, "a", "Z", "0", " ", "-", ".", "[", "]", "*", "\n", "\t", "\x00", "é", "🙂", "\u2028", "\xff", "%", "_", "AND", "t'"}
	gen := func(max int) string {
		var b strings.Builder
		n := r.IntN(max)
		for range n {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	n := 5000
	if testing.Short() {
		n = 500
	}
	for range n {
		value := gen(12)
		key := gen(6)
		if key == "" {
			key = "k"
		}
		c := &pattern.Comparison{
			Path:  pattern.ObjectPath{ObjectType: "x-test", Steps: []pattern.PathStep{{Kind: pattern.StepKey, Key: "hashes"}, {Kind: pattern.StepKey, Key: key}}},
			Op:    pattern.OpEqual,
			Value: pattern.StringLiteral(value),
		}
		s := pattern.And(c)
		p, err := pattern.Parse(s)
		if err != nil {
			if strings.Contains(err.Error(), "hash") { // key happened to name an algorithm
				continue
			}
			t.Fatalf("Parse(%q): %v (value %q, key %q)", s, err, value, key)
		}
		got, ok := p.SimpleComparison()
		if !ok || got.Value.Str != value || got.Path.Steps[1].Key != key {
			t.Fatalf("round trip of value %q key %q via %q gave %+v", value, key, s, got)
		}
		// Equals reads the canonical property path back.
		if e := pattern.Equals("x-test", got.Path.Property(), value); e != s {
			t.Fatalf("Equals(%q) = %q, want %q", got.Path.Property(), e, s)
		}
	}
}

func TestOrAnd(t *testing.T) {
	a, err := pattern.EqualsComparison("ipv4-addr", "value", "198.51.100.1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := pattern.EqualsComparison("ipv6-addr", "value", "2001:db8::1")
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct{ got, want string }{
		"or":    {pattern.Or(a, b), "[ipv4-addr:value = '198.51.100.1' OR ipv6-addr:value = '2001:db8::1']"},
		"and":   {pattern.And(a, nil, b), "[ipv4-addr:value = '198.51.100.1' AND ipv6-addr:value = '2001:db8::1']"},
		"one":   {pattern.Or(a), "[ipv4-addr:value = '198.51.100.1']"},
		"none":  {pattern.Or(), ""},
		"nils":  {pattern.And(nil, nil), ""},
		"exist": {pattern.Or(&pattern.Comparison{Path: a.Path, Op: pattern.OpExists, Negated: true}), "[NOT EXISTS ipv4-addr:value]"},
		"int":   {pattern.And(&pattern.Comparison{Path: pattern.ObjectPath{ObjectType: "autonomous-system", Steps: []pattern.PathStep{{Kind: pattern.StepKey, Key: "number"}}}, Op: pattern.OpEqual, Value: pattern.IntLiteral(174)}), "[autonomous-system:number = 174]"},
	} {
		t.Run(name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
			if tt.want != "" {
				if s := MustParse(t, tt.got).String(); s != tt.want {
					t.Fatalf("canonical form %q, want %q", s, tt.want)
				}
			}
		})
	}
}

func TestSimple(t *testing.T) {
	for name, tt := range map[string]struct {
		in               string
		typ, path, value string
		ok               bool
	}{
		"ipv4":        {"[ipv4-addr:value = '1.2.3.4']", "ipv4-addr", "value", "1.2.3.4", true},
		"spaces ==":   {" [ ipv4-addr:value == '1.2.3.4' ] ", "ipv4-addr", "value", "1.2.3.4", true},
		"hash":        {"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']", "file", "hashes.'SHA-256'", "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", true},
		"escaped":     {`[file:name = 'a\'b\\c']`, "file", "name", `a'b\c`, true},
		"int":         {"[autonomous-system:number = 174]", "autonomous-system", "number", "174", true},
		"parens":      {"([domain-name:value = 'x.example'])", "domain-name", "value", "x.example", true},
		"or":          {"[a:b = '1' OR a:b = '2']", "", "", "", false},
		"two obs":     {"[a:b = '1'] AND [a:b = '2']", "", "", "", false},
		"qualified":   {"[a:b = '1'] WITHIN 5 SECONDS", "", "", "", false},
		"not equal":   {"[a:b != '1']", "", "", "", false},
		"negated":     {"[a:b NOT = '1']", "", "", "", false},
		"like":        {"[a:b LIKE '1%']", "", "", "", false},
		"invalid":     {"[a:b = ]", "", "", "", false},
		"not pattern": {"ipv4-addr:value = '1.2.3.4'", "", "", "", false},
	} {
		t.Run(name, func(t *testing.T) {
			typ, path, value, ok := pattern.Simple(tt.in)
			if typ != tt.typ || path != tt.path || value != tt.value || ok != tt.ok {
				t.Fatalf("Simple(%q) = %q, %q, %q, %v; want %q, %q, %q, %v", tt.in, typ, path, value, ok, tt.typ, tt.path, tt.value, tt.ok)
			}
		})
	}
}
