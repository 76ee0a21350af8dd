package misp_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/misp"
)

var errCrash = errors.New("crash before the batch was stored")

// pullUntil pulls src from cur, keeping the cursor of each batch emit accepts,
// and fails (as a crash between fetch and store would) on batch crashAt
// (1-based; 0 never). It returns the last accepted cursor and the observations
// accepted.
func pullUntil(t *testing.T, src *misp.Source, cur ingest.Cursor, crashAt int) (ingest.Cursor, int, error) {
	t.Helper()
	n, obs := 0, 0
	err := src.Pull(context.Background(), cur, func(b ingest.Batch) error {
		n++
		if n == crashAt {
			return errCrash
		}
		obs += len(b.Observations)
		if b.Cursor != nil {
			cur = append(ingest.Cursor(nil), b.Cursor...)
		}
		return nil
	})
	return cur, obs, err
}

// TestRESTResumeAfterCrash: a crash while page 2 is being stored leaves the
// cursor after page 1, and the next pull asks for page 2 again.
func TestRESTResumeAfterCrash(t *testing.T) {
	base := int64(1740000000)
	srv := newRESTServer(t, event(1, base, false), event(2, base+10, false), event(3, base+20, false), event(4, base+30, false))
	cfg := feedConfig(t, fmt.Sprintf("  base_url: %s\n  api_key_env: MISP_TEST_KEY\n  limit: 2\n  batch_size: 50\n  backoff: 1ms\n", srv.URL))
	src, err := misp.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cur, _, err := pullUntil(t, src, nil, 2) // batch 1 = page 1, batch 2 = page 2
	if !errors.Is(err, errCrash) {
		t.Fatalf("err %v, want the crash", err)
	}
	_, obs, err := pullUntil(t, src, cur, 0)
	if err != nil {
		t.Fatal(err)
	}
	bodies := srv.log()
	if len(bodies) != 4 { // page 1, page 2 (crashed), page 2 again, page 3 (empty)
		t.Fatalf("requests %d, want 4", len(bodies))
	}
	if p := bodies[2]["page"].(float64); p != 2 {
		t.Errorf("resumed at page %v, want 2", p)
	}
	if obs != 4 {
		t.Errorf("observations after the restart %d, want 4 (events 3 and 4)", obs)
	}
}

// TestFeedResumeAfterCrash: a crash while the second event is stored leaves
// the first one done; the next pull reads the manifest again (no ETag stored
// yet) and fetches only the events after the first.
func TestFeedResumeAfterCrash(t *testing.T) {
	base := int64(1740000000)
	srv := newFeedServer(t, event(1, base, false), event(2, base+10, false), event(3, base+20, false))
	cfg := feedConfig(t, fmt.Sprintf("  mode: feed\n  base_url: %s/feed\n  backoff: 1ms\n", srv.URL))
	src, err := misp.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cur, _, err := pullUntil(t, src, nil, 2)
	if !errors.Is(err, errCrash) {
		t.Fatalf("err %v, want the crash", err)
	}
	if _, _, err := pullUntil(t, src, cur, 0); err != nil {
		t.Fatal(err)
	}
	got := srv.log()[3:] // manifest, event 1, event 2 (crashed)
	want := []string{"manifest.json", event(2, 0, false)["uuid"].(string) + ".json", event(3, 0, false)["uuid"].(string) + ".json"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("requests after the restart %v, want %v", got, want)
	}
}
