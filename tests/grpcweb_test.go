package tests

import (
	"regexp"
	"strings"
	"testing"
)

// TestGogrpcWeb: gRPC-Web (testpcaps/grpc_web.pcap, made by
// testpcaps/gen/grpcweb: grpc-go behind improbable-eng/grpc-web, net/http
// clients over HTTP/1.1 and h2c) decodes like gRPC: binary
// (application/grpc-web+proto) and base64 (application/grpc-web-text)
// bodies, messages spanning several TCP segments, and the status of each
// call, from the trailer frame (flag 0x80) at the end of the body or, for
// a call that failed before any message, from the response headers.
func TestGogrpcWeb(t *testing.T) {
	const (
		check, watch = "/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"
		greeter      = `{"service":"demo.Greeter"}`
		unknown      = `{"service":"no.such.Service"}`
		serving      = `{"status":"SERVING"}`
		notServing   = `{"status":"NOT_SERVING"}`
		svcUnknown   = `{"status":"SERVICE_UNKNOWN"}`
	)
	big := `{"service":"` + strings.Repeat("0123456789abcdef", 1500) + `"}`
	// In capture order: the HTTP/1.1 connection, then the h2c one.
	want := map[string][]string{
		check + " request":  {greeter, greeter, unknown, big, greeter, big},
		check + " response": {serving, serving, serving},
		watch + " request":  {greeter, unknown, greeter, unknown},
		watch + " response": {serving, notServing, serving, svcUnknown, serving, notServing, serving, svcUnknown},
	}
	got := typedMessages(t, "grpc_web.pcap")
	n := 0
	for key, w := range want {
		if strings.Join(got[key], "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: decoded\n%.400s\nwant\n%.400s", key, strings.Join(got[key], "\n"), strings.Join(w, "\n"))
		}
		n += len(w)
	}
	t.Logf("grpc_web.pcap: %d messages decoded with their types (%d expected)", len(flatten(got)), n)

	// One status per call, in call order on each connection.
	st := tshark(t, pluginEnv, "-r", pcap("grpc_web.pcap"), "-d", "tcp.port==18447,goh2", "-Y", "gogrpc.status", "-T", "fields",
		"-e", "tcp.srcport", "-e", "gogrpc.path", "-e", "gogrpc.status", "-e", "gogrpc.status_message")
	var calls []string
	for _, line := range strings.Split(strings.TrimSpace(st), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			continue
		}
		path, _, _ := strings.Cut(f[1], ",")
		calls = append(calls, f[0]+" "+strings.TrimPrefix(path, "/grpc.health.v1.Health/")+" "+f[2]+" "+f[3])
	}
	wantCalls := []string{
		"18446 Check 0 ", "18446 Check 0 ", "18446 Watch 0 ",
		"18446 Check 5 unknown service", // trailers-only: the status is in the HTTP/1.1 response headers
		"18446 Watch 5 unknown service", // after a message: in the trailer frame (base64)
		"18446 Check 5 unknown service", // the 24 KB request
		"18447 Check 0 ", "18447 Watch 0 ",
		"18447 Watch 5 unknown service", // trailer frame
		"18447 Check 5 unknown service", // HTTP/2 HEADERS, END_STREAM
	}
	if strings.Join(calls, "\n") != strings.Join(wantCalls, "\n") {
		t.Errorf("statuses (server port, method, status, message):\n%s\nwant\n%s", strings.Join(calls, "\n"), strings.Join(wantCalls, "\n"))
	}
	sum := tshark(t, pluginEnv, "-q", "-r", pcap("grpc_web.pcap"), "-d", "tcp.port==18447,goh2", "-z", "gogrpc,calls")
	if !regexp.MustCompile(`/grpc.health.v1.Health/Check\s+6\s+3\s.*\[NotFound=3 OK=3\]`).MatchString(sum) ||
		!regexp.MustCompile(`/grpc.health.v1.Health/Watch\s+4\s+2\s.*\[NotFound=2 OK=2\]`).MatchString(sum) {
		t.Errorf("-z gogrpc,calls:\n%s", sum)
	}

	// The same decoding on a second pass (the tree is not compared: the
	// frames where a message is reassembled are known from the second pass
	// on, and Wireshark's http changes its Info column then).
	fields := []string{"-r", pcap("grpc_web.pcap"), "-o", "gogrpc.descriptor_sets:" + pcap("grpc_health.pb"), "-T", "fields",
		"-e", "frame.number", "-e", "gogrpc.path", "-e", "gogrpc.direction", "-e", "gogrpc.message_length", "-e", "gogrpc.compressed_flag",
		"-e", "gogrpc.status", "-e", "gogrpc.status_message", "-e", "gogrpc.json"}
	one := tshark(t, pluginEnv, fields...)
	two := tshark(t, pluginEnv, append([]string{"-2"}, fields...)...)
	if one != two {
		t.Errorf("tshark -2 decodes differently:\n%s", firstDiff(one, two))
	}
}

