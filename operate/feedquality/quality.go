package feedquality

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/scoring/warninglist"
	"github.com/ctibroker/ctibroker/storage"
)

// ErrNoScan is returned by Report when the store cannot list its provenance
// (it does not implement storage.ProvenanceScanner).
var ErrNoScan = errors.New("feedquality: the store cannot scan its provenance history")

// Component weights of the quality score, in points (they add up to 100).
const (
	WeightPrecision    = 40
	WeightConfirmation = 20
	WeightUniqueness   = 15
	WeightTimeliness   = 15
	WeightLiveness     = 10
)

// ConfirmedFull is the confirmed share at which the confirmation component is
// full: few values a feed reports are ever seen inside one organisation.
const ConfirmedFull = 0.10

// Summary is the feed-quality report of a set of feeds.
type Summary struct {
	// AsOf and Since bound the window (Since is zero for the whole history).
	AsOf  time.Time `json:"as_of"`
	Since time.Time `json:"since,omitzero"`
	// Values counts the distinct values any feed reported live in the window.
	Values int `json:"values"`
	// Sightings is false when the store keeps no sightings: confirmed and
	// false-positive counts are then unknown (zero).
	Sightings bool `json:"sightings"`
	// Feeds are the reported feeds, by name.
	Feeds []FeedQuality `json:"feeds"`
}

// FeedQuality is one feed's figures over the window.
type FeedQuality struct {
	Feed string `json:"feed"`
	// Reported counts the values the feed reported live in the window.
	Reported int `json:"reported"`
	// Unique counts those no other feed reported (up to AsOf).
	Unique int `json:"unique"`
	// Overlap counts, per other feed, the values both reported; feeds with
	// none are left out.
	Overlap map[string]int `json:"overlap"`
	// First, Tied and Later count the values another feed reported too by
	// whether this feed's first report came on an earlier day than all
	// others', on the same day as the earliest, or after it.
	First int `json:"first"`
	Tied  int `json:"tied"`
	Later int `json:"later"`
	// MedianLeadDays is the median of the days ahead of the next feed over
	// the values reported first (0 when none).
	MedianLeadDays float64 `json:"median_lead_days"`
	// Confirmed counts values an internal sighting saw on or after the
	// feed's first report.
	Confirmed int `json:"confirmed"`
	// FalsePositiveValues counts values with false-positive reports, and
	// FalsePositiveReports the reports.
	FalsePositiveValues  int `json:"false_positive_values"`
	FalsePositiveReports int `json:"false_positive_reports"`
	// AllowListed counts values on an allow-list that caps scores.
	AllowListed int `json:"allow_listed"`
	// Live counts values whose latest record from the feed is not a
	// withdrawal.
	Live int `json:"live"`
	// Quality is the score, 0–100, and Components its parts.
	Quality    int         `json:"quality"`
	Components []Component `json:"components"`
}

// Component is one part of a quality score.
type Component struct {
	Name string `json:"name"`
	// Share is the component's value in 0–1.
	Share float64 `json:"share"`
	// Points is Share times the component's weight (after scaling when
	// confirmation is unknown), rounded to 0.01.
	Points float64 `json:"points"`
	// Explanation says where the share comes from.
	Explanation string `json:"explanation"`
}

// Option adjusts Report.
type Option func(*options)

type options struct {
	allow *warninglist.Set
}

// WithAllowList counts allow-list hits against set (scoring's warninglists
// and the organisation's assets); without it AllowListed stays 0.
func WithAllowList(set *warninglist.Set) Option { return func(o *options) { o.allow = set } }

