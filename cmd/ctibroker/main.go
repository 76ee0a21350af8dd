// Command ctibroker is a STIX/TAXII 2.1 server and cyber-threat-intelligence feed broker.
// Run `ctibroker help` for the list of verbs.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := NewMain(os.Stdout, os.Stderr).Run(ctx, os.Args[1:]); err != nil {
		if code, ok := err.(exitError); ok {
			stop()
			os.Exit(int(code))
		}
		fmt.Fprintln(os.Stderr, "ctibroker:", err)
		stop()
		os.Exit(1)
	}
}
