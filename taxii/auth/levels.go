package auth

import (
	"fmt"
	"strings"
)

// ShareLevel is how far data from a feed may travel, ordered from the least
// to the most restricted. A consumer receives data whose level is at most its
// MaxShare.
type ShareLevel int

// Share levels, least restricted first.
const (
	// ShareCommunity data may go to anyone the instance shares with.
	ShareCommunity ShareLevel = iota
	// SharePartners data may go to declared partners and internal consumers.
	SharePartners
	// ShareInternal data stays with internal consumers.
	ShareInternal
)

// String returns the configuration spelling of s.
func (s ShareLevel) String() string {
	switch s {
	case ShareCommunity:
		return "community"
	case SharePartners:
		return "partners"
	case ShareInternal:
		return "internal"
	}
	return fmt.Sprintf("ShareLevel(%d)", int(s))
}

// ParseShareLevel parses "community", "partners" or "internal"
// (case-insensitive).
func ParseShareLevel(s string) (ShareLevel, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "community":
		return ShareCommunity, nil
	case "partners":
		return SharePartners, nil
	case "internal":
		return ShareInternal, nil
	}
	return 0, fmt.Errorf("share level %q: want community, partners or internal", s)
}

// TLPLevel is a Traffic Light Protocol 2.0 level, ordered from the least to
// the most restricted. TLP 1.0 WHITE maps to TLPClear.
type TLPLevel int

// TLP 2.0 levels, least restricted first.
const (
	TLPClear TLPLevel = iota
	TLPGreen
	TLPAmber
	TLPAmberStrict
	TLPRed
)

// String returns the configuration spelling of l ("amber+strict", ...).
func (l TLPLevel) String() string {
	switch l {
	case TLPClear:
		return "clear"
	case TLPGreen:
		return "green"
	case TLPAmber:
		return "amber"
	case TLPAmberStrict:
		return "amber+strict"
	case TLPRed:
		return "red"
	}
	return fmt.Sprintf("TLPLevel(%d)", int(l))
}

// ParseTLPLevel parses clear, green, amber, amber+strict or red,
// case-insensitively, with or without a "TLP:" prefix; TLP 1.0 "white" is
// clear.
func ParseTLPLevel(s string) (TLPLevel, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	v = strings.TrimPrefix(v, "tlp:")
	switch v {
	case "clear", "white":
		return TLPClear, nil
	case "green":
		return TLPGreen, nil
	case "amber":
		return TLPAmber, nil
	case "amber+strict":
		return TLPAmberStrict, nil
	case "red":
		return TLPRed, nil
	}
	return 0, fmt.Errorf("TLP level %q: want clear, green, amber, amber+strict or red", s)
}
