package main

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/gotcpdump/gotcpdump/goparser/tcptw"
)

// writeSYNs writes a pcap of n SYNs from distinct client ports.
func writeSYNs(t *testing.T, n int) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "syns.pcap")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1_700_000_000, 0)
	for i := range n {
		eth := &layers.Ethernet{SrcMAC: make([]byte, 6), DstMAC: make([]byte, 6), EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: []byte{10, 0, 0, 1}, DstIP: []byte{10, 0, 0, 2}}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(40000 + i), DstPort: 8080, SYN: true, Seq: uint32(i), Window: 64240}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(b), Length: len(b)}
		if err := w.WritePacket(ci, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestMappedFileTruncated: a capture cut short while twreport reads it
// out of its mapping (a ring of -C/-W files being overwritten) is an
// error, where a read past the end of the mapping would have crashed it
// with SIGBUS.
func TestMappedFileTruncated(t *testing.T) {
	name := writeSYNs(t, 20000)
	m, src, size := mapped(t, name)
	if err := os.Truncate(name, 4096); err != nil {
		t.Fatal(err)
	}
	eng := tcptw.New(tcptw.Config{})
	_, err := feedMapped(eng, name, &progress{w: io.Discard}, src, size, m.release)
	if err == nil || !strings.Contains(err.Error(), "changed while it was read") {
		t.Fatalf("got %v", err)
	}
}

// TestMappedAsRead: the mapped and the read paths give the same report.
func TestMappedAsRead(t *testing.T) {
	name := writeSYNs(t, 3000)
	report := func(viaMap bool) string {
		eng := tcptw.New(tcptw.Config{})
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		if viaMap {
			m, ok := mapFile(f, st.Size())
			if !ok {
				t.Fatal("not mapped")
			}
			defer m.unmap()
			src, _ := newPcapMapped(m.b)
			if _, err := feedMapped(eng, name, &progress{w: io.Discard}, src, st.Size(), m.release); err != nil {
				t.Fatal(err)
			}
		} else if _, err := feed(eng, "-", &progress{w: io.Discard}); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		eng.Report(false).WriteText(&b)
		return b.String()
	}
	stdin := os.Stdin
	t.Cleanup(func() { os.Stdin = stdin })
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	os.Stdin = f // "-": read, not mapped
	read := report(false)
	if mapped := report(true); mapped != read || !strings.Contains(read, "3000") {
		t.Errorf("mapped:\n%s\nread:\n%s", mapped, read)
	}
}

// TestMappedFileReleased: what feedMapped has read of a mapped file
// leaves the process's memory as it goes (the mapping's RSS in
// /proc/self/smaps), where it all stayed, and the report is unchanged.
func TestMappedFileReleased(t *testing.T) {
	m, src, size := mapped(t, writeSYNs(t, 200000))
	m.step = 1 << 20
	eng := tcptw.New(tcptw.Config{})
	if _, err := feedMapped(eng, "syns.pcap", &progress{w: io.Discard}, src, size, m.release); err != nil {
		t.Fatal(err)
	}
	rss := mappingRSS(t, uintptr(unsafe.Pointer(&m.b[0])))
	if rss > size/2 {
		t.Errorf("%d of the file's %d octets still count in RSS", rss, size)
	}
	if n := eng.Report(false).Summary.Packets; n != 200000 {
		t.Errorf("%d packets, want 200000", n)
	}
}

// mapped maps the pcap file name for the test, and reads it from the
// mapping.
func mapped(t *testing.T, name string) (*mapping, *pcapRecords, int64) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the mapping outlives the descriptor
	st, _ := f.Stat()
	m, ok := mapFile(f, st.Size())
	if !ok {
		t.Fatal("not mapped")
	}
	t.Cleanup(m.unmap)
	src, ok := newPcapMapped(m.b)
	if !ok {
		t.Fatal("not a pcap")
	}
	return m, src, st.Size()
}

// mappingRSS is the RSS of the mapping that begins at addr.
func mappingRSS(t *testing.T, addr uintptr) int64 {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		if start, _, ok := strings.Cut(l, "-"); ok && !strings.Contains(start, " ") && !strings.HasSuffix(start, ":") {
			v, err := strconv.ParseUint(start, 16, 64)
			in = err == nil && uintptr(v) == addr
			continue
		}
		if kb, ok := strings.CutPrefix(l, "Rss:"); in && ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64)
			if err != nil {
				t.Fatal(l, err)
			}
			return n << 10
		}
	}
	t.Fatalf("no mapping at %#x in /proc/self/smaps", addr)
	return 0
}
