package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout     = 30 * time.Second // per request
	DefaultMaxRequests = 3000             // per run
	// MaxResponseBytes bounds how much of one response body is read.
	MaxResponseBytes = 32 << 20
)

// Options configure a run.
type Options struct {
	// URL is the server's discovery URL, e.g. https://taxii.example.org/taxii2/.
	URL string
	// User and Password are HTTP Basic credentials; Token is sent as
	// "Authorization: Bearer <token>" instead. All empty: no credentials.
	User, Password, Token string
	// Collection is the id of a collection this identity may write to. The run
	// adds objects there (and deletes them at the end); empty: the checks
	// needing writes are skipped.
	Collection string
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient sends the requests (its redirect policy is replaced: the suite
	// never follows redirects). Nil: a client with sane transport timeouts.
	HTTPClient *http.Client
	// MaxRequests bounds the requests of the whole run; 0 means DefaultMaxRequests.
	MaxRequests int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Status is the outcome of one check.
type Status string

// Outcomes of a check.
const (
	StatusPass Status = "PASS"
	StatusFail Status = "FAIL"
	StatusSkip Status = "SKIP"
)

// Result is the outcome of one check. On failure Request and Response hold
// the offending exchange (bodies truncated, credentials redacted) and Reason
// says what was expected; on skip Reason says what the check needs.
type Result struct {
	ID       string `json:"id"`
	Section  string `json:"section"`
	Title    string `json:"title"`
	Status   Status `json:"status"`
	Request  string `json:"request,omitempty"`
	Response string `json:"response,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Report is the outcome of a run, checks in the order they ran.
type Report struct {
	URL     string   `json:"url"`
	Checks  []Result `json:"checks"`
	Passed  int      `json:"passed"`
	Failed  int      `json:"failed"`
	Skipped int      `json:"skipped"`
}

// Failures returns the ids of the failed checks.
func (r *Report) Failures() []string {
	var ids []string
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// Summary is the report's last line: "N passed, M failed" and ", K skipped"
// when K > 0.
func (r *Report) Summary() string {
	s := fmt.Sprintf("%d passed, %d failed", r.Passed, r.Failed)
	if r.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped", r.Skipped)
	}
	return s
}

// WriteText writes one line per check (status, id, spec section, title), the
// reason, request and response of failures and the reason of skips, and ends
// with Summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "TAXII 2.1 conformance of %s\n\n", r.URL)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s %-34s %-14s %s\n", c.Status, c.ID, c.Section, c.Title)
		if c.Reason != "" {
			fmt.Fprintf(&b, "     %s\n", strings.ReplaceAll(c.Reason, "\n", "\n     "))
		}
		if c.Status == StatusFail {
			if c.Request != "" {
				fmt.Fprintf(&b, "     request:\n%s\n", indent(c.Request, "       "))
			}
			if c.Response != "" {
				fmt.Fprintf(&b, "     response:\n%s\n", indent(c.Response, "       "))
			}
		}
	}
	fmt.Fprintf(&b, "\n%s\n", r.Summary())
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// ErrOptions is wrapped by Run's errors about unusable Options.
var ErrOptions = errors.New("conformance: invalid options")

// Run runs every check against the server at opt.URL and returns the report.
// The error is non-nil only for unusable Options or a cancelled ctx; a broken
// server yields failed checks, never an error or a panic.
func Run(ctx context.Context, opt Options) (*Report, error) {
	u, err := url.Parse(opt.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: URL %q: want an absolute http(s) discovery URL", ErrOptions, opt.URL)
	}
	if opt.Token != "" && (opt.User != "" || opt.Password != "") {
		return nil, fmt.Errorf("%w: give either User/Password or Token, not both", ErrOptions)
	}
	if opt.Password != "" && opt.User == "" {
		return nil, fmt.Errorf("%w: Password without User", ErrOptions)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.MaxRequests <= 0 {
		opt.MaxRequests = DefaultMaxRequests
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	s := newSuite(opt, u)
	rep := &Report{URL: u.String()}
	defer s.cleanup(context.WithoutCancel(ctx))
	s.setup(ctx)
	for _, ex := range s.log {
		ex.trim()
	}
	for _, c := range checks {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		res := s.runCheck(ctx, c)
		rep.Checks = append(rep.Checks, res)
		switch res.Status {
		case StatusPass:
			rep.Passed++
		case StatusFail:
			rep.Failed++
		default:
			rep.Skipped++
		}
	}
	return rep, nil
}

// runCheck runs one check, turning its error or panic into a Result.
func (s *suite) runCheck(ctx context.Context, c check) (res Result) {
	res = Result{ID: c.id, Section: c.section, Title: c.title}
	from := len(s.log)
	defer func() {
		for _, ex := range s.log[from:] {
			ex.trim()
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			res.Status = StatusFail
			res.Reason = fmt.Sprintf("the check broke off (suite bug or unexpected response): %v\n%s", p, firstLines(string(debug.Stack()), 12))
		}
	}()
	err := c.fn(ctx, s)
	var sk *skipError
	var fe *failError
	switch {
	case err == nil:
		res.Status = StatusPass
	case errors.As(err, &sk):
		res.Status = StatusSkip
		res.Reason = sk.reason
	case errors.As(err, &fe):
		res.Status = StatusFail
		res.Reason = fe.reason
		if fe.ex != nil {
			res.Request, res.Response = fe.ex.requestText(), fe.ex.responseText()
		}
	default:
		res.Status = StatusFail
		res.Reason = err.Error()
	}
	return res
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// skipError marks a check that cannot run here.
type skipError struct{ reason string }

func (e *skipError) Error() string { return "skipped: " + e.reason }

// failError is a failed expectation with the exchange that showed it.
type failError struct {
	ex     *exchange
	reason string
}

func (e *failError) Error() string { return e.reason }

func skip(format string, args ...any) error {
	return &skipError{reason: fmt.Sprintf(format, args...)}
}

func fail(ex *exchange, format string, args ...any) error {
	return &failError{ex: ex, reason: fmt.Sprintf(format, args...)}
}
