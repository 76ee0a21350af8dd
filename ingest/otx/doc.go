// Package otx ingests AlienVault OTX (DirectConnect API v1): subscribed pulses
// (/api/v1/pulses/subscribed, incremental by modified_since, paged by next) and
// indicator exports (/api/v1/indicators/export).
//
// A pulse becomes a STIX report (created_by_ref the OTX identity, object_refs
// listing everything below, the pulse's native fields in the OTX property
// extension), observations of its indicators for the pool (detection-worthy
// while is_active is 1 and the expiration has not passed; withdrawn otherwise),
// malware families (malware, is_family true), the adversary (intrusion-set),
// ATT&CK ids resolved through an *attack.Index to MITRE's own objects (unknown ids
// are warnings), targeted industries (identity, identity_class "class", with
// sectors and a targets relationship), CVEs (vulnerability) and the pulse TLP as a
// TLP 2.0 marking. Context SDOs get deterministic ids (ingest.ContextID), and the
// relationships between them deterministic ids too, so a pulse converted twice,
// or the same family named by two pulses, is one object. The observations carry
// the pulse's families, adversary and resolved ATT&CK ids as context, from which
// the Runner authors the indicates relationships of each detection-worthy
// indicator. The report lists the indicators, observables and context objects
// and the relationships between context objects; it does not list the
// indicates relationships (up to one per indicator and context object; both ends
// are listed). The converter relates the
// pulse's objects: the adversary uses the families and techniques, the families
// use the techniques, and the adversary (else the families) targets the sectors
// and CVEs. A pulse
// flagged more_indicators gets all its indicators from
// /api/v1/pulses/{id}/indicators. Within a batch, a value one pulse reports live
// is not withdrawn because another pulse lists it inactive or expired (Settle).
//
// client.go is the only file doing HTTP (through ingest.HTTPClient); convert.go
// is pure; source.go ties them to ingest.Source with a cursor that survives
// restarts.
package otx
