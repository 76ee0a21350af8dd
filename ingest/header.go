package ingest

import (
	"sort"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

// ProviderHeader describes the objects every conversion of a provider carries
// once (a converter's first Flush): the provider's identity, the marking
// definition of the feed's TLP and, when ctibroker's instance identity is
// known, the extension-definition of the provider's native fields. The
// provider packages (maltiverse, virustotal, recordedfuture) each declare one.
type ProviderHeader struct {
	IdentityID           string         // the provider identity's id
	Name, Description    string         // the provider identity's
	ExtensionID          string         // the extension-definition's id
	ExtensionName        string         // its name
	ExtensionDescription string         // its description
	ExtensionSchema      string         // its schema URL
	Created              stix.Timestamp // created and modified of the identity and extension-definition
}

// Objects returns the header objects: the identity (created_by_ref identity),
// tlp's marking definition (left out for stix.TLPNone), and with identity set
// the extension-definition (version 1.0.0, a property-extension).
func (h *ProviderHeader) Objects(identity string, tlp stix.TLP) []stix.Object {
	ct, mt := h.Created, h.Created
	out := []stix.Object{&stix.Identity{Common: stix.Common{Type: "identity", SpecVersion: stix.SpecVersion, ID: h.IdentityID,
		CreatedByRef: identity, Created: &ct, Modified: &mt}, Name: h.Name, IdentityClass: "organization",
		Description: h.Description}}
	if m := tlp.MarkingDefinition(); m != nil {
		out = append(out, m)
	}
	if identity != "" {
		ct2, mt2 := h.Created, h.Created
		out = append(out, &stix.ExtensionDefinition{
			Common: stix.Common{Type: "extension-definition", SpecVersion: stix.SpecVersion, ID: h.ExtensionID,
				CreatedByRef: identity, Created: &ct2, Modified: &mt2},
			Name:           h.ExtensionName,
			Description:    h.ExtensionDescription,
			Schema:         h.ExtensionSchema,
			Version:        "1.0.0",
			ExtensionTypes: []string{"property-extension"},
		})
	}
	return out
}

// FlushObjects is the object part of a provider converter's Flush: header
// (nil after the first Flush) followed by objs, sorted by id, where every
// object that is not an SCO and has no created gets created and modified set
// to stamp.
func FlushObjects(header []stix.Object, objs map[string]stix.Object, stamp time.Time) []stix.Object {
	ts := stix.NewTimestamp(stamp)
	out := make([]stix.Object, 0, len(objs)+len(header))
	out = append(out, header...)
	for _, o := range objs {
		b := o.Base()
		if _, sco := stix.ContributingProperties(b.Type); !sco && b.Created == nil {
			t1, t2 := ts, ts
			b.Created, b.Modified = &t1, &t2
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Base().ID < out[j].Base().ID })
	return out
}

// FlushStamp is the time a converter's Flush stamps on the objects it made:
// now() when the converter has a clock, else the latest time its input gave,
// else fallback (the provider's definition time), so that output is
// deterministic.
func FlushStamp(now func() time.Time, latest, fallback time.Time) time.Time {
	stamp := latest
	if now != nil {
		stamp = now().UTC()
	}
	if stamp.IsZero() {
		stamp = fallback
	}
	return stamp
}
