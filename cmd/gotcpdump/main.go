// Command gotcpdump captures packets on production hosts into pcap or
// pcapng files that Wireshark and the gotcpdump plugins read directly.
// Its write-side flags mean what they mean in tcpdump; -p, -f and -t
// follow the form our users' runbooks use (see the README for the
// differences from tcpdump).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/gotcpdump/gotcpdump/internal/capture"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// usageError is a command line that the flag package refused; run
// follows its message with a line of usage.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

const (
	usageLine      = "usage: gotcpdump [-i interface] -w file [flags] [expression] (gotcpdump -h: every flag)"
	watchUsageLine = "usage: gotcpdump watch [--tw-threshold N] [--dir DIR] [flags] [expression] (gotcpdump watch -h: every flag)"
)

// pidList collects repeated -p/--pid flags.
type pidList []int

func (p *pidList) String() string { return fmt.Sprint([]int(*p)) }
func (p *pidList) Set(v string) error {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(fields) == 0 {
		// "$(pgrep -f NAME)" that matched nothing: capturing every
		// process's traffic instead would be the opposite of what was
		// asked, on a production host.
		return errors.New("no PID given (did the command that lists them find no process?)")
	}
	for _, f := range fields {
		n, err := strconv.Atoi(f)
		switch {
		case err == nil && n > 0:
			*p = append(*p, n)
		case strings.HasPrefix(f, "-") || err != nil && !strings.ContainsAny(f, "0123456789"):
			// -p -i eth0, or -pni eth0: tcpdump's -p (no promiscuous
			// mode, which is gotcpdump's default), or an unquoted
			// $(pgrep ...) that printed nothing.
			return fmt.Errorf("bad PID %q (-p takes process IDs; promiscuous mode is off unless --promisc)", f)
		default:
			return fmt.Errorf("bad PID %q", f)
		}
	}
	return nil
}

type options struct {
	pids                                           pidList
	pname                                          string
	iface, write, filterFile, filter, engine, user string
	postRotate                                     string // -z
	direction                                      string // -Q
	count, snaplen, bufferKiB, files               int
	rotate, duration                               int
	length                                         time.Duration // -t, or watch's --capture
	maxMB                                          int64
	pcapng, list, promisc, noEBPF, version         bool
	unbuffered                                     bool              // -U: each batch reaches the file when read
	parts                                          bool              // watch: -C's files as NAME-001.pcapng... (WriterConfig.Parts)
	rotated                                        func(name string) // watch: called after each rotation, before -z's command
	quiet                                          int               // -n, -q, -v...: accepted, see parse
	dump                                           int               // -d, -dd, -ddd: print the filter's program
	listLinks                                      bool              // -L
	linkType                                       string            // -y
	read                                           string            // -r
	immediate                                      bool              // --immediate-mode
	precision                                      string            // --time-stamp-precision (--nano): "", micro or nano
	info                                           <-chan os.Signal  // SIGUSR1: print the counts (nil: never)
}

// noop counts a tcpdump flag that changes only how tcpdump prints
// packets, which gotcpdump never does.
type noop struct{ n *int }

func (f noop) String() string   { return "" }
func (f noop) Set(string) error { *f.n++; return nil }
func (f noop) IsBoolFlag() bool { return true }

// precisionFlag is --micro or --nano, tcpdump's short forms of
// --time-stamp-precision=micro and =nano.
type precisionFlag struct{ p, v *string }

func (f precisionFlag) String() string { return "" }
func (f precisionFlag) Set(v string) error {
	if v != "true" { // --micro=false: tcpdump takes no value either
		return errors.New("takes no value")
	}
	*f.p = *f.v
	return nil
}
func (f precisionFlag) IsBoolFlag() bool { return true }

