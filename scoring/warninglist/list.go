package warninglist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Type is how a list's entries match a value (MISP's "type" field).
type Type string

// The list types MISP defines.
const (
	TypeString    Type = "string"
	TypeSubstring Type = "substring"
	TypeHostname  Type = "hostname"
	TypeCIDR      Type = "cidr"
	TypeRegex     Type = "regex"
)

// Tier says what a hit on a list means for a score.
type Tier int

// The tiers, from the strongest to the weakest claim that a value is benign.
const (
	// TierSuppress lists hold values that are never a useful indicator on
	// their own: reserved ranges, public resolvers, empty-file hashes,
	// sinkholes, OS connectivity endpoints.
	TierSuppress Tier = iota + 1
	// TierShared lists hold shared or popular infrastructure: top domains,
	// CDN and cloud ranges, scanners, mail relays.
	TierShared
	// TierAsset lists hold the organisation's own domains and networks
	// (see FromAssets).
	TierAsset
	// TierContext lists only describe a value (VPN ranges, dynamic DNS,
	// URL shorteners, abused hosting); they never lower a score.
	TierContext
)

// String returns the tier's name as it appears in explanations.
func (t Tier) String() string {
	switch t {
	case TierSuppress:
		return "suppress"
	case TierShared:
		return "shared"
	case TierAsset:
		return "asset"
	case TierContext:
		return "context"
	}
	return fmt.Sprintf("tier(%d)", int(t))
}

// MarshalText encodes the tier by name.
func (t Tier) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText decodes a tier name written by MarshalText.
func (t *Tier) UnmarshalText(b []byte) error {
	for _, c := range []Tier{TierSuppress, TierShared, TierAsset, TierContext} {
		if string(b) == c.String() {
			*t = c
			return nil
		}
	}
	return fmt.Errorf("warninglist: unknown tier %q", b)
}

// ErrInvalidList is wrapped by every error about a malformed list.
var ErrInvalidList = errors.New("warninglist: invalid list")

// List is one parsed warninglist.
type List struct {
	// ID is the list's folder name upstream (e.g. "rfc1918", "tranco10k").
	ID string
	// Name is the human name from list.json.
	Name string
	// Version is list.json's version, kept as written.
	Version string
	// Description is list.json's description.
	Description string
	// Type is how entries match.
	Type Type
	// Category is list.json's optional category ("false-positive" or "known").
	Category string
	// MatchingAttributes are the MISP attribute types the list applies to.
	MatchingAttributes []string
	// Entries are the list's values as written.
	Entries []string
	// Tier is what a hit means for a score (see TierFor).
	Tier Tier
}

// ContextOnly reports whether hits on the list must never lower a score.
func (l *List) ContextOnly() bool { return l.Tier == TierContext }

type listJSON struct {
	Name               string          `json:"name"`
	Version            json.RawMessage `json:"version"`
	Description        string          `json:"description"`
	MatchingAttributes []string        `json:"matching_attributes"`
	Type               string          `json:"type"`
	Category           string          `json:"category"`
	List               []string        `json:"list"`
}

// Parse decodes one list.json; id names the list (its folder upstream).
// Errors wrap ErrInvalidList and name the list and the offending field.
func Parse(id string, data []byte) (*List, error) {
	var j listJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalidList, id, err)
	}
	if id == "" {
		return nil, fmt.Errorf("%w: empty id", ErrInvalidList)
	}
	if j.Name == "" {
		return nil, fmt.Errorf("%w %q: field name: required", ErrInvalidList, id)
	}
	switch Type(j.Type) {
	case TypeString, TypeSubstring, TypeHostname, TypeCIDR, TypeRegex:
	default:
		return nil, fmt.Errorf("%w %q: field type: %q is not string, substring, hostname, cidr or regex", ErrInvalidList, id, j.Type)
	}
	if len(j.MatchingAttributes) == 0 {
		return nil, fmt.Errorf("%w %q: field matching_attributes: required", ErrInvalidList, id)
	}
	switch j.Category {
	case "", "false-positive", "known":
	default:
		return nil, fmt.Errorf("%w %q: field category: %q is not false-positive or known", ErrInvalidList, id, j.Category)
	}
	l := &List{
		ID:                 id,
		Name:               j.Name,
		Version:            strings.Trim(string(j.Version), `"`),
		Description:        j.Description,
		Type:               Type(j.Type),
		Category:           j.Category,
		MatchingAttributes: j.MatchingAttributes,
		Entries:            j.List,
	}
	l.Tier = TierFor(id, j.Category)
	return l, nil
}