// Report computes the quality of feeds (every feed that reported a value live
// in the window when feeds is empty) over the window: provenance is kept per
// UTC day, so the window holds the records dated from the day of asOf − window
// up to asOf; window 0 is the whole history up to asOf. Records dated after asOf are
// ignored. store must implement storage.ProvenanceScanner (else ErrNoScan);
// when it is also a storage.SightingStore, sightings give the confirmed and
// false-positive counts. The result is deterministic for a given store.
func Report(ctx context.Context, store storage.ProvenanceStore, feeds []string, asOf time.Time, window time.Duration, opts ...Option) (*Summary, error) {
	sc, ok := store.(storage.ProvenanceScanner)
	if !ok {
		return nil, fmt.Errorf("%w (%T)", ErrNoScan, store)
	}
	if window < 0 {
		return nil, fmt.Errorf("feedquality: window %s is negative", window)
	}
	var o options
	for _, f := range opts {
		f(&o)
	}
	asOf = asOf.UTC()
	s := &Summary{AsOf: asOf}
	var since time.Time // first day in the window
	if window > 0 {
		s.Since = asOf.Add(-window)
		since = s.Since.Truncate(24 * time.Hour)
	}
	sights, _ := store.(storage.SightingStore)
	s.Sightings = sights != nil
	a := &acc{want: map[string]bool{}, feeds: map[string]*feedAcc{}}
	for _, f := range feeds {
		a.want[f] = true
		a.feed(f)
	}
	var pos []position
	err := sc.ScanProvenance(ctx, func(recs []storage.Provenance) error {
		pos = positions(pos[:0], recs, asOf, since)
		inWindow := false
		for i := range pos {
			if pos[i].inWindow && (len(a.want) == 0 || a.want[pos[i].feed]) {
				inWindow = true
				break
			}
		}
		if !inWindow {
			if anyInWindow(pos) {
				s.Values++
			}
			return nil
		}
		s.Values++
		v := valueFacts{}
		if sights != nil {
			sg, err := sights.Sightings(ctx, recs[0].Type, recs[0].Value)
			if err != nil {
				return fmt.Errorf("sightings of %s %s: %w", recs[0].Type, recs[0].Value, err)
			}
			for _, x := range sg {
				if x.FalsePositive {
					v.fpReports += max(x.Count, 1)
					continue
				}
				if !x.Internal {
					continue
				}
				last := x.LastSeen
				if last.IsZero() {
					last = x.FirstSeen
				}
				if last.After(asOf) {
					last = asOf
				}
				if !last.IsZero() && !x.FirstSeen.After(asOf) && last.After(v.lastSighting) {
					v.lastSighting = last
				}
			}
		}
		if o.allow != nil {
			for _, h := range o.allow.Match(curation.ScoringType(recs[0].Type), recs[0].Value) {
				if !h.ContextOnly && h.Tier != warninglist.TierContext {
					v.allowListed = true
					break
				}
			}
		}
		a.value(pos, &v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(a.feeds))
	for name := range a.feeds {
		if len(a.want) == 0 || a.want[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		s.Feeds = append(s.Feeds, a.feeds[name].result(name, s.Sightings))
	}
	if s.Feeds == nil {
		s.Feeds = []FeedQuality{}
	}
	return s, nil
}

// position is one feed's records of one value, up to asOf.
type position struct {
	feed      string
	firstLive time.Time // earliest live record's day; zero when none
	inWindow  bool      // a live record in the window
	revoked   bool      // the latest record is a withdrawal
}

// positions folds a value's records (ordered by day then feed) into one
// position per feed that reported it live, in order of first appearance.
func positions(out []position, recs []storage.Provenance, asOf, since time.Time) []position {
	for i := range recs {
		p := &recs[i]
		if p.Day.After(asOf) {
			continue
		}
		j := slices.IndexFunc(out, func(x position) bool { return x.feed == p.Feed })
		if j < 0 {
			out = append(out, position{feed: p.Feed})
			j = len(out) - 1
		}
		x := &out[j]
		x.revoked = p.Revoked // records come by day: the last one wins
		if p.Revoked {
			continue
		}
		if x.firstLive.IsZero() {
			x.firstLive = p.Day
		}
		if !p.Day.Before(since) {
			x.inWindow = true
		}
	}
	// Feeds that only ever withdrew the value never reported it.
	return slices.DeleteFunc(out, func(x position) bool { return x.firstLive.IsZero() })
}

func anyInWindow(pos []position) bool {
	for i := range pos {
		if pos[i].inWindow {
			return true
		}
	}
	return false
}

// valueFacts are what a value's sightings and allow-list hits say.
type valueFacts struct {
	lastSighting time.Time // latest internal sighting (capped at asOf)
	fpReports    int
	allowListed  bool
}

// acc accumulates per-feed counts over the scan.
type acc struct {
	want  map[string]bool
	feeds map[string]*feedAcc
}

type feedAcc struct {
	reported, unique, first, tied, later  int
	confirmed, fpValues, fpReports, allow int
	live                                  int
	overlap                               map[string]int
	leads                                 []float64
}

func (a *acc) feed(name string) *feedAcc {
	f := a.feeds[name]
	if f == nil {
		f = &feedAcc{overlap: map[string]int{}}
		a.feeds[name] = f
	}
	return f
}

// value counts one value for every feed that reported it in the window.
func (a *acc) value(pos []position, v *valueFacts) {
	for i := range pos {
		p := &pos[i]
		if !p.inWindow || len(a.want) > 0 && !a.want[p.feed] {
			continue
		}
		f := a.feed(p.feed)
		f.reported++
		if len(pos) == 1 {
			f.unique++
		}
		// The earliest other first report.
		var other time.Time
		for j := range pos {
			if j == i {
				continue
			}
			f.overlap[pos[j].feed]++
			if other.IsZero() || pos[j].firstLive.Before(other) {
				other = pos[j].firstLive
			}
		}
		if !other.IsZero() {
			switch {
			case p.firstLive.Before(other):
				f.first++
				f.leads = append(f.leads, other.Sub(p.firstLive).Hours()/24)
			case p.firstLive.Equal(other):
				f.tied++
			default:
				f.later++
			}
		}
		if !v.lastSighting.IsZero() && !v.lastSighting.Before(p.firstLive) {
			f.confirmed++
		}
		if v.fpReports > 0 {
			f.fpValues++
			f.fpReports += v.fpReports
		}
		if v.allowListed {
			f.allow++
		}
		if !p.revoked {
			f.live++
		}
	}
}

// result turns the counts into a FeedQuality with its score.
func (f *feedAcc) result(name string, sightings bool) FeedQuality {
	q := FeedQuality{Feed: name, Reported: f.reported, Unique: f.unique, Overlap: f.overlap, First: f.first, Tied: f.tied,
		Later: f.later, Confirmed: f.confirmed, FalsePositiveValues: f.fpValues, FalsePositiveReports: f.fpReports,
		AllowListed: f.allow, Live: f.live, Components: []Component{}}
	if len(f.leads) > 0 {
		slices.Sort(f.leads)
		n := len(f.leads)
		if n%2 == 1 {
			q.MedianLeadDays = f.leads[n/2]
		} else {
			q.MedianLeadDays = (f.leads[n/2-1] + f.leads[n/2]) / 2
		}
	}
	if f.reported == 0 {
		return q
	}
	r := float64(f.reported)
	scale := 1.0
	if !sightings {
		scale = 100.0 / (100 - WeightConfirmation)
	}
	itoa := strconv.Itoa
	disputed := min(f.fpValues+f.allow, f.reported)
	shared := f.first + f.tied + f.later
	timely, timelyWhy := 0.5, "no value shared with another feed: neutral"
	if shared > 0 {
		timely = float64(f.first) / float64(shared)
		timelyWhy = "first on " + itoa(f.first) + " of " + itoa(shared) + " values shared with other feeds"
	}
	parts := []struct {
		name   string
		share  float64
		weight float64
		why    string
	}{
		{"precision", 1 - float64(disputed)/r, WeightPrecision,
			itoa(f.fpValues) + " with false-positive reports and " + itoa(f.allow) + " allow-listed of " + itoa(f.reported) + " values"},
		{"confirmation", min(1, float64(f.confirmed)/r/ConfirmedFull), WeightConfirmation,
			itoa(f.confirmed) + " of " + itoa(f.reported) + " values seen internally after the feed reported them (" +
				strconv.FormatFloat(100*ConfirmedFull, 'f', -1, 64) + " % or more counts fully)"},
		{"uniqueness", float64(f.unique) / r, WeightUniqueness, itoa(f.unique) + " of " + itoa(f.reported) + " values reported by no other feed"},
		{"timeliness", timely, WeightTimeliness, timelyWhy},
		{"liveness", float64(f.live) / r, WeightLiveness, itoa(f.live) + " of " + itoa(f.reported) + " values not withdrawn"},
	}
	total := 0.0
	for _, p := range parts {
		w := p.weight * scale
		why := p.why
		if p.name == "confirmation" && !sightings {
			w, why = 0, "unknown: the store keeps no sightings (the other weights are scaled to 100)"
		}
		pts := p.share * w
		total += pts
		q.Components = append(q.Components, Component{Name: p.name, Share: round2(p.share), Points: round2(pts), Explanation: why})
	}
	q.Quality = min(max(int(math.Round(total)), 0), 100)
	return q
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
