package scoring

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/scoring/warninglist"
	"github.com/ctibroker/ctibroker/stix"
)

// Inputs is everything known about one normalised value.
type Inputs struct {
	// Type is the value's type: a STIX SCO type ("ipv4-addr",
	// "ipv6-addr", "domain-name", "url", "email-addr", ...) or a file hash
	// as "file:md5", "file:sha1", "file:sha256", "file:sha512". It selects
	// the age half-life.
	Type string
	// Value is the normalised value (for explanations only).
	Value string
	// Reports are the feeds' reports of the value, one per feed and
	// provider record, in any order.
	Reports []Report
	// Sightings are the value's sightings in the organisation's own
	// environment.
	Sightings Sightings
	// FalsePositives are consumers' false-positive reports (a STIX opinion
	// of disagree/strongly-disagree, or a verdict: false-positive entry).
	FalsePositives []FalsePositive
	// AllowListHits are the value's hits in the warninglists and the
	// organisation's assets (warninglist.Set.Match). Context-only hits are
	// reported but never lower the score.
	AllowListHits []warninglist.Hit
}

// Report is one feed's report of a value.
type Report struct {
	// Feed is the feed's configured name.
	Feed string
	// Provider is the provider behind the feed ("recordedfuture",
	// "virustotal", "maltiverse", "misp", "otx", ...). Reports with the
	// same provider are not independent: only the strongest counts. Empty
	// means the feed is its own provider.
	Provider string
	// Reliability is the feed's reliability; 0 uses
	// Weights.DefaultReliability.
	Reliability Reliability
	// Verdict is the provider's verdict mapped by a Severity* function.
	Verdict Verdict
	// FirstSeen and LastSeen are when the feed first and last reported the
	// value; zero when unknown.
	FirstSeen, LastSeen time.Time
	// Revoked is true when the feed withdrew the value (dropped from a
	// risk list, MISP deleted, OTX inactive, Maltiverse whitelisted).
	Revoked bool
}

// Sightings are internal observations of a value.
type Sightings struct {
	// Count is how many times the value was seen.
	Count int `json:"count"`
	// FirstSeen and LastSeen bound the sightings; zero when unknown.
	FirstSeen time.Time `json:"-"`
	LastSeen  time.Time `json:"-"`
}

// FalsePositive is one consumer's false-positive report about a value.
type FalsePositive struct {
	// From names who reported it (a consumer, an analyst, an organisation).
	From string `json:"from"`
	// Count is how many reports From made; 0 counts as 1.
	Count int `json:"count"`
}

// Factor is one signed contribution to a score, in score points.
type Factor struct {
	// Name is one of the Factor* constants.
	Name string `json:"name"`
	// Value is the contribution in points (rounded to 0.01).
	Value float64 `json:"value"`
	// Explanation says, for a person, where the contribution comes from.
	Explanation string `json:"explanation"`
}

// The factor names, in the order they appear in a Result.
const (
	FactorSeverity       = "provider-severity"
	FactorReputation     = "source-reputation"
	FactorAge            = "age"
	FactorPrevalence     = "prevalence"
	FactorSightings      = "sightings"
	FactorFalsePositives = "false-positives"
	FactorAllowList      = "allow-list"
)

// Source is one report as scored.
type Source struct {
	Feed        string          `json:"feed"`
	Provider    string          `json:"provider,omitempty"`
	Reliability int             `json:"reliability"`
	Severity    float64         `json:"severity"`
	Native      string          `json:"native,omitempty"`
	Decay       float64         `json:"decay"`
	Evidence    float64         `json:"evidence"`
	FirstSeen   *stix.Timestamp `json:"first_seen,omitempty"`
	LastSeen    *stix.Timestamp `json:"last_seen,omitempty"`
	Revoked     bool            `json:"revoked,omitempty"`
}

