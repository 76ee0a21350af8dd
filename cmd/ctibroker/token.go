package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ctibroker/ctibroker/taxii/auth"
)

func (m *Main) runTokenIssue(_ context.Context, args []string) error {
	fs := m.flagSet("token issue", "--config FILE --consumer NAME [--ttl 24h]")
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	consumer := fs.String("consumer", "", "the consumer the token names (its sub claim)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || *consumer == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitError(2)
	}
	if *ttl <= 0 {
		return fmt.Errorf("token issue: --ttl %s: want a positive duration", *ttl)
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	audit, closeAudit, err := m.auditLog(cfg)
	if err != nil {
		return err
	}
	defer closeAudit()
	// Issuing needs the signing key, not every consumer's password.
	a, err := auth.New(cfg.Auth, auth.Options{Getenv: m.Getenv, SkipConsumerSecrets: true, Audit: audit})
	if err != nil {
		return err
	}
	tok, err := a.IssueToken(*consumer, *ttl)
	if err != nil {
		return fmt.Errorf("token issue: %w", err)
	}
	fmt.Fprintln(m.Stdout, tok)
	return nil
}
