package stix_test

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

func ExampleValidate() {
	bundle := `{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":[
	 {"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
	  "created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z",
	  "created_by_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
	  "pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2016-04-06T20:03:48Z"}]}`
	for _, f := range stix.Validate([]byte(bundle)) {
		fmt.Println(stix.FormatFinding(f))
	}
	// Output:
	// error: objects[0] indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: created_by_ref: [ref-type] "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f" refers to an object of type indicator; it must refer to an identity (§3.2)
}

func ExampleValidator() {
	// The TAXII lenient profile turns second-precision created/modified into
	// warnings. cmd plugs stix/pattern in as PatternChecker.
	v := stix.Validator{Lenient: true, PatternChecker: func(p string) error {
		if !strings.HasPrefix(p, "[") {
			return fmt.Errorf("column 0: missing '['")
		}
		return nil
	}}
	obj := `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
	  "created":"2016-04-06T20:03:48Z","modified":"2016-04-06T20:03:48.000Z",
	  "pattern":"file:size = 1280","pattern_type":"stix","valid_from":"2016-04-06T20:03:48Z"}`
	fs := v.Validate([]byte(obj))
	for _, f := range fs {
		fmt.Println(stix.FormatFinding(f))
	}
	fmt.Println("errors:", stix.HasErrors(fs))
	// Output:
	// warning: indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: created: [timestamp-precision] created "2016-04-06T20:03:48Z" must be precise to at least the millisecond (§3.2)
	// error: indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: pattern: [pattern] not a valid STIX pattern (§9): column 0: missing '['
	// errors: true
}

func ExampleNewDecoder() {
	envelope := `{"more":true,"next":"page-2","objects":[
	 {"type":"ipv4-addr","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3"},
	 {"type":"x-misp-event","id":"x-misp-event--0b9e4d1e-8a2a-4bd4-9ad6-02b2c2d9c3a1","x_misp_info":"kept as is"}]}`
	d := stix.NewDecoder(strings.NewReader(envelope), stix.DefaultLimits)
	for {
		o, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Println(d.Path(), o.Type, o.ID, len(o.JSON))
	}
	env := d.Envelope()
	fmt.Println(env.Kind, env.More, env.Next)
	// Output:
	// objects[0] ipv4-addr ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4 98
	// objects[1] x-misp-event x-misp-event--0b9e4d1e-8a2a-4bd4-9ad6-02b2c2d9c3a1 108
	// envelope true page-2
}

func ExampleParseRaw() {
	o, err := stix.ParseRaw([]byte(`{"type":"x-misp-object","spec_version":"2.1","id":"x-misp-object--6b0e3956-95f3-4c04-a882-116832996da0","created":"2024-01-02T03:04:05.6Z","modified":"2024-01-02T03:04:05.600Z","object_marking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(o.Type, o.Created, stix.MaxTLP(o.ObjectMarkingRefs))
	// Output: x-misp-object 2024-01-02T03:04:05.600Z TLP:AMBER
}

func ExampleSCOID() {
	id, err := stix.SCOID("file", map[string]any{
		"name":   "resume.pdf",
		"hashes": map[string]any{"SHA-256": "fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db", "MD5": "1717b7fff97d37a1e1a0029d83492de1"},
		"size":   83968, // not ID-contributing
	})
	fmt.Println(id, err)
	fmt.Println(stix.NewIPv4Addr("198.51.100.3").ID)
	// Output:
	// file--364fe3e5-b1f4-5ba3-b951-ee5983b3538d <nil>
	// ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4
}

func ExampleTLPFromTag() {
	event, _ := stix.TLPFromTag("tlp:amber+strict")
	ref, _ := stix.TLPFromMarkingRef("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82") // TLP 1.0 AMBER
	fmt.Println(event, ref, event <= stix.TLPAmber, ref <= stix.TLPAmber)
	fmt.Println(stix.TLPAmber.MarkingRef())
	// Output:
	// TLP:AMBER+STRICT TLP:AMBER false true
	// marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421
}

func ExampleIndicator_Validate() {
	now := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	ind := &stix.Indicator{
		Common:      stix.NewCommon("indicator", now),
		Pattern:     "[domain-name:value = 'example.com']",
		PatternType: "stix",
		ValidFrom:   stix.NewTimestamp(now),
	}
	fmt.Println(ind.Validate())
	ind.ValidUntil = &stix.Timestamp{Time: now.Add(-time.Hour)}
	err := ind.Validate()
	fmt.Println(strings.Replace(err.Error(), ind.ID, "indicator--…", 1))
	// Output:
	// <nil>
	// indicator--…: valid_until: timestamp-order: valid_until must be later than valid_from (§4.7)
}

func ExampleDeterministicID() {
	// ctibroker's own namespace comes from the configuration; any UUID works here.
	ns := stix.SCONamespace // for illustration only: do not use it for SDOs
	fmt.Println(stix.DeterministicID("ipv4-addr", ns, `{"value":"198.51.100.3"}`))
	// Output: ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4
}