// TestGogrpcPython: the calls of the gRPC C core (testpcaps/grpc_python.pcap,
// made by testpcaps/gen/pygrpc with Debian's python3-grpcio): every kind of
// call with its status, and gzip both ways, including a message that the C
// core left uncompressed under grpc-encoding: gzip. The messages themselves
// are checked in TestGogrpcTypedDecoding.
func TestGogrpcPython(t *testing.T) {
	file := pcap("grpc_python.pcap")
	sum := tshark(t, pluginEnv, "-q", "-r", file, "-z", "gogrpc,calls")
	for _, re := range []string{
		`/grpc.health.v1.Health/Check\s+3\s+1\s.*\[NotFound=1 OK=2\]`,
		`/grpc.health.v1.Health/Watch\s+1\s+0\s.*\[OK=1\]`,
		`/testpcaps.v1.HealthBatch/Report\s+1\s+0\s.*\[OK=1\]`,
		`/testpcaps.v1.HealthBatch/CheckEach\s+1\s+0\s.*\[OK=1\]`,
	} {
		if !regexp.MustCompile(re).MatchString(sum) {
			t.Errorf("-z gogrpc,calls has no line matching %s:\n%s", re, sum)
		}
	}
	// The compressed messages, decompressed; HealthReports only (the C core
	// sends the few octets of a health check uncompressed, even under
	// grpc-encoding: gzip, as the second Check request shows).
	gz := tshark(t, pluginEnv, "-r", file, "-Y", "gogrpc.compressed_flag == 1", "-T", "fields",
		"-e", "gogrpc.path", "-e", "gogrpc.encoding", "-e", "gogrpc.decompressed_length")
	wantGz := "/testpcaps.v1.HealthBatch/Report\tgzip\t101\n" +
		"/testpcaps.v1.HealthBatch/Report\tgzip\t121\n/testpcaps.v1.HealthBatch/Report\tgzip\t101\n" +
		"/testpcaps.v1.HealthBatch/CheckEach\tgzip\t101\n/testpcaps.v1.HealthBatch/CheckEach\tgzip\t144\n/testpcaps.v1.HealthBatch/CheckEach\tgzip\t161\n"
	if gz != wantGz {
		t.Errorf("compressed messages (path, encoding, decompressed length):\n%s\nwant\n%s", gz, wantGz)
	}
	billing := tshark(t, pluginEnv, "-r", file, "-o", "gogrpc.descriptor_sets:"+pcap("grpc_health.pb"), "-Y", `gogrpc.json == "{\"service\":\"demo.Billing\"}"`,
		"-T", "fields", "-e", "gogrpc.direction", "-e", "gogrpc.compressed_flag")
	if billing != "request\t0\n" {
		t.Errorf("the Check request sent under grpc-encoding gzip (direction, flag): %q", billing)
	}
	if x := tshark(t, pluginEnv, "-r", file, "-Y", "gogrpc.decompression_failed || gogrpc.schema_mismatch", "-o", "gogrpc.descriptor_sets:"+pcap("grpc_health.pb")); strings.TrimSpace(x) != "" {
		t.Errorf("messages that did not decompress or decode:\n%s", x)
	}
}

func flatten(m map[string][]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v...)
	}
	return out
}
