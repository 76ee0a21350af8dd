package ingest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
)

func TestNormalize(t *testing.T) {
	for name, tt := range map[string]struct {
		typ, in string
		want    ingest.Value
	}{
		// IPv4
		"ipv4 plain":         {"ipv4-addr", "198.51.100.3", ingest.Value{Type: "ipv4-addr", Value: "198.51.100.3"}},
		"ipv4 trimmed":       {"ipv4-addr", " \t198.51.100.3\n", ingest.Value{Type: "ipv4-addr", Value: "198.51.100.3"}},
		"ipv4 refanged [.]":  {"ipv4-addr", "198[.]51[.]100[.]3", ingest.Value{Type: "ipv4-addr", Value: "198.51.100.3"}},
		"ipv4 refanged (.)":  {"ip", "198(.)51(.)100(.)3", ingest.Value{Type: "ipv4-addr", Value: "198.51.100.3"}},
		"ipv4 refanged {.}":  {"ip", "198{.}51{.}100{.}3", ingest.Value{Type: "ipv4-addr", Value: "198.51.100.3"}},
		"ipv4 refanged dot":  {"ip", "198[dot]51[DOT]100(dot)3", ingest.Value{Type: "ipv4-addr", Value: "198.51.100.3"}},
		"ipv4 backslash dot": {"ip", `198\.51\.100\.3`, ingest.Value{Type: "ipv4-addr", Value: "198.51.100.3"}},
		"ipv4 cidr":          {"ipv4-addr", "203.0.113.0/24", ingest.Value{Type: "ipv4-addr", Value: "203.0.113.0/24"}},
		"ipv4 cidr masked":   {"ipv4-addr", "203.0.113.77/24", ingest.Value{Type: "ipv4-addr", Value: "203.0.113.0/24"}},
		"ipv4 cidr /32":      {"ipv4-addr", "203.0.113.77/32", ingest.Value{Type: "ipv4-addr", Value: "203.0.113.77"}},
		"ip alias cidr":      {"cidr", "10.1.2.3/8", ingest.Value{Type: "ipv4-addr", Value: "10.0.0.0/8"}},
		"ip-dst alias":       {"ip-dst", "192.0.2.1", ingest.Value{Type: "ipv4-addr", Value: "192.0.2.1"}},
		// IPv6
		"ipv6 full form":   {"ipv6-addr", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", ingest.Value{Type: "ipv6-addr", Value: "2001:db8:85a3::8a2e:370:7334"}},
		"ipv6 upper":       {"ipv6-addr", "2001:DB8::1", ingest.Value{Type: "ipv6-addr", Value: "2001:db8::1"}},
		"ipv6 longest run": {"ipv6-addr", "2001:db8:0:0:1:0:0:1", ingest.Value{Type: "ipv6-addr", Value: "2001:db8::1:0:0:1"}},
		"ipv6 single zero": {"ipv6-addr", "2001:db8:0:1:1:1:1:1", ingest.Value{Type: "ipv6-addr", Value: "2001:db8:0:1:1:1:1:1"}},
		"ipv6 refanged":    {"ipv6-addr", "2001[:]db8[:][:]1", ingest.Value{Type: "ipv6-addr", Value: "2001:db8::1"}},
		"ipv6 cidr":        {"ipv6-addr", "2001:db8::1/32", ingest.Value{Type: "ipv6-addr", Value: "2001:db8::/32"}},
		"ipv6 cidr /128":   {"ipv6-addr", "2001:db8::1/128", ingest.Value{Type: "ipv6-addr", Value: "2001:db8::1"}},
		"ipv6 mapped v4":   {"ipv6-addr", "::ffff:192.0.2.1", ingest.Value{Type: "ipv6-addr", Value: "::ffff:192.0.2.1"}},
		"ip picks v6":      {"ip", "fe80::1", ingest.Value{Type: "ipv6-addr", Value: "fe80::1"}},
		// domains
		"domain lower":          {"domain-name", "Example.COM", ingest.Value{Type: "domain-name", Value: "example.com"}},
		"domain trailing dot":   {"domain-name", "example.com.", ingest.Value{Type: "domain-name", Value: "example.com"}},
		"domain refanged":       {"hostname", "evil[.]example[.]com", ingest.Value{Type: "domain-name", Value: "evil.example.com"}},
		"domain underscore":     {"domain", "_dmarc.example.com", ingest.Value{Type: "domain-name", Value: "_dmarc.example.com"}},
		"domain double hyphen":  {"domain", "ab--cd.example.com", ingest.Value{Type: "domain-name", Value: "ab--cd.example.com"}},
		"domain unicode":        {"domain-name", "пример.com", ingest.Value{Type: "domain-name", Value: "xn--e1afmkfd.com"}},
		"domain unicode upper":  {"domain-name", "ПРИМЕР.com", ingest.Value{Type: "domain-name", Value: "xn--e1afmkfd.com"}},
		"domain punycode kept":  {"domain-name", "XN--E1AFMKFD.com", ingest.Value{Type: "domain-name", Value: "xn--e1afmkfd.com"}},
		"domain eszett nontrns": {"domain-name", "faß.de", ingest.Value{Type: "domain-name", Value: "xn--fa-hia.de"}},
		"domain fullwidth dot":  {"domain-name", "bücher。example", ingest.Value{Type: "domain-name", Value: "xn--bcher-kva.example"}},
		"domain vector":         {"domain-name", "xn--80ak6aa92e.com", ingest.Value{Type: "domain-name", Value: "xn--80ak6aa92e.com"}},
		// URLs: byte-exact apart from refang and trim
		"url exact":           {"url", "http://Example.com/Path?A=1&b=%2F", ingest.Value{Type: "url", Value: "http://Example.com/Path?A=1&b=%2F"}},
		"url hxxp":            {"url", "hxxp://evil[.]example/x", ingest.Value{Type: "url", Value: "http://evil.example/x"}},
		"url hXXps":           {"url", "hXXps://evil.example/x", ingest.Value{Type: "url", Value: "https://evil.example/x"}},
		"url meow":            {"url", "meow://evil.example/", ingest.Value{Type: "url", Value: "http://evil.example/"}},
		"url fxp":             {"url", "fxp://files.example/a", ingest.Value{Type: "url", Value: "ftp://files.example/a"}},
		"url [://]":           {"url", "http[://]evil.example/a", ingest.Value{Type: "url", Value: "http://evil.example/a"}},
		"url [:]":             {"url", "https[:]//evil.example:8443/a", ingest.Value{Type: "url", Value: "https://evil.example:8443/a"}},
		"url trimmed":         {"uri", "  http://evil.example/a \r\n", ingest.Value{Type: "url", Value: "http://evil.example/a"}},
		"url scheme case":     {"url", "HTTP://evil.example/", ingest.Value{Type: "url", Value: "HTTP://evil.example/"}},
		"url unicode kept":    {"url", "http://пример.com/путь", ingest.Value{Type: "url", Value: "http://пример.com/путь"}},
		"url hxxp mid-string": {"url", "http://a.example/hxxp://b", ingest.Value{Type: "url", Value: "http://a.example/hxxp://b"}},
		// e-mail
		"email domain lower": {"email-addr", "John.Doe@Example.COM", ingest.Value{Type: "email-addr", Value: "John.Doe@example.com"}},
		"email refanged":     {"email", "jdoe[@]example[.]com", ingest.Value{Type: "email-addr", Value: "jdoe@example.com"}},
		"email [at]":         {"email-src", "jdoe[at]example[.]com", ingest.Value{Type: "email-addr", Value: "jdoe@example.com"}},
		"email idna":         {"email-addr", "a@bücher.example", ingest.Value{Type: "email-addr", Value: "a@xn--bcher-kva.example"}},
		// hashes
		"md5 lower":     {"file", "D41D8CD98F00B204E9800998ECF8427E", ingest.Value{Type: "file", Value: "d41d8cd98f00b204e9800998ecf8427e", HashAlgo: "MD5"}},
		"md5 named":     {"md5", "d41d8cd98f00b204e9800998ecf8427e", ingest.Value{Type: "file", Value: "d41d8cd98f00b204e9800998ecf8427e", HashAlgo: "MD5"}},
		"sha1":          {"hash", "da39a3ee5e6b4b0d3255bfef95601890afd80709", ingest.Value{Type: "file", Value: "da39a3ee5e6b4b0d3255bfef95601890afd80709", HashAlgo: "SHA-1"}},
		"sha256 kind":   {"file:sha-256", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", ingest.Value{Type: "file", Value: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", HashAlgo: "SHA-256"}},
		"sha256 alias":  {"FileHash-SHA256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ingest.Value{Type: "file", Value: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", HashAlgo: "SHA-256"}},
		"sha512":        {"sha512", strings.Repeat("Ab", 64), ingest.Value{Type: "file", Value: strings.Repeat("ab", 64), HashAlgo: "SHA-512"}},
		"ssdeep case":   {"ssdeep", "3072:Ab+cD/ef:Gh1", ingest.Value{Type: "file", Value: "3072:Ab+cD/ef:Gh1", HashAlgo: "SSDEEP"}},
		"ssdeep guess":  {"file", "96:s4Ud1Lj96tHHlZDrwciQmA:s4Ud1L6JmA", ingest.Value{Type: "file", Value: "96:s4Ud1Lj96tHHlZDrwciQmA:s4Ud1L6JmA", HashAlgo: "SSDEEP"}},
		"type trimmed":  {" IPv4 ", "192.0.2.1", ingest.Value{Type: "ipv4-addr", Value: "192.0.2.1"}},
		"type any case": {"Domain-Name", "A.EXAMPLE", ingest.Value{Type: "domain-name", Value: "a.example"}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ingest.Normalize(tt.typ, tt.in)
			if err != nil {
				t.Fatalf("Normalize(%q, %q): %v", tt.typ, tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Normalize(%q, %q) = %+v, want %+v", tt.typ, tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeInvalid(t *testing.T) {
	for name, tt := range map[string]struct {
		typ, in string
		reason  string // part of the error message
	}{
		"empty":                 {"ipv4-addr", "  ", "empty"},
		"ipv4 leading zeros":    {"ipv4-addr", "010.1.1.1", "leading zeros"},
		"ipv4 octet range":      {"ipv4-addr", "256.1.1.1", "out of range"},
		"ipv4 three octets":     {"ipv4-addr", "1.2.3", "not an address"},
		"ipv4 given v6":         {"ipv4-addr", "2001:db8::1", "is an ipv6-addr"},
		"ipv6 given v4":         {"ipv6-addr", "192.0.2.1", "is an ipv4-addr"},
		"ipv6 zone":             {"ipv6-addr", "fe80::1%eth0", "zone"},
		"ipv4 cidr given v6":    {"ipv4-addr", "2001:db8::/32", "CIDR"},
		"cidr bad prefix":       {"ip", "10.0.0.0/33", "CIDR"},
		"domain one label":      {"domain-name", "localhost", "one label"},
		"domain empty label":    {"domain-name", "a..example", "empty label"},
		"domain bad char":       {"domain-name", "ev!l.example", "not allowed"},
		"domain space":          {"domain-name", "evil example.com", "not allowed"},
		"domain long label":     {"domain-name", strings.Repeat("a", 64) + ".com", "63"},
		"domain too long":       {"domain-name", strings.Repeat("abcdefghi.", 26) + "com", "253"},
		"domain is ip":          {"domain-name", "192.0.2.1", "numeric"},
		"domain bad punycode":   {"domain-name", "xn--zz--.com", "punycode"},
		"domain with slash":     {"domain-name", "evil.example/path", "not allowed"},
		"url no scheme":         {"url", "evil.example/a", "no scheme"},
		"url no host":           {"url", "http:///a", "no host"},
		"url space":             {"url", "http://evil.example/a b", "white space"},
		"url bad scheme":        {"url", "ht_p://evil.example/", "scheme"},
		"email no at":           {"email-addr", "jdoe.example.com", "local@domain"},
		"email no local":        {"email-addr", "@example.com", "local@domain"},
		"email bad domain":      {"email-addr", "jdoe@localhost", "domain part"},
		"hash bad length":       {"file", "abcdef", "6 hex digits"},
		"hash not hex":          {"sha256", strings.Repeat("g", 64), "not hexadecimal"},
		"hash algo mismatch":    {"md5", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "is SHA-1, not MD5"},
		"ssdeep bad":            {"ssdeep", "abc:def", "ssdeep"},
		"ssdeep bad block size": {"file", "x3:abc:def", "ssdeep"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ingest.Normalize(tt.typ, tt.in)
			if err == nil {
				t.Fatalf("Normalize(%q, %q) = %+v, want an error", tt.typ, tt.in, got)
			}
			if !errors.Is(err, ingest.ErrInvalidValue) {
				t.Fatalf("error %v does not wrap ErrInvalidValue", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("error %q does not mention %q", err, tt.reason)
			}
		})
	}
}

func TestNormalizeUnknownType(t *testing.T) {
	_, err := ingest.Normalize("mutex", "abc")
	if !errors.Is(err, ingest.ErrUnknownType) {
		t.Fatalf("got %v, want ErrUnknownType", err)
	}
}

// TestNormalizeIdempotent checks that the canonical form is a fixed point.
func TestNormalizeIdempotent(t *testing.T) {
	for _, in := range []struct{ typ, v string }{
		{"ip", "2001:0DB8:0:0:0:0:0:1"}, {"ip", "10.9.8.7/16"}, {"domain-name", "Bücher.Example."},
		{"url", "hxxps://a[.]example/x"}, {"email", "X@Bücher.example"}, {"file", "D41D8CD98F00B204E9800998ECF8427E"},
	} {
		v1, err := ingest.Normalize(in.typ, in.v)
		if err != nil {
			t.Fatal(err)
		}
		v2, err := ingest.Normalize(v1.Kind(), v1.Value)
		if err != nil {
			t.Fatalf("Normalize(%q, %q): %v", v1.Kind(), v1.Value, err)
		}
		if v1 != v2 {
			t.Fatalf("not idempotent: %+v then %+v", v1, v2)
		}
	}
}

func TestGuess(t *testing.T) {
	for in, want := range map[string]ingest.Value{
		"198.51.100.3":                     {Type: "ipv4-addr", Value: "198.51.100.3"},
		"198[.]51[.]100[.]0/24":            {Type: "ipv4-addr", Value: "198.51.100.0/24"},
		"2001:DB8::1":                      {Type: "ipv6-addr", Value: "2001:db8::1"},
		"hxxp://evil[.]example/a":          {Type: "url", Value: "http://evil.example/a"},
		"jdoe[@]Example.com":               {Type: "email-addr", Value: "jdoe@example.com"},
		"D41D8CD98F00B204E9800998ECF8427E": {Type: "file", Value: "d41d8cd98f00b204e9800998ecf8427e", HashAlgo: "MD5"},
		"3:abc:def":                        {Type: "file", Value: "3:abc:def", HashAlgo: "SSDEEP"},
		"Evil.Example":                     {Type: "domain-name", Value: "evil.example"},
		"abcdef.de":                        {Type: "domain-name", Value: "abcdef.de"},
		"пример.рф":                        {Type: "domain-name", Value: "xn--e1afmkfd.xn--p1ai"},
	} {
		got, err := ingest.Guess(in)
		if err != nil {
			t.Fatalf("Guess(%q): %v", in, err)
		}
		if got != want {
			t.Errorf("Guess(%q) = %+v, want %+v", in, got, want)
		}
	}
	for _, in := range []string{"", "not a value", "010.1.1.1", "abcdef", "http://", "a@b"} {
		if got, err := ingest.Guess(in); !errors.Is(err, ingest.ErrInvalidValue) {
			t.Errorf("Guess(%q) = %+v, %v; want ErrInvalidValue", in, got, err)
		}
	}
}

func TestRefang(t *testing.T) {
	for in, want := range map[string]string{
		"hxxp://a[.]b":     "http://a.b",
		"HXXPS://a(.)b":    "https://a.b",
		"meow://a{.}b":     "http://a.b",
		"a[dot]b(dot)c":    "a.b.c",
		"x[@]y[at]z":       "x@y@z",
		"http[://]a":       "http://a",
		"http[:]//a[/]b":   "http://a/b",
		"plain.example":    "plain.example",
		"hxxpx://a":        "hxxpx://a",
		" hxxp://padded ":  " hxxp://padded ",
		"http://a/hxxp://": "http://a/hxxp://",
	} {
		if got := ingest.Refang(in); got != want {
			t.Errorf("Refang(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValueKind(t *testing.T) {
	for _, tt := range []struct {
		v    ingest.Value
		want string
	}{
		{ingest.Value{Type: "file", HashAlgo: "SHA-256"}, "file:sha-256"},
		{ingest.Value{Type: "file", HashAlgo: "MD5"}, "file:md5"},
		{ingest.Value{Type: "url"}, "url"},
	} {
		if got := tt.v.Kind(); got != tt.want {
			t.Errorf("%+v.Kind() = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	in := []struct{ typ, v string }{
		{"ipv4-addr", "198.51.100.3"}, {"domain-name", "Evil.Example.com"}, {"url", "hxxp://evil[.]example/a?b=c"},
		{"file", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}, {"ipv6-addr", "2001:0db8::0001"},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		x := in[i%len(in)]
		if _, err := ingest.Normalize(x.typ, x.v); err != nil {
			b.Fatal(err)
		}
	}
}

func TestContextID(t *testing.T) {
	a := ingest.ContextID("malware", "Emotet")
	for _, n := range []string{"emotet", " EMOTET ", "Emotet"} {
		if got := ingest.ContextID("malware", n); got != a {
			t.Errorf("ContextID(malware, %q) = %s, want %s", n, got, a)
		}
	}
	if want := "malware--" + uuid5(t, ingest.Namespace, "malware|emotet"); a != want {
		t.Errorf("ContextID = %s, want %s", a, want)
	}
	if ingest.ContextID("intrusion-set", "Emotet") == a {
		t.Error("same id for two types")
	}
	if got, want := ingest.ContextID("vulnerability", "cve-2024-3400"), "vulnerability--"+uuid5(t, ingest.Namespace, "vulnerability|CVE-2024-3400"); got != want {
		t.Errorf("vulnerability id %s, want %s", got, want)
	}
	for in, want := range map[string]string{"cve-2024-3400": "CVE-2024-3400", " CVE-2021-44228 ": "CVE-2021-44228", "CVE-2024-123456": "CVE-2024-123456"} {
		if got, err := ingest.NormalizeCVE(in); err != nil || got != want {
			t.Errorf("NormalizeCVE(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"CVE-24-3400", "CVE-2024-12", "2024-3400", "CVE-2024-34x0", ""} {
		if _, err := ingest.NormalizeCVE(in); !errors.Is(err, ingest.ErrInvalidValue) {
			t.Errorf("NormalizeCVE(%q): %v", in, err)
		}
	}
}
