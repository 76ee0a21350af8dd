package misp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Num is a MISP numeric field (id, timestamp, threat_level_id, distribution,
// ...): MISP writes numbers as JSON strings ("1603642920"), older exports and
// PyMISP sometimes as numbers. Both decode; null and "" decode as "".
type Num string

// UnmarshalJSON accepts a JSON string, a number or null.
func (n *Num) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*n = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = Num(strings.TrimSpace(s))
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		*n = Num(b)
	case string(b) == "true":
		*n = "1"
	case string(b) == "false":
		*n = "0"
	default:
		return fmt.Errorf("want a number or a numeric string, got %.20s", b)
	}
	return nil
}

// Int returns the number, and false when the field is empty or not an integer.
func (n Num) Int() (int64, bool) {
	v, err := strconv.ParseInt(string(n), 10, 64)
	return v, err == nil
}

// Time reads a unix-seconds field (timestamp, publish_timestamp, date_sighting);
// false when empty, zero or not a number.
func (n Num) Time() (time.Time, bool) {
	v, ok := n.Int()
	if !ok || v <= 0 {
		return time.Time{}, false
	}
	return time.Unix(v, 0).UTC(), true
}

// Flag is a MISP boolean (published, to_ids, deleted, ...): JSON true/false, or
// 0/1 as a number or a string in older data.
type Flag bool

// UnmarshalJSON accepts true, false, 0, 1, "0", "1", "true", "false" and null.
func (f *Flag) UnmarshalJSON(b []byte) error {
	switch s := strings.ToLower(strings.Trim(string(bytes.TrimSpace(b)), `"`)); s {
	case "true", "1":
		*f = true
	case "false", "0", "null", "":
		*f = false
	default:
		return fmt.Errorf("want a boolean or 0/1, got %.20s", b)
	}
	return nil
}

// Org is a MISP organisation (Event.Orgc, the creator; Event.Org, the owner on the
// sending instance; Sighting.Organisation).
type Org struct {
	ID   Num    `json:"id,omitempty"`
	Name string `json:"name"`
	UUID string `json:"uuid"`
}

// Tag is a MISP tag: a plain name or a machine tag namespace:predicate="value"
// (tlp:amber, misp-galaxy:threat-actor="APT 28", admiralty-scale:...).
type Tag struct {
	ID             Num    `json:"id,omitempty"`
	Name           string `json:"name"`
	Colour         string `json:"colour,omitempty"`
	Exportable     *Flag  `json:"exportable,omitempty"`
	Local          Flag   `json:"local,omitempty"`
	NumericalValue Num    `json:"numerical_value,omitempty"`
	IsGalaxy       Flag   `json:"is_galaxy,omitempty"`
}

// Galaxy is a MISP galaxy block with the clusters an event or attribute is
// tagged with (present in /events/view and restSearch output, absent in sync
// pushes, which carry misp-galaxy tags only).
type Galaxy struct {
	ID            Num             `json:"id,omitempty"`
	UUID          string          `json:"uuid"`
	Name          string          `json:"name"`
	Type          string          `json:"type"`
	Description   string          `json:"description,omitempty"`
	Namespace     string          `json:"namespace,omitempty"`
	Version       Num             `json:"version,omitempty"`
	GalaxyCluster []GalaxyCluster `json:"GalaxyCluster"`
}

// GalaxyCluster is one cluster (an ATT&CK technique, a threat actor, a malware
// family) of a galaxy.
type GalaxyCluster struct {
	ID          Num                        `json:"id,omitempty"`
	UUID        string                     `json:"uuid"`
	Type        string                     `json:"type"`
	Value       string                     `json:"value"`
	TagName     string                     `json:"tag_name"`
	Description string                     `json:"description,omitempty"`
	Source      string                     `json:"source,omitempty"`
	Authors     []string                   `json:"authors,omitempty"`
	Version     Num                        `json:"version,omitempty"`
	Meta        map[string]json.RawMessage `json:"meta,omitempty"`
}

// MetaStrings returns meta[key] as a list of strings: MISP writes meta values
// as lists, sometimes as a scalar (external_id); other shapes give nil.
func (c *GalaxyCluster) MetaStrings(key string) []string {
	raw, ok := c.Meta[key]
	if !ok {
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return []string{s}
	}
	return nil
}

