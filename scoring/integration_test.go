package scoring_test

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/warninglist"
)

// TestAllowListedNeverAlertsWithRealLists draws values from the embedded
// warninglists that cap (and addresses inside their networks), gives each
// four strong fresh reports, matches it with the real Set and checks that
// the score stays below the alert band.
func TestAllowListedNeverAlertsWithRealLists(t *testing.T) {
	set, err := warninglist.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	lists, err := warninglist.EmbeddedLists()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	w := scoring.DefaultWeights()
	checked := 0
	for _, l := range lists {
		if l.ContextOnly() || len(l.Entries) == 0 {
			continue
		}
		for n := 0; n < 20; n++ {
			e := strings.TrimPrefix(l.Entries[r.IntN(len(l.Entries))], ".")
			var typ, val string
			switch l.Type {
			case warninglist.TypeCIDR:
				p, err := netip.ParsePrefix(e)
				if err != nil {
					a, err := netip.ParseAddr(e)
					if err != nil {
						t.Fatalf("%s: entry %q", l.ID, e)
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				typ, val = "ipv4-addr", p.Addr().String()
				if p.Addr().Is6() {
					typ = "ipv6-addr"
				}
			case warninglist.TypeHostname:
				typ, val = "domain-name", "www."+e
			case warninglist.TypeString:
				switch {
				case len(e) == 32 && !strings.Contains(e, "."):
					typ, val = "file:md5", e
				case len(e) == 64 && !strings.Contains(e, "."):
					typ, val = "file:sha256", e
				case strings.Contains(e, ".") && !strings.ContainsAny(e, "/: "):
					typ, val = "domain-name", e
				default:
					continue
				}
			default:
				continue
			}
			hits := set.Match(typ, val)
			in := scoring.Inputs{Type: typ, Value: val, AllowListHits: hits, Sightings: scoring.Sightings{Count: 100, LastSeen: testTime}}
			for i, p := range []string{"recordedfuture", "virustotal", "maltiverse", "misp"} {
				in.Reports = append(in.Reports, scoring.Report{Feed: p, Provider: p, Reliability: 95,
					Verdict: scoring.SeverityRecordedFuture(99-i, 4), LastSeen: testTime})
			}
			res := scoring.Score(in, w, testTime)
			capped := false
			for _, h := range hits {
				capped = capped || !h.ContextOnly
			}
			if !capped {
				continue // e.g. a string entry that only applies to other types
			}
			checked++
			if res.Alert || res.Value > w.AllowListCap || res.CappedBy == "" {
				t.Errorf("%s %s (list %s): score %d %s, capped_by %q: want capped below the alert band",
					typ, val, l.ID, res.Value, res.Band, res.CappedBy)
			}
		}
	}
	if checked < 300 {
		t.Fatalf("only %d allow-listed values checked", checked)
	}
}
