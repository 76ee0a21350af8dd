package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/scoring/warninglist"
	"github.com/ctibroker/ctibroker/stix/pattern"
	"github.com/ctibroker/ctibroker/storage"
)

// scorer builds scoring.Inputs for one value from the pool's provenance and
// sightings, the feeds' reliabilities and the allow-lists of one config, and
// scores them. It reads only: explain and score-eval never write the store.
type scorer struct {
	store  storage.Store
	prov   storage.ProvenanceStore
	pool   string
	cfg    *Config
	w      scoring.Weights
	allow  *warninglist.Set
	feeds  map[string]curation.Feed // curationFeeds(cfg)
	logger *slog.Logger
}

// newScorer builds the scorer of cfg over store.
func newScorer(cfg *Config, store storage.Store) (*scorer, error) {
	prov, ok := unwrap(store).(storage.ProvenanceStore) // inside serve (admin socket) the store comes in a nopClose
	if !ok {
		return nil, errors.New("this store keeps no provenance: nothing to score")
	}
	allow, err := cfg.Scoring.Warninglists.Build()
	if err != nil {
		return nil, fmt.Errorf("scoring.%w", err)
	}
	return &scorer{store: store, prov: prov, pool: cfg.pool(), cfg: cfg, w: cfg.Scoring.Weights, allow: allow,
		feeds: curationFeeds(cfg), logger: slog.New(slog.DiscardHandler)}, nil
}

// reliabilityOf converts a feed's configured reliability (0 when unset, which
// scoring reads as its default).
func reliabilityOf(f *ingest.FeedConfig) scoring.Reliability {
	if !f.Reliability.Set || f.Reliability.Score <= 0 {
		return 0
	}
	return scoring.Reliability(min(f.Reliability.Score, 100))
}

// scoringType is the type scoring and the allow-lists expect: provenance keys
// hashes as "file:sha-256", scoring writes "file:sha256".
func scoringType(kind string) string {
	if strings.HasPrefix(kind, "file:") {
		return "file:" + strings.ReplaceAll(kind[len("file:"):], "-", "")
	}
	return kind
}

// inputs builds the scoring inputs of (kind, value), kind as ingest.Value.Kind
// writes it, exactly as curation passes do (curation.InputsFor over the same
// feed table, curationFeeds), and the value's Meta. found is false when no
// feed reported the value.
func (s *scorer) inputs(ctx context.Context, kind, value string) (in scoring.Inputs, meta curation.Meta, found bool, err error) {
	in, meta, err = curation.InputsFor(ctx, s.prov, kind, value, &curation.InputOptions{Feeds: s.feeds, AllowList: s.allow, Logger: s.logger})
	if err != nil {
		return in, meta, false, err
	}
	return in, meta, len(in.Reports) > 0, nil
}

// curationFeeds is the feed table explain, score-eval and curation passes
// share: every configured feed, and for a feed the config does not list, the
// provider names and "import-<provider>" (the feed `ctibroker import` writes),
// with the reliability of the provider's first configured feed.
func curationFeeds(cfg *Config) map[string]curation.Feed {
	byProvider := map[string]*ingest.FeedConfig{}
	for i := range cfg.Feeds {
		if _, ok := byProvider[cfg.Feeds[i].Provider]; !ok {
			byProvider[cfg.Feeds[i].Provider] = &cfg.Feeds[i]
		}
	}
	feeds := map[string]curation.Feed{}
	for _, p := range registry("").Names() {
		f := curation.Feed{Provider: p}
		if fc := byProvider[p]; fc != nil {
			f.Reliability = reliabilityOf(fc)
		}
		feeds[p], feeds["import-"+p] = f, f
	}
	for i := range cfg.Feeds {
		f := &cfg.Feeds[i]
		feeds[f.Name] = curation.Feed{Provider: f.Provider, Reliability: reliabilityOf(f), Share: f.ShareLevel()}
	}
	return feeds
}

