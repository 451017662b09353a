package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/gotcpdump/gotcpdump/goparser/result"
)

// TestGRPCOptionsDropOnlyBadEntries: a bad entry in gogrpc.ports or
// gogrpc.method_types, or a descriptor set that cannot be read, is named
// in the result and left out; the other entries, the readable sets, the
// limits and the on/off switch are applied.
func TestGRPCOptionsDropOnlyBadEntries(t *testing.T) {
	reset()
	defer func() {
		call(opGRPCOpts, nil, "\n\n", nil, make([]byte, 64))
		reset()
	}()
	health := filepath.Join("..", "..", "testpcaps", "grpc_health.pb")
	key := "/nonexistent.pb:" + health + "\n" +
		"/x=nonexist.Type;/a.B/C=grpc.health.v1.HealthCheckRequest\n" +
		"garbage;18444=/grpc.health.v1.Health/Watch;70000=/x/y"
	dst := make([]byte, 4096)
	n, st := call(opGRPCOpts, []int64{1000, 2000, 30, 40, 1}, key, nil, dst)
	if st != statusOK {
		t.Fatalf("status %d: %s", st, dst[:n])
	}
	v, _, err := result.Decode(dst[:n])
	if err != nil {
		t.Fatal(err)
	}
	problems := strings.Split(v.(string), "\n")
	for i, want := range []string{
		`gogrpc.ports: "garbage" is not PORT=/pkg.Service/Method; entry ignored`,
		`gogrpc.ports: "70000=/x/y" is not PORT=/pkg.Service/Method; entry ignored`,
		"gogrpc.descriptor_sets: pbschema: open /nonexistent.pb: no such file or directory; its types are not used",
		`gogrpc.method_types: pbschema: type not found: nonexist.Type (in "/x=nonexist.Type"); entry ignored`,
	} {
		if i >= len(problems) || problems[i] != want {
			t.Errorf("problem %d: got %q, want %q", i, problems[min(i, len(problems)-1)], want)
		}
	}
	if len(problems) != 4 {
		t.Errorf("%d problems: %q", len(problems), problems)
	}
	if len(state.gports) != 1 || state.gports[18444] != "/grpc.health.v1.Health/Watch" {
		t.Errorf("ports %v", state.gports)
	}
	if _, _, ok := state.schema.Types("/grpc.health.v1.Health/Check"); !ok {
		t.Error("the readable descriptor set was not applied")
	}
	if _, _, ok := state.schema.Types("/a.B/C"); !ok {
		t.Error("the good method_types entry was not applied")
	}
	if state.glimits.MaxMessage != 1000 || state.glimits.MaxDepth != 40 {
		t.Errorf("limits %+v", state.glimits)
	}

	// The preference's 0 is no nesting, not the default.
	if _, st := call(opGRPCOpts, []int64{1000, 2000, 30, 0, 1}, "\n\n", nil, dst); st != statusOK || state.glimits.MaxDepth != -1 {
		t.Errorf("max depth 0: status %d, limits %+v", st, state.glimits)
	}

	// Nothing wrong: no problems. Only an unreadable set: no schema.
	for _, c := range []struct{ key, want string }{
		{"\n\n18444=", ""},
		{"/nonexistent.pb\n\n", "gogrpc.descriptor_sets: pbschema: open /nonexistent.pb: no such file or directory; its types are not used"},
	} {
		n, st = call(opGRPCOpts, []int64{1000, 2000, 30, 40, 1}, c.key, nil, dst)
		v, _, err = result.Decode(dst[:n])
		if st != statusOK || err != nil || v != c.want {
			t.Errorf("%q: status %d, %q, %v; want %q", c.key, st, v, err, c.want)
		}
	}
	if state.schema != nil {
		t.Error("a schema without types")
	}
}

// TestGRPCCallsByFrame: once asked (-z gogrpc,calls,FILTER), the calls are
// kept with their frames, through a reset (Wireshark's init for a file),
// and the table of some frames is made; a bad frame list is an error.
func TestGRPCCallsByFrame(t *testing.T) {
	defer func() { state.callFrames = false; reset() }()
	reset()
	dst := make([]byte, 4096)
	if _, st := call(opGRPCCalls, []int64{1}, "", nil, dst); st != statusOK {
		t.Fatalf("status %d", st)
	}
	reset()
	calls := state.h2.GRPCCalls()
	if !calls.KeepFrames {
		t.Fatal("KeepFrames lost by the reset")
	}
	calls.Frame = 7
	calls.Add("/a.S/M", codes.OK, time.Millisecond)
	calls.Frame = 8
	calls.Add("/a.S/N", codes.OK, time.Millisecond)
	n, st := call(opGRPCCalls, []int64{2}, "tcp", []byte("1,8"), dst)
	v, _, err := result.Decode(dst[:n])
	if st != statusOK || err != nil || !strings.HasPrefix(v.(string), "gRPC calls\nFilter: tcp\n") ||
		!strings.Contains(v.(string), "/a.S/N") || strings.Contains(v.(string), "/a.S/M") {
		t.Errorf("status %d, %v, table\n%v", st, err, v)
	}
	if n, st := call(opGRPCCalls, []int64{2}, "tcp", []byte("1,x"), dst); st != statusError || !strings.Contains(string(dst[:n]), `frame "x"`) {
		t.Errorf("bad frames: status %d, %s", st, dst[:n])
	}
}
