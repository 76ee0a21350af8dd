package curation

import (
	"encoding/json"
	"errors"
)

// errShape: bytes that are not one JSON object.
var errShape = errors.New("not a JSON object")

// field is one top-level property of a JSON object: its key (as written,
// without quotes) and its raw value.
type field struct {
	key string
	val []byte
}

// split returns the top-level properties of the JSON object b in order,
// without decoding or validating the values (the store holds valid JSON).
// It is encoding/json's map[string]json.RawMessage at a fraction of the cost:
// the scored versions are compared with their previous version on every pass.
func split(b []byte, out []field) ([]field, error) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errShape
	}
	if out == nil {
		out = make([]field, 0, 16)
	}
	i++
	for first := true; ; first = false {
		i = skipWS(b, i)
		if first && i < len(b) && b[i] == '}' {
			return out, nil
		}
		if i >= len(b) || b[i] != '"' {
			return nil, errShape
		}
		end, ok := skipString(b, i)
		if !ok {
			return nil, errShape
		}
		key := b[i+1 : end-1]
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, errShape
		}
		i = skipWS(b, i+1)
		vend, ok := skipValue(b, i)
		if !ok {
			return nil, errShape
		}
		out = append(out, field{key: string(key), val: b[i:vend]})
		i = skipWS(b, vend)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == '}' {
			return out, nil
		}
		return nil, errShape
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, ok := skipString(b, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
		j++
	}
	return j, j > i
}

// get returns the raw value of key among fs, nil when absent.
func get(fs []field, key string) []byte {
	for i := range fs {
		if fs[i].key == key {
			return fs[i].val
		}
	}
	return nil
}

// str decodes a raw JSON string value ("" for anything else).
func str(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	s := v[1 : len(v)-1]
	for _, c := range s {
		if c == '\\' {
			var out string
			if json.Unmarshal(v, &out) != nil {
				return ""
			}
			return out
		}
	}
	return string(s)
}
