package tests

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/gotcpdump/gotcpdump/internal/syncbuf"
)

// pcapPacket is a packet of a pcap file, read whole by readPcap.
type pcapPacket struct {
	ci   gopacket.CaptureInfo
	data []byte
}

// readPcap reads every packet of a pcap file, and its snap length and
// link type.
func readPcap(t *testing.T, name string) (packets []pcapPacket, snaplen uint32, link layers.LinkType) {
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
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return packets, r.Snaplen(), r.LinkType()
		}
		if err != nil {
			t.Fatal(err)
		}
		packets = append(packets, pcapPacket{ci, data})
	}
}

// repeatCapture writes to name the packets of the pcap file in, n times
// over, each copy after the last in time: a capture of several MiB for
// the tests, made from a small one.
func repeatCapture(t *testing.T, in, name string, n int) {
	t.Helper()
	packets, snaplen, link := readPcap(t, in)
	span := packets[len(packets)-1].ci.Timestamp.Sub(packets[0].ci.Timestamp) + time.Second
	var all []pcapPacket
	for i := 0; i < n; i++ {
		for _, p := range packets {
			p.ci.Timestamp = p.ci.Timestamp.Add(time.Duration(i) * span)
			all = append(all, p)
		}
	}
	writePcap(t, name, false, snaplen, link, all) // microseconds, as tcpdump writes them
}