// filterFromFile is the expression of a -F file: as tcpdump reads it,
// with each '#' and the rest of its line a comment.
func filterFromFile(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i], _, _ = strings.Cut(l, "#")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("gotcpdump", flag.ContinueOnError)
	// The flag package would print a bad flag's error and then all the
	// flags, and run the error again: run prints it once, with a line of
	// usage, as tcpdump does; -h prints the flags.
	fs.SetOutput(io.Discard)
	str := func(p *string, def, usage string, names ...string) {
		for _, n := range names {
			fs.StringVar(p, n, def, usage)
		}
	}
	integer := func(p *int, def int, usage string, names ...string) {
		for _, n := range names {
			fs.IntVar(p, n, def, usage)
		}
	}
	str(&o.iface, "any", "interface to capture on (any: all, with cooked headers)", "i", "interface")
	str(&o.write, "", "write packets to FILE (- for standard output); .pcapng names write pcapng", "w")
	str(&o.filterFile, "", "read the filter expression from FILE", "F")
	str(&o.filter, "", "filter expression (libpcap syntax); also taken from trailing arguments", "f", "filter")
	str(&o.direction, "", "capture only packets received (in), sent (out), or both (inout, the default), as tcpdump -Q", "Q", "direction")
	str(&o.engine, "pcap", "capture engine: pcap (libpcap) or afpacket (gopacket's TPACKET_V3 ring)", "engine")
	str(&o.user, "", "drop privileges to USER once the capture is open", "Z")
	str(&o.postRotate, "", "with -C or -G, run COMMAND FILE on each file a rotation closes (e.g. gzip), at the lowest priority, as tcpdump -z", "z")
	integer(&o.count, 0, "stop after COUNT packets", "c")
	integer(&o.snaplen, 262144, "bytes of each packet to keep", "s")
	integer(&o.bufferKiB, 32768, "capture buffer size in KiB", "B")
	integer(&o.rotate, 0, "start a new file every SECONDS (the -w name is then a strftime format, e.g. %Y%m%d-%H%M%S)", "G")
	integer(&o.files, 0, "keep at most FILES files (with -C: a ring, within each -G period; with -G alone: stop after FILES)", "W")
	integer(&o.duration, 0, "stop after SECONDS", "t", "duration")
	fs.Int64Var(&o.maxMB, "C", 0, "start a new file when the current one exceeds MB million bytes")
	fs.BoolVar(&o.pcapng, "pcapng", false, "write pcapng even if the name does not end in .pcapng")
	fs.BoolVar(&o.list, "D", false, "list the interfaces and exit")
	fs.BoolVar(&o.version, "version", false, "print gotcpdump's and libpcap's versions and exit, as tcpdump --version")
	fs.BoolVar(&o.promisc, "promisc", false, "put the interface in promiscuous mode")
	fs.Var(&o.pids, "p", "capture the TCP connections of process PID (repeatable; also a list, as $(pgrep -f NAME) gives)")
	fs.Var(&o.pids, "pid", "same as -p")
	str(&o.pname, "", "capture the TCP connections of the processes whose command line contains NAME", "pname")
	fs.BoolVar(&o.noEBPF, "no-ebpf", false, "with -p/--pname: find the processes' connections by reading /proc (misses short connections) instead of with eBPF")
	fs.BoolVar(&o.unbuffered, "U", false, "write each batch of packets to the file as it is read, not when the buffer fills or a second has passed")
	fs.BoolVar(&o.immediate, "immediate-mode", false, "libpcap's immediate mode: each packet is read as it arrives, not a ring block at a time (with -U, it reaches the file at once)")
	str(&o.precision, "", "micro: write microsecond time stamps (tcpdump's default pcap file); nano: fail unless libpcap gives nanoseconds (without it, nanoseconds where libpcap gives them, and microseconds with -r, as tcpdump)", "time-stamp-precision")
	for _, v := range []string{"micro", "nano"} {
		fs.Var(precisionFlag{&o.precision, &v}, v, "same as --time-stamp-precision="+v)
	}
	fs.Var(noop{&o.dump}, "d", "print the capture filter's compiled BPF program as tcpdump -d does (-dd: as C, -ddd: as decimal numbers) and exit")
	fs.BoolVar(&o.listLinks, "L", false, "list the interface's data link types, as tcpdump -L, and exit")
	fs.BoolVar(&o.listLinks, "list-data-link-types", false, "same as -L")
	str(&o.linkType, "", "capture with data link type TYPE (a name of -L's, e.g. LINUX_SLL on any), as tcpdump -y", "y")
	str(&o.read, "", "read packets from the capture FILE (- for standard input) instead of an interface, keeping its link type; its time stamps are cut to microseconds unless --nano is given, as tcpdump -r cuts them", "r")
	// tcpdump's flags that only change how it prints packets (-n, -q,
	// -v, -A, -e, -K, -l, -N, -S, -x, -X), which it ignores with -w too.
	for _, n := range []string{"n", "q", "v", "A", "e", "K", "l", "N", "S", "x", "X"} {
		fs.Var(noop{&o.quiet}, n, "accepted for tcpdump command lines; no effect, as gotcpdump prints no packets")
	}
	flags, filter := tcpdumpArgs(fs, args)
	err := fs.Parse(flags)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stderr)
		fs.Usage()
	}
	if err != nil {
		return nil, usageError{err}
	}
	// 0 is these flags' default (no limit), but tcpdump refuses it when
	// given, as it refuses less: a script's computed "-c 0" must not
	// capture forever.
	named := map[string]struct {
		what string
		v    int64
	}{"c": {"packet count", int64(o.count)}, "C": {"file size", o.maxMB}, "W": {"number of output files", int64(o.files)}}
	fs.Visit(func(f *flag.Flag) {
		if n, ok := named[f.Name]; ok && n.v <= 0 && err == nil {
			err = fmt.Errorf("invalid %s %d", n.what, n.v) // tcpdump's words
		}
		// An empty name would mean no --pname at all: every process.
		if f.Name == "pname" && strings.TrimSpace(o.pname) == "" && err == nil {
			err = errors.New("--pname: no name given")
		}
	})
	if err != nil {
		return nil, err
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	o.length = time.Duration(o.duration) * time.Second
	if o.filter, err = joinFilter(o.filter, append(fs.Args(), filter...), o.filterFile); err != nil {
		return nil, err
	}
	if !o.list && !o.version && !o.listLinks && o.dump == 0 && o.write == "" {
		return nil, errors.New("-w FILE is required (gotcpdump writes captures; use tcpdump to print packets)")
	}
	if strings.HasSuffix(o.write, ".pcapng") {
		o.pcapng = true
	}
	return o, nil
}

