package warninglist

import (
	"fmt"
	"os"
)

// Config selects the lists the scorer uses; it is the warninglists part of
// the scoring section of the config file.
type Config struct {
	// Dir, when set, is a directory of upstream lists (<id>/list.json) to
	// load in addition to the embedded ones; a list there replaces the
	// embedded list of the same id.
	Dir string `yaml:"dir"`
	// Disable names lists not to use.
	Disable []string `yaml:"disable"`
	// ContextOnly names lists whose hits only describe a value and never
	// lower its score (for example "amazon-aws" to let cloud-hosted servers
	// reach the alert band).
	ContextOnly []string `yaml:"context_only"`
	// Assets are the organisation's own domains and networks.
	Assets Assets `yaml:"assets"`
}

// Assets are the organisation's own infrastructure, see FromAssets.
type Assets struct {
	// Domains are the organisation's domains; sub-domains match too.
	Domains []string `yaml:"domains"`
	// Networks are its address ranges (CIDR or single addresses).
	Networks []string `yaml:"networks"`
	// MailRelays are its mail relays, as addresses, networks or host names.
	MailRelays []string `yaml:"mail_relays"`
}

// Build loads the embedded lists (and Dir), applies Disable and ContextOnly,
// adds the assets and compiles the result. A name in Disable or ContextOnly
// that matches no list is an error, so typos do not pass silently.
func (c Config) Build() (*Set, error) {
	lists, err := EmbeddedLists()
	if err != nil {
		return nil, err
	}
	if c.Dir != "" {
		extra, err := Load(os.DirFS(c.Dir), ".")
		if err != nil {
			return nil, fmt.Errorf("warninglists.dir: %w", err)
		}
		byID := map[string]int{}
		for i, l := range lists {
			byID[l.ID] = i
		}
		for _, l := range extra {
			if i, ok := byID[l.ID]; ok {
				lists[i] = l
			} else {
				lists = append(lists, l)
			}
		}
	}
	known := map[string]*List{}
	for _, l := range lists {
		known[l.ID] = l
	}
	for i, id := range c.ContextOnly {
		l, ok := known[id]
		if !ok {
			return nil, fmt.Errorf("warninglists.context_only[%d]: no list %q", i, id)
		}
		l.Tier = TierContext
	}
	off := map[string]bool{}
	for i, id := range c.Disable {
		if known[id] == nil {
			return nil, fmt.Errorf("warninglists.disable[%d]: no list %q", i, id)
		}
		off[id] = true
	}
	var kept []*List
	for _, l := range lists {
		if !off[l.ID] {
			kept = append(kept, l)
		}
	}
	domains := append([]string(nil), c.Assets.Domains...)
	networks := append([]string(nil), c.Assets.Networks...)
	for _, r := range c.Assets.MailRelays {
		if _, err := parsePrefix(r); err == nil {
			networks = append(networks, r)
		} else {
			domains = append(domains, r)
		}
	}
	assets, err := FromAssets(domains, networks)
	if err != nil {
		return nil, fmt.Errorf("warninglists.assets: %w", err)
	}
	return NewSet(append(kept, assets...)...)
}
