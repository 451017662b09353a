package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// boundaryNS is one boundary measurement: per call, medians of the runs.
type boundaryNS struct {
	Name   string    `json:"name"`
	From   string    `json:"from"` // "C thread (Go benchmark)" or "Lua 5.2 through the shim"
	NS     float64   `json:"ns_per_call"`
	Allocs *float64  `json:"allocs_per_call,omitempty"`
	Bytes  *float64  `json:"bytes_per_call,omitempty"`
	Runs   []float64 `json:"ns_runs"`
}

var benchLineRE = regexp.MustCompile(`^BenchmarkBoundary/(\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op\s+([0-9.]+) B/op\s+([0-9.]+) allocs/op`)

// caseBoundary is case 6.
func caseBoundary(o *options, cap *captureInfo) ([]boundaryNS, error) {
	fmt.Printf("\n== case 6, boundary: go test -bench Boundary ./goparser/capi/ (%d runs)\n", o.runs)
	out, err := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkBoundary$", "-benchtime", "100000x",
		"-count", strconv.Itoa(o.runs), "./goparser/capi/").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test: %v: %s", err, out)
	}
	var names []string
	ns, allocs, bytes := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	for _, line := range strings.Split(string(out), "\n") {
		m := benchLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if ns[m[1]] == nil {
			names = append(names, m[1])
		}
		for k, dst := range []map[string][]float64{ns, bytes, allocs} {
			v, _ := strconv.ParseFloat(m[2+k], 64)
			dst[m[1]] = append(dst[m[1]], v)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no benchmark results in:\n%s", out)
	}
	var res []boundaryNS
	for _, name := range names {
		a, by := median(allocs[name]), median(bytes[name])
		res = append(res, boundaryNS{Name: name, From: "C thread (Go benchmark)", NS: median(ns[name]), Allocs: &a, Bytes: &by, Runs: ns[name]})
		fmt.Printf("   %-6s %8.0f ns/call, %4.0f allocs/call, %5.0f B/call\n", name, median(ns[name]), a, by)
	}

	lua, err := luaBoundary(o, cap)
	switch {
	case err == errSkip:
	case err != nil:
		return nil, err
	default:
		res = append(res, lua...)
	}
	return res, nil
}

var luaLineRE = regexp.MustCompile(`^(\S+) ns=([0-9.]+) runs=(\S+)$`)

// luaBoundary times the calls that lua/tcptw.lua makes, from lua5.2
// through build/out/goshim52.so, on the first frames of the capture.
func luaBoundary(o *options, cap *captureInfo) ([]boundaryNS, error) {
	const frames = 20000
	shim, _ := filepath.Abs("build/out/goshim52.so")
	lua, err := exec.LookPath("lua5.2")
	if err != nil {
		fmt.Println("   lua5.2 is missing: no Lua measurement")
		return nil, errSkip
	}
	if _, err := os.Stat(shim); err != nil {
		return nil, fmt.Errorf("%s: %v (make build)", shim, err)
	}
	dir, err := os.MkdirTemp("", "twbench-lua.")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "frames")
	n, err := writeLuaFrames(cap.File, data, frames)
	if err != nil {
		return nil, err
	}
	fmt.Printf("   lua5.2 bench/twbench/boundary.lua: the first %d frames through %s (%d runs)\n", n, shim, o.runs)
	out, err := exec.Command(lua, "bench/twbench/boundary.lua", shim, data, strconv.Itoa(o.runs)).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("lua5.2: %v: %s", err, out)
	}
	var res []boundaryNS
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		m := luaLineRE.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("boundary.lua said %q", line)
		}
		b := boundaryNS{Name: m[1], From: "Lua 5.2 through the shim"}
		for _, r := range strings.Split(m[3], ",") {
			v, _ := strconv.ParseFloat(r, 64)
			b.Runs = append(b.Runs, v)
		}
		b.NS = median(b.Runs)
		fmt.Printf("   lua %-10s %8.0f ns/call\n", b.Name, b.NS)
		res = append(res, b)
	}
	return res, nil
}

type luaFrame struct {
	ts   time.Time
	data []byte
	key  string
}

// readFrames reads the first n TCP frames of a pcap with their endpoints
// (boundary.lua passes their ports, as tcptw.lua does).
func readFrames(file string, n int) ([]luaFrame, error) {
	r, f, err := openPcap(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := tcpdecode.New()
	ep := func(a netip.AddrPort) string { return a.Addr().String() + " " + strconv.Itoa(int(a.Port())) }
	var out []luaFrame
	for len(out) < n {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		var s tcpdecode.Segment
		if dec.Decode(r.LinkType(), data, &s) != nil {
			continue
		}
		out = append(out, luaFrame{ci.Timestamp, data, ep(s.Src) + "\n" + ep(s.Dst)})
	}
	return out, nil
}