// joinFilter is the capture filter of a command line, as tcpdump takes
// it: the words after the flags (or between them) joined, and with -f,
// both; a -F file replaces them.
func joinFilter(flag string, words []string, file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return filterFromFile(string(b)), nil
	}
	rest := strings.Join(words, " ")
	switch {
	case rest == "":
		return flag, nil
	case flag == "":
		return rest, nil
	}
	return "(" + flag + ") and (" + rest + ")", nil
}

// checkEngine refuses an unknown --engine, and an empty one (an unset
// variable in a unit file), which the library would take as pcap.
func checkEngine(name string) error {
	if name == "" {
		return errors.New("--engine: no engine given (pcap or afpacket)")
	}
	if err := capture.CheckEngine(name); err != nil {
		return fmt.Errorf("--engine: %w", err)
	}
	return nil
}

// checkSnaplen refuses what tcpdump's -s refuses, and gives 0 tcpdump's
// meaning (the largest snapshot, 262144 octets).
func checkSnaplen(n int) (int, error) {
	switch {
	case n < 0:
		return n, fmt.Errorf("-s %d: must not be negative", n)
	case n == 0:
		return 262144, nil
	case n > 262144:
		// libpcap's MAXIMUM_SNAPLEN, which tcpdump refuses to pass.
		return n, fmt.Errorf("-s %d: at most 262144", n)
	}
	return n, nil
}

// ifaceByNumber takes -i 2 as the second interface of -D, as tcpdump
// does (unless an interface has that name).
func ifaceByNumber(iface string) string {
	n, err := strconv.Atoi(iface)
	if err != nil || n <= 0 {
		return iface
	}
	if _, err := capture.IfIndex(iface); err == nil {
		return iface
	}
	if names, err := interfaces(); err == nil && n <= len(names) {
		return names[n-1]
	}
	return iface
}

