// Command descset writes the FileDescriptorSet that the gRPC captures in
// testpcaps/ are decoded with: the gRPC health service (grpc.health.v1),
// from the descriptor compiled into grpc-go, as protoc --include_imports
// --descriptor_set_out would write it for health.proto, followed by
// testpcaps.v1.HealthBatch (grpc_health_batch.proto: a client-streaming
// and a bidirectional method, and their HealthReport message), built here
// as protoc builds it from grpc_health_batch.proto, and the google.rpc
// error details (google/rpc/error_details.proto, from the descriptor
// compiled into genproto) that grpc-status-details-bin carries.
//
//	go run ./testpcaps/gen/descset > testpcaps/grpc_health.pb
package main

import (
	"log"
	"os"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

func main() {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imports := f.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	add(healthpb.File_grpc_health_v1_health_proto)

	batch := healthBatch(healthpb.File_grpc_health_v1_health_proto.Path())
	// The same checks protoc makes: the types resolve, the names are valid.
	if _, err := protodesc.NewFile(batch, protoregistry.GlobalFiles); err != nil {
		log.Fatal(err)
	}
	set.File = append(set.File, batch)
	add(errdetails.File_google_rpc_error_details_proto)

	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := os.Stdout.Write(b); err != nil {
		log.Fatal(err)
	}
}

// healthBatch describes testpcaps/grpc_health_batch.proto; health is the
// path of the file that defines the health messages.
func healthBatch(health string) *descriptorpb.FileDescriptorProto {
	const (
		req    = ".grpc.health.v1.HealthCheckRequest"
		resp   = ".grpc.health.v1.HealthCheckResponse"
		status = ".grpc.health.v1.HealthCheckResponse.ServingStatus"
		report = ".testpcaps.v1.HealthReport"
	)
	field := func(name string, number int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{
			Name:     proto.String(name),
			Number:   proto.Int32(number),
			Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			Type:     typ.Enum(),
			JsonName: proto.String(name),
		}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	// protoc sets the streaming flags only where they are true.
	method := func(name, in, out string, serverStreaming bool) *descriptorpb.MethodDescriptorProto {
		m := &descriptorpb.MethodDescriptorProto{
			Name:            proto.String(name),
			InputType:       proto.String(in),
			OutputType:      proto.String(out),
			ClientStreaming: proto.Bool(true),
		}
		if serverStreaming {
			m.ServerStreaming = proto.Bool(true)
		}
		return m
	}
	return &descriptorpb.FileDescriptorProto{
		Name:       proto.String("grpc_health_batch.proto"),
		Package:    proto.String("testpcaps.v1"),
		Dependency: []string{health},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("HealthReport"),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("service", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				field("status", 2, descriptorpb.FieldDescriptorProto_TYPE_ENUM, status),
				field("detail", 3, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
			},
		}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("HealthBatch"),
			Method: []*descriptorpb.MethodDescriptorProto{
				method("Report", report, resp, false),
				method("CheckEach", req, report, true),
			},
		}},
		Syntax: proto.String("proto3"),
	}
}