// Sighting is a MISP sighting of an attribute. Type 0 is a sighting, 1 a false
// positive, 2 an expiration.
type Sighting struct {
	ID            Num    `json:"id,omitempty"`
	UUID          string `json:"uuid"`
	AttributeID   Num    `json:"attribute_id,omitempty"`
	AttributeUUID string `json:"attribute_uuid,omitempty"`
	EventID       Num    `json:"event_id,omitempty"`
	OrgID         Num    `json:"org_id,omitempty"`
	DateSighting  Num    `json:"date_sighting"`
	Source        string `json:"source,omitempty"`
	Type          Num    `json:"type"`
	Organisation  *Org   `json:"Organisation,omitempty"`
}

// Sighting types.
const (
	SightingSeen          = "0"
	SightingFalsePositive = "1"
	SightingExpiration    = "2"
)

// Attribute is a MISP attribute: one typed value (composite types join two
// values with "|").
type Attribute struct {
	ID                 Num        `json:"id,omitempty"`
	UUID               string     `json:"uuid"`
	EventID            Num        `json:"event_id,omitempty"`
	ObjectID           Num        `json:"object_id,omitempty"`
	ObjectRelation     *string    `json:"object_relation,omitempty"`
	Type               string     `json:"type"`
	Category           string     `json:"category"`
	Value              string     `json:"value"`
	ToIDs              *Flag      `json:"to_ids,omitempty"` // absent: the type's default (DefaultToIDs)
	Timestamp          Num        `json:"timestamp"`
	Deleted            Flag       `json:"deleted,omitempty"`
	Comment            string     `json:"comment,omitempty"`
	Distribution       Num        `json:"distribution,omitempty"`
	SharingGroupID     Num        `json:"sharing_group_id,omitempty"`
	DisableCorrelation Flag       `json:"disable_correlation,omitempty"`
	FirstSeen          *string    `json:"first_seen,omitempty"`
	LastSeen           *string    `json:"last_seen,omitempty"`
	Data               string     `json:"data,omitempty"`
	Tag                []Tag      `json:"Tag,omitempty"`
	Galaxy             []Galaxy   `json:"Galaxy,omitempty"`
	Sighting           []Sighting `json:"Sighting,omitempty"`
}

// ObjectReference is a typed link from a MISP object to another object or
// attribute of the event.
type ObjectReference struct {
	ID               Num    `json:"id,omitempty"`
	UUID             string `json:"uuid"`
	Timestamp        Num    `json:"timestamp,omitempty"`
	ObjectUUID       string `json:"object_uuid,omitempty"`
	SourceUUID       string `json:"source_uuid,omitempty"`
	ReferencedUUID   string `json:"referenced_uuid"`
	ReferencedType   Num    `json:"referenced_type,omitempty"` // 0 attribute, 1 object
	RelationshipType string `json:"relationship_type"`
	Comment          string `json:"comment,omitempty"`
	Deleted          Flag   `json:"deleted,omitempty"`
}

// Source returns the uuid of the referencing object (object_uuid or source_uuid).
func (r *ObjectReference) Source() string {
	if r.ObjectUUID != "" {
		return r.ObjectUUID
	}
	return r.SourceUUID
}

// Object is a MISP object: attributes grouped by a template (file, domain-ip,
// ip-port, ...), each with an object_relation.
type Object struct {
	ID              Num               `json:"id,omitempty"`
	UUID            string            `json:"uuid"`
	Name            string            `json:"name"`
	MetaCategory    string            `json:"meta-category,omitempty"`
	Description     string            `json:"description,omitempty"`
	TemplateUUID    string            `json:"template_uuid,omitempty"`
	TemplateVersion Num               `json:"template_version,omitempty"`
	Timestamp       Num               `json:"timestamp,omitempty"`
	Distribution    Num               `json:"distribution,omitempty"`
	Comment         string            `json:"comment,omitempty"`
	Deleted         Flag              `json:"deleted,omitempty"`
	FirstSeen       *string           `json:"first_seen,omitempty"`
	LastSeen        *string           `json:"last_seen,omitempty"`
	Attribute       []Attribute       `json:"Attribute,omitempty"`
	ObjectReference []ObjectReference `json:"ObjectReference,omitempty"`
}

