package stix

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// This file holds the package's own JSON scanner. It checks the full JSON grammar
// (RFC 8259: strings with valid escapes and UTF-8, numbers, literals, nesting) while
// recording, for one object, where each member's value starts and ends, so that
// decoding and validation read the common properties straight from the bytes
// without building a generic tree. The choice and its measurements are in doc.go.

// jsonKind is the kind of a JSON value.
type jsonKind uint8

const (
	jInvalid jsonKind = iota
	jString
	jNumber
	jObject
	jArray
	jTrue
	jFalse
	jNull
)

// String returns the JSON name of the kind.
func (k jsonKind) String() string {
	switch k {
	case jString:
		return "string"
	case jNumber:
		return "number"
	case jObject:
		return "object"
	case jArray:
		return "array"
	case jTrue, jFalse:
		return "boolean"
	case jNull:
		return "null"
	}
	return "invalid"
}

// member is one name/value pair of a JSON object: the decoded name and the value's
// bytes within the scanned buffer.
type member struct {
	key   string
	id    keyID // key's number if the package knows the name (top-level members only)
	kind  jsonKind
	plain bool   // a string value without escapes (set for top-level members only)
	val   []byte // the raw value, e.g. `"abc"` with its quotes, or `{...}`
}

// SyntaxError is malformed JSON: Offset is the byte offset within the scanned
// value (an object, or the whole input for Validate and ParseRaw).
type SyntaxError struct {
	Offset int
	Msg    string
}

// Error returns the offset and what is wrong.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// scanner checks JSON syntax over an in-memory buffer.
type scanner struct {
	data     []byte
	maxDepth int
}

