package curation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// volatile are the top-level properties left out of the content comparison;
// the risk-score extension is compared by its band only (scoring's doc:
// everything in it but band and confidence is volatile; confidence follows
// the band and is a top-level property).
var volatile = []string{"modified", "extensions"}

// shallow decodes an object's top-level properties.
func shallow(b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	err := json.Unmarshal(b, &m)
	return m, err
}

// bandOf reads the band of the risk-score extension in an object's extensions.
func bandOf(ext json.RawMessage) string {
	var e map[string]struct {
		Band string `json:"band"`
	}
	if json.Unmarshal(ext, &e) != nil {
		return ""
	}
	return e[scoring.ExtensionID].Band
}

func sameContent(a, b map[string]json.RawMessage, skip ...string) bool {
	n := 0
	for k, va := range a {
		if isIn(k, volatile) || isIn(k, skip) {
			continue
		}
		n++
		vb, ok := b[k]
		if !ok || !bytes.Equal(va, vb) {
			return false
		}
	}
	for k := range b {
		if !isIn(k, volatile) && !isIn(k, skip) {
			n--
		}
	}
	return n == 0
}

func isIn(k string, v []string) bool {
	for _, s := range v {
		if s == k {
			return true
		}
	}
	return false
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// publish builds it's scored version from its pool version and reports
// whether it differs in content or band from prev, the last published version
// (nil when none). A value never published that is withdrawn needs no version.
func (ru *run) publish(it *item, prev *storage.Record) (stix.RawObject, bool, error) {
	m, err := shallow(it.rec.JSON)
	if err != nil {
		return stix.RawObject{}, false, err
	}
	var pm map[string]json.RawMessage
	prevWithdrawn := false
	if prev != nil {
		if pm, err = shallow(prev.JSON); err != nil {
			return stix.RawObject{}, false, fmt.Errorf("published version: %w", err)
		}
		var pu struct {
			ValidUntil *stix.Timestamp `json:"valid_until"`
			Revoked    bool            `json:"revoked"`
		}
		_ = json.Unmarshal(prev.JSON, &pu)
		prevWithdrawn = pu.Revoked || pu.ValidUntil != nil && !pu.ValidUntil.After(ru.asOf)
	} else if it.withdrawn {
		return stix.RawObject{}, false, nil
	}
	m["confidence"] = json.RawMessage(strconv.Itoa(it.res.Confidence))
	if ref := it.meta.TLP.MarkingRef(); ref != "" {
		var refs []string
		if raw, ok := m["object_marking_refs"]; ok {
			_ = json.Unmarshal(raw, &refs)
		}
		keep := refs[:0]
		for _, r := range refs {
			if _, tlp := stix.TLPFromMarkingRef(r); !tlp {
				keep = append(keep, r)
			}
		}
		m["object_marking_refs"] = mustJSON(append(keep, ref))
	}
	if it.withdrawn && m["valid_until"] == nil && !it.ind.Revoked {
		switch {
		case prevWithdrawn && pm["valid_until"] != nil:
			m["valid_until"] = pm["valid_until"] // keep the first withdrawal
		default:
			u := ru.asOf
			if !u.After(it.ind.ValidFrom.Time) {
				u = it.ind.ValidFrom.Add(time.Millisecond)
			}
			m["valid_until"] = mustJSON(stix.NewTimestamp(u))
		}
	}
	if prev != nil {
		skip := []string(nil)
		if it.withdrawn && prevWithdrawn {
			skip = []string{"confidence"} // a withdrawn value is not re-versioned as it decays further
		}
		if sameContent(m, pm, skip...) && (skip != nil || bandOf(pm["extensions"]) == it.res.Band) {
			return stix.RawObject{}, false, nil
		}
	}
	ext, err := json.Marshal(redact(it.res).Extension())
	if err != nil {
		return stix.RawObject{}, false, err
	}
	exts := map[string]json.RawMessage{}
	if raw, ok := m["extensions"]; ok {
		_ = json.Unmarshal(raw, &exts)
	}
	exts[scoring.ExtensionID] = ext
	m["extensions"] = mustJSON(exts)
	var c struct {
		Created  stix.Timestamp `json:"created"`
		Modified stix.Timestamp `json:"modified"`
	}
	_ = json.Unmarshal(it.rec.JSON, &c)
	mod := ru.asOf
	for _, t := range []time.Time{c.Modified.Time, c.Created.Time} {
		if t.After(mod) {
			mod = t
		}
	}
	if prev != nil && !mod.After(prev.Version) {
		mod = prev.Version.Add(time.Millisecond)
	}
	mts := stix.NewTimestamp(mod)
	m["modified"] = mustJSON(mts)
	b, err := json.Marshal(m)
	if err != nil {
		return stix.RawObject{}, false, err
	}
	return stix.RawObject{Common: stix.Common{Type: "indicator", SpecVersion: "2.1", ID: it.rec.ID,
		Created: &c.Created, Modified: &mts}, JSON: b}, true, nil
}

// redact removes from a result what must not leave the instance: the
// internal sightings' count and times and the names of the consumers that
// reported false positives. The score and its factors' points stay.
func redact(r scoring.Result) scoring.Result {
	r.Factors = append([]scoring.Factor(nil), r.Factors...)
	for i := range r.Factors {
		f := &r.Factors[i]
		switch {
		case f.Name == scoring.FactorSightings && r.Sightings.Count > 0:
			f.Explanation = "internal sightings (not shared)"
		case f.Name == scoring.FactorFalsePositives && len(r.FalsePositives) > 0:
			f.Explanation = "false-positive reports by consumers"
		}
	}
	if r.Sightings.Count > 0 {
		r.Sightings = scoring.SightingsSummary{}
		r.FirstSeen, r.LastSeen = stix.Timestamp{}, stix.Timestamp{}
		for _, s := range r.Sources {
			if !s.FirstSeen.IsZero() && (r.FirstSeen.IsZero() || s.FirstSeen.Before(r.FirstSeen.Time)) {
				r.FirstSeen = s.FirstSeen
			}
			for _, t := range []stix.Timestamp{s.FirstSeen, s.LastSeen} {
				if t.After(r.LastSeen.Time) {
					r.LastSeen = t
				}
			}
		}
	}
	if n := len(r.FalsePositives); n > 0 {
		total := 0
		for _, fp := range r.FalsePositives {
			total += max(fp.Count, 1)
		}
		r.FalsePositives = []scoring.FalsePositive{{From: "consumers", Count: total}}
	}
	return r
}

// relRef is an indicates (or other non based-on) relationship in the pool.
type relRef struct {
	id      string
	version time.Time
	target  string
}

// loadRelationships indexes the pool's relationships by source, leaving out
// based-on relationships (their target is the value's own SCO).
func loadRelationships(ctx context.Context, store Store, pool string) (map[string][]relRef, error) {
	out := map[string][]relRef{}
	f := storage.Filter{Types: []string{"relationship"}, Limit: 1000}
	for {
		page, err := store.QueryObjects(ctx, pool, f)
		if err != nil {
			return nil, fmt.Errorf("read relationships of %q: %w", pool, err)
		}
		for _, r := range page.Records {
			if bytes.Contains(r.JSON, []byte(`"relationship_type":"based-on"`)) {
				continue
			}
			var rel struct {
				Source string `json:"source_ref"`
				Target string `json:"target_ref"`
				Type   string `json:"relationship_type"`
			}
			if json.Unmarshal(r.JSON, &rel) != nil || rel.Type == "based-on" {
				continue
			}
			out[rel.Source] = append(out[rel.Source], relRef{id: r.ID, version: r.Version, target: rel.Target})
		}
		if !page.More || page.Next == "" {
			return out, nil
		}
		f.Next = page.Next
	}
}

// contextObj is a pool object brought along with the indicators that refer to
// it.
type contextObj struct {
	found   bool
	version time.Time
	refs    []string // its created_by_ref and object_marking_refs
}

// resolve makes sure ru.context holds every id in ids (and, one level down,
// what they refer to).
func (ru *run) resolve(ctx context.Context, ids []string) error {
	for depth := 0; depth < 2 && len(ids) > 0; depth++ {
		var missing []string
		for _, id := range ids {
			if _, ok := ru.context[id]; !ok {
				missing = append(missing, id)
				ru.context[id] = &contextObj{}
			}
		}
		if len(missing) == 0 {
			return nil
		}
		got, err := lastVersions(ctx, ru.store, ru.pool(), missing)
		if err != nil {
			return err
		}
		ids = ids[:0:0]
		for id, r := range got {
			var c struct {
				CreatedByRef string   `json:"created_by_ref"`
				Markings     []string `json:"object_marking_refs"`
			}
			_ = json.Unmarshal(r.JSON, &c)
			o := ru.context[id]
			o.found, o.version = true, r.Version
			if c.CreatedByRef != "" {
				o.refs = append(o.refs, c.CreatedByRef)
			}
			o.refs = append(o.refs, c.Markings...)
			ids = append(ids, o.refs...)
		}
	}
	return nil
}
