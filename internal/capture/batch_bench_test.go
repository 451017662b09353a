package capture

import (
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// batchOf fills a source's batch as the C side does, with records of
// 64-octet UDP datagrams on Ethernet, and returns the packets in it.
func batchOf(tb testing.TB) (*pcapSource, int) {
	const pkt = 106
	var cis []gopacket.CaptureInfo
	for n := 0; (n+1)*(recSize+pkt) <= batchBytes; n++ {
		cis = append(cis, gopacket.CaptureInfo{Timestamp: time.Unix(1_700_000_000+int64(n/1000), int64(n%1000)*1000), CaptureLength: pkt, Length: pkt})
	}
	s := &pcapSource{buf: records(cis)}
	s.end = len(s.buf)
	return s, len(cis)
}

// TestRecordsAfterPackets: once ReadPacket has read part of a batch,
// ReadRecords hands over the rest, without the batch's counts.
func TestRecordsAfterPackets(t *testing.T) {
	s, _ := batchOf(t)
	var ci gopacket.CaptureInfo
	for i := 0; i < 3; i++ {
		if _, err := s.ReadPacket(&ci); err != nil {
			t.Fatal(err)
		}
	}
	off := s.off
	recs, packets, octets, err := s.ReadRecords()
	if err != nil || off != 3*(recSize+106) || len(recs) != s.end-off || packets != 0 || octets != 0 {
		t.Fatalf("after 3 packets (offset %d): %d octets, %d packets of %d, %v", off, len(recs), packets, octets, err)
	}
	if h, err := PcapRecords.Record(recs); err != nil || h.Size != recSize+106 || h.Time.Nanosecond() != 3000 {
		t.Fatalf("first record: %+v, %v", h, err)
	}
}

func nullWriter(tb testing.TB) *Writer {
	w, err := NewWriter(WriterConfig{Name: "/dev/null", LinkType: layers.LinkTypeEthernet, Snaplen: 262144})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// BenchmarkBatchToFile reads packets one by one from a libpcap batch and
// writes them with the pcap Writer to /dev/null: the Go side of
// gotcpdump's work per packet with --pid or pcapng.
func BenchmarkBatchToFile(b *testing.B) {
	s, _ := batchOf(b)
	w := nullWriter(b)
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

// BenchmarkRecordsToFile writes whole batches (ns/op is per packet): the
// Go side of gotcpdump's work per packet writing pcap.
func BenchmarkRecordsToFile(b *testing.B) {
	s, n := batchOf(b)
	w := nullWriter(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += n {
		s.off = 0
		recs, packets, _, err := s.ReadRecords()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.WriteRecords(recs, packets); err != nil {
			b.Fatal(err)
		}
	}
}
