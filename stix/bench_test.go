package stix_test

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
)

// typicalIndicator is a 1 KB indicator as ctibroker publishes it: markings, an
// external reference, a kill chain phase and the risk-score property extension.
var typicalIndicator = []byte(`{
"type": "indicator",
"spec_version": "2.1",
"id": "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade",
"created_by_ref": "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",
"created": "2024-03-01T10:21:07.123Z",
"modified": "2024-03-02T08:00:00.000Z",
"name": "Emotet C2 server 198.51.100.23",
"description": "Reported by three feeds as an Emotet C2 server.",
"indicator_types": ["malicious-activity", "compromised"],
"pattern": "[ipv4-addr:value = '198.51.100.23']",
"pattern_type": "stix",
"pattern_version": "2.1",
"valid_from": "2024-03-01T10:21:07Z",
"valid_until": "2024-03-15T10:21:07Z",
"kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}],
"confidence": 85,
"lang": "en",
"external_references": [{"source_name": "feodotracker", "url": "https://feodotracker.example/browse/host/198.51.100.23/", "hashes": {"MD5": "6db12788c37247f2316052e142f42f4b"}}],
"object_marking_refs": ["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"],
"extensions": {
"extension-definition--0bd91d8c-2a35-4c4d-a36c-0c7ee5f1e4aa": {
"extension_type": "property-extension",
"risk_score": 87,
"risk_reasons": ["seen-in-3-feeds", "c2"]
}
}
}`)

func TestTypicalIndicatorIsValid(t *testing.T) {
	if n := len(typicalIndicator); n < 900 || n > 1200 {
		t.Fatalf("typical indicator is %d bytes, want about 1 KB", n)
	}
	v := stix.Validator{PatternChecker: pattern.Check}
	_, fs, err := v.ParseAndValidate(typicalIndicator)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 0 {
		t.Fatalf("got findings %v, want none", fs)
	}
}

// benchDecodeValidate alternates blocks of 64 decode+validate runs with blocks of
// 64 plain encoding/json decodes of the same bytes into stix.Indicator, timing
// each side separately, so that both rates see the same machine load (the
// machine is shared and noisy). ns/op covers both sides; the objects/s metrics
// and their ratio are the figures to read.
func benchDecodeValidate(b *testing.B, v *stix.Validator) {
	b.SetBytes(int64(len(typicalIndicator)))
	b.ReportAllocs()
	var ours, base, oursCPU, baseCPU time.Duration
	n := 0
	for b.Loop() {
		c0 := cpuTime()
		t0 := time.Now()
		for range 64 {
			_, fs, err := v.ParseAndValidate(typicalIndicator)
			if err != nil || len(fs) != 0 {
				b.Fatal(err, fs)
			}
		}
		t1 := time.Now()
		c1 := cpuTime()
		for range 64 {
			var ind stix.Indicator
			if err := json.Unmarshal(typicalIndicator, &ind); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		c2 := cpuTime()
		ours += t1.Sub(t0)
		base += t2.Sub(t1)
		oursCPU += c1 - c0
		baseCPU += c2 - c1
		n += 64
	}
	rate := float64(n) / ours.Seconds()
	baseRate := float64(n) / base.Seconds()
	b.ReportMetric(rate, "objects/s")
	b.ReportMetric(baseRate, "encoding/json-objects/s")
	b.ReportMetric(rate/baseRate, "x-encoding/json")
	if oursCPU > 0 && baseCPU > 0 {
		cpuRate := float64(n) / oursCPU.Seconds()
		b.ReportMetric(cpuRate, "objects/cpu-s")
		b.ReportMetric(float64(n)/baseCPU.Seconds(), "encoding/json-objects/cpu-s")
		b.ReportMetric(cpuRate/(float64(n)/baseCPU.Seconds()), "x-encoding/json-cpu")
	}
}

// cpuTime is the process's user+system CPU time. On a machine shared with other
// processes it counts only the time this benchmark ran, where the wall clock
// also counts the time it waited for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeValidate is ParseRaw + validation of a 1 KB indicator, without
// pattern checking, against encoding/json in the same run (see
// benchDecodeValidate).
func BenchmarkDecodeValidate(b *testing.B) {
	benchDecodeValidate(b, &stix.Validator{})
}

// BenchmarkDecodeValidatePattern adds the stix/pattern parser as PatternChecker.
func BenchmarkDecodeValidatePattern(b *testing.B) {
	benchDecodeValidate(b, &stix.Validator{PatternChecker: pattern.Check})
}

// BenchmarkEncodingJSON is the baseline: encoding/json into stix.Indicator.
func BenchmarkEncodingJSON(b *testing.B) {
	b.SetBytes(int64(len(typicalIndicator)))
	b.ReportAllocs()
	for b.Loop() {
		var ind stix.Indicator
		if err := json.Unmarshal(typicalIndicator, &ind); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkParseRaw is decoding alone (syntax check + common properties).
func BenchmarkParseRaw(b *testing.B) {
	b.SetBytes(int64(len(typicalIndicator)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := stix.ParseRaw(typicalIndicator); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkParseAndValidate is decode+validate alone (no baseline blocks), for
// profiling.
func BenchmarkParseAndValidate(b *testing.B) {
	b.SetBytes(int64(len(typicalIndicator)))
	b.ReportAllocs()
	v := &stix.Validator{}
	for b.Loop() {
		if _, fs, err := v.ParseAndValidate(typicalIndicator); err != nil || len(fs) != 0 {
			b.Fatal(err, fs)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}
