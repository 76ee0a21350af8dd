package stixfeed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
)

// Options are a stix feed's provider options: either files, or a TAXII 2.1
// collection url.
//
//	options:
//	  url: https://taxii.example/api1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/
//	  username_env: PEER_USER      # HTTP Basic, with password_env
//	  password_env: PEER_PASSWORD
//	  # token_env: PEER_TOKEN      # or a bearer token
//	  added_after: 2025-01-01T00:00:00Z
type Options struct {
	Files       []string      `yaml:"files"`        // bundle files (plain or gzip), relative to the working directory
	URL         string        `yaml:"url"`          // a TAXII 2.1 collection URL (…/collections/{id}/)
	UsernameEnv string        `yaml:"username_env"` // HTTP Basic user name, from the environment
	PasswordEnv string        `yaml:"password_env"` // HTTP Basic password, from the environment
	TokenEnv    string        `yaml:"token_env"`    // bearer token, from the environment
	AddedAfter  string        `yaml:"added_after"`  // the first pull's added_after (RFC 3339); empty: everything
	Types       []string      `yaml:"types"`        // match[type]; empty: all
	Limit       int           `yaml:"limit"`        // objects per page asked for; default DefaultPageLimit
	MaxRequests int           `yaml:"max_requests"` // request budget per pull; default DefaultMaxRequests
	Timeout     time.Duration `yaml:"timeout"`
	MaxRetries  int           `yaml:"max_retries"`
	Backoff     time.Duration `yaml:"backoff"`
	MaxWait     time.Duration `yaml:"max_wait"`
	BatchSize   int           `yaml:"batch_size"` // objects per emitted batch; default 500
}

// Source pulls a stix feed. For files the cursor is a digest of the files'
// names and bytes: unchanged files are not read again, and the feed is a
// snapshot (values whose indicators vanish from the files are withdrawn). For a
// TAXII collection the cursor is the added_after of the current cycle and the
// server's next token while a cycle is under way; after the last page,
// added_after becomes the last X-TAXII-Date-Added-Last the server sent.
type Source struct {
	Client    *Client
	Converter Converter
	Options   Options
	Limits    stix.Limits      // zero: stix.DefaultLimits
	Now       func() time.Time // nil: time.Now
}

var (
	_ ingest.Source         = (*Source)(nil)
	_ ingest.SnapshotSource = (*Source)(nil)
)

// New builds a stix Source from a feed config. It matches ingest.Factory.
func New(cfg ingest.FeedConfig) (ingest.Source, error) { return NewSource(cfg) }

// NewSource is New returning the concrete type.
func NewSource(cfg ingest.FeedConfig) (*Source, error) {
	var o Options
	if err := cfg.DecodeOptions(&o); err != nil {
		return nil, err
	}
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("feed %q: options: %s: %s: %w", cfg.Name, field, fmt.Sprintf(format, a...), ingest.ErrConfig)
	}
	if (len(o.Files) == 0) == (o.URL == "") {
		return nil, bad("files/url", "give either files or a TAXII collection url")
	}
	c := &Client{}
	if o.URL != "" {
		u, err := url.Parse(o.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || !strings.Contains(u.Path, "/collections/") {
			return nil, bad("url", "%q is not an http(s) TAXII collection URL (…/collections/{id}/)", o.URL)
		}
	}
	if o.UsernameEnv != "" || o.PasswordEnv != "" {
		var err error
		if c.Username, err = cfg.Secret("username_env", o.UsernameEnv); err != nil {
			return nil, err
		}
		if c.Password, err = cfg.Secret("password_env", o.PasswordEnv); err != nil {
			return nil, err
		}
	} else if o.TokenEnv != "" {
		var err error
		if c.Token, err = cfg.Secret("token_env", o.TokenEnv); err != nil {
			return nil, err
		}
	}
	if o.AddedAfter != "" {
		if _, err := time.Parse(time.RFC3339, o.AddedAfter); err != nil {
			return nil, bad("added_after", "%q is not an RFC 3339 time", o.AddedAfter)
		}
	}
	if o.Limit < 0 || o.MaxRequests < 0 || o.BatchSize < 0 {
		return nil, bad("limit/max_requests/batch_size", "negative")
	}
	return &Source{Client: c, Converter: Converter{DefaultTLP: cfg.DefaultTLP}, Options: o}, nil
}

