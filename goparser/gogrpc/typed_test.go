package gogrpc

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gotcpdump/gotcpdump/goparser/grpcmsg"
	"github.com/gotcpdump/gotcpdump/goparser/pbschema"
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

// TestTypedEdgeCases: valid messages that protobuf libraries or
// protojson refuse still show their fields with their schema: a proto2
// message without its required field (with a warning), and an Any of a
// type the sets lack (its type URL and value, and a note for the missing
// gogrpc.json); a message with more items than the tree shows says so.
func TestTypedEdgeCases(t *testing.T) {
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	req := descriptorpb.FieldDescriptorProto_LABEL_REQUIRED.Enum()
	fd := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("edge.proto"),
		Package:    proto.String("edge"),
		Syntax:     proto.String("proto2"),
		Dependency: []string{"google/protobuf/any.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Msg"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("id"), Number: proto.Int32(1), Label: req, Type: descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum()},
				{Name: proto.String("name"), Number: proto.Int32(2), Label: opt, Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()},
				{Name: proto.String("any"), Number: proto.Int32(3), Label: opt, Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".google.protobuf.Any")},
				{Name: proto.String("nums"), Number: proto.Int32(4), Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum()},
			},
		}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   proto.String("S"),
			Method: []*descriptorpb.MethodDescriptorProto{{Name: proto.String("Do"), InputType: proto.String(".edge.Msg"), OutputType: proto.String(".edge.Msg")}},
		}},
	}
	reg := loadSet(t, protodesc.ToFileDescriptorProto(anypb.File_google_protobuf_any_proto), fd)
	noID := protowire.AppendString(protowire.AppendTag(nil, 2, protowire.BytesType), "noid")
	anyMsg := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "type.googleapis.com/other.Type")
	anyMsg = protowire.AppendBytes(protowire.AppendTag(anyMsg, 2, protowire.BytesType), []byte{0x08, 0x2a})
	withAny := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 5)
	withAny = protowire.AppendBytes(protowire.AppendTag(withAny, 3, protowire.BytesType), anyMsg)
	many := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1)
	for i := 0; i < maxTypedItems+10; i++ {
		many = protowire.AppendVarint(protowire.AppendTag(many, 4, protowire.VarintType), 3)
	}
	for _, c := range []struct {
		name       string
		msg        []byte
		want, lack []string
	}{
		{"required field missing", noID,
			[]string{"edge.Msg", `name: \"noid\"`, `{"name":"noid"}`, "lacks a required field"}, []string{"does not decode"}},
		{"Any of an unknown type", withAny,
			[]string{"id: 5", "any (google.protobuf.Any)", `type_url: \"type.googleapis.com/other.Type\"`, "value: 082a", "has no gogrpc.json"},
			[]string{"does not decode", "required"}},
		{"more items than the budget", many,
			[]string{"nums: [4106 elements]", "[4093]: 3", "stopped after 4096 items"}, []string{"[4094]: 3", "does not decode"}},
		{"within the budget", withAny, nil, []string{"stopped after"}},
	} {
		var e result.Encoder
		var xs []tree.ExpertRecord
		e.BeginArray()
		WriteMessage(tree.Writer{E: &e, X: &xs}, 0, grpcmsg.Message{Length: uint32(len(c.msg)), Data: c.msg, Parts: 1, N: 5 + len(c.msg)},
			Call{Path: "/edge.S/Do"}, true, reg, Limits{})
		e.End()
		out, err := e.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		v, _, err := result.Decode(out)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		var walk func([]any)
		walk = func(items []any) {
			for _, it := range items {
				x := it.([]any)
				for _, y := range x[3:5] {
					if s, ok := y.(string); ok {
						b.WriteString(strings.ReplaceAll(s, `"`, `\"`) + "\n")
					}
				}
				if len(x) > 6 {
					walk(x[6].([]any))
				}
			}
		}
		walk(v.([]any))
		for _, x := range xs {
			b.WriteString(x.Msg + "\n")
		}
		s := b.String()
		for _, w := range c.want {
			if !strings.Contains(s, w) && !strings.Contains(s, strings.ReplaceAll(w, `"`, `\"`)) {
				t.Errorf("%s: lacks %q in\n%s", c.name, w, s)
			}
		}
		for _, l := range c.lack {
			if strings.Contains(s, l) {
				t.Errorf("%s: has %q in\n%s", c.name, l, s)
			}
		}
	}
}

