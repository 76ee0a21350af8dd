package stix_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/stix"
)

type uuid5Vector struct {
	ID               string          `json:"id"`
	ContributingJSON string          `json:"contributing_json"`
	Object           json.RawMessage `json:"object"`
}

// TestUUID5Vectors checks every vector three ways: from the object's JSON, from
// the contributing properties as a map, and from the canonical JSON itself.
func TestUUID5Vectors(t *testing.T) {
	var vectors []uuid5Vector
	if err := json.Unmarshal(MustReadShared(t, "testdata/stix/uuid5-vectors.json"), &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) < 20 {
		t.Fatalf("got %d vectors, want the full file", len(vectors))
	}
	for _, vec := range vectors {
		t.Run(vec.ID, func(t *testing.T) {
			got, err := stix.SCOIDOf(vec.Object)
			if err != nil || got != vec.ID {
				t.Errorf("SCOIDOf(object) = %q, %v; want %q", got, err, vec.ID)
			}
			var props map[string]any
			if err := json.Unmarshal(vec.Object, &props); err != nil {
				t.Fatal(err)
			}
			typ := stix.IDType(vec.ID)
			got, err = stix.SCOID(typ, props)
			if err != nil || got != vec.ID {
				t.Errorf("SCOID(%s, object) = %q, %v; want %q", typ, got, err, vec.ID)
			}
			if d := stix.DeterministicID(typ, stix.SCONamespace, vec.ContributingJSON); d != vec.ID {
				t.Errorf("DeterministicID(contributing_json) = %q, want %q", d, vec.ID)
			}
		})
	}
}

func TestTypedSCOIDs(t *testing.T) {
	for name, tt := range map[string]struct {
		obj  interface{ Base() *stix.Common }
		want string
	}{
		"ipv4":   {stix.NewIPv4Addr("198.51.100.3"), "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"},
		"domain": {stix.NewDomainName("example.com"), "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"},
		"url":    {stix.NewURL("http://example.com/malware/payload.exe?x=1&y=2"), "url--dd33fa7a-6db0-5532-809b-868eca6c112d"},
		"email":  {stix.NewEmailAddr("jdoe@example.com"), "email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171"},
		"as":     {stix.NewAutonomousSystem(15139), "autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff"},
		"file md5 wins": {stix.NewFile(map[string]string{"SHA-256": "fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db", "MD5": "1717b7fff97d37a1e1a0029d83492de1"}, "resume.pdf"),
			"file--364fe3e5-b1f4-5ba3-b951-ee5983b3538d"},
		"x509": {stix.NewX509Certificate(map[string]string{"SHA-256": "fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db"}, ""), "x509-certificate--b91bcf06-0d11-5a89-9c3a-8d4279aefe56"},
		"ipv6": {stix.NewIPv6Addr("2001:0db8:85a3:0000:0000:8a2e:0370:7334"), "ipv6-addr--85a85a8c-ee99-5722-946d-3c3a3270fc6f"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tt.obj.Base().ID; got != tt.want {
				t.Errorf("id = %q, want %q", got, tt.want)
			}
			if v, ok := tt.obj.(interface{ Validate() error }); ok {
				if err := v.Validate(); err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
			}
		})
	}
}

func TestSCOIDErrors(t *testing.T) {
	if _, err := stix.SCOID("process", map[string]any{"pid": 1}); !errors.Is(err, stix.ErrNoContributing) {
		t.Errorf("process: got %v, want ErrNoContributing", err)
	}
	if _, err := stix.SCOID("indicator", map[string]any{"value": "x"}); err == nil {
		t.Error("indicator: got nil, want an error (not an SCO)")
	}
	nt := &stix.NetworkTraffic{Protocols: []string{"tcp"}, SrcRef: "ipv4-addr--4d22aae0-2bf9-5427-8819-e4f6abf20a53"}
	if err := nt.SetID(); err != nil || !strings.HasPrefix(nt.ID, "network-traffic--") || nt.ID[len("network-traffic--")+14] != '5' {
		t.Errorf("network-traffic SetID: id %q, err %v; want a UUIDv5 id", nt.ID, err)
	}
}

func TestIdentifiers(t *testing.T) {
	id := stix.NewID("indicator")
	if !stix.ValidID(id) || stix.IDType(id) != "indicator" || id[len("indicator--")+14] != '4' {
		t.Errorf("NewID = %q, want a valid UUIDv4 identifier", id)
	}
	ns := uuid.MustParse("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
	a, b := stix.DeterministicID("malware", ns, "emotet"), stix.DeterministicID("malware", ns, "emotet")
	if a != b || !stix.ValidID(a) || a[len("malware--")+14] != '5' {
		t.Errorf("DeterministicID = %q, %q; want equal valid UUIDv5 ids", a, b)
	}
	for in, want := range map[string]bool{
		"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f": true,
		"indicator--8E2E2D2B-17d4-4cbf-938f-98ee46b3cd3f": false, // upper case: not canonical
		"indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f": false, // version 0
		"indicator--8e2e2d2b-17d4-4cbf-138f-98ee46b3cd3f": false, // variant
		"indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f":  false,
		"in--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f":        false, // type too short
		"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3":  false,
	} {
		if got := stix.ValidID(in); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", in, got, want)
		}
	}
}
