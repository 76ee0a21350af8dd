package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/ctibroker/ctibroker/ingest/enrich"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/storage"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError asks main to exit with a code without printing anything more: the
// verb has already said what went wrong.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Main holds what every verb needs: where to write, and how to read the environment.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
	Stdin  io.Reader
	Getenv func(string) string
	// Dir is the directory relative paths resolve against; empty: the process's.
	Dir string

	// Now is the clock of everything the verbs date (imports, curation passes,
	// scores); nil: time.Now. Tests over dated corpora fix it.
	Now func() time.Time

	// enricher is serve's on-demand enricher while a verb runs inside serve
	// (explain --enrich shares its provider budgets); nil otherwise.
	enricher *enrich.Enricher

	// shared is serve's open store while a verb runs inside serve (admin socket).
	shared storage.Store
}

// NewMain returns a Main writing to stdout and stderr and reading the process environment.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{Stdout: stdout, Stderr: stderr, Stdin: os.Stdin, Getenv: os.Getenv}
}

// now returns the current time of m's clock, in UTC.
func (m *Main) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

// verb is one subcommand.
type verb struct {
	name    string // one or two words: "validate", "token issue"
	summary string
	store   bool // opens the config's store: runs inside serve when serve holds it
	run     func(m *Main, ctx context.Context, args []string) error
}

func (m *Main) verbs() []verb {
	return []verb{
		{name: "help", summary: "list the verbs, or show one verb's flags", run: (*Main).runHelp},
		{name: "version", summary: "print the version", run: (*Main).runVersion},
		{name: "validate", summary: "validate a STIX 2.1 bundle, envelope, object or pattern", run: (*Main).runValidate},
		{name: "serve", summary: "run the TAXII 2.1 server", run: (*Main).runServe},
		{name: "config check", summary: "validate a configuration file", run: (*Main).runConfigCheck},
		{name: "convert", summary: "convert provider data to one STIX 2.1 bundle", run: (*Main).runConvert},
		{name: "import", summary: "convert provider files and ingest them into the pool", run: (*Main).runImport, store: true},
		{name: "ingest", summary: "pull the configured feeds once", run: (*Main).runIngest, store: true},
		{name: "attack import", summary: "load MITRE ATT&CK bundles into the store", run: (*Main).runAttackImport, store: true},
		{name: "curate", summary: "run a curation pass now: score the pool, fill the curated collections (--force: no version cap)", run: (*Main).runCurate, store: true},
		{name: "feeds report", summary: "feed quality: what each feed reports, uniquely and first, confirmed or disputed", run: (*Main).runFeedsReport, store: true},
		{name: "explain", summary: "print why a value, indicator or observable scores as it does", run: (*Main).runExplain, store: true},
		{name: "score-eval", summary: "evaluate the risk score on labelled values; compare scoring configs", run: (*Main).runScoreEval, store: true},
		{name: "backup", summary: "write a consistent online copy of the store", run: (*Main).runBackup, store: true},
		{name: "restore", summary: "replace the embedded store with a backup", run: (*Main).runRestore, store: true},
		{name: "push", summary: "push the configured collections to partners' TAXII servers and MISP instances now", run: (*Main).runPush, store: true},
		{name: "export", summary: "write a collection as one STIX 2.1 bundle", run: (*Main).runExport, store: true},
		{name: "store check", summary: "recompute the store's advisory counters (--repair fixes them)", run: (*Main).runStoreCheck, store: true},
		{name: "token issue", summary: "print a signed JWT for a consumer", run: (*Main).runTokenIssue},
		{name: "conformance", summary: "run the TAXII 2.1 conformance suite against a server", run: (*Main).runConformance},
	}
}

// Run dispatches args to a verb. Two-word verbs ("token issue") are matched first.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		m.usage(m.Stderr)
		return exitError(2)
	}
	switch args[0] {
	case "-h", "-help", "--help":
		m.usage(m.Stdout)
		return nil
	case "-version", "--version":
		args = []string{"version"}
	}
	v, rest, ok := m.lookup(args)
	if !ok {
		fmt.Fprintf(m.Stderr, "ctibroker: unknown verb %q\n\n", strings.Join(args[:min(2, len(args))], " "))
		m.usage(m.Stderr)
		return exitError(2)
	}
	if v.store && m.shared == nil {
		if err, ok := m.forward(ctx, args); ok {
			return err
		}
	}
	err := v.run(m, ctx, rest)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func (m *Main) lookup(args []string) (verb, []string, bool) {
	vs := m.verbs()
	if len(args) >= 2 {
		for _, v := range vs {
			if v.name == args[0]+" "+args[1] {
				return v, args[2:], true
			}
		}
	}
	for _, v := range vs {
		if v.name == args[0] {
			return v, args[1:], true
		}
	}
	return verb{}, nil, false
}

func (m *Main) usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: ctibroker VERB [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Verbs:")
	vs := m.verbs()
	sort.Slice(vs, func(i, j int) bool { return vs[i].name < vs[j].name })
	for _, v := range vs {
		fmt.Fprintf(w, "  %-16s %s\n", v.name, v.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'ctibroker VERB --help' for a verb's flags.")
}

// flagSet returns a FlagSet for verb name whose usage names the verb and its synopsis.
func (m *Main) flagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ctibroker %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func (m *Main) runHelp(_ context.Context, args []string) error {
	if len(args) == 0 {
		m.usage(m.Stdout)
		return nil
	}
	v, _, ok := m.lookup(args)
	if !ok {
		return fmt.Errorf("help: unknown verb %q", strings.Join(args, " "))
	}
	// Every verb answers --help with its flags.
	return v.run(m, context.Background(), []string{"--help"})
}

func (m *Main) runVersion(_ context.Context, args []string) error {
	fs := m.flagSet("version", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, "ctibroker", version)
	return nil
}