// Snapshot reports whether the feed reads files (full snapshots).
func (s *Source) Snapshot() bool { return len(s.Options.Files) > 0 }

// httpClient returns an HTTP client with the options' timeout, retries and
// request budget.
func (s *Source) httpClient() *ingest.HTTPClient {
	o := s.Options
	timeout := o.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	budget := o.MaxRequests
	if budget == 0 {
		budget = DefaultMaxRequests
	}
	return &ingest.HTTPClient{Client: &http.Client{Timeout: timeout}, MaxRetries: o.MaxRetries, MinBackoff: o.Backoff,
		MaxWait: o.MaxWait, MaxRequests: budget, UserAgent: userAgent}
}

type cursor struct {
	Digest     string `json:"digest,omitempty"`      // files
	AddedAfter string `json:"added_after,omitempty"` // TAXII
	Next       string `json:"next,omitempty"`        // TAXII, while paging
}

func (c cursor) encode() ingest.Cursor {
	b, _ := json.Marshal(c)
	return b
}

// ErrCursor is returned for a stored cursor this package did not write.
var ErrCursor = errors.New("stixfeed: unreadable cursor")

func (s *Source) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Source) batchSize() int {
	if s.Options.BatchSize > 0 {
		return s.Options.BatchSize
	}
	return 500
}

// Pull reads the files or polls the collection from cur on; each batch's
// observations get their context from the batch's graph (Converter.Relate).
func (s *Source) Pull(ctx context.Context, cur ingest.Cursor, emit func(ingest.Batch) error) error {
	var c cursor
	if len(cur) > 0 {
		if err := json.Unmarshal(cur, &c); err != nil {
			return fmt.Errorf("%w: %v", ErrCursor, err)
		}
	}
	conv := s.Converter
	conv.Now = s.now()
	next := emit
	emit = func(b ingest.Batch) error {
		conv.Relate(&b)
		return next(b)
	}
	if len(s.Options.Files) > 0 {
		return s.pullFiles(ctx, c, &conv, emit)
	}
	return s.pullTAXII(ctx, c, &conv, emit)
}

// digest hashes the files' names and bytes.
func digest(files []string) (string, error) {
	h := sha256.New()
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return "", fmt.Errorf("stixfeed: %w", err)
		}
		fmt.Fprintf(h, "%s\x00", f)
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", fmt.Errorf("stixfeed: %s: %w", f, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s *Source) pullFiles(ctx context.Context, c cursor, conv *Converter, emit func(ingest.Batch) error) error {
	d, err := digest(s.Options.Files)
	if err != nil {
		return err
	}
	if d == c.Digest {
		return nil // unchanged since the last pull: the previous snapshot stays in force
	}
	var b ingest.Batch
	for _, f := range s.Options.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := ReadFile(f, conv, s.Limits, &b, s.batchSize(), emit); err != nil {
			return err
		}
	}
	b.Cursor = cursor{Digest: d}.encode()
	return emit(b)
}

// ReadFile streams one bundle file into b, emitting b (without a cursor) each
// time it holds batchSize objects; what remains stays in b. batchSize 0 never
// emits. Elements that are not objects become warnings.
func ReadFile(path string, conv *Converter, lim stix.Limits, b *ingest.Batch, batchSize int, emit func(ingest.Batch) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("stixfeed: %w", err)
	}
	defer f.Close()
	_, err = Decode(f, lim, func(o *stix.RawObject, p string) error {
		conv.Add(b, o, path+": "+p)
		if batchSize > 0 && len(b.Objects) >= batchSize {
			err := emit(*b)
			*b = ingest.Batch{}
			return err
		}
		return nil
	}, func(p string, err error) {
		b.Warnings = append(b.Warnings, ingest.Warning{Record: path + ": " + p, Field: "-", Msg: err.Error()})
	})
	if err != nil {
		return fmt.Errorf("stixfeed: %s: %w", path, err)
	}
	return nil
}