// writePcap writes packets to a pcap file of nanosecond or microsecond
// time stamps.
func writePcap(t *testing.T, name string, nano bool, snaplen uint32, link layers.LinkType, packets []pcapPacket) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if nano {
		w = pcapgo.NewWriterNanos(f)
	}
	if err := w.WriteFileHeader(snaplen, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range packets {
		if err := w.WritePacket(p.ci, p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// capturePackets counts the packets of a pcap or pcapng file and the
// octets of them it holds.
func capturePackets(t *testing.T, name string) (packets int, octets int64) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	if strings.HasSuffix(name, ".pcapng") {
		r, err = pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	} else {
		r, err = pcapgo.NewReader(f)
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return packets, octets
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		packets++
		octets += int64(len(data))
	}
}

// runBoth runs tcpdump and gotcpdump with the same arguments (in which
// OUT stands for each one's -w name, in its own directory), standard
// input from the file stdin if not empty, and returns the directories.
func runBoth(t *testing.T, dir, bin, stdin string, args ...string) (tcpdumpDir, gotcpdumpDir string) {
	t.Helper()
	tcpdumpDir, gotcpdumpDir = filepath.Join(dir, "by-tcpdump"), filepath.Join(dir, "by-gotcpdump")
	for _, d := range []string{tcpdumpDir, gotcpdumpDir} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ prog, dir string }{{"tcpdump", tcpdumpDir}, {bin, gotcpdumpDir}} {
		var a []string
		if c.prog == "tcpdump" {
			a = append(a, "-Z", "root") // its -C files, in a directory of root's
		}
		for _, s := range args {
			a = append(a, strings.ReplaceAll(s, "OUT", filepath.Join(c.dir, "out")))
		}
		cmd := exec.Command(c.prog, a...)
		if stdin != "" {
			f, err := os.Open(stdin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cmd.Stdin = f
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %q: %v\n%s", filepath.Base(c.prog), a, err, out)
		}
	}
	return tcpdumpDir, gotcpdumpDir
}

// filesIn lists the names in dir, sorted.
func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// TestGotcpdumpReadsLargeFiles: gotcpdump -r of a file of several MiB
// writes every packet, as tcpdump -r does: to pcap (the same octets),
// pcapng, from standard input, with -c, -C and -s. The reader's batches
// are of 1 MiB; every -r once ended after the first.
func TestGotcpdumpReadsLargeFiles(t *testing.T) {
	dir, bin := rootTools(t)
	big := filepath.Join(dir, "big.pcap")
	repeatCapture(t, filepath.Join(root, "testpcaps", "h2c_loss.pcap"), big, 16)
	if st, err := os.Stat(big); err != nil || st.Size() < 6<<20 {
		t.Fatalf("the input: %v %v", st, err)
	}
	total, _ := capturePackets(t, big)
	filter := "tcp"
	for _, c := range []struct {
		name, stdin string
		args        []string
	}{
		{"pcap", "", []string{"-r", big, "-w", "OUT", filter}},
		{"standard input", big, []string{"-r", "-", "-w", "OUT", filter}},
		{"-c", "", []string{"-r", big, "-c", "5000", "-w", "OUT", filter}},
		{"-s", "", []string{"-r", big, "-s", "100", "-w", "OUT", filter}},
		{"-C", "", []string{"-r", big, "-C", "2", "-w", "OUT", filter}},
	} {
		td, gd := runBoth(t, dir, bin, c.stdin, c.args...)
		names := filesIn(t, td)
		if got := filesIn(t, gd); strings.Join(got, " ") != strings.Join(names, " ") {
			t.Errorf("%s: files %q, tcpdump's %q", c.name, got, names)
			continue
		}
		all := 0
		for _, n := range names {
			want, _ := os.ReadFile(filepath.Join(td, n))
			got, _ := os.ReadFile(filepath.Join(gd, n))
			wantPackets, wantOctets := capturePackets(t, filepath.Join(td, n))
			gotPackets, gotOctets := capturePackets(t, filepath.Join(gd, n))
			all += wantPackets
			if !bytes.Equal(got, want) {
				t.Errorf("%s: %s: %d packets (%d octets), tcpdump's %d (%d)", c.name, n, gotPackets, gotOctets, wantPackets, wantOctets)
			}
		}
		if all < 5000 {
			t.Errorf("%s: tcpdump wrote %d packets of %d", c.name, all, total)
		}
	}
	// pcapng: the same packets.
	td, gd := runBoth(t, dir, bin, "", "-r", big, "-w", "OUT", filter)
	ng := filepath.Join(gd, "out.pcapng")
	if out, err := exec.Command(bin, "-r", big, "-w", ng, filter).CombinedOutput(); err != nil {
		t.Fatalf("pcapng: %v\n%s", err, out)
	}
	wantPackets, wantOctets := capturePackets(t, filepath.Join(td, "out"))
	if gotPackets, gotOctets := capturePackets(t, ng); gotPackets != wantPackets || gotOctets != wantOctets {
		t.Errorf("pcapng: %d packets (%d octets), tcpdump's %d (%d)", gotPackets, gotOctets, wantPackets, wantOctets)
	}
}

// TestGotcpdumpReadsNanosecondFiles: from a nanosecond file, pcap or
// pcapng, gotcpdump -r writes what tcpdump -r writes, byte for byte: a
// microsecond pcap file, the times cut to the microsecond, unless
// --nano (or --time-stamp-precision=nano) is given, and then a
// nanosecond one; with a filter and -c, and from standard input too.
// A pcapng file holds the same times as tcpdump's microsecond file.
func TestGotcpdumpReadsNanosecondFiles(t *testing.T) {
	dir, bin := rootTools(t)
	packets, snaplen, link := readPcap(t, filepath.Join(root, "testpcaps", "h2c_go.pcap"))
	in := filepath.Join(dir, "nano.pcap")
	// Times that a cut to the microsecond changes, and that rounding
	// would change otherwise: .xxxxxx501 to .xxxxxx999.
	t0 := time.Date(2025, 6, 7, 8, 9, 10, 501, time.UTC)
	for i := range packets {
		packets[i].ci.Timestamp = t0.Add(time.Duration(i)*1234*time.Microsecond + time.Duration(i%499))
	}
	writePcap(t, in, true, snaplen, link, packets)
	ng := filepath.Join(dir, "nano.pcapng")
	if out, err := exec.Command("editcap", "-F", "pcapng", in, ng).CombinedOutput(); err != nil {
		t.Fatalf("editcap: %v\n%s", err, out)
	}
	microMagic := []byte{0xd4, 0xc3, 0xb2, 0xa1} // pcap, little-endian
	for _, c := range []struct {
		name, stdin string
		args        []string
		micro       bool
	}{
		{"pcap", "", []string{"-r", in, "-w", "OUT"}, true},
		{"pcap, a filter and -c", "", []string{"-r", in, "-c", "40", "-w", "OUT", "tcp[tcpflags] & tcp-push != 0"}, true},
		{"standard input", in, []string{"-r", "-", "-w", "OUT"}, true},
		{"pcapng", "", []string{"-r", ng, "-w", "OUT"}, true},
		{"--time-stamp-precision=micro", "", []string{"--time-stamp-precision=micro", "-r", in, "-w", "OUT"}, true},
		{"--nano", "", []string{"--nano", "-r", in, "-w", "OUT"}, false},
		{"--time-stamp-precision=nano, standard input", in, []string{"--time-stamp-precision=nano", "-r", "-", "-w", "OUT"}, false},
		{"pcapng, --nano", "", []string{"--nano", "-r", ng, "-w", "OUT"}, false},
	} {
		td, gd := runBoth(t, dir, bin, c.stdin, c.args...)
		want, _ := os.ReadFile(filepath.Join(td, "out"))
		got, _ := os.ReadFile(filepath.Join(gd, "out"))
		if n, _ := capturePackets(t, filepath.Join(td, "out")); n < 20 || bytes.HasPrefix(want, microMagic) != c.micro {
			t.Fatalf("%s: tcpdump wrote %d packets, a file of the magic %x", c.name, n, want[:4])
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: gotcpdump wrote %d octets, of the magic %x; tcpdump %d, %x", c.name, len(got), got[:min(4, len(got))], len(want), want[:4])
		}
	}
	// pcapng: the times of tcpdump's microsecond file (in a file of
	// if_tsresol 9, whose times tshark prints in 9 digits).
	td, _ := runBoth(t, dir, bin, "", "-r", in, "-w", "OUT")
	out := filepath.Join(dir, "out.pcapng")
	if b, err := exec.Command(bin, "-r", in, "-w", out).CombinedOutput(); err != nil {
		t.Fatalf("pcapng: %v\n%s", err, b)
	}
	times := func(file string) string {
		return tshark(t, plainEnv, "-r", file, "-T", "fields", "-e", "frame.time_epoch")
	}
	digits6 := func(s string) string { return strings.ReplaceAll(s, "000\n", "\n") }
	if want, got := digits6(times(filepath.Join(td, "out"))), digits6(times(out)); got != want || want == digits6(times(in)) {
		t.Errorf("pcapng: times differ from tcpdump's:\n%s", firstDiff(want, got))
	}
}

// TestGotcpdumpReadsTruncatedFiles: a -r file cut short fails with
// libpcap's words and exit 1, as tcpdump's does, after the packets
// before the cut are written; a file whose header is cut cannot be
// opened (nothing written).
func TestGotcpdumpReadsTruncatedFiles(t *testing.T) {
	dir, bin := rootTools(t)
	in := filepath.Join(root, "testpcaps", "h2c_go.pcap")
	ng := filepath.Join(dir, "in.pcapng")
	if out, err := exec.Command("editcap", "-F", "pcapng", in, ng).CombinedOutput(); err != nil {
		t.Fatalf("editcap: %v\n%s", err, out)
	}
	// Where the 60th packet's record begins, and its captured length.
	at, caplen := int64(24), 0
	{
		f, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 60; i++ {
			data, _, err := r.ReadPacketData()
			if err != nil {
				t.Fatal(err)
			}
			at += 16 + int64(len(data))
			caplen = len(data)
		}
		at -= 16 + int64(caplen)
		f.Close()
	}
	for _, c := range []struct {
		name, in string
		size     int64
		header   bool   // cut in the file header: nothing is written
		says     string // libpcap's words, after "truncated "
	}{
		{"pcap, in a record's header", in, at + 4, false, "dump file; tried to read 16 header bytes, only got 4"},
		{"pcap, in a packet", in, at + 20, false, fmt.Sprintf("dump file; tried to read %d captured bytes, only got 4", caplen)},
		{"pcap, in the file header", in, 10, true, "dump file; tried to read 24 file header bytes, only got"},
		{"pcapng, in a block", ng, 100_000, false, "pcapng dump file; tried to read"},
	} {
		b, err := os.ReadFile(c.in)
		if err != nil {
			t.Fatal(err)
		}
		cut := filepath.Join(dir, "cut"+filepath.Ext(c.in))
		if err := os.WriteFile(cut, b[:c.size], 0o644); err != nil {
			t.Fatal(err)
		}
		var msgs [2]string
		var codes [2]int
		for i, prog := range []string{"tcpdump", bin} {
			out := filepath.Join(dir, filepath.Base(prog)+".pcap")
			_ = os.Remove(out)
			var errOut bytes.Buffer
			cmd := exec.Command(prog, "-r", cut, "-w", out)
			cmd.Stderr = &errOut
			err := cmd.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				codes[i] = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
			msgs[i] = lines[len(lines)-1]
		}
		// tcpdump: "tcpdump: pcap_loop: truncated dump file; ...";
		// gotcpdump names the file.
		word := func(s string) string { _, w, _ := strings.Cut(s, "truncated "); return w }
		if codes[1] != 1 || codes[0] != 1 || !strings.HasPrefix(word(msgs[0]), c.says) || word(msgs[1]) != word(msgs[0]) ||
			!strings.HasPrefix(msgs[1], "gotcpdump: "+cut+": truncated ") {
			t.Errorf("%s: exit %d, %q; tcpdump: exit %d, %q", c.name, codes[1], msgs[1], codes[0], msgs[0])
		}
		if c.header {
			if _, err := os.Stat(filepath.Join(dir, "gotcpdump.pcap")); err == nil {
				t.Errorf("%s: a file was written", c.name)
			}
			continue
		}
		// tcpdump cuts the file's nanoseconds: the same packets.
		wantPackets, wantOctets := capturePackets(t, filepath.Join(dir, "tcpdump.pcap"))
		gotPackets, gotOctets := capturePackets(t, filepath.Join(dir, "gotcpdump.pcap"))
		if wantPackets < 50 || gotPackets != wantPackets || gotOctets != wantOctets {
			t.Errorf("%s: gotcpdump wrote %d packets (%d octets), tcpdump %d (%d)", c.name, gotPackets, gotOctets, wantPackets, wantOctets)
		}
	}
}

// TestGotcpdumpReadsFilesByPacketTimes: -r with -G splits the file by
// its packets' times, as the writer rotates by them, and names each
// file from the time its period began: the first, from the first
// packet's, not from the clock (a capture of days ago, read today).
func TestGotcpdumpReadsFilesByPacketTimes(t *testing.T) {
	dir, bin := rootTools(t)
	packets, snaplen, link := readPcap(t, filepath.Join(root, "testpcaps", "h2c_go.pcap"))
	in := filepath.Join(dir, "old.pcap")
	// 60 packets 700 ms apart, from a time of 2021, with a gap of a
	// minute after the 30th.
	t0 := time.Date(2021, 3, 4, 5, 6, 7, 500_000_000, time.Local)
	packets = packets[:60]
	var times []time.Time
	for i := range packets {
		at := t0.Add(time.Duration(i) * 700 * time.Millisecond)
		if i >= 30 {
			at = at.Add(time.Minute)
		}
		packets[i].ci.Timestamp = at
		times = append(times, at)
	}
	writePcap(t, in, true, snaplen, link, packets)
	// The files expected: a period begins at the first packet at least
	// -G after the last period's start, on its whole second.
	const layout = "20060102-150405"
	want := map[string]int{}
	var period time.Time
	for _, at := range times {
		if period.IsZero() || at.Sub(period) >= 10*time.Second {
			period = at.Truncate(time.Second)
		}
		want["g-"+period.Format(layout)+".pcap"]++
	}
	rd := filepath.Join(dir, "rotated")
	if err := os.Mkdir(rd, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-r", in, "-G", "10", "-w", filepath.Join(rd, "g-%Y%m%d-%H%M%S.pcap")).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]int{}
	for _, name := range filesIn(t, rd) {
		got[name], _ = capturePackets(t, filepath.Join(rd, name))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(want) != 6 {
		t.Errorf("files and their packets: %v, want %v", got, want)
	}
}

// TestGotcpdumpReadsFilesCountsAtSIGUSR1: SIGUSR1 while -r reads a pipe
// that has stopped giving prints at once the count of packets given to
// the file so far (those of the batch read), and the reading goes on to
// the end.
func TestGotcpdumpReadsFilesCountsAtSIGUSR1(t *testing.T) {
	dir, bin := rootTools(t)
	big := filepath.Join(dir, "big.pcap")
	repeatCapture(t, filepath.Join(root, "testpcaps", "h2c_loss.pcap"), big, 4)
	data, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.pcap")
	cmd := exec.Command(bin, "-r", "-", "-w", out)
	var errOut syncbuf.Buffer
	cmd.Stderr = &errOut
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// More than a batch (1 MiB), then nothing for a while.
	first := 1536 << 10
	if len(data) <= first {
		t.Fatalf("the input is of %d octets", len(data))
	}
	if _, err := in.Write(data[:first]); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if st, err := os.Stat(out); err == nil && st.Size() > 900_000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first batch was not written; stderr:\n%s", errOut.String())
		}
	}
	time.Sleep(300 * time.Millisecond) // the reader waits for the pipe
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`gotcpdump: (\d+) packets captured\n`)
	var m []string
	for deadline := time.Now().Add(2 * time.Second); m == nil; time.Sleep(20 * time.Millisecond) {
		if m = line.FindStringSubmatch(errOut.String()); m == nil && time.Now().After(deadline) {
			t.Fatalf("no count at SIGUSR1; stderr:\n%s", errOut.String())
		}
	}
	n, _ := strconv.Atoi(m[1])
	// At most the packets sent whole; at least those in the file (the
	// rest in the writer's buffer).
	sent := filepath.Join(dir, "sent.pcap")
	if err := os.WriteFile(sent, data[:first], 0o644); err != nil {
		t.Fatal(err)
	}
	// Whole packets, of a file that may end in a cut one.
	whole := func(name string) int {
		n := 0
		if f, err := os.Open(name); err == nil {
			r, err := pcapgo.NewReader(f)
			for err == nil {
				if _, _, err = r.ReadPacketData(); err == nil {
					n++
				}
			}
			f.Close()
		}
		return n
	}
	if inFile, sentWhole := whole(out), whole(sent); n < inFile || n > sentWhole || n < 500 {
		t.Errorf("SIGUSR1: %d packets captured; the file held %d, %d were sent", n, inFile, sentWhole)
	}
	if _, err := in.Write(data[first:]); err != nil {
		t.Fatal(err)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, errOut.String())
	}
	if got, _ := capturePackets(t, out); got != 4*374 {
		t.Errorf("%d packets written, want %d", got, 4*374)
	}
}

