package recordedfuture

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

// TestEncodeMatchesEncodingJSON: the hand-written serialisation of the extension
// gives the bytes encoding/json gives for the native struct.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	risk, x, y := 96, 5, 45
	ts := stix.NewTimestamp(time.Date(2021, 12, 29, 7, 12, 2, 455e6, time.UTC))
	for name, n := range map[string]native{
		"minimal": {ExtensionType: "property-extension", ProviderRef: ProviderIdentityID, Entity: "ip"},
		"full": {ExtensionType: "property-extension", ProviderRef: ProviderIdentityID, Entity: "hash", EntityID: "hash:e3b0",
			List: "default", Algorithm: "SHA-256", Risk: &risk, RiskString: "5/45", RulesTriggered: &x, RulesTotal: &y,
			Criticality: 4, CriticalityLabel: "Very Malicious", Rules: []string{"recentCncSite", `q"uo\te`},
			RiskRules: "a,b", RuleCriticality: "4,1", FirstSeen: "2019-01-01T00:00:00Z", LastSeen: "2021-12-29T07:12:02.455Z",
			LastEvidence: &ts, IntelCard: "https://app.recordedfuture.com/live/sc/entity/idn%3Ax&y<z>",
			EvidenceDetails: json.RawMessage(`[{"Rule": "Recent C&C DNS Name", "Criticality": 4.0}]`)},
		"odd strings": {ExtensionType: "property-extension", ProviderRef: "identity--\x01\x1f", Entity: "url",
			List: "tab\there, newline\n, unicode é 漢字, invalid \xff\xfe, line sep \u2028 \u2029, bs \b ff \f cr \r"},
	} {
		t.Run(name, func(t *testing.T) {
			var c Converter
			got := c.encode(&n)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(&n); err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, got)
			}
			want := bytes.TrimRight(buf.Bytes(), "\n")
			if !bytes.Equal(compact.Bytes(), want) {
				t.Errorf("got  %s\nwant %s", compact.Bytes(), want)
			}
		})
	}
}
