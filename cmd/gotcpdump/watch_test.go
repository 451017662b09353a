package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gotcpdump/gotcpdump/internal/capture"
)

// TestTriggerCooldown: after a capture the trigger re-arms only once the
// count has fallen below the re-arm level, the cooldown has passed and
// the capture has ended; while it is disarmed, a storm starts nothing,
// and armed is true exactly when a count at the threshold starts one.
func TestTriggerCooldown(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tr := newTrigger(100, 0.8, 10*time.Minute)
	type step struct {
		at           time.Duration
		n            int
		ok, busy     bool
		start, rearm bool
		armed        bool
	}
	for i, s := range []step{
		{0, 50, true, false, false, false, true},
		{time.Second, 100, false, false, false, false, true},                  // a failed sample starts nothing
		{2 * time.Second, 120, true, false, true, false, false},               // the storm
		{3 * time.Second, 130, true, true, false, false, false},               // capturing
		{time.Minute, 10, true, true, false, false, false},                    // fell, still capturing
		{2 * time.Minute, 10, true, false, false, false, false},               // fell, ended, inside the cooldown
		{3 * time.Minute, 150, true, false, false, false, false},              // a second storm inside the cooldown
		{10*time.Minute + 3*time.Second, 150, true, false, true, true, false}, // the cooldown passed: it fell before, so this storm is captured
		{11 * time.Minute, 150, true, true, false, false, false},
		{25 * time.Minute, 90, true, false, false, false, false}, // past the cooldown, not below 80 yet
		{26 * time.Minute, 79, true, false, false, true, true},   // below the re-arm level and past the cooldown
		{27 * time.Minute, 99, true, false, false, false, true},
		{28 * time.Minute, 100, true, false, true, false, false},
	} {
		start, rearm := tr.sample(s.n, s.ok, s.busy, t0.Add(s.at))
		if start != s.start || rearm != s.rearm || tr.armed != s.armed {
			t.Errorf("step %d (%v, %d, busy %v): start %v, re-armed %v, armed %v; want %v, %v, %v",
				i, s.at, s.n, s.busy, start, rearm, tr.armed, s.start, s.rearm, s.armed)
		}
	}
	// No cooldown: re-armed as soon as the count falls and the capture ends.
	tr = newTrigger(100, 0.8, 0)
	if start, _ := tr.sample(100, true, false, t0); !start {
		t.Fatal("no start at the threshold")
	}
	if _, rearm := tr.sample(10, true, true, t0.Add(time.Second)); rearm || tr.armed {
		t.Error("re-armed while capturing")
	}
	if _, rearm := tr.sample(10, true, false, t0.Add(2*time.Second)); !rearm || !tr.armed {
		t.Error("not re-armed after the capture with no cooldown")
	}
}

// TestWatchCommandLines: watch takes -i, -s, -f, -F and the filter as
// capture mode does (tcpdump's forms), with its own default snap length.
func TestWatchCommandLines(t *testing.T) {
	for _, c := range []struct {
		args, iface, filter string
		snaplen             int
	}{
		{"", "any", "", 512},
		{"-s 0", "any", "", 262144},
		{"-s0", "any", "", 262144},
		{"-s 128 -ieth0", "eth0", "", 128},
		{"-i 1", "1", "", 512}, // a number of -D's, resolved when watch starts (ifaceByNumber)
		{"--interface=eth1 --filter=udp", "eth1", "udp", 512},
		{"tcp port 1 -i eth0", "eth0", "tcp port 1", 512},
		{"--dir /tmp/x tcp port 1 -s 0 --tw-threshold 5 and host db", "any", "tcp port 1 and host db", 262144},
		{"-f tcp port 8080", "any", "(tcp) and (port 8080)", 512},
		{"--tw-threshold 5 -- -i", "any", "-i", 512},
	} {
		w, err := parseWatch(strings.Fields(c.args), io.Discard)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if w.iface != c.iface || w.filter != c.filter || w.snaplen != c.snaplen {
			t.Errorf("%q: -i %q, filter %q, -s %d; want %q, %q, %d", c.args, w.iface, w.filter, w.snaplen, c.iface, c.filter, c.snaplen)
		}
	}
	// The default part (100 MB) falls to a smaller cap.
	for args, want := range map[string]int64{"--max-mb 10": 10, "--max-mb 500": 100, "--max-mb 10 --file-mb 10": 10} {
		if w, err := parseWatch(strings.Fields(args), io.Discard); err != nil {
			t.Errorf("%s: %v", args, err)
		} else if w.fileMB != want {
			t.Errorf("%s: --file-mb %d, want %d", args, w.fileMB, want)
		}
	}
	w, err := parseWatch(strings.Fields("--dir /tmp/x --tw-threshold 5 tcp -i eth0 --capture 3s"), io.Discard)
	if err != nil || w.dir != "/tmp/x" || w.threshold != 5 || w.length != 3*time.Second {
		t.Errorf("watch's own flags around the filter: %+v, %v", w, err)
	}
	f := filepath.Join(t.TempDir(), "filter")
	if err := os.WriteFile(f, []byte("tcp port 80 # web\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if w, err := parseWatch([]string{"-F", f}, io.Discard); err != nil || w.filter != "tcp port 80" {
		t.Errorf("-F: %+v, %v", w, err)
	}
	for _, c := range []struct{ args, err string }{
		{"-s -1", "-s -1: must not be negative"},
		{"-s 300000", "-s 300000: at most 262144"},
		{"--tw-threshold 0", "--tw-threshold 0"},
		{"-j", "flag provided but not defined: -j"},
		// Any engine captures on "any" through libpcap: a misspelt one
		// in a unit file would pass unnoticed there.
		{"--engine afpaket", `--engine: unknown engine "afpaket"`},
		{"--capture 60", "a duration needs a unit, as in 60ms, 60s or 60m"},
		{"--engine=", "--engine: no engine given"},
		{"--interval 1x", "want a duration such as 30s"},
		{"--max-mb 10 --file-mb 100", "--file-mb 100: larger than --max-mb 10"},
	} {
		if _, err := parseWatch(strings.Fields(c.args), io.Discard); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: %v, want %q", c.args, err, c.err)
		}
	}
	// -i 1 is -D's first interface, as in capture mode.
	names, err := interfaces()
	if err != nil || len(names) == 0 {
		t.Skip("no interfaces listed")
	}
	if got := ifaceByNumber("1"); got != names[0] {
		t.Errorf("-i 1 is %q, want -D's first, %q", got, names[0])
	}
}

