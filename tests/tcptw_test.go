package tests

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/gotcpdump/gotcpdump/internal/syncbuf"
)

// TestTcptwAgreesWithTwreport: the Wireshark postdissector and twreport
// run one engine, each decoding the frames itself; on the same files they
// must give the same answers.
func TestTcptwAgreesWithTwreport(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(root, "build", "out", "twreport")
	caps, _ := filepath.Glob(filepath.Join(root, "testpcaps", "tw_*.pcap"))
	for _, c := range caps {
		t.Run(filepath.Base(c), func(t *testing.T) {
			want, err := exec.Command(bin, c).Output()
			if err != nil {
				t.Fatalf("twreport: %v (run make build)", err)
			}
			got := tshark(t, pluginEnv, "-q", "-r", c, "-z", "tcptw,report")
			if got != string(want) {
				t.Fatalf("tshark -z tcptw,report differs from twreport:\n%s", firstDiff(string(want), got))
			}

			js, err := exec.Command(bin, "--json", c).Output()
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Summary struct {
					Closes         map[string]int `json:"closes"`
					ReusesAccepted int            `json:"tuple_reuses_accepted"`
					SYNRetries     int            `json:"syn_retransmissions"`
				} `json:"summary"`
				Hosts []struct {
					Address string `json:"address"`
					Peak    int    `json:"peak"`
				} `json:"hosts"`
			}
			if err := json.Unmarshal(js, &r); err != nil {
				t.Fatal(err)
			}
			// The per-packet fields: each holder's population (both
			// after a simultaneous close, in the holders' order) peaks
			// where the report says, and the per-packet events add up.
			peak := map[string]int{}
			rows := tshark(t, pluginEnv, "-r", c, "-Y", "tcptw.population", "-T", "fields", "-e", "tcptw.holder", "-e", "tcptw.population")
			for _, line := range strings.Split(strings.TrimSpace(rows), "\n") {
				f := strings.Split(line, "\t")
				if len(f) != 2 || f[0] == "" {
					continue
				}
				holders, pops := strings.Split(f[0], ","), strings.Split(f[1], ",")
				for i := range min(len(holders), len(pops)) {
					host := holders[i][:strings.LastIndex(holders[i], ":")]
					n, _ := strconv.Atoi(pops[i])
					peak[host] = max(peak[host], n)
				}
			}
			for _, h := range r.Hosts {
				if peak[h.Address] != h.Peak {
					t.Errorf("%s: tcptw.population peaks at %d, twreport says %d", h.Address, peak[h.Address], h.Peak)
				}
			}
			count := func(filter string) int {
				out := strings.TrimSpace(tshark(t, pluginEnv, "-r", c, "-Y", filter))
				if out == "" {
					return 0
				}
				return strings.Count(out, "\n") + 1
			}
			if n := count("tcptw.reuse.accepted == 1"); n != r.Summary.ReusesAccepted {
				t.Errorf("%d accepted reuses in the fields, %d in the report", n, r.Summary.ReusesAccepted)
			}
			if n := count("tcptw.syn_retry"); n != r.Summary.SYNRetries {
				t.Errorf("%d SYN retries in the fields, %d in the report", n, r.Summary.SYNRetries)
			}
			enter := count("tcptw.tw_enter && tcptw.closer == \"client\"")
			if enter > r.Summary.Closes["client"] {
				t.Errorf("%d client-held TIME_WAIT entries for %d client closes", enter, r.Summary.Closes["client"])
			}
			one := tshark(t, pluginEnv, "-r", c, "-O", "tcptw")
			two := tshark(t, pluginEnv, "-2", "-r", c, "-O", "tcptw")
			if one != two {
				t.Fatalf("tshark -2 differs:\n%s", firstDiff(one, two))
			}
		})
	}
}

