package misp

import (
	"slices"
	"testing"

	"github.com/ctibroker/ctibroker/stix"
)

// TestCapTLP: events and attributes tagged above the limit are removed, and
// so are events and objects left empty by it.
func TestCapTLP(t *testing.T) {
	tag := func(l string) []Tag { return []Tag{{Name: "tlp:" + l}, {Name: "misp:tool=\"x\""}} }
	attr := func(v string, tags []Tag) Attribute { return Attribute{Value: v, Tag: tags} }
	events := []Event{
		{UUID: "red-event", Tag: tag("red"), Attribute: []Attribute{attr("1", nil)}},
		{UUID: "mixed", Tag: tag("green"), Attribute: []Attribute{attr("2", nil), attr("3", tag("amber+strict")), attr("4", tag("clear"))},
			Object: []Object{
				{UUID: "o1", Attribute: []Attribute{attr("5", tag("red"))}},
				{UUID: "o2", Attribute: []Attribute{attr("6", nil), attr("7", tag("red"))}},
			}},
		{UUID: "emptied", Attribute: []Attribute{attr("8", tag("red"))}},
		{UUID: "empty", Info: "no content of its own"},
		{UUID: "tlp1", Tag: []Tag{{Name: "tlp:white"}}, Attribute: []Attribute{attr("9", nil)}},
	}
	got, removed := CapTLP(events, stix.TLPAmber)
	var desc []string
	for _, ev := range got {
		d := ev.UUID + ":"
		for _, a := range ev.Attribute {
			d += a.Value
		}
		for _, o := range ev.Object {
			d += "/" + o.UUID + "="
			for _, a := range o.Attribute {
				d += a.Value
			}
		}
		desc = append(desc, d)
	}
	want := []string{"mixed:24/o2=6", "empty:", "tlp1:9"}
	if !slices.Equal(desc, want) || removed != 6 {
		t.Fatalf("CapTLP = %v (removed %d), want %v (removed 6)", desc, removed, want)
	}
}
