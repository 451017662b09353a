package tcptw

import (
	"math/rand/v2"
	"testing"
)

// TestConnMap: the map agrees with a Go map kept alongside, through
// growth and removals that shift entries, over few tuples (long probe
// runs) and many.
func TestConnMap(t *testing.T) {
	for _, tuples := range []int{40, 5000} {
		var m connMap
		want := map[twKey]*conn{}
		rng := rand.New(rand.NewPCG(2, uint64(tuples)))
		for step := range 200_000 {
			k := twKey{uint64(rng.IntN(tuples)), 3}
			switch c := want[k]; {
			case c != nil && rng.IntN(2) == 0:
				m.remove(k, &conn{}) // another connection's: kept
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
		for i := range tuples {
			k := twKey{uint64(i), 3}
			if got := m.get(k); got != want[k] {
				t.Fatalf("%d tuples: tuple %d: %p, want %p", tuples, i, got, want[k])
			}
		}
		kept := map[*conn]bool{}
		for _, c := range want {
			kept[c] = true
		}
		seen := 0
		for c := range m.all {
			if !kept[c] {
				t.Fatalf("%d tuples: all yielded %p, not in the map", tuples, c)
			}
			seen++
		}
		if seen != len(want) {
			t.Fatalf("%d tuples: all yielded %d, want %d", tuples, seen, len(want))
		}
	}
}
