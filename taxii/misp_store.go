package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/stixfeed"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// putVersioned stores the objects ctibroker converted from a MISP event in
// collection, in one PutObjects (all or none), versioned by content against the
// last stored version of each id: an unchanged object (apart from modified) is
// not written again, so a re-push stores nothing; a changed one keeps its first
// created and gets a modified after the stored one; SCOs and marking
// definitions, which have no versions, are written once. Each object written
// passes the server's validator (lenient profile) first; one that fails refuses
// the whole event (ErrUnprocessable). It returns how many objects it wrote.
func (s *Server) putVersioned(ctx context.Context, collection string, objs []stix.Object) (int, error) {
	if len(objs) == 0 {
		return 0, nil
	}
	ids := make([]string, 0, len(objs))
	for _, o := range objs {
		ids = append(ids, o.Base().ID)
	}
	last, err := s.lastVersions(ctx, collection, ids)
	if err != nil {
		return 0, err
	}
	write := make([]stix.RawObject, 0, len(objs))
	for _, o := range objs {
		c := o.Base()
		b, err := json.Marshal(o)
		if err != nil {
			return 0, fmt.Errorf("object %s: %w", c.ID, err)
		}
		prev, exists := last[c.ID]
		switch {
		case !exists:
		case bytes.Equal(prev.JSON, b):
			continue
		case c.Modified == nil:
			continue // SCOs and marking definitions: one version only
		default:
			same, err := sameExceptModified(prev.JSON, b)
			if err != nil {
				return 0, fmt.Errorf("stored %s: %w", c.ID, err)
			}
			if same {
				continue
			}
			var pc struct {
				Created  *stix.Timestamp `json:"created"`
				Modified *stix.Timestamp `json:"modified"`
			}
			if err := json.Unmarshal(prev.JSON, &pc); err != nil {
				return 0, fmt.Errorf("stored %s: %w", c.ID, err)
			}
			if pc.Created != nil {
				c.Created = pc.Created
			}
			if pc.Modified != nil && !c.Modified.After(pc.Modified.Time) {
				c.Modified = &stix.Timestamp{Time: pc.Modified.Add(time.Millisecond)}
			}
			if b, err = json.Marshal(o); err != nil {
				return 0, fmt.Errorf("object %s: %w", c.ID, err)
			}
		}
		raw := stix.RawObject{JSON: b}
		if err := json.Unmarshal(b, &raw.Common); err != nil {
			return 0, fmt.Errorf("object %s: %w", c.ID, err)
		}
		if err := s.validate(&raw, true); err != nil {
			return 0, fmt.Errorf("the event converts into an invalid %s: %v; nothing stored: %w", c.ID, err, ErrUnprocessable)
		}
		write = append(write, raw)
		last[c.ID] = storage.Record{ID: c.ID, JSON: b}
	}
	if len(write) == 0 {
		return 0, nil
	}
	res, err := s.store.PutObjects(ctx, collection, write)
	if err != nil {
		return 0, fmt.Errorf("store objects in %s: %w", collection, err)
	}
	return res.Added, nil
}

// lastVersions returns the last stored version of each id present in collection.
func (s *Server) lastVersions(ctx context.Context, collection string, ids []string) (map[string]storage.Record, error) {
	out := make(map[string]storage.Record, len(ids))
	const chunk = 256
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		f := storage.Filter{IDs: part, Versions: []string{storage.VersionLast}, Limit: len(part)}
		for {
			page, err := s.store.QueryObjects(ctx, collection, f)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", collection, err)
			}
			for _, rec := range page.Records {
				out[rec.ID] = rec
			}
			if !page.More || page.Next == "" {
				break
			}
			f.Next = page.Next
		}
	}
	return out, nil
}

