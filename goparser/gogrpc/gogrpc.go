// Package gogrpc describes the gogrpc protocol: gRPC messages and status
// found in goh2 streams, as Wireshark items. Field names follow the
// built-in grpc dissector where they mean the same.
package gogrpc

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/gotcpdump/gotcpdump/goparser/grpcmsg"
	"github.com/gotcpdump/gotcpdump/goparser/pbschema"
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/schema"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

// Proto is the gogrpc protocol.
var Proto = schema.NewProtocol("gogrpc", "gRPC (Go)")

func codeNames() map[uint64]string {
	m := map[uint64]string{}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		m[uint64(c)] = c.String()
	}
	return m
}

var wireTypes = map[uint64]string{0: "varint", 1: "fixed64", 2: "length-delimited", 3: "start group", 4: "end group", 5: "fixed32"}

var (
	fLength     = Proto.Field(schema.Field{Abbrev: "gogrpc.message_length", Name: "Message Length", Type: schema.Uint32, Base: schema.BaseDec})
	fCompressed = Proto.Field(schema.Field{Abbrev: "gogrpc.compressed_flag", Name: "Compressed Flag", Type: schema.Uint8, Base: schema.BaseDec})
	fData       = Proto.Field(schema.Field{Abbrev: "gogrpc.message_data", Name: "Message Data", Type: schema.Bytes})
	fPath       = Proto.Field(schema.Field{Abbrev: "gogrpc.path", Name: "Path", Type: schema.String})
	fService    = Proto.Field(schema.Field{Abbrev: "gogrpc.service", Name: "Service", Type: schema.String})
	fMethod     = Proto.Field(schema.Field{Abbrev: "gogrpc.method", Name: "Method", Type: schema.String})
	fDirection  = Proto.Field(schema.Field{Abbrev: "gogrpc.direction", Name: "Direction", Type: schema.String, Desc: "request or response"})
	fParts      = Proto.Field(schema.Field{Abbrev: "gogrpc.parts", Name: "DATA frames", Type: schema.Uint32, Base: schema.BaseDec, Desc: "DATA frames the message spanned"})
	fTruncated  = Proto.Field(schema.Field{Abbrev: "gogrpc.truncated", Name: "Truncated", Type: schema.Bool, Desc: "Only the first octets of the message are kept"})
	fStatus     = Proto.Field(schema.Field{Abbrev: "gogrpc.status", Name: "Status", Type: schema.Uint32, Base: schema.BaseDec, Strings: codeNames()})
	fStatusMsg  = Proto.Field(schema.Field{Abbrev: "gogrpc.status_message", Name: "Status Message", Type: schema.String})
	fStatusFrom = Proto.Field(schema.Field{Abbrev: "gogrpc.status_from", Name: "Status from", Type: schema.String, Desc: "how the status was found when the server sent no grpc-status a client takes: an HTTP status, a reset, a stream ended without trailers"})
	fEncoding   = Proto.Field(schema.Field{Abbrev: "gogrpc.encoding", Name: "grpc-encoding", Type: schema.String})
	fInflated   = Proto.Field(schema.Field{Abbrev: "gogrpc.decompressed_length", Name: "Decompressed Length", Type: schema.Uint32, Base: schema.BaseDec})
	fDetails    = Proto.Field(schema.Field{Abbrev: "gogrpc.status_details", Name: "Status details (google.rpc.Status)", Type: schema.String})
	fDetailType = Proto.Field(schema.Field{Abbrev: "gogrpc.status_detail.type_url", Name: "Detail type", Type: schema.String})
	fPBField    = Proto.Field(schema.Field{Abbrev: "gogrpc.pb.field", Name: "Field", Type: schema.None})
	fPBNumber   = Proto.Field(schema.Field{Abbrev: "gogrpc.pb.number", Name: "Field Number", Type: schema.Uint32, Base: schema.BaseDec})
	fPBWire     = Proto.Field(schema.Field{Abbrev: "gogrpc.pb.wire_type", Name: "Wire Type", Type: schema.Uint8, Base: schema.BaseDec, Strings: wireTypes})
	fPBInt      = Proto.Field(schema.Field{Abbrev: "gogrpc.pb.int", Name: "Integer", Type: schema.Uint64, Base: schema.BaseDec, Desc: "varint or fixed value, unsigned, as protoc --decode_raw shows it"})
	fPBBytes    = Proto.Field(schema.Field{Abbrev: "gogrpc.pb.bytes", Name: "Bytes", Type: schema.Bytes})
	fPBString   = Proto.Field(schema.Field{Abbrev: "gogrpc.pb.string", Name: "String", Type: schema.String})

	fFragments     = Proto.Field(schema.Field{Abbrev: "gogrpc.fragments", Name: "Message fragments", Type: schema.Uint32, Base: schema.BaseDec, Desc: "capture frames that carried the message"})
	fFragment      = Proto.Field(schema.Field{Abbrev: "gogrpc.fragment", Name: "Message fragment", Type: schema.FrameNum, Desc: "a frame that carried part of the message"})
	fReassembledIn = Proto.Field(schema.Field{Abbrev: "gogrpc.reassembled_in", Name: "Reassembled in", Type: schema.FrameNum, Desc: "the frame where the message this frame carried part of completes (known from the second pass on, like Wireshark's own reassembly)"})
	fInflatedData  = Proto.Field(schema.Field{Abbrev: "gogrpc.decompressed_data", Name: "Decompressed Data", Type: schema.Bytes})

	fContentType = Proto.Field(schema.Field{Abbrev: "gogrpc.content_type", Name: "Content-Type", Type: schema.String})
	fUserAgent   = Proto.Field(schema.Field{Abbrev: "gogrpc.user_agent", Name: "User-Agent", Type: schema.String})

	fMsgType = Proto.Field(schema.Field{Abbrev: "gogrpc.message_type", Name: "Message Type", Type: schema.String, Desc: "protobuf message type, from the descriptor sets"})
	fTyped   = Proto.Field(schema.Field{Abbrev: "gogrpc.field", Name: "Field", Type: schema.None, Desc: "a field decoded with the message's schema"})
	fJSON    = Proto.Field(schema.Field{Abbrev: "gogrpc.json", Name: "JSON", Type: schema.String, Desc: "the message as protojson, one line"})

	xSchema        = Proto.Expert(schema.Expert{Abbrev: "gogrpc.schema_mismatch", Text: "Message does not decode with its schema", Group: schema.GroupMalformed, Severity: schema.Warn})
	xTruncated     = Proto.Expert(schema.Expert{Abbrev: "gogrpc.message_truncated", Text: "Message longer than the reassembly limit", Group: schema.GroupProtocol, Severity: schema.Note})
	xInflate       = Proto.Expert(schema.Expert{Abbrev: "gogrpc.decompression_failed", Text: "Message not decompressed", Group: schema.GroupMalformed, Severity: schema.Error})
	xNoEncoding    = Proto.Expert(schema.Expert{Abbrev: "gogrpc.encoding_missing", Text: "Compressed message, but the headers name no grpc-encoding", Group: schema.GroupProtocol, Severity: schema.Error})
	xEncodingGuess = Proto.Expert(schema.Expert{Abbrev: "gogrpc.encoding_assumed", Text: "grpc-encoding not captured: taken from the message's magic number", Group: schema.GroupAssumption, Severity: schema.Note})
	xNoJSON        = Proto.Expert(schema.Expert{Abbrev: "gogrpc.json_failed", Text: "Message not rendered as JSON", Group: schema.GroupUndecoded, Severity: schema.Note})
	xUnknown       = Proto.Expert(schema.Expert{Abbrev: "gogrpc.unknown_fields", Text: "Fields not in the message's schema", Group: schema.GroupProtocol, Severity: schema.Note})
	xFieldsCut     = Proto.Expert(schema.Expert{Abbrev: "gogrpc.pb.fields_cut", Text: "More protobuf fields than are decoded", Group: schema.GroupUndecoded, Severity: schema.Note})
	xAssumed       = Proto.Expert(schema.Expert{Abbrev: "gogrpc.assumed", Text: "Taken for gRPC by its DATA: the stream's content-type was not captured", Group: schema.GroupAssumption, Severity: schema.Note})
	// XIncomplete is for a stream that ends inside a message.
	XIncomplete = Proto.Expert(schema.Expert{Abbrev: "gogrpc.message_incomplete", Text: "Stream ended inside a message", Group: schema.GroupMalformed, Severity: schema.Warn})
	// XMessagesLost is for a stream direction whose messages are out of
	// step: frames of it were lost from the capture or cut.
	XMessagesLost = Proto.Expert(schema.Expert{Abbrev: "gogrpc.messages_lost", Text: "gRPC messages lost with frames missing from the capture", Group: schema.GroupSequence, Severity: schema.Warn})
	// XResumed is for the DATA frame where decoding resumes after that.
	XResumed = Proto.Expert(schema.Expert{Abbrev: "gogrpc.resumed", Text: "DATA after lost frames taken to start a gRPC message", Group: schema.GroupAssumption, Severity: schema.Note})
	// XWebText is for gRPC-Web-Text that does not decode as base64.
	XWebText = Proto.Expert(schema.Expert{Abbrev: "gogrpc.web_text_invalid", Text: "gRPC-Web-Text body is not base64", Group: schema.GroupMalformed, Severity: schema.Error})
	xStatus  = Proto.Expert(schema.Expert{Abbrev: "gogrpc.status.error", Text: "gRPC call failed", Group: schema.GroupResponse, Severity: schema.Warn})
)

