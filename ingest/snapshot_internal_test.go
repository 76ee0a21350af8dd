package ingest

import (
	"bytes"
	"compress/gzip"
	"slices"
	"testing"
)

func TestSnapshotEncoding(t *testing.T) {
	seen := map[valueKey]struct{}{
		{"ipv4-addr", "198.51.100.3"}: {}, {"url", "http://a.example/x?y=1"}: {}, {"file:sha-256", "e3b0"}: {},
	}
	b, err := encodeSnapshot(seen)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []valueKey{{"file:sha-256", "e3b0"}, {"ipv4-addr", "198.51.100.3"}, {"url", "http://a.example/x?y=1"}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v (sorted)", got, want)
	}
	if got, err := decodeSnapshot(nil); err != nil || got != nil {
		t.Fatalf("empty snapshot: %v %v", got, err)
	}
	gz := func(s string) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write([]byte(s))
		w.Close()
		return buf.Bytes()
	}
	for name, in := range map[string][]byte{
		"not gzip":    []byte("hello"),
		"no magic":    gz("ipv4-addr\t1.2.3.4\n"),
		"no tab":      gz(snapshotMagic + "ipv4-addr 1.2.3.4\n"),
		"cut off":     gz(snapshotMagic + "ipv4-addr\t1.2.3.4"),
		"newer magic": gz("ctibroker-snapshot 2\n"),
	} {
		if _, err := decodeSnapshot(in); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}
