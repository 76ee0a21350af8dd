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
	Count int
	// FirstSeen and LastSeen bound the sightings; zero when unknown.
	FirstSeen, LastSeen time.Time
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
	// Feed and Provider name the report's origin.
	Feed     string `json:"feed"`
	Provider string `json:"provider,omitempty"`
	// Reliability is the feed's reliability used (0–100).
	Reliability int `json:"reliability"`
	// Severity is the mapped verdict (0–1) and Native the provider's words.
	Severity float64 `json:"severity"`
	Native   string  `json:"native,omitempty"`
	// Decay is the age factor applied (0–1).
	Decay float64 `json:"decay"`
	// Evidence is what the report contributes alone, in score points.
	Evidence float64 `json:"evidence"`
	// FirstSeen and LastSeen are the report's times, when known.
	FirstSeen stix.Timestamp `json:"first_seen,omitzero"`
	LastSeen  stix.Timestamp `json:"last_seen,omitzero"`
	// Revoked is true when the feed withdrew the value.
	Revoked bool `json:"revoked,omitempty"`
}

// SightingsSummary is the sightings part of a Result.
type SightingsSummary struct {
	// Count is the number of internal sightings.
	Count int `json:"count"`
	// FirstSeen and LastSeen bound them, when known.
	FirstSeen stix.Timestamp `json:"first_seen,omitzero"`
	LastSeen  stix.Timestamp `json:"last_seen,omitzero"`
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
	FirstSeen stix.Timestamp `json:"first_seen,omitzero"`
	LastSeen  stix.Timestamp `json:"last_seen,omitzero"`
	// Sightings summarise internal sightings.
	Sightings SightingsSummary `json:"sightings"`
	// FalsePositives are the false-positive reports, sorted by From.
	FalsePositives []FalsePositive `json:"false_positives"`
	// AllowListHits are all hits, context-only ones included, sorted.
	AllowListHits []warninglist.Hit `json:"allow_list_hits"`
	// CappedBy says which allow-list hit capped the score, if one did.
	CappedBy string `json:"capped_by,omitempty"`
	// Relevance is how much the value concerns the organisation and the
	// priority it gives the score, when an organisation profile is
	// configured; nil otherwise. Score never sets it (WithRelevance does):
	// the score itself is the same whoever we are. Curation leaves it out of
	// published versions, since its reasons reveal the profile.
	Relevance *Relevance `json:"relevance,omitempty"`
}

// round2 rounds to 0.01 for reporting; scores use the exact values.
func round2(x float64) float64 { return math.Round(x*100) / 100 }

// ts converts a time, keeping the zero time zero (and so omitted).
func ts(t time.Time) stix.Timestamp {
	if t.IsZero() {
		return stix.Timestamp{}
	}
	return stix.NewTimestamp(t)
}

// decayAt returns 0.5^((age−grace)/halfLife) for a value last seen at t,
// 1 while the age is within the grace period, and unknown when t is zero.
func decayAt(t, asOf time.Time, graceDays, halfLifeDays, unknown float64) float64 {
	if t.IsZero() {
		return unknown
	}
	age := asOf.Sub(t).Hours()/24 - graceDays
	if age <= 0 {
		return 1
	}
	return math.Exp2(-age / halfLifeDays)
}

// scoredReport is a report with its computed parts.
type scoredReport struct {
	r         *Report
	key       string  // independence key: the provider, else the feed
	byFeed    bool    // key is a feed name
	rel       float64 // the feed's reliability as a fraction
	weight    float64 // what it makes of a report: floor + (1−floor) × rel
	a, b, c   float64 // severity-only, with reliability, with decay
	decay     float64
	ageDays   float64
	hasSeenAt bool
}

// calc holds every number a score is made of.
type calc struct {
	halfLife, grace  float64
	reps             []scoredReport // sorted by compareReports
	maxA, maxB, maxC float64
	argA, argB, argC int
	nGroups          int
	evidence         float64
	sightCount       int
	withSight        float64
	nFP              int
	fpMult, afterFP  float64
	capHit           int // index into in.AllowListHits, -1 for none
	points, final    float64
	value            int
}