// newest returns the latest last-seen time among in's reports and sightings.
func newest(in *scoring.Inputs) time.Time {
	var t time.Time
	for _, r := range in.Reports {
		if r.LastSeen.After(t) {
			t = r.LastSeen
		}
	}
	if in.Sightings.LastSeen.After(t) {
		t = in.Sightings.LastSeen
	}
	return t
}

// asOf reads an --as-of flag: the time it names, or now when it is empty.
func (m *Main) asOf(flag string) (time.Time, error) {
	if flag == "" {
		return m.now(), nil
	}
	return parseAsOf(flag)
}

// parseAsOf reads --as-of: an RFC 3339 time or a date (midnight UTC).
func parseAsOf(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--as-of %q: want an RFC 3339 time or a date (2026-11-01)", s)
}

// parseInterleaved parses flags that may follow positional arguments
// ("explain VALUE --json"), returning the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// openForScoring loads the config and opens its store.
func (m *Main) openForScoring(ctx context.Context, path string) (*Config, storage.Store, error) {
	return m.openConfigStore(ctx, m.path(path))
}

// errNotInPool says a value or object is not in the pool.
var errNotInPool = errors.New("not in the pool")

// resolve turns explain's argument into (kind, value) candidates: a STIX
// indicator id by its pattern, an SCO id by its value or hashes (every hash is
// a candidate), anything else by typ (when given) or the value's shape.
func (s *scorer) resolve(ctx context.Context, arg, typ string) ([]ingest.Value, error) {
	if objType, _, ok := strings.Cut(arg, "--"); ok && typ == "" && pattern.ValidObjectType(objType) && !strings.ContainsAny(arg, "./:@") {
		page, err := s.store.QueryObjects(ctx, s.pool, storage.Filter{IDs: []string{arg}, Versions: []string{"last"}, Limit: 1})
		if errors.Is(err, storage.ErrNotFound) || err == nil && len(page.Records) == 0 {
			return nil, fmt.Errorf("%s: %w", arg, errNotInPool)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s from the pool: %w", arg, err)
		}
		var o struct {
			Type    string            `json:"type"`
			Pattern string            `json:"pattern"`
			Value   json.RawMessage   `json:"value"`
			Hashes  map[string]string `json:"hashes"`
		}
		if err := json.Unmarshal(page.Records[0].JSON, &o); err != nil {
			return nil, fmt.Errorf("%s: %w", arg, err)
		}
		var out []ingest.Value
		switch {
		case o.Type == "indicator":
			t, path, v, ok := pattern.Simple(o.Pattern)
			if !ok {
				return nil, fmt.Errorf("%s: pattern %q is not a single comparison of a value; explain scores values", arg, o.Pattern)
			}
			kind := t
			if alg, ok := strings.CutPrefix(path, "hashes."); ok {
				kind = "file:" + strings.Trim(alg, "'")
			} else if path != "value" {
				return nil, fmt.Errorf("%s: pattern %q compares %s, not a value", arg, o.Pattern, path)
			}
			nv, err := ingest.Normalize(kind, v)
			if err != nil {
				return nil, fmt.Errorf("%s: pattern value: %w", arg, err)
			}
			out = append(out, nv)
		case len(o.Hashes) > 0:
			algs := make([]string, 0, len(o.Hashes))
			for a := range o.Hashes {
				algs = append(algs, a)
			}
			sort.Strings(algs)
			for _, a := range algs {
				if nv, err := ingest.Normalize("file:"+a, o.Hashes[a]); err == nil {
					out = append(out, nv)
				}
			}
		case len(o.Value) > 0:
			var v string
			if err := json.Unmarshal(o.Value, &v); err != nil {
				return nil, fmt.Errorf("%s: value is not a string", arg)
			}
			nv, err := ingest.Normalize(o.Type, v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", arg, err)
			}
			out = append(out, nv)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s: a %s has no value or hash to score", arg, o.Type)
		}
		return out, nil
	}
	var v ingest.Value
	var err error
	if typ != "" {
		v, err = ingest.Normalize(typ, arg)
	} else {
		v, err = ingest.Guess(arg)
	}
	if err != nil {
		return nil, err
	}
	return []ingest.Value{v}, nil
}

