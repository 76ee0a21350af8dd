package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// RepointStore is what RepointAttack needs from a backend.
type RepointStore interface {
	storage.ObjectReader
	storage.ObjectWriter
}

// RepointResult counts what RepointAttack did.
type RepointResult struct {
	Scanned   int // relationships read (last versions, not revoked, authored by the identity)
	Repointed int // relationships revoked and replaced by one pointing at the replacement
	Added     int // replacement relationships stored (0 for those already there)
}

// RepointAttack re-points the relationships ctibroker authored in pool (those
// whose created_by_ref is identity: indicates, uses, targets, ...) that point
// from or at an ATT&CK object ix knows as revoked, to the object that replaces
// it (attack.Index.Replacement): the old relationship gets a version with
// revoked: true, and the relationship to the replacement is authored with its
// deterministic id (RelationshipID), the same created_by_ref and markings, so
// that the Runner, resolving ATT&CK ids through the new release, finds it
// stored. Relationship ids are derived from their ends, so a relationship is
// not given another target under its old id. Deprecated objects without a
// revoked-by relationship have no replacement and are left as they are. Run it
// after importing a newer ATT&CK release and loading ix from it; running it
// again changes nothing.
func RepointAttack(ctx context.Context, store RepointStore, pool string, ix *attack.Index, identity string, now time.Time) (*RepointResult, error) {
	if ix == nil {
		return nil, errors.New("ingest: RepointAttack needs an ATT&CK index")
	}
	res := &RepointResult{}
	ts := stix.NewTimestamp(now.UTC())
	f := storage.Filter{Types: []string{"relationship"}, Limit: 1000}
	for {
		page, err := store.QueryObjects(ctx, pool, f)
		if err != nil {
			return res, fmt.Errorf("repoint: read %s: %w", pool, err)
		}
		var write []stix.RawObject
		added := map[string]bool{} // ids of the replacement relationships
		for _, rec := range page.Records {
			objs, err := repoint(rec.JSON, ix, identity, ts, res)
			if err != nil {
				return res, fmt.Errorf("repoint: %s: %w", rec.ID, err)
			}
			if len(objs) == 2 {
				added[objs[1].ID] = true
			}
			write = append(write, objs...)
		}
		if len(write) > 0 {
			wr, err := store.PutObjects(ctx, pool, write)
			if err != nil {
				return res, fmt.Errorf("repoint: store: %w", err)
			}
			for _, id := range wr.AddedIDs {
				if added[id] {
					res.Added++
				}
			}
		}
		if !page.More || page.Next == "" {
			return res, nil
		}
		f.Next = page.Next
	}
}

// repoint returns, for one stored relationship, its revoked version and the
// relationship to the replacement, or nothing.
func repoint(b []byte, ix *attack.Index, identity string, ts stix.Timestamp, res *RepointResult) ([]stix.RawObject, error) {
	var r struct {
		ID                string          `json:"id"`
		CreatedByRef      string          `json:"created_by_ref"`
		Revoked           bool            `json:"revoked"`
		Modified          *stix.Timestamp `json:"modified"`
		RelationshipType  string          `json:"relationship_type"`
		SourceRef         string          `json:"source_ref"`
		TargetRef         string          `json:"target_ref"`
		ObjectMarkingRefs []string        `json:"object_marking_refs"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if r.Revoked || r.CreatedByRef != identity {
		return nil, nil
	}
	res.Scanned++
	src, tgt := r.SourceRef, r.TargetRef
	if ref, ok := ix.Replacement(src); ok {
		src = ref.ID
	}
	if ref, ok := ix.Replacement(tgt); ok {
		tgt = ref.ID
	}
	if src == r.SourceRef && tgt == r.TargetRef {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	mod := ts
	if r.Modified != nil && !mod.After(r.Modified.Time) {
		mod = stix.Timestamp{Time: r.Modified.Add(time.Millisecond)}
	}
	m["revoked"] = json.RawMessage("true")
	m["modified"], _ = json.Marshal(mod)
	old, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	oldRaw, err := stix.ParseRaw(old)
	if err != nil {
		return nil, err
	}
	marking := stix.TLPNone
	for _, ref := range r.ObjectMarkingRefs {
		if l, ok := stix.TLPFromMarkingRef(ref); ok {
			marking = max(marking, l)
		}
	}
	next, err := newRelationship(r.RelationshipType, src, tgt, identity, ts, marking)
	if err != nil {
		return nil, err
	}
	res.Repointed++
	return []stix.RawObject{*oldRaw, next}, nil
}
