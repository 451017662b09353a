package capture

import (
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestBatchEndsAtFull: libpcap stops handing packets over right after the
// one that fills a batch (pcap_breakloop), which is what gives a batch
// its bound; with the bound at one octet, every batch holds one packet
// and none finds the buffer full.
func TestBatchEndsAtFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_RAW)")
	}
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	port := sink.LocalAddr().(*net.UDPAddr).Port
	src, err := Open(Config{Interface: "lo", Filter: "udp dst port " + strconv.Itoa(port)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := src.(*pcapSource)
	s.b.full = 1

	const sent = 2000
	c, err := net.Dial("udp4", sink.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < sent; i++ {
		if _, err := c.Write(make([]byte, 64+i%200)); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for deadline := time.Now().Add(5 * time.Second); got < sent && time.Now().Before(deadline); {
		recs, packets, octets, err := s.ReadRecords()
		if err == ErrTimeout {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		h, err := Record(recs)
		if err != nil || packets != 1 || h.Size != len(recs) || octets != int64(h.Size-recSize) || time.Since(h.Time) > time.Minute {
			t.Fatalf("batch %d: %d octets, %d packets of %d octets at %v (%v); want one packet", got, len(recs), packets, octets, h.Time, err)
		}
		got++
	}
	if _, dropped, _ := s.Stats(); got != sent || s.b.overrun != 0 || dropped != 0 {
		t.Fatalf("%d of %d packets read, %d without room, %d dropped", got, sent, s.b.overrun, dropped)
	}
}