// pullTAXII polls the collection's objects endpoint, following next (and more
// without next, by added_after) to the end.
func (s *Source) pullTAXII(ctx context.Context, c cursor, conv *Converter, emit func(ingest.Batch) error) error {
	if c.AddedAfter == "" && c.Next == "" {
		c.AddedAfter = s.Options.AddedAfter
	}
	s.Client.HTTP = s.httpClient() // a new request budget per pull
	limit := s.Options.Limit
	if limit == 0 {
		limit = DefaultPageLimit
	}
	restarted := false
	for {
		u, err := ObjectsURL(s.Options.URL, c.AddedAfter, limit, c.Next, s.Options.Types)
		if err != nil {
			return err
		}
		var b ingest.Batch
		var env stix.Envelope
		var last string
		var empty *stix.RawObject
		err = s.Client.Get(ctx, u, func(h http.Header, body io.Reader) error {
			b = ingest.Batch{} // a retried page starts over
			last = h.Get(HeaderDateAddedLast)
			var err error
			empty = nil
			env, err = Decode(body, s.Limits, func(o *stix.RawObject, p string) error {
				if o.Type == "" && p == "" {
					// An envelope without objects reads as one object: {"more": false}.
					empty = o
					return nil
				}
				conv.Add(&b, o, p)
				if len(b.Objects) >= s.batchSize() {
					err := emit(b)
					b = ingest.Batch{}
					return err
				}
				return nil
			}, func(p string, err error) {
				b.Warnings = append(b.Warnings, ingest.Warning{Record: p, Field: "-", Msg: err.Error()})
			})
			return err
		})
		if errors.Is(err, ingest.ErrBudget) {
			return emit(ingest.Batch{Warnings: []ingest.Warning{{Record: "pull", Field: "max_requests",
				Msg: fmt.Sprintf("%v; the next pull continues from here", err)}}})
		}
		var he *ingest.HTTPError
		if errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusBadRequest) && c.Next != "" && !restarted {
			// The server no longer knows the stored next token (expired, or the server
			// restarted with another key): continue from added_after alone.
			restarted = true
			if err := emit(ingest.Batch{Warnings: []ingest.Warning{{Record: "pull", Field: "cursor",
				Msg: fmt.Sprintf("stored next token refused (HTTP %d); continuing from added_after %q", he.Status, c.AddedAfter)}}}); err != nil {
				return err
			}
			c.Next = ""
			continue
		}
		if err != nil {
			return err
		}
		if empty != nil {
			var e struct {
				More bool   `json:"more"`
				Next string `json:"next"`
			}
			if err := json.Unmarshal(empty.JSON, &e); err != nil {
				return fmt.Errorf("taxii: GET %s: %w", u, err)
			}
			env = stix.Envelope{Kind: stix.ContainerEnvelope, More: e.More, HasMore: true, Next: e.Next}
		}
		if env.Kind != stix.ContainerEnvelope && env.Kind != stix.ContainerUnknown {
			return fmt.Errorf("taxii: GET %s: got a %s, want a TAXII envelope", u, env.Kind)
		}
		next := cursor{AddedAfter: c.AddedAfter}
		if last != "" {
			if _, err := time.Parse(time.RFC3339Nano, last); err != nil {
				return fmt.Errorf("taxii: GET %s: %s %q: not a timestamp", u, HeaderDateAddedLast, last)
			}
		}
		switch {
		case env.More && env.Next != "":
			next.Next = env.Next
		case env.More && last != "" && last != c.AddedAfter:
			next.AddedAfter = last // a server that pages by added_after only
		case env.More:
			return fmt.Errorf("taxii: GET %s: more is true without next or %s; cannot continue", u, HeaderDateAddedLast)
		default:
			if last != "" {
				next.AddedAfter = last
			}
		}
		b.Cursor = next.encode()
		if err := emit(b); err != nil {
			return err
		}
		if !env.More {
			return nil
		}
		c = next
	}
}
