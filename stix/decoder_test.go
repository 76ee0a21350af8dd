package stix_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/stix"
)

// MustDecodeAll reads every object from in and returns them with the envelope.
func MustDecodeAll(tb testing.TB, in []byte, lim stix.Limits) ([]*stix.RawObject, stix.Envelope) {
	tb.Helper()
	d := stix.NewDecoder(bytes.NewReader(in), lim)
	var out []*stix.RawObject
	for {
		o, err := d.Next()
		if err == io.EOF {
			return out, d.Envelope()
		}
		if err != nil {
			tb.Fatalf("Next() at %s: %v", d.Path(), err)
		}
		out = append(out, o)
	}
}

const ind1 = `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2016-04-06T20:03:48Z","x_custom":{"a":[1,2,{"b":"\u00e9\"}"}]}}`
const id1 = `{"type":"identity","spec_version":"2.1","id":"identity--8ae20dde-83d4-4218-88fd-41ef0dabf9d1","created":"2016-08-22T14:09:00.123Z","modified":"2016-08-22T14:09:00.123Z","name":"mitre.org"}`

func TestDecoderShapes(t *testing.T) {
	for name, tt := range map[string]struct {
		in       string
		kind     stix.ContainerKind
		ids      []string
		more     bool
		next     string
		bundleID string
	}{
		"bundle": {`{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":[` + ind1 + `, ` + id1 + `]}`,
			stix.ContainerBundle, []string{"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "identity--8ae20dde-83d4-4218-88fd-41ef0dabf9d1"}, false, "", "bundle--44af6c39-c09b-49c5-9de2-394224b04982"},
		"bundle, objects first": {`{"objects":[` + id1 + `],"id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","type":"bundle"}`,
			stix.ContainerBundle, []string{"identity--8ae20dde-83d4-4218-88fd-41ef0dabf9d1"}, false, "", "bundle--44af6c39-c09b-49c5-9de2-394224b04982"},
		"envelope, more/next last": {` {"objects":[` + id1 + `,` + ind1 + `],"more":true,"next":"abc"} `,
			stix.ContainerEnvelope, []string{"identity--8ae20dde-83d4-4218-88fd-41ef0dabf9d1", "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}, true, "abc", ""},
		"envelope, empty": {`{"more":false,"objects":[]}`, stix.ContainerEnvelope, nil, false, "", ""},
		"single object":   {"\n" + ind1 + "\n", stix.ContainerSingle, []string{"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}, false, "", "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"},
		"single object with an objects property": {`{"type":"x-thing","objects":[1,2],"id":"x-thing--8ae20dde-83d4-4218-88fd-41ef0dabf9d1"}`,
			stix.ContainerSingle, []string{"x-thing--8ae20dde-83d4-4218-88fd-41ef0dabf9d1"}, false, "", "x-thing--8ae20dde-83d4-4218-88fd-41ef0dabf9d1"},
		"bundle without objects":   {`{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982"}`, stix.ContainerBundle, nil, false, "", "bundle--44af6c39-c09b-49c5-9de2-394224b04982"},
		"envelope without objects": {`{"more":false}`, stix.ContainerEnvelope, nil, false, "", ""},
		"bare list":                {`[` + id1 + `]`, stix.ContainerList, []string{"identity--8ae20dde-83d4-4218-88fd-41ef0dabf9d1"}, false, "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			// A one-byte reader exercises every buffer boundary.
			d := stix.NewDecoder(io.LimitReader(&oneByteReader{r: strings.NewReader(tt.in)}, 1<<20), stix.Limits{})
			var ids []string
			for {
				o, err := d.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("Next(): %v", err)
				}
				ids = append(ids, o.ID)
				if !strings.Contains(tt.in, string(o.JSON)) {
					t.Errorf("object bytes %q are not a verbatim slice of the input", o.JSON)
				}
			}
			env := d.Envelope()
			if env.Kind != tt.kind {
				t.Errorf("Kind = %v, want %v", env.Kind, tt.kind)
			}
			if strings.Join(ids, ",") != strings.Join(tt.ids, ",") {
				t.Errorf("ids = %v, want %v", ids, tt.ids)
			}
			if env.More != tt.more || env.Next != tt.next || env.ID != tt.bundleID {
				t.Errorf("envelope = %+v, want more=%v next=%q id=%q", env, tt.more, tt.next, tt.bundleID)
			}
		})
	}
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestDecoderCommon(t *testing.T) {
	objs, _ := MustDecodeAll(t, MustReadShared(t, "testdata/stix/valid/cti-documentation--using-granular-markings.json"), stix.Limits{})
	if len(objs) == 0 {
		t.Fatal("no objects")
	}
	var withGranular int
	for _, o := range objs {
		if o.Type == "" || o.ID == "" || !strings.HasPrefix(o.ID, o.Type+"--") {
			t.Errorf("common properties not parsed: %+v", o.Common)
		}
		withGranular += len(o.GranularMarkings)
	}
	if withGranular == 0 {
		t.Error("no granular markings parsed")
	}
}

func TestDecoderErrors(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70)
	for name, tt := range map[string]struct {
		in      string
		lim     stix.Limits
		wantErr string // substring of the first error
		target  any
	}{
		"truncated":             {`{"type":"bundle","objects":[{"type":"identity","id":"identity--8ae`, stix.Limits{}, "unexpected EOF", nil},
		"truncated after array": {`{"objects":[` + id1 + `]`, stix.Limits{}, "unexpected EOF", nil},
		"garbage element":       {`{"objects":[{"type":"x",}]}`, stix.Limits{}, "invalid JSON", new(*stix.SyntaxError)},
		"trailing data":         {id1 + ` {}`, stix.Limits{}, "data after", nil},
		"not an object":         {`"hello"`, stix.Limits{}, "want a JSON object", new(*stix.NotObjectError)},
		"empty":                 {`   `, stix.Limits{}, "empty input", nil},
		"deep single":           {deep, stix.Limits{}, "max JSON depth", new(*stix.LimitError)},
		"deep in bundle":        {`{"objects":[` + deep + `]}`, stix.Limits{}, "max JSON depth (64)", new(*stix.LimitError)},
		"object too large":      {`{"objects":[` + id1 + `]}`, stix.Limits{MaxObjectSize: 100, MaxDepth: 64}, "objects[0]", new(*stix.LimitError)},
		"bad utf8":              {"{\"objects\":[{\"type\":\"x\xff\"}]}", stix.Limits{}, "invalid UTF-8", nil},
		"bad escape":            {`{"objects":[{"type":"\q"}]}`, stix.Limits{}, "invalid escape", nil},
		"wrong number":          {`{"objects":[{"n":01}]}`, stix.Limits{}, "invalid", nil},
	} {
		t.Run(name, func(t *testing.T) {
			d := stix.NewDecoder(strings.NewReader(tt.in), tt.lim)
			var err error
			for err == nil {
				_, err = d.Next()
			}
			if err == io.EOF {
				t.Fatalf("got io.EOF, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
			if tt.target != nil && !errors.As(err, tt.target) {
				t.Fatalf("got %T (%v), want it to wrap %T", err, err, tt.target)
			}
		})
	}
}

// TestDecoderContinuesAfterBadElement: a non-object element or an oversized
// object is reported and decoding goes on.
func TestDecoderContinuesAfterBadElement(t *testing.T) {
	big := `{"type":"x-big","id":"x-big--8ae20dde-83d4-4218-88fd-41ef0dabf9d1","pad":"` + strings.Repeat("a", 300) + `"}`
	in := `{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":["identity",` + big + `,` + id1 + `]}`
	d := stix.NewDecoder(strings.NewReader(in), stix.Limits{MaxObjectSize: 256, MaxDepth: 64})
	var errs []string
	var ids []string
	for {
		o, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		ids = append(ids, o.ID)
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "objects[0]") || !strings.Contains(errs[1], "objects[1]") || !strings.Contains(errs[1], "max object size") {
		t.Errorf("errors = %q, want objects[0] not-object and objects[1] max object size", errs)
	}
	if len(ids) != 1 || ids[0] != "identity--8ae20dde-83d4-4218-88fd-41ef0dabf9d1" {
		t.Errorf("ids = %v, want the identity", ids)
	}
}

// patternReader yields prefix, then n bytes of 'a', then suffix, without holding
// them: a 100 MB string costs no memory in the test itself.
type patternReader struct {
	prefix, suffix string
	n, off         int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	total := int64(len(p.prefix)) + p.n + int64(len(p.suffix))
	if p.off >= total {
		return 0, io.EOF
	}
	i := 0
	for i < len(b) && p.off < total {
		switch {
		case p.off < int64(len(p.prefix)):
			b[i] = p.prefix[p.off]
		case p.off < int64(len(p.prefix))+p.n:
			b[i] = 'a'
		default:
			b[i] = p.suffix[p.off-int64(len(p.prefix))-p.n]
		}
		i++
		p.off++
	}
	return i, nil
}

// Test100MBString: a 100 MB string inside an object, or at the top level of an
// envelope, stops at the 16 MiB object limit with a named error, in bounded
// memory.
func Test100MBString(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 100 MB")
	}
	for name, r := range map[string]*patternReader{
		"in an object":   {prefix: `{"objects":[{"type":"x-big","pad":"`, suffix: `"}]}`, n: 100 << 20},
		"in an envelope": {prefix: `{"next":"`, suffix: `","objects":[]}`, n: 100 << 20},
		"single object":  {prefix: `{"type":"x-big","pad":"`, suffix: `"}`, n: 100 << 20},
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			d := stix.NewDecoder(r, stix.DefaultLimits)
			var err error
			for err == nil {
				_, err = d.Next()
			}
			runtime.ReadMemStats(&after)
			var le *stix.LimitError
			if !errors.As(err, &le) || le.Limit != "max object size" {
				t.Fatalf("got %v, want a max object size LimitError", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*uint64(stix.DefaultLimits.MaxObjectSize) {
				t.Errorf("allocated %d bytes for a rejected 100 MB string, want at most %d", alloc, 4*stix.DefaultLimits.MaxObjectSize)
			}
		})
	}
}

func TestValidateLimitFindings(t *testing.T) {
	deep := `{"type":"bundle","id":"bundle--44af6c39-c09b-49c5-9de2-394224b04982","objects":[` + strings.Repeat("[", 80) + strings.Repeat("]", 80) + `]}`
	fs := stix.Validate([]byte(deep))
	if !stix.HasErrors(fs) || fs[0].Rule != "limit" || !strings.Contains(fs[0].Message, "max JSON depth") || fs[0].Path != "objects[0]" {
		t.Fatalf("findings = %+v, want a limit finding naming max JSON depth at objects[0]", fs)
	}
}

// TestEnvelopeMembersSurviveBufferReuse: member names read before and after a
// long objects array stay intact.
func TestEnvelopeMembersSurviveBufferReuse(t *testing.T) {
	var objs []string
	for i := 0; i < 200; i++ {
		objs = append(objs, id1)
	}
	in := `{"x_before_member":1,"objects":[` + strings.Join(objs, ",") + `],"more":false,"next":"n","x_after_member":2}`
	_, env := MustDecodeAll(t, []byte(in), stix.Limits{})
	want := "x_before_member,objects,more,next,x_after_member"
	if got := strings.Join(env.Members, ","); got != want {
		t.Fatalf("Members = %s, want %s", got, want)
	}
}
