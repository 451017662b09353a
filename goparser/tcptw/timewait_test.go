package tcptw

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/internal/testpcaps"
	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// TestTwIndexAgainstMap runs random inserts, overwrites and deletes
// through twIndex and a Go map, with few hosts and ports so that probe
// sequences collide and wrap, and compares every look-up.
func TestTwIndexAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	e := New(Config{})
	type tuple struct{ client, server netip.AddrPort }
	var tuples []tuple
	var recs []uint32
	addr := func(i int) netip.Addr {
		if i%3 == 0 {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 15: byte(i)})
		}
		return netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
	}
	for i := 0; i < 5000; i++ {
		c := netip.AddrPortFrom(addr(rng.IntN(20)), uint16(32768+rng.IntN(300)))
		s := netip.AddrPortFrom(addr(100+rng.IntN(3)), 80)
		p := e.pair(c.Addr(), s)
		r := e.tw.alloc()
		*e.tw.at(r) = twRec{pair: p.idx, port: c.Port(), flags: twActive}
		tuples = append(tuples, tuple{c, s})
		recs = append(recs, r)
	}
	want := map[twKey]uint32{}
	for step := 0; step < 200000; step++ {
		j := rng.IntN(len(tuples))
		k := e.twKeyOf(tuples[j].client, tuples[j].server)
		switch rng.IntN(4) {
		case 0:
			e.tws.set(e, k, recs[j])
			want[k] = recs[j]
		case 1:
			w, ok := want[k]
			if e.tws.del(e, k, w) != ok {
				t.Fatalf("step %d: del did not find %v", step, k)
			}
			delete(want, k)
		case 2:
			if r, ok := want[k]; ok && e.tws.del(e, k, r+1) {
				t.Fatalf("step %d: del removed another record", step)
			}
			if e.tws.add(e, k, recs[j]) {
				want[k] = recs[j]
			} else if _, ok := want[k]; !ok {
				t.Fatalf("step %d: add refused a new key", step)
			}
		}
		got, ok := e.tws.get(e, k)
		w, wok := want[k]
		if ok != wok || (ok && got != w) {
			t.Fatalf("step %d: get = %d, %v; want %d, %v", step, got, ok, w, wok)
		}
		if e.tws.n != len(want) {
			t.Fatalf("step %d: %d entries, want %d", step, e.tws.n, len(want))
		}
	}
	for k, w := range want {
		if got, ok := e.tws.get(e, k); !ok || got != w {
			t.Fatalf("%v: get = %d, %v; want %d", k, got, ok, w)
		}
	}
}

// TestExpiryOrder: expiries come out in time order whether they are
// queued in order (the FIFO, over several blocks) or not (the heap).
func TestExpiryOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var q expiryQueue
	base := time.Unix(1_700_000_000, 0)
	var last time.Time
	queued := 0
	for i := 0; i < 3*expiryBlock; i++ {
		// Mostly later than the previous one; sometimes earlier.
		d := time.Duration(i) * time.Millisecond
		if rng.IntN(10) == 0 {
			d -= time.Duration(rng.IntN(5000)) * time.Millisecond
		}
		u := base.Add(d)
		q.push(expiry{u.Unix(), int32(u.Nanosecond()), uint32(i)})
		queued++
		if rng.IntN(3) == 0 {
			x, fromHeap, ok := q.peek()
			if !ok {
				t.Fatal("queue empty")
			}
			_ = x
			q.pop(fromHeap)
			queued--
		}
	}
	for {
		x, fromHeap, ok := q.peek()
		if !ok {
			break
		}
		q.pop(fromHeap)
		queued--
		u := time.Unix(x.sec, int64(x.nsec))
		if u.Before(last) {
			t.Fatalf("%v after %v", u, last)
		}
		last = u
	}
	if queued != 0 {
		t.Fatalf("%d expiries lost", queued)
	}
}

// TestNthIsSortedIndex: the median's selection picks what sorting would.
func TestNthIsSortedIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for n := 1; n < 300; n++ {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(rng.IntN(n/3+1)) - 3 // many equal values
		}
		s := append([]float64(nil), v...)
		slices.Sort(s)
		for _, k := range []int{0, n / 2, n - 1} {
			if got := nth(append([]float64(nil), v...), k); got != s[k] {
				t.Fatalf("n %d k %d: %v, want %v", n, k, got, s[k])
			}
		}
	}
}

// TestHolderBegunBeforeTheCapture: real connections, every second one
// with its handshake cut from the capture, as when a capture begins while
// they are open. The side that closes first holds TIME_WAIT whether the
// handshake was seen or not: the report's split between client and
// server agrees with each packet's holder.
func TestHolderBegunBeforeTheCapture(t *testing.T) {
	for _, tc := range []struct {
		file                string
		clientHeld, srvHeld int
	}{
		{"tw_client_closes.pcap", 40, 0},
		{"tw_server_closes.pcap", 0, 40},
	} {
		t.Run(tc.file, func(t *testing.T) {
			packets, link, err := testpcaps.Packets(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			e := New(Config{})
			dec := tcpdecode.New()
			syns := 0
			cut := map[netip.AddrPort]bool{} // clients whose handshake is cut
			held := map[bool]int{}           // by the pair's client?
			for _, pk := range packets {
				var s tcpdecode.Segment
				if err := dec.Decode(link, pk.Data, &s); err != nil {
					t.Fatal(err)
				}
				if s.SYN && !s.ACK {
					syns++
					if syns%2 == 0 {
						cut[s.Src] = true
					}
				}
				if s.SYN && (cut[s.Src] || cut[s.Dst]) {
					continue
				}
				v := e.Segment(pk.Time, &s)
				if v.TWStarted {
					held[v.Holder.Port() != 8080]++
				}
			}
			rep := e.Report(false)
			if rep.Summary.Partial != 20 || held[true] != tc.clientHeld || held[false] != tc.srvHeld {
				t.Fatalf("%d partial, holders: client %d server %d; want 20 partial, client %d server %d",
					rep.Summary.Partial, held[true], held[false], tc.clientHeld, tc.srvHeld)
			}
			if len(rep.Pairs) != 1 {
				t.Fatalf("pairs %+v", rep.Pairs)
			}
			// Within 4 s no socket expires: the peaks are the counts.
			if p := rep.Pairs[0]; p.ClientTimeWaitPeak != tc.clientHeld || p.ServerTimeWaitPeak != tc.srvHeld {
				t.Fatalf("report: client holds %d, server %d; the packets: client %d, server %d",
					p.ClientTimeWaitPeak, p.ServerTimeWaitPeak, tc.clientHeld, tc.srvHeld)
			}
		})
	}
}