// SightingsSummary is the sightings part of a Result.
type SightingsSummary struct {
	Count     int             `json:"count"`
	FirstSeen *stix.Timestamp `json:"first_seen,omitempty"`
	LastSeen  *stix.Timestamp `json:"last_seen,omitempty"`
}

// Result is a score with its explanation. Its JSON form is the body of the
// risk-score extension (see Extension).
type Result struct {
	// Value is the score, 0–100.
	Value int `json:"score"`
	// Band is the name of the band Value falls in.
	Band string `json:"band"`
	// Alert is true when Band is the alert band or above.
	Alert bool `json:"alert"`
	// Confidence is the STIX confidence for the band.
	Confidence int `json:"confidence"`
	// ScoredAt is the asOf time the score was computed for.
	ScoredAt stix.Timestamp `json:"scored_at"`
	// Factors are the contributions, always all seven, in a fixed order.
	Factors []Factor `json:"factors"`
	// Sources are the reports, sorted by feed and provider.
	Sources []Source `json:"sources"`
	// FirstSeen and LastSeen span the reports and sightings.
	FirstSeen *stix.Timestamp `json:"first_seen,omitempty"`
	LastSeen  *stix.Timestamp `json:"last_seen,omitempty"`
	// Sightings summarise internal sightings.
	Sightings SightingsSummary `json:"sightings"`
	// FalsePositives are the false-positive reports, sorted by From.
	FalsePositives []FalsePositive `json:"false_positives"`
	// AllowListHits are all hits, context-only ones included, sorted.
	AllowListHits []warninglist.Hit `json:"allow_list_hits"`
	// CappedBy says which allow-list hit capped the score, if one did.
	CappedBy string `json:"capped_by,omitempty"`
}

// round2 rounds to 0.01 for reporting; scores use the exact values.
func round2(x float64) float64 { return math.Round(x*100) / 100 }

func ts(t time.Time) *stix.Timestamp {
	if t.IsZero() {
		return nil
	}
	v := stix.NewTimestamp(t)
	return &v
}

// decayAt returns 0.5^(age/halfLife) for a value last seen at t, 1 for an
// age of zero or less, and unknown when t is zero.
func decayAt(t, asOf time.Time, halfLifeDays, unknown float64) float64 {
	if t.IsZero() {
		return unknown
	}
	age := asOf.Sub(t).Hours() / 24
	if age <= 0 {
		return 1
	}
	return math.Exp2(-age / halfLifeDays)
}

// scoredReport is a report with its computed parts.
type scoredReport struct {
	r         *Report
	key       string // independence key
	rel       float64
	a, b, c   float64 // severity-only, with reliability, with decay
	decay     float64
	seen      time.Time
	ageDays   float64
	hasSeenAt bool
}

