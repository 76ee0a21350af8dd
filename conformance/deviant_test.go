package conformance_test

import (
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/conformance"
	"github.com/ctibroker/ctibroker/conformance/internal/deviant"
)

// bugChecks names the checks each planted bug must fail, and no others.
var bugChecks = map[deviant.Bug][]string{
	deviant.BugBareAccept406:     {"accept.bare"},
	deviant.BugRedirectSlash:     {"url.no-trailing-slash"},
	deviant.BugHTMLErrors:        {"errors.body", "content-type.error"},
	deviant.BugInProcessNext:     {"pagination.next-repeatable", "pagination.next-after-delete"},
	deviant.BugUndefinedHeaders:  {"headers.date-added-empty"},
	deviant.BugVersionAllMixed:   {"filter.version-all-combined"},
	deviant.BugAddedAfterCreated: {"filter.added-after", "pagination.added-after-header", "pagination.bulk-identical", "pagination.versions", "pagination.object"},
}

// runDeviant runs the suite against the deviant server with bugs.
func runDeviant(t *testing.T, async bool, bugs ...deviant.Bug) *conformance.Report {
	t.Helper()
	hs := httptest.NewServer(deviant.NewHandler(deviant.Config{User: "u", Password: "p", Bugs: bugs, Async: async}))
	t.Cleanup(hs.Close)
	rep, err := conformance.Run(t.Context(), conformance.Options{
		URL: hs.URL + "/taxii2/", User: "u", Password: "p",
		Collection: deviant.CollReadWrite, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := len(rep.Checks); got != len(conformance.CheckIDs()) {
		t.Fatalf("the run completed %d checks, want %d", got, len(conformance.CheckIDs()))
	}
	return rep
}

func TestDeviant(t *testing.T) {
	type tc struct {
		bugs  []deviant.Bug
		async bool // pending statuses the suite must poll
	}
	cases := map[string]tc{"no bug": {}, "no bug, async adds": {async: true}, "all bugs": {bugs: deviant.AllBugs()}}
	for _, b := range deviant.AllBugs() {
		cases[string(b)] = tc{bugs: []deviant.Bug{b}}
	}
	for name, tt := range cases {
		t.Run(name, func(t *testing.T) {
			rep := runDeviant(t, tt.async, tt.bugs...)
			var want []string
			for _, b := range tt.bugs {
				want = append(want, bugChecks[b]...)
			}
			slices.Sort(want)
			want = slices.Compact(want)
			got := rep.Failures()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				for _, r := range rep.Checks {
					if r.Status == conformance.StatusFail {
						t.Logf("FAIL %s: %s\n%s\n%s", r.ID, r.Reason, r.Request, r.Response)
					}
				}
				t.Fatalf("failed checks %v, want %v", got, want)
			}
			for _, r := range rep.Checks {
				if r.Status == conformance.StatusFail && (r.Request == "" || r.Response == "") {
					t.Errorf("%s failed without the request and response: %+v", r.ID, r)
				}
			}
			var skipped []string
			for _, r := range rep.Checks {
				if r.Status == conformance.StatusSkip {
					skipped = append(skipped, r.ID)
				}
			}
			// plain HTTP, and one API root
			if want := []string{"transport.https", "apiroot.listed"}; !slices.Equal(skipped, want) {
				t.Errorf("skipped %v, want %v", skipped, want)
			}
		})
	}
}
