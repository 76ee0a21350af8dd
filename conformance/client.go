package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Media types of TAXII 2.1 (§1.6.8).
const (
	mediaTAXII21 = "application/taxii+json;version=2.1"
	mediaSTIX21  = "application/stix+json;version=2.1"
)

// shownBody bounds the bodies quoted in a Result.
const shownBody = 2048

// exchange is one request and its response (or transport error).
type exchange struct {
	method  string
	url     string
	reqHdr  http.Header
	reqBody []byte
	status  int
	hdr     http.Header
	body    []byte
	tooBig  bool // the body exceeded MaxResponseBytes and was cut
	tls     *tls.ConnectionState
	err     error
	// bodyErr is what is wrong with a success body (not UTF-8, not a JSON
	// object, an empty list), computed before the body is trimmed in the log.
	bodyErr error
	trimmed bool
}

// keptBody bounds the bodies kept in the run's log once their check is done.
const keptBody = 16 << 10

// trim computes bodyErr and cuts the bodies kept in the run's log.
func (ex *exchange) trim() {
	if ex.trimmed {
		return
	}
	ex.trimmed = true
	if ex.err == nil && ex.status >= 200 && ex.status < 300 && len(ex.body) > 0 {
		ex.bodyErr = bodyProblem(ex)
	}
	if len(ex.body) > keptBody {
		ex.body = ex.body[:keptBody:keptBody]
	}
	if len(ex.reqBody) > keptBody {
		ex.reqBody = ex.reqBody[:keptBody:keptBody]
	}
}

// bodyProblem checks a success body: UTF-8 (§1.6.7), a JSON object, no empty list (§2).
func bodyProblem(ex *exchange) error {
	if !utf8.Valid(ex.body) {
		return fail(ex, "body is not valid UTF-8 (§1.6.7)")
	}
	m, err := object(ex)
	if err != nil {
		return err
	}
	for k, v := range m {
		if l, ok := v.([]any); ok && len(l) == 0 {
			return fail(ex, "property %q is an empty list; omit it instead (§2)", k)
		}
	}
	return nil
}

// requestText renders the request with credentials redacted and the body cut.
func (ex *exchange) requestText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", ex.method, ex.url)
	writeHeader(&b, ex.reqHdr)
	if len(ex.reqBody) > 0 {
		b.WriteString("\n")
		b.WriteString(cut(ex.reqBody))
	}
	return b.String()
}

// responseText renders the response (or the transport error) with the body cut.
func (ex *exchange) responseText() string {
	if ex.err != nil {
		return "no response: " + ex.err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d %s\n", ex.status, http.StatusText(ex.status))
	writeHeader(&b, ex.hdr)
	if len(ex.body) > 0 {
		b.WriteString("\n")
		b.WriteString(cut(ex.body))
	}
	return b.String()
}

func writeHeader(b *strings.Builder, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			if strings.EqualFold(k, "Authorization") {
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " [redacted]"
			}
			fmt.Fprintf(b, "%s: %s\n", k, v)
		}
	}
}

func cut(body []byte) string {
	s := string(body)
	if len(body) > shownBody {
		s = string(body[:shownBody]) + fmt.Sprintf("... (%d bytes in all)", len(body))
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// request describes one request to send.
type request struct {
	method string
	url    string
	accept *string           // nil: TAXII 2.1; pointer to "": no Accept header
	hdr    map[string]string // extra headers, set last
	body   []byte
	anon   bool   // send no credentials
	authz  string // explicit Authorization value (overrides the configured one)
}

func strp(s string) *string { return &s }

// suite is the state of one run.
type suite struct {
	opt       Options
	discovery *url.URL
	hc        *http.Client
	sent      int
	log       []*exchange // every exchange, for the whole-run checks
	start     time.Time

	// discovered state (setup)
	setupErr error
	root     *url.URL          // the API root under test
	roots    []*url.URL        // every API root from discovery
	colls    []map[string]any  // collections of root
	rootRes  map[string]any    // the API root resource
	maxLen   int64             // max_content_length
	readColl string            // a readable collection's id
	fx       *fixture          // objects the run added, nil without writes
	fxErr    error             // why there is no fixture
	created  map[string]string // object id -> collection URL, to delete at the end
}

func newSuite(opt Options, discovery *url.URL) *suite {
	hc := opt.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: opt.Timeout,
			ExpectContinueTimeout: time.Second,
			MaxIdleConnsPerHost:   4,
			ForceAttemptHTTP2:     true,
		}}
	}
	c := *hc // never follow redirects: a 3xx is what the checks look at
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Jar = nil
	return &suite{opt: opt, discovery: discovery, hc: &c, start: opt.Now(), created: map[string]string{}}
}