// Score computes the risk score of in at time asOf with weights w. It does
// not validate w (Config.Validate does); with invalid weights the score is
// still in 0–100 but the properties may not hold.
func Score(in Inputs, w Weights, asOf time.Time) Result {
	asOf = asOf.UTC()
	halfLife := w.HalfLifeDays.For(in.Type)
	if !(halfLife > 0) {
		halfLife = 1
	}
	// Order reports so that the result does not depend on input order.
	reps := make([]scoredReport, len(in.Reports))
	order := make([]int, len(in.Reports))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return compareReports(&in.Reports[i], &in.Reports[j]) })
	var maxA, maxB, maxC float64
	var argA, argB, argC = -1, -1, -1
	for k, i := range order {
		r := &in.Reports[i]
		s := scoredReport{r: r}
		s.key = r.Provider
		if s.key == "" {
			s.key = "feed:" + r.Feed
		}
		rel := r.Reliability
		if rel == 0 {
			rel = w.DefaultReliability
		}
		s.rel = clamp01(float64(rel) / 100)
		s.seen = r.LastSeen
		if s.seen.IsZero() {
			s.seen = r.FirstSeen
		}
		s.hasSeenAt = !s.seen.IsZero()
		if s.hasSeenAt {
			s.ageDays = asOf.Sub(s.seen).Hours() / 24
		}
		s.decay = decayAt(s.seen, asOf, halfLife, w.UnknownAgeFactor)
		if !r.Revoked {
			s.a = float64(w.SourceMax * clamp01(r.Verdict.Severity))
			s.b = float64(s.a * s.rel)
			s.c = float64(s.b * s.decay)
		}
		if s.a > maxA {
			maxA, argA = s.a, k
		}
		if s.b > maxB {
			maxB, argB = s.b, k
		}
		if s.c > maxC {
			maxC, argC = s.c, k
		}
		reps[k] = s
	}
	// Noisy OR over independence groups, each group's strongest report.
	groups := make([]scoredReport, 0, len(reps))
	for _, s := range reps {
		groups = append(groups, s)
	}
	slices.SortStableFunc(groups, func(x, y scoredReport) int {
		if c := strings.Compare(x.key, y.key); c != 0 {
			return c
		}
		switch { // strongest first within a group
		case x.c > y.c:
			return -1
		case x.c < y.c:
			return 1
		}
		return 0
	})
	miss := 1.0
	nGroups := 0
	for i, g := range groups {
		if i > 0 && groups[i-1].key == g.key {
			continue
		}
		if g.c > 0 {
			nGroups++
		}
		miss = float64(miss * (1 - g.c))
	}
	evidence := clamp01(1 - miss)

	// Sightings.
	sightCount := max(in.Sightings.Count, 0)
	sightS := 0.0
	if sightCount > 0 && w.SightingsScale > 0 {
		sLast := in.Sightings.LastSeen
		if sLast.IsZero() {
			sLast = in.Sightings.FirstSeen
		}
		sightS = clamp01(w.SightingsWeight * (1 - math.Exp(-float64(sightCount)/w.SightingsScale)) *
			decayAt(sLast, asOf, halfLife, w.UnknownAgeFactor))
	}
	withSight := evidence + float64(sightS*evidence*(1-evidence))

	// False positives.
	fps := append([]FalsePositive(nil), in.FalsePositives...)
	nFP := 0
	for i := range fps {
		if fps[i].Count <= 0 {
			fps[i].Count = 1
		}
		nFP += fps[i].Count
	}
	slices.SortStableFunc(fps, func(x, y FalsePositive) int {
		if c := strings.Compare(x.From, y.From); c != 0 {
			return c
		}
		return x.Count - y.Count
	})
	fpMult := 1.0
	if nFP > 0 {
		fpMult = math.Pow(clamp01(w.FalsePositivePenalty), float64(nFP))
	}
	afterFP := float64(withSight * fpMult)

	// Allow-lists.
	hits := append([]warninglist.Hit(nil), in.AllowListHits...)
	slices.SortStableFunc(hits, func(x, y warninglist.Hit) int {
		if c := strings.Compare(x.List, y.List); c != 0 {
			return c
		}
		return strings.Compare(x.Entry, y.Entry)
	})
	var capHit *warninglist.Hit
	for i := range hits {
		if !hits[i].ContextOnly && hits[i].Tier != warninglist.TierContext {
			if capHit == nil || capTierRank(hits[i].Tier) < capTierRank(capHit.Tier) {
				capHit = &hits[i]
			}
		}
	}
	points := 100 * afterFP
	final := points
	if capHit != nil && final > float64(w.AllowListCap) {
		final = float64(w.AllowListCap)
	}
	value := int(math.Round(final))
	value = min(max(value, 0), 100)

	res := Result{
		Value:          value,
		ScoredAt:       stix.NewTimestamp(asOf),
		FalsePositives: fps,
		AllowListHits:  hits,
		Sightings: SightingsSummary{
			Count: sightCount, FirstSeen: ts(in.Sightings.FirstSeen), LastSeen: ts(in.Sightings.LastSeen),
		},
	}
	if res.FalsePositives == nil {
		res.FalsePositives = []FalsePositive{}
	}
	if res.AllowListHits == nil {
		res.AllowListHits = []warninglist.Hit{}
	}
	res.Band, res.Confidence = w.band(value)
	res.Alert = value >= w.AlertMin()
	if capHit != nil {
		res.CappedBy = capHit.List + " (" + capHit.Tier.String() + ")"
	}

	// Sources and the overall first/last seen.
	var first, last time.Time
	res.Sources = make([]Source, len(reps))
	for k, s := range reps {
		r := s.r
		res.Sources[k] = Source{
			Feed: r.Feed, Provider: r.Provider, Reliability: int(math.Round(s.rel * 100)),
			Severity: round2(clamp01(r.Verdict.Severity)), Native: r.Verdict.Native,
			Decay: round2(s.decay), Evidence: round2(100 * s.c),
			FirstSeen: ts(r.FirstSeen), LastSeen: ts(r.LastSeen), Revoked: r.Revoked,
		}
		for _, t := range [2]time.Time{r.FirstSeen, r.LastSeen} {
			if !t.IsZero() && (first.IsZero() || t.Before(first)) {
				first = t
			}
			if t.After(last) {
				last = t
			}
		}
	}
	for _, t := range [2]time.Time{in.Sightings.FirstSeen, in.Sightings.LastSeen} {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	res.FirstSeen, res.LastSeen = ts(first), ts(last)

	// Factors: a telescoping sum that adds up to the score.
	f := make([]Factor, 0, 7)
	f = append(f, Factor{FactorSeverity, round2(100 * maxA), explainSeverity(reps, argA, w.SourceMax)})
	f = append(f, Factor{FactorReputation, round2(100 * (maxB - maxA)), explainReputation(reps, argB)})
	f = append(f, Factor{FactorAge, round2(100 * (maxC - maxB)), explainAge(reps, argC, in.Type, halfLife)})
	f = append(f, Factor{FactorPrevalence, round2(100 * (evidence - maxC)), explainPrevalence(nGroups, len(reps), evidence)})
	f = append(f, Factor{FactorSightings, round2(100 * (withSight - evidence)), explainSightings(sightCount, in.Sightings.LastSeen, evidence)})
	f = append(f, Factor{FactorFalsePositives, round2(100 * (afterFP - withSight)), explainFP(fps, nFP, fpMult)})
	f = append(f, Factor{FactorAllowList, round2(final - points), explainAllow(hits, capHit, w.AllowListCap, points)})
	res.Factors = f
	return res
}

