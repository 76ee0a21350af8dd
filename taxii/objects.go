package taxii

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// Response headers of the paged endpoints (§3.2).
const (
	HeaderDateAddedFirst = "X-TAXII-Date-Added-First"
	HeaderDateAddedLast  = "X-TAXII-Date-Added-Last"
)

// readable resolves the collection for a read: invisible → 404 (anonymous:
// 401), visible but not readable (write-only) → 403 (§5.3–§5.8).
func readable(c echo.Context) (*rootState, *Collection, error) {
	rs, col, err := collection(c)
	if err != nil {
		return nil, nil, err
	}
	if !canRead(consumer(c), col) {
		return nil, nil, fmt.Errorf("collection %s is not readable by %q: %w", col.ID, consumer(c).Name, ErrForbidden)
	}
	return rs, col, nil
}

// pagedQuery parses the query of ep and opens its cursor, if any. With a
// verified `next`, added_after is ignored: `next` wins (taxii.md item 81).
func (s *Server) pagedQuery(c echo.Context, rs *rootState, col *Collection, ep endpoint, objectID string) (*query, cursorScope, error) {
	q, err := parseQuery(c.QueryParams(), ep, &rs.APIRoot)
	if err != nil {
		return nil, cursorScope{}, err
	}
	scope := cursorScope{collection: col.ID, ep: ep, objectID: objectID, q: q, consumer: consumer(c).Name}
	if q.next != "" {
		pos, err := openCursor(s.cursorKey, scope, q.next)
		if err != nil {
			return nil, cursorScope{}, err
		}
		q.filter.Next = pos
		q.filter.AddedAfter = time.Time{}
	}
	return q, scope, nil
}

// objectParam validates :object (§5.6: a STIX id); anything else cannot exist.
func objectParam(c echo.Context) (string, error) {
	id := c.Param("object")
	if !stixIDRE.MatchString(id) {
		return "", fmt.Errorf("object %q: not a STIX identifier: %w", id, ErrNotFound)
	}
	return id, nil
}

// readRequest is what every read endpoint resolves, in this order, before it
// asks the store: the readable collection, the object id (per-object endpoints),
// the validated query with its cursor scope, and the physical collection (the
// consumer's curation tier, or the collection itself).
type readRequest struct {
	col   *Collection
	id    string
	q     *query
	scope cursorScope
	phys  string
}

func (s *Server) readRequest(c echo.Context, ep endpoint, perObject bool) (*readRequest, error) {
	rs, col, err := readable(c)
	if err != nil {
		return nil, err
	}
	r := &readRequest{col: col}
	if perObject {
		if r.id, err = objectParam(c); err != nil {
			return nil, err
		}
	}
	if r.q, r.scope, err = s.pagedQuery(c, rs, col, ep, r.id); err != nil {
		return nil, err
	}
	if r.phys, err = s.physical(c.Request().Context(), consumer(c), col); err != nil {
		return nil, err
	}
	return r, nil
}

// objectScanner is a store that hands out a page's stored bytes without
// building records (storage/bolt.Store.ScanObjects): fn gets each record's
// date_added and bytes in page order, valid only during the call, and returns
// false to end the page after it. Without it getObjects builds the envelope
// from QueryObjects' records, one more copy and a few allocations a record.
type objectScanner interface {
	ScanObjects(ctx context.Context, collection string, f storage.Filter, fn func(dateAdded time.Time, json []byte) bool) (*storage.Page, error)
}

// getObjects serves §5.4: an envelope spliced from the stored bytes.
func (s *Server) getObjects(c echo.Context) error {
	r, err := s.readRequest(c, epObjects, false)
	if err != nil {
		return err
	}
	if sc, ok := s.store.(objectScanner); ok {
		return s.scanEnvelope(c, sc, r)
	}
	col, q, scope := r.col, r.q, r.scope
	page, err := s.store.QueryObjects(c.Request().Context(), r.phys, q.filter)
	if err != nil {
		return err
	}
	s.polled(consumer(c), col, len(page.Records))
	return s.writeEnvelope(c, q, scope, page)
}

// Page buffers. A page is built whole in one buffer while the store's read
// transaction is open, and written after it is closed, so a slow client never
// holds a transaction (which would hold up the writer's remaps of the file).
// pageBytes caps a page's objects: the page ends after the object that reaches
// it, with more set (§3.4.3 lets a server return fewer than limit). Up to
// keptPages buffers of at most maxKeptPage bytes (a default page of 1000
// objects of up to about 1.5 KB) are kept for reuse, 16 MiB at most: a free
// list rather than a sync.Pool, which drops them at every collection and makes
// each page regrow its megabyte. Other buffers go to the collector.
const (
	pageBytes   = MaxObjectSize
	maxKeptPage = 2 << 20
	keptPages   = 8
	// headRoom is kept free at the front of a page buffer for the envelope's
	// head ({"more":true,"next":"…","objects":[), written there once the page is
	// known, so the response is one contiguous write.
	headRoom = 512
)

var pageBuffers = make(chan []byte, keptPages)

