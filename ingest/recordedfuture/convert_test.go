package recordedfuture_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/recordedfuture"
	"github.com/ctibroker/ctibroker/stix"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.json")

func testOptions(ix *attack.Index) recordedfuture.Options {
	return recordedfuture.Options{Feed: "rf-test", Identity: ingesttest.Identity, Attack: ix}
}

func convert(t testing.TB, path string, opts recordedfuture.Options) ([]stix.Object, []ingest.Observation, []ingest.Warning) {
	t.Helper()
	objs, obs, warns, err := recordedfuture.ConvertFile(bytes.NewReader(ingesttest.MustRead(t, path)), opts)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return objs, obs, warns
}

// TestGolden converts each testdata/<case>/input.{csv,json} and compares with
// want.json; -update rewrites want.json. Each conversion is also ingested
// through the Runner into the embedded store and the stored bundle validated.
func TestGolden(t *testing.T) {
	ix := ingesttest.MustAttackSample(t)
	ingesttest.RunConversionGolden(t, ingesttest.ConversionGolden{
		Glob: "testdata/*/input.*",
		Min:  6,
		Convert: func(tb testing.TB, path string) ([]stix.Object, []ingest.Observation, []ingest.Warning) {
			return convert(tb, path, testOptions(ix))
		},
		Feed:   ingest.FeedConfig{Name: "rf", Provider: "recordedfuture"},
		Update: *update,
	})
}

func verdict(t testing.TB, o *ingest.Observation) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(o.Verdict, &m); err != nil {
		t.Fatalf("verdict of %s: %v", o.Value, err)
	}
	return m
}

// TestOddValues checks the odd-content cases one by one, independently of the
// golden file.
func TestOddValues(t *testing.T) {
	_, obs, warns := convert(t, "testdata/odd_values/input.csv", testOptions(nil))
	for _, w := range []struct{ record, field string }{
		{"line 2 (N/A)", "Name"},            // placeholder
		{"line 3", "Name"},                  // missing
		{"line 4 (0.0.0.0)", "Name"},        // placeholder address
		{"line 5 (198.51.100.300)", "Name"}, // invalid IPv4
		{"line 6 (198.51.100.24)", "Risk"},  // "high"
		{"line 7 (198.51.100.25)", "Risk"},  // missing
		{"line 8 (198.51.100.26)", "RiskString"},
		{"line 9 (198.51.100.27)", "EvidenceDetails"}, // cut-off JSON
		{"line 10 (198.51.100.28)", "EvidenceDetails"},
		{"line 11 (198.51.100.29)", "EvidenceDetails[0].Criticality"}, // 9.0
		{"line 11 (198.51.100.29)", "EvidenceDetails[0].Timestamp"},   // "yesterday"
		{"line 11 (198.51.100.29)", "EvidenceDetails[1].Rule"},        // missing
		{"line 14 (198.51.100.32)", "row"},                            // short row
		{"line 15", "row"},                                            // bare quote
	} {
		if !ingesttest.HasWarning(warns, w.record, w.field) {
			t.Errorf("no warning for record %q field %q; got %v", w.record, w.field, warns)
		}
	}
	for _, w := range warns {
		if w.Feed != "rf-test" || w.Record == "" || w.Field == "" || w.Msg == "" {
			t.Errorf("warning without feed/record/field/msg: %+v", w)
		}
	}
	// Uncompressed upper-case IPv6 and a defanged IPv4 are read.
	if o := ingesttest.FindObservation(obs, "2001:db8::43"); o == nil || !o.Detect || o.Type != "ipv6-addr" {
		t.Errorf("uncompressed IPv6: %+v", o)
	}
	if o := ingesttest.FindObservation(obs, "198.51.100.31"); o == nil || !o.Detect {
		t.Errorf("defanged IPv4: %+v", o)
	}
	// No usable Risk: observed, no indicator.
	for _, v := range []string{"198.51.100.24", "198.51.100.25"} {
		if o := ingesttest.FindObservation(obs, v); o == nil || o.Detect {
			t.Errorf("%s without a usable Risk: %+v", v, o)
		}
	}
	// Broken EvidenceDetails: the value still counts, its Risk decides.
	if o := ingesttest.FindObservation(obs, "198.51.100.27"); o == nil || !o.Detect || verdict(t, o)["evidence_details"] != nil {
		t.Errorf("cut-off EvidenceDetails: %+v", o)
	}
	// The row after the bare quote is read again.
	if ingesttest.FindObservation(obs, "198.51.100.34") == nil {
		t.Errorf("the row after an invalid one is lost: %v", obs)
	}
	for _, v := range []string{"N/A", "0.0.0.0", "198.51.100.300", "198.51.100.33"} {
		if ingesttest.FindObservation(obs, v) != nil {
			t.Errorf("%s observed", v)
		}
	}
}

