package tests

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestGogrpcDecodesGzipAndStatuses: gzip messages are decompressed and
// decoded, a message spanning many DATA frames is reassembled, and the
// status of each call is read from its trailers. (Message boundaries,
// lengths and flags are compared with Wireshark's grpc dissector in
// TestGogrpcAgreesWithBuiltinGRPC.)
func TestGogrpcDecodesGzipAndStatuses(t *testing.T) {
	t.Parallel()
	// gzip messages are decompressed and decoded; the 150 KB request is
	// reassembled from the DATA frames it spans.
	gz := tshark(t, pluginEnv, "-r", pcap("grpc_h2c_gzip.pcap"), "-Y", "gogrpc.compressed_flag == 1", "-T", "fields",
		"-e", "gogrpc.encoding", "-e", "gogrpc.decompressed_length", "-e", "gogrpc.pb.string")
	if strings.Count(gz, "gzip\t14\tdemo.Greeter") != 3 {
		t.Errorf("gzip requests not decompressed:\n%s", gz)
	}
	big := tshark(t, pluginEnv, "-r", pcap("grpc_h2c_gzip.pcap"), "-Y", "gogrpc.parts", "-T", "fields", "-e", "gogrpc.parts", "-e", "gogrpc.message_length")
	if !strings.Contains(big, "\t150004") {
		t.Errorf("no reassembled 150 KB message:\n%s", big)
	}
	// Per-call summary and the calls table.
	gzDecode := []string{"-d", "tcp.port==18444,goh2"}
	calls := tshark(t, pluginEnv, append([]string{"-q", "-r", pcap("grpc_h2c_gzip.pcap"), "-z", "gogrpc,calls"}, gzDecode...)...)
	if !regexp.MustCompile(`/grpc.health.v1.Health/Check\s+4\s+1\s.*\[NotFound=1 OK=3\]`).MatchString(calls) ||
		!regexp.MustCompile(`/grpc.health.v1.Health/Watch\s+1\s+1\s.*\[Canceled=1\]`).MatchString(calls) {
		t.Errorf("-z gogrpc,calls:\n%s", calls)
	}
	sum := tshark(t, pluginEnv, append([]string{"-r", pcap("grpc_h2c_gzip.pcap"), "-Y", "gogrpc.call.duration", "-T", "fields",
		"-e", "gogrpc.status", "-e", "gogrpc.call.deadline_exceeded", "-e", "gogrpc.call.request_messages", "-e", "gogrpc.call.response_messages"}, gzDecode...)...)
	sum = boolDigits(sum)
	if strings.Count(sum, "0\t0\t1\t1\n") != 3 || strings.Count(sum, "5\t0\t1\t0\n") != 1 {
		t.Errorf("call summaries (status, exceeded, requests, responses):\n%s", sum)
	}
	file := pcap("grpc_tls_keylog.pcapng")

	st := tshark(t, pluginEnv, "-r", file, "-Y", "gogrpc.status", "-T", "fields", "-e", "gogrpc.method", "-e", "gogrpc.status", "-e", "gogrpc.status_message")
	if !strings.Contains(st, "Check\t0\t") || !strings.Contains(st, "Check\t5\tunknown service") {
		t.Errorf("statuses:\n%s", st)
	}
	if x := tshark(t, pluginEnv, "-r", file, "-Y", "gogrpc.status.error", "-T", "fields", "-e", "_ws.expert.message"); !strings.Contains(x, "ended with NotFound: unknown service") {
		t.Errorf("no expert warning for the NotFound status:\n%s", x)
	}
	raw := tshark(t, pluginEnv, "-r", file, "-Y", "gogrpc.pb.string", "-T", "fields", "-e", "gogrpc.pb.string")
	if !strings.Contains(raw, "demo.Greeter") {
		t.Errorf("raw protobuf decoding lost the request's service name:\n%s", raw)
	}
	one := tshark(t, pluginEnv, "-r", file, "-O", "gogrpc")
	two := withoutFragmentLinks(tshark(t, pluginEnv, "-2", "-r", file, "-O", "gogrpc"))
	if one != two {
		t.Fatalf("tshark -2 differs:\n%s", firstDiff(one, two))
	}
}