// Call is what a stream knows of its gRPC call.
type Call struct {
	Path     string
	Encoding [2]string // grpc-encoding of the request and of the response
	// Text: the request's and the response's bodies are gRPC-Web-Text
	// (base64).
	Text [2]bool
	// Whole: the request's and the response's headers were decoded in
	// full, so a grpc-encoding they lack was not sent (rather than lost
	// with HPACK entries from before the capture).
	Whole [2]bool
	// Assumed: taken for gRPC by its DATA, its content-type not captured.
	Assumed bool
}

// name is how texts name the call: its path, when known.
func (c Call) name() string {
	if c.Path == "" {
		return "gRPC call (method unknown)"
	}
	return c.Path
}

// appendLabel appends ": " and the call's name, the start of the label of
// every protocol item of the call. Labels are built in a buffer on the
// stack: Sprintf would allocate for each.
func (c Call) appendLabel(b []byte) []byte {
	return append(append(b, ": "...), c.name()...)
}

// IsGRPC reports whether a content-type is gRPC's (application/grpc,
// application/grpc+proto, …) or gRPC-Web's (application/grpc-web,
// application/grpc-web-text, each with an optional +format), and whether
// the body is gRPC-Web-Text, whose messages travel in base64. Anything
// else after "application/grpc" (application/grpc-json, say) is not
// gRPC: grpc-go's client takes such a response as an HTTP error.
func IsGRPC(contentType string) (grpc, text bool) {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	if !ok {
		return false, false
	}
	if web, ok := strings.CutPrefix(rest, "-web"); ok {
		rest, text = strings.CutPrefix(web, "-text")
	}
	if rest != "" && rest[0] != '+' {
		return false, false
	}
	return true, text
}

