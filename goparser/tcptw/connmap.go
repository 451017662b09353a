package tcptw

import (
	"math/bits"
	"math/rand/v2"
)

// tupleSeed keys tupleSeed.hash. It is random, so that a capture cannot
// be made of tuples that collide.
type tupleSeed [2]uint64

func newTupleSeed() tupleSeed { return tupleSeed{rand.Uint64(), rand.Uint64()} }

// hash mixes both endpoint codes of k: two multiplications, each folded.
// Every segment looks its tuple up, and Go's maps spent more time hashing
// (aeshash through the generic path) than looking up. The second product
// is of 128 bits, so that every bit of k reaches the low bits that pick
// a slot: with a 64-bit one, the top bits of k.hi (an address's) did not,
// and tuples differing only there collided whatever the seed.
func (s tupleSeed) hash(k twKey) uint64 {
	h := (k.lo ^ s[0]) * 0x9e3779b97f4a7c15
	hi, lo := bits.Mul64(h^h>>32^k.hi^s[1], 0xd6e8feb86659fd93)
	return hi ^ lo
}

// connMap maps the tuples of two IPv4 endpoints to their open
// connections: open addressing with linear probing, at most half full,
// and deletion by backward shift (no tombstones). On the bench's storm
// capture perf put 15% of twreport's time in a Go map here and its
// hashing, and 5% in this.
type connMap struct {
	slots []connSlot // a power of two; c == nil: empty
	n     int
	seed  tupleSeed
}

type connSlot struct {
	k twKey
	c *conn
}

const connMapMinSlots = 64

// find returns the slot of k, or the first empty slot of its probe
// sequence.
func (m *connMap) find(k twKey) (int, bool) {
	mask := len(m.slots) - 1
	for i := int(m.seed.hash(k)) & mask; ; i = (i + 1) & mask {
		s := &m.slots[i]
		if s.c == nil {
			return i, false
		}
		if s.k == k {
			return i, true
		}
	}
}

func (m *connMap) get(k twKey) *conn {
	if m.n == 0 {
		return nil
	}
	i, _ := m.find(k)
	return m.slots[i].c
}

func (m *connMap) put(k twKey, c *conn) {
	if m.slots == nil {
		m.slots = make([]connSlot, connMapMinSlots)
		m.seed = newTupleSeed()
	}
	i, ok := m.find(k)
	m.slots[i] = connSlot{k, c}
	if ok {
		return
	}
	m.n++
	if 2*m.n > len(m.slots) {
		old := m.slots
		m.slots = make([]connSlot, 2*len(old))
		for _, s := range old {
			if s.c != nil {
				j, _ := m.find(s.k)
				m.slots[j] = s
			}
		}
	}
}

// remove deletes k if it maps to c.
func (m *connMap) remove(k twKey, c *conn) {
	if m.n == 0 {
		return
	}
	i, ok := m.find(k)
	if !ok || m.slots[i].c != c {
		return
	}
	m.n--
	mask := len(m.slots) - 1
	for j := (i + 1) & mask; m.slots[j].c != nil; j = (j + 1) & mask {
		home := int(m.seed.hash(m.slots[j].k)) & mask
		// j's entry may move to the hole at i when i lies cyclically in
		// [home, j).
		if (j-home)&mask >= (j-i)&mask {
			m.slots[i] = m.slots[j]
			i = j
		}
	}
	m.slots[i] = connSlot{}
}

// all yields every connection. The caller must not change the map
// meanwhile: a deletion moves entries.
func (m *connMap) all(yield func(*conn) bool) {
	for _, s := range m.slots {
		if s.c != nil && !yield(s.c) {
			return
		}
	}
}
