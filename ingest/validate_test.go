package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
	"github.com/ctibroker/ctibroker/storage"
)

// TestAuthoredObjectsValidate runs every object the runner authors through the
// stix validator (with pattern checking): zero errors, no warning but the one
// about based-on → SCO (see below), and
// every SCO id equals the one stix computes from the stored bytes.
func TestAuthoredObjectsValidate(t *testing.T) {
	s := testStore(t)
	now := testTime
	r := newRunner(s, &now)
	var obs []ingest.Observation
	for _, v := range []struct{ typ, val string }{
		{"ipv4-addr", "198.51.100.3"}, {"cidr", "203.0.113.0/24"}, {"ipv6-addr", "2001:0db8::0001"},
		{"hostname", "bücher.example"}, {"url", `hxxp://evil[.]example/a'b\c?x=<y>&z`}, {"email", "Ops@Evil.Example"},
		{"md5", "D41D8CD98F00B204E9800998ECF8427E"}, {"sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{"sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"sha512", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"},
		{"ssdeep", "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C"},
	} {
		obs = append(obs, ingest.Observation{Type: v.typ, Value: v.val, Detect: true})
	}
	// A withdrawn value too, so a version with valid_until is checked.
	st := mustRun(t, r, feed("valid", &sliceSource{batches: []ingest.Batch{{Observations: obs}}}))
	if st.Warnings != 0 {
		t.Fatalf("warnings: %+v", st)
	}
	now = testTime.Add(time.Hour)
	gone := obs[0]
	gone.Revoked = true
	resetCursor(t, s, "valid")
	if st := mustRun(t, r, feed("valid", &sliceSource{batches: []ingest.Batch{{Observations: []ingest.Observation{gone}}}})); st.Revoked != 1 {
		t.Fatalf("withdrawal: %+v", st)
	}
	page, err := s.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 3*len(obs) {
		t.Fatalf("got %d objects, want %d", len(page.Records), 3*len(obs))
	}
	v := stix.Validator{PatternChecker: pattern.Check}
	var all []json.RawMessage
	for _, rec := range page.Records {
		vs, err := s.ListVersions(context.Background(), ingest.DefaultPool, rec.ID, storage.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ver := range vs.Records {
			p, err := s.GetObject(context.Background(), ingest.DefaultPool, rec.ID, storage.Filter{Versions: []string{ver.Version.Format(time.RFC3339Nano)}})
			if err != nil || len(p.Records) != 1 {
				t.Fatalf("version %s of %s: %v", ver.Version, rec.ID, err)
			}
			all = append(all, p.Records[0].JSON)
		}
		if stix.IDType(rec.ID) != "indicator" && stix.IDType(rec.ID) != "relationship" {
			id, err := stix.SCOIDOf(rec.JSON)
			if err != nil || id != rec.ID {
				t.Errorf("SCO %s: stix computes %s (%v) from %s", rec.ID, id, err, rec.JSON)
			}
		}
	}
	if len(all) != 3*len(obs)+1 {
		t.Fatalf("got %d versions, want %d", len(all), 3*len(obs)+1)
	}
	for _, b := range all {
		for _, f := range v.Validate(b) {
			// DESIGN.md relates the indicator to its SCO with based-on; STIX 2.1 lists
			// indicator based-on observed-data only, so the validator warns.
			if f.Severity != stix.SeverityError && f.Rule == "relationship-pair" && f.ObjectType == "relationship" {
				continue
			}
			t.Errorf("%s\n  in %s", stix.FormatFinding(f), b)
		}
	}
	bundle, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + uuid5(t, ingest.Namespace, "b"), "objects": all})
	if fs := v.Validate(bundle); stix.HasErrors(fs) {
		t.Errorf("bundle: %v", fmt.Sprint(fs))
	}
}
