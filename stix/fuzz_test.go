package stix_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ctibroker/ctibroker/stix"
)

// decodeSlack is the fixed memory FuzzDecoder allows beyond 4x the input: the
// Decoder's 32 KiB read buffer plus small bookkeeping. Small fuzz inputs would
// otherwise be dominated by that constant.
const decodeSlack = 64 << 10

// FuzzDecoder decodes arbitrary input as a bundle, envelope or object and checks
// that it never panics, that each object's bytes are a verbatim part of the
// input, and that memory stays bounded: the bytes allocated while decoding
// (runtime.MemStats.TotalAlloc delta, an upper bound of the peak heap growth
// since every live byte was allocated in the window) are at most 4x the input
// size plus decodeSlack.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte(`{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":[` + id1 + `]}`))
	f.Add([]byte(`{"more":true,"next":"x","objects":[` + ind1 + `,"x",[]]}`))
	f.Add([]byte(`[{"type":"x"},{"a":[[[[{}]]]]}]`))
	f.Add([]byte(`{"type":"x","objects":[1]}`))
	f.Add([]byte(`{"objects":[{"a":"\ud83d\ude00\u00e9"}]`))
	if dir := filepath.Join("..", "..", "shared", "testdata", "stix", "valid"); true {
		if ents, err := os.ReadDir(dir); err == nil {
			for i, e := range ents {
				if i%8 != 0 {
					continue
				}
				if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
					f.Add(b)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		objs, alloc := decodeMeasured(t, in)
		if alloc > uint64(4*len(in)+decodeSlack) {
			// The fuzzing engine's own goroutines allocate too; a real excess
			// repeats, so measure once more before failing.
			if _, alloc = decodeMeasured(t, in); alloc > uint64(4*len(in)+decodeSlack) {
				t.Fatalf("decoding %d bytes allocated %d bytes, want at most 4x+%d", len(in), alloc, decodeSlack)
			}
		}
		for _, o := range objs {
			if !bytes.Contains(in, o.JSON) {
				t.Fatalf("object bytes %q are not part of the input", o.JSON)
			}
			checkParseAgrees(t, "fuzz", o.JSON)
		}
		_ = stix.Validate(in)
	})
}

// decodeMeasured decodes in fully and returns the objects and the bytes
// allocated meanwhile.
func decodeMeasured(t *testing.T, in []byte) ([]*stix.RawObject, uint64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d := stix.NewDecoder(bytes.NewReader(in), stix.DefaultLimits)
	var objs []*stix.RawObject
	for n := 0; n < 1<<20; n++ {
		o, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			if _, again := d.Next(); again == err {
				break
			}
			continue
		}
		objs = append(objs, o)
	}
	runtime.ReadMemStats(&after)
	return objs, after.TotalAlloc - before.TotalAlloc
}
