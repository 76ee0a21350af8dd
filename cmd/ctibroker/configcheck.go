package main

import (
	"context"
	"fmt"

	"github.com/ctibroker/ctibroker/taxii/auth"
)

func (m *Main) runConfigCheck(_ context.Context, args []string) error {
	fs := m.flagSet("config check", "FILE")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError(2)
	}
	cfg, err := loadConfig(fs.Arg(0))
	if err != nil {
		return err
	}
	// Building the authenticator reads every consumer's secrets from the
	// environment and parses every key file, as serve will.
	if _, err := auth.New(cfg.Auth, auth.Options{Getenv: m.Getenv}); err != nil {
		return fmt.Errorf("config %s: %w", fs.Arg(0), err)
	}
	// and the pushes' credentials, which serve refuses to start without
	if err := cfg.checkPushSecrets(m.Getenv); err != nil {
		return fmt.Errorf("config %s: %w", fs.Arg(0), err)
	}
	fmt.Fprintf(m.Stdout, "%s: ok (%d API roots, %d collections, %d consumers, %d feeds)\n",
		fs.Arg(0), len(cfg.TAXII.APIRoots), len(cfg.TAXII.Collections), len(cfg.Auth.Consumers), len(cfg.Feeds))
	return nil
}
