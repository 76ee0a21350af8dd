//go:build linux

package bolt

import (
	"os"
	"syscall"
	"unsafe"
)

var osPage = uintptr(os.Getpagesize())

// prefetch asks the kernel to read the n bytes of the memory map that start
// at v into the page cache, unless they are all there already. bbolt maps
// its file with MADV_RANDOM (no read-ahead), so a page of 1000 records whose
// file pages the kernel has dropped (the server just started, or other
// processes crowded them out) would fault them in one 4 KiB read at a time, a
// few hundred disk reads in a row; MADV_WILLNEED starts them all at once.
// v must alias the memory map and the read transaction must be open (no
// remap can happen then). Advice only: errors are ignored. The range may run
// past the end of the map; the kernel then advises what is mapped.
func prefetch(v []byte, n int) {
	if len(v) == 0 || n <= 0 {
		return
	}
	start := uintptr(unsafe.Pointer(&v[0])) &^ (osPage - 1)
	end := (uintptr(unsafe.Pointer(&v[0])) + uintptr(n) + osPage - 1) &^ (osPage - 1)
	var vec [4096]byte // 16 MiB of 4 KiB pages
	if pages := (end - start) / osPage; pages > uintptr(len(vec)) {
		end = start + uintptr(len(vec))*osPage
	}
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, start, end-start, uintptr(unsafe.Pointer(&vec[0]))); e == 0 {
		cached := true
		for _, b := range vec[:(end-start)/osPage] {
			if b&1 == 0 {
				cached = false
				break
			}
		}
		if cached {
			return
		}
	}
	syscall.Syscall(syscall.SYS_MADVISE, start, end-start, syscall.MADV_WILLNEED)
}
