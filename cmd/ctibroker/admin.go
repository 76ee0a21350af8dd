package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ctibroker/ctibroker/storage"
)

// The admin socket lets verbs run while serve holds the embedded store
// (DESIGN.md, Processes): a verb that needs the store finds DIR/admin.sock of a
// running serve and runs inside that process, on its open store, with its
// output streamed back. The socket is owner-only (0600 in a 0700 directory), so
// only the user who runs serve can use it.
const adminSocketName = "admin.sock"

// adminRequest asks serve to run one verb. Dir is the client's working directory,
// against which relative paths in Args resolve.
type adminRequest struct {
	Args []string `json:"args"`
	Dir  string   `json:"dir"`
}

// adminFrame is one line of the answer: output on a stream, or the exit code last.
type adminFrame struct {
	Stream string `json:"stream,omitempty"` // "stdout" | "stderr"
	Data   string `json:"data,omitempty"`
	Exit   *int   `json:"exit,omitempty"`
}

// adminSocketPath returns the socket of the embedded store named by url, or "".
func adminSocketPath(url string) string {
	dir, ok := strings.CutPrefix(url, "embedded:")
	if !ok || dir == "" {
		return ""
	}
	return filepath.Join(dir, adminSocketName)
}

// serveAdmin listens on the store's admin socket and runs forwarded verbs on
// store until ctx ends. It returns once the listener is up (or could not be).
func (m *Main) serveAdmin(ctx context.Context, cfg *Config, store storage.Store, logger *slog.Logger) (func(), error) {
	path := adminSocketPath(cfg.Store)
	if path == "" {
		return func() {}, nil // MongoDB: every process opens the database itself
	}
	// serve holds the store's lock, so a socket left here is stale.
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	var wg sync.WaitGroup
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				m.handleAdmin(ctx, conn, store, logger)
			}()
		}
	}()
	return func() {
		ln.Close()
		wg.Wait()
		os.Remove(path)
	}, nil
}

func (m *Main) handleAdmin(ctx context.Context, conn net.Conn, store storage.Store, logger *slog.Logger) {
	var req adminRequest
	if err := json.NewDecoder(io.LimitReader(conn, 1<<20)).Decode(&req); err != nil {
		logger.Warn("admin socket: bad request", "err", err)
		return
	}
	enc := &frameWriter{enc: json.NewEncoder(conn)}
	sub := &Main{
		Stdout:   enc.stream("stdout"),
		Stderr:   enc.stream("stderr"),
		Stdin:    strings.NewReader(""),
		Getenv:   m.Getenv,
		Now:      m.Now,
		enricher: m.enricher,
		Dir:      req.Dir,
		shared:   store,
	}
	code := 0
	v, _, ok := sub.lookup(req.Args)
	switch {
	case !ok || !v.store:
		fmt.Fprintf(sub.Stderr, "ctibroker: %q does not run through serve\n", strings.Join(req.Args, " "))
		code = 2
	default:
		logger.Info("admin socket: running verb", "verb", v.name)
		if err := sub.Run(ctx, req.Args); err != nil {
			var ee exitError
			if errors.As(err, &ee) {
				code = int(ee)
			} else {
				fmt.Fprintln(sub.Stderr, "ctibroker:", err)
				code = 1
			}
		}
	}
	enc.write(adminFrame{Exit: &code})
}

// frameWriter serialises frames from several streams onto one connection.
type frameWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (f *frameWriter) write(fr adminFrame) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.enc.Encode(fr)
}

type streamWriter struct {
	f    *frameWriter
	name string
}

func (f *frameWriter) stream(name string) io.Writer { return streamWriter{f, name} }

func (s streamWriter) Write(p []byte) (int, error) {
	if err := s.f.write(adminFrame{Stream: s.name, Data: string(p)}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// forward runs args inside the serve process holding the embedded store of the
// config named in args, if one is running. ok is false when there is none and
// the verb should run here.
func (m *Main) forward(ctx context.Context, args []string) (err error, ok bool) {
	cfgPath := configFlag(args)
	if cfgPath == "" {
		return nil, false
	}
	cfg, err := loadConfig(m.path(cfgPath))
	if err != nil {
		return nil, false // the verb itself reports the config's problems
	}
	path := adminSocketPath(cfg.Store)
	if path == "" {
		return nil, false
	}
	if _, err := os.Stat(path); err != nil {
		return nil, false
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, false // stale socket: no serve answers
	}
	defer conn.Close()
	dir := m.Dir
	if dir == "" {
		if dir, err = os.Getwd(); err != nil {
			return err, true
		}
	}
	if err := json.NewEncoder(conn).Encode(adminRequest{Args: args, Dir: dir}); err != nil {
		return fmt.Errorf("admin socket %s: %w", path, err), true
	}
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		var fr adminFrame
		if err := json.Unmarshal(sc.Bytes(), &fr); err != nil {
			return fmt.Errorf("admin socket %s: %w", path, err), true
		}
		switch {
		case fr.Exit != nil:
			if *fr.Exit != 0 {
				return exitError(*fr.Exit), true
			}
			return nil, true
		case fr.Stream == "stderr":
			io.WriteString(m.Stderr, fr.Data)
		default:
			io.WriteString(m.Stdout, fr.Data)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("admin socket %s: %w", path, err), true
	}
	return fmt.Errorf("admin socket %s: serve ended the connection before the verb finished", path), true
}

// configFlag returns the value of --config (or -config) in args, or "".
func configFlag(args []string) string {
	for i, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasVal {
			return val
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}
