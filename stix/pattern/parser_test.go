package pattern_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix/pattern"
)

// TestParseCanonical checks grammar corners: each input parses and renders
// to the canonical form given, which parses to the same AST.
func TestParseCanonical(t *testing.T) {
	for name, tt := range map[string]struct{ in, want string }{
		"== and <>":             {"[a:b == 1 AND a:c <> 2]", "[a:b = 1 AND a:c != 2]"},
		"NOT operators":         {"[a:b NOT = 'x' AND a:c NOT IN (1) AND a:d NOT LIKE 'x%' AND a:e NOT MATCHES '^x' AND a:f NOT ISSUPERSET '10.0.0.0/8' AND a:g NOT > 1]", "[a:b NOT = 'x' AND a:c NOT IN (1) AND a:d NOT LIKE 'x%' AND a:e NOT MATCHES '^x' AND a:f NOT ISSUPERSET '10.0.0.0/8' AND a:g NOT > 1]"},
		"EXISTS":                {"[EXISTS a:b OR NOT EXISTS a:c]", "[EXISTS a:b OR NOT EXISTS a:c]"},
		"order literals":        {"[a:b > -5 AND a:c < +.5 AND a:d >= -0.25 AND a:e <= t'2020-01-01T00:00:00Z' AND a:f < 'z' AND a:g > h'00' AND a:h < b'AAAA']", "[a:b > -5 AND a:c < 0.5 AND a:d >= -0.25 AND a:e <= t'2020-01-01T00:00:00Z' AND a:f < 'z' AND a:g > h'00' AND a:h < b'AAAA']"},
		"booleans":              {"[a:b = true OR a:c != false]", "[a:b = true OR a:c != false]"},
		"empty IN":              {"[a:b IN ()]", "[a:b IN ()]"},
		"IN mixed":              {"[a:b IN ( 'x' ,1,2.5 , true,h'FF' )]", "[a:b IN ('x', 1, 2.5, true, h'ff')]"},
		"empty hex":             {"[a:b = h'']", "[a:b = h'']"},
		"hex upper":             {"[a:b = h'DEADbeef']", "[a:b = h'deadbeef']"},
		"float forms":           {"[a:b = 007.50]", "[a:b = 7.5]"},
		"float no frac":         {"[a:b = 7.0]", "[a:b = 7.0]"},
		"negative zero float":   {"[a:b = -0.0]", "[a:b = -0.0]"},
		"int plus":              {"[a:b = +0]", "[a:b = 0]"},
		"quoted keys":           {"[a:'b'.'c'.'d-e'.'AND'.'x y'.'it\\'s' = 1]", "[a:b.c.'d-e'.'AND'.'x y'.'it\\'s' = 1]"},
		"index steps":           {"[a:b[0].c[-1][*][+2] = 1]", "[a:b[0].c[-1][*][2] = 1]"},
		"hyphen object type":    {"[x-my-type:value = 'v']", "[x-my-type:value = 'v']"},
		"keyword-like ident":    {"[ANDx:ORy = 1]", "[ANDx:ORy = 1]"},
		"escapes":               {`[a:b = 'C:\\Windows\\it\'s']`, `[a:b = 'C:\\Windows\\it\'s']`},
		"unicode in string":     {"[a:b = 'ünïcødé 🙂']", "[a:b = 'ünïcødé 🙂']"},
		"newline in string":     {"[a:b = 'x\ny']", "[a:b = 'x\ny']"},
		"comments":              {"/* c */[a:b /* inner */ = 1] // tail", "[a:b = 1]"},
		"unicode whitespace":    {"\u00a0[\u2003a:b\u3000=\u20281\u205f]\u0085", "[a:b = 1]"},
		"no spaces":             {"[a:b='x'AND a:c=1]WITHIN 5 SECONDS", "[a:b = 'x' AND a:c = 1] WITHIN 5 SECONDS"},
		"AND over OR":           {"[a:b = 1 OR a:c = 2 AND a:d = 3]", "[a:b = 1 OR a:c = 2 AND a:d = 3]"},
		"parens needed":         {"[(a:b = 1 OR a:c = 2) AND a:d = 3]", "[(a:b = 1 OR a:c = 2) AND a:d = 3]"},
		"parens flattened":      {"[(a:b = 1 AND a:c = 2) AND (a:d = 3)]", "[a:b = 1 AND a:c = 2 AND a:d = 3]"},
		"obs precedence":        {"[a:b = 1] FOLLOWEDBY [a:b = 2] OR [a:b = 3] AND [a:b = 4]", "[a:b = 1] FOLLOWEDBY [a:b = 2] OR [a:b = 3] AND [a:b = 4]"},
		"obs parens":            {"([a:b = 1] FOLLOWEDBY [a:b = 2]) AND [a:b = 3]", "([a:b = 1] FOLLOWEDBY [a:b = 2]) AND [a:b = 3]"},
		"nested followedby":     {"[a:b = 1] FOLLOWEDBY ([a:b = 2] FOLLOWEDBY [a:b = 3])", "[a:b = 1] FOLLOWEDBY ([a:b = 2] FOLLOWEDBY [a:b = 3])"},
		"redundant obs paren":   {"(([a:b = 1])) OR ([a:b = 2])", "[a:b = 1] OR [a:b = 2]"},
		"three qualifiers":      {"[a:b = 1] REPEATS 2 TIMES WITHIN 1.5 SECONDS START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00.001Z'", "[a:b = 1] REPEATS 2 TIMES WITHIN 1.5 SECONDS START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00.001Z'"},
		"qualifier on group":    {"([a:b = 1] OR [a:b = 2]) WITHIN 5 SECONDS", "([a:b = 1] OR [a:b = 2]) WITHIN 5 SECONDS"},
		"repeat after paren":    {"([a:b = 1]) WITHIN 5 SECONDS WITHIN 6 SECONDS", "([a:b = 1] WITHIN 5 SECONDS) WITHIN 6 SECONDS"},
		"redundant qual paren":  {"([a:b = 1] WITHIN 5 SECONDS) REPEATS 2 TIMES", "[a:b = 1] WITHIN 5 SECONDS REPEATS 2 TIMES"},
		"qualifier binds tight": {"[a:b = 1] AND [a:b = 2] WITHIN 5 SECONDS", "[a:b = 1] AND [a:b = 2] WITHIN 5 SECONDS"},
		"leap second":           {"[a:b = t'2016-12-31T23:59:60Z']", "[a:b = t'2016-12-31T23:59:60Z']"},
		"long fraction":         {"[a:b = t'2016-12-31T23:59:59.1234567890123Z']", "[a:b = t'2016-12-31T23:59:59.1234567890123Z']"},
		"binary padding":        {"[a:b = b'QR==']", "[a:b = b'QQ==']"},
		"int64 extremes":        {"[a:b IN (9223372036854775807, -9223372036854775808)]", "[a:b IN (9223372036854775807, -9223372036854775808)]"},
	} {
		t.Run(name, func(t *testing.T) {
			p := MustParse(t, tt.in)
			if got := p.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			if q := MustParse(t, tt.want); !reflect.DeepEqual(p, q) {
				t.Fatalf("Parse(%q) gives another AST than Parse(%q)", tt.want, tt.in)
			}
		})
	}
}