// WebTrailers reads the trailers that gRPC-Web sends as the body's last
// frame: HTTP/1-style "name: value" lines. Names are lower-cased.
func WebTrailers(block []byte) func(name string) (string, bool) {
	fields := map[string]string{}
	for _, line := range strings.Split(string(block), "\n") {
		name, value, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if ok {
			// Shown as UTF-8 (tree.ValidUTF8), as HTTP/2 header fields are.
			fields[tree.ValidUTF8(strings.ToLower(strings.TrimSpace(name)))] = tree.ValidUTF8(strings.TrimSpace(value))
		}
	}
	return func(name string) (string, bool) {
		v, ok := fields[name]
		return v, ok
	}
}

// Limits bound what one message may cost; the zero value means the
// defaults.
type Limits struct {
	MaxMessage      int // octets kept per message while it is reassembled (gRPC's default limit: 4 MiB)
	MaxDecompressed int // octets a compressed message may inflate to
	MaxRatio        int // how many times its compressed size a message may inflate to
	// MaxDepth is the protobuf nesting followed (raw and typed); below 0,
	// none: decoding without a schema tries no bytes as a message (typed
	// decoding cannot do without nesting, and keeps the default).
	MaxDepth int
	// NoTree: nothing shows or filters on this packet's items (no tree,
	// and no later pass to render a kept result). A message is then not
	// decoded without a schema: nothing of that would reach an output.
	// Its data sources stay (tshark -x prints them without a tree), and
	// typed decoding still runs for its expert infos.
	NoTree bool
	// Inflated, when set, counts the octets that the messages of one
	// packet have inflated to: once it reaches MaxInflatedPerPacket, the
	// packet's further messages are not decompressed. MaxDecompressed
	// bounds a message, but a packet may hold thousands of them.
	Inflated *int
}