// TestTcptwLuaFallback: Wireshark 4.0 and 4.4 run tcptw as a postdissector
// registered from C (the shim knows their packet_info). Other versions get
// the Lua postdissector of tcptw.lua, which makes the same calls; forced
// here, it must give the same report, fields and expert infos. Times are
// left out of the fields: Lua has the frame time as a float, so their last
// digits may differ.
func TestTcptwLuaFallback(t *testing.T) {
	t.Parallel()
	luaEnv := append(append([]string(nil), pluginEnv...), "GOTCPDUMP_LUA_POSTDISSECTOR=1")
	only := []string{"--disable-protocol", "goh2", "--disable-protocol", "gogrpc"}
	fields := []string{"-T", "fields", "-e", "frame.number", "-e", "tcptw.conn", "-e", "tcptw.closer", "-e", "tcptw.holder",
		"-e", "tcptw.population", "-e", "tcptw.tw_enter", "-e", "tcptw.tw_restart", "-e", "tcptw.assassination",
		"-e", "tcptw.reuse.accepted", "-e", "tcptw.reuse.holder", "-e", "tcptw.syn_retry", "-e", "tcptw.requests",
		"-e", "tcptw.ports_in_use", "-e", "tcptw.port_range"}
	caps, _ := filepath.Glob(filepath.Join(root, "testpcaps", "tw_*.pcap"))
	for _, c := range caps {
		t.Run(filepath.Base(c), func(t *testing.T) {
			// Every call of a Lua dissector leaves a hidden _ws.lua.fake
			// item: there are none when tcptw runs in C.
			luaCalls := func(env []string) int {
				return strings.Count(tshark(t, env, append([]string{"-r", c, "-T", "pdml"}, only...)...), `name="_ws.lua.fake"`)
			}
			if n := luaCalls(pluginEnv); n != 0 {
				t.Fatalf("tcptw ran as a Lua postdissector (%d calls) : on Wireshark 4.0 and 4.4 the C one is expected", n)
			}
			if n := luaCalls(luaEnv); n == 0 {
				t.Fatal("GOTCPDUMP_LUA_POSTDISSECTOR=1 did not make tcptw a Lua postdissector")
			}
			for _, args := range [][]string{
				{"-q", "-z", "tcptw,report"},
				{"-q", "-z", "expert,note"},
				// Without a tree the C postdissector asks Go for the
				// expert infos alone, on both passes.
				{"-2", "-q", "-z", "expert,note"},
				fields,
			} {
				args = append(append([]string{"-r", c}, args...), only...)
				want := tshark(t, pluginEnv, args...)
				if got := tshark(t, luaEnv, args...); got != want {
					t.Errorf("tshark %s: the Lua postdissector differs from the C one:\n%s", strings.Join(args, " "), firstDiff(want, got))
				}
			}
		})
	}
}

