package tcptw

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTupleHash: flipping any one bit of either endpoint code moves a
// tuple's first slot in a table of 2^13, whatever the seed, as often as
// chance has it (1 in 8,192).
func TestTupleHash(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const mask = 1<<13 - 1
	for bit := range 128 {
		same := 0
		for range 500 {
			s := tupleSeed{rng.Uint64(), rng.Uint64()}
			k := twKey{rng.Uint64(), rng.Uint64()}
			f := k
			if bit < 64 {
				f.lo ^= 1 << bit
			} else {
				f.hi ^= 1 << (bit - 64)
			}
			if s.hash(k)&mask == s.hash(f)&mask {
				same++
			}
		}
		if same > 5 {
			t.Errorf("bit %d of the key: the same first slot in %d of 500", bit, same)
		}
	}
}

// TestEmptySlot: holes in a cluster that wraps past the table's end are
// closed so that every key is still found, and none moves before its
// first slot.
func TestEmptySlot(t *testing.T) {
	const size = 16
	// Entries' tags are their first slots; their values name them.
	homes := []int{13, 13, 14, 15, 15, 0, 1, 1, 3}
	for drop := range homes {
		slots := make([]uint64, size)
		where := map[int]int{} // entry → slot
		for e, h := range homes {
			i := h
			for slots[i] != 0 {
				i = (i + 1) % size
			}
			slots[i] = uint64(h)<<32 | uint64(e+1)
			where[e] = i
		}
		emptySlot(slots, where[drop])
		for e, h := range homes {
			i, found := h, false
			for ; slots[i] != 0; i = (i + 1) % size {
				if uint32(slots[i]) == uint32(e+1) {
					found = true
					break
				}
			}
			if found == (e == drop) {
				t.Errorf("entry %d emptied: entry %d (first slot %d) found %v; slots %x", drop, e, h, found, slots)
			}
		}
	}
}

// TestConnMap: the map agrees with a Go map kept alongside, through
// growth and removals that shift entries: over tuples whose first slots
// crowd into the last four of the 64 (a cluster that wraps past the end),
// few tuples and many.
func TestConnMap(t *testing.T) {
	seed := tupleSeed{5, 6}
	var crowded []twKey
	for i := uint64(0); len(crowded) < 30; i++ {
		if k := (twKey{i, 9}); seed.hash(k)&(connMapMinSlots-1) >= connMapMinSlots-4 {
			crowded = append(crowded, k)
		}
	}
	for _, tuples := range []int{len(crowded), 40, 5000} {
		m := connMap{slots: make([]connSlot, connMapMinSlots), seed: seed}
		want := map[twKey]*conn{}
		rng := rand.New(rand.NewPCG(2, uint64(tuples)))
		key := func() twKey { return twKey{uint64(rng.IntN(tuples)), 3} }
		if tuples == len(crowded) {
			key = func() twKey { return crowded[rng.IntN(tuples)] }
		}
		for step := range 200_000 {
			k := key()
			switch c := want[k]; {
			case c != nil && rng.IntN(2) == 0:
				m.remove(k, &conn{}) // another connection's: kept
				if m.get(k) != c {
					t.Fatalf("%d tuples, step %d: removing another connection removed the tuple's", tuples, step)
				}
				m.remove(k, c)
				delete(want, k)
			case c == nil || rng.IntN(4) == 0:
				c = &conn{id: uint64(step)}
				m.put(k, c)
				want[k] = c
			}
			if m.n != len(want) {
				t.Fatalf("%d tuples, step %d: %d in the map, want %d", tuples, step, m.n, len(want))
			}
		}
		if tuples == len(crowded) && len(m.slots) != connMapMinSlots {
			t.Fatalf("crowded tuples: %d slots, want %d", len(m.slots), connMapMinSlots)
		}
		for k, c := range want {
			if got := m.get(k); got != c {
				t.Fatalf("%d tuples: %v: %p, want %p", tuples, k, got, c)
			}
		}
		var got, all []uint64
		for c := range m.all {
			got = append(got, c.id)
		}
		for _, c := range want {
			all = append(all, c.id)
		}
		slices.Sort(got)
		slices.Sort(all)
		if !slices.Equal(got, all) {
			t.Fatalf("%d tuples: all yielded %d connections, want %d", tuples, len(got), len(all))
		}
	}
}
