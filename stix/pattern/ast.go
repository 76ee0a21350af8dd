package pattern

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Pattern is a parsed STIX 2.1 pattern (§9): one observation expression.
type Pattern struct {
	Expr ObservationExpr
}

// ObservationExpr is an observation expression: *ObservationSimple,
// *ObservationCompound or *ObservationQualified.
type ObservationExpr interface {
	observationExpr()
}

// ObservationSimple is one bracketed observation, [comparison].
type ObservationSimple struct {
	Comparison ComparisonExpr
}

// ObservationCompound joins two or more observation expressions with one
// operator. Chains of AND or OR are flattened into one node (both are
// associative); a FOLLOWEDBY group in parentheses stays its own node.
type ObservationCompound struct {
	Op       Join // JoinAnd, JoinOr or JoinFollowedBy
	Operands []ObservationExpr
}

// ObservationQualified is an observation expression with one qualifier applied
// to it. Several qualifiers nest: the innermost was written first.
type ObservationQualified struct {
	Expr      ObservationExpr
	Qualifier Qualifier
}

func (*ObservationSimple) observationExpr()    {}
func (*ObservationCompound) observationExpr()  {}
func (*ObservationQualified) observationExpr() {}

// ComparisonExpr is a comparison expression inside [ ]: *Comparison or
// *ComparisonCompound.
type ComparisonExpr interface {
	comparisonExpr()
}

// ComparisonCompound joins two or more comparison expressions with AND or OR.
// Chains of one operator are flattened into one node.
type ComparisonCompound struct {
	Op       Join // JoinAnd or JoinOr
	Operands []ComparisonExpr
}

// Comparison is one property test (the grammar's propTest): Path Op Value, with
// an optional NOT before the operator.
type Comparison struct {
	Path    ObjectPath
	Negated bool      // NOT before the operator
	Op      Operator  // OpExists has no value
	Value   Literal   // the right-hand side, for every operator but OpIn and OpExists
	Values  []Literal // the set of OpIn, possibly empty
}

func (*Comparison) comparisonExpr()         {}
func (*ComparisonCompound) comparisonExpr() {}

// Join is the operator of a compound expression.
type Join uint8

// The joins. FOLLOWEDBY only occurs between observation expressions.
const (
	JoinAnd Join = iota + 1
	JoinOr
	JoinFollowedBy
)

// String returns the keyword: "AND", "OR" or "FOLLOWEDBY".
func (j Join) String() string {
	switch j {
	case JoinAnd:
		return "AND"
	case JoinOr:
		return "OR"
	case JoinFollowedBy:
		return "FOLLOWEDBY"
	}
	return "Join(" + strconv.Itoa(int(j)) + ")"
}

// precedence orders the joins, loosest first (STIX 2.1 §9.6).
func (j Join) precedence() int {
	switch j {
	case JoinFollowedBy:
		return 1
	case JoinOr:
		return 2
	case JoinAnd:
		return 3
	}
	return 0
}

// Operator is a comparison operator (STIX 2.1 §9.5, table "Comparison Operators").
type Operator uint8

// The comparison operators. == and <> are read as OpEqual and OpNotEqual.
const (
	OpEqual Operator = iota + 1
	OpNotEqual
	OpLess
	OpLessEqual
	OpGreater
	OpGreaterEqual
	OpIn
	OpLike
	OpMatches
	OpIsSubset
	OpIsSuperset
	OpExists
)

var operatorNames = [...]string{
	OpEqual:        "=",
	OpNotEqual:     "!=",
	OpLess:         "<",
	OpLessEqual:    "<=",
	OpGreater:      ">",
	OpGreaterEqual: ">=",
	OpIn:           "IN",
	OpLike:         "LIKE",
	OpMatches:      "MATCHES",
	OpIsSubset:     "ISSUBSET",
	OpIsSuperset:   "ISSUPERSET",
	OpExists:       "EXISTS",
}

// String returns the operator as written in canonical form: "=", "!=", "<",
// "<=", ">", ">=", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS".
func (o Operator) String() string {
	if int(o) < len(operatorNames) && o != 0 {
		return operatorNames[o]
	}
	return "Operator(" + strconv.Itoa(int(o)) + ")"
}

// ObjectPath is object-type:property followed by more steps, e.g.
// file:hashes.'SHA-256' or file:extensions.'windows-pebinary-ext'.sections[*].entropy.
type ObjectPath struct {
	ObjectType string
	// Steps is never empty for a parsed path, and Steps[0] is a StepKey.
	Steps []PathStep
}

