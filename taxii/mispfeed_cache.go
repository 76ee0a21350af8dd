package taxii

import (
	"context"
	"sync"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

// The MISP feed cache. A feed is built from a whole collection (every latest
// version, through misp.Export), which for a large collection takes seconds,
// while MISP polls manifest.json and fetches many <uuid>.json: each build is
// kept and served until its collection changes.
//
// Key: the store collection read (the consumer's curation tier, or the
// collection itself) and the consumer's max TLP, the two inputs that differ
// between consumers. Validity: the collection's watermark (CollectionInfo's
// LastAdded and Count: a write moves LastAdded, a delete or a removed member
// moves Count) and MISPFeed.MaxAge (Export's output depends on the clock
// through valid_until). One slot per key: a new build replaces the old one.
// Concurrent requests for a slot being built wait for that build (one build
// per slot at a time); a failed build is not kept. Memory: the slots' bytes
// are bounded by MISPFeed.CacheBytes, least recently used evicted first,
// never the slot just built.

// mispFeedState is the server's MISP feed configuration and cache.
type mispFeedState struct {
	cfg   MISPFeed
	cache *feedCache
}

func newMISPFeedState(cfg MISPFeed) *mispFeedState {
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = DefaultMISPFeedCacheBytes
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMISPFeedMaxAge
	}
	return &mispFeedState{cfg: cfg, cache: &feedCache{budget: cfg.CacheBytes, maxAge: cfg.MaxAge, slots: map[feedKey]*feedSlot{}}}
}

// builtFeed is one built MISP feed: the files as served.
type builtFeed struct {
	manifest []byte
	etag     string            // strong: "<first 128 bits of SHA-256(manifest) in hex>"
	events   map[string][]byte // lower-case event uuid → {"Event":{...}}
	hashes   []byte
	objects  int   // objects converted
	size     int64 // bytes accounted to the cache
}

type feedKey struct {
	phys   string
	maxTLP stix.TLP
}

type feedMark struct {
	lastAdded time.Time
	count     int64
}

type feedSlot struct {
	mark  feedMark
	built time.Time     // when the build started (MaxAge counts from it)
	ready chan struct{} // closed when feed or err is set
	feed  *builtFeed
	err   error
	used  uint64 // LRU clock
}

type feedCache struct {
	budget int64
	maxAge time.Duration

	mu    sync.Mutex
	slots map[feedKey]*feedSlot
	total int64 // bytes of the completed slots in slots
	clock uint64
	// builds counts builds started (tests and metrics).
	builds int
}

// get returns the feed of key at mark: the slot's when it was built at mark
// less than maxAge before now, else a new build by build (run once however
// many requests ask; the waiters share its result). The build runs with ctx
// detached from cancellation, so a caller going away does not waste it.
func (fc *feedCache) get(ctx context.Context, key feedKey, mark feedMark, now time.Time, build func(context.Context) (*builtFeed, error)) (*builtFeed, error) {
	fc.mu.Lock()
	sl := fc.slots[key]
	if sl != nil && sl.mark == mark && now.Sub(sl.built) < fc.maxAge && (sl.feed != nil || sl.err == nil) {
		fc.clock++
		sl.used = fc.clock
		fc.mu.Unlock()
		select {
		case <-sl.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if sl.err != nil {
			return nil, sl.err
		}
		return sl.feed, nil
	}
	if sl != nil && sl.feed != nil {
		fc.total -= sl.feed.size
	}
	fc.clock++
	sl = &feedSlot{mark: mark, built: now, ready: make(chan struct{}), used: fc.clock}
	fc.slots[key] = sl
	fc.builds++
	fc.mu.Unlock()

	feed, err := build(context.WithoutCancel(ctx))

	fc.mu.Lock()
	sl.feed, sl.err = feed, err
	current := fc.slots[key] == sl
	switch {
	case err != nil:
		if current {
			delete(fc.slots, key)
		}
	case current:
		fc.total += feed.size
		fc.evict(key)
	}
	fc.mu.Unlock()
	close(sl.ready)
	return feed, err
}

// evict drops completed slots, least recently used first, until the total is
// within the budget; keep is never dropped. Called with mu held.
func (fc *feedCache) evict(keep feedKey) {
	for fc.total > fc.budget {
		var victim feedKey
		var oldest *feedSlot
		for k, sl := range fc.slots {
			if k == keep || sl.feed == nil {
				continue
			}
			if oldest == nil || sl.used < oldest.used {
				victim, oldest = k, sl
			}
		}
		if oldest == nil {
			return
		}
		fc.total -= oldest.feed.size
		delete(fc.slots, victim)
	}
}

// stats returns the number of builds started, slots held and bytes accounted.
func (fc *feedCache) stats() (builds, slots int, bytes int64) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.builds, len(fc.slots), fc.total
}
