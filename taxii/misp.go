package taxii

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// MISPAuthenticator verifies the raw key MISP server sync sends as
// "Authorization: <key>"; *auth.Authenticator implements it. The MISP sync
// endpoints need Deps.Auth to implement it too, otherwise they answer 403.
type MISPAuthenticator interface {
	AuthenticateMISP(r *http.Request) (*auth.Consumer, error)
}

// PoolPush is what one push hands the PoolSink: the values of a MISP sync event
// (after misp.Converter) or of the indicators of a TAXII POST (after
// stixfeed.Converter), for the intelligence pool.
type PoolPush struct {
	// Consumer is the consumer that pushed.
	Consumer string
	// Feed is the feed name the values carry in provenance (MISPSync: the
	// consumer's feed, "misp-<consumer>", or "taxii-<consumer>" for TAXII pushes
	// of consumers without a MISP sync entry).
	Feed string
	// Provider is misp.Provider for MISP sync pushes and "stix" for TAXII pushes.
	Provider string
	// Collection is where the push's objects were stored.
	Collection string
	// Batch holds the Observations and Warnings; its Objects are already stored
	// in Collection and are nil.
	Batch ingest.Batch
}

// PoolSink makes a push's observations durable in the pool (cmd: the ingest
// Runner, with the feed config named p.Feed). An error fails a MISP sync push
// (500, MISP retries; the event index is not advanced), and is logged for a
// TAXII push (whose objects are stored and acknowledged already).
type PoolSink func(ctx context.Context, p *PoolPush) error

// MISPError is an error answered in MISP's own JSON shape
// ({"name","message","url","errors"}) by the MISP sync endpoints, which MISP
// reads instead of TAXII error messages.
type MISPError struct {
	Status  int    // HTTP status
	Name    string // MISP's short error name
	Message string // what went wrong, naming the offending field
}

// Error returns the message.
func (e *MISPError) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Name + ": " + e.Message
}

// Messages MISP itself sends, which its sync code and operators recognise.
const (
	mispAuthFailed = "Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header."
	mispNotNewer   = "Event could not be saved: Event in the request not newer than the local copy."
)

// mispRoutes registers the MISP server-sync endpoints (reference/misp.md §2.5),
// each also with a ".json" suffix; CakePHP named parameters (metadata:1) are
// path segments after the fixed part:
//
//	GET  /servers/getVersion                     version echoed from the User-Agent, perm_sync, request_encoding
//	POST /servers/postTest                       the connection test's echo
//	GET  /users/view/me                          the consumer as MISP's remote sync user
//	POST /events/filterEventIdsForPush           uuids unknown or older in the consumer's collection
//	HEAD /events/view/{uuid}                     200 known, 404 unknown (GET: minimal event)
//	POST /events/add[/metadata:1]                store an event (upsert by uuid)
//	POST /events/edit/{uuid}[/metadata:1]        the same; 403 "not newer" for a stale event
//	POST /events/index                           [] (no proposals, no bulk sightings pass)
//	POST /sightings/filterSightingUuidsForPush/{uuid}, /sightings/bulkSaveSightings/{uuid}
//
// Authentication is the raw MISP key (auth.Authenticator.AuthenticateMISP,
// misp_key_env or misp_key_hash), mapped to the consumer's collection by
// Config.MISPSync; the collection must be writable by the consumer. Bodies may
// be gzip (Content-Encoding), bounded by MISPSync.MaxBody as sent and
// decompressed. Every error is MISP's JSON shape, never a TAXII error message.
func (s *Server) mispRoutes(e *echo.Echo) {
	add := func(method, path string, h echo.HandlerFunc) {
		e.Add(method, path, s.mispHandle(h))
		if !strings.HasSuffix(path, "*") {
			e.Add(method, path+".json", s.mispHandle(h))
		}
	}
	add(http.MethodGet, "/servers/getVersion", s.mispGetVersion)
	add(http.MethodPost, "/servers/postTest", s.mispPostTest)
	add(http.MethodGet, "/users/view/me", s.mispUserMe)
	add(http.MethodPost, "/events/filterEventIdsForPush", s.mispFilterEvents)
	add(http.MethodPost, "/events/index", s.mispEventIndex)
	add(http.MethodHead, "/events/view/*", s.mispEventView)
	add(http.MethodGet, "/events/view/*", s.mispEventView)
	add(http.MethodPost, "/events/add", s.mispAddEvent)
	add(http.MethodPost, "/events/add/*", s.mispAddEvent)
	add(http.MethodPost, "/events/edit/*", s.mispEditEvent)
	add(http.MethodPost, "/sightings/filterSightingUuidsForPush/*", s.mispFilterSightings)
	add(http.MethodPost, "/sightings/bulkSaveSightings/*", s.mispBulkSightings)
}

