// Package maltiverse ingests Maltiverse (api.maltiverse.com): collection
// downloads polled in overlapping relative windows with de-duplication, the
// lookups /ip/, /hostname/, /url/{sha256}, /sample/ and /email/, and the
// conversion of IoC documents (ip, hostname, url, sample, email) into
// observations whose Context names the malware families and ATT&CK ids of the
// blacklist entries (the Runner, or ingest.Author, authors the indicators and
// their indicates relationships from them), context objects (CVEs as
// vulnerabilities, DNS resolutions) and warnings, following DESIGN.md.
// Maltiverse is an identity; its native fields travel in a
// property extension (ExtensionID) carried as each observation's verdict; feeds
// default to share internal and TLP amber.
//
// Source is an ingest.Looker: on-demand enrichment (ingest/enrich) looks
// values up through a feed's Source, within the feed's enrich budget
// (FeedConfig.Enrich), without waiting for quota, and converts the answer with
// the feed's converter.
//
// client.go is the only file doing HTTP; convert.go is pure; source.go and
// lookup.go tie them to the ingest Runner.
package maltiverse
