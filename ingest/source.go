package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

// Cursor is a feed's sync position: opaque bytes owned by the provider package (a
// VirusTotal cursor, an OTX next URL, a MISP timestamp and page, a snapshot
// digest). The Runner stores it and hands it back on the next Pull.
type Cursor []byte

// Source pulls one provider's feed from cur onwards. Each Batch carries the cursor
// after it; Pull stops at the first error emit returns and returns that error
// (wrapped or not). A nil cur means "from the beginning".
type Source interface {
	Pull(ctx context.Context, cur Cursor, emit func(Batch) error) error
}

// SnapshotSource is a Source whose every Pull that emits at least one batch emits
// the feed's complete current set of values (a full export, a risk list). The
// Runner diffs such a pull against the previous one and withdraws the values that
// vanished. A pull that emits no batch (say, the export's digest did not change)
// leaves the previous snapshot in force. For a SnapshotSource the Runner saves the
// cursor only once the whole pull succeeded, so an interrupted snapshot is fetched
// again from the start.
type SnapshotSource interface {
	Source
	// Snapshot reports whether this source's pulls are full snapshots.
	Snapshot() bool
}

// Batch is what one page or chunk of a feed yields.
type Batch struct {
	Objects      []stix.Object // context objects, and objects received as STIX (stix.RawObject)
	Observations []Observation // feed, type, value, native verdict, seen, context
	Warnings     []Warning
	Cursor       Cursor // the position after this batch; nil leaves the cursor where it was
}

// Observation is one feed's report of one value.
type Observation struct {
	Feed    string          // the feed's name; the Runner fills it in when empty
	Type    string          // anything Normalize accepts ("ipv4-addr", "hostname", "sha256", ...); empty: Guess
	Value   string          // the value as the provider gave it; the Runner normalises it
	Verdict json.RawMessage // the provider's native verdict (score, classification), JSON, kept for audit
	// Detect says the provider deems the value detection-worthy (MISP to_ids, a
	// malicious classification, a risk above the feed's detection_threshold): the
	// value gets a ctibroker indicator. Otherwise it is recorded as an observable
	// only.
	Detect  bool
	Revoked bool      // the feed withdrew the value (MISP deleted, OTX is_active 0, expired)
	Seen    time.Time // when the feed saw or reported it; zero means now
	// Share is the value's own share level (ShareInternal, SharePartners,
	// ShareCommunity), e.g. from a MISP attribute's distribution; empty means the
	// feed's. The provenance record carries the more restrictive of the two, which
	// curation applies beneath every selection. An unknown level is a warning and
	// reads as ShareInternal.
	Share   string `json:",omitempty"`
	Context Context
}

// Context is what a feed says about a value beyond the value itself. All of it is
// kept in the value's provenance record. For a detection-worthy value the Runner
// also relates the authored indicator to Malware, Actors and AttackIDs with
// indicates relationships (to MITRE's objects when FeedConfig.Attack knows the
// id, name or alias; else to malware and intrusion-set SDOs it authors with
// ContextID). Reports, vulnerabilities and sectors are the provider's objects
// (Batch.Objects), built with ContextID and IndicatorID where they refer to
// authored objects.
type Context struct {
	Malware    []string `json:"malware,omitempty"`     // malware family names
	Actors     []string `json:"actors,omitempty"`      // intrusion sets or threat actors
	AttackIDs  []string `json:"attack_ids,omitempty"`  // ATT&CK external ids: T1059.001, S0154, G0007
	CVEs       []string `json:"cves,omitempty"`        // CVE-2024-3400
	Sectors    []string `json:"sectors,omitempty"`     // targeted industries
	Labels     []string `json:"labels,omitempty"`      // tags
	TLP        string   `json:"tlp,omitempty"`         // clear, green, amber, amber+strict, red; empty: the feed's default
	ReportRefs []string `json:"report_refs,omitempty"` // STIX ids of the reports (pulses, events) naming the value
}

// Warning is a problem with one record that did not stop the run.
type Warning struct {
	Feed   string // the feed's name; the Runner fills it in when empty
	Record string // which record: an id, a line number, an index
	Field  string // which field of the record
	Msg    string
}

// String formats the warning as "feed: record: field: msg".
func (w Warning) String() string {
	return fmt.Sprintf("%s: record %s: %s: %s", w.Feed, w.Record, w.Field, w.Msg)
}
