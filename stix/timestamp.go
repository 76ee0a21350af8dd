package stix

import (
	"fmt"
	"time"
)

// Timestamp is a STIX 2.1 timestamp (§2.15). It always encodes as UTC RFC 3339
// with millisecond precision and a literal Z.
type Timestamp struct {
	time.Time
}

// TimestampLayout is the layout ctibroker writes: UTC, milliseconds, Z.
const TimestampLayout = "2006-01-02T15:04:05.000Z"

// NewTimestamp returns t truncated to the millisecond, in UTC.
func NewTimestamp(t time.Time) Timestamp {
	return Timestamp{t.UTC().Truncate(time.Millisecond)}
}

// TimestampError is a string that is not a STIX timestamp (§2.15).
type TimestampError struct {
	Value  string
	Reason string
}

// Error returns the value and the reason.
func (e *TimestampError) Error() string {
	return fmt.Sprintf("timestamp %q: %s", e.Value, e.Reason)
}

// ParseTimestamp parses a STIX timestamp, YYYY-MM-DDTHH:mm:ss[.s+]Z, with any
// number of fractional digits (nanoseconds kept, further digits dropped). It
// requires the literal Z that STIX mandates (§2.15) and a date that exists;
// second 60 (a leap second, allowed by the OASIS schema) is read as the next
// second.
func ParseTimestamp(s string) (Timestamp, error) {
	t, _, err := parseTimestamp(s)
	if err != nil {
		return Timestamp{}, err
	}
	return Timestamp{t}, nil
}

// parseTimestamp parses s and also returns the number of fractional digits.
func parseTimestamp(s string) (time.Time, int, error) {
	bad := func(reason string) (time.Time, int, error) {
		return time.Time{}, 0, &TimestampError{Value: s, Reason: reason}
	}
	if len(s) < 20 {
		return bad("not YYYY-MM-DDTHH:mm:ss[.s+]Z")
	}
	if s[len(s)-1] != 'Z' {
		return bad("must be UTC with a Z suffix")
	}
	if s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return bad("not YYYY-MM-DDTHH:mm:ss[.s+]Z")
	}
	num := func(a, b int) int {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec := num(11, 13), num(14, 16), num(17, 19)
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 ||
		minute < 0 || minute > 59 || sec < 0 || sec > 60 {
		return bad("not YYYY-MM-DDTHH:mm:ss[.s+]Z with valid fields")
	}
	if day > daysIn(year, month) {
		return bad("day does not exist in that month")
	}
	nsec, frac := 0, 0
	rest := s[19 : len(s)-1]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) == 1 {
			return bad("not YYYY-MM-DDTHH:mm:ss[.s+]Z")
		}
		for i := 1; i < len(rest); i++ {
			c := rest[i]
			if c < '0' || c > '9' {
				return bad("fractional seconds must be digits")
			}
			if frac < 9 {
				nsec = nsec*10 + int(c-'0')
			}
			frac++
		}
		for k := frac; k < 9; k++ {
			nsec *= 10
		}
	}
	// time.Date(year, month, day, hour, minute, sec, nsec, time.UTC) without
	// its normalisation and zone lookup: the fields are in range (second 60
	// carries into the next minute as time.Date does).
	unix := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec)
	return time.Unix(unix, int64(nsec)).UTC(), frac, nil
}

// daysFromCivil returns the days from 1970-01-01 to the given proleptic
// Gregorian date (H. Hinnant's algorithm); month is 1–12.
func daysFromCivil(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := int64((month + 9) % 12)
	doy := (153*mp+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
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

// String returns the timestamp in TimestampLayout.
func (t Timestamp) String() string { return t.UTC().Format(TimestampLayout) }

// MarshalJSON encodes the timestamp in TimestampLayout.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimestampLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimestampLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON decodes a JSON string with ParseTimestamp.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("timestamp: want a JSON string, got %.40s", b)
	}
	ts, err := ParseTimestamp(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	*t = ts
	return nil
}
