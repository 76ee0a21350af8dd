// Package misp ingests MISP: the MISP event model (model.go), the MISP → STIX
// converter (convert.go, pure), and two sources: a MISP instance's REST API
// (POST /events/restSearch, paged, incremental by timestamp) and MISP feeds
// (manifest.json and <uuid>.json, incremental by the manifest's per-event
// timestamps, with ETag). The STIX → MISP direction (Export, publishing as a
// MISP feed, pushing to MISP) lives here too, on the same model.
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
// # Export: STIX → MISP (export.go, export_types.go)
//
// Export turns a collection's STIX objects into MISP events for a MISP feed
// (FeedManifest, MarshalFeedEvent, WriteHashesCSV: manifest.json, <uuid>.json,
// hashes.csv) or a push (Client.PushEvent, Client.UploadSTIX). It is pure and
// deterministic: the same objects, in any order, give the same bytes; every
// uuid it makes is UUIDv5 under a fixed namespace. The rules:
//
//   - Events. A report or grouping is an event: info its name, date its
//     published (grouping: created) day, analysis 2 (completed), published
//     true, publish_timestamp its published time. Its uuid is the event's own
//     when ctibroker made the report from a MISP event (the MISP extension's
//     event_uuid, which also gives back date, analysis and threat level), else
//     the report's or grouping's own uuid (misp-stix writes report--<event
//     uuid>, so MISP content comes back under its uuid either way).
//     publish_timestamp is the later of published and the event's timestamp:
//     every export publishes the event as it is. Orgc is
//     the instance (ExportOptions.Org). A report's object_refs give the
//     content: indicators, SCOs (also through observed-data), vulnerabilities,
//     campaigns, context objects, and relationships, whose ends that are
//     context objects become the event's galaxy clusters.
//   - Grouping (ExportOptions.Grouping). Indicators and SCOs that no report or
//     grouping holds go into one event per collection, UTC day and TLP level
//     (the day of the object's created, which every version keeps; for SCOs,
//     which have none, of their date_added, ExportOptions.Added. Decision:
//     not date_added for all, because each new version moves it, and a
//     withdrawn value must stay in the event MISP has it in)
//     ("collection", the default), or per collection and TLP level
//     ("single"). Splitting by TLP keeps a feed's tlp tags exact, so MISP's
//     feed filter rules (which read the manifest's event tags) select exactly
//     the values of a level. An SCO some indicator is based on travels with
//     that indicator. Such an event is named "ctibroker <collection> <day>
//     <TLP>", its uuid derives from (collection, day, TLP).
//   - Size cap. An event with more than MaxAttributes attributes (default
//     5000) is split into parts: attributes in the order their values
//     entered (their object's created, which later versions keep; type and
//     value break ties), so that new values land in the last part and a value
//     that changes (a withdrawal) stays in its part under the same attribute
//     uuid, where MISP, which edits attributes by uuid and keeps those an edit
//     lacks, sees it deleted. Part 1 keeps the event's uuid, part k gets
//     UUIDv5(uuid, k), and info says "(part k of n)".
//   - Timestamps. An attribute's timestamp is its object's modified (an SCO's
//     date_added, else the event's); the event's timestamp is the latest
//     modified of the report, its attributes and its clusters, so MISP's feed
//     pull sees every change.
//   - Attributes. One per value and event (uuid = UUIDv5(event uuid, type,
//     value)); an indicator and an SCO of the same value are one attribute,
//     the indicator's. Indicators have to_ids true, SCOs false. A simple
//     pattern gives the type of misp.md §4.1 read backwards: ipv4-addr and
//     ipv6-addr → ip-dst, domain-name → domain, url → url, email-addr →
//     email-src, file:hashes.MD5/'SHA-1'/'SHA-256'/'SHA-512'/SSDEEP/TLSH/... →
//     md5/sha1/sha256/sha512/ssdeep/tlsh/..., file:name → filename, mutex,
//     regkey, AS, mac-address, x509-fingerprint-*, the email-message
//     properties, user-agent, port; the misp:type label the MISP converter
//     puts on indicators it authors, then Native (the MISP type a feed
//     reported, e.g. ip-src or hostname), override the default when the type
//     fits the value. Categories are MISP's defaults per type unless a
//     misp:category label or Native says otherwise. The AND shapes misp-stix
//     writes for composite types become those types (filename|sha256,
//     domain|ip, ip-dst|port, hostname|port, regkey|value, and the
//     network-traffic form of ip-src/ip-dst). Decision: any other pattern
//     (OR, FOLLOWEDBY, qualifiers, other operators, other properties) is one
//     stix2-pattern attribute holding the pattern verbatim, with to_ids; a
//     MISP object would need a template per shape and loses the pattern's
//     logic. yara, sigma, snort and suricata patterns become attributes of
//     those types; other pattern languages are warnings. Vulnerabilities are
//     vulnerability attributes (the CVE), campaigns campaign-name attributes,
//     both to_ids false.
//   - Deleted. revoked true, or valid_until at or before Now, makes the
//     attribute deleted true (a revoked report or grouping makes all of its
//     event's attributes deleted: a feed cannot delete an event): MISP feeds carry deleted attributes, and MISP
//     soft-deletes its copy when it pulls or receives them. Deleted attributes
//     are not in hashes.csv.
//   - TLP. TLP 2.0 and 1.0 marking refs give tlp:clear, green, amber,
//     amber+strict and red (TLP 1.0 white is clear). The event's tag is the
//     most restrictive of the report and its attributes, so that MISP's feed
//     filter rules, which read event tags, never pass a value under a looser
//     level than its own. An attribute's level is its object's marking, else
//     (SCOs carry none) the value's level from provenance (ExportOptions.TLP,
//     ProvenanceTLP), else the report's; when it differs from the event's the
//     attribute carries it as its own tag. So an amber event with one red
//     value comes back as a red event whose other attributes say tlp:amber:
//     every value keeps its level.
//   - Galaxies. Attack patterns with an ATT&CK id, malware, tools, intrusion
//     sets and threat actors become galaxy clusters, each as a misp-galaxy tag
//     and in a Galaxy block (cluster uuid = the STIX object's uuid, which for
//     MITRE's objects is misp-galaxy's own; meta external_id, refs, synonyms):
//     ATT&CK objects as mitre-attack-pattern ("Access Token Manipulation -
//     T1134"), mitre-malware, mitre-tool and mitre-intrusion-set ("APT28 -
//     G0007"); other malware as malpedia, other tools as tool, other intrusion
//     sets and threat actors as threat-actor, unless a misp-galaxy label of
//     the report names the cluster in another galaxy (MISP's own choice, e.g.
//     exploit-kit or ransomware, which then comes back). Attack patterns without an
//     ATT&CK id have no MISP galaxy and are left out. The event's clusters come
//     from its object_refs and the relationships among them; an attribute's
//     from its indicator's indicates (and uses, attributed-to, related-to)
//     relationships, one hop, unless the event already has the cluster. A
//     misp-galaxy label naming a cluster already written is not repeated.
//     Objects referenced but not in the input are found through
//     ExportOptions.Lookup (MITRE's objects live in the ATT&CK collection).
//   - Score. The risk-score extension (scoring.ExtensionID) sets
//     threat_level_id (bands critical and high → 1, medium → 2, low → 3; the
//     strongest among the attributes for grouped events and reports without a
//     score of their own; 4 without any) and, per attribute,
//     misp:confidence-level from the band's confidence: ≥88
//     completely-confident, ≥63 usually-, ≥38 fairly-, ≥13 rarely-confident,
//     else unconfident (the inverse of misp-stix's 100/75/50/25/0). Decision:
//     the band's confidence, not the raw score, because confidence is what
//     the taxonomy and misp-stix mean and it changes only with the band; the
//     score itself goes into the comment ("ctibroker risk score 72 (high)").
//     A report's STIX confidence gives the event's tag.
//   - Tags. Labels become tags, except conversion bookkeeping (misp:type,
//     misp:category, misp:to_ids, misp:tool, misp:name, misp:meta-category,
//     Threat-Report).
//   - A report's external references with a URL (its sources; the MISP
//     converter keeps MISP's link attributes as misp-link references) become
//     link attributes (External analysis, to_ids false). MISP's text and
//     comment attributes have no STIX object and do not come back.
//   - Notes about a report or grouping become the event's event reports
//     (name the abstract, content the markdown, uuid the MISP one the MISP
//     converter kept as external reference, else the note's).
//   - Not converted: opinions, sightings, identities, locations, courses of
//     action (silently); other object types are one warning each. Org (name
//     and uuid) is required: it is every event's Orgc.
//
// NativeOf reads the MISP type and category out of provenance verdicts for
// ExportOptions.Native, ProvenanceTLP the level for ExportOptions.TLP.
//
// Speed: BenchmarkExport (10k pool values, about 35k objects: indicators with
// markings, a third scored, SCOs, based-on and indicates relationships, one
// report holding a fifth; 2 cores shared with other builds at load average
// 4–7, so noisy; 2026-11-29): 255–345 ms per export, 29–39k values/s, 1.2–1.6×
// decoding every input object into a generic map and 24–32× json.Marshal of
// the resulting events (both baselines measured in the same run). Decoding
// the objects is most of it; objects that carry only type and id (the MISP
// feed's records) cost the same within the noise.
//
// # Pushing to MISP (push.go)
//
// Client.PushEvent adds or edits one event through MISP's REST API as a MISP
// server does when it syncs (HEAD /events/view/{uuid}, POST /events/add or
// /events/edit/{uuid}; a "not newer" answer is ErrNotNewer);
// Client.UploadSTIX posts a bundle to /events/upload_stix/2. Both send the key
// raw in Authorization with Accept and Content-Type application/json. A
// scheduled push exports the collection, keeps the events MISP does not have
// yet at their timestamp (ChangedEvents against the FeedManifest of the last
// successful push) and sends them with Client.PushEvents, which goes on past
// a failing event and counts created, edited, unchanged and failed events.
//
// client.go is the only file making HTTP requests (push.go goes through its
// Client); convert.go and export.go are pure; source.go ties the converter to
// ingest.Source with a cursor that survives restarts.
package misp
