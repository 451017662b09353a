package tests

import (
	"errors"
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

	"github.com/gotcpdump/gotcpdump/internal/syncbuf"
)

// dirSize is the size of the regular files in dir.
func dirSize(dir string) int64 {
	entries, _ := os.ReadDir(dir)
	var n int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

// TestGotcpdumpWatchParts: a capture of many --file-mb parts names them
// timewait-…-001.pcapng, -002.pcapng…, which the documented glob matches
// in the order written; "capture done" names the first and the last
// part and their number; and --max-mb holds at every new part, not only
// at the next sample: the directory never holds more than --max-mb and
// one part.
func TestGotcpdumpWatchParts(t *testing.T) {
	dir, bin, lab := labTools(t, "network namespaces")
	l := newLab(t, 70)
	l.start(l.srvNS, lab, "server", "-listen", l.srvIP.String()+":8080")
	l.start(l.srvNS, lab, "sink", "-listen", l.srvIP.String()+":8081")
	l.waitListening(l.srvNS, l.srvIP.String()+":8080", l.srvIP.String()+":8081")
	// A few client-closed connections: TIME_WAIT in the client's
	// namespace, at the threshold of 1.
	if o, err := exec.Command("ip", "netns", "exec", l.cliNS, lab, "client", "-addr", l.srvIP.String()+":8080", "-mode", "close", "-n", "3", "-every", "10ms").CombinedOutput(); err != nil {
		t.Fatalf("client: %v\n%s", err, o)
	}
	out := filepath.Join(dir, "captures")
	const maxMB, fileMB = 2, 1
	var errOut syncbuf.Buffer
	w := exec.Command("ip", "netns", "exec", l.cliNS, bin, "watch", "-i", l.cliIf, "--tw-threshold", "1", "--interval", "1s",
		"--capture", "4s", "--cooldown", "1h", "--file-mb", strconv.Itoa(fileMB), "--max-mb", strconv.Itoa(maxMB),
		"--dir", out, "--metrics-addr", "", "-s", "65535", "tcp port 8081")
	w.Stderr = &errOut
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = w.Process.Signal(syscall.SIGTERM)
		_ = w.Wait()
	}()
	waitOutput(t, &errOut, 10*time.Second, "msg=trigger")
	time.Sleep(300 * time.Millisecond) // the capture opens after the trigger's line
	// 10 MB in 64 KiB writes every 10 ms, about 1.6 s: many parts
	// between two samples.
	bulk := exec.Command("ip", "netns", "exec", l.cliNS, "python3", "-c", `
import socket, sys, time
s = socket.create_connection((sys.argv[1], 8081))
b = b"x" * 65536
for _ in range(160):
    s.sendall(b)
    time.sleep(0.01)
s.close()`, l.srvIP.String())
	bulkDone := make(chan error, 1)
	go func() { bulkDone <- bulk.Run() }()
	var largest int64
sampling:
	for {
		largest = max(largest, dirSize(out))
		select {
		case err := <-bulkDone:
			if err != nil {
				t.Fatalf("bulk sender: %v", err)
			}
			break sampling
		case <-time.After(5 * time.Millisecond):
		}
	}
	waitOutput(t, &errOut, 15*time.Second, `msg="capture done"`, `msg="capture failed"`)
	log := errOut.String()
	if strings.Contains(log, `msg="capture failed"`) {
		t.Fatalf("the capture failed:\n%s", log)
	}
	// One part is at most --file-mb and a packet past it.
	if limit := int64(maxMB+fileMB)*1_000_000 + 1<<17; largest > limit {
		t.Errorf("the directory held %d bytes during the capture, more than --max-mb %d and a part of %d MB", largest, maxMB, fileMB)
	}
	t.Logf("the directory held at most %d bytes", largest)

	files, _ := filepath.Glob(filepath.Join(out, "*"))
	parts, _ := filepath.Glob(filepath.Join(out, "timewait-*.pcapng"))
	if len(files) < 2 || len(parts) != len(files) {
		t.Fatalf("files %v; the glob timewait-*.pcapng matches %v", files, parts)
	}
	name := regexp.MustCompile(`^timewait-\d{8}-\d{6}-(\d{3,})\.pcapng$`)
	var nums []int
	for _, f := range parts {
		m := name.FindStringSubmatch(filepath.Base(f))
		if m == nil {
			t.Fatalf("part %s is not named timewait-YYYYMMDD-HHMMSS-NNN.pcapng", f)
		}
		n, _ := strconv.Atoi(m[1])
		nums = append(nums, n)
	}
	if !sort.IntsAreSorted(nums) || nums[len(nums)-1]-nums[0] != len(nums)-1 {
		t.Errorf("the glob's order is not the parts' order: %v", parts)
	}
	done := regexp.MustCompile(`msg="capture done" file=(\S+) files=(\d+) last=(\S+) `).FindStringSubmatch(log)
	if done == nil {
		t.Fatalf("capture done does not name the parts:\n%s", log)
	}
	if n, _ := strconv.Atoi(done[2]); n != nums[len(nums)-1] || done[3] != parts[len(parts)-1] || !strings.HasSuffix(done[1], "-001.pcapng") {
		t.Errorf("capture done says first %s, %s parts, last %s; the directory holds %v", done[1], done[2], done[3], parts)
	}
	// --max-mb removed the capture's first parts: the line says so, and
	// where what is left begins.
	if pruned := regexp.MustCompile(` pruned=(\d+) first_kept=(\S+) `).FindStringSubmatch(log); nums[0] > 1 &&
		(pruned == nil || pruned[1] != strconv.Itoa(nums[0]-1) || pruned[2] != parts[0]) {
		t.Errorf("the directory holds %v, from part %d: capture done says %q", parts, nums[0], pruned)
	}
	if !strings.Contains(log, "file="+done[1]+" duration=") {
		t.Errorf("the trigger does not name the first part %s:\n%s", done[1], log)
	}
	// The parts read in glob order are one capture: each begins after
	// the one before it ends.
	var prevEnd float64
	for _, p := range parts {
		out, err := exec.Command("capinfos", "-T", "-r", "-S", "-a", "-e", p).Output()
		if err != nil {
			t.Fatalf("capinfos %s: %v", p, err)
		}
		f := strings.Split(strings.TrimSpace(string(out)), "\t")
		start, _ := strconv.ParseFloat(f[len(f)-2], 64)
		end, _ := strconv.ParseFloat(f[len(f)-1], 64)
		if start < prevEnd {
			t.Errorf("%s begins at %f, before the part before it ends (%f)", p, start, prevEnd)
		}
		prevEnd = end
	}
}

