// Package ingest turns provider feeds into intelligence: the Source interface
// every provider package implements, the Batch it emits, the Registry that maps
// provider names to factories, the feed configuration, value normalisation
// (Normalize, Guess, Refang) and the Runner that makes each batch durable in the
// store before it saves the feed's cursor.
//
// The Runner authors one indicator per normalised value (see Namespace and
// IndicatorID), its observable (SCO) and a based-on relationship, and records
// each feed's report of a value as an insert-only provenance record keyed by
// (feed, type, value, day). Provider packages live in ingest/<provider>;
// ATT&CK resolution lives in ingest/attack.
package ingest
