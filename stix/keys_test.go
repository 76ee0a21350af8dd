package stix

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestKeyTable checks that every known name is found with its own id, that
// other names are not, and that the precomputed flags equal the rules'
// answers for the name.
func TestKeyTable(t *testing.T) {
	if len(keys.names) < 200 {
		t.Fatalf("only %d known names", len(keys.names))
	}
	for id, k := range keys.names {
		if id == 0 {
			continue
		}
		if got := keys.lookup(k); got != keyID(id) {
			t.Fatalf("lookup(%q) = %d, want %d", k, got, id)
		}
		if s, got := internKey([]byte(k)); got != keyID(id) || s != k {
			t.Fatalf("internKey(%q) = %q, %d, want %d", k, s, got, id)
		}
		probe := objCheck{v: &Validator{}}
		probe.checkPropName(k)
		if ok := keys.flags[id]&kfNameOK != 0; ok != (len(probe.out) == 0) {
			t.Fatalf("%q: kfNameOK %v, checkPropName findings %v", k, ok, probe.out)
		}
		if got, want := keys.flags[id]&^kfNameOK, nameFlags(k); got != want {
			t.Fatalf("%q: flags %b, want %b", k, got, want)
		}
	}
	for i, k := range fixedKeyNames {
		if i > 0 && keys.lookup(k) != keyID(i) {
			t.Fatalf("fixed name %q has id %d, want %d", k, keys.lookup(k), i)
		}
	}
	for _, k := range []string{"", "x", "typ", "types", "x_custom", "created_by_refs", "Type"} {
		if s, id := internKey([]byte(k)); id != kUnknown || s != k {
			t.Fatalf("internKey(%q) = %q, %d, want unknown", k, s, id)
		}
	}
	for _, ts := range specTypes {
		for p, pi := range ts.info {
			if ts.byKey[keys.lookup(p)] != pi {
				t.Fatalf("byKey misses %s", p)
			}
		}
	}
}

// uuidProblemRef is the plain character-by-character UUID form check that
// uuidForm and uuidFormProblem replace.
func uuidProblemRef(u string) (problem string, upper bool) {
	for k := 0; k < 36; k++ {
		c := u[k]
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return "UUID part is malformed", false
			}
			continue
		}
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			upper = true
		default:
			return "UUID part has a non-hex character", false
		}
	}
	return "", upper
}

// TestUUIDForm compares uuidForm with uuidProblemRef on random mutations of a
// UUID.
func TestUUIDForm(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	alphabet := "0123456789abcdefABCDEFgG-z \x00\xff"
	for n := 0; n < 20000; n++ {
		u := []byte("a932fcc6-e032-476c-826f-cb970a5a1ade")
		for m := r.Intn(3); m > 0; m-- {
			u[r.Intn(36)] = alphabet[r.Intn(len(alphabet))]
		}
		ok, upper := uuidForm(string(u))
		want, wantUpper := uuidProblemRef(string(u))
		if ok != (want == "") || ok && upper != wantUpper {
			t.Fatalf("%q: uuidForm %v %v, reference %q %v", u, ok, upper, want, wantUpper)
		}
		if !ok && uuidFormProblem(string(u)) != want {
			t.Fatalf("%q: problem %q, want %q", u, uuidFormProblem(string(u)), want)
		}
	}
}

// TestTimestampArithmetic compares parseTimestamp's date arithmetic with
// time.Date over random fields, the leap years around 1900/2000 and second 60.
func TestTimestampArithmetic(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	check := func(y, mo, d, h, mi, s, ns int) {
		str := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", y, mo, d, h, mi, s, ns)
		got, _, err := parseTimestamp(str)
		if err != nil {
			t.Fatalf("%s: %v", str, err)
		}
		if want := time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC); got != want {
			t.Fatalf("%s: got %v, want %v", str, got, want)
		}
	}
	for _, y := range []int{0, 1, 4, 99, 100, 399, 400, 1600, 1899, 1900, 1969, 1970, 1999, 2000, 2024, 2100, 9999} {
		for mo := 1; mo <= 12; mo++ {
			check(y, mo, 1, 0, 0, 0, 0)
			check(y, mo, daysIn(y, mo), 23, 59, 60, 999999999)
		}
	}
	for n := 0; n < 20000; n++ {
		y, mo := r.Intn(10000), 1+r.Intn(12)
		check(y, mo, 1+r.Intn(daysIn(y, mo)), r.Intn(24), r.Intn(60), r.Intn(61), r.Intn(1e9))
	}
}