// TestTcptwSegmentInsideICMP: a router's ICMP error quoting a SYN carries
// a TCP segment that Wireshark dissects but that is not the frame's own,
// so the engine does not track it. tcptw says so on that frame, and its
// protocol item is on every TCP frame, however the pass was made: one by
// one (with -z expert), deferred (-z io,phs alone), or fetched (-2).
func TestTcptwSegmentInsideICMP(t *testing.T) {
	l := newLab(t, 213)
	l.sysctl(l.srvNS, "net.ipv4.ip_forward=1")
	for _, args := range [][]string{
		{"-n", l.cliNS, "route", "add", "10.99.0.0/16", "via", l.srvIP.String()},
		{"-n", l.srvNS, "route", "add", "unreachable", "10.99.0.0/16"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	capFile := filepath.Join(t.TempDir(), "icmp.pcap")
	dump := exec.Command("ip", "netns", "exec", l.cliNS, "tcpdump", "-i", l.cliIf, "-U", "--immediate-mode", "-w", capFile, "tcp or icmp")
	var dumpErr syncbuf.Buffer
	dump.Stderr = &dumpErr
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, &dumpErr, 10*time.Second, "listening on")
	// The kernel's own SYN; the router answers "network unreachable".
	out, _ := exec.Command("ip", "netns", "exec", l.cliNS, "timeout", "5", "bash", "-c", "echo > /dev/tcp/10.99.0.1/80").CombinedOutput()
	if !strings.Contains(string(out), "No route to host") {
		t.Fatalf("connect: want no route to host, got %q", out)
	}
	time.Sleep(300 * time.Millisecond)
	_ = dump.Process.Signal(syscall.SIGTERM)
	_ = dump.Wait()

	only := []string{"--disable-protocol", "goh2", "--disable-protocol", "gogrpc"}
	// Wireshark 4.0 leaves the quoted segment's port type to the
	// postdissector, 4.4 restores the ICMP packet's: tcptw then says
	// nothing of the frame. It never analyses the quoted segment.
	icmp := tshark(t, pluginEnv, append([]string{"-r", capFile, "-Y", "icmp && tcp", "-O", "tcptw"}, only...)...)
	if !strings.Contains(icmp, "Internet Control Message Protocol") {
		t.Fatalf("no ICMP error quoting the SYN:\n%s", icmp)
	}
	marked := strings.Contains(icmp, "TCP TIME_WAIT analysis: not analysed (a TCP segment inside another packet)")
	if strings.Contains(icmp, "TCP TIME_WAIT analysis") != marked || strings.Contains(icmp, "Connection:") {
		t.Fatalf("the ICMP error's TCP segment is analysed, or not marked as not analysed:\n%s", icmp)
	}
	// The hierarchy, from its title to the closing line.
	phs := func(args ...string) string {
		out := tshark(t, pluginEnv, append(append([]string{"-r", capFile, "-q", "-z", "io,phs"}, args...), only...)...)
		i := strings.Index(out, "Protocol Hierarchy Statistics")
		j := strings.LastIndex(out, "\n=====")
		if i < 0 || j < i {
			t.Fatalf("no protocol hierarchy:\n%s", out)
		}
		return out[i:j]
	}
	deferred := phs()
	// Under tcp (the SYN), and under icmp (the error, whose quoted TCP
	// the hierarchy does not list) where tcptw marks it.
	want := 1
	if marked {
		want = 2
	}
	if n := strings.Count(deferred, "tcptw "); n != want {
		t.Fatalf("tcptw %d times in the hierarchy, want %d:\n%s", n, want, deferred)
	}
	for _, args := range [][]string{{"-z", "expert"}, {"-2"}} {
		if got := phs(args...); got != deferred {
			t.Errorf("io,phs with %v differs from io,phs alone:\n%s\n%s", args, got, deferred)
		}
	}
}

// TestTcptwBatchBoundaries: on a first pass that shows nothing of tcptw,
// the shim hands frames to Go in batches that end at 65,536 frames or
// 8 MiB (cshim/postdissector.c). Over captures that cross either limit
// several times, the report must be the one that twreport gives and that
// frames handed over one at a time give (-z expert makes every frame's
// expert infos wanted), and the calls into Go (counted by
// testdata/gpcount.c) must be the batches those limits make.
func TestTcptwBatchBoundaries(t *testing.T) {
	t.Parallel()
	const (
		opTCPTW, opBatch = 3, 10 // GP_OP_TCPTW, GP_OP_TCPTW_BATCH
		batchFrames      = 65536
		batchBytes       = 8 << 20
		batchHeader      = 24 // GP_BATCH_HEADER
	)
	counter := gpcount(t)
	frames, _, link := readPcap(t, pcap("tw_healthz_storm.pcap"))
	// 81 copies of 818 frames are 66,258 frames, of 116 octets a frame in
	// a batch on average (7.3 MiB for 65,536). With 400 octets after each
	// IP packet (an Ethernet trailer, which neither reads) a batch is full
	// at about 16,000 frames.
	for _, tc := range []struct {
		name   string
		copies int
		pad    int
	}{
		{"frame limit", 81, 0},
		{"byte limit", 40, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			long := filepath.Join(t.TempDir(), "long.pcap")
			out, err := os.Create(long)
			if err != nil {
				t.Fatal(err)
			}
			w := pcapgo.NewWriterNanos(out)
			if err := w.WriteFileHeader(65536, link); err != nil {
				t.Fatal(err)
			}
			// The batches the limits make: each ends before the frame
			// that would take it past either, the last at the report.
			n, octets := 0, 0
			batches, inBatch, used := 1, 0, 0
			pad := make([]byte, tc.pad)
			for c := 0; c < tc.copies; c++ {
				// Each copy starts 4 s after the one before, while the
				// connections of the one before are in TIME_WAIT: their
				// tuples come again.
				shift := time.Duration(c) * 4 * time.Second
				for _, f := range frames {
					ci := f.ci
					ci.Timestamp = ci.Timestamp.Add(shift)
					data := append(append([]byte(nil), f.data...), pad...)
					ci.CaptureLength, ci.Length = len(data), len(data)
					if err := w.WritePacket(ci, data); err != nil {
						t.Fatal(err)
					}
					n++
					need := batchHeader + len(data)
					octets += need
					if inBatch > 0 && (used+need > batchBytes || inBatch >= batchFrames) {
						batches, inBatch, used = batches+1, 0, 0
					}
					inBatch, used = inBatch+1, used+need
				}
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
			if batches < 2 {
				t.Fatalf("%d frames, %d octets: one batch", n, octets)
			}

			want, err := exec.Command(filepath.Join(root, "build", "out", "twreport"), long).Output()
			if err != nil {
				t.Fatalf("twreport: %v (run make build)", err)
			}
			// The file alone has 61 connections.
			if !strings.Contains(string(want), fmt.Sprintf("%d TCP packets, %d connections", n, tc.copies*61)) {
				t.Fatalf("twreport did not count every frame and connection:\n%s", want)
			}
			only := []string{"--disable-protocol", "goh2", "--disable-protocol", "gogrpc"}
			batched, calls := counter(append([]string{"-q", "-r", long, "-z", "tcptw,report"}, only...)...)
			if batched != string(want) {
				t.Fatalf("tshark -z tcptw,report differs from twreport:\n%s", firstDiff(string(want), batched))
			}
			if got, want := calls[opBatch], [2]int{batches, octets}; got != want || calls[opTCPTW][0] != 0 {
				t.Fatalf("%d frames: %d batches of %d octets in all and %d single frames, want %d batches of %d octets and none",
					n, got[0], got[1], calls[opTCPTW][0], want[0], want[1])
			}
			// The expert tables come first.
			single, calls := counter(append([]string{"-q", "-r", long, "-z", "tcptw,report", "-z", "expert"}, only...)...)
			if i := strings.Index(single, "TIME_WAIT report ("); i < 0 || single[i:] != strings.TrimLeft(batched, "\n") {
				t.Fatalf("with -z expert the report differs:\n%s", single)
			}
			if calls[opBatch][0] != 0 || calls[opTCPTW][0] != n {
				t.Fatalf("with -z expert: %d batches and %d single frames, want none and %d", calls[opBatch][0], calls[opTCPTW][0], n)
			}
		})
	}
}

// gpcount builds testdata/gpcount.c and returns a function that runs
// tshark with the plugin and the counter preloaded, returning tshark's
// output and, by op, the calls into libgoparser.so and the octets of data
// they passed.
func gpcount(t *testing.T) func(args ...string) (string, map[int][2]int) {
	t.Helper()
	dir := t.TempDir()
	// tshark may run as nobody (build/ws44.sh): it writes the counts here.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(dir, "gpcount.so")
	if out, err := exec.Command("cc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o", so,
		filepath.Join(root, "tests", "testdata", "gpcount.c"), "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("cc gpcount.c: %v\n%s", err, out)
	}
	home := strings.TrimPrefix(pluginEnv[0], "HOME=")
	lib := filepath.Join(home, ".local", "lib", "wireshark", "plugins", "gotcpdump", "libgoparser.so")
	runs := 0
	return func(args ...string) (string, map[int][2]int) {
		t.Helper()
		runs++
		counts := filepath.Join(dir, fmt.Sprintf("counts%d", runs))
		env := append(append([]string(nil), pluginEnv...), "LD_PRELOAD="+so, "GPCOUNT_LIB="+lib, "GPCOUNT_OUT="+counts)
		out := tshark(t, env, args...)
		b, err := os.ReadFile(counts)
		if err != nil {
			t.Fatalf("no counts from gpcount: %v", err)
		}
		calls := map[int][2]int{}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var op, n, octets int
			if _, err := fmt.Sscan(line, &op, &n, &octets); err != nil {
				t.Fatalf("gpcount: %q: %v", line, err)
			}
			calls[op] = [2]int{n, octets}
		}
		return out, calls
	}
}

