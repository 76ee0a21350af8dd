package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// listFields are the fields of a JSON list entry, for messages.
const listFields = "type, value, count, first_seen, last_seen, verdict, note"

// listItem is one entry of a JSON list body.
type listItem struct {
	Type      string  `json:"type"`
	Value     *string `json:"value"`
	Count     *int    `json:"count"`
	FirstSeen *string `json:"first_seen"`
	LastSeen  *string `json:"last_seen"`
	Verdict   string  `json:"verdict"`
	Note      string  `json:"note"`
}

// badItem is the 400 of a list entry that is malformed as JSON (not an
// object, a field of the wrong type, an unknown field): a client bug, so the
// whole body is refused and nothing stored.
func badItem(index int, field, format string, args ...any) error {
	path := fmt.Sprintf("[%d]", index)
	if field != "" {
		path += "." + field
	}
	details := map[string]any{"index": index}
	if field != "" {
		details["field"] = field
	}
	return &Error{Title: "Bad Request", HTTPStatus: "400", ErrorCode: "invalid_sighting",
		Description: path + ": " + fmt.Sprintf(format, args...) + "; nothing was stored", Details: details}
}

// tooManyItems is the 413 of a body with more than max items.
func tooManyItems(n, max int) error {
	return fmt.Errorf("%d items > max_sightings %d; split the body: %w", n, max, ErrTooLarge)
}

// decodeSightingList decodes a JSON list body into reports; refused entries
// go to ans.
func decodeSightingList(body []byte, consumer string, now time.Time, max int, ans *sightingsAnswer) ([]report, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("body: invalid JSON at byte %d: %v: %w", se.Offset, err, ErrUnprocessable)
		}
		return nil, fmt.Errorf("body: %v: %w", err, ErrUnprocessable)
	}
	if len(items) > max {
		return nil, tooManyItems(len(items), max)
	}
	ans.Items = len(items)
	var reps []report
	for i, raw := range items {
		t := bytes.TrimSpace(raw)
		if len(t) == 0 || t[0] != '{' {
			return nil, badItem(i, "", "want an object {\"value\":...}, got %s", jsonKind(t))
		}
		var it listItem
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&it); err != nil {
			return nil, listDecodeError(i, err)
		}
		rp, ref := it.report(i, consumer, now)
		if ref != nil {
			ans.Refused = append(ans.Refused, *ref)
			continue
		}
		reps = append(reps, rp)
	}
	return reps, nil
}

// listDecodeError names the entry and field of a decoding error.
func listDecodeError(i int, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := "a string"
		if te.Type != nil && strings.Contains(te.Type.String(), "int") {
			want = "a whole number"
		}
		return badItem(i, te.Field, "want %s, got %s", want, te.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badItem(i, strings.Trim(name, `"`), "unknown field; the fields are %s", listFields)
	}
	return badItem(i, "", "%v", err)
}

// jsonKind names the JSON kind of a value starting t.
func jsonKind(t []byte) string {
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// report checks one list entry and returns its report, or why it is refused.
func (it *listItem) report(i int, consumer string, now time.Time) (report, *refusedItem) {
	refuse := func(field, format string, a ...any) (report, *refusedItem) {
		return report{}, &refusedItem{Index: i, Field: field, Message: fmt.Sprintf(format, a...)}
	}
	if it.Value == nil || strings.TrimSpace(*it.Value) == "" {
		return refuse("value", "required")
	}
	v, field, err := normalizeReport(it.Type, *it.Value)
	if err != nil {
		return refuse(field, "%v", err)
	}
	rp := report{index: i, v: v, count: 1}
	switch strings.ToLower(strings.TrimSpace(it.Verdict)) {
	case "", VerdictSighting:
	case VerdictFalsePositive:
		rp.fp = true
	default:
		return refuse("verdict", "%q: want %q (the default) or %q", it.Verdict, VerdictSighting, VerdictFalsePositive)
	}
	if it.Count != nil {
		if c := *it.Count; c < 1 || c > maxSightingCount {
			return refuse("count", "%d: want 1 to %d", c, maxSightingCount)
		}
		rp.count = *it.Count
	}
	var first, last *time.Time
	for _, f := range []struct {
		name string
		in   *string
		out  **time.Time
	}{{"first_seen", it.FirstSeen, &first}, {"last_seen", it.LastSeen, &last}} {
		if f.in == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(*f.in))
		if err != nil {
			return refuse(f.name, "%q is not an RFC 3339 time such as 2026-03-01T10:00:00Z", *f.in)
		}
		*f.out = &t
	}
	if field, msg := seenTimes(&rp, first, last, now, now, now); msg != "" {
		return refuse(field, "%s", msg)
	}
	note := ingest.CleanText(it.Note)
	if n := utf8.RuneCountInString(note); n > MaxSightingNote {
		return refuse("note", "%d characters; at most %d", n, MaxSightingNote)
	}
	rp.note = note
	if rp.fp {
		rp.count, rp.id = 1, falsePositiveID(consumer, v)
		return rp, nil
	}
	key := now.UTC().Format(time.DateOnly)
	switch {
	case first != nil:
		key = first.UTC().Format(time.RFC3339Nano)
	case last != nil:
		key = last.UTC().Format(time.RFC3339Nano)
	}
	rp.id = reportID(consumer, v.Kind(), v.Value, VerdictSighting, key)
	return rp, nil
}

