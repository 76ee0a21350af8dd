// Package conformance is a black-box TAXII 2.1 conformance suite: it talks to
// any TAXII 2.1 server over HTTP only and runs one check per server-side item of
// the checklist in taxii.md §a (content negotiation, headers, error bodies,
// every endpoint, every filter, pagination invariants, timestamps, the
// 401/403/404 matrix as far as one identity can see it, status resources,
// DELETE, trailing slashes, 405).
//
// Run writes only into the writable collection named in Options.Collection,
// with fresh UUIDv4 object ids, and deletes what it added before returning.
// Without a writable collection, checks that need writes are skipped. Every
// request has a timeout and a bounded response read, the number of requests is
// bounded, and a check that panics on a broken server fails alone.
//
// Checks skip only when they need HTTPS, a second API root, a second identity
// (a collection listed read-only or write-only), Basic credentials, or write
// access that was not given. A pending Add Objects status is polled (up to 6 s).
//
// The command `ctibroker conformance` wraps Run. The package
// conformance/internal/deviant holds a small TAXII server that reproduces the
// peer bugs of taxii.md §b.2 (it is an importable internal package so that
// `go vet ./...` covers it; conformance/testdata/deviant is a tiny main that
// serves it on loopback for trying the command by hand). The tests run the
// suite against it, asserting that each planted bug fails exactly its checks,
// and against ctibroker's own server over the embedded store, asserting no
// failure.
package conformance
