package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

func tsharkVersion() string {
	out, _ := exec.Command("tshark", "--version").Output()
	f := strings.Fields(string(out))
	if len(f) >= 3 {
		return strings.TrimSuffix(f[2], ".") // "4.4.19." on 4.4
	}
	return ""
}

// protocols lists what tshark registers with HOME set to home.
func protocols(home string) (map[string]bool, error) {
	cmd := exec.Command("tshark", "-G", "protocols")
	cmd.Env = append(os.Environ(), "HOME="+home)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tshark -G protocols: %v", err)
	}
	m := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Split(line, "\t"); len(f) >= 3 {
			m[f[2]] = true
		}
	}
	return m, nil
}

// homes installs the plugin into a temporary HOME (make install) and
// makes an empty one, for plain tshark. It returns both, and the
// --disable-protocol arguments that leave tcptw the plugin's only
// protocol.
func homes() (plugin, empty string, disable []string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "twbench.")
	if err != nil {
		return "", "", nil, nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	plugin, empty = filepath.Join(dir, "plugin-home"), filepath.Join(dir, "empty-home")
	for _, d := range []string{plugin, empty} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			cleanup()
			return "", "", nil, nil, err
		}
	}
	cmd := exec.Command("make", "-s", "install", "PLUGDIR="+filepath.Join(plugin, ".local/lib/wireshark/plugins/gotcpdump"))
	// make install builds what is out of date: with Go's own directories,
	// not ones under the temporary HOME (a module download).
	cmd.Env = append(os.Environ(), "HOME="+plugin)
	if out, err := exec.Command("go", "env", "GOPATH", "GOMODCACHE", "GOCACHE").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) == 3 {
			cmd.Env = append(cmd.Env, "GOPATH="+f[0], "GOMODCACHE="+f[1], "GOCACHE="+f[2])
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", "", nil, nil, fmt.Errorf("make install: %v: %s", err, out)
	}
	with, err := protocols(plugin)
	if err == nil {
		var without map[string]bool
		if without, err = protocols(empty); err == nil {
			switch {
			case !with["tcptw"]:
				err = fmt.Errorf("tshark does not load tcptw from %s", plugin)
			case without["tcptw"]:
				err = fmt.Errorf("tcptw is loaded with an empty HOME (installed system-wide?): the baseline would not be plain tshark")
			}
			var extra []string
			for p := range with {
				if !without[p] && p != "tcptw" {
					extra = append(extra, p)
				}
			}
			sort.Strings(extra)
			for _, p := range extra {
				disable = append(disable, "--disable-protocol", p)
			}
		}
	}
	if err != nil {
		cleanup()
		return "", "", nil, nil, err
	}
	return plugin, empty, disable, cleanup, nil
}

var ioFramesRE = regexp.MustCompile(`\|\s*[0-9.]+\s*<>\s*[0-9.]+\s*\|\s*(\d+)\s*\|`)

// caseTcptw is case 3: tshark with tcptw against plain tshark.
func caseTcptw(o *options, cap *captureInfo) ([]row, error) {
	plugin, empty, disable, cleanup, err := homes()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	plain := command{"tshark", empty, []string{"tshark", "-q", "-r", cap.File, "-z", "io,stat,0"}}
	with := command{"tshark + tcptw", plugin, append([]string{"tshark", "-q", "-r", cap.File, "-z", "io,stat,0"}, disable...)}
	fmt.Printf("\n== case 3, tcptw overhead: %s (HOME with the plugin%s) against plain tshark\n",
		strings.Join(plain.args[:len(plain.args)-2], " ")+" -z io,stat,0", strings.Join(append([]string{""}, disable...), " "))

	fmt.Println("   warm-up: plain tshark, and tshark with tcptw on the first 20,000 packets, counting tcptw.tw_enter")
	if _, err := measure(plain, nil); err != nil {
		return nil, err
	}
	check := command{"check", plugin, append([]string{"tshark", "-c", "20000", "-q", "-r", cap.File, "-z", "io,stat,0,tcptw.tw_enter"}, disable...)}
	var out bytes.Buffer
	if _, err := measure(check, &out); err != nil {
		return nil, err
	}
	m := ioFramesRE.FindStringSubmatch(out.String())
	if m == nil || m[1] == "0" {
		return nil, fmt.Errorf("tcptw marked no packet tcptw.tw_enter in the first 20,000 packets: is it working?\n%s", out.String())
	}
	fmt.Printf("   tcptw: %s packets enter TIME_WAIT in the first 20,000\n", m[1])

	cmds := []command{plain, with}
	if o.floor {
		// A Lua postdissector that returns at once: what any Lua
		// postdissector costs before it does anything.
		floorHome := filepath.Join(filepath.Dir(empty), "floor-home")
		dir := filepath.Join(floorHome, ".local/lib/wireshark/plugins")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		lua := "local p = Proto.new(\"twfloor\", \"empty postdissector\")\nfunction p.dissector() end\nregister_postdissector(p)\n"
		if err := os.WriteFile(filepath.Join(dir, "twfloor.lua"), []byte(lua), 0o644); err != nil {
			return nil, err
		}
		floor := command{"tshark + empty Lua", floorHome, plain.args}
		if _, err := measure(floor, nil); err != nil {
			return nil, err
		}
		cmds = append(cmds, floor)
	}
	ss, err := alternate(o.runs, cmds...)
	if err != nil {
		return nil, err
	}
	base := summarise("3 tcptw overhead", plain, ss[0], cap.Packets)
	r := summarise("3 tcptw overhead", with, ss[1], cap.Packets)
	r.against(base)
	r.target("≤ 1.15× plain", *r.RatioWall <= 1.15)
	rows := []row{base, r}
	if o.floor {
		f := summarise("3 tcptw overhead", cmds[2], ss[2], cap.Packets)
		f.against(base)
		rows = append(rows, f)
	}
	return rows, nil
}