// seenTimes sets rp's first and last seen from the reported times (nil when
// absent): each defaults to the other, then to defFirst and defLast. It
// returns the field and reason when a reported time is in the future (beyond
// the clock skew) or last precedes first.
func seenTimes(rp *report, first, last *time.Time, defFirst, defLast, now time.Time) (field, msg string) {
	limit := now.Add(sightingSkew)
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"first_seen", first}, {"last_seen", last}} {
		if f.t != nil && f.t.After(limit) {
			return f.name, fmt.Sprintf("%s is in the future", sightingTime(*f.t))
		}
	}
	if first != nil && last != nil && last.Before(*first) {
		return "last_seen", fmt.Sprintf("%s is before first_seen %s", sightingTime(*last), sightingTime(*first))
	}
	switch {
	case first != nil:
		rp.first = *first
	case last != nil:
		rp.first = *last
	default:
		rp.first = defFirst
	}
	switch {
	case last != nil:
		rp.last = *last
	case first != nil:
		rp.last = *first
	default:
		rp.last = defLast
	}
	rp.first = rp.first.UTC().Truncate(time.Millisecond)
	rp.last = rp.last.UTC().Truncate(time.Millisecond)
	return "", ""
}

// resolver decodes a STIX body and resolves the references of its sightings
// and opinions to values: in the body, then in the store.
type resolver struct {
	store   storage.ObjectReader
	ctx     context.Context
	now     time.Time
	colls   []string                   // search order in the store
	named   []string                   // the configured ones among colls (for messages)
	body    map[string]json.RawMessage // the body's valid objects by id
	refused map[string]string          // the body's refused objects: why
	cache   map[string]json.RawMessage // store lookups; nil: not found
	check   func(raw json.RawMessage) (*stix.RawObject, string, error)
}

// newResolver returns a resolver searching Deps.SightingCollections (or the
// pool and the published collection), then every stored collection cons may
// read.
func (h *sightingsAPI) newResolver(ctx context.Context, cons *auth.Consumer, st *state) *resolver {
	colls := h.sightingColls
	if colls == nil {
		colls = []string{ingest.DefaultPool, curation.DefaultPublished}
	}
	named := colls
	colls = slices.Clone(colls)
	for _, rs := range st.rootOrder {
		for _, col := range rs.colls {
			if col.Kind == storage.KindStored && canRead(cons, col) && !slices.Contains(colls, col.ID) {
				colls = append(colls, col.ID)
			}
		}
	}
	lenient := st.cfg.LenientProfile()
	return &resolver{store: h.Server.store, ctx: ctx, now: h.now().UTC(), colls: colls, named: named,
		body: map[string]json.RawMessage{}, refused: map[string]string{}, cache: map[string]json.RawMessage{},
		check: func(raw json.RawMessage) (*stix.RawObject, string, error) {
			obj, d, err := h.checkObject(raw, lenient, "")
			return obj, d.ID, err
		}}
}

// item is a sighting or opinion of a STIX body.
type item struct {
	index int
	obj   *stix.RawObject
}

