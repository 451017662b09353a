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

// batchSource hands out batches of pcap records, as the libpcap engine
// does, then times out.
type batchSource struct {
	batches [][]byte
	cur     []byte
	dry     func() // called when the batches run out
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
	s.batches = s.batches[1:]
	n, octets := 0, int64(0)
	for off := 0; off < len(b); {
		h, err := capture.Record(b[off:])
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
	if len(s.cur) == 0 {
		if len(s.batches) == 0 {
			return nil, s.timeout()
		}
		s.cur, s.batches = s.batches[0], s.batches[1:]
	}
	h, err := capture.Record(s.cur)
	if err != nil {
		return nil, err
	}
	ci.Timestamp, ci.CaptureLength, ci.Length = h.Time, h.Size-16, h.Length
	data := s.cur[16:h.Size]
	s.cur = s.cur[h.Size:]
	return data, nil
}

func (s *batchSource) LinkType() layers.LinkType      { return layers.LinkTypeEthernet }
func (s *batchSource) Stats() (uint64, uint64, error) { return 0, 0, nil }
func (s *batchSource) SetFilter(string) error         { return nil }
func (s *batchSource) Close()                         {}

// packetSource is the same without batches: the loop reads it a packet
// at a time.
type packetSource struct{ s *batchSource }

func (p packetSource) ReadPacket(ci *gopacket.CaptureInfo) ([]byte, error) {
	return p.s.ReadPacket(ci)
}
func (p packetSource) LinkType() layers.LinkType      { return p.s.LinkType() }
func (p packetSource) Stats() (uint64, uint64, error) { return 0, 0, nil }
func (p packetSource) SetFilter(string) error         { return nil }
func (p packetSource) Close()                         {}

// runSource also runs in "C" as the libpcap engine's Run does: it writes
// whole batches to the file and leaves to ReadRecords the first that may
// pass a limit.
type runSource struct{ *batchSource }

func (s runSource) Run(fd int, lim capture.RunLimits) (capture.RunResult, error) {
	var r capture.RunResult
	for len(s.cur) == 0 && len(s.batches) > 0 {
		b := s.batches[0]
		n, octets, last := 0, int64(0), time.Time{}
		for off := 0; off < len(b); {
			h, err := capture.Record(b[off:])
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
		r.Packets, r.Octets, r.Written = r.Packets+n, r.Octets+octets, r.Written+int64(len(b))
	}
	if len(s.batches) == 0 {
		_ = s.timeout()
	}
	return r, nil
}

func (s runSource) Interrupt() {}

// TestLoopBatchesAsPackets: writing whole batches keeps exactly the
// packets that writing one by one keeps, and counts them the same, with
// a count limit and with a deadline that falls inside a batch.
func TestLoopBatchesAsPackets(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	var batches [][]byte
	for b, i := 0, 0; b < 8; b++ {
		var recs []byte
		for j := 0; j < 7; j, i = j+1, i+1 {
			n := 60 + i%5
			recs = binary.LittleEndian.AppendUint32(recs, uint32(base.Unix()))
			recs = binary.LittleEndian.AppendUint32(recs, uint32(i*1_000_000))
			recs = binary.LittleEndian.AppendUint32(recs, uint32(n))
			recs = binary.LittleEndian.AppendUint32(recs, uint32(n+10))
			recs = append(recs, bytes.Repeat([]byte{byte(i)}, n)...)
		}
		batches = append(batches, recs)
	}
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
			run := func(mode string, maxBytes int64) (result, []byte) {
				s := &batchSource{batches: append([][]byte(nil), batches...)}
				var src capture.Source = s
				switch mode {
				case "packets":
					src = packetSource{s}
				case "run":
					src = runSource{s}
				}
				name := filepath.Join(t.TempDir(), "x.pcap")
				w, err := capture.NewWriter(capture.WriterConfig{Name: name, LinkType: layers.LinkTypeEthernet, Snaplen: 65535, MaxBytes: maxBytes})
				if err != nil {
					t.Fatal(err)
				}
				var r result
				l := &loop{o: &options{count: tc.count}, src: src, w: w, status: newStatus(io.Discard), stderr: io.Discard, r: &r, deadline: tc.deadline}
				l.stopping.Store(tc.stopping)
				s.dry = func() { l.stopping.Store(true) }
				if err := l.run(); err != nil && err != errStop {
					t.Fatal(err)
				}
				if err := w.Close(capture.Stats{}); err != nil {
					t.Fatal(err)
				}
				files, _ := filepath.Glob(name + "*")
				var b []byte
				for _, f := range files {
					data, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					b = append(append(b, filepath.Base(f)...), data...)
				}
				return r, b
			}
			for _, maxBytes := range []int64{0, 700} { // 700: -C rotates every 9 or 10 packets
				one, f1 := run("packets", maxBytes)
				if one.captured != tc.want {
					t.Fatalf("-C %d: one by one %+v; want %d packets", maxBytes, one, tc.want)
				}
				for _, mode := range []string{"batches", "run"} {
					all, f2 := run(mode, maxBytes)
					if all != one || !bytes.Equal(f1, f2) {
						t.Fatalf("-C %d: one by one %+v, %d octets; %s %+v, %d octets", maxBytes, one, len(f1), mode, all, len(f2))
					}
				}
			}
		})
	}
}