// mispTarget is the authenticated MISP instance of a request.
type mispTarget struct {
	consumer   *auth.Consumer
	collection string // "" when the consumer may not push
	feed       string
	denied     string // why it may not push
}

const ctxMISPKey = "ctibroker.misp"

func mispTargetOf(c echo.Context) *mispTarget { return c.Get(ctxMISPKey).(*mispTarget) }

// mispHandle authenticates with the raw MISP key, applies the rate limit, runs
// h and writes any error h returns in MISP's JSON shape (these routes never
// answer TAXII error messages).
func (s *Server) mispHandle(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := s.mispAuth(c)
		if err == nil {
			err = h(c)
		}
		if err != nil {
			s.mispError(c, err)
		}
		return nil
	}
}

func (s *Server) mispAuth(c echo.Context) error {
	st := cfgState(c)
	if !st.cfg.MISPSync.Enabled() {
		return &MISPError{Status: http.StatusNotFound, Name: "Not Found", Message: "MISP server sync is not configured on this ctibroker (misp_sync)"}
	}
	ma, ok := s.auth.Load().a.(MISPAuthenticator)
	if !ok {
		return &MISPError{Status: http.StatusForbidden, Name: mispAuthFailed, Message: "this server has no MISP key authentication configured"}
	}
	cons, err := ma.AuthenticateMISP(c.Request())
	switch {
	case errors.Is(err, auth.ErrTooManyAttempts):
		retry := 60
		if b, ok := ma.(interface{ BlockedFor(string) time.Duration }); ok {
			retry = max(1, int(math.Ceil(b.BlockedFor(s.ClientAddr(c.Request())).Seconds())))
		}
		c.Response().Header().Set("Retry-After", strconv.Itoa(retry))
		return &MISPError{Status: http.StatusTooManyRequests, Name: "Too many failed logins", Message: fmt.Sprintf("retry after %d s", retry)}
	case err != nil || cons == nil:
		reason := "no Authorization header"
		if err != nil && !errors.Is(err, auth.ErrNoCredentials) {
			reason = err.Error()
		}
		return &MISPError{Status: http.StatusForbidden, Name: mispAuthFailed, Message: reason}
	}
	c.Set(ctxConsumerKey, cons)
	c.SetRequest(c.Request().WithContext(auth.NewContext(c.Request().Context(), cons)))
	if ok, retry := st.limiter.allow("consumer:" + cons.Name); !ok {
		c.Response().Header().Set("Retry-After", strconv.Itoa(retry))
		return &MISPError{Status: http.StatusTooManyRequests, Name: "Too many requests",
			Message: fmt.Sprintf("more than %g requests per second; retry after %d s", st.cfg.RateLimit.RequestsPerSecond, retry)}
	}
	t := &mispTarget{consumer: cons}
	coll, feed, ok := st.cfg.MISPSync.target(cons.Name)
	var col *Collection
	for _, rs := range st.rootOrder {
		if x := rs.byID[coll]; x != nil {
			col = x
		}
	}
	switch {
	case !ok:
		t.denied = fmt.Sprintf("consumer %q has no collection in misp_sync", cons.Name)
	case col == nil:
		t.denied = fmt.Sprintf("misp_sync collection %s of consumer %q is not configured", coll, cons.Name)
	case !canWrite(cons, col):
		t.denied = fmt.Sprintf("consumer %q may not write collection %s (a writable stored collection and a write grant are needed)", cons.Name, coll)
	default:
		t.collection, t.feed = coll, feed
	}
	c.Set(ctxMISPKey, t)
	return nil
}