// decode decodes an envelope or bundle body into reports; refused objects
// go to ans.
func (r *resolver) decode(body []byte, consumer string, max int, ans *sightingsAnswer) ([]report, error) {
	var items []item
	index := 0
	err := decodeEnvelope(bytes.NewReader(body), func(raw json.RawMessage) {
		i := index
		index++
		obj, id, err := r.check(raw)
		if err != nil {
			ref := refusedItem{Index: i, Message: err.Error()}
			if id != "unknown" {
				ref.SourceID = id
				r.refused[id] = err.Error()
			}
			var head struct {
				Type string `json:"type"`
			}
			_ = json.Unmarshal(raw, &head)
			if head.Type == "sighting" || head.Type == "opinion" {
				ans.Items++
			} else {
				ref.Message = "context object refused: " + ref.Message
			}
			ans.Refused = append(ans.Refused, ref)
			return
		}
		r.body[obj.ID] = obj.JSON // an opinion may be about a sighting of the body
		switch obj.Type {
		case "sighting", "opinion":
			ans.Items++
			items = append(items, item{i, obj})
		default:
			ans.ContextObjects++
		}
	})
	if err != nil {
		return nil, err
	}
	if ans.Items > max {
		return nil, tooManyItems(ans.Items, max)
	}
	var refs []string
	for _, it := range items {
		var d struct {
			Ref  string   `json:"sighting_of_ref"`
			Obs  []string `json:"observed_data_refs"`
			Refs []string `json:"object_refs"`
		}
		_ = json.Unmarshal(it.obj.JSON, &d)
		refs = append(refs, d.Ref)
		refs = append(refs, d.Obs...)
		refs = append(refs, d.Refs...)
	}
	if err := r.prefetch(refs); err != nil {
		return nil, err
	}
	var reps []report
	for _, it := range items {
		var got []report
		var refused []refusedItem
		var err error
		if it.obj.Type == "sighting" {
			got, refused, err = r.sighting(it, consumer)
		} else {
			got, refused, err = r.opinion(it, consumer)
		}
		if err != nil {
			return nil, err
		}
		reps = append(reps, got...)
		ans.Refused = append(ans.Refused, refused...)
	}
	return reps, nil
}

// typeOf returns the type part of a STIX id.
func typeOf(id string) string {
	t, _, _ := strings.Cut(id, "--")
	return t
}

// valueTypes are the SCO types whose values ctibroker tracks.
var valueTypes = map[string]bool{ingest.TypeIPv4: true, ingest.TypeIPv6: true, ingest.TypeDomain: true,
	ingest.TypeURL: true, ingest.TypeEmail: true, ingest.TypeFile: true}

// prefetch looks up the ids neither in the body nor looked up yet, in the
// store collections in order, a chunk at a time.
func (r *resolver) prefetch(ids []string) error {
	var want []string
	for _, id := range ids {
		if id == "" {
			continue
		}
		if _, ok := r.body[id]; ok {
			continue
		}
		if _, ok := r.cache[id]; ok {
			continue
		}
		if !slices.Contains(want, id) {
			want = append(want, id)
		}
	}
	for _, coll := range r.colls {
		if len(want) == 0 {
			break
		}
		const chunk = 256
		var left []string
		for i := 0; i < len(want); i += chunk {
			part := want[i:min(i+chunk, len(want))]
			found := map[string]bool{}
			f := storage.Filter{IDs: part, Limit: len(part)}
			for {
				page, err := r.store.QueryObjects(r.ctx, coll, f)
				if errors.Is(err, storage.ErrNotFound) {
					break
				}
				if err != nil {
					return fmt.Errorf("looking up referenced objects in %s: %w", coll, err)
				}
				for _, rec := range page.Records {
					r.cache[rec.ID] = rec.JSON
					found[rec.ID] = true
				}
				if !page.More || page.Next == "" {
					break
				}
				f.Next = page.Next
			}
			for _, id := range part {
				if !found[id] {
					left = append(left, id)
				}
			}
		}
		want = left
	}
	for _, id := range want {
		r.cache[id] = nil
	}
	return nil
}

// get returns the object id from the body or the store.
func (r *resolver) get(id string) (json.RawMessage, error) {
	if b, ok := r.body[id]; ok {
		return b, nil
	}
	if _, ok := r.cache[id]; !ok {
		if err := r.prefetch([]string{id}); err != nil {
			return nil, err
		}
	}
	return r.cache[id], nil
}

// maxRefDepth bounds reference chains (opinion → sighting → observed-data → SCO).
const maxRefDepth = 4

