package taxii

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ctibroker/ctibroker/storage"
)

// writeJSON writes v with the TAXII content type.
func writeJSON(c echo.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Blob(status, MediaTypeTAXII, b)
}

// discoveryResource is §4.1.1.
type discoveryResource struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

// apiRootResource is §4.2.1.
type apiRootResource struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// collectionResource is §5.2.1; can_read and can_write describe the requester's rights.
type collectionResource struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types,omitempty"`
}

type collectionsResource struct {
	Collections []collectionResource `json:"collections,omitempty"`
}

// getDiscovery serves §4.1: the API roots the caller may see.
func (s *Server) getDiscovery(c echo.Context) error {
	st := cfgState(c)
	cons := consumer(c)
	if cons.Anonymous && !st.cfg.AnonymousDiscovery {
		return fmt.Errorf("discovery requires credentials: %w", ErrUnauthorized)
	}
	d := discoveryResource{Title: st.cfg.Discovery.Title, Description: st.cfg.Discovery.Description, Contact: st.cfg.Discovery.Contact}
	for _, rs := range st.rootOrder {
		if !rootVisible(cons, rs) {
			continue
		}
		u := s.rootURL(c, st, rs.Name)
		d.APIRoots = append(d.APIRoots, u)
		if rs.Name == st.cfg.Discovery.Default {
			d.Default = u
		}
	}
	return writeJSON(c, http.StatusOK, d)
}

var forwardedHostRE = regexp.MustCompile(`^[A-Za-z0-9.\-\[\]:]+$`)

// rootURL is the URL of an API root in discovery (§4.1.1: absolute HTTPS, or
// relative starting with one "/"): from base_url, else from a trusted proxy's
// X-Forwarded-Proto/-Host(/-Prefix), else relative.
func (s *Server) rootURL(c echo.Context, st *state, name string) string {
	if st.baseURL != "" {
		return st.baseURL + "/" + name + "/"
	}
	r := c.Request()
	if st.trusted(remoteAddr(r.RemoteAddr)) {
		host := strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Host"), ",")[0])
		proto := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")[0]))
		prefix := strings.TrimRight(strings.TrimSpace(r.Header.Get("X-Forwarded-Prefix")), "/")
		if host != "" && forwardedHostRE.MatchString(host) {
			if proto != "http" {
				proto = "https"
			}
			if !strings.HasPrefix(prefix, "/") || strings.ContainsAny(prefix, "?#\\ ") || strings.HasPrefix(prefix, "//") {
				prefix = ""
			}
			return proto + "://" + host + prefix + "/" + name + "/"
		}
	}
	return "/" + name + "/"
}

// apiRoot resolves the :root parameter for the caller: unknown or invisible → 404
// (401 for anonymous callers, who may have credentials to offer).
func apiRoot(c echo.Context) (*rootState, error) {
	st := cfgState(c)
	name := c.Param("root")
	rs := st.roots[name]
	cons := consumer(c)
	if rs != nil && rootVisible(cons, rs) {
		return rs, nil
	}
	if cons.Anonymous {
		return nil, fmt.Errorf("API root %q requires credentials: %w", name, ErrUnauthorized)
	}
	return nil, fmt.Errorf("API root %q: %w", name, ErrNotFound)
}

// collection resolves :root and :collection (id or alias, §5.2.1) for the caller.
// A collection the caller may not see is 404 (401 for anonymous callers).
func collection(c echo.Context) (*rootState, *Collection, error) {
	rs, err := apiRoot(c)
	if err != nil {
		return nil, nil, err
	}
	key := c.Param("collection")
	col := rs.byID[key]
	if col == nil {
		col = rs.byAlias[key]
	}
	cons := consumer(c)
	if col != nil && visible(cons, col) {
		return rs, col, nil
	}
	if cons.Anonymous {
		return nil, nil, fmt.Errorf("collection %q requires credentials: %w", key, ErrUnauthorized)
	}
	return nil, nil, fmt.Errorf("collection %q in API root %q: %w", key, rs.Name, ErrNotFound)
}

