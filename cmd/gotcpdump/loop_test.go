package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/gotcpdump/gotcpdump/internal/capture"
)

// batchSource hands out batches of pcap records, or of pcapng blocks
// (SetLayout), as the libpcap engine does, then times out.
type batchSource struct {
	batches [][]byte
	layout  capture.Layout
	cur     []byte
	dry     func() // called when the batches run out
	// taking, if set, is called before a batch is first handed out, with
	// its index; handed counts the packets handed out, which Stats gives
	// as received by filter.
	taking       func(i int)
	taken        int
	handed, recv uint64
	readPackets  int // ReadPacket's calls
	ran          int // batches that Run wrote
}

// take is called before batch b, the next, is first handed out.
func (s *batchSource) take(b []byte) {
	if s.taking != nil {
		s.taking(s.taken)
	}
	s.taken++
	for off := 0; off < len(b); {
		h, err := s.layout.Record(b[off:])
		if err != nil {
			return
		}
		off += h.Size
		s.recv++ // arrived: the kernel counts it
	}
}

// SetLayout lays the batches out anew, as pcapgo writes the blocks.
func (s *batchSource) SetLayout(l capture.Layout) bool {
	if l == s.layout {
		return true
	}
	if l != capture.NgBlocks || s.taken > 0 {
		return false
	}
	for i, recs := range s.batches {
		var b []byte
		for off := 0; off < len(recs); {
			h, err := capture.PcapRecords.Record(recs[off:])
			if err != nil {
				panic(err)
			}
			pad := (4 - h.Captured&3) & 3
			size, ns := 32+h.Captured+pad, h.Time.UnixNano()
			for _, v := range []uint32{6, uint32(size), 0, uint32(ns >> 32), uint32(ns), uint32(h.Captured), uint32(h.Length)} {
				b = binary.LittleEndian.AppendUint32(b, v)
			}
			b = append(append(b, recs[off+h.Data:off+h.Size]...), make([]byte, pad)...)
			b = binary.LittleEndian.AppendUint32(b, uint32(size))
			off += h.Size
		}
		s.batches[i] = b
	}
	s.layout = l
	return true
}

func (s *batchSource) timeout() error {
	if s.dry != nil {
		s.dry()
	}
	return capture.ErrTimeout
}

func (s *batchSource) ReadRecords() ([]byte, int, int64, error) {
	if len(s.cur) > 0 { // part read by ReadPacket
		b := s.cur
		s.cur = nil
		return b, 0, 0, nil
	}
	if len(s.batches) == 0 {
		return nil, 0, 0, s.timeout()
	}
	b := s.batches[0]
	s.take(b)
	s.batches = s.batches[1:]
	n, octets := 0, int64(0)
	for off := 0; off < len(b); {
		h, err := s.layout.Record(b[off:])
		if err != nil {
			return nil, 0, 0, err
		}
		n++
		octets += int64(h.Length)
		off += h.Size
	}
	return b, n, octets, nil
}

func (s *batchSource) ReadPacket(ci *gopacket.CaptureInfo) ([]byte, error) {
	s.readPackets++
	if len(s.cur) == 0 {
		if len(s.batches) == 0 {
			return nil, s.timeout()
		}
		s.take(s.batches[0])
		s.cur, s.batches = s.batches[0], s.batches[1:]
	}
	h, err := s.layout.Record(s.cur)
	if err != nil {
		return nil, err
	}
	ci.Timestamp, ci.CaptureLength, ci.Length = h.Time, h.Captured, h.Length
	data := s.cur[h.Data : h.Data+h.Captured]
	s.cur = s.cur[h.Size:]
	return data, nil
}

func (s *batchSource) LinkType() layers.LinkType      { return layers.LinkTypeEthernet }
func (s *batchSource) Stats() (uint64, uint64, error) { return s.recv, 0, nil }
func (s *batchSource) SetFilter(string) error         { return nil }
func (s *batchSource) Close()                         {}

// packetSource is the same without batches: the loop reads it a packet
// at a time.
type packetSource struct{ s *batchSource }

func (p packetSource) ReadPacket(ci *gopacket.CaptureInfo) ([]byte, error) {
	return p.s.ReadPacket(ci)
}
func (p packetSource) LinkType() layers.LinkType      { return p.s.LinkType() }
func (p packetSource) Stats() (uint64, uint64, error) { return p.s.Stats() }
func (p packetSource) SetFilter(string) error         { return nil }
func (p packetSource) Close()                         {}

