package taxii

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// MISP server-sync sightings (reference/misp.md §2.2 step 6, §2.3).
//
//	POST /sightings/filterSightingUuidsForPush/{event_uuid}   ["sighting uuid", ...] → the uuids already held
//	POST /sightings/bulkSaveSightings/{event_uuid}            [{uuid, attribute_uuid, date_sighting, type, Organisation}, ...]
//
// MISP calls both right after it pushed an event (on publish, and for every
// new sighting of an event it pushed before) when the server's push_sightings
// is on. A MISP sighting names its attribute by uuid only, without the value,
// so each event push records the event's attribute uuid → values map
// (recordMISPAttributes). Decision: in the store's feed state, one record per
// (collection, event) named "misp-sync/attributes/<collection>/<event uuid>",
// the map in Snapshot, replaced by every push of the event: it is read only
// by these endpoints, costs one write per push (about 45 bytes per attribute,
// under 0.5 MB for 10 000 attributes), and keeps mapping data out of the
// report the event is published as (the report's MISP extension would carry
// it to every TAXII consumer). The values are those of the push's pool
// observations (ingest.Normalize'd: the (type, value) provenance and scores
// use); attributes without a pool value (filename, mutex, text, ...) are
// recorded with none. Events pushed before this map existed have none: their
// sightings count as unknown until the event is pushed again.
//
// Each MISP sighting of a known attribute becomes a storage.Sighting per value
// of the attribute (a composite domain|ip has two), the way POST
// /{root}/sightings/ stores a consumer's report, so it moves the value's score
// at the next curation pass; Deps.OnSightings then receives the new records.
//
//   - type 0 (sighting): ID the MISP sighting uuid (with "#type:value" when
//     the attribute has several values), so a re-send is idempotent; Count 1,
//     FirstSeen = LastSeen = date_sighting.
//   - type 1 (false positive): FalsePositive. Decision: its ID hashes the feed,
//     the MISP organisation (uuid, else name) and the value, not the sighting
//     uuid, for the rule POST /{root}/sightings/ applies to consumers: a false
//     positive is a verdict, not an event, and one organisation marking a value
//     false-positive twice does not compound the score penalty; several
//     organisations' verdicts do.
//   - type 2 (expiration): not stored, counted in the answer. An expiration is
//     neither a sighting nor a false positive; a MISP that pushes sightings
//     also carries them inside the event (Attribute.Sighting), where
//     misp.Converter withdraws a value whose expiration has passed.
//
// Source is the consumer's MISP feed name (MISPSync: "misp-<consumer>" or its
// feed), the name its values carry in provenance. Internal (seen in our own
// environment, never leaves the instance) is set when the pushing consumer has
// the sightings right (auth `sightings: true`, or admin): the consumers whose
// sightings POST /{root}/sightings/ stores as internal, i.e. the operator's own
// MISP; a partner's MISP pushes external sightings (they still move scores;
// operate/feedquality counts only internal ones as seen in our environment).
//
// Held sightings: filterSightingUuidsForPush answers the offered uuids already
// handled for that event, so MISP stops re-sending them: stored (new or
// existing), expirations, and sightings of attributes without a pool value.
// Sightings of unknown attributes and refused ones (a malformed uuid, type or
// date) are not held: MISP offers them again, and an attribute may become
// known with the next push. The held uuids are a second feed-state record per
// event ("misp-sync/sightings/<collection>/<event uuid>", 16 bytes per
// sighting). Two concurrent bulkSaveSightings of one event may lose one's
// held uuids (read-modify-write); MISP then offers them again and storing them
// again is idempotent.
//
// The answer is MISP's {"saved":true,"success":"N sightings added."} with the
// counts: added, existing, sightings, false_positives, expirations,
// unknown_attribute, no_pool_value, refused (and errors naming the first
// refused items).

// Feed-state record names and formats of the MISP sync sightings.
const (
	mispAttrPrefix = "misp-sync/attributes/"
	mispHeldPrefix = "misp-sync/sightings/"
	mispAttrMagic  = "ma1:" // uvarint n | n × (uuid[16] | uvarint k | k × (uvarint len, kind, uvarint len, value))
	mispHeldMagic  = "ms1:" // sorted 16-byte uuids
	mispMaxErrors  = 10     // refused items named in the answer
)

// mispValue is one pool value of an attribute.
type mispValue struct{ kind, value string }

// mispAttributes maps the attribute uuids of one pushed event to their values.
type mispAttributes map[uuid.UUID][]mispValue

