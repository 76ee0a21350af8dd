package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ctibroker/ctibroker/storage"
)

// snapshotMagic starts an encoded snapshot (FeedState.Snapshot): a gzip stream of
// this line, then one "kind\tvalue\n" line per value, sorted. Normalised values
// hold no white space or control characters, so the format needs no escaping.
const snapshotMagic = "ctibroker-snapshot 1\n"

func encodeSnapshot(seen map[valueKey]struct{}) ([]byte, error) {
	lines := make([]string, 0, len(seen))
	for k := range seen {
		lines = append(lines, k.kind+"\t"+k.value+"\n")
	}
	slices.Sort(lines)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	bw := bufio.NewWriter(zw)
	bw.WriteString(snapshotMagic)
	for _, l := range lines {
		bw.WriteString(l)
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeSnapshot(b []byte) ([]valueKey, error) {
	if len(b) == 0 {
		return nil, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("stored snapshot: %w", err)
	}
	br := bufio.NewReader(zr)
	head, err := br.ReadString('\n')
	if err != nil || head != snapshotMagic {
		return nil, fmt.Errorf("stored snapshot: unknown format %q", strings.TrimSpace(head))
	}
	var out []valueKey
	for n := 2; ; n++ {
		line, err := br.ReadString('\n')
		if err == io.EOF && line == "" {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("stored snapshot: line %d: %w", n, err)
		}
		kind, value, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "\t")
		if !ok {
			return nil, fmt.Errorf("stored snapshot: line %d: no tab", n)
		}
		out = append(out, valueKey{kind, value})
	}
}

// diffSnapshot withdraws the values of the previous snapshot that this pull did
// not report, and records this pull's values as the new snapshot in state (saved
// by the caller together with the cursor).
func (ru *run) diffSnapshot(ctx context.Context, state *storage.FeedState) error {
	prev, err := decodeSnapshot(state.Snapshot)
	if err != nil {
		return err
	}
	var gone []Observation
	for _, k := range prev {
		if _, ok := ru.seen[k]; !ok {
			gone = append(gone, Observation{Feed: ru.cfg.Name, Type: k.kind, Value: k.value, Revoked: true})
		}
	}
	const chunk = 1000
	for i := 0; i < len(gone); i += chunk {
		if err := ru.observe(ctx, gone[i:min(i+chunk, len(gone))]); err != nil {
			return fmt.Errorf("withdraw vanished values: %w", err)
		}
	}
	if len(gone) > 0 {
		ru.log.Info("snapshot diff", "vanished", len(gone), "current", len(ru.seen))
	}
	enc, err := encodeSnapshot(ru.seen)
	if err != nil {
		return err
	}
	state.Snapshot = enc
	return nil
}
