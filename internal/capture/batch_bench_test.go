package capture

import (
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// BenchmarkBatchToFile reads packets from a libpcap batch (as the C side
// lays them out) and writes them with the pcap Writer to /dev/null: the
// Go side of gotcpdump's work per packet.
func BenchmarkBatchToFile(b *testing.B) {
	const pkt = 106 // a 64-octet UDP payload on Ethernet
	s := &pcapSource{fracNano: 1, buf: make([]byte, batchBytes)}
	n := 0
	for off := 0; off+recSize+pkt <= batchBytes; off += (recSize + pkt + 7) &^ 7 {
		binary.NativeEndian.PutUint64(s.buf[off:], 1_700_000_000+uint64(n/1000))
		binary.NativeEndian.PutUint64(s.buf[off+8:], uint64(n%1000)*1000)
		binary.NativeEndian.PutUint32(s.buf[off+16:], pkt)
		binary.NativeEndian.PutUint32(s.buf[off+20:], pkt)
		s.end = off + ((recSize + pkt + 7) &^ 7)
		n++
	}
	w, err := NewWriter(WriterConfig{Name: "/dev/null", LinkType: layers.LinkTypeEthernet, Snaplen: 262144})
	if err != nil {
		b.Fatal(err)
	}
	var ci gopacket.CaptureInfo
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if s.off >= s.end {
			s.off = 0
		}
		data, err := s.ReadPacket(&ci)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Write(&ci, data, ""); err != nil {
			b.Fatal(err)
		}
	}
}