// StepKind tells what a PathStep selects.
type StepKind uint8

// The path step kinds.
const (
	StepKey      StepKind = iota + 1 // .name or .'quoted name'
	StepIndex                        // [n], n may be negative
	StepAnyIndex                     // [*]
)

// PathStep is one component of an object path.
type PathStep struct {
	Kind  StepKind
	Key   string // StepKey: the property name, unquoted and unescaped
	Index int    // StepIndex
}

// QualifierKind tells which qualifier a Qualifier is.
type QualifierKind uint8

// The qualifiers (STIX 2.1 §9.5, "Qualifiers").
const (
	QualWithin    QualifierKind = iota + 1 // WITHIN n SECONDS
	QualRepeats                            // REPEATS n TIMES
	QualStartStop                          // START t'…' STOP t'…'
)

// String returns "WITHIN", "REPEATS" or "STARTSTOP".
func (k QualifierKind) String() string {
	switch k {
	case QualWithin:
		return "WITHIN"
	case QualRepeats:
		return "REPEATS"
	case QualStartStop:
		return "STARTSTOP"
	}
	return "QualifierKind(" + strconv.Itoa(int(k)) + ")"
}

// Qualifier is one qualifier applied to an observation expression.
type Qualifier struct {
	Kind QualifierKind
	// Value is the WITHIN duration in seconds (KindInt or KindFloat, > 0) or the
	// REPEATS count (KindInt, > 0).
	Value Literal
	// Start and Stop are the START and STOP timestamps (KindTimestamp), Start
	// strictly before Stop.
	Start, Stop Literal
}

// LiteralKind tells which kind of literal a Literal is.
type LiteralKind uint8

// The literal kinds (STIX 2.1 §9.3 and the grammar's primitiveLiteral).
const (
	KindString    LiteralKind = iota + 1 // 'text'
	KindInt                              // 42, -7, +3
	KindFloat                            // 7.0, -.5
	KindBool                             // true, false
	KindBinary                           // b'base64'
	KindHex                              // h'ffd8'
	KindTimestamp                        // t'2016-06-01T01:30:00.123Z'
)

var kindNames = [...]string{
	KindString:    "string",
	KindInt:       "int",
	KindFloat:     "float",
	KindBool:      "bool",
	KindBinary:    "binary",
	KindHex:       "hex",
	KindTimestamp: "timestamp",
}

// String returns the kind's name in lower case, e.g. "timestamp".
func (k LiteralKind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return "LiteralKind(" + strconv.Itoa(int(k)) + ")"
}

// Literal is a constant in a pattern. Literals are comparable with ==.
type Literal struct {
	Kind LiteralKind
	// Str is the unescaped text of KindString, the decoded bytes of KindBinary
	// and KindHex, and the text between the quotes of KindTimestamp.
	Str   string
	Int   int64   // KindInt
	Float float64 // KindFloat
	Bool  bool    // KindBool
}

// StringLiteral returns the string literal for s (any bytes).
func StringLiteral(s string) Literal { return Literal{Kind: KindString, Str: s} }

// IntLiteral returns the integer literal n.
func IntLiteral(n int64) Literal { return Literal{Kind: KindInt, Int: n} }

// FloatLiteral returns the float literal f. f must be finite.
func FloatLiteral(f float64) Literal { return Literal{Kind: KindFloat, Float: f} }

// BoolLiteral returns true or false.
func BoolLiteral(b bool) Literal { return Literal{Kind: KindBool, Bool: b} }

// BinaryLiteral returns the b'…' literal of data.
func BinaryLiteral(data []byte) Literal { return Literal{Kind: KindBinary, Str: string(data)} }

// HexLiteral returns the h'…' literal of data.
func HexLiteral(data []byte) Literal { return Literal{Kind: KindHex, Str: string(data)} }

// TimestampLiteral returns the t'…' literal of t in UTC, with as many fraction
// digits as t needs.
func TimestampLiteral(t time.Time) Literal {
	return Literal{Kind: KindTimestamp, Str: t.UTC().Format("2006-01-02T15:04:05.999999999Z")}
}

// Time returns the instant of a KindTimestamp literal (a leap second 60 is
// read as the first second of the next minute); ok is false for other kinds.
func (l Literal) Time() (t time.Time, ok bool) {
	if l.Kind != KindTimestamp {
		return time.Time{}, false
	}
	return timestampTime(l.Str)
}

