package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
	"github.com/gotcpdump/gotcpdump/internal/capture"
)

// recordSource is a capture that can hand over whole batches of records
// laid out as the file holds them (the libpcap engine).
type recordSource interface {
	ReadRecords() (recs []byte, packets int, octets int64, err error)
	SetLayout(capture.Layout) bool
}

// runner is a capture that can run its steady state in C, writing
// whole batches to the file (the libpcap engine; capture's Run says why).
type runner interface {
	Run(fd int, lim capture.RunLimits) (capture.RunResult, error)
	Interrupt()
}

// waker is a runner whose Run can be made to return once (Wake).
type waker interface{ Wake() }

// loop reads packets from src into w until stopped, the count or the
// duration is reached, or an error occurs.
type loop struct {
	o      *options
	src    capture.Source
	w      *capture.Writer
	match  *capture.ProcMatcher
	status *status
	stderr io.Writer
	r      *result
	// Stopping, the capture reads on until the ring holds nothing that
	// arrived before the stop: the kernel hands over its last block only
	// after capture.BlockTimeout.
	stopAt, drainUntil, deadline time.Time
	// The stop channel is read through a flag: a receive on every packet
	// costs more than the rest of the loop.
	stopping atomic.Bool
	// infoDue: SIGUSR1 asked for the counts (see wantInfo).
	infoDue atomic.Bool
	// given: with -r, the packets given to the files so far, for
	// SIGUSR1's count (see wantInfo).
	given atomic.Int64
	// flushed is when the file last got what the writer buffers (see
	// flushDue).
	flushed time.Time
	// filesDone: a -G capture ended after its -W files.
	filesDone bool
	// The kernel's counts when the loop began to stop, and the packets
	// read after it that arrived after the stop time (see stats).
	atStop    struct{ recv, drop uint64 }
	atStopOK  bool
	afterStop uint64
	// atDeadline: the kernel's counts when the clock reached -t's
	// deadline (see deadlineReached).
	atDeadline struct {
		sync.Mutex
		recv, drop uint64
		ok         bool
	}
	checked uint64 // packets check has seen
}

// flushEvery bounds how long a packet waits in the writer's buffer while
// packets keep coming: the buffer is otherwise written when it fills
// (64 KiB) or the capture idles, and a reader of a pipe (-w - | tshark
// -r -) or of a growing pcapng file would see nothing for as long as a
// slow, steady trickle lasts. tcpdump's stdio buffer (4 KiB) fills
// sooner; -U writes each batch at once, as tcpdump's -U each packet.
const flushEvery = time.Second

// flushDue flushes the writer if -U asks for it or the last flush is
// flushEvery old at now.
func (l *loop) flushDue(now time.Time) error {
	// A clock stepped back (or packet times behind it) must not hold
	// the buffer until the clock catches up.
	if !l.o.unbuffered && now.Sub(l.flushed) < flushEvery && !now.Before(l.flushed) {
		return nil
	}
	l.flushed = now
	if err := l.w.Flush(); err != nil {
		return l.writeErr(err)
	}
	return nil
}

// stopGrace is how long a stopped capture waits for the reader of a
// pipe to take what is left: one that no longer reads (a stalled ssh,
// a paused tshark) would hold it for ever, where tcpdump's write fails
// at the signal.
const stopGrace = 2 * time.Second

// stop asks the loop to stop, from any goroutine.
func (l *loop) stop() {
	l.stopping.Store(true)
	if rn, ok := l.src.(runner); ok {
		rn.Interrupt()
	}
	l.w.Abandon(time.Now().Add(stopGrace))
}

// wantInfo asks the loop, from any goroutine, to print the counts on
// standard error and go on, as tcpdump does at SIGUSR1. Capturing, the
// loop prints them itself, between batches: the counts are its own, and
// a Run in C holds them until it returns, which Wake makes it do.
func (l *loop) wantInfo() {
	if l.o.read != "" {
		// Reading a file, the loop waits in libpcap until a batch fills
		// or the file ends (from a slow pipe, for as long as it lasts):
		// the count is printed at once, of the packets given to the
		// files so far. A file has no kernel's counts.
		n := uint64(l.given.Load())
		fmt.Fprintf(l.stderr, "gotcpdump: %d %s captured\n", n, packets(n))
		return
	}
	l.infoDue.Store(true)
	if wk, ok := l.src.(waker); ok {
		wk.Wake()
	}
}