// MaxInflatedPerPacket bounds the octets that the messages of one packet
// (Limits.Inflated) inflate to, with the last one's MaxDecompressed: each
// goes into the packet's result as a data source.
const MaxInflatedPerPacket = 64 << 20

// MaxItemsPerPacket bounds the octets of items that the gRPC messages of
// one packet make, beyond one message's: a message is bounded, but a
// 16 MiB DATA frame holds three million empty ones, or two thousand of
// 4,096 fields each, whose items took half a gigabyte. The messages past
// it are counted in one expert info (XNotShown) instead.
const MaxItemsPerPacket = 64 << 20

// XNotShown is for the messages of a packet past MaxItemsPerPacket.
var XNotShown = xFieldsCut

// WithDefaults fills the unset limits.
func (l Limits) WithDefaults() Limits {
	if l.MaxMessage <= 0 {
		l.MaxMessage = 4 << 20
	}
	if l.MaxDecompressed <= 0 {
		l.MaxDecompressed = 4 << 20
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = 1000
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = 64
	}
	return l
}

// SplitPath splits "/pkg.Service/Method".
func SplitPath(p string) (service, method string) {
	s := strings.TrimPrefix(p, "/")
	service, method, _ = strings.Cut(s, "/")
	return service, method
}

func direction(request bool) string {
	if request {
		return "request"
	}
	return "response"
}

