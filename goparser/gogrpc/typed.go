package gogrpc

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gotcpdump/gotcpdump/goparser/grpcmsg"
	"github.com/gotcpdump/gotcpdump/goparser/pbschema"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

// maxTypedItems bounds the tree items of one message decoded with a
// schema; what is left is still in gogrpc.json.
const maxTypedItems = 4096

// writeTyped decodes a message with the type the registry gives its
// method and writes its type, its fields and its JSON. It reports false
// when there is no type for the method; a message that does not decode
// with its type gets an expert note and false, so that raw decoding
// follows.
func writeTyped(w tree.Writer, off, n int, payload []byte, path string, request bool, reg *pbschema.Registry, depth int) bool {
	req, resp, ok := reg.Types(path)
	if !ok {
		return false
	}
	md := resp
	if request {
		md = req
	}
	return writeTypedAs(w, off, n, payload, md, direction(request), reg, depth)
}

// writeTypedAs decodes payload as md (what names the message in expert
// infos) and writes its type, fields and JSON; false when it does not
// decode, with an expert note.
func writeTypedAs(w tree.Writer, off, n int, payload []byte, md protoreflect.MessageDescriptor, what string, reg *pbschema.Registry, depth int) bool {
	msg, err := reg.DecodeDepth(md, payload, depth)
	if err != nil {
		if strings.Contains(err.Error(), "exceeded maximum recursion depth") {
			// Valid protobuf, deeper than the limit: not a mismatch.
			if depth <= 0 {
				depth = pbschema.MaxDepth
			}
			w.Expert(xFieldsCut, fmt.Sprintf("%s nests messages deeper than gogrpc.max_depth (%d): not decoded as %s", what, depth, md.FullName()))
			return false
		}
		w.Expert(xSchema, fmt.Sprintf("%s does not decode as %s: %v", what, md.FullName(), err))
		return false
	}
	const gen = tree.FlagGenerated
	w.Add(fMsgType, off, n, tree.Str(string(md.FullName())), "", gen)
	if err := pbschema.Missing(msg); err != nil {
		w.Expert(xSchema, fmt.Sprintf("%s of type %s lacks a required field (protobuf libraries refuse it): %v", what, md.FullName(), err))
	}
	budget := maxTypedItems
	unknown := writeTypedFields(w, off, n, msg, reg, &budget)
	if budget < 0 {
		w.Expert(xFieldsCut, fmt.Sprintf("%s: decoding with the schema stopped after %d items (nested ones included); gogrpc.json holds the whole message", what, maxTypedItems))
	}
	if unknown > 0 {
		// Valid protobuf (a newer schema's fields), but also what a
		// message of another type, or a field of another wire type,
		// decodes to: shown raw rather than dropped.
		w.Expert(xUnknown, fmt.Sprintf("%s: %d octets of fields that %s does not declare, or declares with another wire type", what, unknown, md.FullName()))
	}
	if js, err := reg.JSON(msg); err == nil {
		w.Add(fJSON, off, n, tree.Str(js), "", gen)
	} else {
		w.Expert(xNoJSON, fmt.Sprintf("%s of type %s has no gogrpc.json: %v", what, md.FullName(), err))
	}
	return true
}

// typedField is a populated field of a message.
type typedField struct {
	fd protoreflect.FieldDescriptor
	v  protoreflect.Value
}

// writeTypedFields writes m's fields, and those its schema does not know,
// raw; it returns how many octets of fields, in m and the messages in it,
// were unknown.
func writeTypedFields(w tree.Writer, off, n int, m protoreflect.Message, reg *pbschema.Registry, budget *int) (unknown int) {
	const fl = tree.FlagGenerated | tree.FlagReplaceText
	defer func() {
		u := m.GetUnknown()
		if len(u) == 0 {
			return
		}
		unknown += len(u)
		if *budget <= 0 {
			*budget = -1 // cut
			return
		}
		*budget--
		label := fmt.Sprintf("[fields not in the schema: %d octets]", len(u))
		if !room(w, 2) {
			w.Add(fTyped, off, n, tree.FromBytes, label, fl)
			return
		}
		w.Begin(fTyped, off, n, tree.FromBytes, label, fl)
		if fields, ok := grpcmsg.DecodeRaw(u, 0); ok {
			writeFields(w, off, n, fields, fieldBytes{}, 0)
		}
		w.End()
	}()
	// By field number: Range's order is undefined (a dynamic message's is
	// random), and every run and pass must show the same tree and keep
	// the same fields within the budget.
	var fields []typedField
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fields = append(fields, typedField{fd, v})
		return true
	})
	slices.SortFunc(fields, func(a, b typedField) int { return cmp.Compare(a.fd.Number(), b.fd.Number()) })
	for _, f := range fields {
		if *budget <= 0 {
			*budget = -1 // cut
			return
		}
		fd, v := f.fd, f.v
		name := string(fd.Name())
		if fd.IsExtension() {
			// As protoc --decode and protojson name one: its bare name
			// may be a field's of the message too.
			name = "[" + string(fd.FullName()) + "]"
		}
		switch {
		case fd.IsList():
			l := v.List()
			*budget--
			w.Begin(fTyped, off, n, tree.FromBytes, fmt.Sprintf("%s: [%d elements]", name, l.Len()), fl)
			for i := 0; i < l.Len(); i++ {
				if *budget <= 0 {
					*budget = -1 // cut
					break
				}
				unknown += writeTypedValue(w, off, n, "["+strconv.Itoa(i)+"]", fd, l.Get(i), reg, budget)
			}
			w.End()
		case fd.IsMap():
			mp := v.Map()
			*budget--
			w.Begin(fTyped, off, n, tree.FromBytes, fmt.Sprintf("%s: {%d entries}", name, mp.Len()), fl)
			keys := make([]protoreflect.MapKey, 0, mp.Len())
			mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k)
				return true
			})
			slices.SortFunc(keys, compareKeys)
			for _, k := range keys {
				if *budget <= 0 {
					*budget = -1 // cut
					break
				}
				unknown += writeTypedValue(w, off, n, keyLabel(fd.MapKey(), k), fd.MapValue(), mp.Get(k), reg, budget)
			}
			w.End()
		default:
			unknown += writeTypedValue(w, off, n, name, fd, v, reg, budget)
		}
	}
	return unknown
}

