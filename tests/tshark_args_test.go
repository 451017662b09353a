package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// statsScript prints, when tshark ends, the items that the shim has added
// and left out below the top (goshim.stats), and counts the values that a
// Lua Field extractor of a field that no -e option names sees.
const statsScript = `
local shim = package.loaded["gotcpdump.common"].shim
local names = Field.new("goh2.header.name")
local seen = 0
local p = Proto("zzfieldsonly", "reads goh2.header.name")
function p.dissector()
    seen = seen + #{ names() }
end
register_postdissector(p)
local tap = Listener.new("frame")
function tap.draw()
    local added, left = shim.stats()
    io.write(string.format("goshim.stats added %d left_out %d extracted %d\n", added, left, seen))
end
`

var statsLine = regexp.MustCompile(`(?m)^goshim\.stats added ([0-9]+) left_out ([0-9]+) extracted ([0-9]+)\n`)

// TestTsharkArgs: on tshark 4.0 the shim reads tshark's command line
// (cshim/tshark_args.c). For -T fields, whose tree tshark 4.0 makes
// visible, it adds only the items whose fields an -e option names or
// something else reads; without -2, Go keeps no result for later passes.
// What tshark prints must be what it prints when the shim ignores the
// command line (GOTCPDUMP_IGNORE_ARGS): the -e fields, fields that only a
// display filter, a Lua Field extractor or a tap reads, expert infos,
// and -2's output, which needs the results kept. On 4.0 the items must
// really be left out with -T fields and kept with -V; on 4.4 the tree of
// -T fields is invisible anyway.
func TestTsharkArgs(t *testing.T) {
	script := filepath.Join(t.TempDir(), "stats.lua")
	if err := os.WriteFile(script, []byte(statsScript), 0o644); err != nil {
		t.Fatal(err)
	}
	major, minor := wiresharkVersion(t)
	v40 := major == 4 && minor == 0
	caps := []string{"tw_healthz_storm.pcap"}
	for _, c := range h2Captures {
		caps = append(caps, c.file)
	}
	cases := []struct {
		name    string
		args    []string
		fields  bool // -T fields, single pass
		prints  bool // the whole tree: -V
		twoPass bool
	}{
		{"many fields", []string{"-T", "fields", "-E", "occurrence=a", "-e", "frame.number", "-e", "goh2", "-e", "goh2.streamid",
			"-e", "goh2.type", "-e", "goh2.header.name", "-e", "goh2.header.value", "-e", "gogrpc.message_length", "-e", "gogrpc.json",
			"-e", "tcptw.closer", "-e", "tcptw.requests", "-e", "_ws.expert.message", "-e", "_ws.expert.severity"}, true, false, false},
		{"filter on a field not printed", []string{"-nT", "fields", "-e", "frame.number", "-e", "goh2.streamid", "-Y",
			`goh2.header.name == ":path" || tcptw.closer`}, true, false, false},
		{"two passes", []string{"-2", "--temp-dir", os.TempDir(), "-Y", "goh2 || tcptw", "-Tfields", "-e", "frame.number", "-e", "gogrpc.path", "-e", "gogrpc.reassembled_in",
			"-e", "tcptw.holder"}, false, false, true},
		// tshark writes into -E's argument (strtok), after the plugin
		// has read the command line.
		{"-e after -E", []string{"-T", "fields", "-e", "frame.number", "-E", "occurrence=l", "-e", "goh2.type", "-Eseparator=,",
			"-e", "tcptw.closer"}, true, false, false},
		{"tap", []string{"-T", "fields", "-e", "frame.number", "-e", "goh2.length", "-z", "gogrpc,calls", "-z", "expert"}, true, false, false},
		{"no tree", []string{"-q", "-z", "expert", "-z", "conv,tcp"}, false, false, false},
		{"invisible tree", []string{"-q", "-Y", "goh2 || tcptw", "-z", "io,phs"}, false, false, false},
		{"verbose", []string{"-V"}, false, true, false},
	}
	for _, capture := range caps {
		t.Run(capture, func(t *testing.T) {
			for _, c := range cases {
				args := append([]string{"-X", "lua_script:" + script, "-r", pcap(capture)}, c.args...)
				fieldsOnly, ok := splitStats(t, tshark(t, pluginEnv, args...))
				full, fullOk := splitStats(t, tshark(t, append([]string{"GOTCPDUMP_IGNORE_ARGS=1"}, pluginEnv...), args...))
				if !ok || !fullOk {
					t.Fatalf("%s: no goshim.stats line", c.name)
				}
				if fieldsOnly.out != full.out {
					t.Errorf("%s: tshark %s differs from its output when the shim ignores the command line (second):\n%s",
						c.name, strings.Join(c.args, " "), firstDiff(fieldsOnly.out, full.out))
				}
				if fieldsOnly.extracted != full.extracted {
					t.Errorf("%s: a Lua Field extractor saw %d values, %d when the shim ignores the command line", c.name, fieldsOnly.extracted, full.extracted)
				}
				if fieldsOnly.added == 0 {
					t.Errorf("%s: no item added", c.name)
				}
				if c.fields && fieldsOnly.leftOut == 0 {
					t.Errorf("%s: no item left out of -T fields' tree", c.name)
				}
				if v40 && (c.fields || c.prints) && full.leftOut != 0 {
					t.Errorf("%s: %d items left out of a visible tree with GOTCPDUMP_IGNORE_ARGS set", c.name, full.leftOut)
				}
				if c.prints && fieldsOnly.leftOut != 0 {
					t.Errorf("%s: %d items left out of a tree that tshark prints", c.name, fieldsOnly.leftOut)
				}
			}
		})
	}
}

type renderStats struct {
	out                       string
	added, leftOut, extracted int
}

// splitStats takes statsScript's line out of tshark's output.
func splitStats(t *testing.T, out string) (renderStats, bool) {
	t.Helper()
	m := statsLine.FindStringSubmatchIndex(out)
	if m == nil {
		return renderStats{out: out}, false
	}
	s := renderStats{out: out[:m[0]] + out[m[1]:]}
	for i, p := range []*int{&s.added, &s.leftOut, &s.extracted} {
		n, err := strconv.Atoi(out[m[2+2*i]:m[3+2*i]])
		if err != nil {
			t.Fatal(err)
		}
		*p = n
	}
	return s, true
}
