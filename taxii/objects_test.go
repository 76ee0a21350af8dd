package taxii_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

// bigIndicators returns n indicators of about size bytes each, the i-th with
// id number from+i.
func bigIndicators(from, n, size int) []stix.RawObject {
	pad := strings.Repeat("x", size)
	objs := make([]stix.RawObject, n)
	for i := range objs {
		objs[i].JSON = fmt.Appendf(nil, `{"type":"indicator","spec_version":"2.1","id":%q,"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","description":%q,"pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}`,
			indicatorID(from+i), pad)
	}
	return objs
}

// TestSlowClientDoesNotHoldWriter: a client that stops reading in the middle
// of a 10 MB page must not hold up the store's writer. The page is built in
// the read transaction and written after it has closed; a handler that wrote
// from inside the transaction (say, straight from the memory map) would make
// the ingest below wait for the client, because bbolt remaps its file when it
// grows only once every read transaction has ended. The client then reads the
// whole page, intact, after the remap.
func TestSlowClientDoesNotHoldWriter(t *testing.T) {
	e := newEnv(t, nil)
	const size, n = 10 << 10, 1000
	if _, err := e.store.PutObjects(t.Context(), collPublished, bigIndicators(0, n, size)); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(256 << 10) // fixed (no autotuning), far below the page
	fmt.Fprintf(conn, "GET /intel/collections/%s/objects/?limit=%d HTTP/1.1\r\nHost: x\r\nAccept: %s\r\nAuthorization: %s\r\n\r\n",
		collPublished, n, accept21, basic("soc", passwords["soc"]))
	// Read the status line: the handler has read its page and started
	// writing; then stop reading, with about 10 MB still to come.
	br := bufio.NewReaderSize(conn, 4<<10)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("status line %q, %v", status, err)
	}
	time.Sleep(200 * time.Millisecond)

	// Grow the file well past its memory map (bbolt doubles it): a remap.
	done := make(chan error, 1)
	go func() {
		_, err := e.store.PutObjects(t.Context(), collPublished, bigIndicators(n, 4*n, size))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the ingest did not complete while a client was slow to read its page: the page holds a read transaction")
	}

	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(status), br)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the page after the ingest: %v", err)
	}
	var env struct {
		More    bool              `json:"more"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("page is not JSON after the remap: %v", err)
	}
	if len(env.Objects) != n || env.More { // the snapshot before the ingest
		t.Fatalf("page of %d objects (more %v), want the %d there were before the ingest", len(env.Objects), env.More, n)
	}
	for i, o := range env.Objects {
		if want := bigIndicators(i, 1, size)[0].JSON; !bytes.Equal(o, want) {
			t.Fatalf("object %d changed: %.120s…", i, o)
		}
	}
}
