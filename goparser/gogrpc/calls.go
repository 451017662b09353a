package gogrpc

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/gotcpdump/gotcpdump/goparser/schema"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

var (
	fDuration = Proto.Field(schema.Field{Abbrev: "gogrpc.call.duration", Name: "Call duration", Type: schema.RelTime, Desc: "From the request HEADERS to the trailers"})
	fTimeout  = Proto.Field(schema.Field{Abbrev: "gogrpc.timeout", Name: "grpc-timeout", Type: schema.RelTime})
	fExceeded = Proto.Field(schema.Field{Abbrev: "gogrpc.call.deadline_exceeded", Name: "Took longer than grpc-timeout", Type: schema.Bool})
	fReqMsgs  = Proto.Field(schema.Field{Abbrev: "gogrpc.call.request_messages", Name: "Request messages", Type: schema.Uint32, Base: schema.BaseDec})
	fRespMsgs = Proto.Field(schema.Field{Abbrev: "gogrpc.call.response_messages", Name: "Response messages", Type: schema.Uint32, Base: schema.BaseDec})
	fReqBytes = Proto.Field(schema.Field{Abbrev: "gogrpc.call.request_bytes", Name: "Request message octets", Type: schema.Uint32, Base: schema.BaseDec})
	fRspBytes = Proto.Field(schema.Field{Abbrev: "gogrpc.call.response_bytes", Name: "Response message octets", Type: schema.Uint32, Base: schema.BaseDec})
)

// The units of grpc-timeout, and their durations.
const timeoutUnits = "HMSmun"

var timeoutUnit = [len(timeoutUnits)]time.Duration{time.Hour, time.Minute, time.Second, time.Millisecond, time.Microsecond, time.Nanosecond}

// ParseTimeout reads a grpc-timeout header value ("100m", "9998452u"); one
// longer than time.Duration holds is its largest value.
func ParseTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	u := strings.IndexByte(timeoutUnits, v[len(v)-1])
	if u < 0 {
		return 0, false
	}
	if unit := timeoutUnit[u]; n > math.MaxInt64/int64(unit) {
		// Eight digits of hours go past time.Duration: as grpc-go, the
		// longest one.
		return math.MaxInt64, true
	}
	return time.Duration(n) * timeoutUnit[u], true
}

// Progress is what a call did so far.
type Progress struct {
	Start    time.Time
	Timeout  time.Duration // 0: none
	Messages [2]int        // request, response
	Bytes    [2]int64
	Ended    bool
	// Lost: messages of that direction went undecoded with frames lost
	// from the capture, so its counts are only of those decoded.
	Lost [2]bool
}

// WriteSummary writes the per-call summary on the packet that ends it.
func WriteSummary(w tree.Writer, off, n int, p *Progress, now time.Time) {
	const gen = tree.FlagGenerated
	const tm = gen | tree.FlagTime
	d := now.Sub(p.Start)
	if !p.Start.IsZero() {
		w.Add(fDuration, off, n, tree.Duration(d), "", tm)
	}
	if p.Timeout > 0 {
		w.Add(fTimeout, off, n, tree.Duration(p.Timeout), "", tm)
		w.Add(fExceeded, off, n, tree.Bool(d > p.Timeout), "", gen)
	}
	w.Add(fReqMsgs, off, n, tree.Int(int64(p.Messages[0])), lostText(p.Lost[0]), gen)
	w.Add(fRespMsgs, off, n, tree.Int(int64(p.Messages[1])), lostText(p.Lost[1]), gen)
	w.Add(fReqBytes, off, n, tree.Int(p.Bytes[0]), lostText(p.Lost[0]), gen)
	w.Add(fRspBytes, off, n, tree.Int(p.Bytes[1]), lostText(p.Lost[1]), gen)
}

// lostText is the label's note on a count that lost messages left short.
func lostText(lost bool) string {
	if lost {
		return " (decoded only: others were lost with frames missing from the capture)"
	}
	return ""
}

// Stats aggregates finished calls per method, for -z gogrpc,calls.
type Stats struct {
	methods map[string]*methodStats

	// With KeepFrames, Add also keeps each call with Frame, the frame
	// being decoded (which the caller sets before each packet), so that
	// Of can make the table of the calls that ended in some frames (-z
	// gogrpc,calls,FILTER). At most maxEnded are kept.
	KeepFrames bool
	Frame      uint32
	// Filter, when not empty, is shown under the table's title.
	Filter  string
	ended   []endedCall
	notKept int // calls past maxEnded
	// noStatus: calls that ended with no status the capture holds.
	noStatus int
}

// endedCall is a call that Stats kept with its last frame.
type endedCall struct {
	frame uint32
	code  codes.Code
	d     time.Duration
	path  string
}

