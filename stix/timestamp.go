package stix

import (
	"fmt"
	"strings"
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

// ParseTimestamp parses an RFC 3339 timestamp of any fractional precision. It
// requires the literal Z suffix that STIX mandates (§2.15).
func ParseTimestamp(s string) (Timestamp, error) {
	if !strings.HasSuffix(s, "Z") {
		return Timestamp{}, fmt.Errorf("timestamp %q: must be UTC with a Z suffix", s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return Timestamp{}, fmt.Errorf("timestamp %q: not RFC 3339", s)
	}
	return Timestamp{t.UTC()}, nil
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
