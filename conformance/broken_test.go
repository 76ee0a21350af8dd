package conformance_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/conformance"
	"github.com/ctibroker/ctibroker/conformance/internal/deviant"
	"github.com/ctibroker/ctibroker/storage"
)

const brokenColl = "c0ffee00-1234-4567-89ab-cdef01234567"

// wrongTypes answers a usable discovery, API root and collection list, accepts
// every POST with a plausible status, and answers everything else with JSON of
// the wrong shapes.
func wrongTypes(w http.ResponseWriter, r *http.Request) {
	brokenServer(w, r, `{"objects":[1,"a",null,{"id":7},{"id":"indicator--x","type":[]}],"more":"yes","next":5,"versions":[{}, 3],"status":[],"id":7,"title":null}`)
}

// endless answers plausible pages that never end and never match.
func endless(w http.ResponseWriter, r *http.Request) {
	brokenServer(w, r, `{"more":true,"next":"again","objects":[{"id":"indicator--x","type":"indicator","date_added":"2020","version":"v","modified":5}],"versions":["2020-01-01T00:00:00Z"]}`)
}

func brokenServer(w http.ResponseWriter, r *http.Request, other string) {
	w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
	switch {
	case r.URL.Path == "/taxii2/":
		fmt.Fprint(w, `{"title":"broken","api_roots":["/r/"],"default":"/r/"}`)
	case r.URL.Path == "/r/":
		fmt.Fprint(w, `{"title":"r","versions":["application/taxii+json;version=2.1"],"max_content_length":1000}`)
	case r.URL.Path == "/r/collections/":
		fmt.Fprintf(w, `{"collections":[{"id":%q,"title":"t","can_read":true,"can_write":true},{"id":"x","title":5,"can_read":"yes"}]}`, brokenColl)
	case r.Method == http.MethodPost:
		var env struct{ Objects []json.RawMessage }
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		_ = json.Unmarshal(b, &env)
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":"5f2d8c1e-2a4b-4c6d-8e0f-1a2b3c4d5e6f","status":"complete","total_count":%d,"success_count":%d,"failure_count":0,"pending_count":0}`, len(env.Objects), len(env.Objects))
	default:
		w.Header().Set("X-TAXII-Date-Added-First", "yesterday")
		fmt.Fprint(w, other)
	}
}

func TestBrokenServers(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"html everywhere": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html><body>It works!</body></html>")
		},
		"wrong JSON types": wrongTypes,
		"endless pages":    endless,
		"not JSON at all": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
			fmt.Fprint(w, "\xff\xfe{{{")
		},
		"hangs": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		},
		"body over 32 MiB": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
			w.Write([]byte(`{"title":"`))
			w.Write(bytes.Repeat([]byte("a"), conformance.MaxResponseBytes))
			w.Write([]byte(`"}`))
		},
	} {
		t.Run(name, func(t *testing.T) {
			hs := httptest.NewServer(h)
			defer hs.Close()
			rep, err := conformance.Run(t.Context(), conformance.Options{
				URL: hs.URL + "/taxii2/", User: "u", Password: "p", Collection: brokenColl,
				Timeout: 200 * time.Millisecond,
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if len(rep.Checks) != len(conformance.CheckIDs()) {
				t.Fatalf("%d checks ran, want %d", len(rep.Checks), len(conformance.CheckIDs()))
			}
			if rep.Failed == 0 || rep.Passed+rep.Failed+rep.Skipped != len(rep.Checks) {
				t.Errorf("counts %d/%d/%d over %d checks", rep.Passed, rep.Failed, rep.Skipped, len(rep.Checks))
			}
			for _, r := range rep.Checks {
				if strings.Contains(r.Reason, "broke off") {
					t.Errorf("%s panicked: %s", r.ID, r.Reason)
				}
				if len(r.Response) > 8<<10 {
					t.Errorf("%s quotes a %d-byte response, want it cut", r.ID, len(r.Response))
				}
			}
		})
	}
}

func TestMaxRequests(t *testing.T) {
	base, store := startCtibroker(t)
	rep, err := conformance.Run(t.Context(), conformance.Options{
		URL: base + "/taxii2/", User: "conf", Password: confPassword, Collection: collInbox, MaxRequests: 12,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	budget := 0
	for _, r := range rep.Checks {
		if strings.Contains(r.Reason+r.Response, "request budget exhausted") {
			budget++
		}
	}
	if budget == 0 || rep.Failed == 0 {
		t.Errorf("no check reports the exhausted budget (%d failed)", rep.Failed)
	}
	// the cleanup still runs, on its own budget
	page, err := store.QueryObjects(t.Context(), collInbox, storage.Filter{Versions: []string{storage.VersionAll}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 0 {
		t.Errorf("%d object versions left behind", len(page.Records))
	}
}

func TestRunOptions(t *testing.T) {
	for name, opt := range map[string]conformance.Options{
		"no URL":             {},
		"relative URL":       {URL: "/taxii2/"},
		"ftp":                {URL: "ftp://127.0.0.1/taxii2/"},
		"token and password": {URL: "http://127.0.0.1:1/taxii2/", User: "u", Password: "p", Token: "t"},
		"password only":      {URL: "http://127.0.0.1:1/taxii2/", Password: "p"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := conformance.Run(t.Context(), opt); !errors.Is(err, conformance.ErrOptions) {
				t.Fatalf("Run: %v, want ErrOptions", err)
			}
		})
	}
}

func TestReportOutput(t *testing.T) {
	hs := httptest.NewServer(deviant.NewHandler(deviant.Config{User: "u", Password: "p", Bugs: []deviant.Bug{deviant.BugVersionAllMixed}}))
	defer hs.Close()
	rep, err := conformance.Run(t.Context(), conformance.Options{URL: hs.URL + "/taxii2/", User: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(text.String(), "\n"), "\n")
	want := fmt.Sprintf("%d passed, 1 failed, %d skipped", rep.Passed, rep.Skipped)
	if last := lines[len(lines)-1]; last != want {
		t.Errorf("last line %q, want %q", last, want)
	}
	if !strings.Contains(text.String(), "FAIL filter.version-all-combined") || !strings.Contains(text.String(), "Authorization: Basic [redacted]") {
		t.Errorf("the text report does not show the failure with its redacted request:\n%s", text.String())
	}
	if strings.Contains(text.String(), "dTpw") { // base64("u:p")
		t.Errorf("the report leaks the credentials")
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back conformance.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("WriteJSON output does not decode: %v", err)
	}
	if back.Failed != 1 || len(back.Checks) != len(rep.Checks) || back.Checks[0].Status == "" {
		t.Errorf("decoded JSON report %+v", back)
	}
	// without a writable collection the write checks skip, nothing fails but the bug
	skips := 0
	for _, r := range rep.Checks {
		if r.Status == conformance.StatusSkip && strings.Contains(r.Reason, "needs write access") {
			skips++
		}
	}
	if skips < 30 {
		t.Errorf("%d checks skipped for lack of write access, want at least 30", skips)
	}
}
