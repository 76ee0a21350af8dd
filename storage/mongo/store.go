package mongo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/ctibroker/ctibroker/storage"
)

// Every ability the contract defines.
var (
	_ storage.Store             = (*Store)(nil)
	_ storage.MembershipStore   = (*Store)(nil)
	_ storage.FeedStateStore    = (*Store)(nil)
	_ storage.ProvenanceStore   = (*Store)(nil)
	_ storage.ProvenanceScanner = (*Store)(nil)
	_ storage.SightingStore     = (*Store)(nil)
	_ storage.MISPEventIndex    = (*Store)(nil)
	_ storage.Leaser            = (*Store)(nil)
	_ storage.Sequencer         = (*Store)(nil)
	_ storage.Checker           = (*Store)(nil)
)

// DefaultDatabase is the database used when neither the URI path nor
// Options.Database names one.
const DefaultDatabase = "ctibroker"

// Options tunes a Store. The zero value is usable.
type Options struct {
	// Database overrides the database named in the URI path (default DefaultDatabase).
	Database string
	// ConnectTimeout bounds how long Open waits for a server (default 10 s; the
	// URI's serverSelectionTimeoutMS, when present, wins for later operations).
	ConnectTimeout time.Duration
	// PendingTTL is how long a write may take before other processes treat its
	// writer as dead and discard its batch (default 2 min). A writer gives up at
	// half of it. See the package doc, "date_added and the visibility watermark".
	PendingTTL time.Duration
	// ScanBudget caps the records one query examines (default 10 000, at least the
	// page size plus one). A selective filter can return fewer than the limit with
	// More true when the budget runs out.
	ScanBudget int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Store is a storage.Store on a MongoDB database (or any server speaking its wire
// protocol well enough, such as FerretDB for tests). It is safe for concurrent use,
// and several processes may share one database.
type Store struct {
	client *mongodrv.Client
	db     *mongodrv.Database
	opt    Options
	closed atomic.Bool
	locks  sync.Map // collection id → *sync.Mutex, see lockColl
}

// Open connects to the MongoDB deployment at uri (mongodb:// or mongodb+srv://, with
// the driver's URI options: TLS, auth, replica set, read preference, timeouts),
// checks that it answers and that the user may write, and creates the indexes the
// backend needs (idempotent). The database is Options.Database, else the URI path,
// else DefaultDatabase.
func Open(ctx context.Context, uri string, opt Options) (*Store, error) {
	if opt.ConnectTimeout <= 0 {
		opt.ConnectTimeout = 10 * time.Second
	}
	if opt.PendingTTL <= 0 {
		opt.PendingTTL = 2 * time.Minute
	}
	if opt.ScanBudget <= 0 {
		opt.ScanBudget = 10000
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	cs, err := connstring.ParseAndValidate(uri)
	if err != nil {
		return nil, fmt.Errorf("mongo: store URI: %s", redactErr(err, uri))
	}
	if cs.WNumberSet && cs.WNumber == 0 {
		return nil, errors.New("mongo: store URI: w=0 (unacknowledged writes) cannot guarantee the visibility watermark; use w=1 or w=majority")
	}
	dbName := opt.Database
	if dbName == "" {
		dbName = cs.Database
	}
	if dbName == "" {
		dbName = DefaultDatabase
	}
	hosts := strings.Join(cs.Hosts, ",")
	if hosts == "" {
		hosts = strings.Join(cs.RawHosts, ",")
	}
	copts := options.Client().SetServerSelectionTimeout(opt.ConnectTimeout).ApplyURI(uri)
	client, err := mongodrv.Connect(copts)
	if err != nil {
		return nil, fmt.Errorf("mongo: connecting to %s: %s", hosts, redactErr(err, uri))
	}
	// Reads go to the primary whatever the URI's read preference: the watermark
	// protocol needs each read to see every write acknowledged before it.
	db := client.Database(dbName, options.Database().SetReadPreference(readpref.Primary()))
	s := &Store{client: client, db: db, opt: opt}
	pctx, cancel := context.WithTimeout(ctx, opt.ConnectTimeout)
	defer cancel()
	if err := client.Ping(pctx, readpref.Primary()); err != nil {
		_ = client.Disconnect(context.Background())
		if ctx.Err() != nil {
			return nil, fmt.Errorf("mongo: connecting to %s: %w", hosts, ctx.Err())
		}
		return nil, fmt.Errorf("mongo: server %s does not answer within %s (is it running, and are the URI's host, TLS and credentials right?): %s",
			hosts, opt.ConnectTimeout, redactErr(err, uri))
	}
	if err := s.ensureIndexes(pctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongo: database %q on %s: %s", dbName, hosts, redactErr(err, uri))
	}
	return s, nil
}

// ensureIndexes creates every declared index; a user without the right gets a
// message naming the roles needed.
func (s *Store) ensureIndexes(ctx context.Context) error {
	byColl := map[string][]mongodrv.IndexModel{}
	names := map[string][]string{}
	var order []string
	for _, ix := range indexes {
		keys := bson.D{}
		for _, k := range ix.Keys {
			keys = append(keys, bson.E{Key: k, Value: 1})
		}
		m := mongodrv.IndexModel{Keys: keys, Options: options.Index().SetName(ix.Name)}
		if ix.Unique {
			m.Options.SetUnique(true)
		}
		if _, ok := byColl[ix.Coll]; !ok {
			order = append(order, ix.Coll)
		}
		byColl[ix.Coll] = append(byColl[ix.Coll], m)
		names[ix.Coll] = append(names[ix.Coll], ix.Name)
	}
	for _, coll := range order {
		// Create only the missing ones: a no-op createIndexes is cheap on MongoDB but
		// makes FerretDB 1.24 drop the connection.
		have := map[string]bool{}
		cur, err := s.db.Collection(coll).Indexes().List(ctx)
		if err == nil {
			var specs []struct {
				Name string `bson:"name"`
			}
			if err := cur.All(ctx, &specs); err == nil {
				for _, sp := range specs {
					have[sp.Name] = true
				}
			}
		}
		var missing []mongodrv.IndexModel
		for i, m := range byColl[coll] {
			if !have[names[coll][i]] {
				missing = append(missing, m)
			}
		}
		if len(missing) == 0 {
			continue
		}
		if _, err := s.db.Collection(coll).Indexes().CreateMany(ctx, missing); err != nil {
			if isUnauthorized(err) {
				return fmt.Errorf("not authorized to create indexes in collection %q: the user needs the readWrite role (and createIndex) on this database: %v", coll, err)
			}
			return fmt.Errorf("creating indexes in collection %q: %v", coll, err)
		}
	}
	return nil
}

// Close disconnects. Later calls return storage.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("mongo: close: %v", err)
	}
	return nil
}

// Database returns the name of the database the store uses.
func (s *Store) Database() string { return s.db.Name() }

// DropDatabase deletes the store's whole database. Tests use it; it is not part
// of the contract.
func (s *Store) DropDatabase(ctx context.Context) error {
	if err := s.db.Drop(ctx); err != nil {
		return s.wrap(ctx, "drop database", err)
	}
	return nil
}

func (s *Store) check() error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	return nil
}

