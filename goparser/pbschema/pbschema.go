// Package pbschema finds the protobuf message types of gRPC methods in
// FileDescriptorSet files (protoc --include_imports --descriptor_set_out,
// or buf build -o) and decodes messages with them: dynamicpb for the
// values, protojson for a JSON rendering.
package pbschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// MaxDepth bounds the nesting of messages decoded with a schema; deeper
// input is refused rather than followed.
const MaxDepth = 64

// ErrNoType means a method or message type is not in the descriptor sets.
var ErrNoType = errors.New("pbschema: type not found")

// Registry holds the types of one or more descriptor sets.
type Registry struct {
	files *protoregistry.Files
	types *dynamicpb.Types
	// byPath overrides the request and response types of methods, for
	// captures that lack HEADERS or for methods not in the sets.
	byPath map[string][2]protoreflect.MessageDescriptor
}

// Load reads FileDescriptorSet files. Files that several sets hold (a
// shared import) are taken once; a file that has the path of one taken
// before but declares types it lacks is an error. A set that cannot be read or parsed, or a
// file in it that does not build (an import missing), is skipped and named
// in the error, which joins one error per problem: the Registry returned is
// never nil and holds every other type.
func Load(paths []string) (*Registry, error) {
	r := &Registry{files: new(protoregistry.Files), byPath: map[string][2]protoreflect.MessageDescriptor{}}
	var errs []error
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("pbschema: %w", err))
			continue
		}
		var set descriptorpb.FileDescriptorSet
		if err := proto.Unmarshal(b, &set); err != nil {
			errs = append(errs, fmt.Errorf("pbschema: %s is not a FileDescriptorSet: %w", p, err))
			continue
		}
		for _, fd := range set.File {
			if _, err := r.files.FindFileByPath(fd.GetName()); err == nil {
				// A shared import; but another file of the same name
				// (two services' "api.proto") would lose its types.
				if missing := missingNames(r.files, fd); len(missing) > 0 {
					errs = append(errs, fmt.Errorf("pbschema: %s: %s is another file than the one of that name already loaded: not loaded, and %s not found",
						p, fd.GetName(), strings.Join(missing, ", ")))
				}
				continue
			}
			f, err := protodesc.NewFile(fd, r.files)
			if err != nil {
				errs = append(errs, fmt.Errorf("pbschema: %s: %s: %w (was it made with --include_imports?)", p, fd.GetName(), err))
				continue
			}
			if err := r.files.RegisterFile(f); err != nil {
				errs = append(errs, fmt.Errorf("pbschema: %s: %w", p, err))
			}
		}
	}
	r.types = dynamicpb.NewTypes(r.files)
	return r, errors.Join(errs...)
}

// missingNames lists the top-level messages, enums, services and
// extensions that fd declares and files lacks (the first few).
func missingNames(files *protoregistry.Files, fd *descriptorpb.FileDescriptorProto) []string {
	pkg := fd.GetPackage()
	var names []string
	for _, m := range fd.GetMessageType() {
		names = append(names, m.GetName())
	}
	for _, e := range fd.GetEnumType() {
		names = append(names, e.GetName())
	}
	for _, sv := range fd.GetService() {
		names = append(names, sv.GetName())
	}
	for _, x := range fd.GetExtension() {
		names = append(names, x.GetName())
	}
	var missing []string
	for _, n := range names {
		if pkg != "" {
			n = pkg + "." + n
		}
		if _, err := files.FindDescriptorByName(protoreflect.FullName(n)); err != nil {
			if len(missing) == 3 {
				missing = append(missing, "…")
				break
			}
			missing = append(missing, n)
		}
	}
	return missing
}

// Empty tells whether the registry gives no type at all.
func (r *Registry) Empty() bool {
	return r == nil || r.files.NumFiles() == 0 && len(r.byPath) == 0
}

// SetMethodTypes sets message types by hand: entries "PATH=REQUEST[,RESPONSE]"
// separated by ";", where PATH is "/pkg.Service/Method" and the types are
// full message names. An empty RESPONSE means the same type as REQUEST.
// An entry that is malformed or names a type the sets lack is skipped; the
// error joins one error per such entry, and the others are set.
func (r *Registry) SetMethodTypes(spec string) error {
	var errs []error
entries:
	for _, entry := range strings.Split(spec, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		path, types, ok := strings.Cut(entry, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("pbschema: %q: want PATH=REQUEST[,RESPONSE]", entry))
			continue
		}
		req, resp, _ := strings.Cut(types, ",")
		if strings.TrimSpace(resp) == "" {
			resp = req
		}
		var pair [2]protoreflect.MessageDescriptor
		for i, name := range []string{req, resp} {
			// ".pkg.Msg", as protoc and descriptors write a type
			// by its full name, is the same type.
			d, err := r.message(strings.TrimPrefix(strings.TrimSpace(name), "."))
			if err != nil {
				errs = append(errs, fmt.Errorf("%w (in %q)", err, entry))
				continue entries
			}
			pair[i] = d
		}
		r.byPath[strings.TrimSpace(path)] = pair
	}
	return errors.Join(errs...)
}

func (r *Registry) message(name string) (protoreflect.MessageDescriptor, error) {
	d, err := r.files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNoType, name)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a message", ErrNoType, name)
	}
	return md, nil
}

// AnyType returns the message type that an Any's type URL
// ("type.googleapis.com/google.rpc.BadRequest") names, if the sets have
// it.
func (r *Registry) AnyType(url string) (protoreflect.MessageDescriptor, bool) {
	if r == nil {
		return nil, false
	}
	md, err := r.message(url[strings.LastIndexByte(url, '/')+1:])
	return md, err == nil
}

// Types returns the request and response types of a method path
// ("/pkg.Service/Method").
func (r *Registry) Types(path string) (req, resp protoreflect.MessageDescriptor, ok bool) {
	if r == nil {
		return nil, nil, false
	}
	if p, ok := r.byPath[path]; ok {
		return p[0], p[1], true
	}
	svc, method, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	d, err := r.files.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return nil, nil, false
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, nil, false
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		return nil, nil, false
	}
	return md.Input(), md.Output(), true
}

// Decode unmarshals a message of type md. A proto2 message that lacks a
// required field decodes (protobuf libraries refuse it, but its fields
// are still worth seeing): Missing tells.
func (r *Registry) Decode(md protoreflect.MessageDescriptor, b []byte) (*dynamicpb.Message, error) {
	return r.DecodeDepth(md, b, MaxDepth)
}

// DecodeDepth is Decode with another nesting limit.
func (r *Registry) DecodeDepth(md protoreflect.MessageDescriptor, b []byte, depth int) (*dynamicpb.Message, error) {
	if depth <= 0 {
		depth = MaxDepth
	}
	m := dynamicpb.NewMessage(md)
	opts := proto.UnmarshalOptions{Resolver: r.types, RecursionLimit: depth, AllowPartial: true}
	if err := opts.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Missing reports the required fields, in m and the messages in it, that
// a proto2 message lacks: nil when it has them all.
func Missing(m proto.Message) error {
	return proto.CheckInitialized(m)
}

// JSON renders a message as one line of protojson, with Any resolved
// from the descriptor sets. A required field it lacks is left out, as
// any unset field.
func (r *Registry) JSON(m proto.Message) (string, error) {
	b, err := protojson.MarshalOptions{Resolver: r.types, AllowPartial: true}.Marshal(m)
	if err != nil {
		return "", err
	}
	// protojson adds random spaces to keep callers from depending on its
	// output; one document per message for pipelines wants it stable.
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return "", err
	}
	return out.String(), nil
}
