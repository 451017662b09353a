package tests

import (
	"strings"
	"testing"
)

// TestGogrpcCallsFilter: -z gogrpc,calls,FILTER counts the calls whose
// last packet matches the display filter. A filter that every frame
// matches gives the whole table (over HTTP/2, over HTTP/1.1 gRPC-Web, with
// calls ended by RST_STREAM, and with -2); gogrpc.status != 0 keeps the
// failed call alone; a filter on one method keeps its line as it was; a
// filter that does not compile, or another word than FILTER after
// "calls", is reported and prints no table.
func TestGogrpcCallsFilter(t *testing.T) {
	t.Parallel()
	web := []string{"-d", "tcp.port==18447,goh2", "-o", "gogrpc.ports:18446=/grpc.health.v1.Health/Check"}
	for _, c := range []struct {
		file  string
		extra []string
	}{
		{"grpc_python.pcap", nil},
		{"grpc_h2c_gzip.pcap", []string{"-d", "tcp.port==18444,goh2"}},
		{"grpc_web.pcap", web},
		{"grpc_tls_keylog.pcapng", nil},
	} {
		run := func(z string, pre ...string) string {
			args := append(append([]string{}, pre...), "-q", "-r", pcap(c.file), "-z", z)
			return tshark(t, pluginEnv, append(args, c.extra...)...)
		}
		all := run("gogrpc,calls")
		if strings.Count(all, "\n") < 3 {
			t.Fatalf("%s: no calls:\n%s", c.file, all)
		}
		for _, pre := range [][]string{nil, {"-2"}} {
			got := run("gogrpc,calls,frame", pre...)
			if want := strings.Replace(all, "gRPC calls\n", "gRPC calls\nFilter: frame\n", 1); got != want {
				t.Errorf("%s %v: -z gogrpc,calls,frame:\n%s\nwant\n%s", c.file, pre, got, want)
			}
		}
	}

	file := pcap("grpc_python.pcap")
	all := tshark(t, pluginEnv, "-q", "-r", file, "-z", "gogrpc,calls")
	failed := tshark(t, pluginEnv, "-q", "-r", file, "-z", "gogrpc,calls,gogrpc.status != 0")
	want := "gRPC calls\n" +
		"Filter: gogrpc.status != 0\n" +
		"Method                                               Calls  Errors     p50 ms     p99 ms     max ms  Codes\n" +
		"/grpc.health.v1.Health/Check                             1       1      0.423      0.423      0.423  [NotFound=1]\n"
	if failed != want {
		t.Errorf("-z gogrpc,calls,gogrpc.status != 0:\n%s\nwant\n%s", failed, want)
	}
	const watch = "/grpc.health.v1.Health/Watch"
	one := tshark(t, pluginEnv, "-q", "-r", file, "-z", `gogrpc,calls,gogrpc.path == "`+watch+`"`)
	if line := grepLines(all, watch); line == "" || !strings.HasSuffix(one, "Codes\n"+line+"\n") || strings.Count(one, "\n") != 4 {
		t.Errorf("-z gogrpc,calls,gogrpc.path == %q:\n%s\nwant the line of\n%s", watch, one, all)
	}

	for z, msg := range map[string]string{
		"gogrpc,calls,bad ((": `tshark: gogrpc: -z gogrpc,calls,bad ((: Filter "bad ((" is invalid`,
		"gogrpc,callsx":       "tshark: gogrpc: -z gogrpc,callsx: want -z gogrpc,calls or -z gogrpc,calls,FILTER",
	} {
		out, errText := tsharkStderr(t, pluginEnv, "-q", "-r", file, "-z", z)
		if out != "" || !strings.HasPrefix(errText, msg) || strings.Count(errText, "\n") != 0 {
			t.Errorf("-z %s: stdout\n%s\nstderr\n%s\nwant no table and %q", z, out, errText, msg)
		}
	}
}
