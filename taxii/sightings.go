package taxii

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// Sightings and false positives: the feedback loop.
//
//	POST /{root}/sightings/   report sightings and false positives
//	GET  /{root}/sightings/?value=V[&type=T]   the stored reports of one value
//
// Who: an authenticated consumer with the sightings right (auth
// ConsumerConfig.Sightings, `sightings: true`) or an admin. A collection
// write grant is not enough: a write grant lets a consumer deposit objects in
// one collection, which changes nothing anyone else receives, while a
// sighting raises and a false positive lowers a value's score, and so its
// membership of every curated collection, for every consumer. Without the
// right the answer is 403 when the consumer can see the API root, else 404;
// anonymous callers get 401. The API root only scopes max_content_length: the
// reports are about values, whichever root they are posted to.
//
// Body, by its first character (Content-Type application/taxii+json or
// application/stix+json, version 2.1 or none, or application/json; none with
// the lenient profile):
//
//   - a JSON list, the form for tools and scripts:
//     [{"type":"ipv4-addr","value":"198.51.100.7","count":3,
//     "first_seen":"2026-03-01T10:00:00Z","last_seen":"2026-03-02T08:00:00Z",
//     "verdict":"false-positive","note":"our mail relay"}]
//     Only value is required. type is any type name ingest.Normalize knows
//     ("ip", "domain", "sha256", ...) and is guessed from the value when
//     absent (ingest.Guess, as the ingest Runner does); count defaults to 1;
//     first_seen and last_seen are RFC 3339 and default to each other, then
//     to the time received; verdict is "sighting" (the default) or
//     "false-positive"; note is free text of at most MaxSightingNote
//     characters. A list entry that is not an object, a field of the wrong
//     JSON type or an unknown field is a client bug: 400 naming the entry's
//     index and the field, and nothing is stored.
//   - a TAXII envelope or STIX bundle: each sighting (STIX 2.1 §5.2) reports
//     the value of the indicator its sighting_of_ref names (a single-value
//     pattern, see stixfeed.ValueOf), or, for a sighting of another SDO, the
//     values of the SCOs of its observed_data_refs; count (default 1),
//     first_seen and last_seen as above (created and modified when absent).
//     A sighting with the custom property "x_ctibroker_verdict":
//     "false-positive" (VerdictProperty) is a false-positive report, and so
//     is an opinion (§4.10) of disagree or strongly-disagree over
//     indicators, sightings, observed-data or SCOs in object_refs; other
//     opinions are refused. Referenced objects are looked up in the body
//     first, then in Deps.SightingCollections (the pool and the published
//     collection), then in the stored collections the consumer may read;
//     pool and published indicator ids are UUIDv5 of the value's pattern, so
//     knowing one reveals nothing new. Other objects of the body are context
//     only and never stored.
//
// Values are normalised as ingest normalises pool values (refanged, lower
// case, IPv6 compressed, hashes typed by length, placeholders such as
// 0.0.0.0 refused), so a report meets the pool's provenance under the same
// (type, value). Each item is checked on its own: the 200 answer
// (sightingsAnswer) lists the accepted values and the refused items, each
// with its index in the body, the field and the reason. A body above the
// API root's max_content_length or with more than Config.MaxSightings items
// is 413, a body that is neither a list nor an envelope 422; nothing is then
// stored.
//
// Storage: storage.SightingStore only, with Source the consumer's name and
// Internal set (DESIGN.md: internal sightings never leave; the published
// risk-score extension keeps their effect on the score, not their details).
// Re-posting is idempotent: a sighting's id is its STIX id (with
// "#type:value" when it stands for several values) or, for a list entry, a
// hash of consumer, type, value, verdict and first_seen (last_seen, else
// the UTC day received, when absent). A later version of a STIX sighting
// whose count exceeds what was recorded under its id adds the increase
// (a record "id@count", answered as "stored": "updated"), so producers that
// raise count as they see a value again are counted once per sighting. A false positive is a verdict, not an
// event: whatever its form, a consumer's false positive on a value is one
// record with count 1 (its id hashes consumer, type and value only), so
// repeating it does not compound the score penalty; several consumers'
// verdicts do.
//
// After storing, Deps.OnSightings receives the new records (cmd: a curation
// pass, so the score and the curated collections move, and enrichment). One
// audit event (AuditEventSightings) per POST; Prometheus counters
// ctibroker_sightings_recorded_total{consumer,verdict} and
// ctibroker_sightings_refused_total{consumer}.
//
// GET answers a consumer's own reports of the value, and an admin every
// report (feeds' internal sightings included), as
// {"type","value","scope":"own"|"all","count","false_positives",
// "sightings":[{"id","source","internal","verdict","count","first_seen","last_seen"}]}.
//
// The constants below are the endpoints' limits and names.
const (
	// DefaultMaxSightings is the default Config.MaxSightings.
	DefaultMaxSightings = 10000
	// MaxSightingNote is the longest note, in characters.
	MaxSightingNote = 1000
	// maxSightingCount is STIX's bound on a sighting's count (§5.2).
	maxSightingCount = 999_999_999
	// sightingSkew is how far in the future a reported time may be (clock skew).
	sightingSkew = 5 * time.Minute
	// AuditEventSightings is the audit event of a POST /{root}/sightings/.
	AuditEventSightings = "sightings.added"
	// VerdictSighting and VerdictFalsePositive are the verdicts of a report.
	VerdictSighting      = "sighting"
	VerdictFalsePositive = "false-positive"
	// VerdictProperty is the custom property that makes a STIX sighting a
	// false-positive report ("x_ctibroker_verdict": "false-positive").
	VerdictProperty = "x_ctibroker_verdict"
)

