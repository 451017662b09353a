package tcptw

import (
	"math"
	"testing"
)

// TestSampleMedianAfterCap: beyond sampleCap values the reservoir still
// represents all of them, not the first sampleCap. 4,200 connections of
// under 1 ms, then 6,000 of 30 ms: the median is 30 ms.
func TestSampleMedianAfterCap(t *testing.T) {
	var s sample
	for range 4200 {
		s.add(0.0004)
	}
	for range 6000 {
		s.add(0.030)
	}
	if m := s.median(); m != 0.030 {
		t.Fatalf("median %.4f, want 0.030", m)
	}
	if len(s.vals) != sampleCap {
		t.Fatalf("%d values kept, want %d", len(s.vals), sampleCap)
	}
	// The share of late values kept is about their share of all values.
	late := 0
	for _, v := range s.vals {
		if v == 0.030 {
			late++
		}
	}
	if f := float64(late) / sampleCap; math.Abs(f-6000.0/10200) > 0.03 {
		t.Fatalf("%.3f of the reservoir from the last 6,000 of 10,200 values", f)
	}
	// Deterministic: the same values give the same reservoir.
	var s2 sample
	for range 4200 {
		s2.add(0.0004)
	}
	for range 6000 {
		s2.add(0.030)
	}
	for i := range s.vals {
		if s.vals[i] != s2.vals[i] {
			t.Fatal("two runs over the same values keep different samples")
		}
	}
}

// TestClientIdleSampleBounded: the client's idle sample keeps
// clientIdleCap values however many connections the client closes, and
// its median stays that of the values seen.
func TestClientIdleSampleBounded(t *testing.T) {
	var s sample
	for i := range 10000 {
		s.addUpTo(1+float64(i%3)/10, clientIdleCap) // 1.0, 1.1, 1.2 s
	}
	if s.n != 10000 || len(s.vals) != clientIdleCap || cap(s.vals) != clientIdleCap {
		t.Errorf("n %d, %d values (capacity %d), want 10000 and %d", s.n, len(s.vals), cap(s.vals), clientIdleCap)
	}
	if m := s.median(); m < 1 || m > 1.2 {
		t.Errorf("median %.3f", m)
	}
}