// Event is a MISP event as /events/view, /events/restSearch, feeds
// (<uuid>.json) and sync pushes send it. The lower-case "orgc" some feeds write
// decodes into Orgc too (encoding/json matches keys case-insensitively), as
// MISP's Feed::__prepareEvent accepts it.
type Event struct {
	ID               Num           `json:"id,omitempty"`
	UUID             string        `json:"uuid"`
	Info             string        `json:"info"`
	Date             string        `json:"date,omitempty"`
	Timestamp        Num           `json:"timestamp"`
	PublishTimestamp Num           `json:"publish_timestamp,omitempty"`
	Published        Flag          `json:"published,omitempty"`
	ThreatLevelID    Num           `json:"threat_level_id,omitempty"`
	Analysis         Num           `json:"analysis,omitempty"`
	Distribution     Num           `json:"distribution,omitempty"`
	SharingGroupID   Num           `json:"sharing_group_id,omitempty"`
	ExtendsUUID      string        `json:"extends_uuid,omitempty"`
	Locked           Flag          `json:"locked,omitempty"`
	Protected        *Flag         `json:"protected,omitempty"`
	AttributeCount   Num           `json:"attribute_count,omitempty"`
	Orgc             *Org          `json:"Orgc,omitempty"`
	Org              *Org          `json:"Org,omitempty"`
	Tag              []Tag         `json:"Tag,omitempty"`
	Galaxy           []Galaxy      `json:"Galaxy,omitempty"`
	Attribute        []Attribute   `json:"Attribute,omitempty"`
	Object           []Object      `json:"Object,omitempty"`
	EventReport      []EventReport `json:"EventReport,omitempty"`
}

// EventReport is a MISP event report: a markdown text attached to the event.
type EventReport struct {
	ID           Num    `json:"id,omitempty"`
	UUID         string `json:"uuid"`
	Name         string `json:"name"`
	Content      string `json:"content"`
	Timestamp    Num    `json:"timestamp,omitempty"`
	Distribution Num    `json:"distribution,omitempty"`
	Deleted      Flag   `json:"deleted,omitempty"`
}

// Distribution levels of events, attributes and objects.
const (
	DistributionOrg          = 0 // your organisation only
	DistributionCommunity    = 1 // this community (the MISP instance's users)
	DistributionConnected    = 2 // connected communities
	DistributionAll          = 3 // all communities
	DistributionSharingGroup = 4 // a sharing group
	DistributionInherit      = 5 // attributes and objects: the event's
)

// ErrNotMISP is wrapped by the decoding errors for input that is not MISP JSON.
var ErrNotMISP = errors.New("not MISP event JSON")

// errTruncated marks input that ended before its JSON did (a cut-off response).
var errTruncated = errors.New("input cut off")

func eofErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %v", errTruncated, err)
	}
	return err
}

// DecodeEvents streams the MISP events in r, calling fn for each, one at a time
// so memory stays bounded by the largest event. r may hold:
//   - one event, {"Event": {...}} or bare {...} with uuid and info;
//   - a list of either: [{"Event": {...}}, ...];
//   - a restSearch response {"response": [{"Event": ...}, ...]} or
//     {"response": {"Attribute": [...]}} (attributes only, see AttributeSet).
//
// Attributes and objects outside any event ({"response": [{"Object": ...}]}
// from /objects/restSearch) reach fn as an Event with no UUID holding them. It returns how many events fn was called with.
// An error names the position in the input; a callback's error is returned as
// is.
func DecodeEvents(r io.Reader, fn func(*Event) error) (int, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return 0, fmt.Errorf("misp: %w", eofErr(err))
	}
	n := 0
	switch tok {
	case json.Delim('['):
		if err := decodeList(dec, "", &n, fn); err != nil {
			return n, err
		}
		if _, err := dec.Token(); err != nil {
			return n, fmt.Errorf("misp: %w", eofErr(err))
		}
		return n, nil
	case json.Delim('{'):
	default:
		return 0, fmt.Errorf("misp: want a JSON object or array, got %v: %w", tok, ErrNotMISP)
	}
	// An object: a wrapper ({"Event": ...}, {"response": ...}) or a bare event.
	// Wrapper keys are handled as they stream by; anything else is collected for a
	// bare event.
	bare := map[string]json.RawMessage{}
	wrapped := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return n, fmt.Errorf("misp: %w", eofErr(err))
		}
		key, _ := t.(string)
		switch key {
		case "Event":
			var ev Event
			if err := dec.Decode(&ev); err != nil {
				return n, fmt.Errorf("misp: Event: %w", eofErr(err))
			}
			n++
			if err := fn(&ev); err != nil {
				return n, err
			}
		case "response":
			wrapped = true
			t, err := dec.Token()
			if err != nil {
				return n, fmt.Errorf("misp: response: %w", eofErr(err))
			}
			switch t {
			case json.Delim('['):
				if err := decodeList(dec, "response", &n, fn); err != nil {
					return n, err
				}
				if _, err := dec.Token(); err != nil {
					return n, fmt.Errorf("misp: response: %w", eofErr(err))
				}
			case json.Delim('{'):
				if err := decodeAttributeSet(dec, &n, fn); err != nil {
					return n, err
				}
			case nil:
			default:
				return n, fmt.Errorf("misp: response: want a list of events or {\"Attribute\": [...]}: %w", ErrNotMISP)
			}
		default:
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return n, fmt.Errorf("misp: %s: %w", key, eofErr(err))
			}
			bare[key] = raw
		}
	}
	if _, err := dec.Token(); err != nil {
		return n, fmt.Errorf("misp: %w", eofErr(err))
	}
	if n > 0 || wrapped {
		return n, nil // a restSearch page past the last answers {"response": []}
	}
	if _, ok := bare["uuid"]; !ok {
		if errs, ok := bare["errors"]; ok {
			return 0, fmt.Errorf("misp: the server answered an error: %s: %w", clip(string(errs)), ErrNotMISP)
		}
		if name, ok := bare["name"]; ok {
			return 0, fmt.Errorf("misp: the server answered %s: %w", clip(string(name)), ErrNotMISP)
		}
		return 0, fmt.Errorf("misp: neither an event (no uuid) nor a list or response of events: %w", ErrNotMISP)
	}
	b, _ := json.Marshal(bare)
	var ev Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return 0, fmt.Errorf("misp: event: %w", err)
	}
	return 1, fn(&ev)
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// bareEvent is Event without its name, embedded in decodeList's wrapper.
type bareEvent Event

