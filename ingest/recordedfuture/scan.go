package recordedfuture

import (
	"encoding/json"
	"errors"
	"strings"
)

// errScan is any input scanEvidence does not take; the caller then decodes with
// encoding/json, whose error message names the problem.
var errScan = errors.New("recordedfuture: evidence scanner: not taken")

// scanEvidence decodes an EvidenceDetails array into dst in one pass, as
// json.Unmarshal(raw, &dst) would for valid input: keys match Evidence's fields
// case-insensitively, the last duplicate wins, unknown keys are skipped (and
// checked), null elements are zero entries. It accepts only what encoding/json
// accepts; for anything else, or a value of the wrong JSON type, it returns
// errScan and the caller falls back to encoding/json. Decoding risk lists with
// encoding/json's reflection was half of the conversion.
func scanEvidence(raw string, dst []Evidence) ([]Evidence, error) {
	s := scanner{s: raw}
	s.ws()
	if !s.eat('[') {
		return nil, errScan
	}
	s.ws()
	if s.eat(']') {
		return dst, s.end()
	}
	for {
		s.ws()
		var e Evidence
		if strings.HasPrefix(s.s[s.i:], "null") {
			s.i += 4
		} else if !s.object(&e) {
			return nil, errScan
		}
		dst = append(dst, e)
		s.ws()
		if s.eat(']') {
			return dst, s.end()
		}
		if !s.eat(',') {
			return nil, errScan
		}
	}
}

type scanner struct {
	s string
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.s) {
		switch s.s[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.s) && s.s[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) end() error {
	s.ws()
	if s.i != len(s.s) {
		return errScan
	}
	return nil
}

// object reads one evidence object into e.
func (s *scanner) object(e *Evidence) bool {
	if !s.eat('{') {
		return false
	}
	s.ws()
	if s.eat('}') {
		return true
	}
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		var dst *string
		switch {
		case strings.EqualFold(key, "Rule"):
			dst = &e.Rule
		case strings.EqualFold(key, "Name"):
			dst = &e.Name
		case strings.EqualFold(key, "CriticalityLabel"):
			dst = &e.CriticalityLabel
		case strings.EqualFold(key, "Timestamp"):
			dst = &e.Timestamp
		}
		switch {
		case dst != nil:
			if strings.HasPrefix(s.s[s.i:], "null") {
				s.i += 4 // null leaves a string field as it was
			} else if *dst, ok = s.str(); !ok {
				return false
			}
		case strings.EqualFold(key, "Criticality"):
			start := s.i
			if !s.value(0) {
				return false
			}
			e.Criticality = json.RawMessage(s.s[start:s.i])
		default:
			if !s.value(0) {
				return false
			}
		}
		s.ws()
		if s.eat('}') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// str reads a JSON string and returns its value.
func (s *scanner) str() (string, bool) {
	if !s.eat('"') {
		return "", false
	}
	start, escaped := s.i, false
	for s.i < len(s.s) {
		c := s.s[s.i]
		switch {
		case c == '"':
			v := s.s[start:s.i]
			s.i++
			if escaped {
				var out string
				if json.Unmarshal([]byte(s.s[start-1:s.i]), &out) != nil {
					return "", false
				}
				return out, true
			}
			return v, true
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.s) {
				return "", false
			}
			switch s.s[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.s) || !isHex(s.s[s.i+2:s.i+6]) {
					return "", false
				}
				s.i += 6
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		default:
			if c >= 0x80 {
				escaped = true // let encoding/json replace invalid UTF-8 as it does
			}
			s.i++
		}
	}
	return "", false
}

func isHex(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// value skips one JSON value, checking its syntax; depth bounds nesting as
// encoding/json does (10000).
func (s *scanner) value(depth int) bool {
	if depth > 10000 || s.i >= len(s.s) {
		return false
	}
	switch c := s.s[s.i]; {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{':
		s.i++
		s.ws()
		if s.eat('}') {
			return true
		}
		for {
			s.ws()
			if _, ok := s.str(); !ok {
				return false
			}
			s.ws()
			if !s.eat(':') {
				return false
			}
			s.ws()
			if !s.value(depth + 1) {
				return false
			}
			s.ws()
			if s.eat('}') {
				return true
			}
			if !s.eat(',') {
				return false
			}
		}
	case c == '[':
		s.i++
		s.ws()
		if s.eat(']') {
			return true
		}
		for {
			s.ws()
			if !s.value(depth + 1) {
				return false
			}
			s.ws()
			if s.eat(']') {
				return true
			}
			if !s.eat(',') {
				return false
			}
		}
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if strings.HasPrefix(s.s[s.i:], lit) {
				s.i += len(lit)
				return true
			}
		}
		return false
	default:
		return s.number()
	}
}

// number reads a JSON number (RFC 8259 §6).
func (s *scanner) number() bool {
	digits := func() int {
		n := 0
		for s.i < len(s.s) && s.s[s.i] >= '0' && s.s[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	s.eat('-')
	if s.eat('0') {
		// no more integer digits after a leading zero
	} else if digits() == 0 {
		return false
	}
	if s.eat('.') && digits() == 0 {
		return false
	}
	if s.i < len(s.s) && (s.s[s.i] == 'e' || s.s[s.i] == 'E') {
		s.i++
		if !s.eat('+') {
			s.eat('-')
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
