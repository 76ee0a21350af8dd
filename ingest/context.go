package ingest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// indicatesTargets are the object types an indicator may indicate (STIX 2.1
// §4.7 relationships); ATT&CK ids naming anything else (tactics, mitigations)
// are reported as warnings.
var indicatesTargets = map[string]bool{"attack-pattern": true, "campaign": true, "infrastructure": true,
	"intrusion-set": true, "malware": true, "threat-actor": true, "tool": true}

// mergeContext adds c's lists to dst, without duplicates.
func mergeContext(dst *Context, c *Context) {
	add := func(d *[]string, s []string) {
		for _, v := range s {
			if v = strings.TrimSpace(v); v != "" && !slices.Contains(*d, v) {
				*d = append(*d, v)
			}
		}
	}
	add(&dst.Malware, c.Malware)
	add(&dst.Actors, c.Actors)
	add(&dst.AttackIDs, c.AttackIDs)
	add(&dst.CVEs, c.CVEs)
	add(&dst.Sectors, c.Sectors)
	add(&dst.Labels, c.Labels)
	add(&dst.ReportRefs, c.ReportRefs)
}

// contextTarget is an object an authored indicator indicates.
type contextTarget struct {
	id  string
	typ string      // its STIX type
	obj stix.Object // the SDO ctibroker authors for it; nil for ATT&CK objects (MITRE's own)
}

// resolveContext maps one value's context to the objects its indicator
// indicates: ATT&CK ids to MITRE's objects (through FeedConfig.Attack), malware
// families and actors to the ATT&CK object of that name or alias when there is
// one, else to an SDO ctibroker authors with ContextID. Ids that resolve to no
// indicatable object become warnings, once per run. Results are cached per run.
func (ru *run) resolveContext(c *Context, value string) []contextTarget {
	if ru.targets == nil {
		ru.targets = map[string]*contextTarget{}
	}
	var out []contextTarget
	ix := ru.cfg.Attack
	for _, id := range c.AttackIDs {
		key := "attack|" + id
		t, ok := ru.targets[key]
		if !ok {
			t = ru.resolveAttackID(ix, id, value)
			ru.targets[key] = t
		}
		if t != nil {
			out = append(out, *t)
		}
	}
	named := func(names []string, typ string, attackTypes []string, build func(name string, common stix.Common) stix.Object) {
		for _, name := range names {
			key := typ + "|" + name
			t, ok := ru.targets[key]
			if !ok {
				t = ru.resolveName(ix, name, typ, attackTypes, build)
				ru.targets[key] = t
			}
			if t != nil {
				out = append(out, *t)
			}
		}
	}
	named(c.Malware, "malware", []string{"malware", "tool"}, func(name string, common stix.Common) stix.Object {
		return &stix.Malware{Common: common, Name: name, IsFamily: true}
	})
	named(c.Actors, "intrusion-set", []string{"intrusion-set"}, func(name string, common stix.Common) stix.Object {
		return &stix.IntrusionSet{Common: common, Name: name}
	})
	return out
}

func (ru *run) resolveAttackID(ix *attack.Index, id, value string) *contextTarget {
	if ix == nil {
		if !ru.noIndexWarned {
			ru.noIndexWarned = true
			ru.warn(Warning{Record: value, Field: "context.attack_ids", Msg: "ATT&CK ids ignored: the feed has no ATT&CK index"})
		}
		return nil
	}
	ref, ok := ix.Resolve(id)
	switch {
	case !ok:
		ru.warn(Warning{Record: value, Field: "context.attack_ids", Msg: fmt.Sprintf("unknown ATT&CK id %q", id)})
		return nil
	case !indicatesTargets[ref.Type]:
		ru.warn(Warning{Record: value, Field: "context.attack_ids", Msg: fmt.Sprintf("ATT&CK id %q is a %s, which an indicator cannot indicate", id, ref.Type)})
		return nil
	}
	return &contextTarget{id: ref.ID, typ: ref.Type}
}

func (ru *run) resolveName(ix *attack.Index, name, typ string, attackTypes []string, build func(string, stix.Common) stix.Object) *contextTarget {
	if ix != nil {
		if ref, ok := ix.ResolveName(name, attackTypes...); ok {
			return &contextTarget{id: ref.ID, typ: ref.Type}
		}
	}
	if attack.NormalizeName(name) == "" {
		return nil
	}
	id := ContextID(typ, name)
	return &contextTarget{id: id, typ: typ, obj: build(strings.TrimSpace(name), stix.Common{Type: typ, SpecVersion: "2.1", ID: id, CreatedByRef: ru.Identity})}
}

// contextRel is a relationship to author: indicates (from an indicator) or
// targets (from a threat to a vulnerability or sector).
type contextRel struct {
	id, typ, source, target string
	marking                 stix.TLP
}

