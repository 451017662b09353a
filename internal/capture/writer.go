package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/ncruces/go-strftime"
)

// WriterConfig describes the output, with tcpdump's rotation semantics:
// -G starts a new file every Rotate (the name is then a strftime format),
// -C starts one when a file exceeds MaxBytes, and -W (Files) makes -C's
// files a ring of that many (within each -G period), or ends a -G
// capture after that many periods; alone it does nothing.
type WriterConfig struct {
	Name   string // "-" for standard output
	PcapNG bool
	// Micro writes microsecond time stamps, as tcpdump does by default
	// and with --time-stamp-precision=micro: a pcap file of the
	// microsecond magic (readers older than libpcap 1.5 read no other),
	// or a pcapng file's times cut to the microsecond (pcapgo writes
	// if_tsresol 9 only). Packets are then written one by one.
	Micro    bool
	LinkType layers.LinkType
	Snaplen  int
	Iface    string
	Filter   string
	Rotate   time.Duration
	MaxBytes int64
	Files    int
	// Parts names -C's files NAME-001.EXT, NAME-002.EXT... (the number,
	// from 1 and of at least three digits, before the extension of the
	// -w name), the first file included, so that they keep the
	// extension and sort in the order written (gotcpdump watch), instead
	// of tcpdump's number after the whole name.
	Parts bool
	// Rotated, if set, is called with the name of each file that a
	// rotation closed whole (not the last file, which Close closes), as
	// tcpdump runs its -z command.
	Rotated func(name string)
	// Start is when the first -G period begins (zero: now); a file
	// read (-r) is split by its packets' times, from its first.
	Start time.Time
}

// Writer writes packets, rotating files as configured. Files are created
// with mode 0600: captures hold sensitive data.
type Writer struct {
	cfg     WriterConfig
	f       *os.File
	cw      *countWriter // under bw: what the file took
	bw      *bufio.Writer
	pw      *pcapgo.Writer
	nw      *pcapgo.NgWriter
	period  time.Time // when the current -G period began: its files' strftime time
	periods int       // -G periods begun after the first (for -W)
	written int64
	seq     int   // -C's file number, within the -G period with -G
	closed  bool  // the current file is closed (a -G capture ended after -W files)
	regular bool  // the current file is a regular file (see Direct)
	base    int64 // where the writes begin in it: 0 but for -w - into a file (>>)
	Current string
	// First is the name of the first file, and Opened counts the files
	// opened (rotations and the first).
	First  string
	Opened int
	// Packets given for the current file, and a point up to which the
	// file held everything given: its offset and the packets before it.
	// Lost reads the file back from there.
	records, markRecords int
	mark                 int64
	failed               bool // a write to the current file failed: no more marks
	// readWrite: the current file was opened for reading too, so that it
	// can be read back through its own descriptor after a failed write
	// (after -Z, its directory may be closed to the user); lost is what
	// that read found, when known.
	readWrite, lostKnown bool
	lost                 int
	// pipe is the current file when it is a pipe, FIFO or socket, in the
	// runtime's poller, for Abandon; stdoutNonblock: standard output was
	// made non-blocking for it, and is made blocking again at Close.
	pipe           atomic.Pointer[os.File]
	stdoutNonblock bool
}

// NewWriter opens the first file.
func NewWriter(cfg WriterConfig) (*Writer, error) {
	// -G periods start on whole seconds, as tcpdump's from time(NULL).
	start := cfg.Start
	if start.IsZero() {
		start = time.Now()
	}
	w := &Writer{cfg: cfg, period: start.Truncate(time.Second)}
	return w, w.open()
}

// fileName names the current file as tcpdump's MakeFilename does. With
// -G the name is a strftime(3) format, in local time, of the start of
// the period, so that -C's files within it share it; without, it is
// taken as it is. With -C the file number follows, zero-padded to the
// width of -W's largest, and left off the first file when there is no
// padding: -W without -C or -G changes nothing.
func (w *Writer) fileName() string {
	name := w.cfg.Name
	if w.cfg.Rotate > 0 {
		name = strftime.Format(name, w.period)
	}
	if w.cfg.MaxBytes > 0 && w.cfg.Parts {
		return PartName(name, w.seq+1)
	}
	if w.cfg.MaxBytes > 0 {
		width := 0
		if w.cfg.Files > 1 {
			width = len(strconv.Itoa(w.cfg.Files - 1))
		}
		if w.seq > 0 || width > 0 {
			name += fmt.Sprintf("%0*d", width, w.seq)
		}
	}
	return name
}