// TestTrustedStringEnd compares trustedStringEnd with a plain scan for the
// closing quote over strings with escapes at every offset.
func TestTrustedStringEnd(t *testing.T) {
	ref := func(b []byte) int {
		for j := 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(b)
	}
	for _, body := range []string{``, `a`, `abcdefgh`, `abcdefghijklmnopq`, `\"`, `\\`, `\\\"`, `x\u0022y`, `0123456\"89`, `01234567\\`} {
		for pad := 0; pad < 17; pad++ {
			s := []byte(`"` + strings.Repeat("p", pad) + body + `","next"`)
			if got, want := trustedStringEnd(s, 0), ref(s); got != want {
				t.Fatalf("%s: got %d, want %d", s, got, want)
			}
		}
	}
}

// TestScanStringWordAtATime compares scanString, which skips eight bytes at a
// time, with encoding/json on random strings with quotes, escapes, control
// bytes and UTF-8 (valid and not) at every offset.
func TestScanStringWordAtATime(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	pieces := []string{"a", "b", " ", "~", `\"`, `\\`, `\n`, `\u00e9`, `\x`, "\x01", "\x1f", "é", "😀", "\xff", "\xc3", `"`, "\x7f"}
	for n := 0; n < 30000; n++ {
		var sb strings.Builder
		sb.WriteByte('"')
		for k := r.Intn(24); k > 0; k-- {
			if r.Intn(4) == 0 {
				sb.WriteString(pieces[r.Intn(len(pieces))])
			} else {
				sb.WriteString(strings.Repeat("x", r.Intn(10)))
			}
		}
		sb.WriteString(`"`)
		in := []byte(sb.String())
		s := scanner{data: in}
		end, _, err := s.scanString(0)
		// The reference: the shortest prefix that is a JSON string in valid
		// UTF-8 (encoding/json alone accepts invalid UTF-8).
		wantEnd := -1
		for j := 2; j <= len(in); j++ {
			if in[j-1] == '"' && json.Valid(in[:j]) {
				if utf8.Valid(in[:j]) {
					wantEnd = j
				}
				break
			}
		}
		if (err == nil) != (wantEnd >= 0) || err == nil && end != wantEnd {
			t.Fatalf("%q: scanString end %d err %v, want end %d", in, end, err, wantEnd)
		}
	}
}

// TestPutMembersClearsStale checks that a pooled member slice only points into
// the last small input parsed with it: entries left from a longer earlier
// object are cleared, and so is everything after a large input.
func TestPutMembersClearsStale(t *testing.T) {
	mb := &memberBuf{ms: make([]member, 0, 32)}
	long := []byte(`{"a":1,"b":2,"c":3,"d":4}`)
	_, used, err := parseObjectFill(long, DefaultLimits, 0, mb.ms, fillNone)
	if err != nil || len(used) != 4 {
		t.Fatal(err, len(used))
	}
	putMembers(mb, used, len(long))
	short := []byte(`{"x":1}`)
	_, used, _ = parseObjectFill(short, DefaultLimits, 0, mb.ms, fillNone)
	putMembers(mb, used, len(short))
	all := mb.ms[:4]
	if all[0].key != "x" || all[1].val != nil || all[3].val != nil || mb.dirty != 1 {
		t.Fatalf("after a shorter object: %+v dirty %d", all, mb.dirty)
	}
	big := []byte(`{"x":"` + strings.Repeat("y", 70<<10) + `"}`)
	_, used, _ = parseObjectFill(big, DefaultLimits, 0, mb.ms, fillNone)
	putMembers(mb, used, len(big))
	if mb.ms[:1][0].val != nil || mb.dirty != 0 {
		t.Fatalf("after a large input: %+v dirty %d", mb.ms[:1], mb.dirty)
	}
}

// TestIntValue compares intValue's digit fast path with strconv on integers,
// floats, exponents and non-numbers.
func TestIntValue(t *testing.T) {
	ref := func(val []byte) (int64, bool) {
		n, err := strconv.ParseInt(string(val), 10, 64)
		if err == nil {
			return n, true
		}
		f, ferr := strconv.ParseFloat(string(val), 64)
		if ferr != nil || f != float64(int64(f)) {
			return 0, false
		}
		return int64(f), true
	}
	for _, s := range []string{"0", "-0", "7", "-7", "85", "100", "999999999", "123456789012345678",
		"-123456789012345678", "1234567890123456789", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "1.0", "1.5", "1e2", "-1E2", "-", "", `"5"`, "true", "null", "0x10", "+5"} {
		gn, gok := intValue([]byte(s))
		wn, wok := ref([]byte(s))
		if gn != wn || gok != wok {
			t.Fatalf("intValue(%q) = %d, %v, want %d, %v", s, gn, gok, wn, wok)
		}
	}
}
