package stix_test

import (
	"bytes"
	"io"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/stix"
)

// checkParseAgrees asserts that ParseAndValidate, which leaves some common
// properties to the validation pass, returns the same object as ParseRaw and
// the same findings as ValidateObject on that object.
func checkParseAgrees(t *testing.T, name string, b []byte) {
	t.Helper()
	want, werr := stix.ParseRaw(b)
	v := &stix.Validator{}
	got, fs, gerr := v.ParseAndValidate(b)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: ParseRaw error %v, ParseAndValidate error %v", name, werr, gerr)
	}
	if werr != nil {
		return
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s: ParseAndValidate object\n%+v\nParseRaw object\n%+v", name, got.Common, want.Common)
	}
	if vfs := v.ValidateObject(want); !reflect.DeepEqual(fs, vfs) {
		t.Fatalf("%s: ParseAndValidate findings\n%v\nValidateObject findings\n%v", name, fs, vfs)
	}
}

// TestParseAndValidateAgrees runs checkParseAgrees over every object of
// ../shared/testdata/stix and over shapes where the deferred properties are
// repeated, mistyped or escaped.
func TestParseAndValidateAgrees(t *testing.T) {
	const id = `"type":"indicator","spec_version":"2.1","id":"indicator--a932fcc6-e032-476c-826f-cb970a5a1ade","created":"2024-03-01T10:21:07.123Z","modified":"2024-03-01T10:21:07.123Z","pattern":"[x:y = 'z']","pattern_type":"stix","valid_from":"2024-03-01T10:21:07Z"`
	const ref = `{"source_name":"a","url":"https://x.example/","hashes":{"MD5":"6db12788c37247f2316052e142f42f4b","x":1}}`
	const ext = `{"extension-definition--0bd91d8c-2a35-4c4d-a36c-0c7ee5f1e4aa":{"extension_type":"property-extension","a":1},"b-ext":{}}`
	cases := []string{
		`{` + id + `,"external_references":[` + ref + `]}`,
		`{` + id + `,"external_references":[` + ref + `],"external_references":null}`,
		`{` + id + `,"external_references":null,"external_references":[` + ref + `]}`,
		`{` + id + `,"external_references":[` + ref + `],"external_references":[{"source_name":"b","external_id":"1"}]}`,
		`{` + id + `,"external_references":[],"external_references":[` + ref + `],"external_references":3}`,
		`{` + id + `,"external_references":[1,` + ref + `,"x",{},{"source_name":2,"url":[],"hashes":[]}]}`,
		`{` + id + `,"external_references":[{"source_name":"a","hashes":{}},{"hashes":{"MD5":"x"},"hashes":{"SHA-1":"y"}}]}`,
		`{` + id + `,"external_references":{}}`,
		`{` + id + `,"external\u005freferences":[` + ref + `]}`,
		`{` + id + `,"extensions":` + ext + `}`,
		`{` + id + `,"extensions":{}}`,
		`{` + id + `,"extensions":[]}`,
		`{` + id + `,"extensions":` + ext + `,"extensions":null}`,
		`{` + id + `,"extensions":null,"extensions":` + ext + `}`,
		`{` + id + `,"extensions":{"a-ext":{"x":1}},"extensions":` + ext + `,"extensions":{"c-ext":{"y":2}}}`,
		`{` + id + `,"ext\u0065nsions":` + ext + `}`,
		`{` + id + `,"extensions":{"a-ext":1,"a-ext":{"z":[1,{"q":"\""}]}}}`,
	}
	for i, c := range cases {
		checkParseAgrees(t, "case "+string(rune('A'+i)), []byte(c))
	}
	root := filepath.Join(sharedDir(t), "testdata", "stix")
	n := 0
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		b := MustReadShared(t, filepath.Join("testdata", "stix", strings.TrimPrefix(path, root)))
		d := stix.NewDecoder(bytes.NewReader(b), stix.DefaultLimits)
		for {
			o, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				break
			}
			checkParseAgrees(t, path, bytes.Clone(o.JSON))
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("checked %d objects from %s, want the whole test data", n, root)
	}
}

// TestParsedSlicesAreIndependent checks that appending to one slice of a
// parsed object does not change another (they may share the object's memory).
func TestParsedSlicesAreIndependent(t *testing.T) {
	b := []byte(`{"type":"indicator","id":"indicator--a932fcc6-e032-476c-826f-cb970a5a1ade","labels":["a"],"object_marking_refs":["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421","marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],"external_references":[{"source_name":"s","external_id":"1"}]}`)
	for _, parse := range []func() *stix.RawObject{
		func() *stix.RawObject { o, _ := stix.ParseRaw(b); return o },
		func() *stix.RawObject { o, _, _ := (&stix.Validator{}).ParseAndValidate(b); return o },
	} {
		o := parse()
		want := append([]string(nil), o.ObjectMarkingRefs...)
		_ = append(o.Labels, "x", "y", "z")
		_ = append(o.ExternalReferences, stix.ExternalReference{SourceName: "t"})
		if !reflect.DeepEqual(o.ObjectMarkingRefs, want) || len(want) != 2 || o.ObjectMarkingRefs[0] == "x" {
			t.Fatalf("object_marking_refs changed to %v", o.ObjectMarkingRefs)
		}
		if len(o.ExternalReferences) != 1 || o.ExternalReferences[0].SourceName != "s" {
			t.Fatalf("external_references = %+v", o.ExternalReferences)
		}
	}
}
