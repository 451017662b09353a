// Package grpcmsg reassembles gRPC length-prefixed messages from the DATA
// frames of one HTTP/2 stream direction, and decodes protobuf without a
// schema (like protoc --decode_raw) with google.golang.org/protobuf's
// protowire.
package grpcmsg

import (
	"encoding/binary"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// PrefixLen is the length of a gRPC message prefix: a compressed flag and
// a 4-octet big-endian length.
const PrefixLen = 5

// Flag bits of a message prefix. gRPC uses only FlagCompressed; gRPC-Web
// also sends its trailers as a message with FlagTrailer set.
const (
	FlagCompressed = 0x01
	FlagTrailer    = 0x80
)

// MaxFrames caps the frames listed per message: a 4 MiB message can span
// thousands of segments, and the list is memory held per message.
const MaxFrames = 64

// Part is where one piece of a message travelled: a capture frame and the
// octets (prefix included) that it carried.
type Part struct {
	Frame uint32
	N     uint32
}

// Message is a gRPC message that completed in the data just fed.
type Message struct {
	Compressed bool
	Trailer    bool // a gRPC-Web trailers frame: Data holds header lines
	Length     uint32
	Data       []byte // the message, up to the reassembler's cap
	Truncated  bool   // Length was above the cap: Data holds the first octets
	Off, N     int    // the part of the fed data that carried its last octets
	Parts      int    // DATA chunks the message spanned
	// Frames lists the capture frames that carried the message, in order,
	// when they are more than one (up to MaxFrames; FramesCut counts the
	// rest). The last is the frame of the chunk just fed.
	Frames    []Part
	FramesCut int
	// Encoded: the octets on the wire were gRPC-Web-Text (base64), so
	// Off and N cover the text that carried the message, not the message.
	Encoded bool
}

// Reassembler follows one stream direction. The zero value is ready; Max
// caps the octets kept per message (0 means 4 MiB, gRPC's default limit).
type Reassembler struct {
	Max    int
	prefix [PrefixLen]byte
	have   int // prefix octets seen
	length uint32
	got    uint32
	buf    []byte
	parts  int
	start  int // where the current message's part began in this chunk
	frames []Part
	cut    int
}

func (r *Reassembler) max() int {
	if r.Max > 0 {
		return r.Max
	}
	return 4 << 20
}

// Feed consumes one DATA payload and returns the messages that completed
// in it. Returned Data stays valid until the next Feed.
func (r *Reassembler) Feed(data []byte) []Message {
	return r.FeedFrame(data, 0)
}

// FeedFrame is Feed for a payload carried by capture frame number frame
// (0: unknown), so that messages list the frames they spanned.
func (r *Reassembler) FeedFrame(data []byte, frame uint32) []Message {
	var out []Message
	off := 0
	r.start = 0
	if r.have > 0 || r.got > 0 {
		r.parts++
	}
	for off < len(data) {
		if r.have < PrefixLen {
			if r.have == 0 {
				r.start = off
				r.parts = 1
				r.frames, r.cut = r.frames[:0], 0
			}
			n := copy(r.prefix[r.have:], data[off:])
			r.have += n
			off += n
			if r.have < PrefixLen {
				break
			}
			r.length = binary.BigEndian.Uint32(r.prefix[1:])
			r.got = 0
			r.buf = r.buf[:0]
		}
		n := min(int(r.length-r.got), len(data)-off)
		if keep := r.max() - len(r.buf); keep > 0 {
			r.buf = append(r.buf, data[off:off+min(n, keep)]...)
		}
		r.got += uint32(n)
		off += n
		if r.got == r.length {
			r.addPart(frame, off-r.start)
			m := Message{
				Compressed: r.prefix[0]&FlagCompressed != 0, Trailer: r.prefix[0]&FlagTrailer != 0,
				Length: r.length, Data: r.buf,
				Truncated: int(r.length) > r.max(), Off: r.start, N: off - r.start, Parts: r.parts,
			}
			if len(r.frames) > 1 || r.cut > 0 {
				m.Frames, m.FramesCut = append([]Part(nil), r.frames...), r.cut
			}
			out = append(out, m)
			r.buf = nil // the caller keeps the slice
			r.have, r.got, r.length = 0, 0, 0
			r.frames, r.cut = r.frames[:0], 0
			r.start = off
		}
	}
	if r.have > 0 {
		r.addPart(frame, len(data)-r.start)
	}
	return out
}

// Pending reports a message begun and not completed: the octets of it
// seen (its prefix included) and the octets it declared (0 while its
// prefix is incomplete).
func (r *Reassembler) Pending() (seen, length int, ok bool) {
	if r.have == 0 {
		return 0, 0, false
	}
	if r.have < PrefixLen {
		return r.have, 0, true
	}
	return PrefixLen + int(r.got), PrefixLen + int(r.length), true
}

// addPart records that frame carried n more octets of the current message.
func (r *Reassembler) addPart(frame uint32, n int) {
	if frame == 0 || n <= 0 {
		return
	}
	if k := len(r.frames); k > 0 && r.frames[k-1].Frame == frame {
		r.frames[k-1].N += uint32(n)
		return
	}
	if len(r.frames) >= MaxFrames {
		r.cut++
		return
	}
	r.frames = append(r.frames, Part{Frame: frame, N: uint32(n)})
}

// Field is one protobuf field decoded without a schema.
type Field struct {
	Number protowire.Number
	Type   protowire.Type
	Varint uint64
	Fixed  uint64
	Bytes  []byte
	// Off is where Bytes start in the octets given to DecodeRaw or
	// DecodeRawLimits, so that a string can be shown from those octets.
	Off    int
	Nested []Field // Bytes parsed as a message, when they parse
	// Text: Bytes are valid UTF-8 (and not taken for a message), to show
	// as a string.
	Text bool
}

// MaxDepth bounds nested decoding by DecodeRaw.
const MaxDepth = 16

// MaxFields caps the fields built for one message, nested ones and those
// of bytes tried as a message included: a 4 MiB message of one-octet
// varints would otherwise be millions of fields, built and shown.
const MaxFields = 4096

// DecodeRaw decodes b as a protobuf message without a schema. It reports
// false when b is not a well-formed message. Nested messages are followed
// to MaxDepth levels below depth.
func DecodeRaw(b []byte, depth int) ([]Field, bool) {
	d := rawDecoder{max: MaxDepth, budget: MaxFields}
	return d.decode(b, depth, 0)
}

// DecodeRawLimits decodes b from the top with a nesting limit (0: no
// nested messages) and a cap on the fields built (MaxFields when 0 or
// less). cut reports that the cap stopped the decoding: fields holds the
// first ones, and ok still says whether the rest of each level is
// well-formed.
func DecodeRawLimits(b []byte, maxDepth, maxFields int) (fields []Field, cut, ok bool) {
	if maxFields <= 0 {
		maxFields = MaxFields
	}
	d := rawDecoder{max: max(maxDepth, 0), budget: maxFields}
	fields, ok = d.decode(b, 0, 0)
	return fields, d.cut, ok
}

type rawDecoder struct {
	max    int  // nesting limit
	budget int  // fields that may still be built
	cut    bool // the budget ran out
}

// decode decodes b, which starts at off of the top message.
func (d *rawDecoder) decode(b []byte, depth, off int) ([]Field, bool) {
	var fields []Field
	end := off + len(b)
	for len(b) > 0 {
		if d.budget <= 0 {
			// Check the rest without building it, so that ok still
			// tells a message from bytes that are not one.
			d.cut = true
			return fields, wellFormed(b)
		}
		d.budget--
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num <= 0 {
			return nil, false
		}
		b = b[n:]
		f := Field{Number: num, Type: typ}
		switch typ {
		case protowire.VarintType:
			f.Varint, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.Fixed = uint64(v)
		case protowire.Fixed64Type:
			f.Fixed, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.Bytes, n = protowire.ConsumeBytes(b)
			if n >= 0 {
				f.Off = end - len(b) + n - len(f.Bytes)
				d.bytes(&f, depth)
			}
		default:
			return nil, false // groups are long deprecated; treat as not a message
		}
		if n < 0 {
			return nil, false
		}
		b = b[n:]
		fields = append(fields, f)
	}
	return fields, true
}

// bytes decides how a length-delimited field shows: as text, as a nested
// message, as a string, or as bytes.
func (d *rawDecoder) bytes(f *Field, depth int) {
	if printable(f.Bytes) {
		// Text parses as a message too often ("xxxx" is field 15, a
		// varint, 4,096 times over): take it for what it looks like.
		f.Text = true
		return
	}
	if depth < d.max && len(f.Bytes) > 0 && d.budget > 0 {
		if nested, ok := d.decode(f.Bytes, depth+1, f.Off); ok {
			f.Nested = nested
			return
		}
	}
	f.Text = utf8.Valid(f.Bytes)
}

// printable reports whether b is text to show as a string rather than try
// as a message: valid UTF-8 without control characters other than tab,
// CR and LF, and not starting with one of those three, which as octets
// are the tags of field 1 (fixed64, length-delimited, fixed32), the way
// most nested messages start.
func printable(b []byte) bool {
	if len(b) == 0 || b[0] < 0x20 {
		return false
	}
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && n == 1) || r < 0xa0 { // invalid, or a C1 control
			return false
		}
		i += n
	}
	return true
}

// wellFormed reports whether b is a sequence of whole fields (groups
// excepted, as decode treats them), without looking inside any.
func wellFormed(b []byte) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num <= 0 || typ == protowire.StartGroupType || typ == protowire.EndGroupType {
			return false
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}