func getPageBuffer() []byte {
	select {
	case b := <-pageBuffers:
		return b[:0]
	default:
		return make([]byte, 0, 64<<10)
	}
}

func putPageBuffer(b []byte) {
	if cap(b) > maxKeptPage {
		return
	}
	select {
	case pageBuffers <- b:
	default:
	}
}

// scanEnvelope serves getObjects from an objectScanner: the stored bytes are
// copied once, from the store's memory map into a pooled buffer, and the
// response is written with a Content-Length in one write.
func (s *Server) scanEnvelope(c echo.Context, sc objectScanner, r *readRequest) error {
	b := getPageBuffer()
	defer func() { putPageBuffer(b) }()
	b = append(b, make([]byte, headRoom)...) // no allocation: appending zeroes
	var first, last time.Time
	n := 0
	page, err := sc.ScanObjects(c.Request().Context(), r.phys, r.q.filter, func(da time.Time, js []byte) bool {
		if n == 0 {
			first = da
		} else {
			b = append(b, ',')
		}
		b = append(b, js...)
		last = da
		n++
		return len(b)-headRoom < pageBytes
	})
	if err != nil {
		return err
	}
	s.polled(consumer(c), r.col, n)
	var next string
	if page.More && page.Next != "" {
		next = sealCursor(s.cursorKey, r.scope, page.Next)
	}
	var hb [headRoom]byte
	head := envelopeHead(hb[:0], page.More, next, n, "objects")
	if n > 0 {
		b = append(b, ']', '}')
	} else {
		b = append(b[:headRoom], '}')
	}
	body := b[headRoom:]
	h := c.Response().Header()
	pageHeaders(h, r.q, n, first, last)
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(head)+len(body)))
	c.Response().WriteHeader(http.StatusOK)
	if len(head) <= headRoom {
		out := b[headRoom-len(head):]
		copy(out, head)
		_, err = c.Response().Write(out)
		return err
	}
	if _, err := c.Response().Write(head); err != nil {
		return err
	}
	_, err = c.Response().Write(body)
	return err
}

// getObject serves §5.6: the versions of one object (default: the last).
func (s *Server) getObject(c echo.Context) error {
	r, err := s.readRequest(c, epObject, true)
	if err != nil {
		return err
	}
	col, q, scope := r.col, r.q, r.scope
	page, err := s.store.GetObject(c.Request().Context(), r.phys, r.id, q.filter)
	if err != nil {
		return err
	}
	s.metrics.served.WithLabelValues(col.ID).Add(float64(len(page.Records)))
	return s.writeEnvelope(c, q, scope, page)
}

// getManifest serves §5.3 (with `next`, which taxii2-client's as_pages needs).
func (s *Server) getManifest(c echo.Context) error {
	r, err := s.readRequest(c, epManifest, false)
	if err != nil {
		return err
	}
	col, q, scope := r.col, r.q, r.scope
	page, err := s.store.QueryManifest(c.Request().Context(), r.phys, q.filter)
	if err != nil {
		return err
	}
	s.polled(consumer(c), col, len(page.Records))
	return s.writePaged(c, q, scope, page, "objects", func(w *bufio.Writer, r *storage.Record) {
		w.WriteString(`{"id":`)
		writeJSONString(w, r.ID)
		w.WriteString(`,"date_added":"`)
		w.WriteString(formatTAXIITime(r.DateAdded))
		w.WriteString(`","version":"`)
		w.WriteString(formatSTIXTime(r.Version))
		w.WriteString(`","media_type":`)
		spec := r.SpecVersion
		if spec == "" {
			spec = "2.1"
		}
		writeJSONString(w, "application/stix+json;version="+spec)
		w.WriteByte('}')
	})
}

// getVersions serves §5.8: the version strings of one object.
func (s *Server) getVersions(c echo.Context) error {
	r, err := s.readRequest(c, epVersions, true)
	if err != nil {
		return err
	}
	page, err := s.store.ListVersions(c.Request().Context(), r.phys, r.id, r.q.filter)
	if err != nil {
		return err
	}
	return s.writePaged(c, r.q, r.scope, page, "versions", func(w *bufio.Writer, r *storage.Record) {
		w.WriteByte('"')
		w.WriteString(formatSTIXTime(r.Version))
		w.WriteByte('"')
	})
}

// deleteObject serves §5.7 with its permission matrix: read and write → delete;
// read xor write → 403; neither → 404 (collection()).
func (s *Server) deleteObject(c echo.Context) error {
	_, col, err := collection(c)
	if err != nil {
		return err
	}
	cons := consumer(c)
	if !canRead(cons, col) || !canWrite(cons, col) {
		return fmt.Errorf("deleting from collection %s needs read and write access: %w", col.ID, ErrForbidden)
	}
	id, err := objectParam(c)
	if err != nil {
		return err
	}
	q, err := parseQuery(c.QueryParams(), epDelete, &cfgState(c).roots[col.APIRoot].APIRoot)
	if err != nil {
		return err
	}
	n, err := s.store.DeleteObject(c.Request().Context(), col.ID, id, q.filter)
	if err != nil {
		return err
	}
	_ = s.audit.Log(auth.AuditEvent{
		Event: auth.EventObjectDeleted, Consumer: cons.Name, Remote: clientIP(c), RequestID: requestID(c),
		Detail: fmt.Sprintf("collection=%s object=%s versions=%d query=%s", col.ID, id, n, c.QueryString()),
	})
	c.Response().Header().Set(echo.HeaderContentType, MediaTypeTAXII)
	return c.NoContent(http.StatusOK)
}

