package stix_test

import (
	"encoding/json"
	"testing"

	"github.com/ctibroker/ctibroker/stix"
)

// TestTLP2Objects compares the TLP 2.0 marking definitions with the OASIS ones.
func TestTLP2Objects(t *testing.T) {
	var bundle struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(MustReadShared(t, "testdata/stix/tlp2-marking-definitions.json"), &bundle); err != nil {
		t.Fatal(err)
	}
	ours := stix.TLPMarkingDefinitions()
	if len(bundle.Objects) != len(ours) {
		t.Fatalf("got %d objects, want %d", len(ours), len(bundle.Objects))
	}
	for i, want := range bundle.Objects {
		got, err := json.Marshal(ours[i])
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		_ = json.Unmarshal(got, &g)
		_ = json.Unmarshal(want, &w)
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("TLP object %d:\n got %s\nwant %s", i, gb, wb)
		}
		lvl := stix.TLP(i + 1)
		o, err := stix.ParseRaw(want)
		if err != nil {
			t.Fatal(err)
		}
		if l, ok := stix.TLPFromMarkingRef(o.ID); !ok || l != lvl || lvl.MarkingRef() != o.ID {
			t.Errorf("%s: TLPFromMarkingRef(%s) = %v, %v; MarkingRef = %s", lvl, o.ID, l, ok, lvl.MarkingRef())
		}
		if err := ours[i].Validate(); err != nil {
			t.Errorf("%s: Validate() = %v", lvl, err)
		}
	}
	if fs := stix.Validate(MustReadShared(t, "testdata/stix/tlp2-marking-definitions.json")); stix.HasErrors(fs) {
		t.Errorf("the OASIS TLP 2.0 objects draw errors: %v", fs)
	}
}

func TestTLPMapping(t *testing.T) {
	for in, want := range map[string]stix.TLP{
		"tlp:white": stix.TLPClear, "tlp:clear": stix.TLPClear, "TLP:GREEN": stix.TLPGreen,
		" tlp:amber ": stix.TLPAmber, "tlp:amber+strict": stix.TLPAmberStrict, "tlp:red": stix.TLPRed,
	} {
		if got, ok := stix.TLPFromTag(in); !ok || got != want {
			t.Errorf("TLPFromTag(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"tlp:ex:chr", "amber", "tlp:", "misp:tlp:red"} {
		if got, ok := stix.TLPFromTag(in); ok {
			t.Errorf("TLPFromTag(%q) = %v, want not ok", in, got)
		}
	}
	for ref, want := range map[string]stix.TLP{
		stix.TLP1WhiteID: stix.TLPClear, stix.TLP1GreenID: stix.TLPGreen, stix.TLP1AmberID: stix.TLPAmber,
		stix.TLP1RedID: stix.TLPRed, stix.TLP2AmberStrictID: stix.TLPAmberStrict,
	} {
		if got, ok := stix.TLPFromMarkingRef(ref); !ok || got != want {
			t.Errorf("TLPFromMarkingRef(%s) = %v, %v; want %v", ref, got, ok, want)
		}
	}
	if _, ok := stix.TLPFromMarkingRef("marking-definition--939a9414-2ddd-4d32-a254-099d340a827a"); ok {
		t.Error("an invented AMBER+STRICT id maps to a level")
	}
	if got := stix.MaxTLP([]string{stix.TLP1GreenID, "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168", stix.TLP2AmberID}); got != stix.TLPAmber {
		t.Errorf("MaxTLP = %v, want TLP:AMBER", got)
	}
	if got := stix.MaxTLP(nil); got != stix.TLPNone {
		t.Errorf("MaxTLP(nil) = %v, want TLPNone", got)
	}
	if !(stix.TLPClear < stix.TLPGreen && stix.TLPGreen < stix.TLPAmber && stix.TLPAmber < stix.TLPAmberStrict && stix.TLPAmberStrict < stix.TLPRed) {
		t.Error("TLP levels are not ordered")
	}
}

// TestMarkedTLP: the TLP of stored bytes, from object and granular markings,
// also when the keys are written with \u escapes.
func TestMarkedTLP(t *testing.T) {
	red, amber1 := stix.TLPRed.MarkingRef(), "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	for name, tt := range map[string]struct {
		js   string
		want stix.TLP
	}{
		"unmarked":        {`{"type":"indicator","id":"indicator--1"}`, stix.TLPNone},
		"object marking":  {`{"id":"x","object_marking_refs":["` + stix.TLPGreen.MarkingRef() + `"]}`, stix.TLPGreen},
		"TLP 1.0 amber":   {`{"id":"x","object_marking_refs":["` + amber1 + `"]}`, stix.TLPAmber},
		"granular red":    {`{"id":"x","object_marking_refs":["` + stix.TLPClear.MarkingRef() + `"],"granular_markings":[{"marking_ref":"` + red + `","selectors":["name"]}]}`, stix.TLPRed},
		"escaped key":     {`{"id":"x","object_\u006darking_refs":["` + red + `"]}`, stix.TLPRed},
		"other marking":   {`{"id":"x","object_marking_refs":["marking-definition--00000000-0000-4000-8000-000000000000"]}`, stix.TLPNone},
		"marking in text": {`{"id":"x","description":"see marking_ref"}`, stix.TLPNone},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := stix.MarkedTLP([]byte(tt.js))
			if err != nil || got != tt.want {
				t.Fatalf("MarkedTLP = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := stix.MarkedTLP([]byte(`{"object_marking_refs":`)); err == nil {
		t.Fatal("truncated bytes: no error")
	}
}
