package main

import "testing"

func TestVerdict(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	full := &row{MinFraction: 1}
	lossy := &row{MinFraction: 0.97}
	for _, c := range []struct {
		name       string
		ours, base *row
		want       string
	}{
		{"all met", &row{MinFraction: 1, RatioCPU: f(0.62), RatioMarginal: f(0.57), RatioCapturing: f(0.54)}, full,
			"no drops: met; CPU ≤ 0.8: whole met, marginal met, capturing met"},
		{"printed as 0.80", &row{MinFraction: 1, RatioCPU: f(0.8049), RatioMarginal: f(0.86), RatioCapturing: f(0.72)}, full,
			"no drops: met; CPU ≤ 0.8: whole met, marginal not met, capturing met"},
		{"a drop", &row{MinFraction: 0.9999, RatioCPU: f(0.5), RatioMarginal: f(0.5), RatioCapturing: f(0.5)}, full,
			"no drops: not met; CPU ≤ 0.8: whole met, marginal met, capturing met"},
		{"tcpdump dropped", &row{MinFraction: 0.98, RatioCPU: f(0.9)}, lossy,
			"tcpdump dropped, no drop target; CPU ≤ 0.8: whole not met, marginal -, capturing -"},
	} {
		if got := verdict(c.ours, c.base); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