// capTierRank orders the capping tiers for the capped_by reason: the
// organisation's own assets first, then suppress, then shared.
func capTierRank(t warninglist.Tier) int {
	switch t {
	case warninglist.TierAsset:
		return 0
	case warninglist.TierSuppress:
		return 1
	}
	return 2
}

func compareReports(x, y *Report) int {
	if c := strings.Compare(x.Feed, y.Feed); c != 0 {
		return c
	}
	if c := strings.Compare(x.Provider, y.Provider); c != 0 {
		return c
	}
	if c := x.LastSeen.Compare(y.LastSeen); c != 0 {
		return c
	}
	if c := x.FirstSeen.Compare(y.FirstSeen); c != 0 {
		return c
	}
	if x.Verdict.Severity != y.Verdict.Severity {
		if x.Verdict.Severity < y.Verdict.Severity {
			return -1
		}
		return 1
	}
	if c := strings.Compare(x.Verdict.Native, y.Verdict.Native); c != 0 {
		return c
	}
	if x.Reliability != y.Reliability {
		return int(x.Reliability - y.Reliability)
	}
	switch {
	case x.Revoked == y.Revoked:
		return 0
	case x.Revoked:
		return 1
	}
	return -1
}

// band returns the band name and confidence for a score.
func (w *Weights) band(v int) (string, int) {
	name, conf := "", 0
	for _, b := range w.Bands {
		if v >= b.Min {
			name, conf = b.Name, b.Confidence
		}
	}
	return name, conf
}

