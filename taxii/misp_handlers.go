package taxii

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// DefaultMISPVersion is the MISP version getVersion reports when the caller's
// User-Agent names none.
const DefaultMISPVersion = "2.5.1"

var mispUserAgentRE = regexp.MustCompile(`^MISP (\d+\.\d+\.\d+)`)

// mispGetVersion answers GET /servers/getVersion like MISP's
// ServersController::getVersion, echoing the caller's version from its
// User-Agent ("MISP 2.5.1 - #commit") so MISP logs no version mismatch and
// keeps its feature gates on. perm_sync says whether this consumer may push
// (MISP stops before pushing when it is false); galaxy and analyst-data pushes
// are declined (perm_galaxy_editor, perm_analyst_data false).
func (s *Server) mispGetVersion(c echo.Context) error {
	st := cfgState(c)
	t := mispTargetOf(c)
	version := DefaultMISPVersion
	if m := mispUserAgentRE.FindStringSubmatch(c.Request().UserAgent()); m != nil {
		version = m[1]
	}
	enc := []string{}
	if st.cfg.MISPSync.GzipEnabled() {
		enc = append(enc, "gzip")
	}
	return mispWrite(c, map[string]any{
		"version":                    version,
		"pymisp_recommended_version": version,
		"perm_sync":                  t.collection != "",
		"perm_sighting":              t.collection != "",
		"perm_galaxy_editor":         false,
		"perm_analyst_data":          false,
		"uuid":                       st.cfg.MISPSync.instanceUUID(st.cfg),
		"request_encoding":           enc,
		"filter_sightings":           true,
	})
}

// mispPostTest answers MISP's connection test (Server::runPOSTtest): the
// request's JSON body and its Content-Type and Accept headers echoed, and
// "Authorization":"OK".
func (s *Server) mispPostTest(c echo.Context) error {
	b, err := readMISPBody(c, cfgState(c).cfg.MISPSync.maxBody())
	if err != nil {
		return err
	}
	var body any
	if err := json.Unmarshal(b, &body); err != nil {
		return &MISPError{Status: http.StatusBadRequest, Name: "Bad Request", Message: "body is not JSON: " + err.Error()}
	}
	h := c.Request().Header
	return mispWrite(c, map[string]any{
		"body": body,
		"headers": map[string]any{
			"Content-type":  h.Get(echo.HeaderContentType),
			"Accept":        h.Get(echo.HeaderAccept),
			"Authorization": "OK",
		},
	})
}

// mispUserMe answers GET /users/view/me.json, which MISP shows as the remote
// sync user: the consumer, a sync role whose perm_sync says whether it may
// push, and this instance as its organisation.
func (s *Server) mispUserMe(c echo.Context) error {
	st := cfgState(c)
	t := mispTargetOf(c)
	can := t.collection != ""
	return mispWrite(c, map[string]any{
		"User": map[string]any{"id": "1", "email": t.consumer.Name, "org_id": "1", "role_id": "5", "disabled": false},
		"Role": map[string]any{"id": "5", "name": "Sync user", "perm_sync": can, "perm_sighting": can, "perm_add": can,
			"perm_modify": can, "perm_publish": can, "perm_galaxy_editor": false, "perm_analyst_data": false, "perm_site_admin": false},
		"Organisation": map[string]any{"id": "1", "name": st.cfg.Discovery.Title, "uuid": st.cfg.MISPSync.instanceUUID(st.cfg)},
	})
}

// mispEventIndex answers POST /events/index with an empty list: MISP then
// skips proposals and the bulk sightings pass (reference/misp.md §2.2 steps
// 5–6). Sightings still arrive: MISP sends them after every event push and for
// every new sighting of a pushed event (§2.3, misp_sightings.go). Listing the
// events here (with a sighting_timestamp) would need an enumeration of the
// storage.MISPEventIndex, which the storage contract does not offer.
func (s *Server) mispEventIndex(c echo.Context) error {
	if _, err := readMISPBody(c, cfgState(c).cfg.MISPSync.maxBody()); err != nil {
		return err
	}
	return mispWrite(c, []any{})
}

// mispDenied is the 403 for a consumer that may not push.
func mispDenied(t *mispTarget, name string) error {
	return &MISPError{Status: http.StatusForbidden, Name: name, Message: t.denied}
}

