package storagetest

import (
	"context"
	"fmt"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// CrashCollection is the stored collection CrashWriter fills.
const CrashCollection = "crash-test"

// CrashBatchSize is the number of objects in each CrashWriter batch.
const CrashBatchSize = 2000

// CrashBatch returns batch number b of the crash writer: CrashBatchSize ~1 KB
// indicators whose ids encode (b, index).
func CrashBatch(b int) []stix.RawObject {
	objs := make([]stix.RawObject, CrashBatchSize)
	for i := range objs {
		id := fmt.Sprintf("indicator--%08x-0000-4000-8000-%012x", b, i)
		objs[i] = SDO("indicator", id, ver(b%1000), "2.1", 1000)
	}
	return objs
}

func crashBatchOf(id string) (batch, index int, ok bool) {
	var b, i int
	if _, err := fmt.Sscanf(id, "indicator--%08x-0000-4000-8000-%012x", &b, &i); err != nil {
		return 0, 0, false
	}
	return b, i, true
}

// CrashWriter is the body of a Suite.Crash child process: it creates
// CrashCollection in st and writes CrashBatch(0), CrashBatch(1), ... until ctx
// ends or a write fails, calling committed after each batch is durable.
func CrashWriter(ctx context.Context, st storage.Store, committed func(batch int)) error {
	if err := st.EnsureCollection(ctx, CrashCollection, storage.KindStored); err != nil {
		return err
	}
	for b := 0; ctx.Err() == nil; b++ {
		if _, err := st.PutObjects(ctx, CrashCollection, CrashBatch(b)); err != nil {
			return err
		}
		if committed != nil {
			committed(b)
		}
	}
	return ctx.Err()
}