// compute does the arithmetic of Score without building explanations.
func compute(in *Inputs, w *Weights, asOf time.Time) calc {
	k := calc{argA: -1, argB: -1, argC: -1, capHit: -1, fpMult: 1}
	k.halfLife = w.HalfLifeDays.For(in.Type)
	k.grace = max(w.GraceDays.For(in.Type), 0)
	if !(k.halfLife > 0) {
		k.halfLife = 1
	}
	k.reps = make([]scoredReport, len(in.Reports))
	for i := range in.Reports {
		r := &in.Reports[i]
		s := scoredReport{r: r, key: r.Provider}
		if s.key == "" {
			s.key, s.byFeed = r.Feed, true
		}
		rel := r.Reliability
		if rel == 0 {
			rel = w.DefaultReliability
		}
		s.rel = clamp01(float64(rel) / 100)
		s.weight = float64(w.ReliabilityFloor + (1-w.ReliabilityFloor)*s.rel)
		seen := r.LastSeen
		if seen.IsZero() {
			seen = r.FirstSeen
		}
		s.hasSeenAt = !seen.IsZero()
		if s.hasSeenAt {
			s.ageDays = asOf.Sub(seen).Hours() / 24
		}
		s.decay = decayAt(seen, asOf, k.grace, k.halfLife, w.UnknownAgeFactor)
		if !r.Revoked {
			s.a = float64(w.SourceMax * clamp01(r.Verdict.Severity))
			s.b = float64(s.a * s.weight)
			s.c = float64(s.b * s.decay)
		}
		k.reps[i] = s
	}
	// Order reports so that the result does not depend on input order.
	if len(k.reps) > 1 {
		slices.SortStableFunc(k.reps, func(x, y scoredReport) int { return compareReports(x.r, y.r) })
	}
	for i := range k.reps {
		s := &k.reps[i]
		if s.a > k.maxA {
			k.maxA, k.argA = s.a, i
		}
		if s.b > k.maxB {
			k.maxB, k.argB = s.b, i
		}
		if s.c > k.maxC {
			k.maxC, k.argC = s.c, i
		}
	}
	// Noisy OR over independence groups, each group's strongest report,
	// groups taken in the order of their first report; every group but the
	// strongest enters with the exponent Corroboration.
	miss := 1.0
	strongest := false
	for i := range k.reps {
		key, byFeed := k.reps[i].key, k.reps[i].byFeed
		first := true
		for j := 0; j < i; j++ {
			if k.reps[j].key == key && k.reps[j].byFeed == byFeed {
				first = false
				break
			}
		}
		if !first {
			continue
		}
		g := k.reps[i].c
		for j := i + 1; j < len(k.reps); j++ {
			if k.reps[j].key == key && k.reps[j].byFeed == byFeed && k.reps[j].c > g {
				g = k.reps[j].c
			}
		}
		if g > 0 {
			k.nGroups++
		}
		if !strongest && g == k.maxC {
			strongest = true // the strongest group counts as it is
			miss = float64(miss * (1 - g))
		} else if w.Corroboration > 1 {
			miss = float64(miss * math.Pow(1-g, w.Corroboration))
		} else {
			miss = float64(miss * (1 - g))
		}
	}
	k.evidence = clamp01(1 - miss)

	// Sightings raise what the feeds say.
	k.sightCount = max(in.Sightings.Count, 0)
	sightS := 0.0
	if k.sightCount > 0 && w.SightingsScale > 0 && k.evidence > 0 {
		last := in.Sightings.LastSeen
		if last.IsZero() {
			last = in.Sightings.FirstSeen
		}
		sightS = clamp01(w.SightingsWeight * (1 - math.Exp(-float64(k.sightCount)/w.SightingsScale)) *
			decayAt(last, asOf, k.grace, k.halfLife, w.UnknownAgeFactor))
	}
	k.withSight = k.evidence + float64(sightS*k.evidence*(1-k.evidence))

	// False positives lower it.
	for _, fp := range in.FalsePositives {
		k.nFP += max(fp.Count, 1)
	}
	if k.nFP > 0 {
		k.fpMult = math.Pow(clamp01(w.FalsePositivePenalty), float64(k.nFP))
	}
	k.afterFP = float64(k.withSight * k.fpMult)

	// Allow-lists cap it.
	for i := range in.AllowListHits {
		h := &in.AllowListHits[i]
		if h.ContextOnly || h.Tier == warninglist.TierContext {
			continue
		}
		if k.capHit < 0 || capBefore(h, &in.AllowListHits[k.capHit]) {
			k.capHit = i
		}
	}
	k.points = 100 * k.afterFP
	k.final = k.points
	if k.capHit >= 0 && k.final > float64(w.AllowListCap) {
		k.final = float64(w.AllowListCap)
	}
	k.value = min(max(int(math.Round(k.final)), 0), 100)
	return k
}

// capBefore orders capping hits for the capped_by reason: the
// organisation's own assets first, then suppress, then shared; by list and
// entry within a tier.
func capBefore(x, y *warninglist.Hit) bool {
	if a, b := capTierRank(x.Tier), capTierRank(y.Tier); a != b {
		return a < b
	}
	if x.List != y.List {
		return x.List < y.List
	}
	return x.Entry < y.Entry
}

