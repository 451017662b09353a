package tests

import (
	"regexp"
	"strings"
	"testing"
)

// TestGogrpcWeb: gRPC-Web (testpcaps/grpc_web.pcap, made by
// testpcaps/gen/grpcweb: grpc-go behind improbable-eng/grpc-web, net/http
// clients over HTTP/1.1 on 18446 and h2c on 18447) decodes like gRPC:
// binary (application/grpc-web+proto) and base64 (application/grpc-web-text)
// bodies, messages spanning several TCP segments, and the status of each
// call from the trailers frame (flag 0x80) at the end of the body.
//
// Over HTTP/1.1 the method is http's request line, which gogrpc cannot
// read without making Wireshark build every packet's tree (a field
// extractor), so it comes from gogrpc.ports, as for HTTP/2 streams without
// HEADERS. Check and Watch take the same types, so naming Check for the
// port gives every message its type (and labels the Watch calls Check).
// A call answered trailers-only over HTTP/1.1 (the status in the response
// headers, no body) never reaches a media type's dissector: gogrpc shows
// nothing there, and Wireshark's http shows the grpc-status header.
func TestGogrpcWeb(t *testing.T) {
	t.Parallel()
	const (
		greeter    = `{"service":"demo.Greeter"}`
		unknown    = `{"service":"no.such.Service"}`
		serving    = `{"status":"SERVING"}`
		notServing = `{"status":"NOT_SERVING"}`
		svcUnknown = `{"status":"SERVICE_UNKNOWN"}`
		ports      = "gogrpc.ports:18446=/grpc.health.v1.Health/Check"
	)
	big := `{"service":"` + strings.Repeat("0123456789abcdef", 1500) + `"}`
	file := pcap("grpc_web.pcap")
	// Per server port, path and direction, in capture order.
	want := map[string][]string{
		"18446 Check request":  {greeter, greeter, greeter, unknown, unknown, big},
		"18446 Check response": {serving, serving, serving, notServing, serving, svcUnknown},
		"18447 Check request":  {greeter, big},
		"18447 Check response": {serving},
		"18447 Watch request":  {greeter, unknown},
		"18447 Watch response": {serving, notServing, serving, svcUnknown},
	}
	out := tshark(t, pluginEnv, "-r", file, "-d", "tcp.port==18447,goh2", "-o", "gogrpc.descriptor_sets:"+pcap("grpc_health.pb"), "-o", ports,
		"-Y", "gogrpc.json", "-T", "fields", "-E", "aggregator=\x1f", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "gogrpc.path", "-e", "gogrpc.direction", "-e", "gogrpc.json")
	got := map[string][]string{}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("%.300q", line)
		}
		server := f[0]
		if f[1] == "18446" || f[1] == "18447" {
			server = f[1]
		}
		paths, dirs, docs := strings.Split(f[2], "\x1f"), strings.Split(f[3], "\x1f"), strings.Split(f[4], "\x1f")
		if len(dirs) != len(docs) {
			t.Fatalf("%d directions for %d documents in %.300q", len(dirs), len(docs), line)
		}
		for i := range docs {
			key := server + " " + strings.TrimPrefix(paths[min(i, len(paths)-1)], "/grpc.health.v1.Health/") + " " + dirs[i]
			got[key] = append(got[key], docs[i])
			n++
		}
	}
	for key, w := range want {
		if strings.Join(got[key], "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: decoded\n%.400s\nwant\n%.400s", key, strings.Join(got[key], "\n"), strings.Join(w, "\n"))
		}
	}
	if n != 21 {
		t.Errorf("%d messages decoded with their types, want 21", n)
	}
	t.Logf("grpc_web.pcap: %d messages decoded with their types", n)

	// One status per call that ended in a trailers frame or HEADERS, in
	// call order on each connection.
	st := tshark(t, pluginEnv, "-r", file, "-d", "tcp.port==18447,goh2", "-o", ports, "-Y", "gogrpc.status", "-T", "fields",
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
		"18446 Check 0 ", "18446 Check 0 ", "18446 Check 0 ", // the third is a Watch (see above)
		"18446 Check 5 unknown service", // a Watch after a message: in the trailers frame (base64)
		"18447 Check 0 ", "18447 Watch 0 ",
		"18447 Watch 5 unknown service", // trailers frame
		"18447 Check 5 unknown service", // trailers-only: in the HTTP/2 response HEADERS (then an empty DATA ends the stream)
	}
	if strings.Join(calls, "\n") != strings.Join(wantCalls, "\n") {
		t.Errorf("statuses (server port, method, status, message):\n%s\nwant\n%s", strings.Join(calls, "\n"), strings.Join(wantCalls, "\n"))
	}
	// The two trailers-only answers over HTTP/1.1 carry their status in
	// http's headers only.
	only := tshark(t, pluginEnv, "-r", file, "-Y", `tcp.srcport == 18446 && http.response && !gogrpc`, "-T", "fields", "-e", "http.response.code")
	if strings.Count(strings.TrimSpace(only), "\n") != 1 {
		t.Errorf("want the two trailers-only HTTP/1.1 responses without gogrpc, got:\n%s", only)
	}
	sum := tshark(t, pluginEnv, "-q", "-r", file, "-d", "tcp.port==18447,goh2", "-o", ports, "-z", "gogrpc,calls")
	if !regexp.MustCompile(`/grpc.health.v1.Health/Check\s+6\s+2\s.*\[NotFound=2 OK=4\]`).MatchString(sum) ||
		!regexp.MustCompile(`/grpc.health.v1.Health/Watch\s+2\s+1\s.*\[NotFound=1 OK=1\]`).MatchString(sum) {
		t.Errorf("-z gogrpc,calls:\n%s", sum)
	}

	// The same decoding on a second pass (the tree is not compared: the
	// frames where a message is reassembled are known from the second pass
	// on, and Wireshark's http changes its Info column then).
	fields := []string{"-r", file, "-o", "gogrpc.descriptor_sets:" + pcap("grpc_health.pb"), "-T", "fields",
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
	t.Parallel()
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
	// The request HEADERS (the call's item) and the message share the packet.
	if billing != "request,request\t0\n" {
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

// TestDisabledGogrpcWeb: with gogrpc disabled (--disable-protocol gogrpc,
// or unticking it under Analyze > Enabled Protocols) Wireshark's http
// hands gRPC-Web bodies over HTTP/1.1 to its own grpc, as without the
// plugin, and not to a dissector that is not called (the bodies would be
// left as media); so it does with -o gogrpc.web_http1:FALSE.
func TestDisabledGogrpcWeb(t *testing.T) {
	t.Parallel()
	fields := []string{"-r", pcap("grpc_web.pcap"), "-Y", "tcp.port == 18446 && http",
		"-T", "fields", "-e", "frame.number", "-e", "_ws.col.Protocol", "-e", "grpc.message_length", "-e", "grpc.frame_type"}
	want := tshark(t, plainEnv, fields...)
	if n := strings.Count(want, "GRPC-Web"); n < 5 {
		t.Fatalf("Wireshark alone finds gRPC-Web in %d packets", n)
	}
	if got := tshark(t, pluginEnv, append(fields, "--disable-protocol", "gogrpc")...); got != want {
		t.Errorf("gogrpc disabled, HTTP/1.1 is not shown as by Wireshark alone:\n%s", firstDiff(want, got))
	}
	// So does the preference, with 4.4's own gRPC-Web handles.
	if got := tshark(t, pluginEnv, append(fields, "-o", "gogrpc.web_http1:FALSE")...); got != want {
		t.Errorf("gogrpc.web_http1 off, HTTP/1.1 is not shown as by Wireshark alone:\n%s", firstDiff(want, got))
	}
	if got := tshark(t, pluginEnv, fields...); !strings.Contains(got, "GOGRPC-Web") {
		t.Errorf("gogrpc enabled, no gRPC-Web of its own:\n%s", got)
	}
}
