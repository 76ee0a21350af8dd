// Package curation turns the scored intelligence pool into curated
// collections: saved selections over the pool whose members are materialised
// as storage membership records (DESIGN.md, "Versions, revocation,
// retention", "Sharing and markings", "Collections and consumers").
//
// # One pass
//
// [Curator.Run] walks every indicator ctibroker authored in the pool
// collection (created_by_ref is the instance identity), and every pool SCO of
// the [ObservableTypes] whose value has no such indicator (an observable:
// no feed deemed it detection-worthy), rebuilds its
// scoring.Inputs from provenance, sightings and allow-list hits ([InputsFor],
// the same function explain and score-eval use), scores it as of asOf, gives
// it a relevance when [Curator.Organisation] is set ([RelevanceFor]: the
// score stays independent of who we are, selections may ask for
// min_relevance), and then:
//
//   - publishes it: a version carrying confidence, the TLP marking and the
//     risk-score property extension (scoring.ExtensionID) is written to the
//     published collection (a stored collection, default "published") only
//     when the published content changes, judged without the volatile fields
//     (modified and everything in the extension except the band), or the band
//     changes; never more than MaxNewVersionsPerRun new versions per run
//     without Force. The pool's own versions stay the ingest Runner's: it
//     rewrites an indicator whose bytes differ from what it authors, so
//     scored versions cannot live in the pool.
//     Observables are published the same way, without confidence (SCOs
//     have none).
//   - withdraws it for a global reason (every source revoked it, its
//     valid_until passed, or its score fell below Curator.Floor, the lowest
//     score any selection uses): the published version gets valid_until and
//     enters every target collection that ever held the object.
//   - materialises each target: a version that starts to match gets a
//     membership record with its own date_added (so added_after pollers see a
//     value whose score crosses a threshold later), together with the context
//     objects the indicator refers to (indicates relationships and their
//     targets, their creators and markings, the instance identity) so
//     consumers receive a self-contained graph. A member that stops matching
//     for a reason specific to the collection gets no STIX version, only an
//     audit event ([AuditEvent], action "leave").
//
// An SCO cannot carry a withdrawal (it has neither valid_until nor revoked):
// an observable that should leave for a global reason leaves like a
// collection-specific change, with an audit event only.
//
// [Curator.Materialize] is Run for one collection.
//
// # Sharing
//
// A consumer's max share level and max TLP apply beneath every selection.
// Rather than decoding objects per request, a collection is materialised once
// per distinct consumer limit ("tier"): [Tiers] returns the targets (the
// selection narrowed by the limits, under the physical id [TierID]) and the
// TAXII layer serves a consumer the tier collection TierID(collection,
// selection, LimitsOf(consumer)) instead of the configured one. [Visible] is
// the same test for one object's [Meta] (exports, MISP feeds).
//
// A value's share level is the most restrictive share of the live reports of
// it and its TLP the highest of their TLPs: a value that an internal-share
// feed also reports is internal. That never leaks licensed data (the
// risk-score extension lists every source and its verdict) at the price of
// withholding values that open feeds report too.
//
// Internal sightings never leave: the published extension keeps the score
// they contribute but not their count, times or the consumers' names.
package curation
