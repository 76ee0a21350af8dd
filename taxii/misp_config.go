package taxii

import (
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/storage"
)

// MISPSync configures the MISP server-sync facade (reference/misp.md §2): a MISP
// administrator adds ctibroker as a sync server with the key of a consumer
// (misp_key_env or misp_key_hash in the consumers), and MISP pushes events on
// publish. Each consumer's pushes land in one stored, writable collection the
// consumer has a write grant for:
//
//	misp_sync:
//	  collection: 3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11   # default for every MISP key
//	  consumers:                                         # per consumer, optional
//	    - consumer: partner-misp
//	      collection: 9d0e8f4a-6b2c-4e1f-8a3d-5c7b9e2f1a04
//	      feed: misp-partner     # the feed its values carry in the pool
//	  uuid: 5f1c...               # instance uuid getVersion reports
//	  max_body: 33554432          # bytes, compressed and decompressed
//	  gzip: true                  # advertise gzip request bodies
//
// The feed name is also what TAXII pushes by that consumer carry into the pool
// (Deps.PoolSink), so a MISP instance pushing over TAXII 2.1 and over sync is one
// feed of one reliability; cmd gives the feed its reliability from the feeds
// list entry of that name.
type MISPSync struct {
	// Collection receives the pushes of MISP keys without an entry in Consumers.
	// Empty: only the consumers listed may push.
	Collection string `yaml:"collection"`
	// Consumers name the collection (and feed) of individual consumers.
	Consumers []MISPSyncConsumer `yaml:"consumers"`
	// UUID is the instance uuid /servers/getVersion reports; empty: a UUIDv5 of
	// the discovery title and base URL.
	UUID string `yaml:"uuid"`
	// MaxBody bounds a request body both as sent and decompressed (the
	// decompression-bomb cap), in bytes; 0 means DefaultMaxContentLength.
	MaxBody int64 `yaml:"max_body"`
	// Gzip advertises gzip request bodies in getVersion's request_encoding, so
	// MISP compresses bodies above 1 KiB; nil means true.
	Gzip *bool `yaml:"gzip"`
}

// MISPSyncConsumer is one consumer's entry in MISPSync.
type MISPSyncConsumer struct {
	Consumer   string `yaml:"consumer"`   // the consumer name in the auth configuration
	Collection string `yaml:"collection"` // empty: MISPSync.Collection
	// Feed is the feed name of its values in the pool; empty: "misp-" + consumer.
	Feed string `yaml:"feed"`
}

// Enabled reports whether MISP sync is configured (a default collection or a
// consumer entry); otherwise its endpoints answer 404.
func (m MISPSync) Enabled() bool { return m.Collection != "" || len(m.Consumers) > 0 }

// GzipEnabled reports whether gzip request bodies are advertised (the default).
func (m MISPSync) GzipEnabled() bool { return m.Gzip == nil || *m.Gzip }

// maxBody returns MaxBody or its default.
func (m MISPSync) maxBody() int64 {
	if m.MaxBody > 0 {
		return m.MaxBody
	}
	return DefaultMaxContentLength
}

// target returns the collection and feed of consumer name: its entry, else the
// default collection with feed "misp-"+name; ok is false when neither applies.
func (m MISPSync) target(name string) (collection, feed string, ok bool) {
	for _, e := range m.Consumers {
		if e.Consumer == name {
			collection, feed = e.Collection, e.Feed
			if collection == "" {
				collection = m.Collection
			}
			if feed == "" {
				feed = "misp-" + name
			}
			return collection, feed, collection != ""
		}
	}
	return m.Collection, "misp-" + name, m.Collection != ""
}

// feedOf returns the pool feed name of a consumer's pushes: its MISP sync feed
// when it has an entry, else "taxii-" + name.
func (m MISPSync) feedOf(name string) string {
	for _, e := range m.Consumers {
		if e.Consumer == name {
			if e.Feed != "" {
				return e.Feed
			}
			return "misp-" + name
		}
	}
	return "taxii-" + name
}

// instanceUUID returns UUID or the derived default.
func (m MISPSync) instanceUUID(c Config) string {
	if m.UUID != "" {
		return strings.ToLower(m.UUID)
	}
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("ctibroker misp sync "+c.Discovery.Title+" "+c.BaseURL)).String()
}

// validate checks m against c's collections: every collection named must be a
// declared, stored, writable collection. Whether the consumer holds a write
// grant is checked per request (grants live in the auth configuration).
func (m MISPSync) validate(c Config) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: misp_sync: "+format, append([]any{ErrConfig}, args...)...))
	}
	colls := map[string]Collection{}
	for _, col := range c.Collections {
		colls[col.ID] = col
	}
	checkColl := func(where, id string) {
		col, ok := colls[id]
		switch {
		case !ok:
			bad("%s %q: no such collection in collections", where, id)
		case col.Kind != storage.KindStored:
			bad("%s %q: must be a stored collection, not %s", where, id, col.Kind)
		case !col.Writable:
			bad("%s %q: must be writable", where, id)
		}
	}
	if m.Collection != "" {
		checkColl("collection", m.Collection)
	}
	seen := map[string]bool{}
	for i, e := range m.Consumers {
		where := fmt.Sprintf("consumers[%d]", i)
		switch {
		case e.Consumer == "":
			bad("%s: consumer is required", where)
		case seen[e.Consumer]:
			bad("%s: consumer %q listed twice", where, e.Consumer)
		}
		seen[e.Consumer] = true
		switch {
		case e.Collection != "":
			checkColl(where+" collection", e.Collection)
		case m.Collection == "":
			bad("%s (%s): collection is required when misp_sync.collection is empty", where, e.Consumer)
		}
		if strings.ContainsAny(e.Feed, " \t\n/") {
			bad("%s (%s): feed %q: no white space or slashes", where, e.Consumer, e.Feed)
		}
	}
	if m.UUID != "" {
		if _, err := uuid.Parse(m.UUID); err != nil || len(m.UUID) != 36 {
			bad("uuid %q is not a UUID", m.UUID)
		}
	}
	if m.MaxBody < 0 {
		bad("max_body must not be negative")
	}
	return errs
}
