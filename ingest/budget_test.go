package ingest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
)

// TestBudget: the minute slides, the day resets at UTC midnight, a spent day is
// a QuotaError naming the next midnight, and TryTake refuses a full minute.
func TestBudget(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 23, 59, 0, 0, time.UTC)
	b := &ingest.Budget{PerMinute: 2, PerDay: 3}
	for i, step := range []struct {
		at       time.Duration // after t0
		try      bool          // TryTake instead of Take
		wantWait time.Duration
		wantNext time.Time // a QuotaError until then
	}{
		{0, false, 0, time.Time{}},
		{10 * time.Second, false, 0, time.Time{}},
		{20 * time.Second, false, 40 * time.Second, time.Time{}},                             // the minute is full until t0+1m
		{30 * time.Second, true, 0, t0.Add(time.Minute)},                                     // TryTake: a quota error until then
		{50 * time.Second, false, 10 * time.Second, time.Time{}},                             // the request of t0+10s is still in the minute
		{61 * time.Second, false, 0, time.Time{}},                                            // a new UTC day, t0's request aged out: 1 of the day
		{71 * time.Second, false, 0, time.Time{}},                                            // 2 of the day
		{3 * time.Minute, false, 0, time.Time{}},                                             // 3 of the day
		{4 * time.Minute, false, 0, time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)},            // the day is spent
		{4*time.Minute + time.Second, true, 0, time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)}, // for TryTake too
	} {
		now := t0.Add(step.at)
		var wait time.Duration
		var err error
		if step.try {
			err = b.TryTake(now)
		} else {
			wait, err = b.Take(now)
		}
		var q *ingest.QuotaError
		switch {
		case !step.wantNext.IsZero():
			if !errors.As(err, &q) || !q.Next.Equal(step.wantNext) || !errors.Is(err, ingest.ErrBudget) {
				t.Fatalf("step %d (t0+%s): got %v, want a quota error until %s", i, step.at, err, step.wantNext)
			}
		case err != nil:
			t.Fatalf("step %d (t0+%s): %v", i, step.at, err)
		case wait != step.wantWait:
			t.Fatalf("step %d (t0+%s): wait %s, want %s", i, step.at, wait, step.wantWait)
		}
	}
	if day, used := b.Usage(); day != "2026-03-15" || used != 3 {
		t.Errorf("usage %s %d, want 2026-03-15 3", day, used)
	}
	for _, m := range []struct {
		day       string
		used      int
		wantDay   string
		wantUsed  int
		wantLeft  int
		remaining time.Time
	}{
		{"2026-03-15", 1, "2026-03-15", 3, 0, t0.Add(time.Hour)},      // lower count of the same day: kept
		{"2026-03-14", 9, "2026-03-15", 3, 0, t0.Add(time.Hour)},      // an earlier day: ignored
		{"2026-03-16", 1, "2026-03-16", 1, 2, t0.Add(25 * time.Hour)}, // a later day replaces
		{"", 5, "2026-03-16", 1, 3, t0.Add(50 * time.Hour)},           // nothing recorded; Remaining of another day is the whole budget
	} {
		b.MergeUsage(m.day, m.used)
		if day, used := b.Usage(); day != m.wantDay || used != m.wantUsed {
			t.Errorf("MergeUsage(%s, %d): usage %s %d, want %s %d", m.day, m.used, day, used, m.wantDay, m.wantUsed)
		}
		if left, ok := b.Remaining(m.remaining); !ok || left != m.wantLeft {
			t.Errorf("MergeUsage(%s, %d): Remaining %d %v, want %d", m.day, m.used, left, ok, m.wantLeft)
		}
	}
	if _, ok := (&ingest.Budget{}).Remaining(t0); ok {
		t.Error("an unlimited budget reports a remainder")
	}
}
