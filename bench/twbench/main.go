// Command twbench benchmarks the TIME_WAIT engine (goparser/tcptw) in
// its two front ends, each against the nearest thing plain Wireshark
// does, on a storm of short connections. make bench-tw runs it, as root,
// from the repository root, after make build; it takes about 4 minutes
// on a 2-core machine.
//
// Input: real traffic, scaled. The short connections of the recorded
// captures testpcaps/tw_client_closes.pcap and tw_healthz_storm.pcap (an
// HTTP/1.1 GET /healthz each, closed by the client or by the server, 10
// packets), and TCP health-check probes recorded once on lo with
// gotcpdump into bench/out/tw-probes.pcap: connections opened and closed
// at once (6 packets, the prober holding TIME_WAIT, as a plain TCP
// connect check does) and connections reset by the prober (4 packets, no
// TIME_WAIT, as some load balancers' checks do). They are replayed with
// gopacket in the proportion 1 HTTP : 4 closed : 5 reset, 5,000 new
// connections a second from 256 client hosts, each connection with its
// own client address and port, initial sequence numbers and timestamp
// offsets (checksums recomputed): 200,000 distinct connections in
// 1,080,800 packets, 40 s. Ten-packet connections alone would need
// 2,000,000 packets for as many connections, and twice the time. The
// capture is written to bench/out/ (git-ignored) and reused.
//
// Cases, each against its baseline in the same invocation, A,B,A,B...:
//
//  3. tcptw overhead: tshark -q -r CAP -z io,stat,0 with the plugin
//     (make install into a temporary HOME; its other protocols, goh2 and
//     gogrpc, disabled) against plain tshark (an empty HOME). A tap without
//     a filter makes tshark dissect every packet without a protocol tree,
//     as the statistics runs users make on large captures do (-z conv,tcp,
//     -z expert): every such run pays the postdissector. Without a tree
//     the ratio is the least flattering one: a tree costs both sides more,
//     and tcptw renders into it. Target: at most 1.15. -floor adds tshark
//     with a Lua postdissector that does nothing: the least any costs
//     (tcptw is one on versions where the shim cannot register it in C).
//     Non-TCP: the same, with the whole plugin, on 300,000 UDP datagrams
//     recorded on lo (bench/out/udp-300000.pcap, reused): tcptw sees
//     every frame, and on these must cost nothing that shows. Target: at
//     most 1.05, about the spread of plain tshark's own runs.
//  4. twreport CAP against tshark -q -r CAP -z conv,tcp, both pinned to one
//     CPU (taskset -c, the last CPU by default). Targets: at most 0.05 of
//     tshark's time, and at least 2,000,000 packets a second.
//     Memory: twreport's peak RSS on 1,000,000 connections streamed
//     through a pipe (twbench gen -memory: HTTP connections and closed
//     probes only, 20,000 a second, so that all of them are in TIME_WAIT
//     at the end: the most records at once), less its peak RSS on 10,000,
//     per connection; and the Go heap per connection of
//     BenchmarkMillionConnections (goparser/tcptw). Target: at most 200
//     bytes.
//  6. Boundary cost: BenchmarkBoundary (goparser/capi), ns and allocations
//     per gp_call made from a C thread, for a fetch that finds nothing
//     (the crossing itself), a typical HTTP/2 packet and a typical
//     TIME_WAIT frame; and the calls lua/tcptw.lua makes on the first pass
//     (shim.run, shim.result), from Lua 5.2 through the real shim
//     (build/out/goshim52.so, bench/twbench/boundary.lua) on the first
//     20,000 frames of the capture, and a fetch that finds nothing.
//
// Runs: one warm-up per command, then -runs measured runs (default 5) of
// each, alternated; medians of wall time and of CPU time (user + system,
// from GNU time), and the largest peak RSS (GNU time's: see timeBin). The
// warm-up of tshark with tcptw is a check on the first 20,000 packets
// (tcptw must mark packets tcptw.tw_enter); those of case 4 check that
// both tools count every connection. A table goes to stdout, everything
// to bench/out/tw.json.
//
//	twbench [-runs 5] [-conns 200000] [-packets 1000000] [-floor] [-skip tcptw,twreport,memory,boundary] [-json bench/out/tw.json]
//	twbench gen [-conns N] [-rate R] [-memory] -o FILE|-   (writes a capture)
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

type options struct {
	runs      int
	conns     int
	packets   int
	memConns  int
	rate      float64
	cpu       int
	outDir    string
	jsonOut   string
	skip      map[string]bool
	gotcpdump string
	twreport  string
	self      string
	probeFile string
	httpFiles []string
	floor     bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "gen" {
		if err := genMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "twbench gen:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.IntVar(&o.runs, "runs", 5, "measured runs of each command, after one warm-up")
	flag.IntVar(&o.conns, "conns", 200000, "at least this many connections in the capture")
	flag.IntVar(&o.packets, "packets", 1000000, "and at least this many packets")
	flag.IntVar(&o.memConns, "mem-conns", 1000000, "connections of the memory case")
	flag.Float64Var(&o.rate, "rate", 5000, "new connections a second in the capture")
	flag.IntVar(&o.cpu, "cpu", runtime.NumCPU()-1, "CPU that case 4 pins both commands to (taskset -c)")
	flag.StringVar(&o.outDir, "out", "bench/out", "directory of the captures (git-ignored)")
	flag.StringVar(&o.jsonOut, "json", "bench/out/tw.json", "where to write the results")
	skip := flag.String("skip", "", "cases to leave out: tcptw,nontcp,twreport,memory,boundary")
	flag.StringVar(&o.gotcpdump, "gotcpdump", "build/out/gotcpdump", "gotcpdump, to record the probes")
	flag.StringVar(&o.twreport, "twreport", "build/out/twreport", "twreport binary")
	flag.BoolVar(&o.floor, "floor", false, "case 3 also times tshark with an empty Lua postdissector (the cost of any; not in make bench-tw's budget)")
	flag.Parse()
	o.skip = map[string]bool{}
	for _, s := range strings.Split(*skip, ",") {
		if s != "" {
			o.skip[s] = true
		}
	}
	if o.runs < 1 {
		fmt.Fprintln(os.Stderr, "twbench: -runs must be at least 1")
		os.Exit(2)
	}
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "twbench:", err)
		os.Exit(1)
	}
}