// tcpdumpArgs splits a command line into flags that Go's flag package
// takes and the words of the filter expression, rewriting what tcpdump's
// getopt takes and Go's does not, so that runbooks written for tcpdump
// run unchanged: a value joined to a one-letter flag (-s0, -ieth0),
// one-letter flags run together (-nn, -Uw FILE), the PIDs that
// $(pgrep -f NAME) expands to after -p, and flags after the filter
// (getopt permutes them to the front). "--" ends the flags.
func tcpdumpArgs(fs *flag.FlagSet, args []string) (flags, filter []string) {
	isBool := func(f *flag.Flag) bool {
		b, ok := f.Value.(interface{ IsBoolFlag() bool })
		return ok && b.IsBoolFlag()
	}
	isPID := func(s string) bool {
		_, err := strconv.Atoi(s)
		return err == nil && !strings.HasPrefix(s, "-")
	}
	// pids adds to -p's value v the PIDs after word i, returning the
	// index of the last word used.
	pids := func(name, v string, i int) (string, int) {
		for (name == "p" || name == "pid") && i+1 < len(args) && isPID(args[i+1]) {
			i++
			v += "," + args[i]
		}
		return v, i
	}
	// value appends flag name's value, the next word (and for -p the
	// PIDs after it); it returns the index of the last word used.
	value := func(name string, i int) int {
		if i+1 < len(args) {
			v, j := pids(name, args[i+1], i+1)
			flags = append(flags, v)
			i = j
		}
		return i
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			filter = append(filter, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			filter = append(filter, a)
			continue
		}
		name, v, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := fs.Lookup(name); f != nil || strings.HasPrefix(a, "--") {
			switch {
			case f != nil && hasValue:
				v, i = pids(name, v, i)
				flags = append(flags, "-"+name+"="+v)
			case f != nil && !isBool(f):
				flags = append(flags, a)
				i = value(name, i)
			default:
				flags = append(flags, a)
			}
			continue
		}
		// One dash, not a flag's name: one-letter flags run together,
		// the last of which may take the rest of the word as its value.
		for j := 1; j < len(a); j++ {
			f := fs.Lookup(a[j : j+1])
			switch {
			case f == nil:
				flags = append(flags, a) // the flag package names the error
			case isBool(f):
				flags = append(flags, "-"+f.Name)
				continue
			case j+1 < len(a):
				var v string
				v, i = pids(f.Name, a[j+1:], i)
				flags = append(flags, "-"+f.Name, v)
			default:
				flags = append(flags, "-"+f.Name)
				i = value(f.Name, i)
			}
			break
		}
	}
	return flags, filter
}

// check refuses values that tcpdump refuses, and gives -s 0 tcpdump's
// meaning (the largest snapshot, 262144 octets).
func (o *options) check() error {
	for _, c := range []struct {
		flag string
		v    int64
	}{{"-c", int64(o.count)}, {"-C", o.maxMB}, {"-G", int64(o.rotate)}, {"-W", int64(o.files)}, {"-t", int64(o.duration)}, {"-s", int64(o.snaplen)}} {
		if c.v < 0 {
			return fmt.Errorf("%s %d: must not be negative", c.flag, c.v)
		}
	}
	if o.bufferKiB <= 0 {
		return fmt.Errorf("-B %d: want a positive size", o.bufferKiB)
	}
	switch o.direction = strings.ToLower(o.direction); o.direction {
	case "", "in", "out", "inout":
	default:
		return fmt.Errorf("-Q %s: want in, out or inout", o.direction)
	}
	switch o.precision {
	case "", "micro", "nano":
	default:
		return errors.New("unsupported time stamp precision") // tcpdump's words
	}
	if err := checkEngine(o.engine); err != nil {
		return err
	}
	if o.linkType != "" && pcap.DatalinkNameToVal(o.linkType) < 0 {
		return fmt.Errorf("invalid data link type %s", o.linkType)
	}
	if o.read != "" {
		// The other flags for interfaces are left alone, as tcpdump -r
		// leaves them; these would mean something they cannot.
		switch {
		case len(o.pids) > 0 || o.pname != "":
			return errors.New("-p/--pname: not with -r (a file's packets have no processes)")
		case o.duration > 0:
			return errors.New("-t: not with -r (the file is read to its end)")
		case o.listLinks:
			return errors.New("-L: for an interface, not with -r")
		}
	}
	if o.dump > 0 && (len(o.pids) > 0 || o.pname != "") {
		return errors.New("-d: not with -p/--pname (their ports change as the processes run)")
	}
	var err error
	o.snaplen, err = checkSnaplen(o.snaplen)
	return err
}

// engineOverridden is the warning for --engine afpacket on any.
const engineOverridden = "--engine afpacket cannot capture on any (it has no cooked headers): capturing through libpcap"

// config is the capture that o asks for, with filter.
func (o *options) config(filter string) capture.Config {
	return capture.Config{Interface: o.iface, Snaplen: o.snaplen, BufferKiB: o.bufferKiB,
		Filter: filter, Engine: o.engine, Promisc: o.promisc, Direction: o.direction,
		LinkType: o.linkType, Immediate: o.immediate, Nano: o.precision == "nano"}
}

