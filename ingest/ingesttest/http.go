package ingesttest

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
)

// ErrNoHijack is returned by CutResponse when the ResponseWriter cannot be
// hijacked (it is not an httptest.Server's or net/http's own).
var ErrNoHijack = errors.New("ingesttest: response writer cannot be hijacked")

// CutResponse answers 200 promising all of body (Content-Length), sends only
// its first sent bytes and drops the connection: a transfer cut mid-body. Set
// any other header (Content-Type) before calling it.
func CutResponse(w http.ResponseWriter, body []byte, sent int) error {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:sent])
	// Without the flush the bytes stay in the server's buffer and the
	// hijacked connection closes with none of the body sent.
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return ErrNoHijack
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return err
	}
	_ = buf.Flush()
	return conn.Close()
}

// Script records the requests a provider's stand-in server receives and hands
// out the steps a test scripted for the next requests ("429", "503", "cut",
// ...; the stand-in gives them meaning). Embed it in the stand-in; its zero
// value is ready and it is safe for concurrent use.
type Script struct {
	mu       sync.Mutex
	steps    []string
	requests []*http.Request
}

// Fail appends steps: the next requests get them, one each, in order.
func (s *Script) Fail(steps ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, steps...)
}

// Next records req and returns its step: the first one scripted and not yet
// handed out, or "" when none is left.
func (s *Script) Next(req *http.Request) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	step := ""
	if len(s.steps) > 0 {
		step, s.steps = s.steps[0], s.steps[1:]
	}
	return step
}

// Requests returns the requests recorded so far, oldest first.
func (s *Script) Requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.requests...)
}