var errBudget = errors.New("request budget exhausted")

// do sends r and reads the response; transport errors are kept in the exchange.
func (s *suite) do(ctx context.Context, r request) *exchange {
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	ex := &exchange{method: method, url: r.url, reqBody: r.body, reqHdr: http.Header{}}
	s.log = append(s.log, ex)
	if s.sent >= s.opt.MaxRequests {
		ex.err = fmt.Errorf("%w (MaxRequests %d)", errBudget, s.opt.MaxRequests)
		return ex
	}
	s.sent++
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, r.url, body)
	if err != nil {
		ex.err = err
		return ex
	}
	hr.Header.Set("User-Agent", "ctibroker-conformance/1")
	switch {
	case r.accept == nil:
		hr.Header.Set("Accept", mediaTAXII21)
	case *r.accept != "":
		hr.Header.Set("Accept", *r.accept)
	}
	if r.body != nil {
		hr.Header.Set("Content-Type", mediaTAXII21)
	}
	switch {
	case r.authz != "":
		hr.Header.Set("Authorization", r.authz)
	case r.anon:
	case s.opt.Token != "":
		hr.Header.Set("Authorization", "Bearer "+s.opt.Token)
	case s.opt.User != "":
		hr.SetBasicAuth(s.opt.User, s.opt.Password)
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v) // "User-Agent": "" sends none
	}
	ex.reqHdr = hr.Header.Clone()
	res, err := s.hc.Do(hr)
	if err != nil {
		ex.err = err
		return ex
	}
	defer res.Body.Close()
	ex.status, ex.hdr, ex.tls = res.StatusCode, res.Header, res.TLS
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes+1))
	if len(b) > MaxResponseBytes {
		b, ex.tooBig = b[:MaxResponseBytes], true
	}
	ex.body = b
	if err != nil {
		ex.err = fmt.Errorf("reading the response body: %w", err)
	}
	return ex
}

// get sends a GET with the TAXII 2.1 Accept header and the credentials.
func (s *suite) get(ctx context.Context, u string) *exchange {
	return s.do(ctx, request{url: u})
}

// expect fails unless ex got status want.
func expect(ex *exchange, want ...int) error {
	if ex.err != nil {
		return fail(ex, "request failed: %v", ex.err)
	}
	for _, w := range want {
		if ex.status == w {
			return nil
		}
	}
	if len(want) == 1 {
		return fail(ex, "got HTTP %d, want %d", ex.status, want[0])
	}
	return fail(ex, "got HTTP %d, want one of %v", ex.status, want)
}

// object decodes ex's body as a JSON object.
func object(ex *exchange) (map[string]any, error) {
	if ex.tooBig {
		return nil, fail(ex, "response body larger than %d bytes", MaxResponseBytes)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(ex.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fail(ex, "response body is not a JSON object: %v", errOr(err, "null"))
	}
	if dec.More() {
		return nil, fail(ex, "trailing data after the JSON object")
	}
	return m, nil
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

// ok200 expects a 200 with a JSON object body.
func ok200(ex *exchange) (map[string]any, error) {
	if err := expect(ex, http.StatusOK); err != nil {
		return nil, err
	}
	return object(ex)
}

// isTAXII21 reports whether a Content-Type value is the TAXII 2.1 media type
// (compared semantically: case, spaces and parameter order ignored).
func isTAXII21(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/taxii+json" && params["version"] == "2.1"
}

// resolve resolves ref against base.
func resolve(base *url.URL, ref string) (*url.URL, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(r), nil
}

// join appends path segments (each ending in "/") to a URL ending in "/".
func join(base *url.URL, segs ...string) string {
	u := *base
	p := u.Path
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	for _, s := range segs {
		p += url.PathEscape(s) + "/"
	}
	u.Path, u.RawPath = p, ""
	u.RawQuery = ""
	return u.String()
}

// withQuery returns u with the query q (keys kept in the order given, values escaped).
func withQuery(u string, kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, url.QueryEscape(kv[i])+"="+url.QueryEscape(kv[i+1]))
	}
	if len(parts) == 0 {
		return u
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + strings.Join(parts, "&")
}
