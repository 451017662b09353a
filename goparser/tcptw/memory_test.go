package tcptw

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// BenchmarkMillionConnections drives short client-closed connections
// through the engine (about 16,700 a second, so that all of them are in
// TIME_WAIT at once at the end) and reports heap bytes per connection.
func BenchmarkMillionConnections(b *testing.B) {
	const n = 1_000_000
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		e := New(Config{})
		srv := netip.MustParseAddrPort("10.0.0.2:80")
		for c := 0; c < n; c++ {
			ip := netip.AddrFrom4([4]byte{10, 1, byte(c >> 16), byte(c >> 8)})
			cl := netip.AddrPortFrom(ip, uint16(32768+c%28000))
			f := newFlow(e, cl, srv, uint32(c))
			f.t = t0.Add(time.Duration(c) * 60 * time.Microsecond)
			f.handshake()
			f.send(0, false, true, true, false, 0)
			f.send(1, false, true, true, false, 0)
			f.send(0, false, true, false, false, 0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/conn")
		b.ReportMetric(float64(e.host(netip.AddrFrom4([4]byte{10, 1, 0, 0})).count), "tw-one-host")
		runtime.KeepAlive(e)
	}
}
