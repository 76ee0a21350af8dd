package ingest

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

// TestVerdictShape checks the hand-written provenance JSON against
// encoding/json's rendering of provenanceVerdict, value for value.
func TestVerdictShape(t *testing.T) {
	seen := time.Date(2026, 3, 14, 9, 26, 53, 123456789, time.UTC)
	for name, tt := range map[string]struct {
		o   Observation
		cfg FeedConfig
	}{
		"bare":    {Observation{Value: "a", Seen: seen}, FeedConfig{Provider: "virustotal"}},
		"full":    {Observation{Value: "a", Detect: true, Seen: seen, Verdict: json.RawMessage(" {\"score\": 9,\n \"x\": [1, \"<&>\"]} "), Context: Context{Malware: []string{"Emo\"tet", "ü"}, AttackIDs: []string{"T1059"}, CVEs: []string{"CVE-2024-3400"}, Sectors: []string{"finance"}, Labels: []string{"c2\n"}, ReportRefs: []string{"report--1"}, Actors: []string{"APT28"}, TLP: "red"}}, FeedConfig{Provider: "otx", DefaultTLP: "green", Reliability: Reliability{Score: 80, Grade: "B", Set: true}}},
		"default": {Observation{Value: "a", Seen: seen, Context: Context{Labels: []string{}}}, FeedConfig{Provider: "otx", DefaultTLP: "amber", Share: SharePartners}},
	} {
		t.Run(name, func(t *testing.T) {
			ru := &run{cfg: &tt.cfg}
			got, err := ru.verdict(&tt.o)
			if err != nil {
				t.Fatal(err)
			}
			pv := provenanceVerdict{Detect: tt.o.Detect, Verdict: tt.o.Verdict, TLP: tt.o.Context.TLP, Share: tt.cfg.ShareLevel(), Seen: stix.NewTimestamp(tt.o.Seen)}
			if pv.TLP == "" {
				pv.TLP = tt.cfg.DefaultTLP
			}
			if tt.cfg.Reliability.Set {
				r := tt.cfg.Reliability.Score
				pv.Reliability = &r
			}
			c := tt.o.Context
			c.TLP = ""
			if len(c.Malware)+len(c.Actors)+len(c.AttackIDs)+len(c.CVEs)+len(c.Sectors)+len(c.Labels)+len(c.ReportRefs) > 0 {
				pv.Context = &c
			}
			want, err := json.Marshal(&pv)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("invalid JSON %s: %v", got, err)
			}
			json.Unmarshal(want, &w)
			gb, _ := json.Marshal(g)
			wb, _ := json.Marshal(w)
			if !bytes.Equal(gb, wb) {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestParseMillis(t *testing.T) {
	for _, s := range []string{"2026-03-14T09:26:53.123Z", "2000-02-29T00:00:00.000Z", "1999-12-31T23:59:59.999Z"} {
		want, _ := time.Parse(stix.TimestampLayout, s)
		got, ok := parseMillis([]byte(s))
		if !ok || !got.Equal(want) {
			t.Errorf("parseMillis(%s) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"2026-02-30T00:00:00.000Z", "2026-13-01T00:00:00.000Z", "2026-03-14T24:00:00.000Z",
		"2026-03-14T09:26:53.12Z", "2026-03-14 09:26:53.123Z", "2026-03-14T09:26:53.123+", "2026-0a-14T09:26:53.123Z"} {
		if got, ok := parseMillis([]byte(s)); ok {
			t.Errorf("parseMillis(%s) = %v, want not ok", s, got)
		}
	}
}
