// Package warninglist loads MISP warninglists (the list.json format of
// github.com/MISP/misp-warninglists) and matches STIX values against them.
//
// A [Set] compiles any number of lists once; [Set.Match] then answers which
// lists hold a value. Matching follows MISP's semantics per list type, with
// one deliberate difference for lists that lower a score:
//
//   - string: the value equals an entry (case-insensitive). An entry starting
//     with "." (as in the google and microsoft lists) matches any sub-domain.
//   - substring: an entry occurs inside the value.
//   - hostname: the value (for a URL its host) equals an entry or is a
//     sub-domain of it. For lists that are not context-only, a sub-domain only
//     matches when the entry is the value's registrable domain or lies below
//     it, computed with the public suffix list (second-level-tlds). So
//     tranco10k's "duckdns.org" or "github.io" never vouches for
//     "evil.duckdns.org" or "evil.github.io", and "amazonaws.com" never for
//     "bucket.s3.amazonaws.com", while "www.google.com" still matches
//     "google.com". Context-only lists (dynamic-dns, lots-project, ...) keep
//     plain sub-domain matching: they never lower a score, and there the
//     parent is exactly what they describe.
//   - cidr: the address (or a network contained in an entry) lies inside an
//     entry; bare addresses are /32 or /128. Lookups walk a path-compressed
//     binary trie per address family.
//   - regex: /pattern/flags written in PCRE; Go's RE2 must accept it.
//
// Every list has a [Tier]. Lists in the suppress and shared tiers are
// allow-lists: the scorer caps a value they hold below the alert band.
// Context-only lists never lower a score. The tier comes from a table built
// from the pitfalls in MISP's own guidance and ctibroker's reading of each
// list (see tierTable); a list not in the table takes its tier from its
// optional "category" field: "known" means context-only (MISP uses it for
// lists of things that are merely known, such as VPN ranges), anything else
// is treated as shared infrastructure. Config can make any list context-only.
//
// An embedded copy of a subset of the lists ships in lists/ (CC0, see
// lists/SOURCES.md); [Embedded] compiles it, [FromAssets] turns the
// organisation's own domains and networks into two more lists.
package warninglist
