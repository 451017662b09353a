// Package evict picks what a bounded table forgets first.
package evict

import (
	"cmp"
	"slices"
)

// Cutoff returns the n-th smallest of v (1-based): evicting every entry
// whose key is at most the cutoff drops about the n least recent ones.
// It sorts a copy; tables evict rarely and in batches.
func Cutoff[T cmp.Ordered](v []T, n int) T {
	s := slices.Clone(v)
	slices.Sort(s)
	n = min(max(n, 1), len(s))
	return s[n-1]
}
