package main

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/klauspost/compress/zstd"
)

// keptResults holds results for later passes over a frame (see
// goparser.h). A tshark run keeps one for every frame of a capture, so
// they are appended to large chunks instead of each being allocated, and
// the first call of each frame (ordinal 1, nearly all of them) is found by
// its frame number in a slice instead of a map.
type keptResults struct {
	chunks [][]byte
	first  [maxKeptOp + 1][]span // by op, then frame; ordinal 1
	others map[keptKey]span      // ordinals above 1
	// unkept has a bit for each frame, by op, whose result was not kept
	// because no later pass was to come (see goparser.h), so that a
	// fetch for it is an error instead of "not ours".
	unkept [maxKeptOp + 1][]uint64

	// Results above compressAbove are kept compressed.
	zenc    *zstd.Encoder
	zdec    *zstd.Decoder
	scratch []byte // a compressed result's last decompression
	joined  []byte // a large result behind its fingerprint, to compress
}

// compressAbove is the size above which a result is kept compressed with
// zstd. Real traffic seldom makes one (a large gRPC message as a data
// source); hostile captures do, mostly of repetition: HEADERS that index
// one 4,000-octet HPACK entry thousands of times decode, within the
// header list limit, to 2 MB of items from 4 KB of capture, and kept
// whole they grew tshark by that much a frame (1.4 GB for a 2.6 MB
// capture; Wireshark's http2 stays flat). Compressed, such a frame keeps
// a few kilobytes.
const compressAbove = 64 << 10

// compressedBit marks a span whose octets are compressed.
const compressedBit = 1 << 31

// maxKeptOp is the largest op whose results are kept.
const maxKeptOp = opGRPCWeb

const keptChunk = 1 << 20

// span locates a kept result; n == 0 means none (an encoded result is
// never empty).
type span struct {
	chunk, off, n uint32
}

// A payload's fingerprint: the length and CRC-32C of the octets its
// result's items lie in. A result of a stream op (GP_OP_H2,
// GP_OP_GRPC_WEB) is kept behind the fingerprint of what it was decoded
// from, because a later pass may be handed other octets at the same frame
// and ordinal: with tcp.reassemble_out_of_order off, segments that came
// out of order are reassembled on the second pass along with data that
// the first pass saw only later, and the first pass's items, laid on
// those octets, would point past them or at others. Only the octets the
// decoder took count: a PDU it asked more for (a frame header cut by the
// segment's end, DESEGMENT_ONE_MORE_SEGMENT) comes again on a later pass
// as far as it took, without the next segment's octets.
const fingerprintLen = 8

func fingerprint(taken []byte) [fingerprintLen]byte {
	var f [fingerprintLen]byte
	binary.LittleEndian.PutUint32(f[:], uint32(len(taken)))
	binary.LittleEndian.PutUint32(f[4:], crc32.Checksum(taken, castagnoli))
	return f
}

