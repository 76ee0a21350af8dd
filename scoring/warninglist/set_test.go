package warninglist_test

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/scoring/warninglist"
)

// MustSet compiles lists or fails the test.
func MustSet(tb testing.TB, lists ...*warninglist.List) *warninglist.Set {
	tb.Helper()
	s, err := warninglist.NewSet(lists...)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// MustEmbedded compiles the embedded lists or fails the test.
func MustEmbedded(tb testing.TB) *warninglist.Set {
	tb.Helper()
	s, err := warninglist.Embedded()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func hitIDs(hits []warninglist.Hit) string {
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.List
	}
	return strings.Join(ids, ",")
}

var domainAttrs = []string{"domain", "hostname", "url", "domain|ip"}

// smallSet has one list of each type, plus a tiny public suffix list.
func smallSet(tb testing.TB) *warninglist.Set {
	return MustSet(tb,
		&warninglist.List{ID: "second-level-tlds", Name: "psl", Type: warninglist.TypeString, MatchingAttributes: []string{"domain"},
			Entries: []string{"co.uk", "github.io", "duckdns.org", "s3.amazonaws.com"}},
		&warninglist.List{ID: "top", Name: "top", Type: warninglist.TypeHostname, MatchingAttributes: domainAttrs,
			Entries: []string{"google.com", "github.io", "duckdns.org", "amazonaws.com", "bbc.co.uk", "WWW.Example-Upper.com"}},
		&warninglist.List{ID: "ddns", Name: "ddns", Type: warninglist.TypeHostname, MatchingAttributes: domainAttrs,
			Entries: []string{".duckdns.org"}, Tier: warninglist.TierContext},
		&warninglist.List{ID: "exact", Name: "exact", Type: warninglist.TypeString, MatchingAttributes: []string{"domain", "md5"},
			Entries: []string{"only.example.net", ".akamaiedge.net", "D41D8CD98F00B204E9800998ECF8427E"}},
		&warninglist.List{ID: "sub", Name: "sub", Type: warninglist.TypeSubstring, MatchingAttributes: []string{"domain", "url"},
			Entries: []string{"sandbox"}},
		&warninglist.List{ID: "net", Name: "net", Type: warninglist.TypeCIDR, MatchingAttributes: []string{"ip-dst"},
			Entries: []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::ffff:198.51.100.0/120"}},
		&warninglist.List{ID: "mail", Name: "mail", Type: warninglist.TypeRegex, MatchingAttributes: []string{"email-src"},
			Entries: []string{"/^(abuse|postmaster)@/i"}},
	)
}

func TestMatch(t *testing.T) {
	s := smallSet(t)
	for name, tt := range map[string]struct {
		typ, value, want string
	}{
		"hostname exact":                 {"domain-name", "google.com", "top"},
		"hostname sub-domain of regdom":  {"domain-name", "mail.google.com", "top"},
		"hostname case and dot":          {"domain-name", "Mail.Google.COM.", "top"},
		"hostname upper entry":           {"domain-name", "www.example-upper.com", "top"},
		"listed entry itself":            {"domain-name", "duckdns.org", "ddns,second-level-tlds,top"},
		"below listed public suffix":     {"domain-name", "evil.duckdns.org", "ddns"},
		"deep below listed suffix":       {"domain-name", "a.b.evil.duckdns.org", "ddns"},
		"github.io is a suffix":          {"domain-name", "attacker.github.io", ""},
		"parent above a public suffix":   {"domain-name", "bucket.s3.amazonaws.com", ""},
		"parent not a suffix":            {"domain-name", "ec2.amazonaws.com", "top"},
		"two-label suffix regdom":        {"domain-name", "news.bbc.co.uk", "top"},
		"unrelated":                      {"domain-name", "google.com.evil.net", ""},
		"lookalike":                      {"domain-name", "notgoogle.com", ""},
		"string exact only":              {"domain-name", "sub.only.example.net", ""},
		"string exact":                   {"domain-name", "only.example.net", "exact"},
		"string dot entry sub-domain":    {"domain-name", "e123.a.akamaiedge.net", "exact"},
		"hash case-insensitive":          {"file:md5", "d41d8cd98f00b204e9800998ecf8427e", "exact"},
		"hash STIX spelling":             {"file:MD5", "d41d8cd98f00b204e9800998ecf8427e", "exact"},
		"hash bare file":                 {"file", "d41d8cd98f00b204e9800998ecf8427e", "exact"},
		"hash wrong algorithm":           {"file:sha1", "d41d8cd98f00b204e9800998ecf8427e", ""},
		"substring":                      {"domain-name", "x.sandbox-vendor.com", "sub"},
		"url host hostname":              {"url", "https://www.google.com/search?q=1", "top"},
		"url host below suffix":          {"url", "http://evil.duckdns.org/gate.php", "ddns"},
		"url substring":                  {"url", "http://a.com/sandbox/x", "sub"},
		"url without scheme":             {"url", "mail.google.com/mail/u/0", "top"},
		"url with port and userinfo":     {"url", "https://user:pw@www.google.com:8443/x", "top"},
		"url unparsable":                 {"url", "http://[::1/", ""},
		"cidr v4":                        {"ipv4-addr", "10.20.30.40", "net"},
		"cidr bare entry":                {"ipv4-addr", "192.0.2.7", "net"},
		"cidr bare entry miss":           {"ipv4-addr", "192.0.2.8", ""},
		"cidr mapped entry":              {"ipv4-addr", "198.51.100.77", "net"},
		"cidr value inside":              {"ipv4-addr", "10.1.0.0/16", "net"},
		"cidr value wider than entry":    {"ipv4-addr", "10.0.0.0/7", ""},
		"cidr v6":                        {"ipv6-addr", "2001:db8:1::1", "net"},
		"cidr v6 miss":                   {"ipv6-addr", "2001:db9::1", ""},
		"url with ip host":               {"url", "http://10.9.9.9/x", "net"},
		"regex":                          {"email-addr", "Abuse@corp.example", "mail"},
		"regex miss":                     {"email-addr", "ceo@corp.example", ""},
		"ip list does not apply to hash": {"file:md5", "10.0.0.1", ""},
		"unknown type":                   {"mutex", "google.com", ""},
		"garbage ip":                     {"ipv4-addr", "not-an-ip", ""},
		"empty value":                    {"domain-name", "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			if got := hitIDs(s.Match(tt.typ, tt.value)); got != tt.want {
				t.Fatalf("Match(%q, %q) = [%s], want [%s]", tt.typ, tt.value, got, tt.want)
			}
		})
	}
}