// keyLabel is how a map entry's label names its key: a string quoted, as
// string values are (a key may hold a newline, a NUL or octets that are
// not UTF-8, which a label must not carry as they are).
func keyLabel(fd protoreflect.FieldDescriptor, k protoreflect.MapKey) string {
	if fd.Kind() == protoreflect.StringKind {
		return strconv.Quote(k.String())
	}
	return k.String()
}

// compareKeys orders map keys (bools, integers or strings, one kind per
// map) as protojson does: false before true, numbers by value, strings
// by octets.
func compareKeys(a, b protoreflect.MapKey) int {
	switch x := a.Interface().(type) {
	case bool:
		return cmp.Compare(b2i(x), b2i(b.Bool()))
	case int32, int64:
		return cmp.Compare(a.Int(), b.Int())
	case uint32, uint64:
		return cmp.Compare(a.Uint(), b.Uint())
	case string:
		return strings.Compare(x, b.String())
	}
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// wellKnown are the types shown as their JSON form (a time, a duration,
// a resolved Any) rather than as their fields.
var wellKnown = map[protoreflect.FullName]bool{
	"google.protobuf.Timestamp": true, "google.protobuf.Duration": true, "google.protobuf.Any": true,
	"google.protobuf.Struct": true, "google.protobuf.Value": true, "google.protobuf.ListValue": true,
	"google.protobuf.FieldMask": true, "google.protobuf.Empty": true,
	"google.protobuf.DoubleValue": true, "google.protobuf.FloatValue": true, "google.protobuf.Int64Value": true,
	"google.protobuf.UInt64Value": true, "google.protobuf.Int32Value": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.BoolValue": true, "google.protobuf.StringValue": true, "google.protobuf.BytesValue": true,
}

// writeTypedValue writes one value; it returns the octets of unknown
// fields in it (a message).
func writeTypedValue(w tree.Writer, off, n int, label string, fd protoreflect.FieldDescriptor, v protoreflect.Value, reg *pbschema.Registry, budget *int) (unknown int) {
	const fl = tree.FlagGenerated | tree.FlagReplaceText
	*budget--
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		sub := v.Message()
		name := sub.Descriptor().FullName()
		if wellKnown[name] {
			// One that protojson cannot render (an Any of a type the
			// sets lack, a time out of range) shows its fields.
			if js, err := reg.JSON(sub.Interface()); err == nil {
				w.Add(fTyped, off, n, tree.FromBytes, label+": "+js, fl)
				return len(sub.GetUnknown())
			}
		}
		if !room(w, 2) {
			// Too deep for the tree: its fields are in gogrpc.json.
			w.Add(fTyped, off, n, tree.FromBytes, label+" ("+string(name)+"): nested too deep to show", fl)
			return len(sub.GetUnknown())
		}
		w.Begin(fTyped, off, n, tree.FromBytes, label+" ("+string(name)+")", fl)
		unknown = writeTypedFields(w, off, n, sub, reg, budget)
		w.End()
	default:
		w.Add(fTyped, off, n, tree.FromBytes, label+": "+scalarText(fd, v), fl)
	}
	return unknown
}

func scalarText(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return fmt.Sprintf("%s (%d)", ev.Name(), v.Enum())
		}
		return strconv.Itoa(int(v.Enum()))
	case protoreflect.StringKind:
		return strconv.Quote(v.String())
	case protoreflect.BytesKind:
		b := v.Bytes()
		if len(b) > 64 {
			return fmt.Sprintf("%s… (%d octets)", hex.EncodeToString(b[:64]), len(b))
		}
		return hex.EncodeToString(b)
	}
	return v.String()
}
