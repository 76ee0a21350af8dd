// Package taxii is ctibroker's HTTP surface: a TAXII 2.1 server (OASIS Standard,
// 10 June 2021, §4–§5) built on echo v4 and any storage.Store.
//
// NewServer takes a Config (the api_roots and collections of the YAML file) and
// its Deps (store, authenticator, logger, cursor key, clock); Handler returns the
// http.Handler to serve. Every response, errors included, carries
// Content-Type application/taxii+json;version=2.1; every error is a TAXII error
// message resource (§3.6.1) whose error_id is the request id of the access log.
// Pagination cursors (`next`) are HMAC-SHA256 signed over the collection, the
// backend position, the filters and the consumer, so they survive restarts and
// load balancers and cannot be replayed by another consumer or with other
// filters. Object bytes are spliced into envelopes exactly as stored.
package taxii
