package ingesttest

import (
	"errors"
	"net/http"
	"strconv"
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
