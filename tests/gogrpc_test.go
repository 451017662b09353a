package tests

import (
	"strings"
	"testing"
)

// TestGogrpcAgreesWithBuiltinGRPC: every gRPC message boundary, length
// and compressed flag matches Wireshark's grpc dissector, packet by
// packet; the status of each call is read from its trailers.
func TestGogrpcAgreesWithBuiltinGRPC(t *testing.T) {
	file := pcap("grpc_tls_keylog.pcapng")
	builtin := fieldRows(t, plainEnv, file, nil, "grpc", "grpc.message_length", "grpc.compressed_flag")
	ours := fieldRows(t, pluginEnv, file, nil, "gogrpc.message_length", "gogrpc.message_length", "gogrpc.compressed_flag")
	if len(builtin) == 0 {
		t.Fatal("the built-in grpc dissector decoded nothing")
	}
	messages := 0
	for _, num := range sortedKeys(builtin, ours) {
		b, o := builtin[num], ours[num]
		if b == nil || o == nil || strings.Join(b[0], ",") != strings.Join(o[0], ",") || strings.Join(b[1], ",") != strings.Join(o[1], ",") {
			t.Errorf("packet %s: grpc %q, gogrpc %q", num, b, o)
			continue
		}
		messages += len(b[0])
	}
	t.Logf("compared %d messages in %d packets", messages, len(builtin))

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
	two := tshark(t, pluginEnv, "-2", "-r", file, "-O", "gogrpc")
	if one != two {
		t.Fatalf("tshark -2 differs:\n%s", firstDiff(one, two))
	}
}
