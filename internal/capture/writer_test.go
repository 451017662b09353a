package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func packet(t time.Time, n int) (gopacket.CaptureInfo, []byte) {
	return gopacket.CaptureInfo{Timestamp: t, CaptureLength: n, Length: n}, make([]byte, n)
}

// reader opens a pcap file for the rest of the test.
func reader(t *testing.T, name string) *pcapgo.Reader {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func count(t *testing.T, name string) int {
	t.Helper()
	r := reader(t, name)
	n := 0
	for {
		if _, _, err := r.ReadPacketData(); err != nil {
			return n
		}
		n++
	}
}

// TestRingOfFiles: -C with -W writes a ring of numbered files, as tcpdump.
func TestRingOfFiles(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(WriterConfig{Name: filepath.Join(dir, "cap"), LinkType: layers.LinkTypeEthernet, Snaplen: 65535, MaxBytes: 1000, Files: 3})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	for i := 0; i < 40; i++ { // 40 × 116 octets: 4 files' worth, so the ring wraps
		ci, d := packet(now.Add(time.Duration(i)*time.Millisecond), 100)
		if err := w.Write(&ci, d, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(Stats{}); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "cap*"))
	if len(names) != 3 {
		t.Fatalf("files %v", names)
	}
	total := 0
	for _, n := range names {
		st, _ := os.Stat(n)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", n, st.Mode().Perm())
		}
		total += count(t, n)
	}
	if total >= 40 || total < 20 {
		t.Fatalf("%d packets kept in the ring of 3 files", total)
	}
}

// TestRotateByTime: -G starts a new file per period and, with -W, stops
// after that many files.
func TestRotateByTime(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(WriterConfig{Name: filepath.Join(dir, "cap-%H%M%S.pcap"), LinkType: layers.LinkTypeEthernet, Snaplen: 65535, Rotate: time.Second, Files: 2})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var stop error
	for i := 0; i < 30 && stop == nil; i++ {
		ci, d := packet(start.Add(time.Duration(i)*100*time.Millisecond), 60)
		stop = w.Write(&ci, d, "")
	}
	if !IsDone(stop) {
		t.Fatalf("no stop after 2 files: %v", stop)
	}
	// The caller closes the writer as after any capture: nothing is left
	// to close, and that is no error.
	if err := w.Close(Stats{}); err != nil {
		t.Fatalf("close after the last file: %v", err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "cap-*.pcap"))
	if len(names) != 2 {
		t.Fatalf("files %v", names)
	}
}

// TestFileNames: with -G the name is a strftime(3) format, as in tcpdump
// (%F, %T and %j included); without it, '%' is an ordinary character.
func TestFileNames(t *testing.T) {
	ts := time.Date(2026, 11, 25, 7, 8, 9, 0, time.Local)
	for _, c := range []struct {
		cfg  WriterConfig
		want string
	}{
		{WriterConfig{Name: "trace-%Y%m%d-%H%M%S-%%.pcap", Rotate: time.Minute}, "trace-20261125-070809-%.pcap"},
		{WriterConfig{Name: "trace-%F_%T-%j-%y-%s.pcap", Rotate: time.Second}, fmt.Sprintf("trace-2026-11-25_07:08:09-329-26-%d.pcap", ts.Unix())},
		{WriterConfig{Name: "trace-%H%M.pcap"}, "trace-%H%M.pcap"},
		{WriterConfig{Name: "ring-%H.pcap", MaxBytes: 1, Files: 3}, "ring-%H.pcap0"},
		{WriterConfig{Name: "ring-%H.pcap", MaxBytes: 1, Files: 3, Rotate: time.Hour}, "ring-07.pcap0"},
		// -C's numbers are padded to the width of -W's largest; with no
		// padding the first file has no number.
		{WriterConfig{Name: "ring.pcap", MaxBytes: 1}, "ring.pcap"},
		{WriterConfig{Name: "ring.pcap", MaxBytes: 1, Files: 1}, "ring.pcap"},
		{WriterConfig{Name: "ring.pcap", MaxBytes: 1, Files: 11}, "ring.pcap00"},
		// -W alone changes nothing (tcpdump -W 3 -w td.pcap writes td.pcap).
		{WriterConfig{Name: "td.pcap", Files: 3}, "td.pcap"},
	} {
		w := &Writer{cfg: c.cfg, period: ts}
		if got := w.fileName(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.cfg, got, c.want)
		}
	}
	w := &Writer{cfg: WriterConfig{Name: "ring.pcap", MaxBytes: 1}, seq: 1}
	if got := w.fileName(); got != "ring.pcap1" {
		t.Errorf("second -C file %q, want ring.pcap1", got)
	}
	// Parts (watch): the number goes before the extension, from 001 on
	// the first file, so that the parts keep .pcapng and sort in order.
	for seq, want := range map[int]string{0: "d/tw-1.pcapng.d/timewait-x-001.pcapng", 9: "d/tw-1.pcapng.d/timewait-x-010.pcapng", 999: "d/tw-1.pcapng.d/timewait-x-1000.pcapng"} {
		w := &Writer{cfg: WriterConfig{Name: "d/tw-1.pcapng.d/timewait-x.pcapng", MaxBytes: 1, Parts: true}, seq: seq}
		if got := w.fileName(); got != want {
			t.Errorf("part %d: %q, want %q", seq, got, want)
		}
	}
	w = &Writer{cfg: WriterConfig{Name: "dir.x/noext", MaxBytes: 1, Parts: true}, seq: 1}
	if got := w.fileName(); got != "dir.x/noext-002" {
		t.Errorf("part without an extension: %q", got)
	}
}

