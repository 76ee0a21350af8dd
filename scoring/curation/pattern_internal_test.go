package curation

import (
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
)

// TestParsePatternReadsAuthoredPatterns: every pattern the ingest Runner
// authors (ingest.Pattern, whose builder quotes a hash key only when it needs
// it) reads back as its kind and value, so no authored indicator is mistaken
// for a foreign one and left unpublished.
func TestParsePatternReadsAuthoredPatterns(t *testing.T) {
	for _, v := range []ingest.Value{
		{Type: ingest.TypeIPv4, Value: "198.51.100.7"},
		{Type: ingest.TypeDomain, Value: "evil.example"},
		{Type: ingest.TypeURL, Value: "http://evil.example/a'b\\c"},
		{Type: ingest.TypeFile, Value: "5d41402abc4b2a76b9719d911017c592", HashAlgo: ingest.HashMD5},
		{Type: ingest.TypeFile, Value: "da39a3ee5e6b4b0d3255bfef95601890afd80709", HashAlgo: ingest.HashSHA1},
		{Type: ingest.TypeFile, Value: strings.Repeat("ab", 32), HashAlgo: ingest.HashSHA256},
		{Type: ingest.TypeFile, Value: strings.Repeat("cd", 64), HashAlgo: ingest.HashSHA512},
		{Type: ingest.TypeFile, Value: "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C", HashAlgo: ingest.HashSSDEEP},
	} {
		p := ingest.Pattern(v)
		kind, value, ok := parsePattern(p)
		want := v.Type
		if v.Type == ingest.TypeFile {
			want = "file:" + strings.ToLower(v.HashAlgo)
		}
		if !ok || kind != want || value != v.Value {
			t.Errorf("parsePattern(%s) = %q, %q, %v; want %q, %q", p, kind, value, ok, want, v.Value)
		}
	}
	for _, p := range []string{
		"[file:hashes.MD5 = 'a' AND file:name = 'b']",
		"[file:name = 'x.exe']",
		"[file:hashes.x.y = 'a']",
	} {
		if k, v, ok := parsePattern(p); ok {
			t.Errorf("parsePattern(%s) = %q, %q: want no simple authored pattern", p, k, v)
		}
	}
}
