package gogrpc

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// TestQuantile: nearest rank, the value of rank ceil(q*n), on exact values.
func TestQuantile(t *testing.T) {
	ten := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(i + 1)
	}
	for _, c := range []struct {
		sorted []float64
		q      float64
		want   float64
	}{
		{nil, 0.5, 0},
		{[]float64{7}, 0.5, 7},
		{[]float64{7}, 0.99, 7},
		{[]float64{0.349, 41.729}, 0.5, 0.349}, // the lower of two
		{[]float64{0.349, 41.729}, 0.99, 41.729},
		{[]float64{0.349, 41.729}, 1, 41.729},
		{[]float64{1, 2, 3}, 0.5, 2},
		{[]float64{1, 2, 3, 4}, 0.5, 2},
		{[]float64{1, 2, 3, 4}, 0.75, 3},
		{[]float64{1, 2, 3, 4}, 0.76, 4},
		{ten, 0.5, 5},
		{ten, 0.9, 9},
		{ten, 0.91, 10},
		{ten, 0.99, 10},
		{ten, 0.01, 1},
		{hundred, 0.29, 29}, // 0.29*100 is 28.999999999999996
		{hundred, 0.57, 57},
		{hundred, 0.5, 50},
		{hundred, 0.99, 99},
		{hundred, 1, 100},
		{append(hundred, 101), 0.99, 100}, // rank ceil(99.99) = 100
	} {
		if got := quantile(c.sorted, c.q); got != c.want {
			t.Errorf("quantile(%d values, %v) = %v, want %v", len(c.sorted), c.q, got, c.want)
		}
	}
}

// TestCallsTable: the user's two calls of 0.349 ms and 41.729 ms give a
// p50 of 0.349 ms, not the maximum.
func TestCallsTable(t *testing.T) {
	var s Stats
	s.Add("/t1.v1.Svc/Unary", codes.OK, 41729*time.Microsecond)
	s.Add("/t1.v1.Svc/Unary", codes.OK, 349*time.Microsecond)
	var b strings.Builder
	s.WriteText(&b)
	want := "gRPC calls\n" +
		"Method                                               Calls  Errors     p50 ms     p99 ms     max ms  Codes\n" +
		"/t1.v1.Svc/Unary                                         2       0      0.349     41.729     41.729  [OK=2]\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}

	// A call reset before its request's headers were seen has no method;
	// calls whose status was not captured have no code and are counted
	// apart (not in a table for a filter, which counts calls by the frame
	// they ended in).
	s.Add("", codes.Canceled, time.Millisecond)
	s.NoStatus(1)
	b.Reset()
	s.WriteText(&b)
	want += "(method not known)                                       1       1      1.000      1.000      1.000  [Canceled=1]\n" +
		"(1 more call ended with a status not captured: not counted)\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	s.NoStatus(1)
	b.Reset()
	s.WriteText(&b)
	if !strings.HasSuffix(b.String(), "\n(2 more calls ended with a status not captured: not counted)\n") {
		t.Errorf("got\n%s", b.String())
	}
	s.Filter = "frame"
	b.Reset()
	s.WriteText(&b)
	if strings.Contains(b.String(), "not counted") {
		t.Errorf("with a filter:\n%s", b.String())
	}
}

// TestStatsOf: with KeepFrames, the table of the calls that ended in some
// frames, titled with the filter; calls added before KeepFrames are in the
// whole table only.
func TestStatsOf(t *testing.T) {
	var s Stats
	s.Frame = 3
	s.Add("/a.S/M", codes.OK, time.Millisecond) // not kept
	s.KeepFrames = true
	for _, c := range []struct {
		frame uint32
		path  string
		code  codes.Code
		ms    int
	}{
		{5, "/a.S/M", codes.OK, 2},
		{5, "/a.S/N", codes.NotFound, 3}, // two calls ending in one frame
		{9, "/a.S/M", codes.Canceled, 4},
		{12, "/a.S/M", codes.OK, 5},
	} {
		s.Frame = c.frame
		s.Add(c.path, c.code, time.Duration(c.ms)*time.Millisecond)
	}
	f := s.Of(map[uint32]bool{3: true, 5: true, 12: true})
	f.Filter = "tcp.stream == 1"
	var b strings.Builder
	f.WriteText(&b)
	want := "gRPC calls\n" +
		"Filter: tcp.stream == 1\n" +
		"Method                                               Calls  Errors     p50 ms     p99 ms     max ms  Codes\n" +
		"/a.S/M                                                   2       0      2.000      5.000      5.000  [OK=2]\n" +
		"/a.S/N                                                   1       1      3.000      3.000      3.000  [NotFound=1]\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	s.WriteText(&b)
	if !strings.Contains(b.String(), "/a.S/M                                                   4       1") {
		t.Errorf("whole table:\n%s", b.String())
	}
}