// PartName is the name of part n (from 1) of a capture written as parts
// (WriterConfig.Parts): NAME-001.EXT for NAME.EXT.
func PartName(name string, n int) string {
	ext := filepath.Ext(name)
	if strings.ContainsRune(ext, os.PathSeparator) {
		ext = ""
	}
	return fmt.Sprintf("%s-%03d%s", strings.TrimSuffix(name, ext), n, ext)
}

// Chown gives the current file to uid and gid: the file that -Z opened
// before dropping privileges is the user's, as tcpdump's is. Only a
// regular file: not standard output, a FIFO or /dev/null.
func (w *Writer) Chown(uid, gid int) error {
	if w.cfg.Name == "-" || !w.regular {
		return nil
	}
	return w.f.Chown(uid, gid)
}

func (w *Writer) open() error {
	w.closed = false
	var out io.Writer
	w.base = 0
	if w.cfg.Name == "-" {
		w.f = os.Stdout
		w.Current = "-"
		st, err := w.f.Stat()
		if err == nil && st.Mode().IsRegular() {
			w.base = st.Size() // appended to, or 0
		}
		// A pipe's writes go through the runtime's poller, as those of
		// a FIFO that OpenFile opens, so that Abandon can end one that
		// its reader no longer takes (os.Stdout's block in write(2),
		// which the runtime restarts after every signal).
		if err == nil && st.Mode()&(fs.ModeNamedPipe|fs.ModeSocket) != 0 && !w.stdoutNonblock {
			if syscall.SetNonblock(1, true) == nil {
				w.stdoutNonblock = true
				w.f = os.NewFile(1, "/dev/stdout")
			}
		}
	} else {
		w.Current = w.fileName()
		// A new or regular file is opened for reading too; a FIFO is
		// not, which would hold a reader's end open and make writes
		// succeed with no reader.
		flag := os.O_WRONLY
		if st, err := os.Stat(w.Current); err != nil || st.Mode().IsRegular() {
			flag = os.O_RDWR
		}
		f, err := os.OpenFile(w.Current, os.O_CREATE|os.O_TRUNC|flag, 0o600)
		if errors.Is(err, fs.ErrPermission) && flag == os.O_RDWR {
			// A file this user may write but not read: as before.
			flag = os.O_WRONLY
			f, err = os.OpenFile(w.Current, os.O_CREATE|os.O_TRUNC|flag, 0o600)
		}
		if err != nil {
			return err
		}
		w.f, w.readWrite = f, flag == os.O_RDWR
	}
	if w.Opened == 0 {
		w.First = w.Current
	}
	w.Opened++
	st, err := w.f.Stat()
	w.regular = err == nil && st.Mode().IsRegular()
	if err == nil && st.Mode()&(fs.ModeNamedPipe|fs.ModeSocket) != 0 {
		w.pipe.Store(w.f)
	} else {
		w.pipe.Store(nil)
	}
	w.cw = &countWriter{f: w.f}
	w.records, w.mark, w.markRecords, w.failed, w.lostKnown = 0, 0, 0, false, false
	w.bw = bufio.NewWriterSize(w.cw, writePiece)
	out = w.bw
	if w.cfg.PcapNG {
		host, _ := os.Hostname()
		intf := pcapgo.NgInterface{
			Name: w.cfg.Iface, Filter: w.cfg.Filter, OS: runtime.GOOS, LinkType: w.cfg.LinkType,
			SnapLength: uint32(w.cfg.Snaplen), TimestampResolution: 9,
			Description: "captured by gotcpdump on " + host,
		}
		opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
			Hardware: runtime.GOARCH, OS: runtime.GOOS, Application: "gotcpdump", Comment: "host: " + host,
		}}
		nw, err := pcapgo.NewNgWriterInterface(out, intf, opts)
		if err != nil {
			return err
		}
		w.nw = nw
		if err := nw.Flush(); err != nil {
			return err
		}
	} else {
		if w.cfg.Micro {
			w.pw = pcapgo.NewWriter(out)
		} else {
			w.pw = pcapgo.NewWriterNanos(out)
		}
		if err := w.pw.WriteFileHeader(uint32(w.cfg.Snaplen), w.cfg.LinkType); err != nil {
			return err
		}
	}
	// Write the header now, so that a path that takes no data fails
	// before the capture starts. -C counts it, as tcpdump's ftell does.
	err = w.flushed(w.bw.Flush())
	w.written = w.cw.n
	return err
}