// TestEvidenceProseNotMined: malware families, ATT&CK ids and CVEs that appear
// only in EvidenceString prose give no context, in risk lists or Connect API
// answers.
func TestEvidenceProseNotMined(t *testing.T) {
	ix := ingesttest.MustAttackSample(t)
	for _, in := range []string{"testdata/hash_default/input.csv", "testdata/ip_default/input.csv"} {
		objs, obs, _ := convert(t, in, testOptions(ix))
		if !bytes.Contains(ingesttest.MustRead(t, in), []byte("Emotet")) && in == "testdata/hash_default/input.csv" {
			t.Fatal("fixture lost its prose mentions")
		}
		for _, o := range obs {
			c := o.Context
			if len(c.Malware)+len(c.AttackIDs)+len(c.CVEs)+len(c.Actors) > 0 {
				t.Errorf("%s: context from prose: %+v", o.Value, c)
			}
		}
		for _, o := range objs {
			if typ := o.Base().Type; typ == "malware" || typ == "vulnerability" || typ == "attack-pattern" {
				t.Errorf("%s: %s object from prose", in, o.Base().ID)
			}
		}
	}
	// The Connect API IP mentions T1566 in prose and T1059.001 as an entity.
	_, obs, _ := convert(t, "testdata/connect_entities/input.json", testOptions(ix))
	o := ingesttest.FindObservation(obs, "198.51.100.23")
	if o == nil {
		t.Fatal("no observation of 198.51.100.23")
	}
	if !slices.Equal(o.Context.AttackIDs, []string{"T1059.001"}) {
		t.Errorf("ATT&CK ids %v, want [T1059.001] (T1566 is prose only)", o.Context.AttackIDs)
	}
	if !slices.Equal(o.Context.Malware, []string{"Cobalt Strike", "Emotet"}) || !slices.Equal(o.Context.Actors, []string{"APT28"}) ||
		!slices.Equal(o.Context.CVEs, []string{"CVE-2021-44228"}) {
		t.Errorf("context from entity references: %+v", o.Context)
	}
}

// TestConnectIndicates runs a Connect API answer through the Runner: its
// entity references become indicates relationships to ATT&CK's own objects
// (Cobalt Strike S0154, PowerShell T1059.001, APT28 G0007).
func TestConnectIndicates(t *testing.T) {
	ix := ingesttest.MustAttackSample(t)
	objs, obs, _ := convert(t, "testdata/connect_entities/input.json", testOptions(ix))
	stored := ingesttest.MustIngestBundle(t, ingest.FeedConfig{Name: "rf", Provider: "recordedfuture", Attack: ix}, objs, obs)
	v, _ := ingest.Normalize("ip", "198.51.100.23")
	ind := ingest.IndicatorID(v)
	targets := map[string]bool{}
	for _, b := range stored {
		var r struct {
			RelationshipType string `json:"relationship_type"`
			SourceRef        string `json:"source_ref"`
			TargetRef        string `json:"target_ref"`
		}
		json.Unmarshal(b, &r)
		if r.RelationshipType == "indicates" && r.SourceRef == ind {
			targets[r.TargetRef] = true
		}
	}
	for _, id := range []string{"S0154", "T1059.001", "G0007"} {
		ref, ok := ix.Resolve(id)
		if !ok {
			t.Fatalf("%s not in the ATT&CK sample", id)
		}
		if !targets[ref.ID] {
			t.Errorf("no indicates %s (%s); targets %v", ref.ID, id, targets)
		}
	}
	if !targets[ingest.ContextID("malware", "Emotet")] {
		t.Errorf("no indicates to the authored Emotet malware; targets %v", targets)
	}
	ingesttest.MustValidateBundle(t, stored)
}