// runSource also runs in "C" as the libpcap engine's Run does: it writes
// whole batches to the file and leaves to ReadRecords the first that may
// pass a limit.
type runSource struct {
	*batchSource
	interrupts *int
}

func (s runSource) Run(fd int, lim capture.RunLimits) (capture.RunResult, error) {
	var r capture.RunResult
	for len(s.cur) == 0 && len(s.batches) > 0 {
		b := s.batches[0]
		n, octets, last := 0, int64(0), time.Time{}
		for off := 0; off < len(b); {
			h, err := s.layout.Record(b[off:])
			if err != nil {
				return r, err
			}
			n, octets, off = n+1, octets+int64(h.Length), off+h.Size
			if h.Time.After(last) {
				last = h.Time
			}
		}
		if !lim.Until.IsZero() && !last.Before(lim.Until) || lim.Room > 0 && r.Written+int64(len(b)) >= lim.Room ||
			lim.Want > 0 && r.Packets+n >= lim.Want {
			r.Left = true
			return r, nil
		}
		if n, err := syscall.Write(fd, b); err != nil || n != len(b) {
			return r, os.NewSyscallError("write", err)
		}
		s.batches = s.batches[1:]
		s.ran++
		r.Packets, r.Octets, r.Written = r.Packets+n, r.Octets+octets, r.Written+int64(len(b))
	}
	if len(s.batches) == 0 {
		_ = s.timeout()
	}
	return r, nil
}

func (s runSource) Interrupt() { *s.interrupts++ }

// loopFiles runs a loop over batches, read one by one ("packets"), whole
// ("batches") or by a source that runs ("run"), into files named name
// with cfg, and returns its result and the files' contents in the order
// of their names.
func loopFiles(t *testing.T, batches [][]byte, mode string, o *options, deadline time.Time, stopping bool, cfg capture.WriterConfig) (result, []byte) {
	t.Helper()
	s := &batchSource{batches: append([][]byte(nil), batches...)}
	var src capture.Source = s
	interrupts := 0
	switch mode {
	case "packets":
		src = packetSource{s}
	case "run":
		src = runSource{s, &interrupts}
	}
	dir := t.TempDir()
	cfg.Name = filepath.Join(dir, cfg.Name)
	cfg.LinkType, cfg.Snaplen = layers.LinkTypeEthernet, 65535
	w, err := capture.NewWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var r result
	l := &loop{o: o, src: src, w: w, status: newStatus(io.Discard), stderr: io.Discard, r: &r, deadline: deadline}
	if stopping {
		l.stop()
	}
	dry := false
	s.dry = func() { dry = true; l.stop() }
	if err := l.run(); err != nil && err != errStop {
		t.Fatal(err)
	}
	if err := w.Close(capture.Stats{}); err != nil {
		t.Fatal(err)
	}
	if mode == "run" && interrupts == 0 && (stopping || dry) {
		t.Fatal("the loop stopped without interrupting the source")
	}
	if mode != "packets" && s.readPackets > 0 {
		t.Fatalf("%s: the loop read packets one by one", mode)
	}
	// With no limit, Run writes every batch but the last.
	if mode == "run" && s.ran < len(batches)-1 && o.count == 0 && deadline.IsZero() && !stopping && cfg.MaxBytes == 0 && cfg.Rotate == 0 {
		t.Fatalf("Run wrote %d batches of %d", s.ran, len(batches))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var b []byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = append(append(b, "\nfile\n"...), data...)
	}
	return r, b
}

// testBatches is 8 batches of 7 pcap records, of 60 to 64 octets, at
// base and every step after it.
func testBatches(base time.Time, step time.Duration) [][]byte {
	var batches [][]byte
	for b, i := 0, 0; b < 8; b++ {
		var recs []byte
		for j := 0; j < 7; j, i = j+1, i+1 {
			n := 60 + i%5
			ts := base.Add(time.Duration(i) * step)
			recs = binary.LittleEndian.AppendUint32(recs, uint32(ts.Unix()))
			recs = binary.LittleEndian.AppendUint32(recs, uint32(ts.Nanosecond()))
			recs = binary.LittleEndian.AppendUint32(recs, uint32(n))
			recs = binary.LittleEndian.AppendUint32(recs, uint32(n+10))
			recs = append(recs, bytes.Repeat([]byte{byte(i)}, n)...)
		}
		batches = append(batches, recs)
	}
	return batches
}

