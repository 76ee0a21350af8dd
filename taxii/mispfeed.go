package taxii

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// MISP feed defaults (MISPFeed).
const (
	// DefaultMISPFeedCacheBytes bounds the built feeds kept in memory.
	DefaultMISPFeedCacheBytes = 256 << 20
	// DefaultMISPFeedMaxObjects bounds the collection a MISP feed is built
	// from: a build holds the collection's objects and their events in memory
	// (about 4 KB per object at 100 000).
	DefaultMISPFeedMaxObjects = 250_000
	// DefaultMISPFeedMaxAge is how long a built feed is served while its
	// collection does not change; after it the feed is built again, so that
	// indicators whose valid_until passed become deleted attributes.
	DefaultMISPFeedMaxAge = time.Hour
)

// mispFeedPage is the store query size of a feed build.
const mispFeedPage = 5000

// MISPFeed configures the MISP feeds of collections (Deps.MISPFeed,
// reference/misp.md §3.1). The zero value turns the feeds off: every feed URL
// answers 404.
type MISPFeed struct {
	// Org is the Orgc and Org of every event: the instance identity (its name,
	// and the UUID of its identity id). An empty UUID turns the feeds off.
	Org misp.Org
	// MaxAttributes caps the attributes of one event
	// (misp.ExportOptions.MaxAttributes); 0: misp.DefaultMaxAttributes.
	MaxAttributes int
	// Native returns the MISP type and category a MISP feed reported for a
	// value (misp.ExportOptions.Native); nil: the defaults of the pattern.
	Native func(kind, value string) (attrType, category string, ok bool)
	// Grouping is misp.ExportOptions.Grouping for the objects outside any
	// report or grouping: "" (misp.GroupCollection, one event per UTC day of
	// date_added and TLP) or misp.GroupSingle.
	Grouping string
	// TLP returns the TLP of a value from its reports, for SCOs, which carry
	// no marking (misp.ExportOptions.TLP, misp.ProvenanceTLP); nil: none.
	// Whatever level Export gives an event or attribute, the consumer's
	// max_tlp caps what is served (misp.CapTLP).
	TLP func(kind, value string) (stix.TLP, bool)
	// Lookup returns an object the collection references but does not hold
	// (ATT&CK objects kept elsewhere), for galaxy clusters
	// (misp.ExportOptions.Lookup); nil: none.
	Lookup func(id string) (stix.RawObject, bool)
	// CacheBytes bounds the memory of the built feeds kept (least recently
	// used first out); 0: DefaultMISPFeedCacheBytes. The feed a request has
	// just built is always kept, so the bound is the larger of CacheBytes and
	// the largest feed.
	CacheBytes int64
	// MaxAge is how long a built feed is served while its collection is
	// unchanged; 0: DefaultMISPFeedMaxAge.
	MaxAge time.Duration
	// MaxObjects is the largest collection (object versions stored) served
	// as a MISP feed; a larger one answers 422 naming the limit, rather than
	// building gigabytes in memory. 0: DefaultMISPFeedMaxObjects.
	MaxObjects int64
}

// mispFeedRoutes registers the MISP feed of every collection (misp.md §3.1).
// MISP's feed URL is the base URL; it appends the file names:
//
//	GET /{root}/collections/{id|alias}/misp/manifest.json   events by uuid, strong ETag, 304 on If-None-Match
//	GET /{root}/collections/{id|alias}/misp/{uuid}.json     one event, {"Event": {...}}
//	GET /{root}/collections/{id|alias}/misp/hashes.csv      md5(value),event_uuid per line
//
// Authentication is the TAXII one (Authorization: Basic, Token or Bearer,
// which MISP sends as a feed's custom header), and so are the access rules of
// the objects endpoint: an invisible collection is 404, a visible one the
// consumer may not read 403. A curated collection is served in the
// consumer's tier (curated.go), so its share level and TLP apply; from a
// stored collection the objects whose TLP marking exceeds the consumer's
// max_tlp are left out. An event's manifest timestamp moves forward whenever
// its content changes (mispfeed_stamp.go), so MISP fetches it again. Answers
// are application/json (text/csv for hashes.csv); errors are JSON
// {"name","message","url","request_id"} MISP can show, never TAXII error
// messages.
func (s *Server) mispFeedRoutes(e *echo.Echo) {
	base := "/:root/collections/:collection/misp/"
	e.GET(base+"manifest.json", s.mispFeedHandle(s.mispFeedManifest))
	e.GET(base+"hashes.csv", s.mispFeedHandle(s.mispFeedHashes))
	e.GET(base+":event", s.mispFeedHandle(s.mispFeedEvent))
}