// TestRealPayloads converts the real Recorded Future payloads of the shared set
// (risk-list subsets from elastic/beats under the Elastic License, read in place
// and never copied; the Connect API answer from CiscoSecurity, MIT) and checks
// the values read from each payload independently with encoding/csv and
// encoding/json.
func TestRealPayloads(t *testing.T) {
	dir := filepath.Dir(ingesttest.MustShared(t, "testdata/providers/recordedfuture/risklist_domain_default.csv"))
	ix, err := attack.Load(ingesttest.MustShared(t, "attack/enterprise-attack-18.1.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"risklist_domain_default.csv", "risklist_hash_default.csv"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			rows, err := csv.NewReader(bytes.NewReader(ingesttest.MustRead(t, path))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			head := rows[0]
			col := func(row []string, name string) string { return row[slices.Index(head, name)] }
			objs, obs, warns := convert(t, path, testOptions(ix))
			if len(warns) != 0 {
				t.Errorf("warnings on a real payload: %v", warns)
			}
			if len(obs) != len(rows)-1 {
				t.Fatalf("%d observations for %d rows", len(obs), len(rows)-1)
			}
			for _, row := range rows[1:] {
				o := ingesttest.FindObservation(obs, strings.ToLower(col(row, "Name")))
				if o == nil {
					t.Fatalf("no observation of %s", col(row, "Name"))
				}
				risk, _ := strconv.Atoi(col(row, "Risk"))
				if o.Detect != (risk >= 65) {
					t.Errorf("%s: detect %v with Risk %d", o.Value, o.Detect, risk)
				}
				var ev struct{ EvidenceDetails []map[string]any }
				if err := json.Unmarshal([]byte(col(row, "EvidenceDetails")), &ev); err != nil {
					t.Fatal(err)
				}
				maxCrit := 0.0
				for _, e := range ev.EvidenceDetails {
					maxCrit = max(maxCrit, e["Criticality"].(float64))
				}
				n := verdict(t, o)
				if n["risk"] != float64(risk) || n["risk_string"] != col(row, "RiskString") || n["criticality"] != maxCrit ||
					n["provider_ref"] != recordedfuture.ProviderIdentityID {
					t.Errorf("%s: native fields %v", o.Value, n)
				}
				if got := n["evidence_details"].([]any); len(got) != len(ev.EvidenceDetails) {
					t.Errorf("%s: %d evidence entries kept, payload has %d", o.Value, len(got), len(ev.EvidenceDetails))
				}
				if algo := slices.Index(head, "Algorithm"); algo >= 0 {
					want := "file:" + strings.ToLower(row[algo])
					if o.Type != want {
						t.Errorf("%s: type %s, want %s", o.Value, o.Type, want)
					}
				}
				if len(o.Context.Malware)+len(o.Context.CVEs)+len(o.Context.AttackIDs) > 0 {
					t.Errorf("%s: context mined from prose: %+v", o.Value, o.Context)
				}
			}
			ingesttest.MustValidateBundle(t, ingesttest.MustIngestBundle(t, ingest.FeedConfig{Name: "rf", Provider: "recordedfuture"}, objs, obs))
		})
	}
	t.Run("connect_api_domain_cisco.com.json", func(t *testing.T) {
		path := filepath.Join(dir, "connect_api_domain_cisco.com.json")
		var want struct {
			Data struct {
				Entity struct{ Name, ID string }
				Risk   struct {
					Score           int
					RiskString      string
					Criticality     int
					EvidenceDetails []any
				}
				Timestamps struct{ LastSeen string }
			}
		}
		if err := json.Unmarshal(ingesttest.MustRead(t, path), &want); err != nil {
			t.Fatal(err)
		}
		objs, obs, warns := convert(t, path, testOptions(ix))
		if len(warns) != 0 {
			t.Errorf("warnings: %v", warns)
		}
		o := ingesttest.FindObservation(obs, want.Data.Entity.Name)
		if o == nil || o.Type != "domain-name" {
			t.Fatalf("no domain observation of %s: %+v", want.Data.Entity.Name, obs)
		}
		if o.Detect != (want.Data.Risk.Score >= 65) {
			t.Errorf("detect %v with score %d", o.Detect, want.Data.Risk.Score)
		}
		n := verdict(t, o)
		if n["risk"] != float64(want.Data.Risk.Score) || n["risk_string"] != want.Data.Risk.RiskString ||
			n["criticality"] != float64(want.Data.Risk.Criticality) || n["entity_id"] != want.Data.Entity.ID ||
			n["last_seen"] != want.Data.Timestamps.LastSeen || len(n["evidence_details"].([]any)) != len(want.Data.Risk.EvidenceDetails) {
			t.Errorf("native fields %v", n)
		}
		ingesttest.MustValidateBundle(t, ingesttest.MustIngestBundle(t, ingest.FeedConfig{Name: "rf", Provider: "recordedfuture"}, objs, obs))
	})
}

