package pattern

import (
	"errors"
	"strconv"
	"strings"
)

// ParsePath reads an object type and a property path as an ingester writes
// them and returns the ObjectPath. propertyPath is a list of keys separated by
// '.', each key either bare (any characters but . [ and ', e.g. SHA-256 or
// windows-pebinary-ext) or a pattern string literal ('x.y' for a key holding a
// dot), and keys may be followed by list steps [n] or [*]. Both
// hashes.SHA-256 and hashes.'SHA-256' give the same path. The error names
// what is wrong.
func ParsePath(objectType, propertyPath string) (ObjectPath, error) {
	if !ValidObjectType(objectType) {
		return ObjectPath{}, errors.New("object type " + strconv.Quote(objectType) + " is not [a-zA-Z_][a-zA-Z0-9_-]* or is a keyword")
	}
	path := ObjectPath{ObjectType: objectType, Steps: make([]PathStep, 0, 4)}
	s := propertyPath
	i := 0
	bad := func(msg string) (ObjectPath, error) {
		return ObjectPath{}, errors.New("property path " + strconv.Quote(propertyPath) + ": " + msg + " at byte " + strconv.Itoa(i))
	}
	wantKey := true
	for {
		if wantKey {
			if i < len(s) && s[i] == '\'' {
				var b strings.Builder
				j := i + 1
				for {
					if j >= len(s) {
						return bad("unterminated quoted key")
					}
					c := s[j]
					if c == '\'' {
						break
					}
					if c == '\\' {
						if j+1 < len(s) && (s[j+1] == '\'' || s[j+1] == '\\') {
							b.WriteByte(s[j+1])
							j += 2
							continue
						}
						return bad("invalid escape in quoted key")
					}
					b.WriteByte(c)
					j++
				}
				path.Steps = append(path.Steps, PathStep{Kind: StepKey, Key: b.String()})
				i = j + 1
			} else {
				j := i
				for j < len(s) && s[j] != '.' && s[j] != '[' && s[j] != '\'' {
					j++
				}
				if j == i {
					return bad("empty key")
				}
				path.Steps = append(path.Steps, PathStep{Kind: StepKey, Key: s[i:j]})
				i = j
			}
			wantKey = false
		}
		if i == len(s) {
			return path, nil
		}
		switch s[i] {
		case '.':
			i++
			wantKey = true
		case '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return bad("unterminated list step")
			}
			idx := s[i+1 : i+j]
			if idx == "*" {
				path.Steps = append(path.Steps, PathStep{Kind: StepAnyIndex})
			} else {
				n, err := strconv.Atoi(idx)
				if err != nil {
					return bad("list step is not an integer or *")
				}
				path.Steps = append(path.Steps, PathStep{Kind: StepIndex, Index: n})
			}
			i += j + 1
		default:
			return bad("expected '.' or '['")
		}
	}
}

// EqualsComparison returns the comparison objectType:propertyPath = 'value'
// (propertyPath as ParsePath reads it). value may hold any bytes; quotes and
// backslashes are escaped when rendered.
func EqualsComparison(objectType, propertyPath, value string) (*Comparison, error) {
	path, err := ParsePath(objectType, propertyPath)
	if err != nil {
		return nil, err
	}
	return &Comparison{Path: path, Op: OpEqual, Value: StringLiteral(value)}, nil
}

// Equals renders the single-comparison pattern
// [objectType:propertyPath = 'value'], e.g. Equals("file", "hashes.SHA-256", h)
// gives [file:hashes.'SHA-256' = '…']. Path keys are quoted where needed and
// the value is escaped (\ and '), so Simple gives back the same value. It
// returns "" when objectType or propertyPath cannot be written (see
// EqualsComparison for the error).
func Equals(objectType, propertyPath, value string) string {
	path, err := ParsePath(objectType, propertyPath)
	if err != nil {
		return ""
	}
	c := Comparison{Path: path, Op: OpEqual, Value: StringLiteral(value)}
	var b strings.Builder
	b.Grow(len(objectType) + 2*len(propertyPath) + len(value) + len(value)/8 + 16)
	b.WriteByte('[')
	c.write(&b)
	b.WriteByte(']')
	return b.String()
}

// Or renders one observation whose comparisons are joined by OR:
// [c1 OR c2 OR …]. Nil comparisons are skipped; with none left it returns "".
func Or(cs ...*Comparison) string { return join(JoinOr, cs) }

// And renders one observation whose comparisons are joined by AND:
// [c1 AND c2 AND …] (all must hold for the same object). Nil comparisons are
// skipped; with none left it returns "".
func And(cs ...*Comparison) string { return join(JoinAnd, cs) }

func join(j Join, cs []*Comparison) string {
	var b strings.Builder
	n := 0
	for _, c := range cs {
		if c == nil {
			continue
		}
		if n == 0 {
			b.WriteByte('[')
		} else {
			b.WriteByte(' ')
			b.WriteString(j.String())
			b.WriteByte(' ')
		}
		c.write(&b)
		n++
	}
	if n == 0 {
		return ""
	}
	b.WriteByte(']')
	return b.String()
}
