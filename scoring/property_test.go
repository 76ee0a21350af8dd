package scoring_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/warninglist"
)

// propertyRuns is how many random inputs each property sees.
const propertyRuns = 3000

// weightVariants are the default weights and two other valid settings, so
// the properties are not an accident of the defaults.
func weightVariants(t *testing.T) map[string]scoring.Weights {
	t.Helper()
	strict := scoring.DefaultWeights()
	strict.SourceMax, strict.AllowListCap, strict.FalsePositivePenalty = 1, 0, 0
	strict.HalfLifeDays = scoring.HalfLives{IP: 0.5, Domain: 2, URL: 1, File: 30, Email: 3, Other: 3}
	strict.SightingsWeight, strict.SightingsScale = 1, 0.5
	strict.Corroboration = 2.5
	lax := scoring.DefaultWeights()
	lax.Bands = []scoring.Band{{Name: "info", Min: 0}, {Name: "alert", Min: 40, Confidence: 70}}
	lax.AlertBand, lax.AllowListCap = "alert", 39
	lax.UnknownAgeFactor, lax.SightingsWeight = 1, 0
	vs := map[string]scoring.Weights{"default": scoring.DefaultWeights(), "strict": strict, "lax": lax}
	for name, w := range vs {
		if err := w.Validate(); err != nil {
			t.Fatalf("weights %s: %v", name, err)
		}
	}
	return vs
}

// forAll runs prop over propertyRuns random inputs per weight variant, with
// a fixed seed.
func forAll(t *testing.T, prop func(t *testing.T, r *rand.Rand, in scoring.Inputs, w scoring.Weights)) {
	for name, w := range weightVariants(t) {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(20261101, uint64(len(name))))
			for i := 0; i < propertyRuns; i++ {
				prop(t, r, randInputs(r), w)
				if t.Failed() {
					t.Fatalf("failed at run %d", i)
				}
			}
		})
	}
}

func TestPropertyIndependentSourceNeverLowers(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, in scoring.Inputs, w scoring.Weights) {
		before := scoring.Score(in, w, testTime)
		more := in
		more.Reports = append(append([]scoring.Report(nil), in.Reports...),
			randReport(r, "new-independent-feed", "new-provider"))
		if after := scoring.Score(more, w, testTime); after.Value < before.Value {
			t.Errorf("adding an independent source lowered the score %d → %d\ninputs: %+v\nadded: %+v",
				before.Value, after.Value, in, more.Reports[len(more.Reports)-1])
		}
		// Not even a report from a provider already present lowers it.
		same := in
		same.Reports = append(append([]scoring.Report(nil), in.Reports...),
			randReport(r, genFeeds[r.IntN(len(genFeeds))], genProviders[r.IntN(len(genProviders))]))
		if after := scoring.Score(same, w, testTime); after.Value < before.Value {
			t.Errorf("adding a report lowered the score %d → %d", before.Value, after.Value)
		}
	})
}

func TestPropertyAllowListedNeverAlerts(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, in scoring.Inputs, w scoring.Weights) {
		// Make the value as bad as possible, then allow-list it.
		for i := 0; i < 4; i++ {
			rep := randReport(r, genFeeds[i], genProviders[i])
			rep.Verdict.Severity, rep.Revoked, rep.Reliability, rep.LastSeen = 1, false, 100, testTime
			in.Reports = append(in.Reports, rep)
		}
		in.Sightings.Count += 50
		in.FalsePositives = nil
		capping := []warninglist.Hit{genHits[0], genHits[1], genHits[2]}
		in.AllowListHits = append(in.AllowListHits, capping[r.IntN(len(capping))])
		res := scoring.Score(in, w, testTime)
		if res.Alert || res.Value >= w.AlertMin() || res.Value > w.AllowListCap {
			t.Errorf("allow-listed value scored %d (%s, alert %v), want at most %d below the alert band",
				res.Value, res.Band, res.Alert, w.AllowListCap)
		}
		if res.CappedBy == "" && res.Value == w.AllowListCap {
			t.Errorf("capped score without capped_by")
		}
	})
}

func TestPropertyContextOnlyNeverLowers(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, in scoring.Inputs, w scoring.Weights) {
		before := scoring.Score(in, w, testTime)
		in.AllowListHits = append(append([]warninglist.Hit(nil), in.AllowListHits...), genHits[3+r.IntN(2)])
		if after := scoring.Score(in, w, testTime); after.Value != before.Value {
			t.Errorf("a context-only hit changed the score %d → %d", before.Value, after.Value)
		}
	})
}

