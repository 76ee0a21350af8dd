package misp

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrFeedEvent is wrapped by the errors of MarshalFeedEvent for an event a
// MISP feed cannot carry.
var ErrFeedEvent = errors.New("event unfit for a MISP feed")

// FeedManifest returns the manifest.json of a MISP feed of events (misp.md
// §3.1, PyMISP MISPEvent.manifest): per event uuid its Orgc, tags (name and
// colour), info, date, analysis, threat_level_id and timestamp, which MISP
// compares with its copy to decide what to fetch. Events without uuid are left
// out; of two events with one uuid the later timestamp wins.
func FeedManifest(events []Event) Manifest {
	m := make(Manifest, len(events))
	for i := range events {
		ev := &events[i]
		if ev.UUID == "" {
			continue
		}
		if old, ok := m[ev.UUID]; ok {
			a, _ := old.Timestamp.Int()
			b, _ := ev.Timestamp.Int()
			if a >= b {
				continue
			}
		}
		e := ManifestEntry{Info: ev.Info, Date: ev.Date, Analysis: ev.Analysis, ThreatLevelID: ev.ThreatLevelID,
			Timestamp: ev.Timestamp}
		if ev.Orgc != nil {
			e.Orgc = &Org{Name: ev.Orgc.Name, UUID: ev.Orgc.UUID}
		}
		e.Tag = make([]Tag, 0, len(ev.Tag))
		for _, t := range ev.Tag {
			e.Tag = append(e.Tag, Tag{Name: t.Name, Colour: t.Colour})
		}
		m[ev.UUID] = e
	}
	return m
}

// MarshalFeedEvent returns the <uuid>.json of a MISP feed: {"Event": {...}},
// compact, with numbers as strings as MISP writes them and without HTML
// escaping (MISP's PHP encoder writes <, > and & as they are). MISP requires
// uuid, info and Orgc (PyMISP to_feed); an event without them is an error
// wrapping ErrFeedEvent.
func MarshalFeedEvent(ev *Event) ([]byte, error) {
	switch {
	case ev == nil:
		return nil, fmt.Errorf("misp: feed event: nil: %w", ErrFeedEvent)
	case ev.UUID == "":
		return nil, fmt.Errorf("misp: feed event %q: uuid: missing: %w", ev.Info, ErrFeedEvent)
	case strings.TrimSpace(ev.Info) == "":
		return nil, fmt.Errorf("misp: feed event %s: info: missing: %w", ev.UUID, ErrFeedEvent)
	case ev.Orgc == nil || ev.Orgc.Name == "" && ev.Orgc.UUID == "":
		return nil, fmt.Errorf("misp: feed event %s: Orgc: missing: %w", ev.UUID, ErrFeedEvent)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Event *Event `json:"Event"`
	}{ev}); err != nil {
		return nil, fmt.Errorf("misp: feed event %s: %w", ev.UUID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// WriteHashesCSV writes the hashes.csv of a MISP feed as PyMISP's feed
// generator does (MISPAttribute.hash_values("md5") per attribute, one
// "<md5 of value>,<event uuid>" line each): values of composite types (a "|"
// in the type, and malware-sample) get one line per part. MISP reads it to
// correlate and cache a feed without downloading every event
// (Feed::__cacheMISPFeedCache). Deleted attributes are left out, so withdrawn
// values do not correlate; attributes of MISP objects are included.
func WriteHashesCSV(w io.Writer, events []Event) error {
	bw := bufio.NewWriter(w)
	line := make([]byte, 0, 80)
	write := func(a *Attribute, event string) {
		if a.Deleted {
			return
		}
		parts := []string{a.Value}
		if strings.Contains(a.Type, "|") || a.Type == "malware-sample" {
			parts = strings.Split(a.Value, "|")
		}
		for _, p := range parts {
			h := md5.Sum([]byte(p))
			line = hex.AppendEncode(line[:0], h[:])
			line = append(line, ',')
			line = append(line, event...)
			line = append(line, '\n')
			bw.Write(line)
		}
	}
	for i := range events {
		ev := &events[i]
		for j := range ev.Attribute {
			write(&ev.Attribute[j], ev.UUID)
		}
		for j := range ev.Object {
			if ev.Object[j].Deleted {
				continue
			}
			for k := range ev.Object[j].Attribute {
				write(&ev.Object[j].Attribute[k], ev.UUID)
			}
		}
	}
	return bw.Flush()
}