// mispFeedHandle authenticates like the TAXII routes and writes any error as
// MISP-style JSON.
func (s *Server) mispFeedHandle(h echo.HandlerFunc) echo.HandlerFunc {
	inner := s.authenticate(h)
	return func(c echo.Context) error {
		if err := inner(c); err != nil {
			s.mispFeedError(c, err)
		}
		return nil
	}
}

// mispFeedError writes err with errorTable's status as {"name","message",
// "url","request_id"}; 5xx are logged once with the request id.
func (s *Server) mispFeedError(c echo.Context, err error) {
	c.Set(ctxErrorKey, err)
	if c.Response().Committed {
		return
	}
	status, te := toError(err)
	if status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", s.challenge())
	}
	if status >= 500 {
		s.log.LogAttrs(c.Request().Context(), slog.LevelError, "MISP feed request failed",
			slog.String("request_id", requestID(c)), slog.String("error", err.Error()),
			slog.String("path", c.Request().URL.Path))
	}
	_ = c.JSON(status, map[string]string{
		"name": te.Title, "message": te.Description, "url": c.Request().URL.Path, "request_id": requestID(c),
	})
}

// mispFeedFor resolves the collection like the objects endpoint and returns
// its feed as the consumer may see it, built or from the cache.
func (s *Server) mispFeedFor(c echo.Context) (*builtFeed, error) {
	if s.mispFeed == nil || s.mispFeed.cfg.Org.UUID == "" {
		return nil, fmt.Errorf("MISP feeds are not enabled on this server (no instance organisation): %w", ErrNotFound)
	}
	_, col, err := readable(c)
	if err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	cons := consumer(c)
	phys, err := s.physical(ctx, cons, col)
	if err != nil {
		return nil, err
	}
	info, err := s.store.CollectionInfo(ctx, phys)
	if err != nil {
		return nil, err
	}
	limit := s.mispFeed.cfg.MaxObjects
	if limit <= 0 {
		limit = DefaultMISPFeedMaxObjects
	}
	if info.Count > limit {
		return nil, fmt.Errorf("collection %s holds %d object versions, more than the %d a MISP feed is built from (misp_feed.max_objects); serve a narrower curated collection as a MISP feed, or raise the limit: %w",
			col.ID, info.Count, limit, ErrUnprocessable)
	}
	maxTLP := curation.LimitsOf(cons).MaxTLP
	key := feedKey{phys: phys, maxTLP: maxTLP}
	mark := feedMark{lastAdded: info.LastAdded, count: info.Count}
	feed, err := s.mispFeed.cache.get(ctx, key, mark, s.now(), func(ctx context.Context) (*builtFeed, error) {
		return s.buildMISPFeed(ctx, col.ID, phys, maxTLP, info.Count)
	})
	if err != nil {
		return nil, err
	}
	s.polled(cons, col, 0)
	return feed, nil
}

// mispFeedManifest serves manifest.json with a strong ETag (the SHA-256 of its
// bytes) and 304 for a matching If-None-Match.
func (s *Server) mispFeedManifest(c echo.Context) error {
	feed, err := s.mispFeedFor(c)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("ETag", feed.etag)
	h.Set("Cache-Control", "no-cache")
	if etagMatches(c.Request().Header.Get("If-None-Match"), feed.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, feed.manifest)
}

