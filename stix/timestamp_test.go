package stix_test

import (
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

func TestParseTimestamp(t *testing.T) {
	for in, want := range map[string]string{
		"2016-04-06T20:03:48Z":              "2016-04-06T20:03:48.000Z",
		"2016-04-06T20:03:48.1Z":            "2016-04-06T20:03:48.100Z",
		"2016-04-06T20:03:48.000123Z":       "2016-04-06T20:03:48.000Z",
		"2016-04-06T20:03:48.123456789123Z": "2016-04-06T20:03:48.123Z",
		"2024-02-29T00:00:00.000Z":          "2024-02-29T00:00:00.000Z",
	} {
		ts, err := stix.ParseTimestamp(in)
		if err != nil || ts.String() != want {
			t.Errorf("ParseTimestamp(%q) = %v, %v; want %s", in, ts, err, want)
		}
	}
	for _, in := range []string{"2016-04-31T20:03:48Z", "2023-02-29T00:00:00Z", "2016-04-06T20:03:48+02:00",
		"2016-04-06t20:03:48Z", "2016-04-06T20:03:48.Z", "2016-04-06 20:03:48Z", "2016-13-01T00:00:00Z",
		"2016-04-06T24:00:00Z", "2016-04-06T20:03:48,123Z", "", "Z"} {
		if _, err := stix.ParseTimestamp(in); err == nil {
			t.Errorf("ParseTimestamp(%q) = nil error, want one", in)
		}
	}
	ts := stix.NewTimestamp(time.Date(2024, 1, 2, 3, 4, 5, 678901234, time.FixedZone("x", 3600)))
	b, _ := ts.MarshalJSON()
	if string(b) != `"2024-01-02T02:04:05.678Z"` {
		t.Errorf("MarshalJSON = %s", b)
	}
}

func TestTimestampRules(t *testing.T) {
	obj := func(created, modified string) []byte {
		return []byte(`{"type":"identity","spec_version":"2.1","id":"identity--8ae20dde-83d4-4218-88fd-41ef0dabf9d1","created":"` + created + `","modified":"` + modified + `","name":"x"}`)
	}
	for name, tt := range map[string]struct {
		in      []byte
		lenient bool
		rule    string
		sev     stix.Severity
	}{
		"second precision":         {obj("2016-08-22T14:09:00Z", "2016-08-22T14:09:00.000Z"), false, "timestamp-precision", stix.SeverityError},
		"second precision lenient": {obj("2016-08-22T14:09:00Z", "2016-08-22T14:09:00.000Z"), true, "timestamp-precision", stix.SeverityWarning},
		"modified before created":  {obj("2016-08-22T14:09:00.001Z", "2016-08-22T14:09:00.000Z"), true, "timestamp-order", stix.SeverityError},
		"offset":                   {obj("2016-08-22T14:09:00.000+00:00", "2016-08-22T14:09:00.000Z"), false, "timestamp", stix.SeverityError},
	} {
		t.Run(name, func(t *testing.T) {
			v := stix.Validator{Lenient: tt.lenient}
			for _, f := range v.Validate(tt.in) {
				if f.Rule == tt.rule {
					if f.Severity != tt.sev {
						t.Fatalf("got %s, want %s: %s", f.Severity, tt.sev, stix.FormatFinding(f))
					}
					return
				}
			}
			t.Fatalf("no finding with rule %s", tt.rule)
		})
	}
}