// TestParts: watch's parts keep the extension, sort in the order
// written, and the writer tells the first file and how many it opened;
// Rotated is called with each part a rotation closed.
func TestParts(t *testing.T) {
	dir := t.TempDir()
	var rotated []string
	w, err := NewWriter(WriterConfig{Name: filepath.Join(dir, "timewait-20261206-120000.pcapng"), PcapNG: true, LinkType: layers.LinkTypeEthernet,
		Snaplen: 65535, MaxBytes: 1000, Parts: true, Rotated: func(name string) { rotated = append(rotated, name) }})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	for i := 0; i < 120; i++ { // 120 × 132 octets: 16 files
		ci, d := packet(now.Add(time.Duration(i)*time.Millisecond), 100)
		if err := w.Write(&ci, d, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(Stats{}); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "timewait-*.pcapng"))
	all, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(names) < 10 || len(names) != len(all) || len(names) != w.Opened {
		t.Fatalf("%d files match timewait-*.pcapng of %d, %d opened: %v", len(names), len(all), w.Opened, all)
	}
	if w.First != names[0] || filepath.Base(names[0]) != "timewait-20261206-120000-001.pcapng" {
		t.Errorf("first %q, files %v", w.First, names)
	}
	if len(rotated) != len(names)-1 || rotated[len(rotated)-1] != names[len(names)-2] {
		t.Errorf("rotated %v, files %v", rotated, names)
	}
	// In glob order, the packets' times go up.
	var last time.Time
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		for {
			_, ci, err := r.ReadPacketData()
			if err != nil {
				break
			}
			if ci.Timestamp.Before(last) {
				t.Fatalf("%s: a packet at %v after one at %v in an earlier file", n, ci.Timestamp, last)
			}
			last = ci.Timestamp
		}
		f.Close()
	}
}