// maxEnded bounds the calls kept with their frames (32 octets each).
const maxEnded = 4 << 20

// otherMethods is the row of the calls of methods past the first 10,000.
const otherMethods = "(other methods)"

type methodStats struct {
	calls   int
	codes   map[codes.Code]int
	latency []float64 // seconds, bounded
}

const maxLatencies = 100000

// NoStatus records n calls that ended without a status that can be read
// (their trailers refer to HPACK entries the capture does not hold): they
// have no code to be counted under, and the table says how many there
// were, so that a capture begun mid-connection does not look complete.
func (s *Stats) NoStatus(n int) { s.noStatus += n }

// Add records a finished call.
func (s *Stats) Add(path string, code codes.Code, d time.Duration) {
	if s.KeepFrames {
		if len(s.ended) < maxEnded {
			s.ended = append(s.ended, endedCall{s.Frame, code, d, path})
		} else {
			s.notKept++
		}
	}
	if s.methods == nil {
		s.methods = make(map[string]*methodStats)
	}
	m := s.methods[path]
	if m == nil {
		if len(s.methods) >= 10000 {
			path = otherMethods
			if m = s.methods[path]; m == nil {
				m = &methodStats{codes: map[codes.Code]int{}}
				s.methods[path] = m
			}
		} else {
			m = &methodStats{codes: map[codes.Code]int{}}
			s.methods[path] = m
		}
	}
	m.calls++
	m.codes[code]++
	if len(m.latency) < maxLatencies && d >= 0 {
		m.latency = append(m.latency, d.Seconds())
	}
}

// quantile returns the q-quantile (0 < q <= 1) of sorted values by the
// nearest-rank method: the smallest value that at least q of the values
// do not exceed, the value of rank ceil(q*n) (Hyndman and Fan's
// definition 1, the inverse of the empirical distribution function). It is
// always a measured latency: p50 of two calls is the faster one, and p99
// of fewer than 100 calls is the slowest.
func quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The tolerance keeps q*n from rounding past a whole rank (0.29*100
	// is 28.999999999999996 in binary floating point).
	rank := int(math.Ceil(q*float64(n) - 1e-9))
	return sorted[min(max(rank, 1), n)-1]
}

// Of returns the statistics of the calls kept with KeepFrames that ended
// in one of frames.
func (s *Stats) Of(frames map[uint32]bool) *Stats {
	t := &Stats{notKept: s.notKept}
	for _, c := range s.ended {
		if frames[c.frame] {
			t.Add(c.path, c.code, c.d)
		}
	}
	return t
}

// WriteText writes the calls table: per method, calls, errors by code
// and p50/p99/max latency.
func (s *Stats) WriteText(w io.Writer) {
	paths := make([]string, 0, len(s.methods))
	for p := range s.methods {
		paths = append(paths, p)
	}
	// The rows of no one method ("" and otherMethods) come last.
	sort.Slice(paths, func(i, j int) bool {
		if a, b := paths[i] == "" || paths[i] == otherMethods, paths[j] == "" || paths[j] == otherMethods; a != b {
			return b
		}
		return paths[i] < paths[j]
	})
	fmt.Fprintln(w, "gRPC calls")
	if s.Filter != "" {
		fmt.Fprintf(w, "Filter: %s\n", s.Filter)
	}
	fmt.Fprintf(w, "%-50s %7s %7s %10s %10s %10s  %s\n", "Method", "Calls", "Errors", "p50 ms", "p99 ms", "max ms", "Codes")
	for _, p := range paths {
		m := s.methods[p]
		lat := append([]float64(nil), m.latency...)
		sort.Float64s(lat)
		errs := m.calls - m.codes[codes.OK]
		cs := make([]string, 0, len(m.codes))
		for c, n := range m.codes {
			cs = append(cs, fmt.Sprintf("%v=%d", c, n))
		}
		sort.Strings(cs)
		name := p
		if name == "" {
			name = "(method not known)"
		}
		fmt.Fprintf(w, "%-50s %7d %7d %10.3f %10.3f %10.3f  %v\n", name, m.calls, errs,
			quantile(lat, 0.5)*1e3, quantile(lat, 0.99)*1e3, quantile(lat, 1)*1e3, cs)
	}
	if s.noStatus > 0 && s.Filter == "" {
		calls := "calls"
		if s.noStatus == 1 {
			calls = "call"
		}
		fmt.Fprintf(w, "(%d more %s ended with a status not captured: not counted)\n", s.noStatus, calls)
	}
	if s.notKept > 0 && s.Filter != "" {
		fmt.Fprintf(w, "(%d later calls not kept for the filter)\n", s.notKept)
	}
}