// maxSightings returns Config.MaxSightings or its default.
func (c Config) maxSightings() int {
	if c.MaxSightings > 0 {
		return c.MaxSightings
	}
	return DefaultMaxSightings
}

// sightingsAnswer is the answer of POST /{root}/sightings/.
type sightingsAnswer struct {
	RequestID string `json:"request_id"`
	// Items counts the body's list entries, or its sightings and opinions.
	Items int `json:"items"`
	// New and Existing count the accepted values newly stored and already
	// stored (re-posts); Sightings and FalsePositives count them by verdict.
	New            int `json:"new"`
	Existing       int `json:"existing"`
	Sightings      int `json:"sightings"`
	FalsePositives int `json:"false_positives"`
	// ContextObjects counts the other objects of a STIX body (used to
	// resolve references, never stored).
	ContextObjects int             `json:"context_objects,omitempty"`
	Accepted       []acceptedValue `json:"accepted"`
	Refused        []refusedItem   `json:"refused"`
}

// acceptedValue is one value an accepted item reports.
type acceptedValue struct {
	Index     int    `json:"index"`               // the item's position in the body (objects for STIX)
	SourceID  string `json:"source_id,omitempty"` // the STIX sighting or opinion
	ID        string `json:"id"`                  // the stored record's id
	Type      string `json:"type"`                // as provenance keys it ("file:sha-256")
	Value     string `json:"value"`               // normalised
	Verdict   string `json:"verdict"`
	Count     int    `json:"count"`
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
	Note      string `json:"note,omitempty"`
	Stored    string `json:"stored"`          // "new", "updated" (a STIX sighting's count rose) or "existing"
	Known     *bool  `json:"known,omitempty"` // a feed reports the value (its score can move)
}

// refusedItem is an item (or, for STIX, an object) that was not accepted.
type refusedItem struct {
	Index    int    `json:"index"`
	SourceID string `json:"source_id,omitempty"`
	Field    string `json:"field,omitempty"`
	Message  string `json:"message"`
}

// report is one value an item reports, before it is stored.
type report struct {
	index    int
	sourceID string
	v        ingest.Value
	fp       bool
	count    int
	first    time.Time
	last     time.Time
	note     string
	id       string
	// versioned marks a STIX sighting, whose later versions may raise its
	// count: the increase is recorded as "id@total" (see versions).
	versioned bool
	updated   bool // recorded as an increase of a stored sighting's count
	total     int  // versioned: the count posted (count is then the increase)
}

// sightingsAPI serves the sightings endpoints.
type sightingsAPI struct {
	*Server
	recorded *prometheus.CounterVec // consumer, verdict
	refused  *prometheus.CounterVec // consumer
}

