package misp_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/misp"
)

func md5hex(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }

// TestMarshalFeedEventRealEvent: the real feed event from ../shared read,
// written as a feed event and read again is the same event, and MISP's
// characters are not HTML-escaped.
func TestMarshalFeedEventRealEvent(t *testing.T) {
	b, err := os.ReadFile(ingesttest.MustShared(t, "testdata/providers/misp/feed_event_57c4445b-c548-4654-af0b-4be3950d210f.json"))
	if err != nil {
		t.Fatal(err)
	}
	var first misp.Event
	if _, err := misp.DecodeEvents(bytes.NewReader(b), func(ev *misp.Event) error { first = *ev; return nil }); err != nil {
		t.Fatal(err)
	}
	out, err := misp.MarshalFeedEvent(&first)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte(`{"Event":{"uuid":"57c4445b-c548-4654-af0b-4be3950d210f"`)) {
		t.Errorf("feed event starts %.60s", out)
	}
	var again misp.Event
	if _, err := misp.DecodeEvents(bytes.NewReader(out), func(ev *misp.Event) error { again = *ev; return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, again) {
		t.Errorf("event changed through MarshalFeedEvent:\n%+v\n%+v", first, again)
	}
	ev := misp.Event{UUID: "a", Info: "<b> & co", Orgc: &misp.Org{Name: "o"}}
	out, _ = misp.MarshalFeedEvent(&ev)
	if !bytes.Contains(out, []byte(`"info":"<b> & co"`)) {
		t.Errorf("HTML-escaped: %s", out)
	}
}

// TestMarshalFeedEventErrors: MISP needs uuid, info and Orgc.
func TestMarshalFeedEventErrors(t *testing.T) {
	org := &misp.Org{Name: "o", UUID: "6a5f5a1e-1b1d-4c4a-9e8f-2b7c7d0e5f11"}
	for field, ev := range map[string]*misp.Event{
		"nil":  nil,
		"uuid": {Info: "x", Orgc: org},
		"info": {UUID: "u", Orgc: org},
		"Orgc": {UUID: "u", Info: "x"},
	} {
		_, err := misp.MarshalFeedEvent(ev)
		if !errors.Is(err, misp.ErrFeedEvent) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v, want ErrFeedEvent naming %s", field, err, field)
		}
	}
}

// TestWriteHashesCSV: one line md5(value),event uuid per value, composite
// types and malware-sample split, deleted attributes and objects left out,
// object attributes in.
func TestWriteHashesCSV(t *testing.T) {
	tr := misp.Flag(true)
	events := []misp.Event{{UUID: "e1", Attribute: []misp.Attribute{
		{Type: "ip-dst", Value: "192.0.2.1"},
		{Type: "filename|md5", Value: "a.exe|d41d8cd98f00b204e9800998ecf8427e"},
		{Type: "malware-sample", Value: "b.exe|0cc175b9c0f1b6a831c399e269772661"},
		{Type: "stix2-pattern", Value: "[a:b = 'x'] OR [a:b = 'y|z']"},
		{Type: "domain", Value: "gone.example", Deleted: true},
	}, Object: []misp.Object{
		{Attribute: []misp.Attribute{{Type: "sha1", Value: "da39a3ee5e6b4b0d3255bfef95601890afd80709", ToIDs: &tr}}},
		{Deleted: true, Attribute: []misp.Attribute{{Type: "sha1", Value: "ffffffffffffffffffffffffffffffffffffffff"}}},
	}}, {UUID: "e2", Attribute: []misp.Attribute{{Type: "url", Value: "http://x.example/"}}}}
	var buf bytes.Buffer
	if err := misp.WriteHashesCSV(&buf, events); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		md5hex("192.0.2.1") + ",e1",
		md5hex("a.exe") + ",e1", md5hex("d41d8cd98f00b204e9800998ecf8427e") + ",e1",
		md5hex("b.exe") + ",e1", md5hex("0cc175b9c0f1b6a831c399e269772661") + ",e1",
		md5hex("[a:b = 'x'] OR [a:b = 'y|z']") + ",e1",
		md5hex("da39a3ee5e6b4b0d3255bfef95601890afd80709") + ",e1",
		md5hex("http://x.example/") + ",e2",
	}, "\n") + "\n"
	if buf.String() != want {
		t.Errorf("hashes.csv\n%s\nwant\n%s", buf.String(), want)
	}
}

// TestFeedManifest: per event uuid the fields MISP reads (PyMISP manifest),
// tags reduced to name and colour; the later timestamp wins a duplicate uuid.
func TestFeedManifest(t *testing.T) {
	events := exportReport(t)
	ev := events[0]
	older := ev
	older.Timestamp = "1"
	older.Info = "older"
	m := misp.FeedManifest([]misp.Event{ev, older, {Info: "no uuid"}})
	if len(m) != 1 {
		t.Fatalf("manifest has %d entries, want 1", len(m))
	}
	e := m[ev.UUID]
	if e.Info != ev.Info || e.Timestamp != ev.Timestamp || e.Date != ev.Date || e.ThreatLevelID != ev.ThreatLevelID ||
		e.Analysis != ev.Analysis || e.Orgc == nil || e.Orgc.UUID != ev.Orgc.UUID {
		t.Errorf("manifest entry %+v for event %s", e, ev.UUID)
	}
	if len(e.Tag) != len(ev.Tag) {
		t.Errorf("manifest tags %v, event tags %v", e.Tag, ev.Tag)
	}
	b, _ := json.Marshal(m)
	if bytes.Contains(b, []byte("is_galaxy")) {
		t.Errorf("manifest tags carry more than name and colour: %s", b)
	}
	// It reads back as the feed source reads manifests.
	var back misp.Manifest
	if err := json.Unmarshal(b, &back); err != nil || back[ev.UUID].Timestamp != ev.Timestamp {
		t.Errorf("manifest does not read back: %v", err)
	}
}
