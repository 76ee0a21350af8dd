// Package storage is the contract every ctibroker backend implements: collections
// of STIX object versions kept as the exact bytes received or produced, TAXII 2.1
// query semantics (§3.4–3.5), curated-collection membership, and the optional
// runtime stores (feed state, provenance, sightings, statuses, MISP event index,
// leases, sequences). storage/storagetest holds the one suite every backend runs.
package storage