// TestTcptwBadPreferences: a port range or TIME_WAIT length that
// twreport refuses is reported once, and the default used.
func TestTcptwBadPreferences(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ pref, msg, header string }{
		{"tcptw.port_range:60000-1000", `port range "60000-1000" is not LOW-HIGH`, "ports 32768-60999"},
		{"tcptw.port_range:foo", `port range "foo" is not LOW-HIGH`, "ports 32768-60999"},
		{"tcptw.tw_seconds:0", "a TIME_WAIT length of 0 s; using 60", "TIME_WAIT 60 s"},
	} {
		cmd := exec.Command("tshark", "-q", "-r", pcap("tw_client_closes.pcap"), "-o", tc.pref, "-z", "tcptw,report")
		cmd.Env = pluginEnv
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := runLimited(cmd); err != nil {
			t.Fatalf("-o %s: %v\n%s", tc.pref, err, stderr.String())
		}
		if n := strings.Count(stderr.String(), tc.msg); n != 1 {
			t.Errorf("-o %s: %d times %q on stderr:\n%s", tc.pref, n, tc.msg, stderr.String())
		}
		if !strings.Contains(stdout.String(), tc.header) || strings.Contains(stdout.String(), "of -") {
			t.Errorf("-o %s: the report does not use the default:\n%s", tc.pref, stdout.String())
		}
	}
}