// mispFilterEvents answers POST /events/filterEventIdsForPush: of the
// [{"Event":{"uuid","timestamp"}}] MISP offers, the uuids that are unknown in
// the consumer's collection or older there than offered.
func (s *Server) mispFilterEvents(c echo.Context) error {
	t := mispTargetOf(c)
	if t.collection == "" {
		return mispDenied(t, "Forbidden")
	}
	b, err := readMISPBody(c, cfgState(c).cfg.MISPSync.maxBody())
	if err != nil {
		return err
	}
	var offered []struct {
		Event struct {
			UUID      string   `json:"uuid"`
			Timestamp misp.Num `json:"timestamp"`
		} `json:"Event"`
	}
	if err := json.Unmarshal(b, &offered); err != nil {
		return &MISPError{Status: http.StatusBadRequest, Name: "Bad Request",
			Message: `want a JSON list of {"Event":{"uuid","timestamp"}}: ` + err.Error()}
	}
	idx, err := s.mispIndex()
	if err != nil {
		return err
	}
	want := []string{}
	for i, o := range offered {
		if _, err := uuid.Parse(o.Event.UUID); err != nil {
			return &MISPError{Status: http.StatusBadRequest, Name: "Bad Request", Message: fmt.Sprintf("[%d].Event.uuid %q is not a UUID", i, o.Event.UUID)}
		}
		ts, ok := o.Event.Timestamp.Time()
		if !ok {
			return &MISPError{Status: http.StatusBadRequest, Name: "Bad Request", Message: fmt.Sprintf("[%d].Event.timestamp %q is not unix seconds", i, string(o.Event.Timestamp))}
		}
		have, err := idx.MISPEvent(c.Request().Context(), mispIndexKey(t.collection, o.Event.UUID))
		switch {
		case errors.Is(err, storage.ErrNotFound):
			want = append(want, o.Event.UUID)
		case err != nil:
			return err
		case ts.After(have):
			want = append(want, o.Event.UUID)
		}
	}
	return mispWrite(c, want)
}