// explainJSON is explain's --json output.
type explainJSON struct {
	Type  string         `json:"type"`
	Value string         `json:"value"`
	Score scoring.Result `json:"risk_score"`
}

func (m *Main) runExplain(ctx context.Context, args []string) error {
	fs := m.flagSet("explain", "--config FILE [--type TYPE] [--as-of TIME] [--json] [--enrich] VALUE|STIX-ID")
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	typ := fs.String("type", "", "the value's type (ipv4-addr, domain-name, url, file:sha256, ...); default: guessed from the value")
	asOfFlag := fs.String("as-of", "", "score as of this time (RFC 3339 or a date); default: now")
	asJSON := fs.Bool("json", false, "print the score and its breakdown as JSON (the risk-score extension's body)")
	enrichFlag := fs.Bool("enrich", false, "first look the value up at the feeds' providers that can (Maltiverse, VirusTotal, Recorded Future), within their quota; the answers enter the pool like any observation")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *cfgPath == "" || len(pos) != 1 {
		fs.Usage()
		return exitError(2)
	}
	asOf, err := m.asOf(*asOfFlag)
	if err != nil {
		return err
	}
	cfg, store, err := m.openForScoring(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer store.Close()
	sc, err := newScorer(cfg, store)
	if err != nil {
		return err
	}
	cands, err := sc.resolve(ctx, pos[0], *typ)
	if errors.Is(err, errNotInPool) {
		fmt.Fprintf(m.Stderr, "explain: %v\n", err)
		return exitError(1)
	}
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	if *enrichFlag {
		if err := m.enrichValue(ctx, cfg, store, cands[0], *asJSON); err != nil {
			return fmt.Errorf("explain --enrich: %w", err)
		}
	}
	for _, v := range cands {
		in, meta, found, err := sc.inputs(ctx, v.Kind(), v.Value)
		if err != nil {
			return fmt.Errorf("explain: %w", err)
		}
		if !found {
			continue
		}
		res := scoring.Score(in, sc.w, asOf)
		if org := &cfg.Organisation; len(org.Sectors)+len(org.Regions)+len(org.Products)+len(org.Brands) > 0 {
			rel, err := curation.RelevanceFor(ctx, unwrap(store), cfg.pool(), org, &meta)
			if err != nil {
				return fmt.Errorf("explain: relevance: %w", err)
			}
			res = res.WithRelevance(rel)
		}
		if *asJSON {
			enc := json.NewEncoder(m.Stdout)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			return enc.Encode(explainJSON{Type: in.Type, Value: in.Value, Score: res})
		}
		fmt.Fprintf(m.Stdout, "%s %s\n", in.Type, in.Value)
		return res.WriteText(m.Stdout)
	}
	v := cands[0]
	fmt.Fprintf(m.Stderr, "explain: %s %s is not in the pool: no feed reported it\n", scoringType(v.Kind()), v.Value)
	return exitError(1)
}

// labelledValue is one line of a score-eval file, normalised and scored.
type labelledValue struct {
	scoring.Labelled
	file      string
	malicious bool
	v         ingest.Value
	in        scoring.Inputs
}

// readLabelled reads and normalises a score-eval file.
func readLabelled(path string, malicious bool) ([]labelledValue, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ls, err := scoring.ParseLabelled(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]labelledValue, 0, len(ls))
	for _, l := range ls {
		v, err := ingest.Normalize(l.Type, l.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, l.Line, err)
		}
		out = append(out, labelledValue{Labelled: l, file: path, malicious: malicious, v: v})
	}
	return out, nil
}

