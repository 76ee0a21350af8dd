package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	bbolt "go.etcd.io/bbolt"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// resident returns how many of the pages of b are in the page cache.
func resident(t *testing.T, b []byte) int {
	t.Helper()
	start := uintptr(unsafe.Pointer(&b[0])) &^ (osPage - 1)
	end := (uintptr(unsafe.Pointer(&b[0])) + uintptr(len(b)) + osPage - 1) &^ (osPage - 1)
	vec := make([]byte, (end-start)/osPage)
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, start, end-start, uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// TestPrefetch drops a store file from the page cache, opens it, and checks
// that prefetch of a range of the log brings the range's pages back (the
// kernel reads them asynchronously), and that a range running past the end
// of the memory map is harmless.
func TestPrefetch(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "db")
	st, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	var objs []stix.RawObject
	for i := range 2000 {
		objs = append(objs, stix.RawObject{JSON: fmt.Appendf(nil, `{"type":"identity","spec_version":"2.1","id":"identity--7f2a4e0c-2f0a-4f55-9c1b-%012x","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"%01000d"}`, i, i)})
	}
	if _, err := st.PutObjects(ctx, "c", objs); err != nil {
		t.Fatal(err)
	}
	st.Close()
	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Sync() // dirty pages cannot be dropped
	const fadvDontNeed = 4
	syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0)
	f.Close()

	st = MustOpen(t, dir)
	const span = 1 << 20
	err = st.db.View(func(tx *bbolt.Tx) error {
		c, err := openColl(tx, "c")
		if err != nil {
			return err
		}
		_, v := c.log.Cursor().Seek(daKey(0))
		if v == nil {
			t.Fatal("empty log")
		}
		r := unsafe.Slice(&v[0], span) // only passed to mincore: never read
		before := resident(t, r)
		if before > span/int(osPage)/2 {
			t.Skipf("%d of %d pages still cached after POSIX_FADV_DONTNEED (tmpfs?): nothing to test", before, span/int(osPage))
		}
		prefetch(v, span)
		deadline := time.Now().Add(5 * time.Second)
		for resident(t, r) < span/int(osPage)*9/10 {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d pages in the page cache 5 s after prefetch (%d before)", resident(t, r), span/int(osPage), before)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// Far past the end of the map: advice on what is mapped, no fault.
		prefetch(v, 1<<40)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
