package pattern

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"
)

// tokKind is a lexical token kind of STIXPattern.g4.
type tokKind uint8

const (
	tEOF tokKind = iota
	tInvalid
	tLBrack
	tRBrack
	tLParen
	tRParen
	tColon
	tDot
	tComma
	tStar
	tEq
	tNeq
	tLt
	tLe
	tGt
	tGe
	tIdent // identifier; hyphen tells IdentifierWithHyphen
	tString
	tInt
	tFloat
	tBool
	tHex
	tBinary
	tTimestamp
	// keywords
	tAnd
	tOr
	tNot
	tFollowedBy
	tLike
	tMatches
	tIsSuperset
	tIsSubset
	tExists
	tLast
	tIn
	tStart
	tStop
	tSeconds
	tWithin
	tRepeats
	tTimes
)

var keywords = map[string]tokKind{
	"AND":        tAnd,
	"OR":         tOr,
	"NOT":        tNot,
	"FOLLOWEDBY": tFollowedBy,
	"LIKE":       tLike,
	"MATCHES":    tMatches,
	"ISSUPERSET": tIsSuperset,
	"ISSUBSET":   tIsSubset,
	"EXISTS":     tExists,
	"LAST":       tLast,
	"IN":         tIn,
	"START":      tStart,
	"STOP":       tStop,
	"SECONDS":    tSeconds,
	"WITHIN":     tWithin,
	"REPEATS":    tRepeats,
	"TIMES":      tTimes,
	"true":       tBool,
	"false":      tBool,
}

// token is one lexical token. start and end are byte offsets into the source.
type token struct {
	kind       tokKind
	start, end int
	hyphen     bool    // tIdent containing '-'
	str        string  // tIdent text, tString/tBinary/tHex value, tTimestamp text
	num        int64   // tInt
	fnum       float64 // tFloat
	bval       bool    // tBool
}

// describe names a token for error messages.
func (t token) describe(src string) string {
	switch t.kind {
	case tEOF:
		return "end of pattern"
	case tString:
		return "string literal"
	case tInt, tFloat:
		return "number " + clip(src[t.start:t.end])
	case tHex, tBinary, tTimestamp:
		return "literal " + clip(src[t.start:t.end])
	}
	return "'" + clip(src[t.start:t.end]) + "'"
}

