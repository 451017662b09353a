package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapping is a file mapped read-only into memory.
type mapping struct{ b []byte }

// mapFile maps a regular file whole: reading a large capture out of its
// mapping spares read(2)'s copy of every octet (a twentieth of
// twreport's time on a 1M-packet capture). ok is false for anything
// that cannot be mapped (a pipe, an empty file), which is then read.
func mapFile(f interface{}, size int64) (m mapping, ok bool) {
	file, isFile := f.(*os.File)
	if !isFile || size <= 0 || int64(int(size)) != size {
		return m, false
	}
	if st, err := file.Stat(); err != nil || !st.Mode().IsRegular() {
		return m, false
	}
	b, err := unix.Mmap(int(file.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return m, false
	}
	_ = unix.Madvise(b, unix.MADV_SEQUENTIAL)
	return mapping{b}, true
}

func (m mapping) unmap() { _ = unix.Munmap(m.b) }
