// Package attack resolves MITRE ATT&CK ids (T1059.001, S0154, G0007, TA0002, ...)
// to the ATT&CK objects of the STIX bundles MITRE publishes, following revoked
// and deprecated entries to their replacements, and imports those bundles into
// the store byte-for-byte. ATT&CK data is © The MITRE Corporation; see NOTICE.
package attack
