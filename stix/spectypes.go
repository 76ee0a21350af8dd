// Code generated from the OASIS STIX 2.1 JSON schemas (cti-stix2-json-schemas 3bf9e69,
// BSD-3-Clause, © OASIS Open) by a one-off script; the property and required lists
// below are facts taken from those schemas, completed from the spec where the
// schemas express them with oneOf (marking-definition). Check the schema before
// editing by hand.

package stix

// specTypes describes every object type STIX 2.1 defines.
var specTypes = map[string]*typeSpec{
	"artifact": {
		class:    classSCO,
		required: []string{},
		props:    propSet("decryption_key", "defanged", "encryption_algorithm", "extensions", "granular_markings", "hashes", "id", "mime_type", "object_marking_refs", "payload_bin", "spec_version", "type", "url"),
	},
	"attack-pattern": {
		class:    classSDO,
		required: []string{"created", "modified", "name", "spec_version"},
		props:    propSet("aliases", "confidence", "created", "created_by_ref", "description", "extensions", "external_references", "granular_markings", "id", "kill_chain_phases", "labels", "lang", "modified", "name", "object_marking_refs", "revoked", "spec_version", "type"),
	},
	"autonomous-system": {
		class:    classSCO,
		required: []string{"number"},
		props:    propSet("defanged", "extensions", "granular_markings", "id", "name", "number", "object_marking_refs", "rir", "spec_version", "type"),
	},
	"campaign": {
		class:    classSDO,
		required: []string{"created", "modified", "name", "spec_version"},
		props:    propSet("aliases", "confidence", "created", "created_by_ref", "description", "extensions", "external_references", "first_seen", "granular_markings", "id", "labels", "lang", "last_seen", "modified", "name", "object_marking_refs", "objective", "revoked", "spec_version", "type"),
	},
	"course-of-action": {
		class:    classSDO,
		required: []string{"created", "modified", "name", "spec_version"},
		props:    propSet("confidence", "created", "created_by_ref", "description", "extensions", "external_references", "granular_markings", "id", "labels", "lang", "modified", "name", "object_marking_refs", "revoked", "spec_version", "type"),
	},
	"directory": {
		class:    classSCO,
		required: []string{"path"},
		props:    propSet("atime", "contains_refs", "ctime", "defanged", "extensions", "granular_markings", "id", "mtime", "object_marking_refs", "path", "path_enc", "spec_version", "type"),
	},
	"domain-name": {
		class:    classSCO,
		required: []string{"value"},
		props:    propSet("defanged", "extensions", "granular_markings", "id", "object_marking_refs", "resolves_to_refs", "spec_version", "type", "value"),
	},
	"email-addr": {
		class:    classSCO,
		required: []string{"value"},
		props:    propSet("belongs_to_ref", "defanged", "display_name", "extensions", "granular_markings", "id", "object_marking_refs", "spec_version", "type", "value"),
	},
	"email-message": {
		class:    classSCO,
		required: []string{},
		props:    propSet("additional_header_fields", "bcc_refs", "cc_refs", "content_type", "date", "defanged", "extensions", "from_ref", "granular_markings", "id", "message_id", "object_marking_refs", "raw_email_ref", "received_lines", "sender_ref", "spec_version", "subject", "to_refs", "type"),
	},
	"extension-definition": {
		class:    classMeta,
		required: []string{"created", "extension_types", "modified", "name", "schema", "spec_version", "version"},
		props:    propSet("confidence", "created", "created_by_ref", "description", "extension_properties", "extension_types", "extensions", "external_references", "granular_markings", "id", "labels", "lang", "modified", "name", "object_marking_refs", "revoked", "schema", "spec_version", "type", "version"),
	},
	"file": {
		class:    classSCO,
		required: []string{},
		props:    propSet("atime", "contains_refs", "content_ref", "ctime", "defanged", "extensions", "granular_markings", "hashes", "id", "magic_number_hex", "mime_type", "mtime", "name", "name_enc", "object_marking_refs", "parent_directory_ref", "size", "spec_version", "type"),
	},
	"grouping": {
		class:    classSDO,
		required: []string{"context", "created", "modified", "object_refs", "spec_version"},
		props:    propSet("confidence", "context", "created", "created_by_ref", "description", "extensions", "external_references", "granular_markings", "id", "labels", "lang", "modified", "name", "object_marking_refs", "object_refs", "revoked", "spec_version", "type"),
	},
	"identity": {
		class:    classSDO,
		required: []string{"created", "modified", "name", "spec_version"},
		props:    propSet("confidence", "contact_information", "created", "created_by_ref", "description", "extensions", "external_references", "granular_markings", "id", "identity_class", "labels", "lang", "modified", "name", "object_marking_refs", "revoked", "roles", "sectors", "spec_version", "type"),
	},
	"incident": {
		class:    classSDO,
		required: []string{"created", "modified", "name", "spec_version"},
		props:    propSet("confidence", "created", "created_by_ref", "description", "extensions", "external_references", "granular_markings", "id", "labels", "lang", "modified", "name", "object_marking_refs", "revoked", "spec_version", "type"),
	},
	"indicator": {
		class:    classSDO,
		required: []string{"created", "modified", "pattern", "pattern_type", "spec_version", "valid_from"},
		props:    propSet("confidence", "created", "created_by_ref", "description", "extensions", "external_references", "granular_markings", "id", "indicator_types", "kill_chain_phases", "labels", "lang", "modified", "name", "object_marking_refs", "pattern", "pattern_type", "pattern_version", "revoked", "spec_version", "type", "valid_from", "valid_until"),
	},
	"infrastructure": {
		class:    classSDO,
		required: []string{"created", "modified", "name", "spec_version"},
		props:    propSet("aliases", "confidence", "created", "created_by_ref", "description", "extensions", "external_references", "first_seen", "granular_markings", "id", "infrastructure_types", "kill_chain_phases", "labels", "lang", "last_seen", "modified", "name", "object_marking_refs", "revoked", "spec_version", "type"),
	},
	"intrusion-set": {
		class:    classSDO,
		required: []string{"created", "modified", "name", "spec_version"},
		props:    propSet("aliases", "confidence", "created", "created_by_ref", "description", "extensions", "external_references", "first_seen", "goals", "granular_markings", "id", "labels", "lang", "last_seen", "modified", "name", "object_marking_refs", "primary_motivation", "resource_level", "revoked", "secondary_motivations", "spec_version", "type"),
	},
	"ipv4-addr": {
		class:    classSCO,
		required: []string{"value"},
		props:    propSet("belongs_to_refs", "defanged", "extensions", "granular_markings", "id", "object_marking_refs", "resolves_to_refs", "spec_version", "type", "value"),
	},
	"ipv6-addr": {
		class:    classSCO,
		required: []string{"value"},
		props:    propSet("belongs_to_refs", "defanged", "extensions", "granular_markings", "id", "object_marking_refs", "resolves_to_refs", "spec_version", "type", "value"),
	},
	"language-content": {
		class:    classMeta,
		required: []string{"contents", "created", "modified", "object_ref", "spec_version"},
		props:    propSet("confidence", "contents", "created", "created_by_ref", "extensions", "external_references", "granular_markings", "id", "labels", "lang", "modified", "object_marking_refs", "object_modified", "object_ref", "revoked", "spec_version", "type"),
	},
	"location": {
		class:    classSDO,
		required: []string{"created", "modified", "spec_version"},
		props:    propSet("administrative_area", "city", "confidence", "country", "created", "created_by_ref", "description", "extensions", "external_references", "granular_markings", "id", "labels", "lang", "latitude", "longitude", "modified", "name", "object_marking_refs", "postal_code", "precision", "region", "revoked", "spec_version", "street_address", "type"),
	},
	"mac-addr": {
		class:    classSCO,
		required: []string{"value"},
		props:    propSet("defanged", "extensions", "granular_markings", "id", "object_marking_refs", "spec_version", "type", "value"),
	},
	"malware": {
		class:    classSDO,
		required: []string{"created", "is_family", "modified", "spec_version"},
		props:    propSet("aliases", "architecture_execution_envs", "capabilities", "confidence", "created", "created_by_ref", "description", "extensions", "external_references", "first_seen", "granular_markings", "id", "implementation_languages", "is_family", "kill_chain_phases", "labels", "lang", "last_seen", "malware_types", "modified", "name", "object_marking_refs", "operating_system_refs", "revoked", "sample_refs", "spec_version", "type"),
	},
	"malware-analysis": {
		class:    classSDO,
		required: []string{"created", "modified", "product", "spec_version"},
		props:    propSet("analysis_definition_version", "analysis_ended", "analysis_engine_version", "analysis_sco_refs", "analysis_started", "confidence", "configuration_version", "created", "created_by_ref", "extensions", "external_references", "granular_markings", "host_vm_ref", "id", "installed_software_refs", "labels", "lang", "modified", "modules", "object_marking_refs", "operating_system_ref", "product", "result", "result_name", "revoked", "sample_ref", "spec_version", "submitted", "type", "version"),
	},
	"marking-definition": {
		class:    classMeta,
		required: []string{"created", "spec_version"},
		props:    propSet("created", "created_by_ref", "definition", "definition_type", "extensions", "external_references", "granular_markings", "id", "name", "object_marking_refs", "spec_version", "type"),
	},
	"mutex": {
		class:    classSCO,
		required: []string{"name"},
		props:    propSet("defanged", "extensions", "granular_markings", "id", "name", "object_marking_refs", "spec_version", "type"),
	},
	"network-traffic": {
		class:    classSCO,
		required: []string{"protocols"},
		props:    propSet("defanged", "dst_byte_count", "dst_packets", "dst_payload_ref", "dst_port", "dst_ref", "encapsulated_by_ref", "encapsulates_refs", "end", "extensions", "granular_markings", "id", "ipfix", "object_marking_refs", "protocols", "spec_version", "src_byte_count", "src_packets", "src_payload_ref", "src_port", "src_ref", "start", "type"),
	},
	"note": {
		class:    classSDO,
		required: []string{"content", "created", "modified", "object_refs", "spec_version"},
		props:    propSet("abstract", "authors", "confidence", "content", "created", "created_by_ref", "extensions", "external_references", "granular_markings", "id", "labels", "lang", "modified", "object_marking_refs", "object_refs", "revoked", "spec_version", "type"),
	},
	"observed-data": {
		class:    classSDO,
		required: []string{"created", "first_observed", "last_observed", "modified", "number_observed", "spec_version"},
		props:    propSet("confidence", "created", "created_by_ref", "extensions", "external_references", "first_observed", "granular_markings", "id", "labels", "lang", "last_observed", "modified", "number_observed", "object_marking_refs", "object_refs", "objects", "revoked", "spec_version", "type"),
	},
	"opinion": {
		class:    classSDO,
		required: []string{"created", "modified", "object_refs", "opinion", "spec_version"},
		props:    propSet("authors", "confidence", "created", "created_by_ref", "explanation", "extensions", "external_references", "granular_markings", "id", "labels", "lang", "modified", "object_marking_refs", "object_refs", "opinion", "revoked", "spec_version", "type"),
	},
	"process": {
		class:    classSCO,
		required: []string{},
		props:    propSet("child_refs", "command_line", "created_time", "creator_user_ref", "cwd", "defanged", "environment_variables", "extensions", "granular_markings", "id", "image_ref", "is_hidden", "object_marking_refs", "opened_connection_refs", "parent_ref", "pid", "spec_version", "type"),
	},
	"relationship": {
		class:    classSRO,
		required: []string{"created", "modified", "relationship_type", "source_ref", "spec_version", "target_ref"},
		props:    propSet("confidence", "created", "created_by_ref", "description", "extensions", "external_references", "granular_markings", "id", "labels", "lang", "modified", "object_marking_refs", "relationship_type", "revoked", "source_ref", "spec_version", "start_time", "stop_time", "target_ref", "type"),
	},
	"report": {
		class:    classSDO,
		required: []string{"created", "modified", "name", "object_refs", "published", "spec_version"},
		props:    propSet("confidence", "created", "created_by_ref", "description", "extensions", "external_references", "granular_markings", "id", "labels", "lang", "modified", "name", "object_marking_refs", "object_refs", "published", "report_types", "revoked", "spec_version", "type"),
	},
	"sighting": {
		class:    classSRO,
		required: []string{"created", "modified", "sighting_of_ref", "spec_version"},
		props:    propSet("confidence", "count", "created", "created_by_ref", "description", "extensions", "external_references", "first_seen", "granular_markings", "id", "labels", "lang", "last_seen", "modified", "object_marking_refs", "observed_data_refs", "revoked", "sighting_of_ref", "spec_version", "summary", "type", "where_sighted_refs"),
	},
	"software": {
		class:    classSCO,
		required: []string{"name"},
		props:    propSet("cpe", "defanged", "extensions", "granular_markings", "id", "languages", "name", "object_marking_refs", "spec_version", "swid", "type", "vendor", "version"),
	},
	"threat-actor": {
		class:    classSDO,
		required: []string{"created", "modified", "name", "spec_version"},
		props:    propSet("aliases", "confidence", "created", "created_by_ref", "description", "extensions", "external_references", "first_seen", "goals", "granular_markings", "id", "labels", "lang", "last_seen", "modified", "name", "object_marking_refs", "personal_motivations", "primary_motivation", "resource_level", "revoked", "roles", "secondary_motivations", "sophistication", "spec_version", "threat_actor_types", "type"),
	},
	"tool": {
		class:    classSDO,
		required: []string{"created", "modified", "name", "spec_version"},
		props:    propSet("aliases", "confidence", "created", "created_by_ref", "description", "extensions", "external_references", "granular_markings", "id", "kill_chain_phases", "labels", "lang", "modified", "name", "object_marking_refs", "revoked", "spec_version", "tool_types", "tool_version", "type"),
	},
	"url": {
		class:    classSCO,
		required: []string{"value"},
		props:    propSet("defanged", "extensions", "granular_markings", "id", "object_marking_refs", "spec_version", "type", "value"),
	},
	"user-account": {
		class:    classSCO,
		required: []string{},
		props:    propSet("account_created", "account_expires", "account_first_login", "account_last_login", "account_login", "account_type", "can_escalate_privs", "credential", "credential_last_changed", "defanged", "display_name", "extensions", "granular_markings", "id", "is_disabled", "is_privileged", "is_service_account", "object_marking_refs", "spec_version", "type", "user_id"),
	},
	"vulnerability": {
		class:    classSDO,
		required: []string{"created", "modified", "name", "spec_version"},
		props:    propSet("confidence", "created", "created_by_ref", "description", "extensions", "external_references", "granular_markings", "id", "labels", "lang", "modified", "name", "object_marking_refs", "revoked", "spec_version", "type"),
	},
	"windows-registry-key": {
		class:    classSCO,
		required: []string{},
		props:    propSet("creator_user_ref", "defanged", "extensions", "granular_markings", "id", "key", "modified_time", "number_of_subkeys", "object_marking_refs", "spec_version", "type", "values"),
	},
	"x509-certificate": {
		class:    classSCO,
		required: []string{},
		props:    propSet("defanged", "extensions", "granular_markings", "hashes", "id", "is_self_signed", "issuer", "object_marking_refs", "serial_number", "signature_algorithm", "spec_version", "subject", "subject_public_key_algorithm", "subject_public_key_exponent", "subject_public_key_modulus", "type", "validity_not_after", "validity_not_before", "version", "x509_v3_extensions"),
	},
}