func (s *scanner) syntaxErr(i int, format string, args ...any) error {
	return &SyntaxError{Offset: i, Msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *scanner) skipSpace(i int) int {
	for i < len(s.data) && isSpace(s.data[i]) {
		i++
	}
	return i
}

// strSafe marks bytes that may appear in a string without further checks.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// scanString checks the string starting at data[i] == '"' and returns the index
// after its closing quote and whether it contains escapes.
func (s *scanner) scanString(i int) (int, bool, error) {
	data := s.data
	start := i
	i++
	escaped := false
	for {
		// Eight bytes at a time while none is a quote, a backslash, a control
		// character or non-ASCII (SWAR: the lowest flagged byte of each test is
		// exact, so the first special byte is found without a byte loop).
		for i+8 <= len(data) {
			w := binary.LittleEndian.Uint64(data[i:])
			if m := ((w-lo8*0x20)&^w | w | (w^(lo8*'"')-lo8)&^(w^(lo8*'"')) | (w^(lo8*'\\')-lo8)&^(w^(lo8*'\\'))) & hi8; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(data) && strSafe[data[i]] {
			i++
		}
		if i >= len(data) {
			return i, escaped, s.syntaxErr(start, "unterminated string")
		}
		c := data[i]
		switch {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(data) {
				return i, escaped, s.syntaxErr(i, "unterminated string")
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) {
					return i, escaped, s.syntaxErr(i, "truncated \\u escape")
				}
				for _, h := range data[i+2 : i+6] {
					if !isHex(h) {
						return i, escaped, s.syntaxErr(i, "invalid \\u escape")
					}
				}
				i += 6
			default:
				return i, escaped, s.syntaxErr(i, "invalid escape \\%c in string", data[i+1])
			}
		case c < 0x20:
			return i, escaped, s.syntaxErr(i, "control character 0x%02x in string", c)
		default: // non-ASCII
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				return i, escaped, s.syntaxErr(i, "invalid UTF-8 in string")
			}
			i += size
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (s *scanner) scanNumber(i int) (int, error) {
	data := s.data
	start := i
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i >= len(data) || !isDigit(data[i]) {
		return i, s.syntaxErr(start, "invalid number")
	}
	if data[i] == '0' {
		i++
	} else {
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return i, s.syntaxErr(start, "invalid number")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return i, s.syntaxErr(start, "invalid number")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	return i, nil
}

func (s *scanner) scanLiteral(i int, lit string) (int, error) {
	if len(s.data)-i < len(lit) || string(s.data[i:i+len(lit)]) != lit {
		return i, s.syntaxErr(i, "invalid literal, want %s", lit)
	}
	return i + len(lit), nil
}

// scanValue checks the value starting at data[i] (no leading space) and returns
// its kind and the index after it. depth is the nesting depth of the value's
// container; the value itself, if an object or array, is at depth+1.
func (s *scanner) scanValue(i, depth int) (jsonKind, int, error) {
	if i >= len(s.data) {
		return jInvalid, i, s.syntaxErr(i, "unexpected end of input")
	}
	switch c := s.data[i]; {
	case c == '"':
		end, _, err := s.scanString(i)
		return jString, end, err
	case c == '{':
		end, err := s.scanObject(i, depth+1, nil)
		return jObject, end, err
	case c == '[':
		end, err := s.scanArray(i, depth+1, nil)
		return jArray, end, err
	case c == 't':
		end, err := s.scanLiteral(i, "true")
		return jTrue, end, err
	case c == 'f':
		end, err := s.scanLiteral(i, "false")
		return jFalse, end, err
	case c == 'n':
		end, err := s.scanLiteral(i, "null")
		return jNull, end, err
	case c == '-' || isDigit(c):
		end, err := s.scanNumber(i)
		return jNumber, end, err
	default:
		return jInvalid, i, s.syntaxErr(i, "invalid character %q looking for a value", c)
	}
}

func (s *scanner) checkDepth(i, depth int) error {
	if s.maxDepth > 0 && depth > s.maxDepth {
		return &LimitError{Limit: "max JSON depth", Max: int64(s.maxDepth), Offset: int64(i)}
	}
	return nil
}

// scanObject checks the object at data[i] == '{'. If each is non-nil it is called
// for every member.
func (s *scanner) scanObject(i, depth int, each func(m member)) (int, error) {
	if err := s.checkDepth(i, depth); err != nil {
		return i, err
	}
	data := s.data
	i = s.skipSpace(i + 1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(data) {
			return i, s.syntaxErr(i, "unexpected end of input in object")
		}
		if data[i] != '"' {
			return i, s.syntaxErr(i, "invalid character %q looking for a member name", data[i])
		}
		ks := i
		ke, esc, err := s.scanString(i)
		if err != nil {
			return ke, err
		}
		i = s.skipSpace(ke)
		if i >= len(data) || data[i] != ':' {
			return i, s.syntaxErr(i, "missing ':' after member name")
		}
		i = s.skipSpace(i + 1)
		vs := i
		kind, ve, err := s.scanValue(i, depth)
		if err != nil {
			return ve, err
		}
		if each != nil {
			var key string
			var id keyID
			if esc {
				key = unquote(data[ks:ke])
				id = keys.lookup(key)
			} else {
				key, id = internKey(data[ks+1 : ke-1])
			}
			each(member{key: key, id: id, kind: kind, val: data[vs:ve]})
		}
		i = s.skipSpace(ve)
		if i >= len(data) {
			return i, s.syntaxErr(i, "unexpected end of input in object")
		}
		switch data[i] {
		case ',':
			i = s.skipSpace(i + 1)
		case '}':
			return i + 1, nil
		default:
			return i, s.syntaxErr(i, "invalid character %q after object member", data[i])
		}
	}
}

// scanMembers is scanObject appending each member to dst (no callback).
func (s *scanner) scanMembers(i, depth int, dst []member) (int, []member, error) {
	if err := s.checkDepth(i, depth); err != nil {
		return i, dst, err
	}
	data := s.data
	i = s.skipSpace(i + 1)
	if i < len(data) && data[i] == '}' {
		return i + 1, dst, nil
	}
	for {
		if i >= len(data) {
			return i, dst, s.syntaxErr(i, "unexpected end of input in object")
		}
		if data[i] != '"' {
			return i, dst, s.syntaxErr(i, "invalid character %q looking for a member name", data[i])
		}
		ks := i
		ke, esc, err := s.scanString(i)
		if err != nil {
			return ke, dst, err
		}
		i = s.skipSpace(ke)
		if i >= len(data) || data[i] != ':' {
			return i, dst, s.syntaxErr(i, "missing ':' after member name")
		}
		i = s.skipSpace(i + 1)
		vs := i
		var kind jsonKind
		var ve int
		plain := false
		if i < len(data) && data[i] == '"' {
			var vesc bool
			kind = jString
			ve, vesc, err = s.scanString(i)
			plain = !vesc
		} else {
			kind, ve, err = s.scanValue(i, depth)
		}
		if err != nil {
			return ve, dst, err
		}
		var key string
		var id keyID
		if esc {
			key = unquote(data[ks:ke])
			id = keys.lookup(key)
		} else {
			key, id = internKey(data[ks+1 : ke-1])
		}
		// Grow by one and set the fields in place: cheaper than appending a
		// composite value, which is copied with a bulk write barrier while the
		// GC runs.
		if len(dst) < cap(dst) {
			dst = dst[:len(dst)+1]
		} else {
			dst = append(dst, member{})
		}
		m := &dst[len(dst)-1]
		m.key, m.id, m.kind, m.plain, m.val = key, id, kind, plain, data[vs:ve]
		i = s.skipSpace(ve)
		if i >= len(data) {
			return i, dst, s.syntaxErr(i, "unexpected end of input in object")
		}
		switch data[i] {
		case ',':
			i = s.skipSpace(i + 1)
		case '}':
			return i + 1, dst, nil
		default:
			return i, dst, s.syntaxErr(i, "invalid character %q after object member", data[i])
		}
	}
}

// scanArray checks the array at data[i] == '['. If each is non-nil it is called for
// every element with its kind and bytes.
func (s *scanner) scanArray(i, depth int, each func(kind jsonKind, val []byte)) (int, error) {
	if err := s.checkDepth(i, depth); err != nil {
		return i, err
	}
	data := s.data
	i = s.skipSpace(i + 1)
	if i < len(data) && data[i] == ']' {
		return i + 1, nil
	}
	for {
		vs := i
		kind, ve, err := s.scanValue(i, depth)
		if err != nil {
			return ve, err
		}
		if each != nil {
			each(kind, data[vs:ve])
		}
		i = s.skipSpace(ve)
		if i >= len(data) {
			return i, s.syntaxErr(i, "unexpected end of input in array")
		}
		switch data[i] {
		case ',':
			i = s.skipSpace(i + 1)
		case ']':
			return i + 1, nil
		default:
			return i, s.syntaxErr(i, "invalid character %q after array element", data[i])
		}
	}
}

// objectMembers returns the members of a JSON object already known to be valid
// (val is a value returned by the scanner), in order. It does not re-check the
// syntax. The names share val's memory and are not numbered (id is kUnknown):
// only an object's top-level members (scanMembers) carry ids.
func objectMembers(val []byte, dst []member) []member {
	dst, _ = objectMembersEnd(val, dst)
	return dst
}

// objectMembersEnd is objectMembers for val starting with a valid object and
// possibly continuing after it; it also returns the index after the object.
func objectMembersEnd(val []byte, dst []member) ([]member, int) {
	i := trustedSpace(val, 1)
	if i >= len(val) {
		return dst, i
	}
	if val[i] == '}' {
		return dst, i + 1
	}
	for i < len(val) {
		ke := trustedStringEnd(val, i)
		rawKey := val[i+1 : ke-1]
		var key string
		switch {
		case bytes.IndexByte(rawKey, '\\') >= 0:
			key = unquote(val[i:ke])
		case len(rawKey) > 0:
			key = unsafe.String(&rawKey[0], len(rawKey))
		}
		i = trustedSpace(val, ke) + 1 // ':'
		i = trustedSpace(val, i)
		ve := trustedEnd(val, i)
		dst = append(dst, member{key: key, kind: kindOf(val[i:ve]), val: val[i:ve]})
		i = trustedSpace(val, ve)
		if i >= len(val) || val[i] != ',' {
			break
		}
		i = trustedSpace(val, i+1)
	}
	if i < len(val) {
		i++ // the closing brace
	}
	return dst, i
}

// emptyObject reports whether a valid JSON object has no members.
func emptyObject(val []byte) bool {
	i := trustedSpace(val, 1)
	return i >= len(val) || val[i] == '}'
}

// arrayElems calls each for the elements of a valid JSON array, without
// re-checking the syntax.
func arrayElems(val []byte, each func(kind jsonKind, val []byte)) {
	i := trustedSpace(val, 1)
	if i >= len(val) || val[i] == ']' {
		return
	}
	for i < len(val) {
		ve := trustedEnd(val, i)
		each(kindOf(val[i:ve]), val[i:ve])
		i = trustedSpace(val, ve)
		if i >= len(val) || val[i] != ',' {
			return
		}
		i = trustedSpace(val, i+1)
	}
}

func trustedSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// trustedStringEnd returns the index after the valid string starting at b[i].
func trustedStringEnd(b []byte, i int) int {
	j := i + 1
	for {
		// Eight bytes at a time while none is a quote or a backslash.
		for j+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[j:])
			if m := ((w^(lo8*'"')-lo8)&^(w^(lo8*'"')) | (w^(lo8*'\\')-lo8)&^(w^(lo8*'\\'))) & hi8; m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		for j < len(b) && b[j] != '"' && b[j] != '\\' {
			j++
		}
		if j >= len(b) {
			return len(b)
		}
		if b[j] == '"' {
			return j + 1
		}
		j += 2 // an escape: its second byte is never a quote that ends the string
	}
}

// trustedEnd returns the index after the valid value starting at b[i].
func trustedEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return trustedStringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); {
			switch b[j] {
			case '"':
				j = trustedStringEnd(b, j)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
			j++
		}
		return len(b)
	default:
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return j
			}
			j++
		}
		return j
	}
}

