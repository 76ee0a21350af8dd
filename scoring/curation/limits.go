package curation

import (
	"strings"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// Limits are the most restricted share level and the highest TLP one consumer
// (or one selection) may receive.
type Limits struct {
	MaxShare auth.ShareLevel
	MaxTLP   stix.TLP
}

// Unlimited are limits that let everything through: internal share, TLP:RED.
var Unlimited = Limits{MaxShare: auth.ShareInternal, MaxTLP: stix.TLPRed}

// LimitsOf returns a consumer's limits; a nil consumer may receive nothing
// beyond community TLP:CLEAR data (auth.Anonymous's limits).
func LimitsOf(c *auth.Consumer) Limits {
	if c == nil {
		c = auth.Anonymous()
	}
	return Limits{MaxShare: c.MaxShare, MaxTLP: c.MaxTLP}
}

// Visible reports whether an object described by m may be sent to a consumer
// with limits l: its share level and its TLP are both within them. Unmarked
// objects (TLPNone) pass the TLP test; their feeds' share level decides.
func Visible(l Limits, m *Meta) bool {
	return m.Share <= l.MaxShare && m.TLP <= l.MaxTLP
}

// narrow returns the tighter of a and b on each axis.
func narrow(a, b Limits) Limits {
	return Limits{MaxShare: min(a.MaxShare, b.MaxShare), MaxTLP: min(a.MaxTLP, b.MaxTLP)}
}

// Narrow returns s with its share and TLP ceilings lowered to l where l is
// stricter.
func (s Selection) Narrow(l Limits) Selection {
	n := narrow(s.limits(), l)
	s.Share = n.MaxShare.String()
	s.MaxTLP = strings.ToLower(strings.TrimPrefix(n.MaxTLP.String(), "TLP:"))
	if n.MaxTLP == stix.TLPNone {
		s.MaxTLP = "clear" // consumers always have a TLP ceiling; none reads as the lowest
	}
	return s
}

// TierID returns the id of the curated collection that serves collectionID,
// selected by sel, to a consumer with limits l: collectionID itself when l
// does not narrow sel, else "<collectionID>~<share>~<tlp>" (for example
// "3b5c…~partners~green"). The TAXII layer reads that collection in place of
// collectionID for such a consumer; Tiers returns the targets that fill it.
func TierID(collectionID string, sel Selection, l Limits) string {
	own := sel.limits()
	n := narrow(own, l)
	if n == own {
		return collectionID
	}
	return collectionID + "~" + n.MaxShare.String() + "~" + strings.ToLower(strings.TrimPrefix(n.MaxTLP.String(), "TLP:"))
}

// Target is one curated collection to materialise with its selection.
type Target struct {
	Collection string
	Selection  Selection
}

// Tiers returns the targets that materialise collectionID for consumers with
// the given limits: the collection itself with sel, and one narrowed target per
// distinct TierID among limits. Pass the limits of every consumer that may
// read the collection.
func Tiers(collectionID string, sel Selection, limits ...Limits) []Target {
	out := []Target{{Collection: collectionID, Selection: sel}}
	seen := map[string]bool{collectionID: true}
	for _, l := range limits {
		id := TierID(collectionID, sel, l)
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, Target{Collection: id, Selection: sel.Narrow(l)})
	}
	return out
}