// TestGotcpdumpPrintsFileProgramsAsTcpdump: -d, -dd and -ddd with -r
// print what tcpdump prints, byte for byte: the filter compiled for the
// file's link type and snapshot length.
func TestGotcpdumpPrintsFileProgramsAsTcpdump(t *testing.T) {
	dir, bin := rootTools(t)
	// A cooked v2 file of snapshot length 128, with no packets.
	sll2 := filepath.Join(dir, "sll2.pcap")
	f, err := os.Create(sll2)
	if err != nil {
		t.Fatal(err)
	}
	if err := pcapgo.NewWriter(f).WriteFileHeader(128, layers.LinkTypeLinuxSLL2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ng := filepath.Join(dir, "in.pcapng")
	if out, err := exec.Command("editcap", "-F", "pcapng", filepath.Join(root, "testpcaps", "h2c_go.pcap"), ng).CombinedOutput(); err != nil {
		t.Fatalf("editcap: %v\n%s", err, out)
	}
	run := func(name string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		c := exec.Command(name, args...)
		c.Stdout, c.Stderr = &out, &errOut
		err := c.Run()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, errOut.String())
		}
		return out.String(), err
	}
	for _, file := range []string{filepath.Join(root, "testpcaps", "h2c_go.pcap"), ng, sll2} {
		for _, filter := range []string{"tcp port 443", "", "udp and host 10.1.2.3"} {
			for _, d := range []string{"-d", "-dd", "-ddd"} {
				args := []string{d, "-r", file, filter}
				want, err := run("tcpdump", args...)
				if err != nil || want == "" {
					t.Fatalf("tcpdump %q: %v", args, err)
				}
				if got, err := run(bin, args...); err != nil || got != want {
					t.Errorf("gotcpdump %q: %v\n%s\ntcpdump:\n%s", args, err, got, want)
				}
			}
		}
	}
	// A bad filter, as for an interface: exit 1, as tcpdump.
	if _, err := run(bin, "-d", "-r", sll2, "tcp port"); err == nil || !strings.Contains(err.Error(), "exit status 1") || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("a bad filter: %v", err)
	}
}

