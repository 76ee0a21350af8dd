package attack

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// sourceNames are the external_references source_name values that carry ATT&CK
// ids: "mitre-attack" almost everywhere, the mobile and ICS spellings on a few
// objects.
var sourceNames = map[string]bool{"mitre-attack": true, "mitre-mobile-attack": true, "mitre-ics-attack": true}

// prefixTypes maps an ATT&CK id prefix to the object types that id may name.
// Longer prefixes are tried first (see idTypes). A deprecated course-of-action
// carrying a technique's T id is thereby never taken for the technique.
var prefixTypes = []struct {
	prefix string
	types  []string
}{
	{"DET", []string{"x-mitre-detection-strategy"}},
	{"TA", []string{"x-mitre-tactic"}},
	{"DS", []string{"x-mitre-data-source"}},
	{"DC", []string{"x-mitre-data-component"}},
	{"AN", []string{"x-mitre-analytic"}},
	{"T", []string{"attack-pattern"}},
	{"G", []string{"intrusion-set"}},
	{"S", []string{"malware", "tool"}},
	{"M", []string{"course-of-action"}},
	{"C", []string{"campaign"}},
	{"A", []string{"x-mitre-asset"}},
}

// idTypes returns the object types an ATT&CK id may name, or nil when its prefix
// is not an ATT&CK one (then any type is accepted: matrices carry the domain name).
func idTypes(id string) []string {
	for _, p := range prefixTypes {
		if rest, ok := strings.CutPrefix(id, p.prefix); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
			return p.types
		}
	}
	return nil
}

// Canonical returns the canonical spelling of an ATT&CK id: trimmed, upper case,
// the sub-technique separator a dot ("t1059/001" → "T1059.001").
func Canonical(externalID string) string {
	s := strings.ToUpper(strings.TrimSpace(externalID))
	if strings.HasPrefix(s, "T") && strings.Count(s, "/") == 1 {
		s = strings.Replace(s, "/", ".", 1)
	}
	return s
}

// Ref is what an ATT&CK id resolves to: the current ATT&CK object.
type Ref struct {
	ID         string // the object's STIX id (MITRE's own)
	Type       string // attack-pattern, intrusion-set, malware, tool, x-mitre-tactic, ...
	Name       string
	ExternalID string // the object's own ATT&CK id (T1027.005 when T1066 was asked for)
	URL        string // the ATT&CK web page
	// Revoked is the id asked for when it named a revoked object whose revoked-by
	// chain led here; empty otherwise.
	Revoked string
	// Deprecated says the object is deprecated (x_mitre_deprecated) and MITRE names
	// no replacement; it is still the best answer for the id.
	Deprecated bool
}

// entry is one indexed object.
type entry struct {
	id, typ, name, extID, url, modified string
	revoked, deprecated                 bool
}

// Index resolves ATT&CK ids to objects of one or more ATT&CK bundles (enterprise,
// mobile, ICS). Build it with Load or New plus Add; after loading it is safe for
// concurrent Resolve calls. Add is not safe for concurrent use.
type Index struct {
	byExt     map[string][]*entry  // canonical ATT&CK id → candidate objects of a fitting type
	byName    map[string][]nameRef // NormalizeName(name or alias) → objects
	byID      map[string]*entry    // STIX id → object
	revokedBy map[string]string    // STIX id → replacing STIX id (revoked-by relationships)
	objects   int
}

// New returns an empty index.
func New() *Index {
	return &Index{byExt: map[string][]*entry{}, byName: map[string][]nameRef{}, byID: map[string]*entry{}, revokedBy: map[string]string{}}
}