// threatTypes are the context types that target vulnerabilities and sectors.
var threatTypes = map[string]bool{"malware": true, "intrusion-set": true, "threat-actor": true, "campaign": true}

// victims returns the vulnerabilities and sectors of one value's context as
// the SDOs ctibroker authors for them: a vulnerability per CVE (id
// ContextID("vulnerability", cve), name the CVE id, a "cve" external
// reference) and an identity per targeted sector (id SectorID, identity_class
// "class", sectors [SectorVocab(name)]). Malformed CVE ids become warnings.
func (ru *run) victims(c *Context, value string) []contextTarget {
	var out []contextTarget
	for _, raw := range c.CVEs {
		key := "cve|" + raw
		t, ok := ru.targets[key]
		if !ok {
			if cve, err := NormalizeCVE(raw); err != nil {
				ru.warn(Warning{Record: value, Field: "context.cves", Msg: err.Error()})
			} else {
				id := ContextID("vulnerability", cve)
				t = &contextTarget{id: id, typ: "vulnerability", obj: &stix.Vulnerability{
					Common: stix.Common{Type: "vulnerability", SpecVersion: "2.1", ID: id, CreatedByRef: ru.Identity,
						ExternalReferences: []stix.ExternalReference{{SourceName: "cve", ExternalID: cve}}},
					Name: cve}}
			}
			ru.targets[key] = t
		}
		if t != nil {
			out = append(out, *t)
		}
	}
	for _, name := range c.Sectors {
		key := "sector|" + name
		t, ok := ru.targets[key]
		if !ok {
			if v := SectorVocab(name); v != "" {
				id := SectorID(name)
				t = &contextTarget{id: id, typ: "identity", obj: &stix.Identity{
					Common: stix.Common{Type: "identity", SpecVersion: "2.1", ID: id, CreatedByRef: ru.Identity},
					Name:   v, IdentityClass: "class", Sectors: []string{v}}}
			}
			ru.targets[key] = t
		}
		if t != nil {
			out = append(out, *t)
		}
	}
	return out
}

// contextObjects returns, for the values whose indicator is authored, the context
// SDOs ctibroker authors and the relationships: indicates from the indicator to
// its malware, intrusion sets and ATT&CK objects; targets from those of them
// that are threats (malware, intrusion-set, threat-actor, campaign) to the
// vulnerabilities and sectors of the same context. No duplicates; ids are
// deterministic. The relationships carry the indicator's marking.
func (ru *run) contextObjects(ws []*authoredValue) (sdos []stix.Object, rels []contextRel) {
	seen := map[string]bool{}
	for _, w := range ws {
		if !w.detect || w.revoked || w.context == nil {
			continue
		}
		targets := ru.resolveContext(w.context, w.v.Value)
		for _, t := range targets {
			if t.obj != nil && !seen[t.id] {
				seen[t.id] = true
				sdos = append(sdos, t.obj)
			}
			rid := relationshipID("indicates", w.indID, t.id)
			if !seen[rid] {
				seen[rid] = true
				rels = append(rels, contextRel{rid, "indicates", w.indID, t.id, w.tlp})
			}
		}
		if len(w.context.CVEs)+len(w.context.Sectors) == 0 {
			continue
		}
		for _, v := range ru.victims(w.context, w.v.Value) {
			if !seen[v.id] {
				seen[v.id] = true
				sdos = append(sdos, v.obj)
			}
			for _, t := range targets {
				if !threatTypes[t.typ] {
					continue
				}
				rid := relationshipID("targets", t.id, v.id)
				if !seen[rid] {
					seen[rid] = true
					rels = append(rels, contextRel{rid, "targets", t.id, v.id, w.tlp})
				}
			}
		}
	}
	return sdos, rels
}

// newContextObjects serialises the context objects not stored yet (last holds
// the stored ones). An SDO or relationship already stored is left as it is: a
// feed spelling "emotet" where another wrote "Emotet" does not version the
// malware object.
func (ru *run) newContextObjects(sdos []stix.Object, rels []contextRel, last map[string]storage.Record, ts stix.Timestamp) ([]stix.RawObject, error) {
	var write []stix.RawObject
	for _, o := range sdos {
		c := o.Base()
		if _, ok := last[c.ID]; ok {
			ru.stats.Unchanged++
			continue
		}
		created, modified := ts, ts
		cc := *c
		cc.Created, cc.Modified = &created, &modified
		*c = cc
		b, err := json.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", c.ID, err)
		}
		write = append(write, stix.RawObject{Common: cc, JSON: b})
		ru.stats.New++
	}
	for _, r := range rels {
		if _, ok := last[r.id]; ok {
			ru.stats.Unchanged++
			continue
		}
		raw, err := newRelationship(r.typ, r.source, r.target, ru.Identity, ts, r.marking)
		if err != nil {
			return nil, err
		}
		write = append(write, raw)
		ru.stats.New++
	}
	return write, nil
}
