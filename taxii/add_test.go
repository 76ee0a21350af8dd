package taxii_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/taxii"
)

// status is the TAXII status resource as a client reads it.
type status struct {
	ID               string `json:"id"`
	Status           string `json:"status"`
	RequestTimestamp string `json:"request_timestamp"`
	TotalCount       int    `json:"total_count"`
	SuccessCount     int    `json:"success_count"`
	FailureCount     int    `json:"failure_count"`
	PendingCount     int    `json:"pending_count"`
	Successes        []struct {
		ID, Version, Message string
	} `json:"successes"`
	Failures []struct {
		ID, Version, Message string
	} `json:"failures"`
	Pendings []any `json:"pendings"`
}

// checkStatus applies taxii2-client's Status._validate_status and returns the status.
func checkStatus(t testing.TB, body []byte) status {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("status is not JSON: %v", err)
	}
	for _, k := range []string{"id", "status", "total_count", "success_count", "failure_count", "pending_count"} {
		if _, ok := raw[k]; !ok {
			t.Fatalf("status lacks %s: %s", k, body)
		}
	}
	for _, k := range []string{"successes", "failures", "pendings"} {
		if l, ok := raw[k].([]any); ok && len(l) == 0 {
			t.Fatalf("status has an empty %s list (§2: lists must not be empty)", k)
		}
	}
	var s status
	json.Unmarshal(body, &s)
	if s.SuccessCount+s.FailureCount+s.PendingCount != s.TotalCount {
		t.Fatalf("counts do not sum to total_count: %s", body)
	}
	if (s.Successes != nil && len(s.Successes) != s.SuccessCount) || (s.Failures != nil && len(s.Failures) != s.FailureCount) ||
		(s.Pendings != nil && len(s.Pendings) != s.PendingCount) {
		t.Fatalf("list lengths differ from counts: %s", body)
	}
	if s.SuccessCount > 0 && s.Successes == nil || s.FailureCount > 0 && s.Failures == nil {
		t.Fatalf("counts without lists: %s", body)
	}
	if !taxiiTimeRE.MatchString(s.RequestTimestamp) {
		t.Fatalf("request_timestamp %q", s.RequestTimestamp)
	}
	return s
}

func (e *env) post(user, coll string, body []byte) *resp {
	e.t.Helper()
	return e.do(req{method: "POST", path: "/intel/collections/" + coll + "/objects/", user: user, body: body,
		headers: map[string]string{"Content-Type": accept21}})
}

func TestAddObjectsPerObjectFailures(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	good1, good2 := indicator(1, now), indicator(2, now)
	ind := func(n int, from, to string) []byte {
		return bytes.Replace(indicator(n, now), []byte(from), []byte(to), 1)
	}
	bad := map[string][]byte{
		"type":         ind(11, `"type":"indicator",`, ``),
		"id":           ind(12, fmt.Sprintf(`"id":%q,`, indicatorID(12)), ``),
		"spec_version": ind(13, `"spec_version":"2.1"`, `"spec_version":"2.0"`),
		"mismatch":     ind(14, `"id":"indicator--`, `"id":"malware--`),
		"modified":     ind(15, `"modified":"2024-06-01T12:00:00.000Z"`, `"modified":"2023-01-01T00:00:00.000Z"`),
		"timestamp":    ind(16, `"created":"2024-01-01T00:00:00.000Z"`, `"created":"yesterday"`),
		"not-object":   []byte(`42`),
	}
	objs := [][]byte{good1}
	for _, b := range bad {
		objs = append(objs, b)
	}
	objs = append(objs, good2)
	r := e.post("soc", collInbox, envelope(objs...))
	mustStatus(t, r, 202)
	s := checkStatus(t, r.body)
	if s.Status != "complete" || s.TotalCount != 9 || s.SuccessCount != 2 || s.FailureCount != 7 {
		t.Fatalf("status = %s", r.body)
	}
	for _, f := range s.Failures {
		if f.Message == "" || f.ID == "" || f.Version == "" {
			t.Errorf("failure without id, version or message: %+v", f)
		}
	}
	msgs := fmt.Sprint(s.Failures)
	for _, want := range []string{"spec_version", "type", "modified", "created", "id"} {
		if !strings.Contains(msgs, want) {
			t.Errorf("no failure mentions %s: %s", want, msgs)
		}
	}
	if s.Successes[0].ID != indicatorID(1) || s.Successes[0].Version != "2024-06-01T12:00:00.000Z" {
		t.Errorf("success details %+v", s.Successes[0])
	}
	got := objectsOf(t, e.get("soc", "/intel/collections/"+collInbox+"/objects/").body)
	if len(got) != 2 || string(got[0]) != string(good1) || string(got[1]) != string(good2) {
		t.Errorf("stored objects = %s", got)
	}
	if a := e.audit.String(); !strings.Contains(a, `"event":"objects.added"`) || !strings.Contains(a, "succeeded=2 failed=7") {
		t.Errorf("audit log: %s", a)
	}
}

