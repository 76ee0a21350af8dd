package misp

import (
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
)

// DefaultMaxAttributes is the default size cap of an exported event
// (ExportOptions.MaxAttributes).
const DefaultMaxAttributes = 5000

// Grouping rules for indicators and observables that no report or grouping
// references (ExportOptions.Grouping).
const (
	// GroupCollection puts them into one event per collection and UTC day of
	// their date_added (the default).
	GroupCollection = "collection"
)

// ExportOptions configure Export.
type ExportOptions struct {
	// Org is the Orgc and Org of every event: the instance identity (its name,
	// and the UUID of its identity id).
	Org Org
	// MaxAttributes caps the attributes of one event (default
	// DefaultMaxAttributes): a larger event is split into parts with stable
	// uuids.
	MaxAttributes int
	// Now is the clock for valid_until (an expired indicator becomes a deleted
	// attribute); zero: time.Now.
	Now time.Time
	// Native, when set, returns the MISP attribute type and category a MISP feed
	// reported for a value (from its provenance: Verdict.Type and Category), so
	// that an ip-src stays an ip-src in a round trip. kind is ingest.Value.Kind
	// (ipv4-addr, domain-name, file:sha-256, ...). nil: the defaults of the
	// pattern.
	Native func(kind, value string) (attrType, category string, ok bool)
	// Grouping is the rule for indicators and observables outside any report or
	// grouping; "" is GroupCollection.
	Grouping string
	// Collection is the id of the collection exported: the uuids of the events
	// of grouped indicators derive from it.
	Collection string
}

// Export converts STIX objects (as stored, in any order, their references
// possibly to objects not in objs) into MISP events. It is deterministic: the
// same input gives byte-identical events.
func Export(objs []stix.RawObject, opt ExportOptions) ([]Event, []ingest.Warning, error) {
	return nil, nil, nil
}