// TestGotcpdumpReadsSlowPipes: from a pipe that brings a few packets and
// then nothing (ssh host tcpdump -U -w - | gotcpdump -U -r - …), the
// packets reach the file with -U while the pipe stays open, and -c stops
// at its count: reading waited for 64 KiB before the header, and then
// for a MiB of packets.
func TestGotcpdumpReadsSlowPipes(t *testing.T) {
	dir, bin := rootTools(t)
	data, err := os.ReadFile(filepath.Join(root, "testpcaps", "h2c_go.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	// The file header and the first 5 records.
	end := 24
	for range 5 {
		end += 16 + int(binary.LittleEndian.Uint32(data[end+8:]))
	}
	for _, c := range []struct {
		name string
		args []string
		exit bool // ends with the pipe still open
	}{
		{"-U", []string{"-U"}, false},
		{"-c 5", []string{"-c", "5"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "")+".pcap")
			cmd := exec.Command(bin, append(c.args, "-r", "-", "-w", out)...)
			var errOut syncbuf.Buffer
			cmd.Stderr = &errOut
			in, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() { _ = cmd.Process.Kill(); in.Close(); <-done }()
			if _, err := in.Write(data[:end]); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			if c.exit {
				select {
				case err := <-done:
					done <- err
					if err != nil {
						t.Fatalf("%v:\n%s", err, errOut.String())
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("still reading the open pipe after its 5 packets:\n%s", errOut.String())
				}
			} else {
				for {
					// The file header and the 5 records, as they came.
					if st, err := os.Stat(out); err == nil && st.Size() >= int64(end) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the packets are not in the file while the pipe stays open:\n%s", errOut.String())
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			if n, _ := capturePackets(t, out); n != 5 {
				t.Errorf("%d packets in the file, want 5", n)
			}
		})
	}
}

// TestGotcpdumpWritesPcapngInBatches: reading a microsecond file,
// gotcpdump -r --nano writes pcapng from the libpcap engine's batches of
// blocks, whole; without --nano (the times cut to microseconds, which
// they are already) packet by packet through pcapgo. The files are the
// same, byte for byte, also with -c and -C, and capinfos and tshark read
// them.
func TestGotcpdumpWritesPcapngInBatches(t *testing.T) {
	dir, bin := rootTools(t)
	big := filepath.Join(dir, "big.pcap")
	repeatCapture(t, filepath.Join(root, "testpcaps", "h2c_loss.pcap"), big, 16) // several batches
	total, _ := capturePackets(t, big)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"whole", nil},
		{"-c", []string{"-c", "5001"}},
		{"-C", []string{"-C", "2"}},
		{"-s", []string{"-s", "101"}},
	} {
		var files [2][]string
		for i, precision := range []string{"micro", "nano"} {
			out := filepath.Join(dir, c.name+"-"+precision)
			if err := os.Mkdir(out, 0o755); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"-r", big, "--time-stamp-precision=" + precision, "-w", filepath.Join(out, "x.pcapng")}, c.args...)
			if o, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
				t.Fatalf("%q: %v\n%s", args, err, o)
			}
			for _, n := range filesIn(t, out) {
				files[i] = append(files[i], filepath.Join(out, n))
			}
		}
		if len(files[0]) != len(files[1]) || c.name == "-C" && len(files[0]) < 3 {
			t.Fatalf("%s: files %q packet by packet, %q in batches", c.name, files[0], files[1])
		}
		packets := 0
		for i, one := range files[0] {
			want, _ := os.ReadFile(one)
			got, _ := os.ReadFile(files[1][i])
			if !bytes.Equal(got, want) {
				t.Errorf("%s: %s: %d octets in batches, %d packet by packet", c.name, filepath.Base(one), len(got), len(want))
			}
			// -C's x.pcapng1...: capturePackets goes by the name.
			ng := files[1][i] + ".pcapng"
			if err := os.Link(files[1][i], ng); err != nil {
				t.Fatal(err)
			}
			n, _ := capturePackets(t, ng)
			packets += n
			info, err := exec.Command("capinfos", "-M", "-c", "-t", ng).CombinedOutput()
			if err != nil || !strings.Contains(string(info), fmt.Sprintf("Number of packets:   %d\n", n)) || !strings.Contains(string(info), "pcapng") {
				t.Errorf("%s: capinfos: %v\n%s", c.name, err, info)
			}
			if frames := strings.Count(tshark(t, plainEnv, "-r", ng, "-T", "fields", "-e", "frame.number"), "\n"); frames != n {
				t.Errorf("%s: tshark reads %d packets of %d", c.name, frames, n)
			}
		}
		if want := map[string]int{"-c": 5001}[c.name]; want == 0 && packets != total || want > 0 && packets != want {
			t.Errorf("%s: %d packets of %d", c.name, packets, total)
		}
	}
}