func TestRegistrableDomain(t *testing.T) {
	s := MustEmbedded(t)
	for in, want := range map[string]string{
		"www.example.co.uk":       "example.co.uk",
		"evil.duckdns.org":        "evil.duckdns.org",
		"x.y.evil.duckdns.org":    "evil.duckdns.org",
		"duckdns.org":             "",
		"com":                     "",
		"mail.google.com":         "google.com",
		"a.b.c.blogspot.com":      "c.blogspot.com",
		"bucket.s3.amazonaws.com": "bucket.s3.amazonaws.com",
	} {
		if got := s.RegistrableDomain(in); got != want {
			t.Errorf("RegistrableDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMatchEmbedded checks the shipped lists on values the scorer meets.
func TestMatchEmbedded(t *testing.T) {
	s := MustEmbedded(t)
	for name, tt := range map[string]struct {
		typ, value string
		want       []string // lists that must be among the hits
		noCap      bool     // no hit may be outside the context tier
	}{
		"google dns":           {"ipv4-addr", "8.8.8.8", []string{"public-dns-v4"}, false},
		"quad9 v6":             {"ipv6-addr", "2620:fe::fe", []string{"public-dns-v6"}, false},
		"private":              {"ipv4-addr", "192.168.1.10", []string{"rfc1918"}, false},
		"cloud metadata":       {"ipv4-addr", "169.254.169.254", []string{"rfc5735"}, false},
		"cgnat":                {"ipv4-addr", "100.64.1.1", []string{"rfc6598"}, false},
		"ipv6 link local":      {"ipv6-addr", "fe80::1", []string{"ipv6-linklocal"}, false},
		"cloudflare anycast":   {"ipv4-addr", "104.16.1.1", []string{"cloudflare"}, false},
		"empty md5":            {"file:md5", "d41d8cd98f00b204e9800998ecf8427e", []string{"empty-hashes"}, false},
		"empty sha256":         {"file:sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", []string{"empty-hashes"}, false},
		"top domain subdomain": {"domain-name", "mail.google.com", []string{"tranco10k"}, false},
		"example.com":          {"domain-name", "example.com", []string{"rfc6761"}, false},
		"duckdns child":        {"domain-name", "c2-panel.duckdns.org", []string{"dynamic-dns"}, true},
		"github pages child":   {"domain-name", "attacker-site.github.io", nil, true},
		"blogspot child":       {"domain-name", "fake-bank-login.blogspot.com", nil, true},
		"workers.dev child":    {"url", "https://phish-kit.workers.dev/login", nil, true},
		"ngrok child":          {"domain-name", "a1b2c3.ngrok.io", nil, true},
		"herokuapp child":      {"domain-name", "stealer-api.herokuapp.com", nil, true},
		"firebase child":       {"domain-name", "wallet-drain.firebaseapp.com", nil, true},
		"s3 bucket":            {"domain-name", "payload-drop.s3.amazonaws.com", nil, true},
		"unknown domain":       {"domain-name", "invoice-portal-secure.com", nil, true},
	} {
		t.Run(name, func(t *testing.T) {
			hits := s.Match(tt.typ, tt.value)
			got := map[string]bool{}
			for _, h := range hits {
				got[h.List] = true
				if tt.noCap && !h.ContextOnly {
					t.Errorf("Match(%q) hit %s (%s), want only context-only hits", tt.value, h.List, h.Tier)
				}
				if h.ContextOnly != (h.Tier == warninglist.TierContext) {
					t.Errorf("hit %+v: ContextOnly disagrees with Tier", h)
				}
			}
			for _, w := range tt.want {
				if !got[w] {
					t.Errorf("Match(%q, %q) = [%s], want %s among them", tt.typ, tt.value, hitIDs(hits), w)
				}
			}
		})
	}
}

// TestTrieMatchesLinearScan compares CIDR lookups with a linear scan over
// random networks and addresses (fixed seed).
func TestTrieMatchesLinearScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var lists []*warninglist.List
	var prefixes [][]netip.Prefix
	for i := 0; i < 6; i++ {
		l := &warninglist.List{ID: string(rune('a' + i)), Name: "l", Type: warninglist.TypeCIDR, MatchingAttributes: []string{"ip-dst"}}
		var ps []netip.Prefix
		for j := 0; j < 300; j++ {
			var p netip.Prefix
			if r.IntN(2) == 0 {
				a := netip.AddrFrom4([4]byte{byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
				p = netip.PrefixFrom(a, 8+r.IntN(25)).Masked()
			} else {
				var b [16]byte
				b[0], b[1], b[2] = 0x20, 0x01, byte(r.IntN(4))
				for k := 3; k < 16; k++ {
					b[k] = byte(r.IntN(256))
				}
				p = netip.PrefixFrom(netip.AddrFrom16(b), 16+r.IntN(113)).Masked()
			}
			ps = append(ps, p)
			l.Entries = append(l.Entries, p.String())
		}
		lists = append(lists, l)
		prefixes = append(prefixes, ps)
	}
	s := MustSet(t, lists...)
	matched := 0
	for n := 0; n < 20000; n++ {
		var a netip.Addr
		var typ string
		if n%2 == 0 {
			a = netip.AddrFrom4([4]byte{byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
			typ = "ipv4-addr"
			if n%10 == 0 { // an address inside a known network
				p := prefixes[r.IntN(6)][r.IntN(300)]
				if p.Addr().Is4() {
					a = p.Addr()
				}
			}
		} else {
			var b [16]byte
			b[0], b[1], b[2] = 0x20, 0x01, byte(r.IntN(4))
			for k := 3; k < 16; k++ {
				b[k] = byte(r.IntN(256))
			}
			a = netip.AddrFrom16(b)
			typ = "ipv6-addr"
			if n%10 == 1 {
				p := prefixes[r.IntN(6)][r.IntN(300)]
				if p.Addr().Is6() {
					a = p.Addr()
				}
			}
		}
		var want []string
		for i, ps := range prefixes {
			for _, p := range ps {
				if p.Contains(a) {
					want = append(want, lists[i].ID)
					break
				}
			}
		}
		sort.Strings(want)
		matched += len(want)
		var got []string
		for _, h := range s.Match(typ, a.String()) {
			got = append(got, h.List)
			if !netip.MustParsePrefix(h.Entry).Contains(a) {
				t.Fatalf("Match(%s) entry %s does not contain the address", a, h.Entry)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Match(%s) = %v, want %v", a, got, want)
		}
	}
	if matched < 1000 {
		t.Fatalf("only %d expected hits: the test exercises too few matches", matched)
	}
}

func TestFromAssets(t *testing.T) {
	lists, err := warninglist.FromAssets([]string{"Corp-Example.com", "*.corp-mail.net"}, []string{"203.0.113.0/24", "2001:db8:10::/48", "198.51.100.25"})
	if err != nil {
		t.Fatal(err)
	}
	s := MustSet(t, lists...)
	for _, tt := range []struct{ typ, value, want string }{
		{"domain-name", "vpn.corp-example.com", warninglist.AssetDomainsID},
		{"domain-name", "corp-mail.net", warninglist.AssetDomainsID},
		{"url", "https://intranet.corp-example.com/login", warninglist.AssetDomainsID},
		{"ipv4-addr", "203.0.113.99", warninglist.AssetNetworksID},
		{"ipv4-addr", "198.51.100.25", warninglist.AssetNetworksID},
		{"ipv4-addr", "198.51.100.26", ""},
		{"ipv6-addr", "2001:db8:10:1::5", warninglist.AssetNetworksID},
		{"domain-name", "corp-example.com.evil.io", ""},
	} {
		hits := s.Match(tt.typ, tt.value)
		if got := hitIDs(hits); got != tt.want {
			t.Errorf("Match(%q) = [%s], want [%s]", tt.value, got, tt.want)
		}
		for _, h := range hits {
			if h.Tier != warninglist.TierAsset || h.ContextOnly {
				t.Errorf("asset hit %+v: want TierAsset, not context-only", h)
			}
		}
	}
	for name, in := range map[string][2][]string{
		"bad domain": {{"corp..com"}, nil},
		"one label":  {{"localhost"}, nil},
		"bad cidr":   {nil, {"203.0.113.0/33"}},
	} {
		if _, err := warninglist.FromAssets(in[0], in[1]); err == nil {
			t.Errorf("%s: FromAssets() = nil error, want one", name)
		}
	}
}

func TestConfigBuild(t *testing.T) {
	s, err := warninglist.Config{
		Disable:     []string{"vpn-ipv4"},
		ContextOnly: []string{"amazon-aws"},
		Assets:      warninglist.Assets{Domains: []string{"corp-example.com"}, MailRelays: []string{"192.0.2.25", "mx1.corp-relay.net"}},
	}.Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range s.Lists() {
		if id == "vpn-ipv4" {
			t.Error("disabled list vpn-ipv4 still compiled")
		}
	}
	if got := hitIDs(s.Match("ipv4-addr", "192.0.2.25")); !strings.Contains(got, warninglist.AssetNetworksID) {
		t.Errorf("mail relay address: hits [%s], want %s", got, warninglist.AssetNetworksID)
	}
	if got := hitIDs(s.Match("domain-name", "mx1.corp-relay.net")); got != warninglist.AssetDomainsID {
		t.Errorf("mail relay name: hits [%s], want %s", got, warninglist.AssetDomainsID)
	}
	// 3.5.140.2 is in Amazon's published ranges (amazon-aws list).
	found := false
	for _, h := range s.Match("ipv4-addr", "3.5.140.2") {
		if h.List == "amazon-aws" {
			found = true
			if !h.ContextOnly {
				t.Errorf("amazon-aws hit %+v: want context-only after Config.ContextOnly", h)
			}
		}
	}
	if !found {
		t.Error("3.5.140.2: no amazon-aws hit")
	}
	for name, c := range map[string]warninglist.Config{
		"unknown disable":      {Disable: []string{"no-such-list"}},
		"unknown context_only": {ContextOnly: []string{"no-such-list"}},
		"bad asset":            {Assets: warninglist.Assets{Networks: []string{"300.0.0.0/8"}}},
		"missing dir":          {Dir: "/nonexistent/warninglists"},
	} {
		if _, err := c.Build(); err == nil {
			t.Errorf("%s: Build() = nil error, want one", name)
		}
	}
}

// TestMatchConcurrent runs Match from several goroutines on one Set (run
// with -race to check that lookups share no mutable state).
func TestMatchConcurrent(t *testing.T) {
	s := MustEmbedded(t)
	want := hitIDs(s.Match("domain-name", "mail.google.com"))
	done := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			got := ""
			for i := 0; i < 200; i++ {
				s.Match("ipv4-addr", "8.8.8.8")
				got = hitIDs(s.Match("domain-name", "mail.google.com"))
			}
			done <- got
		}()
	}
	for g := 0; g < 8; g++ {
		if got := <-done; got != want {
			t.Errorf("concurrent Match = [%s], want [%s]", got, want)
		}
	}
}
