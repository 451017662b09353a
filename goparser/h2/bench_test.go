package h2

import (
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/gotcpdump/gotcpdump/goparser/internal/testpcaps"
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// BenchmarkDecodeCapture decodes the TCP payloads of a capture one call
// each, in capture order, as goh2.lua hands them over when Wireshark does
// not reassemble (a frame cut by a segment end is shown as far as it
// goes). It reports the time per packet, for profiling Go's share of
// goh2 (go test -bench DecodeCapture -cpuprofile). GOH2_BENCH_PCAP names
// a capture, such as make bench's bench/out/h2load-*.pcap; the default is
// testpcaps/h2c_go.pcap.
func BenchmarkDecodeCapture(b *testing.B) {
	frames, link, err := benchFrames()
	if err != nil {
		b.Fatal(err)
	}
	dec := tcpdecode.New()
	type payload struct {
		src, dst string
		data     []byte
	}
	var payloads []payload
	for _, f := range frames {
		var s tcpdecode.Segment
		if err := dec.Decode(link, f, &s); err != nil || len(s.Payload) == 0 {
			continue
		}
		payloads = append(payloads, payload{s.Src.String(), s.Dst.String(), append([]byte(nil), s.Payload...)})
	}
	if len(payloads) == 0 {
		b.Fatal("no TCP payloads")
	}
	var e result.Encoder
	start := time.Unix(1700000000, 0)
	b.ResetTimer()
	b.ReportAllocs()
	n, size := 0, 0
	for i := 0; i < b.N; i++ {
		d := New(Options{})
		for j, p := range payloads {
			e.Reset()
			d.Decode(Input{Src: p.src, Dst: p.dst, Data: p.data, Heuristic: true, NoReassembly: true,
				Time: start.Add(time.Duration(j) * time.Microsecond), Frame: uint32(j + 1)}, &e)
			if out, err := e.Bytes(); err == nil {
				size += len(out)
			}
			n++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/packet")
	b.ReportMetric(float64(size)/float64(n), "result-bytes/packet")
}

func benchFrames() ([][]byte, layers.LinkType, error) {
	if name := os.Getenv("GOH2_BENCH_PCAP"); name != "" {
		return testpcaps.FileFrames(name, 0)
	}
	return testpcaps.Frames("h2c_go.pcap", 0)
}
