package storage

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

// Errors of the contract. Backends wrap them with context (fmt.Errorf("...: %w", ErrNotFound));
// callers test with errors.Is. Driver errors never leak past a backend.
var (
	// ErrNotFound: the collection, object, status or record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidCursor: a Filter.Next the backend did not issue or cannot decode.
	ErrInvalidCursor = errors.New("invalid paging cursor")
	// ErrInvalidFilter: a filter value the backend cannot apply (e.g. a malformed version).
	ErrInvalidFilter = errors.New("invalid filter")
	// ErrLeaseHeld: a lease is held by another holder.
	ErrLeaseHeld = errors.New("lease held by another holder")
	// ErrFormat: the on-disk format is newer than this binary understands.
	ErrFormat = errors.New("unsupported store format")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrKind: the collection exists with another kind (EnsureCollection with a different
	// kind, PutObjects into a curated collection, AddMembers into a stored one).
	ErrKind = errors.New("wrong collection kind")
)

// Collection kinds.
const (
	KindStored  = "stored"  // holds the versions written into it (inboxes, imports)
	KindCurated = "curated" // holds membership records pointing at versions stored elsewhere
)

// CollectionInfo is a collection's runtime state. Count and the first/last
// DateAdded are kept incrementally and are advisory.
type CollectionInfo struct {
	ID         string
	Kind       string
	Count      int64     // object versions (stored) or membership records (curated)
	FirstAdded time.Time // zero when empty
	LastAdded  time.Time // zero when empty
}

// CollectionStore manages collections. The config is the source of truth for
// which collections exist; the store keeps their runtime state.
type CollectionStore interface {
	// EnsureCollection creates the collection with kind if it does not exist; it is a
	// no-op for an existing collection of the same kind.
	EnsureCollection(ctx context.Context, id, kind string) error
	// CollectionInfo returns the runtime state. Returns ErrNotFound.
	CollectionInfo(ctx context.Context, id string) (*CollectionInfo, error)
	// Collections lists every collection the store holds, sorted by ID.
	Collections(ctx context.Context) ([]CollectionInfo, error)
}

// Version filter words for Filter.Versions (TAXII 2.1 §3.4.1 match[version]).
const (
	VersionLast  = "last"
	VersionFirst = "first"
	VersionAll   = "all"
)

// Filter mirrors the TAXII 2.1 query parameters (§3.4). Zero values mean "no
// filter"; an empty Versions means "last".
//
// Semantics every backend follows (storagetest checks them): SpecVersions narrows
// the versions considered, and without it only each object's highest spec_version
// is considered (§3.4.1); "last" and "first" are then the latest and earliest of
// those by Version, whatever order they were added in; AddedAfter applies after
// that choice, so with "last" an object is returned only if its latest version
// was added after AddedAfter. "all" combined with another value, or a value that
// is neither a word nor a timestamp, is ErrInvalidFilter. Timestamps compare as
// instants. GetObject and ListVersions ignore IDs and Types.
type Filter struct {
	AddedAfter   time.Time // strictly greater than
	IDs          []string  // match[id]
	Types        []string  // match[type]
	Versions     []string  // match[version]: "first", "last", "all" or timestamps
	SpecVersions []string  // match[spec_version]
	Limit        int       // 0 means the backend default (1000)
	Next         string    // opaque position issued by the same backend in Page.Next
}

// Record is one stored object version as a query returns it.
type Record struct {
	ID          string
	Type        string
	SpecVersion string
	// SpecVersion is the object's spec_version; an object without one is "2.0",
	// except objects with neither `created` nor `modified` (SCOs): "2.1" (STIX 2.1 §3.2).
	// Version is the TAXII version: `modified` for SDOs/SROs (and `created` for objects
	// without `modified`), the first DateAdded for SCOs, whose versions are told apart
	// by the SHA-256 of their RFC 8785 canonical bytes.
	Version   time.Time
	DateAdded time.Time // unique and strictly increasing within a collection, microseconds
	// JSON holds the exact stored bytes. Manifest queries leave it nil.
	JSON json.RawMessage
}

// Page is one page of a query. More says whether more records may follow; Next is
// the position to continue from (empty when More is false). A page may hold fewer
// than Filter.Limit records with More true when a scan budget ran out.
type Page struct {
	Records []Record
	More    bool
	Next    string
}

// WriteResult counts what a write did.
type WriteResult struct {
	Added    int      // new versions stored
	Existing int      // versions already stored (idempotent re-adds)
	AddedIDs []string // ids of the added versions, in input order
}

// ObjectReader reads stored object versions. Queries never return a record whose
// DateAdded is later than the store's visibility watermark, so an added_after
// poller never skips a record that commits late.
type ObjectReader interface {
	// QueryObjects returns the records in collection that match f, oldest DateAdded
	// first. Returns ErrNotFound if the collection does not exist, ErrInvalidCursor,
	// ErrInvalidFilter.
	QueryObjects(ctx context.Context, collection string, f Filter) (*Page, error)
	// QueryManifest is QueryObjects without the JSON bytes (TAXII §5.6).
	QueryManifest(ctx context.Context, collection string, f Filter) (*Page, error)
	// GetObject returns the versions of one object that match f (default: last).
	// Returns ErrNotFound when no version of id exists in the collection, and an
	// empty page when versions exist but none match.
	GetObject(ctx context.Context, collection, id string, f Filter) (*Page, error)
	// ListVersions returns the versions of one object, oldest DateAdded first, without
	// JSON (TAXII §5.8: Versions defaults to "all"). Returns ErrNotFound as GetObject.
	ListVersions(ctx context.Context, collection, id string, f Filter) (*Page, error)
}

// ObjectWriter stores and deletes object versions.
type ObjectWriter interface {
	// PutObjects stores objs in collection atomically: all or none. A version already
	// stored is counted in WriteResult.Existing, not returned as an error. Each object's
	// JSON must hold its exact bytes (Common is parsed from it when ID or Type is empty).
	// New versions get increasing DateAdded in input order. Returns ErrNotFound if the
	// collection does not exist, ErrKind for a curated collection, and a
	// *stix.ValidationError naming the object for one without id, type or bytes.
	PutObjects(ctx context.Context, collection string, objs []stix.RawObject) (*WriteResult, error)
	// DeleteObject deletes the versions of id that match f.Versions and f.SpecVersions
	// (Versions empty or "all": every version; "first"/"last" are chosen among all the
	// id's versions of the listed spec versions, or of every spec version) and returns
	// how many were deleted (0 when versions exist but none match). Returns ErrNotFound
	// when no version of id exists.
	DeleteObject(ctx context.Context, collection, id string, f Filter) (int, error)
}

// StatusStore keeps TAXII status resources (§4.3).
type StatusStore interface {
	// PutStatus creates or replaces a status.
	PutStatus(ctx context.Context, s *Status) error
	// GetStatus returns a status that has not expired. Returns ErrNotFound.
	GetStatus(ctx context.Context, id string) (*Status, error)
	// PurgeStatuses deletes statuses whose ExpiresAt is before t and returns how many.
	// GetStatus treats a status whose ExpiresAt is not after now as gone.
	PurgeStatuses(ctx context.Context, t time.Time) (int, error)
}

// Status is a TAXII 2.1 status resource plus its owner and expiry.
type Status struct {
	ID               string          `json:"id"`
	Status           string          `json:"status"` // "pending" | "complete"
	RequestTimestamp time.Time       `json:"request_timestamp"`
	TotalCount       int             `json:"total_count"`
	SuccessCount     int             `json:"success_count"`
	Successes        []StatusDetails `json:"successes,omitempty"`
	FailureCount     int             `json:"failure_count"`
	Failures         []StatusDetails `json:"failures,omitempty"`
	PendingCount     int             `json:"pending_count"`
	Pendings         []StatusDetails `json:"pendings,omitempty"`
	Owner            string          `json:"owner"`      // consumer that created it
	ExpiresAt        time.Time       `json:"expires_at"` // retained at least 24 h
}

// StatusDetails is one entry of a status's successes, failures or pendings.
type StatusDetails struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// Store is everything a backend provides.
type Store interface {
	CollectionStore
	ObjectReader
	ObjectWriter
	StatusStore
	Close() error
}