// mispAttributesOf builds the map of a pushed event: every attribute uuid of
// the event and its objects, with the values of the observations the
// converter made from it.
func mispAttributesOf(ev *misp.Event, obs []ingest.Observation) mispAttributes {
	m := mispAttributes{}
	add := func(list []misp.Attribute) {
		for i := range list {
			if u, err := uuid.Parse(list[i].UUID); err == nil {
				if _, ok := m[u]; !ok {
					m[u] = nil
				}
			}
		}
	}
	add(ev.Attribute)
	for i := range ev.Object {
		add(ev.Object[i].Attribute)
	}
	for _, o := range obs {
		var v struct {
			Attribute string `json:"attribute"`
		}
		if json.Unmarshal(o.Verdict, &v) != nil {
			continue
		}
		u, err := uuid.Parse(v.Attribute)
		if err != nil {
			continue
		}
		val, err := ingest.Normalize(o.Type, o.Value)
		if err != nil {
			continue
		}
		mv := mispValue{val.Kind(), val.Value}
		if !slices.Contains(m[u], mv) {
			m[u] = append(m[u], mv)
		}
	}
	return m
}

func (m mispAttributes) encode() []byte {
	keys := make([]uuid.UUID, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	out := binary.AppendUvarint([]byte(mispAttrMagic), uint64(len(keys)))
	for _, k := range keys {
		out = append(out, k[:]...)
		out = binary.AppendUvarint(out, uint64(len(m[k])))
		for _, v := range m[k] {
			out = binary.AppendUvarint(out, uint64(len(v.kind)))
			out = append(out, v.kind...)
			out = binary.AppendUvarint(out, uint64(len(v.value)))
			out = append(out, v.value...)
		}
	}
	return out
}

// errMISPState marks a stored sightings record this code did not write.
var errMISPState = errors.New("unreadable MISP sync state")

func decodeMISPAttributes(b []byte) (mispAttributes, error) {
	r, ok := bytes.CutPrefix(b, []byte(mispAttrMagic))
	if !ok {
		return nil, fmt.Errorf("%w: attribute map without %q", errMISPState, mispAttrMagic)
	}
	bad := fmt.Errorf("%w: attribute map cut off", errMISPState)
	uv := func() (uint64, bool) {
		n, k := binary.Uvarint(r)
		if k <= 0 {
			return 0, false
		}
		r = r[k:]
		return n, true
	}
	str := func() (string, bool) {
		n, ok := uv()
		if !ok || n > uint64(len(r)) {
			return "", false
		}
		s := string(r[:n])
		r = r[n:]
		return s, true
	}
	n, ok := uv()
	if !ok || n > uint64(len(r))/17 {
		return nil, bad
	}
	m := make(mispAttributes, n)
	for range n {
		if len(r) < 16 {
			return nil, bad
		}
		u := uuid.UUID(r[:16])
		r = r[16:]
		k, ok := uv()
		if !ok || k > uint64(len(r)) {
			return nil, bad
		}
		vals := make([]mispValue, 0, k)
		for range k {
			kind, ok1 := str()
			value, ok2 := str()
			if !ok1 || !ok2 {
				return nil, bad
			}
			vals = append(vals, mispValue{kind, value})
		}
		m[u] = vals
	}
	if len(r) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the attribute map", errMISPState, len(r))
	}
	return m, nil
}

