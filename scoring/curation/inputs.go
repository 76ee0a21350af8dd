package curation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/warninglist"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// InputOptions is what InputsFor needs besides the store: the same feed
// table, verdict mapping and allow-lists a Curator uses, so that explain,
// score-eval and curation score a value alike.
type InputOptions struct {
	// Feeds are the configured feeds by name. A record from a feed missing
	// here counts as its own provider with the reliability its record
	// carries; cmd adds entries for the provider names and "import-<provider>"
	// (the feeds `ctibroker import` writes) as newCurator does.
	Feeds map[string]Feed
	// Verdict maps a record to scoring's scale; nil: DefaultVerdict.
	Verdict VerdictFunc
	// AllowList, when set, gives Inputs.AllowListHits.
	AllowList *warninglist.Set
	// Logger receives a warning for each provenance record whose verdict
	// JSON is unreadable (the record still counts, with an empty verdict);
	// nil: discard.
	Logger *slog.Logger
}

// ScoringType returns the value type scoring and the allow-lists read for a
// provenance kind: hashes "file:sha-256" become "file:sha256"; other kinds
// are unchanged.
func ScoringType(kind string) string {
	if alg, ok := strings.CutPrefix(kind, "file:"); ok {
		return "file:" + strings.ReplaceAll(strings.ToLower(alg), "-", "")
	}
	return kind
}

// InputsFor builds the scoring inputs of one value (kind as ingest.Value.Kind
// writes it: "ipv4-addr", "file:sha-256", ...) from its provenance, its
// sightings (when store is also a storage.SightingStore) and the allow-lists,
// with the Meta a selection is tested against, except what only scoring
// gives (Score, Band, LastSeen, Reliability, Relevance) and Type (the STIX
// type of the object published for it), which the caller fills.
//
// Per feed, the report's first seen is its earliest record's day, its last
// seen the latest record's seen time (else its day), its verdict that of the
// latest record that was not a withdrawal, its reliability the feed's
// configured one (else the record's), and it is revoked when its latest
// record is a withdrawal. A value no feed reported gives Inputs without
// reports (Score gives it 0). Sightings marked false-positive become
// FalsePositives by source; the others add to Sightings.
func InputsFor(ctx context.Context, store storage.ProvenanceStore, kind, value string, opts *InputOptions) (scoring.Inputs, Meta, error) {
	if opts == nil {
		opts = &InputOptions{}
	}
	in := scoring.Inputs{Type: ScoringType(kind), Value: value}
	m := Meta{ValueType: kind, Value: value}
	recs, err := store.Provenance(ctx, kind, value)
	if err != nil {
		return in, m, fmt.Errorf("provenance of %s %s: %w", kind, value, err)
	}
	verdict := opts.Verdict
	if verdict == nil {
		verdict = DefaultVerdict
	}
	type agg struct {
		first, last time.Time
		latest      storage.Provenance
		rec         Record
		live        Record // the latest record that was not a withdrawal
		hasLive     bool
		ctx         RecordContext // union of the live records' context
	}
	byFeed := map[string]*agg{}
	var order []string
	for _, p := range recs {
		a := byFeed[p.Feed]
		if a == nil {
			a = &agg{first: p.Day}
			byFeed[p.Feed] = a
			order = append(order, p.Feed)
		}
		var r Record
		if len(p.Verdict) > 0 {
			if r, err = ParseRecord(p.Verdict); err != nil && opts.Logger != nil {
				opts.Logger.Warn("provenance verdict unreadable", "feed", p.Feed, "type", kind, "value", value,
					"day", p.Day.Format(time.DateOnly), "err", err)
			}
		}
		seen := r.Seen.Time
		if seen.IsZero() {
			seen = p.Day
		}
		a.latest, a.rec = p, r // records come ordered by day
		if seen.After(a.last) {
			a.last = seen
		}
		if !p.Revoked {
			a.live, a.hasLive = r, true
			c := &r.Context
			a.ctx.Labels = append(a.ctx.Labels, c.Labels...)
			a.ctx.Sectors = append(a.ctx.Sectors, c.Sectors...)
			a.ctx.AttackIDs = append(a.ctx.AttackIDs, c.AttackIDs...)
			a.ctx.CVEs = append(a.ctx.CVEs, c.CVEs...)
			a.ctx.Regions = append(a.ctx.Regions, c.Regions...)
			a.ctx.ReportRefs = append(a.ctx.ReportRefs, c.ReportRefs...)
		}
	}
	m.Share, m.TLP = auth.ShareCommunity, stix.TLPNone
	for _, feed := range order {
		a := byFeed[feed]
		cfg := opts.Feeds[feed]
		rel := cfg.Reliability
		if rel == 0 && a.rec.Reliability != nil {
			rel = scoring.Reliability(min(max(*a.rec.Reliability, 0), 100))
		}
		vrec := a.rec
		if a.hasLive {
			vrec = a.live
		}
		in.Reports = append(in.Reports, scoring.Report{Feed: feed, Provider: cfg.Provider, Reliability: rel,
			Verdict: verdict(cfg.Provider, &vrec), FirstSeen: a.first, LastSeen: a.last, Revoked: a.latest.Revoked})
		if a.latest.Revoked {
			continue
		}
		m.Feeds = append(m.Feeds, feed)
		if cfg.Share == "" && a.rec.Share == "" {
			m.Share = auth.ShareInternal // nobody said it may travel
		}
		m.Share = max(m.Share, shareOf(cfg.Share), shareOf(a.rec.Share))
		if a.rec.TLP != "" {
			l, err := auth.ParseTLP(a.rec.TLP)
			if err != nil {
				l = stix.TLPRed // an unreadable marking is treated as the strictest
			}
			m.TLP = max(m.TLP, l)
		}
		m.Labels = append(m.Labels, a.ctx.Labels...)
		m.Sectors = append(m.Sectors, a.ctx.Sectors...)
		m.Attack = append(m.Attack, a.ctx.AttackIDs...)
		m.CVEs = append(m.CVEs, a.ctx.CVEs...)
		m.Regions = append(m.Regions, a.ctx.Regions...)
		m.ReportRefs = append(m.ReportRefs, a.ctx.ReportRefs...)
	}
	slices.Sort(m.Feeds)
	m.Labels, m.Sectors, m.Attack, m.CVEs, m.Regions = uniq(m.Labels), uniq(m.Sectors), uniq(m.Attack), uniq(m.CVEs), uniq(m.Regions)
	m.ReportRefs = uniq(m.ReportRefs)
	if ss, ok := store.(storage.SightingStore); ok {
		sg, err := ss.Sightings(ctx, kind, value)
		if err != nil {
			return in, m, fmt.Errorf("sightings of %s %s: %w", kind, value, err)
		}
		addSightings(&in, sg)
	}
	if opts.AllowList != nil {
		in.AllowListHits = opts.AllowList.Match(in.Type, value)
	}
	return in, m, nil
}