// TestParseErrors checks that bad input is rejected at the right column with
// a message saying why.
func TestParseErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		in      string
		column  int
		msgPart string
	}{
		"empty":                {"", 1, "expected '[' or '('"},
		"blank":                {"   ", 4, "found end of pattern"},
		"lower-case keyword":   {"[a:b = 1] within 5 SECONDS", 11, "expected AND, OR, FOLLOWEDBY"},
		"lower-case and":       {"[a:b = 1 and a:c = 2]", 10, "expected ']'"},
		"True is no bool":      {"[a:b = True]", 8, "expected a literal"},
		"unclosed bracket":     {"[a:b = 1", 9, "expected ']'"},
		"unclosed paren":       {"([a:b = 1]", 11, "expected ')'"},
		"trailing garbage":     {"[a:b = 1] ]", 11, "expected AND, OR"},
		"empty observation":    {"[]", 2, "expected an object type"},
		"no property":          {"[a: = 1]", 5, "expected a property name"},
		"hyphen property":      {"[a:b-c = 1]", 4, "quote names with '-'"},
		"hyphen later step":    {"[a:b.c-d = 1]", 6, "quote names with '-'"},
		"keyword property":     {"[a:AND = 1]", 4, "expected a property name"},
		"keyword object type":  {"[IN:b = 1]", 2, "expected an object type"},
		"index first":          {"[a:[0] = 1]", 4, "expected a property name"},
		"float index":          {"[a:b[1.5] = 1]", 6, "expected a list index"},
		"bad escape":           {`[a:b = 'x\ny']`, 10, `invalid escape \n`},
		"lone backslash end":   {`[a:b = 'x\`, 8, "unterminated string"},
		"unterminated string":  {"[a:b = 'abc]", 8, "unterminated string"},
		"double quotes":        {`[file:hashes."SHA-256" = 'x']`, 14, "expected a property name after '.'"},
		"bool ordered":         {"[a:b > true]", 8, "no booleans"},
		"LIKE non-string":      {"[a:b LIKE 5]", 11, "expected a string literal after LIKE"},
		"IN without parens":    {"[a:b IN 'x']", 9, "expected '('"},
		"IN trailing comma":    {"[a:b IN (1,)]", 12, "expected a literal"},
		"NOT without op":       {"[a:b NOT 1]", 10, "expected a comparison operator after NOT"},
		"NOT before path":      {"[NOT a:b = 1]", 6, "expected EXISTS after NOT"},
		"double NOT":           {"[a:b NOT NOT = 1]", 10, "expected a comparison operator after NOT"},
		"leading zero":         {"[a:b = 007]", 8, "leading zero"},
		"int overflow":         {"[a:b = 9223372036854775808]", 8, "out of the 64-bit range"},
		"float exponent":       {"[a:b = 1.5e3]", 11, "expected ']'"},
		"trailing dot":         {"[a:b = 1.]", 9, "expected ']'"},
		"lone minus":           {"[a:b = -]", 8, "expected a literal"},
		"WITHIN zero":          {"[a:b = 1] WITHIN 0 SECONDS", 18, "positive"},
		"WITHIN zero float":    {"[a:b = 1] WITHIN 0.0 SECONDS", 18, "positive"},
		"WITHIN negative":      {"[a:b = 1] WITHIN -5 SECONDS", 18, "positive number"},
		"REPEATS zero":         {"[a:b = 1] REPEATS 0 TIMES", 19, "positive"},
		"REPEATS float":        {"[a:b = 1] REPEATS 1.5 TIMES", 19, "expected a positive integer"},
		"REPEATS no TIMES":     {"[a:b = 1] REPEATS 2", 20, "expected TIMES"},
		"START equal STOP":     {"[a:b = 1] START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00Z'", 46, "STOP must be later than START"},
		"START after STOP":     {"[a:b = 1] START t'2021-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00Z'", 46, "STOP must be later than START"},
		"START string":         {"[a:b = 1] START '2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'", 17, "expected a timestamp literal"},
		"dup WITHIN":           {"[a:b = 1] WITHIN 1 SECONDS REPEATS 2 TIMES WITHIN 2 SECONDS", 44, "duplicate qualifier WITHIN"},
		"dup inside group":     {"([a:b = 1] REPEATS 2 TIMES REPEATS 3 TIMES) WITHIN 1 SECONDS", 28, "duplicate qualifier REPEATS"},
		"timestamp no Z":       {"[a:b = t'2020-01-01T00:00:00+00:00']", 8, "must be YYYY-MM-DD"},
		"timestamp no frac":    {"[a:b = t'2020-01-01T00:00:00.Z']", 8, "must be YYYY-MM-DD"},
		"timestamp lower t":    {"[a:b = t'2020-01-01t00:00:00Z']", 8, "must be YYYY-MM-DD"},
		"feb 30":               {"[a:b = t'2024-02-30T12:00:00Z']", 8, "not a calendar date"},
		"feb 29 1900":          {"[a:b = t'1900-02-29T12:00:00Z']", 8, "not a calendar date"},
		"unterminated t":       {"[a:b = t'2020-01-01T00:00:00Z]", 8, "unterminated t'"},
		"empty binary":         {"[a:b = b'']", 8, "base64"},
		"binary bad length":    {"[a:b = b'QUJD=']", 8, "base64"},
		"binary bad char":      {"[a:b = b'QU-D']", 8, "base64"},
		"binary url alphabet":  {"[a:b = b'__8=']", 8, "base64"},
		"binary pad inside":    {"[a:b = b'QQ==QUJD']", 8, "base64"},
		"hex odd":              {"[a:b = h'abc']", 8, "odd number"},
		"hex bad":              {"[a:b = h'zz']", 8, "non-hex"},
		"MD5 short":            {"[file:hashes.MD5 = 'abc']", 20, "not a valid MD5 hash"},
		"sha-1 in IN":          {"[file:hashes.'SHA-1' IN ('da39a3ee5e6b4b0d3255bfef95601890afd80709', 'x')]", 70, "not a valid SHA-1 hash"},
		"nested hashes":        {"[file:extensions.'windows-pebinary-ext'.sections[*].hashes.'SHA-256' != 'zz']", 73, "not a valid SHA-256 hash"},
		"ssdeep bad char":      {"[file:hashes.SSDEEP = 'a b']", 23, "not a valid SSDEEP hash"},
		"unterminated comment": {"[a:b = 1] /* x", 11, "unterminated /* comment"},
		"invalid char":         {"[a:b = 1] & [a:b = 2]", 11, "found '&'"},
		"non-ASCII outside":    {"[a:b = 'é'] é", 13, "found 'é'"},
		"column counts runes":  {"[a:b = 'ééé' xx]", 14, "expected ']'"},
		"bang alone":           {"[a:b ! 1]", 6, "expected a comparison operator"},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := pattern.Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tt.in, p.String())
			}
			var pe *pattern.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *pattern.Error", err)
			}
			if pe.Column != tt.column || !strings.Contains(pe.Msg, tt.msgPart) {
				t.Fatalf("got %q (column %d), want column %d and %q", err, pe.Column, tt.column, tt.msgPart)
			}
			if pe.Limit != "" {
				t.Fatalf("Limit = %q, want none", pe.Limit)
			}
		})
	}
}

// TestHashesAccepted checks hashes that fit their algorithm, in any letter
// case of the key and the value, and operators that are not checked.
func TestHashesAccepted(t *testing.T) {
	for _, s := range []string{
		"[file:hashes.md5 = 'D41D8CD98F00B204E9800998ECF8427E']",
		"[file:hashes.'sha-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
		"[file:hashes.'SHA3-256' = 'a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a']",
		"[file:hashes.SSDEEP = '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C']",
		"[file:hashes.MD6 = 'd41d8cd98f00b204e9800998ecf8427e']",
		"[file:hashes.'TLSH' = 'anything']",  // not in cti-pattern-validator's table
		"[file:hashes.MD5 LIKE 'd41d8%']",    // a LIKE value is not a hash
		"[file:hashes.MD5 MATCHES '^d41d8']", // nor is a regex
		"[file:hashes.MD5 = 5]",              // only strings are checked
		"[file:name.MD5 = 'x']",              // not under hashes
		"[file:hashes[*] = 'x']",             // no algorithm named
		"[file:hashes.MD5 IN ()]",            // nothing to check
		"[file:hashes.MD5 NOT = 'd41d8cd98f00b204e9800998ecf8427e']",
	} {
		MustParse(t, s)
	}
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("(", 100) + "[a:b = 1]" + strings.Repeat(")", 100)
	for name, tt := range map[string]struct {
		in     string
		lim    pattern.Limits
		limit  string
		column int
	}{
		"length":          {"[a:b = '" + strings.Repeat("x", 70000) + "']", pattern.Limits{}, "MaxLength", 65537},
		"length custom":   {"[a:b = 'xxxx']", pattern.Limits{MaxLength: 10}, "MaxLength", 11},
		"length in runes": {"[a:b = 'éééé']", pattern.Limits{MaxLength: 10}, "MaxLength", 10},
		"obs depth":       {deep, pattern.Limits{}, "MaxDepth", 101},
		"cmp depth":       {"[" + strings.Repeat("(", 100) + "a:b = 1" + strings.Repeat(")", 100) + "]", pattern.Limits{}, "MaxDepth", 101},
		"depth custom":    {"[(a:b = 1)]", pattern.Limits{MaxDepth: 1}, "MaxDepth", 2},
		"qualifier depth": {"[a:b = 1] WITHIN 1 SECONDS", pattern.Limits{MaxDepth: 1}, "MaxDepth", 11},
		"qualifier chain": {"([a:b = 1])" + strings.Repeat(" WITHIN 1 SECONDS", 200), pattern.Limits{}, "MaxDepth", 13 + 99*17},
		"huge nesting":    {strings.Repeat("(", 60000), pattern.Limits{}, "MaxDepth", 101},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := pattern.ParseWithLimits(tt.in, tt.lim)
			var pe *pattern.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *pattern.Error", err)
			}
			if pe.Limit != tt.limit || pe.Column != tt.column || !strings.Contains(pe.Msg, tt.limit) {
				t.Fatalf("got %+v, want limit %s at column %d", pe, tt.limit, tt.column)
			}
		})
	}
	// Just inside the limits.
	if _, err := pattern.Parse(strings.Repeat("(", 99) + "[a:b = 1]" + strings.Repeat(")", 99)); err != nil {
		t.Errorf("depth 100: %v", err)
	}
	if _, err := pattern.ParseWithLimits("[a:b = 'xxx']", pattern.Limits{MaxLength: 13}); err != nil {
		t.Errorf("length 13 with MaxLength 13: %v", err)
	}
}

func TestAST(t *testing.T) {
	p := MustParse(t, "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND NOT EXISTS file:parent_directory_ref.path] "+
		"REPEATS 2 TIMES FOLLOWEDBY [network-traffic:dst_port IN (443, 8443) OR x:y[*].z[-1] MATCHES 'a\\\\b']")
	want := &pattern.Pattern{Expr: &pattern.ObservationCompound{
		Op: pattern.JoinFollowedBy,
		Operands: []pattern.ObservationExpr{
			&pattern.ObservationQualified{
				Expr: &pattern.ObservationSimple{Comparison: &pattern.ComparisonCompound{
					Op: pattern.JoinAnd,
					Operands: []pattern.ComparisonExpr{
						&pattern.Comparison{
							Path:  pattern.ObjectPath{ObjectType: "file", Steps: []pattern.PathStep{{Kind: pattern.StepKey, Key: "hashes"}, {Kind: pattern.StepKey, Key: "SHA-256"}}},
							Op:    pattern.OpEqual,
							Value: pattern.StringLiteral("aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"),
						},
						&pattern.Comparison{
							Path:    pattern.ObjectPath{ObjectType: "file", Steps: []pattern.PathStep{{Kind: pattern.StepKey, Key: "parent_directory_ref"}, {Kind: pattern.StepKey, Key: "path"}}},
							Negated: true,
							Op:      pattern.OpExists,
						},
					},
				}},
				Qualifier: pattern.Qualifier{Kind: pattern.QualRepeats, Value: pattern.IntLiteral(2)},
			},
			&pattern.ObservationSimple{Comparison: &pattern.ComparisonCompound{
				Op: pattern.JoinOr,
				Operands: []pattern.ComparisonExpr{
					&pattern.Comparison{
						Path:   pattern.ObjectPath{ObjectType: "network-traffic", Steps: []pattern.PathStep{{Kind: pattern.StepKey, Key: "dst_port"}}},
						Op:     pattern.OpIn,
						Values: []pattern.Literal{pattern.IntLiteral(443), pattern.IntLiteral(8443)},
					},
					&pattern.Comparison{
						Path: pattern.ObjectPath{ObjectType: "x", Steps: []pattern.PathStep{
							{Kind: pattern.StepKey, Key: "y"}, {Kind: pattern.StepAnyIndex}, {Kind: pattern.StepKey, Key: "z"}, {Kind: pattern.StepIndex, Index: -1},
						}},
						Op:    pattern.OpMatches,
						Value: pattern.StringLiteral(`a\b`),
					},
				},
			}},
		},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("AST mismatch:\n got %#v\nwant %#v", p.Expr, want.Expr)
	}
	cs := p.Comparisons()
	if len(cs) != 4 || cs[0].Path.Property() != "hashes.'SHA-256'" || cs[3].Path.String() != "x:y[*].z[-1]" {
		t.Fatalf("Comparisons() = %v", cs)
	}
}

func TestLiteralText(t *testing.T) {
	p := MustParse(t, `[a:b IN ('it\'s', -3, 2.50, false, b'aGk=', h'0A0b', t'2020-02-29T10:11:12.5Z')]`)
	c := p.Comparisons()[0]
	var got []string
	for _, v := range c.Values {
		got = append(got, v.Kind.String()+":"+v.Text())
	}
	want := []string{"string:it's", "int:-3", "float:2.5", "bool:false", "binary:aGk=", "hex:0a0b", "timestamp:2020-02-29T10:11:12.5Z"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	tm, ok := c.Values[6].Time()
	if !ok || tm.Format("2006-01-02T15:04:05.000Z07:00") != "2020-02-29T10:11:12.500Z" {
		t.Fatalf("Time() = %v, %v", tm, ok)
	}
	if _, ok := c.Values[0].Time(); ok {
		t.Fatal("Time() of a string literal reports ok")
	}
	if got := string(c.Values[4].Str); got != "hi" {
		t.Fatalf("binary bytes = %q, want hi", got)
	}
}

func TestCheck(t *testing.T) {
	if err := pattern.Check("[a:b = 1]"); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := pattern.Check("[a:b = ]"); err == nil || err.Error() != "column 8: expected a literal, found ']'" {
		t.Fatalf("Check: got %v", err)
	}
	check := pattern.Checker(pattern.Limits{MaxLength: 8})
	var pe *pattern.Error
	if err := check("[a:b = 1]"); !errors.As(err, &pe) || pe.Limit != "MaxLength" {
		t.Fatalf("Checker MaxLength 8: got %v", err)
	}
	if err := check("[a:b=1]"); err != nil {
		t.Fatalf("Checker: %v", err)
	}
}

// TestLiteralConstructors renders each constructed literal in a comparison and
// parses it back to the same literal.
func TestLiteralConstructors(t *testing.T) {
	ts := time.Date(2024, 2, 29, 23, 59, 58, 120000000, time.FixedZone("x", 3600))
	path := pattern.ObjectPath{ObjectType: "x-t", Steps: []pattern.PathStep{{Kind: pattern.StepKey, Key: "v"}}}
	for name, tt := range map[string]struct {
		lit  pattern.Literal
		text string
	}{
		"string":     {pattern.StringLiteral(`a'b\c`), `'a\'b\\c'`},
		"int":        {pattern.IntLiteral(-42), "-42"},
		"float":      {pattern.FloatLiteral(3), "3.0"},
		"float tiny": {pattern.FloatLiteral(1e-7), "0.0000001"},
		"bool":       {pattern.BoolLiteral(false), "false"},
		"binary":     {pattern.BinaryLiteral([]byte{0, 1, 254, 255}), "b'AAH+/w=='"},
		"hex":        {pattern.HexLiteral([]byte{0xDE, 0xAD}), "h'dead'"},
		"timestamp":  {pattern.TimestampLiteral(ts), "t'2024-02-29T22:59:58.12Z'"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tt.lit.String(); got != tt.text {
				t.Fatalf("String() = %q, want %q", got, tt.text)
			}
			s := pattern.And(&pattern.Comparison{Path: path, Op: pattern.OpEqual, Value: tt.lit})
			c, ok := MustParse(t, s).SimpleComparison()
			if !ok || c.Value != tt.lit {
				t.Fatalf("Parse(%q) value = %#v, want %#v", s, c.Value, tt.lit)
			}
		})
	}
	if tm, ok := pattern.TimestampLiteral(ts).Time(); !ok || !tm.Equal(ts) {
		t.Fatalf("Time() = %v, want %v", tm, ts)
	}
}

func TestWalkStops(t *testing.T) {
	p := MustParse(t, "[a:b = 1 OR a:c = 2] AND [a:d = 3]")
	var seen []string
	p.Walk(func(c *pattern.Comparison) bool {
		seen = append(seen, c.Path.Property())
		return len(seen) < 2
	})
	if strings.Join(seen, ",") != "b,c" {
		t.Fatalf("Walk visited %v, want b,c", seen)
	}
}