// TestVulnerabilityList: CVE rows become one vulnerability object each (the id
// every provider uses) and a note with the risk and the extension.
func TestVulnerabilityList(t *testing.T) {
	objs, obs, warns := convert(t, "testdata/vulnerability_fusion/input.csv", testOptions(nil))
	if len(obs) != 0 || len(warns) != 0 {
		t.Errorf("observations %v, warnings %v", obs, warns)
	}
	byID := map[string]stix.Object{}
	for _, o := range objs {
		byID[o.Base().ID] = o
	}
	for cve, risk := range map[string]float64{"CVE-2021-44228": 99, "CVE-2024-3400": 89} {
		v, ok := byID[ingest.ContextID("vulnerability", cve)].(*stix.Vulnerability)
		if !ok || v.Name != cve || v.ExternalReferences[0].ExternalID != cve {
			t.Errorf("%s: vulnerability %+v", cve, v)
			continue
		}
		n, ok := byID[recordedfuture.NoteID("", cve)].(*stix.Note)
		if !ok || !slices.Equal(n.ObjectRefs, []string{v.ID}) {
			t.Fatalf("%s: note %+v", cve, n)
		}
		var ext map[string]any
		json.Unmarshal(n.Extensions[recordedfuture.ExtensionID], &ext)
		if ext["risk"] != risk || ext["entity"] != "vulnerability" || ext["first_seen"] == nil {
			t.Errorf("%s: note extension %v", cve, ext)
		}
	}
	if n := byID[recordedfuture.NoteID("", "CVE-2021-44228")].(*stix.Note); !strings.Contains(n.Content, "Very Critical") {
		t.Errorf("note content %q lacks the criticality label", n.Content)
	}
}

// TestOptions: TLP, threshold, entity and related-entity limits steer the
// conversion; bad values are errors.
func TestOptions(t *testing.T) {
	in := "testdata/connect_entities/input.json"
	for name, tt := range map[string]struct {
		opts     recordedfuture.Options
		marking  string
		detected int // observations with Detect
		malware  int // malware names of the IP's context
	}{
		"defaults":        {recordedfuture.Options{}, stix.TLP2AmberID, 2, 2},
		"green":           {recordedfuture.Options{TLP: "TLP:GREEN"}, stix.TLP2GreenID, 2, 2},
		"white is clear":  {recordedfuture.Options{TLP: "white"}, stix.TLP2ClearID, 2, 2},
		"threshold 80":    {recordedfuture.Options{Threshold: 80}, stix.TLP2AmberID, 1, 2},
		"threshold 5":     {recordedfuture.Options{Threshold: 5}, stix.TLP2AmberID, 3, 2},
		"one related":     {recordedfuture.Options{MaxRelated: 1}, stix.TLP2AmberID, 2, 1},
		"no related":      {recordedfuture.Options{MaxRelated: -1}, stix.TLP2AmberID, 2, 0},
		"entity inferred": {recordedfuture.Options{Entity: ""}, stix.TLP2AmberID, 2, 2},
	} {
		t.Run(name, func(t *testing.T) {
			objs, obs, _ := convert(t, in, tt.opts)
			detected := 0
			for _, o := range obs {
				if o.Detect {
					detected++
				}
			}
			ip := ingesttest.FindObservation(obs, "198.51.100.23")
			if detected != tt.detected || ip == nil || len(ip.Context.Malware) != tt.malware {
				t.Errorf("detected %d (want %d), IP context %+v (want %d malware)", detected, tt.detected, ip, tt.malware)
			}
			if tt.malware == 1 && ip.Context.Malware[0] != "Cobalt Strike" {
				t.Errorf("MaxRelated 1 kept %v, want the most counted (Cobalt Strike)", ip.Context.Malware)
			}
			for _, o := range objs {
				if c := o.Base(); c.Type == "vulnerability" && (len(c.ObjectMarkingRefs) != 1 || c.ObjectMarkingRefs[0] != tt.marking) {
					t.Errorf("%s markings %v, want %s", c.ID, c.ObjectMarkingRefs, tt.marking)
				}
			}
		})
	}
	for _, bad := range []recordedfuture.Options{{TLP: "purple"}, {Entity: "malware"}} {
		if _, err := recordedfuture.NewConverter(bad); err == nil {
			t.Errorf("NewConverter(%+v) accepted", bad)
		}
	}
	if _, _, _, err := recordedfuture.ConvertFile(strings.NewReader("  \n"), recordedfuture.Options{}); err == nil {
		t.Error("empty input accepted")
	}
	if _, _, _, err := recordedfuture.ConvertFile(strings.NewReader("Value,Score\n1.2.3.4,90\n"), recordedfuture.Options{}); err == nil || !strings.Contains(err.Error(), "Name column") {
		t.Errorf("CSV without Name: %v", err)
	}
}
