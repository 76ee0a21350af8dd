package misp

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"
)

// TestFeedCursorRoundTrip: a format-2 cursor decodes to the state encoded,
// the same state always encodes to the same bytes, and the size is 12 bytes
// per event plus the header.
func TestFeedCursorRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 1000} {
		c := feedCursor{etag: `"abc"`, seen: map[uint64]uint32{}}
		for i := range n {
			c.seen[eventKey(uuid.NewSHA1(uuid.NameSpaceURL, []byte(fmt.Sprint(i))))] = uint32(1600000000 + i)
		}
		b := c.encode()
		if want := len(feedCursorMagic) + 1 + len(c.etag) + len(binary.AppendUvarint(nil, uint64(n))) + 12*n; len(b) != want {
			t.Fatalf("n=%d: %d bytes, want %d", n, len(b), want)
		}
		d, err := decodeFeedCursor(b)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if d.etag != c.etag || len(d.seen) != n {
			t.Fatalf("n=%d: decoded etag %q, %d events", n, d.etag, len(d.seen))
		}
		for k, v := range c.seen {
			if d.seen[k] != v {
				t.Fatalf("n=%d: key %x: %d, want %d", n, k, d.seen[k], v)
			}
		}
		if string(d.encode()) != string(b) {
			t.Fatalf("n=%d: re-encoding differs", n)
		}
	}
	for ts, want := range map[int64]uint32{-5: 0, 0: 0, 1740000000: 1740000000, 1 << 40: 1<<32 - 1} {
		if got := clampTS(ts); got != want {
			t.Errorf("clampTS(%d) = %d, want %d", ts, got, want)
		}
	}
}

// BenchmarkFeedCursor encodes and decodes the cursor of a 10 000-event feed;
// the baseline is the JSON map {uuid: timestamp} a naive cursor would write,
// in the same run (ratio reported as x-json).
func BenchmarkFeedCursor(b *testing.B) {
	const n = 10000
	c := feedCursor{etag: `"5f1c-3a"`, seen: map[uint64]uint32{}}
	naive := map[string]int64{}
	for i := range n {
		u := uuid.NewSHA1(uuid.NameSpaceURL, []byte(fmt.Sprint(i)))
		c.seen[eventKey(u)] = uint32(1600000000 + i)
		naive[u.String()] = int64(1600000000 + i)
	}
	var jsonNs float64
	b.Run("json-baseline", func(b *testing.B) {
		var size int
		for b.Loop() {
			j, _ := json.Marshal(naive)
			var back map[string]int64
			_ = json.Unmarshal(j, &back)
			size = len(j)
		}
		jsonNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(size), "bytes")
	})
	b.Run("format2", func(b *testing.B) {
		var size int
		for b.Loop() {
			enc := c.encode()
			if _, err := decodeFeedCursor(enc); err != nil {
				b.Fatal(err)
			}
			size = len(enc)
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(size), "bytes")
		if jsonNs > 0 {
			b.ReportMetric(jsonNs/ns, "x-json")
		}
	})
}
