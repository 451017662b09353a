package capture

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// loCapture captures the UDP datagrams that send(n) sends to a port on
// lo: n of them, of 64 to 263 octets.
func loCapture(t *testing.T) (s *pcapSource, send func(n int)) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_RAW)")
	}
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	port := sink.LocalAddr().(*net.UDPAddr).Port
	src, err := Open(Config{Interface: "lo", Filter: "udp dst port " + strconv.Itoa(port)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	c, err := net.Dial("udp4", sink.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return src.(*pcapSource), func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if _, err := c.Write(make([]byte, 64+i%200)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestBatchEndsAtFull: libpcap stops handing packets over right after the
// one that fills a batch (pcap_breakloop), which is what gives a batch
// its bound; with the bound at one octet, every batch holds one packet
// and none finds the buffer full.
func TestBatchEndsAtFull(t *testing.T) {
	s, send := loCapture(t)
	s.b.full = 1

	const sent = 2000
	send(sent)
	got := 0
	for deadline := time.Now().Add(5 * time.Second); got < sent && time.Now().Before(deadline); {
		recs, packets, octets, err := s.ReadRecords()
		if err == ErrTimeout {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		h, err := PcapRecords.Record(recs)
		if err != nil || packets != 1 || h.Size != len(recs) || octets != int64(h.Size-recSize) || time.Since(h.Time) > time.Minute {
			t.Fatalf("batch %d: %d octets, %d packets of %d octets at %v (%v); want one packet", got, len(recs), packets, octets, h.Time, err)
		}
		got++
	}
	if _, dropped, _ := s.Stats(); got != sent || s.b.overrun != 0 || dropped != 0 {
		t.Fatalf("%d of %d packets read, %d without room, %d dropped", got, sent, s.b.overrun, dropped)
	}
}

// TestRun: Run writes whole batches of real packets to a file and counts
// them, leaves to ReadRecords the batch that may pass a limit, returns
// at Interrupt, and reports a failed write without counting its batch.
func TestRun(t *testing.T) {
	s, send := loCapture(t)
	out, err := os.Create(filepath.Join(t.TempDir(), "run.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	fd := int(out.Fd())
	// run calls Run until it has written n packets or left a batch.
	run := func(lim RunLimits, n int) (total RunResult) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); total.Packets < n && !total.Left; {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d packets written", total.Packets, n)
			}
			r, err := s.Run(fd, lim)
			if err != nil {
				t.Fatal(err)
			}
			total.Packets, total.Octets, total.Written, total.Left = total.Packets+r.Packets, total.Octets+r.Octets, total.Written+r.Written, r.Left
		}
		return total
	}

	t.Run("whole batches", func(t *testing.T) {
		start := time.Now()
		const sent = 3000
		send(sent)
		r := run(RunLimits{Timeout: 200 * time.Millisecond}, sent)
		b, err := os.ReadFile(out.Name())
		if err != nil {
			t.Fatal(err)
		}
		if r.Packets != sent || r.Left || r.Written != int64(len(b)) {
			t.Fatalf("%+v, file of %d octets; want %d packets", r, len(b), sent)
		}
		var octets int64
		for off, i := 0, 0; off < len(b); i++ {
			h, err := PcapRecords.Record(b[off:])
			if err != nil || h.Length != 14+20+8+64+i%200 || h.Time.Before(start.Add(-time.Second)) || time.Since(h.Time) > time.Minute {
				t.Fatalf("record %d: %+v, %v", i, h, err)
			}
			octets += int64(h.Length)
			off += h.Size
		}
		if octets != r.Octets {
			t.Fatalf("%d octets on the wire, Run counted %d", octets, r.Octets)
		}
	})

	// One packet a batch from here: a limit falls between batches.
	s.b.full = 1
	leaves := func(t *testing.T, lim RunLimits, written int) {
		t.Helper()
		send(written + 2)
		r := run(lim, written+2)
		if !r.Left || r.Packets != written {
			t.Fatalf("%+v; want %d packets written, then a batch left", r, written)
		}
		if _, err := s.Run(fd, lim); err != ErrNoRun {
			t.Fatalf("Run with a batch left: %v", err)
		}
		recs, packets, _, err := s.ReadRecords()
		if err != nil || packets != 1 || len(recs) == 0 {
			t.Fatalf("the batch left: %d packets, %d octets, %v", packets, len(recs), err)
		}
		if _, packets, _, err := s.ReadRecords(); err != nil || packets != 1 { // the last one sent
			t.Fatalf("the packet after: %d packets, %v", packets, err)
		}
	}
	t.Run("want", func(t *testing.T) { leaves(t, RunLimits{Want: 5, Timeout: time.Second}, 4) })
	t.Run("room", func(t *testing.T) { leaves(t, RunLimits{Room: 1, Timeout: time.Second}, 0) })
	t.Run("until", func(t *testing.T) { leaves(t, RunLimits{Until: time.Now(), Timeout: time.Second}, 0) })

	t.Run("write error", func(t *testing.T) {
		ro, err := os.Open(out.Name())
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		send(1)
		var r RunResult
		for deadline := time.Now().Add(5 * time.Second); err == nil; {
			if time.Now().After(deadline) {
				t.Fatal("no write")
			}
			r, err = s.Run(int(ro.Fd()), RunLimits{Timeout: 100 * time.Millisecond})
		}
		var se *os.SyscallError
		if !errors.As(err, &se) || se.Err != syscall.EBADF || r.Packets != 0 || r.Written != 0 {
			t.Fatalf("%+v, %v; want EBADF and nothing counted", r, err)
		}
	})

	t.Run("interrupt", func(t *testing.T) {
		start := time.Now()
		time.AfterFunc(100*time.Millisecond, s.Interrupt)
		if r, err := s.Run(fd, RunLimits{Timeout: time.Minute}); err != nil || r.Left {
			t.Fatalf("%+v, %v", r, err)
		}
		// The eventfd wakes Run's poll: without it Run would notice
		// within a second.
		if d := time.Since(start); d > 600*time.Millisecond {
			t.Fatalf("returned after %v", d)
		}
		start = time.Now()
		if _, err := s.Run(fd, RunLimits{Timeout: time.Minute}); err != nil || time.Since(start) > time.Second {
			t.Fatalf("a Run after Interrupt: %v after %v", err, time.Since(start))
		}
	})
}

// TestRunLimits: Run leaves to ReadRecords exactly the first batch that
// may pass a limit, at the limits' edges, on a file of packets with
// known times and sizes (one packet a batch unless whole is set), laid
// out as pcap records or pcapng blocks.
func TestRunLimits(t *testing.T) {
	for _, layout := range []Layout{PcapRecords, NgBlocks} {
		t.Run([]string{"pcap", "pcapng"}[layout], func(t *testing.T) { testRunLimits(t, layout) })
	}
}

func testRunLimits(t *testing.T, layout Layout) {
	base := time.Unix(1_700_000_000, 0)
	times := []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}
	sizes := []int{60, 70, 80, 90}
	name := filepath.Join(t.TempDir(), "in.pcap")
	write := func(times []time.Duration) {
		f, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w := pcapgo.NewWriter(f)
		if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		for i, d := range times {
			ci := gopacket.CaptureInfo{Timestamp: base.Add(d), CaptureLength: sizes[i], Length: sizes[i]}
			if err := w.WritePacket(ci, make([]byte, sizes[i])); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	rec := func(i int) int64 {
		if layout == NgBlocks {
			return int64(32 + (sizes[i]+3)&^3)
		}
		return int64(recSize + sizes[i])
	}
	for _, tc := range []struct {
		name    string
		times   []time.Duration // default: times
		whole   bool            // one batch of all the packets
		lim     RunLimits
		written int // packets written before the batch left
	}{
		{name: "until at a packet", lim: RunLimits{Until: base.Add(20 * time.Millisecond)}, written: 2},
		{name: "until just after", lim: RunLimits{Until: base.Add(20*time.Millisecond + time.Microsecond)}, written: 3},
		{name: "room reached", lim: RunLimits{Room: rec(0) + rec(1)}, written: 1},
		{name: "room not reached", lim: RunLimits{Room: rec(0) + rec(1) + 1}, written: 2},
		{name: "want", lim: RunLimits{Want: 3}, written: 2},
		{name: "no limit", written: 4},
		// The batch's latest time counts, not its last packet's.
		{name: "latest time", times: []time.Duration{0, 30 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond},
			whole: true, lim: RunLimits{Until: base.Add(25 * time.Millisecond)}, written: 0},
		{name: "before the latest time", times: []time.Duration{0, 30 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond},
			whole: true, lim: RunLimits{Until: base.Add(31 * time.Millisecond)}, written: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := tc.times
			if ts == nil {
				ts = times
			}
			write(ts)
			full := 1
			if tc.whole {
				full = 1 << 20
			}
			s, err := openSavefile(name, full)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.SetLayout(layout)
			out, err := os.Create(filepath.Join(t.TempDir(), "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			tc.lim.Timeout = 20 * time.Millisecond // the file stays readable: Run spins till then
			r, err := s.Run(int(out.Fd()), tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			var octets int64
			for i := 0; i < tc.written; i++ {
				octets += rec(i)
			}
			st, _ := out.Stat()
			if r.Packets != tc.written || r.Written != octets || st.Size() != octets || r.Left != (tc.written < len(ts)) {
				t.Fatalf("%+v, file of %d octets; want %d packets (%d octets) written", r, st.Size(), tc.written, octets)
			}
			if !r.Left {
				return
			}
			recs, packets, _, err := s.ReadRecords()
			if h, herr := layout.Record(recs); err != nil || herr != nil || h.Size != int(rec(tc.written)) || !h.Time.Equal(base.Add(ts[tc.written])) {
				t.Fatalf("the batch left: %d packets, %+v, %v %v", packets, h, err, herr)
			}
		})
	}
}

// IfIndex must agree with the link table that net reads, and fail for a
// name that the kernel does not have (or could not have: too long).
func TestIfIndex(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifs {
		if i, err := IfIndex(ifc.Name); err != nil || i != ifc.Index {
			t.Errorf("IfIndex(%q) = %d, %v; want %d", ifc.Name, i, err, ifc.Index)
		}
	}
	for _, name := range []string{"nosuchif0", "", "any", "an-interface-name-longer-than-IFNAMSIZ"} {
		if i, err := IfIndex(name); err == nil {
			t.Errorf("IfIndex(%q) = %d, want an error", name, i)
		}
	}
}

// TestBlocksAsPackets: the batches of pcapng blocks that gc_put lays out,
// written whole (WriteRecords) or by Run, make the file, byte for byte,
// that the same packets read one by one and written through pcapgo's
// NgWriter (Write) make, statistics block included: packets of every
// padding, some cut short of their length, at nanosecond times, in
// batches of about 1000 octets.
func TestBlocksAsPackets(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pcap")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	pw := pcapgo.NewWriterNanos(f)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	base := time.Unix(1_700_000_000, 123_456_789)
	const n = 300
	for i := 0; i < n; i++ {
		data := make([]byte, i*7%131)
		for j := range data {
			data[j] = byte(i + j)
		}
		ci := gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * 1_000_003), CaptureLength: len(data), Length: len(data) + i%3*100}
		if err := pw.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	write := func(mode string) []byte {
		t.Helper()
		s, err := openSavefile(in, 1000)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		name := filepath.Join(dir, mode+".pcapng")
		w, err := NewWriter(WriterConfig{Name: name, PcapNG: true, LinkType: layers.LinkTypeEthernet, Snaplen: 65535, Iface: "eth0", Filter: "tcp"})
		if err != nil {
			t.Fatal(err)
		}
		s.file = mode != "run" // read to io.EOF; Run reads only a capture
		if mode != "packets" && (!s.SetLayout(w.Layout()) || w.Layout() != NgBlocks) {
			t.Fatal("the source does not take the layout")
		}
		got := 0
		switch mode {
		case "packets":
			var ci gopacket.CaptureInfo
			for ; ; got++ {
				data, err := s.ReadPacket(&ci)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Write(&ci, data, ""); err != nil {
					t.Fatal(err)
				}
			}
		case "batches":
			for {
				recs, packets, _, err := s.ReadRecords()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.WriteRecords(recs, packets); err != nil {
					t.Fatal(err)
				}
				got += packets
			}
		case "run":
			fd, _, _, ok, err := w.Direct()
			if !ok || err != nil {
				t.Fatalf("Direct: %v %v", ok, err)
			}
			r, err := s.Run(fd, RunLimits{Timeout: 50 * time.Millisecond})
			if err != nil || r.Left {
				t.Fatalf("%+v, %v", r, err)
			}
			w.Wrote(r.Written, r.Packets, false)
			got = r.Packets
		}
		if got != n {
			t.Fatalf("%s: %d packets of %d", mode, got, n)
		}
		if err := w.Close(Stats{Received: n, Dropped: 1, Start: base, End: base.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want := write("packets")
	for _, mode := range []string{"batches", "run"} {
		if got := write(mode); !bytes.Equal(got, want) {
			at := 0
			for at < min(len(got), len(want)) && got[at] == want[at] {
				at++
			}
			t.Errorf("%s: %d octets, one by one %d; they differ from octet %d", mode, len(got), len(want), at)
		}
	}
}

// TestEngineOverridden: only the afpacket engine on "any" (named or the
// default) is captured through libpcap instead of the engine asked for.
func TestEngineOverridden(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want bool
	}{
		{Config{Interface: "any", Engine: "afpacket"}, true},
		{Config{Engine: "afpacket"}, true},
		{Config{Interface: "lo", Engine: "afpacket"}, false},
		{Config{Interface: "any", Engine: "pcap"}, false},
		{Config{Interface: "any"}, false},
		{Config{Interface: "eth0"}, false},
	} {
		if got := tc.c.EngineOverridden(); got != tc.want {
			t.Errorf("%+v: EngineOverridden() = %v, want %v", tc.c, got, tc.want)
		}
	}
}
