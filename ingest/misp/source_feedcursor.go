package misp

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/ingest"
)

// The feed-mode cursor (format 2).
//
// A MISP feed's manifest lists every event with its timestamp, which is the
// event's last edit. An event published to the feed late keeps its old
// timestamp, so a feed can list a new event older than the newest one already
// fetched; MISP itself (Feed::getNewEventUuids) decides per event uuid: add
// when unknown, edit when the manifest's timestamp is newer than its copy's.
// The cursor therefore holds, per event fetched, its uuid and the manifest
// timestamp it was fetched at, and a pull fetches every manifest event whose
// uuid is not in it or whose timestamp moved forward.
//
// Decision on size: the map is binary and hashed, 12 bytes per event (the
// first 8 bytes of SHA-256 over the uuid's 16 bytes, then the timestamp as 32
// bits), sorted by hash so the same state always encodes to the same bytes:
//
//	"mf2:" | uvarint len(etag) | etag | uvarint n | n × (hash uint64 BE, timestamp uint32 BE)
//
// A 10 000-event feed is about 120 KB (the JSON map a naive cursor would be is
// about 600 KB). A collision of two 64-bit hashes (about 10⁻¹¹ per new event
// against a 10 000-event map) could at worst skip an event whose twin was
// fetched at a newer timestamp. Timestamps are clamped to 0..2³²-1 (unix
// seconds until 2106).
//
// Decision on frequency: a pull does not attach the map to every batch. It
// attaches it once at least max(events per batch, n/checkpointDivisor) events
// were fetched since the last one (n the map's size), and at the end. The
// batches in between carry no cursor, so a crash re-fetches them (never
// skips: the Runner saves a cursor only once its batch and every batch before
// it are durable), and at most 1/checkpointDivisor of the feed is fetched again.
// The map grows by a factor (1 + 1/checkpointDivisor) between checkpoints, so a
// first pull of n events emits O(checkpointDivisor · log n) cursors of at most
// 12·n bytes (about 17 × the final size in all), and a pull of a few changed
// events out of n emits one.
//
// The manifest's ETag is stored only in the cursor that ends a complete pull:
// the next pull sends If-None-Match and a 304 ends it at once. An interrupted
// pull's cursor has none, so the next pull reads the manifest again and
// compares it with the map. At the end of a complete pull the map keeps only
// the manifest's events (an event dropped from the feed is forgotten; if it
// comes back it is fetched again).
//
// Migration: a format-1 cursor (JSON {"etag","ts","uuid"}: one (timestamp,
// uuid) position) still loads. It cannot say which events its walk skipped,
// and those are what this format fixes, so it migrates to an empty map: the
// first pull after the upgrade fetches every event of the feed once. That
// pull is idempotent for the pool (provenance is keyed by the attribute's
// day, objects are versioned by content), so it costs the download and brings
// in the events the old cursor missed.
const feedCursorMagic = "mf2:"

// checkpointDivisor bounds what a crash re-fetches (1/checkpointDivisor of the
// events already fetched) against how often the map is written.
const checkpointDivisor = 16

// feedCursor is the decoded feed-mode cursor.
type feedCursor struct {
	etag string            // the manifest's ETag, only once a pull completed
	seen map[uint64]uint32 // eventKey(uuid) → manifest timestamp fetched
}

// eventKey is the hashed event uuid the cursor keys its map by.
func eventKey(u uuid.UUID) uint64 {
	h := sha256.Sum256(u[:])
	return binary.BigEndian.Uint64(h[:8])
}

// clampTS maps a manifest timestamp onto the cursor's 32 bits.
func clampTS(ts int64) uint32 {
	switch {
	case ts < 0:
		return 0
	case ts > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(ts)
}

// decodeFeedCursor reads a format-2 cursor, migrates a format-1 one (see
// above) and returns an empty one for none.
func decodeFeedCursor(b ingest.Cursor) (feedCursor, error) {
	c := feedCursor{seen: map[uint64]uint32{}}
	switch {
	case len(b) == 0:
		return c, nil
	case b[0] == '{':
		var old struct {
			ETag string `json:"etag"`
			TS   int64  `json:"ts"`
			UUID string `json:"uuid"`
		}
		if err := json.Unmarshal(b, &old); err != nil {
			return c, fmt.Errorf("%w: format 1: %v", ErrCursor, err)
		}
		return c, nil // migrated: an empty map, no ETag (one full pull)
	case !bytes.HasPrefix(b, []byte(feedCursorMagic)):
		return c, fmt.Errorf("%w: neither a format-1 (JSON) nor a format-2 (%q) feed cursor", ErrCursor, feedCursorMagic)
	}
	rest := b[len(feedCursorMagic):]
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > uint64(len(rest)-k) {
		return c, fmt.Errorf("%w: format 2: bad etag length", ErrCursor)
	}
	rest = rest[k:]
	c.etag, rest = string(rest[:n]), rest[n:]
	count, k := binary.Uvarint(rest)
	if k <= 0 {
		return c, fmt.Errorf("%w: format 2: bad event count", ErrCursor)
	}
	rest = rest[k:]
	if count > uint64(len(rest))/12 || uint64(len(rest)) != count*12 {
		return c, fmt.Errorf("%w: format 2: %d bytes for %d events, want %d", ErrCursor, len(rest), count, count*12)
	}
	c.seen = make(map[uint64]uint32, count)
	for i := 0; i < len(rest); i += 12 {
		c.seen[binary.BigEndian.Uint64(rest[i:])] = binary.BigEndian.Uint32(rest[i+8:])
	}
	return c, nil
}

// encode writes the cursor in format 2.
func (c *feedCursor) encode() ingest.Cursor {
	keys := make([]uint64, 0, len(c.seen))
	for k := range c.seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]byte, 0, len(feedCursorMagic)+2*binary.MaxVarintLen64+len(c.etag)+12*len(keys))
	out = append(out, feedCursorMagic...)
	out = binary.AppendUvarint(out, uint64(len(c.etag)))
	out = append(out, c.etag...)
	out = binary.AppendUvarint(out, uint64(len(keys)))
	for _, k := range keys {
		out = binary.BigEndian.AppendUint64(out, k)
		out = binary.BigEndian.AppendUint32(out, c.seen[k])
	}
	return out
}