// WriteMessage writes one message that ended in the DATA payload at base.
// With a registry that knows the call's method, the message is decoded
// with its type; otherwise raw.
func WriteMessage(w tree.Writer, base int, m grpcmsg.Message, call Call, request bool, reg *pbschema.Registry, lim Limits) {
	lim = lim.WithDefaults()
	const gen = tree.FlagGenerated
	off, n := base+m.Off, m.N
	var buf [128]byte
	text := append(append(call.appendLabel(buf[:0]), ' '), direction(request)...)
	text = strconv.AppendUint(append(text, ", Length "...), uint64(m.Length), 10)
	if m.Compressed {
		text = append(text, ", compressed"...)
	}
	w.BeginBytes(Proto.Item, off, n, tree.FromBytes, text, 0)
	svc, method := SplitPath(call.Path)
	w.Add(fPath, off, n, tree.Str(call.Path), "", gen)
	w.Add(fService, off, n, tree.Str(svc), "", gen)
	w.Add(fMethod, off, n, tree.Str(method), "", gen)
	w.Add(fDirection, off, n, tree.Str(direction(request)), "", gen)
	flag := int64(0)
	if m.Compressed {
		flag = 1
	}
	w.Add(fCompressed, off, n, tree.Int(flag), "", 0)
	w.Add(fLength, off, n, tree.Int(int64(m.Length)), "", 0)
	if m.Parts > 1 {
		w.Add(fParts, off, n, tree.Int(int64(m.Parts)), "", gen)
	}
	if len(m.Frames) > 0 {
		w.Begin(fFragments, off, n, tree.Int(int64(len(m.Frames)+m.FramesCut)), "", gen)
		for _, p := range m.Frames {
			w.Add(fFragment, off, n, tree.Uint(uint64(p.Frame)), fmt.Sprintf(" (%d octets)", p.N), gen)
		}
		if m.FramesCut > 0 {
			w.Add(fFragment, off, n, tree.Uint(uint64(m.Frames[len(m.Frames)-1].Frame)),
				fmt.Sprintf(" (%d more frames not listed)", m.FramesCut), gen|tree.FlagHidden)
		}
		w.End()
	}
	if m.Truncated {
		w.Add(fTruncated, off, n, tree.Bool(true), "", gen)
		w.Expert(xTruncated, fmt.Sprintf("message of %d octets: only the first %d are kept (gogrpc.max_message)", m.Length, len(m.Data)))
	}
	payload := m.Data
	decoded := !m.Compressed && !m.Truncated
	if call.Assumed {
		w.Expert(xAssumed, "")
	}
	if m.Compressed {
		side := 1
		if request {
			side = 0
		}
		enc, text := call.Encoding[side], ""
		if enc == "" {
			// grpc-encoding not sent, or lost with the stream's headers
			// or with HPACK entries from before the capture: the
			// message's magic number names the usual encodings.
			enc = grpcmsg.Sniff(m.Data)
			switch {
			case call.Whole[side]:
				w.Expert(xNoEncoding, fmt.Sprintf("compressed message of %d octets, but the %s headers name no grpc-encoding (gRPC fails such a call with INTERNAL)", m.Length, direction(request)))
			case enc != "":
				w.Expert(xEncodingGuess, fmt.Sprintf("grpc-encoding of the %s not captured: %s, by the message's magic number", direction(request), enc))
			default:
				w.Expert(xInflate, fmt.Sprintf("message of %d octets not decompressed: grpc-encoding of the %s not captured, and no gzip, zlib, zstd or snappy magic number", m.Length, direction(request)))
			}
			if enc != "" {
				text = " (by the message's magic number)"
			}
		}
		if enc != "" {
			w.Add(fEncoding, off, n, tree.Str(enc), text, gen)
			max := min(lim.MaxDecompressed, max(len(m.Data), 1)*lim.MaxRatio)
			if m.Truncated {
				// Cut at gogrpc.max_message (noted above): a compressed
				// message's first octets do not inflate to its start.
			} else if lim.Inflated != nil && *lim.Inflated >= MaxInflatedPerPacket {
				w.Expert(xInflate, fmt.Sprintf("%s message of %d octets not decompressed: the messages before it in this packet inflated to %d octets (at most %d a packet)",
					enc, m.Length, *lim.Inflated, MaxInflatedPerPacket))
			} else if out, err := grpcmsg.Decompress(enc, m.Data, max); err != nil {
				w.Expert(xInflate, fmt.Sprintf("%s message of %d octets not decompressed: %v", enc, m.Length, err))
			} else {
				if lim.Inflated != nil {
					*lim.Inflated += len(out)
				}
				w.Add(fInflated, off, n, tree.Int(int64(len(out))), "", gen)
				payload, decoded = out, !m.Truncated
			}
		}
	}
	// Where Wireshark has the payload's octets, for strings shown from
	// there: in the frame, or in the data source added for it.
	at := fieldBytes{ok: true, base: result.RefSource}
	if m.Length > 0 {
		if m.Parts == 1 && !m.Encoded && n == grpcmsg.PrefixLen+int(m.Length) {
			w.Add(fData, off+grpcmsg.PrefixLen, int(m.Length), tree.FromBytes, "", 0)
			at = fieldBytes{ok: true, base: result.RefRange, off: off + grpcmsg.PrefixLen}
		} else {
			// Reassembled from several DATA frames: the message gets a
			// data source of its own, as Wireshark's reassembly does.
			w.Add(fData, 0, len(m.Data), tree.Bytes(m.Data), "Reassembled gRPC message", tree.FlagDataSource)
		}
	}
	if m.Compressed && decoded && len(payload) > 0 {
		w.Add(fInflatedData, 0, len(payload), tree.Bytes(payload), "Decompressed gRPC message", tree.FlagDataSource)
		at = fieldBytes{ok: true, base: result.RefSource}
	}
	// An empty message is a valid one (every field at its default), which
	// a schema can still name and render as {}.
	if decoded && !writeTyped(w, off, n, payload, call.Path, request, reg, lim.MaxDepth) && m.Length > 0 && !lim.NoTree {
		if fields, cut, ok := grpcmsg.DecodeRawLimits(payload, lim.MaxDepth, 0); ok {
			writeFields(w, off, n, fields, at, 0)
			if cut {
				w.Expert(xFieldsCut, fmt.Sprintf("decoding without a schema stopped after %d fields (nested ones included); the message data holds the rest", grpcmsg.MaxFields))
			}
		}
	}
	w.End()
}

