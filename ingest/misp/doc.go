// Package misp ingests MISP: the MISP event model (model.go), the MISP → STIX
// converter (convert.go, pure), and two sources: a MISP instance's REST API
// (POST /events/restSearch, paged, incremental by timestamp) and MISP feeds
// (manifest.json and <uuid>.json, incremental by the manifest's per-event
// timestamps, with ETag). The STIX → MISP direction (publishing as a MISP feed,
// pushing to MISP) will live here too, on the same model.
//
// # Decoding
//
// DecodeEvents reads MISP JSON the way MISP and PyMISP write it: numbers as
// strings or numbers (Num), booleans as true/false or 0/1 (Flag), one event
// with or without the {"Event": ...} wrapper, lists of events, restSearch
// responses ({"response": [...]}), attribute and object searches (items outside
// any event), the lower-case "orgc" of some feeds. Events stream one at a time.
//
// # Mapping (reference/misp.md §4)
//
//   - The event is a report (id ReportID(event uuid)) created_by_ref its creator
//     org's identity (identity--<Orgc uuid>, as misp-stix writes it), published
//     at publish_timestamp, modified at timestamp, with object_refs to
//     everything below and the event's native fields in the MISP property
//     extension (ExtensionID, EventExtension). misp:confidence-level becomes the
//     report's confidence.
//   - Attributes whose value is a pool kind (ip-src/dst, domain, hostname, url,
//     uri, email*, md5, sha1, sha256, sha512, ssdeep) become observations: the
//     Runner authors ctibroker's one indicator (to_ids true: Detect) or the
//     observable alone (to_ids false). Composite types are split: ip|port and
//     hostname|port give the address (the port goes into the verdict), domain|ip
//     gives both values, filename|<hash> and malware-sample give the hash (the
//     name goes into the verdict). A missing to_ids takes MISP's default for the
//     type (describeTypes sane_defaults).
//   - Other types with a pattern in misp.md §4.1 (filename, mutex, regkey, AS,
//     other hashes, x509 fingerprints, user-agent, email headers, port, yara,
//     sigma, snort, suricata, ...) become, when to_ids, an indicator ctibroker
//     authors (id over the pattern, the Runner's scheme) with that pattern, and
//     otherwise an SCO where one fits (file, mutex, windows-registry-key,
//     autonomous-system, mac-addr). vulnerability and campaign-name become
//     vulnerability and campaign SDOs with ingest.ContextID. link attributes are
//     external references of the report (and a url value when to_ids). Types
//     MISP knows without a STIX mapping (text, comment, btc, ja3, ...) are
//     counted in the extension's "unmapped"; unknown types are warnings naming
//     the event and attribute uuid.
//   - MISP objects: each attribute converts as above (the object's name and
//     relation go into the verdict); an object reference becomes a relationship
//     (MISP's relationship_type, lower-case and hyphenated) between the first
//     STIX object made from each end.
//   - Tags: tlp:* (TLP 1.0 white reads as clear) give a TLP 2.0 marking, the most
//     restrictive of the event's; an attribute's own tlp tag can only tighten it.
//     misp:confidence-level, admiralty-scale:information-credibility and
//     estimative-language:likelihood-probability give Verdict.ConfidenceTag
//     (the input scoring.SeverityMISP takes, with the event's threat_level_id and
//     to_ids: Verdict.Score); misp:confidence-level also gives
//     Verdict.Confidence (0–100) and admiralty-scale:source-reliability
//     Verdict.SourceReliability. All tags but TLP are kept as labels.
//   - Galaxies (Galaxy blocks, and misp-galaxy tags for sync pushes, which carry
//     no blocks): ATT&CK techniques resolve through the *attack.Index to MITRE's
//     own objects (meta.external_id or the " - T1134" suffix; unknown ids are
//     warnings); threat-actor and mitre-intrusion-set clusters are intrusion
//     sets (the type the Runner gives every feed's actors, so one actor is one
//     object whichever feed names it), malware galaxies (malpedia,
//     mitre-malware, ransomware, banker, rat, ...) malware with is_family, tool
//     galaxies tools; each resolves to ATT&CK by id, name or synonym first, else
//     is an SDO with ingest.ContextID and its synonyms as aliases. The event's
//     actors use its malware and techniques, malware uses techniques. The
//     observations' Context names them, so the Runner authors the indicates
//     relationships. Sector clusters become Context.Sectors.
//   - Sightings: decision: summarised in each observation's native verdict
//     (Verdict.Sightings: counts of sightings, false positives and expirations,
//     first and last sighting), not STIX sighting objects, which would need an
//     identity per sighting org and are internal data DESIGN.md keeps out of
//     sharing. An expiration sighting that has passed withdraws the value.
//   - Event reports become notes (abstract the name, content the markdown)
//     about the event's report, authored by the creator org like the report.
//   - deleted attributes (or objects) become withdrawn observations
//     (Observation.Revoked); a deleted non-pool indicator gets revoked: true.
//   - distribution → share level (ShareOf): 0 your org and 4 sharing group →
//     internal, 1 this community and 2 connected communities → partners, 3 all
//     → community, capped at the feed's share; 5 inherits the object's or the
//     event's. It is recorded in Verdict.Share and EventExtension.Share (the
//     ingest core has no per-observation share yet).
//
// client.go is the only file doing HTTP; convert.go is pure; source.go ties them
// to ingest.Source with a cursor that survives restarts.
package misp