// Load parses every <dir>/<id>/list.json below root in fsys, sorted by id.
func Load(fsys fs.FS, root string) ([]*List, error) {
	entries, err := fs.ReadDir(fsys, root)
	if err != nil {
		return nil, fmt.Errorf("warninglist: %w", err)
	}
	var lists []*List
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(root, e.Name(), "list.json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("warninglist: %w", err)
		}
		l, err := Parse(e.Name(), data)
		if err != nil {
			return nil, err
		}
		lists = append(lists, l)
	}
	sort.Slice(lists, func(i, j int) bool { return lists[i].ID < lists[j].ID })
	return lists, nil
}

// tierTable assigns a tier to every list of MISP's repository that
// ctibroker has read, following ../shared/warninglists/README.md: lists of
// values that are never useful indicators are suppress, shared and popular
// infrastructure is shared, and lists that only describe a value (VPNs,
// dynamic DNS, shorteners, abused hosting, TLD lists, phone numbers) are
// context-only.
var tierTable = map[string]Tier{
	// Suppress.
	"rfc1918": TierSuppress, "rfc5735": TierSuppress, "rfc6598": TierSuppress, "rfc3849": TierSuppress,
	"ipv6-linklocal": TierSuppress, "multicast": TierSuppress, "rfc6761": TierSuppress,
	"public-dns-v4": TierSuppress, "public-dns-v6": TierSuppress, "public-dns-hostname": TierSuppress,
	"empty-hashes": TierSuppress, "eicar.com": TierSuppress, "common-ioc-false-positive": TierSuppress,
	"ti-falsepositives": TierSuppress, "sinkholes": TierSuppress, "umbrella-blockpage-v4": TierSuppress,
	"umbrella-blockpage-v6": TierSuppress, "umbrella-blockpage-hostname": TierSuppress,
	"crl-hostname": TierSuppress, "crl-ip": TierSuppress, "captive-portals": TierSuppress,
	"microsoft-win10-connection-endpoints": TierSuppress, "microsoft-office365": TierSuppress,
	"microsoft-office365-ip": TierSuppress, "microsoft-office365-cn": TierSuppress, "google": TierSuppress,
	"microsoft": TierSuppress, "whats-my-ip": TierSuppress, "findip-host": TierSuppress,
	"security-provider-blogpost": TierSuppress, "automated-malware-analysis": TierSuppress,
	"mozilla-CA": TierSuppress, "mozilla-IntermediateCA": TierSuppress,
	"ipv6-special-purpose": TierSuppress, // ctibroker's own list, see lists/SOURCES.md
	// Context only.
	"vpn-ipv4": TierContext, "vpn-ipv6": TierContext, "dynamic-dns": TierContext,
	"disposable-email": TierContext, "url-shortener": TierContext, "link-in-bio": TierContext,
	"lots-project": TierContext, "public-ipfs-gateways": TierContext, "digitalside": TierContext,
	"tlds": TierContext, "second-level-tlds": TierContext, "phone_numbers": TierContext,
	"common-contact-emails": TierContext,
}

// TierFor returns the tier of the list id: the one in ctibroker's table, or,
// for a list it does not know, context-only when category is "known" and
// shared otherwise.
func TierFor(id, category string) Tier {
	if t, ok := tierTable[id]; ok {
		return t
	}
	if category == "known" {
		return TierContext
	}
	return TierShared
}
