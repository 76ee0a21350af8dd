package taxii_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
)

// TestTAXIIPushContextReachesPool: the context a pushed graph gives an
// indicator (an indicates relationship to a malware and to an ATT&CK
// technique, in the same envelope and after the indicator) is recorded with
// the value in the pool's provenance, as it would be from a pulled feed.
func TestTAXIIPushContextReachesPool(t *testing.T) {
	me := newMISPEnv(t, nil)
	c := newPyClient(t, me.env, "misp")
	collURL := me.url + "/intel/collections/" + collInbox + "/"
	env := []byte(`{"objects":[
{"type":"indicator","spec_version":"2.1","id":"indicator--0f5e2d1c-3b4a-4c5d-8e6f-7a8b9c0d1e2f","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","pattern":"[domain-name:value = 'update-heron.example']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z"},
{"type":"relationship","spec_version":"2.1","id":"relationship--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","relationship_type":"indicates","source_ref":"indicator--0f5e2d1c-3b4a-4c5d-8e6f-7a8b9c0d1e2f","target_ref":"malware--2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"},
{"type":"relationship","spec_version":"2.1","id":"relationship--3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","relationship_type":"indicates","source_ref":"indicator--0f5e2d1c-3b4a-4c5d-8e6f-7a8b9c0d1e2f","target_ref":"attack-pattern--4d5e6f7a-8b9c-4d0e-8f1a-2b3c4d5e6f7a"},
{"type":"malware","spec_version":"2.1","id":"malware--2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"HeronLoader","is_family":true},
{"type":"attack-pattern","spec_version":"2.1","id":"attack-pattern--4d5e6f7a-8b9c-4d0e-8f1a-2b3c4d5e6f7a","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"Phishing","external_references":[{"source_name":"mitre-attack","external_id":"T1566"}]}
]}`)
	var buf bytes.Buffer
	json.Compact(&buf, env)
	res, b := c.send("POST", collURL+"objects/", nil, map[string]string{"Accept": pyAccept, "Content-Type": pyAccept}, buf.Bytes())
	if s := checkStatus(t, b); res.StatusCode != http.StatusAccepted || s.FailureCount != 0 {
		t.Fatalf("push: %d %s", res.StatusCode, b)
	}
	prov, err := me.store.Provenance(t.Context(), "domain-name", "update-heron.example")
	if err != nil || len(prov) != 1 {
		t.Fatalf("provenance %+v, %v", prov, err)
	}
	var v struct {
		Context ingest.Context `json:"context"`
	}
	if err := json.Unmarshal(prov[0].Verdict, &v); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.Context.Malware, []string{"HeronLoader"}) || !slices.Equal(v.Context.AttackIDs, []string{"T1566"}) {
		t.Errorf("pushed value's context %+v; want malware HeronLoader and technique T1566", v.Context)
	}
}