// TestGogrpcTypedDecoding: with the descriptor set (testpcaps/grpc_health.pb),
// every message decodes to the type of its method, and its gogrpc.json
// equals what the generating program sent (testpcaps/gen/grpctls,
// gen/grpcgzip and gen/pygrpc), in order, per method and direction. A call
// answered only by trailers has no message.
func TestGogrpcTypedDecoding(t *testing.T) {
	t.Parallel()
	const (
		check, watch = "/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"
		report, each = "/testpcaps.v1.HealthBatch/Report", "/testpcaps.v1.HealthBatch/CheckEach"
		greeter      = `{"service":"demo.Greeter"}`
		serving      = `{"status":"SERVING"}`
		notServing   = `{"status":"NOT_SERVING"}`
	)
	// grpcgzip's large request: 150,000 letters from math/rand seeded 1.
	rng := rand.New(rand.NewSource(1))
	big := make([]byte, 150_000)
	for i := range big {
		big[i] = byte('a' + rng.Intn(26))
	}
	// gen/pygrpc's HealthReport, and its 20,000-character service name.
	pyReport := func(service, status string) string {
		var backends []string
		for i := 0; i < 4; i++ {
			backends = append(backends, fmt.Sprintf("backend-%d %s", i, status))
		}
		return fmt.Sprintf(`{"service":%q,"status":%q,"detail":"%s: %s"}`, service, status, status, strings.Join(backends, ", "))
	}
	pyBig := strings.Repeat("0123456789abcdef", 1250)
	for _, c := range []struct {
		file string
		want map[string][]string // "path direction" -> JSON documents in order
	}{
		{"grpc_tls_keylog.pcapng", map[string][]string{
			check + " request":  {`{}`, greeter, `{"service":"no.such.Service"}`, greeter},
			check + " response": {serving, serving, notServing},
			watch + " request":  {greeter},
			watch + " response": {serving, notServing},
		}},
		{"grpc_h2c_gzip.pcap", map[string][]string{
			check + " request":  {greeter, greeter, greeter, `{"service":"` + string(big) + `"}`},
			check + " response": {serving, serving, serving},
			watch + " request":  {greeter},
			watch + " response": {serving, notServing},
		}},
		{"grpc_python.pcap", map[string][]string{
			check + " request":   {greeter, `{"service":"demo.Billing"}`, `{"service":"no.such.Service"}`},
			check + " response":  {serving, notServing},
			watch + " request":   {greeter},
			watch + " response":  {serving, notServing, serving},
			report + " request":  {pyReport("demo.Greeter", "SERVING"), pyReport("demo.Billing", "NOT_SERVING"), pyReport("demo.Greeter", "SERVING")},
			report + " response": {notServing},
			each + " request":    {greeter, `{"service":"no.such.Service"}`, `{"service":"` + pyBig + `"}`},
			each + " response":   {pyReport("demo.Greeter", "SERVING"), pyReport("no.such.Service", "SERVICE_UNKNOWN"), pyReport(pyBig[:32], "SERVICE_UNKNOWN")},
		}},
	} {
		got := typedMessages(t, c.file)
		n := 0
		for key, want := range c.want {
			if strings.Join(got[key], "\n") != strings.Join(want, "\n") {
				t.Errorf("%s: %s: decoded\n%.300s\nwant\n%.300s", c.file, key, strings.Join(got[key], "\n"), strings.Join(want, "\n"))
			}
			n += len(want)
		}
		for key := range got {
			if c.want[key] == nil {
				t.Errorf("%s: unexpected messages for %s: %.300s", c.file, key, strings.Join(got[key], "\n"))
			}
		}
		t.Logf("%s: %d messages decoded with their types, as sent", c.file, n)
	}
}

// methodTypes are the request and response types of the methods that the
// captures call, as grpc_health.pb declares them.
var methodTypes = map[string][2]string{
	"/grpc.health.v1.Health/Check":        {"grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse"},
	"/grpc.health.v1.Health/Watch":        {"grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse"},
	"/testpcaps.v1.HealthBatch/Report":    {"testpcaps.v1.HealthReport", "grpc.health.v1.HealthCheckResponse"},
	"/testpcaps.v1.HealthBatch/CheckEach": {"grpc.health.v1.HealthCheckRequest", "testpcaps.v1.HealthReport"},
}