// run is gotcpdump's main: it returns the exit status, tcpdump's for
// the same outcome, as scripts test it: 0, or 1 for any error, whether
// the capture could not start (a bad flag, filter, interface or -y, also
// with -d and -L) or failed while running. (watch, which tcpdump has no
// counterpart of, keeps 2 for a watch that cannot start.)
func run(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "watch" {
		return watch(args[1:], stderr)
	}
	o, err := parse(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "gotcpdump:", err)
		if errors.As(err, new(usageError)) {
			fmt.Fprintln(stderr, usageLine)
		}
		return 1
	}
	if o.version {
		fmt.Print(versions())
		return 0
	}
	if o.list {
		devs, err := capture.DeviceList()
		if err != nil {
			fmt.Fprintln(stderr, "gotcpdump:", err)
			return 1
		}
		for i, d := range devs {
			fmt.Printf("%d.%s%s\n", i+1, d.Name, listNote(d))
		}
		return 0
	}
	o.iface = ifaceByNumber(o.iface)
	if o.listLinks {
		links, err := capture.DataLinks(o.config(""))
		if err != nil {
			fmt.Fprintln(stderr, "gotcpdump:", err)
			return 1
		}
		// tcpdump's words, on standard error as tcpdump 4.99.3 prints
		// them, less its "(printing not supported)": gotcpdump prints no
		// packet of any type.
		fmt.Fprintf(stderr, "Data link types for %s (use option -y to set):\n", o.iface)
		for _, l := range links {
			fmt.Fprintf(stderr, "  %s\n", l)
		}
		return 0
	}
	if o.dump > 0 {
		var prog []bpf.RawInstruction
		var err error
		if o.read != "" {
			// As tcpdump -d -r: for the file's link type and snap length.
			prog, err = capture.FileProgram(o.read, o.filter)
		} else {
			prog, err = capture.Program(o.config(o.filter))
		}
		if err != nil {
			fmt.Fprintln(stderr, "gotcpdump:", err)
			return 1
		}
		fmt.Print(capture.FormatProgram(prog, o.dump))
		return 0
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// A capture is one goroutine's work. With a second processor the
		// runtime hands that goroutine to another thread at each of its
		// yields (see capture's ringWait), which perf showed as futex
		// sleeps and wake-ups; with one, a capture at the generator's
		// maximum took 0.71 of the CPU time per packet (capbench, medians
		// of 5). watch keeps them all: its poller and metrics server run
		// beside a capture.
		runtime.GOMAXPROCS(1)
	}
	stop := stopOnSignal(o.write == "-")
	info := make(chan os.Signal, 1)
	signal.Notify(info, syscall.SIGUSR1) // as tcpdump: print the counts and go on
	o.info = info
	st := newStatus(stderr)
	if o.read != "" {
		st = newStatus(io.Discard) // a file is read at once, and has no kernel counts
	}
	r, err := session(o, stop, stderr, st)
	code := 0
	if err != nil {
		fmt.Fprintln(stderr, "gotcpdump:", err)
		code = 1
	}
	if r.opened && o.read == "" { // as tcpdump -r, which prints none
		fmt.Fprintf(stderr, "%d %s captured\n%d %s received by filter\n%d %s dropped by kernel\n",
			r.captured, packets(uint64(r.captured)), r.received, packets(r.received), r.dropped, packets(r.dropped))
	}
	return code
}

// packets is tcpdump's word for n packets in its counts.
func packets(n uint64) string {
	if n == 1 {
		return "packet"
	}
	return "packets"
}

// interfaces lists what -D numbers: libpcap's devices in its order, as
// tcpdump -D numbers them, so that a runbook's -i 1 means the same
// interface.
// interfaces lists all of libpcap's devices, so that the numbers are
// tcpdump's (it puts interfaces that are down after the others); listNote
// marks those -i does not take.
func interfaces() ([]string, error) { return capture.Devices() }

// listNote is what -D says after a device's name: tcpdump's description
// and status, and for the devices that are not network interfaces
// (nflog, nfqueue, D-Bus and Bluetooth monitors), whose packets are not
// IP over a link and which -i refuses, a note that says so.
func listNote(d capture.Device) string {
	var b strings.Builder
	if d.Description != "" {
		fmt.Fprintf(&b, " (%s)", d.Description)
	}
	if st := d.Status(); st != "" {
		fmt.Fprintf(&b, " [%s]", st)
	}
	if _, err := capture.IfIndex(d.Name); err != nil && d.Name != "any" {
		b.WriteString(" (not a network interface: gotcpdump does not capture on it)")
	}
	return b.String()
}

