package taxii

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

// TestFeedCache: one build per (key, watermark) however many requests ask at
// once; a new watermark or an expired build builds again; a failed build is
// not kept; the bytes held stay within the budget, least recently used out,
// never the slot just built.
func TestFeedCache(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	fc := newMISPFeedState(MISPFeed{CacheBytes: 250, MaxAge: time.Hour}).cache
	var built atomic.Int32
	release := make(chan struct{})
	build := func(size int64) func(context.Context) (*builtFeed, error) {
		return func(context.Context) (*builtFeed, error) {
			built.Add(1)
			<-release
			return &builtFeed{size: size, etag: "x"}, nil
		}
	}
	a := feedKey{phys: "a", maxTLP: stix.TLPAmber}
	m1 := feedMark{lastAdded: now, count: 1}

	var wg sync.WaitGroup
	got := make([]*builtFeed, 8)
	for i := range got {
		wg.Go(func() {
			f, err := fc.get(t.Context(), a, m1, now, build(100))
			if err != nil {
				t.Error(err)
			}
			got[i] = f
		})
	}
	time.Sleep(20 * time.Millisecond) // let them all queue behind the first build
	close(release)
	wg.Wait()
	if n := built.Load(); n != 1 {
		t.Fatalf("%d builds for 8 concurrent requests, want 1", n)
	}
	for _, f := range got[1:] {
		if f != got[0] {
			t.Fatal("concurrent requests got different feeds")
		}
	}
	if f, _ := fc.get(t.Context(), a, m1, now.Add(59*time.Minute), build(100)); f != got[0] || built.Load() != 1 {
		t.Fatal("an unchanged collection within MaxAge was built again")
	}
	if _, err := fc.get(t.Context(), a, m1, now.Add(61*time.Minute), build(100)); err != nil || built.Load() != 2 {
		t.Fatalf("after MaxAge: builds %d, err %v; want a second build", built.Load(), err)
	}
	m2 := feedMark{lastAdded: now.Add(time.Second), count: 2}
	if _, err := fc.get(t.Context(), a, m2, now.Add(61*time.Minute), build(100)); err != nil || built.Load() != 3 {
		t.Fatalf("after a write: builds %d, err %v; want a third build", built.Load(), err)
	}
	if _, slots, bytes := fc.stats(); slots != 1 || bytes != 100 {
		t.Fatalf("slots %d bytes %d after rebuilding one key, want 1 and 100", slots, bytes)
	}

	// a failed build is returned and not kept
	boom := errors.New("store gone")
	b := feedKey{phys: "b"}
	if _, err := fc.get(t.Context(), b, m1, now, func(context.Context) (*builtFeed, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("failed build: %v", err)
	}
	if _, err := fc.get(t.Context(), b, m1, now, build(100)); err != nil || built.Load() != 4 {
		t.Fatalf("after a failed build: builds %d, err %v; want a new build", built.Load(), err)
	}
	// budget 250: a (100, used before b) and b (100) fit; c (100) evicts a, the least recently used
	c := feedKey{phys: "c"}
	if _, err := fc.get(t.Context(), c, m1, now, build(100)); err != nil {
		t.Fatal(err)
	}
	if _, slots, bytes := fc.stats(); slots != 2 || bytes != 200 {
		t.Fatalf("slots %d bytes %d, want 2 slots of 200 bytes", slots, bytes)
	}
	fc.mu.Lock()
	_, hasA := fc.slots[a]
	fc.mu.Unlock()
	if hasA {
		t.Fatal("the least recently used slot a was kept over the budget")
	}
	// one feed larger than the budget is kept alone
	d := feedKey{phys: "d"}
	if _, err := fc.get(t.Context(), d, m1, now, build(1000)); err != nil {
		t.Fatal(err)
	}
	if _, slots, bytes := fc.stats(); slots != 1 || bytes != 1000 {
		t.Fatalf("slots %d bytes %d, want only the large feed", slots, bytes)
	}
}

func TestETagMatches(t *testing.T) {
	for header, want := range map[string]bool{
		`"abc"`:            true,
		`W/"abc"`:          true,
		`"x", "abc"`:       true,
		`*`:                true,
		`"abcd"`:           false,
		``:                 false,
		`abc`:              false,
		`"x",W/"y", "abc"`: true,
	} {
		if got := etagMatches(header, `"abc"`); got != want {
			t.Errorf("etagMatches(%q) = %v, want %v", header, got, want)
		}
	}
}