// typedMessages decodes a gRPC capture of grpcCaptures with
// grpc_health.pb and returns the gogrpc.json documents by "path
// direction", in capture order. The direction is the one on the wire
// (towards one of the capture's server ports: request), and every message
// must have the type methodTypes gives its method.
func typedMessages(t *testing.T, file string) map[string][]string {
	t.Helper()
	var c grpcCapture
	for _, g := range grpcCaptures {
		if g.file == file {
			c = g
		}
	}
	if c.file == "" {
		t.Fatalf("%s is not in grpcCaptures", file)
	}
	// As JSON, each gogrpc item is an object of its own: a packet may end
	// one call (a reset) and carry another's messages.
	args := append([]string{"-r", pcap(file), "-o", "gogrpc.descriptor_sets:" + pcap("grpc_health.pb"), "-Y", "gogrpc.json",
		"-T", "json", "--no-duplicate-keys", "-j", "tcp gogrpc"}, c.goh2Decode()...)
	var packets []struct {
		Source struct {
			Layers struct {
				TCP struct {
					DstPort string `json:"tcp.dstport"`
				} `json:"tcp"`
				GoGRPC json.RawMessage `json:"gogrpc"`
			} `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal([]byte(tshark(t, pluginEnv, args...)), &packets); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	type item struct {
		Path string `json:"gogrpc.path"`
		Type string `json:"gogrpc.message_type"`
		JSON string `json:"gogrpc.json"`
	}
	got := map[string][]string{}
	for _, p := range packets {
		var items []item
		if err := json.Unmarshal(p.Source.Layers.GoGRPC, &items); err != nil {
			var one item
			if err := json.Unmarshal(p.Source.Layers.GoGRPC, &one); err != nil {
				t.Fatalf("%s: %v in %.300s", file, err, p.Source.Layers.GoGRPC)
			}
			items = []item{one}
		}
		dir := "response"
		if slices.Contains(c.serverPorts, p.Source.Layers.TCP.DstPort) {
			dir = "request"
		}
		for _, it := range items {
			if it.JSON == "" {
				continue // a call's request or status
			}
			want, ok := methodTypes[it.Path]
			if !ok {
				t.Fatalf("%s: unexpected method %q", file, it.Path)
			}
			if w := want[map[string]int{"request": 0, "response": 1}[dir]]; it.Type != w {
				t.Errorf("%s: a %s of %s has type %s, want %s", file, dir, it.Path, it.Type, w)
			}
			key := it.Path + " " + dir
			got[key] = append(got[key], it.JSON)
		}
	}
	return got
}

// TestGogrpcWithoutHeaders: a capture that begins after a call's request
// (its HEADERS, and the HPACK entries that the response's content-type
// refers to, are not in it). Nothing says the stream is gRPC; the
// gogrpc.ports preference names the server's method, and the messages
// then decode with their types again.
func TestGogrpcWithoutHeaders(t *testing.T) {
	t.Parallel()
	full := pcap("grpc_h2c_gzip.pcap")
	req := strings.Fields(tshark(t, pluginEnv, "-r", full, "-Y", `gogrpc.path == "/grpc.health.v1.Health/Watch" && gogrpc.direction == "request"`,
		"-T", "fields", "-e", "frame.number"))
	if len(req) != 1 {
		t.Fatalf("the Watch request is in frames %v", req)
	}
	first, _ := strconv.Atoi(req[0])
	cut := filepath.Join(t.TempDir(), "watch_midstream.pcap")
	if out, err := exec.Command("editcap", "-r", full, cut, strconv.Itoa(first+1)+"-1000000").CombinedOutput(); err != nil {
		t.Fatalf("editcap: %v %s", err, out)
	}
	args := []string{"-r", cut, "-o", "gogrpc.descriptor_sets:" + pcap("grpc_health.pb"), "-Y", "gogrpc.message_length",
		"-T", "fields", "-e", "gogrpc.path", "-e", "gogrpc.direction", "-e", "gogrpc.json"}
	if out := strings.TrimSpace(tshark(t, pluginEnv, args...)); out != "" {
		t.Errorf("without the preference, messages were taken for gRPC:\n%s", out)
	}
	out := tshark(t, pluginEnv, append(args, "-o", "gogrpc.ports:18444=/grpc.health.v1.Health/Watch")...)
	want := "/grpc.health.v1.Health/Watch\tresponse\t{\"status\":\"SERVING\"}\n/grpc.health.v1.Health/Watch\tresponse\t{\"status\":\"NOT_SERVING\"}\n"
	if out != want {
		t.Errorf("with gogrpc.ports:\n%s\nwant\n%s", out, want)
	}
}

// TestGogrpcMidConnection: a capture that begins after the connection's
// first call, as one on a long-lived connection does. The later requests'
// :path, content-type and grpc-encoding refer to HPACK entries it does not
// have; their DATA makes them gRPC, and the gzip messages inflate by their
// magic number, to what the whole capture shows for the same frames.
func TestGogrpcMidConnection(t *testing.T) {
	t.Parallel()
	full := pcap("grpc_h2c_gzip.pcap")
	ended := strings.Fields(tshark(t, pluginEnv, "-r", full, "-Y", "gogrpc.status", "-T", "fields", "-e", "frame.number"))
	if len(ended) == 0 {
		t.Fatal("no call ends in the capture")
	}
	first, _ := strconv.Atoi(ended[0])
	cut := filepath.Join(t.TempDir(), "gzip_midconnection.pcap")
	if out, err := exec.Command("editcap", "-r", full, cut, strconv.Itoa(first+1)+"-1000000").CombinedOutput(); err != nil {
		t.Fatalf("editcap: %v %s", err, out)
	}
	fields := []string{"-Y", "gogrpc.message_length", "-T", "fields", "-e", "frame.number", "-e", "gogrpc.message_length",
		"-e", "gogrpc.compressed_flag", "-e", "gogrpc.decompressed_length"}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(tshark(t, pluginEnv, append([]string{"-r", full}, fields...)...)), "\n") {
		no, rest, _ := strings.Cut(line, "\t")
		if n, _ := strconv.Atoi(no); n > first {
			want = append(want, strconv.Itoa(n-first)+"\t"+rest)
		}
	}
	got := strings.Split(strings.TrimSpace(tshark(t, pluginEnv, append([]string{"-r", cut}, fields...)...)), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages after the cut:\n%s\nwant (the whole capture's)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(strings.Join(want, "\n"), "\t1\t") {
		t.Fatal("no compressed message after the cut")
	}
	experts := tshark(t, pluginEnv, "-r", cut, "-Y", "gogrpc", "-T", "fields", "-e", "_ws.expert.message")
	for _, s := range []string{"Taken for gRPC by its DATA", "gzip, by the message's magic number"} {
		if !strings.Contains(experts, s) {
			t.Errorf("no expert info %q:\n%s", s, experts)
		}
	}
	if strings.Contains(experts, "not decompressed") {
		t.Errorf("a message not decompressed:\n%s", experts)
	}

	// Every call that ends after the cut is in the calls table, or in its
	// count of calls whose status (trailers that refer to HPACK entries
	// not captured) cannot be read: none goes missing without a word.
	table := tshark(t, pluginEnv, "-q", "-r", cut, "-z", "gogrpc,calls")
	counted, notCounted := 0, 0
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 2 && strings.HasPrefix(f[0], "/") {
			n, _ := strconv.Atoi(f[1])
			counted += n
		}
		if _, err := fmt.Sscanf(line, "(%d more", &notCounted); err == nil && !strings.Contains(line, "ended with a status not captured: not counted") {
			t.Errorf("the line %q", line)
		}
	}
	if notCounted == 0 || counted+notCounted != len(ended)-1 {
		t.Errorf("-z gogrpc,calls after the cut: %d calls counted and %d not; %d end after the cut:\n%s", counted, notCounted, len(ended)-1, table)
	}
}

// TestDisabledGogrpc: --disable-protocol gogrpc (or unticking it under
// Analyze > Enabled Protocols) leaves no gRPC item, expert info or call
// on HTTP/2 either, which goh2 decodes itself, and changes nothing of
// goh2's frames.
func TestDisabledGogrpc(t *testing.T) {
	t.Parallel()
	off := []string{"--disable-protocol", "gogrpc"}
	for _, file := range []string{"grpc_python.pcap", "grpc_h2c_gzip.pcap"} {
		t.Run(file, func(t *testing.T) {
			run := func(extra []string, args ...string) string {
				return tshark(t, pluginEnv, append(append([]string{"-r", pcap(file)}, extra...), args...)...)
			}
			if on := run(nil, "-Y", "gogrpc"); strings.TrimSpace(on) == "" {
				t.Fatal("no gogrpc items with gogrpc enabled")
			}
			if got := run(off, "-Y", "gogrpc"); strings.TrimSpace(got) != "" {
				t.Errorf("gogrpc disabled, frames with gogrpc items:\n%s", got)
			}
			if got := run(off, "-q", "-z", "gogrpc,calls"); strings.Contains(got, "/grpc.") {
				t.Errorf("gogrpc disabled, calls:\n%s", got)
			}
			if got := run(off, "-q", "-z", "expert"); strings.Contains(strings.ToLower(got), "grpc") {
				t.Errorf("gogrpc disabled, expert infos:\n%s", got)
			}
			frames := []string{"-T", "fields", "-e", "frame.number", "-e", "goh2.type", "-e", "goh2.streamid", "-e", "goh2.length", "-e", "goh2.header.name"}
			if on, got := run(nil, frames...), run(off, frames...); got != on {
				t.Errorf("gogrpc disabled, goh2's frames differ:\n%s", firstDiff(on, got))
			}
		})
	}
}

// TestGogrpcExpertsFiledUnderGogrpc: gogrpc's expert infos come from
// goh2's call into Go, but Wireshark files them under gogrpc (-z
// expert's Protocol column, the Expert Information dialog), on the C
// path and the Lua one.
func TestGogrpcExpertsFiledUnderGogrpc(t *testing.T) {
	t.Parallel()
	luaEnv := append(append([]string(nil), pluginEnv...), "GOTCPDUMP_LUA_DISSECTOR=1")
	for _, env := range [][]string{pluginEnv, luaEnv} {
		out := tshark(t, env, "-q", "-r", pcap("grpc_h2c_gzip.pcap"), "-z", "expert")
		status, rst := 0, 0
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			switch {
			case strings.Contains(line, "ended with"):
				status++
				if len(f) < 3 || f[2] != "GOGRPC" {
					t.Errorf("a gRPC status filed under %v: %q", f[2:3], line)
				}
			case strings.Contains(line, "RST_STREAM["):
				rst++
				if len(f) < 3 || f[2] != "GOH2" {
					t.Errorf("an HTTP/2 reset filed under %v: %q", f[2:3], line)
				}
			}
		}
		if status == 0 || rst == 0 {
			t.Errorf("%d gRPC status and %d RST_STREAM expert infos in:\n%s", status, rst, out)
		}
	}
}

// TestGogrpcFailedCalls: on grpc_failures.pcap, each call ends with the
// status grpc-go's client reported for it when the capture was made
// (testpcaps/gen/grpcfail checks them): the status a server sent, also
// when its header block goes on in a CONTINUATION; a reset, and
// DEADLINE_EXCEEDED for one at the call's grpc-timeout; and for a server
// that sent no usable grpc-status, what the client makes of the HTTP
// status, the missing trailers or grpc-status. Every call has its summary
// and is counted in -z gogrpc,calls.
func TestGogrpcFailedCalls(t *testing.T) {
	t.Parallel()
	file := pcap("grpc_failures.pcap")
	want := map[string]struct {
		code int
		from string
	}{
		"/demo.Fail/Ok":          {0, ""},
		"/demo.Fail/BigStatus":   {8, ""},
		"/demo.Fail/Slow":        {4, "RST_STREAM CANCEL at its grpc-timeout"},
		"/demo.Fail/Cancel":      {1, "RST_STREAM CANCEL"},
		"/demo.Fail/Details":     {3, ""},
		"/demo.Fail/Unavailable": {14, `HTTP status 503 Service Unavailable, content-type "text/plain; charset=utf-8"`},
		"/demo.Fail/NotFound":    {12, `HTTP status 404 Not Found, content-type "text/plain; charset=utf-8"`},
		"/demo.Fail/NoTrailers":  {13, "stream ended without trailers"},
		"/demo.Fail/NoStatus":    {2, "trailers without grpc-status"},
		"/demo.Fail/BadStatus":   {2, `malformed grpc-status "abc"`},
	}
	out := tshark(t, pluginEnv, "-r", file, "-Y", "gogrpc.status", "-T", "fields", "-E", "occurrence=l",
		"-e", "gogrpc.path", "-e", "gogrpc.status", "-e", "gogrpc.status_from", "-e", "gogrpc.call.duration", "-e", "gogrpc.call.deadline_exceeded", "-e", "gogrpc.status_message")
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		w, ok := want[f[0]]
		if !ok || seen[f[0]] {
			t.Errorf("unexpected status: %q", line)
			continue
		}
		seen[f[0]] = true
		if f[1] != strconv.Itoa(w.code) || f[2] != w.from || f[3] == "" {
			t.Errorf("%s: status %s from %q, duration %q; want %d from %q", f[0], f[1], f[2], f[3], w.code, w.from)
		}
		if f[0] == "/demo.Fail/Slow" && boolDigits(f[4]) != "1" {
			t.Errorf("%s: deadline_exceeded %q", f[0], f[4])
		}
		// 1,000 lines, percent-encoded by grpc-go; -T fields shows each
		// newline as \n.
		if f[0] == "/demo.Fail/BigStatus" && f[5] != strings.Repeat(`quota exceeded for tenant 42;\n`, 1000) {
			t.Errorf("%s: message %.100q… of %d characters", f[0], f[5], len(f[5]))
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d calls with a status, want %d:\n%s", len(seen), len(want), out)
	}
	// The status the server sent is the one Wireshark's http2 shows in the
	// same frame (for BigStatus, in the CONTINUATION).
	builtin := tshark(t, plainEnv, "-r", file, "-d", "tcp.port==18448,http2", "-d", "tcp.port==18449,http2",
		"-Y", `http2.header.name == "grpc-status"`, "-T", "fields", "-e", "frame.number", "-e", "http2.type")
	ours := tshark(t, pluginEnv, "-r", file, "-Y", `gogrpc.status and (not gogrpc.status_from or gogrpc.status_from contains "malformed grpc-status")`, "-T", "fields", "-e", "frame.number")
	var withStatus []string
	for _, line := range strings.Split(strings.TrimSpace(builtin), "\n") {
		f := strings.Split(line, "\t")
		withStatus = append(withStatus, f[0])
		if strings.HasSuffix(f[1], ",9") {
			t.Logf("grpc-status in a CONTINUATION in frame %s", f[0])
		}
	}
	if got := strings.Fields(ours); !slices.Equal(got, withStatus) {
		t.Errorf("statuses sent in frames %v (Wireshark's http2), gogrpc shows them in %v", withStatus, got)
	}
	// -z expert prints a message a line: the newlines of the status
	// message are escaped.
	expert := tshark(t, pluginEnv, "-q", "-r", file, "-z", "expert")
	if n := strings.Count(expert, "/demo.Fail/BigStatus ended with ResourceExhausted: quota exceeded for tenant 42;\\nquota"); n != 1 || strings.Contains(expert, "\nquota") {
		t.Errorf("-z expert: %d lines for BigStatus, or its message's newlines were not escaped:\n%.2000s", n, expert)
	}
	calls := tshark(t, pluginEnv, "-q", "-r", file, "-z", "gogrpc,calls")
	for path, w := range want {
		name := []string{"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "", "", "", "ResourceExhausted", "", "", "", "Unimplemented", "Internal", "Unavailable"}[w.code]
		if !regexp.MustCompile(regexp.QuoteMeta(path) + `\s+1\s.*\[` + name + `=1\]`).MatchString(calls) {
			t.Errorf("-z gogrpc,calls has no %s ended %s:\n%s", path, name, calls)
		}
	}
	// The bodies of responses that are not gRPC (the 503's and 404's
	// text) hold no messages; the only message that ends early is none.
	if out := tshark(t, pluginEnv, "-r", file, "-Y", `gogrpc.message_incomplete or (gogrpc.direction == "response" and gogrpc.message_length and (gogrpc.path contains "Unavailable" or gogrpc.path contains "NotFound"))`,
		"-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"); out != "" {
		t.Errorf("messages read from bodies that are not gRPC:\n%s", out)
	}
	// grpc-status-details-bin: google.rpc error details, decoded with
	// their types from the descriptor sets, raw without them.
	details := func(args ...string) string {
		return tshark(t, pluginEnv, append([]string{"-r", file, "-Y", `gogrpc.path == "/demo.Fail/Details" && gogrpc.status`, "-T", "fields",
			"-e", "gogrpc.status_detail.type_url", "-e", "gogrpc.json", "-e", "gogrpc.pb.string"}, args...)...)
	}
	typed := details("-o", "gogrpc.descriptor_sets:"+pcap("grpc_health.pb"))
	if want := "type.googleapis.com/google.rpc.BadRequest,type.googleapis.com/google.rpc.RetryInfo\t" +
		`{"fieldViolations":[{"field":"name","description":"must not be empty"}]},{"retryDelay":"1.500s"}` + "\t\n"; typed != want {
		t.Errorf("typed details:\n%q\nwant\n%q", typed, want)
	}
	if raw := details(); !strings.Contains(raw, "\t\tname,must not be empty") {
		t.Errorf("raw details: %q", raw)
	}
	one := tshark(t, pluginEnv, "-r", file, "-O", "gogrpc")
	if two := withoutFragmentLinks(tshark(t, pluginEnv, "-2", "-r", file, "-O", "gogrpc")); one != two {
		t.Error("-2 differs from one pass")
	}
}

// TestGogrpcPortsClientSpeaksFirst: a capture that begins inside a
// bidirectional call with the client's next request (a DATA frame). gogrpc.ports keys on
// the server's port, which the first segment names as its destination:
// the call decodes from that request on, as it does when the server
// speaks first (TestGogrpcWithoutHeaders).
func TestGogrpcPortsClientSpeaksFirst(t *testing.T) {
	t.Parallel()
	const each = "/testpcaps.v1.HealthBatch/CheckEach"
	full := pcap("grpc_python.pcap")
	req := strings.Fields(tshark(t, pluginEnv, "-r", full, "-Y", `gogrpc.path == "`+each+`" && gogrpc.direction == "request" && gogrpc.message_length`,
		"-T", "fields", "-e", "frame.number"))
	if len(req) != 3 {
		t.Fatalf("the CheckEach requests are in frames %v", req)
	}
	cut := filepath.Join(t.TempDir(), "checkeach_midstream.pcap")
	if out, err := exec.Command("editcap", "-r", full, cut, req[1]+"-1000000").CombinedOutput(); err != nil {
		t.Fatalf("editcap: %v %s", err, out)
	}
	// Decode As: goh2's heuristics take no connection on a lone DATA frame.
	out := tshark(t, pluginEnv, "-r", cut, "-d", "tcp.port==18445,goh2", "-o", "gogrpc.descriptor_sets:"+pcap("grpc_health.pb"), "-o", "gogrpc.ports:18445="+each,
		"-Y", "gogrpc.message_length", "-T", "fields", "-e", "gogrpc.direction", "-e", "gogrpc.message_type")
	want := "request\tgrpc.health.v1.HealthCheckRequest\nresponse\ttestpcaps.v1.HealthReport\n" +
		"request\tgrpc.health.v1.HealthCheckRequest\nresponse\ttestpcaps.v1.HealthReport\n"
	if out != want {
		t.Errorf("from the client's request on, with gogrpc.ports:\n%s\nwant\n%s", out, want)
	}
}

// TestGogrpcUnknownFields: messages decoded with the wrong types (the
// Check method's request and response types swapped by
// gogrpc.method_types) keep what their types do not declare: the
// request's service name (field 1, a string where HealthCheckResponse has
// an enum) and the response's status (a varint where HealthCheckRequest
// has a string) are shown raw, with an expert note.
func TestGogrpcUnknownFields(t *testing.T) {
	t.Parallel()
	out := tshark(t, pluginEnv, "-r", pcap("grpc_h2c_gzip.pcap"), "-d", "tcp.port==18444,goh2",
		"-o", "gogrpc.descriptor_sets:"+pcap("grpc_health.pb"),
		"-o", "gogrpc.method_types:/grpc.health.v1.Health/Check=grpc.health.v1.HealthCheckResponse,grpc.health.v1.HealthCheckRequest",
		"-Y", `gogrpc.path == "/grpc.health.v1.Health/Check" && gogrpc.json`, "-T", "fields",
		"-e", "gogrpc.direction", "-e", "gogrpc.json", "-e", "gogrpc.pb.string", "-e", "gogrpc.pb.int", "-e", "gogrpc.unknown_fields")
	// direction, JSON, pb.string, pb.int, the expert note's presence.
	want := map[string]int{
		"request\t{}\tdemo.Greeter\t\t1":      3,
		"request\t{}\t(the 150 KB name)\t\t1": 1,
		"response\t{}\t\t1\t1":                3,
	}
	got := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		f[0] = strings.Split(f[0], ",")[0] // the call's item and the message's
		if len(f[2]) > 20 {
			f[2] = "(the 150 KB name)"
		}
		got[strings.Join(f, "\t")]++
	}
	if !maps.Equal(got, want) {
		t.Errorf("messages decoded with the wrong types: %v, want %v", got, want)
	}
	x := tshark(t, pluginEnv, "-q", "-r", pcap("grpc_h2c_gzip.pcap"), "-d", "tcp.port==18444,goh2",
		"-o", "gogrpc.descriptor_sets:"+pcap("grpc_health.pb"),
		"-o", "gogrpc.method_types:/grpc.health.v1.Health/Check=grpc.health.v1.HealthCheckResponse,grpc.health.v1.HealthCheckRequest",
		"-z", "expert,note")
	if !strings.Contains(x, "request: 14 octets of fields that grpc.health.v1.HealthCheckResponse does not declare") {
		t.Errorf("no expert note for the unknown fields:\n%s", x)
	}
}

// TestGogrpcMessagesLostInAGap: a segment left out of a real capture takes
// gRPC messages with it. gogrpc says so once for the stream, resumes at
// the next DATA frame that starts with a message (grpc_python.pcap, the
// client-streaming Report call losing its second message), or decodes no
// more of that direction when none does (grpc_h2c_gzip.pcap, whose 150 KB
// request loses a segment from its middle). Every other message is
// decoded as in the whole capture, the call's counts say they are of the
// decoded messages only, and a second pass shows the same.
func TestGogrpcMessagesLostInAGap(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		file, frame, stream string
		resumed             bool
		lost                string // the message left out, as messages lists it
	}{
		{"grpc_python.pcap", "31", "9", true, "9 request 75"},
		{"grpc_h2c_gzip.pcap", "25", "7", false, "7 request 150004"},
	} {
		t.Run(c.file, func(t *testing.T) {
			cut := filepath.Join(t.TempDir(), "cut.pcap")
			if out, err := exec.Command("editcap", pcap(c.file), cut, c.frame).CombinedOutput(); err != nil {
				t.Fatalf("editcap: %v %s", err, out)
			}
			messages := func(file string, args ...string) []string {
				out := tshark(t, pluginEnv, append([]string{"-r", file, "-Y", "gogrpc.message_length", "-T", "fields",
					"-E", "occurrence=l", "-e", "goh2.streamid", "-e", "gogrpc.direction", "-e", "gogrpc.message_length"}, args...)...)
				return strings.Split(strings.TrimSpace(strings.ReplaceAll(out, "\t", " ")), "\n")
			}
			want := messages(pcap(c.file))
			i := slices.Index(want, c.lost)
			if i < 0 {
				t.Fatalf("no message %q in %s: %q", c.lost, c.file, want)
			}
			want = slices.Delete(want, i, i+1)
			if got := messages(cut); !slices.Equal(got, want) {
				t.Errorf("messages:\n%q\nwant\n%q", got, want)
			}
			if got := messages(cut, "-2"); !slices.Equal(got, want) {
				t.Errorf("messages with -2:\n%q\nwant\n%q", got, want)
			}
			experts := tshark(t, pluginEnv, "-q", "-r", cut, "-z", "expert")
			lost := "stream " + c.stream + ": frames of this direction were lost"
			if strings.Count(experts, "frames of this direction were lost") != 1 || !strings.Contains(experts, lost) ||
				strings.Contains(experts, "decoding resumes") != c.resumed || strings.Contains(experts, " ended after ") {
				t.Errorf("gogrpc's expert infos (resumed: %v):\n%s", c.resumed, experts)
			}
			summary := tshark(t, pluginEnv, "-r", cut, "-Y", "gogrpc.call.request_messages && goh2.streamid == "+c.stream, "-O", "gogrpc")
			if !strings.Contains(summary, "(decoded only: others were lost with frames missing from the capture)") {
				t.Errorf("the call's summary:\n%s", summary)
			}
		})
	}
}

// TestGogrpcCallsAcrossACut: a capture that begins inside a call, whose
// request it lacks and whose trailers-only response refers to HPACK
// entries it does not hold, before anything on the connection shows it
// carries gRPC: the call is counted among those ended with a status not
// captured once the connection does, so the table's calls add up to
// those that end after the cut. (A call reset before any frame of it was
// captured is not counted.)
func TestGogrpcCallsAcrossACut(t *testing.T) {
	t.Parallel()
	full := pcap("grpc_failures.pcap")
	var ends []int
	for _, line := range strings.Split(strings.TrimSpace(tshark(t, pluginEnv, "-r", full, "-Y", "gogrpc.status", "-T", "fields", "-e", "frame.number", "-e", "gogrpc.status")), "\n") {
		no, codes, _ := strings.Cut(line, "\t")
		n, _ := strconv.Atoi(no)
		for range strings.Split(codes, ",") {
			ends = append(ends, n)
		}
	}
	if len(ends) < 3 {
		t.Fatalf("calls end in frames %v", ends)
	}
	// The cuts begin after the first call's end and before the second's:
	// inside the second call, whose request was in an earlier frame.
	for first := ends[0] + 1; first < ends[1]; first++ {
		cut := filepath.Join(t.TempDir(), "cut.pcap")
		if out, err := exec.Command("editcap", "-r", full, cut, strconv.Itoa(first)+"-1000000").CombinedOutput(); err != nil {
			t.Fatalf("editcap: %v %s", err, out)
		}
		table := tshark(t, pluginEnv, "-q", "-r", cut, "-z", "gogrpc,calls")
		got := 0
		for _, line := range strings.Split(table, "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) > 2 && strings.HasPrefix(f[0], "/"):
				n, _ := strconv.Atoi(f[1])
				got += n
			case strings.HasPrefix(line, "(method not known)") && len(f) > 3:
				n, _ := strconv.Atoi(f[3])
				got += n
			case strings.HasPrefix(line, "("):
				var n int
				if _, err := fmt.Sscanf(line, "(%d more", &n); err == nil {
					got += n
				}
			}
		}
		want := 0
		for _, e := range ends {
			if e >= first {
				want++
			}
		}
		if got != want {
			t.Errorf("cut at frame %d: %d calls in -z gogrpc,calls; %d end after the cut:\n%s", first, got, want, table)
		}
	}
}
