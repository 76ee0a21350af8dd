package stix

import "encoding/json"

// Common holds the properties shared by STIX objects (§3.2). Typed objects embed
// it; RawObject carries it parsed next to the exact bytes received.
type Common struct {
	Type               string                     `json:"type"`
	SpecVersion        string                     `json:"spec_version,omitempty"`
	ID                 string                     `json:"id"`
	CreatedByRef       string                     `json:"created_by_ref,omitempty"`
	Created            *Timestamp                 `json:"created,omitempty"`
	Modified           *Timestamp                 `json:"modified,omitempty"`
	Revoked            bool                       `json:"revoked,omitempty"`
	Labels             []string                   `json:"labels,omitempty"`
	Confidence         *int                       `json:"confidence,omitempty"`
	Lang               string                     `json:"lang,omitempty"`
	ExternalReferences []ExternalReference        `json:"external_references,omitempty"`
	ObjectMarkingRefs  []string                   `json:"object_marking_refs,omitempty"`
	GranularMarkings   []GranularMarking          `json:"granular_markings,omitempty"`
	Defanged           bool                       `json:"defanged,omitempty"`
	Extensions         map[string]json.RawMessage `json:"extensions,omitempty"`
}

// ExternalReference is a STIX external reference (§2.5).
type ExternalReference struct {
	SourceName  string            `json:"source_name"`
	Description string            `json:"description,omitempty"`
	URL         string            `json:"url,omitempty"`
	Hashes      map[string]string `json:"hashes,omitempty"`
	ExternalID  string            `json:"external_id,omitempty"`
}

// GranularMarking is a STIX granular marking (§7.2.3).
type GranularMarking struct {
	Lang       string   `json:"lang,omitempty"`
	MarkingRef string   `json:"marking_ref,omitempty"`
	Selectors  []string `json:"selectors"`
}

// Object is any STIX object: its common properties are reachable through Base.
type Object interface {
	Base() *Common
}

// Base returns the common properties; it makes every type embedding Common an Object.
func (c *Common) Base() *Common { return c }

// RawObject is an object received from outside, kept as its exact bytes next to
// its parsed common properties, so it can be republished byte-for-byte.
type RawObject struct {
	Common
	JSON json.RawMessage `json:"-"`
}

// MarshalJSON returns the stored bytes unchanged.
func (r RawObject) MarshalJSON() ([]byte, error) { return r.JSON, nil }
