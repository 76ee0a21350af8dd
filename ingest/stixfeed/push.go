package stixfeed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// Pusher defaults.
const (
	// DefaultPushObjects is the most objects one envelope carries.
	DefaultPushObjects = 1000
	// DefaultPushPage is how many object versions one store query reads.
	DefaultPushPage = 1000
	// DefaultStatusWait is how long Push waits for a pending status to complete.
	DefaultStatusWait = 5 * time.Minute
	// DefaultStatusPoll is the first wait between status polls (it doubles up to 30 s).
	DefaultStatusPoll = time.Second
)

// Errors of Push.
var (
	// ErrStatusTimeout: the partner's status stayed pending longer than
	// Pusher.StatusWait; the envelope's objects are sent again next time.
	ErrStatusTimeout = errors.New("stixfeed: push status did not complete in time")
	// ErrPartner: the partner's API root, collection or status resource is not
	// what TAXII 2.1 describes, or the collection is not writable.
	ErrPartner = errors.New("stixfeed: partner TAXII server")
)

// PushStore is what a Pusher needs from storage: the collection's objects and
// the feed state that keeps the push cursor. Every backend satisfies it.
type PushStore interface {
	storage.ObjectReader
	storage.FeedStateStore
}

// Pusher sends a collection to a collection on a partner's TAXII 2.1 server
// (TAXII 2.1 §5.5), incrementally: each Push sends the object versions added to
// Collection after the last acknowledged one. Envelopes stay under the partner
// API root's max_content_length (§4.2.1) and DefaultPushObjects objects; each
// is POSTed, its status polled (§4.3) until complete, and only then is the
// cursor (the date_added of the envelope's last object) saved in the feed state
// Name. Objects the partner refuses (status failures) and objects larger than
// max_content_length on their own are reported in PushStats.Failed and not sent
// again. 429 and 5xx are retried with backoff, honouring Retry-After (the
// Client's ingest.HTTPClient).
type Pusher struct {
	// Client carries the partner's credentials and the HTTP client.
	Client *Client
	// Store holds Collection and the push cursor.
	Store PushStore
	// Collection is the local collection pushed (for a curated collection with
	// a selection: the tier collection the partner's limits select).
	Collection string
	// APIRoot is the partner's API root URL (https://partner.example/api1/).
	APIRoot string
	// CollectionID is the partner collection's id.
	CollectionID string
	// Name is the feed-state key of the cursor; "" means PushName(Collection,
	// APIRoot, CollectionID).
	Name string
	// MaxTLP withholds the objects whose object or granular markings are above
	// it (the partner's max_tlp; TLP 1.0 read as 2.0): they are counted in
	// PushStats.Withheld and never sent. TLPNone (the zero value): no TLP cut.
	MaxTLP stix.TLP
	// MaxObjects caps the objects per envelope; 0 means DefaultPushObjects.
	MaxObjects int
	// PageSize is the store query size; 0 means DefaultPushPage.
	PageSize int
	// StatusWait bounds the wait for a pending status; 0 means DefaultStatusWait.
	StatusWait time.Duration
	// StatusPoll is the first wait between status polls; 0 means DefaultStatusPoll.
	StatusPoll time.Duration
	// Sleep waits between status polls; nil uses a timer (tests pass a fake
	// clock's Sleep, as for ingest.HTTPClient.Sleep).
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock of the feed state; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per envelope; nil discards.
	Logger *slog.Logger
}

// PushStats is what one Push did.
type PushStats struct {
	Read      int // object versions read from the collection
	Sent      int // object versions POSTed
	Withheld  int // object versions above MaxTLP, not sent
	Envelopes int // envelopes POSTed and completed
	Succeeded int // success_count summed over the envelopes' final statuses
	// Failed lists the objects the partner refused (its status messages) and
	// those larger than max_content_length alone (never sent). They are not
	// sent again.
	Failed []storage.StatusDetails
	// Cursor is the date_added of the last object acknowledged (zero: none yet).
	Cursor time.Time
}