// TestRearmBelow: the trigger re-arms once the count is below
// threshold×rearm; a threshold of 1 re-arms at 0.
func TestRearmBelow(t *testing.T) {
	for _, c := range []struct {
		threshold int
		rearm     float64
		want      int
	}{{1, 0.8, 1}, {10000, 0.8, 8000}, {5, 0.5, 3}, {3, 1, 3}, {2, 0.1, 1}, {100, 0.29, 29}} {
		if got := rearmBelow(c.threshold, c.rearm); got != c.want {
			t.Errorf("threshold %d, rearm %v: below %d, want %d", c.threshold, c.rearm, got, c.want)
		}
	}
	tr := newTrigger(1, 0.8, 0)
	now := time.Now()
	if start, _ := tr.sample(1, true, false, now); !start {
		t.Fatal("a threshold of 1 did not trigger at 1")
	}
	if _, rearmed := tr.sample(0, true, false, now.Add(time.Second)); !rearmed {
		t.Error("a threshold of 1 did not re-arm at 0")
	}
}

// TestKeptFrom: where a capture begins once the cap has removed parts.
func TestKeptFrom(t *testing.T) {
	name := filepath.Join(t.TempDir(), "timewait-20261207-120000.pcapng")
	for i := 3; i <= 5; i++ {
		if err := os.WriteFile(capture.PartName(name, i), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		n, pruned int
		kept      string
	}{{5, 2, "-003.pcapng"}, {2, 1, "-002.pcapng"}} {
		kept, pruned := keptFrom(name, c.n)
		if pruned != c.pruned || !strings.HasSuffix(kept, c.kept) {
			t.Errorf("%d parts, the first 2 removed: first kept %s, %d pruned; want %s, %d", c.n, kept, pruned, c.kept, c.pruned)
		}
	}
	if err := os.WriteFile(capture.PartName(name, 1), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if kept, pruned := keptFrom(name, 5); pruned != 0 || kept != capture.PartName(name, 1) {
		t.Errorf("with part 1 there: %s, %d pruned", kept, pruned)
	}
}

// TestEnforceCapConcurrent: the rotation hook and the sampling loop may
// hold the directory to --max-mb at the same time; together they delete
// only what one would.
func TestEnforceCapConcurrent(t *testing.T) {
	for range 20 {
		dir := t.TempDir()
		base := time.Now().Add(-time.Hour)
		for i := range 10 {
			name := filepath.Join(dir, fmt.Sprintf("timewait-20261206-120000-%03d.pcapng", i+1))
			if err := os.WriteFile(name, make([]byte, 1000), 0o600); err != nil {
				t.Fatal(err)
			}
			_ = os.Chtimes(name, base.Add(time.Duration(i)*time.Second), base.Add(time.Duration(i)*time.Second))
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() { defer wg.Done(); enforceCap(dir, 5500) }()
		}
		wg.Wait()
		left, _ := filepath.Glob(filepath.Join(dir, "timewait-*"))
		if len(left) != 5 || filepath.Base(left[0]) != "timewait-20261206-120000-006.pcapng" {
			t.Fatalf("left %q, want the newest 5", left)
		}
	}
}

func TestReservedPortHint(t *testing.T) {
	inUse := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	for _, c := range []struct {
		addr   string
		err    error
		lo, hi uint16
		hint   bool
	}{
		{":9870", inUse, 1024, 65000, true},
		{"127.0.0.1:9870", inUse, 1024, 65000, true},
		{":9870", inUse, 32768, 60999, false},              // outside the range: something else holds it
		{":9870", errors.New("other"), 1024, 65000, false}, // not in use
		{"[::1]:x", inUse, 1024, 65000, false},
	} {
		h := reservedPortHint(c.addr, c.err, c.lo, c.hi)
		if (h != "") != c.hint || (c.hint && !strings.Contains(h, "ip_local_reserved_ports=9870")) {
			t.Errorf("%s %v %d-%d: %q", c.addr, c.err, c.lo, c.hi, h)
		}
	}
}

// TestCaptureNameTakesAFreeSecond: a capture that starts in the second
// of the last one does not write over that one's first part.
func TestCaptureNameTakesAFreeSecond(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 7, 23, 0, 5, 300e6, time.UTC)
	first := captureName(dir, at)
	if want := filepath.Join(dir, "timewait-20261207-230005.pcapng"); first != want {
		t.Fatalf("%s; want %s", first, want)
	}
	if err := os.WriteFile(capture.PartName(first, 1), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := captureName(dir, at.Add(400*time.Millisecond)), filepath.Join(dir, "timewait-20261207-230006.pcapng"); got != want {
		t.Errorf("in the same second: %s; want %s", got, want)
	}
}
