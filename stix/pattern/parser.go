package pattern

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Default limits (DESIGN.md, "Limits").
const (
	DefaultMaxLength = 64 << 10 // bytes
	DefaultMaxDepth  = 100
)

// Limits bounds what ParseWithLimits accepts. A zero or negative field means the
// default.
type Limits struct {
	// MaxLength is the longest pattern accepted, in bytes. Default 64 KiB.
	MaxLength int
	// MaxDepth is the deepest nesting accepted. Every [ ], every ( ) and every
	// qualifier adds one level, so [a:b = 1] has depth 1 and
	// ([a:b = 1]) WITHIN 5 SECONDS depth 3. The AST is never deeper. Default 100.
	MaxDepth int
}

// Error is a syntax or semantic error in a pattern.
type Error struct {
	// Column is the 1-based column of the offending character, counted in
	// Unicode code points (so it is the ANTLR column of cti-pattern-validator
	// plus one).
	Column int
	// Offset is the 0-based byte offset of the same character.
	Offset int
	// Limit names the limit exceeded ("MaxLength" or "MaxDepth"), or is empty.
	Limit string
	// Msg says what is wrong, e.g. "expected ']', found end of pattern".
	Msg string
}

// Error returns "column N: Msg".
func (e *Error) Error() string {
	return "column " + strconv.Itoa(e.Column) + ": " + e.Msg
}

// Parse parses a STIX 2.1 pattern with the default Limits. The error, if any, is
// an *Error.
func Parse(s string) (*Pattern, error) {
	return ParseWithLimits(s, Limits{})
}

// ParseWithLimits parses a STIX 2.1 pattern (STIX 2.1 §9, grammar
// STIXPattern.g4) and applies the checks cti-pattern-validator makes after
// parsing: at most one qualifier of each kind directly on a [ ], and hash
// values that fit their algorithm. It also rejects what the grammar accepts
// but STIX 2.1 forbids: timestamps that are not calendar dates, WITHIN and
// REPEATS values of zero, and START not before STOP. The error, if any, is an
// *Error.
func ParseWithLimits(s string, lim Limits) (pat *Pattern, err error) {
	if lim.MaxLength <= 0 {
		lim.MaxLength = DefaultMaxLength
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	if len(s) > lim.MaxLength {
		off := lim.MaxLength
		for off > 0 && !utf8.RuneStart(s[off]) {
			off--
		}
		return nil, &Error{
			Column: utf8.RuneCountInString(s[:off]) + 1, Offset: off, Limit: "MaxLength",
			Msg: fmt.Sprintf("pattern is %d bytes, longer than MaxLength %d", len(s), lim.MaxLength),
		}
	}
	p := &parser{src: s, maxDepth: lim.MaxDepth}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			e.Column = utf8.RuneCountInString(s[:e.Offset]) + 1
			pat, err = nil, e
		}
	}()
	p.next()
	if p.tok.kind != tLBrack && p.tok.kind != tLParen {
		p.failTok("expected '[' or '(' to start an observation expression")
	}
	expr := p.observationExpressions()
	if p.tok.kind != tEOF {
		p.failTok("expected AND, OR, FOLLOWEDBY, a qualifier or the end of the pattern")
	}
	return &Pattern{Expr: expr}, nil
}

type parser struct {
	src      string
	pos      int // lexer position (byte offset)
	tok      token
	depth    int
	maxDepth int
}

// fail aborts the parse with an error at byte offset off. ParseWithLimits
// recovers it and fills in the column.
func (p *parser) fail(off int, msg string) {
	panic(&Error{Offset: off, Msg: msg})
}

// failTok aborts with "msg, found <current token>".
func (p *parser) failTok(msg string) {
	p.fail(p.tok.start, msg+", found "+p.tok.describe(p.src))
}

func (p *parser) expect(k tokKind, what string) token {
	t := p.tok
	if t.kind != k {
		p.failTok("expected " + what)
	}
	p.next()
	return t
}

func (p *parser) enter(off int) {
	p.depth++
	if p.depth > p.maxDepth {
		panic(&Error{Offset: off, Limit: "MaxDepth", Msg: fmt.Sprintf("pattern nests deeper than MaxDepth %d", p.maxDepth)})
	}
}

// observationExpressions: FOLLOWEDBY chain, loosest.
func (p *parser) observationExpressions() ObservationExpr {
	first := p.observationOr()
	if p.tok.kind != tFollowedBy {
		return first
	}
	c := &ObservationCompound{Op: JoinFollowedBy, Operands: []ObservationExpr{first}}
	for p.tok.kind == tFollowedBy {
		p.next()
		e := p.observationOr()
		c.Operands = append(c.Operands, e)
	}
	return c
}

