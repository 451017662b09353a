// Package tests runs tshark with the installed plugin on the captures in
// testpcaps/ and checks what an analyst would see. Like Wireshark's own
// test fixtures, every run gets a temporary HOME (so the user's plugins
// and preferences are never read or touched) and TZ=UTC.
//
// The tests that only read captures call t.Parallel, and runLimited
// keeps as many tshark processes running as there are cores: each uses
// one. The tests that capture live traffic, time what they run or start
// the GUI stay sequential, and so run alone, before the others, as do
// the kernel's TIME_WAIT scenarios.
//
// The plugin is taken from build/out and lua/: run `make build` first
// (`make test` does).
package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var (
	root      string // repository root
	pluginEnv []string
	plainEnv  []string // no plugin: Wireshark's built-in dissectors only
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	root = filepath.Dir(filepath.Dir(file))
	if _, err := exec.LookPath("tshark"); err != nil {
		fmt.Fprintln(os.Stderr, "tests: tshark is required (make deps installs it)")
		return 1
	}
	tmp, err := os.MkdirTemp("", "gotcpdump-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	home := filepath.Join(tmp, "home")
	plugdir := filepath.Join(home, ".local", "lib", "wireshark", "plugins", "gotcpdump")
	if err := os.MkdirAll(plugdir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, f := range []string{"build/out/libgoparser.so", "build/out/goshim52.so", "build/out/goshim54.so", "lua/goh2.lua", "lua/tcptw.lua", "lua/gotcpdump.luainc"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			fmt.Fprintf(os.Stderr, "tests: %v (run make build)\n", err)
			return 1
		}
		if err := os.WriteFile(filepath.Join(plugdir, filepath.Base(f)), b, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	empty := filepath.Join(tmp, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	base := []string{"PATH=" + os.Getenv("PATH"), "TZ=UTC", "LANG=C.UTF-8"}
	pluginEnv = append([]string{"HOME=" + home}, base...)
	plainEnv = append([]string{"HOME=" + empty}, base...)
	return m.Run()
}

// tshark runs tshark and returns its stdout. Any "Lua Error" in stdout or
// stderr, any other output on stderr, or a non-zero exit, fails the test.
func tshark(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, errText := tsharkStderr(t, env, args...)
	if errText != "" {
		t.Fatalf("tshark %s wrote to stderr:\n%s", strings.Join(args, " "), errText)
	}
	return out
}

// tsharkStderr runs tshark and returns its stdout and its stderr (without
// the warning about running as root); a non-zero exit or a Lua error fails
// the test.
func tsharkStderr(t *testing.T, env []string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command("tshark", args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := runLimited(cmd)
	errText := strings.TrimSpace(strings.ReplaceAll(stderr.String(), `Running as user "root" and group "root". This could be dangerous.`, ""))
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, errText)
	}
	if strings.Contains(stdout.String(), "Lua Error:") || strings.Contains(errText, "Lua Error:") {
		t.Fatalf("tshark %s printed a Lua Error:\n%s%s", strings.Join(args, " "), grepLines(stdout.String(), "Lua Error:"), errText)
	}
	return stdout.String(), errText
}

// cores holds a token for each tshark running: at most one per core.
var cores = make(chan struct{}, runtime.NumCPU())

// runLimited runs cmd once a core is free.
func runLimited(cmd *exec.Cmd) error {
	cores <- struct{}{}
	defer func() { <-cores }()
	return cmd.Run()
}

// parallelUnlessUpdating is t.Parallel for a test that rewrites committed
// files under -update: updating, it runs alone, before the tests that
// read those files, in source order (after the kernel's captures, which
// TestTwreportGolden reports on).
func parallelUnlessUpdating(t *testing.T) {
	if !*update {
		t.Parallel()
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func pcap(name string) string { return filepath.Join(root, "testpcaps", name) }

// goh2Decode is the capture's Decode As for goh2.
func (c capture) goh2Decode() []string {
	var out []string
	for _, a := range c.decode {
		out = append(out, strings.ReplaceAll(a, ",http2", ",goh2"))
	}
	return out
}

// capture is a committed capture and how Wireshark's http2 dissector is
// pointed at it (cleartext h2 needs Decode As; TLS goes by ALPN).
type capture struct {
	file   string
	decode []string
}

var h2Captures = []capture{
	{"h2c_go.pcap", []string{"-d", "tcp.port==18080,http2"}},
	{"h2c_go_midstream.pcap", []string{"-d", "tcp.port==18080,http2"}},
	{"nghttp2_push_padding.pcap", []string{"-d", "tcp.port==18081,http2"}},
	{"grpc_tls_keylog.pcapng", nil},
	{"grpc_h2c_gzip.pcap", []string{"-d", "tcp.port==18444,http2"}},
	{"grpc_python.pcap", []string{"-d", "tcp.port==18445,http2"}},
	{"grpc_web.pcap", []string{"-d", "tcp.port==18447,http2"}}, // and gRPC-Web over HTTP/1.1 on 18446
	{"grpc_failures.pcap", []string{"-d", "tcp.port==18448,http2", "-d", "tcp.port==18449,http2"}},
	{"h2_not_utf8.pcap", []string{"-d", "tcp.port==18096,http2", "-d", "tcp.port==18097,http2", "-d", "tcp.port==18098,http2"}},
	{"h2c_upgrade.pcap", []string{"-d", "tcp.port==18099,http"}}, // HTTP/2 after http's 101
}

// fieldRows runs tshark -T fields and returns one row per packet, keyed by
// frame number; each cell is the list of occurrences of that field.
func fieldRows(t *testing.T, env []string, file string, extra []string, filter string, fields ...string) map[string][][]string {
	t.Helper()
	args := append([]string{"-r", file}, extra...)
	args = append(args, "-Y", filter, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=\x1f", "-e", "frame.number")
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	rows := make(map[string][][]string)
	for _, line := range strings.Split(strings.TrimRight(tshark(t, env, args...), "\n"), "\n") {
		if line == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		var cells [][]string
		for _, c := range cols[1:] {
			if c == "" {
				cells = append(cells, nil)
			} else {
				cells = append(cells, strings.Split(c, "\x1f"))
			}
		}
		rows[cols[0]] = cells
	}
	return rows
}

// goBuild builds the package pkg of this module into dir and returns the
// binary's path.
func goBuild(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	b := exec.Command("go", "build", "-o", out, pkg)
	b.Dir = root
	if o, err := b.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, o)
	}
	return out
}
