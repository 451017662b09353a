package capture

import (
	"testing"
	"time"
)

// TestRingWaitUntil: a wait ends at the wake time when it comes before
// the poll interval's end, and ignores one that has passed.
func TestRingWaitUntil(t *testing.T) {
	now := time.Now()
	var r ringWait
	if got := r.until(now); !got.Equal(now.Add(pollInterval)) {
		t.Errorf("no wake time: %v after now", got.Sub(now))
	}
	r.wakeAt = now.Add(30 * time.Millisecond)
	if got := r.until(now); !got.Equal(r.wakeAt) {
		t.Errorf("wake in 30ms: %v after now", got.Sub(now))
	}
	for _, d := range []time.Duration{-time.Millisecond, 0, time.Hour} {
		r.wakeAt = now.Add(d)
		if got := r.until(now); !got.Equal(now.Add(pollInterval)) {
			t.Errorf("wake at %v: %v after now", d, got.Sub(now))
		}
	}
}