// PushName returns the default feed-state key of a push: one cursor per local
// collection and partner collection.
func PushName(collection, apiRoot, collectionID string) string {
	return "push:" + collection + ">" + strings.TrimRight(apiRoot, "/") + "/collections/" + collectionID
}

// pushCursor is the JSON of the saved cursor.
type pushCursor struct {
	AddedAfter string `json:"added_after"` // RFC 3339, nanoseconds
}

func (p *Pusher) name() string {
	if p.Name != "" {
		return p.Name
	}
	return PushName(p.Collection, p.APIRoot, p.CollectionID)
}

func (p *Pusher) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pusher) log() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (p *Pusher) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Push sends what was added to Collection since the last acknowledged object
// and returns what it did; the stats are filled in on error too. The feed state
// records the outcome (LastSuccess or LastError and ErrorCount) next to the cursor.
// Errors: the store's, ErrCursor, ErrPartner, ErrStatusTimeout, the HTTP
// client's (*ingest.HTTPError, ingest.ErrRateLimited, ...), ctx's.
func (p *Pusher) Push(ctx context.Context) (PushStats, error) {
	var stats PushStats
	if p.Client == nil || p.Store == nil || p.Collection == "" || p.APIRoot == "" || p.CollectionID == "" {
		return stats, errors.New("stixfeed: Pusher needs Client, Store, Collection, APIRoot and CollectionID")
	}
	fs, err := p.Store.FeedState(ctx, p.name())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		fs = &storage.FeedState{Feed: p.name()}
	case err != nil:
		return stats, fmt.Errorf("stixfeed: push %s: feed state: %w", p.name(), err)
	}
	if len(fs.Cursor) > 0 {
		var c pushCursor
		if err := json.Unmarshal(fs.Cursor, &c); err != nil {
			return stats, fmt.Errorf("%w: push %s: %v", ErrCursor, p.name(), err)
		}
		if stats.Cursor, err = time.Parse(time.RFC3339Nano, c.AddedAfter); err != nil {
			return stats, fmt.Errorf("%w: push %s: added_after %q: %v", ErrCursor, p.name(), c.AddedAfter, err)
		}
	}
	err = p.push(ctx, fs, &stats)
	switch {
	case err != nil && ctx.Err() == nil:
		fs.LastError = err.Error()
		fs.ErrorCount++
	case err == nil && (fs.ErrorCount > 0 || fs.LastError != ""):
		// nothing new to send after a failed run: the failure is over
		fs.LastError, fs.ErrorCount, fs.LastSuccess = "", 0, p.now().UTC()
	default:
		return stats, err
	}
	if serr := p.Store.PutFeedState(context.WithoutCancel(ctx), fs); serr != nil {
		p.log().Error("saving the push state failed", "push", p.name(), "error", serr)
	}
	return stats, err
}