// countWriter counts the octets the file took, and keeps the first
// error: pcapgo's Writer wraps it without %w, which hid an EPIPE (the
// reader of -w - went away) from errors.Is.
type countWriter struct {
	f   *os.File
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// flushed marks the file as holding everything given when err, that of
// a flush of every buffer, is nil and no write to it failed before.
func (w *Writer) flushed(err error) error {
	w.failed = w.failed || err != nil
	if !w.failed {
		w.mark, w.markRecords = w.cw.n, w.records
	}
	return err
}

// Lost tells, after a failed write, how many of the packets given for
// the current file it does not hold whole, by reading it back from the
// last point where it held everything given (standard output too, when
// it is a file). When the file cannot be read back (a pipe), every
// packet given after that point counts as lost. A named file has been
// cut after its last whole record when it was closed (readBack).
func (w *Writer) Lost() int {
	given := w.records - w.markRecords
	if w.lostKnown {
		return w.lost
	}
	if !w.regular {
		return given
	}
	name := w.Current
	if w.cfg.Name == "-" {
		name = "/proc/self/fd/1" // a new open file description, for reading
	}
	f, err := os.Open(name)
	if err != nil {
		return given
	}
	defer f.Close()
	return w.readBack(f, false)
}

// readBack counts the packets given since the mark that f holds whole,
// and returns how many it lacks; with cut, it truncates f after its last
// whole record: a full disk leaves part of one written, and readers would
// find the file "cut short in the middle of a packet".
func (w *Writer) readBack(f *os.File, cut bool) int {
	given := w.records - w.markRecords
	// To the file's end: what a failed write in C (Direct) left of a
	// record is not counted in cw.n.
	size := w.base + w.cw.n
	if st, err := f.Stat(); err == nil {
		size = max(size, st.Size())
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, w.base+w.mark, size-w.base-w.mark), 64<<10)
	// A pcap record's header, or a pcapng block's type and length.
	hdr := make([]byte, 16)
	whole := 0
	var end int64 // the offset after the last whole record
	// To the end: after the packets, pcapng's statistics block at close
	// may be the record that the disk cut.
	short := false
	for {
		var rest int
		var length int64 // the record's, header included
		packet := true
		h := hdr
		if w.nw != nil {
			h = hdr[:8]
		}
		if _, err := io.ReadFull(r, h); err != nil {
			short = err == io.ErrUnexpectedEOF // io.EOF: the file ends between records
			break
		}
		if w.nw != nil {
			size := binary.LittleEndian.Uint32(hdr[4:])
			if size < 12 {
				break
			}
			rest, length = int(size)-8, int64(size)
			packet = binary.LittleEndian.Uint32(hdr) == 6 // an enhanced packet block
		} else {
			rest = int(binary.LittleEndian.Uint32(hdr[8:]))
			length = int64(len(hdr) + rest)
		}
		if n, _ := r.Discard(rest); n < rest {
			short = true
			break
		}
		end += length
		if packet {
			whole++
		}
	}
	if short && cut {
		_ = f.Truncate(w.base + w.mark + end)
	}
	whole = min(whole, given)
	return given - whole
}