// result is what one capture session did.
type result struct {
	opened            bool
	captured          int
	bytes             int64
	received, dropped uint64
	file              string // the first file
	files             int    // files opened, the first included
	last              string // the last file
}

// stopOnSignal returns a channel that closes at SIGINT, SIGTERM or SIGHUP
// (the terminal or ssh session went away), as tcpdump stops at each: the
// files are closed whole and the counts printed. SIGHUP is left alone
// when it was ignored at start (nohup), as tcpdump leaves it. With pipe
// (-w -), SIGPIPE too: received here, it no longer ends the process at a
// write to a closed standard output, which then fails with EPIPE, and
// the capture ends as tcpdump's does. Not in watch, where SIGPIPE also
// comes from a metrics client that hangs up.
func stopOnSignal(pipe bool) <-chan struct{} {
	stop := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	if !signal.Ignored(syscall.SIGHUP) {
		signal.Notify(sig, syscall.SIGHUP)
	}
	if pipe {
		signal.Notify(sig, syscall.SIGPIPE)
	}
	go func() {
		<-sig
		close(stop)
	}()
	return stop
}

// session captures with options o until stop is closed, the count or the
// duration is reached, or an error occurs; the file is always closed.
func session(o *options, stop <-chan struct{}, stderr io.Writer, status *status) (result, error) {
	var r result
	var as *user.User
	if o.user != "" {
		// Known before anything is opened or created: an unknown user
		// leaves no file behind.
		var err error
		if as, err = user.Lookup(o.user); err != nil {
			return r, err
		}
	}
	procs, err := processes(o)
	if err != nil {
		return r, err
	}
	var match *capture.ProcMatcher
	filter := o.filter
	if procs != nil {
		var warning error
		match, warning = capture.NewProcMatcher(procs, !o.noEBPF)
		defer match.Close()
		if warning != nil {
			fmt.Fprintln(stderr, "gotcpdump: warning:", warning)
		}
		filter = combine(o.filter, match.Filter())
	}
	var src capture.Source
	// The file's time stamps: microseconds with
	// --time-stamp-precision=micro, and with -r unless =nano, as
	// tcpdump writes them (the nanoseconds cut, as libpcap cuts them:
	// tcpdump -r opens any file at microseconds without --nano); else
	// nanoseconds.
	micro := o.precision == "micro"
	snaplen, iface := o.snaplen, o.iface
	if o.read != "" {
		var info capture.FileInfo
		src, info, err = capture.OpenFile(o.read, filter)
		micro = o.precision != "nano"
		snaplen, iface = info.Snaplen, ""
	} else {
		cfg := o.config(filter)
		if cfg.EngineOverridden() {
			fmt.Fprintln(stderr, "gotcpdump: warning:", engineOverridden)
		}
		src, err = capture.Open(cfg)
	}
	if err != nil {
		return r, err
	}
	defer src.Close()
	drop := func() error {
		if err := dropPrivileges(as); err != nil {
			return err
		}
		// /proc/PID/fd is for the process's user and root: the matcher
		// keeps what it read before the drop.
		for _, p := range procs {
			if err := p.Readable(); err != nil {
				more := ""
				if !match.EBPF() {
					more = ", and the connections it opens from now on are missed"
				}
				fmt.Fprintf(stderr, "gotcpdump: warning: as %s, the sockets of process %d cannot be read from /proc/%d/fd: its listening ports stay those found at start%s\n",
					o.user, p.PID, p.PID, more)
			}
		}
		return nil
	}
	// As tcpdump does: a single file is opened before the drop (in a
	// directory that only root may write to, or over root's file of an
	// earlier run) and given to the user; with -C or -G the files are
	// opened after it, as the user's, so that the rotation can reopen
	// them.
	dropFirst := as != nil && (o.rotate > 0 || o.maxMB > 0)
	if dropFirst {
		if err := drop(); err != nil {
			return r, err
		}
	}
	fifoOpened := func() {}
	if st, err := os.Stat(o.write); err == nil && st.Mode()&os.ModeNamedPipe != 0 {
		// Opening a FIFO for writing waits for a reader, in a system call
		// that the runtime restarts after each signal: a stop before it
		// opens ends gotcpdump there, as tcpdump's open is interrupted.
		opened := make(chan struct{})
		fifoOpened = sync.OnceFunc(func() { close(opened) })
		defer fifoOpened()
		go func() {
			select {
			case <-stop:
				select {
				case <-opened: // the loop stops
				default:
					fmt.Fprintf(stderr, "gotcpdump: %s: interrupted while waiting for the FIFO's reader\n", o.write)
					os.Exit(1)
				}
			case <-opened:
			}
		}()
	}
	var first time.Time // with -G, the first period's start: now, or the file's first packet's time
	if nt, ok := src.(interface{ NextTime() (time.Time, bool) }); ok && o.rotate > 0 {
		// -r -G splits the file by its packets' times (the writer
		// rotates by them): the first file too, not the clock's. A file
		// with no packet (or a read error at the first) keeps the clock.
		first, _ = nt.NextTime()
	}
	w, err := capture.NewWriter(capture.WriterConfig{Start: first, Name: o.write, PcapNG: o.pcapng, Micro: micro, LinkType: src.LinkType(),
		Snaplen: snaplen, Iface: iface, Filter: filter, Rotate: time.Duration(o.rotate) * time.Second,
		MaxBytes: o.maxMB * 1_000_000, Files: o.files, Parts: o.parts, Rotated: rotatedHooks(o.rotated, postRotate(o.postRotate, stderr))})
	fifoOpened()
	if err != nil {
		if dropFirst {
			err = fmt.Errorf("%w (as %s, with -C or -G)", err, o.user)
		}
		return r, fmt.Errorf("cannot write the capture: %w", err)
	}
	if as != nil && !dropFirst {
		uid, gid := ids(as)
		if err := w.Chown(uid, gid); err != nil {
			w.Close(capture.Stats{})
			return r, fmt.Errorf("cannot give the capture to %s: %w", o.user, err)
		}
		if err := drop(); err != nil {
			w.Close(capture.Stats{})
			return r, err
		}
	}
	r.opened, r.file = true, w.Current
	// tcpdump's words: scripts wait for "listening on" before they send.
	lt := int(src.LinkType())
	if o.read != "" {
		fmt.Fprintf(stderr, "reading from file %s, link-type %s (%s), snapshot length %d\n",
			o.read, pcap.DatalinkValToName(lt), pcap.DatalinkValToDescription(lt), snaplen)
	} else {
		fmt.Fprintf(stderr, "gotcpdump: listening on %s, link-type %s (%s), snapshot length %d bytes\n",
			o.iface, pcap.DatalinkValToName(lt), pcap.DatalinkValToDescription(lt), o.snaplen)
	}

	start := time.Now()
	var deadline time.Time
	if o.length > 0 {
		deadline = start.Add(o.length)
	}
	l := &loop{o: o, src: src, w: w, match: match, status: status, stderr: stderr, r: &r, deadline: deadline}
	var atDeadline <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		atDeadline = t.C
	}
	done := make(chan struct{})
	var watcher sync.WaitGroup
	// Done before src.Close, deferred earlier: the goroutine reads the
	// source's counts.
	defer watcher.Wait()
	defer close(done)
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		for {
			select {
			case <-stop:
				l.stop()
				return
			case <-o.info:
				l.wantInfo()
			case <-atDeadline:
				l.deadlineReached()
			case <-done:
				return
			}
		}
	}()
	loopErr := l.run()
	if l.filesDone {
		fmt.Fprintf(stderr, "gotcpdump: maximum file limit reached: %d\n", o.files) // tcpdump's words
	}
	// The reader of standard output, /dev/stdout or a FIFO went away
	// (tshark -c, head): the end of the capture, as for tcpdump, not a
	// failure. Only a pipe or socket fails with EPIPE.
	gone := func(err error) bool { return errors.Is(err, syscall.EPIPE) }
	// Stopped, a pipe whose reader took nothing more for stopGrace
	// (Abandon): the end too, counted as for a reader gone.
	abandoned := func(err error) bool { return l.stopping.Load() && errors.Is(err, os.ErrDeadlineExceeded) }
	if abandoned(loopErr) {
		fmt.Fprintf(stderr, "gotcpdump: %s: its reader took nothing for %v after the stop; the rest is not written\n", w.Current, stopGrace)
		loopErr = nil
	}
	if errors.Is(loopErr, errStop) || errors.Is(loopErr, io.EOF) || gone(loopErr) {
		loopErr = nil
	}
	r.received, r.dropped, _ = l.stats()
	if err := w.Close(capture.Stats{Received: r.received, Dropped: r.dropped, Start: start, End: time.Now(), None: o.read != ""}); err != nil && loopErr == nil && !gone(err) && !abandoned(err) {
		loopErr = fmt.Errorf("writing: %w", err)
	}
	if loopErr != nil {
		// The count is of the packets the files hold (tcpdump counts
		// those it handed to a full disk too).
		r.captured -= w.Lost()
	}
	r.files, r.last = w.Opened, w.Current
	status.clear()
	return r, loopErr
}

