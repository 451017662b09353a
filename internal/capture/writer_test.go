package capture

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func packet(t time.Time, n int) (gopacket.CaptureInfo, []byte) {
	return gopacket.CaptureInfo{Timestamp: t, CaptureLength: n, Length: n}, make([]byte, n)
}

func count(t *testing.T, name string) int {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
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

func TestStrftime(t *testing.T) {
	ts := time.Date(2026, 11, 25, 7, 8, 9, 0, time.Local)
	if got := strftime("trace-%Y%m%d-%H%M%S-%%.pcap", ts); got != "trace-20261125-070809-%.pcap" {
		t.Fatal(got)
	}
}
