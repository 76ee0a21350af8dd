//go:build !linux

package bolt

// prefetch is a no-op here (see prefetch_linux.go).
func prefetch(v []byte, n int) {}