// sameExceptModified reports whether two serialisations of one object differ
// at most in modified.
func sameExceptModified(a, b []byte) (bool, error) {
	var ma, mb map[string]any
	if err := json.Unmarshal(a, &ma); err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, &mb); err != nil {
		return false, err
	}
	delete(ma, "modified")
	delete(mb, "modified")
	ja, _ := json.Marshal(ma) // maps marshal with sorted keys
	jb, _ := json.Marshal(mb)
	return bytes.Equal(ja, jb), nil
}

// feedPool wraps the add-objects handler (§5.5): when a PoolSink is set, after
// a 202 the simple-pattern indicators the status lists as successes (as
// stixfeed.Converter reads them, with the context the pushed graph gives them:
// Converter.Relate) go to the pool as the pushing consumer's feed
// (MISPSync's feed for a MISP instance pushing over TAXII, else
// "taxii-<consumer>"). The objects are stored and acknowledged already, so a
// sink error is logged, not answered.
func (s *Server) feedPool(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.poolSink == nil {
			return h(c)
		}
		r := c.Request()
		var body bytes.Buffer
		r.Body = teeBody{r.Body, &body}
		capture := &captureWriter{ResponseWriter: c.Response().Writer}
		c.Response().Writer = capture
		if err := h(c); err != nil {
			return err
		}
		if capture.status != http.StatusAccepted {
			return nil
		}
		var st struct {
			Successes []struct {
				ID      string `json:"id"`
				Version string `json:"version"`
			} `json:"successes"`
		}
		if err := json.Unmarshal(capture.body.Bytes(), &st); err != nil {
			return nil
		}
		ok := map[string]bool{}
		for _, d := range st.Successes {
			ok[d.ID+"|"+d.Version] = true
		}
		conv := &stixfeed.Converter{Now: s.now()}
		var batch ingest.Batch
		i := 0
		_ = decodeEnvelope(bytes.NewReader(body.Bytes()), func(raw json.RawMessage) {
			i++
			obj := &stix.RawObject{JSON: raw}
			if json.Unmarshal(raw, &obj.Common) != nil {
				return
			}
			switch obj.Type {
			case "indicator":
			case "relationship", "report", "grouping", "malware", "tool", "intrusion-set", "threat-actor", "attack-pattern", "vulnerability":
				batch.Objects = append(batch.Objects, obj) // the graph Relate reads context from
				return
			default:
				return
			}
			var head struct { // the status lists versions as posted
				Created  any `json:"created"`
				Modified any `json:"modified"`
			}
			_ = json.Unmarshal(raw, &head)
			version, _ := head.Modified.(string)
			if version == "" {
				version, _ = head.Created.(string)
			}
			if !ok[obj.ID+"|"+version] {
				return
			}
			conv.Add(&batch, obj, "objects["+strconv.Itoa(i-1)+"]")
		})
		if len(batch.Observations) == 0 {
			return nil
		}
		conv.Relate(&batch) // the push's malware, actors, techniques and reports become the values' context
		cons := consumer(c)
		push := &PoolPush{Consumer: cons.Name, Feed: cfgState(c).cfg.MISPSync.feedOf(cons.Name), Provider: stixfeed.Provider,
			Collection: c.Param("collection"), Batch: ingest.Batch{Observations: batch.Observations, Warnings: batch.Warnings}}
		if _, col, err := collection(c); err == nil {
			push.Collection = col.ID
		}
		if err := s.poolSink(r.Context(), push); err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelError, "pool: TAXII push values not recorded",
				slog.String("request_id", requestID(c)), slog.String("consumer", cons.Name),
				slog.Int("observations", len(push.Batch.Observations)), slog.String("error", err.Error()))
		}
		return nil
	}
}

// teeBody copies what the handler reads of the request body.
type teeBody struct {
	r interface {
		Read([]byte) (int, error)
		Close() error
	}
	w *bytes.Buffer
}

func (t teeBody) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.w.Write(p[:n])
	return n, err
}

func (t teeBody) Close() error { return t.r.Close() }

// captureWriter keeps a copy of the response status and body.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *captureWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}
