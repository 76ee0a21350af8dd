// Package feedquality measures what each feed contributes, from the
// provenance history and the internal sightings (DESIGN.md, "operate/feedquality";
// the `ctibroker feeds report` verb prints it).
//
// [Report] scans every provenance record once (storage.ProvenanceScanner) and,
// for each feed, looks at the values it reported live (not as a withdrawal) in
// the window (records dated from the day of asOf − window up to asOf):
//
//   - reported: how many values; unique: of those, how many no other feed ever
//     reported (up to asOf); overlap: how many each other feed reported too.
//   - lead time: among values another feed reported too, how often the feed
//     reported first (its earliest live record on an earlier day than every
//     other feed's), tied or later, and the median days ahead when first.
//     Provenance has day granularity and may have been pruned: the first report
//     is the earliest record still stored.
//   - confirmed: values an internal sighting saw on or after the day the feed
//     first reported them; false positives: values with false-positive
//     reports, and how many reports; allow-listed: values on an allow-list
//     that caps scores (context-only lists do not count).
//   - live: values whose latest record from the feed is not a withdrawal.
//
// A quality score (0–100) sums five plain components, each a share in 0–1
// times its weight: precision (values neither disputed nor allow-listed) 40,
// confirmation (confirmed share, 10 % or more counts fully) 20, uniqueness 15,
// timeliness (first among shared values; 0.5 when nothing is shared) 15 and
// liveness 10. Without a sighting store, confirmation is unknown and the other
// weights are scaled up to 100. Every component appears with its points in
// FeedQuality.Components, so the score explains itself.
//
// The result renders as JSON (its struct tags) and as a text table
// ([Summary.WriteText]).
package feedquality
