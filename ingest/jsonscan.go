package ingest

// maxJSONDepth is encoding/json's nesting limit, which scanJSON keeps to so
// that it accepts exactly what json.Valid accepts.
const maxJSONDepth = 10000

// scanJSON reports whether b holds exactly one JSON value (RFC 8259), with
// optional white space around it, as json.Valid does, and whether it is
// compact: no insignificant white space anywhere, so that json.Compact would
// return it unchanged. It is a single pass without allocation for nesting up
// to 64 levels: a provenance verdict is checked on every observation the
// Runner accepts, and Recorded Future's run to kilobytes each, where
// encoding/json's scanner was a tenth of an ingest.
func scanJSON(b []byte) (valid, compact bool) {
	compact = true
	var stackBuf [64]byte
	stack := stackBuf[:0] // '{' or '['
	i, n := 0, len(b)
	space := func() {
		for i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
			compact = false
		}
	}
	// value parses one value at i; containers push onto stack and return.
	for {
		space()
		if i >= n {
			return false, false
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if len(stack) >= maxJSONDepth {
				return false, false
			}
			stack = append(stack, c)
			i++
			space()
			if i < n && (c == '{' && b[i] == '}' || c == '[' && b[i] == ']') {
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				if !scanKey(b, &i, space) {
					return false, false
				}
			}
			continue // the first value of the container
		case c == '"':
			if !scanString(b, &i) {
				return false, false
			}
		case c == '-' || c >= '0' && c <= '9':
			if !scanNumber(b, &i) {
				return false, false
			}
		case c == 't':
			if !literal(b, &i, "true") {
				return false, false
			}
		case c == 'f':
			if !literal(b, &i, "false") {
				return false, false
			}
		case c == 'n':
			if !literal(b, &i, "null") {
				return false, false
			}
		default:
			return false, false
		}
		// After a complete value: close containers or go on to the next element.
		for {
			space()
			if len(stack) == 0 {
				return i == n, compact && i == n
			}
			if i >= n {
				return false, false
			}
			top := stack[len(stack)-1]
			switch {
			case b[i] == ',':
				i++
				if top == '{' {
					space()
					if !scanKey(b, &i, space) {
						return false, false
					}
				}
			case top == '{' && b[i] == '}' || top == '[' && b[i] == ']':
				stack = stack[:len(stack)-1]
				i++
				continue
			default:
				return false, false
			}
			break // the next element's value
		}
	}
}

// scanKey parses `"key" :` at *i (white space before it already skipped).
func scanKey(b []byte, i *int, space func()) bool {
	if *i >= len(b) || b[*i] != '"' || !scanString(b, i) {
		return false
	}
	space()
	if *i >= len(b) || b[*i] != ':' {
		return false
	}
	*i++
	return true
}

// plainStringByte marks the bytes a string holds as they are: not a quote, a
// backslash or a control character.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString parses a string starting at the quote at *i.
func scanString(b []byte, i *int) bool {
	j := *i + 1
	for j < len(b) {
		for j < len(b) && plainStringByte[b[j]] {
			j++
		}
		if j >= len(b) {
			return false
		}
		c := b[j]
		switch {
		case c == '"':
			*i = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			j++
			if j >= len(b) {
				return false
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+4 >= len(b) {
					return false
				}
				for k := j + 1; k <= j+4; k++ {
					if !isHex(b[k]) {
						return false
					}
				}
				j += 5
			default:
				return false
			}
		default:
			j++
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanNumber parses -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at *i.
func scanNumber(b []byte, i *int) bool {
	j, n := *i, len(b)
	digits := func() bool {
		k := j
		for j < n && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j > k
	}
	if b[j] == '-' {
		j++
	}
	switch {
	case j < n && b[j] == '0':
		j++
	case !digits():
		return false
	}
	if j < n && b[j] == '.' {
		j++
		if !digits() {
			return false
		}
	}
	if j < n && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < n && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if !digits() {
			return false
		}
	}
	*i = j
	return true
}

func literal(b []byte, i *int, word string) bool {
	if len(b)-*i < len(word) || string(b[*i:*i+len(word)]) != word {
		return false
	}
	*i += len(word)
	return true
}

// appendCompactJSON appends src with its insignificant white space removed
// (what json.Compact writes, without its HTML escaping, which json.Compact does
// not do either) to dst. src must be valid JSON (scanJSON); the result is then
// byte for byte json.Compact's. It copies runs of bytes rather than one byte
// at a time: a Recorded Future verdict carries kilobytes of evidence as the
// list gave it, with a space after every colon and comma.
func appendCompactJSON(dst, src []byte) []byte {
	i, n := 0, len(src)
	for i < n {
		// Outside strings: copy up to the next white space or string.
		j := i
		for j < n && src[j] != '"' && src[j] != ' ' && src[j] != '\t' && src[j] != '\n' && src[j] != '\r' {
			j++
		}
		dst = append(dst, src[i:j]...)
		i = j
		if i >= n {
			break
		}
		if src[i] != '"' {
			i++ // white space: dropped
			continue
		}
		// A string: copy it whole, escapes included.
		j = i + 1
		for j < n {
			for j < n && plainStringByte[src[j]] {
				j++
			}
			if j >= n {
				break
			}
			if src[j] == '\\' {
				j += 2
				continue
			}
			if src[j] == '"' {
				j++
				break
			}
			j++ // a control character (invalid JSON): copied as is
		}
		j = min(j, n)
		dst = append(dst, src[i:j]...)
		i = j
	}
	return dst
}