// wrap turns a driver error into the backend's own: the context's error when it
// ended, else a message that carries the driver's text but not its types.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("mongo: %s: %w", op, ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("mongo: %s: %w", op, context.DeadlineExceeded)
	}
	if s.closed.Load() || errors.Is(err, mongodrv.ErrClientDisconnected) {
		return fmt.Errorf("mongo: %s: %w", op, storage.ErrClosed)
	}
	if isUnauthorized(err) {
		return fmt.Errorf("mongo: %s: not authorized (the user needs the readWrite role on database %q): %v", op, s.db.Name(), err)
	}
	return fmt.Errorf("mongo: %s: %v", op, err)
}

func isUnauthorized(err error) bool {
	var se mongodrv.ServerError
	if errors.As(err, &se) {
		return se.HasErrorCode(13) || se.HasErrorCode(8000) // Unauthorized, AtlasError
	}
	return false
}

// redactErr returns err's text with any password in uri removed.
func redactErr(err error, uri string) string {
	msg := err.Error()
	if i := strings.Index(uri, "://"); i >= 0 {
		rest := uri[i+3:]
		if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
			userinfo := rest[:at]
			if c := strings.Index(userinfo, ":"); c >= 0 {
				msg = strings.ReplaceAll(msg, userinfo[c+1:], "xxxxx")
			}
		}
	}
	return msg
}

// Time encodings. Object date_added and versions are int64 microseconds since the
// Unix epoch (BSON dates hold only milliseconds); other times are int64
// nanoseconds, with the zero time as math.MinInt64.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

func fromNanos(ns int64) time.Time {
	if ns == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// notFound reports whether err is the driver's "no document".
func notFound(err error) bool { return errors.Is(err, mongodrv.ErrNoDocuments) }

// find runs a find of shape q and decodes every document into out (a pointer to a slice).
func (s *Store) find(ctx context.Context, q queryShape, coll string, filter bson.D, out any, fo *options.FindOptionsBuilder) error {
	if coll == "" {
		coll = q.Coll
	}
	cur, err := s.db.Collection(coll).Find(ctx, filter, fo)
	if err != nil {
		return s.wrap(ctx, q.Name, err)
	}
	if err := cur.All(ctx, out); err != nil {
		return s.wrap(ctx, q.Name, err)
	}
	return nil
}
