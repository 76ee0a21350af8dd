package warninglist_test

import "io/fs"

func readFS(fsys fs.FS, name string) ([]byte, error) { return fs.ReadFile(fsys, name) }