// addSightings adds sightings to in: false-positive reports by source, the
// others to the count and the first and last seen times.
func addSightings(in *scoring.Inputs, sg []storage.Sighting) {
	fps := map[string]int{}
	var from []string
	for _, s := range sg {
		if s.FalsePositive {
			if _, ok := fps[s.Source]; !ok {
				from = append(from, s.Source)
			}
			fps[s.Source] += max(s.Count, 1)
			continue
		}
		in.Sightings.Count += max(s.Count, 1)
		if !s.FirstSeen.IsZero() && (in.Sightings.FirstSeen.IsZero() || s.FirstSeen.Before(in.Sightings.FirstSeen)) {
			in.Sightings.FirstSeen = s.FirstSeen
		}
		last := s.LastSeen
		if last.IsZero() {
			last = s.FirstSeen
		}
		if last.After(in.Sightings.LastSeen) {
			in.Sightings.LastSeen = last
		}
	}
	slices.Sort(from)
	for _, f := range from {
		in.FalsePositives = append(in.FalsePositives, scoring.FalsePositive{From: f, Count: fps[f]})
	}
}

// scored fills the parts of m that come from the score: score, band, last
// seen and the highest reliability among the live reports as scored.
func (m *Meta) scored(res *scoring.Result) {
	m.Score, m.Band = res.Value, res.Band
	m.LastSeen = res.LastSeen.Time
	m.Reliability = 0
	for _, s := range res.Sources {
		if !s.Revoked {
			m.Reliability = max(m.Reliability, s.Reliability)
		}
	}
}

// cpeRe finds CPE 2.3 names in a vulnerability object's JSON (any property:
// third-party objects carry them in custom properties or extensions).
var cpeRe = regexp.MustCompile(`cpe:2\.3:[aho\*]:[^"\s]+`)

// relCache holds what relevance read from the pool during one pass.
type relCache struct {
	vulns   map[string]*scoring.Vulnerability // by CVE
	reports map[string][]string               // targeted countries by report id
}