// fits reports whether a result kept behind fingerprint f (its first
// fingerprintLen octets) was decoded from octets that payload begins with.
func fits(f, payload []byte) bool {
	if len(f) < fingerprintLen {
		return false
	}
	n := binary.LittleEndian.Uint32(f)
	return uint64(n) <= uint64(len(payload)) && [fingerprintLen]byte(f) == fingerprint(payload[:n])
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fingerprinted reports whether op's results are kept behind their
// payload's fingerprint.
func fingerprinted(op uint8) bool { return op == opH2 || op == opGRPCWeb }

// putPayload keeps b, the result of decoding payload, whose items lie in
// taken (payload's first octets), for key.
func (k *keptResults) putPayload(key keptKey, taken, b []byte) {
	f := fingerprint(taken)
	k.putAfter(key, f[:], b)
}

// getPayload returns the result kept for key's frame that was decoded
// from the octets that payload begins with: key's own, or, when the calls
// of a later pass over the frame fall differently (a reassembled PDU
// before the rest of a segment, or not), another ordinal's. It reports
// whether a result was kept for key at all, or one was found.
func (k *keptResults) getPayload(key keptKey, payload []byte) (b []byte, found keptKey, kept bool) {
	b, kept = k.get(key)
	if kept && fits(b, payload) {
		return b[fingerprintLen:], key, true
	}
	for ord := uint16(1); ord <= maxOrdinalSearched; ord++ {
		other := keptKey{key.op, key.frame, ord}
		if ord == key.ord {
			continue
		}
		if o, ok := k.get(other); ok && fits(o, payload) {
			return o[fingerprintLen:], other, true
		}
	}
	return nil, keptKey{}, kept
}

// maxOrdinalSearched bounds the search of getPayload: a frame's calls are
// a reassembled PDU or two and the rest of its segment.
const maxOrdinalSearched = 8

func (k *keptResults) put(key keptKey, b []byte) { k.putAfter(key, nil, b) }

// putAfter keeps prefix and b, one after the other, for key.
func (k *keptResults) putAfter(key keptKey, prefix, b []byte) {
	if int(key.op) > maxKeptOp || len(b) == 0 || uint64(len(prefix)+len(b)) >= compressedBit {
		return
	}
	var flag uint32
	if len(prefix)+len(b) > compressAbove {
		if len(prefix) > 0 {
			k.joined = append(append(k.joined[:0], prefix...), b...)
			prefix, b = nil, k.joined
		}
		if k.zenc == nil {
			k.zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		}
		if z := k.zenc.EncodeAll(b, k.scratch[:0]); len(z) < len(b) {
			b, flag, k.scratch = z, compressedBit, z
		}
	}
	n := len(prefix) + len(b)
	last := len(k.chunks) - 1
	if last < 0 || len(k.chunks[last])+n > cap(k.chunks[last]) {
		k.chunks = append(k.chunks, make([]byte, 0, max(keptChunk, n)))
		last++
	}
	c := k.chunks[last]
	s := span{uint32(last), uint32(len(c)), uint32(n) | flag}
	k.chunks[last] = append(append(c, prefix...), b...)
	if key.ord != 1 {
		if k.others == nil {
			k.others = make(map[keptKey]span)
		}
		k.others[key] = s
		return
	}
	f := k.first[key.op]
	if int(key.frame) >= len(f) {
		f = append(f, make([]span, int(key.frame)+1-len(f)+len(f)/2)...)
		k.first[key.op] = f
	}
	f[key.frame] = s
}

func (k *keptResults) get(key keptKey) ([]byte, bool) {
	var s span
	if int(key.op) > maxKeptOp {
		return nil, false
	}
	if key.ord == 1 {
		if f := k.first[key.op]; int(key.frame) < len(f) {
			s = f[key.frame]
		}
	} else {
		s = k.others[key]
	}
	if s.n == 0 {
		return nil, false
	}
	n := s.n &^ compressedBit
	b := k.chunks[s.chunk][s.off : s.off+n : s.off+n]
	if s.n&compressedBit == 0 {
		return b, true
	}
	// Valid until the next get or put, as the caller copies it out at once.
	if k.zdec == nil {
		k.zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	}
	out, err := k.zdec.DecodeAll(b, k.scratch[:0])
	if err != nil {
		return nil, false
	}
	k.scratch = out
	return out[:len(out):len(out)], true
}

// skip records that the result for key was not kept.
func (k *keptResults) skip(key keptKey) {
	if int(key.op) > maxKeptOp {
		return
	}
	u := k.unkept[key.op]
	if i := int(key.frame / 64); i >= len(u) {
		u = append(u, make([]uint64, i+1-len(u)+len(u)/2)...)
		k.unkept[key.op] = u
	}
	u[key.frame/64] |= 1 << (key.frame % 64)
}

// skipped reports whether skip was called for key's op and frame.
func (k *keptResults) skipped(key keptKey) bool {
	if int(key.op) > maxKeptOp {
		return false
	}
	u := k.unkept[key.op]
	i := int(key.frame / 64)
	return i < len(u) && u[i]&(1<<(key.frame%64)) != 0
}