// info prints the counts if SIGUSR1 asked for them: tcpdump's line for
// it, with the kernel's counts as they will be printed at the end.
func (l *loop) info() {
	if !l.infoDue.Swap(false) {
		return
	}
	l.status.clear()
	recv, drop, err := l.stats()
	if err != nil {
		fmt.Fprintf(l.stderr, "gotcpdump: %d %s captured; the kernel's counts: %v\n", l.r.captured, packets(uint64(l.r.captured)), err)
		return
	}
	fmt.Fprintf(l.stderr, "gotcpdump: %d %s captured, %d %s received by filter, %d %s dropped by kernel\n",
		l.r.captured, packets(uint64(l.r.captured)), recv, packets(recv), drop, packets(drop))
}

// errStop ends the loop without an error.
var errStop = errors.New("stop")

func (l *loop) startStop(at time.Time) {
	l.stopAt, l.drainUntil = at, time.Now().Add(capture.BlockTimeout+200*time.Millisecond)
	// The drain reads on, and the kernel counts what keeps arriving:
	// "received by filter" is of the packets before the stop, as
	// tcpdump's, whose loop ends at the stop.
	var err error
	l.atStop.recv, l.atStop.drop, err = l.src.Stats()
	l.atStopOK = err == nil
	if at.Equal(l.deadline) {
		// The packet that passed the deadline was read up to a block's
		// timeout after it, and the kernel has counted those that came
		// in the meantime: its counts at the deadline are the ones.
		l.atDeadline.Lock()
		if l.atDeadline.ok {
			l.atStop.recv, l.atStop.drop, l.atStopOK = l.atDeadline.recv, l.atDeadline.drop, true
		}
		l.atDeadline.Unlock()
	}
}

// deadlineReached reads the kernel's counts when the clock reaches the
// deadline, from any goroutine, for startStop: a timer calls it, and the
// loop when it finds the clock past the deadline first (the timer's
// goroutine waits while the loop runs). The first counts are kept.
func (l *loop) deadlineReached() {
	l.atDeadline.Lock()
	defer l.atDeadline.Unlock()
	if l.atDeadline.ok {
		return
	}
	recv, drop, err := l.src.Stats()
	if err != nil {
		return
	}
	l.atDeadline.recv, l.atDeadline.drop, l.atDeadline.ok = recv, drop, true
}

// stats are the kernel's counts for the capture: read now, less the
// packets read after the stop that came after it (or, with packets left
// unread, as read when the loop began to stop, whichever is fewer; both
// count every packet before the stop).
func (l *loop) stats() (recv, drop uint64, err error) {
	recv, drop, err = l.src.Stats()
	if l.stopAt.IsZero() || !l.atStopOK {
		return recv, drop, err
	}
	if err != nil {
		return l.atStop.recv, l.atStop.drop, nil
	}
	recv -= min(recv, l.afterStop)
	return min(recv, l.atStop.recv), min(drop, l.atStop.drop), nil
}

// idle handles a read that found nothing: flush, and start stopping if
// it is time.
func (l *loop) idle() error {
	if !l.stopAt.IsZero() {
		return errStop // nothing more in the ring
	}
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	l.flushed = time.Now()
	l.status.update(l.r.captured, l.r.bytes, l.src, l.w.Current)
	if now := time.Now(); l.stopping.Load() {
		l.startStop(now)
	} else if !l.deadline.IsZero() && now.After(l.deadline) {
		l.startStop(l.deadline)
	}
	return nil
}

