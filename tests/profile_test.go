package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestProfile: with the "gotcpdump" profile (tshark -C gotcpdump), the
// summary lines carry the gRPC and TIME_WAIT columns, the coloring rules
// color RSTs and failed gRPC calls, and every display filter of the
// coloring rules and I/O graphs compiles with the plugin's fields.
func TestProfile(t *testing.T) {
	t.Parallel()
	home := strings.TrimPrefix(pluginEnv[0], "HOME=")
	profDir := filepath.Join(home, ".config", "wireshark", "profiles", "gotcpdump")
	if err := os.MkdirAll(profDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"preferences", "colorfilters", "io_graphs"} {
		b, err := os.ReadFile(filepath.Join(root, "profile", "gotcpdump", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(profDir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	defer os.RemoveAll(filepath.Join(home, ".config"))

	// Columns: the storm's server holds TIME_WAIT, and the column says so.
	lines := tshark(t, pluginEnv, "-C", "gotcpdump", "-r", pcap("tw_healthz_storm.pcap"), "-Y", "tcptw.tw_enter")
	if !regexp.MustCompile(`10\.251\.\d+\.2\S*\s+\d+`).MatchString(lines) {
		t.Errorf("no TIME_WAIT holder and population columns:\n%.600s", lines)
	}
	grpc := tshark(t, pluginEnv, "-C", "gotcpdump", "-r", pcap("grpc_tls_keylog.pcapng"), "-Y", "gogrpc.status == 5")
	if !strings.Contains(grpc, "/grpc.health.v1.Health/Check") {
		t.Errorf("no gRPC method column on the NOT_FOUND call:\n%s", grpc)
	}

	// Coloring rules (tshark applies them with --color).
	for _, c := range []struct{ file, filter, rule string }{
		{"tw_linger0.pcap", "tcp.flags.reset == 1", "gotcpdump: TCP RST"},
		{"grpc_tls_keylog.pcapng", "gogrpc.status == 5", "gotcpdump: gRPC error status"},
		{"tw_tuple_reuse.pcap", "tcptw.reuse", "gotcpdump: TIME_WAIT reuse"},
	} {
		out := tshark(t, pluginEnv, "-C", "gotcpdump", "--color", "-r", pcap(c.file), "-Y", c.filter, "-T", "fields", "-e", "frame.coloring_rule.name")
		if strings.TrimSpace(out) == "" || strings.Count(out, c.rule) != strings.Count(out, "\n") {
			t.Errorf("%s, %s: coloring rules %q, want %q on every packet", c.file, c.filter, out, c.rule)
		}
	}

	// Every filter of the coloring rules and I/O graphs compiles.
	var filters []string
	cf, _ := os.ReadFile(filepath.Join(profDir, "colorfilters"))
	for _, line := range strings.Split(string(cf), "\n") {
		if f := strings.Split(line, "@"); len(f) >= 3 && strings.HasPrefix(line, "@") {
			filters = append(filters, f[2])
		}
	}
	io, _ := os.ReadFile(filepath.Join(profDir, "io_graphs"))
	for _, line := range strings.Split(strings.TrimSpace(string(io)), "\n") {
		if f := strings.Split(line, `","`); len(f) == 9 && f[2] != "" {
			filters = append(filters, f[2])
		}
	}
	if len(filters) < 10 {
		t.Fatalf("only %d filters found", len(filters))
	}
	for _, f := range filters {
		tshark(t, pluginEnv, "-r", pcap("tw_linger0.pcap"), "-c", "1", "-Y", f) // fails the test if the filter does not compile
	}
}
