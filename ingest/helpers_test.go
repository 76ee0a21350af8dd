package ingest_test

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"
)

// uuid5 computes a name-based SHA-1 UUID (RFC 4122 §4.3) from scratch.
func uuid5(t testing.TB, namespace, name string) string {
	t.Helper()
	ns, err := hex.DecodeString(strings.ReplaceAll(namespace, "-", ""))
	if err != nil || len(ns) != 16 {
		t.Fatalf("namespace %q", namespace)
	}
	h := sha1.Sum(append(ns, name...))
	u := h[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	s := hex.EncodeToString(u)
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