// TestMapKeyLabel: a string map key is quoted in its entry's label, so
// that a newline, a NUL or octets that are not UTF-8 in it (a proto2 map
// does not check them) do not end up in the label as they are.
func TestMapKeyLabel(t *testing.T) {
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	entry := &descriptorpb.DescriptorProto{
		Name:    proto.String("MEntry"),
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
		Field: []*descriptorpb.FieldDescriptorProto{
			{Name: proto.String("key"), Number: proto.Int32(1), Label: opt, Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()},
			{Name: proto.String("value"), Number: proto.Int32(2), Label: opt, Type: descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum()},
		},
	}
	fd := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("maps.proto"),
		Package: proto.String("maps"),
		Syntax:  proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:       proto.String("Msg"),
			NestedType: []*descriptorpb.DescriptorProto{entry},
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("m"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(),
					Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".maps.Msg.MEntry")},
			},
		}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   proto.String("S"),
			Method: []*descriptorpb.MethodDescriptorProto{{Name: proto.String("Do"), InputType: proto.String(".maps.Msg"), OutputType: proto.String(".maps.Msg")}},
		}},
	}
	reg := loadSet(t, fd)
	var msg []byte
	for _, k := range []string{"a\nb\x00c", "d\xffe"} {
		e := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), k)
		e = protowire.AppendVarint(protowire.AppendTag(e, 2, protowire.VarintType), 1)
		msg = protowire.AppendBytes(protowire.AppendTag(msg, 1, protowire.BytesType), e)
	}
	s := requestResult(t, reg, "/maps.S/Do", msg)
	for _, want := range []string{`"a\nb\x00c": 1`, `"d\xffe": 1`} {
		if !strings.Contains(s, want) {
			t.Errorf("result lacks %s", want)
		}
	}
	if strings.Contains(s, "a\nb") || strings.Contains(s, "d\xffe") {
		t.Error("a key as it is in a label")
	}
}

// TestExtensionLabel: a proto2 extension is labelled by its full name in
// brackets, as protoc --decode and protojson show it, not by its bare
// name, which the message's own field has too here.
func TestExtensionLabel(t *testing.T) {
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	i32 := descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum()
	fd := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("ext.proto"),
		Package: proto.String("ext"),
		Syntax:  proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:           proto.String("Msg"),
			Field:          []*descriptorpb.FieldDescriptorProto{{Name: proto.String("n"), Number: proto.Int32(1), Label: opt, Type: i32}},
			ExtensionRange: []*descriptorpb.DescriptorProto_ExtensionRange{{Start: proto.Int32(100), End: proto.Int32(200)}},
		}},
		Extension: []*descriptorpb.FieldDescriptorProto{{Name: proto.String("n"), Number: proto.Int32(100), Label: opt, Type: i32, Extendee: proto.String(".ext.Msg")}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   proto.String("S"),
			Method: []*descriptorpb.MethodDescriptorProto{{Name: proto.String("Do"), InputType: proto.String(".ext.Msg"), OutputType: proto.String(".ext.Msg")}},
		}},
	}
	reg := loadSet(t, fd)
	msg := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 7)
	msg = protowire.AppendVarint(protowire.AppendTag(msg, 100, protowire.VarintType), 8)
	s := requestResult(t, reg, "/ext.S/Do", msg)
	for _, want := range []string{"n: 7", "[ext.n]: 8"} {
		if !strings.Contains(s, want) {
			t.Errorf("result lacks %q", want)
		}
	}
	if strings.Contains(s, "n: 8") && !strings.Contains(s, "[ext.n]: 8") {
		t.Error("the extension labelled by its bare name")
	}
}

// requestResult is the encoded result of msg, whole in one DATA frame,
// as a request of the method path, decoded with reg.
func requestResult(t *testing.T, reg *pbschema.Registry, path string, msg []byte) string {
	t.Helper()
	var e result.Encoder
	e.BeginArray()
	WriteMessage(tree.Writer{E: &e}, 0, grpcmsg.Message{Length: uint32(len(msg)), Data: msg, Parts: 1, N: 5 + len(msg)},
		Call{Path: path}, true, reg, Limits{})
	e.End()
	out, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