// results is what bench/out/tw.json holds.
type results struct {
	Date     string       `json:"date"`
	Tshark   string       `json:"tshark"`
	CPUs     int          `json:"cpus"`
	Runs     int          `json:"runs"`
	Capture  captureInfo  `json:"capture"`
	Rows     []row        `json:"results"`
	Memory   *memoryInfo  `json:"memory,omitempty"`
	Boundary []boundaryNS `json:"boundary,omitempty"`
	Elapsed  float64      `json:"elapsed_s"`
}

func run(o *options) error {
	started := time.Now()
	for _, p := range []*string{&o.gotcpdump, &o.twreport} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	o.self = self
	if _, err := os.Stat(timeBin); err != nil {
		// As build/bench.sh does: GNU time is not in build/deps.sh.
		if os.Geteuid() != 0 {
			return fmt.Errorf("%s is missing: install the Debian package 'time'", timeBin)
		}
		fmt.Printf("== %s is missing: installing the Debian package 'time'\n", timeBin)
		cmd := exec.Command("apt-get", "install", "-y", "-q", "--no-install-recommends", "time")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get install time: %v: %s", err, out)
		}
	}
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	o.probeFile = filepath.Join(o.outDir, "tw-probes.pcap")
	o.httpFiles = []string{"testpcaps/tw_client_closes.pcap", "testpcaps/tw_healthz_storm.pcap"}
	res := &results{Date: time.Now().UTC().Format(time.RFC3339), Tshark: tsharkVersion(), CPUs: runtime.NumCPU(), Runs: o.runs}

	cap, err := stormCapture(o)
	if err != nil {
		return err
	}
	res.Capture = *cap
	fmt.Printf("== capture %s: %d packets, %d connections (%s), %.0f s, %d MiB\n",
		cap.File, cap.Packets, cap.Connections, cap.Mix, cap.Seconds, cap.Bytes>>20)

	if !o.skip["tcptw"] {
		rows, err := caseTcptw(o, cap)
		if err != nil {
			return fmt.Errorf("case 3 (tcptw): %w", err)
		}
		res.Rows = append(res.Rows, rows...)
	}
	if !o.skip["nontcp"] {
		rows, err := caseNonTCP(o)
		if err != nil {
			return fmt.Errorf("case 3 (non-TCP): %w", err)
		}
		res.Rows = append(res.Rows, rows...)
	}
	if !o.skip["twreport"] {
		rows, err := caseTwreport(o, cap)
		if err != nil {
			return fmt.Errorf("case 4 (twreport): %w", err)
		}
		res.Rows = append(res.Rows, rows...)
	}
	if !o.skip["memory"] {
		m, err := caseMemory(o)
		if err != nil {
			return fmt.Errorf("memory: %w", err)
		}
		res.Memory = m
	}
	if !o.skip["boundary"] {
		b, err := caseBoundary(o, cap)
		if err != nil {
			return fmt.Errorf("case 6 (boundary): %w", err)
		}
		res.Boundary = b
	}
	res.Elapsed = time.Since(started).Seconds()
	printTable(res)
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(o.jsonOut+".tmp", append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Rename(o.jsonOut+".tmp", o.jsonOut); err != nil {
		return err
	}
	fmt.Printf("\n== wrote %s; twbench took %s\n", o.jsonOut, time.Since(started).Round(time.Second))
	return nil
}

func genMain(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	conns := fs.Int("conns", 200000, "connections")
	rate := fs.Float64("rate", 5000, "new connections a second")
	memory := fs.Bool("memory", false, "the memory case's mix: connections that leave TIME_WAIT only")
	out := fs.String("o", "-", "output file (- for stdout)")
	probes := fs.String("probes", "bench/out/tw-probes.pcap", "recorded probes")
	gotcpdump := fs.String("gotcpdump", "build/out/gotcpdump", "gotcpdump, to record the probes")
	_ = fs.Parse(args)
	m, _, err := stormMix(*gotcpdump, *probes, []string{"testpcaps/tw_client_closes.pcap", "testpcaps/tw_healthz_storm.pcap"}, *memory)
	if err != nil {
		return err
	}
	w := os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	n, err := generate(w, m.order(), genConfig{conns: *conns, rate: *rate, clients: 256, start: captureStart, seed: 1})
	if err != nil {
		return err
	}
	if *out != "-" {
		fmt.Fprintf(os.Stderr, "%d packets\n", n)
	}
	return nil
}

var errSkip = errors.New("skipped")
