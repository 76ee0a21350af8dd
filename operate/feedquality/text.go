package feedquality

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes s as a table for a person (what `ctibroker feeds report`
// prints): one row per feed, then each feed's overlaps and the parts of its
// quality score. The output is deterministic.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	if s.Since.IsZero() {
		fmt.Fprintf(&b, "feed quality as of %s, whole history: %d values\n", s.AsOf.Format(time.RFC3339), s.Values)
	} else {
		fmt.Fprintf(&b, "feed quality from %s to %s: %d values\n", s.Since.Format(time.RFC3339), s.AsOf.Format(time.RFC3339), s.Values)
	}
	if !s.Sightings {
		b.WriteString("no sightings in this store: confirmed and false positives unknown\n")
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "feed\treported\tunique\tfirst\ttied\tlater\tlead(d)\tconfirmed\tfp\tallow\tlive\tquality\t")
	for _, f := range s.Feeds {
		live := "-"
		if f.Reported > 0 {
			live = strconv.FormatFloat(100*float64(f.Live)/float64(f.Reported), 'f', 0, 64) + "%"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%s\t%d\t\n", f.Feed, f.Reported, f.Unique, f.First, f.Tied, f.Later,
			strconv.FormatFloat(f.MedianLeadDays, 'f', -1, 64), f.Confirmed, f.FalsePositiveValues, f.AllowListed, live, f.Quality)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range s.Feeds {
		fmt.Fprintf(&b, "\n%s: quality %d\n", f.Feed, f.Quality)
		if len(f.Overlap) > 0 {
			others := make([]string, 0, len(f.Overlap))
			for o := range f.Overlap {
				others = append(others, o)
			}
			slices.Sort(others)
			b.WriteString("  overlap:")
			for i, o := range others {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, " %s %d", o, f.Overlap[o])
			}
			b.WriteByte('\n')
		}
		if f.Reported == 0 {
			b.WriteString("  reported nothing in the window\n")
		}
		for _, c := range f.Components {
			fmt.Fprintf(&b, "  %-12s %6.2f  %s\n", c.Name, c.Points, c.Explanation)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
