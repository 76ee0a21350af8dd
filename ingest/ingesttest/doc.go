// Package ingesttest holds the test helpers the provider packages under ingest/
// share: opening a real embedded store, ingesting a converter's output through
// the real ingest.Runner, validating what was stored with the full STIX
// validator, locating the shared reference set (../shared next to the
// repository) and comparing conversions with golden want.json files.
//
// It is imported by _test.go files only; the product never links it. Helpers
// that can fail take a testing.TB first, call tb.Helper() and are named MustX.
package ingesttest
