package warninglist

import (
	"embed"
	"io/fs"
)

//go:embed lists
var embedded embed.FS

// EmbeddedFS returns the lists shipped with ctibroker: one folder per list
// holding list.json, plus LICENSE (CC0) and SOURCES.md.
func EmbeddedFS() fs.FS {
	sub, err := fs.Sub(embedded, "lists")
	if err != nil { // cannot happen: "lists" is a valid path
		panic(err)
	}
	return sub
}

// EmbeddedLists parses the lists shipped with ctibroker, sorted by id.
func EmbeddedLists() ([]*List, error) { return Load(EmbeddedFS(), ".") }

// Embedded compiles the lists shipped with ctibroker into a Set. Compiling
// takes a fraction of a second; callers keep the Set.
func Embedded() (*Set, error) {
	lists, err := EmbeddedLists()
	if err != nil {
		return nil, err
	}
	return NewSet(lists...)
}
