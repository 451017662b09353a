package capture

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// loCapture captures the UDP datagrams that c sends to a port on lo.
func loCapture(t *testing.T) (*pcapSource, net.Conn) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_RAW)")
	}
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	port := sink.LocalAddr().(*net.UDPAddr).Port
	src, err := Open(Config{Interface: "lo", Filter: "udp dst port " + strconv.Itoa(port)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	c, err := net.Dial("udp4", sink.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return src.(*pcapSource), c
}

// TestBatchEndsAtFull: libpcap stops handing packets over right after the
// one that fills a batch (pcap_breakloop), which is what gives a batch
// its bound; with the bound at one octet, every batch holds one packet
// and none finds the buffer full.
func TestBatchEndsAtFull(t *testing.T) {
	s, c := loCapture(t)
	s.b.full = 1

	const sent = 2000
	for i := 0; i < sent; i++ {
		if _, err := c.Write(make([]byte, 64+i%200)); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for deadline := time.Now().Add(5 * time.Second); got < sent && time.Now().Before(deadline); {
		recs, packets, octets, err := s.ReadRecords()
		if err == ErrTimeout {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		h, err := Record(recs)
		if err != nil || packets != 1 || h.Size != len(recs) || octets != int64(h.Size-recSize) || time.Since(h.Time) > time.Minute {
			t.Fatalf("batch %d: %d octets, %d packets of %d octets at %v (%v); want one packet", got, len(recs), packets, octets, h.Time, err)
		}
		got++
	}
	if _, dropped, _ := s.Stats(); got != sent || s.b.overrun != 0 || dropped != 0 {
		t.Fatalf("%d of %d packets read, %d without room, %d dropped", got, sent, s.b.overrun, dropped)
	}
}

// TestRun: Run writes whole batches of real packets to a file and counts
// them, leaves to ReadRecords the batch that may pass a limit, returns
// at Interrupt, and reports a failed write without counting its batch.
func TestRun(t *testing.T) {
	s, c := loCapture(t)
	send := func(n int) {
		for i := 0; i < n; i++ {
			if _, err := c.Write(make([]byte, 64+i%200)); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := os.Create(filepath.Join(t.TempDir(), "run.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	fd := int(out.Fd())
	// run calls Run until it has written n packets or left a batch.
	run := func(lim RunLimits, n int) (total RunResult) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); total.Packets < n && !total.Left; {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d packets written", total.Packets, n)
			}
			r, err := s.Run(fd, lim)
			if err != nil {
				t.Fatal(err)
			}
			total.Packets, total.Octets, total.Written, total.Left = total.Packets+r.Packets, total.Octets+r.Octets, total.Written+r.Written, r.Left
		}
		return total
	}

	t.Run("whole batches", func(t *testing.T) {
		start := time.Now()
		const sent = 3000
		send(sent)
		r := run(RunLimits{Timeout: 200 * time.Millisecond}, sent)
		b, err := os.ReadFile(out.Name())
		if err != nil {
			t.Fatal(err)
		}
		if r.Packets != sent || r.Left || r.Written != int64(len(b)) {
			t.Fatalf("%+v, file of %d octets; want %d packets", r, len(b), sent)
		}
		var octets int64
		for off, i := 0, 0; off < len(b); i++ {
			h, err := Record(b[off:])
			if err != nil || h.Length != 14+20+8+64+i%200 || h.Time.Before(start.Add(-time.Second)) || time.Since(h.Time) > time.Minute {
				t.Fatalf("record %d: %+v, %v", i, h, err)
			}
			octets += int64(h.Length)
			off += h.Size
		}
		if octets != r.Octets {
			t.Fatalf("%d octets on the wire, Run counted %d", octets, r.Octets)
		}
	})

	// One packet a batch from here: a limit falls between batches.
	s.b.full = 1
	leaves := func(t *testing.T, lim RunLimits, written int) {
		t.Helper()
		send(written + 2)
		r := run(lim, written+2)
		if !r.Left || r.Packets != written {
			t.Fatalf("%+v; want %d packets written, then a batch left", r, written)
		}
		if _, err := s.Run(fd, lim); err != ErrNoRun {
			t.Fatalf("Run with a batch left: %v", err)
		}
		recs, packets, _, err := s.ReadRecords()
		if err != nil || packets != 1 || len(recs) == 0 {
			t.Fatalf("the batch left: %d packets, %d octets, %v", packets, len(recs), err)
		}
		if _, packets, _, err := s.ReadRecords(); err != nil || packets != 1 { // the last one sent
			t.Fatalf("the packet after: %d packets, %v", packets, err)
		}
	}
	t.Run("want", func(t *testing.T) { leaves(t, RunLimits{Want: 5, Timeout: time.Second}, 4) })
	t.Run("room", func(t *testing.T) { leaves(t, RunLimits{Room: 1, Timeout: time.Second}, 0) })
	t.Run("until", func(t *testing.T) { leaves(t, RunLimits{Until: time.Now(), Timeout: time.Second}, 0) })

	t.Run("write error", func(t *testing.T) {
		ro, err := os.Open(out.Name())
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		send(1)
		var r RunResult
		for deadline := time.Now().Add(5 * time.Second); err == nil; {
			if time.Now().After(deadline) {
				t.Fatal("no write")
			}
			r, err = s.Run(int(ro.Fd()), RunLimits{Timeout: 100 * time.Millisecond})
		}
		var se *os.SyscallError
		if !errors.As(err, &se) || se.Err != syscall.EBADF || r.Packets != 0 || r.Written != 0 {
			t.Fatalf("%+v, %v; want EBADF and nothing counted", r, err)
		}
	})

	t.Run("interrupt", func(t *testing.T) {
		start := time.Now()
		time.AfterFunc(100*time.Millisecond, s.Interrupt)
		if r, err := s.Run(fd, RunLimits{Timeout: time.Minute}); err != nil || r.Left {
			t.Fatalf("%+v, %v", r, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("returned after %v", d)
		}
		start = time.Now()
		if _, err := s.Run(fd, RunLimits{Timeout: time.Minute}); err != nil || time.Since(start) > time.Second {
			t.Fatalf("a Run after Interrupt: %v after %v", err, time.Since(start))
		}
	})
}