// decodeList reads list elements, each {"Event": {...}} or a bare event, after
// the opening bracket.
func decodeList(dec *json.Decoder, where string, n *int, fn func(*Event) error) error {
	for i := 0; dec.More(); i++ {
		// One pass: the wrapper keys, or the fields of a bare event.
		var w struct {
			Wrapped *Event          `json:"Event"`
			Object  json.RawMessage `json:"Object"` // {...}: an objects search item; [...]: a bare event's objects
			bareEvent
		}
		if err := dec.Decode(&w); err != nil {
			return fmt.Errorf("misp: %s[%d]: %w", where, i, eofErr(err))
		}
		obj := bytes.TrimSpace(w.Object)
		ev := w.Wrapped
		switch {
		case ev != nil:
		case len(obj) > 0 && obj[0] == '{':
			var o Object
			if err := json.Unmarshal(obj, &o); err != nil {
				return fmt.Errorf("misp: %s[%d].Object: %w", where, i, err)
			}
			ev = &Event{Object: []Object{o}} // /objects/restSearch: objects outside any event
		default:
			if len(obj) > 0 && obj[0] == '[' {
				if err := json.Unmarshal(obj, &w.bareEvent.Object); err != nil {
					return fmt.Errorf("misp: %s[%d].Object: %w", where, i, err)
				}
			}
			e := Event(w.bareEvent)
			ev = &e
			if ev.UUID == "" && ev.Info == "" && len(ev.Attribute) == 0 {
				return fmt.Errorf("misp: %s[%d]: not an event: %w", where, i, ErrNotMISP)
			}
		}
		*n++
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

// decodeAttributeSet reads {"Attribute": [...]} after its opening brace and
// passes the attributes as one event without a uuid.
func decodeAttributeSet(dec *json.Decoder, n *int, fn func(*Event) error) error {
	ev := &Event{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("misp: response: %w", eofErr(err))
		}
		key, _ := t.(string)
		if key == "Attribute" {
			if err := dec.Decode(&ev.Attribute); err != nil {
				return fmt.Errorf("misp: response.Attribute: %w", eofErr(err))
			}
			continue
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("misp: response.%s: %w", key, eofErr(err))
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("misp: response: %w", eofErr(err))
	}
	*n++
	return fn(ev)
}

// Manifest is a MISP feed's manifest.json: per event uuid, the event's summary.
type Manifest map[string]ManifestEntry

// ManifestEntry is one event of a feed manifest.
type ManifestEntry struct {
	Orgc          *Org   `json:"Orgc,omitempty"`
	Tag           []Tag  `json:"Tag,omitempty"`
	Info          string `json:"info"`
	Date          string `json:"date,omitempty"`
	Analysis      Num    `json:"analysis,omitempty"`
	ThreatLevelID Num    `json:"threat_level_id,omitempty"`
	Timestamp     Num    `json:"timestamp"`
}
