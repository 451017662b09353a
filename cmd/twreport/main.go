// Command twreport reads pcap and pcapng captures and reports where
// TIME_WAIT sockets come from: who closes, how many each host holds over
// time, the ports each client ties up, and the requests behind short
// connections, with findings in plain words.
//
//	twreport [--json] [--timeline] [--tw-seconds 60] [--port-range 32768-60999] FILE...
//
// FILE "-" reads standard input. Several files are read as one capture,
// in the order of their first packets' times.
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
	"github.com/gotcpdump/gotcpdump/goparser/tcptw"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // --help: the usage is printed, nothing failed
		}
		fmt.Fprintln(os.Stderr, "twreport:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("twreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	timeline := fs.Bool("timeline", false, "add each TIME_WAIT holder's population change points")
	twSeconds := fs.Float64("tw-seconds", 60, "TIME_WAIT length in seconds (Linux: 60, fixed)")
	portRange := fs.String("port-range", "32768-60999", "ephemeral port range of the clients")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: twreport [flags] FILE... (pcap or pcapng; - for stdin)")
		fmt.Fprintln(stderr, "Several files are read as one capture, in the order of their first packets' times.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no capture file given")
	}
	lo, hi, err := parseRange(*portRange)
	if err != nil {
		return err
	}
	// NaN passes any comparison, and what rounds to no nanosecond or
	// overflows a Duration would have left the engine's default of 60 s.
	if !(*twSeconds >= 1e-3 && *twSeconds <= 86400) {
		return errors.New("--tw-seconds must be from 0.001 to 86400")
	}
	eng := tcptw.New(tcptw.Config{TimeWait: time.Duration(*twSeconds * float64(time.Second)), PortLo: lo, PortHi: hi})
	prog := newProgress(stderr)
	var last time.Time // the latest of the files' last packets so far
	var dropped uint64
	for _, f := range inTimeOrder(fs.Args()) {
		name := f.name
		if f.known && f.first.Before(last) {
			// Files that overlap in time (captures on two interfaces at
			// once) are read one after the other: each connection seen
			// in both is counted twice, out of order.
			fmt.Fprintf(stderr, "twreport: %s begins %.3f s before the end of the files read before it: files that overlap "+
				"in time are read one after the other, not merged; merge them with mergecap first\n", name, last.Sub(f.first).Seconds())
		}
		read, err := feed(eng, name, prog)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if read.last.After(last) {
			last = read.last
		}
		dropped += read.dropped
	}
	prog.done()
	rep := eng.Report(*timeline)
	if dropped > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("The capture dropped %d packets (its pcapng interface statistics, as gotcpdump and dumpcap "+
			"write them): connections and closes among them are missing, and counts may be short", dropped))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.WriteText(stdout)
	return nil
}

func parseRange(s string) (uint16, uint16, error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.ParseUint(a, 10, 16)
	hi, err2 := strconv.ParseUint(b, 10, 16)
	if !ok || err1 != nil || err2 != nil || lo == 0 || lo > hi {
		return 0, 0, fmt.Errorf("bad --port-range %q, want LOW-HIGH", s)
	}
	return uint16(lo), uint16(hi), nil
}

// packetSource is what pcapgo's pcap and pcapng readers share. Read
// fills the caller's captureInfo: returned by value through the
// interface, the struct was stored field by field and then copied whole,
// and the CPU stalled on the copy.
type packetSource interface {
	Read(ci *captureInfo) ([]byte, error)
}

type captureInfo struct {
	ts   time.Time
	link layers.LinkType
	size int
}

type pcapSource struct{ r *pcapgo.Reader }

func (p pcapSource) Read(ci *captureInfo) ([]byte, error) {
	b, c, err := p.r.ZeroCopyReadPacketData()
	ci.ts, ci.link, ci.size = c.Timestamp, p.r.LinkType(), c.Length
	return b, err
}

type ngSource struct{ r *pcapgo.NgReader }

func (p ngSource) Read(ci *captureInfo) ([]byte, error) {
	b, c, err := p.r.ZeroCopyReadPacketData()
	if err != nil {
		return nil, err
	}
	ci.ts, ci.link, ci.size = c.Timestamp, p.r.LinkType(), c.Length
	if intf, e := p.r.Interface(c.InterfaceIndex); e == nil {
		ci.link = intf.LinkType
	}
	return b, nil
}