func newRelCache() *relCache {
	return &relCache{vulns: map[string]*scoring.Vulnerability{}, reports: map[string][]string{}}
}

// vulnerabilities reads the pool's vulnerability objects of cves (the ids
// ingest authors, ingest.ContextID): name and description as text, CPE 2.3
// names found anywhere in the object. A CVE without an object in the pool
// still counts, with its id as text.
func (c *relCache) vulnerabilities(ctx context.Context, store storage.ObjectReader, pool string, cves []string) ([]scoring.Vulnerability, error) {
	var missing []string
	idOf := map[string]string{}
	for _, cve := range cves {
		if _, ok := c.vulns[cve]; !ok {
			id := ingest.ContextID("vulnerability", cve)
			idOf[id] = cve
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		got, err := lastVersions(ctx, store, pool, missing)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
		for id, cve := range idOf {
			v := &scoring.Vulnerability{CVE: cve, Text: cve}
			if r, ok := got[id]; ok {
				fs, err := split(r.JSON, nil)
				if err == nil {
					v.Text = strings.TrimSpace(str(get(fs, "name")) + " " + str(get(fs, "description")))
				}
				for _, m := range cpeRe.FindAll(r.JSON, -1) {
					v.CPEs = append(v.CPEs, string(bytes.TrimRight(m, `\`)))
				}
			}
			c.vulns[cve] = v
		}
	}
	out := make([]scoring.Vulnerability, 0, len(cves))
	for _, cve := range cves {
		out = append(out, *c.vulns[cve])
	}
	return out, nil
}

// regions returns the countries the pool's reports refs say they target: the
// targeted_countries of any of their property extensions (OTX pulses carry
// them there). A report missing from the pool says nothing.
func (c *relCache) regions(ctx context.Context, store storage.ObjectReader, pool string, refs []string) ([]string, error) {
	var missing []string
	for _, id := range refs {
		if _, ok := c.reports[id]; !ok && strings.HasPrefix(id, "report--") {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		got, err := lastVersions(ctx, store, pool, missing)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
		for _, id := range missing {
			var countries []string
			if r, ok := got[id]; ok && bytes.Contains(r.JSON, []byte(`"targeted_countries"`)) {
				var d struct {
					Extensions map[string]struct {
						TargetedCountries []string `json:"targeted_countries"`
					} `json:"extensions"`
				}
				if err := json.Unmarshal(r.JSON, &d); err == nil {
					for _, x := range d.Extensions {
						countries = append(countries, x.TargetedCountries...)
					}
				}
			}
			c.reports[id] = countries
		}
	}
	var out []string
	for _, id := range refs {
		out = append(out, c.reports[id]...)
	}
	return out, nil
}

// RelevanceFor computes the relevance of the value m describes (as InputsFor
// returns it) to org: its sectors, regions and labels, the regions its reports
// (m.ReportRefs) in the pool collection say they target, the vulnerability
// objects of its CVEs there, and the value itself. It reads store only when
// org has products and the value names CVEs, or org has regions and the value
// names reports.
func RelevanceFor(ctx context.Context, store storage.ObjectReader, pool string, org *scoring.Organisation, m *Meta) (scoring.Relevance, error) {
	return relevance(ctx, store, pool, org, m, newRelCache())
}

func relevance(ctx context.Context, store storage.ObjectReader, pool string, org *scoring.Organisation, m *Meta, cache *relCache) (scoring.Relevance, error) {
	if org.IsZero() {
		return scoring.Relevance{Reasons: []scoring.RelevanceReason{}}, nil
	}
	in := scoring.RelevanceInputs{Type: baseType(m.ValueType), Value: m.Value, Sectors: m.Sectors, Regions: m.Regions, Labels: m.Labels}
	if len(org.Products) > 0 && len(m.CVEs) > 0 {
		vs, err := cache.vulnerabilities(ctx, store, pool, m.CVEs)
		if err != nil {
			return scoring.Relevance{}, fmt.Errorf("vulnerabilities of %s %s: %w", m.ValueType, m.Value, err)
		}
		in.Vulnerabilities = vs
	}
	if len(org.Regions) > 0 && len(m.ReportRefs) > 0 {
		rs, err := cache.regions(ctx, store, pool, m.ReportRefs)
		if err != nil {
			return scoring.Relevance{}, fmt.Errorf("reports of %s %s: %w", m.ValueType, m.Value, err)
		}
		in.Regions = append(slices.Clip(in.Regions), rs...)
	}
	return org.Relevance(in), nil
}