// check starts stopping when asked to or when a packet at t is past the
// deadline, and reports whether that packet is kept.
func (l *loop) check(t time.Time) bool {
	if l.stopAt.IsZero() && !l.deadline.IsZero() {
		// The clock, every 32 packets: see deadlineReached.
		if l.checked++; l.checked%32 == 0 && time.Now().After(l.deadline) {
			l.deadlineReached()
		}
	}
	if l.stopAt.IsZero() {
		if l.stopping.Load() {
			l.startStop(time.Now())
		} else if !l.deadline.IsZero() && t.After(l.deadline) {
			l.startStop(l.deadline)
		}
	}
	if l.stopAt.IsZero() || !t.After(l.stopAt) {
		return true
	}
	l.afterStop++
	return false
}

func (l *loop) writeErr(err error) error {
	if capture.IsDone(err) {
		l.filesDone = true
		return errStop
	}
	return fmt.Errorf("writing: %w", err)
}

// run reads until the loop ends; its error is nil when it ended as
// asked.
func (l *loop) run() error {
	if wk, ok := l.src.(interface{ WakeAt(time.Time) }); ok && !l.deadline.IsZero() {
		// A read waiting for the ring returns at the deadline: the loop
		// then reads the kernel's counts (idle), where the ring might
		// hold the block of the packets after it for a block's timeout.
		wk.WakeAt(l.deadline)
	}
	rs, batches := l.src.(recordSource)
	batches = batches && l.match == nil && l.w.TakesRecords() && rs.SetLayout(l.w.Layout())
	rn, direct := l.src.(runner)
	direct = direct && batches
	var dec *tcpdecode.Decoder // for --pid only
	if l.match != nil {
		dec = tcpdecode.New()
	}
	var seg tcpdecode.Segment
	var ci gopacket.CaptureInfo
	for l.o.count == 0 || l.r.captured < l.o.count {
		l.info()
		if !l.stopAt.IsZero() && time.Now().After(l.drainUntil) {
			return nil
		}
		if direct && l.stopAt.IsZero() && !l.stopping.Load() {
			left, ok, err := l.runC(rn)
			if err != nil {
				return err
			}
			if !ok {
				direct = false
			} else if !left {
				if err := l.idle(); err != nil {
					return err
				}
				continue
			}
			// A batch that may pass a limit: ReadRecords hands it over.
		}
		if batches {
			recs, packets, octets, err := rs.ReadRecords()
			if err == nil {
				err = l.records(recs, packets, octets)
				l.given.Store(int64(l.r.captured))
				if err == nil {
					err = l.flushDue(time.Now())
				}
			} else if errors.Is(err, capture.ErrTimeout) {
				err = l.idle()
			}
			if err != nil {
				return err
			}
			continue
		}
		if l.match != nil && l.match.Poll(time.Now()) {
			// Polling /proc: the processes opened or closed ports.
			if err := l.src.SetFilter(combine(l.o.filter, l.match.Filter())); err != nil {
				fmt.Fprintln(l.stderr, "gotcpdump: updating the filter:", err)
			}
		}
		if l.match != nil {
			l.warnExited()
		}
		data, err := l.src.ReadPacket(&ci)
		if err != nil && errors.Is(err, capture.ErrTimeout) {
			if err := l.idle(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if !l.check(ci.Timestamp) {
			continue
		}
		comment := ""
		if l.match != nil {
			if dec.Decode(l.src.LinkType(), data, &seg) != nil {
				continue // not TCP over IP: passed a user filter, but no process's
			}
			p, ok := l.match.Match(&seg)
			if !ok {
				continue
			}
			comment = fmt.Sprintf("pid: %d, comm: %s", p.PID, p.Comm)
		}
		if err := l.w.Write(&ci, data, comment); err != nil {
			return l.writeErr(err)
		}
		// Counted before a flush that may fail: the writer has it (if
		// the flush fails, session counts what the file holds).
		l.r.captured++
		l.r.bytes += int64(ci.Length)
		l.given.Store(int64(l.r.captured))
		// The packet's time stands for the clock's, which a call per
		// packet would cost.
		if err := l.flushDue(ci.Timestamp); err != nil {
			return err
		}
		if l.r.captured%4096 == 0 {
			l.status.update(l.r.captured, l.r.bytes, l.src, l.w.Current)
		}
	}
	return nil
}

// runC lets the source run the capture until it leaves a batch that may
// pass a limit (left), its time is up (the next status line, the
// deadline) or the loop is stopped; ok is false when it cannot (the file
// is not one it can write to).
func (l *loop) runC(rn runner) (left, ok bool, err error) {
	fd, room, until, ok, err := l.w.Direct()
	if err != nil {
		return false, true, l.writeErr(err)
	}
	if !ok {
		return false, false, nil
	}
	lim := capture.RunLimits{Room: room, Until: until, Timeout: time.Minute}
	if l.o.count > 0 {
		lim.Want = l.o.count - l.r.captured
	}
	if !l.deadline.IsZero() {
		if lim.Until.IsZero() || l.deadline.Before(lim.Until) {
			lim.Until = l.deadline
		}
		lim.Timeout = min(lim.Timeout, time.Until(l.deadline))
	}
	if l.status.live() {
		lim.Timeout = min(lim.Timeout, time.Second)
	}
	res, err := rn.Run(fd, lim)
	l.r.captured += res.Packets
	l.r.bytes += res.Octets
	var se *os.SyscallError
	l.w.Wrote(res.Written, res.Packets, errors.As(err, &se))
	switch {
	case errors.Is(err, capture.ErrNoRun):
		return false, false, nil
	case errors.As(err, &se):
		return false, true, l.writeErr(&os.PathError{Op: "write", Path: l.w.Current, Err: se.Err})
	case err != nil:
		return false, true, err
	}
	// The status line follows from idle, or records for a batch left.
	return res.Left, true, nil
}

// records writes a batch of records (packets of them, of octets on
// the wire, if known), keeping what the per-packet path would: none past
// the stop time or the count. The records are read one by one only when
// a stop, a deadline or the count could drop some.
func (l *loop) records(recs []byte, packets int, octets int64) error {
	timed := l.stopping.Load() || !l.deadline.IsZero() || !l.stopAt.IsZero()
	start, off, run := 0, 0, 0 // run: records from start to off
	if !timed && l.o.count == 0 && packets > 0 {
		l.r.captured += packets
		l.r.bytes += octets
		off, run = len(recs), packets // nothing to read one by one
	}
	for off < len(recs) {
		h, err := l.w.Layout().Record(recs[off:])
		if err != nil {
			return err
		}
		if timed && !l.check(h.Time) {
			if err := l.flush(recs[start:off], run); err != nil {
				return err
			}
			off += h.Size
			start, run = off, 0
			continue
		}
		off += h.Size
		run++
		l.r.captured++
		l.r.bytes += int64(h.Length)
		if l.o.count > 0 && l.r.captured >= l.o.count {
			break
		}
	}
	if err := l.flush(recs[start:off], run); err != nil {
		return err
	}
	l.status.update(l.r.captured, l.r.bytes, l.src, l.w.Current)
	return nil
}

// flush writes a run of packets records counted as captured; those the
// writer was not given (a -G capture that ended after -W files, a failed
// write) are uncounted. Of those it was given, a failed write's are
// counted at the end (see session).
func (l *loop) flush(run []byte, packets int) error {
	if len(run) == 0 {
		return nil
	}
	n, err := l.w.WriteRecords(run, packets)
	if err == nil {
		return nil
	}
	for off := 0; off < len(run); {
		h, rerr := l.w.Layout().Record(run[off:])
		if rerr != nil {
			break
		}
		if off >= n {
			l.r.captured--
			l.r.bytes -= int64(h.Length)
		}
		off += h.Size
	}
	return l.writeErr(err)
}

// warnExited says which followed processes have exited: a service
// restarted under a new PID would otherwise leave a capture of nothing,
// silently.
func (l *loop) warnExited() {
	gone, left := l.match.Exited()
	for i, p := range gone {
		more := ""
		if left == 0 && i == len(gone)-1 {
			more = "; no process is left to follow"
		}
		fmt.Fprintf(l.stderr, "gotcpdump: warning: process %d (%s) has exited: its connections from now on are not captured%s\n", p.PID, p.Comm, more)
	}
}
