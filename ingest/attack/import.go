package attack

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

//go:embed NOTICE
var notice string

// Notice is MITRE's copyright designation, to be reproduced with every copy of
// ATT&CK data.
const Notice = "© 2025 The MITRE Corporation. This work is reproduced and distributed with the permission of The MITRE Corporation."

// License returns MITRE's ATT&CK licence text with its notice, as shipped in this
// package's NOTICE file; `ctibroker attack import` prints it.
func License() string { return notice }

// ImportResult counts what Import stored.
type ImportResult struct {
	Objects  int // objects read from the bundles
	Added    int // object versions stored
	Existing int // versions already stored (re-import of the same release)
}

// importBatch is how many objects Import hands to one PutObjects call.
const importBatch = 1000

// Import stores the objects of ATT&CK bundle files (gzip or plain JSON) into
// collection byte-for-byte, with MITRE's ids, identity and markings untouched.
// Objects already stored with the same version are counted as Existing. An object
// whose common properties do not parse is an error naming the file and index.
func Import(ctx context.Context, store storage.ObjectWriter, collection string, files ...string) (*ImportResult, error) {
	res := &ImportResult{}
	for _, file := range files {
		if err := importFile(ctx, store, collection, file, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func importFile(ctx context.Context, store storage.ObjectWriter, collection, file string, res *ImportResult) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("attack import: %w", err)
	}
	defer f.Close()
	batch := make([]stix.RawObject, 0, importBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		wr, err := store.PutObjects(ctx, collection, batch)
		if err != nil {
			return fmt.Errorf("attack import: %s: store: %w", file, err)
		}
		res.Added += wr.Added
		res.Existing += wr.Existing
		batch = batch[:0]
		return nil
	}
	err = streamBundle(f, func(dec *json.Decoder, n int) error {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("objects[%d]: %w", n, err)
		}
		var o stix.RawObject
		if err := json.Unmarshal(raw, &o.Common); err != nil {
			return fmt.Errorf("objects[%d]: %w", n, err)
		}
		if o.ID == "" || o.Type == "" {
			return fmt.Errorf("objects[%d]: no type or id", n)
		}
		o.JSON = raw // Decode gives the value's own bytes, a fresh copy
		batch = append(batch, o)
		res.Objects++
		if len(batch) == importBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("attack import: %s: %w", file, err)
	}
	return flush()
}