// mispEventView answers HEAD (and GET) /events/view/{uuid}: 200 when the
// event is in the consumer's collection, 404 otherwise. GET carries the
// minimal {"Event":{"id","uuid","timestamp"}}.
func (s *Server) mispEventView(c echo.Context) error {
	t := mispTargetOf(c)
	if t.collection == "" {
		return mispDenied(t, "Forbidden")
	}
	id, _ := mispPathArgs(c)
	notFound := &MISPError{Status: http.StatusNotFound, Name: "Invalid event", Message: fmt.Sprintf("event %q is not in collection %s", id, t.collection)}
	if _, err := uuid.Parse(id); err != nil {
		return notFound
	}
	idx, err := s.mispIndex()
	if err != nil {
		return err
	}
	ts, err := idx.MISPEvent(c.Request().Context(), mispIndexKey(t.collection, id))
	if errors.Is(err, storage.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	if c.Request().Method == http.MethodHead {
		return c.NoContent(http.StatusOK)
	}
	return mispWrite(c, map[string]any{"Event": map[string]any{"id": mispEventID(id), "uuid": strings.ToLower(id),
		"timestamp": strconv.FormatInt(ts.Unix(), 10)}})
}

// mispAddEvent serves POST /events/add[/metadata:1]: an upsert by event uuid
// (so MISP's 404-with-Location retry is never needed).
func (s *Server) mispAddEvent(c echo.Context) error { return s.mispSave(c, "", "Could not add Event") }

// mispEditEvent serves POST /events/edit/{uuid}[/metadata:1].
func (s *Server) mispEditEvent(c echo.Context) error {
	id, _ := mispPathArgs(c)
	return s.mispSave(c, id, "Could not edit Event")
}

// mispSave decodes one pushed event, refuses it when it is malformed (400,
// nothing stored) or not newer than the stored copy (403 with MISP's own "not
// newer" error, which MISP counts as not pushed), converts it with
// misp.Converter, stores the objects in the consumer's collection in one
// PutObjects, hands the values to the PoolSink, records the event's attribute
// uuid → values map for its sightings (misp_sightings.go), and only then
// records the event's timestamp in the MISPEventIndex (so a failure is
// retried whole).
func (s *Server) mispSave(c echo.Context, pathID, failName string) error {
	t := mispTargetOf(c)
	if t.collection == "" {
		return mispDenied(t, failName)
	}
	b, err := readMISPBody(c, cfgState(c).cfg.MISPSync.maxBody())
	if err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return &MISPError{Status: http.StatusBadRequest, Name: failName, Message: fmt.Sprintf(format, args...)}
	}
	var events []*misp.Event
	if _, err := misp.DecodeEvents(bytes.NewReader(b), func(ev *misp.Event) error {
		events = append(events, ev)
		if len(events) > 1 {
			return errors.New("more than one event in the body; MISP pushes one {\"Event\":{...}} per request")
		}
		return nil
	}); err != nil {
		return bad("%v", err)
	}
	if len(events) != 1 {
		return bad("no event in the body; want {\"Event\":{...}}")
	}
	ev := events[0]
	u, err := uuid.Parse(ev.UUID)
	if err != nil || len(ev.UUID) != 36 {
		return bad("Event.uuid %q is not a UUID", ev.UUID)
	}
	ev.UUID = u.String()
	ts, ok := ev.Timestamp.Time()
	if !ok {
		return bad("Event.timestamp %q is not unix seconds", string(ev.Timestamp))
	}
	if pathID != "" && looksLikeUUID(pathID) && !strings.EqualFold(pathID, ev.UUID) {
		return bad("the path names event %s but the body is event %s", pathID, ev.UUID)
	}
	ctx := c.Request().Context()
	idx, err := s.mispIndex()
	if err != nil {
		return err
	}
	key := mispIndexKey(t.collection, ev.UUID)
	have, err := idx.MISPEvent(ctx, key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return err
	case !ts.After(have):
		return &MISPError{Status: http.StatusForbidden, Name: mispNotNewer,
			Message: fmt.Sprintf("event %s timestamp %d; stored %d", ev.UUID, ts.Unix(), have.Unix())}
	}
	var conv misp.Converter
	if s.mispConv != nil {
		conv = s.mispConv(t.feed)
	}
	conv.Now = s.now()
	var batch ingest.Batch
	conv.AddEvent(&batch, ev)
	stored, err := s.putVersioned(ctx, t.collection, batch.Objects)
	if err != nil {
		return err
	}
	if s.poolSink != nil && (len(batch.Observations) > 0 || len(batch.Warnings) > 0) {
		push := &PoolPush{Consumer: t.consumer.Name, Feed: t.feed, Provider: misp.Provider, Collection: t.collection,
			Batch: ingest.Batch{Observations: batch.Observations, Warnings: batch.Warnings}}
		if err := s.poolSink(ctx, push); err != nil {
			return fmt.Errorf("pool: %w", err)
		}
	}
	if err := s.recordMISPAttributes(ctx, t.collection, ev, batch.Observations); err != nil {
		return err
	}
	if err := idx.PutMISPEvent(ctx, key, ts); err != nil {
		return err
	}
	_ = s.audit.Log(auth.AuditEvent{
		Event: auth.EventObjectsAdded, Consumer: t.consumer.Name, Remote: clientIP(c), RequestID: requestID(c),
		Detail: fmt.Sprintf("misp event=%s timestamp=%d collection=%s objects=%d stored=%d observations=%d warnings=%d",
			ev.UUID, ts.Unix(), t.collection, len(batch.Objects), stored, len(batch.Observations), len(batch.Warnings)),
	})
	s.metrics.added.WithLabelValues(t.collection).Add(float64(stored))
	out := map[string]any{"id": mispEventID(ev.UUID), "uuid": ev.UUID, "info": ev.Info, "date": ev.Date,
		"timestamp": strconv.FormatInt(ts.Unix(), 10), "published": bool(ev.Published), "locked": true}
	for k, v := range map[string]misp.Num{"publish_timestamp": ev.PublishTimestamp, "threat_level_id": ev.ThreatLevelID,
		"analysis": ev.Analysis, "distribution": ev.Distribution} {
		if v != "" {
			out[k] = string(v)
		}
	}
	if ev.Orgc != nil {
		out["Orgc"] = ev.Orgc
	}
	return mispWrite(c, map[string]any{"Event": out})
}

// mispEventID is the numeric id ctibroker reports for an event (MISP logs it):
// stable, from the uuid's first 32 bits.
func mispEventID(eventUUID string) string {
	u, err := uuid.Parse(eventUUID)
	if err != nil {
		return "0"
	}
	return strconv.FormatUint(uint64(binary.BigEndian.Uint32(u[:4])), 10)
}
