package h2

import (
	"testing"

	"github.com/gotcpdump/gotcpdump/goparser/internal/testpcaps"
	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// captureStreams returns the TCP payload of each direction of the first
// connection in a capture under testpcaps/, for fuzz seeds: the client's
// bytes, then the server's.
func captureStreams(f *testing.F, name string, max int) (client, server []byte) {
	frames, link, err := testpcaps.Frames(name, 0)
	if err != nil {
		f.Fatal(err)
	}
	dec := tcpdecode.New()
	var first *tcpdecode.Segment
	for _, data := range frames {
		if len(client)+len(server) >= max {
			break
		}
		var s tcpdecode.Segment
		if err := dec.Decode(link, data, &s); err != nil || len(s.Payload) == 0 {
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
