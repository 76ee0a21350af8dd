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
// client.go is the only file doing HTTP; convert.go is pure; source.go ties them
// to the ingest Runner.
package virustotal