// TestLoopBatchesAsPackets: writing whole batches keeps exactly the
// packets that writing one by one keeps, and counts them the same, with
// a count limit and with a deadline that falls inside a batch.
func TestLoopBatchesAsPackets(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	batches := testBatches(base, time.Millisecond)
	for _, tc := range []struct {
		name     string
		count    int
		deadline time.Time
		stopping bool // SIGINT before the first packet, not when the source runs dry
		want     int
	}{
		{"all", 0, time.Time{}, false, 56}, // batches written whole
		{"stopping", 0, time.Time{}, true, 56},
		{"-c 25", 25, time.Time{}, false, 25},
		{"-c 7", 7, time.Time{}, false, 7},
		{"deadline", 0, base.Add(30*time.Millisecond + time.Microsecond), false, 31},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// -C 700 rotates every 9 or 10 packets; -C 50 after each, so that
			// a file is past its size when the source runs again.
			// pcapng too, its parts named as watch's --file-mb names them.
			for _, cfg := range []capture.WriterConfig{{Name: "x.pcap"}, {Name: "x.pcapng", PcapNG: true}, {Name: "x.pcapng", PcapNG: true, Parts: true}} {
				for _, maxBytes := range []int64{0, 700, 50} {
					cfg.MaxBytes = maxBytes
					o := &options{count: tc.count}
					one, f1 := loopFiles(t, batches, "packets", o, tc.deadline, tc.stopping, cfg)
					if one.captured != tc.want {
						t.Fatalf("%s -C %d: one by one %+v; want %d packets", cfg.Name, maxBytes, one, tc.want)
					}
					for _, mode := range []string{"batches", "run"} {
						all, f2 := loopFiles(t, batches, mode, o, tc.deadline, tc.stopping, cfg)
						if all != one || !bytes.Equal(f1, f2) {
							t.Fatalf("%s -C %d: one by one %+v, %d octets; %s %+v, %d octets", cfg.Name, maxBytes, one, len(f1), mode, all, len(f2))
						}
					}
				}
			}
		})
	}
}

// TestLoopRotationByTime: with -G, the same files and counts whichever
// way the batches are written. The packets are half a second apart from
// 10 s ahead, a quarter past a whole second: the first one starts a
// period, on that whole second, in every loop, and the rotations after
// it fall between the same packets, wherever the clock was when each
// loop opened its first file (which stays empty). pcap and pcapng.
func TestLoopRotationByTime(t *testing.T) {
	batches := testBatches(time.Now().Add(10*time.Second).Truncate(time.Second).Add(250*time.Millisecond), 500*time.Millisecond)
	for _, rot := range []time.Duration{time.Second, 3 * time.Second} {
		for _, maxBytes := range []int64{0, 700} {
			for _, ng := range []bool{false, true} {
				cfg := capture.WriterConfig{Name: "x-%s.pcap", Rotate: rot, MaxBytes: maxBytes, PcapNG: ng}
				one, f1 := loopFiles(t, batches, "packets", &options{}, time.Time{}, false, cfg)
				if n := bytes.Count(f1, []byte("\nfile\n")); one.captured != 56 || n < int(28*time.Second/rot)-1 {
					t.Fatalf("-G %v -C %d pcapng %v: %+v in %d files", rot, maxBytes, ng, one, n)
				}
				for _, mode := range []string{"batches", "run"} {
					all, f2 := loopFiles(t, batches, mode, &options{}, time.Time{}, false, cfg)
					if all != one || !bytes.Equal(f1, f2) {
						t.Errorf("-G %v -C %d pcapng %v: one by one %+v, %d octets; %s %+v, %d octets", rot, maxBytes, ng, one, len(f1), mode, all, len(f2))
					}
				}
			}
		}
	}
}

