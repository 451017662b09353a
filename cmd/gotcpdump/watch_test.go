package main

import (
	"testing"
	"time"
)

// TestTriggerCooldown: after a capture the trigger re-arms only once the
// count has fallen below the re-arm level, the cooldown has passed and
// the capture has ended; while it is disarmed, a storm starts nothing,
// and armed is true exactly when a count at the threshold starts one.
func TestTriggerCooldown(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tr := newTrigger(100, 0.8, 10*time.Minute)
	type step struct {
		at           time.Duration
		n            int
		ok, busy     bool
		start, rearm bool
		armed        bool
	}
	for i, s := range []step{
		{0, 50, true, false, false, false, true},
		{time.Second, 100, false, false, false, false, true},                  // a failed sample starts nothing
		{2 * time.Second, 120, true, false, true, false, false},               // the storm
		{3 * time.Second, 130, true, true, false, false, false},               // capturing
		{time.Minute, 10, true, true, false, false, false},                    // fell, still capturing
		{2 * time.Minute, 10, true, false, false, false, false},               // fell, ended, inside the cooldown
		{3 * time.Minute, 150, true, false, false, false, false},              // a second storm inside the cooldown
		{10*time.Minute + 3*time.Second, 150, true, false, true, true, false}, // the cooldown passed: it fell before, so this storm is captured
		{11 * time.Minute, 150, true, true, false, false, false},
		{25 * time.Minute, 90, true, false, false, false, false}, // past the cooldown, not below 80 yet
		{26 * time.Minute, 79, true, false, false, true, true},   // below the re-arm level and past the cooldown
		{27 * time.Minute, 99, true, false, false, false, true},
		{28 * time.Minute, 100, true, false, true, false, false},
	} {
		start, rearm := tr.sample(s.n, s.ok, s.busy, t0.Add(s.at))
		if start != s.start || rearm != s.rearm || tr.armed != s.armed {
			t.Errorf("step %d (%v, %d, busy %v): start %v, re-armed %v, armed %v; want %v, %v, %v",
				i, s.at, s.n, s.busy, start, rearm, tr.armed, s.start, s.rearm, s.armed)
		}
	}
	// No cooldown: re-armed as soon as the count falls and the capture ends.
	tr = newTrigger(100, 0.8, 0)
	if start, _ := tr.sample(100, true, false, t0); !start {
		t.Fatal("no start at the threshold")
	}
	if _, rearm := tr.sample(10, true, true, t0.Add(time.Second)); rearm || tr.armed {
		t.Error("re-armed while capturing")
	}
	if _, rearm := tr.sample(10, true, false, t0.Add(2*time.Second)); !rearm || !tr.armed {
		t.Error("not re-armed after the capture with no cooldown")
	}
}