// Text returns the value without pattern syntax: a string unescaped, numbers in
// decimal, true/false, binary as standard base64, hex as lower-case hex digits,
// a timestamp as the text between its quotes.
func (l Literal) Text() string {
	switch l.Kind {
	case KindString, KindTimestamp:
		return l.Str
	case KindInt:
		return strconv.FormatInt(l.Int, 10)
	case KindFloat:
		return formatFloat(l.Float)
	case KindBool:
		return strconv.FormatBool(l.Bool)
	case KindBinary:
		return base64.StdEncoding.EncodeToString([]byte(l.Str))
	case KindHex:
		return hex.EncodeToString([]byte(l.Str))
	}
	return ""
}

// String returns the literal in canonical pattern syntax, e.g. 'it\'s',
// h'ffd8', t'2016-06-01T01:30:00Z', 7.0.
func (l Literal) String() string {
	var b strings.Builder
	l.write(&b)
	return b.String()
}

func (l Literal) write(b *strings.Builder) {
	switch l.Kind {
	case KindString:
		writeQuoted(b, l.Str)
	case KindInt, KindFloat, KindBool:
		b.WriteString(l.Text())
	case KindBinary:
		b.WriteString("b'")
		b.WriteString(l.Text())
		b.WriteByte('\'')
	case KindHex:
		b.WriteString("h'")
		b.WriteString(l.Text())
		b.WriteByte('\'')
	case KindTimestamp:
		b.WriteString("t'")
		b.WriteString(l.Str)
		b.WriteByte('\'')
	default:
		b.WriteString("<invalid literal>")
	}
}

// formatFloat writes f so that it reads back as a float literal: always with a
// decimal point, never with an exponent.
func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

// Quote returns s as a pattern string literal: in single quotes, with \ and '
// escaped by a backslash (backslashes first), nothing else changed.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	writeQuoted(&b, s)
	return b.String()
}