// TestPeriodsOnWholeSeconds: -G periods begin on whole seconds, as
// tcpdump's, which compares time(NULL) with the period's start: a
// period begun at 2.3 s ends at 4 s with -G 2, not at 4.3 s.
func TestPeriodsOnWholeSeconds(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(WriterConfig{Name: filepath.Join(dir, "cap-%S.pcap"), LinkType: layers.LinkTypeEthernet, Snaplen: 65535, Rotate: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(Stats{})
	base := time.Date(2026, 12, 6, 2, 0, 0, 0, time.Local)
	w.period = base // as if started at 0.x s
	var names []string
	for _, ms := range []int{900, 2300, 4100, 4400} {
		ci, d := packet(base.Add(time.Duration(ms)*time.Millisecond), 60)
		if err := w.Write(&ci, d, ""); err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(w.Current))
	}
	// The first file was named when the writer opened.
	if want := "[cap-02.pcap cap-04.pcap cap-04.pcap]"; fmt.Sprint(names[1:]) != want {
		t.Errorf("files %v, want %s after the first", names, want)
	}
}

// TestRotateByTimeAndSize: with -G and -C, as tcpdump 4.99 does, the
// files of a period share the name of its start and number from 0 again
// in each period, and -W makes a ring within a period, not a stop.
func TestRotateByTimeAndSize(t *testing.T) {
	dir := t.TempDir()
	var closed []string // by Rotated, as for tcpdump -z
	cfg := WriterConfig{Name: filepath.Join(dir, "cap-%S.pcap"), LinkType: layers.LinkTypeEthernet, Snaplen: 65535,
		Rotate: 2 * time.Second, MaxBytes: 1000, Files: 3, Rotated: func(name string) { closed = append(closed, filepath.Base(name)) }}
	w, err := NewWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 6, 2, 13, 20, 0, time.Local)
	w.period = start
	var names []string
	// Two bursts of 30 packets of 116 octets, 2.5 s apart: 4 files'
	// worth each, so each wraps the ring of 3.
	for i := 0; i < 60; i++ {
		at := start.Add(time.Duration(i) * time.Millisecond)
		if i >= 30 {
			at = at.Add(2500 * time.Millisecond)
		}
		ci, d := packet(at, 100)
		if err := w.Write(&ci, d, ""); err != nil {
			t.Fatal(err)
		}
		if len(names) == 0 || names[len(names)-1] != filepath.Base(w.Current) {
			names = append(names, filepath.Base(w.Current))
		}
	}
	if err := w.Close(Stats{}); err != nil {
		t.Fatal(err)
	}
	// The first file is named when the writer opens, before the test
	// sets the period's start.
	names[0] = "cap-" + start.Format("05") + names[0][6:]
	want := []string{"cap-20.pcap0", "cap-20.pcap1", "cap-20.pcap2", "cap-20.pcap0",
		"cap-22.pcap0", "cap-22.pcap1", "cap-22.pcap2", "cap-22.pcap0"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	// Every file but the last, which Close closes, in the order closed.
	if len(closed) != len(want)-1 || fmt.Sprint(closed[1:]) != fmt.Sprint(want[1:len(want)-1]) {
		t.Errorf("Rotated got %v, want %v", closed, want[:len(want)-1])
	}
}

// records lays packets out as WriteRecords takes them.
func records(cis []gopacket.CaptureInfo) []byte {
	var b []byte
	for i, ci := range cis {
		b = binary.LittleEndian.AppendUint32(b, uint32(ci.Timestamp.Unix()))
		b = binary.LittleEndian.AppendUint32(b, uint32(ci.Timestamp.Nanosecond()))
		b = binary.LittleEndian.AppendUint32(b, uint32(ci.CaptureLength))
		b = binary.LittleEndian.AppendUint32(b, uint32(ci.Length))
		for j := 0; j < ci.CaptureLength; j++ {
			b = append(b, byte(i+j))
		}
	}
	return b
}

// blocks lays out the packets of pcap records as pcapng enhanced packet
// blocks, as WriteRecords takes them for pcapng and pcapgo writes them.
func blocks(recs []byte) []byte {
	var b []byte
	for off := 0; off < len(recs); {
		h, err := PcapRecords.Record(recs[off:])
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
	return b
}

// laidOut lays packets out as WriteRecords takes them for a pcap file or
// a pcapng one.
func laidOut(pcapng bool, cis []gopacket.CaptureInfo) []byte {
	if pcapng {
		return blocks(records(cis))
	}
	return records(cis)
}

// TestWriteRecordsAsWrite: whole batches of records make the same files
// as the same packets written one by one, rotation included, and a -G
// capture that ends after -W files ends at the same packet: pcap, and
// pcapng (the files' blocks as pcapgo writes them, byte for byte).
func TestWriteRecordsAsWrite(t *testing.T) {
	start := time.Now()
	var cis []gopacket.CaptureInfo
	for i := 0; i < 60; i++ {
		n := 40 + i*7%90
		cis = append(cis, gopacket.CaptureInfo{Timestamp: start.Add(50*time.Millisecond + time.Duration(i)*100*time.Millisecond + time.Duration(i)),
			CaptureLength: n, Length: n + i%3})
	}
	for _, tc := range []struct {
		name string
		cfg  WriterConfig
	}{
		{"one file", WriterConfig{}},
		{"-C", WriterConfig{MaxBytes: 1000}},
		{"-C -W ring", WriterConfig{MaxBytes: 1000, Files: 3}},
		{"-G", WriterConfig{Rotate: time.Second}}, // one name: each file replaces the last, as in tcpdump
		{"-G -W ends", WriterConfig{Rotate: time.Second, Files: 3}},
		{"pcapng", WriterConfig{PcapNG: true}},
		{"pcapng -C", WriterConfig{PcapNG: true, MaxBytes: 1000}},
		{"pcapng -C -W ring", WriterConfig{PcapNG: true, MaxBytes: 1000, Files: 3}},
		{"pcapng parts", WriterConfig{PcapNG: true, MaxBytes: 1000, Parts: true}},
		{"pcapng -G", WriterConfig{PcapNG: true, Rotate: time.Second}},
		{"pcapng -G -W ends", WriterConfig{PcapNG: true, Rotate: time.Second, Files: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			records := func(cis []gopacket.CaptureInfo) []byte { return laidOut(tc.cfg.PcapNG, cis) }
			write := func(dir string, batches bool) (int, error) {
				cfg := tc.cfg
				cfg.Name, cfg.LinkType, cfg.Snaplen = filepath.Join(dir, "cap"), layers.LinkTypeEthernet, 65535
				w, err := NewWriter(cfg)
				if err != nil {
					t.Fatal(err)
				}
				// Both writers open their first file at the same time, or
				// -G could rotate at different packets.
				w.period = start
				// With the statistics block, as a capture ends.
				defer w.Close(Stats{Received: 70, Dropped: 3, Start: start, End: start.Add(time.Minute)})
				recs := records(cis)
				if batches {
					// Batches of 1, 2, 3... records.
					for i, size := 0, 1; i < len(cis); i, size = i+size, size+1 {
						end := min(i+size, len(cis))
						from, to := len(records(cis[:i])), len(records(cis[:end]))
						n, err := w.WriteRecords(recs[from:to], end-i)
						if err != nil {
							return len(records(cis[:i])) + n, err
						}
						if n != to-from {
							t.Fatalf("wrote %d of %d octets", n, to-from)
						}
					}
					return len(recs), nil
				}
				for i := range cis {
					h, err := w.Layout().Record(recs[len(records(cis[:i])):])
					if err != nil {
						t.Fatal(err)
					}
					at := len(records(cis[:i])) + h.Data
					if err := w.Write(&cis[i], recs[at:at+h.Captured], ""); err != nil {
						return len(records(cis[:i])), err
					}
				}
				return len(recs), nil
			}
			one, batch := t.TempDir(), t.TempDir()
			n1, err1 := write(one, false)
			n2, err2 := write(batch, true)
			if n1 != n2 || !errors.Is(err2, err1) {
				t.Fatalf("one by one: %d octets, %v; in batches: %d octets, %v", n1, err1, n2, err2)
			}
			names, _ := filepath.Glob(filepath.Join(one, "*"))
			if len(names) == 0 {
				t.Fatal("no file")
			}
			for _, name := range names {
				a, _ := os.ReadFile(name)
				b, err := os.ReadFile(filepath.Join(batch, filepath.Base(name)))
				if err != nil || !bytes.Equal(a, b) {
					t.Errorf("%s: %d octets one by one, %d in batches (%v)", filepath.Base(name), len(a), len(b), err)
				}
			}
			if others, _ := filepath.Glob(filepath.Join(batch, "*")); len(others) != len(names) {
				t.Errorf("files %d one by one, %d in batches", len(names), len(others))
			}
			t.Logf("%d files, %v", len(names), err1)
		})
	}
}

// TestWriteRecordsAfterBuffered: a batch large enough to go to the file
// directly, in more than one write, lands after the records still in the
// buffer, whole and in order.
func TestWriteRecordsAfterBuffered(t *testing.T) {
	var cis []gopacket.CaptureInfo
	for i := 0; i < 80; i++ {
		cis = append(cis, gopacket.CaptureInfo{Timestamp: time.Unix(1_700_000_000, int64(i)), CaptureLength: 1500, Length: 1500})
	}
	recs := records(cis)
	one := len(records(cis[:1]))
	if len(recs)-2*one <= writePiece {
		t.Fatalf("the large batch (%d octets) would take one write", len(recs)-2*one)
	}
	name := filepath.Join(t.TempDir(), "x.pcap")
	w, err := NewWriter(WriterConfig{Name: name, LinkType: layers.LinkTypeEthernet, Snaplen: 65535})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{recs[:one], recs[one : len(recs)-one], recs[len(recs)-one:]} {
		if _, err := w.WriteRecords(b, len(b)/one); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(Stats{}); err != nil {
		t.Fatal(err)
	}
	r := reader(t, name)
	for i := range cis {
		_, ci, err := r.ReadPacketData()
		if err != nil || ci.Timestamp.Nanosecond() != i {
			t.Fatalf("packet %d: %v at %v", i, err, ci.Timestamp)
		}
	}
}

// TestLostAfterFailedWrite: after a write fails part way (a full disk;
// here the file size limit, which fails a write with EFBIG at the same
// point), Lost tells how many of the packets given the file does not hold
// whole, so that the count gotcpdump prints is of those it holds: pcap and
// pcapng, packet by packet and in batches that go through the buffer or
// past it, with the failure in a write or in a flush.
func TestLostAfterFailedWrite(t *testing.T) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Fatal(err)
		}
	}
	defer restore()
	for _, tc := range []struct {
		name   string
		pcapng bool
		batch  int // records a batch, 0: packet by packet
	}{
		{"pcap packets", false, 0},
		{"pcapng packets", true, 0},
		{"pcap small batches", false, 5},
		{"pcap large batches", false, 100},
		{"pcapng small batches", true, 5},
		{"pcapng large batches", true, 100},
	} {
		for _, limit := range []uint64{100_000, 150_013, 262_144 + 700} {
			t.Run(fmt.Sprintf("%s, %d octets", tc.name, limit), func(t *testing.T) {
				name := filepath.Join(t.TempDir(), "x")
				w, err := NewWriter(WriterConfig{Name: name, PcapNG: tc.pcapng, LinkType: layers.LinkTypeEthernet, Snaplen: 65535})
				if err != nil {
					t.Fatal(err)
				}
				if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: old.Max}); err != nil {
					t.Fatal(err)
				}
				given := 0
				at := time.Unix(1_700_000_000, 0)
				for i := 0; err == nil && i < 2000; i++ {
					if tc.batch == 0 {
						ci, d := packet(at.Add(time.Duration(i)), 1000+i%7)
						if err = w.Write(&ci, d, ""); err == nil {
							given++
						}
						if err == nil && i%37 == 36 {
							err = w.Flush()
						}
						continue
					}
					var cis []gopacket.CaptureInfo
					for j := 0; j < tc.batch; j++ {
						cis = append(cis, gopacket.CaptureInfo{Timestamp: at.Add(time.Duration(i*tc.batch + j)), CaptureLength: 1000 + j%7, Length: 1000 + j%7})
					}
					recs := laidOut(tc.pcapng, cis)
					var n int
					n, err = w.WriteRecords(recs, tc.batch)
					for off := 0; off < n; given++ {
						h, herr := w.Layout().Record(recs[off:])
						if herr != nil {
							t.Fatal(herr)
						}
						off += h.Size
					}
				}
				if err == nil {
					err = w.Flush()
				}
				_ = w.Close(Stats{})
				restore()
				if !errors.Is(err, syscall.EFBIG) {
					t.Fatalf("the writes ended with %v, want EFBIG", err)
				}
				f, err := os.Open(w.Current)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				var r interface {
					ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
				}
				if tc.pcapng {
					r, err = pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
				} else {
					r, err = pcapgo.NewReader(f)
				}
				if err != nil {
					t.Fatal(err)
				}
				whole := 0
				for {
					if _, _, err := r.ReadPacketData(); err != nil {
						break
					}
					whole++
				}
				if lost := w.Lost(); given-lost != whole {
					t.Errorf("%d packets given, %d lost by Lost: %d, but the file holds %d whole", given, lost, given-lost, whole)
				}
				// Lost cut the file after its last whole record: a reader
				// meets a clean end there, not one in a packet.
				if n, err := readAll(w.Current, tc.pcapng); n != whole || err != io.EOF {
					t.Errorf("after Lost the file holds %d packets and ends with %v; want %d and EOF", n, err, whole)
				}
			})
		}
	}
}

