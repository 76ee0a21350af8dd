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
// cores (2 vCPU shared with other builds: figures move by up to 2× between
// runs, with the load average given for each). CPU is the whole process,
// clients included. Each run also reports how much of the store file is in
// the page cache. Reproduce with (the store is kept under
// CTIBROKER_BENCH_DIR; 10 M objects take 6 to 15 minutes and 14.4 GB to build,
// and the figures assume the machine has the memory to cache them):
//
//	go test ./taxii -run '^$' -bench ServeObjects
//	export CTIBROKER_BENCH_N=10000000 CTIBROKER_BENCH_DIR=/tmp/bench
//	go test ./taxii -run '^$' -bench ServeObjects -timeout 1h
//	go test ./taxii -run '^$' -bench ServeMemory -benchtime 1x
//
//	N = 20 000 (load 1.3 – 1.6)   objects/s      p50 ms       p99 ms
//	pages of 1000, 1 client       0.92 – 0.94 M  0.92 – 0.95  1.8 – 2.0
//	pages of 1000, 8 clients      2.22 – 2.28 M  3.2 – 3.3    8.0 – 8.7
//	pages of 100, 1 client        0.57 – 0.70 M  0.10 – 0.12  0.48 – 0.62
//	pages of 100, 8 clients       1.23 – 1.41 M  0.48 – 0.54  2.4 – 3.2
//
//	N = 10 000 000 (load 1.3 – 1.8, 91 % of the file cached: all of the log)
//	pages of 1000, 1 client       0.78 – 0.81 M  1.1 – 1.2    2.0 – 2.2
//	pages of 1000, 8 clients      1.51 – 2.23 M  3.3 – 4.6    9.3 – 15
//	pages of 100, 1 client        0.47 – 0.51 M  0.14 – 0.15  0.51 – 0.71
//	pages of 100, 8 clients       1.13 – 1.20 M  0.56 – 0.60  2.5 – 2.9
//
// The process (server and clients) used 0.9 – 2.4 µs CPU an object; the store
// read alone (the baseline, ScanObjects into a buffer) ran at 6 – 18 M
// objects/s at 20 000 and 3 – 10 M at 10 M, and HTTP at 0.1 – 0.25 × of it:
// the rest is the copy into the socket, the client's read, the kernel's
// loopback and echo's request handling. Eleven more runs at 10 M in the same hour,
// with and without this version's store changes, gave 1.23 – 2.45 M objects/s
// for 8 clients and pages of 1000 (p99 6.8 – 19 ms). An earlier series at 10 M
// (load 2 – 3.5, the store read alone at 3 – 4 M) gave 0.92 – 1.09 M with p99
// 25 – 41 ms; the same code does not reproduce it here, and how much of the
// file was then cached was not recorded: a 14.4 GB file on a 24 GB machine
// shared with other builds loses pages, and a page read from disk costs what
// the cold figures below show.
//
// Cold (CTIBROKER_BENCH_COLD=1: the file dropped from the page cache before
// Open, no warm-up; 300 pages of 1000 at random depths of 10 M; 3 – 9 % cached
// at the end): bbolt maps its file with MADV_RANDOM, so every missing 4 KiB
// page was a disk read of its own, in turn: 36 – 44 k objects/s for 1 client
// (p50 23 – 28 ms) and 94 – 97 k for 8 (p50 80 – 85 ms). The store now asks
// mincore whether a page's range is cached and advises MADV_WILLNEED over it
// when not: 131 – 134 k (p50 3.0 ms) and 256 – 277 k (p50 24 – 25 ms).
//
// Tried and not kept (10 M, 8 clients, pages of 1000, three runs each,
// alternated, load 1.8 – 2.2): building the page without reading the memory
// map at all (the bound of any zero-copy write from the map) gave 2.04 – 2.37 M
// objects/s against 1.34 – 2.30 M for the copy, and 4 MiB socket buffers on
// both ends 1.59 – 2.32 M: within the noise, so the page is still copied once
// and written after the read transaction has closed, which no slow client can
// hold open (TestSlowClientDoesNotHoldWriter: an ingest that remaps the file
// completes while a client sits on a 10 MB page, which then arrives intact).
//
// BenchmarkServeMemory pages through a whole collection once with 8 clients
// (pages of 1000), sampling the process's RssAnon (not the page cache the
// store's map uses). At 1 M objects: 1.36 – 2.20 M objects/s, RssAnon 4 MiB
// before and 41 – 43 MiB at its peak (50 – 66 MiB over 8 passes); at 10 M: 1.47
// – 2.24 M objects/s, p99 7.3 – 16 ms, RssAnon 6 MiB before and 47 – 56 MiB at
// its peak (load 1.8 – 3). The peak is the page buffers of the server and its
// 8 clients and the collector's headroom over them, the same at both sizes.
// Before the store read its id-index bloom filters from the file (storage/bolt,
// Memory), they were decoded onto the heap at Open: 23 MiB at 10 M ids, and the
// same runs then peaked at 89 – 96 MiB at 10 M (28 MiB before serving).
package taxii