func (m *Main) runScoreEval(ctx context.Context, args []string) error {
	fs := m.flagSet("score-eval", "--config FILE [--benign FILE] [--malicious FILE] [--as-of TIME] [--compare-config OLD]")
	cfgPath := fs.String("config", "", "configuration file (YAML); its scoring section is evaluated")
	benignPath := fs.String("benign", "", "file of type<TAB>value lines labelled benign")
	malPath := fs.String("malicious", "", "file of type<TAB>value lines labelled malicious")
	asOfFlag := fs.String("as-of", "", "score as of this time (RFC 3339 or a date); default: the newest last-seen time of the values read")
	oldPath := fs.String("compare-config", "", "another configuration file: report how many values in the pool change band between its scoring section and --config's")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || fs.NArg() > 0 || (*benignPath == "") != (*malPath == "") || *benignPath == "" && *oldPath == "" {
		fs.Usage()
		return exitError(2)
	}
	var asOf time.Time
	if *asOfFlag != "" {
		var err error
		if asOf, err = parseAsOf(*asOfFlag); err != nil {
			return err
		}
	}
	var vals []labelledValue
	if *benignPath != "" {
		b, err := readLabelled(m.path(*benignPath), false)
		if err != nil {
			return fmt.Errorf("score-eval: --benign %w", err)
		}
		mal, err := readLabelled(m.path(*malPath), true)
		if err != nil {
			return fmt.Errorf("score-eval: --malicious %w", err)
		}
		vals = append(b, mal...)
	}
	cfg, store, err := m.openForScoring(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer store.Close()
	sc, err := newScorer(cfg, store)
	if err != nil {
		return err
	}
	var old *scorer
	if *oldPath != "" {
		oc, err := loadConfig(m.path(*oldPath))
		if err != nil {
			return fmt.Errorf("--compare-config: %w", err)
		}
		if old, err = newScorer(oc, store); err != nil {
			return fmt.Errorf("--compare-config: %w", err)
		}
	}
	if len(vals) > 0 {
		if err := m.evalLabelled(ctx, sc, vals, asOf); err != nil {
			return err
		}
	}
	if old != nil {
		return m.compareConfigs(ctx, old, sc, asOf)
	}
	return nil
}

// evalLabelled scores the labelled values found in the pool and prints the
// benign ones in the alert band with their breakdown, then the counts.
func (m *Main) evalLabelled(ctx context.Context, sc *scorer, vals []labelledValue, asOf time.Time) error {
	found := vals[:0:0]
	missing := [2]int{}
	var notFound []labelledValue
	newestSeen := time.Time{}
	for _, lv := range vals {
		in, _, ok, err := sc.inputs(ctx, lv.v.Kind(), lv.v.Value)
		if err != nil {
			return fmt.Errorf("score-eval: %s line %d: %w", lv.file, lv.Line, err)
		}
		if !ok {
			missing[b2i(lv.malicious)]++
			notFound = append(notFound, lv)
			continue
		}
		lv.in = in
		found = append(found, lv)
		if t := newest(&in); t.After(newestSeen) {
			newestSeen = t
		}
	}
	if asOf.IsZero() {
		asOf = newestSeen
		if asOf.IsZero() {
			asOf = m.now()
		}
	}
	fmt.Fprintf(m.Stdout, "score-eval as of %s: %d benign and %d malicious values found in the pool (%d and %d not found)\n",
		asOf.Format(time.RFC3339), len(found)-countMalicious(found), countMalicious(found), missing[0], missing[1])
	for _, lv := range notFound {
		fmt.Fprintf(m.Stdout, "not in the pool: %s %s (%s line %d)\n", lv.Type, lv.Value, lv.file, lv.Line)
	}
	var sum scoring.EvalSummary
	for _, lv := range found {
		res := scoring.Score(lv.in, sc.w, asOf)
		sum.Add(lv.malicious, res)
		if !lv.malicious && res.Alert {
			fmt.Fprintf(m.Stdout, "\nbenign value in the alert band: %s %s (%s line %d)\n", lv.in.Type, lv.in.Value, lv.file, lv.Line)
			if err := res.WriteText(indent{m.Stdout}); err != nil {
				return err
			}
		}
	}
	goal := "goal not met"
	if sum.MeetsGoal() {
		goal = "goal met"
	}
	fmt.Fprintf(m.Stdout, "multi-source malicious in alert band: %d/%d (%s)\n", sum.MultiSourceAlert, sum.MultiSource, pct(sum.MultiSourceAlert, sum.MultiSource))
	fmt.Fprintf(m.Stdout, "goal (benign 0, multi-source malicious >= 90%%): %s\n", goal)
	fmt.Fprintln(m.Stdout, sum.Line())
	return nil
}

// compareConfigs scores every value in the pool under old's and sc's scoring
// sections and reports how many change band.
func (m *Main) compareConfigs(ctx context.Context, old, sc *scorer, asOf time.Time) error {
	if asOf.IsZero() {
		asOf = m.now()
	}
	vals, err := poolValues(ctx, sc.store, sc.pool)
	if err != nil {
		return fmt.Errorf("score-eval: %w", err)
	}
	scored, changed := 0, 0
	moves := map[string]int{}
	for _, v := range vals {
		in, _, ok, err := sc.inputs(ctx, v.Kind(), v.Value)
		if err != nil {
			return fmt.Errorf("score-eval: %w", err)
		}
		if !ok {
			continue
		}
		oin, _, _, err := old.inputs(ctx, v.Kind(), v.Value)
		if err != nil {
			return fmt.Errorf("score-eval: --compare-config: %w", err)
		}
		scored++
		_, nb := scoring.ScoreValue(in, sc.w, asOf)
		_, ob := scoring.ScoreValue(oin, old.w, asOf)
		if nb != ob {
			changed++
			moves[ob+" -> "+nb]++
		}
	}
	fmt.Fprintf(m.Stdout, "compare-config as of %s: %d of %d values in the pool change band\n", asOf.Format(time.RFC3339), changed, scored)
	keys := make([]string, 0, len(moves))
	for k := range moves {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(m.Stdout, "  %s: %d\n", k, moves[k])
	}
	return nil
}

// poolValues lists the values of the observables in the pool: each SCO's
// value, and each hash of a file. Every value appears once. A value that feeds
// only ever withdrew has provenance but no SCO, and is not listed (it scores 0
// under any weights).
func poolValues(ctx context.Context, store storage.ObjectReader, pool string) ([]ingest.Value, error) {
	f := storage.Filter{Types: []string{ingest.TypeIPv4, ingest.TypeIPv6, ingest.TypeDomain, ingest.TypeURL, ingest.TypeEmail, ingest.TypeFile},
		Limit: 5000}
	seen := map[ingest.Value]bool{}
	var out []ingest.Value
	add := func(typ, v string) {
		nv, err := ingest.Normalize(typ, v)
		if err == nil && !seen[nv] {
			seen[nv] = true
			out = append(out, nv)
		}
	}
	for {
		page, err := store.QueryObjects(ctx, pool, f)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read pool %s: %w", pool, err)
		}
		for _, r := range page.Records {
			var o struct {
				Value  string            `json:"value"`
				Hashes map[string]string `json:"hashes"`
			}
			if err := json.Unmarshal(r.JSON, &o); err != nil {
				return nil, fmt.Errorf("pool %s: %s: %w", pool, r.ID, err)
			}
			if r.Type == ingest.TypeFile {
				for a, h := range o.Hashes {
					add("file:"+a, h)
				}
			} else if o.Value != "" {
				add(r.Type, o.Value)
			}
		}
		if !page.More || page.Next == "" {
			return out, nil
		}
		f.Next = page.Next
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func countMalicious(vs []labelledValue) int {
	n := 0
	for _, v := range vs {
		n += b2i(v.malicious)
	}
	return n
}

func pct(n, d int) string {
	if d == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(d))
}

// indent writes through to w with every line indented by two spaces; the
// breakdown under a score-eval line reads as part of it.
type indent struct{ w io.Writer }

func (x indent) Write(p []byte) (int, error) {
	s := "  " + strings.ReplaceAll(strings.TrimSuffix(string(p), "\n"), "\n", "\n  ") + "\n"
	if _, err := io.WriteString(x.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