func clip(s string) string {
	if len(s) > 40 {
		i := 40
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		return s[:i] + "…"
	}
	return s
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isUnicodeSpace reports the non-ASCII whitespace of the grammar's WS rule.
func isUnicodeSpace(r rune) bool {
	switch r {
	case 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// skipSpace skips whitespace and comments from p.pos.
func (p *parser) skipSpace() {
	s := p.src
	for p.pos < len(s) {
		c := s[p.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f':
			p.pos++
		case c == '/' && p.pos+1 < len(s) && s[p.pos+1] == '/':
			i := strings.IndexAny(s[p.pos:], "\r\n")
			if i < 0 {
				p.pos = len(s)
			} else {
				p.pos += i
			}
		case c == '/' && p.pos+1 < len(s) && s[p.pos+1] == '*':
			i := strings.Index(s[p.pos+2:], "*/")
			if i < 0 {
				p.fail(p.pos, "unterminated /* comment")
			}
			p.pos += 2 + i + 2
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[p.pos:])
			if !isUnicodeSpace(r) {
				return
			}
			p.pos += n
		default:
			return
		}
	}
}

// next reads the next token into p.tok.
func (p *parser) next() {
	p.skipSpace()
	s := p.src
	start := p.pos
	t := token{start: start}
	if start >= len(s) {
		t.kind = tEOF
		t.end = start
		p.tok = t
		return
	}
	c := s[start]
	p.pos++
	switch c {
	case '[':
		t.kind = tLBrack
	case ']':
		t.kind = tRBrack
	case '(':
		t.kind = tLParen
	case ')':
		t.kind = tRParen
	case ':':
		t.kind = tColon
	case ',':
		t.kind = tComma
	case '*':
		t.kind = tStar
	case '=':
		t.kind = tEq
		if p.pos < len(s) && s[p.pos] == '=' {
			p.pos++
		}
	case '!':
		if p.pos < len(s) && s[p.pos] == '=' {
			p.pos++
			t.kind = tNeq
		} else {
			t.kind = tInvalid
		}
	case '<':
		t.kind = tLt
		if p.pos < len(s) && s[p.pos] == '=' {
			p.pos++
			t.kind = tLe
		} else if p.pos < len(s) && s[p.pos] == '>' {
			p.pos++
			t.kind = tNeq
		}
	case '>':
		t.kind = tGt
		if p.pos < len(s) && s[p.pos] == '=' {
			p.pos++
			t.kind = tGe
		}
	case '\'':
		t.kind = tString
		t.str = p.lexString(start)
	case '.':
		if p.pos < len(s) && isDigit(s[p.pos]) {
			p.pos = start
			p.lexNumber(&t)
		} else {
			t.kind = tDot
		}
	case '+', '-':
		if p.pos < len(s) && (isDigit(s[p.pos]) || s[p.pos] == '.' && p.pos+1 < len(s) && isDigit(s[p.pos+1])) {
			p.pos = start
			p.lexNumber(&t)
		} else {
			t.kind = tInvalid
		}
	default:
		switch {
		case isDigit(c):
			p.pos = start
			p.lexNumber(&t)
		case isIdentStart(c):
			if p.pos < len(s) && s[p.pos] == '\'' && (c == 't' || c == 'h' || c == 'b') {
				p.pos++
				p.lexPrefixed(&t, c)
				break
			}
			for p.pos < len(s) && (isIdentPart(s[p.pos]) || s[p.pos] == '-') {
				if s[p.pos] == '-' {
					t.hyphen = true
				}
				p.pos++
			}
			t.str = s[start:p.pos]
			t.kind = tIdent
			// Keywords are upper-case, and true/false.
			if !t.hyphen && (c <= 'Z' || c == 't' || c == 'f') {
				if k, ok := keywords[t.str]; ok {
					t.kind = k
					t.bval = t.str == "true"
				}
			}
		default:
			t.kind = tInvalid
			if c >= utf8.RuneSelf {
				_, n := utf8.DecodeRuneInString(s[start:])
				p.pos = start + n
			}
		}
	}
	t.end = p.pos
	p.tok = t
}

// lexString reads a string literal whose opening quote is at start (p.pos is
// just after it) and returns its unescaped value. Only \' and \\ are escapes.
func (p *parser) lexString(start int) string {
	s := p.src
	i := p.pos
	// Fast path: no backslash before the closing quote.
	j := strings.IndexAny(s[i:], `'\`)
	if j < 0 {
		p.fail(start, "unterminated string literal")
	}
	if s[i+j] == '\'' {
		p.pos = i + j + 1
		return s[i : i+j]
	}
	var b strings.Builder
	for {
		j := strings.IndexAny(s[i:], `'\`)
		if j < 0 {
			p.fail(start, "unterminated string literal")
		}
		b.WriteString(s[i : i+j])
		i += j
		if s[i] == '\'' {
			p.pos = i + 1
			return b.String()
		}
		// backslash
		if i+1 >= len(s) {
			p.fail(start, "unterminated string literal")
		}
		if e := s[i+1]; e == '\'' || e == '\\' {
			b.WriteByte(e)
			i += 2
			continue
		}
		r, _ := utf8.DecodeRuneInString(s[i+1:])
		p.fail(i, "invalid escape \\"+string(r)+" in string literal (only \\' and \\\\ are allowed)")
	}
}

// lexNumber reads IntPosLiteral, IntNegLiteral, FloatPosLiteral or
// FloatNegLiteral at p.pos.
func (p *parser) lexNumber(t *token) {
	s := p.src
	start := p.pos
	i := start
	if s[i] == '+' || s[i] == '-' {
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intEnd := i
	isFloat := false
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		isFloat = true
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	p.pos = i
	text := s[start:i]
	if isFloat {
		t.kind = tFloat
		f, ok := parseFloat(text)
		if !ok {
			p.fail(start, "float "+clip(text)+" is out of range")
		}
		t.fnum = f
		return
	}
	if intEnd-intStart > 1 && s[intStart] == '0' {
		p.fail(start, "integer "+clip(text)+" has a leading zero")
	}
	n, ok := parseInt(text)
	if !ok {
		p.fail(start, "integer "+clip(text)+" is out of the 64-bit range")
	}
	t.kind = tInt
	t.num = n
}

// lexPrefixed reads the h'…', b'…' or t'…' literal whose prefix letter is at
// p.pos-2 (p.pos is just after the opening quote).
func (p *parser) lexPrefixed(t *token, prefix byte) {
	s := p.src
	start := p.pos - 2
	j := strings.IndexByte(s[p.pos:], '\'')
	if j < 0 {
		p.fail(start, "unterminated "+string(prefix)+"'…' literal")
	}
	body := s[p.pos : p.pos+j]
	p.pos += j + 1
	switch prefix {
	case 'h':
		if len(body)%2 != 0 {
			p.fail(start, "hex literal h'"+clip(body)+"' has an odd number of digits")
		}
		b, err := hex.DecodeString(body)
		if err != nil {
			p.fail(start, "hex literal h'"+clip(body)+"' holds a non-hex character")
		}
		t.kind = tHex
		t.str = string(b)
	case 'b':
		if !validBase64(body) {
			p.fail(start, "binary literal b'"+clip(body)+"' is not padded standard base64")
		}
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			p.fail(start, "binary literal b'"+clip(body)+"' is not padded standard base64")
		}
		t.kind = tBinary
		t.str = string(b)
	case 't':
		if msg := checkTimestamp(body); msg != "" {
			p.fail(start, "timestamp literal t'"+clip(body)+"' "+msg)
		}
		t.kind = tTimestamp
		t.str = body
	}
}

// validBase64 applies the grammar's BinaryLiteral rule: one or more groups of
// four characters of [A-Za-z0-9+/], the last one possibly ending in = or ==.
func validBase64(s string) bool {
	if len(s) == 0 || len(s)%4 != 0 {
		return false
	}
	n := len(s)
	pad := 0
	if s[n-1] == '=' {
		pad++
		if s[n-2] == '=' {
			pad++
		}
	}
	for i := 0; i < n-pad; i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// checkTimestamp applies the grammar's TimestampLiteral rule
// (YYYY-MM-DDTHH:MM:SS[.frac]Z, month 01-12, day 01-31, hour 00-23, minute
// 00-59, second 00-60) and then the calendar: the day must exist in that month.
// It returns "" or what is wrong.
func checkTimestamp(s string) string {
	const form = "must be YYYY-MM-DDTHH:MM:SS[.fraction]Z"
	if len(s) < 20 {
		return form
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if !isDigit(s[i]) {
			return form
		}
	}
	if s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return form
	}
	rest := s[19:]
	if rest[0] == '.' {
		k := 1
		for k < len(rest) && isDigit(rest[k]) {
			k++
		}
		if k == 1 {
			return form
		}
		rest = rest[k:]
	}
	if rest != "Z" {
		return form
	}
	num := func(i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }
	year := num(0)*100 + num(2)
	month, day, hour, minute, sec := num(5), num(8), num(11), num(14), num(17)
	switch {
	case month < 1 || month > 12:
		return "has month out of range 01-12"
	case day < 1 || day > 31:
		return "has day out of range 01-31"
	case hour > 23:
		return "has hour out of range 00-23"
	case minute > 59:
		return "has minute out of range 00-59"
	case sec > 60:
		return "has second out of range 00-60"
	case day > daysIn(year, month):
		return "is not a calendar date (" + time.Month(month).String() + " " + s[0:4] + " has fewer days)"
	}
	return ""
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// timestampTime converts a timestamp literal body already checked by
// checkTimestamp.
func timestampTime(s string) (time.Time, bool) {
	if checkTimestamp(s) != "" {
		return time.Time{}, false
	}
	num := func(i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }
	nsec := 0
	if s[19] == '.' {
		scale := 100_000_000
		for i := 20; i < len(s) && isDigit(s[i]) && scale > 0; i++ {
			nsec += int(s[i]-'0') * scale
			scale /= 10
		}
	}
	return time.Date(num(0)*100+num(2), time.Month(num(5)), num(8), num(11), num(14), num(17), nsec, time.UTC), true
}
