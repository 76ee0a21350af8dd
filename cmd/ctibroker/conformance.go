package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ctibroker/ctibroker/conformance"
)

// Environment variables holding the conformance run's secrets (preferred to
// the flags, which other users of the machine can see in the process list).
const (
	envConformancePassword = "CTIBROKER_CONFORMANCE_PASSWORD"
	envConformanceToken    = "CTIBROKER_CONFORMANCE_TOKEN"
)

// runConformance runs the black-box TAXII 2.1 conformance suite against any
// server and prints the report; any failed check exits 1.
func (m *Main) runConformance(ctx context.Context, args []string) error {
	fs := m.flagSet("conformance", "--url DISCOVERY-URL [--user U --password P | --token T] [--collection ID] [--json]")
	u := fs.String("url", "", "the server's discovery URL, e.g. https://taxii.example.org/taxii2/")
	user := fs.String("user", "", "HTTP Basic user name")
	password := fs.String("password", "", "HTTP Basic password; prefer the environment variable "+envConformancePassword)
	token := fs.String("token", "", "bearer token or API key; prefer the environment variable "+envConformanceToken)
	coll := fs.String("collection", "", "id of a collection this identity may write to; the run adds test objects there and deletes them\nafterwards (without it, the checks that need writes are skipped)")
	asJSON := fs.Bool("json", false, "write the report as JSON")
	timeout := fs.Duration("timeout", conformance.DefaultTimeout, "timeout of each request")
	maxReq := fs.Int("max-requests", conformance.DefaultMaxRequests, "most requests the run sends")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintln(out, "Usage: ctibroker conformance --url DISCOVERY-URL [--user U --password P | --token T] [--collection ID] [--json]")
		fmt.Fprintln(out)
		fmt.Fprintln(out, "Runs the black-box TAXII 2.1 conformance suite against any TAXII 2.1 server: one check per")
		fmt.Fprintln(out, "server item of the checklist, each PASS, FAIL (with the request sent and the response received)")
		fmt.Fprintln(out, "or SKIP. The report ends with \"N passed, M failed\"; the exit status is 1 when a check fails.")
		fmt.Fprintln(out)
		fmt.Fprintln(out, "Secrets: the password and the token may also come from the environment variables")
		fmt.Fprintf(out, "%s and %s, which are preferred to the flags.\n\n", envConformancePassword, envConformanceToken)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *u == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitError(2)
	}
	getenv := m.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	// the environment fills in the secret of the chosen scheme only
	if *user != "" && *password == "" {
		*password = getenv(envConformancePassword)
	}
	if *user == "" && *token == "" {
		*token = getenv(envConformanceToken)
	}
	if *timeout <= 0 {
		*timeout = conformance.DefaultTimeout
	}
	rep, err := conformance.Run(ctx, conformance.Options{
		URL: *u, User: *user, Password: *password, Token: *token, Collection: *coll,
		Timeout: *timeout, MaxRequests: *maxReq, Now: time.Now,
	})
	if err != nil && rep == nil {
		return fmt.Errorf("conformance: %w", err)
	}
	if *asJSON {
		err = rep.WriteJSON(m.Stdout)
	} else {
		err = rep.WriteText(m.Stdout)
	}
	if err != nil {
		return fmt.Errorf("conformance: writing the report: %w", err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("conformance: interrupted after %d checks: %w", len(rep.Checks), ctx.Err())
	}
	if rep.Failed > 0 {
		return exitError(1)
	}
	return nil
}