func (p *parser) observationOr() ObservationExpr {
	first := p.observationAnd()
	if p.tok.kind != tOr {
		return first
	}
	c := &ObservationCompound{Op: JoinOr}
	c.Operands = appendObs(c.Operands, JoinOr, first)
	for p.tok.kind == tOr {
		p.next()
		e := p.observationAnd()
		c.Operands = appendObs(c.Operands, JoinOr, e)
	}
	return c
}

func (p *parser) observationAnd() ObservationExpr {
	first := p.observationQualified()
	if p.tok.kind != tAnd {
		return first
	}
	c := &ObservationCompound{Op: JoinAnd}
	c.Operands = appendObs(c.Operands, JoinAnd, first)
	for p.tok.kind == tAnd {
		p.next()
		e := p.observationQualified()
		c.Operands = appendObs(c.Operands, JoinAnd, e)
	}
	return c
}

// appendObs appends e to ops, flattening a parenthesised group of the same
// associative join.
func appendObs(ops []ObservationExpr, j Join, e ObservationExpr) []ObservationExpr {
	if c, ok := e.(*ObservationCompound); ok && c.Op == j {
		return append(ops, c.Operands...)
	}
	return append(ops, e)
}

// observationQualified: [ comparison ] or ( observationExpressions ),
// followed by any qualifiers.
func (p *parser) observationQualified() ObservationExpr {
	var e ObservationExpr
	// Qualifier kinds seen so far; only checked for qualifiers applied directly
	// to a [ ], not to a parenthesised group, as cti-pattern-validator does.
	var seen uint8
	checked := false
	depth := p.depth
	switch p.tok.kind {
	case tLBrack:
		p.enter(p.tok.start)
		p.next()
		cmp := p.comparisonOr()
		p.expect(tRBrack, "']' to close the observation")
		e = &ObservationSimple{Comparison: cmp}
		checked = true
	case tLParen:
		p.enter(p.tok.start)
		p.next()
		e = p.observationExpressions()
		p.expect(tRParen, "')'")
	default:
		p.failTok("expected '[' or '('")
	}
	for {
		var q Qualifier
		start := p.tok.start
		switch p.tok.kind {
		case tWithin:
			p.next()
			t := p.tok
			switch t.kind {
			case tInt:
				q.Value = Literal{Kind: KindInt, Int: t.num}
				if t.num <= 0 {
					p.fail(t.start, "WITHIN needs a positive number of seconds")
				}
			case tFloat:
				q.Value = Literal{Kind: KindFloat, Float: t.fnum}
				if t.fnum <= 0 {
					p.fail(t.start, "WITHIN needs a positive number of seconds")
				}
			default:
				p.failTok("expected a positive number after WITHIN")
			}
			p.next()
			p.expect(tSeconds, "SECONDS")
			q.Kind = QualWithin
		case tRepeats:
			p.next()
			t := p.tok
			if t.kind != tInt {
				p.failTok("expected a positive integer after REPEATS")
			}
			if t.num <= 0 {
				p.fail(t.start, "REPEATS needs a positive integer")
			}
			q.Value = Literal{Kind: KindInt, Int: t.num}
			p.next()
			p.expect(tTimes, "TIMES")
			q.Kind = QualRepeats
		case tStart:
			p.next()
			t1 := p.expect(tTimestamp, "a timestamp literal t'…' after START")
			p.expect(tStop, "STOP")
			t2 := p.expect(tTimestamp, "a timestamp literal t'…' after STOP")
			a, _ := timestampTime(t1.str)
			b, _ := timestampTime(t2.str)
			if !a.Before(b) {
				p.fail(t2.start, "STOP must be later than START")
			}
			q.Kind = QualStartStop
			q.Start = Literal{Kind: KindTimestamp, Str: t1.str}
			q.Stop = Literal{Kind: KindTimestamp, Str: t2.str}
		default:
			p.depth = depth
			return e
		}
		bit := uint8(1) << q.Kind
		if checked && seen&bit != 0 {
			p.fail(start, "duplicate qualifier "+q.Kind.String()+" on one observation (put the inner part in parentheses)")
		}
		seen |= bit
		p.enter(start)
		e = &ObservationQualified{Expr: e, Qualifier: q}
	}
}

// comparisonOr: comparisonAnd (OR comparisonAnd)*.
func (p *parser) comparisonOr() ComparisonExpr {
	first := p.comparisonAnd()
	if p.tok.kind != tOr {
		return first
	}
	c := &ComparisonCompound{Op: JoinOr}
	c.Operands = appendCmp(c.Operands, JoinOr, first)
	for p.tok.kind == tOr {
		p.next()
		c.Operands = appendCmp(c.Operands, JoinOr, p.comparisonAnd())
	}
	return c
}