// values returns the values the object id stands for, and the problems
// met; err is a store failure.
func (r *resolver) values(id string, depth int) ([]ingest.Value, []string, error) {
	if depth > maxRefDepth {
		return nil, []string{id + ": reference chain too deep"}, nil
	}
	typ := typeOf(id)
	raw, err := r.get(id)
	if err != nil {
		return nil, nil, err
	}
	if raw == nil {
		if why, ok := r.refused[id]; ok {
			return nil, []string{fmt.Sprintf("%s was refused: %s", id, why)}, nil
		}
		return nil, []string{fmt.Sprintf("%s not found in the body, in %s or in a collection you may read", id, strings.Join(r.named, ", "))}, nil
	}
	switch {
	case typ == "indicator":
		v, problem := indicatorValue(id, raw)
		if problem != "" {
			return nil, []string{problem}, nil
		}
		return []ingest.Value{v}, nil, nil
	case typ == "observed-data":
		return r.observedValues(id, raw, depth)
	case typ == "sighting":
		vals, problems, _, err := r.sightingValues(id, raw, depth)
		return vals, problems, err
	case valueTypes[typ]:
		vals, problems := scoValues(id, typ, raw)
		return vals, problems, nil
	}
	return nil, []string{fmt.Sprintf("%s is a %s, which names no value (indicators, sightings, observed-data and ipv4-addr, ipv6-addr, domain-name, url, email-addr and file observables do)", id, typ)}, nil
}

