package gogrpc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/gotcpdump/gotcpdump/goparser/grpcmsg"
	"github.com/gotcpdump/gotcpdump/goparser/pbschema"
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

// nodeSchema is a registry with the recursive message deep.Node
// {string name = 1; Node next = 2;} and the method /deep.S/Walk taking
// and returning it.
func nodeSchema(t *testing.T) *pbschema.Registry {
	t.Helper()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	fd := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("deep.proto"),
		Package: proto.String("deep"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Node"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("name"), Number: proto.Int32(1), Label: &opt, Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()},
				{Name: proto.String("next"), Number: proto.Int32(2), Label: &opt, Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".deep.Node")},
			},
		}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   proto.String("S"),
			Method: []*descriptorpb.MethodDescriptorProto{{Name: proto.String("Walk"), InputType: proto.String(".deep.Node"), OutputType: proto.String(".deep.Node")}},
		}},
	}
	return loadSet(t, fd)
}

// loadSet is a registry of files, written to a descriptor set.
func loadSet(t *testing.T, files ...*descriptorpb.FileDescriptorProto) *pbschema.Registry {
	t.Helper()
	b, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: files})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "deep.pb")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	reg, err := pbschema.Load([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// nested is a deep.Node with levels Nodes in next below it, the last
// with a name (and an unknown field 9 holding a message).
func nested(levels int) []byte {
	m := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "leaf")
	inner := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 7)
	m = protowire.AppendBytes(protowire.AppendTag(m, 9, protowire.BytesType), inner)
	for i := 0; i < levels; i++ {
		m = protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), m)
	}
	return m
}

// TestDeepMessageFitsResult: a message nested as deep as the decoding
// limits allow, raw or with its schema, still gives a result under the
// two levels that hold a packet's items (a result nested deeper than
// result.MaxDepth fails to encode, and the packet's HTTP/2 frames are
// lost with it).
func TestDeepMessageFitsResult(t *testing.T) {
	reg := nodeSchema(t)
	for _, c := range []struct {
		name   string
		levels int
		reg    *pbschema.Registry
		want   string
	}{
		{"raw", 70, nil, "octets"},
		{"raw at the limit", 64, nil, "octets"},
		{"typed", 62, reg, "nested too deep to show"},
		{"typed, unknown fields deep down", 60, reg, "fields not in the schema"},
		{"beyond the schema's limit", 70, reg, "nests messages deeper than gogrpc.max_depth (64): not decoded as deep.Node"},
	} {
		msg := nested(c.levels)
		var e result.Encoder
		e.BeginArray()
		e.BeginArray()
		WriteMessage(tree.Writer{E: &e}, 0, grpcmsg.Message{Length: uint32(len(msg)), Data: msg, Parts: 1, N: 5 + len(msg)},
			Call{Path: "/deep.S/Walk"}, true, c.reg, Limits{})
		e.End()
		e.End()
		out, err := e.Bytes()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("%s: result lacks %q", c.name, c.want)
		}
		if strings.Contains(string(out), "does not decode") {
			t.Errorf("%s: taken for a schema mismatch", c.name)
		}
		if c.reg != nil && c.levels <= pbschema.MaxDepth && !strings.Contains(string(out), `"leaf"`) {
			t.Errorf("%s: no JSON with the innermost field", c.name)
		}
	}
}
