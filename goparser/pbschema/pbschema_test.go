package pbschema

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

func healthSet(t *testing.T) *Registry {
	_, file, _, _ := runtime.Caller(0)
	r, err := Load([]string{filepath.Join(filepath.Dir(file), "..", "..", "testpcaps", "grpc_health.pb")})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTypesAndJSON(t *testing.T) {
	r := healthSet(t)
	req, resp, ok := r.Types("/grpc.health.v1.Health/Watch")
	if !ok || req.FullName() != "grpc.health.v1.HealthCheckRequest" || resp.FullName() != "grpc.health.v1.HealthCheckResponse" {
		t.Fatalf("Watch: %v %v %v", req, resp, ok)
	}
	for _, p := range []string{"/grpc.health.v1.Health/Nope", "/no.Such/Check", "garbage"} {
		if _, _, ok := r.Types(p); ok {
			t.Errorf("%s: found", p)
		}
	}
	// status = NOT_SERVING (2).
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 2)
	m, err := r.Decode(resp, b)
	if err != nil {
		t.Fatal(err)
	}
	if js, err := r.JSON(m); err != nil || js != `{"status":"NOT_SERVING"}` {
		t.Errorf("JSON %q, %v", js, err)
	}
	// A string field that holds invalid UTF-8 does not decode.
	bad := protowire.AppendTag(nil, 1, protowire.BytesType)
	bad = protowire.AppendBytes(bad, []byte{0xff, 0xfe})
	if _, err := r.Decode(req, bad); err == nil {
		t.Error("invalid UTF-8 in a string field decoded")
	}
}

func TestSetMethodTypes(t *testing.T) {
	r := healthSet(t)
	if err := r.SetMethodTypes(" /x.Y/Z = grpc.health.v1.HealthCheckRequest ; /x.Y/W=grpc.health.v1.HealthCheckRequest,grpc.health.v1.HealthCheckResponse"); err != nil {
		t.Fatal(err)
	}
	if req, resp, ok := r.Types("/x.Y/Z"); !ok || req != resp {
		t.Errorf("/x.Y/Z: %v %v %v", req, resp, ok)
	}
	if _, resp, ok := r.Types("/x.Y/W"); !ok || resp.FullName() != "grpc.health.v1.HealthCheckResponse" {
		t.Errorf("/x.Y/W: %v %v", resp, ok)
	}
	// A full name with its leading dot, as descriptors write it.
	if err := r.SetMethodTypes("/x.Y/V=.grpc.health.v1.HealthCheckRequest,.grpc.health.v1.HealthCheckResponse"); err != nil {
		t.Fatal(err)
	}
	if req, resp, ok := r.Types("/x.Y/V"); !ok || req.FullName() != "grpc.health.v1.HealthCheckRequest" || resp.FullName() != "grpc.health.v1.HealthCheckResponse" {
		t.Errorf("/x.Y/V: %v %v %v", req, resp, ok)
	}
	for _, bad := range []string{"/a/b", "/a/b=no.Such", "/a/b=grpc.health.v1.Health"} {
		if err := r.SetMethodTypes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(bad, "=") && !errors.Is(err, ErrNoType) {
			t.Errorf("%q: %v, want ErrNoType", bad, err)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pb")
	os.WriteFile(junk, []byte("\xff\xff\xff"), 0o644)
	for _, p := range []string{filepath.Join(dir, "missing.pb"), junk} {
		if _, err := Load([]string{p}); err == nil {
			t.Errorf("%s loaded", p)
		}
	}
}

// TestLoadKeepsTheGoodSets: a set that cannot be read or parsed is named
// in the error and skipped; the other sets' types are all there.
func TestLoadKeepsTheGoodSets(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	good := filepath.Join(filepath.Dir(file), "..", "..", "testpcaps", "grpc_health.pb")
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pb")
	os.WriteFile(junk, []byte("\xff\xff\xff"), 0o644)
	missing := filepath.Join(dir, "missing.pb")
	r, err := Load([]string{missing, good, junk})
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), junk) || strings.Contains(err.Error(), good) {
		t.Errorf("error %v: want one naming %s and %s only", err, missing, junk)
	}
	if r.Empty() {
		t.Fatal("the good set was dropped")
	}
	if _, _, ok := r.Types("/grpc.health.v1.Health/Check"); !ok {
		t.Error("no types for /grpc.health.v1.Health/Check")
	}
	r, err = Load([]string{missing})
	if err == nil || r == nil || !r.Empty() {
		t.Errorf("only a missing set: %v, %v", r, err)
	}
}

// TestSetMethodTypesKeepsTheGoodEntries: each bad entry is named in the
// error and skipped; the entries around it are set.
func TestSetMethodTypesKeepsTheGoodEntries(t *testing.T) {
	r := healthSet(t)
	err := r.SetMethodTypes("/a/b=no.Such;/x.Y/Z=grpc.health.v1.HealthCheckRequest;garbage;/x.Y/W=grpc.health.v1.HealthCheckRequest,no.Reply")
	if err == nil || !errors.Is(err, ErrNoType) || strings.Count(err.Error(), "\n") != 2 ||
		!strings.Contains(err.Error(), `"garbage"`) || !strings.Contains(err.Error(), "no.Such") || !strings.Contains(err.Error(), "no.Reply") {
		t.Errorf("error %q: want three lines, naming each bad entry", err)
	}
	if _, _, ok := r.Types("/x.Y/Z"); !ok {
		t.Error("/x.Y/Z not set")
	}
	for _, p := range []string{"/a/b", "/x.Y/W"} {
		if _, _, ok := r.Types(p); ok {
			t.Errorf("%s set", p)
		}
	}
}

// TestSamePathOtherFile: a set whose file has the path of one already
// loaded but declares other types (two services' "api.proto") is
// reported, not dropped in silence; a shared import is not.
func TestSamePathOtherFile(t *testing.T) {
	file := func(pkg string) *descriptorpb.FileDescriptorProto {
		return &descriptorpb.FileDescriptorProto{
			Name:        proto.String("api.proto"),
			Package:     proto.String(pkg),
			Syntax:      proto.String("proto3"),
			MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Req")}},
		}
	}
	dir := t.TempDir()
	write := func(name string, fd *descriptorpb.FileDescriptorProto) string {
		b, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{fd}})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, a2, b := write("a.pb", file("a")), write("a2.pb", file("a")), write("b.pb", file("b"))
	if _, err := Load([]string{a, a2}); err != nil {
		t.Errorf("the same file twice: %v", err)
	}
	r, err := Load([]string{a, b})
	if err == nil || !strings.Contains(err.Error(), "b.Req not found") {
		t.Errorf("another api.proto: error %v", err)
	}
	if _, err := r.message("a.Req"); err != nil {
		t.Error("the first api.proto's types lost")
	}
}
