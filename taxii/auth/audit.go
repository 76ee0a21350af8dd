package auth

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Audit event names. The taxii server logs writes, deletions and reloads
// with the same AuditLog.
const (
	EventLoginFailed    = "login.failed"
	EventLoginBlocked   = "login.blocked"
	EventTokenIssued    = "token.issued"
	EventObjectsAdded   = "objects.added"
	EventObjectDeleted  = "object.deleted"
	EventConfigReloaded = "config.reloaded"
	EventConfigRejected = "config.rejected"
)

// AuditEvent is one line of the audit log. It never carries a secret.
type AuditEvent struct {
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	Consumer  string    `json:"consumer,omitempty"`
	Remote    string    `json:"remote,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// AuditLog writes AuditEvents as JSON lines to an io.Writer, apart from the
// access log. It is safe for concurrent use; a nil *AuditLog discards events.
type AuditLog struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// NewAuditLog returns an AuditLog writing to w, stamping events with now
// (time.Now when nil) unless they carry a time.
func NewAuditLog(w io.Writer, now func() time.Time) *AuditLog {
	if now == nil {
		now = time.Now
	}
	return &AuditLog{w: w, now: now}
}

// Log writes ev as one JSON line. Each event is written with a single Write
// call, so lines never interleave.
func (l *AuditLog) Log(ev AuditEvent) error {
	if l == nil || l.w == nil {
		return nil
	}
	if ev.Time.IsZero() {
		ev.Time = l.now()
	}
	ev.Time = ev.Time.UTC()
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.w.Write(b)
	return err
}
