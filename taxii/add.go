package taxii

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// putBatch is how many valid objects are stored per PutObjects call.
const putBatch = 1000

// addObjects serves §5.5. The body is an envelope or a STIX bundle (stix2's
// TAXIICollectionSink posts one); other top-level keys are ignored. Objects are
// streamed, each validated on its own: bad ones are listed in the status
// failures with the reason, good ones stored byte-exact. Re-posting stored
// versions succeeds (§5.5). Processing is synchronous: the 202 carries a
// complete status, also readable at {api-root}/status/{id}/ by its owner.
func (s *Server) addObjects(c echo.Context) error {
	rs, col, err := collection(c)
	if err != nil {
		return err
	}
	cons := consumer(c)
	if cons.Anonymous {
		return fmt.Errorf("adding objects requires credentials: %w", ErrUnauthorized)
	}
	if !canWrite(cons, col) {
		return fmt.Errorf("collection %s is not writable by %q: %w", col.ID, cons.Name, ErrForbidden)
	}
	st := cfgState(c)
	lenient := st.cfg.LenientProfile()
	r := c.Request()
	if ct := r.Header.Get(echo.HeaderContentType); !postContentTypeOK(ct, lenient) {
		return fmt.Errorf("Content-Type %q: %w", ct, ErrUnsupportedMediaType)
	}
	if r.ContentLength > rs.MaxContentLength {
		return fmt.Errorf("Content-Length %d > max_content_length %d of API root %q: %w", r.ContentLength, rs.MaxContentLength, rs.Name, ErrTooLarge)
	}
	body := http.MaxBytesReader(c.Response(), r.Body, rs.MaxContentLength)
	start := s.now().UTC()
	status := &storage.Status{
		ID: uuid.NewString(), Status: "complete", RequestTimestamp: start,
		Owner: cons.Name, ExpiresAt: start.Add(st.cfg.StatusRetention),
	}
	var batch []stix.RawObject
	var batchDetails []storage.StatusDetails
	flush := func() {
		if len(batch) == 0 {
			return
		}
		res, err := s.store.PutObjects(r.Context(), col.ID, batch)
		if err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelError, "storing posted objects failed",
				slog.String("request_id", requestID(c)), slog.String("collection", col.ID), slog.String("error", err.Error()))
			for _, d := range batchDetails {
				d.Message = "not stored: server error " + requestID(c) + "; post it again"
				status.Failures = append(status.Failures, d)
			}
		} else {
			added := map[string]int{}
			for _, id := range res.AddedIDs {
				added[id]++
			}
			for _, d := range batchDetails {
				if added[d.ID] > 0 {
					added[d.ID]--
				} else {
					d.Message = "already in the collection"
				}
				status.Successes = append(status.Successes, d)
			}
			s.metrics.added.WithLabelValues(col.ID).Add(float64(res.Added))
		}
		batch, batchDetails = batch[:0], batchDetails[:0]
	}
	err = decodeEnvelope(body, func(raw json.RawMessage) {
		obj, d, verr := s.checkObject(raw, lenient, formatTAXIITime(start))
		if verr != nil {
			d.Message = verr.Error()
			status.Failures = append(status.Failures, d)
			return
		}
		batch = append(batch, *obj)
		batchDetails = append(batchDetails, d)
		if len(batch) >= putBatch {
			flush()
		}
	})
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("body larger than max_content_length %d of API root %q: %w", rs.MaxContentLength, rs.Name, ErrTooLarge)
		}
		if status.SuccessCount = len(status.Successes); status.SuccessCount > 0 {
			// objects already stored stay stored; the client may re-post (idempotent)
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "posted body broke off after objects were stored",
				slog.String("request_id", requestID(c)), slog.Int("stored", status.SuccessCount))
		}
		return err
	}
	flush()
	status.SuccessCount = len(status.Successes)
	status.FailureCount = len(status.Failures)
	status.TotalCount = status.SuccessCount + status.FailureCount
	s.metrics.rejected.WithLabelValues(col.ID).Add(float64(status.FailureCount))
	if err := s.store.PutStatus(r.Context(), status); err != nil {
		return fmt.Errorf("saving status: %w", err)
	}
	_ = s.audit.Log(auth.AuditEvent{
		Event: auth.EventObjectsAdded, Consumer: cons.Name, Remote: clientIP(c), RequestID: requestID(c),
		Detail: "collection=" + col.ID + " status=" + status.ID + " total=" + strconv.Itoa(status.TotalCount) +
			" succeeded=" + strconv.Itoa(status.SuccessCount) + " failed=" + strconv.Itoa(status.FailureCount),
	})
	return writeJSON(c, http.StatusAccepted, toStatusResource(status))
}

// checkObject parses one posted object and validates it. The returned details
// name the object even when it is refused.
func (s *Server) checkObject(raw json.RawMessage, lenient bool, fallbackVersion string) (*stix.RawObject, storage.StatusDetails, error) {
	var head struct {
		ID       any `json:"id"`
		Created  any `json:"created"`
		Modified any `json:"modified"`
	}
	d := storage.StatusDetails{ID: "unknown", Version: fallbackVersion}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, d, fmt.Errorf("not a JSON object")
	}
	if id, ok := head.ID.(string); ok && id != "" {
		d.ID = id
	}
	if v, ok := head.Modified.(string); ok {
		d.Version = v
	} else if v, ok := head.Created.(string); ok {
		d.Version = v
	}
	if len(raw) > MaxObjectSize {
		return nil, d, fmt.Errorf("object of %d bytes exceeds the %d-byte limit", len(raw), MaxObjectSize)
	}
	if depth := jsonDepth(raw); depth > MaxJSONDepth {
		return nil, d, fmt.Errorf("JSON nesting depth %d exceeds %d", depth, MaxJSONDepth)
	}
	obj := &stix.RawObject{JSON: raw}
	if err := json.Unmarshal(raw, &obj.Common); err != nil {
		return nil, d, fmt.Errorf("common properties: %v", err)
	}
	if err := s.validate(obj, lenient); err != nil {
		return nil, d, err
	}
	return obj, d, nil
}

// decodeEnvelope streams the objects of an envelope (§3.7) or bundle body,
// calling fn with each object's exact bytes. A body that is not JSON, not an
// object, or whose "objects" is not a list is ErrUnprocessable.
func decodeEnvelope(r io.Reader, fn func(json.RawMessage)) error {
	dec := json.NewDecoder(r)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("body: "+format+": %w", append(args, ErrUnprocessable)...)
	}
	wrap := func(err error) error {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return bad("invalid JSON at byte %d: %v", dec.InputOffset(), err)
	}
	tok, err := dec.Token()
	if err != nil {
		return wrap(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return bad("want a TAXII envelope object {\"objects\":[...]}")
	}
	seen, bareType := false, ""
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return wrap(err)
		}
		key, _ := tok.(string)
		if key != "objects" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return wrap(err)
			}
			if key == "type" && string(skip) != `"bundle"` {
				bareType = string(skip)
			}
			continue
		}
		if seen {
			return bad("\"objects\" given twice")
		}
		seen = true
		tok, err = dec.Token()
		if err != nil {
			return wrap(err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			if tok == nil {
				continue // "objects": null — an empty envelope
			}
			return bad("\"objects\" must be a list")
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return wrap(err)
			}
			fn(raw)
		}
		if _, err := dec.Token(); err != nil {
			return wrap(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return wrap(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("trailing data after the envelope")
	}
	if !seen && bareType != "" {
		return bad("a single STIX object of type %s, not an envelope; wrap it: {\"objects\":[...]}", bareType)
	}
	return nil
}