// rotatedHooks calls each non-nil hook in turn; nil if there is none.
func rotatedHooks(hooks ...func(string)) func(string) {
	var hs []func(string)
	for _, h := range hooks {
		if h != nil {
			hs = append(hs, h)
		}
	}
	if len(hs) == 0 {
		return nil
	}
	return func(name string) {
		for _, h := range hs {
			h(name)
		}
	}
}

// postRotate returns what runs tcpdump's -z command on each file that a
// rotation closed: "command file", started before the capture goes on
// (a -G -W capture may end at once) but not waited for, at the lowest
// priority from its first instruction, and as the -Z user, as tcpdump's.
// nil without -z.
func postRotate(command string, stderr io.Writer) func(string) {
	if command == "" {
		return nil
	}
	return func(file string) {
		c := exec.Command(command, file)
		c.Stdout, c.Stderr = os.Stdout, stderr
		report := func(err error) { fmt.Fprintf(stderr, "gotcpdump: -z %s %s: %v\n", command, file, err) }
		started := make(chan struct{})
		go func() {
			// The child inherits the nice value of the thread that forks
			// it: this one, never unlocked, so that it ends with the
			// goroutine and no other goroutine runs at that priority.
			runtime.LockOSThread()
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, 0, 19) // 0: this thread
			err := c.Start()
			if err != nil {
				report(err)
			}
			close(started)
			if err == nil {
				if err := c.Wait(); err != nil {
					report(err)
				}
			}
		}()
		<-started
	}
}

