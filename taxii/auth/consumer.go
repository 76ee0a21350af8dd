package auth

import (
	"context"
	"slices"

	"github.com/ctibroker/ctibroker/stix"
)

// Scheme names how a consumer was authenticated.
type Scheme string

// Schemes a Consumer may carry.
const (
	SchemeNone    Scheme = ""         // anonymous
	SchemeBasic   Scheme = "basic"    // HTTP Basic with a password
	SchemeAPIKey  Scheme = "api-key"  // API key as Token, Bearer or Basic password
	SchemeBearer  Scheme = "bearer"   // Bearer JWT
	SchemeMISPKey Scheme = "misp-key" // MISP sync key
)

// Consumer is an authenticated client and what it may do. Authenticate
// returns a fresh copy per request; callers must not modify it.
type Consumer struct {
	// Name is the configured consumer name (AnonymousName for Anonymous()).
	Name string
	// Anonymous is true for the consumer of requests without credentials.
	Anonymous bool
	// Admin consumers may read and write every collection.
	Admin bool
	// Sightings consumers may report sightings and false positives
	// (ConsumerConfig.Sightings); Admin implies it.
	Sightings bool
	// MaxShare is the most restricted share level the consumer may receive.
	MaxShare ShareLevel
	// MaxTLP is the highest TLP level the consumer may receive.
	MaxTLP stix.TLP
	// Scheme is how this request authenticated.
	Scheme Scheme

	read, write       map[string]bool
	readAll, writeAll bool
}

// Anonymous returns the consumer of a request without credentials: no
// grants, community data only, TLP:CLEAR only. The taxii server decides
// which endpoints and public collections it may see.
func Anonymous() *Consumer {
	return &Consumer{Name: AnonymousName, Anonymous: true, MaxShare: ShareCommunity, MaxTLP: stix.TLPClear}
}

// CanRead reports whether c may read collectionID.
func (c *Consumer) CanRead(collectionID string) bool {
	if c == nil {
		return false
	}
	return c.Admin || c.readAll || c.read[collectionID]
}

// CanWrite reports whether c may write collectionID.
func (c *Consumer) CanWrite(collectionID string) bool {
	if c == nil {
		return false
	}
	return c.Admin || c.writeAll || c.write[collectionID]
}

// MayReceive reports whether data with share level share and TLP level tlp
// may be sent to c. stix.TLPNone (no TLP marking) sorts below TLP:CLEAR and
// passes the TLP test; whether unmarked data is shared is the feed's share
// level to decide.
func (c *Consumer) MayReceive(share ShareLevel, tlp stix.TLP) bool {
	return c != nil && share <= c.MaxShare && tlp <= c.MaxTLP
}

// ReadGrants returns the collection ids c may read, sorted; "*" stands for
// all (admin or a wildcard grant).
func (c *Consumer) ReadGrants() []string { return grants(c.Admin || c.readAll, c.read) }

// WriteGrants returns the collection ids c may write, sorted; "*" stands for
// all (admin or a wildcard grant).
func (c *Consumer) WriteGrants() []string { return grants(c.Admin || c.writeAll, c.write) }

func grants(all bool, m map[string]bool) []string {
	if all {
		return []string{"*"}
	}
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// AnonymousName is the Name of Anonymous(); no configured consumer may use it.
const AnonymousName = "anonymous"

type consumerKey struct{}

// NewContext returns a copy of ctx carrying c.
func NewContext(ctx context.Context, c *Consumer) context.Context {
	return context.WithValue(ctx, consumerKey{}, c)
}

// ConsumerFrom returns the consumer NewContext stored in ctx.
func ConsumerFrom(ctx context.Context) (*Consumer, bool) {
	c, ok := ctx.Value(consumerKey{}).(*Consumer)
	return c, ok && c != nil
}
