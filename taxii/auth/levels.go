package auth

import (
	"fmt"
	"strings"

	"github.com/ctibroker/ctibroker/stix"
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

// ParseTLP parses a max_tlp value: clear, green, amber, amber+strict or red,
// case-insensitively, with or without a "TLP:" prefix; TLP 1.0 "white" is
// clear. The levels are stix.TLP's, so they compare directly with the TLP of
// an object (stix.MaxTLP).
func ParseTLP(s string) (stix.TLP, error) {
	v := strings.TrimSpace(s)
	if !strings.HasPrefix(strings.ToLower(v), "tlp:") {
		v = "tlp:" + v
	}
	if l, ok := stix.TLPFromTag(v); ok {
		return l, nil
	}
	return stix.TLPNone, fmt.Errorf("TLP level %q: want clear, green, amber, amber+strict or red", s)
}
