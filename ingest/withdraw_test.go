package ingest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/storage"
)

// TestRunWithdrawalPositions: runs of feeds reporting one value, live or
// withdrawn, at various seen times; the indicator ends up withdrawn exactly when
// every feed's latest report (by seen time, live winning a tie) is a withdrawal.
func TestRunWithdrawalPositions(t *testing.T) {
	const value = "203.0.113.77"
	at := func(h int) time.Time { return testTime.Add(time.Duration(h) * time.Hour) }
	live := func(h int) ingest.Observation {
		return ingest.Observation{Type: "ipv4-addr", Value: value, Detect: true, Seen: at(h)}
	}
	gone := func(h int) ingest.Observation {
		o := live(h)
		o.Revoked = true
		return o
	}
	batch := func(obs ...ingest.Observation) ingest.Batch { return ingest.Batch{Observations: obs} }
	type run struct {
		feed    string
		batches []ingest.Batch
	}
	for name, tt := range map[string]struct {
		runs          []run
		wantWithdrawn bool
	}{
		// The OTX case: the value is live in a pulse seen on a later day, expired in
		// an older pulse; the older pulse comes in a later batch of the same run.
		"older withdrawal in a later batch":                 {[]run{{"A", []ingest.Batch{batch(live(30)), batch(gone(2))}}}, false},
		"older withdrawal, same day, later batch":           {[]run{{"A", []ingest.Batch{batch(live(3)), batch(gone(1))}}}, false},
		"older withdrawal in a later run":                   {[]run{{"A", []ingest.Batch{batch(live(30))}}, {"A", []ingest.Batch{batch(gone(2))}}}, false},
		"newer withdrawal in a later batch":                 {[]run{{"A", []ingest.Batch{batch(live(2)), batch(gone(30))}}}, true},
		"newer withdrawal in a later run":                   {[]run{{"A", []ingest.Batch{batch(live(2))}}, {"A", []ingest.Batch{batch(gone(30))}}}, true},
		"live and withdrawn in one batch, withdrawal newer": {[]run{{"A", []ingest.Batch{batch(live(0)), batch(live(1), gone(5))}}}, true},
		"live and withdrawn in one batch, live newer":       {[]run{{"A", []ingest.Batch{batch(gone(1), live(5))}}}, false},
		"tie: live wins":                                    {[]run{{"A", []ingest.Batch{batch(gone(4), live(4), gone(4))}}}, false},
		// An old live report does not publish a value its feed withdrew later.
		"older live report after a withdrawal, later run": {[]run{{"A", []ingest.Batch{batch(live(1)), batch(gone(30))}}, {"A", []ingest.Batch{batch(live(5))}}}, true},
		"newer live report after a withdrawal, later run": {[]run{{"A", []ingest.Batch{batch(live(1)), batch(gone(30))}}, {"A", []ingest.Batch{batch(live(40))}}}, false},
		// Same day, withdrawn then live again in a later batch, then another feed's
		// withdrawal in the same run: A's live position is remembered although the
		// day's provenance record of A is the withdrawal.
		"same-day flip remembered within the run": {[]run{
			{"B", []ingest.Batch{batch(live(0))}},
			{"A", []ingest.Batch{batch(gone(1)), batch(live(3))}},
		}, false},
		// Withdrawn before it was ever published; an older live report in a later
		// batch of the same run does not publish it.
		"never published, older live report in a later batch": {[]run{{"A", []ingest.Batch{batch(gone(5)), batch(live(1))}}}, true},
		"never published, newer live report in a later batch": {[]run{{"A", []ingest.Batch{batch(gone(5)), batch(live(9))}}}, false},
		"every feed withdrew":     {[]run{{"A", []ingest.Batch{batch(live(0))}}, {"B", []ingest.Batch{batch(live(0))}}, {"A", []ingest.Batch{batch(gone(30))}}, {"B", []ingest.Batch{batch(gone(31))}}}, true},
		"another feed still live": {[]run{{"A", []ingest.Batch{batch(live(0))}}, {"B", []ingest.Batch{batch(live(29))}}, {"A", []ingest.Batch{batch(gone(30))}}}, false},
	} {
		t.Run(name, func(t *testing.T) {
			s := testStore(t)
			now := at(48)
			r := newRunner(s, &now)
			for _, ru := range tt.runs {
				resetCursor(t, s, ru.feed)
				mustRun(t, r, feed(ru.feed, &sliceSource{batches: ru.batches}))
			}
			v, _ := ingest.Normalize("ipv4-addr", value)
			if _, err := s.GetObject(context.Background(), ingest.DefaultPool, ingest.IndicatorID(v), storage.Filter{}); errors.Is(err, storage.ErrNotFound) {
				if !tt.wantWithdrawn {
					t.Fatal("never published")
				}
				return // never published: as good as withdrawn
			}
			ind := getObject(t, s, ingest.IndicatorID(v))
			_, withdrawn := ind["valid_until"]
			if withdrawn != tt.wantWithdrawn {
				t.Fatalf("withdrawn = %v, want %v: %v", withdrawn, tt.wantWithdrawn, ind)
			}
		})
	}
}