// Write writes one packet, with an optional pcapng comment.
func (w *Writer) Write(ci *gopacket.CaptureInfo, data []byte, comment string) error {
	if w.due(w.written, ci.Timestamp) {
		if err := w.rotate(ci.Timestamp); err != nil {
			return err
		}
	}
	var err error
	if w.nw != nil {
		c := *ci
		c.InterfaceIndex = 0 // the file's one interface, not the kernel's ifindex
		if w.cfg.Micro {
			c.Timestamp = c.Timestamp.Truncate(time.Microsecond)
		}
		opts := pcapgo.NgPacketOptions{}
		if comment != "" {
			opts.Comments = []string{comment}
		}
		err = w.nw.WritePacketWithOptions(c, data, opts)
		w.written += epbSize(len(data), comment)
	} else {
		// Built from its fields: copying *ci whole, just after the reader
		// stored them one by one, stalls on the wide loads (9 ns of 62 a
		// packet, BenchmarkBatchToFile).
		err = w.pw.WritePacket(gopacket.CaptureInfo{Timestamp: ci.Timestamp, CaptureLength: ci.CaptureLength, Length: ci.Length}, data)
		w.written += int64(len(data)) + recSize
	}
	if err != nil && w.cw.err != nil {
		err = w.cw.err
	}
	if err == nil {
		w.records++ // in the buffer or the file: Lost tells which
	}
	w.failed = w.failed || err != nil
	return err
}

// due reports whether a packet at t starts a new file, written octets
// into the current one.
func (w *Writer) due(written int64, t time.Time) bool {
	return w.cfg.Name != "-" && (w.newPeriod(t) || w.cfg.MaxBytes > 0 && written > w.cfg.MaxBytes)
}

// epbSize is the size of the enhanced packet block that pcapgo's
// NgWriter writes for n octets of packet and a comment, so that -C
// measures pcapng files as they are.
func epbSize(n int, comment string) int64 {
	size := 32 + n // the block's fields and trailer, and the packet
	if comment != "" {
		size += 4 + len(comment) + (4-len(comment)&3)&3 + 4 // the option, padded, and the end of options
	}
	return int64(size + (4-size&3)&3)
}

// newPeriod reports whether a packet at t begins a new -G period.
func (w *Writer) newPeriod(t time.Time) bool {
	return w.cfg.Rotate > 0 && t.Sub(w.period) >= w.cfg.Rotate
}

// TakesRecords reports whether WriteRecords can be used: the file has
// nanosecond time stamps, as the records do.
func (w *Writer) TakesRecords() bool { return !w.cfg.Micro }

// Layout is the layout of the records WriteRecords takes: the packets
// as the file holds them.
func (w *Writer) Layout() Layout {
	if w.nw != nil {
		return NgBlocks
	}
	return PcapRecords
}

// WriteRecords writes packets that are already records of the file's
// Layout (a batch of the libpcap engine), rotating files between records
// as Write does, and returns the octets of recs given to the files (all
// but after an error).
func (w *Writer) WriteRecords(recs []byte, packets int) (int, error) {
	start := 0
	if w.cfg.Rotate > 0 || w.cfg.MaxBytes > 0 {
		n := 0 // records from start to off
		for off := 0; off < len(recs); {
			h, err := w.Layout().Record(recs[off:])
			if err != nil {
				return start, err
			}
			if w.due(w.written+int64(off-start), h.Time) {
				if given, err := w.give(recs[start:off], n); err != nil {
					return start + given, err
				}
				start, n = off, 0
				if err := w.rotate(h.Time); err != nil {
					return start, err
				}
			}
			off += h.Size
			n++
		}
		packets = n // counted here, as they were read
	}
	if n, err := w.give(recs[start:], packets); err != nil {
		return start + n, err
	}
	return len(recs), nil
}

// give writes packets records into the current file, counting them;
// after a failure it returns the octets of recs given, and counts as
// given the records that start before that.
func (w *Writer) give(recs []byte, packets int) (int, error) {
	n, err := w.writeRecords(recs)
	if err != nil {
		w.failed = true
		for off := 0; off < n; {
			h, rerr := w.Layout().Record(recs[off:])
			if rerr != nil {
				break
			}
			w.records++
			off += h.Size
		}
		return n, err
	}
	w.records += packets
	if w.bw.Buffered() == 0 {
		w.flushed(nil) // written past the buffer
	}
	return n, err
}