func TestPropertyAgeNeverRaises(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, in scoring.Inputs, w scoring.Weights) {
		prev := scoring.Score(in, w, testTime)
		at := testTime
		for step := 0; step < 4; step++ {
			at = at.Add(time.Duration(r.Int64N(int64(60 * 24 * time.Hour))))
			next := scoring.Score(in, w, at)
			if next.Value > prev.Value {
				t.Errorf("score rose with age alone: %d → %d (asOf +%v)", prev.Value, next.Value, at.Sub(testTime))
			}
			prev = next
		}
	})
}

func TestPropertySightingsNeverLower(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, in scoring.Inputs, w scoring.Weights) {
		before := scoring.Score(in, w, testTime)
		more := in
		more.Sightings.Count += 1 + r.IntN(10)
		if after := scoring.Score(more, w, testTime); after.Value < before.Value {
			t.Errorf("more sightings lowered the score %d → %d", before.Value, after.Value)
		}
		// A newer sighting (later last seen) does not lower it either.
		newer := more
		newer.Sightings.LastSeen = testTime
		if a, b := scoring.Score(more, w, testTime), scoring.Score(newer, w, testTime); b.Value < a.Value {
			t.Errorf("a newer sighting lowered the score %d → %d", a.Value, b.Value)
		}
	})
}

func TestPropertyFalsePositivesNeverRaise(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, in scoring.Inputs, w scoring.Weights) {
		before := scoring.Score(in, w, testTime)
		in.FalsePositives = append(append([]scoring.FalsePositive(nil), in.FalsePositives...),
			scoring.FalsePositive{From: "soc", Count: r.IntN(4)})
		after := scoring.Score(in, w, testTime)
		if after.Value > before.Value {
			t.Errorf("a false-positive report raised the score %d → %d", before.Value, after.Value)
		}
		if before.CappedBy == "" && after.Value == before.Value && before.Value > 3 {
			t.Errorf("a false-positive report did not lower a score of %d", before.Value)
		}
	})
}

func TestPropertyDeterministic(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, in scoring.Inputs, w scoring.Weights) {
		a, err := json.Marshal(scoring.Score(in, w, testTime))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(scoring.Score(in, w, testTime))
		if !bytes.Equal(a, b) {
			t.Fatalf("same input, different bytes:\n%s\n%s", a, b)
		}
		// Input order does not matter either.
		p := in
		p.Reports = append([]scoring.Report(nil), in.Reports...)
		r.Shuffle(len(p.Reports), func(i, j int) { p.Reports[i], p.Reports[j] = p.Reports[j], p.Reports[i] })
		p.AllowListHits = append([]warninglist.Hit(nil), in.AllowListHits...)
		r.Shuffle(len(p.AllowListHits), func(i, j int) { p.AllowListHits[i], p.AllowListHits[j] = p.AllowListHits[j], p.AllowListHits[i] })
		p.FalsePositives = append([]scoring.FalsePositive(nil), in.FalsePositives...)
		r.Shuffle(len(p.FalsePositives), func(i, j int) { p.FalsePositives[i], p.FalsePositives[j] = p.FalsePositives[j], p.FalsePositives[i] })
		c, _ := json.Marshal(scoring.Score(p, w, testTime))
		if !bytes.Equal(a, c) {
			t.Fatalf("permuted input, different bytes:\n%s\n%s", a, c)
		}
	})
}

func TestPropertyFactorsAddUp(t *testing.T) {
	forAll(t, func(t *testing.T, r *rand.Rand, in scoring.Inputs, w scoring.Weights) {
		res := scoring.Score(in, w, testTime)
		if len(res.Factors) != 7 {
			t.Fatalf("%d factors, want 7", len(res.Factors))
		}
		sum := 0.0
		for _, f := range res.Factors {
			sum += f.Value
		}
		if math.Abs(sum-float64(res.Value)) > 0.5+0.05 {
			t.Errorf("factors add up to %.2f, score is %d: %+v", sum, res.Value, res.Factors)
		}
		if res.Value < 0 || res.Value > 100 {
			t.Errorf("score %d outside 0-100", res.Value)
		}
		if b, c := bandOf(w, res.Value); res.Band != b || res.Confidence != c {
			t.Errorf("band %s/%d for %d, want %s/%d", res.Band, res.Confidence, res.Value, b, c)
		}
	})
}

// bandOf is an independent reading of the bands.
func bandOf(w scoring.Weights, v int) (string, int) {
	for i := len(w.Bands) - 1; i >= 0; i-- {
		if v >= w.Bands[i].Min {
			return w.Bands[i].Name, w.Bands[i].Confidence
		}
	}
	return "", 0
}
