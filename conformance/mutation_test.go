package conformance_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/ctibroker/ctibroker/conformance"
)

// mutate wraps h, letting edit change each recorded response before it is sent.
func mutate(h http.Handler, edit func(r *http.Request, rec *httptest.ResponseRecorder)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		edit(r, rec)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// TestMutations breaks ctibroker's real server in one way at a time, through
// a proxying handler, and expects the checks that cover that behaviour to fail.
func TestMutations(t *testing.T) {
	for name, tt := range map[string]struct {
		edit func(r *http.Request, rec *httptest.ResponseRecorder)
		want []string
	}{
		"date headers dropped": {
			edit: func(_ *http.Request, rec *httptest.ResponseRecorder) {
				rec.Header().Del("X-Taxii-Date-Added-First")
				rec.Header().Del("X-Taxii-Date-Added-Last")
			},
			want: []string{"headers.date-added", "pagination.added-after-header", "pagination.bulk-identical", "timestamps.format"},
		},
		"application/json on DELETE": {
			edit: func(r *http.Request, rec *httptest.ResponseRecorder) {
				if r.Method == http.MethodDelete && rec.Code == http.StatusOK {
					rec.Header().Set("Content-Type", "application/json")
				}
			},
			want: []string{"content-type.success"},
		},
		"more always false": {
			edit: func(_ *http.Request, rec *httptest.ResponseRecorder) {
				b := bytes.ReplaceAll(rec.Body.Bytes(), []byte(`"more":true`), []byte(`"more":false`))
				rec.Body = bytes.NewBuffer(b)
			},
			want: []string{"filter.limit", "pagination.next", "pagination.manifest-next", "pagination.versions"},
		},
		"empty objects list": {
			edit: func(r *http.Request, rec *httptest.ResponseRecorder) {
				if rec.Code == http.StatusOK && bytes.Equal(rec.Body.Bytes(), []byte(`{}`)) {
					rec.Body = bytes.NewBufferString(`{"objects":[]}`)
				}
			},
			want: []string{"objects.empty", "json.bodies"},
		},
		"match[type] ignored": {
			edit: func(r *http.Request, rec *httptest.ResponseRecorder) {},
			want: []string{"filter.match-type", "filter.match-and"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			base, _ := startCtibroker(t)
			target, _ := url.Parse(base)
			proxy := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r2 := r.Clone(r.Context())
				r2.URL.Scheme, r2.URL.Host, r2.RequestURI = target.Scheme, target.Host, ""
				if name == "match[type] ignored" {
					q := r2.URL.Query()
					q.Del("match[type]")
					r2.URL.RawQuery = q.Encode()
				}
				res, err := http.DefaultTransport.RoundTrip(r2)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				defer res.Body.Close()
				for k, v := range res.Header {
					w.Header()[k] = v
				}
				w.WriteHeader(res.StatusCode)
				buf := new(bytes.Buffer)
				buf.ReadFrom(res.Body)
				w.Write(buf.Bytes())
			}))
			hs := httptest.NewServer(mutate(proxy, tt.edit))
			defer hs.Close()
			rep, err := conformance.Run(t.Context(), conformance.Options{
				URL: hs.URL + "/taxii2/", User: "conf", Password: confPassword, Collection: collInbox,
			})
			if err != nil {
				t.Fatal(err)
			}
			got := rep.Failures()
			for _, id := range tt.want {
				if !slices.Contains(got, id) {
					t.Errorf("%s did not fail; failures: %v", id, got)
				}
			}
		})
	}
}