func open(name string) (io.ReadCloser, int64, error) {
	if name == "-" {
		return io.NopCloser(os.Stdin), 0, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	st, _ := f.Stat()
	return f, st.Size(), nil
}

// fileRead is what feed found of a file besides its segments.
type fileRead struct {
	last time.Time // its last packet's
	// dropped: the packets the capture dropped, by the last statistics
	// of each of a pcapng file's interfaces (a pcap file has none).
	dropped uint64
}

// feed hands the engine the TCP segments of a capture file.
func feed(eng *tcptw.Engine, name string, prog *progress) (read fileRead, err error) {
	f, size, err := open(name)
	if err != nil {
		return read, err
	}
	defer f.Close()
	if m, ok := mapFile(f, size); ok {
		defer m.unmap()
		if src, ok := newPcapMapped(m.b); ok {
			read.last, err = feedMapped(eng, name, prog, src, size, m.release)
			return read, err
		}
	}
	cr := &countingReader{r: f}
	drops := map[int]uint64{} // by interface: its statistics count from the capture's start
	src, closeSrc, err := sourceOf(cr, func(intf int, st pcapgo.NgInterfaceStatistics) {
		if st.PacketsDropped != pcapgo.NgNoValue64 {
			drops[intf] = st.PacketsDropped
		}
	})
	if err != nil || src == nil {
		return read, err
	}
	defer closeSrc()
	read.last, err = feedRecords(eng, name, prog, src, func() int64 { return cr.n }, size)
	for _, n := range drops {
		read.dropped += n
	}
	return read, err
}

// sourceOf reads the header of a capture, pcap or pcapng, gzipped or not,
// and returns its packets and what closes its decompressor. A pcapng
// section header and nothing else is no source and no error: no packets,
// as tshark reads it. stats, when not nil, is given each pcapng
// interface statistics block read.
func sourceOf(r io.Reader, stats func(int, pcapgo.NgInterfaceStatistics)) (packetSource, func(), error) {
	nop := func() {}
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, nop, fmt.Errorf("not a capture file: %w", err)
	}
	closeSrc := nop
	if magic[0] == 0x1f && magic[1] == 0x8b {
		// Gzipped, pcap or pcapng (tcpdump's and gotcpdump's -z gzip
		// makes both).
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, nop, err
		}
		closeSrc = func() { gz.Close() }
		br = bufio.NewReaderSize(gz, 1<<20)
		if magic, err = br.Peek(4); err != nil {
			closeSrc()
			return nil, nop, fmt.Errorf("not a capture file: %w", err)
		}
	}
	var src packetSource
	if string(magic) == "\x0a\x0d\x0d\x0a" {
		r, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{StatisticsCallback: stats})
		if errors.Is(err, io.EOF) {
			closeSrc()
			return nil, nop, nil
		}
		if err != nil {
			closeSrc()
			return nil, nop, err
		}
		src = ngSource{r}
	} else if src, err = newPcapSource(br); err != nil {
		closeSrc()
		return nil, nop, err
	}
	return src, closeSrc, nil
}

// firstPacketTime is the time of a capture file's first packet; ok is
// false for a file without packets or one that cannot be read (feed says
// why when it reads it).
func firstPacketTime(name string) (t time.Time, ok bool) {
	f, err := os.Open(name)
	if err != nil {
		return t, false
	}
	defer f.Close()
	src, closeSrc, err := sourceOf(f, nil)
	if err != nil || src == nil {
		return t, false
	}
	defer closeSrc()
	var ci captureInfo
	if _, err := src.Read(&ci); err != nil {
		return t, false
	}
	return ci.ts, true
}

// regular reports whether name is a regular file, which can be read
// twice (a file that cannot be opened is not: feed says why).
func regular(name string) bool {
	st, err := os.Stat(name)
	return name != "-" && err == nil && st.Mode().IsRegular()
}

// captureFile is a file to read, and its first packet's time when
// known.
type captureFile struct {
	name  string
	first time.Time
	known bool
}

// inTimeOrder sorts the capture files by the time of their first packet:
// the files of a rotating capture (tcpdump -C or -G, gotcpdump's) in the
// order they were written, however the shell sorted their names ("cap",
// "cap1", "cap10", "cap2"). Standard input, a pipe (<(zcat cap.gz)) or
// another file that is not a regular one cannot be read twice: with one
// among them, the files keep the order given. Files without packets
// change nothing wherever they are read. The times of the regular files
// are read here, once, for the warning of files that overlap; one file
// is not read for them.
func inTimeOrder(names []string) []captureFile {
	files := make([]captureFile, len(names))
	for i, n := range names {
		files[i].name = n
	}
	if len(files) < 2 {
		return files
	}
	all := true
	for i := range files {
		if regular(files[i].name) {
			files[i].first, files[i].known = firstPacketTime(files[i].name)
		} else {
			all = false
		}
	}
	if all {
		slices.SortStableFunc(files, func(a, b captureFile) int { return a.first.Compare(b.first) })
	}
	return files
}

// feedMapped is feedRecords for a mapped file, telling release how far
// it has read as it tells the progress bar (every 65,536 packets). One
// truncated while it is read faults (SIGBUS) where read(2) would have
// seen it end: that is an error, not a crash.
func feedMapped(eng *tcptw.Engine, name string, prog *progress, src *pcapRecords, size int64, release func(off int)) (last time.Time, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			// A memory fault's panic says where (debug.SetPanicOnFault).
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			err = fmt.Errorf("%s changed while it was read (truncated?)", name)
		}
	}()
	return feedRecords(eng, name, prog, src, func() int64 {
		release(src.off)
		return int64(src.off)
	}, size)
}

// feedRecords hands the engine every TCP segment of src, and returns the
// time of its last packet; at reports how far into the file (of size
// octets) src has read.
func feedRecords(eng *tcptw.Engine, name string, prog *progress, src packetSource, at func() int64, size int64) (last time.Time, err error) {
	dec := tcpdecode.New()
	var ci captureInfo
	var seg tcpdecode.Segment
	for n := 0; ; n++ {
		data, err := src.Read(&ci)
		if err == io.EOF {
			return last, nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				fmt.Fprintf(prog.w, "twreport: %s: truncated after %d packets\n", name, n)
				return last, nil
			}
			return last, err
		}
		last = ci.ts
		if n%65536 == 0 {
			prog.update(name, at(), size)
		}
		if err := dec.Decode(ci.link, data, &seg); err != nil {
			if errors.Is(err, tcpdecode.ErrShort) {
				eng.ShortFrame()
			}
			continue
		}
		eng.Segment(ci.ts, &seg)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// progress draws a bar on stderr when stderr is a terminal.
type progress struct {
	w  io.Writer
	on bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(name string, done, size int64) {
	if !p.on || size <= 0 {
		return
	}
	frac := float64(done) / float64(size)
	if frac > 1 {
		frac = 1
	}
	const width = 40
	n := int(frac * width)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%%", name, strings.Repeat("#", n), strings.Repeat(" ", width-n), frac*100)
}

func (p *progress) done() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
