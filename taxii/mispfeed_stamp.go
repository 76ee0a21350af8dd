package taxii

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/storage"
)

// Event timestamps of a MISP feed. MISP fetches an event again only when the
// manifest's timestamp for it is newer than its copy's (misp.md §3.1,
// Feed::getNewEventUuids), so the timestamp must move forward whenever the
// event's content changes. misp.Export's timestamp is the newest modified
// among the event's objects, which does not move when an object with an
// older modified joins an event (a late arrival in a day's event), when one
// leaves it, or when an indicator's valid_until passes (its attribute
// becomes deleted at the next build). So each event's content hash and the
// timestamp served for it are kept per feed (store collection and max TLP) in
// the feed state "misp-feed/<store collection>/<tlp>" (storage.FeedStateStore,
// optional: without it Export's timestamps are served): an event whose
// content changed gets max(Export's timestamp, previous + 1, now).

// feedStampState is the JSON kept in FeedState.Snapshot.
type feedStampState struct {
	Events map[string]feedStamp `json:"events"`
}

type feedStamp struct {
	Hash string `json:"h"`  // SHA-256 (first 128 bits, hex) of the event without its timestamps
	TS   int64  `json:"ts"` // the timestamp served
}

func feedStampName(key feedKey) string {
	return "misp-feed/" + key.phys + "/" + key.maxTLP.String()
}

// stampEvents sets the Timestamp (and a later PublishTimestamp) of each event
// so that a new event carries the time it was first published and an event
// moves forward whenever its content changes, and saves the new state. A store without FeedStateStore leaves the events as they are.
func (s *Server) stampEvents(ctx context.Context, key feedKey, events []misp.Event, now time.Time) error {
	fss, ok := s.store.(storage.FeedStateStore)
	if !ok {
		return nil
	}
	name := feedStampName(key)
	fs, err := fss.FeedState(ctx, name)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		fs = &storage.FeedState{Feed: name}
	case err != nil:
		return fmt.Errorf("MISP feed state %s: %w", name, err)
	}
	var st feedStampState
	if len(fs.Snapshot) > 0 {
		if err := json.Unmarshal(fs.Snapshot, &st); err != nil {
			s.log.Warn("MISP feed state unreadable; event timestamps start again from the export", "feed", name, "error", err)
		}
	}
	if st.Events == nil {
		st.Events = map[string]feedStamp{}
	}
	// Every event new or changed in this build gets a timestamp above every
	// timestamp served before, so that a subscriber that keeps only the newest
	// (timestamp, uuid) it fetched never skips one.
	var floor int64
	for _, p := range st.Events {
		floor = max(floor, p.TS+1)
	}
	changed := false
	for i := range events {
		ev := &events[i]
		h, err := eventHash(ev)
		if err != nil {
			return err
		}
		ts, _ := ev.Timestamp.Int()
		prev, seen := st.Events[ev.UUID]
		switch {
		case seen && prev.Hash == h:
			ts = prev.TS
		default:
			// new, or changed: published now, whatever the age of its
			// content, so subscribers that pull incrementally by timestamp
			// (OpenCTI's and ctibroker's by the newest timestamp seen; MISP
			// compares per uuid) all fetch it
			ts = max(ts, floor, now.Unix())
		}
		if !seen || prev.Hash != h || prev.TS != ts {
			st.Events[ev.UUID] = feedStamp{Hash: h, TS: ts}
			changed = true
		}
		setEventTimestamp(ev, ts)
	}
	if !changed {
		return nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	fs.Snapshot, fs.LastSuccess = b, now
	if err := fss.PutFeedState(ctx, fs); err != nil {
		return fmt.Errorf("MISP feed state %s: %w", name, err)
	}
	return nil
}

// eventHash hashes the event as served, without its timestamps.
func eventHash(ev *misp.Event) (string, error) {
	cp := *ev
	cp.Timestamp, cp.PublishTimestamp = "", ""
	b, err := misp.MarshalFeedEvent(&cp)
	if err != nil {
		return "", fmt.Errorf("MISP feed: event %s: %w", ev.UUID, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// setEventTimestamp sets the event's timestamp; its publish_timestamp stays
// at most the timestamp, as misp.Export writes it.
func setEventTimestamp(ev *misp.Event, ts int64) {
	ev.Timestamp = misp.Num(strconv.FormatInt(ts, 10))
	if pub, ok := ev.PublishTimestamp.Int(); !ok || pub > ts {
		ev.PublishTimestamp = ev.Timestamp
	}
}
