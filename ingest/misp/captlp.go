package misp

import "github.com/ctibroker/ctibroker/stix"

// CapTLP removes what Export marked above limit (an event by its tlp tags,
// an attribute by its own): events whose level is above it, and attributes
// (also inside MISP objects) whose tag is; an event or object left without
// content goes too. It returns the events kept and how many events and
// attributes were removed. A consumer's objects are cut by their markings
// (stix.MarkedTLP) before Export; this catches the levels Export derives (an
// SCO's from its provenance, content taking its report's), for the MISP feed
// and for pushes to MISP.
func CapTLP(events []Event, limit stix.TLP) ([]Event, int) {
	removed := 0
	above := func(tags []Tag) bool {
		for _, t := range tags {
			if l, ok := stix.TLPFromTag(t.Name); ok && l > limit {
				return true
			}
		}
		return false
	}
	keepAttrs := func(attrs []Attribute) []Attribute {
		out := attrs[:0]
		for _, a := range attrs {
			if above(a.Tag) {
				removed++
				continue
			}
			out = append(out, a)
		}
		return out
	}
	out := events[:0]
	for _, ev := range events {
		if above(ev.Tag) {
			removed++
			continue
		}
		had := len(ev.Attribute) + len(ev.Object)
		ev.Attribute = keepAttrs(ev.Attribute)
		objs := ev.Object[:0]
		for _, o := range ev.Object {
			n := len(o.Attribute)
			if o.Attribute = keepAttrs(o.Attribute); len(o.Attribute) > 0 || n == 0 {
				objs = append(objs, o)
			}
		}
		ev.Object = objs
		if had > 0 && len(ev.Attribute)+len(ev.Object) == 0 && len(ev.EventReport) == 0 {
			removed++
			continue
		}
		out = append(out, ev)
	}
	return out, removed
}
