package scoring

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrInvalidLabelled is wrapped by errors about a labelled-value file.
var ErrInvalidLabelled = errors.New("scoring: invalid labelled values")

// Labelled is one line of a score-eval input file.
type Labelled struct {
	// Type is a STIX SCO type or "file:md5", "file:sha1", "file:sha256",
	// "file:sha512".
	Type string
	// Value is the value as written (not normalised).
	Value string
	// Line is the 1-based line number, for messages.
	Line int
}

// labelledTypes are the types a labelled file may use.
var labelledTypes = map[string]bool{
	"ipv4-addr": true, "ipv6-addr": true, "domain-name": true, "url": true, "email-addr": true,
	"file:md5": true, "file:sha1": true, "file:sha256": true, "file:sha512": true,
	"mac-addr": true, "autonomous-system": true, "mutex": true, "windows-registry-key": true,
	"x509-certificate": true, "user-agent": true,
}

// ParseLabelled reads a file of "type<TAB>value" lines (score-eval's
// --benign and --malicious). Blank lines and lines starting with "#" are
// skipped. Errors wrap ErrInvalidLabelled and name the line.
func ParseLabelled(r io.Reader) ([]Labelled, error) {
	var out []Labelled
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		typ, val, ok := strings.Cut(line, "\t")
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: line %d: want type<TAB>value", ErrInvalidLabelled, n)
		case !labelledTypes[typ]:
			return nil, fmt.Errorf("%w: line %d: unknown type %q", ErrInvalidLabelled, n, typ)
		case strings.TrimSpace(val) == "" || strings.Contains(val, "\t"):
			return nil, fmt.Errorf("%w: line %d: want one non-empty value", ErrInvalidLabelled, n)
		}
		out = append(out, Labelled{Type: typ, Value: val, Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrInvalidLabelled, n+1, err)
	}
	return out, nil
}

// EvalSummary counts, for score-eval, how many benign and malicious values
// found in the ingested data are in the alert band.
type EvalSummary struct {
	// Benign and BenignAlert count benign values found, and those in the band.
	Benign, BenignAlert int
	// Malicious and MaliciousAlert count malicious values found, and those
	// in the band.
	Malicious, MaliciousAlert int
	// MultiSource and MultiSourceAlert count malicious values reported by
	// two or more independent sources, and those in the band.
	MultiSource, MultiSourceAlert int
}

// Add counts one scored value; malicious says which file it came from.
func (e *EvalSummary) Add(malicious bool, r Result) {
	if !malicious {
		e.Benign++
		if r.Alert {
			e.BenignAlert++
		}
		return
	}
	e.Malicious++
	if r.Alert {
		e.MaliciousAlert++
	}
	if IndependentSources(r) >= 2 {
		e.MultiSource++
		if r.Alert {
			e.MultiSourceAlert++
		}
	}
}

// IndependentSources counts the distinct providers (a feed without a
// provider counts as its own) among r's sources, revoked ones included.
func IndependentSources(r Result) int {
	seen := map[string]bool{}
	for _, s := range r.Sources {
		k := "p:" + s.Provider
		if s.Provider == "" {
			k = "f:" + s.Feed
		}
		seen[k] = true
	}
	return len(seen)
}

// Line is the closing line:
// "benign in alert band: X/N; malicious in alert band: Y/M".
func (e EvalSummary) Line() string {
	return fmt.Sprintf("benign in alert band: %d/%d; malicious in alert band: %d/%d",
		e.BenignAlert, e.Benign, e.MaliciousAlert, e.Malicious)
}

// MeetsGoal reports whether no benign value is in the alert band and at
// least 90 % of the multi-source malicious values are (issue 9's goal).
func (e EvalSummary) MeetsGoal() bool {
	return e.BenignAlert == 0 && e.MultiSource > 0 && e.MultiSourceAlert*10 >= e.MultiSource*9
}