func encodeHeld(held map[uuid.UUID]bool) []byte {
	keys := make([]uuid.UUID, 0, len(held))
	for k := range held {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	out := make([]byte, 0, len(mispHeldMagic)+16*len(keys))
	out = append(out, mispHeldMagic...)
	for _, k := range keys {
		out = append(out, k[:]...)
	}
	return out
}

func decodeHeld(b []byte) (map[uuid.UUID]bool, error) {
	r, ok := bytes.CutPrefix(b, []byte(mispHeldMagic))
	if !ok || len(r)%16 != 0 {
		return nil, fmt.Errorf("%w: held sighting uuids", errMISPState)
	}
	held := make(map[uuid.UUID]bool, len(r)/16)
	for i := 0; i < len(r); i += 16 {
		held[uuid.UUID(r[i:i+16])] = true
	}
	return held, nil
}

// mispFeedStates returns the store's FeedStateStore, or nil.
func (s *Server) mispFeedStates() storage.FeedStateStore {
	fs, _ := s.store.(storage.FeedStateStore)
	return fs
}

// recordMISPAttributes stores the attribute map of a pushed event (see
// above); without a FeedStateStore it records nothing (sightings of the
// event then count as unknown).
func (s *Server) recordMISPAttributes(ctx context.Context, collection string, ev *misp.Event, obs []ingest.Observation) error {
	fs := s.mispFeedStates()
	if fs == nil {
		return nil
	}
	st := &storage.FeedState{Feed: mispAttrPrefix + mispIndexKey(collection, ev.UUID),
		Snapshot: mispAttributesOf(ev, obs).encode(), LastSuccess: s.now()}
	if err := fs.PutFeedState(ctx, st); err != nil {
		return fmt.Errorf("record the attributes of event %s: %w", ev.UUID, err)
	}
	return nil
}

// mispState reads one feed-state record's Snapshot; nil when absent.
func mispState(ctx context.Context, fs storage.FeedStateStore, name string) ([]byte, error) {
	st, err := fs.FeedState(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return st.Snapshot, nil
}

// mispHeld reads the held sighting uuids of an event (empty when none).
func mispHeld(ctx context.Context, fs storage.FeedStateStore, key string) (map[uuid.UUID]bool, error) {
	b, err := mispState(ctx, fs, mispHeldPrefix+key)
	if err != nil || b == nil {
		return map[uuid.UUID]bool{}, err
	}
	return decodeHeld(b)
}

// mispSightingsEvent checks the consumer and the {event_uuid} of a sightings
// request.
func mispSightingsEvent(c echo.Context) (*mispTarget, string, error) {
	t := mispTargetOf(c)
	if t.collection == "" {
		return nil, "", mispDenied(t, "Forbidden")
	}
	id, _ := mispPathArgs(c)
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return nil, "", &MISPError{Status: http.StatusBadRequest, Name: "Bad Request", Message: fmt.Sprintf("event %q in the path is not a UUID", id)}
	}
	return t, u.String(), nil
}

// mispFilterSightings answers POST /sightings/filterSightingUuidsForPush/{uuid}:
// of the sighting uuids MISP offers, those already held for the event (see
// above), in the order and spelling offered.
func (s *Server) mispFilterSightings(c echo.Context) error {
	t, eventUUID, err := mispSightingsEvent(c)
	if err != nil {
		return err
	}
	b, err := readMISPBody(c, cfgState(c).cfg.MISPSync.maxBody())
	if err != nil {
		return err
	}
	var ids []string
	if err := json.Unmarshal(b, &ids); err != nil {
		return &MISPError{Status: http.StatusBadRequest, Name: "Bad Request", Message: "want a JSON list of sighting uuids: " + err.Error()}
	}
	have := []string{}
	fs := s.mispFeedStates()
	if fs == nil {
		return mispWrite(c, have)
	}
	held, err := mispHeld(c.Request().Context(), fs, mispIndexKey(t.collection, eventUUID))
	if err != nil {
		return err
	}
	for _, id := range ids {
		if u, err := uuid.Parse(id); err == nil && held[u] {
			have = append(have, id)
		}
	}
	return mispWrite(c, have)
}

// mispSightingsAnswer is the answer of bulkSaveSightings.
type mispSightingsAnswer struct {
	Saved            bool     `json:"saved"`
	Success          string   `json:"success"`
	Added            int      `json:"added"`
	Existing         int      `json:"existing"`
	Sightings        int      `json:"sightings"`
	FalsePositives   int      `json:"false_positives"`
	Expirations      int      `json:"expirations"`
	UnknownAttribute int      `json:"unknown_attribute"`
	NoPoolValue      int      `json:"no_pool_value"`
	Refused          int      `json:"refused"`
	Errors           []string `json:"errors,omitempty"`
}

// mispBulkSightings serves POST /sightings/bulkSaveSightings/{uuid} (see
// above): the sightings of the event's known attributes are stored in the
// SightingStore, OnSightings receives the new records, and the uuids handled
// are held for filterSightingUuidsForPush.
func (s *Server) mispBulkSightings(c echo.Context) error {
	t, eventUUID, err := mispSightingsEvent(c)
	if err != nil {
		return err
	}
	b, err := readMISPBody(c, cfgState(c).cfg.MISPSync.maxBody())
	if err != nil {
		return err
	}
	var list []misp.Sighting
	if err := json.Unmarshal(b, &list); err != nil {
		return &MISPError{Status: http.StatusBadRequest, Name: "Bad Request", Message: "want a JSON list of sightings: " + err.Error()}
	}
	ss, ok := s.store.(storage.SightingStore)
	fs := s.mispFeedStates()
	if !ok || fs == nil {
		return &MISPError{Status: http.StatusNotImplemented, Name: "Not Implemented",
			Message: "this store keeps no sightings (storage.SightingStore and storage.FeedStateStore)"}
	}
	ctx := c.Request().Context()
	key := mispIndexKey(t.collection, eventUUID)
	var attrs mispAttributes
	if raw, err := mispState(ctx, fs, mispAttrPrefix+key); err != nil {
		return err
	} else if raw != nil {
		if attrs, err = decodeMISPAttributes(raw); err != nil {
			return err
		}
	}
	held, err := mispHeld(ctx, fs, key)
	if err != nil {
		return err
	}
	heldBefore := len(held)
	cons := t.consumer
	internal := cons.Admin || cons.Sightings
	now := s.now().UTC()
	ans := &mispSightingsAnswer{Saved: true}
	refuse := func(i int, format string, a ...any) {
		ans.Refused++
		if len(ans.Errors) < mispMaxErrors {
			ans.Errors = append(ans.Errors, fmt.Sprintf("[%d] ", i)+fmt.Sprintf(format, a...))
		}
	}
	var recs []storage.Sighting
	ids := map[string]bool{}
	var handled []uuid.UUID // held once the records are stored
	for i, sg := range list {
		su, err := uuid.Parse(sg.UUID)
		if err != nil {
			refuse(i, "uuid %q is not a UUID", sg.UUID)
			continue
		}
		typ := strings.TrimSpace(string(sg.Type))
		switch typ {
		case misp.SightingSeen, misp.SightingFalsePositive:
		case misp.SightingExpiration:
			ans.Expirations++
			handled = append(handled, su)
			continue
		default:
			refuse(i, "type %q is not 0 (sighting), 1 (false positive) or 2 (expiration)", typ)
			continue
		}
		au, err := uuid.Parse(sg.AttributeUUID)
		vals, known := attrs[au]
		if err != nil || !known {
			ans.UnknownAttribute++
			continue
		}
		if len(vals) == 0 {
			ans.NoPoolValue++
			handled = append(handled, su)
			continue
		}
		at, ok := sg.DateSighting.Time()
		if !ok || at.After(now.Add(sightingSkew)) {
			refuse(i, "date_sighting %q is not unix seconds up to now", string(sg.DateSighting))
			continue
		}
		at = at.UTC()
		fp := typ == misp.SightingFalsePositive
		if fp {
			ans.FalsePositives++
		} else {
			ans.Sightings++
		}
		handled = append(handled, su)
		for _, v := range vals {
			id := su.String()
			switch {
			case fp:
				org := ""
				if sg.Organisation != nil {
					org = sg.Organisation.UUID
					if org == "" {
						org = sg.Organisation.Name
					}
				}
				id = reportID("misp", t.feed, strings.ToLower(org), v.kind, v.value, VerdictFalsePositive)
			case len(vals) > 1:
				id += "#" + v.kind + ":" + v.value
			}
			if ids[id] {
				continue // a repeated false positive, or a sighting sent twice
			}
			ids[id] = true
			recs = append(recs, storage.Sighting{ID: id, Type: v.kind, Value: v.value, Source: t.feed, Internal: internal,
				Count: 1, FirstSeen: at, LastSeen: at, FalsePositive: fp})
		}
	}
	var fresh []storage.Sighting
	if len(recs) > 0 {
		res, err := ss.AddSightings(ctx, recs)
		if err != nil {
			return fmt.Errorf("storing MISP sightings: %w", err)
		}
		added := make(map[string]bool, len(res.AddedIDs))
		for _, id := range res.AddedIDs {
			added[id] = true
		}
		for _, r := range recs {
			if added[r.ID] {
				fresh = append(fresh, r)
			} else {
				ans.Existing++
			}
		}
		ans.Added = len(fresh)
	}
	for _, u := range handled {
		held[u] = true
	}
	if len(held) != heldBefore {
		if err := fs.PutFeedState(ctx, &storage.FeedState{Feed: mispHeldPrefix + key, Snapshot: encodeHeld(held), LastSuccess: now}); err != nil {
			return fmt.Errorf("record the held sightings of event %s: %w", eventUUID, err)
		}
	}
	if s.onSightings != nil && len(fresh) > 0 {
		s.onSightings(ctx, fresh)
	}
	ans.Success = fmt.Sprintf("%d sightings added.", ans.Added)
	_ = s.audit.Log(auth.AuditEvent{Event: AuditEventSightings, Consumer: cons.Name, Remote: clientIP(c), RequestID: requestID(c),
		Detail: fmt.Sprintf("misp sightings event=%s collection=%s feed=%s items=%d added=%d existing=%d sightings=%d false_positives=%d expirations=%d unknown_attribute=%d no_pool_value=%d refused=%d",
			eventUUID, t.collection, t.feed, len(list), ans.Added, ans.Existing, ans.Sightings, ans.FalsePositives, ans.Expirations,
			ans.UnknownAttribute, ans.NoPoolValue, ans.Refused)})
	return mispWrite(c, ans)
}
