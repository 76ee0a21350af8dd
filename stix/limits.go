package stix

import "fmt"

// Limits bounds what decoding and validation accept, so that hostile input costs
// bounded memory and time. A zero field means "no limit" for that field.
type Limits struct {
	// MaxObjectSize is the largest single STIX object, in bytes of JSON.
	MaxObjectSize int
	// MaxDepth is the deepest JSON nesting accepted, counted from the outermost
	// value of the input (a bundle is depth 1, its objects depth 3).
	MaxDepth int
	// MaxPatternSize is the longest indicator pattern, in bytes, that is handed to
	// the PatternChecker.
	MaxPatternSize int
	// MaxPatternDepth is the deepest pattern AST a PatternChecker should accept.
	// stix does not parse patterns itself; cmd passes this value to stix/pattern.
	MaxPatternDepth int
}

// DefaultLimits are the defaults from DESIGN.md (Limits): one object 16 MiB, JSON
// depth 64, pattern 64 KiB and AST depth 100.
var DefaultLimits = Limits{
	MaxObjectSize:   16 << 20,
	MaxDepth:        64,
	MaxPatternSize:  64 << 10,
	MaxPatternDepth: 100,
}

// LimitError reports input that exceeds one of the Limits. Limit names the limit,
// Path where in the input it was exceeded (e.g. "objects[3]"), Offset the byte
// offset within the object or input being read.
type LimitError struct {
	Limit  string // e.g. "max object size"
	Max    int64
	Path   string
	Offset int64
}

// Error names the path, the limit and its value.
func (e *LimitError) Error() string {
	where := e.Path
	if where == "" {
		where = "input"
	}
	return fmt.Sprintf("%s: exceeds limit %s (%d) at byte %d", where, e.Limit, e.Max, e.Offset)
}
