package evict

import "testing"

func TestCutoff(t *testing.T) {
	v := []uint64{9, 3, 7, 1, 5}
	for n, want := range map[int]uint64{1: 1, 2: 3, 3: 5, 5: 9, 9: 9, 0: 1} {
		if got := Cutoff(v, n); got != want {
			t.Errorf("Cutoff(%d) = %d, want %d", n, got, want)
		}
	}
	if v[0] != 9 {
		t.Fatal("input modified")
	}
}
