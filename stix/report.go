package stix

// Report is a STIX 2.1 Report SDO (§4.15).
type Report struct {
	Common
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	ReportTypes []string  `json:"report_types,omitempty"`
	Published   Timestamp `json:"published"`
	ObjectRefs  []string  `json:"object_refs"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (r *Report) Validate() error { return validateTyped(r) }

// Grouping is a STIX 2.1 Grouping SDO (§4.4).
type Grouping struct {
	Common
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Context     string   `json:"context"`
	ObjectRefs  []string `json:"object_refs"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (g *Grouping) Validate() error { return validateTyped(g) }

// Note is a STIX 2.1 Note SDO (§4.12).
type Note struct {
	Common
	Abstract   string   `json:"abstract,omitempty"`
	Content    string   `json:"content"`
	Authors    []string `json:"authors,omitempty"`
	ObjectRefs []string `json:"object_refs"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (n *Note) Validate() error { return validateTyped(n) }

// Opinion is a STIX 2.1 Opinion SDO (§4.14); Opinion is one of opinion-enum.
type Opinion struct {
	Common
	Explanation string   `json:"explanation,omitempty"`
	Authors     []string `json:"authors,omitempty"`
	Opinion     string   `json:"opinion"`
	ObjectRefs  []string `json:"object_refs"`
}

// Validate reports the first MUST-level problem as a *ValidationError, or nil.
func (o *Opinion) Validate() error { return validateTyped(o) }