// mispError writes err as MISP JSON: a *MISPError with its status, the taxii
// sentinels with errorTable's status, anything else as a logged 500.
func (s *Server) mispError(c echo.Context, err error) {
	c.Set(ctxErrorKey, err)
	if c.Response().Committed {
		return
	}
	status, name, msg := http.StatusInternalServerError, "Internal Server Error", ""
	var me *MISPError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &me):
		status, name, msg = me.Status, me.Name, me.Message
	case errors.As(err, &mbe):
		status, name, msg = http.StatusRequestEntityTooLarge, "Payload Too Large", err.Error()
	default:
		matched := false
		for _, row := range errorTable {
			if errors.Is(err, row.target) {
				status, name, msg, matched = row.status, row.title, err.Error(), true
				break
			}
		}
		if !matched {
			msg = "the server could not complete the request; quote request id " + requestID(c) + " to the operator"
			s.log.LogAttrs(c.Request().Context(), slog.LevelError, "MISP sync request failed",
				slog.String("request_id", requestID(c)), slog.String("error", err.Error()),
				slog.String("path", c.Request().URL.Path))
		}
	}
	body := map[string]any{"name": name, "message": msg, "url": c.Request().URL.Path}
	if me != nil && me.Name == mispNotNewer {
		body["errors"] = mispNotNewer
	} else if msg != "" {
		body["errors"] = msg
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}

// readMISPBody reads the request body, decompressing Content-Encoding gzip,
// bounded by max both as sent and decompressed (a decompression bomb stops at
// max+1 bytes read). Other encodings are 415.
func readMISPBody(c echo.Context, max int64) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > max {
		return nil, &MISPError{Status: http.StatusRequestEntityTooLarge, Name: "Payload Too Large",
			Message: fmt.Sprintf("Content-Length %d exceeds misp_sync.max_body %d", r.ContentLength, max)}
	}
	var body io.Reader = http.MaxBytesReader(c.Response(), r.Body, max)
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get(echo.HeaderContentEncoding)))
	switch enc {
	case "", "identity":
	case "gzip", "x-gzip":
		gz, err := gzip.NewReader(body)
		if err != nil {
			return nil, &MISPError{Status: http.StatusBadRequest, Name: "Bad Request", Message: "Content-Encoding gzip: " + err.Error()}
		}
		defer gz.Close()
		body = gz
	default:
		return nil, &MISPError{Status: http.StatusUnsupportedMediaType, Name: "Unsupported Content-Encoding",
			Message: fmt.Sprintf("Content-Encoding %q: only gzip is supported (getVersion advertises it)", enc)}
	}
	b, err := io.ReadAll(io.LimitReader(body, max+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, &MISPError{Status: http.StatusRequestEntityTooLarge, Name: "Payload Too Large",
			Message: fmt.Sprintf("body exceeds misp_sync.max_body %d bytes", max)}
	case err != nil:
		return nil, &MISPError{Status: http.StatusBadRequest, Name: "Bad Request", Message: "reading the body: " + err.Error()}
	case int64(len(b)) > max:
		return nil, &MISPError{Status: http.StatusRequestEntityTooLarge, Name: "Payload Too Large",
			Message: fmt.Sprintf("decompressed body exceeds misp_sync.max_body %d bytes", max)}
	}
	return b, nil
}

// mispWrite answers v as JSON (MISP checks 2xx and a JSON body).
func mispWrite(c echo.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}

// mispPathArgs splits the path after the route's fixed part into its first
// segment (an event uuid or id, ".json" stripped) and the CakePHP named
// parameters (key:value segments, such as metadata:1).
func mispPathArgs(c echo.Context) (first string, named map[string]string) {
	named = map[string]string{}
	for i, p := range strings.Split(strings.Trim(c.Param("*"), "/"), "/") {
		p = strings.TrimSuffix(p, ".json")
		if k, v, ok := strings.Cut(p, ":"); ok {
			named[k] = v
			continue
		}
		if i == 0 {
			first = p
		}
	}
	return first, named
}

func looksLikeUUID(s string) bool { return len(s) == 36 && strings.Count(s, "-") == 4 }

// mispIndexKey is the MISPEventIndex key of an event in a collection: events
// are tracked per collection, so two consumers pushing the same event into
// different collections each get it.
func mispIndexKey(collection, eventUUID string) string {
	return collection + "/" + strings.ToLower(eventUUID)
}

// mispIndex returns the store's MISP event index, or a 500-class error.
func (s *Server) mispIndex() (storage.MISPEventIndex, error) {
	mi, ok := s.store.(storage.MISPEventIndex)
	if !ok {
		return nil, errors.New("the store does not implement storage.MISPEventIndex")
	}
	return mi, nil
}
