package auth_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/taxii/auth"
)

// lockedBuffer is a bytes.Buffer whose Write calls may race; it records
// them so the test can check each event is one Write.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	return b.buf.Write(p)
}

func TestAuditLogConcurrent(t *testing.T) {
	var w lockedBuffer
	l := auth.NewAuditLog(&w, func() time.Time { return testTime })
	var wg sync.WaitGroup
	const n = 64
	for i := range n {
		wg.Go(func() {
			if err := l.Log(auth.AuditEvent{Event: auth.EventObjectsAdded, Consumer: fmt.Sprintf("c%d", i), Remote: "192.0.2.1", Detail: "3 objects"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if w.writes != n {
		t.Fatalf("%d writes, want %d (one per event)", w.writes, n)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(&w.buf)
	for sc.Scan() {
		var ev auth.AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if !ev.Time.Equal(testTime) || ev.Event != "objects.added" || ev.Detail != "3 objects" {
			t.Fatalf("event = %+v", ev)
		}
		seen[ev.Consumer] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct consumers logged, want %d", len(seen), n)
	}
}

func TestAuditLogFormat(t *testing.T) {
	var buf bytes.Buffer
	l := auth.NewAuditLog(&buf, nil)
	at := time.Date(2026, 3, 1, 13, 0, 0, 5e6, time.FixedZone("CET", 3600))
	if err := l.Log(auth.AuditEvent{Time: at, Event: auth.EventConfigReloaded, RequestID: "r1"}); err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-03-01T12:00:00.005Z","event":"config.reloaded","request_id":"r1"}` + "\n"
	if buf.String() != want {
		t.Fatalf("got %s, want %s", buf.String(), want)
	}
	var nilLog *auth.AuditLog
	if err := nilLog.Log(auth.AuditEvent{Event: "x"}); err != nil {
		t.Fatalf("nil AuditLog.Log() = %v, want nil", err)
	}
}
