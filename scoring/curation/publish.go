package curation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// isVolatile reports whether a top-level property is left out of the
// content comparison: modified, and the extensions, whose risk-score
// extension is compared by its band only (scoring's doc: everything in it but
// band and confidence is volatile; confidence follows the band and is a
// top-level property).
func isVolatile(k string) bool { return k == "modified" || k == "extensions" }

// bandOf reads the band of the risk-score extension in an object's
// extensions. Inside JSON strings every quote is escaped, so the first
// `"band":"` after the extension's key is its band property (the scored
// versions put band before the factors; a nested "band" elsewhere would come
// later).
func bandOf(ext []byte) string {
	i := bytes.Index(ext, extKey)
	if i < 0 {
		return ""
	}
	j := bytes.Index(ext[i:], bandKey)
	if j < 0 {
		return ""
	}
	v := ext[i+j+len(bandKey)-1:]
	end, ok := skipString(v, 0)
	if !ok {
		return ""
	}
	return str(v[:end])
}

var (
	extKey  = []byte(`"` + scoring.ExtensionID + `":`)
	bandKey = []byte(`"band":"`)
)

// sameContent reports whether a and b hold the same non-volatile properties
// with the same bytes, leaving out skip too.
func sameContent(a, b []field, skip string) bool {
	n := 0
	for _, f := range a {
		if isVolatile(f.key) || f.key == skip {
			continue
		}
		n++
		v := get(b, f.key)
		if v == nil || !bytes.Equal(v, f.val) {
			return false
		}
	}
	for _, f := range b {
		if !isVolatile(f.key) && f.key != skip {
			n--
		}
	}
	return n == 0
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func setField(fs []field, key string, val []byte) []field {
	for i := range fs {
		if fs[i].key == key {
			fs[i].val = val
			return fs
		}
	}
	return append(fs, field{key: key, val: val})
}

// publish builds it's scored version from its pool version and reports
// whether it differs in content or band from prev, the last published version
// (nil when none). A value never published that is withdrawn needs no version.
func (ru *run) publish(it *item, prev *storage.Record) (stix.RawObject, bool, error) {
	var pf []field
	prevWithdrawn := false
	if prev != nil {
		var err error
		if pf, err = split(prev.JSON, ru.prevBuf[:0]); err != nil {
			return stix.RawObject{}, false, fmt.Errorf("published version: %w", err)
		}
		ru.prevBuf = pf
		u, _ := parseTime(get(pf, "valid_until"))
		prevWithdrawn = string(get(pf, "revoked")) == "true" || !u.IsZero() && !u.After(ru.asOf)
	} else if it.withdrawn {
		return stix.RawObject{}, false, nil
	}
	if it.sco && it.withdrawn {
		// An SCO cannot say it is withdrawn (no valid_until, no revoked): its
		// published version stays as it is and it leaves the collections.
		return stix.RawObject{}, false, nil
	}
	m := append(ru.candBuf[:0], it.fields...)
	ru.candBuf = m
	if !it.sco {
		m = setField(m, "confidence", strconv.AppendInt(nil, int64(it.res.Confidence), 10))
	}
	if ref := it.meta.TLP.MarkingRef(); ref != "" {
		if raw := get(m, "object_marking_refs"); raw != nil {
			var refs []string
			_ = json.Unmarshal(raw, &refs)
			keep := refs[:0]
			for _, r := range refs {
				if _, tlp := stix.TLPFromMarkingRef(r); !tlp {
					keep = append(keep, r)
				}
			}
			m = setField(m, "object_marking_refs", mustJSON(append(keep, ref)))
		} else {
			m = setField(m, "object_marking_refs", tlpRefs[it.meta.TLP])
		}
	}
	if it.withdrawn && get(m, "valid_until") == nil && !it.ind.Revoked {
		if pv := get(pf, "valid_until"); prevWithdrawn && pv != nil {
			m = setField(m, "valid_until", pv) // keep the first withdrawal
		} else {
			u := ru.asOf
			if !u.After(it.ind.ValidFrom) {
				u = it.ind.ValidFrom.Add(time.Millisecond)
			}
			m = setField(m, "valid_until", mustJSON(stix.NewTimestamp(u)))
		}
	}
	if prev != nil {
		skip := ""
		if it.withdrawn && prevWithdrawn {
			skip = "confidence" // a withdrawn value is not re-versioned as it decays further
		}
		if sameContent(m, pf, skip) && (skip != "" || bandOf(get(pf, "extensions")) == it.res.Band) {
			return stix.RawObject{}, false, nil
		}
	}
	res := redact(it.res)
	if it.withdrawn {
		res = withdrawnResult(res)
	}
	ext, err := json.Marshal(res.Extension())
	if err != nil {
		return stix.RawObject{}, false, err
	}
	exts := map[string]json.RawMessage{}
	if raw := get(m, "extensions"); raw != nil {
		_ = json.Unmarshal(raw, &exts)
	}
	exts[scoring.ExtensionID] = ext
	m = setField(m, "extensions", mustJSON(exts))
	if it.sco {
		b := appendObject(make([]byte, 0, 2048), m)
		return stix.RawObject{Common: stix.Common{Type: it.rec.Type, SpecVersion: "2.1", ID: it.rec.ID}, JSON: b}, true, nil
	}
	created, _ := parseTime(get(m, "created"))
	poolMod, _ := parseTime(get(m, "modified"))
	mod := ru.asOf
	for _, t := range []time.Time{poolMod, created} {
		if t.After(mod) {
			mod = t
		}
	}
	if prev != nil && !mod.After(prev.Version) {
		mod = prev.Version.Add(time.Millisecond)
	}
	mts := stix.NewTimestamp(mod)
	m = setField(m, "modified", mustJSON(mts))
	b := appendObject(make([]byte, 0, 2048), m)
	cts := stix.NewTimestamp(created)
	return stix.RawObject{Common: stix.Common{Type: "indicator", SpecVersion: "2.1", ID: it.rec.ID,
		Created: &cts, Modified: &mts}, JSON: b}, true, nil
}

// tlpRefs are the object_marking_refs values of each TLP level alone.
var tlpRefs = func() map[stix.TLP][]byte {
	m := map[stix.TLP][]byte{}
	for l := stix.TLPClear; l <= stix.TLPRed; l++ {
		m[l] = mustJSON([]string{l.MarkingRef()})
	}
	return m
}()

// appendObject appends the JSON object of fs.
func appendObject(b []byte, fs []field) []byte {
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.key...)
		b = append(b, '"', ':')
		b = append(b, f.val...)
	}
	return append(b, '}')
}

