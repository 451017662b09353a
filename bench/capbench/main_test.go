package main

import (
	"reflect"
	"testing"
)

func TestJudge(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	full := &row{MinFraction: 1}
	lossy := &row{MinFraction: 0.97}
	for _, c := range []struct {
		name       string
		ours, base *row
		text       string
		met        map[string]bool
	}{
		{"all met", &row{MinFraction: 1, RatioCPU: f(0.62), RatioMarginal: f(0.57), RatioCapturing: f(0.54)}, full,
			"no drops: met; CPU ≤ 0.8: whole met, marginal met, capturing met",
			map[string]bool{"no_drops": true, "cpu_whole": true, "cpu_marginal": true, "cpu_capturing": true}},
		{"printed as 0.80", &row{MinFraction: 1, RatioCPU: f(0.80499999999999993783), RatioMarginal: f(0.86), RatioCapturing: f(0.72)}, full,
			"no drops: met; CPU ≤ 0.8: whole met, marginal not met, capturing met",
			map[string]bool{"no_drops": true, "cpu_whole": true, "cpu_marginal": false, "cpu_capturing": true}},
		{"a drop", &row{MinFraction: 0.9999, RatioCPU: f(0.5), RatioMarginal: f(0.5), RatioCapturing: f(0.5)}, full,
			"no drops: not met; CPU ≤ 0.8: whole met, marginal met, capturing met",
			map[string]bool{"no_drops": false, "cpu_whole": true, "cpu_marginal": true, "cpu_capturing": true}},
		{"tcpdump dropped", &row{MinFraction: 0.98, RatioCPU: f(0.9)}, lossy,
			"tcpdump dropped, no drop target; CPU ≤ 0.8: whole not met, marginal -, capturing -",
			map[string]bool{"cpu_whole": false}},
	} {
		judge(c.ours, c.base)
		if c.ours.verdict != c.text || !reflect.DeepEqual(c.ours.Met, c.met) || c.ours.Target == "" {
			t.Errorf("%s: %q %v (target %q), want %q %v", c.name, c.ours.verdict, c.ours.Met, c.ours.Target, c.text, c.met)
		}
	}
}
