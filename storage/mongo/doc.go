// Package mongo is the MongoDB backend of ctibroker's storage contract
// (storage.Store and every optional interface of storage/optional.go), built on
// go.mongodb.org/mongo-driver/v2 (imported as mongodrv). It is how ctibroker scales
// out: replica sets for availability, sharding for size, and many stateless `serve`
// processes on one database. It needs no multi-document transactions, no TTL
// index and no aggregation ($group); it runs on MongoDB 4.4 or later.
//
//	st, err := mongo.Open(ctx, "mongodb://user:pw@db1,db2/ctibroker?replicaSet=rs0", mongo.Options{})
//
// The URI takes every driver option (TLS, auth, replica set, read preference,
// timeouts). The database is Options.Database, else the URI path, else
// "ctibroker". Open pings the primary (a clear error names the hosts when none
// answers within Options.ConnectTimeout) and creates the missing indexes (a user
// without the readWrite role gets an error saying so). The store always reads from
// the primary, whatever the URI's readPreference, and refuses w=0: the watermark
// below needs every read to see each write acknowledged before it. w=majority
// (MongoDB's default) keeps acknowledged records through a failover.
//
// # Documents
//
// One MongoDB collection holds the records of every ctibroker collection:
//
//	objects      {_id: ObjectId, c: collection, da: date_added µs (int64), id, t: type,
//	              sv: spec_version ("2.0" when absent), v: TAXII version µs, vk: version key,
//	              j: exact bytes (binary)            -- stored collections
//	              r: _id of the stored version        -- curated collections (membership)}
//	collections  {_id: collection, kind, count, first, last, next: last date_added reserved,
//	              ver: compare-and-set counter, pending: [{k, lo, hi, exp}]}
//	statuses     {_id, exp: expires_at ns, j: the status as JSON}
//	feeds        {_id: feed, cursor, last_success, last_error, error_count, snapshot}
//	provenance   {f: feed, t, v: value, d: day ns, ver: verdict, rev}
//	sightings    {_id, t, v, src, in: internal, n, fs, ls, fp}
//	misp_events  {_id: uuid, ts}      leases {_id: name, holder, until}
//	sequences    {_id: name, start, used}
//
// The version key vk is "m" + modified µs (created when there is no modified) for
// SDOs and SROs, and "h" + the SHA-256 of the RFC 8785 canonical bytes for SCOs,
// whose TAXII version is their date_added. Bytes are stored once and served as
// stored: a page is spliced from them, never re-encoded.
//
// # Indexes
//
// Besides _id (used for collection documents, statuses, feeds, MISP events,
// leases, sequences, and to fetch a curated page's bytes by reference):
//
//	objects     c_da          {c, da}                 pages in date_added order; added_after; batch ranges; first/last
//	objects     c_t_da        {c, t, da}              match[type] pages ($in over types merges sorted runs: SORT_MERGE)
//	objects     c_id_da_v_sv  {c, id, da, v, sv}      match[id] pages, GetObject, ListVersions, deletes, and the
//	                                                  per-page "first/last version of these ids" query (covered)
//	objects     c_id_vk       {c, id, vk} unique      idempotent writes: a duplicate key is a version already stored
//	statuses    exp           {exp}                   PurgeStatuses
//	provenance  t_v_d_f       {t, v, d, f} unique     insert-only key; Provenance() ordered by day then feed;
//	                                                  HasProvenance's $or of exact keys (covered)
//	provenance  d             {d}                     PruneProvenance
//	sightings   t_v_fs        {t, v, fs}              Sightings() oldest first
//
// Every query the backend issues is declared as a shape (shapes.go) and built
// from it; TestQueryShapesUseIndexes checks without a server that each shape's
// equality fields, sort and ranges are a prefix of one of these indexes, and
// TestExplain, on real MongoDB, checks IXSCAN and no in-memory SORT. Filters
// that no index serves (spec_version, version timestamps, first/last) are
// applied in Go to records read in index order, at most Options.ScanBudget per
// request; a selective filter may return a short page with More true, never
// scan unboundedly. First and last versions are read with an indexed find, never
// $group. A match[id] list or match[type] list is served by merging the sorted
// index runs of each value (SORT_MERGE); past MongoDB's
// internalQueryMaxScansToExplode (200 values) the planner sorts the matching
// records in memory instead, which stays bounded by the versions of those ids.
//
// HasProvenance (ingest.ProvenanceChecker, the ingest Runner's check of an
// unchanged re-pull) answers a batch of (feed, type, value, day) keys with one
// find per 500 distinct keys: {$or: [{t, v, d, f}, ...]} projecting only those
// four fields, so each clause is a point lookup on t_v_d_f and no document is
// fetched, and a batch size above the chunk's length, so the first reply holds
// every match (one round trip per chunk). The same filter runs on FerretDB.
//
// # Proposed shard key
//
// objects: {c: 1, id: 1} (ranged). STIX ids are random UUIDs (v4, or v5 over
// values), so inserts spread over all shards with no hot chunk, unlike any key
// led by the monotonic da. All versions of an object live on one shard, so the
// unique {c, id, vk} index (which has the shard key as prefix, as MongoDB
// requires) still enforces idempotency, and GetObject, ListVersions, deletes and
// the per-page versions query ({c, id: {$in}}) are routed to the owning shards
// only. A page by date_added is a scatter-gather: mongos sends the sorted, limited
// find to every shard, each answers from its own {c, da} index, and mongos merges
// the sorted streams; one round trip from ctibroker, at most limit+1 keys read per
// shard. Fetching a curated page's bytes by _id $in is broadcast too (point
// lookups on each shard). provenance and sightings: {t: 1, v: 1}. statuses:
// {_id: "hashed"}. collections, feeds, misp_events, leases and sequences are tiny
// and stay unsharded on the primary shard.
//
// # date_added and the visibility watermark, with many writers
//
// Each ctibroker collection's document carries the allocator and the registry of
// writes in flight, so both change together in one single-document update, which
// MongoDB applies atomically:
//
//  1. Reserve: read the document (next, ver, pending); let lo = max(next+1, now µs),
//     hi = lo+n-1; update {_id, ver: <read>} with {$set: {next: hi, pending:
//     pending+{k, lo, hi, exp: now+PendingTTL}}, $inc: {ver: 1}}. If another
//     process changed the document in between, ver no longer matches and the
//     reservation is retried. date_added values are therefore unique, strictly
//     increasing in reservation order, microsecond precision, and close to the
//     wall clock (never behind a value already handed out, even if a clock steps
//     back).
//  2. Insert the batch with one unordered insertMany, record i getting lo+i. A
//     duplicate-key error is a version already stored (WriteResult.Existing),
//     except when the stored duplicate belongs to another write still in flight:
//     that write may yet be discarded (its writer may be dead), so this batch is
//     undone and retried once that write has finished or expired, and no version
//     is ever reported as existing and then lost.
//  3. Finish: one update {$pull: {pending: <entry>}, $inc: {count, ver}, $min:
//     {first}, $max: {last}} on {_id, "pending.k": k}. If the entry is gone, the
//     write took longer than PendingTTL and another process discarded it: the
//     writer deletes its range itself and returns an error. If the update fails
//     (say its reply is lost), the writer first checks whether it was applied
//     (entry gone, its records still there) before undoing the batch.
//
// Readers read the collection document first (one round trip, also the
// existence check) and take the watermark W = min(pending.lo) - 1, or next when
// nothing is in flight, then return only records with da <= W. Every value <= W
// was reserved before the read; each such reservation has either finished (its
// records are all inserted and acknowledged) or was discarded (its records are
// deleted before its entry is removed). A value reserved after the read is > next
// >= W. So a record can never appear below a watermark a reader has already
// used: an added_after poller cannot skip a late commit, and a batch becomes
// visible all at once. A writer killed mid-batch leaves its entry until exp; the
// next writer or reader to see it expired deletes the range lo..hi (using the
// {c, da} index) and then drops the entry, so the killed batch is never visible.
// The writer gives up at PendingTTL/2, leaving half the TTL as margin for clock
// differences between processes and a slow acknowledgement. Throughput cost:
// reserve (2 round trips) + insertMany (1 per 48 MB) + finish (1) per batch; the
// collection document is a per-collection hot spot of ~3 updates per batch, not
// per object.
//
// # Paper figures for real MongoDB (not yet measured on a real server)
//
// Per 1M ~1 KB objects (WiredTiger, snappy, index prefix compression; ids
// "indicator--" + UUID, collection ids of ~20 bytes):
//
//	documents        ~1.15 GB BSON, ~0.5–0.6 GB on disk
//	_id              ~12 MB   (ascending ObjectIds compress well)
//	c_da             ~16 MB   (8-byte da after the compressed c prefix)
//	c_t_da           ~22 MB
//	c_id_da_v_sv     ~75 MB   (48-byte random ids dominate; shared "indicator--" prefix compressed)
//	c_id_vk          ~70 MB
//	all indexes      ~0.2 GB per 1M objects, ~2 GB at 10M: they fit in the default
//	                 WiredTiger cache of a 8 GB server, so page reads do not touch disk
//
// A 1000-object page (default match[version]=last, no other filter) is 3 round
// trips: the collection document; one find on {c, da} returning 1000 documents
// (~1.15 MB) in its first batch (batchSize = limit+1); one covered find of the
// page's ids on {c, id, da, v, sv} (~1000 index keys, no document fetch).
// match[version]=all with an explicit match[spec_version] needs no third trip;
// a curated collection adds one find by _id for the bytes. Server work is
// O(log n + page) at any depth (index seek, no skip, no count), so latency does
// not grow with collection size or cursor depth. Estimate: 3–8 ms per page on one
// host or 10 GbE (≈1 ms of transfer), 12–20 ms on 1 GbE where the 1.15 MB reply
// alone takes ~9 ms; p99 within 2× of that with a warm cache. Ingest of 1000-object
// batches: 4 round trips plus 5 index entries per object (two random: c_id_vk and
// c_id_da_v_sv); a replica set primary with w:majority is expected around
// 20–40k objects/s, and sharding by {c, id} scales it with the number of shards.
// BenchmarkPutObjects and BenchmarkQueryPage measure both against a raw-driver
// baseline when CTIBROKER_TEST_MONGODB_URI is set; on the FerretDB test server
// they only prove the code path (see below).
//
// # Tests and FerretDB
//
// The contract suite (storagetest) runs against CTIBROKER_TEST_MONGODB_URI with a
// fresh database per test; without the variable it skips, except under CI=true,
// where it fails. CI points it at FerretDB v1.24.2 (MongoDB wire protocol over
// SQLite), embedded by storage/mongo/testserver, a separate Go module. Gaps of
// FerretDB 1.24 met here, none of which changed a query:
//
//   - It pushes no filter, sort or limit down to SQLite except _id equality: every
//     find decodes the whole MongoDB collection and sorts in memory. Pages cost
//     O(collection) there (~0.3–1.5 s at 2000–3000 documents on the shared CI
//     machine), so the suite uses smaller sizes for FerretDB and the benchmarks
//     only prove the code path.
//   - An update is a read and a write in two SQLite transactions, so concurrent
//     updates of one document are not atomic (the ver compare-and-set and $inc can
//     lose updates). The backend serialises its own updates of a collection
//     document and of a sequence within a process (which also spares MongoDB
//     compare-and-set retries between goroutines); correctness across processes
//     rests on MongoDB's atomic single-document updates.
//   - $pull with a condition naming some fields of an array element removes
//     nothing; the backend pulls the whole entry (MongoDB accepts both).
//     $elemMatch in a filter matches nothing; "pending.k" dot paths work.
//   - findAndModify rejects a projection ("fields"); the backend fetches the whole
//     (small) document.
//   - createIndexes of an index that already exists drops the connection; Open
//     lists the indexes and creates only the missing ones.
//     TestWatermarkProcesses (two writer processes and a poller) therefore runs
//     only on MongoDB; forced onto FerretDB it fails as this predicts.
//   - Explain plans carry no winningPlan, so TestExplain runs only on MongoDB
//     (CTIBROKER_TEST_MONGODB_FLAVOR not "ferretdb").
//
// Objects larger than 16 MiB less 8 KiB are refused with a stix.ValidationError
// (MongoDB's document limit); ctibroker's default object limit is 16 MiB.
//
// Backup writes a logical stream (BackupFormat): each ctibroker collection up to
// its watermark at the start, then the runtime collections; for point-in-time
// copies of a replica set use mongodump --oplog.
package mongo
