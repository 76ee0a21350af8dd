package curation

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestParseRecordMatchesEncodingJSON: the hand-rolled readers decode what
// encoding/json decodes, for the verdict shapes of every provider.
func TestParseRecordMatchesEncodingJSON(t *testing.T) {
	for _, b := range []string{
		`{"detect":true,"verdict":{"risk":95,"criticality":4,"listed":true},"context":{"malware":["Emotet"],"attack_ids":["T1566"],"labels":["a\"b"]},"tlp":"amber","share":"internal","reliability":80,"seen":"2026-03-02T10:00:00.000Z"}`,
		`{"detect":false,"verdict":{"malicious":3,"total":70,"threat_severity":"SEVERITY_HIGH"},"share":"community","seen":"2026-03-02T10:00:00.000Z"}`,
		`{"detect":true,"verdict":{"classification":"malicious","blacklist_sources":2},"share":"internal","seen":"2026-03-02T10:00:00.000Z"}`,
		`{"detect":true,"verdict":{"threat_level_id":1,"confidence_tag":"misp:confidence-level=\"usually-confident\"","to_ids":false,"deleted":true},"share":"partners","seen":"2026-03-02T10:00:00.000Z"}`,
		`{"detect":true,"verdict":{"pulse":"p","role":"phishing","is_active":0},"share":"community","seen":"2026-03-02T10:00:00.000Z"}`,
		`{"detect":true,"verdict":{"indicator":"indicator--x","confidence":85},"share":"community","seen":"2026-03-02T10:00:00.000Z"}`,
		`{"detect": true , "share" : "community"}`,
	} {
		got, err := ParseRecord([]byte(b))
		if err != nil {
			t.Fatalf("ParseRecord(%s): %v", b, err)
		}
		var want Record
		if err := json.Unmarshal([]byte(b), &want); err != nil {
			t.Fatal(err)
		}
		gv, wv := got.Verdict, want.Verdict
		got.Verdict, want.Verdict = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ParseRecord(%s) = %+v, want %+v", b, got, want)
		}
		var wn native
		_ = json.Unmarshal(wv, &wn)
		if gn := parseNative(gv); !reflect.DeepEqual(gn, wn) {
			t.Errorf("parseNative(%s) = %+v, want %+v", gv, gn, wn)
		}
	}
}
