package bolt

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"
)

// Sub-buckets of one collection bucket, and its info key.
var (
	subLog   = []byte("log")   // date_added µs (8 bytes BE) → record
	subIDs   = []byte("ids")   // id 0x00 version (12 bytes) → index entry
	subTypes = []byte("types") // type 0x00 date_added (8 bytes) → empty
	subGens  = []byte("gens")  // generation number (8 bytes) → bucket laid out as ids
	keyInfo  = []byte("info")
)

// Record flags, kept in the first byte of a log record and of an index entry.
const (
	flagLast    = 1 << 0 // latest version among the id's versions of its highest spec_version
	flagFirst   = 1 << 1 // earliest version among those
	flagSpecMax = 1 << 2 // spec_version is the highest the id has in this collection
	flagRef     = 1 << 3 // membership record: the bytes live in another collection
	flagSCO     = 1 << 4 // version is the first date_added of the content hash
)

// verLen is the length of an encoded version: sign-flipped seconds and nanoseconds.
const verLen = 12

func putVer(b []byte, t time.Time) {
	binary.BigEndian.PutUint64(b, uint64(t.Unix())^(1<<63))
	binary.BigEndian.PutUint32(b[8:], uint32(t.Nanosecond()))
}

func appendVer(b []byte, t time.Time) []byte {
	var v [verLen]byte
	putVer(v[:], t)
	return append(b, v[:]...)
}

func getVer(b []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	return time.Unix(sec, int64(binary.BigEndian.Uint32(b[8:]))).UTC()
}

func daKey(da uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), da) }

func daTime(da uint64) time.Time { return time.UnixMicro(int64(da)).UTC() }

// idPrefix is the ids-index prefix of every version of id.
func idPrefix(id string) []byte {
	b := make([]byte, 0, len(id)+1+verLen)
	b = append(b, id...)
	return append(b, 0)
}

// header is the decoded front of a log record.
type header struct {
	flags byte
	ver   []byte // verLen bytes
	id    []byte
	typ   []byte
	spec  []byte
	hash  []byte // flagSCO: SHA-256 of the canonical bytes
	src   []byte // flagRef: source collection
	srcDA []byte // flagRef: source date_added key
	body  []byte // stored JSON (not flagRef)
}

var errCorrupt = errors.New("corrupt record")

// appendRecord encodes a log record up to its body (stored bytes or reference).
func appendRecord(b []byte, flags byte, ver []byte, id, typ, spec string, hash []byte) []byte {
	b = append(b, flags)
	b = append(b, ver...)
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	b = binary.AppendUvarint(b, uint64(len(typ)))
	b = append(b, typ...)
	b = binary.AppendUvarint(b, uint64(len(spec)))
	b = append(b, spec...)
	if flags&flagSCO != 0 {
		b = binary.AppendUvarint(b, uint64(len(hash)))
		b = append(b, hash...)
	}
	return b
}

func readBytes(v []byte) ([]byte, []byte, bool) {
	n, k := binary.Uvarint(v)
	if k <= 0 || uint64(len(v)-k) < n {
		return nil, nil, false
	}
	return v[k : k+int(n)], v[k+int(n):], true
}

func decodeHeader(v []byte, h *header) error {
	if len(v) < 1+verLen {
		return errCorrupt
	}
	h.flags = v[0]
	h.ver = v[1 : 1+verLen]
	rest := v[1+verLen:]
	var ok bool
	if h.id, rest, ok = readBytes(rest); !ok {
		return errCorrupt
	}
	if h.typ, rest, ok = readBytes(rest); !ok {
		return errCorrupt
	}
	if h.spec, rest, ok = readBytes(rest); !ok {
		return errCorrupt
	}
	h.hash, h.src, h.srcDA, h.body = nil, nil, nil, nil
	if h.flags&flagSCO != 0 {
		if h.hash, rest, ok = readBytes(rest); !ok {
			return errCorrupt
		}
	}
	if h.flags&flagRef != 0 {
		if h.src, rest, ok = readBytes(rest); !ok || len(rest) != 8 {
			return errCorrupt
		}
		h.srcDA = rest
		return nil
	}
	h.body = rest
	return nil
}

// Index entry (ids bucket value): flags, date_added, hash length, hash, spec_version.
func appendEntry(b []byte, flags byte, da uint64, hash []byte, spec string) []byte {
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, da)
	b = append(b, byte(len(hash)))
	b = append(b, hash...)
	return append(b, spec...)
}

type entry struct {
	idx   int    // index bucket holding it (0 ids, i the i-th generation), -1 the tail
	key   []byte // full ids key
	ver   []byte
	flags byte
	da    uint64
	hash  []byte
	spec  []byte
}

func decodeEntry(k, v []byte, e *entry) error {
	if len(v) < 10 || len(k) < verLen+1 || int(v[9]) > len(v)-10 {
		return errCorrupt
	}
	e.key = k
	e.ver = k[len(k)-verLen:]
	e.flags = v[0]
	e.da = binary.BigEndian.Uint64(v[1:9])
	n := int(v[9])
	e.hash = v[10 : 10+n]
	e.spec = v[10+n:]
	return nil
}

// Cursor: version byte, date_added position, CRC-32 of both.
const cursorVersion = 1

func encodeCursor(da uint64) string {
	b := make([]byte, 0, 13)
	b = append(b, cursorVersion)
	b = binary.BigEndian.AppendUint64(b, da)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (uint64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 13 || b[0] != cursorVersion {
		return 0, false
	}
	if crc32.ChecksumIEEE(b[:9]) != binary.BigEndian.Uint32(b[9:]) {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[1:9]), true
}
