package stix_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

const baseIdentity = `"type":"identity","spec_version":"2.1","id":"identity--8ae20dde-83d4-4218-88fd-41ef0dabf9d1","created":"2016-08-22T14:09:00.123Z","modified":"2016-08-22T14:09:00.123Z","name":"x"`

// TestValidatorRules: one input per rule, with the finding it must produce.
func TestValidatorRules(t *testing.T) {
	for name, tt := range map[string]struct {
		in       string
		lenient  bool
		property string
		rule     string
		sev      stix.Severity
	}{
		"empty list":           {`{` + baseIdentity + `,"roles":[]}`, false, "roles", "empty-list", stix.SeverityError},
		"null":                 {`{` + baseIdentity + `,"description":null}`, false, "description", "null-value", stix.SeverityError},
		"uppercase id":         {`{"type":"identity","spec_version":"2.1","id":"identity--8AE20DDE-83d4-4218-88fd-41ef0dabf9d1","created":"2016-08-22T14:09:00.123Z","modified":"2016-08-22T14:09:00.123Z","name":"x"}`, false, "id", "uuid-case", stix.SeverityWarning},
		"spec_version 2.0":     {`{` + strings.Replace(baseIdentity, `"2.1"`, `"2.0"`, 1) + `}`, false, "spec_version", "spec-version", stix.SeverityError},
		"wrong type revoked":   {`{` + baseIdentity + `,"revoked":"yes"}`, false, "revoked", "type-mismatch", stix.SeverityError},
		"uppercase prop":       {`{` + baseIdentity + `,"x_Foo":1}`, false, "x_Foo", "property-name", stix.SeverityWarning},
		"custom prop":          {`{` + baseIdentity + `,"x_foo":1}`, false, "x_foo", "custom-property", stix.SeverityWarning},
		"marking ref type":     {`{` + baseIdentity + `,"object_marking_refs":["identity--8ae20dde-83d4-4218-88fd-41ef0dabf9d1"]}`, false, "object_marking_refs", "ref-type", stix.SeverityError},
		"ext ref no id":        {`{` + baseIdentity + `,"external_references":[{"source_name":"x"}]}`, false, "external_references[0]", "external-reference", stix.SeverityError},
		"ext ref url no hash":  {`{` + baseIdentity + `,"external_references":[{"source_name":"x","url":"https://x.example/"}]}`, false, "external_references[0].hashes", "external-reference-hash", stix.SeverityWarning},
		"granular selector":    {`{` + baseIdentity + `,"granular_markings":[{"marking_ref":"` + stix.TLP2AmberID + `","selectors":["description"]}]}`, false, "granular_markings[0].selectors", "selector", stix.SeverityError},
		"granular both":        {`{` + baseIdentity + `,"granular_markings":[{"marking_ref":"` + stix.TLP2AmberID + `","lang":"en","selectors":["name"]}]}`, false, "granular_markings[0]", "granular-marking", stix.SeverityError},
		"ext without type":     {`{` + baseIdentity + `,"extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"x":1}}}`, false, "extensions.extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d.extension_type", "required", stix.SeverityError},
		"ext bad name":         {`{` + baseIdentity + `,"extensions":{"foo":{"x":1}}}`, false, "extensions.foo", "extension-name", stix.SeverityError},
		"new-sdo on identity":  {`{` + baseIdentity + `,"extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"new-sdo"}}}`, false, "extensions.extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d.extension_type", "extension-type", stix.SeverityError},
		"hash length":          {`{"type":"file","id":"file--364fe3e5-b1f4-5ba3-b951-ee5983b3538d","hashes":{"MD5":"abc"}}`, false, "hashes.MD5", "hash-value", stix.SeverityError},
		"file without name":    {`{"type":"file","id":"file--364fe3e5-b1f4-5ba3-b951-ee5983b3538d","size":3}`, false, "hashes", "required", stix.SeverityError},
		"sco id not v5":        {`{"type":"domain-name","id":"domain-name--ecb120bf-2694-4902-a737-62b74539a41b","value":"example.com"}`, false, "id", "sco-id", stix.SeverityWarning},
		"ipv6 value":           {`{"type":"ipv6-addr","id":"ipv6-addr--85a85a8c-ee99-5722-946d-3c3a3270fc6f","value":"1.2.3.4"}`, false, "value", "ip-value", stix.SeverityError},
		"url no scheme":        {`{"type":"url","id":"url--dd33fa7a-6db0-5532-809b-868eca6c112d","value":"example.com/x"}`, false, "value", "url", stix.SeverityError},
		"url lenient":          {`{"type":"url","id":"url--dd33fa7a-6db0-5532-809b-868eca6c112d","value":"example.com/x"}`, true, "value", "url", stix.SeverityWarning},
		"network no refs":      {`{"type":"network-traffic","id":"network-traffic--b9f6689e-23a8-5a81-904e-1387d4c317f3","protocols":["tcp"]}`, false, "src_ref", "required", stix.SeverityError},
		"network src type":     {`{"type":"network-traffic","id":"network-traffic--b9f6689e-23a8-5a81-904e-1387d4c317f3","protocols":["tcp"],"src_ref":"url--dd33fa7a-6db0-5532-809b-868eca6c112d"}`, false, "src_ref", "ref-type", stix.SeverityError},
		"bin not base64":       {`{"type":"artifact","id":"artifact--89985a15-2e0d-5eac-bad7-e850ca202d2c","payload_bin":"not base64!"}`, false, "payload_bin", "binary", stix.SeverityError},
		"relationship pair":    {`{"type":"relationship","spec_version":"2.1","id":"relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad","created":"2016-04-06T20:06:37.000Z","modified":"2016-04-06T20:06:37.000Z","relationship_type":"exploits","source_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"vulnerability--31b940d4-6f7f-459a-80ea-9c1f17b5891b"}`, false, "relationship_type", "relationship-pair", stix.SeverityWarning},
		"sighting where":       {`{"type":"sighting","spec_version":"2.1","id":"sighting--6b0e3956-95f3-4c04-a882-116832996da0","created":"2016-08-22T14:09:00.123Z","modified":"2016-08-22T14:09:00.123Z","sighting_of_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","where_sighted_refs":["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}`, false, "where_sighted_refs", "ref-type", stix.SeverityError},
		"opinion enum":         {`{"type":"opinion","spec_version":"2.1","id":"opinion--6b0e3956-95f3-4c04-a882-116832996da0","created":"2016-08-22T14:09:00.123Z","modified":"2016-08-22T14:09:00.123Z","opinion":"maybe","object_refs":["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}`, false, "opinion", "vocabulary", stix.SeverityError},
		"tlp1 altered":         {`{"type":"marking-definition","spec_version":"2.1","id":"` + stix.TLP1GreenID + `","created":"2017-01-20T00:00:00Z","definition_type":"tlp","definition":{"tlp":"green"}}`, false, "definition", "tlp-predefined", stix.SeverityError},
		"tlp1 altered lenient": {`{"type":"marking-definition","spec_version":"2.1","id":"` + stix.TLP1GreenID + `","created":"2017-01-20T00:00:00.000Z","name":"TLP:Green","definition_type":"tlp","definition":{"tlp":"green"}}`, true, "definition", "tlp-predefined", stix.SeverityWarning},
		"tlp2 wrong value":     {`{"type":"marking-definition","spec_version":"2.1","id":"` + stix.TLP2RedID + `","created":"2022-10-01T00:00:00.000Z","name":"TLP:RED","extensions":{"` + stix.TLP2ExtensionID + `":{"extension_type":"property-extension","tlp_2_0":"green"}}}`, false, "id", "tlp", stix.SeverityError},
		"custom object":        {`{"type":"x-misp-object","spec_version":"2.1","id":"x-misp-object--6b0e3956-95f3-4c04-a882-116832996da0","created":"2016-08-22T14:09:00.123Z","modified":"2016-08-22T14:09:00.123Z"}`, false, "type", "custom-object", stix.SeverityWarning},
		"custom no spec":       {`{"type":"x-misp-object","id":"x-misp-object--6b0e3956-95f3-4c04-a882-116832996da0"}`, false, "spec_version", "required", stix.SeverityError},
		"bundle spec_version":  {`{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","spec_version":"2.1","objects":[{` + baseIdentity + `}]}`, false, "spec_version", "bundle-spec-version", stix.SeverityWarning},
		"bundle empty":         {`{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":[]}`, false, "objects", "empty-list", stix.SeverityError},
		"nested bundle":        {`{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":[{"type":"bundle","id":"bundle--54af6c39-c09b-49c5-9de2-394224b04982"}]}`, false, "type", "nested-bundle", stix.SeverityError},
		"envelope more":        {`{"more":"yes","objects":[{` + baseIdentity + `}]}`, false, "more", "type-mismatch", stix.SeverityError},
		"envelope type":        {`{"objects":[{` + baseIdentity + `}],"type":"collection"}`, false, "type", "container-type", stix.SeverityError},
		"bare list":            {`[{` + baseIdentity + `}]`, false, "", "bare-list", stix.SeverityWarning},
		"syntax":               {`{` + baseIdentity + `,}`, false, "", "json", stix.SeverityError},
	} {
		t.Run(name, func(t *testing.T) {
			v := stix.Validator{Lenient: tt.lenient}
			fs := v.Validate([]byte(tt.in))
			for _, f := range fs {
				if f.Rule == tt.rule && f.Property == tt.property {
					if f.Severity != tt.sev {
						t.Fatalf("got %s, want %s: %s", f.Severity, tt.sev, stix.FormatFinding(f))
					}
					return
				}
			}
			var lines []string
			for _, f := range fs {
				lines = append(lines, stix.FormatFinding(f))
			}
			t.Fatalf("no finding %s on %q; got:\n%s", tt.rule, tt.property, strings.Join(lines, "\n"))
		})
	}
}

