// Package testpcaps reads the captures under the repository's testpcaps/
// directory, for tests and fuzz seeds of the goparser packages.
package testpcaps

import (
	"os"
	"path/filepath"
	"runtime"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Frames returns the first max frames (all with max 0) of a capture and
// its link type.
func Frames(name string, max int) ([][]byte, layers.LinkType, error) {
	_, file, _, _ := runtime.Caller(0)
	return FileFrames(filepath.Join(filepath.Dir(file), "..", "..", "..", "testpcaps", name), max)
}

// FileFrames is Frames for a capture anywhere.
func FileFrames(path string, max int) ([][]byte, layers.LinkType, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, 0, err
	}
	var out [][]byte
	for max == 0 || len(out) < max {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		out = append(out, data)
	}
	return out, r.LinkType(), nil
}