// getAPIRoot serves §4.2.
func (s *Server) getAPIRoot(c echo.Context) error {
	rs, err := apiRoot(c)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, apiRootResource{
		Title: rs.Title, Description: rs.Description,
		Versions: []string{MediaTypeTAXII}, MaxContentLength: rs.MaxContentLength,
	})
}

func collectionFor(col *Collection, read, write bool) collectionResource {
	return collectionResource{
		ID: col.ID, Title: col.Title, Description: col.Description, Alias: col.Alias,
		CanRead: read, CanWrite: write, MediaTypes: col.MediaTypes,
	}
}

// getCollections serves §5.1: the collections the caller may see, sorted by id
// (§3.3), write-only ones included with can_read false.
func (s *Server) getCollections(c echo.Context) error {
	rs, err := apiRoot(c)
	if err != nil {
		return err
	}
	cons := consumer(c)
	var out collectionsResource
	for _, col := range rs.colls {
		if visible(cons, col) {
			out.Collections = append(out.Collections, collectionFor(col, canRead(cons, col), canWrite(cons, col)))
		}
	}
	return writeJSON(c, http.StatusOK, out)
}

// getCollection serves §5.2.
func (s *Server) getCollection(c echo.Context) error {
	_, col, err := collection(c)
	if err != nil {
		return err
	}
	cons := consumer(c)
	return writeJSON(c, http.StatusOK, collectionFor(col, canRead(cons, col), canWrite(cons, col)))
}

// statusResource is §4.3.1 (the stored owner and expiry are not shown).
type statusResource struct {
	ID               string                  `json:"id"`
	Status           string                  `json:"status"`
	RequestTimestamp string                  `json:"request_timestamp,omitempty"`
	TotalCount       int                     `json:"total_count"`
	SuccessCount     int                     `json:"success_count"`
	Successes        []storage.StatusDetails `json:"successes,omitempty"`
	FailureCount     int                     `json:"failure_count"`
	Failures         []storage.StatusDetails `json:"failures,omitempty"`
	PendingCount     int                     `json:"pending_count"`
	Pendings         []storage.StatusDetails `json:"pendings,omitempty"`
}

func toStatusResource(st *storage.Status) statusResource {
	r := statusResource{
		ID: st.ID, Status: st.Status,
		TotalCount: st.TotalCount, SuccessCount: st.SuccessCount, Successes: st.Successes,
		FailureCount: st.FailureCount, Failures: st.Failures, PendingCount: st.PendingCount, Pendings: st.Pendings,
	}
	if !st.RequestTimestamp.IsZero() {
		r.RequestTimestamp = formatTAXIITime(st.RequestTimestamp)
	}
	return r
}

// getStatus serves §4.3. A status is readable only by the consumer whose POST
// created it; to anyone else it does not exist.
func (s *Server) getStatus(c echo.Context) error {
	cons := consumer(c)
	if cons.Anonymous {
		return fmt.Errorf("status requires credentials: %w", ErrUnauthorized)
	}
	if _, err := apiRoot(c); err != nil {
		return err
	}
	id := c.Param("status")
	if checkUUIDv4(id) != nil {
		return fmt.Errorf("status %q: %w", id, ErrNotFound)
	}
	st, err := s.store.GetStatus(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if st.Owner != cons.Name {
		return fmt.Errorf("status %q: %w", id, ErrNotFound)
	}
	return writeJSON(c, http.StatusOK, toStatusResource(st))
}

// healthz reports that the process serves HTTP.
func (s *Server) healthz(c echo.Context) error {
	return c.Blob(http.StatusOK, MediaTypeTAXII, []byte(`{"status":"ok"}`))
}

// readyz reports whether the store answers within two seconds.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	st := cfgState(c)
	var err error
	if len(st.cfg.Collections) > 0 {
		_, err = s.store.CollectionInfo(ctx, st.cfg.Collections[0].ID)
	} else {
		_, err = s.store.Collections(ctx)
	}
	if err != nil {
		return fmt.Errorf("store not ready: %v: %w", err, ErrUnavailable)
	}
	return c.Blob(http.StatusOK, MediaTypeTAXII, []byte(`{"status":"ready"}`))
}