func (p *Pusher) push(ctx context.Context, fs *storage.FeedState, stats *PushStats) error {
	maxLen, err := p.Client.apiRootMaxLength(ctx, p.APIRoot)
	if err != nil {
		return err
	}
	collURL := strings.TrimRight(p.APIRoot, "/") + "/collections/" + p.CollectionID + "/"
	if err := p.Client.checkWritable(ctx, collURL, p.CollectionID); err != nil {
		return err
	}
	maxObjs := p.MaxObjects
	if maxObjs <= 0 {
		maxObjs = DefaultPushObjects
	}
	pageSize := p.PageSize
	if pageSize <= 0 {
		pageSize = DefaultPushPage
	}
	const wrap = len(`{"objects":[]}`)
	var (
		buf      bytes.Buffer
		inBuf    []storage.StatusDetails // id and version of each object in buf
		consumed time.Time               // date_added of the last object packed or skipped
	)
	// commit saves consumed as the cursor: everything up to it is acknowledged.
	commit := func() error {
		if !consumed.After(stats.Cursor) {
			return nil
		}
		b, _ := json.Marshal(pushCursor{AddedAfter: consumed.UTC().Format(time.RFC3339Nano)})
		fs.Cursor, fs.LastSuccess, fs.LastError, fs.ErrorCount = b, p.now().UTC(), "", 0
		if err := p.Store.PutFeedState(ctx, fs); err != nil {
			return fmt.Errorf("stixfeed: push %s: saving the cursor: %w", p.name(), err)
		}
		stats.Cursor = consumed
		return nil
	}
	flush := func() error {
		if len(inBuf) == 0 {
			return commit()
		}
		buf.WriteString("]}")
		st, err := p.Client.postEnvelope(ctx, collURL, buf.Bytes())
		if err != nil {
			return err
		}
		if st, err = p.await(ctx, st); err != nil {
			return err
		}
		stats.Envelopes++
		stats.Sent += len(inBuf)
		stats.Succeeded += st.SuccessCount
		stats.Failed = append(stats.Failed, st.Failures...)
		p.log().Info("pushed envelope", "push", p.name(), "objects", len(inBuf), "bytes", buf.Len(),
			"succeeded", st.SuccessCount, "failed", st.FailureCount, "status", st.ID)
		buf.Reset()
		inBuf = inBuf[:0]
		return commit()
	}
	f := storage.Filter{AddedAfter: stats.Cursor, Versions: []string{"all"}, Limit: pageSize}
	for {
		page, err := p.Store.QueryObjects(ctx, p.Collection, f)
		if err != nil {
			return fmt.Errorf("stixfeed: push %s: reading collection %s: %w", p.name(), p.Collection, err)
		}
		for i := range page.Records {
			r := &page.Records[i]
			stats.Read++
			ref := storage.StatusDetails{ID: r.ID, Version: r.Version.UTC().Format(time.RFC3339Nano)}
			if p.MaxTLP != stix.TLPNone {
				tlp, err := stix.MarkedTLP(r.JSON)
				if err != nil || tlp > p.MaxTLP {
					stats.Withheld++
					consumed = r.DateAdded
					continue
				}
			}
			if int64(wrap+len(r.JSON)) > maxLen {
				ref.Message = fmt.Sprintf("not sent: %d bytes exceed the partner's max_content_length %d", len(r.JSON), maxLen)
				stats.Failed = append(stats.Failed, ref)
				p.log().Warn("object too large for the partner", "push", p.name(), "id", r.ID, "bytes", len(r.JSON), "max_content_length", maxLen)
				consumed = r.DateAdded // committed once the objects before it are acknowledged
				continue
			}
			if len(inBuf) > 0 && (len(inBuf) >= maxObjs || int64(buf.Len()+1+len(r.JSON)+2) > maxLen) {
				if err := flush(); err != nil {
					return err
				}
			}
			if len(inBuf) == 0 {
				buf.WriteString(`{"objects":[`)
			} else {
				buf.WriteByte(',')
			}
			buf.Write(r.JSON)
			inBuf = append(inBuf, ref)
			consumed = r.DateAdded
		}
		if !page.More {
			break
		}
		f.Next = page.Next
	}
	return flush()
}

// await polls the status until it is complete, at most StatusWait.
func (p *Pusher) await(ctx context.Context, st *taxiiStatus) (*taxiiStatus, error) {
	wait, interval := p.StatusWait, p.StatusPoll
	if wait <= 0 {
		wait = DefaultStatusWait
	}
	if interval <= 0 {
		interval = DefaultStatusPoll
	}
	statusURL := strings.TrimRight(p.APIRoot, "/") + "/status/" + st.ID + "/"
	var waited time.Duration
	for st.Status != "complete" {
		if waited >= wait {
			return nil, fmt.Errorf("%w: status %s still %q (%d of %d pending) after %s; the envelope is sent again next time",
				ErrStatusTimeout, st.ID, st.Status, st.PendingCount, st.TotalCount, waited)
		}
		d := min(interval, wait-waited)
		if err := p.sleep(ctx, d); err != nil {
			return nil, err
		}
		waited += d
		interval = min(2*interval, 30*time.Second)
		next, err := p.Client.getStatus(ctx, statusURL)
		if err != nil {
			return nil, err
		}
		if next.ID != st.ID {
			return nil, fmt.Errorf("%w: GET %s answered status id %q", ErrPartner, statusURL, next.ID)
		}
		st = next
	}
	return st, nil
}