// sightingRoutes registers POST and GET /{root}/sightings, with and without
// the trailing slash.
func (s *Server) sightingRoutes(e *echo.Echo) {
	h := &sightingsAPI{Server: s,
		recorded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibroker_sightings_recorded_total",
			Help: "Sightings and false-positive reports newly stored through POST /{root}/sightings/, by consumer and verdict.",
		}, []string{"consumer", "verdict"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibroker_sightings_refused_total",
			Help: "Items of POST /{root}/sightings/ refused, by consumer.",
		}, []string{"consumer"}),
	}
	for _, c := range []prometheus.Collector{h.recorded, h.refused} {
		if err := s.registry.Register(c); err != nil {
			s.log.Error("sightings metrics not registered", "err", err)
		}
	}
	for _, p := range []string{"/:root/sightings", "/:root/sightings/"} {
		e.Add(http.MethodPost, p, h.post, s.authenticate)
		e.Add(http.MethodGet, p, h.get, s.authenticate)
	}
}

// mayReport reports whether c may post sightings.
func mayReport(c *auth.Consumer) bool { return !c.Anonymous && (c.Admin || c.Sightings) }

// sightingsRoot resolves :root for the sightings endpoints and checks the
// sightings right: 401 anonymous, 404 unknown root (or one the consumer
// cannot see without the right), 403 without the right.
func sightingsRoot(c echo.Context) (*rootState, *auth.Consumer, error) {
	name := c.Param("root")
	rs := cfgState(c).roots[name]
	cons := consumer(c)
	switch {
	case cons.Anonymous:
		return nil, nil, fmt.Errorf("sightings require credentials: %w", ErrUnauthorized)
	case rs == nil:
		return nil, nil, fmt.Errorf("API root %q: %w", name, ErrNotFound)
	case mayReport(cons):
		return rs, cons, nil
	case rootVisible(cons, rs):
		return nil, nil, fmt.Errorf("consumer %q may not report sightings (the consumer needs sightings: true): %w", cons.Name, ErrForbidden)
	}
	return nil, nil, fmt.Errorf("API root %q: %w", name, ErrNotFound)
}

// answerType returns the media type of the answer: TAXII when Accept offers
// it (or */*, or nothing), else application/json when offered; else 406.
func answerType(c echo.Context) (string, error) {
	h := c.Request().Header.Get(echo.HeaderAccept)
	if acceptable(h, false) {
		return MediaTypeTAXII, nil
	}
	for _, r := range strings.Split(h, ",") {
		mt, params, err := parseMediaRange(r)
		if err != nil || mt != echo.MIMEApplicationJSON {
			continue
		}
		if q, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(q), 64); err != nil || f <= 0 {
				continue
			}
		}
		return echo.MIMEApplicationJSON, nil
	}
	return "", fmt.Errorf("Accept %q: the sightings endpoint answers application/taxii+json;version=2.1 or application/json: %w", h, ErrNotAcceptable)
}

// sightingStore returns the store's SightingStore, or a 501.
func (s *Server) sightingStore() (storage.SightingStore, error) {
	ss, ok := s.store.(storage.SightingStore)
	if !ok {
		return nil, &Error{Title: "Not Implemented", HTTPStatus: "501", ErrorCode: "not_implemented",
			Description: "this store keeps no sightings (storage.SightingStore)"}
	}
	return ss, nil
}

// Body forms of POST /{root}/sightings/.
const (
	formAny  = iota // no Content-Type (lenient): by the first character
	formSTIX        // application/taxii+json or application/stix+json: an envelope or bundle
	formJSON        // application/json: a list, or an envelope
)

// sightingsForm reads the Content-Type of a sightings POST: a TAXII or STIX
// media type (version 2.1 or none), application/json, or (lenient profile)
// none; anything else is 415.
func sightingsForm(header string, lenient bool) (int, error) {
	if strings.TrimSpace(header) == "" {
		if lenient {
			return formAny, nil
		}
		return 0, fmt.Errorf("no Content-Type: %w", ErrUnsupportedMediaType)
	}
	mt, params, err := parseMediaRange(header)
	if err == nil {
		switch mt {
		case "application/taxii+json", "application/stix+json":
			if versionOK(params) {
				return formSTIX, nil
			}
		case echo.MIMEApplicationJSON:
			return formJSON, nil
		}
	}
	return 0, fmt.Errorf("Content-Type %q: send application/json (a list) or application/taxii+json;version=2.1 (an envelope): %w", header, ErrUnsupportedMediaType)
}