func TestPatternCheckerHook(t *testing.T) {
	ind := `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[x:y = 'z']","pattern_type":"%s","valid_from":"2016-04-06T20:03:48Z"}`
	calls := 0
	v := stix.Validator{PatternChecker: func(p string) error { calls++; return errors.New("col 3: nope") }}
	fs := v.Validate([]byte(strings.Replace(ind, "%s", "stix", 1)))
	if calls != 1 || !stix.HasErrors(fs) || fs[0].Property != "pattern" || !strings.Contains(fs[0].Message, "col 3: nope") {
		t.Errorf("stix pattern: calls=%d findings=%v, want one pattern error carrying the checker's message", calls, fs)
	}
	if fs := v.Validate([]byte(strings.Replace(ind, "%s", "yara", 1))); calls != 1 || stix.HasErrors(fs) {
		t.Errorf("yara pattern: calls=%d findings=%v, want no check", calls, fs)
	}
	v.Limits = stix.Limits{MaxPatternSize: 5, MaxObjectSize: 1 << 20, MaxDepth: 64}
	fs = v.Validate([]byte(strings.Replace(ind, "%s", "stix", 1)))
	if calls != 1 || len(fs) == 0 || fs[0].Rule != "limit" || !strings.Contains(fs[0].Message, "max pattern size") {
		t.Errorf("long pattern: calls=%d findings=%v, want a limit finding and no call", calls, fs)
	}
}