func TestAddObjectsStatusOwnershipAndIdempotence(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	body := envelope(indicator(1, now), indicator(2, now), indicator(3, now))
	r := e.post("misp", collInbox, body)
	mustStatus(t, r, 202)
	first := checkStatus(t, r.body)
	if first.SuccessCount != 3 {
		t.Fatalf("first post: %s", r.body)
	}
	// the status endpoint returns the same resource to its owner only
	sp := "/intel/status/" + first.ID + "/"
	got := e.get("misp", sp)
	mustStatus(t, got, 200)
	if string(got.body) != string(r.body) {
		t.Errorf("GET status = %s\nPOST said %s", got.body, r.body)
	}
	mustStatus(t, e.get("misp", strings.TrimSuffix(sp, "/")), 200)
	mustStatus(t, e.get("soc", sp), 404)
	mustStatus(t, e.get("admin", sp), 404)
	mustStatus(t, e.get("", sp), 401)
	mustStatus(t, e.get("misp", "/intel/status/00000000-0000-4000-8000-000000000000/"), 404)
	mustStatus(t, e.get("misp", "/intel/status/not-a-uuid/"), 404)

	// re-posting is idempotent: all successes, nothing new stored
	r = e.post("misp", collInbox, body)
	mustStatus(t, r, 202)
	again := checkStatus(t, r.body)
	if again.SuccessCount != 3 || again.FailureCount != 0 || again.ID == first.ID {
		t.Fatalf("re-post: %s", r.body)
	}
	for _, s := range again.Successes {
		if !strings.Contains(s.Message, "already") {
			t.Errorf("re-posted object without an 'already' message: %+v", s)
		}
	}
	if n := len(objectsOf(t, e.get("misp", "/intel/collections/"+collInbox+"/objects/?match[version]=all").body)); n != 3 {
		t.Errorf("%d versions stored after re-post, want 3", n)
	}
	// a status survives at least 24 h (expires_at in the store) but not forever
	st, err := e.store.GetStatus(t.Context(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := st.ExpiresAt.Sub(st.RequestTimestamp); d < 24*time.Hour {
		t.Errorf("status retained %s, want ≥ 24h", d)
	}
	if st.Owner != "misp" {
		t.Errorf("status owner %q", st.Owner)
	}
}

func TestAddObjectsBodies(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	obj := indicator(1, now)
	post := func(ct string, body []byte) *resp {
		h := map[string]string{"Content-Type": ct}
		return e.do(req{method: "POST", path: "/intel/collections/inbox/objects/", user: "soc", body: body, headers: h})
	}
	// 415 for types not defined for the endpoint, never for a defined one (§3.1)
	for ct, want := range map[string]int{
		"application/taxii+json;version=2.1":                  202,
		"application/taxii+json; version=2.1; charset=utf-8":  202,
		"APPLICATION/TAXII+JSON;VERSION=2.1":                  202,
		"application/taxii+json":                              202,
		"application/stix+json;version=2.1":                   202,
		"application/json":                                    202, // lenient profile
		"":                                                    202, // lenient profile
		"text/plain":                                          415,
		"application/taxii+json;version=2.0":                  415,
		"application/xml":                                     415,
		"multipart/form-data; boundary=x":                     415,
		"application/x-www-form-urlencoded":                   415,
		"application/vnd.oasis.taxii+json; version=2.1; x=1;": 415,
	} {
		r := post(ct, envelope(obj))
		if r.status != want {
			t.Errorf("Content-Type %q: %d, want %d (%s)", ct, r.status, want, r.body)
			continue
		}
		mustStatus(t, r, want)
	}
	// bundle bodies (stix2 TAXIICollectionSink) and unknown top-level keys
	r := post(accept21, []byte(`{"type":"bundle","id":"bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","objects":[`+string(indicator(2, now))+`],"x_extra":{"a":[1,2]}}`))
	mustStatus(t, r, 202)
	if s := checkStatus(t, r.body); s.SuccessCount != 1 {
		t.Errorf("bundle body: %s", r.body)
	}
	// an empty envelope is accepted with nothing done
	r = post(accept21, []byte(`{}`))
	mustStatus(t, r, 202)
	if s := checkStatus(t, r.body); s.TotalCount != 0 {
		t.Errorf("empty envelope: %s", r.body)
	}
	// 422 for bodies that are not envelopes
	for _, b := range []string{`not json`, `[]`, `{"objects":{}}`, `{"objects":[`, `{"objects":[]} trailing`, `"x"`, ``} {
		r := post(accept21, []byte(b))
		if r.status != 422 {
			t.Errorf("body %q: %d, want 422 (%s)", b, r.status, r.body)
			continue
		}
		mustStatus(t, r, 422)
	}
	// strict profile: application/json and a missing Content-Type are 415
	strict := newEnv(t, func(c *taxii.Config, _ *taxii.Deps) { f := false; c.Lenient = &f })
	for _, ct := range []string{"application/json", ""} {
		r := strict.do(req{method: "POST", path: "/intel/collections/inbox/objects/", user: "soc", body: envelope(obj), headers: map[string]string{"Content-Type": ct}})
		mustStatus(t, r, 415)
	}
}

func TestAddObjectsTooLarge(t *testing.T) {
	e := newEnv(t, nil) // API root intel: max_content_length 1 MiB
	now := time.Now()
	var objs [][]byte
	size := 0
	for i := 0; size < 1<<20+1000; i++ {
		o := indicator(i, now)
		objs = append(objs, o)
		size += len(o) + 1
	}
	big := envelope(objs...)
	r := e.post("soc", collInbox, big)
	mustStatus(t, r, 413)
	if !strings.Contains(string(r.body), "max_content_length") {
		t.Errorf("413 does not name the limit: %s", r.body)
	}
	// without Content-Length (chunked) the body reader is bounded too
	hr, _ := http.NewRequest("POST", e.url+"/intel/collections/inbox/objects/", io.MultiReader(bytes.NewReader(big)))
	hr.ContentLength = -1
	hr.Header.Set("Content-Type", accept21)
	hr.Header.Set("Accept", accept21)
	hr.SetBasicAuth("soc", passwords["soc"])
	res, err := e.client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	mustStatus(t, &resp{status: res.StatusCode, header: res.Header, body: b}, 413)
	// just under the limit is accepted (§4.2.1: MUST NOT 413 below max_content_length)
	var fit [][]byte
	size = len(`{"objects":[]}`)
	for _, o := range objs {
		if size+len(o)+1 > 1<<20 {
			break
		}
		fit = append(fit, o)
		size += len(o) + 1
	}
	r = e.post("soc", collInbox, envelope(fit...))
	mustStatus(t, r, 202)
	if s := checkStatus(t, r.body); s.SuccessCount != len(fit) {
		t.Errorf("stored %d of %d", s.SuccessCount, len(fit))
	}
}

func TestLenientProfile(t *testing.T) {
	secondPrecision := []byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","pattern":"[domain-name:value = 'a.example']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}`)
	upperUUID := []byte(`{"type":"malware","spec_version":"2.1","id":"malware--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"Fictional","is_family":true}`)
	tlp1Green := []byte(`{"type": "marking-definition",  "spec_version": "2.1", "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
  "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp", "name": "TLP:GREEN", "definition": {"tlp": "green"}}`)
	wrongTLP := []byte(`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","definition":{"tlp":"red"}}`)
	for _, lenient := range []bool{true, false} {
		e := newEnv(t, func(c *taxii.Config, _ *taxii.Deps) { c.Lenient = &lenient })
		r := e.post("soc", collInbox, envelope(secondPrecision, upperUUID, wrongTLP, tlp1Green))
		mustStatus(t, r, 202)
		s := checkStatus(t, r.body)
		if !lenient {
			// strict: the three deviations are refused, the predefined TLP:GREEN is valid STIX 2.1
			var failed []string
			for _, f := range s.Failures {
				failed = append(failed, f.ID)
			}
			want := []string{idOf(t, secondPrecision), idOf(t, upperUUID), idOf(t, wrongTLP)}
			if fmt.Sprint(failed) != fmt.Sprint(want) || s.SuccessCount != 1 {
				t.Fatalf("strict: failures %v, want %v; %s", failed, want, r.body)
			}
			continue
		}
		if s.SuccessCount != 4 {
			t.Fatalf("lenient: %d successes, want 4: %s", s.SuccessCount, r.body)
		}
		// kept byte-exact, whitespace and upper-case hex included
		for _, o := range [][]byte{secondPrecision, upperUUID, wrongTLP} {
			id := idOf(t, o)
			got := objectsOf(t, e.get("soc", "/intel/collections/inbox/objects/"+id+"/").body)
			if len(got) != 1 || !bytes.Equal(got[0], o) {
				t.Errorf("%s served as %s, want the posted bytes", id, got)
			}
		}
	}
}

// TestAddValidSTIXTestdata posts every bundle of ../shared/testdata/stix/valid:
// a valid object is never refused by the server's own checks.
func TestAddValidSTIXTestdata(t *testing.T) {
	dir := sharedDir(t)
	e := newEnv(t, func(c *taxii.Config, _ *taxii.Deps) { c.APIRoots[0].MaxContentLength = 32 << 20 })
	entries := mustGlob(t, dir+"/testdata/stix/valid/*.json")
	if len(entries) == 0 {
		t.Skip("no valid STIX test data")
	}
	for _, f := range entries {
		b := readShared(t, strings.TrimPrefix(f, dir+"/"))
		if !bytes.Contains(b, []byte(`"objects"`)) {
			mustStatus(t, e.post("admin", collInbox, b), 422) // a bare object is not an envelope
			b = envelope(b)
		}
		r := e.post("admin", collInbox, b)
		if r.status != 202 {
			t.Errorf("%s: %d %s", f, r.status, r.body)
			continue
		}
		s := checkStatus(t, r.body)
		for _, fl := range s.Failures {
			if !strings.Contains(fl.Message, "TLP 1.0") { // lenient profile is on here, so none at all
				t.Errorf("%s: %s refused: %s", f, fl.ID, fl.Message)
			}
		}
	}
}

// TestValidatorHookAndPanic plugs a validator through Deps.Validate; a panic in
// it becomes a TAXII 500 naming the request id, and the server keeps serving.
func TestValidatorHookAndPanic(t *testing.T) {
	e := newEnv(t, func(_ *taxii.Config, d *taxii.Deps) {
		d.Validate = func(obj *stix.RawObject, lenient bool) error {
			switch {
			case obj.Type == "malware":
				panic("validator bug")
			case strings.Contains(string(obj.JSON), "forbidden-word"):
				return &stix.ValidationError{ID: obj.ID, Type: obj.Type, Property: "name", Reason: "contains a forbidden word"}
			}
			return nil
		}
	})
	now := time.Now()
	ok := indicator(1, now)
	bad := bytes.Replace(indicator(2, now), []byte(`"n2"`), []byte(`"forbidden-word"`), 1)
	r := e.post("soc", collInbox, envelope(ok, bad))
	mustStatus(t, r, 202)
	s := checkStatus(t, r.body)
	if s.SuccessCount != 1 || s.FailureCount != 1 || !strings.Contains(s.Failures[0].Message, "forbidden word") {
		t.Fatalf("hook not applied: %s", r.body)
	}
	r = e.post("soc", collInbox, envelope([]byte(`{"type":"malware","spec_version":"2.1","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"x","is_family":true}`)))
	mustStatus(t, r, 500)
	if strings.Contains(string(r.body), "validator bug") {
		t.Error("panic text leaked to the client")
	}
	if !strings.Contains(e.logs.String(), "validator bug") {
		t.Error("panic not logged")
	}
	mustStatus(t, e.get("soc", "/intel/"), 200)
}

// TestAddInvalidSTIXTestdata posts every bundle of ../shared/testdata/stix/invalid
// whose fault is in an object (not in the bundle wrapper, which a TAXII
// envelope does not have): each must yield at least one failure with a reason,
// and the request still succeeds (202).
func TestAddInvalidSTIXTestdata(t *testing.T) {
	dir := sharedDir(t)
	var expected map[string]struct {
		Expected string `json:"expected"`
		What     string `json:"what_is_wrong"`
	}
	if err := json.Unmarshal(readShared(t, "testdata/stix/expected.json"), &expected); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *taxii.Config, _ *taxii.Deps) { c.APIRoots[0].MaxContentLength = 32 << 20 })
	checked := 0
	for _, f := range mustGlob(t, dir+"/testdata/stix/invalid/*.json") {
		rel := strings.TrimPrefix(f, dir+"/testdata/stix/")
		if strings.HasPrefix(rel, "invalid/bundle-") || expected[rel].Expected != "invalid" {
			continue
		}
		b := readShared(t, "testdata/stix/"+rel)
		if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`{`)) && !bytes.Contains(b, []byte(`"objects"`)) {
			// a bare object: refused whole as not an envelope, then posted wrapped
			mustStatus(t, e.post("admin", collInbox, b), 422)
			b = envelope(b)
		}
		r := e.post("admin", collInbox, b)
		if !json.Valid(b) {
			mustStatus(t, r, 422) // not JSON: refused whole
			continue
		}
		mustStatus(t, r, 202)
		s := checkStatus(t, r.body)
		if s.FailureCount == 0 {
			t.Errorf("%s (%s): no failure reported", rel, expected[rel].What)
		}
		checked++
	}
	if checked < 10 {
		t.Errorf("only %d invalid files checked", checked)
	}
}
