package stix

import "unsafe"

// Property names the package knows are numbered (keyID) when an object is
// scanned, so that the rules switch on small integers and index tables instead
// of comparing strings and hashing them into maps, and so that scanning does not
// allocate a string per member name.

// keyID numbers a known property name; kUnknown is any other name.
type keyID uint16

// The names the code refers to by constant; the other known names (every
// property of specTypes, …) get the following numbers at start-up.
const (
	kUnknown keyID = iota
	kType
	kSpecVersion
	kID
	kCreatedByRef
	kCreated
	kModified
	kRevoked
	kLabels
	kConfidence
	kLang
	kExternalReferences
	kObjectMarkingRefs
	kGranularMarkings
	kDefanged
	kExtensions
	kSourceName
	kDescription
	kURL
	kExternalID
	kHashes
	kExtensionType
	kMarkingRef
	kSelectors
	kPattern
	kPatternType
	kValidFrom
	kValidUntil
	kName
	nFixedKeys
)

var fixedKeyNames = [nFixedKeys]string{"", "type", "spec_version", "id", "created_by_ref", "created",
	"modified", "revoked", "labels", "confidence", "lang", "external_references", "object_marking_refs",
	"granular_markings", "defanged", "extensions", "source_name", "description", "url", "external_id",
	"hashes", "extension_type", "marking_ref", "selectors", "pattern", "pattern_type", "valid_from",
	"valid_until", "name"}

// Flags of a known name, precomputed from the rules that depend only on the name.
const (
	kfNameOK   uint8 = 1 << iota // checkPropName has nothing to say
	kfReserved                   // in reservedProps
	kfRef                        // ends in _ref
	kfRefs                       // ends in _refs
	kfBin                        // ends in _bin
	kfHex                        // ends in _hex
)

// keySlot is one entry of the open-addressing table of known names.
type keySlot struct {
	name string
	id   keyID
}

const keyTabBits = 11

// keyTable maps known names to their ids; keyNames and keyFlags are indexed by id.
type keyTable struct {
	slots [1 << keyTabBits]keySlot
	names []string
	flags []uint8
}

var keys = func() *keyTable {
	t := &keyTable{}
	add := func(k string) {
		if k == "" || t.lookup(k) != kUnknown {
			return
		}
		id := keyID(len(t.names))
		t.names = append(t.names, k)
		h := keyHash(k)
		for t.slots[h].id != kUnknown {
			h = (h + 1) & (1<<keyTabBits - 1)
		}
		t.slots[h] = keySlot{name: k, id: id}
	}
	t.names = append(t.names, "")
	for _, k := range fixedKeyNames[1:] {
		add(k)
	}
	for _, ts := range specTypes {
		for p := range ts.props {
			add(p)
		}
	}
	for p := range reservedProps {
		add(p)
	}
	for _, k := range []string{"objects", "more", "next", "MD5", "SHA-1", "SHA-256", "SHA-512",
		"SHA3-256", "SHA3-512", "SSDEEP", "TLSH", "kill_chain_name", "phase_name", "tlp", "statement",
		"tlp_2_0", "risk_score", "risk_reasons", TLP2ExtensionID} {
		add(k)
	}
	if len(t.names) > 1<<(keyTabBits-1) {
		panic("stix: too many known property names for the key table")
	}
	t.flags = make([]uint8, len(t.names))
	return t
}()

// keyHash mixes the length and a few bytes of k into a slot index.
func keyHash[T string | []byte](k T) uint32 {
	n := len(k)
	if n == 0 {
		return 0
	}
	h := uint32(n) | uint32(k[0])<<8 | uint32(k[n-1])<<16 | uint32(k[n/2])<<24
	h ^= uint32(k[n/3]) * 0x9E3779B1
	h *= 0x85EBCA6B
	h ^= h >> 15
	return h & (1<<keyTabBits - 1)
}

// lookup returns the id of a known name, or kUnknown.
func (t *keyTable) lookup(k string) keyID {
	for h := keyHash(k); ; h = (h + 1) & (1<<keyTabBits - 1) {
		s := &t.slots[h]
		if s.id == kUnknown {
			return kUnknown
		}
		if len(s.name) == len(k) && s.name == k {
			return s.id
		}
	}
}

// internKey returns b as a string and its id without allocating: known
// property names come from the table, other names share b's memory (see
// viewValue for why that is safe here).
func internKey(b []byte) (string, keyID) {
	for h := keyHash(b); ; h = (h + 1) & (1<<keyTabBits - 1) {
		s := &keys.slots[h]
		if s.id == kUnknown {
			break
		}
		if len(s.name) == len(b) && s.name == string(b) {
			return s.name, s.id
		}
	}
	if len(b) == 0 {
		return "", kUnknown
	}
	return unsafe.String(&b[0], len(b)), kUnknown
}

// keyFlags returns the flags of a member name: precomputed for known names,
// computed for others.
func keyFlags(k string, id keyID) uint8 {
	if id != kUnknown {
		return keys.flags[id]
	}
	return nameFlags(k)
}

func nameFlags(k string) uint8 {
	var f uint8
	if reservedProps[k] {
		f |= kfReserved
	}
	if n := len(k); n >= 4 {
		switch {
		case k[n-4:] == "_ref":
			f |= kfRef
		case n >= 5 && k[n-5:] == "_refs":
			f |= kfRefs
		case k[n-4:] == "_bin":
			f |= kfBin
		case k[n-4:] == "_hex":
			f |= kfHex
		}
	}
	return f
}

func init() {
	probe := objCheck{v: &Validator{}}
	for id, k := range keys.names {
		if id == 0 {
			continue
		}
		f := nameFlags(k)
		probe.out = probe.out[:0]
		probe.checkPropName(k)
		if len(probe.out) == 0 {
			f |= kfNameOK
		}
		keys.flags[id] = f
	}
}

// indexSpecKeys fills typeSpec.byKey and requiredIDs; vocab.go's init calls it
// once typeSpec.info is built.
func indexSpecKeys() {
	for _, ts := range specTypes {
		ts.byKey = make([]*propInfo, len(keys.names))
		for p, pi := range ts.info {
			ts.byKey[keys.lookup(p)] = pi
		}
		ts.requiredIDs = make([]keyID, len(ts.required))
		for i, p := range ts.required {
			ts.requiredIDs[i] = keys.lookup(p)
		}
	}
}
