package bolt

import (
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/ctibroker/ctibroker/storage"
)

// HasProvenance reports, for each of recs, whether a record with its key
// (Feed, Type, Value, Day) is stored, in one read transaction and without
// decoding any verdict (Verdict and Revoked of recs are ignored). The ingest
// Runner's unchanged re-pull checks a whole batch with it (ingest.ProvenanceChecker)
// instead of one Provenance read per value.
func (s *Store) HasProvenance(ctx context.Context, recs []storage.Provenance) ([]bool, error) {
	out := make([]bool, len(recs))
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bktProv)
		for i := range recs {
			p := &recs[i]
			if p.Feed == "" || p.Type == "" || p.Value == "" {
				return fmt.Errorf("provenance[%d]: Feed, Type and Value are required", i)
			}
			out[i] = b.Get(provKey(p)) != nil
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
