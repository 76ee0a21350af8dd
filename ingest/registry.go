package ingest

import (
	"errors"
	"fmt"
	"sort"
)

// Factory builds a Source from a validated feed config. Each provider package
// exports one (otx.New, misp.New, ...).
type Factory func(FeedConfig) (Source, error)

// ErrUnknownProvider is returned by Registry.New for a provider nobody registered.
var ErrUnknownProvider = errors.New("unknown provider")

// ErrDuplicateProvider is returned by Registry.Register for a name registered before.
var ErrDuplicateProvider = errors.New("provider registered twice")

// Registry maps provider names to factories. It is a value cmd fills from one
// list; it is not safe for concurrent Register calls.
type Registry struct {
	// Identity, when set, is the instance identity New puts in FeedConfig.Identity
	// of configs that have none, so that factories need no patching.
	Identity  string
	factories map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{factories: map[string]Factory{}} }

// Register adds the factory for provider name. Registering a name twice, an empty
// name or a nil factory is an error (ErrDuplicateProvider for the former).
func (r *Registry) Register(name string, f Factory) error {
	if name == "" || f == nil {
		return fmt.Errorf("register provider %q: empty name or nil factory", name)
	}
	if _, ok := r.factories[name]; ok {
		return fmt.Errorf("register provider %q: %w", name, ErrDuplicateProvider)
	}
	r.factories[name] = f
	return nil
}

// Names returns the registered provider names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.factories))
	for n := range r.factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New validates cfg and builds its Source with the factory registered for
// cfg.Provider. Returns an error wrapping ErrUnknownProvider or ErrConfig, or the
// factory's error naming the feed.
func (r *Registry) New(cfg FeedConfig) (*Feed, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Identity == "" {
		cfg.Identity = r.Identity
	}
	f, ok := r.factories[cfg.Provider]
	if !ok {
		return nil, fmt.Errorf("feed %q: provider %q (known: %v): %w", cfg.Name, cfg.Provider, r.Names(), ErrUnknownProvider)
	}
	src, err := f(cfg)
	if err != nil {
		return nil, fmt.Errorf("feed %q: %w", cfg.Name, err)
	}
	return &Feed{Config: cfg, Source: src}, nil
}

// Feed is a configured feed: its config and the Source built from it.
type Feed struct {
	Config FeedConfig
	Source Source
}
