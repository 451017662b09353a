package main

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
}

// maxKeptOp is the largest op whose results are kept.
const maxKeptOp = opGRPCWeb

const keptChunk = 1 << 20

// span locates a kept result; n == 0 means none (an encoded result is
// never empty).
type span struct {
	chunk, off, n uint32
}

func (k *keptResults) put(key keptKey, b []byte) {
	if int(key.op) > maxKeptOp || len(b) == 0 || uint64(len(b)) > 1<<31 {
		return
	}
	last := len(k.chunks) - 1
	if last < 0 || len(k.chunks[last])+len(b) > cap(k.chunks[last]) {
		k.chunks = append(k.chunks, make([]byte, 0, max(keptChunk, len(b))))
		last++
	}
	c := k.chunks[last]
	s := span{uint32(last), uint32(len(c)), uint32(len(b))}
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
	return k.chunks[s.chunk][s.off : s.off+s.n : s.off+s.n], true
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
