package tests

import (
	"math/rand"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestGogrpcAgreesWithBuiltinGRPC: every gRPC message boundary, length
// and compressed flag matches Wireshark's grpc dissector, packet by
// packet; the status of each call is read from its trailers.
func TestGogrpcAgreesWithBuiltinGRPC(t *testing.T) {
	for _, c := range []capture{
		{"grpc_tls_keylog.pcapng", nil},
		{"grpc_h2c_gzip.pcap", []string{"-d", "tcp.port==18444,http2"}},
	} {
		builtin := fieldRows(t, plainEnv, pcap(c.file), c.decode, "grpc", "grpc.message_length", "grpc.compressed_flag")
		ours := fieldRows(t, pluginEnv, pcap(c.file), nil, "gogrpc.message_length", "gogrpc.message_length", "gogrpc.compressed_flag")
		if len(builtin) == 0 {
			t.Fatalf("%s: the built-in grpc dissector decoded nothing", c.file)
		}
		messages := 0
		for _, num := range sortedKeys(builtin, ours) {
			b, o := builtin[num], ours[num]
			if b == nil || o == nil || strings.Join(b[0], ",") != strings.Join(o[0], ",") || strings.Join(b[1], ",") != strings.Join(o[1], ",") {
				t.Errorf("%s packet %s: grpc %q, gogrpc %q", c.file, num, b, o)
				continue
			}
			messages += len(b[0])
		}
		t.Logf("%s: compared %d messages in %d packets", c.file, messages, len(builtin))
	}

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

// TestGogrpcTypedDecoding: with the health service's descriptor set
// (testpcaps/grpc_health.pb), every message decodes to the type of its
// method, and its gogrpc.json equals what the generating program sent
// (testpcaps/gen/grpctls and gen/grpcgzip), in order, per method and
// direction. A call answered only by trailers has no message.
func TestGogrpcTypedDecoding(t *testing.T) {
	const (
		check, watch = "/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"
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
	} {
		args := []string{"-r", pcap(c.file), "-o", "gogrpc.descriptor_sets:" + pcap("grpc_health.pb"), "-Y", "gogrpc", "-T", "fields",
			"-E", "aggregator=|", "-e", "gogrpc.path", "-e", "gogrpc.direction", "-e", "gogrpc.message_type", "-e", "gogrpc.json"}
		if strings.HasSuffix(c.file, ".pcap") {
			args = append(args, "-d", "tcp.port==18444,goh2")
		}
		got := map[string][]string{}
		for _, line := range strings.Split(strings.TrimSpace(tshark(t, pluginEnv, args...)), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 4 || f[3] == "" {
				continue // a status or summary without a message
			}
			paths, dirs, types, docs := strings.Split(f[0], "|"), strings.Split(f[1], "|"), strings.Split(f[2], "|"), strings.Split(f[3], "|")
			if len(dirs) != len(docs) || len(types) != len(docs) {
				t.Fatalf("%s: %d messages but %d types and %d documents in %q", c.file, len(dirs), len(types), len(docs), line[:min(len(line), 300)])
			}
			for i := range docs {
				want := "grpc.health.v1.HealthCheckResponse"
				if dirs[i] == "request" {
					want = "grpc.health.v1.HealthCheckRequest"
				}
				if types[i] != want {
					t.Errorf("%s: a %s of %s has type %s", c.file, dirs[i], paths[min(i, len(paths)-1)], types[i])
				}
				key := paths[min(i, len(paths)-1)] + " " + dirs[i]
				got[key] = append(got[key], docs[i])
			}
		}
		n := 0
		for key, want := range c.want {
			if strings.Join(got[key], "\n") != strings.Join(want, "\n") {
				t.Errorf("%s: %s: decoded\n%.300s\nwant\n%.300s", c.file, key, strings.Join(got[key], "\n"), strings.Join(want, "\n"))
			}
			n += len(want)
		}
		t.Logf("%s: %d messages decoded with their types, as sent", c.file, n)
	}
}

// TestGogrpcWithoutHeaders: a capture that begins after a call's request
// (its HEADERS, and the HPACK entries that the response's content-type
// refers to, are not in it). Nothing says the stream is gRPC; the
// gogrpc.ports preference names the server's method, and the messages
// then decode with their types again.
func TestGogrpcWithoutHeaders(t *testing.T) {
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
