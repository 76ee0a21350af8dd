package scoring

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/stix"
)

// ExtensionID is the fixed id of ctibroker's risk-score
// extension-definition (STIX 2.1 §7.3). It never changes: consumers key the
// property extension by it.
const ExtensionID = "extension-definition--af6479eb-1cf8-4bc2-87b7-e0558fafb442"

// ExtensionSchemaURL is where the extension's JSON schema is published; the
// same file is schema/risk-score.json in the repository (see Schema).
const ExtensionSchemaURL = "https://raw.githubusercontent.com/ctibroker/ctibroker/main/scoring/schema/risk-score.json"

// ExtensionVersion is the version of the extension-definition.
const ExtensionVersion = "1.0.0"

//go:embed schema/risk-score.json
var schema []byte

// Schema returns the JSON schema of the risk-score property extension
// (a copy the caller may keep).
func Schema() []byte { return append([]byte(nil), schema...) }

// ExtensionDefinitionObject is the risk-score extension-definition SMO.
type ExtensionDefinitionObject struct {
	stix.Common
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	Schema         string   `json:"schema"`
	Version        string   `json:"version"`
	ExtensionTypes []string `json:"extension_types"`
}

// ExtensionDefinition returns the risk-score extension-definition as JSON,
// created by identityID (the instance's identity, "identity--<uuid>") at
// created, which should be a fixed time (the instance's creation) so the
// object is the same every time it is produced.
func ExtensionDefinition(identityID string, created time.Time) ([]byte, error) {
	id, ok := strings.CutPrefix(identityID, "identity--")
	if _, err := uuid.Parse(id); !ok || err != nil || len(id) != 36 {
		return nil, &stix.ValidationError{Type: "extension-definition", Property: "created_by_ref",
			Reason: fmt.Sprintf("%q is not an identity id", identityID)}
	}
	c := stix.NewTimestamp(created)
	obj := ExtensionDefinitionObject{
		Common: stix.Common{
			Type: "extension-definition", SpecVersion: "2.1", ID: ExtensionID,
			CreatedByRef: identityID, Created: &c, Modified: &c,
		},
		Name: "ctibroker risk score",
		Description: "ctibroker's 0-100 risk score for an indicator or observable, with its band, " +
			"each factor's contribution, the reporting sources, first and last seen, internal sightings, " +
			"false-positive reports and allow-list hits.",
		Schema:         ExtensionSchemaURL,
		Version:        ExtensionVersion,
		ExtensionTypes: []string{"property-extension"},
	}
	return json.Marshal(obj)
}

// Extension is the risk-score property extension: the Result plus
// extension_type, marshalled under extensions[ExtensionID].
type Extension struct {
	// ExtensionType is always "property-extension".
	ExtensionType string `json:"extension_type"`
	Result
}

// Extension returns the property extension for r.
func (r Result) Extension() Extension {
	return Extension{ExtensionType: "property-extension", Result: r}
}

// Extensions returns r's extension keyed by ExtensionID, ready to merge
// into an object's stix.Common.Extensions.
func (r Result) Extensions() (map[string]json.RawMessage, error) {
	b, err := json.Marshal(r.Extension())
	if err != nil {
		return nil, err
	}
	return map[string]json.RawMessage{ExtensionID: b}, nil
}
