package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapping is a file mapped read-only into memory.
type mapping struct {
	b []byte
	// released: the pages before it were given back (release); step:
	// how much more must be read before the next release.
	released, step int
}

// releaseStep bounds how much of a mapped file read counts in twreport's
// RSS: MADV_SEQUENTIAL reads ahead but keeps what was read mapped, so a
// 20 GB capture would show as 20 GB (containers' memory limits and the
// OOM killer count it).
const releaseStep = 64 << 20

// mapFile maps a regular file whole: reading a large capture out of its
// mapping spares read(2)'s copy of every octet (a twentieth of
// twreport's time on a 1M-packet capture). ok is false for anything
// that cannot be mapped (a pipe, an empty file), which is then read.
func mapFile(f interface{}, size int64) (m *mapping, ok bool) {
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
	return &mapping{b: b, step: releaseStep}, true
}

// release gives back the pages of the file before off, once step more
// has been read: they leave the process's memory, not the page cache,
// and one touched again is read in again, unchanged.
func (m *mapping) release(off int) {
	end := off &^ (unix.Getpagesize() - 1)
	if end-m.released < m.step || end > len(m.b) {
		return
	}
	_ = unix.Madvise(m.b[m.released:end], unix.MADV_DONTNEED)
	m.released = end
}

func (m *mapping) unmap() { _ = unix.Munmap(m.b) }
