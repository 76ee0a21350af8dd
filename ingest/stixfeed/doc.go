// Package stixfeed ingests STIX 2.1 as it is published elsewhere: bundle files
// (plain or gzip, streamed with stix.Decoder), and the objects endpoint of a
// collection on another TAXII 2.1 server, polled with added_after and next
// (ctibroker as a TAXII client).
//
// Received objects are kept byte-exact as stix.RawObject and stored in the
// collection the feed names (DESIGN.md: stored and republished byte-for-byte,
// never versioned by ctibroker). Objects with MUST-level validation errors are
// skipped with a warning. Indicators whose pattern is one equality comparison on
// a value the pool knows ([ipv4-addr:value = '…'], [file:hashes.'SHA-256' = '…'],
// …; see pattern.Simple) also become observations: detection-worthy unless the
// indicator is revoked or its valid_until has passed, which withdraws the value.
//
// client.go is the only file doing HTTP; convert.go is pure; source.go ties them
// to ingest.Source.
package stixfeed
