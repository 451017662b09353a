package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// statsScript, a plugin of its own (a script given with -X lua_script
// keeps the whole tree), prints when tshark ends the items that the shim
// has added and left out below the top, and whether it has found that
// tshark makes one pass (goshim.stats).
const statsScript = `
local tap = Listener.new("frame")
function tap.draw()
    local added, left, one = package.loaded["gotcpdump.common"].shim.stats()
    io.write(string.format("goshim.stats added %d left_out %d one_pass %s\n", added, left, tostring(one)))
end
`

// readersScript reads the plugin's fields as other scripts would: a Field
// extractor of a field that no -e option names, and a postdissector that
// asks for every field (all_field_infos), which makes the tree visible.
const readersScript = `
local names = Field.new("goh2.header.name")
local extracted, all = 0, 0
local p = Proto("zzreaders", "reads the plugin's fields")
function p.dissector()
    extracted = extracted + #{ names() }
    for _, fi in ipairs({ all_field_infos() }) do
        if fi.name:match("^goh2") or fi.name:match("^gogrpc") or fi.name:match("^tcptw") then
            all = all + 1
        end
    end
end
register_postdissector(p, true)
local tap = Listener.new("frame")
function tap.draw()
    io.write(string.format("readers extracted %d all %d\n", extracted, all))
end
`

var statsLine = regexp.MustCompile(`(?m)^goshim\.stats added ([0-9]+) left_out ([0-9]+) one_pass (true|false)\n`)

