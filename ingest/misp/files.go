package misp

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/ingest"
)

// ReadPath converts a file or a MISP feed directory into out, for `ctibroker
// convert --provider misp` and `import --provider misp`. A file holds MISP JSON
// as Convert reads it. A directory is a MISP feed: the events its manifest.json
// lists (<uuid>.json each), in manifest order (timestamp, then uuid); without a
// manifest, every *.json file in it, by name. hashes.csv is not needed to ingest
// and is ignored. It returns the number of events converted; an event file the
// manifest lists but that is missing or unreadable is an error naming it.
func ReadPath(path string, c *Converter, out *ingest.Batch) (int, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if !st.IsDir() {
		return readFile(path, c, out)
	}
	files, err := feedFiles(path)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		k, err := readFile(f, c, out)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func readFile(path string, c *Converter, out *ingest.Batch) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := c.Convert(f, out)
	if err != nil {
		return n, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// feedFiles lists a feed directory's event files.
func feedFiles(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if os.IsNotExist(err) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		var files []string
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") && e.Name() != "manifest.json" {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
		return files, nil
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	var files []string
	for _, e := range m.Ordered() {
		files = append(files, filepath.Join(dir, e.UUID+".json"))
	}
	return files, nil
}

// ManifestItem is one manifest entry with its uuid.
type ManifestItem struct {
	UUID      string
	Timestamp int64
	Entry     ManifestEntry
}

// Ordered returns the manifest's events whose key is a uuid, oldest timestamp
// first, then by uuid: the order the feed source fetches them in.
func (m Manifest) Ordered() []ManifestItem {
	out := make([]ManifestItem, 0, len(m))
	for k, e := range m {
		u, err := uuid.Parse(k)
		if err != nil {
			continue
		}
		ts, _ := e.Timestamp.Int()
		out = append(out, ManifestItem{UUID: u.String(), Timestamp: ts, Entry: e})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Timestamp != out[j].Timestamp {
			return out[i].Timestamp < out[j].Timestamp
		}
		return out[i].UUID < out[j].UUID
	})
	return out
}
