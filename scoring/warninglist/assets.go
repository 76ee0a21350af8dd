package warninglist

import (
	"fmt"
	"strings"
)

// The ids of the lists FromAssets returns.
const (
	AssetDomainsID  = "organisation-domains"
	AssetNetworksID = "organisation-networks"
)

// FromAssets turns the organisation's own domains (with their sub-domains)
// and networks (CIDR or bare addresses, IPv4 or IPv6; mail relays go in
// whichever applies) into two lists of TierAsset, ready for NewSet. Empty
// inputs give no list. A leading "*." or "." on a domain is ignored. Errors
// wrap ErrInvalidList and name the entry.
func FromAssets(domains, cidrs []string) ([]*List, error) {
	var lists []*List
	if len(domains) > 0 {
		l := &List{
			ID: AssetDomainsID, Name: "Organisation's own domains", Type: TypeHostname,
			MatchingAttributes: []string{"domain", "hostname", "url", "email-src", "email-dst"},
			Tier:               TierAsset,
		}
		for i, d := range domains {
			n := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(d)), "*"), "."), ".")
			if !validHostname(n) {
				return nil, fmt.Errorf("%w %q: domains[%d] %q: not a domain name", ErrInvalidList, AssetDomainsID, i, d)
			}
			l.Entries = append(l.Entries, n)
		}
		lists = append(lists, l)
	}
	if len(cidrs) > 0 {
		l := &List{
			ID: AssetNetworksID, Name: "Organisation's own networks", Type: TypeCIDR,
			MatchingAttributes: []string{"ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain|ip"},
			Tier:               TierAsset,
		}
		for i, c := range cidrs {
			p, err := parsePrefix(c)
			if err != nil {
				return nil, fmt.Errorf("%w %q: cidrs[%d] %q: not an address or network", ErrInvalidList, AssetNetworksID, i, c)
			}
			l.Entries = append(l.Entries, p.String())
		}
		lists = append(lists, l)
	}
	return lists, nil
}

// validHostname accepts LDH labels (and "_"), at least two of them.
func validHostname(n string) bool {
	if len(n) == 0 || len(n) > 253 || !strings.Contains(n, ".") {
		return false
	}
	for _, label := range strings.Split(n, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80) {
				return false
			}
		}
	}
	return true
}