// readAll counts a file's packets and returns the error that ended them.
func readAll(name string, pcapng bool) (int, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var r interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	if pcapng {
		r, err = pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	} else {
		r, err = pcapgo.NewReader(f)
	}
	if err != nil {
		return 0, err
	}
	for n := 0; ; n++ {
		if _, _, err := r.ReadPacketData(); err != nil {
			return n, err
		}
	}
}

// TestWrittenIsFileSize: what -C compares with the limit is the file's
// size, header included, as tcpdump's ftell: for pcap, and for pcapng
// blocks with and without a comment.
func TestWrittenIsFileSize(t *testing.T) {
	for _, pcapng := range []bool{false, true} {
		name := filepath.Join(t.TempDir(), "x")
		w, err := NewWriter(WriterConfig{Name: name, PcapNG: pcapng, LinkType: layers.LinkTypeEthernet, Snaplen: 65535})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50; i++ {
			ci, d := packet(time.Unix(1_700_000_000, int64(i)), 60+i)
			if err := w.Write(&ci, d, strings.Repeat("c", i%6)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != w.written {
			t.Errorf("pcapng %v: %d octets counted, the file has %d", pcapng, w.written, st.Size())
		}
		w.Close(Stats{})
	}
}

// TestBrokenPipe: when the reader of a pipe goes away, the write error
// is EPIPE to errors.Is, which gotcpdump takes for the end of the
// capture, whichever write of a packet (its header or its data, through
// pcapgo, which wraps the header's error) the buffer's flush falls in.
func TestBrokenPipe(t *testing.T) {
	for _, size := range []int{1400, 2032} { // 2032: records of 2048 fill the buffer exactly
		fifo := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		opened := make(chan *os.File)
		go func() {
			r, _ := os.Open(fifo)
			opened <- r
		}()
		w, err := NewWriter(WriterConfig{Name: fifo, LinkType: layers.LinkTypeEthernet, Snaplen: 65535})
		if err != nil {
			t.Fatal(err)
		}
		(<-opened).Close()
		for i := 0; i < 1000 && err == nil; i++ {
			ci, d := packet(time.Unix(1_700_000_000, int64(i)), size)
			err = w.Write(&ci, d, "")
		}
		if !errors.Is(err, syscall.EPIPE) {
			t.Errorf("packets of %d octets: %v, want EPIPE", size, err)
		}
		w.Close(Stats{})
	}
}

// TestChownOnlyRegularFiles: -Z gives the file it opened before the drop
// to the user, but never a FIFO or a device (-w /dev/null) it wrote to.
func TestChownOnlyRegularFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		if r, err := os.Open(fifo); err == nil {
			_, _ = io.Copy(io.Discard, r)
			r.Close()
		}
	}()
	for _, name := range []string{filepath.Join(dir, "x.pcap"), fifo} {
		w, err := NewWriter(WriterConfig{Name: name, LinkType: layers.LinkTypeEthernet, Snaplen: 65535})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Chown(65534, 65534); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		_ = w.Close(Stats{})
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		uid := st.Sys().(*syscall.Stat_t).Uid
		if regular := st.Mode().IsRegular(); regular != (uid == 65534) {
			t.Errorf("%s (regular %v): owner %d after Chown", name, regular, uid)
		}
	}
}

// TestWriteOnlyFile: a file its user may write but not read is written
// as before (opened for writing only), not refused.
func TestWriteOnlyFile(t *testing.T) {
	if os.Geteuid() == 0 {
		// Root reads any file: the test runs again as nobody.
		c := exec.Command("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", os.Args[0], "-test.run=^TestWriteOnlyFile$", "-test.v")
		c.Dir = "/"
		out, err := c.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestWriteOnlyFile") {
			t.Errorf("as nobody: %v\n%s", err, out)
		}
		return
	}
	name := filepath.Join(t.TempDir(), "x.pcap")
	if err := os.WriteFile(name, nil, 0o200); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(WriterConfig{Name: name, LinkType: layers.LinkTypeEthernet, Snaplen: 65535})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(Stats{}); err != nil {
		t.Fatal(err)
	}
}