// ScoreValue returns only the score and band Score would compute, without
// the explanation: the fast path for re-scoring many values to see which
// change band.
func ScoreValue(in Inputs, w Weights, asOf time.Time) (value int, band string) {
	k := compute(&in, &w, asOf.UTC())
	band, _ = w.band(k.value)
	return k.value, band
}

// Score computes the risk score of in at time asOf with weights w. It does
// not validate w (Config.Validate does); with invalid weights the score is
// still in 0–100 but the properties may not hold.
func Score(in Inputs, w Weights, asOf time.Time) Result {
	asOf = asOf.UTC()
	k := compute(&in, &w, asOf)

	fps := append([]FalsePositive(nil), in.FalsePositives...)
	for i := range fps {
		fps[i].Count = max(fps[i].Count, 1)
	}
	slices.SortStableFunc(fps, func(x, y FalsePositive) int {
		if c := strings.Compare(x.From, y.From); c != 0 {
			return c
		}
		return x.Count - y.Count
	})
	hits := append([]warninglist.Hit(nil), in.AllowListHits...)
	slices.SortStableFunc(hits, func(x, y warninglist.Hit) int {
		if c := strings.Compare(x.List, y.List); c != 0 {
			return c
		}
		return strings.Compare(x.Entry, y.Entry)
	})
	if fps == nil {
		fps = []FalsePositive{}
	}
	if hits == nil {
		hits = []warninglist.Hit{}
	}
	res := Result{
		Value:          k.value,
		ScoredAt:       stix.NewTimestamp(asOf),
		FalsePositives: fps,
		AllowListHits:  hits,
		Sightings: SightingsSummary{
			Count: k.sightCount, FirstSeen: ts(in.Sightings.FirstSeen), LastSeen: ts(in.Sightings.LastSeen),
		},
	}
	res.Band, res.Confidence = w.band(k.value)
	res.Alert = k.value >= w.AlertMin()
	var capHit *warninglist.Hit
	if k.capHit >= 0 {
		capHit = &in.AllowListHits[k.capHit]
		res.CappedBy = capHit.List + " (" + capHit.Tier.String() + ")"
	}

	// Sources and the overall first/last seen.
	var first, last time.Time
	see := func(t time.Time) {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	res.Sources = make([]Source, len(k.reps))
	for i, s := range k.reps {
		r := s.r
		res.Sources[i] = Source{
			Feed: r.Feed, Provider: r.Provider, Reliability: int(math.Round(s.rel * 100)),
			Severity: round2(clamp01(r.Verdict.Severity)), Native: r.Verdict.Native,
			Decay: round2(s.decay), Evidence: round2(100 * s.c),
			FirstSeen: ts(r.FirstSeen), LastSeen: ts(r.LastSeen), Revoked: r.Revoked,
		}
		see(r.FirstSeen)
		see(r.LastSeen)
	}
	see(in.Sightings.FirstSeen)
	see(in.Sightings.LastSeen)
	res.FirstSeen, res.LastSeen = ts(first), ts(last)

	// Factors: a telescoping sum that adds up to the score.
	var e expl
	e.b = make([]byte, 0, 256)
	res.Factors = []Factor{
		{FactorSeverity, round2(100 * k.maxA), e.severity(k.reps, k.argA, w.SourceMax)},
		{FactorReputation, round2(100 * (k.maxB - k.maxA)), e.reputation(k.reps, k.argB)},
		{FactorAge, round2(100 * (k.maxC - k.maxB)), e.age(k.reps, k.argB, k.argC, in.Type, k.grace, k.halfLife)},
		{FactorPrevalence, round2(100 * (k.evidence - k.maxC)), e.prevalence(k.nGroups, len(k.reps), k.evidence, w.Corroboration)},
		{FactorSightings, round2(100 * (k.withSight - k.evidence)), e.sightings(k.sightCount, in.Sightings.LastSeen, k.evidence)},
		{FactorFalsePositives, round2(100 * (k.afterFP - k.withSight)), e.falsePositives(fps, k.nFP, k.fpMult)},
		{FactorAllowList, round2(k.final - k.points), e.allow(hits, capHit, w.AllowListCap, k.points)},
	}
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

// fmtF formats x with at most two decimals and no trailing zeros.
func fmtF(x float64) string {
	var buf [32]byte
	return string(appendF(buf[:0], x))
}

// appendF appends x with at most two decimals and no trailing zeros.
func appendF(b []byte, x float64) []byte {
	n := len(b)
	b = strconv.AppendFloat(b, round2(x), 'f', 2, 64)
	for len(b) > n && b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	if len(b) > n && b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	return b
}

// expl builds explanation strings in one reused buffer.
type expl struct{ b []byte }

func (e *expl) reset() *expl      { e.b = e.b[:0]; return e }
func (e *expl) s(x string) *expl  { e.b = append(e.b, x...); return e }
func (e *expl) f(x float64) *expl { e.b = appendF(e.b, x); return e }
func (e *expl) i(n int) *expl     { e.b = strconv.AppendInt(e.b, int64(n), 10); return e }
func (e *expl) string() string    { return string(e.b) }
func (e *expl) source(r *scoredReport) *expl {
	e.s(r.r.Feed)
	if r.r.Provider != "" && r.r.Provider != r.r.Feed {
		e.s(" (").s(r.r.Provider).s(")")
	}
	return e
}

func (e *expl) severity(reps []scoredReport, i int, sourceMax float64) string {
	if i < 0 {
		if len(reps) == 0 {
			return "no feed reports the value"
		}
		return "no report with a malicious verdict is in force"
	}
	s := &reps[i]
	e.reset().s("strongest verdict: ").source(s)
	if s.r.Verdict.Native != "" {
		e.s(" says ").s(s.r.Verdict.Native)
	}
	return e.s(" → severity ").f(clamp01(s.r.Verdict.Severity)).s(" × source max ").f(sourceMax).string()
}

func (e *expl) reputation(reps []scoredReport, i int) string {
	if i < 0 {
		return "no reliability-weighted evidence"
	}
	s := &reps[i]
	return e.reset().s("strongest report weighted by its feed's reliability: ").source(s).
		s(" (reliability ").i(int(math.Round(s.rel * 100))).s(" → ×").f(s.weight).s(")").string()
}

func (e *expl) age(reps []scoredReport, before, after int, typ string, grace, halfLife float64) string {
	if before < 0 {
		return "no evidence left to age"
	}
	e.reset()
	e.ageOf(&reps[before])
	if after >= 0 && after != before {
		e.s("; now strongest: ")
		e.ageOf(&reps[after])
	}
	return e.s("; half-life ").f(halfLife).s("d after ").f(grace).s("d grace for ").s(typ).string()
}

func (e *expl) ageOf(s *scoredReport) {
	e.source(s)
	if !s.hasSeenAt {
		e.s(" gives no first/last seen time → unknown-age factor ×").f(s.decay)
		return
	}
	e.s(" last seen ").f(max(s.ageDays, 0)).s("d ago → ×").f(s.decay)
}

func (e *expl) prevalence(groups, reports int, evidence, corroboration float64) string {
	rs := " reports)"
	if reports == 1 {
		rs = " report)"
	}
	if groups <= 1 {
		return e.reset().i(groups).s(" independent source in force (").i(reports).s(rs).string()
	}
	e.reset().i(groups).s(" independent sources in force (").i(reports).s(rs).
		s(" combine with diminishing returns to evidence ").f(evidence)
	if corroboration > 1 {
		e.s(" (corroboration ×").f(corroboration).s(")")
	}
	return e.string()
}

func (e *expl) sightings(n int, last time.Time, evidence float64) string {
	if n == 0 {
		return "no internal sightings"
	}
	e.reset().i(n).s(" internal sightings")
	if !last.IsZero() {
		e.s(", last ")
		e.b = last.UTC().AppendFormat(e.b, stix.TimestampLayout)
	}
	if evidence == 0 {
		e.s("; they raise only values that feeds report")
	}
	return e.string()
}

func (e *expl) falsePositives(fps []FalsePositive, n int, mult float64) string {
	if n == 0 {
		return "no false-positive reports"
	}
	e.reset().i(n).s(" false-positive report(s) from ")
	for i, fp := range fps {
		if i > 0 {
			e.s(", ")
		}
		e.s(fp.From)
		if fp.Count > 1 {
			e.s(" ×").i(fp.Count)
		}
	}
	return e.s(" → ×").f(mult).string()
}

func (e *expl) allow(hits []warninglist.Hit, capHit *warninglist.Hit, cap int, points float64) string {
	if len(hits) == 0 {
		return "on no allow-list"
	}
	e.reset()
	if capHit != nil {
		e.s("on allow-list ").s(capHit.List).s(" (").s(capHit.Tier.String()).s(", entry ").s(capHit.Entry).s("): capped at ").i(cap)
		if points <= float64(cap) {
			e.s(", already below")
		}
	}
	first := true
	for _, h := range hits {
		if !h.ContextOnly && h.Tier != warninglist.TierContext {
			continue
		}
		if first {
			if len(e.b) > 0 {
				e.s("; ")
			}
			e.s("context only, never lowers: ")
			first = false
		} else {
			e.s(", ")
		}
		e.s(h.List)
	}
	return e.string()
}
