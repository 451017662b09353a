// Package grpcmsg reassembles gRPC length-prefixed messages from the DATA
// frames of one HTTP/2 stream direction, and decodes protobuf without a
// schema (like protoc --decode_raw) with google.golang.org/protobuf's
// protowire.
package grpcmsg

import (
	"encoding/binary"

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
	Nested []Field // Bytes parsed as a message, when they parse
}

// MaxDepth bounds nested decoding by DecodeRaw.
const MaxDepth = 16

// DecodeRaw decodes b as a protobuf message without a schema. It reports
// false when b is not a well-formed message. Nested messages are followed
// to MaxDepth levels below depth.
func DecodeRaw(b []byte, depth int) ([]Field, bool) {
	return decodeRaw(b, depth, MaxDepth)
}

// DecodeRawDepth is DecodeRaw from the top with another nesting limit.
func DecodeRawDepth(b []byte, max int) ([]Field, bool) {
	if max <= 0 {
		max = MaxDepth
	}
	return decodeRaw(b, 0, max)
}

func decodeRaw(b []byte, depth, max int) ([]Field, bool) {
	var fields []Field
	for len(b) > 0 {
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
			if n >= 0 && depth < max && len(f.Bytes) > 0 {
				if nested, ok := decodeRaw(f.Bytes, depth+1, max); ok {
					f.Nested = nested
				}
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
