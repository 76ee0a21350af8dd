package storage

import (
	"context"
	"io"
	"time"
)

// The interfaces below are optional abilities. Both shipped backends implement
// all of them; callers type-assert and say what they cannot do without one.

// VersionRef names one stored version of an object.
type VersionRef struct {
	Collection string    // the stored collection holding the bytes (e.g. the pool)
	ID         string    // object id
	Version    time.Time // the record's Version
}

// MembershipStore keeps curated-collection membership: records (collection,
// DateAdded) → VersionRef pointing at one stored copy of the bytes. A curated
// collection is read through ObjectReader like any other.
type MembershipStore interface {
	// AddMembers appends membership records to a curated collection, each with a new
	// DateAdded. A ref already a member is counted as Existing. Returns ErrNotFound
	// when the collection or a referenced version does not exist.
	AddMembers(ctx context.Context, collection string, refs []VersionRef) (*WriteResult, error)
	// RemoveMembers deletes membership records (all versions of each id) and returns how many.
	RemoveMembers(ctx context.Context, collection string, ids []string) (int, error)
}

// FeedState is the runtime state of one feed.
type FeedState struct {
	Feed        string
	Cursor      []byte // opaque, owned by the provider package
	LastSuccess time.Time
	LastError   string
	ErrorCount  int
	Snapshot    []byte // digest or state of the last full snapshot, for diffing feeds
}

// FeedStateStore keeps each feed's sync cursor.
type FeedStateStore interface {
	// FeedState returns the state of feed. Returns ErrNotFound for a feed never saved.
	FeedState(ctx context.Context, feed string) (*FeedState, error)
	// PutFeedState saves s atomically.
	PutFeedState(ctx context.Context, s *FeedState) error
}

// Provenance records that a feed reported a value on a day. Insert-only, keyed by
// (Feed, Type, Value, Day).
type Provenance struct {
	Feed    string
	Type    string    // STIX SCO type, or "file:sha256" style for hashes
	Value   string    // normalised value
	Day     time.Time // UTC midnight
	Verdict []byte    // the provider's native verdict and context, JSON
	Revoked bool      // the feed withdrew the value
}

// ProvenanceStore keeps which feeds reported which values.
type ProvenanceStore interface {
	// AddProvenance inserts records; one already present (same key) is counted as Existing.
	AddProvenance(ctx context.Context, recs []Provenance) (*WriteResult, error)
	// Provenance returns the records for (typ, value), ordered by Day then Feed.
	Provenance(ctx context.Context, typ, value string) ([]Provenance, error)
	// PruneProvenance deletes records older than before and returns how many.
	PruneProvenance(ctx context.Context, before time.Time) (int, error)
}

// ProvenanceScanner reads the whole provenance history, value by value (feed
// quality reports). Without it a caller can read provenance only for values it
// already knows (ProvenanceStore.Provenance).
type ProvenanceScanner interface {
	// ScanProvenance calls fn once per (Type, Value) with all of its records,
	// ordered by Day then Feed (as Provenance returns them), values in the
	// backend's order. The slice is fn's to keep. A record added or pruned
	// during the scan may or may not be seen, but a value is never split
	// between two calls. fn's error stops the scan and is returned unchanged;
	// a cancelled ctx stops it with ctx.Err().
	ScanProvenance(ctx context.Context, fn func(recs []Provenance) error) error
}

// Sighting is one report that a value was seen.
type Sighting struct {
	ID            string // unique id (e.g. the STIX sighting id); re-adding is idempotent
	Type          string
	Value         string
	Source        string // consumer or feed that reported it
	Internal      bool   // seen in our own environment; never leaves the instance
	Count         int
	FirstSeen     time.Time
	LastSeen      time.Time
	FalsePositive bool
}

// SightingStore keeps sightings and false-positive reports.
type SightingStore interface {
	// AddSightings inserts sightings; an ID already present is counted as Existing.
	AddSightings(ctx context.Context, s []Sighting) (*WriteResult, error)
	// Sightings returns the sightings of (typ, value), oldest FirstSeen first.
	Sightings(ctx context.Context, typ, value string) ([]Sighting, error)
}

// MISPEventIndex maps MISP event uuids to their last accepted timestamp (MISP sync).
type MISPEventIndex interface {
	// MISPEvent returns the stored timestamp of event uuid. Returns ErrNotFound.
	MISPEvent(ctx context.Context, uuid string) (time.Time, error)
	// PutMISPEvent records ts for uuid.
	PutMISPEvent(ctx context.Context, uuid string, ts time.Time) error
}

// Leaser hands out named leases so several processes run scheduled work once.
type Leaser interface {
	// AcquireLease takes or renews lease name for holder until now+ttl. Returns
	// ErrLeaseHeld when another holder's lease has not expired.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) error
	// ReleaseLease gives up the lease if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Sequencer allocates increasing numbers (e.g. Suricata sids).
type Sequencer interface {
	// NextSequence reserves n numbers of sequence name and returns the first; the
	// first number ever returned is start.
	NextSequence(ctx context.Context, name string, n int, start int64) (int64, error)
}

// Backuper writes a consistent online copy of the whole store.
type Backuper interface {
	// Backup writes a consistent snapshot to w while the store stays usable.
	Backup(ctx context.Context, w io.Writer) error
}

// Checker recomputes advisory counters.
type Checker interface {
	// Check recomputes every collection's count and first/last DateAdded, reports what
	// differed and, with repair, fixes it.
	Check(ctx context.Context, repair bool) ([]string, error)
}