// post serves POST /{root}/sightings/.
func (h *sightingsAPI) post(c echo.Context) error {
	rs, cons, err := sightingsRoot(c)
	if err != nil {
		return err
	}
	mt, err := answerType(c)
	if err != nil {
		return err
	}
	ss, err := h.sightingStore()
	if err != nil {
		return err
	}
	st := cfgState(c)
	r := c.Request()
	form, err := sightingsForm(r.Header.Get(echo.HeaderContentType), st.cfg.LenientProfile())
	if err != nil {
		return err
	}
	if r.ContentLength > rs.MaxContentLength {
		return fmt.Errorf("Content-Length %d > max_content_length %d of API root %q: %w", r.ContentLength, rs.MaxContentLength, rs.Name, ErrTooLarge)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, rs.MaxContentLength))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("body larger than max_content_length %d of API root %q: %w", rs.MaxContentLength, rs.Name, ErrTooLarge)
		}
		return fmt.Errorf("reading the body: %v: %w", err, ErrUnprocessable)
	}
	now := h.now().UTC()
	ans := &sightingsAnswer{RequestID: requestID(c), Accepted: []acceptedValue{}, Refused: []refusedItem{}}
	var reps []report
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		if form == formSTIX {
			return fmt.Errorf("body: a TAXII or STIX Content-Type needs an envelope or bundle {\"objects\":[...]}; send a list of values as application/json: %w", ErrUnprocessable)
		}
		reps, err = decodeSightingList(body, cons.Name, now, st.cfg.maxSightings(), ans)
	case len(trimmed) > 0 && trimmed[0] == '{':
		rv := h.newResolver(r.Context(), cons, st)
		reps, err = rv.decode(body, cons.Name, st.cfg.maxSightings(), ans)
	default:
		return fmt.Errorf("body: want a JSON list of values [{\"value\":...}] or a TAXII envelope {\"objects\":[...]}: %w", ErrUnprocessable)
	}
	if err != nil {
		return err
	}
	if err := h.store(r.Context(), ss, cons, reps, ans); err != nil {
		return err
	}
	h.refused.WithLabelValues(cons.Name).Add(float64(len(ans.Refused)))
	h.auditSightings(c, rs, cons, ans)
	return writeAnswer(c, mt, ans)
}

// store writes the reports and fills in the answer; then OnSightings gets
// the new records.
func (h *sightingsAPI) store(ctx context.Context, ss storage.SightingStore, cons *auth.Consumer, reps []report, ans *sightingsAnswer) error {
	if len(reps) == 0 {
		return nil
	}
	if err := versions(ctx, ss, reps); err != nil {
		return err
	}
	recs := make([]storage.Sighting, 0, len(reps))
	seen := map[string]bool{}
	for _, rp := range reps {
		if seen[rp.id] {
			continue
		}
		seen[rp.id] = true
		recs = append(recs, storage.Sighting{ID: rp.id, Type: rp.v.Kind(), Value: rp.v.Value, Source: cons.Name,
			Internal: true, Count: rp.count, FirstSeen: rp.first, LastSeen: rp.last, FalsePositive: rp.fp})
	}
	res, err := ss.AddSightings(ctx, recs)
	if err != nil {
		return fmt.Errorf("storing sightings: %w", err)
	}
	added := make(map[string]bool, len(res.AddedIDs))
	for _, id := range res.AddedIDs {
		added[id] = true
	}
	known := h.known(ctx, reps)
	var fresh []storage.Sighting
	for _, rec := range recs {
		if added[rec.ID] {
			fresh = append(fresh, rec)
			verdict := VerdictSighting
			if rec.FalsePositive {
				verdict = VerdictFalsePositive
			}
			h.recorded.WithLabelValues(cons.Name, verdict).Inc()
		}
	}
	for _, rp := range reps {
		a := acceptedValue{Index: rp.index, SourceID: rp.sourceID, ID: rp.id, Type: rp.v.Kind(), Value: rp.v.Value,
			Verdict: VerdictSighting, Count: rp.count, FirstSeen: sightingTime(rp.first), LastSeen: sightingTime(rp.last),
			Note: rp.note, Stored: "existing"}
		if rp.fp {
			a.Verdict = VerdictFalsePositive
			ans.FalsePositives++
		} else {
			ans.Sightings++
		}
		if rp.versioned {
			a.Count = rp.total
		}
		if added[rp.id] {
			a.Stored = "new"
			if rp.updated {
				a.Stored = "updated"
			}
			delete(added, rp.id) // a second item with the same id is a re-post
			ans.New++
		} else {
			ans.Existing++
		}
		if k, ok := known[rp.v.Kind()+"\x00"+rp.v.Value]; ok {
			a.Known = &k
		}
		ans.Accepted = append(ans.Accepted, a)
	}
	if h.onSightings != nil && len(fresh) > 0 {
		h.onSightings(ctx, fresh)
	}
	return nil
}

