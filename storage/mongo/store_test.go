package mongo_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/mongo"
	"github.com/ctibroker/ctibroker/storage/storagetest"
)

// crashChildEnv carries "URI database markerdir" to the crash writer child.
const crashChildEnv = "CTIBROKER_MONGO_CRASH_CHILD"

// crashTTL is the child's PendingTTL (it gives up a batch after half of it, so it
// is generous for a loaded CI machine). After the kill the parent reopens with a
// clock moved forward by crashTTL instead of waiting it out.
const crashTTL = 30 * time.Second

func TestMain(m *testing.M) {
	if v := os.Getenv(crashChildEnv); v != "" {
		os.Exit(crashChild(v))
	}
	if v := os.Getenv(writerChildEnv); v != "" {
		os.Exit(writerChild(v))
	}
	code := m.Run()
	dropFixture()
	os.Exit(code)
}

func TestStore(t *testing.T) {
	uri, flavor := mongo.TestURI(t)
	var sizes storagetest.Sizes
	if flavor == "ferretdb" {
		// FerretDB 1.24 on SQLite pushes no filter or sort down to SQLite (only _id
		// lookups): every query decodes the whole MongoDB collection and sorts it in
		// memory, so page cost grows with the collection. Smaller cases keep the suite
		// to a few minutes; real MongoDB runs the defaults.
		sizes = storagetest.Sizes{Bulk: 400, BulkPage: 90, WatermarkWrites: 400, WatermarkBatch: 25}
	}
	storagetest.Suite{
		Sizes: sizes,
		Open: func(t *testing.T) (storage.Store, func(*testing.T) storage.Store) {
			db := mongo.TempDatabase()
			t.Cleanup(func() { mongo.DropTestDatabase(uri, db) })
			st := mongo.MustOpen(t, uri, mongo.Options{Database: db})
			return st, func(t *testing.T) storage.Store { return mongo.MustOpen(t, uri, mongo.Options{Database: db}) }
		},
		Crash: func(t *testing.T) storage.Store { return crashStore(t, uri) },
	}.Run(t)
}

// rawCount counts the object records in database db, visible or not.
func rawCount(t *testing.T, uri, db string) int {
	c, err := mongodrv.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	n, err := c.Database(db).Collection("objects").CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// crashChild runs the crash writer on the database named in v until killed.
func crashChild(v string) int {
	parts := strings.SplitN(v, " ", 3)
	if len(parts) != 3 {
		fmt.Fprintln(os.Stderr, "bad", crashChildEnv)
		return 2
	}
	st, err := mongo.Open(context.Background(), parts[0], mongo.Options{Database: parts[1], PendingTTL: crashTTL})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	err = storagetest.CrashWriter(context.Background(), st, func(b int) {
		os.WriteFile(filepath.Join(parts[2], fmt.Sprintf("committed-%d", b)), nil, 0o600)
	})
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// crashStore starts the child on a fresh database, waits for its second batch,
// kills it with SIGKILL while it writes the next one, waits until the child's
// pending write has expired, and opens the database again.
func crashStore(t *testing.T, uri string) storage.Store {
	db := mongo.TempDatabase()
	t.Cleanup(func() { mongo.DropTestDatabase(uri, db) })
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+uri+" "+db+" "+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "committed-1")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("crash writer did not commit two batches within 90 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // into the next batch: on FerretDB usually after its insertMany, before it finished
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	st := mongo.MustOpen(t, uri, mongo.Options{Database: db})
	// While the dead writer's reservation lives, its batch stays invisible.
	pg, err := st.QueryManifest(context.Background(), storagetest.CrashCollection, storage.Filter{Limit: 10000, Versions: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Records)%storagetest.CrashBatchSize != 0 {
		t.Fatalf("right after the kill %d records are visible, not whole batches of %d", len(pg.Records), storagetest.CrashBatchSize)
	}
	if raw := rawCount(t, uri, db); raw > len(pg.Records) {
		t.Logf("the killed batch had inserted %d of its records; none visible", raw-len(pg.Records))
	} else {
		t.Logf("the kill landed before the next batch inserted anything (%d records stored)", raw)
	}
	st.Close()
	// Once it has expired (the clock says crashTTL later), the next reader discards it.
	later := func() time.Time { return time.Now().Add(crashTTL + time.Second) }
	st = mongo.MustOpen(t, uri, mongo.Options{Database: db, Now: later})
	return st
}

// writerChildEnv carries "URI database n" to a writer child of
// TestWatermarkProcesses.
const writerChildEnv = "CTIBROKER_MONGO_WRITER_CHILD"

// writerChild stores n indicators in batches of 20 into collection "c".
func writerChild(v string) int {
	parts := strings.SplitN(v, " ", 3)
	n, err := strconv.Atoi(parts[len(parts)-1])
	if len(parts) != 3 || err != nil {
		fmt.Fprintln(os.Stderr, "bad", writerChildEnv)
		return 2
	}
	st, err := mongo.Open(context.Background(), parts[0], mongo.Options{Database: parts[1]})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer st.Close()
	for i := 0; i < n; i += 20 {
		objs := make([]stix.RawObject, 0, 20)
		for j := i; j < min(i+20, n); j++ {
			objs = append(objs, storagetest.Indicator(time.Now()))
		}
		if _, err := st.PutObjects(context.Background(), "c", objs); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// TestWatermarkProcesses is the suite's watermark test with the writers in two
// other processes (separate clients, no shared lock): an added_after poller's
// union must equal the final collection, each record seen once. It needs
// MongoDB's atomic single-document updates, so it skips on FerretDB, which
// applies an update as a separate read and write.
func TestWatermarkProcesses(t *testing.T) {
	uri, flavor := mongo.TestURI(t)
	if flavor == "ferretdb" {
		t.Skip("FerretDB 1.24 updates are not atomic across clients; this test needs MongoDB")
	}
	ctx := context.Background()
	db := mongo.TempDatabase()
	t.Cleanup(func() { mongo.DropTestDatabase(uri, db) })
	st := mongo.MustOpen(t, uri, mongo.Options{Database: db})
	if err := st.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	const per = 2000
	var cmds []*exec.Cmd
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), writerChildEnv+"="+uri+" "+db+" "+strconv.Itoa(per))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	done := make(chan error, 2)
	for _, c := range cmds {
		go func() { done <- c.Wait() }()
	}
	seen := map[string]int{}
	var last time.Time
	poll := func() {
		for {
			pg, err := st.QueryManifest(ctx, "c", storage.Filter{AddedAfter: last, Limit: 97})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range pg.Records {
				seen[r.ID]++
				last = r.DateAdded
			}
			if len(pg.Records) == 0 {
				return
			}
		}
	}
	for finished := 0; finished < 2; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("writer process: %v", err)
			}
			finished++
		default:
			poll()
		}
	}
	poll()
	final, err := st.QueryManifest(ctx, "c", storage.Filter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(final.Records) != 2*per {
		t.Fatalf("final collection holds %d, want %d", len(final.Records), 2*per)
	}
	for _, r := range final.Records {
		if seen[r.ID] != 1 {
			t.Fatalf("poller saw %s %d times, want once (it saw %d of %d)", r.ID, seen[r.ID], len(seen), len(final.Records))
		}
	}
}
