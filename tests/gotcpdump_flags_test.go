package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gotcpdump/gotcpdump/internal/syncbuf"
)

// rootTools builds gotcpdump for the tests that compare it with the
// tcpdump of the host, which open interfaces (as root).
func rootTools(t *testing.T) (dir, bin string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root to open interfaces (make test runs as root)")
	}
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Fatal("needs tcpdump to compare with")
	}
	dir = t.TempDir()
	return dir, goBuild(t, dir, "./cmd/gotcpdump")
}

// TestGotcpdumpListsInterfacesAsTcpdump: -D prints tcpdump -D's lines
// (number, name, description, status flags), the devices that are not
// network interfaces followed by a note that gotcpdump does not capture
// on them. A network namespace of its own (interfaces come and go in the
// host's while tests run), with a veth pair of which one end is up: up
// and disconnected, and down and disconnected.
func TestGotcpdumpListsInterfacesAsTcpdump(t *testing.T) {
	_, bin := rootTools(t)
	ns := fmt.Sprintf("gtdl%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	for _, args := range [][]string{
		{"link", "add", "gtdla", "type", "veth", "peer", "name", "gtdlb"},
		{"link", "set", "gtdla", "up"},
		{"link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	list := func(prog string) []string {
		out, err := exec.Command("ip", "netns", "exec", ns, prog, "-D").Output()
		if err != nil {
			t.Fatalf("%s -D: %v", prog, err)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	theirs, ours := list("tcpdump"), list(bin)
	if len(ours) != len(theirs) {
		t.Fatalf("gotcpdump -D:\n%s\ntcpdump -D:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
	}
	const note = " (not a network interface: gotcpdump does not capture on it)"
	for i := range theirs {
		if strings.TrimSuffix(ours[i], note) != theirs[i] {
			t.Errorf("line %d: gotcpdump %q, tcpdump %q", i+1, ours[i], theirs[i])
		}
	}
	joined := strings.Join(theirs, "\n")
	for _, want := range []string{".lo [Up, Running, Loopback]", ".gtdla [Up, Disconnected]", ".gtdlb [none, Disconnected]"} {
		if !strings.Contains(joined, want) {
			t.Errorf("tcpdump -D lacks %q (the test's set-up?):\n%s", want, joined)
		}
	}
}

// TestGotcpdumpPrintsProgramsAsTcpdump: -d, -dd and -ddd print what
// tcpdump prints for the same interface, link type and filter, byte for
// byte, and -L lists the link types as tcpdump -L does.
func TestGotcpdumpPrintsProgramsAsTcpdump(t *testing.T) {
	_, bin := rootTools(t)
	// run returns the command's standard output, or with -L its
	// standard error, where tcpdump 4.99.3 lists the link types.
	run := func(name string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		c := exec.Command(name, args...)
		c.Stdout, c.Stderr = &out, &errOut
		err := c.Run()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, errOut.String())
		}
		if args[0] == "-L" {
			return errOut.String(), err
		}
		return out.String(), err
	}
	for _, c := range []struct{ iface, filter string }{
		{"lo", "tcp port 80"},
		{"lo", ""},
		{"lo", "vlan and tcp"},  // the kernel's VLAN tags: only a live handle knows
		{"any", "tcp port 443"}, // cooked v2, as tcpdump 4.99 sets it
		{"any -y LINUX_SLL", "udp and host 10.1.2.3"},
		{"lo", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and not port 22"},
	} {
		for _, d := range []string{"-d", "-dd", "-ddd"} {
			args := append(append([]string{d, "-i"}, strings.Fields(c.iface)...), c.filter)
			want, err := run("tcpdump", args...)
			if err != nil || want == "" {
				t.Fatalf("tcpdump %q: %v", args, err)
			}
			got, err := run(bin, args...)
			if err != nil || got != want {
				t.Errorf("gotcpdump %q: %v\n%s\ntcpdump:\n%s", args, err, got, want)
			}
		}
	}
	for _, iface := range []string{"lo", "any"} {
		want, err := run("tcpdump", "-L", "-i", iface)
		if err != nil {
			t.Fatal(err)
		}
		// gotcpdump prints no packets, of any type.
		want = strings.ReplaceAll(want, " (printing not supported)", "")
		if got, err := run(bin, "-L", "-i", iface); err != nil || got != want {
			t.Errorf("-L -i %s: %v\n%s\ntcpdump:\n%s", iface, err, got, want)
		}
	}
	// tcpdump's words for a link type the interface lacks.
	if _, err := run(bin, "-d", "-i", "lo", "-y", "LINUX_SLL2", "tcp"); err == nil || !strings.Contains(err.Error(), "gotcpdump: LINUX_SLL2 is not one of the DLTs supported by this device") {
		t.Errorf("-y LINUX_SLL2 on lo: %v", err)
	}
}

// TestGotcpdumpErrorsAsTcpdump: the command lines that tcpdump refuses,
// with -d, -L, -y or a capture (a bad filter, interface, link type or
// flag, a -r file that cannot be opened), exit with tcpdump's status (1),
// which scripts test, and say it in tcpdump's words after "gotcpdump: "
// (where gotcpdump has its own words, only the status is compared); it
// writes no file.
func TestGotcpdumpErrorsAsTcpdump(t *testing.T) {
	dir, bin := rootTools(t)
	file := filepath.Join(root, "testpcaps", "h2c_go.pcap")
	for _, c := range []struct {
		args  []string // OUT: each one's -w file
		words bool     // tcpdump's message is in gotcpdump's
	}{
		{[]string{"-d", "-i", "lo", "tcp port"}, true},
		{[]string{"-dd", "-i", "lo", "tcp port"}, true},
		{[]string{"-ddd", "-i", "any", "tcp port"}, true},
		{[]string{"-d", "-r", file, "tcp port"}, true},
		{[]string{"-d", "-i", "nosuch0", "tcp"}, true},
		{[]string{"-d", "-i", "lo", "-y", "LINUX_SLL2", "tcp"}, true},
		{[]string{"-d", "-i", "lo", "-y", "NOSUCHDLT", "tcp"}, true},
		{[]string{"-L", "-i", "nosuch0"}, true},
		{[]string{"-i", "nosuch0", "-w", "OUT"}, true},
		{[]string{"-i", "9999", "-w", "OUT"}, true}, // past -D's list: "Invalid adapter index"
		{[]string{"-i", "lo", "-w", "OUT", "tcp port"}, true},
		{[]string{"-i", "lo", "-y", "LINUX_SLL2", "-w", "OUT"}, true},
		{[]string{"-i", "lo", "-y", "NOSUCHDLT", "-w", "OUT"}, true},
		{[]string{"-r", filepath.Join(dir, "nosuch.pcap"), "-w", "OUT"}, true},
		{[]string{"-i", "lo", "-c", "0", "-w", "OUT"}, true},
		{[]string{"-i", "lo", "-c", "-1", "-w", "OUT"}, true},
		{[]string{"-i", "lo", "-C", "0", "-w", "OUT"}, true},
		{[]string{"-i", "lo", "-W", "0", "-C", "1", "-w", "OUT"}, true},
		{[]string{"-i", "lo", "-s", "-1", "-w", "OUT"}, false},
		{[]string{"-i", "lo", "-Z", "no-such-user", "-w", "OUT"}, false},
		{[]string{"-i", "lo", "--no-such-flag", "-w", "OUT"}, false},
	} {
		var codes [2]int
		var says [2]string
		for i, prog := range []string{"tcpdump", bin} {
			name := filepath.Base(prog)
			out := filepath.Join(dir, name+".pcap")
			var args []string
			for _, a := range c.args {
				args = append(args, strings.ReplaceAll(a, "OUT", out))
			}
			var errOut bytes.Buffer
			cmd := exec.Command(prog, args...)
			cmd.Stderr = &errOut
			done := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
			err := cmd.Run()
			done.Stop()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("%s %q: %v, want a failure\n%s", name, args, err, errOut.String())
			}
			codes[i] = ee.ExitCode()
			// The error: the last line that names the program (tcpdump
			// -i any says "data link type LINUX_SLL2" before it; -i
			// nosuch0 gives its words again on a line after it).
			for _, l := range strings.Split(errOut.String(), "\n") {
				if w, ok := strings.CutPrefix(l, name+": "); ok {
					says[i] = w
				}
			}
			// (tcpdump -Z no-such-user has created its file by then.)
			if _, err := os.Stat(out); prog == bin && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s %q wrote %s (%v)", name, args, out, err)
			}
			os.Remove(out)
		}
		if codes[1] != codes[0] || says[1] == "" || c.words && (says[0] == "" || !strings.Contains(strings.ToLower(says[1]), strings.ToLower(says[0]))) {
			t.Errorf("gotcpdump %q: exit %d, %q; tcpdump: exit %d, %q", c.args, codes[1], says[1], codes[0], says[0])
		}
	}
}

// TestGotcpdumpReadsFiles: gotcpdump -r IN -w OUT FILTER writes what
// tcpdump -r IN -w OUT FILTER writes, byte for byte, from a nanosecond
// capture (both with --nano), from the microsecond file tcpdump writes,
// and from standard input.
func TestGotcpdumpReadsFiles(t *testing.T) {
	dir, bin := rootTools(t)
	in := filepath.Join(root, "testpcaps", "grpc_failures.pcap")
	micro := filepath.Join(dir, "micro.pcap")
	if out, err := exec.Command("tcpdump", "-r", in, "-w", micro).CombinedOutput(); err != nil {
		t.Fatalf("tcpdump: %v\n%s", err, out)
	}
	filter := "tcp and (tcp[tcpflags] & tcp-push != 0 or len > 300)"
	for _, c := range []struct {
		name, in string
		flags    []string // for both
		stdin    bool
	}{
		{"nanoseconds", in, []string{"--nano"}, false},
		{"microseconds", micro, nil, false},
		{"standard input", micro, nil, true},
	} {
		want, got := filepath.Join(dir, "tcpdump.pcap"), filepath.Join(dir, "gotcpdump.pcap")
		args := append(append([]string{}, c.flags...), "-r", c.in, "-w", want, filter)
		if out, err := exec.Command("tcpdump", args...).CombinedOutput(); err != nil {
			t.Fatalf("tcpdump: %v\n%s", err, out)
		}
		r := c.in
		if c.stdin {
			r = "-"
		}
		cmd := exec.Command(bin, append(append([]string{}, c.flags...), "-r", r, "-w", got, filter)...)
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		if c.stdin {
			f, err := os.Open(c.in)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cmd.Stdin = f
		}
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, errOut.String())
		}
		// tcpdump's line, and no counts: a file has no kernel's.
		if !regexp.MustCompile(`^reading from file \S+, link-type EN10MB \(Ethernet\), snapshot length 262144\n$`).MatchString(errOut.String()) {
			t.Errorf("%s: stderr %q", c.name, errOut.String())
		}
		a, _ := os.ReadFile(want)
		b, _ := os.ReadFile(got)
		// pcapng: the same packets, and no statistics block, as a
		// file has no kernel's counts.
		ng := filepath.Join(dir, "gotcpdump.pcapng")
		if out, err := exec.Command(bin, append(append([]string{}, c.flags...), "-r", want, "-w", ng)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: pcapng: %v\n%s", c.name, err, out)
		}
		if info, _ := exec.Command("capinfos", ng).CombinedOutput(); !strings.Contains(string(info), "Number of stat entries = 0") {
			t.Errorf("%s: pcapng of a file read:\n%s", c.name, info)
		}
		if fields := "-T fields -e frame.time_epoch -e frame.len -e frame.cap_len"; tshark(t, plainEnv, append([]string{"-r", ng}, strings.Fields(fields)...)...) !=
			tshark(t, plainEnv, append([]string{"-r", want}, strings.Fields(fields)...)...) {
			t.Errorf("%s: the pcapng file's packets are not tcpdump's", c.name)
		}
		n := strings.Count(tshark(t, plainEnv, "-r", want), "\n")
		if n < 10 || n > 90 || !bytes.Equal(a, b) {
			t.Errorf("%s: tcpdump wrote %d octets (%d packets), gotcpdump %d, not the same", c.name, len(a), n, len(b))
		}
	}
}