// versions turns the later versions of stored STIX sightings into their
// count increase: a sighting is a STIX object with versions, and a producer
// (an EDR, OpenCTI) raises count as it sees the value again. The first
// version is recorded under its id; a version whose count exceeds the total
// already recorded under that id adds the difference as "id@total"; one that
// does not is an existing record. A re-post of any version is idempotent.
func versions(ctx context.Context, ss storage.SightingStore, reps []report) error {
	type key struct{ kind, value string }
	stored := map[key][]storage.Sighting{}
	for i := range reps {
		rp := &reps[i]
		if !rp.versioned {
			continue
		}
		rp.total = rp.count
		k := key{rp.v.Kind(), rp.v.Value}
		list, ok := stored[k]
		if !ok {
			var err error
			if list, err = ss.Sightings(ctx, k.kind, k.value); err != nil {
				return fmt.Errorf("reading the sightings of %s %s: %w", k.kind, k.value, err)
			}
			stored[k] = list
		}
		sum := 0
		for _, sg := range list {
			if sg.ID == rp.id || strings.HasPrefix(sg.ID, rp.id+"@") {
				sum += sg.Count
			}
		}
		switch {
		case sum == 0:
			stored[k] = append(list, storage.Sighting{ID: rp.id, Count: rp.count}) // a later version in the same body
		case rp.count > sum:
			rp.id = rp.id + "@" + strconv.Itoa(rp.count)
			rp.count -= sum
			rp.updated = true
			stored[k] = append(list, storage.Sighting{ID: rp.id, Count: rp.count})
		}
	}
	return nil
}

// known tells, per value, whether any feed reported it (provenance exists);
// empty when the store keeps no provenance.
func (h *sightingsAPI) known(ctx context.Context, reps []report) map[string]bool {
	ps, ok := h.Server.store.(storage.ProvenanceStore)
	out := map[string]bool{}
	if !ok {
		return out
	}
	for _, rp := range reps {
		key := rp.v.Kind() + "\x00" + rp.v.Value
		if _, done := out[key]; done {
			continue
		}
		recs, err := ps.Provenance(ctx, rp.v.Kind(), rp.v.Value)
		if err != nil {
			h.log.Warn("provenance lookup failed", "type", rp.v.Kind(), "value", rp.v.Value, "err", err)
			continue
		}
		out[key] = len(recs) > 0
	}
	return out
}

// auditSightings writes the POST's audit event; false positives are named
// (with their notes), since they are what a reviewer looks for.
func (h *sightingsAPI) auditSightings(c echo.Context, rs *rootState, cons *auth.Consumer, ans *sightingsAnswer) {
	var b strings.Builder
	fmt.Fprintf(&b, "root=%s items=%d accepted=%d refused=%d new=%d existing=%d sightings=%d false_positives=%d",
		rs.Name, ans.Items, len(ans.Accepted), len(ans.Refused), ans.New, ans.Existing, ans.Sightings, ans.FalsePositives)
	const named = 20
	n := 0
	for _, a := range ans.Accepted {
		if a.Verdict != VerdictFalsePositive || a.Stored != "new" {
			continue
		}
		if n == named {
			b.WriteString(" ...")
			break
		}
		fmt.Fprintf(&b, " fp=%s:%s", a.Type, strconv.Quote(a.Value))
		if a.Note != "" {
			note := a.Note
			if utf8.RuneCountInString(note) > 200 {
				note = string([]rune(note)[:200]) + "…"
			}
			fmt.Fprintf(&b, " note=%s", strconv.Quote(note))
		}
		n++
	}
	_ = h.audit.Log(auth.AuditEvent{Event: AuditEventSightings, Consumer: cons.Name, Remote: clientIP(c),
		RequestID: requestID(c), Detail: b.String()})
}