// Direct offers the file's descriptor for whole batches of records
// written past the Writer (the libpcap source's Run), once what the
// Writer buffers is flushed, with the file's limits: the octets it takes
// before it rotates (0: no limit) and the packet time from which the
// next file takes the packets (zero: never). ok is false for standard
// output and anything but a regular file; err is a failed flush.
// Wrote counts what was written.
func (w *Writer) Direct() (fd int, room int64, until time.Time, ok bool, err error) {
	if !w.TakesRecords() || w.closed || w.cfg.Name == "-" || !w.regular {
		return 0, 0, time.Time{}, false, nil
	}
	if err := w.Flush(); err != nil {
		return 0, 0, time.Time{}, false, err
	}
	if w.cfg.MaxBytes > 0 {
		room = max(w.cfg.MaxBytes-w.written, 1) // 1: every batch goes to WriteRecords, which rotates where due
	}
	if w.cfg.Rotate > 0 {
		until = w.period.Add(w.cfg.Rotate)
	}
	return int(w.f.Fd()), room, until, true, nil
}

// Wrote counts octets of records written through Direct's descriptor,
// and the packets among them that the file holds whole; failed: the
// last write failed, and may have left part of a record (Lost reads the
// file back from the last mark).
func (w *Writer) Wrote(n int64, packets int, failed bool) {
	w.written += n
	w.cw.n += n
	w.records += packets
	w.failed = w.failed || failed
	w.flushed(nil)
}

