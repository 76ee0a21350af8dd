package otx

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestAppendVerdict: the hand-written verdict JSON equals encoding/json's (HTML
// escaping off) for awkward strings.
func TestAppendVerdict(t *testing.T) {
	one, zero := flexInt(1), flexInt(0)
	for _, ind := range []Indicator{
		{ID: "42", Indicator: "198.51.100.1", Type: "IPv4"},
		{Indicator: "http://x.example/a?b=1&c=<d>", Type: "URL", Role: "c2", Title: "quote \" backslash \\ tab \t nl \n", IsActive: &one},
		{Indicator: "bücher.example\u2028\x01\x7f", Type: "hostname", Expiration: "2025-01-01T00:00:00", IsActive: &zero},
		{Indicator: "bad \xff utf8", Type: "domain"},
	} {
		got := appendVerdict(nil, "p1", &ind)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(verdictOf("p1", &ind))
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}
