// Command testserver runs FerretDB v1.24.2 (the MongoDB wire protocol over SQLite)
// embedded, on loopback, for the storage/mongo test suite. It lives in its own Go
// module so that FerretDB never enters ctibroker's go.mod.
//
// Usage:
//
//	testserver [-listen 127.0.0.1:0] [-dir DIR] [-log FILE]
//
// Once the server answers a ping over the wire protocol it prints one line on stdout, the
// mongodb:// URI to connect to, then serves until SIGTERM or SIGINT, when it closes
// the listener and the SQLite databases and exits 0. Without -dir it keeps its data
// in a temporary directory it removes on exit. start.sh and stop.sh beside this
// file wrap it for .ci/run.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("testserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback TCP address to listen on (port 0 picks a free port)")
	dir := fs.String("dir", "", "directory for the SQLite databases (default: a temporary directory removed on exit)")
	logFile := fs.String("log", "", "file for FerretDB's log at level WARN and above (default: stderr)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", *listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %q: must be a loopback IP address (127.0.0.1 or ::1)", *listen)
	}

	dataDir := *dir
	if dataDir == "" {
		d, err := os.MkdirTemp("", "ctibroker-ferretdb-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dataDir = d
	} else if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}

	logOut := stderr
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		logOut = f
	}
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		return err
	}

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// MongoDBURI blocks until the TCP listener is bound; then the URI is printed only
	// once the server answers a ping.
	uri := f.MongoDBURI()
	if err := waitReady(ctx, uri); err != nil {
		stop()
		<-done
		return err
	}
	fmt.Fprintln(stdout, uri)
	if s, ok := stdout.(interface{ Sync() error }); ok {
		_ = s.Sync()
	}
	return <-done
}

// waitReady waits until the server answers a ping over the MongoDB wire protocol
// (FerretDB's own dependency, the v1 driver, does the talking).
func waitReady(ctx context.Context, uri string) error {
	if err := waitDial(ctx, uri); err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := mongo.Connect(pctx, options.Client().ApplyURI(uri))
	if err != nil {
		return err
	}
	defer c.Disconnect(context.Background())
	if err := c.Ping(pctx, nil); err != nil {
		return fmt.Errorf("%s does not answer ping: %w", uri, err)
	}
	return nil
}

// waitDial waits until a TCP connection to the URI's host succeeds.
func waitDial(ctx context.Context, uri string) error {
	const prefix = "mongodb://"
	hostPath := uri[len(prefix):]
	host := hostPath
	for i, c := range hostPath {
		if c == '/' {
			host = hostPath[:i]
			break
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("listener %s does not answer: %w", host, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