// writeRecords writes whole records; the file holds them all or the
// capture fails. It returns the octets of recs given to the buffer or
// the file.
func (w *Writer) writeRecords(recs []byte) (int, error) {
	// pcapgo's NgWriter buffers too: what it holds goes first.
	if w.nw != nil {
		if err := w.nw.Flush(); err != nil {
			return 0, err
		}
	}
	w.written += int64(len(recs))
	if len(recs) < writePiece {
		return w.bw.Write(recs)
	}
	// Copying a large batch into the buffer costs more than the write
	// it might save.
	if err := w.bw.Flush(); err != nil {
		return 0, err
	}
	done := 0
	for done < len(recs) {
		n, err := w.cw.Write(recs[done:min(len(recs), done+writePiece)])
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// writePiece is the most a single write gives the file, and the size of
// the buffer that small writes collect in. The kernel backs a write with
// page-cache folios up to the write's size, and on the 2-core VMs of make
// bench 1 MiB writes cost gotcpdump as much CPU as tcpdump's 4 KiB writes
// once a capture had run for a few seconds, 64 KiB writes half as much
// (CPU of the capture's threads over 5 s at 270,000 packets a second,
// medians of 3: 224 ms with 1 MiB, 187 with 128 KiB, 115 with 64 KiB, 129
// with 32 KiB, 155 with 16 KiB, tcpdump 216). Smaller writes cost more
// calls.
const writePiece = 64 << 10

// Layout is how a batch lays its packets out, as a file holds them.
type Layout uint8

const (
	// PcapRecords are pcap file records: little-endian, nanosecond time
	// stamps.
	PcapRecords Layout = iota
	// NgBlocks are pcapng enhanced packet blocks as the Writer's pcapng
	// files hold them: little-endian, of interface 0, with nanosecond
	// time stamps and no options.
	NgBlocks
)

// RecordHeader is what a record says of its packet.
type RecordHeader struct {
	Size     int // octets of the record: the header, the captured bytes and the rest
	Data     int // where in the record the captured bytes start
	Captured int // octets captured
	Length   int // octets on the wire
	Time     time.Time
}

// Record reads the header of the record of layout l at the start of
// recs (as WriteRecords takes them).
func (l Layout) Record(recs []byte) (RecordHeader, error) {
	le := binary.LittleEndian
	if l == NgBlocks {
		if len(recs) < 32 {
			return RecordHeader{}, errRecord
		}
		size, caplen := le.Uint32(recs[4:]), le.Uint32(recs[20:])
		if le.Uint32(recs) != 6 || uint64(size) > uint64(len(recs)) || uint64(caplen)+32 > uint64(size) {
			return RecordHeader{}, errRecord
		}
		ns := int64(le.Uint32(recs[12:]))<<32 | int64(le.Uint32(recs[16:]))
		return RecordHeader{Size: int(size), Data: 28, Captured: int(caplen), Length: int(le.Uint32(recs[24:])), Time: time.Unix(0, ns)}, nil
	}
	if len(recs) < recSize {
		return RecordHeader{}, errRecord
	}
	caplen := le.Uint32(recs[8:])
	if uint64(caplen) > uint64(len(recs)-recSize) {
		return RecordHeader{}, errRecord
	}
	return RecordHeader{
		Size:     recSize + int(caplen),
		Data:     recSize,
		Captured: int(caplen),
		Length:   int(le.Uint32(recs[12:])),
		Time:     time.Unix(int64(le.Uint32(recs)), int64(le.Uint32(recs[4:]))),
	}, nil
}

var errRecord = errors.New("capture: a record runs past the end of its batch")

func (w *Writer) rotate(t time.Time) error {
	if err := w.closeFile(nil); err != nil {
		return err
	}
	if w.cfg.Rotated != nil {
		w.cfg.Rotated(w.Current)
	}
	// As tcpdump: a new -G period starts -C's numbering over, and -W
	// counts periods when there is no -C, files within a period (a
	// ring) when there is.
	if w.newPeriod(t) {
		w.periods++
		if w.cfg.Files > 0 && w.periods >= w.cfg.Files && w.cfg.MaxBytes == 0 {
			return errRotationDone
		}
		w.period, w.seq = t.Truncate(time.Second), 0
	} else {
		w.seq++
		if w.cfg.Files > 0 && w.seq >= w.cfg.Files {
			w.seq = 0
		}
	}
	return w.open()
}

// errRotationDone ends a -G capture after -W files, as in tcpdump.
var errRotationDone = fmt.Errorf("capture: -W files written")

// IsDone reports whether err means the capture ended by design.
func IsDone(err error) bool { return err == errRotationDone }

// Stats are written at the end of a pcapng file.
type Stats struct {
	Received, Dropped uint64
	Start, End        time.Time
	// None: there are no kernel's counts to write (a file read).
	None bool
}

func (w *Writer) closeFile(st *Stats) error {
	if w.closed {
		return nil // rotation closed it last and opened no other
	}
	w.closed = true
	var err error
	if w.nw != nil {
		if st != nil && !st.None {
			_ = w.nw.WriteInterfaceStats(0, pcapgo.NgInterfaceStatistics{
				LastUpdate: st.End, StartTime: st.Start, EndTime: st.End,
				PacketsReceived: st.Received, PacketsDropped: st.Dropped,
			})
		}
		err = w.flushed(w.nw.Flush())
	}
	if err == nil {
		err = w.flushed(w.bw.Flush())
	}
	if w.cfg.Name == "-" {
		if w.stdoutNonblock {
			// As it was: a shell may hand the pipe to the next command.
			_ = syscall.SetNonblock(1, false)
		}
		return err
	}
	if w.failed && w.readWrite {
		w.lost, w.lostKnown = w.readBack(w.f, true), true
	}
	// No fsync, as tcpdump does none: at a rotation it held up the
	// capture loop while the kernel wrote the whole file out (about 20 ms
	// for 50 MB here, far longer on a busy disk, while the ring fills),
	// and its CPU, 0.05 ms a megabyte, was the capture's. The kernel's
	// writeback takes it to disk, as it does tcpdump's.
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Abandon makes a write to a pipe, FIFO or socket that waits for its
// reader fail at t with os.ErrDeadlineExceeded, and every write after
// it: a capture asked to stop must not wait for a reader that no longer
// reads. Other files are not waited on. It may be called from any
// goroutine.
func (w *Writer) Abandon(t time.Time) {
	if f := w.pipe.Load(); f != nil {
		_ = f.SetWriteDeadline(t)
	}
}

// Flush pushes buffered packets to the file.
func (w *Writer) Flush() error {
	if w.nw != nil {
		if err := w.nw.Flush(); err != nil {
			return w.flushed(err)
		}
	}
	return w.flushed(w.bw.Flush())
}

// Close writes the final statistics (pcapng) and closes the file.
func (w *Writer) Close(st Stats) error { return w.closeFile(&st) }
