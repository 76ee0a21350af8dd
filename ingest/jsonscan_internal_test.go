package ingest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// encodingJSON is what scanJSON must agree with: json.Valid, and whether
// json.Compact leaves the input unchanged.
func encodingJSON(b []byte) (valid, compact bool) {
	if !json.Valid(b) {
		return false, false
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return false, false
	}
	return true, bytes.Equal(buf.Bytes(), b)
}

var jsonCases = []string{
	``, ` `, `1`, ` 1`, `1 `, `-`, `-0`, `-01`, `01`, `0.`, `0.5`, `1e`, `1e+`, `1E-7`, `1.5e10`, `.5`, `+1`,
	`true`, `tru`, `truex`, `false`, `null`, `nul`, `"`, `""`, `"a`, `"\"`, `"\\"`, `"\/"`, `"\u00e9"`, `"\u00g9"`,
	`"\u00e"`, `"\x"`, "\"\t\"", "\"\x7f\"", "\"\xff\xfe\"", `"é"`, `[]`, `[ ]`, `[1,]`, `[,1]`, `[1 2]`, `[1,2]`,
	`[1, 2]`, `{}`, `{ }`, `{"a":1}`, `{"a" :1}`, `{"a": 1}`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{1:1}`, `{"a":1 "b":2}`,
	`{"a":[1,{"b":null}],"c":"d"}`, `[[[[]]]]`, `[[[[]]]`, `[]]`, `{}}`, `[{]`, `{"a":[}`, "[1,\n2]", "{\"a\":\r\n1}",
	`[true,false,null]`, `[1]x`, `"a" "b"`, `{"a":"b","c":{"d":[1.5,-2e-3]}}`,
	`{"EvidenceDetails": [{"Rule": "x", "Criticality": 4.0}]}`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100),
}

func TestScanJSON(t *testing.T) {
	for _, c := range jsonCases {
		gv, gc := scanJSON([]byte(c))
		wv, wc := encodingJSON([]byte(c))
		if gv != wv || gc != wc {
			t.Errorf("scanJSON(%.60q) = %v, %v; encoding/json says %v, %v", c, gv, gc, wv, wc)
		}
	}
}

func TestAppendCompactJSON(t *testing.T) {
	for _, c := range jsonCases {
		checkCompact(t, []byte(c))
	}
}

// checkCompact compares appendCompactJSON with json.Compact on valid input.
func checkCompact(t *testing.T, b []byte) {
	t.Helper()
	var want bytes.Buffer
	if json.Compact(&want, b) != nil {
		return
	}
	if got := appendCompactJSON([]byte("x"), b); !bytes.Equal(got[1:], want.Bytes()) || got[0] != 'x' {
		t.Errorf("appendCompactJSON(%.60q) = %.60q, json.Compact %.60q", b, got, want.Bytes())
	}
}

// FuzzScanJSON checks scanJSON against encoding/json on any input, and
// appendCompactJSON against json.Compact on valid input.
func FuzzScanJSON(f *testing.F) {
	for _, c := range jsonCases {
		if len(c) < 1000 {
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		gv, gc := scanJSON(b)
		wv, wc := encodingJSON(b)
		if gv != wv || gc != wc {
			t.Fatalf("scanJSON(%q) = %v, %v; encoding/json says %v, %v", b, gv, gc, wv, wc)
		}
		checkCompact(t, b)
	})
}

func BenchmarkScanJSON(b *testing.B) {
	v := []byte(`{"extension_type":"property-extension","risk":99,"evidence_details":[` +
		strings.Repeat(`{"Rule":"Current C&C Server","CriticalityLabel":"Very Malicious","EvidenceString":"1 sighting on 1 source: Recorded Future Command & Control List.","Sources":["b5tNVA"],"Timestamp":"2026-03-10T04:12:00.000Z","Criticality":4.0},`, 5) +
		`{}]}`)
	b.Run("scanJSON", func(b *testing.B) {
		b.SetBytes(int64(len(v)))
		for i := 0; i < b.N; i++ {
			if ok, _ := scanJSON(v); !ok {
				b.Fatal("invalid")
			}
		}
	})
	spaced, _ := json.MarshalIndent(json.RawMessage(v), "", " ")
	b.Run("appendCompactJSON", func(b *testing.B) {
		b.SetBytes(int64(len(spaced)))
		var dst []byte
		for i := 0; i < b.N; i++ {
			dst = appendCompactJSON(dst[:0], spaced)
		}
	})
	b.Run("json.Compact", func(b *testing.B) {
		b.SetBytes(int64(len(spaced)))
		var dst bytes.Buffer
		for i := 0; i < b.N; i++ {
			dst.Reset()
			if err := json.Compact(&dst, spaced); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(v)))
		for i := 0; i < b.N; i++ {
			if !json.Valid(v) {
				b.Fatal("invalid")
			}
		}
	})
}