// fieldBytes says where Wireshark has the octets that fields were decoded
// from: a string is then shown from them (tree.At) instead of carried,
// and kept for later passes, beside them. ok is false where it has not
// (a status detail decoded from a header's base64).
type fieldBytes struct {
	ok   bool
	base result.RefBase
	off  int // of the decoded octets in base's bytes
}

func writeFields(w tree.Writer, off, n int, fields []grpcmsg.Field, at fieldBytes, depth int) {
	const gen = tree.FlagGenerated
	if !room(w, 1) {
		return
	}
	// Nested fields are items a level further down: where the result
	// has no room for them, the bytes are shown instead.
	nest := room(w, 2)
	var buf [256]byte
	for _, f := range fields {
		if !nest {
			f.Nested = nil
		}
		label := strconv.AppendInt(append(buf[:0], ' '), int64(f.Number), 10)
		label = append(append(append(label, " ("...), wireTypes[uint64(f.Type)]...), ')')
		switch {
		case f.Type == protowire.VarintType:
			label = strconv.AppendUint(append(label, ": "...), f.Varint, 10)
		case f.Type == protowire.Fixed32Type || f.Type == protowire.Fixed64Type:
			label = strconv.AppendUint(append(label, ": "...), f.Fixed, 10)
		case f.Text:
			label = appendQuoted(append(label, ": "...), f.Bytes)
		case f.Nested == nil:
			label = append(strconv.AppendInt(append(label, ": "...), int64(len(f.Bytes)), 10), " octets"...)
		}
		w.BeginBytes(fPBField, off, n, tree.FromBytes, label, gen)
		w.Add(fPBNumber, off, n, tree.Int(int64(f.Number)), "", gen)
		w.Add(fPBWire, off, n, tree.Int(int64(f.Type)), "", gen)
		switch f.Type {
		case protowire.VarintType:
			w.Add(fPBInt, off, n, tree.Uint(f.Varint), "", gen)
		case protowire.Fixed32Type, protowire.Fixed64Type:
			w.Add(fPBInt, off, n, tree.Uint(f.Fixed), "", gen)
		case protowire.BytesType:
			if f.Nested != nil {
				writeFields(w, off, n, f.Nested, at, depth+1)
			} else if f.Text && at.ok {
				// The whole string, for filters.
				w.Add(fPBString, off, n, tree.At(at.base, at.off+f.Off, f.Bytes), "", gen)
			} else if f.Text {
				// A view of the bytes, not a copy: the encoder copies it.
				w.Add(fPBString, off, n, tree.Str(unsafe.String(unsafe.SliceData(f.Bytes), len(f.Bytes))), "", gen)
			} else {
				w.Add(fPBBytes, off, n, tree.Bytes(f.Bytes), "", gen)
			}
		}
		w.End()
	}
}

// room tells whether levels more items with children can open under the
// one open now: the result encoder refuses to nest deeper than
// result.MaxDepth, and then loses the whole packet's result (the HTTP/2
// frames around the message too). A message nested as deep as the
// decoding limits allow, under the items that hold it, would reach that.
func room(w tree.Writer, levels int) bool {
	return w.ExpertsOnly || w.E.Depth()+levels <= result.MaxDepth
}

// labelText is how many octets of a string a label quotes: Wireshark
// cuts a label at 240 octets (ITEM_LABEL_LENGTH), so quoting more of a
// long string is work that nobody sees.
const labelText = 160