// TestLoopReceivedAtStop: after a stop (SIGINT), "received by filter" is
// of the packets that came before it, as tcpdump's, not of those the
// kernel went on counting while the loop drained the ring: 4 batches
// before the stop, 4 after it, read and dropped by the drain.
func TestLoopReceivedAtStop(t *testing.T) {
	now := time.Now()
	batches := append(testBatches(now.Add(-time.Second), time.Millisecond)[:4], testBatches(now.Add(time.Hour), time.Millisecond)[4:]...)
	for _, mode := range []string{"packets", "batches"} {
		s := &batchSource{batches: append([][]byte(nil), batches...)}
		var src capture.Source = s
		if mode == "packets" {
			src = packetSource{s}
		}
		w, err := capture.NewWriter(capture.WriterConfig{Name: filepath.Join(t.TempDir(), "x.pcap"), LinkType: layers.LinkTypeEthernet, Snaplen: 65535})
		if err != nil {
			t.Fatal(err)
		}
		var r result
		l := &loop{o: &options{}, src: src, w: w, status: newStatus(io.Discard), stderr: io.Discard, r: &r}
		s.taking = func(i int) {
			if i == 4 {
				l.stop() // the signal, as the fifth batch arrives
			}
		}
		s.dry = func() { l.stop() }
		if err := l.run(); err != nil && err != errStop {
			t.Fatal(err)
		}
		recv, _, err := l.stats()
		if err != nil {
			t.Fatal(err)
		}
		if r.captured != 28 || recv != 28 || s.recv != 56 {
			t.Errorf("%s: %d captured, %d received by filter (the kernel counted %d); want 28 and 28", mode, r.captured, recv, s.recv)
		}
		_ = w.Close(capture.Stats{})
	}
}

// TestLoopReceivedAtDeadline: with -t, "received by filter" is of the
// packets before the deadline, though the loop reads the first packet
// past it a block's timeout late, when the kernel has counted more: 4
// batches before the deadline, 4 after it, and one more that the kernel
// counted but the drain never got (a block it had not handed over).
func TestLoopReceivedAtDeadline(t *testing.T) {
	deadline := time.Now().Add(time.Hour)
	batches := append(testBatches(deadline.Add(-time.Second), time.Millisecond)[:4], testBatches(deadline.Add(time.Second), time.Millisecond)[4:]...)
	for _, mode := range []string{"packets", "batches"} {
		s := &batchSource{batches: append([][]byte(nil), batches...)}
		var src capture.Source = s
		if mode == "packets" {
			src = packetSource{s}
		}
		w, err := capture.NewWriter(capture.WriterConfig{Name: filepath.Join(t.TempDir(), "x.pcap"), LinkType: layers.LinkTypeEthernet, Snaplen: 65535})
		if err != nil {
			t.Fatal(err)
		}
		var r result
		l := &loop{o: &options{}, src: src, w: w, status: newStatus(io.Discard), stderr: io.Discard, r: &r, deadline: deadline}
		s.taking = func(i int) {
			if i == 4 {
				l.deadlineReached() // the clock at the deadline, as the fifth batch arrives
				s.recv += 7         // and the packets after it, never read
			}
		}
		s.dry = func() { l.stop() }
		if err := l.run(); err != nil && err != errStop {
			t.Fatal(err)
		}
		recv, _, err := l.stats()
		if err != nil {
			t.Fatal(err)
		}
		if r.captured != 28 || recv != 28 {
			t.Errorf("%s: %d captured, %d received by filter (the kernel counted %d); want 28 and 28", mode, r.captured, recv, s.recv)
		}
		_ = w.Close(capture.Stats{})
	}
}

// TestLoopProgress: a status with progress gets the counts as the
// capture goes, batch by batch (watch's metrics move during a capture,
// not only at its end), and they only grow, to the capture's own.
func TestLoopProgress(t *testing.T) {
	s := &batchSource{batches: testBatches(time.Now(), time.Millisecond)}
	w, err := capture.NewWriter(capture.WriterConfig{Name: filepath.Join(t.TempDir(), "x.pcap"), LinkType: layers.LinkTypeEthernet, Snaplen: 65535})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(capture.Stats{})
	var r result
	var seen []int
	st := newStatus(io.Discard)
	st.progress = func(p int, o int64, d uint64) {
		if len(seen) > 0 && p < seen[len(seen)-1] {
			t.Errorf("packets went back from %d to %d", seen[len(seen)-1], p)
		}
		seen = append(seen, p)
	}
	l := &loop{o: &options{}, src: s, w: w, status: st, stderr: io.Discard, r: &r}
	s.dry = func() { l.stop() }
	if err := l.run(); err != nil && err != errStop {
		t.Fatal(err)
	}
	if len(seen) < 8 || seen[0] == 0 || seen[0] >= r.captured || seen[len(seen)-1] != r.captured || r.captured != 56 {
		t.Errorf("progress %v for %d packets captured; want one call a batch at least, growing to 56", seen, r.captured)
	}
}