// udpDatagrams is the size of the non-TCP case's capture.
const udpDatagrams = 300000

// caseNonTCP is part of case 3: tshark with the plugin (all of it, as
// users install it) against plain tshark on UDP datagrams only. tcptw's
// postdissector sees every frame; on these it must cost nothing that
// shows. Target: within 5% of plain tshark, about the spread of plain
// tshark's own runs here.
func caseNonTCP(o *options) ([]row, error) {
	file := filepath.Join(o.outDir, fmt.Sprintf("udp-%d.pcap", udpDatagrams))
	if _, err := os.Stat(file); err != nil {
		if os.Geteuid() != 0 {
			return nil, errors.New("recording UDP datagrams needs root (gotcpdump on lo)")
		}
		fmt.Printf("\n== recording %d UDP datagrams on lo with gotcpdump into %s\n", udpDatagrams, file)
		if err := recordUDP(o.gotcpdump, file, udpDatagrams); err != nil {
			return nil, err
		}
	}
	n, err := countPackets(file)
	if err != nil {
		return nil, err
	}
	if n < udpDatagrams {
		return nil, fmt.Errorf("%s holds %d packets, not %d (delete it to record again)", file, n, udpDatagrams)
	}
	plugin, empty, _, cleanup, err := homes()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	args := []string{"tshark", "-q", "-r", file, "-z", "io,stat,0"}
	plain := command{"tshark", empty, args}
	with := command{"tshark + plugin", plugin, args}
	fmt.Printf("\n== case 3, non-TCP: %s with the whole plugin against plain tshark (%d UDP datagrams)\n", strings.Join(args, " "), n)
	for _, c := range []command{plain, with} {
		if _, err := measure(c, nil); err != nil { // warm-up
			return nil, err
		}
	}
	ss, err := alternate(o.runs, plain, with)
	if err != nil {
		return nil, err
	}
	base := summarise("3 non-TCP", plain, ss[0], n)
	r := summarise("3 non-TCP", with, ss[1], n)
	r.against(base)
	r.target("≤ 1.05× plain (no measurable slowdown)", *r.RatioWall <= 1.05)
	return []row{base, r}, nil
}

var connsRE = regexp.MustCompile(`(\d+) TCP packets, (\d+) connections`)

// caseTwreport is case 4: twreport against tshark -z conv,tcp, on one CPU.
func caseTwreport(o *options, cap *captureInfo) ([]row, error) {
	_, empty, _, cleanup, err := homes()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var pin []string
	if _, err := exec.LookPath("taskset"); err == nil && o.cpu >= 0 {
		pin = []string{"taskset", "-c", strconv.Itoa(o.cpu)}
	}
	conv := command{"tshark -z conv,tcp", empty, append(append([]string(nil), pin...), "tshark", "-q", "-r", cap.File, "-z", "conv,tcp")}
	twr := command{"twreport", "", append(append([]string(nil), pin...), o.twreport, cap.File)}
	fmt.Printf("\n== case 4, twreport: %s against %s\n", strings.Join(twr.args, " "), strings.Join(conv.args, " "))

	fmt.Println("   warm-up: both, checking that each finds every connection")
	var out bytes.Buffer
	if _, err := measure(conv, &out); err != nil {
		return nil, err
	}
	if n := strings.Count(out.String(), "<->"); n != cap.Connections {
		return nil, fmt.Errorf("tshark -z conv,tcp lists %d conversations, the capture has %d connections", n, cap.Connections)
	}
	out.Reset()
	if _, err := measure(twr, &out); err != nil {
		return nil, err
	}
	m := connsRE.FindStringSubmatch(out.String())
	if m == nil || m[1] != strconv.Itoa(cap.Packets) || m[2] != strconv.Itoa(cap.Connections) {
		return nil, fmt.Errorf("twreport does not report %d packets and %d connections:\n%s", cap.Packets, cap.Connections, lastLines(out.String(), 40))
	}

	ss, err := alternate(o.runs, conv, twr)
	if err != nil {
		return nil, err
	}
	base := summarise("4 twreport", conv, ss[0], cap.Packets)
	r := summarise("4 twreport", twr, ss[1], cap.Packets)
	r.against(base)
	r.target("≤ 0.05× tshark, ≥ 2M packets/s", *r.RatioWall <= 0.05 && r.PacketsPerS >= 2e6)
	return []row{base, r}, nil
}