// TestRunWithdrawalProvenanceRecord: a withdrawal and a newer live report of one
// feed on one day, in two batches, leave two provenance records of that day in
// that order (the live one a second after midnight) and the value published.
func TestRunWithdrawalProvenanceRecord(t *testing.T) {
	s := testStore(t)
	now := testTime.Add(10 * time.Hour)
	r := newRunner(s, &now)
	o := ingest.Observation{Type: "domain-name", Value: "flip.example", Detect: true, Seen: testTime}
	g := o
	g.Revoked, g.Seen = true, testTime.Add(-time.Hour)
	// The day's record is the latest report of the day: live (09:26) over the
	// withdrawal (08:26), whichever batch came first.
	mustRun(t, r, feed("F", &sliceSource{batches: []ingest.Batch{{Observations: []ingest.Observation{g}}, {Observations: []ingest.Observation{o}}}}))
	prov, err := s.Provenance(context.Background(), "domain-name", "flip.example")
	if err != nil || len(prov) != 2 || !prov[0].Revoked || prov[1].Revoked || !prov[1].Day.Equal(prov[0].Day.Add(time.Second)) {
		t.Fatalf("provenance %+v %v", prov, err)
	}
	v, _ := ingest.Normalize("domain-name", "flip.example")
	if _, ok := getObject(t, s, ingest.IndicatorID(v))["valid_until"]; ok {
		t.Fatal("value withdrawn although its feed's latest report is live")
	}
}

// TestRunWithdrawalSameDayChanges: a feed's position changing within one UTC day
// (withdrawn, live again, withdrawn again; in batches and in runs) is recorded
// as records of that day in the order of the changes, one second apart, so that
// the last record of each feed is its position; a report repeating the position
// adds nothing.
func TestRunWithdrawalSameDayChanges(t *testing.T) {
	s := testStore(t)
	now := testTime.Add(10 * time.Hour)
	r := newRunner(s, &now)
	day := testTime.Truncate(24 * time.Hour)
	o := func(h int, revoked bool) ingest.Observation {
		return ingest.Observation{Type: "domain-name", Value: "flip.example", Detect: true, Revoked: revoked, Seen: testTime.Add(time.Duration(h) * time.Minute)}
	}
	run := func(batches ...[]ingest.Observation) {
		var bs []ingest.Batch
		for _, b := range batches {
			bs = append(bs, ingest.Batch{Observations: b})
		}
		resetCursor(t, s, "F")
		mustRun(t, r, feed("F", &sliceSource{batches: bs}))
	}
	v, _ := ingest.Normalize("domain-name", "flip.example")
	published := func() bool {
		_, ok := getObject(t, s, ingest.IndicatorID(v))["valid_until"]
		return !ok
	}
	run([]ingest.Observation{o(0, false)}, []ingest.Observation{o(10, true)}) // live, then withdrawn: one batch each
	if published() {
		t.Fatal("published after the withdrawal")
	}
	run([]ingest.Observation{o(20, false)}) // live again, a later run of the same day
	if !published() {
		t.Fatal("not published again")
	}
	run([]ingest.Observation{o(15, true)}, []ingest.Observation{o(20, false)}) // an older withdrawal, a repeat: nothing
	run([]ingest.Observation{o(30, true)})                                     // withdrawn again
	if published() {
		t.Fatal("published after the second withdrawal")
	}
	prov, err := s.Provenance(context.Background(), "domain-name", "flip.example")
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{false, true, false, true}
	if len(prov) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(prov), len(want), prov)
	}
	for i, p := range prov {
		if p.Revoked != want[i] || !p.Day.Equal(day.Add(time.Duration(i)*time.Second)) {
			t.Errorf("record %d: day %s revoked %v, want %s %v", i, p.Day, p.Revoked, day.Add(time.Duration(i)*time.Second), want[i])
		}
	}
}