func fmtF(x float64) string { return strconv.FormatFloat(round2(x), 'f', -1, 64) }

func sourceName(s *scoredReport) string {
	if s.r.Provider != "" && s.r.Provider != s.r.Feed {
		return s.r.Feed + " (" + s.r.Provider + ")"
	}
	return s.r.Feed
}

func explainSeverity(reps []scoredReport, i int, sourceMax float64) string {
	if i < 0 {
		if len(reps) == 0 {
			return "no feed reports the value"
		}
		return "no report with a malicious verdict is in force"
	}
	s := &reps[i]
	v := s.r.Verdict
	out := "strongest verdict: " + sourceName(s)
	if v.Native != "" {
		out += " says " + v.Native
	}
	return out + " → severity " + fmtF(clamp01(v.Severity)) + " × source max " + fmtF(sourceMax)
}

func explainReputation(reps []scoredReport, i int) string {
	if i < 0 {
		return "no reliability-weighted evidence"
	}
	s := &reps[i]
	return "strongest report weighted by its feed's reliability: " + sourceName(s) +
		" (reliability " + strconv.Itoa(int(math.Round(s.rel*100))) + ")"
}

func explainAge(reps []scoredReport, i int, typ string, halfLife float64) string {
	if i < 0 {
		return "no evidence left to age"
	}
	s := &reps[i]
	hl := fmtF(halfLife) + "d for " + typ
	if !s.hasSeenAt {
		return sourceName(s) + " gives no first/last seen time → unknown-age factor " + fmtF(s.decay)
	}
	age := fmtF(max(s.ageDays, 0))
	return "strongest fresh report: " + sourceName(s) + " last seen " + age + "d ago, half-life " + hl + " → ×" + fmtF(s.decay)
}

func explainPrevalence(groups, reports int, evidence float64) string {
	rs := " reports)"
	if reports == 1 {
		rs = " report)"
	}
	if groups <= 1 {
		return strconv.Itoa(groups) + " independent source in force (" + strconv.Itoa(reports) + rs
	}
	return strconv.Itoa(groups) + " independent sources in force (" + strconv.Itoa(reports) +
		rs + " combine with diminishing returns to evidence " + fmtF(evidence)
}

func explainSightings(n int, last time.Time, evidence float64) string {
	if n == 0 {
		return "no internal sightings"
	}
	out := strconv.Itoa(n) + " internal sightings"
	if !last.IsZero() {
		out += ", last " + stix.NewTimestamp(last).String()
	}
	if evidence == 0 {
		out += "; they raise only values that feeds report"
	}
	return out
}

func explainFP(fps []FalsePositive, n int, mult float64) string {
	if n == 0 {
		return "no false-positive reports"
	}
	var b strings.Builder
	b.WriteString(strconv.Itoa(n))
	b.WriteString(" false-positive report(s) from ")
	for i, fp := range fps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(fp.From)
		if fp.Count > 1 {
			b.WriteString(" ×" + strconv.Itoa(fp.Count))
		}
	}
	b.WriteString(" → ×" + fmtF(mult))
	return b.String()
}

func explainAllow(hits []warninglist.Hit, capHit *warninglist.Hit, cap int, points float64) string {
	if len(hits) == 0 {
		return "on no allow-list"
	}
	var ctx []string
	for _, h := range hits {
		if h.ContextOnly || h.Tier == warninglist.TierContext {
			ctx = append(ctx, h.List)
		}
	}
	out := ""
	if capHit != nil {
		out = "on allow-list " + capHit.List + " (" + capHit.Tier.String() + ", entry " + capHit.Entry + "): capped at " + strconv.Itoa(cap)
		if points <= float64(cap) {
			out += ", already below"
		}
	}
	if len(ctx) > 0 {
		if out != "" {
			out += "; "
		}
		out += "context only, never lowers: " + strings.Join(ctx, ", ")
	}
	return out
}
