package stix

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// TLP is a Traffic Light Protocol level, ordered from the least to the most
// restrictive so that levels compare with < and >: "at most AMBER" is
// l <= TLPAmber. TLP 1.0 WHITE is TLPClear. The zero value TLPNone means "no TLP
// marking" and sorts below TLPClear.
type TLP int

// TLP levels (FIRST TLP 2.0).
const (
	TLPNone TLP = iota
	TLPClear
	TLPGreen
	TLPAmber
	TLPAmberStrict
	TLPRed
)

// TLP2ExtensionID is the OASIS TLP 2.0 extension-definition (property-extension,
// property tlp_2_0).
const TLP2ExtensionID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

// The fixed ids of the TLP 2.0 marking definitions.
const (
	TLP2ClearID       = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	TLP2GreenID       = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	TLP2AmberID       = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	TLP2AmberStrictID = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	TLP2RedID         = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
)

// The ids of the TLP 1.0 marking definitions predefined in STIX 2.1 (§7.2.1.4).
const (
	TLP1WhiteID = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	TLP1GreenID = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	TLP1AmberID = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	TLP1RedID   = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
)

var tlp2IDs = map[TLP]string{
	TLPClear: TLP2ClearID, TLPGreen: TLP2GreenID, TLPAmber: TLP2AmberID,
	TLPAmberStrict: TLP2AmberStrictID, TLPRed: TLP2RedID,
}

var tlp2ByValue = map[string]TLP{
	"clear": TLPClear, "green": TLPGreen, "amber": TLPAmber, "amber+strict": TLPAmberStrict, "red": TLPRed,
}

var tlp1IDs = map[string]string{"white": TLP1WhiteID, "green": TLP1GreenID, "amber": TLP1AmberID, "red": TLP1RedID}

var tlpByRef = map[string]TLP{
	TLP2ClearID: TLPClear, TLP2GreenID: TLPGreen, TLP2AmberID: TLPAmber,
	TLP2AmberStrictID: TLPAmberStrict, TLP2RedID: TLPRed,
	TLP1WhiteID: TLPClear, TLP1GreenID: TLPGreen, TLP1AmberID: TLPAmber, TLP1RedID: TLPRed,
}

func isTLP2ID(id string) bool {
	for _, v := range tlp2IDs {
		if v == id {
			return true
		}
	}
	return false
}

// String returns the level's TLP 2.0 name, e.g. "TLP:AMBER+STRICT".
func (l TLP) String() string {
	switch l {
	case TLPClear:
		return "TLP:CLEAR"
	case TLPGreen:
		return "TLP:GREEN"
	case TLPAmber:
		return "TLP:AMBER"
	case TLPAmberStrict:
		return "TLP:AMBER+STRICT"
	case TLPRed:
		return "TLP:RED"
	}
	return "TLP:NONE"
}

// MarkingRef returns the TLP 2.0 marking-definition id of the level ("" for
// TLPNone or an unknown level). ctibroker's output uses only these ids.
func (l TLP) MarkingRef() string { return tlp2IDs[l] }

// TLPFromMarkingRef maps a TLP 2.0 or TLP 1.0 marking-definition id to its level
// (TLP 1.0 WHITE is TLPClear). ok is false for any other id.
func TLPFromMarkingRef(id string) (TLP, bool) {
	l, ok := tlpByRef[id]
	return l, ok
}

// TLPFromTag maps a MISP tag such as "tlp:amber", "tlp:amber+strict",
// "tlp:white" or "tlp:clear" (case-insensitive, surrounding space ignored) to its
// level. ok is false for any other tag (including "tlp:ex:chr" and friends).
func TLPFromTag(tag string) (TLP, bool) {
	t := strings.ToLower(strings.TrimSpace(tag))
	name, found := strings.CutPrefix(t, "tlp:")
	if !found {
		return TLPNone, false
	}
	switch name {
	case "white", "clear":
		return TLPClear, true
	case "green":
		return TLPGreen, true
	case "amber":
		return TLPAmber, true
	case "amber+strict":
		return TLPAmberStrict, true
	case "red":
		return TLPRed, true
	}
	return TLPNone, false
}

// MaxTLP returns the most restrictive TLP level among marking-definition ids
// (TLP 1.0 and 2.0), or TLPNone if none is a TLP marking.
func MaxTLP(refs []string) TLP {
	max := TLPNone
	for _, r := range refs {
		if l, ok := tlpByRef[r]; ok && l > max {
			max = l
		}
	}
	return max
}

// tlp2Created is the created timestamp of the OASIS TLP 2.0 marking definitions.
var tlp2Created = time.Date(2022, 10, 1, 0, 0, 0, 0, time.UTC)

// MarkingDefinition returns the TLP 2.0 marking-definition object of the level,
// as the OASIS TLP 2.0 extension defines it, or nil for TLPNone.
func (l TLP) MarkingDefinition() *MarkingDefinition {
	id := tlp2IDs[l]
	if id == "" {
		return nil
	}
	created := Timestamp{tlp2Created}
	value := strings.ToLower(strings.TrimPrefix(l.String(), "TLP:"))
	ext, _ := json.Marshal(map[string]string{"extension_type": "property-extension", "tlp_2_0": value})
	return &MarkingDefinition{
		Common: Common{
			Type: "marking-definition", SpecVersion: SpecVersion, ID: id, Created: &created,
			Extensions: map[string]json.RawMessage{TLP2ExtensionID: ext},
		},
		Name: l.String(),
	}
}

// TLPMarkingDefinitions returns the five TLP 2.0 marking definitions, CLEAR to RED.
func TLPMarkingDefinitions() []*MarkingDefinition {
	return []*MarkingDefinition{
		TLPClear.MarkingDefinition(), TLPGreen.MarkingDefinition(), TLPAmber.MarkingDefinition(),
		TLPAmberStrict.MarkingDefinition(), TLPRed.MarkingDefinition(),
	}
}

// markingRefKey is in the bytes of every object with object or granular
// markings, unless its keys are written with \u escapes.
var markingRefKey, jsonEscape = []byte(`marking_ref`), []byte(`\u`)

// MarkedTLP returns the most restrictive TLP among the object markings and
// granular markings of an object's JSON (TLP 1.0 read as 2.0), TLPNone when
// it has none. An object whose bytes cannot hold a marking reference is not
// decoded, so unmarked objects cost a byte scan.
func MarkedTLP(js []byte) (TLP, error) {
	if !bytes.Contains(js, markingRefKey) && !bytes.Contains(js, jsonEscape) {
		return TLPNone, nil
	}
	var m struct {
		ObjectMarkingRefs []string `json:"object_marking_refs"`
		GranularMarkings  []struct {
			MarkingRef string `json:"marking_ref"`
		} `json:"granular_markings"`
	}
	if err := json.Unmarshal(js, &m); err != nil {
		return TLPNone, err
	}
	l := MaxTLP(m.ObjectMarkingRefs)
	for _, g := range m.GranularMarkings {
		if t, ok := TLPFromMarkingRef(g.MarkingRef); ok && t > l {
			l = t
		}
	}
	return l, nil
}
