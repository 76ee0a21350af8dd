package ingest_test

import (
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
)

func TestProviderHeader(t *testing.T) {
	h := &ingest.ProviderHeader{IdentityID: "identity--0b7c1b2a-0d54-5c4b-9a0e-1e2d3c4b5a69", Name: "P",
		ExtensionID: "extension-definition--1b7c1b2a-0d54-5c4b-9a0e-1e2d3c4b5a69", Created: stix.NewTimestamp(testTime)}
	for name, tt := range map[string]struct {
		identity string
		tlp      stix.TLP
		want     []string
	}{
		"identity and amber": {testIdentity, stix.TLPAmber, []string{"identity", "marking-definition", "extension-definition"}},
		"no instance":        {"", stix.TLPAmber, []string{"identity", "marking-definition"}},
		"no tlp":             {testIdentity, stix.TLPNone, []string{"identity", "extension-definition"}},
	} {
		t.Run(name, func(t *testing.T) {
			objs := h.Objects(tt.identity, tt.tlp)
			if len(objs) != len(tt.want) {
				t.Fatalf("got %d objects, want %v", len(objs), tt.want)
			}
			for i, o := range objs {
				if o.Base().Type != tt.want[i] {
					t.Errorf("object %d: %s, want %s", i, o.Base().Type, tt.want[i])
				}
			}
			if objs[0].Base().CreatedByRef != tt.identity || !objs[0].Base().Created.Equal(testTime) {
				t.Errorf("identity %+v", objs[0].Base())
			}
		})
	}
}

func TestFlushObjects(t *testing.T) {
	mal := &stix.Malware{Common: stix.Common{Type: "malware", SpecVersion: "2.1", ID: "malware--00000000-0000-5000-8000-000000000002"}, Name: "x"}
	ip := &stix.RawObject{Common: stix.Common{Type: "ipv4-addr", ID: "ipv4-addr--00000000-0000-5000-8000-000000000001"}}
	head := []stix.Object{&stix.Identity{Common: stix.Common{Type: "identity", ID: "identity--00000000-0000-5000-8000-000000000003"}}}
	stamp := testTime.Add(time.Hour)
	out := ingest.FlushObjects(head, map[string]stix.Object{mal.ID: mal, ip.ID: ip}, stamp)
	if len(out) != 3 || out[0] != stix.Object(head[0]) || out[1] != stix.Object(ip) || out[2] != stix.Object(mal) {
		t.Fatalf("got %v, want the header's identity first then the objects sorted by id", out)
	}
	if mal.Created == nil || !mal.Created.Equal(stamp) || !mal.Modified.Equal(stamp) {
		t.Errorf("malware created %v modified %v, want %s", mal.Created, mal.Modified, stamp)
	}
	if ip.Created != nil {
		t.Error("an SCO got created")
	}
	for name, tt := range map[string]struct {
		now          func() time.Time
		latest, want time.Time
	}{
		"clock":    {func() time.Time { return stamp }, testTime, stamp},
		"latest":   {nil, testTime, testTime},
		"fallback": {nil, time.Time{}, time.Unix(0, 0)},
	} {
		if got := ingest.FlushStamp(tt.now, tt.latest, time.Unix(0, 0)); !got.Equal(tt.want) {
			t.Errorf("%s: FlushStamp = %s, want %s", name, got, tt.want)
		}
	}
}