// TestTsharkArgs: on tshark 4.0 and 4.4 the shim reads tshark's command
// line (cshim/tshark_args.c). Without -2, Go keeps no result for later
// passes; for -T fields, whose tree tshark 4.0 makes visible, it adds only
// the items whose fields an -e option names or something else reads.
// What tshark prints must be what it prints when the shim ignores the
// command line (GOTCPDUMP_IGNORE_ARGS): the -e fields, fields that only a
// display filter or a tap reads, expert infos, -2's output, which needs
// the results kept, and what scripts read, among them one that asks for
// every field. On 4.0 the items must really be left out with -T fields
// and kept with -V; on 4.4 the tree of -T fields is invisible anyway.
func TestTsharkArgs(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	plugins := filepath.Join(home, ".local", "lib", "wireshark", "plugins")
	if err := os.CopyFS(filepath.Join(plugins, "gotcpdump"), os.DirFS(filepath.Join(strings.TrimPrefix(pluginEnv[0], "HOME="), ".local", "lib", "wireshark", "plugins", "gotcpdump"))); err != nil {
		t.Fatal(err)
	}
	readers := filepath.Join(home, "readers.lua")
	for name, text := range map[string]string{filepath.Join(plugins, "stats.lua"): statsScript, readers: readersScript} {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append([]string{"HOME=" + home}, pluginEnv[1:]...)
	ignoring := append([]string{"GOTCPDUMP_IGNORE_ARGS=1"}, env...)
	_, minor, readsArgs := argsRead(t)
	v40 := readsArgs && minor == 0
	caps := []string{"tw_healthz_storm.pcap"}
	for _, c := range h2Captures {
		caps = append(caps, c.file)
	}
	cases := []struct {
		name    string
		args    []string
		fields  bool // -T fields, single pass
		prints  bool // the whole tree: -V, or a script that asks for every field
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
		{"-2 after -E", []string{"-T", "fields", "-E", "occurrence=f", "-e", "frame.number", "-e", "gogrpc.path", "-2", "-Y", "goh2 || tcptw",
			"-e", "goh2.header.value"}, false, false, true},
		// tshark takes the log options out first, wherever they are:
		// the -2 is not the second -S's argument.
		{"log option as an argument", []string{"-S", "--log-level=critical", "-S", "-2", "-T", "fields", "-e", "frame.number",
			"-e", "goh2.streamid", "-e", "tcptw.closer"}, false, false, true},
		{"tap", []string{"-T", "fields", "-e", "frame.number", "-e", "goh2.length", "-z", "gogrpc,calls", "-z", "expert"}, true, false, false},
		{"no tree", []string{"-q", "-z", "expert", "-z", "conv,tcp"}, false, false, false},
		{"invisible tree", []string{"-q", "-Y", "goh2 || tcptw", "-z", "io,phs"}, false, false, false},
		{"verbose", []string{"-V"}, false, true, false},
		// The whole tree for a script that asks for every field, on both
		// passes of -2.
		{"scripts", []string{"-X", "lua_script:" + readers, "-T", "fields", "-e", "frame.number", "-e", "goh2.streamid"}, false, true, false},
		{"scripts, two passes", []string{"-2", "-X", "lua_script:" + readers, "-T", "fields", "-e", "frame.number", "-e", "gogrpc.path",
			"-e", "_ws.expert.message"}, false, true, true},
	}
	for _, capture := range caps {
		t.Run(capture, func(t *testing.T) {
			for _, c := range cases {
				args := append([]string{"-r", pcap(capture)}, c.args...)
				fieldsOnly, ok := splitStats(t, tshark(t, env, args...))
				full, fullOk := splitStats(t, tshark(t, ignoring, args...))
				if !ok || !fullOk {
					t.Fatalf("%s: no goshim.stats line", c.name)
				}
				if fieldsOnly.out != full.out {
					t.Errorf("%s: tshark %s differs from its output when the shim ignores the command line (second):\n%s",
						c.name, strings.Join(c.args, " "), firstDiff(fieldsOnly.out, full.out))
				}
				if readsArgs && fieldsOnly.onePass == c.twoPass {
					t.Errorf("%s: the shim found one pass %v, for tshark %s", c.name, fieldsOnly.onePass, strings.Join(c.args, " "))
				}
				if full.onePass {
					t.Errorf("%s: the shim found one pass with GOTCPDUMP_IGNORE_ARGS set", c.name)
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
				if c.prints && !c.twoPass && fieldsOnly.leftOut != 0 {
					t.Errorf("%s: %d items left out of a tree that tshark prints", c.name, fieldsOnly.leftOut)
				}
			}
		})
	}
}

// TestTsharkOptionTables: the options that the shim knows of this tshark
// (cshim/tshark_args.c) must be those that tshark hands to its option
// parser, which a preloaded library (cshim/getopt_probe.c) reads from the
// running tshark: with one missing, the shim understands nothing; with an
// arity wrong, it misreads every option after it, and may miss a -2.
func TestTsharkOptionTables(t *testing.T) {
	t.Parallel()
	minor := skipUnlessArgsRead(t)
	probe := filepath.Join(root, "build", "out", "getopt_probe.so")
	if _, err := os.Stat(probe); err != nil {
		t.Fatalf("%v (make test-tshark builds it)", err)
	}
	cmd := exec.Command("tshark", "-r", filepath.Join(t.TempDir(), "none.pcap"))
	cmd.Env = append([]string{"LD_PRELOAD=" + probe}, plainEnv...)
	out, _ := cmd.CombinedOutput() // tshark fails: there is no such file
	var sets []string
	var set strings.Builder
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case line == "getopt end":
			sets = append(sets, set.String())
			set.Reset()
		case strings.HasPrefix(line, "getopt "):
			set.WriteString(line + "\n")
		}
	}
	if len(sets) == 0 {
		t.Fatalf("tshark with %s printed no options:\n%s", probe, out)
	}
	theirs := sets[0]
	for _, s := range sets[1:] {
		if s != theirs {
			t.Fatalf("tshark parses its options with two tables:\n%s\n%s", theirs, s)
		}
	}
	// "+": options end at the first operand, as the shim's parser does.
	theirs, ok := strings.CutPrefix(theirs, "getopt optstring +")
	if !ok {
		t.Fatalf("tshark's short options do not begin with '+':\n%s", sets[0])
	}
	ours, err := exec.Command(filepath.Join(root, "build", "out", "tshark_args_test"), "--options", "4."+strconv.Itoa(minor)).Output()
	if err != nil {
		t.Fatalf("tshark_args_test --options: %v (make test-tshark builds it)", err)
	}
	sorted := func(s string) []string {
		lines := strings.Split(strings.TrimSpace(s), "\n")
		slices.Sort(lines)
		return lines
	}
	if got, want := sorted(strings.TrimPrefix(string(ours), "getopt optstring ")), sorted(theirs); !slices.Equal(got, want) {
		t.Errorf("the shim's options of tshark 4.%d (cshim/tshark_args.c):\n%s\ntshark's:\n%s", minor,
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTsharkArgsTwoPassesVisible: a script that asks for every field makes
// tshark -2's first pass visible (with -R, which makes it build a tree),
// which alone would pass for tshark's single pass; on 4.0 and 4.4 the
// command line says -2, and the results are kept for the second pass.
func TestTsharkArgsTwoPassesVisible(t *testing.T) {
	t.Parallel()
	skipUnlessArgsRead(t)
	readers := filepath.Join(t.TempDir(), "readers.lua")
	if err := os.WriteFile(readers, []byte(readersScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out := tshark(t, pluginEnv, "-2", "-R", "goh2 || tcp", "-X", "lua_script:"+readers, "-r", pcap("grpc_python.pcap"),
		"-T", "fields", "-e", "frame.number", "-e", "gogrpc.path", "-e", "_ws.expert.message")
	if strings.Contains(out, "was not kept") || !strings.Contains(out, "/grpc.health.v1.Health/Check") {
		t.Errorf("tshark -2 with a visible first pass:\n%s", out)
	}
}

// argsRead says whether the shim reads this tshark's command line:
// cshim/tshark_args.c knows the options of 4.0 and 4.4.
func argsRead(t *testing.T) (major, minor int, ok bool) {
	t.Helper()
	major, minor = wiresharkVersion(t)
	return major, minor, major == 4 && (minor == 0 || minor == 4)
}

// skipUnlessArgsRead skips a test of what the shim reads from tshark's
// command line on other versions, and returns the minor version.
func skipUnlessArgsRead(t *testing.T) int {
	t.Helper()
	major, minor, ok := argsRead(t)
	if !ok {
		t.Skipf("the shim reads the command line of tshark 4.0 and 4.4, not %d.%d's", major, minor)
	}
	return minor
}

type renderStats struct {
	out            string
	added, leftOut int
	onePass        bool
}

// splitStats takes statsScript's line out of tshark's output.
func splitStats(t *testing.T, out string) (renderStats, bool) {
	t.Helper()
	m := statsLine.FindStringSubmatchIndex(out)
	if m == nil {
		return renderStats{out: out}, false
	}
	s := renderStats{out: out[:m[0]] + out[m[1]:]}
	for i, p := range []*int{&s.added, &s.leftOut} {
		n, err := strconv.Atoi(out[m[2+2*i]:m[3+2*i]])
		if err != nil {
			t.Fatal(err)
		}
		*p = n
	}
	s.onePass = out[m[6]:m[7]] == "true"
	return s, true
}
