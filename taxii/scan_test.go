package taxii_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// recordStore hides the bolt store's ScanObjects: a server over it builds
// envelopes from QueryObjects' records, the path of stores without it.
type recordStore struct{ storage.Store }

// startServer starts a second server with the test configuration over st.
func startServer(t *testing.T, st storage.Store) string {
	t.Helper()
	a, err := auth.New(testAuthConfig(), auth.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := taxii.NewServer(testConfig(), taxii.Deps{
		Store: st, Auth: a, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Audit: auth.NewAuditLog(io.Discard, nil), CursorKey: []byte(testCursorKey),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

// getPage GETs url as soc and returns the status, the headers and the body.
func getPage(t *testing.T, u string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", accept21)
	req.SetBasicAuth("soc", passwords["soc"])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", u, err)
	}
	return res.StatusCode, res.Header, body
}

// nextOf returns the next of an envelope, or "".
func nextOf(t *testing.T, body []byte) string {
	t.Helper()
	var env struct {
		More bool   `json:"more"`
		Next string `json:"next"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("not an envelope: %v: %.200s", err, body)
	}
	if env.More != (env.Next != "") {
		t.Fatalf("more %v with next %q", env.More, env.Next)
	}
	return env.Next
}

// TestObjectsScanMatchesRecords checks that the envelopes the server splices
// from ScanObjects are byte for byte those it builds from QueryObjects'
// records, headers included, page after page, for every filter shape.
func TestObjectsScanMatchesRecords(t *testing.T) {
	e := newEnv(t, nil)
	ids := e.seed(collPublished, 230)
	var again []stix.RawObject // second versions of every fifth object
	for i := 0; i < 230; i += 5 {
		raw := indicator(i, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		var o stix.RawObject
		if err := json.Unmarshal(raw, &o.Common); err != nil {
			t.Fatal(err)
		}
		o.JSON = raw
		again = append(again, o)
	}
	if _, err := e.store.PutObjects(t.Context(), collPublished, again); err != nil {
		t.Fatal(err)
	}
	plain := startServer(t, recordStore{e.store})
	path := "/intel/collections/" + collPublished + "/objects/"
	mid := e.get("soc", path+"?limit=100").header.Get(taxii.HeaderDateAddedLast)
	for _, query := range []string{
		"",
		"limit=1",
		"limit=7",
		"limit=100&match[version]=all",
		"limit=33&match[version]=first",
		"limit=10&match[type]=indicator",
		"limit=10&match[type]=malware",
		"limit=2&match[id]=" + strings.Join(ids[:10], ","),
		"limit=50&added_after=" + url.QueryEscape(mid),
		"added_after=2099-01-01T00:00:00Z",
		"limit=40&match[spec_version]=2.1&match[version]=last",
	} {
		t.Run(query, func(t *testing.T) {
			q, pages := query, 0
			for {
				u := path
				if q != "" {
					u += "?" + q
				}
				gotStatus, gotH, got := getPage(t, e.url+u)
				wantStatus, wantH, want := getPage(t, plain+u)
				if gotStatus != http.StatusOK || wantStatus != http.StatusOK {
					t.Fatalf("page %d: status %d (scan) and %d (records), want 200: %.200s", pages, gotStatus, wantStatus, got)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("page %d differs:\nscan    %.300s\nrecords %.300s", pages, got, want)
				}
				for _, h := range []string{"Content-Type", taxii.HeaderDateAddedFirst, taxii.HeaderDateAddedLast} {
					if gotH.Get(h) != wantH.Get(h) {
						t.Fatalf("page %d: %s %q (scan), %q (records)", pages, h, gotH.Get(h), wantH.Get(h))
					}
				}
				if cl := gotH.Get("Content-Length"); cl != strconv.Itoa(len(got)) {
					t.Fatalf("page %d: Content-Length %q for %d bytes", pages, cl, len(got))
				}
				pages++
				next := nextOf(t, got)
				if next == "" {
					break
				}
				if pages > 300 {
					t.Fatal("no end after 300 pages")
				}
				q = strings.TrimPrefix(removeParam(query, "added_after")+"&next="+url.QueryEscape(next), "&")
			}
		})
	}
}

// removeParam drops key from a raw query string.
func removeParam(q, key string) string {
	var keep []string
	for _, p := range strings.Split(q, "&") {
		if p != "" && !strings.HasPrefix(p, key+"=") {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "&")
}

// TestObjectsPageByteCap checks that a page of large objects ends after the
// object that brings it to 16 MiB (taxii.MaxObjectSize), with more and a next
// that continues after it: nothing lost, nothing repeated.
func TestObjectsPageByteCap(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 28 MiB")
	}
	e := newEnv(t, nil)
	const n, size = 20, 1400 << 10
	var objs []stix.RawObject
	for i := range n {
		id := indicatorID(i)
		raw := fmt.Appendf(nil, `{"type":"indicator","spec_version":"2.1","id":%q,"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","description":"%s"}`,
			id, strings.Repeat("x", size))
		var o stix.RawObject
		if err := json.Unmarshal(raw, &o.Common); err != nil {
			t.Fatal(err)
		}
		o.JSON = raw
		objs = append(objs, o)
	}
	if _, err := e.store.PutObjects(t.Context(), collPublished, objs); err != nil {
		t.Fatal(err)
	}
	u := "/intel/collections/" + collPublished + "/objects/?limit=100"
	var got []string
	for pages := 0; ; pages++ {
		status, _, body := getPage(t, e.url+u)
		if status != http.StatusOK {
			t.Fatalf("status %d: %.200s", status, body)
		}
		page := objectsOf(t, body)
		bytesOnPage := 0
		for i, o := range page {
			if i == len(page)-1 && bytesOnPage >= taxii.MaxObjectSize {
				t.Fatalf("page %d went on after %d bytes", pages, bytesOnPage)
			}
			bytesOnPage += len(o)
			got = append(got, idOf(t, o))
		}
		next := nextOf(t, body)
		if pages == 0 && (next == "" || len(page) == n) {
			t.Fatalf("first page: %d objects (%d bytes), next %q: want it cut at %d bytes", len(page), bytesOnPage, next, taxii.MaxObjectSize)
		}
		if next == "" {
			break
		}
		if pages > n {
			t.Fatal("no end")
		}
		u = "/intel/collections/" + collPublished + "/objects/?limit=100&next=" + url.QueryEscape(next)
	}
	var want []string
	for i := range n {
		want = append(want, indicatorID(i))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("objects over the pages:\ngot  %v\nwant %v", got, want)
	}
}
