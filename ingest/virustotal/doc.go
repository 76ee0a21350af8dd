// Package virustotal ingests VirusTotal API v3 and Google Threat Intelligence:
// the IoC stream (GET /api/v3/ioc_stream, paged by cursor, oldest first) or the
// GTI collections (GET /api/v3/collections by last modification) under
// per-minute and daily request budgets, lookups of files, URLs, domains, IP
// addresses, collections and ATT&CK techniques, and the conversion of those
// objects into observations (the value, its native verdict: last_analysis_stats,
// reputation, threat_severity, GTI assessment, popular_threat_classification; a
// Context naming malware families and actors, from which the Runner or
// ingest.Author authors the indicates relationships), context objects (GTI
// collections as malware families, intrusion sets, campaigns and
// vulnerabilities with their targeted sectors and ATT&CK techniques; DNS
// resolutions; autonomous systems) and warnings, following DESIGN.md: ctibroker
// authors the indicators; VirusTotal is
// an identity; native fields travel in a property extension (ExtensionID) carried
// as each observation's verdict; feeds default to share internal and TLP amber.
//
// Source is an ingest.Looker: on-demand enrichment (ingest/enrich) looks
// files, URLs, domains and IP addresses up through a feed's Source, spending the
// same request budgets as its pulls (requests_per_minute, requests_per_day),
// without waiting for quota, and converts the answer with the feed's converter.
//
// client.go is the only file doing HTTP; convert.go is pure; source.go and
// lookup.go tie them to the ingest Runner.
package virustotal