// appendQuoted appends s quoted, its first labelText octets (cut at a
// rune's start) and an ellipsis and its length when it is longer.
func appendQuoted(label, s []byte) []byte {
	total := len(s)
	if total > labelText {
		i := labelText
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	// A view of the bytes, not a copy: AppendQuote keeps nothing.
	label = strconv.AppendQuote(label, unsafe.String(unsafe.SliceData(s), len(s)))
	if total > len(s) {
		label = append(strconv.AppendInt(append(label, "… ("...), int64(total), 10), " octets)"...)
	}
	return label
}

// WriteRequest writes the call as its request HEADERS open it: the
// method, content-type, user-agent, grpc-timeout and grpc-encoding.
func WriteRequest(w tree.Writer, off, n int, call Call, fields func(name string) (string, bool)) {
	const gen = tree.FlagGenerated
	var label [128]byte
	w.BeginBytes(Proto.Item, off, n, tree.FromBytes, append(call.appendLabel(label[:0]), " call"...), 0)
	svc, method := SplitPath(call.Path)
	w.Add(fPath, off, n, tree.Str(call.Path), "", gen)
	w.Add(fService, off, n, tree.Str(svc), "", gen)
	w.Add(fMethod, off, n, tree.Str(method), "", gen)
	w.Add(fDirection, off, n, tree.Str(direction(true)), "", gen)
	if v, ok := fields("content-type"); ok {
		w.Add(fContentType, off, n, tree.Str(v), "", gen)
	}
	if v, ok := fields("user-agent"); ok {
		w.Add(fUserAgent, off, n, tree.Str(v), "", gen)
	}
	if v, ok := fields("grpc-timeout"); ok {
		if d, ok := ParseTimeout(v); ok {
			w.Add(fTimeout, off, n, tree.Duration(d), "", gen|tree.FlagTime)
		}
	}
	if v, ok := fields("grpc-encoding"); ok {
		w.Add(fEncoding, off, n, tree.Str(v), "", gen)
	}
	w.End()
}

// WriteStatus writes how the call ended: its status from a trailers
// block (or a trailers-only response), or as ReadStatus or ResetStatus
// found it.
func WriteStatus(w tree.Writer, off, n int, call Call, s Status, reg *pbschema.Registry, summary func(tree.Writer)) {
	const gen = tree.FlagGenerated
	var label [128]byte
	w.BeginBytes(Proto.Item, off, n, tree.FromBytes, append(append(call.appendLabel(label[:0]), " status "...), s.Code.String()...), 0)
	w.Add(fPath, off, n, tree.Str(call.Path), "", gen)
	svc, method := SplitPath(call.Path)
	w.Add(fService, off, n, tree.Str(svc), "", gen)
	w.Add(fMethod, off, n, tree.Str(method), "", gen)
	if s.From != "" {
		w.Add(fStatus, off, n, tree.Int(int64(s.Code)), "", gen)
		w.Add(fStatusFrom, off, n, tree.Str(s.From), "", gen)
	} else {
		w.Add(fStatus, off, n, tree.Int(int64(s.Code)), "", 0)
	}
	if s.Message != "" {
		w.Add(fStatusMsg, off, n, tree.Str(s.Message), "", 0)
	}
	if s.Details != "" {
		writeDetails(w, off, n, s.Details, reg)
	}
	if summary != nil {
		summary(w)
	}
	if s.Code != codes.OK {
		text := fmt.Sprintf("%s ended with %v", call.name(), s.Code)
		if s.From != "" {
			text += " (" + s.From + ")"
		}
		if s.Message != "" {
			text += ": " + s.Message
		}
		w.Expert(xStatus, text)
	}
	w.End()
}

// writeDetails decodes grpc-status-details-bin: a base64 (padded or not)
// google.rpc.Status whose details are Any messages, decoded with their
// types when the descriptor sets have them (google.rpc.BadRequest …),
// raw otherwise.
func writeDetails(w tree.Writer, off, n int, v string, reg *pbschema.Registry) {
	const gen = tree.FlagGenerated
	raw, err := decodeBin(v)
	var st spb.Status
	if err == nil {
		err = proto.Unmarshal(raw, &st)
	}
	if err != nil {
		w.Add(fDetails, off, n, tree.Str("undecodable: "+err.Error()), "", gen)
		return
	}
	w.Begin(fDetails, off, n, tree.Str(fmt.Sprintf("code %v, %q, %d details", codes.Code(st.Code), st.Message, len(st.Details))), "", gen)
	for _, d := range st.Details {
		w.Begin(fDetailType, off, n, tree.Str(d.TypeUrl), "", gen)
		md, typed := reg.AnyType(d.TypeUrl)
		if typed {
			typed = writeTypedAs(w, off, n, d.Value, md, "status detail", reg, 0)
		}
		if fields, ok := grpcmsg.DecodeRaw(d.Value, 0); ok && !typed {
			writeFields(w, off, n, fields, fieldBytes{}, 0)
		}
		w.End()
	}
	w.End()
}