// mispFeedEvent serves <uuid>.json; an event the manifest does not list is 404.
func (s *Server) mispFeedEvent(c echo.Context) error {
	name := c.Param("event")
	id, ok := strings.CutSuffix(name, ".json")
	if !ok || !looksLikeUUID(id) {
		return fmt.Errorf("%q: a MISP feed serves manifest.json, hashes.csv and <event uuid>.json: %w", name, ErrNotFound)
	}
	feed, err := s.mispFeedFor(c)
	if err != nil {
		return err
	}
	b, ok := feed.events[strings.ToLower(id)]
	if !ok {
		return fmt.Errorf("event %s is not in this feed: %w", id, ErrNotFound)
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}

// mispFeedHashes serves hashes.csv.
func (s *Server) mispFeedHashes(c echo.Context) error {
	feed, err := s.mispFeedFor(c)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", feed.hashes)
}

// etagMatches reports whether an If-None-Match value lists etag (RFC 9110
// §13.1.2: weak comparison, "*" matches).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// buildMISPFeed reads the latest version of every object of phys, drops those
// marked above maxTLP, and converts them with misp.Export. collection (the
// configured id, also for a tier) seeds the uuids of grouped events; count
// (the collection's advisory count) sizes the buffers.
func (s *Server) buildMISPFeed(ctx context.Context, collection, phys string, maxTLP stix.TLP, count int64) (*builtFeed, error) {
	start := time.Now()
	hint := int(min(max(count, 0), 1<<20))
	objs := make([]stix.RawObject, 0, hint)
	added := make(map[string]time.Time, hint)
	dropped := 0
	f := storage.Filter{Limit: mispFeedPage}
	for {
		page, err := s.store.QueryObjects(ctx, phys, f)
		if err != nil {
			return nil, err
		}
		for i := range page.Records {
			r := &page.Records[i]
			tlp, err := stix.MarkedTLP(r.JSON)
			if err != nil {
				s.log.Warn("MISP feed: stored object skipped", "collection", collection, "id", r.ID, "error", err)
				continue
			}
			if tlp > maxTLP {
				dropped++
				continue
			}
			// misp.Export reads the common properties from the bytes when
			// Common carries only type and id: no second decode here
			objs = append(objs, stix.RawObject{Common: stix.Common{Type: r.Type, ID: r.ID}, JSON: r.JSON})
			added[r.ID] = r.DateAdded
		}
		if !page.More {
			break
		}
		f.Next = page.Next
	}
	cfg := s.mispFeed.cfg
	events, warns, err := misp.Export(objs, misp.ExportOptions{
		Org: cfg.Org, MaxAttributes: cfg.MaxAttributes, Now: s.now(), Native: cfg.Native, Collection: collection,
		Grouping: cfg.Grouping, Lookup: cfg.Lookup, TLP: cfg.TLP,
		Added: func(id string) (time.Time, bool) { t, ok := added[id]; return t, ok },
	})
	if err != nil {
		return nil, fmt.Errorf("MISP feed of collection %s: %w", collection, err)
	}
	events, capped := misp.CapTLP(events, maxTLP)
	if err := s.stampEvents(ctx, feedKey{phys: phys, maxTLP: maxTLP}, events, s.now()); err != nil {
		return nil, err
	}
	feed := &builtFeed{events: make(map[string][]byte, len(events)), objects: len(objs)}
	if feed.manifest, err = json.Marshal(misp.FeedManifest(events)); err != nil {
		return nil, fmt.Errorf("MISP feed of collection %s: manifest: %w", collection, err)
	}
	sum := sha256.Sum256(feed.manifest)
	feed.etag = `"` + hex.EncodeToString(sum[:16]) + `"`
	feed.size = int64(len(feed.manifest))
	for i := range events {
		b, err := misp.MarshalFeedEvent(&events[i])
		if err != nil {
			return nil, fmt.Errorf("MISP feed of collection %s: event %s: %w", collection, events[i].UUID, err)
		}
		feed.events[strings.ToLower(events[i].UUID)] = b
		feed.size += int64(len(b)) + 64
	}
	var hb bytes.Buffer
	if err := misp.WriteHashesCSV(&hb, events); err != nil {
		return nil, fmt.Errorf("MISP feed of collection %s: hashes.csv: %w", collection, err)
	}
	feed.hashes = hb.Bytes()
	feed.size += int64(len(feed.hashes))
	s.log.Info("MISP feed built", "collection", collection, "store_collection", phys, "objects", len(objs),
		"dropped_tlp", dropped, "capped_tlp", capped, "events", len(events), "warnings", len(warns), "bytes", feed.size,
		"duration", time.Since(start))
	return feed, nil
}