func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('\'')
	for {
		i := strings.IndexAny(s, `'\`)
		if i < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteByte('\\')
		b.WriteByte(s[i])
		s = s[i+1:]
	}
	b.WriteString(s)
	b.WriteByte('\'')
}

// String returns the path in canonical form, e.g. file:hashes.'SHA-256'.
func (p ObjectPath) String() string {
	var b strings.Builder
	p.write(&b)
	return b.String()
}

// Property returns the path without its object type, e.g. hashes.'SHA-256' or
// sections[*].entropy. Keys that are not plain identifiers are quoted.
func (p ObjectPath) Property() string {
	var b strings.Builder
	p.writeSteps(&b)
	return b.String()
}

func (p ObjectPath) write(b *strings.Builder) {
	b.WriteString(p.ObjectType)
	b.WriteByte(':')
	p.writeSteps(b)
}

func (p ObjectPath) writeSteps(b *strings.Builder) {
	for i, s := range p.Steps {
		switch s.Kind {
		case StepKey:
			if i > 0 {
				b.WriteByte('.')
			}
			if isPlainKey(s.Key) {
				b.WriteString(s.Key)
			} else {
				writeQuoted(b, s.Key)
			}
		case StepIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.Index))
			b.WriteByte(']')
		case StepAnyIndex:
			b.WriteString("[*]")
		}
	}
}

// isPlainKey reports whether key can be written unquoted as a property name:
// an identifier without hyphen that is not a keyword.
func isPlainKey(key string) bool {
	if key == "" || !isIdentStart(key[0]) {
		return false
	}
	for i := 1; i < len(key); i++ {
		if !isIdentPart(key[i]) {
			return false
		}
	}
	_, kw := keywords[key]
	return !kw
}

// ValidObjectType reports whether t can be written as an object type in a
// pattern: [a-zA-Z_][a-zA-Z0-9_-]* and not a keyword (object types cannot be
// quoted).
func ValidObjectType(t string) bool {
	if t == "" || !isIdentStart(t[0]) {
		return false
	}
	for i := 1; i < len(t); i++ {
		if !isIdentPart(t[i]) && t[i] != '-' {
			return false
		}
	}
	_, kw := keywords[t]
	return !kw
}

// String returns the comparison in canonical form, e.g.
// file:hashes.'SHA-256' = '…' or NOT EXISTS file:name.
func (c *Comparison) String() string {
	var b strings.Builder
	c.write(&b)
	return b.String()
}

func (c *Comparison) write(b *strings.Builder) {
	if c.Op == OpExists {
		if c.Negated {
			b.WriteString("NOT ")
		}
		b.WriteString("EXISTS ")
		c.Path.write(b)
		return
	}
	c.Path.write(b)
	if c.Negated {
		b.WriteString(" NOT")
	}
	b.WriteByte(' ')
	b.WriteString(c.Op.String())
	b.WriteByte(' ')
	if c.Op == OpIn {
		b.WriteByte('(')
		for i, v := range c.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			v.write(b)
		}
		b.WriteByte(')')
		return
	}
	c.Value.write(b)
}

// String returns the pattern in canonical form: single spaces, = and != for
// == and <>, quoted path keys only where needed, literals in canonical form
// (see Literal.String), and parentheses only where precedence or the
// one-qualifier-of-a-kind rule needs them. Parse(p.String()) yields an equal
// AST.
func (p *Pattern) String() string {
	var b strings.Builder
	writeObs(&b, p.Expr)
	return b.String()
}

// String returns the comparison expression in canonical form.
func (c *ComparisonCompound) String() string {
	var b strings.Builder
	writeCmp(&b, c)
	return b.String()
}

func writeCmp(b *strings.Builder, e ComparisonExpr) {
	switch e := e.(type) {
	case *Comparison:
		e.write(b)
	case *ComparisonCompound:
		for i, op := range e.Operands {
			if i > 0 {
				b.WriteByte(' ')
				b.WriteString(e.Op.String())
				b.WriteByte(' ')
			}
			sub, ok := op.(*ComparisonCompound)
			if ok && sub.Op.precedence() <= e.Op.precedence() {
				b.WriteByte('(')
				writeCmp(b, op)
				b.WriteByte(')')
			} else {
				writeCmp(b, op)
			}
		}
	default:
		b.WriteString("<invalid comparison>")
	}
}

func writeObs(b *strings.Builder, e ObservationExpr) {
	switch e := e.(type) {
	case *ObservationSimple:
		b.WriteByte('[')
		writeCmp(b, e.Comparison)
		b.WriteByte(']')
	case *ObservationCompound:
		for i, op := range e.Operands {
			if i > 0 {
				b.WriteByte(' ')
				b.WriteString(e.Op.String())
				b.WriteByte(' ')
			}
			sub, ok := op.(*ObservationCompound)
			if ok && sub.Op.precedence() <= e.Op.precedence() {
				b.WriteByte('(')
				writeObs(b, op)
				b.WriteByte(')')
			} else {
				writeObs(b, op)
			}
		}
	case *ObservationQualified:
		writeQualified(b, e)
	default:
		b.WriteString("<invalid observation>")
	}
}

// writeQualified writes a chain of qualifiers. A qualifier chain that sits
// directly on a [ ] may hold each kind once (cti-pattern-validator's rule), so
// where the AST repeats a kind the part before it is put in parentheses.
func writeQualified(b *strings.Builder, e *ObservationQualified) {
	// Collect the chain, innermost first.
	var chain []*ObservationQualified
	var base ObservationExpr = e
	for {
		q, ok := base.(*ObservationQualified)
		if !ok {
			break
		}
		chain = append(chain, q)
		base = q.Expr
	}
	// The text is built inside out, so render into a separate builder.
	var t strings.Builder
	checked := false
	var seen uint8
	switch base.(type) {
	case *ObservationSimple:
		writeObs(&t, base)
		checked = true
	default:
		t.WriteByte('(')
		writeObs(&t, base)
		t.WriteByte(')')
	}
	for i := len(chain) - 1; i >= 0; i-- {
		q := chain[i].Qualifier
		bit := uint8(1) << q.Kind
		if checked && seen&bit != 0 {
			s := t.String()
			t.Reset()
			t.WriteByte('(')
			t.WriteString(s)
			t.WriteByte(')')
			checked = false
		}
		seen |= bit
		t.WriteByte(' ')
		q.write(&t)
	}
	b.WriteString(t.String())
}

// String returns the qualifier in canonical form, e.g. WITHIN 300 SECONDS.
func (q Qualifier) String() string {
	var b strings.Builder
	q.write(&b)
	return b.String()
}

func (q Qualifier) write(b *strings.Builder) {
	switch q.Kind {
	case QualWithin:
		b.WriteString("WITHIN ")
		q.Value.write(b)
		b.WriteString(" SECONDS")
	case QualRepeats:
		b.WriteString("REPEATS ")
		q.Value.write(b)
		b.WriteString(" TIMES")
	case QualStartStop:
		b.WriteString("START ")
		q.Start.write(b)
		b.WriteString(" STOP ")
		q.Stop.write(b)
	default:
		b.WriteString("<invalid qualifier>")
	}
}
