package main

import (
	"syscall"
	"testing"
	"time"
)

// TestYieldsQuietMonitor checks the reason for yieldEvery. A C thread calls
// gp_call and then works 40 µs in C, as Wireshark's thread does, for about
// half a second with the yields and as long without; the process must
// make under half as many voluntary context switches with them (most of
// those without are the runtime monitor's wake-ups). Should a Go release
// stop taking the processor here, the count without yields falls too and
// this test fails: the yields would then only cost.
func TestYieldsQuietMonitor(t *testing.T) {
	calls := []benchCall{{op: opFetch, args: []int64{opTCPTW, 0, 1}, frameArg: 1, secArg: -1}}
	switches := func(every time.Duration) int64 {
		saved := yieldEvery
		yieldEvery = every
		defer func() { yieldEvery = saved }()
		var before, after syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
			t.Fatal(err)
		}
		if err := spinLoop(calls, 12000, 40*time.Microsecond); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
			t.Fatal(err)
		}
		return after.Nvcsw - before.Nvcsw
	}
	reset()
	defer reset()
	without := switches(0)
	with := switches(yieldEvery)
	t.Logf("voluntary context switches: %d without yields, %d with a yield every %v", without, with, yieldEvery)
	if 2*with >= without {
		t.Errorf("the yields did not halve the voluntary context switches: %d with them, %d without", with, without)
	}
}