// indicatorValue returns the value of an indicator's single-value STIX pattern.
func indicatorValue(id string, raw json.RawMessage) (ingest.Value, string) {
	var d struct {
		Pattern     string `json:"pattern"`
		PatternType string `json:"pattern_type"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return ingest.Value{}, fmt.Sprintf("%s: %v", id, err)
	}
	if d.PatternType != "stix" {
		return ingest.Value{}, fmt.Sprintf("%s: pattern_type %q; only a STIX pattern names a value", id, d.PatternType)
	}
	typ, value, ok := patternValue(d.Pattern)
	if !ok {
		return ingest.Value{}, fmt.Sprintf("%s: pattern %s is not one equality on a value ctibroker tracks ([ipv4-addr:value = '...'], [file:hashes.'SHA-256' = '...'], ...)", id, d.Pattern)
	}
	v, err := ingest.NormalizeReported(typ, value)
	if err != nil {
		return ingest.Value{}, fmt.Sprintf("%s: %v", id, err)
	}
	return v, ""
}

// scoValues returns the value of an SCO, or each hash of a file.
func scoValues(id, typ string, raw json.RawMessage) ([]ingest.Value, []string) {
	if typ != ingest.TypeFile {
		var d struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, []string{fmt.Sprintf("%s: %v", id, err)}
		}
		v, err := ingest.NormalizeReported(typ, d.Value)
		if err != nil {
			return nil, []string{fmt.Sprintf("%s: %v", id, err)}
		}
		return []ingest.Value{v}, nil
	}
	var d struct {
		Hashes map[string]string `json:"hashes"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, []string{fmt.Sprintf("%s: %v", id, err)}
	}
	var vals []ingest.Value
	var problems []string
	algos := make([]string, 0, len(d.Hashes))
	for k := range d.Hashes {
		algos = append(algos, k)
	}
	slices.Sort(algos)
	for _, algo := range algos {
		v, err := ingest.NormalizeReported(strings.ToLower(algo), d.Hashes[algo])
		switch {
		case errors.Is(err, ingest.ErrUnknownType):
			continue // a hash ctibroker does not track (SHA3-256, TLSH, ...)
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: hashes.%s: %v", id, algo, err))
		default:
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 && len(problems) == 0 {
		problems = append(problems, fmt.Sprintf("%s: no MD5, SHA-1, SHA-256, SHA-512 or SSDEEP hash", id))
	}
	return vals, problems
}

// observedValues returns the values of the tracked SCOs an observed-data
// refers to (object_refs) or embeds (the deprecated objects).
func (r *resolver) observedValues(id string, raw json.RawMessage, depth int) ([]ingest.Value, []string, error) {
	var d struct {
		ObjectRefs []string                   `json:"object_refs"`
		Objects    map[string]json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, []string{fmt.Sprintf("%s: %v", id, err)}, nil
	}
	var vals []ingest.Value
	var problems []string
	for _, ref := range d.ObjectRefs {
		if !valueTypes[typeOf(ref)] {
			continue
		}
		v, p, err := r.values(ref, depth+1)
		if err != nil {
			return nil, nil, err
		}
		vals, problems = append(vals, v...), append(problems, p...)
	}
	keys := make([]string, 0, len(d.Objects))
	for k := range d.Objects {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		var head struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(d.Objects[k], &head) != nil || !valueTypes[head.Type] {
			continue
		}
		v, p := scoValues(id+" objects."+k, head.Type, d.Objects[k])
		vals, problems = append(vals, v...), append(problems, p...)
	}
	if len(vals) == 0 && len(problems) == 0 {
		problems = append(problems, fmt.Sprintf("%s refers to no ipv4-addr, ipv6-addr, domain-name, url, email-addr or file", id))
	}
	return vals, problems, nil
}

// sightingValues returns the values a sighting reports: its indicator's,
// else its observed data's. field names where the problems are.
func (r *resolver) sightingValues(id string, raw json.RawMessage, depth int) (vals []ingest.Value, problems []string, field string, err error) {
	var d struct {
		Ref string   `json:"sighting_of_ref"`
		Obs []string `json:"observed_data_refs"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, []string{fmt.Sprintf("%s: %v", id, err)}, "", nil
	}
	if typeOf(d.Ref) == "indicator" {
		vals, problems, err = r.values(d.Ref, depth+1)
		return vals, problems, "sighting_of_ref", err
	}
	if len(d.Obs) == 0 {
		return nil, []string{fmt.Sprintf("sighting_of_ref %s is a %s and there are no observed_data_refs: no value to record", d.Ref, typeOf(d.Ref))}, "sighting_of_ref", nil
	}
	for _, ref := range d.Obs {
		v, p, err := r.values(ref, depth+1)
		if err != nil {
			return nil, nil, "", err
		}
		vals, problems = append(vals, v...), append(problems, p...)
	}
	return vals, problems, "observed_data_refs", nil
}

// uniqueValues drops repeated values, keeping the first.
func uniqueValues(vals []ingest.Value) []ingest.Value {
	out := vals[:0:0]
	for _, v := range vals {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// stixNote is a STIX text property cleaned and cut to MaxSightingNote.
func stixNote(s string) string {
	s = ingest.CleanText(s)
	if utf8.RuneCountInString(s) > MaxSightingNote {
		s = string([]rune(s)[:MaxSightingNote])
	}
	return s
}

// parseSeen parses an optional STIX timestamp property.
func parseSeen(s *string) (*time.Time, bool) {
	if s == nil {
		return nil, true
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return nil, false
	}
	return &t, true
}

// sighting turns a STIX sighting into reports (one per value).
func (r *resolver) sighting(it item, consumer string) ([]report, []refusedItem, error) {
	var d struct {
		Count       *int    `json:"count"`
		FirstSeen   *string `json:"first_seen"`
		LastSeen    *string `json:"last_seen"`
		Description string  `json:"description"`
		Verdict     *string `json:"x_ctibroker_verdict"`
	}
	refuse := func(field, format string, a ...any) ([]report, []refusedItem, error) {
		return nil, []refusedItem{{Index: it.index, SourceID: it.obj.ID, Field: field, Message: fmt.Sprintf(format, a...)}}, nil
	}
	if err := json.Unmarshal(it.obj.JSON, &d); err != nil {
		return refuse("", "%v", err)
	}
	base := report{index: it.index, sourceID: it.obj.ID, count: 1, note: stixNote(d.Description)}
	if d.Verdict != nil {
		switch strings.ToLower(strings.TrimSpace(*d.Verdict)) {
		case VerdictSighting:
		case VerdictFalsePositive:
			base.fp = true
		default:
			return refuse(VerdictProperty, "%q: want %q or %q", *d.Verdict, VerdictSighting, VerdictFalsePositive)
		}
	}
	if d.Count != nil {
		if *d.Count < 1 {
			return refuse("count", "%d: a sighting seen %d times reports nothing", *d.Count, *d.Count)
		}
		base.count = min(*d.Count, maxSightingCount)
	}
	first, ok1 := parseSeen(d.FirstSeen)
	last, ok2 := parseSeen(d.LastSeen)
	if !ok1 {
		return refuse("first_seen", "%q is not a timestamp", *d.FirstSeen)
	}
	if !ok2 {
		return refuse("last_seen", "%q is not a timestamp", *d.LastSeen)
	}
	// Without first_seen and last_seen, the object's own times say when.
	created, modified := r.now, r.now
	if it.obj.Created != nil {
		created, modified = it.obj.Created.Time, it.obj.Created.Time
	}
	if it.obj.Modified != nil {
		modified = it.obj.Modified.Time
	}
	created, modified = earliest(created, r.now), earliest(modified, r.now)
	if field, msg := seenTimes(&base, first, last, created, modified, r.now); msg != "" {
		return refuse(field, "%s", msg)
	}
	vals, problems, field, err := r.sightingValues(it.obj.ID, it.obj.JSON, 0)
	if err != nil {
		return nil, nil, err
	}
	vals = uniqueValues(vals)
	var reps []report
	for _, v := range vals {
		rp := base
		rp.v = v
		switch {
		case rp.fp:
			rp.count, rp.id = 1, falsePositiveID(consumer, v)
		case len(vals) == 1:
			rp.id, rp.versioned = it.obj.ID, true
		default:
			rp.id, rp.versioned = it.obj.ID+"#"+v.Kind()+":"+v.Value, true
		}
		reps = append(reps, rp)
	}
	var refused []refusedItem
	for _, p := range problems {
		refused = append(refused, refusedItem{Index: it.index, SourceID: it.obj.ID, Field: field, Message: p})
	}
	return reps, refused, nil
}

// opinion turns a STIX opinion of disagree or strongly-disagree into
// false-positive reports of the values of its object_refs.
func (r *resolver) opinion(it item, consumer string) ([]report, []refusedItem, error) {
	var d struct {
		Opinion     string   `json:"opinion"`
		ObjectRefs  []string `json:"object_refs"`
		Explanation string   `json:"explanation"`
	}
	refuse := func(field, format string, a ...any) ([]report, []refusedItem, error) {
		return nil, []refusedItem{{Index: it.index, SourceID: it.obj.ID, Field: field, Message: fmt.Sprintf(format, a...)}}, nil
	}
	if err := json.Unmarshal(it.obj.JSON, &d); err != nil {
		return refuse("", "%v", err)
	}
	if d.Opinion != "disagree" && d.Opinion != "strongly-disagree" {
		return refuse("opinion", "%q: only disagree and strongly-disagree are acted on (a false-positive report)", d.Opinion)
	}
	at := r.now
	if it.obj.Modified != nil {
		at = it.obj.Modified.Time
	} else if it.obj.Created != nil {
		at = it.obj.Created.Time
	}
	if at.After(r.now.Add(sightingSkew)) {
		return refuse("modified", "%s is in the future", sightingTime(at))
	}
	at = at.UTC().Truncate(time.Millisecond)
	var vals []ingest.Value
	var problems []string
	for _, ref := range d.ObjectRefs {
		t := typeOf(ref)
		if t != "indicator" && t != "sighting" && t != "observed-data" && !valueTypes[t] {
			continue // an opinion may also be about a report, a malware, ...
		}
		v, p, err := r.values(ref, 1)
		if err != nil {
			return nil, nil, err
		}
		vals, problems = append(vals, v...), append(problems, p...)
	}
	if len(vals) == 0 && len(problems) == 0 {
		return refuse("object_refs", "no indicator, sighting, observed-data or observable (ipv4-addr, ipv6-addr, domain-name, url, email-addr, file) among object_refs")
	}
	var reps []report
	for _, v := range uniqueValues(vals) {
		reps = append(reps, report{index: it.index, sourceID: it.obj.ID, v: v, fp: true, count: 1, first: at, last: at,
			note: stixNote(d.Explanation), id: falsePositiveID(consumer, v)})
	}
	var refused []refusedItem
	for _, p := range problems {
		refused = append(refused, refusedItem{Index: it.index, SourceID: it.obj.ID, Field: "object_refs", Message: p})
	}
	return reps, refused, nil
}

// earliest returns the earlier of a and b.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// patternValue returns the ingest type and value of a single-comparison
// equality pattern on a tracked value ([ipv4-addr:value = '…'],
// [file:hashes.'SHA-256' = '…'], …), as stixfeed.ValueOf reads TAXII pushes.
func patternValue(p string) (typ, value string, ok bool) {
	objType, path, value, ok := pattern.Simple(p)
	switch {
	case !ok:
		return "", "", false
	case objType == ingest.TypeFile:
		key, ok := strings.CutPrefix(path, "hashes.")
		if !ok {
			return "", "", false
		}
		return strings.ToLower(strings.Trim(key, "'")), value, true
	case valueTypes[objType] && path == "value":
		return objType, value, true
	}
	return "", "", false
}