// TestGotcpdumpIfaceGone: an interface that goes down and comes back
// leaves the capture running (both engines, as tcpdump), and one that
// is deleted ends it at once with libpcap's "The interface disappeared"
// and exit status 1, with the engine afpacket too.
func TestGotcpdumpIfaceGone(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root for network namespaces (make test runs as root)")
	}
	dir := t.TempDir()
	bin := goBuild(t, dir, "./cmd/gotcpdump")
	l := newLab(t, 71)
	type run struct {
		engine string
		cmd    *exec.Cmd
		err    syncbuf.Buffer
		done   chan error
	}
	var runs []*run
	for _, engine := range []string{"pcap", "afpacket"} {
		r := &run{engine: engine, done: make(chan error, 1)}
		r.cmd = exec.Command("ip", "netns", "exec", l.cliNS, bin, "--engine", engine, "-i", l.cliIf, "-w", filepath.Join(dir, engine+".pcap"), "udp port 19899")
		r.cmd.Stderr = &r.err
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = r.cmd.Process.Kill()
			<-r.done
		}()
		go func() { r.done <- r.cmd.Wait() }()
		runs = append(runs, r)
	}
	for _, r := range runs {
		waitOutput(t, &r.err, 10*time.Second, "listening on")
	}
	ip := func(args ...string) {
		if out, err := exec.Command("ip", append([]string{"-n", l.cliNS}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	// Two datagrams (no ping on every machine).
	ping := func() {
		if out, err := exec.Command("ip", "netns", "exec", l.cliNS, "python3", "-c",
			`import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"x", (sys.argv[1], 19899)) for _ in range(2)]`,
			l.srvIP.String()).CombinedOutput(); err != nil {
			t.Fatalf("sending: %v\n%s", err, out)
		}
	}
	ping()
	ip("link", "set", l.cliIf, "down")
	// A capture that starts on it now fails, in tcpdump's words.
	for _, prog := range []string{"tcpdump", bin} {
		out, err := exec.Command("ip", "netns", "exec", l.cliNS, prog, "-i", l.cliIf, "-w", filepath.Join(dir, "down.pcap"), "-c", "1").CombinedOutput()
		if want := filepath.Base(prog) + ": " + l.cliIf + ": That device is not up"; err == nil || !strings.Contains(string(out), want) {
			t.Errorf("%s on a down interface: %v, %q; want %q", prog, err, out, want)
		}
	}
	time.Sleep(500 * time.Millisecond)
	ip("link", "set", l.cliIf, "up")
	time.Sleep(500 * time.Millisecond)
	ping()
	// The kernel hands over a ring's block after BlockTimeout (100 ms):
	// a packet still in an open block when the interface goes is lost,
	// with libpcap as with tcpdump.
	time.Sleep(500 * time.Millisecond)
	for _, r := range runs {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("%s: the capture ended when the interface went down and came back (%v):\n%s", r.engine, err, r.err.String())
		default:
		}
	}
	ip("link", "del", l.cliIf)
	gone := time.Now()
	for _, r := range runs {
		select {
		case err := <-r.done:
			r.done <- err
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(r.err.String(), "The interface disappeared") {
				t.Errorf("%s: exit %v after the interface was deleted, want 1 and \"The interface disappeared\":\n%s", r.engine, err, r.err.String())
			}
			if !strings.Contains(r.err.String(), "packets captured") {
				t.Errorf("%s: no counts:\n%s", r.engine, r.err.String())
			}
		case <-time.After(3*time.Second - time.Since(gone)):
			t.Errorf("%s: still capturing 3 s after the interface was deleted:\n%s", r.engine, r.err.String())
		}
	}
	for _, r := range runs {
		// The datagrams before and after the interface went down.
		out := tshark(t, plainEnv, "-r", filepath.Join(dir, r.engine+".pcap"), "-Y", "udp.dstport == 19899")
		if n := strings.Count(out, "\n"); n != 4 {
			t.Errorf("%s: %d datagrams in the capture, want 4:\n%s", r.engine, n, r.err.String())
		}
	}
}

// TestGotcpdumpWatchUnwritableDir: a --dir that watch's user cannot
// create files in (here nobody with CAP_NET_RAW, as the systemd unit
// runs it, and a directory of root's) stops watch at startup with exit
// status 2, as its other setup errors, not at the first trigger.
func TestGotcpdumpWatchUnwritableDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to run as nobody (make test runs as root)")
	}
	bin := goBuild(t, t.TempDir(), "./cmd/gotcpdump")
	// nobody must reach the binary and the directory's parent.
	pub, err := os.MkdirTemp("", "gotcpdump-watch-dir-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(pub)
	for _, d := range []string{pub, filepath.Join(pub, "captures")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(d, 0o755)
	}
	exe := filepath.Join(pub, "gotcpdump")
	if out, err := exec.Command("cp", bin, exe).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	notDir := filepath.Join(pub, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		argv []string
		dir  string
	}{
		{"nobody, root's directory", []string{"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=+net_raw",
			"--ambient-caps=+net_raw", "--bounding-set=-all,+net_raw", exe}, filepath.Join(pub, "captures")},
		{"a path through a file", []string{exe}, filepath.Join(notDir, "captures")},
	} {
		cmd := exec.Command(c.argv[0], append(c.argv[1:], "watch", "-i", "lo", "--tw-threshold", "1", "--dir", c.dir, "--metrics-addr", "")...)
		var stderr syncbuf.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "--dir") {
				t.Errorf("%s: %v, want exit status 2 naming --dir:\n%s", c.name, err, stderr.String())
			}
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("%s: watch started with a --dir it cannot write:\n%s", c.name, stderr.String())
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(pub, "captures")); len(entries) != 0 {
		t.Errorf("files left in the directory: %v", entries)
	}
}

// TestGotcpdumpWatchStatusSignal: SIGUSR1 makes watch log where it
// stands and go on watching, as it makes a capture print its counts; it
// used to end the watch.
func TestGotcpdumpWatchStatusSignal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to capture (make test runs as root)")
	}
	bin := goBuild(t, t.TempDir(), "./cmd/gotcpdump")
	cmd := exec.Command(bin, "watch", "-i", "lo", "--tw-threshold", "1000000", "--interval", "1h",
		"--dir", t.TempDir(), "--metrics-addr", "")
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	waitOutput(t, &stderr, 10*time.Second, "msg=watching")
	for i := 1; i <= 2; i++ {
		if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); strings.Count(stderr.String(), "msg=status") < i; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no status line after SIGUSR1 %d:\n%s", i, stderr.String())
			}
		}
	}
	if !regexp.MustCompile(`msg=status time_wait=\d+ sampled=true threshold=1000000 armed=true capturing=false captures=0`).MatchString(stderr.String()) {
		t.Errorf("status line:\n%s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
		if err != nil || !strings.Contains(stderr.String(), "msg=stopped") {
			t.Errorf("watch ended with %v, want a clean stop:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("watch did not stop at SIGTERM:\n%s", stderr.String())
	}
}