// sendUDP sends n datagrams of 1 to n octets to 127.0.0.1:port, one
// every so often.
func sendUDP(t *testing.T, port, n int, every time.Duration) {
	t.Helper()
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 1; i <= n; i++ {
		if _, err := c.Write(bytes.Repeat([]byte{'x'}, i)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(every)
	}
}

// udpSink is a port that takes the test's datagrams (to a closed port,
// every other send would fail with the ICMP error of the one before).
func udpSink(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		b := make([]byte, 2048)
		for {
			if _, _, err := c.ReadFrom(b); err != nil {
				return
			}
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestGotcpdumpTimeStampPrecision: on lo, gotcpdump's files with
// --time-stamp-precision=nano (pcap, pcapng, the afpacket engine) and
// =micro hold the time stamps of tcpdump's with the same flag, to the
// digit, in files of that resolution; and SIGUSR1 prints the counts in
// tcpdump's words while the capture goes on.
func TestGotcpdumpTimeStampPrecision(t *testing.T) {
	dir, bin := rootTools(t)
	port := udpSink(t)
	filter := fmt.Sprintf("udp dst port %d", port)
	type capture struct {
		name, file, precision string
		cmd                   *exec.Cmd
		err                   syncbuf.Buffer
	}
	var caps []*capture
	add := func(name, file, precision, prog string, args ...string) {
		c := &capture{name: name, file: filepath.Join(dir, file), precision: precision}
		c.cmd = exec.Command(prog, append(args, "-i", "lo", "-w", c.file, filter)...)
		c.cmd.Stderr = &c.err
		caps = append(caps, c)
	}
	// tcpdump's ring hands over a block when it fills or after 1 s, and
	// at SIGINT the block being filled is lost (0 captured, 60 received
	// by filter, in 1 of 4 runs): in immediate mode it reads each packet.
	add("tcpdump nano", "tcpdump-nano.pcap", "nanoseconds", "tcpdump", "--immediate-mode", "--time-stamp-precision=nano")
	add("tcpdump micro", "tcpdump-micro.pcap", "microseconds", "tcpdump", "--immediate-mode")
	add("pcap nano", "nano.pcap", "nanoseconds", bin, "--time-stamp-precision=nano")
	add("pcapng nano", "nano.pcapng", "nanoseconds", bin, "--nano")
	add("afpacket nano", "af.pcap", "nanoseconds", bin, "--engine", "afpacket", "--nano")
	add("pcap micro", "micro.pcap", "microseconds", bin, "--time-stamp-precision=micro")
	add("pcapng micro", "micro.pcapng", "nanoseconds", bin, "--time-stamp-precision", "micro") // if_tsresol 9, the times in µs
	for _, c := range caps {
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.cmd.Process.Kill() }()
	}
	for _, c := range caps {
		waitOutput(t, &c.err, 10*time.Second, "listening on")
	}
	sendUDP(t, port, 20, 3*time.Millisecond)
	// SIGUSR1 after the first 20: the counts; the capture goes on.
	usr1 := caps[2]
	time.Sleep(300 * time.Millisecond)
	_ = usr1.cmd.Process.Signal(syscall.SIGUSR1)
	waitOutput(t, &usr1.err, 5*time.Second, "dropped by kernel\n")
	sendUDP(t, port, 10, 3*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	for _, c := range caps {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("%s: %v\n%s", c.name, err, c.err.String())
		}
	}
	if !regexp.MustCompile(`(?m)^gotcpdump: 20 packets captured, \d+ packets received by filter, 0 packets dropped by kernel\n`).MatchString(usr1.err.String()) ||
		!strings.Contains(usr1.err.String(), "\n30 packets captured\n") {
		t.Errorf("SIGUSR1, then the end:\n%s", usr1.err.String())
	}
	times := func(file string) string {
		out := tshark(t, plainEnv, "-r", file, "-T", "fields", "-e", "frame.time_epoch", "-e", "udp.length")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	want := map[string]string{"nanoseconds": times(caps[0].file), "microseconds": times(caps[1].file)}
	if n := strings.Count(want["nanoseconds"], "\n") + 1; n != 30 || want["nanoseconds"] == want["microseconds"] {
		t.Fatalf("tcpdump: %d packets; its nanoseconds:\n%s\nmicroseconds:\n%s", n, want["nanoseconds"], want["microseconds"])
	}
	for _, c := range caps[2:] {
		info, _ := exec.Command("capinfos", "-M", c.file).CombinedOutput()
		if !strings.Contains(string(info), "File timestamp precision:  "+c.precision) {
			t.Errorf("%s: capinfos says:\n%s", c.name, info)
		}
		w := want["nanoseconds"]
		if strings.Contains(c.name, "micro") {
			w = want["microseconds"]
		}
		// tshark prints the times of a file of if_tsresol 9 in 9 digits.
		if got := times(c.file); strings.ReplaceAll(got, "000\t", "\t") != strings.ReplaceAll(w, "000\t", "\t") {
			t.Errorf("%s: times differ from tcpdump's:\n%s", c.name, firstDiff(w, got))
		}
	}
}

// TestGotcpdumpImmediateMode: with --immediate-mode -U, each packet
// reaches a pipe as it arrives; without, it waits for the ring block
// that holds it (100 ms).
func TestGotcpdumpImmediateMode(t *testing.T) {
	_, bin := rootTools(t)
	port := udpSink(t)
	for _, c := range []struct {
		args      []string
		immediate bool
	}{
		{[]string{"--immediate-mode", "-U"}, true},
		{[]string{"-U"}, false},
	} {
		cmd := exec.Command(bin, append(c.args, "-i", "lo", "-w", "-", fmt.Sprintf("udp dst port %d", port))...)
		var errOut syncbuf.Buffer
		cmd.Stderr = &errOut
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		if f, ok := out.(*os.File); ok {
			_ = f.SetReadDeadline(time.Now().Add(10 * time.Second)) // no hang if a packet never comes
		}
		waitOutput(t, &errOut, 10*time.Second, "listening on")
		// The file header, then one record of 16 + 42 + i octets for
		// each datagram of i octets, timed from its send.
		if _, err := io.ReadFull(out, make([]byte, 24)); err != nil {
			t.Fatal(err)
		}
		conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		var delays []time.Duration
		for i := 1; i <= 9; i++ {
			sent := time.Now()
			if _, err := conn.Write(bytes.Repeat([]byte{'x'}, i)); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(out, make([]byte, 16+42+i)); err != nil {
				t.Fatal(err)
			}
			delays = append(delays, time.Since(sent))
			time.Sleep(7 * time.Millisecond)
		}
		conn.Close()
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
		median := delays[len(delays)/2]
		t.Logf("%v: delays %v", c.args, delays)
		if c.immediate != (median < 25*time.Millisecond) {
			t.Errorf("%v: median delay from send to the pipe %v", c.args, median)
		}
	}
}
