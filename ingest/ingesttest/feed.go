package ingesttest

import (
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/ingest"
)

// MustFeedConfig decodes doc, a feed's YAML as in the config file, into a
// FeedConfig whose Getenv answers from env (a missing name reads as ""). It
// does not validate the config: callers that need it validated call Validate,
// after setting fields YAML cannot carry such as Attack.
func MustFeedConfig(tb testing.TB, doc string, env map[string]string) ingest.FeedConfig {
	tb.Helper()
	var cfg ingest.FeedConfig
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		tb.Fatal(err)
	}
	cfg.Getenv = func(k string) string { return env[k] }
	return cfg
}

// MustNewFeed builds cfg's feed as cmd does: through a fresh registry with
// factory registered under cfg.Provider, failing tb when registering or the
// factory fails.
func MustNewFeed(tb testing.TB, factory ingest.Factory, cfg ingest.FeedConfig) *ingest.Feed {
	tb.Helper()
	reg := ingest.NewRegistry()
	if err := reg.Register(cfg.Provider, factory); err != nil {
		tb.Fatal(err)
	}
	f, err := reg.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}