func (p *parser) comparisonAnd() ComparisonExpr {
	first := p.propTest()
	if p.tok.kind != tAnd {
		return first
	}
	c := &ComparisonCompound{Op: JoinAnd}
	c.Operands = appendCmp(c.Operands, JoinAnd, first)
	for p.tok.kind == tAnd {
		p.next()
		c.Operands = appendCmp(c.Operands, JoinAnd, p.propTest())
	}
	return c
}

func appendCmp(ops []ComparisonExpr, j Join, e ComparisonExpr) []ComparisonExpr {
	if c, ok := e.(*ComparisonCompound); ok && c.Op == j {
		return append(ops, c.Operands...)
	}
	return append(ops, e)
}

// propTest: a comparison, a parenthesised comparison expression, or
// [NOT] EXISTS path.
func (p *parser) propTest() ComparisonExpr {
	switch p.tok.kind {
	case tLParen:
		depth := p.depth
		p.enter(p.tok.start)
		p.next()
		e := p.comparisonOr()
		p.expect(tRParen, "')'")
		p.depth = depth
		return e
	case tNot, tExists:
		c := &Comparison{Op: OpExists}
		if p.tok.kind == tNot {
			c.Negated = true
			p.next()
			if p.tok.kind != tExists {
				p.failTok("expected EXISTS after NOT (NOT before any other operator follows the object path)")
			}
		}
		p.next()
		c.Path = p.objectPath()
		return c
	}
	c := &Comparison{}
	c.Path = p.objectPath()
	if p.tok.kind == tNot {
		c.Negated = true
		p.next()
	}
	opTok := p.tok
	var hc *hashCheck
	switch opTok.kind {
	case tEq, tNeq:
		c.Op = OpEqual
		if opTok.kind == tNeq {
			c.Op = OpNotEqual
		}
		p.next()
		hc = hashCheckFor(c.Path)
		c.Value = p.literal(true, hc)
	case tLt, tLe, tGt, tGe:
		switch opTok.kind {
		case tLt:
			c.Op = OpLess
		case tLe:
			c.Op = OpLessEqual
		case tGt:
			c.Op = OpGreater
		default:
			c.Op = OpGreaterEqual
		}
		p.next()
		c.Value = p.literal(false, nil)
	case tIn:
		c.Op = OpIn
		p.next()
		p.expect(tLParen, "'(' to open the IN set")
		hc = hashCheckFor(c.Path)
		c.Values = []Literal{}
		if p.tok.kind != tRParen {
			c.Values = append(c.Values, p.literal(true, hc))
			for p.tok.kind == tComma {
				p.next()
				c.Values = append(c.Values, p.literal(true, hc))
			}
		}
		p.expect(tRParen, "',' or ')' in the IN set")
	case tLike, tMatches, tIsSubset, tIsSuperset:
		switch opTok.kind {
		case tLike:
			c.Op = OpLike
		case tMatches:
			c.Op = OpMatches
		case tIsSubset:
			c.Op = OpIsSubset
		default:
			c.Op = OpIsSuperset
		}
		p.next()
		t := p.tok
		if t.kind != tString {
			p.failTok("expected a string literal after " + c.Op.String())
		}
		c.Value = Literal{Kind: KindString, Str: t.str}
		p.next()
	default:
		if c.Negated {
			p.failTok("expected a comparison operator after NOT")
		}
		p.failTok("expected a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET)")
	}
	return c
}

// literal reads a primitiveLiteral (withBool) or an orderableLiteral. A string
// is checked by hc when hc is not nil.
func (p *parser) literal(withBool bool, hc *hashCheck) Literal {
	t := p.tok
	var l Literal
	switch t.kind {
	case tString:
		l = Literal{Kind: KindString, Str: t.str}
		if hc != nil && !hc.ok(t.str) {
			p.fail(t.start, fmt.Sprintf("%s is not a valid %s hash (%s)", Quote(clip(t.str)), hc.name, hc.want))
		}
	case tInt:
		l = Literal{Kind: KindInt, Int: t.num}
	case tFloat:
		l = Literal{Kind: KindFloat, Float: t.fnum}
	case tHex:
		l = Literal{Kind: KindHex, Str: t.str}
	case tBinary:
		l = Literal{Kind: KindBinary, Str: t.str}
	case tTimestamp:
		l = Literal{Kind: KindTimestamp, Str: t.str}
	case tBool:
		if !withBool {
			p.failTok("expected an orderable literal (no booleans with <, <=, >, >=)")
		}
		l = Literal{Kind: KindBool, Bool: t.bval}
	default:
		p.failTok("expected a literal")
	}
	p.next()
	return l
}

