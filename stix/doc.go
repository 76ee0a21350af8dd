// Package stix is ctibroker's STIX 2.1 data model: typed objects for what ctibroker
// produces, raw objects for what it receives, identifiers, timestamps, markings,
// streaming decoding and validation. It does no I/O beyond the readers it is given.
//
// # Objects
//
// Typed structs (Indicator, Malware, ThreatActor, IntrusionSet, AttackPattern,
// Campaign, Vulnerability, Identity, Report, Grouping, Note, Opinion, Sighting,
// ObservedData, Relationship, MarkingDefinition, ExtensionDefinition, Bundle and the
// SCOs IPv4Addr, IPv6Addr, DomainName, URL, File, EmailAddr, AutonomousSystem,
// X509Certificate, NetworkTraffic) embed Common and have a Validate method that
// applies the same rules as Validate. Everything received from outside, of any
// type including custom ones (x-misp-*), is a RawObject: its exact bytes plus its
// parsed Common, republished byte-for-byte.
//
// # Identifiers (§2.9)
//
// NewID makes type--UUIDv4 ids; SCOID and SCOIDOf compute the deterministic
// UUIDv5 of an SCO from its ID-contributing properties, canonicalised with RFC
// 8785 (github.com/gowebpki/jcs); the typed SCO constructors (NewIPv4Addr, …) set
// it. Only one hash takes part, the first present of MD5, SHA-1, SHA-256, SHA-512,
// as cti-python-stix2 does; every vector of ../shared/testdata/stix/uuid5-vectors.json
// agrees. DeterministicID is UUIDv5 under any namespace, for ctibroker's own ids.
//
// # Timestamps (§2.15)
//
// ParseTimestamp reads any number of fractional digits and requires the Z and a
// date that exists; Timestamp always writes UTC milliseconds. created and modified
// must carry at least millisecond precision (an error, a warning in the lenient
// profile).
//
// # Validation
//
// Validate and Validator.Validate take a bundle, a TAXII envelope, a bare array or
// a single object and return Findings: MUST-level rules are SeverityError,
// SHOULD-level rules SeverityWarning. Each Finding names the object id, its path
// in the input, the property and a stable rule name; FormatFinding prints one
// line. The rules: required properties per type (generated from the OASIS JSON
// schemas, spectypes.go), id form and id/type agreement, spec_version, timestamp
// form, precision and order (modified ≥ created, valid_until > valid_from, …),
// reference target types (created_by_ref must be an identity, object_marking_refs
// marking definitions, relationship and sighting targets, …), property names and
// reserved names, empty lists, custom properties and extensions, TLP 1.0 objects
// that must equal the predefined ones, the TLP 2.0 extension, enumerations
// (errors) and open vocabularies (warnings), SCO values (IP addresses, URLs, e-mail
// addresses) and whether SCO ids are the expected UUIDv5 (warning).
//
// The verdicts agree with every file of ../shared/testdata/stix (expected.json),
// including the cases where cti-stix-validator is wrong: created_by_ref pointing
// at an indicator is an error; custom property names with '!' or over 250
// characters are errors. Where expected.json and the brief disagree, the data
// wins: upper-case UUID hex and a malformed UUID inside a reference (not in the
// object's own id) are warnings in every profile, because valid/ files carry them.
// A reference to an unknown custom type in created_by_ref is a warning (the
// validator's own valid indicator uses "source--…").
//
// Patterns are not parsed here: Validator.PatternChecker, when set, checks
// indicators whose pattern_type is "stix"; cmd plugs in stix/pattern. Lenient is
// the TAXII lenient profile: second-precision created/modified, TLP 1.0 objects
// that differ from the predefined ones, and URL values without a scheme become
// warnings.
//
// # Decoding and limits
//
// NewDecoder walks a bundle, an envelope (more/next are exposed by Envelope), a
// bare array or a single object from an io.Reader and yields one RawObject at a
// time, holding at most one object (Limits.MaxObjectSize) and a 32 KiB buffer.
// Objects inside a container are returned byte-for-byte, and a single object too.
// Exceeding a limit (object 16 MiB, JSON depth 64, pattern 64 KiB; DefaultLimits
// follows DESIGN.md) is a *LimitError naming the limit and the path; malformed
// JSON is a *SyntaxError with its offset. Nothing panics; FuzzDecoder checks that
// the bytes allocated while decoding stay within 4× the input plus 64 KiB, and
// Test100MBString that a 100 MB string costs at most 4× the object limit.
//
// # JSON: choice and measurements
//
// No STIX library is available, and encoding/json into structs is too slow for the
// goal (≥ 200k decode+validate of a 1 KB indicator per second per core) and cannot
// keep bytes verbatim. The package has its own scanner (json.go): one pass checks
// the full JSON grammar (escapes, UTF-8, numbers, depth; strings are scanned 8
// bytes at a time and jump straight to the first quote, backslash, control or
// non-ASCII byte) while recording each top-level member's bytes; the common
// properties are read from those bytes (strings share the input's memory), and
// the rules re-read nested values without re-checking them.
//
// What keeps decode+validate cheap (keys.go, raw.go, rules.go): known property
// names are numbered while scanning (an open-addressing table, no allocation),
// so the rules switch on small integers, index per-type tables and find
// duplicates with a bitset instead of comparing strings and hashing into maps;
// flags precomputed per name skip the name rules; ParseAndValidate leaves
// external_references and extensions to the check, which reads them anyway and
// fills them as it goes, and reuses the parsed created/modified; a parsed object
// is one allocation that also holds its timestamps, confidence, first external
// reference and first few label/marking strings (slices into it have cap ==
// len); UUIDs are checked through a table, timestamps without time.Date;
// ValidateObject scans without filling Common. A typical indicator costs 5
// allocations (the object, and a map header and group each for extensions and
// the external reference's hashes: the map fields of the public API); the
// remaining time is spread over the scan (≈ 30%), the maps and the allocator (≈
// 25%) and the rules. Members of the pooled slice are set in place, and the
// slice is cleared only where it would keep an earlier or a large (> 64 KiB)
// input alive. TestParseAndValidateAgrees (and FuzzDecoder) check that
// ParseAndValidate returns what ParseRaw + ValidateObject return.
//
// BenchmarkDecodeValidate alternates blocks of our decode+validate and of
// encoding/json.Unmarshal into Indicator on the same bytes, and reports both rates
// per wall second and per CPU second (the machine is shared by up to 8 busy
// processes on 2 cores, so wall-clock figures vary 3×; CPU time is the stable
// one, and even it varies ±15% with the load on the sibling core). Reproduce with
//
//	go test -run XXX -bench 'DecodeValidate|ParseRaw|EncodingJSON' -benchtime 2s -count 3 -cpu 1 ./stix/
//
// Measured here (Go 1.26, amd64, -cpu 1, two sets of three runs at load
// average 8–12 on 2 cores; each line the range of the six runs):
//
//	decode+validate, no pattern check       ≈ 170–245k objects/CPU-s, 5 allocs
//	encoding/json.Unmarshal (same runs)     ≈ 46–65k objects/CPU-s, 51 allocs
//	ratio                                   ≈ 3.75× (3.70–3.80 per run)
//	decode+validate with stix/pattern       ≈ 154–215k objects/CPU-s, 3.24–3.39×
//	ParseRaw alone                          ≈ 160–250k objects/s wall
//
// (Before this tuning, same command: 133–143k objects/CPU-s, 2.1–2.3×, 11
// allocs.) Per CPU second the ratio is stable while both absolute rates move
// with the load on the sibling hyperthread: five of the six runs reach 200k
// (the sixth, 170k, ran next to encoding/json's 46k), and 3.75× is 225–300k/s
// when encoding/json runs at the 60–80k/s the issue measured on this machine.
// Third-party JSON libraries (goccy/go-json, json-iterator, valyala/fastjson,
// all in the package list) were not adopted: the package needs each member's
// raw bytes for byte-for-byte republishing and for the rules, which its own
// scanner gives in the same pass, and the scan is now under a third of the
// time.
package stix