func processes(o *options) ([]capture.Proc, error) {
	if len(o.pids) == 0 && o.pname == "" {
		return nil, nil
	}
	var procs []capture.Proc
	for _, pid := range o.pids {
		p, err := capture.NewProc(pid)
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	if o.pname != "" {
		found, err := capture.FindByName(o.pname)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("no process matches %q", o.pname)
		}
		procs = append(procs, found...)
	}
	return procs, nil
}

func combine(user, procs string) string {
	if user == "" {
		return procs
	}
	return "(" + user + ") and (" + procs + ")"
}

func ids(u *user.User) (uid, gid int) {
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

func dropPrivileges(u *user.User) error {
	uid, gid := ids(u)
	if err := syscall.Setgroups(nil); err != nil {
		return err
	}
	if err := syscall.Setgid(gid); err != nil {
		return err
	}
	return syscall.Setuid(uid)
}

// status draws a live line on stderr when it is a terminal, and gives
// the counts to progress, if set, as they go (watch's metrics).
type status struct {
	w  io.Writer
	on bool
	// progress is called on the capture's goroutine, about once a
	// second or every batch, with the packets and octets captured so far
	// and the kernel's drops.
	progress func(packets int, octets int64, dropped uint64)
}

// live reports whether the counts are wanted as the capture goes.
func (s *status) live() bool { return s.on || s.progress != nil }

// newStatus turns the line on for a terminal only, as tcpdump's isatty:
// /dev/null, where daemons' stderr often goes, is a character device too.
func newStatus(w io.Writer) *status {
	s := &status{w: w}
	if f, ok := w.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		s.on = err == nil
	}
	return s
}

func (s *status) update(n int, octets int64, src capture.Source, file string) {
	if !s.live() {
		return
	}
	recv, drop, _ := src.Stats()
	if s.progress != nil {
		s.progress(n, octets, drop)
	}
	if !s.on {
		return
	}
	fmt.Fprintf(s.w, "\r%d packets captured, %d received by filter, %d dropped, file %s", n, recv, drop, file)
}

func (s *status) clear() {
	if s.on {
		fmt.Fprint(s.w, "\r\033[K")
	}
}

// versions is what --version prints: gotcpdump's version (its module's,
// or the commit it was built from), libpcap's, and Go's.
func versions() string {
	v := "(unknown)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value[:min(len(s.Value), 12)]
			case "vcs.modified":
				if s.Value == "true" {
					modified = ", modified"
				}
			}
		}
		if rev != "" {
			v += " (" + rev + modified + ")"
		}
	}
	return fmt.Sprintf("gotcpdump version %s\n%s\n%s\n", v, pcap.Version(), runtime.Version())
}
