package taxii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// A cursor (`next`, TAXII 2.1 §3.4, Appendix B) is
//
//	base64url( 0x01 | collection | position | scope hash | consumer hash | HMAC-SHA256 )
//
// where strings are uvarint-length-prefixed, the scope hash covers the endpoint,
// the object id and the match[...] filters (not limit and not added_after: `next`
// wins over added_after), and the consumer hash the consumer name. The HMAC key
// is CTIBROKER_CURSOR_KEY, shared by every process, so cursors survive restarts
// and load balancers. A cursor is re-checked against the request it comes with:
// another collection, endpoint, filter set or consumer gets 400.

const cursorVersion = 1

// cursorScope is what a cursor is bound to besides its position.
type cursorScope struct {
	collection string
	ep         endpoint
	objectID   string
	q          *query
	consumer   string
}

func (s cursorScope) scopeHash() []byte {
	h := sha256.New()
	w := func(parts ...string) {
		for _, p := range parts {
			var n [binary.MaxVarintLen64]byte
			h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
			h.Write([]byte(p))
		}
	}
	w(string(s.ep), s.objectID)
	f := s.q.filter
	for _, list := range [][]string{f.IDs, f.Types, f.Versions, f.SpecVersions} {
		sorted := slices.Clone(list)
		slices.Sort(sorted)
		w(strings.Join(sorted, ","))
	}
	return h.Sum(nil)[:16]
}

func consumerHash(name string) []byte {
	h := sha256.Sum256([]byte("consumer\x00" + name))
	return h[:16]
}

// sealCursor returns the signed `next` for a backend position.
func sealCursor(key []byte, s cursorScope, position string) string {
	b := make([]byte, 0, 64+len(position)+len(s.collection))
	b = append(b, cursorVersion)
	b = binary.AppendUvarint(b, uint64(len(s.collection)))
	b = append(b, s.collection...)
	b = binary.AppendUvarint(b, uint64(len(position)))
	b = append(b, position...)
	b = append(b, s.scopeHash()...)
	b = append(b, consumerHash(s.consumer)...)
	m := hmac.New(sha256.New, key)
	m.Write(b)
	b = m.Sum(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// openCursor verifies a `next` value against the request's scope and returns the
// backend position. Every failure is an ErrBadParameter.
func openCursor(key []byte, s cursorScope, next string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(next)
	if err != nil || len(b) < 1+sha256.Size {
		return "", fmt.Errorf("next: not a cursor issued by this server: %w", ErrBadParameter)
	}
	body, mac := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	m := hmac.New(sha256.New, key)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return "", fmt.Errorf("next: signature does not verify (tampered, or issued with another CTIBROKER_CURSOR_KEY): %w", ErrBadParameter)
	}
	if body[0] != cursorVersion {
		return "", fmt.Errorf("next: unknown cursor version: %w", ErrBadParameter)
	}
	rest := body[1:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < n {
			return "", false
		}
		v := string(rest[k : k+int(n)])
		rest = rest[k+int(n):]
		return v, true
	}
	coll, ok1 := str()
	pos, ok2 := str()
	if !ok1 || !ok2 || len(rest) != 32 {
		return "", fmt.Errorf("next: malformed cursor: %w", ErrBadParameter)
	}
	switch {
	case coll != s.collection:
		return "", fmt.Errorf("next: cursor was issued for another collection: %w", ErrBadParameter)
	case !hmac.Equal(rest[16:], consumerHash(s.consumer)):
		return "", fmt.Errorf("next: cursor was issued to another consumer: %w", ErrBadParameter)
	case !hmac.Equal(rest[:16], s.scopeHash()):
		return "", fmt.Errorf("next: cursor was issued for another endpoint or other match[...] filters; send the original filters with it: %w", ErrBadParameter)
	}
	return pos, nil
}
