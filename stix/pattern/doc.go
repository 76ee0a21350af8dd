// Package pattern parses and builds STIX 2.1 patterns (STIX 2.1 §9, grammar
// STIXPattern.g4 of oasis-open/cti-stix2-json-schemas).
package pattern