func clientIP(c echo.Context) string {
	if v, ok := c.Get(ctxClientIPKey).(interface{ String() string }); ok {
		return v.String()
	}
	return ""
}

// polled records an objects or manifest read in the metrics.
func (s *Server) polled(cons *auth.Consumer, col *Collection, n int) {
	s.metrics.served.WithLabelValues(col.ID).Add(float64(n))
	s.metrics.lastPoll.WithLabelValues(cons.Name).Set(float64(s.now().UnixMicro()) / 1e6)
}

// writeEnvelope writes an envelope (§3.7) whose objects are the stored bytes.
func (s *Server) writeEnvelope(c echo.Context, q *query, scope cursorScope, page *storage.Page) error {
	return s.writePaged(c, q, scope, page, "objects", func(w *bufio.Writer, r *storage.Record) {
		w.Write(r.JSON)
	})
}

var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

// writePaged writes a paged resource {"more":…,"next":…,"<key>":[…]} streaming
// the items, with the X-TAXII-Date-Added-First/Last headers (§3.2). An empty
// page with nothing more is {} (§3.7: never "objects": []). On an empty page
// the headers echo added_after when it was given and are omitted otherwise.
func (s *Server) writePaged(c echo.Context, q *query, scope cursorScope, page *storage.Page, key string, item func(*bufio.Writer, *storage.Record)) error {
	n := len(page.Records)
	var first, last time.Time
	if n > 0 {
		first, last = page.Records[0].DateAdded, page.Records[n-1].DateAdded
	}
	pageHeaders(c.Response().Header(), q, n, first, last)
	c.Response().WriteHeader(http.StatusOK)
	w := writerPool.Get().(*bufio.Writer)
	w.Reset(c.Response())
	defer func() { w.Reset(nil); writerPool.Put(w) }()
	var next string
	if page.More && page.Next != "" {
		next = sealCursor(s.cursorKey, scope, page.Next)
	}
	var hb [headRoom]byte
	w.Write(envelopeHead(hb[:0], page.More, next, n, key))
	if n == 0 {
		w.WriteByte('}')
		return w.Flush()
	}
	for i := range page.Records {
		if i > 0 {
			w.WriteByte(',')
		}
		item(w, &page.Records[i])
	}
	w.WriteString("]}")
	return w.Flush()
}

// pageHeaders sets the content type and the X-TAXII-Date-Added-First/Last
// headers of a page of n records added from first to last (§3.2).
func pageHeaders(h http.Header, q *query, n int, first, last time.Time) {
	h.Set(echo.HeaderContentType, MediaTypeTAXII)
	if n > 0 {
		h.Set(HeaderDateAddedFirst, formatTAXIITime(first))
		h.Set(HeaderDateAddedLast, formatTAXIITime(last))
	} else if !q.addedAfter.IsZero() {
		h.Set(HeaderDateAddedFirst, formatTAXIITime(q.addedAfter))
		h.Set(HeaderDateAddedLast, formatTAXIITime(q.addedAfter))
	}
}

// envelopeHead appends to dst the front of a paged resource of n items up to
// its list's opening bracket: {"more":true,"next":"…","<key>":[ — or, with
// no items, up to where the closing brace goes ({ or {"more":true,…).
// next is the sealed cursor ("" for none).
func envelopeHead(dst []byte, more bool, next string, n int, key string) []byte {
	dst = append(dst, '{')
	switch {
	case more:
		dst = append(dst, `"more":true`...)
		if next != "" {
			dst = append(dst, `,"next":"`...)
			dst = append(dst, next...)
			dst = append(dst, '"')
		}
	case n > 0:
		dst = append(dst, `"more":false`...)
	}
	if n > 0 {
		dst = append(dst, `,"`...)
		dst = append(dst, key...)
		dst = append(dst, `":[`...)
	}
	return dst
}

// writeJSONString writes s as a JSON string.
func writeJSONString(w *bufio.Writer, s string) {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == '"' || b == '\\' || b >= 0x80 {
			q, _ := json.Marshal(s)
			w.Write(q)
			return
		}
	}
	w.WriteByte('"')
	w.WriteString(s)
	w.WriteByte('"')
}

// formatSTIXTime formats an object version as a STIX timestamp: milliseconds,
// or the finer precision the version carries.
func formatSTIXTime(t time.Time) string {
	t = t.UTC()
	switch {
	case t.Nanosecond()%int(time.Millisecond) == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case t.Nanosecond()%int(time.Microsecond) == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	}
	return t.Format("2006-01-02T15:04:05." + "000000000" + "Z")
}
