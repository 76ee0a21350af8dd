// Package enrich looks single values up on demand at the providers that have
// lookups (VirusTotal, Recorded Future Connect, Maltiverse) and lets the answers
// enter the intelligence pool like any observation: `ctibroker explain --enrich
// VALUE` and the internal-sightings hook call Enricher.Enrich.
//
// An Enricher is built from the configured feeds (New): per provider, one feed
// whose Source is an ingest.Looker — the first with an explicit `enrich:` block,
// else the first in config order; feeds disabled, or with `enrich: {enabled:
// false}`, are left out. A lookup goes through that feed: the provider's own
// converter turns the answer into the observations and objects a pull would
// give, and ingest.Runner.Apply makes them durable as that feed's batch (same
// provenance, feed name, share level, TLP and reliability), without touching
// the feed's cursor.
//
// Lookups never wait for quota. A spent budget (ingest.Budget: for VirusTotal
// the feed's requests_per_minute/requests_per_day, shared with its pulls; for
// the others the feed's enrich per_minute/per_day) or a provider's 429 is a
// per-provider Quota outcome naming when the next lookup is allowed, and the
// other providers go on. A value the provider does not know is recorded as not
// found: nothing enters the pool.
//
// Answers, found or not found, are cached per (feed, value) for Config.TTL
// (24 h by default) in the store's feed state under the name "enrich/<feed>"
// (feed names cannot contain a slash, so no feed's own state is named so),
// together with the budget's usage of the day, so that a restart neither
// repeats a lookup nor forgets the requests spent.
//
// Hooks that must not block (internal sightings) hand values to Submit, and
// Run, started once beside the server, works through them in the background.
package enrich
