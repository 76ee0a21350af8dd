package misp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ctibroker/ctibroker/ingest/ingesttest"
)

// feedServer serves a MISP feed: manifest.json with a strong ETag (304 on
// If-None-Match), <uuid>.json per event, hashes.csv.
type feedServer struct {
	*httptest.Server
	mu       sync.Mutex
	events   map[string]map[string]any // uuid → event
	missing  map[string]bool           // listed in the manifest, 404 on fetch
	version  int                       // bumps the ETag
	requests []string
}

func newFeedServer(t *testing.T, events ...map[string]any) *feedServer {
	s := &feedServer{events: map[string]map[string]any{}, missing: map[string]bool{}, version: 1}
	for _, ev := range events {
		s.events[ev["uuid"].(string)] = ev
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *feedServer) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func (s *feedServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := strings.TrimPrefix(r.URL.Path, "/feed/")
	s.requests = append(s.requests, name)
	switch {
	case name == "manifest.json":
		etag := fmt.Sprintf(`"v%d"`, s.version)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		m := map[string]any{}
		for u, ev := range s.events {
			m[u] = map[string]any{"Orgc": ev["Orgc"], "Tag": ev["Tag"], "info": ev["info"], "date": ev["date"],
				"analysis": ev["analysis"], "threat_level_id": ev["threat_level_id"], "timestamp": ev["timestamp"]}
		}
		w.Header().Set("ETag", etag)
		json.NewEncoder(w).Encode(m)
	case strings.HasSuffix(name, ".json"):
		u := strings.TrimSuffix(name, ".json")
		ev, ok := s.events[u]
		if !ok || s.missing[u] {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"Event": ev})
	default:
		http.NotFound(w, r)
	}
}

// TestFeedSource pulls a MISP feed three times across restarts of the bolt
// store: everything, then nothing (manifest 304), then only the events whose
// manifest timestamp moved; a deleted attribute withdraws its indicator and an
// event the feed no longer serves is a warning.
func TestFeedSource(t *testing.T) {
	base := int64(1740000000)
	srv := newFeedServer(t, event(1, base, false), event(2, base+10, false), event(3, base+20, false))
	cfg := feedConfig(t, fmt.Sprintf("  mode: feed\n  base_url: %s/feed\n  backoff: 1ms\n", srv.URL))
	dir := filepath.Join(t.TempDir(), "db")

	store := ingesttest.MustOpenStore(t, dir)
	st := run(t, store, newFeed(t, cfg, nil))
	if got := srv.log(); len(got) != 4 || got[0] != "manifest.json" {
		t.Fatalf("first run requests %v, want the manifest and 3 events", got)
	}
	if n := count(t, store, "report"); n != 3 || st.Observations != 6 {
		t.Fatalf("reports %d observations %d, want 3 and 6", n, st.Observations)
	}
	store.Close()

	store = ingesttest.MustOpenStore(t, dir)
	run(t, store, newFeed(t, cfg, nil))
	if got := srv.log()[4:]; len(got) != 1 || got[0] != "manifest.json" {
		t.Fatalf("second run requests %v, want the manifest only (304)", got)
	}
	store.Close()

	srv.mu.Lock()
	srv.events[event(2, 0, false)["uuid"].(string)] = event(2, base+30, true)
	srv.events[event(3, 0, false)["uuid"].(string)] = event(3, base+40, false)
	srv.missing[event(3, 0, false)["uuid"].(string)] = true
	srv.version++
	srv.mu.Unlock()
	store = ingesttest.MustOpenStore(t, dir)
	defer store.Close()
	st = run(t, store, newFeed(t, cfg, nil))
	got := srv.log()[5:]
	want := []string{"manifest.json", event(2, 0, false)["uuid"].(string) + ".json", event(3, 0, false)["uuid"].(string) + ".json"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("third run requests %v, want %v", got, want)
	}
	if !withdrawn(t, store, "198.51.100.2") {
		t.Error("the deleted attribute's indicator is not withdrawn")
	}
	if withdrawn(t, store, "198.51.100.1") {
		t.Error("an untouched value was withdrawn")
	}
	if st.Warnings != 1 {
		t.Errorf("warnings %d, want 1 (event 3 answers 404)", st.Warnings)
	}
	// The cursor moved past event 3: a fourth pull with a new manifest ETag
	// fetches nothing.
	srv.mu.Lock()
	srv.version++
	srv.mu.Unlock()
	run(t, store, newFeed(t, cfg, nil))
	if got := srv.log()[8:]; len(got) != 1 {
		t.Errorf("fourth run requests %v, want the manifest only", got)
	}
}