// TestTcptwReportArgument: -z tcptw,report takes no argument; one given
// is refused with the form it wants, not ignored.
func TestTcptwReportArgument(t *testing.T) {
	t.Parallel()
	file := pcap("tw_client_closes.pcap")
	for _, z := range []string{"tcptw,report,json", "tcptw,report,tcp.port == 8080", "tcptw,reportx"} {
		out, errText := tsharkStderr(t, pluginEnv, "-q", "-r", file, "-z", z)
		msg := "tshark: tcptw: -z " + z + ": want -z tcptw,report (twreport --json"
		if out != "" || !strings.HasPrefix(errText, msg) || strings.Count(errText, "\n") != 0 {
			t.Errorf("-z %s: stdout\n%s\nstderr\n%s\nwant no report and %q", z, out, errText, msg)
		}
	}
}

// TestTwreportEmptyCaptures: captures without packets (a pcap with its
// header only, a pcapng with a section header only, or one with an
// interface as well) give the empty report, as tshark's.
func TestTwreportEmptyCaptures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(root, "build", "out", "twreport")
	src := pcap("tw_client_closes.pcap")
	editcap := func(format string) func(string) error {
		return func(f string) error {
			out, err := exec.Command("editcap", "-F", format, "-r", src, f, "0").CombinedOutput()
			if err != nil {
				return fmt.Errorf("editcap: %v %s", err, out)
			}
			return nil
		}
	}
	files := map[string]func(string) error{
		"header-only.pcap": editcap("pcap"),
		"shb-only.pcapng":  editcap("pcapng"),
		// A section header and an interface: what pcapgo writes first.
		"shb-idb.pcapng": func(f string) error {
			fh, err := os.Create(f)
			if err != nil {
				return err
			}
			w, err := pcapgo.NewNgWriter(fh, layers.LinkTypeEthernet)
			if err == nil {
				err = w.Flush()
			}
			return errors.Join(err, fh.Close())
		},
	}
	for name, write := range files {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, name)
			if err := write(f); err != nil {
				t.Fatal(err)
			}
			want := tshark(t, pluginEnv, "-q", "-r", f, "-z", "tcptw,report")
			got, err := exec.Command(bin, f).CombinedOutput()
			if err != nil || string(got) != want {
				t.Errorf("twreport: %v\n%s\ntshark:\n%s", err, got, want)
			}
		})
	}
}

// TestTwreportGzip: gzipped captures, pcap and pcapng (-z gzip makes
// both), give the report of the plain file.
func TestTwreportGzip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(root, "build", "out", "twreport")
	src := pcap("tw_healthz_storm.pcap")
	ng := filepath.Join(dir, "storm.pcapng")
	if out, err := exec.Command("editcap", "-F", "pcapng", src, ng).CombinedOutput(); err != nil {
		t.Fatalf("editcap: %v %s", err, out)
	}
	want, err := exec.Command(bin, src).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{src, ng} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(raw)
		_ = zw.Close()
		gz := filepath.Join(dir, filepath.Base(f)+".gz")
		if err := os.WriteFile(gz, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := exec.Command(bin, gz).CombinedOutput(); err != nil || string(got) != string(want) {
			t.Errorf("%s: %v\n%s", filepath.Base(gz), err, firstDiff(string(want), string(got)))
		}
	}
}

// TestTcptwExpertGroupsByHost: -z expert (and Wireshark's Expert
// Information dialog) groups by message, so "enters TIME_WAIT" names the
// holding host, not its socket: the client of tw_client_closes.pcap holds
// all 40 sockets, each on a port of its own, and gets one group.
func TestTcptwExpertGroupsByHost(t *testing.T) {
	t.Parallel()
	out := tshark(t, pluginEnv, "-r", pcap("tw_client_closes.pcap"), "-q", "-z", "expert")
	groups := regexp.MustCompile(`(?m)^\s*(\d+)\s+\S+\s+TCPTW\s+(.*) enters TIME_WAIT$`).FindAllStringSubmatch(out, -1)
	if len(groups) != 1 || groups[0][1] != "40" || groups[0][2] != "10.251.1.1" {
		t.Fatalf("enters TIME_WAIT groups %q, want 40 for 10.251.1.1:\n%s", groups, out)
	}
}
