package bolt_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
	"github.com/ctibroker/ctibroker/storage/storagetest"
)

// crashChildEnv names the store directory for the child process of crashStore.
const crashChildEnv = "CTIBROKER_BOLT_CRASH_CHILD"

// TestMain turns the test binary into the crash writer when crashChildEnv is set.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// crashChild writes batches with fsync on (the default) and reports each commit
// by creating a file, until it is killed. Its index tail holds 3000 entries, so
// the kill may also land in a tail merge.
func crashChild(dir string) int {
	st, err := bolt.Open(dir, bolt.Options{IndexTail: 3000})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	err = storagetest.CrashWriter(context.Background(), st, func(b int) {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("committed-%d", b)), nil, 0o600)
	})
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// crashStore starts the child, waits for its third commit, kills it with
// SIGKILL up to 150 ms later (in a batch, or in the tail merge that follows
// every second batch), and reopens the directory.
func crashStore(t *testing.T) storage.Store {
	dir := filepath.Join(t.TempDir(), "db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "committed-2")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("crash writer did not commit three batches within 60 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Kill a little into the next batch or merge (a commit takes tens of milliseconds).
	time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	return bolt.MustOpen(t, dir)
}