// writeAnswer writes v as JSON with media type mt.
func writeAnswer(c echo.Context, mt string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, mt, b)
}

// valueSightings is the answer of GET /{root}/sightings/.
type valueSightings struct {
	Type  string `json:"type"`
	Value string `json:"value"`
	// Scope is "own" (the consumer's reports) or "all" (an admin).
	Scope string `json:"scope"`
	// Count sums the counts of the sightings; FalsePositives counts the
	// false-positive reports.
	Count          int            `json:"count"`
	FalsePositives int            `json:"false_positives"`
	Sightings      []storedReport `json:"sightings"`
}

// storedReport is one stored sighting or false-positive report.
type storedReport struct {
	ID        string `json:"id"`
	Source    string `json:"source"`
	Internal  bool   `json:"internal"`
	Verdict   string `json:"verdict"`
	Count     int    `json:"count"`
	FirstSeen string `json:"first_seen,omitempty"`
	LastSeen  string `json:"last_seen,omitempty"`
}

// get serves GET /{root}/sightings/?value=V[&type=T].
func (h *sightingsAPI) get(c echo.Context) error {
	_, cons, err := sightingsRoot(c)
	if err != nil {
		return err
	}
	mt, err := answerType(c)
	if err != nil {
		return err
	}
	ss, err := h.sightingStore()
	if err != nil {
		return err
	}
	q := c.QueryParams()
	value, typ := q.Get("value"), q.Get("type")
	if value == "" {
		return fmt.Errorf("value: required (GET /{root}/sightings/?value=198.51.100.7[&type=ipv4-addr]): %w", ErrBadParameter)
	}
	v, field, err := normalizeReport(typ, value)
	if err != nil {
		return fmt.Errorf("%s: %v: %w", field, err, ErrBadParameter)
	}
	list, err := ss.Sightings(c.Request().Context(), v.Kind(), v.Value)
	if err != nil {
		return err
	}
	out := valueSightings{Type: v.Kind(), Value: v.Value, Scope: "own", Sightings: []storedReport{}}
	if cons.Admin {
		out.Scope = "all"
	}
	for _, sg := range list {
		if !cons.Admin && sg.Source != cons.Name {
			continue
		}
		r := storedReport{ID: sg.ID, Source: sg.Source, Internal: sg.Internal, Verdict: VerdictSighting, Count: sg.Count}
		if !sg.FirstSeen.IsZero() {
			r.FirstSeen = sightingTime(sg.FirstSeen)
		}
		if !sg.LastSeen.IsZero() {
			r.LastSeen = sightingTime(sg.LastSeen)
		}
		if sg.FalsePositive {
			r.Verdict = VerdictFalsePositive
			out.FalsePositives++
		} else {
			out.Count += max(sg.Count, 1)
		}
		out.Sightings = append(out.Sightings, r)
	}
	return writeAnswer(c, mt, out)
}

// normalizeReport normalises a reported value as the ingest Runner does
// (ingest.Normalize for a given type, ingest.Guess without one), refusing
// placeholders; field names the culprit ("type" or "value").
func normalizeReport(typ, value string) (ingest.Value, string, error) {
	typ = strings.TrimSpace(typ)
	if typ != "" {
		v, err := ingest.NormalizeReported(typ, value)
		if errors.Is(err, ingest.ErrUnknownType) {
			return v, "type", err
		}
		return v, "value", err
	}
	if err := ingest.ReportedPlaceholders.CheckReported(value); err != nil {
		return ingest.Value{}, "value", err
	}
	v, err := ingest.Guess(value)
	if err != nil {
		return v, "value", err
	}
	if err := ingest.CheckAddress(v, value); err != nil {
		return ingest.Value{}, "value", err
	}
	return v, "", nil
}

// reportID is the id of a report without a STIX id of its own ("ctibroker-report:"
// and hex, never mistaken for a STIX id): a hash of
// its parts (see the endpoint documentation).
func reportID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "ctibroker-report:" + hex.EncodeToString(h.Sum(nil)[:20])
}

// falsePositiveID is the id of consumer's false-positive verdict on v.
func falsePositiveID(consumer string, v ingest.Value) string {
	return reportID(consumer, v.Kind(), v.Value, VerdictFalsePositive)
}

// sightingTime formats a report time: UTC, milliseconds, Z (as STIX).
func sightingTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
