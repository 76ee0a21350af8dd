// Package scoring computes ctibroker's 0–100 risk score for a normalised
// value (an IP, domain, URL, file hash, ...) and carries it on STIX objects
// through the risk-score property extension.
//
// [Score] is pure and deterministic: it reads only its arguments (the time is
// the asOf parameter), so the same Inputs, Weights and asOf give the same
// Result, byte for byte once marshalled. It never logs and does no I/O.
//
// # The model
//
// Each source report has an evidence value in [0,1]:
//
//	evidence = SourceMax × severity × (floor + (1−floor) × reliability) × decay
//
// where severity is the provider's native verdict mapped to [0,1] by one of
// the Severity* functions, reliability is the feed's reliability (Admiralty
// A–F or 0–100) as a fraction, floor is ReliabilityFloor, and decay is 1
// during a grace period after the source last saw the value and then
// 0.5^((age−grace)/half-life), with grace and half-life chosen by the
// value's type (IPs days, domains weeks, hashes a year). Reports revoked by
// their source count for nothing.
//
// Reports are grouped by independence key (the provider when given, else the
// feed): within a group the strongest report counts, across groups evidence
// combines as a noisy OR, 1 − Π(1 − eᵢ), which gives diminishing returns and
// never decreases when a source is added (with Corroboration above 1 every
// group but the strongest enters as (1 − eᵢ)^Corroboration, which keeps
// that property). Internal sightings then raise the
// combined evidence E by S·E·(1−E), where S grows with the sightings count
// and decays from the last sighting; a value no feed reports stays at 0 no
// matter how often it is seen. False-positive reports multiply the result by
// FalsePositivePenalty per report (they never decay, so age cannot undo
// them). Finally an allow-list hit that is not context-only (warning lists
// and the organisation's own assets, see package warninglist) caps the
// score at AllowListCap, below the alert band.
//
// The Result lists each factor as a signed contribution in score points;
// the contributions add up to the score before rounding: provider severity
// (the strongest verdict as if from a fully reliable fresh source), source
// reputation and age (what reliability and decay take away from it),
// prevalence (what the other independent sources add), sightings, false
// positives and the allow-list cap.
//
// # Relevance
//
// The score says how likely a value is to be malicious whoever we are;
// [Organisation] (the config's root "organisation:" key: sectors, regions,
// products, brands) says who we are, and [Organisation.Relevance] gives a
// separate 0–100 relevance with its reasons: the reports say the value
// targets our sector or region, a vulnerability it is linked to affects one
// of our products, or it is a domain, URL or e-mail address containing or
// imitating one of our brands. Each kind of match has a fixed weight
// ([RelevanceBrand], ...) and kinds combine as a noisy OR.
//
// Relevance never enters the score: a score that depended on the profile
// could not be shared with partners, would move bands (and write versions)
// when the profile changes, and would let a brand keyword push a harmless
// value into the alert band. Instead [Result.WithRelevance] attaches it with a
// priority, [Prioritize]: the score raised towards 100 by up to
// [PriorityBoost] of the room left, never above 100 and never from 0. Curated
// selections can require a minimum relevance; explain shows it.
//
// # Properties
//
// The tests check, over many random inputs: another independent source never
// lowers the score; an allow-listed value never reaches the alert band; age
// alone never raises a score; more sightings never lower it; false-positive
// reports never raise it; the result does not depend on the order of the
// reports; the same input gives the same bytes.
//
// # Commands built on it
//
// `ctibroker explain` prints [Result.WriteText]; `ctibroker score-eval`
// reads its files with [ParseLabelled] and counts with [EvalSummary];
// re-scoring many values to find band changes uses [ScoreValue], which
// skips the explanation. The labelled corpus is in testdata/eval.
//
// # STIX
//
// Banding sets the STIX confidence: each band has a fixed confidence, so
// confidence (published content) changes only when the band does, in line
// with the rule that a new object version is written when the band moves.
// The risk-score extension ([ExtensionID], [ExtensionDefinition],
// [Result.Extension]) carries the score, band, factors, sources, first and
// last seen, sightings, false-positive reports and allow-list hits; its JSON
// schema is schema/risk-score.json. Everything in it except band and
// confidence is volatile and belongs outside a version's content hash.
package scoring