// objectPath: objectType ':' firstPathComponent objectPathComponent*.
func (p *parser) objectPath() ObjectPath {
	t := p.tok
	if t.kind != tIdent {
		p.failTok("expected an object type")
	}
	var path ObjectPath
	path.ObjectType = t.str
	path.Steps = make([]PathStep, 0, 2)
	p.next()
	p.expect(tColon, "':' after the object type")
	switch p.tok.kind {
	case tIdent:
		if p.tok.hyphen {
			p.failTok("expected a property name (quote names with '-')")
		}
		path.Steps = append(path.Steps, PathStep{Kind: StepKey, Key: p.tok.str})
	case tString:
		path.Steps = append(path.Steps, PathStep{Kind: StepKey, Key: p.tok.str})
	default:
		p.failTok("expected a property name")
	}
	p.next()
	for {
		switch p.tok.kind {
		case tDot:
			p.next()
			switch {
			case p.tok.kind == tIdent && !p.tok.hyphen, p.tok.kind == tString:
				path.Steps = append(path.Steps, PathStep{Kind: StepKey, Key: p.tok.str})
			case p.tok.kind == tIdent:
				p.failTok("expected a property name (quote names with '-')")
			default:
				p.failTok("expected a property name after '.'")
			}
			p.next()
		case tLBrack:
			p.next()
			switch p.tok.kind {
			case tStar:
				path.Steps = append(path.Steps, PathStep{Kind: StepAnyIndex})
			case tInt:
				if int64(int(p.tok.num)) != p.tok.num {
					p.fail(p.tok.start, "list index out of range")
				}
				path.Steps = append(path.Steps, PathStep{Kind: StepIndex, Index: int(p.tok.num)})
			default:
				p.failTok("expected a list index (integer or *)")
			}
			p.next()
			p.expect(tRBrack, "']' after the list index")
		default:
			return path
		}
	}
}

// hashCheckFor applies cti-pattern-validator's hash rule: when path goes
// through a "hashes" property and ends in a key naming a known algorithm, each
// string compared with =, != or IN must be a hash of that algorithm. It returns
// the check, or nil. (cti-pattern-validator also checks LIKE and MATCHES
// values, which are patterns, not hashes; this parser does not.)
func hashCheckFor(path ObjectPath) *hashCheck {
	steps := path.Steps
	last := steps[len(steps)-1]
	if last.Kind != StepKey || len(last.Key) > 32 {
		return nil
	}
	through := false
	for _, s := range steps[:len(steps)-1] {
		if s.Kind == StepKey && s.Key == "hashes" {
			through = true
			break
		}
	}
	if !through {
		return nil
	}
	// Upper-case without hyphens, in a stack buffer.
	var buf [32]byte
	n := 0
	for i := 0; i < len(last.Key); i++ {
		c := last.Key[i]
		if c == '-' {
			continue
		}
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	hc, ok := hashChecks[string(buf[:n])]
	if !ok {
		return nil
	}
	hc.name = last.Key
	return &hc
}

type hashCheck struct {
	hexLens []int // allowed lengths in hex digits; nil for SSDEEP
	want    string
	name    string // the key as written in the path
}

func (h hashCheck) ok(s string) bool {
	if h.hexLens == nil { // SSDEEP: [a-zA-Z0-9/+:.]{1,128}
		if len(s) < 1 || len(s) > 128 {
			return false
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(isIdentPart(c) && c != '_' || c == '/' || c == '+' || c == ':' || c == '.') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	for _, n := range h.hexLens {
		if len(s) == n {
			return true
		}
	}
	return false
}

// hashChecks is cti-pattern-validator's table (object_validator.py), keyed by
// the algorithm name upper-cased without hyphens.
var hashChecks = map[string]hashCheck{
	"MD5":       {[]int{32}, "32 hex digits", ""},
	"MD6":       {[]int{32, 40, 56, 64, 96, 128}, "32, 40, 56, 64, 96 or 128 hex digits", ""},
	"RIPEMD160": {[]int{40}, "40 hex digits", ""},
	"SHA1":      {[]int{40}, "40 hex digits", ""},
	"SHA224":    {[]int{56}, "56 hex digits", ""},
	"SHA256":    {[]int{64}, "64 hex digits", ""},
	"SHA384":    {[]int{96}, "96 hex digits", ""},
	"SHA512":    {[]int{128}, "128 hex digits", ""},
	"SHA3224":   {[]int{56}, "56 hex digits", ""},
	"SHA3256":   {[]int{64}, "64 hex digits", ""},
	"SHA3384":   {[]int{96}, "96 hex digits", ""},
	"SHA3512":   {[]int{128}, "128 hex digits", ""},
	"SSDEEP":    {nil, "1 to 128 characters of [A-Za-z0-9/+:.]", ""},
	"WHIRLPOOL": {[]int{128}, "128 hex digits", ""},
}

func parseInt(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func parseFloat(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}
