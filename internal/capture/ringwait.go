package capture

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ringWait waits for a TPACKET_V3 ring (ours or libpcap's) to hand a
// block to user space, on the Go path: a pcap file's steady state with
// libpcap waits in C instead (pcapSource.Run), which avoids what
// follows. How it waits decides much of the capture's CPU time, through
// the Go runtime's monitor (sysmon), which wakes every 20 µs after it
// has taken a processor from a goroutine in a system call and only
// slowly backs off to 10 ms:
//
//   - While packets come, it waits in ppoll(2) entered as a raw system
//     call, which the runtime does not see. Through an ordinary system
//     call the monitor takes the processor away after 10 ms, and at a few
//     hundred blocks a second that cost a quarter of the CPU time.
//   - A goroutine that runs 10 ms without yielding (a raw call counts as
//     running) is preempted, and if the monitor finds it in a system call
//     or a cgo call then (a file write, a libpcap batch), it takes the
//     processor too (by perf the monitor had a tenth of gotcpdump's
//     samples at 350,000 packets a second). So the readers yield
//     (runtime.Gosched) at each batch and each empty ring, well under
//     every 10 ms; builds with and without the yields, compared in one
//     capbench run, were within the machine's spread.
//   - Before the first packet, and once the ring has been empty for
//     idleAfter, the reader parks in the runtime's network poller instead
//     (the socket, through a copy of its descriptor, is a non-blocking
//     *os.File): its processor is then idle, and with every processor
//     idle the monitor sleeps. Parking there under load costs more than
//     it saves (each block's wake-up goes through the scheduler and
//     another thread), but idle it halves the CPU time, which the
//     monitor's wake-ups had been most of.
type ringWait struct {
	fd int32
	f  *os.File
	rc syscall.RawConn
	// ready reports whether the ring has a block for user space (or an
	// error to report); RawConn.Read parks until it does.
	ready func(fd uintptr) bool
	// dry is when the ring was last found empty after a packet (zero
	// while packets come).
	dry time.Time
	// wakeAt, if set, ends a wait that would go past it (WakeAt).
	wakeAt time.Time
}

// until is the end of a wait that begins now: pollInterval from now, or
// the wake time if it comes first.
func (r *ringWait) until(now time.Time) time.Time {
	d := now.Add(pollInterval)
	if r.wakeAt.After(now) && r.wakeAt.Before(d) {
		return r.wakeAt
	}
	return d
}

// idleAfter is how long the ring stays empty before the capture counts
// as idle: longer than BlockTimeout, after which the kernel hands over
// any packet that came.
const idleAfter = 2 * BlockTimeout

func newRingWait(fd int) (*ringWait, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	// O_NONBLOCK is the socket's (both descriptors'); the ring is read
	// from memory, and the flag only tells os.NewFile to use the poller.
	if err := unix.SetNonblock(nfd, true); err != nil {
		_ = unix.Close(nfd)
		return nil, err
	}
	f := os.NewFile(uintptr(nfd), "capture ring")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &ringWait{fd: int32(fd), f: f, rc: rc, dry: time.Unix(0, 1), ready: func(fd uintptr) bool {
		fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds[:], 0)
		return n > 0 || (err != nil && err != unix.EINTR)
	}}, nil
}

// got records that the ring held a packet.
func (r *ringWait) got() {
	if !r.dry.IsZero() {
		r.dry = time.Time{}
	}
}

// wait blocks until the ring has a block, deadline passes or a signal
// comes, and reports whether the reader should look again.
func (r *ringWait) wait(deadline time.Time) bool {
	runtime.Gosched()
	now := time.Now()
	if !now.Before(deadline) {
		return false
	}
	if r.dry.IsZero() {
		r.dry = now
	}
	if now.Sub(r.dry) < idleAfter {
		fds := [1]unix.PollFd{{Fd: r.fd, Events: unix.POLLIN}}
		ts := unix.NsecToTimespec(int64(deadline.Sub(now)))
		_, _, _ = unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		return true
	}
	if err := r.f.SetReadDeadline(deadline); err != nil {
		// Not in the poller after all: a wait the runtime sees.
		fds := [1]unix.PollFd{{Fd: r.fd, Events: unix.POLLIN}}
		ts := unix.NsecToTimespec(int64(deadline.Sub(now)))
		_, _ = unix.Ppoll(fds[:], &ts, nil)
		return true
	}
	return !errors.Is(r.rc.Read(r.ready), os.ErrDeadlineExceeded)
}

func (r *ringWait) close() { r.f.Close() }
