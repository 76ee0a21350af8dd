// Package recordedfuture ingests Recorded Future (reference/providers.md §4):
// risk lists (GET /v2/{ip|domain|url|hash|vulnerability}/risklist and fusion
// files), which are full snapshots diffed by the ingest Runner from one pull to
// the next, and Connect API entity answers (GET /v2/{entity}/{id}), used for
// enrichment.
//
// The conversion follows DESIGN.md: every IP, domain, URL or hash row becomes one
// observation whose native verdict is the Recorded Future property extension
// (ExtensionID: Risk, RiskString, criticality and the EvidenceDetails as given);
// ctibroker authors the indicator (Risk at or above the feed's threshold, 65 by
// default) or the observable alone. Vulnerability rows become a vulnerability
// object and a note carrying the risk. Recorded Future is an identity; feeds
// default to share internal and TLP amber (the data is licensed for internal
// use and carries no TLP).
//
// Context (malware families, threat actors, ATT&CK ids, CVEs) is taken only from
// structured fields: entity references (the Connect API's relatedEntities) and
// the row's own entity. The free text of EvidenceString ("8 related malware
// families including …", "CVE-2020-10148") is kept for audit and never mined.
//
// Source (a SnapshotSource) spools each download to a temporary file while
// hashing it and parses it only once complete: a cut-off download is fetched
// again before any row is emitted, and a list answered 304 or with the digest
// of the previous pull emits nothing. Enrich looks one value up in the Connect
// API and returns the converted batch; Source is an ingest.Looker calling it
// within the feed's enrich budget (FeedConfig.Enrich) for on-demand
// enrichment (ingest/enrich), without waiting for quota.
//
// client.go is the only file doing HTTP; convert.go is pure; source.go ties them
// to the ingest Runner.
package recordedfuture
