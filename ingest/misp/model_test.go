package misp_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/misp"
)

// TestDecodeEvents reads every shape MISP writes events in, and fails clearly
// on what is not MISP.
func TestDecodeEvents(t *testing.T) {
	const ev = `{"uuid":"6b1c2f0e-8a3d-4c6e-9f11-2a7d5e0b9c01","info":"x","timestamp":1741000000,"threat_level_id":"1","published":1,
		"orgc":{"name":"O","uuid":"5f6e4a1b-3c2d-4e5f-8a9b-0c1d2e3f4a5b"},"Attribute":[{"uuid":"a","type":"domain","value":"example.com","to_ids":"0","deleted":0}]}`
	for name, tt := range map[string]struct {
		in      string
		events  int
		wantErr string
	}{
		"wrapped":            {`{"Event":` + ev + `}`, 1, ""},
		"bare":               {ev, 1, ""},
		"list of wrapped":    {`[{"Event":` + ev + `},{"Event":` + ev + `}]`, 2, ""},
		"list of bare":       {`[` + ev + `,` + ev + `]`, 2, ""},
		"bare with objects":  {`[{"uuid":"u","info":"y","Object":[{"uuid":"o","name":"file","Attribute":[{"uuid":"a","type":"md5","value":"9e107d9d372bb6826bd81d3542a419d6"}]}]}]`, 1, ""},
		"restSearch":         {`{"response":[{"Event":` + ev + `}]}`, 1, ""},
		"restSearch empty":   {`{"response":[]}`, 0, ""},
		"attribute search":   {`{"response":{"Attribute":[{"uuid":"a","type":"ip-dst","value":"192.0.2.1"}]}}`, 1, ""},
		"object search":      {`{"response":[{"Object":{"uuid":"o","name":"file","Attribute":[]}}]}`, 1, ""},
		"cut off":            {`{"response":[{"Event":` + ev[:40], 0, "cut off"},
		"not json":           {`<html>`, 0, "invalid character"},
		"number":             {`42`, 0, "not MISP"},
		"server error":       {`{"name":"Authentication failed.","message":"Authentication failed.","url":"/events/restSearch"}`, 0, "Authentication failed"},
		"other object":       {`{"foo":1}`, 0, "neither an event"},
		"bad timestamp type": {`{"Event":{"uuid":"u","info":"x","timestamp":{}}}`, 0, "Event"},
		"list of junk":       {`[{"a":1}]`, 0, "[0]: not an event"},
	} {
		t.Run(name, func(t *testing.T) {
			var got []*misp.Event
			n, err := misp.DecodeEvents(strings.NewReader(tt.in), func(e *misp.Event) error { got = append(got, e); return nil })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.events || len(got) != tt.events {
				t.Fatalf("events %d (%d calls), want %d", n, len(got), tt.events)
			}
			if name == "bare with objects" && (len(got[0].Object) != 1 || len(got[0].Object[0].Attribute) != 1) {
				t.Fatalf("objects of a bare event lost: %+v", got[0])
			}
			if strings.Contains(tt.in, `"info":"x",`) {
				e := got[0]
				ts, _ := e.Timestamp.Int()
				tl, _ := e.ThreatLevelID.Int()
				if ts != 1741000000 || tl != 1 || !bool(e.Published) || e.Orgc == nil || e.Orgc.Name != "O" {
					t.Errorf("event %+v: numbers, flags or orgc misread", e)
				}
				if a := e.Attribute[0]; a.ToIDs == nil || bool(*a.ToIDs) || bool(a.Deleted) {
					t.Errorf("attribute flags misread: %+v", a)
				}
			}
		})
	}
}

// TestDecodeCallbackError: the callback's error comes back as is.
func TestDecodeCallbackError(t *testing.T) {
	stop := errors.New("stop")
	_, err := misp.DecodeEvents(strings.NewReader(`[{"uuid":"u","info":"a"},{"uuid":"v","info":"b"}]`), func(*misp.Event) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("err %v, want the callback's", err)
	}
}

func TestShareOf(t *testing.T) {
	for _, tt := range []struct {
		dist int
		feed string
		want string
	}{
		{misp.DistributionOrg, ingest.ShareCommunity, ingest.ShareInternal},
		{misp.DistributionCommunity, ingest.ShareCommunity, ingest.SharePartners},
		{misp.DistributionConnected, ingest.ShareCommunity, ingest.SharePartners},
		{misp.DistributionAll, ingest.ShareCommunity, ingest.ShareCommunity},
		{misp.DistributionAll, ingest.SharePartners, ingest.SharePartners},
		{misp.DistributionAll, ingest.ShareInternal, ingest.ShareInternal},
		{misp.DistributionSharingGroup, ingest.ShareCommunity, ingest.ShareInternal},
		{misp.DistributionAll, "", ingest.ShareCommunity},
		{17, ingest.ShareCommunity, ingest.ShareInternal},
	} {
		if got := misp.ShareOf(tt.dist, tt.feed); got != tt.want {
			t.Errorf("ShareOf(%d, %q) = %q, want %q", tt.dist, tt.feed, got, tt.want)
		}
	}
}

// TestFactoryOptions: bad options are config errors naming the option.
func TestFactoryOptions(t *testing.T) {
	for name, tt := range map[string]struct{ opts, want string }{
		"bad mode":      {"  mode: pull\n  base_url: https://misp.example.org\n  api_key_env: MISP_TEST_KEY\n", "mode"},
		"no base_url":   {"  api_key_env: MISP_TEST_KEY\n", "base_url"},
		"no key":        {"  base_url: https://misp.example.org\n  api_key_env: UNSET_VAR\n", "UNSET_VAR"},
		"bad since":     {"  base_url: https://misp.example.org\n  api_key_env: MISP_TEST_KEY\n  since: yesterday\n", "since"},
		"unknown key":   {"  base_url: https://misp.example.org\n  api_key_env: MISP_TEST_KEY\n  colour: red\n", "colour"},
		"negative":      {"  base_url: https://misp.example.org\n  api_key_env: MISP_TEST_KEY\n  limit: -1\n", "negative"},
		"feed, no key":  {"  mode: feed\n  base_url: https://feed.example.org/osint\n", ""},
		"rest, all set": {"  base_url: https://misp.example.org\n  api_key_env: MISP_TEST_KEY\n  since: 2025-01-01T00:00:00Z\n", ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := misp.New(feedConfig(t, tt.opts))
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ingest.ErrConfig)):
				t.Fatalf("err %v, want an ErrConfig naming %q", err, tt.want)
			}
		})
	}
}
