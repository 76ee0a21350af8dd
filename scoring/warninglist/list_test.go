package warninglist_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/scoring/warninglist"
)

// sharedDir returns ../shared/warninglists relative to the repository root,
// skipping the test when the reference copy is absent.
func sharedDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("go.mod not found above the test directory")
		}
		dir = parent
	}
	d := filepath.Join(dir, "..", "shared", "warninglists")
	if _, err := os.Stat(d); err != nil {
		tb.Skipf("reference warninglists not found at %s: %v", d, err)
	}
	return d
}

func TestParseErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		json string
		want string
	}{
		"not json":        {`{`, "unexpected EOF"},
		"no name":         {`{"type":"string","matching_attributes":["md5"],"list":[]}`, "field name"},
		"bad type":        {`{"name":"x","type":"glob","matching_attributes":["md5"],"list":[]}`, "field type"},
		"no attributes":   {`{"name":"x","type":"string","list":[]}`, "field matching_attributes"},
		"bad category":    {`{"name":"x","type":"string","category":"maybe","matching_attributes":["md5"],"list":[]}`, "field category"},
		"list not array":  {`{"name":"x","type":"string","matching_attributes":["md5"],"list":"a"}`, "cannot unmarshal"},
		"name not string": {`{"name":1,"type":"string","matching_attributes":["md5"],"list":[]}`, "cannot unmarshal"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := warninglist.Parse("bad-list", []byte(tt.json))
			if err == nil {
				t.Fatal("Parse() = nil error, want one")
			}
			if !errors.Is(err, warninglist.ErrInvalidList) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "bad-list") {
				t.Fatalf("Parse() error = %v, want ErrInvalidList naming the list and %q", err, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		list warninglist.List
		want string
	}{
		"bad cidr":  {warninglist.List{ID: "c", Name: "c", Type: warninglist.TypeCIDR, MatchingAttributes: []string{"ip-dst"}, Entries: []string{"10.0.0.0/8", "10.0.0.300"}}, `entry 1 "10.0.0.300"`},
		"bad regex": {warninglist.List{ID: "r", Name: "r", Type: warninglist.TypeRegex, MatchingAttributes: []string{"email"}, Entries: []string{"/a(/i"}}, "entry 0"},
		"bad flag":  {warninglist.List{ID: "r", Name: "r", Type: warninglist.TypeRegex, MatchingAttributes: []string{"email"}, Entries: []string{"/a/q"}}, "unsupported flag"},
	} {
		t.Run(name, func(t *testing.T) {
			l := tt.list
			_, err := warninglist.NewSet(&l)
			if err == nil || !errors.Is(err, warninglist.ErrInvalidList) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewSet() error = %v, want ErrInvalidList with %q", err, tt.want)
			}
		})
	}
	a := &warninglist.List{ID: "a", Name: "a", Type: warninglist.TypeString, MatchingAttributes: []string{"md5"}}
	if _, err := warninglist.NewSet(a, a); err == nil {
		t.Fatal("NewSet(a, a) = nil error, want duplicate id error")
	}
}

// TestLoadReference compiles every list of the reference copy, so that an
// upstream list ctibroker does not embed still loads from a directory.
func TestLoadReference(t *testing.T) {
	lists, err := warninglist.Load(os.DirFS(sharedDir(t)), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(lists) < 100 {
		t.Fatalf("Load() = %d lists, want the whole reference copy (135)", len(lists))
	}
	if _, err := warninglist.NewSet(lists...); err != nil {
		t.Fatalf("NewSet(all reference lists) error = %v", err)
	}
}

// TestEmbeddedUnchanged checks that the embedded lists are byte-for-byte the
// reference copy, as lists/SOURCES.md states.
func TestEmbeddedUnchanged(t *testing.T) {
	dir := sharedDir(t)
	lists, err := warninglist.EmbeddedLists()
	if err != nil {
		t.Fatal(err)
	}
	if len(lists) < 50 {
		t.Fatalf("EmbeddedLists() = %d lists, want the 59 shipped", len(lists))
	}
	fsys := warninglist.EmbeddedFS()
	own := map[string]bool{"ipv6-special-purpose": true} // ctibroker's own lists (lists/SOURCES.md)
	for _, l := range lists {
		if own[l.ID] {
			continue
		}
		got, err := readFS(fsys, l.ID+"/list.json")
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(dir, l.ID, "list.json"))
		if err != nil {
			t.Fatalf("embedded list %q has no reference copy: %v", l.ID, err)
		}
		if string(got) != string(want) {
			t.Errorf("embedded %s/list.json differs from the reference copy", l.ID)
		}
	}
	for _, f := range []string{"LICENSE", "SOURCES.md"} {
		if _, err := readFS(fsys, f); err != nil {
			t.Errorf("embedded %s missing: %v", f, err)
		}
	}
}