// parseTime reads a raw JSON timestamp string; zero when absent or malformed.
func parseTime(v []byte) (time.Time, error) {
	if v == nil {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, str(v))
}

// redact removes from a result what must not leave the instance: the
// relevance (its reasons reveal the organisation profile), the internal
// sightings' count and times and the names of the consumers that
// reported false positives. The score and its factors' points stay.
func redact(r scoring.Result) scoring.Result {
	r.Relevance = nil // the organisation profile stays inside the instance
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

// withdrawnResult strips a result of its sources and the explanations that
// name them. A withdrawing version enters every collection that ever held the
// value, including those whose consumers may not receive some of its sources
// (a partner tier held the value while only open feeds reported it), so it
// keeps the final score and band and names no feed.
func withdrawnResult(r scoring.Result) scoring.Result {
	r.Sources = []scoring.Source{}
	r.Factors = append([]scoring.Factor(nil), r.Factors...)
	for i := range r.Factors {
		r.Factors[i].Explanation = "withdrawn: details not shared"
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
	attack  []string // its ATT&CK external id and tactics (kill chain phase names)
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
				ExternalRefs []struct {
					Source     string `json:"source_name"`
					ExternalID string `json:"external_id"`
				} `json:"external_references"`
				Phases []struct {
					Chain string `json:"kill_chain_name"`
					Phase string `json:"phase_name"`
				} `json:"kill_chain_phases"`
			}
			_ = json.Unmarshal(r.JSON, &c)
			o := ru.context[id]
			o.found, o.version = true, r.Version
			for _, x := range c.ExternalRefs {
				if strings.HasPrefix(x.Source, "mitre-") && x.ExternalID != "" {
					o.attack = append(o.attack, x.ExternalID)
				}
			}
			for _, p := range c.Phases {
				if strings.HasPrefix(p.Chain, "mitre-") {
					o.attack = append(o.attack, p.Phase)
				}
			}
			if c.CreatedByRef != "" {
				o.refs = append(o.refs, c.CreatedByRef)
			}
			o.refs = append(o.refs, c.Markings...)
			ids = append(ids, o.refs...)
		}
	}
	return nil
}
