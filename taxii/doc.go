// Package taxii is ctibroker's HTTP surface: a TAXII 2.1 server (OASIS Standard,
// 10 June 2021, §4–§5) built on echo v4 over any storage.Store.
//
// NewServer takes a Config (discovery, api_roots, collections and the server
// tunables of the YAML file) and its Deps (store, authenticator, logger, audit
// log, cursor key, clock, object validator); Handler returns the http.Handler
// to serve. Reload swaps the configuration atomically (SIGHUP).
//
// Endpoints, each with and without its trailing slash and never redirected:
//
//	GET    /taxii2/                                             discovery (§4.1)
//	GET    /{root}/                                             API root (§4.2)
//	GET    /{root}/status/{id}/                                 status (§4.3), owner only
//	GET    /{root}/collections/                                 collections (§5.1)
//	GET    /{root}/collections/{id|alias}/                      collection (§5.2)
//	GET    /{root}/collections/{id}/manifest/                   manifest (§5.3)
//	GET    /{root}/collections/{id}/objects/                    objects (§5.4)
//	POST   /{root}/collections/{id}/objects/                    add objects (§5.5)
//	GET    /{root}/collections/{id}/objects/{object}/           one object (§5.6)
//	DELETE /{root}/collections/{id}/objects/{object}/           delete (§5.7)
//	GET    /{root}/collections/{id}/objects/{object}/versions/  versions (§5.8)
//	GET    /{root}/collections/{id}/misp/manifest.json          MISP feed manifest, ETag/304 (file names: no slash)
//	GET    /{root}/collections/{id}/misp/{uuid}.json            MISP feed event
//	GET    /{root}/collections/{id}/misp/hashes.csv             MISP feed hashes (Deps.MISPFeed)
//	POST   /{root}/sightings/                                   report sightings and false positives
//	GET    /{root}/sightings/?value=V[&type=T]                  the stored reports of one value
//	GET    /healthz, /readyz, /metrics
//
// Every response, errors included, carries Content-Type
// application/taxii+json;version=2.1 (except /metrics, and the MISP feeds:
// application/json, errors {"name","message","url","request_id"}); every error is a
// TAXII error message (§3.6.1) whose error_id is the request id of the access
// log line and of the X-Request-Id response header. Accept is served when it
// offers application/taxii+json (version 2.1 or none), */* or application/*
// with q > 0; anything else is 406. Unsupported methods get 405 with Allow.
//
// Access: a collection is visible to a consumer with a read or write grant
// (auth.Consumer) or when it is public; an invisible collection or API root is
// 404 (401 for a request without credentials); a visible one the consumer may
// not read (or write, for POST) is 403; DELETE needs both. Curated collections
// are never writable.
//
// Pagination: manifest, objects, object and versions answer limit (default
// and maximum per API root), more, next and the X-TAXII-Date-Added-First/Last
// headers (microsecond Z timestamps; on an empty page the request's
// added_after, else absent). added_after is strictly greater. `next` is
// HMAC-SHA256 signed (Deps.CursorKey, CTIBROKER_CURSOR_KEY) over the
// collection, the backend position, the endpoint, the object id, the match
// filters and the consumer: a cursor from another consumer, collection,
// endpoint or filter set is 400. With matching filters `next` wins over
// added_after. Object bytes are spliced into envelopes exactly as stored.
//
// Add objects takes an envelope or a STIX bundle body (other top-level keys
// ignored) with Content-Type application/taxii+json or application/stix+json
// (version 2.1 or none); the lenient profile also takes application/json and
// no Content-Type. Each object is validated on its own (Deps.Validate, by
// default STIXValidator): refused ones are listed in the status failures
// with the reason, the others stored byte-exact; a version already stored is
// a success ("already in the collection"). The lenient profile (default on)
// accepts second-precision created/modified, upper-case UUID hex and TLP 1.0
// marking definitions that differ from the predefined ones. The 202 carries a
// complete status, readable at /{root}/status/{id}/ by the posting consumer
// only, for Config.StatusRetention (≥ 24 h). Bodies above the API root's
// max_content_length are 413 (Content-Length checked and the reader bounded),
// bodies that are not an envelope 422.
//
// Sightings and false positives (the feedback loop): a consumer with the
// sightings right (auth: `sightings: true`, or admin) posts a JSON list
// [{"type","value","count","first_seen","last_seen","verdict","note"}] or a
// STIX envelope or bundle of sightings (of indicators, or of observed data)
// and opinions (disagree, strongly-disagree: false positives) to
// /{root}/sightings/. Values are normalised as the ingest Runner normalises
// pool values and stored in the storage.SightingStore as internal sightings
// of the consumer (never served in a collection); a sighting raises the
// value's score and a false positive lowers it at the next curation pass,
// which Deps.OnSightings lets cmd start at once. Each item is checked on its
// own: the 200 answer lists the accepted values and the refused items with
// their index, field and reason; malformed list entries are 400 naming both,
// bodies above max_content_length or Config.MaxSightings items 413. Re-posts
// are idempotent, and a consumer's false positive on a value counts once.
// See sightings.go for the rules in full.
//
// Writes, deletions and reloads go to the audit log; each request to the
// slog access log; Prometheus metrics (requests by route and status, latency,
// objects served and added, last poll per consumer) to Registry.
//
// # Speed
//
// GET objects never decodes an object. With a store that has ScanObjects
// (storage/bolt) a page is built in one reused buffer: the store hands over
// each record's stored bytes from its memory map, they are copied once, the
// envelope's head is written in front, and the response leaves with its
// Content-Length in one write after the read transaction has closed (a slow
// client never holds a transaction). A page also ends once its objects reach
// 16 MiB, with more set. Other stores are served from QueryObjects' records.
//
// BenchmarkServeObjects: 1.1 KB indicators, pages of 1000 and of 100, 1 and 8
// clients following next from random depths, Basic auth on every request, over
// loopback HTTP with the load generator in the same process on the same two
// cores (2 vCPU shared with other builds: figures move by 2× with the load
// average, given for each). CPU is the whole process, clients included.
// Reproduce with (the store is kept under CTIBROKER_BENCH_DIR; 10 M objects
// take about 15 minutes and 14.4 GB to build):
//
//	go test ./taxii -run '^$' -bench ServeObjects
//	export CTIBROKER_BENCH_N=10000000 CTIBROKER_BENCH_DIR=/tmp/bench
//	go test ./taxii -run '^$' -bench ServeObjects -timeout 1h
//	go test ./taxii -run '^$' -bench ServeMemory -benchtime 1x
//
//	N = 20 000 (load 1.5 – 2.5)   objects/s      p50 ms       p99 ms
//	pages of 1000, 1 client       0.88 – 0.89 M  0.99         1.7 – 1.9
//	pages of 1000, 8 clients      1.47 – 1.83 M  4.0 – 4.8    12 – 15
//	pages of 100, 1 client        0.49 – 0.59 M  0.12 – 0.14  0.50 – 0.51
//	pages of 100, 8 clients       1.39 – 1.44 M  0.45 – 0.48  2.7 – 2.9
//
//	N = 10 000 000 (load 2 – 3.5)
//	pages of 1000, 1 client       0.72 – 0.86 M  1.0 – 1.2    2.0 – 2.6
//	pages of 1000, 8 clients      0.92 – 1.09 M  5.3 – 7.2    25 – 41
//	pages of 100, 1 client        0.37 – 0.62 M  0.13 – 0.24  0.43 – 0.80
//	pages of 100, 8 clients       0.60 – 0.98 M  0.65 – 0.83  5.0 – 9.0
//
// The process (server and clients) used 1.1 – 2.3 µs CPU an object at
// 20 000 and 1.1 – 2.6 µs at 10 M.
//
// At load 4 to 6 the same runs gave 0.69 – 1.34 M, 0.70 – 1.17 M (p99 36 –
// 67 ms), 0.37 – 0.46 M and 0.52 – 1.11 M objects/s. Before ScanObjects (same
// benchmark, QueryObjects' records through a buffered writer) the quiet
// figures at 20 000 were 0.39 M, 0.87 M (p99 23 ms), 0.22 M and 0.38 M, at 2.1
// – 6.2 µs CPU an object. The store read alone (the baseline, ScanObjects into
// a buffer) runs at 4 – 17 M objects/s at 20 000 and 2.6 – 7.6 M at 10 M: what
// is left is the copy into the socket and the client's read, the kernel's
// loopback and echo's request handling.
//
// BenchmarkServeMemory pages through a whole collection once with 8 clients
// (pages of 1000), sampling the process's RssAnon (not the page cache the
// store's map uses): at 1 M objects 1.5 – 1.6 M objects/s, p99 13 – 20 ms,
// RssAnon 5 MiB before and 46 – 53 MiB at its peak; at 10 M 1.1 – 1.6 M
// objects/s, p99 10 – 25 ms, 28 and 92 – 96 MiB. The live Go heap grows by 4 – 5 MiB while
// serving (the kept page buffers) at both sizes; the difference between them
// is the store's bloom filters of the id index (23 MiB at 10 M ids, loaded at
// Open for writers), doubled at the peak by the collector's headroom.
package taxii
