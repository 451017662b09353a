package main

import "github.com/klauspost/compress/zstd"

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

func (k *keptResults) put(key keptKey, b []byte) {
	if int(key.op) > maxKeptOp || len(b) == 0 || uint64(len(b)) >= compressedBit {
		return
	}
	var flag uint32
	if len(b) > compressAbove {
		if k.zenc == nil {
			k.zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		}
		if z := k.zenc.EncodeAll(b, k.scratch[:0]); len(z) < len(b) {
			b, flag, k.scratch = z, compressedBit, z
		}
	}
	last := len(k.chunks) - 1
	if last < 0 || len(k.chunks[last])+len(b) > cap(k.chunks[last]) {
		k.chunks = append(k.chunks, make([]byte, 0, max(keptChunk, len(b))))
		last++
	}
	c := k.chunks[last]
	s := span{uint32(last), uint32(len(c)), uint32(len(b)) | flag}
	k.chunks[last] = append(c, b...)
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
