// Package testpcaps reads the captures under the repository's testpcaps/
// directory, for tests and fuzz seeds of the goparser packages.
package testpcaps

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// dir is the repository's testpcaps directory.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testpcaps")
}

// Frames returns the first max frames (all with max 0) of a capture and
// its link type.
func Frames(name string, max int) ([][]byte, layers.LinkType, error) {
	return FileFrames(filepath.Join(dir(), name), max)
}

// Names lists the pcap captures (not pcapng), by name for Frames.
func Names() []string {
	paths, _ := filepath.Glob(filepath.Join(dir(), "*.pcap"))
	for i, p := range paths {
		paths[i] = filepath.Base(p)
	}
	return paths
}

// Packet is a frame and when it was captured.
type Packet struct {
	Data []byte
	Time time.Time
}

// Packets returns every packet of a capture, with its time, and its link
// type: for tests whose state follows the clock (TIME_WAIT).
func Packets(name string) ([]Packet, layers.LinkType, error) {
	return filePackets(filepath.Join(dir(), name), 0)
}

// FileFrames is Frames for a capture anywhere, pcap or pcapng (whatever
// its name says: h2c_go_midstream.pcap is pcapng).
func FileFrames(path string, max int) ([][]byte, layers.LinkType, error) {
	ps, link, err := filePackets(path, max)
	out := make([][]byte, len(ps))
	for i, p := range ps {
		out[i] = p.Data
	}
	return out, link, err
}

func filePackets(path string, max int) ([]Packet, layers.LinkType, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var r interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
		LinkType() layers.LinkType
	}
	if r, err = pcapgo.NewReader(f); err != nil {
		if _, serr := f.Seek(0, io.SeekStart); serr != nil {
			return nil, 0, err
		}
		if r, err = pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions); err != nil {
			return nil, 0, err
		}
	}
	var out []Packet
	for max == 0 || len(out) < max {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		out = append(out, Packet{data, ci.Timestamp})
	}
	return out, r.LinkType(), nil
}