// kindOf returns the kind of a valid JSON value by its first byte.
func kindOf(val []byte) jsonKind {
	if len(val) == 0 {
		return jInvalid
	}
	switch c := val[0]; {
	case c == '"':
		return jString
	case c == '{':
		return jObject
	case c == '[':
		return jArray
	case c == 't':
		return jTrue
	case c == 'f':
		return jFalse
	case c == 'n':
		return jNull
	default:
		return jNumber
	}
}

// strValue returns the decoded content of a valid JSON string value.
func strValue(val []byte) string {
	inner := val[1 : len(val)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		return unquote(val)
	}
	return string(inner)
}

// unquote decodes a JSON string already checked by scanString.
func unquote(val []byte) string {
	inner := val[1 : len(val)-1]
	b := make([]byte, 0, len(inner))
	for i := 0; i < len(inner); {
		c := inner[i]
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		switch inner[i+1] {
		case '"', '\\', '/':
			b = append(b, inner[i+1])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(inner[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(inner) && inner[i] == '\\' && inner[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, hex4(inner[i+2:i+6])); r2 != utf8.RuneError {
						b = utf8.AppendRune(b, r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		}
		i += 2
	}
	return string(b)
}

func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// intValue returns the value of a JSON number if it is an integer that fits int64.
func intValue(val []byte) (int64, bool) {
	// Plain integers of up to 18 digits without strconv.
	if n := len(val); n > 0 && n <= 18 {
		j := 0
		if val[0] == '-' {
			j = 1
		}
		if j < n {
			var x int64
			for _, c := range val[j:] {
				if c < '0' || c > '9' {
					goto general
				}
				x = x*10 + int64(c-'0')
			}
			if j == 1 {
				x = -x
			}
			return x, true
		}
	}
general:
	n, err := strconv.ParseInt(string(val), 10, 64)
	if err == nil {
		return n, true
	}
	// 1.0 or 1e2 are integers in JSON Schema terms.
	f, ferr := strconv.ParseFloat(string(val), 64)
	if ferr != nil || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}

// str is viewValue(m.val) for a string member, skipping the escape check when
// the scanner saw none.
func (m *member) str() string {
	if m.plain && len(m.val) > 2 {
		return unsafe.String(&m.val[1], len(m.val)-2)
	}
	return viewValue(m.val)
}

// viewValue returns the content of a valid JSON string value without copying when
// it has no escapes: the string shares b's memory, so it is only for values
// whose bytes are never modified (validation works on bytes it owns or that
// ParseRaw's contract makes immutable).
func viewValue(val []byte) string {
	inner := val[1 : len(val)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		return unquote(val)
	}
	if len(inner) == 0 {
		return ""
	}
	return unsafe.String(&inner[0], len(inner))
}

// viewList returns the strings of a valid JSON array (sharing its memory) and
// whether every element was a string.
func viewList(val []byte) ([]string, bool) {
	ok := true
	var buf [8]string
	out := buf[:0]
	arrayElems(val, func(kind jsonKind, v []byte) {
		if kind != jString {
			ok = false
			return
		}
		out = append(out, viewValue(v))
	})
	return out, ok
}

// viewListHeap is viewList returning a slice the caller may keep.
func viewListHeap(val []byte) ([]string, bool) {
	ok := true
	var buf [8]string
	l := buf[:0]
	for it := newArrayIter(val); ; {
		kind, v, more := it.next()
		if !more {
			break
		}
		if kind != jString {
			ok = false
			continue
		}
		l = append(l, viewValue(v))
	}
	if len(l) == 0 {
		return nil, ok
	}
	out := make([]string, len(l))
	copy(out, l)
	return out, ok
}

// arrayIter walks the elements of a valid JSON array like arrayElems, without
// a callback.
type arrayIter struct {
	val []byte
	i   int
}

func newArrayIter(val []byte) arrayIter {
	i := trustedSpace(val, 1)
	if i < len(val) && val[i] == ']' {
		i = len(val)
	}
	return arrayIter{val: val, i: i}
}

// nextMembers is next that also returns an object element's members
// (appended to dst), reading the element once.
func (it *arrayIter) nextMembers(dst []member) (kind jsonKind, v []byte, ms []member, more bool) {
	val, i := it.val, it.i
	if i >= len(val) {
		return jInvalid, nil, dst, false
	}
	var ve int
	if val[i] == '{' {
		var n int
		dst, n = objectMembersEnd(val[i:], dst)
		ve = i + n
	} else {
		ve = trustedEnd(val, i)
	}
	v = val[i:ve]
	j := trustedSpace(val, ve)
	if j >= len(val) || val[j] != ',' {
		it.i = len(val)
	} else {
		it.i = trustedSpace(val, j+1)
	}
	return kindOf(v), v, dst, true
}

// next returns the next element, or more == false at the end.
func (it *arrayIter) next() (kind jsonKind, v []byte, more bool) {
	val, i := it.val, it.i
	if i >= len(val) {
		return jInvalid, nil, false
	}
	ve := trustedEnd(val, i)
	v = val[i:ve]
	j := trustedSpace(val, ve)
	if j >= len(val) || val[j] != ',' {
		it.i = len(val)
	} else {
		it.i = trustedSpace(val, j+1)
	}
	return kindOf(v), v, true
}
