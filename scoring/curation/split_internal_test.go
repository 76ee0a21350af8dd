package curation

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// sharedDir returns ../shared relative to the repository root, or skips.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found")
		}
		dir = parent
	}
	shared := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("%s missing: %v", shared, err)
	}
	return shared
}

// TestSplitMatchesEncodingJSON splits every object of the shared valid STIX
// bundles and compares with encoding/json's map[string]json.RawMessage.
func TestSplitMatchesEncodingJSON(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedDir(t), "testdata", "stix", "valid", "*.json"))
	if len(files) == 0 {
		t.Skip("no shared STIX bundles")
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var bundle struct {
			Objects []json.RawMessage `json:"objects"`
		}
		if json.Unmarshal(b, &bundle) != nil {
			continue
		}
		for _, o := range bundle.Objects {
			var want map[string]json.RawMessage
			if err := json.Unmarshal(o, &want); err != nil {
				t.Fatal(err)
			}
			got, err := split(o, nil)
			if err != nil {
				t.Fatalf("%s: split: %v", f, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s: %d properties, want %d", f, len(got), len(want))
			}
			for _, fl := range got {
				if w, ok := want[fl.key]; !ok || !bytes.Equal(bytes.TrimSpace(w), fl.val) {
					t.Fatalf("%s: %s = %s, want %s", f, fl.key, fl.val, w)
				}
			}
			n++
		}
	}
	if n < 50 {
		t.Fatalf("only %d objects compared", n)
	}
	for _, bad := range []string{``, `[]`, `{"a"}`, `{"a":}`, `{"a":"x}`, `{"a":1,}`, `{"a":{"b":1}`} {
		if _, err := split([]byte(bad), nil); err == nil {
			t.Errorf("split(%q) accepted", bad)
		}
	}
}

func TestBandOf(t *testing.T) {
	ext := []byte(`{"x-other":{"band":"wrong"},"` + "extension-definition--af6479eb-1cf8-4bc2-87b7-e0558fafb442" +
		`":{"extension_type":"property-extension","score":61,"band":"high","factors":[{"explanation":"say \"band\":\"low\""}]}}`)
	if got := bandOf(ext); got != "high" {
		t.Errorf("bandOf = %q, want high", got)
	}
	if got := bandOf([]byte(`{}`)); got != "" {
		t.Errorf("bandOf({}) = %q", got)
	}
}