func TestTypedValidate(t *testing.T) {
	now := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	ind := &stix.Indicator{Common: stix.NewCommon("indicator", now), Pattern: "[ipv4-addr:value = '198.51.100.1']", PatternType: "stix", ValidFrom: stix.NewTimestamp(now)}
	if err := ind.Validate(); err != nil {
		t.Fatalf("valid indicator: %v", err)
	}
	ind.PatternType = ""
	var ve *stix.ValidationError
	if err := ind.Validate(); !errors.As(err, &ve) || ve.Property != "pattern_type" {
		t.Fatalf("indicator without pattern_type: got %v, want a ValidationError on pattern_type", err)
	}
	ident := &stix.Identity{Common: stix.NewCommon("identity", now), Name: "ctibroker", IdentityClass: "system"}
	m := &stix.Malware{Common: stix.NewCommon("malware", now), Name: "Emotet", IsFamily: true}
	m.CreatedByRef = ind.ID // not an identity
	if err := m.Validate(); !errors.As(err, &ve) || ve.Property != "created_by_ref" {
		t.Fatalf("malware created by an indicator: got %v, want a created_by_ref error", err)
	}
	m.CreatedByRef = ident.ID
	rel := &stix.Relationship{Common: stix.NewCommon("relationship", now), RelationshipType: "indicates", SourceRef: ind.ID, TargetRef: m.ID}
	ind.PatternType = "stix"
	objs := []stix.Object{ind, ident, m, rel,
		&stix.ThreatActor{Common: stix.NewCommon("threat-actor", now), Name: "x"},
		&stix.IntrusionSet{Common: stix.NewCommon("intrusion-set", now), Name: "x"},
		&stix.Campaign{Common: stix.NewCommon("campaign", now), Name: "x"},
		&stix.AttackPattern{Common: stix.NewCommon("attack-pattern", now), Name: "x"},
		&stix.Vulnerability{Common: stix.NewCommon("vulnerability", now), Name: "CVE-2024-0001"},
		&stix.Report{Common: stix.NewCommon("report", now), Name: "x", Published: stix.NewTimestamp(now), ObjectRefs: []string{ind.ID}},
		&stix.Grouping{Common: stix.NewCommon("grouping", now), Context: "suspicious-activity", ObjectRefs: []string{ind.ID}},
		&stix.Note{Common: stix.NewCommon("note", now), Content: "x", ObjectRefs: []string{ind.ID}},
		&stix.Opinion{Common: stix.NewCommon("opinion", now), Opinion: "agree", ObjectRefs: []string{ind.ID}},
		&stix.Sighting{Common: stix.NewCommon("sighting", now), SightingOfRef: ind.ID, WhereSightedRefs: []string{ident.ID}},
		&stix.ObservedData{Common: stix.NewCommon("observed-data", now), FirstObserved: stix.NewTimestamp(now), LastObserved: stix.NewTimestamp(now), NumberObserved: 1, ObjectRefs: []string{stix.NewIPv4Addr("198.51.100.1").ID}},
		&stix.ExtensionDefinition{Common: stix.NewCommon("extension-definition", now), Name: "risk", Description: "risk score", Schema: "https://example.org/schema", Version: "1.0", ExtensionTypes: []string{"property-extension"}},
		stix.TLPAmber.MarkingDefinition(),
		stix.NewIPv4Addr("198.51.100.1"), stix.NewDomainName("example.com"),
	}
	objs[15].Base().CreatedByRef = ident.ID
	for _, o := range objs {
		if err := o.(interface{ Validate() error }).Validate(); err != nil {
			t.Errorf("%s: Validate() = %v", o.Base().Type, err)
		}
	}
	b := stix.NewBundle(objs...)
	if err := b.Validate(); err != nil {
		t.Fatalf("bundle: %v", err)
	}
}

func TestValidContainersWithoutObjects(t *testing.T) {
	for _, in := range []string{
		`{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982"}`,
		`{"more":false}`,
		`{"more":false,"objects":[]}`,
		`{}`,
	} {
		if fs := stix.Validate([]byte(in)); stix.HasErrors(fs) && in != `{}` {
			t.Errorf("Validate(%s) = %v, want no errors", in, fs)
		} else if in == `{}` && !stix.HasErrors(fs) {
			t.Errorf("Validate({}) = no errors, want type/id required")
		}
	}
}