// Load builds an index from bundle files, gzip-compressed or plain JSON.
func Load(files ...string) (*Index, error) {
	ix := New()
	for _, f := range files {
		if err := ix.AddFile(f); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

// AddFile adds the bundle in file (gzip or plain JSON) to the index.
func (ix *Index) AddFile(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("attack: %w", err)
	}
	defer f.Close()
	if err := ix.Add(f); err != nil {
		return fmt.Errorf("attack: %s: %w", file, err)
	}
	return nil
}

// Len returns the number of objects indexed (relationships not counted).
func (ix *Index) Len() int { return ix.objects }

// object is the part of an ATT&CK object the index reads.
type object struct {
	Type               string   `json:"type"`
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	Modified           string   `json:"modified"`
	Revoked            bool     `json:"revoked"`
	Deprecated         bool     `json:"x_mitre_deprecated"`
	Aliases            []string `json:"aliases"`
	MitreAliases       []string `json:"x_mitre_aliases"`
	RelationshipType   string   `json:"relationship_type"`
	SourceRef          string   `json:"source_ref"`
	TargetRef          string   `json:"target_ref"`
	ExternalReferences []struct {
		SourceName string `json:"source_name"`
		ExternalID string `json:"external_id"`
		URL        string `json:"url"`
	} `json:"external_references"`
}

// Add reads one STIX bundle (gzip or plain JSON) from r, streaming its objects.
func (ix *Index) Add(r io.Reader) error {
	return streamBundle(r, func(dec *json.Decoder, n int) error {
		var o object
		if err := dec.Decode(&o); err != nil {
			return fmt.Errorf("objects[%d]: %w", n, err)
		}
		ix.add(&o)
		return nil
	})
}

func (ix *Index) add(o *object) {
	if o.Type == "relationship" {
		if o.RelationshipType == "revoked-by" && o.SourceRef != "" && o.TargetRef != "" {
			ix.revokedBy[o.SourceRef] = o.TargetRef
		}
		return
	}
	if o.ID == "" {
		return
	}
	e := &entry{id: o.ID, typ: o.Type, name: o.Name, modified: o.Modified, revoked: o.Revoked, deprecated: o.Deprecated}
	for _, ref := range o.ExternalReferences {
		if sourceNames[ref.SourceName] && ref.ExternalID != "" {
			e.extID, e.url = Canonical(ref.ExternalID), ref.URL
			break
		}
	}
	if old, ok := ix.byID[o.ID]; ok {
		if old.modified >= e.modified { // the same object from another domain's bundle
			return
		}
		*old = *e // a newer release: update in place, the id lists keep pointing at it
		return
	}
	ix.objects++
	ix.byID[o.ID] = e
	if namedTypes[e.typ] {
		ix.addName(e, o.Name, true)
		for _, a := range o.Aliases {
			ix.addName(e, a, false)
		}
		for _, a := range o.MitreAliases {
			ix.addName(e, a, false)
		}
	}
	if e.extID == "" {
		return
	}
	if types := idTypes(e.extID); types != nil {
		fits := false
		for _, t := range types {
			fits = fits || t == e.typ
		}
		if !fits {
			return // e.g. a deprecated course-of-action carrying a technique's T id
		}
	}
	ix.byExt[e.extID] = append(ix.byExt[e.extID], e)
}

// better reports whether a should answer for an id rather than b: current before
// deprecated before revoked, then the later modified.
func better(a, b *entry) bool {
	rank := func(e *entry) int {
		switch {
		case e.revoked:
			return 2
		case e.deprecated:
			return 1
		}
		return 0
	}
	if rank(a) != rank(b) {
		return rank(a) < rank(b)
	}
	return a.modified > b.modified
}

// Resolve returns the ATT&CK object an ATT&CK id names (T1059, T1059.001, S0154,
// G0007, TA0002, M1038, C0015, ...; any case, "T1059/001" accepted). A revoked
// object is followed along its revoked-by relationships to its replacement; a
// deprecated one without a replacement is returned with Deprecated set. Only
// objects of the type the id's prefix implies are considered. ok is false for an
// unknown id, or a revoked one whose replacement is not in the index.
func (ix *Index) Resolve(externalID string) (Ref, bool) {
	ext := Canonical(externalID)
	var best *entry
	for _, e := range ix.byExt[ext] {
		if best == nil || better(e, best) {
			best = e
		}
	}
	if best == nil {
		return Ref{}, false
	}
	return ix.follow(best, ext)
}

// Object returns the ATT&CK object with STIX id id, following revocations as
// Resolve does.
func (ix *Index) Object(id string) (Ref, bool) {
	e, ok := ix.byID[id]
	if !ok {
		return Ref{}, false
	}
	return ix.follow(e, e.extID)
}

func (ix *Index) follow(e *entry, asked string) (Ref, bool) {
	via := ""
	for hops := 0; e.revoked; hops++ {
		next, ok := ix.revokedBy[e.id]
		if !ok || hops > 32 {
			return Ref{}, false
		}
		if via == "" {
			via = asked
		}
		if e, ok = ix.byID[next]; !ok {
			return Ref{}, false
		}
	}
	return Ref{ID: e.id, Type: e.typ, Name: e.name, ExternalID: e.extID, URL: e.url, Revoked: via, Deprecated: e.deprecated}, true
}

// Replacement returns the object that replaces the ATT&CK object with STIX id
// id: for a revoked object, the end of its revoked-by chain. ok is false when id
// is not in the index, is not revoked (a deprecated object without a revoked-by
// relationship has no machine-readable replacement), or its replacement is not
// in the index.
func (ix *Index) Replacement(id string) (Ref, bool) {
	e, ok := ix.byID[id]
	if !ok || !e.revoked {
		return Ref{}, false
	}
	return ix.follow(e, e.extID)
}

// namedTypes are the object types ResolveName finds by name and alias.
var namedTypes = map[string]bool{"attack-pattern": true, "intrusion-set": true, "malware": true, "tool": true,
	"campaign": true, "x-mitre-tactic": true, "course-of-action": true}

// nameRef is one object a name or alias points at.
type nameRef struct {
	e       *entry
	primary bool // the object's name, not an alias
}

func (ix *Index) addName(e *entry, name string, primary bool) {
	k := NormalizeName(name)
	if k == "" {
		return
	}
	for _, r := range ix.byName[k] {
		if r.e == e {
			return
		}
	}
	ix.byName[k] = append(ix.byName[k], nameRef{e, primary})
}

// NormalizeName is the form names and aliases are compared in: trimmed, lower
// case, runs of white space, "-" and "_" folded to one space ("Cobalt-Strike" =
// "cobalt strike").
func NormalizeName(name string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		if r == ' ' || r == '\t' || r == '-' || r == '_' || r == '\n' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// ResolveName returns the ATT&CK object named name, by its name or one of its
// aliases (intrusion-set aliases, x_mitre_aliases of software), compared with
// NormalizeName: "Fancy Bear" → APT28 (G0007). With types given only objects of
// those types are considered. A primary name wins over an alias, a current object
// over a deprecated or revoked one; revoked objects are followed as in Resolve.
func (ix *Index) ResolveName(name string, types ...string) (Ref, bool) {
	var best *nameRef
	for i, r := range ix.byName[NormalizeName(name)] {
		if len(types) > 0 && !slices.Contains(types, r.e.typ) {
			continue
		}
		if best == nil || r.primary && !best.primary || r.primary == best.primary && better(r.e, best.e) {
			best = &ix.byName[NormalizeName(name)][i]
		}
	}
	if best == nil {
		return Ref{}, false
	}
	return ix.follow(best.e, best.e.extID)
}

// ErrNotBundle is returned when the input is not a JSON object with an objects array.
var ErrNotBundle = errors.New("not a STIX bundle")

// streamBundle calls fn for each element of the bundle's objects array with the
// decoder positioned on it (fn decodes exactly one value), without holding the
// whole bundle in memory. r may be gzip.
func streamBundle(r io.Reader, fn func(dec *json.Decoder, n int) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	dec := json.NewDecoder(br)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("%w: want a JSON object", ErrNotBundle)
	}
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if key != "objects" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("bundle %q: %w", key, err)
			}
			continue
		}
		found = true
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			return fmt.Errorf("%w: objects is not an array", ErrNotBundle)
		}
		for n := 0; dec.More(); n++ {
			if err := fn(dec, n); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("%w: no objects array", ErrNotBundle)
	}
	return nil
}
