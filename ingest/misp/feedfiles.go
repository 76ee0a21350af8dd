package misp

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
)

// FeedManifest returns the manifest.json of a MISP feed of events, keyed by
// event uuid (misp.md §3.1).
func FeedManifest(events []Event) Manifest {
	m := make(Manifest, len(events))
	for i := range events {
		ev := &events[i]
		m[ev.UUID] = ManifestEntry{Orgc: ev.Orgc, Tag: ev.Tag, Info: ev.Info, Date: ev.Date, Analysis: ev.Analysis,
			ThreatLevelID: ev.ThreatLevelID, Timestamp: ev.Timestamp}
	}
	return m
}

// MarshalFeedEvent returns the <uuid>.json of a MISP feed: {"Event": {...}}.
func MarshalFeedEvent(ev *Event) ([]byte, error) {
	return json.Marshal(struct {
		Event *Event `json:"Event"`
	}{ev})
}

// WriteHashesCSV writes the hashes.csv of a MISP feed: one line
// md5(value),event_uuid per value, composite values one line per part.
func WriteHashesCSV(w io.Writer, events []Event) error {
	var sb strings.Builder
	for i := range events {
		for _, a := range events[i].Attribute {
			for _, p := range strings.Split(a.Value, "|") {
				h := md5.Sum([]byte(p))
				sb.WriteString(hex.EncodeToString(h[:]) + "," + events[i].UUID + "\n")
			}
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}