// memoryInfo is the memory case's result.
type memoryInfo struct {
	Connections      int     `json:"connections"`
	BaseConnections  int     `json:"base_connections"`
	Packets          int     `json:"packets"`
	TimeWaitAtEnd    int     `json:"time_wait_at_end"`
	RSS              float64 `json:"peak_rss_mib"`
	BaseRSS          float64 `json:"base_peak_rss_mib"`
	BytesPerConn     float64 `json:"rss_bytes_per_connection"`
	HeapBytesPerConn float64 `json:"go_heap_bytes_per_connection"`
	Seconds          float64 `json:"wall_s"`
	Target           string  `json:"target"`
	Met              bool    `json:"target_met"`
}

var twAtEndRE = regexp.MustCompile(`TIME_WAIT sockets: \d+ \(\d+ restarts\), (\d+) at the end`)

// streamTwreport runs twreport on a capture of conns connections that
// twbench gen writes into its standard input.
func streamTwreport(o *options, conns int) (sample, []byte, error) {
	gen := exec.Command(o.self, "gen", "-memory", "-conns", strconv.Itoa(conns), "-rate", "20000", "-probes", o.probeFile, "-o", "-")
	pipe, err := gen.StdoutPipe()
	if err != nil {
		return sample{}, nil, err
	}
	gen.Stderr = os.Stderr
	if err := gen.Start(); err != nil {
		return sample{}, nil, err
	}
	tf, err := os.CreateTemp("", "twbench-time.")
	if err != nil {
		return sample{}, nil, err
	}
	tf.Close()
	defer os.Remove(tf.Name())
	tw := exec.Command(timeBin, "-f", "%e %U %S %M", "-o", tf.Name(), o.twreport, "-")
	tw.Stdin = pipe
	var out bytes.Buffer
	tw.Stdout = &out
	tw.Stderr = os.Stderr
	start := time.Now()
	err = tw.Run()
	wall := time.Since(start).Seconds()
	if gerr := gen.Wait(); err == nil {
		err = gerr
	}
	if err != nil {
		return sample{}, nil, err
	}
	s, err := readTime(tf.Name())
	s.Wall = wall
	return s, out.Bytes(), err
}

var heapRE = regexp.MustCompile(`([0-9.]+) bytes/conn`)

// caseMemory measures twreport's memory per connection.
func caseMemory(o *options) (*memoryInfo, error) {
	const base = 10000
	fmt.Printf("\n== memory: twreport on %d and on %d connections streamed from twbench gen -memory (all still in TIME_WAIT at the end)\n", o.memConns, base)
	m := &memoryInfo{Connections: o.memConns, BaseConnections: base, Target: "≤ 200 bytes per connection"}
	s0, _, err := streamTwreport(o, base)
	if err != nil {
		return nil, err
	}
	s1, out, err := streamTwreport(o, o.memConns)
	if err != nil {
		return nil, err
	}
	c := connsRE.FindSubmatch(out)
	tw := twAtEndRE.FindSubmatch(out)
	if c == nil || tw == nil || string(c[2]) != strconv.Itoa(o.memConns) {
		return nil, fmt.Errorf("twreport did not report %d connections:\n%s", o.memConns, lastLines(string(out), 20))
	}
	m.Packets, _ = strconv.Atoi(string(c[1]))
	m.TimeWaitAtEnd, _ = strconv.Atoi(string(tw[1]))
	m.RSS, m.BaseRSS, m.Seconds = s1.RSS, s0.RSS, s1.Wall
	m.BytesPerConn = (s1.RSS - s0.RSS) * (1 << 20) / float64(o.memConns-base)
	fmt.Printf("   %d connections, %d packets, %d in TIME_WAIT at the end: peak RSS %.0f MiB (%.0f MiB for %d): %.0f bytes per connection\n",
		o.memConns, m.Packets, m.TimeWaitAtEnd, s1.RSS, s0.RSS, base, m.BytesPerConn)

	fmt.Println("   go test -bench MillionConnections ./goparser/tcptw/ (Go heap per connection)")
	gt, err := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkMillionConnections$", "-benchtime", "1x", "./goparser/tcptw/").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test: %v: %s", err, gt)
	}
	h := heapRE.FindSubmatch(gt)
	if h == nil {
		return nil, fmt.Errorf("no bytes/conn in:\n%s", gt)
	}
	m.HeapBytesPerConn, _ = strconv.ParseFloat(string(h[1]), 64)
	fmt.Printf("   Go heap: %.0f bytes per connection\n", m.HeapBytesPerConn)
	m.Met = m.BytesPerConn <= 200 && m.HeapBytesPerConn <= 200
	return m, nil
}
