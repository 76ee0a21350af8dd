package scoring

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes r as a breakdown for a person (what `ctibroker explain`
// prints): the score line, each factor with its contribution, the sources,
// sightings, false-positive reports, allow-list hits and, when set, the
// relevance with its reasons. The output is
// deterministic.
func (r Result) WriteText(w io.Writer) error {
	var b strings.Builder
	alert := ""
	if r.Alert {
		alert = ", alert"
	}
	fmt.Fprintf(&b, "score %d (%s%s), confidence %d, as of %s\n", r.Value, r.Band, alert, r.Confidence, r.ScoredAt)
	if r.CappedBy != "" {
		fmt.Fprintf(&b, "capped by %s\n", r.CappedBy)
	}
	if !r.FirstSeen.IsZero() {
		fmt.Fprintf(&b, "first seen %s, last seen %s\n", r.FirstSeen, r.LastSeen)
	}
	b.WriteString("factors:\n")
	for _, f := range r.Factors {
		fmt.Fprintf(&b, "  %-17s %+7.2f  %s\n", f.Name, f.Value, f.Explanation)
	}
	fmt.Fprintf(&b, "sources (%d):\n", len(r.Sources))
	for _, s := range r.Sources {
		name := s.Feed
		if s.Provider != "" && s.Provider != s.Feed {
			name += " (" + s.Provider + ")"
		}
		fmt.Fprintf(&b, "  %s: reliability %d, severity %s", name, s.Reliability, fmtF(s.Severity))
		if s.Native != "" {
			fmt.Fprintf(&b, " [%s]", s.Native)
		}
		fmt.Fprintf(&b, ", decay ×%s, evidence %s", fmtF(s.Decay), fmtF(s.Evidence))
		if !s.LastSeen.IsZero() {
			fmt.Fprintf(&b, ", last seen %s", s.LastSeen)
		}
		if s.Revoked {
			b.WriteString(", revoked")
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "sightings: %d", r.Sightings.Count)
	if !r.Sightings.LastSeen.IsZero() {
		fmt.Fprintf(&b, ", last %s", r.Sightings.LastSeen)
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "false-positive reporters: %d\n", len(r.FalsePositives))
	for _, fp := range r.FalsePositives {
		fmt.Fprintf(&b, "  %s ×%d\n", fp.From, fp.Count)
	}
	fmt.Fprintf(&b, "allow-list hits: %d\n", len(r.AllowListHits))
	for _, h := range r.AllowListHits {
		use := "caps"
		if h.ContextOnly {
			use = "context only"
		}
		fmt.Fprintf(&b, "  %s (%s, %s): %s\n", h.List, h.Tier, use, h.Entry)
	}
	if r.Relevance != nil {
		fmt.Fprintf(&b, "relevance %d, priority %d\n", r.Relevance.Value, r.Relevance.Priority)
		for _, x := range r.Relevance.Reasons {
			fmt.Fprintf(&b, "  %s %s (%s): %s\n", x.Kind, x.Match, fmtF(x.Weight), x.Evidence)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
