package h2

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// captureStreams returns the TCP payload of each direction of the first
// connection in a capture under testpcaps/, for fuzz seeds: the client's
// bytes, then the server's.
func captureStreams(f *testing.F, name string, max int) (client, server []byte) {
	fh, err := os.Open(filepath.Join("..", "..", "testpcaps", name))
	if err != nil {
		f.Fatal(err)
	}
	defer fh.Close()
	r, err := pcapgo.NewReader(fh)
	if err != nil {
		f.Fatal(err)
	}
	dec := tcpdecode.New()
	var first *tcpdecode.Segment
	for len(client)+len(server) < max {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		s, err := dec.Decode(r.LinkType(), data)
		if err != nil || len(s.Payload) == 0 {
			continue
		}
		if first == nil {
			c := s
			first = &c
		}
		switch {
		case s.Src == first.Src && s.Dst == first.Dst:
			client = append(client, s.Payload...)
		case s.Src == first.Dst && s.Dst == first.Src:
			server = append(server, s.Payload...)
		}
	}
	return client, server
}
