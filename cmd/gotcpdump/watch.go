package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gotcpdump/gotcpdump/internal/capture"
	"github.com/gotcpdump/gotcpdump/internal/sockdiag"
)

// watch samples the host's TIME_WAIT sockets and, when they climb past a
// threshold, captures for a while into a directory kept under a size cap.
// Prometheus scrapes its metrics; events go to stderr as key=value lines.
//
//	gotcpdump watch --tw-threshold 10000 --dir /var/lib/gotcpdump --metrics-addr :9870 [capture flags] [filter]
func watch(args []string, stderr io.Writer) int {
	w, err := parseWatch(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "gotcpdump watch:", err)
		if errors.As(err, new(usageError)) {
			fmt.Fprintln(stderr, watchUsageLine)
		}
		return 2
	}
	w.iface = ifaceByNumber(w.iface)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	// The interface, the filter and the privileges are checked now: a
	// watch that could not capture would otherwise find out at the
	// trigger, when the capture is needed.
	probe := w.filter
	if probe == "" {
		probe = stormFilter(nil)
	}
	cfg := capture.Config{Interface: w.iface, Snaplen: w.snaplen, BufferKiB: 1024, Filter: probe, Engine: w.engine}
	src, err := capture.Open(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "gotcpdump watch:", err)
		return 2
	}
	if cfg.EngineOverridden() {
		log.Warn(engineOverridden)
	}
	src.Close()
	if err := writableDir(w.dir); err != nil {
		fmt.Fprintln(stderr, "gotcpdump watch:", err)
		return 2
	}
	m := newWatchMetrics(w.threshold)
	if w.metrics != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Addr: w.metrics, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		ln, err := net.Listen("tcp", w.metrics)
		if err != nil {
			attrs := []any{"addr", w.metrics, "err", err}
			lo, hi := sockdiag.EphemeralRange()
			if hint := reservedPortHint(w.metrics, err, lo, hi); hint != "" {
				attrs = append(attrs, "hint", hint)
			}
			log.Error("metrics listener", attrs...)
			return 2
		}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
	}

	stop := stopOnSignal(false)
	// SIGUSR1 logs where the watch stands, as it makes a capture print
	// its counts; unhandled, it would end the watch.
	info := make(chan os.Signal, 1)
	signal.Notify(info, syscall.SIGUSR1)
	defer signal.Stop(info)
	captures := 0
	lo, hi := sockdiag.EphemeralRange()
	log.Info("watching", "threshold", w.threshold, "rearm_below", rearmBelow(w.threshold, w.rearm), "interval", w.interval, "dir", w.dir, "metrics_addr", w.metrics)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		busy bool
		trig = newTrigger(w.threshold, w.rearm, w.cooldown)
	)
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	// One counter for every sample: it keeps its socket and buffers, so
	// that a storm of sockets costs the kernel's dump and little more.
	counter := sockdiag.NewCounter()
	defer counter.Close()
	for {
		// A port with a listener is a service port even inside the
		// ephemeral range; without the listeners, the range alone decides.
		n, ports, err := counter.Sample(lo, hi)
		if err != nil {
			log.Error("sampling TIME_WAIT sockets", "err", err)
		}
		if err == nil {
			m.observe(n, ports)
		}
		mu.Lock()
		start, rearmed := trig.sample(n, err == nil, busy, time.Now())
		if rearmed {
			log.Info("re-armed", "time_wait", n)
		}
		if start {
			busy = true
			captures++
		}
		capturing := busy // the capture's goroutine clears it, under mu
		m.armed.Set(b2f(trig.armed))
		mu.Unlock()
		if start {
			f := w.filter
			if f == "" {
				f = stormFilter(ports)
			}
			// The parts of a capture (--file-mb) are NAME-001.pcapng,
			// NAME-002.pcapng...: timewait-*.pcapng matches them all, and
			// they sort in the order written.
			name := captureName(w.dir, time.Now())
			log.Info("trigger", "time_wait", n, "threshold", w.threshold, "top_ports", topPorts(ports, 5), "filter", f, "file", capture.PartName(name, 1), "duration", w.length)
			m.captures.Inc()
			m.capturing.Set(1)
			m.lastCapture.SetToCurrentTime()
			o := &options{iface: w.iface, write: name, pcapng: true, snaplen: w.snaplen, bufferKiB: 32768,
				engine: w.engine, filter: f, length: w.length, maxMB: w.fileMB, parts: true,
				// The cap holds at each new part too, not only at the
				// next sample: between two, a fast capture writes
				// many parts.
				rotated: func(string) { enforceCap(w.dir, w.maxMB*1_000_000) }}
			wg.Add(1)
			go func() {
				defer wg.Done()
				// The counters move as the capture goes, not only at its
				// end: a dashboard's rates and the drop alert would lag
				// by --capture.
				st := newStatus(io.Discard)
				var sent counts
				st.progress = func(p int, o int64, d uint64) { sent.add(m, p, o, d) }
				r, err := session(o, stop, io.Discard, st)
				sent.add(m, r.captured, r.bytes, r.dropped)
				first := r.file
				if first == "" { // it failed before the first file
					first = capture.PartName(name, 1)
				}
				enforceCap(w.dir, w.maxMB*1_000_000)
				files := []any{"file", first, "files", r.files}
				if r.files > 1 {
					files = append(files, "last", r.last)
					// file names the capture, as the trigger did; when
					// --max-mb made room by removing its first parts,
					// the operator must know where it now begins.
					if kept, pruned := keptFrom(name, r.files); pruned > 0 {
						files = append(files, "pruned", pruned, "first_kept", kept)
					}
				}
				if err != nil {
					m.errorsTotal.Inc()
					log.Error("capture failed", append(files, "err", err)...)
				} else {
					log.Info("capture done", append(files, "packets", r.captured, "bytes", r.bytes, "dropped", r.dropped)...)
				}
				m.capturing.Set(0)
				mu.Lock()
				busy = false
				mu.Unlock()
			}()
		} else if capturing {
			enforceCap(w.dir, w.maxMB*1_000_000)
		}
	wait:
		for {
			select {
			case <-stop:
				wg.Wait()
				log.Info("stopped")
				return 0
			case <-info:
				mu.Lock()
				log.Info("status", "time_wait", n, "sampled", err == nil, "threshold", w.threshold, "armed", trig.armed,
					"capturing", busy, "captures", captures)
				mu.Unlock()
			case <-tick.C:
				break wait
			}
		}
	}
}

// writableDir creates dir (mode 0700) if missing and checks that a file
// can be created in it, as this process's user: otherwise the first
// trigger would find out, and spend the storm's capture on the error.
func writableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	f, err := os.CreateTemp(dir, ".gotcpdump-check-")
	if err != nil {
		return fmt.Errorf("--dir %s: cannot create captures there: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// trigger decides when a TIME_WAIT count starts a capture. armed is true
// exactly when a count at the threshold would start one: at first, and
// after a capture once the count has fallen below the re-arm level, at
// least cooldown has passed since that capture started, and it has ended.
type trigger struct {
	threshold, rearmBelow int
	cooldown              time.Duration
	armed                 bool
	fell                  bool // the count fell below rearmBelow since the last start
	lastStart             time.Time
}

// rearmBelow is the count below which the trigger re-arms: below
// threshold×rearm, so the smallest count above or at it (a count is
// whole). Truncating made a threshold of 1 re-arm below 0, never.
func rearmBelow(threshold int, rearm float64) int {
	return max(1, int(math.Ceil(float64(threshold)*rearm-1e-9)))
}

func newTrigger(threshold int, rearm float64, cooldown time.Duration) *trigger {
	return &trigger{threshold: threshold, rearmBelow: rearmBelow(threshold, rearm), cooldown: cooldown, armed: true}
}

// sample takes a count n (ok: the sampling worked) at now, with busy
// telling whether a capture runs, and reports whether it starts a
// capture and whether the trigger re-armed at this sample.
func (t *trigger) sample(n int, ok, busy bool, now time.Time) (start, rearmed bool) {
	if !ok {
		return false, false
	}
	if !t.armed {
		if n < t.rearmBelow {
			t.fell = true
		}
		if t.fell && !busy && now.Sub(t.lastStart) >= t.cooldown {
			t.armed, rearmed = true, true
		}
	}
	if t.armed && !busy && n >= t.threshold {
		t.armed, t.fell, t.lastStart = false, false, now
		return true, rearmed
	}
	return false, rearmed
}

// watchOptions is watch's command line.
type watchOptions struct {
	threshold                         int
	rearm                             float64
	interval, length, cooldown        time.Duration
	dir, metrics                      string
	maxMB, fileMB                     int64
	iface, engine, filter, filterFile string
	snaplen                           int
}

// keptFrom is the first of the n parts of capture name that are still
// there, and how many parts before it the directory's cap removed.
func keptFrom(name string, n int) (string, int) {
	for i := 1; i < n; i++ {
		if _, err := os.Lstat(capture.PartName(name, i)); err == nil {
			return capture.PartName(name, i), i - 1
		}
	}
	return capture.PartName(name, n), n - 1
}

// duration is a flag.Duration whose error, for a number without a unit
// (--capture 60), says so: the flag package says only "parse error".
type duration struct{ d *time.Duration }

func (v duration) String() string {
	if v.d == nil {
		return "0s"
	}
	return v.d.String()
}

func (v duration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, e := strconv.ParseFloat(s, 64); e == nil {
			return fmt.Errorf("a duration needs a unit, as in %sms, %ss or %sm", s, s, s)
		}
		return errors.New("want a duration such as 30s, 5m or 1h")
	}
	*v.d = d
	return nil
}

// parseWatch reads watch's command line. -i, -s, -f, -F, --engine and the
// filter words are taken as in capture mode (tcpdumpArgs): -s0, -ieth0,
// -s 0 for the largest snapshot, -i 2 for -D's second interface (see
// ifaceByNumber), and flags after the filter.
func parseWatch(args []string, stderr io.Writer) (*watchOptions, error) {
	w := &watchOptions{}
	fs := flag.NewFlagSet("gotcpdump watch", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // as in parse: the error once, by watch
	fs.IntVar(&w.threshold, "tw-threshold", 10000, "start a capture when TIME_WAIT sockets reach this many")
	fs.IntVar(&w.threshold, "threshold", 10000, "same as --tw-threshold")
	fs.Float64Var(&w.rearm, "rearm", 0.8, "re-arm the trigger once TIME_WAIT has fallen below this fraction of the threshold (and the cooldown has passed)")
	w.interval, w.length, w.cooldown = time.Second, time.Minute, 5*time.Minute
	fs.Var(duration{&w.interval}, "interval", "how often to sample TIME_WAIT sockets, a `duration` (500ms, 1s)")
	fs.Var(duration{&w.length}, "capture", "length of each capture, a `duration` (30s, 2m)")
	fs.Var(duration{&w.cooldown}, "cooldown", "minimum time between the starts of two captures, a `duration` (0s: none)")
	fs.StringVar(&w.dir, "dir", "/var/lib/gotcpdump", "directory for the captures (created with mode 0700)")
	fs.Int64Var(&w.maxMB, "max-mb", 1024, "size cap of the directory in MB; the oldest captures go first")
	fs.Int64Var(&w.fileMB, "file-mb", 100, "start a new part (NAME-002.pcapng...) when the current one exceeds MB million bytes (at most --max-mb, to which the default falls)")
	fs.StringVar(&w.metrics, "metrics-addr", ":9870", "address for Prometheus /metrics (empty: none)")
	fs.StringVar(&w.metrics, "metrics", ":9870", "same as --metrics-addr")
	fs.StringVar(&w.iface, "i", "any", "interface to capture on (a number: that of -D's list)")
	fs.StringVar(&w.iface, "interface", "any", "same as -i")
	// 512 bytes keep the headers and the requests' first lines, which is
	// what TIME_WAIT analysis reads, at a fraction of whole packets.
	fs.IntVar(&w.snaplen, "s", 512, "bytes of each packet to keep (0: 262144)")
	fs.StringVar(&w.engine, "engine", "pcap", "capture engine: pcap or afpacket")
	fs.StringVar(&w.filter, "f", "", "capture filter (libpcap syntax; also taken from trailing arguments); default: TCP on the storm's ports")
	fs.StringVar(&w.filter, "filter", "", "same as -f")
	fs.StringVar(&w.filterFile, "F", "", "read the capture filter from FILE")
	flags, words := tcpdumpArgs(fs, args)
	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.Usage()
		}
		return nil, usageError{err}
	}
	var err error
	if w.filter, err = joinFilter(w.filter, append(fs.Args(), words...), w.filterFile); err != nil {
		return nil, err
	}
	if w.snaplen, err = checkSnaplen(w.snaplen); err != nil {
		return nil, err
	}
	if err := checkEngine(w.engine); err != nil {
		return nil, err
	}
	if err := checkWatch(w.threshold, w.rearm, w.interval, w.length, w.cooldown, w.maxMB, w.fileMB); err != nil {
		return nil, err
	}
	// A part larger than the cap would hold the directory at twice it;
	// the default part follows a smaller cap, a part asked for is refused.
	if w.fileMB > w.maxMB {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "file-mb" })
		if given {
			return nil, fmt.Errorf("--file-mb %d: larger than --max-mb %d", w.fileMB, w.maxMB)
		}
		w.fileMB = w.maxMB
	}
	return w, nil
}

// checkWatch refuses values with which watch would not do what it says:
// a ticker needs a positive interval, and a capture of no length would
// never stop.
func checkWatch(threshold int, rearm float64, interval, length, cooldown time.Duration, maxMB, fileMB int64) error {
	switch {
	case threshold <= 0:
		return fmt.Errorf("--tw-threshold %d: want a positive count", threshold)
	case !(rearm > 0 && rearm <= 1):
		return fmt.Errorf("--rearm %v: want a fraction in (0, 1]", rearm)
	case interval <= 0:
		return fmt.Errorf("--interval %v: want a positive duration", interval)
	case length <= 0:
		return fmt.Errorf("--capture %v: want a positive duration", length)
	case cooldown < 0:
		return fmt.Errorf("--cooldown %v: want a duration of 0 or more", cooldown)
	case maxMB <= 0 || fileMB <= 0:
		return fmt.Errorf("--max-mb %d, --file-mb %d: want positive sizes", maxMB, fileMB)
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// stormFilter captures the TCP segments of the service ports that hold
// most of the TIME_WAIT sockets. All of them, not only SYN, FIN and RST:
// TIME_WAIT starts with the ACK of the peer's FIN, so twreport and tcptw
// need the ACKs, and the requests come from the payload.
func stormFilter(ports []sockdiag.PortCount) string {
	top := topPorts(ports, 5)
	if top == "" {
		return "tcp"
	}
	return "tcp and (port " + strings.ReplaceAll(top, ",", " or port ") + ")"
}

// topPorts lists the service ports with at least a tenth of the sockets,
// at most n of them, comma-separated.
func topPorts(ports []sockdiag.PortCount, n int) string {
	total := 0
	for _, p := range ports {
		total += p.Count
	}
	var out []string
	seen := map[uint16]bool{}
	for _, p := range ports {
		if len(out) == n || p.Count*10 < total {
			break
		}
		if !seen[p.Port] {
			seen[p.Port] = true
			out = append(out, strconv.Itoa(int(p.Port)))
		}
	}
	return strings.Join(out, ",")
}

type watchMetrics struct {
	reg                      *prometheus.Registry
	tw, capturing, armed     prometheus.Gauge
	byPort                   *prometheus.GaugeVec
	shown                    map[[2]string]bool // byPort's series of the last sample
	captures, packets, bytes prometheus.Counter
	drops, errorsTotal       prometheus.Counter
	lastCapture              prometheus.Gauge
}

// maxPortSeries bounds the label values of the by-port gauge.
const maxPortSeries = 20

func newWatchMetrics(threshold int) *watchMetrics {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &watchMetrics{
		reg:       prometheus.NewRegistry(),
		tw:        g("gotcpdump_time_wait_sockets", "TCP sockets in TIME_WAIT in this network namespace."),
		capturing: g("gotcpdump_capturing", "1 while a triggered capture runs."),
		armed:     g("gotcpdump_trigger_armed", "1 when a TIME_WAIT count at the threshold starts a capture; 0 after a capture until it has ended, the count has fallen below the re-arm level and the cooldown has passed."),
		byPort: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gotcpdump_time_wait_sockets_by_port",
			Help: "TCP sockets in TIME_WAIT by service port; role is client when this host's ephemeral ports are tied up, server when it served the connections. The largest 20 groups; port=\"other\" holds the rest (role mixed when both)."},
			[]string{"port", "role"}),
		captures:    c("gotcpdump_captures_total", "Captures started because TIME_WAIT reached the threshold."),
		packets:     c("gotcpdump_capture_packets_total", "Packets written by triggered captures."),
		bytes:       c("gotcpdump_capture_bytes_total", "Bytes on the wire of the packets written by triggered captures."),
		drops:       c("gotcpdump_capture_dropped_packets_total", "Packets the kernel dropped during triggered captures."),
		errorsTotal: c("gotcpdump_capture_errors_total", "Triggered captures that failed."),
		lastCapture: g("gotcpdump_last_capture_timestamp_seconds", "When the last triggered capture started."),
	}
	thr := g("gotcpdump_time_wait_threshold", "The TIME_WAIT count that starts a capture.")
	thr.Set(float64(threshold))
	m.armed.Set(1)
	m.reg.MustRegister(m.tw, m.capturing, m.armed, m.byPort, m.captures, m.packets, m.bytes, m.drops, m.errorsTotal, m.lastCapture, thr)
	return m
}

// observe sets the gauges to a sample. The by-port series of the last
// sample that this one lacks are deleted after the others are set, not
// all before: a scrape in between would find none.
func (m *watchMetrics) observe(n int, ports []sockdiag.PortCount) {
	m.tw.Set(float64(n))
	shown := make(map[[2]string]bool, min(len(ports), maxPortSeries+1))
	set := func(port, role string, v int) {
		m.byPort.WithLabelValues(port, role).Set(float64(v))
		shown[[2]string{port, role}] = true
	}
	other, roles := 0, [2]bool{}
	for i, p := range ports {
		role := "server"
		if p.Client {
			role = "client"
		}
		if i >= maxPortSeries {
			other += p.Count
			roles[b2i(p.Client)] = true
			continue
		}
		set(strconv.Itoa(int(p.Port)), role, p.Count)
	}
	if other > 0 {
		// The rest's role: theirs when they share one.
		role := "mixed"
		if !roles[1] {
			role = "server"
		} else if !roles[0] {
			role = "client"
		}
		set("other", role, other)
	}
	for k := range m.shown {
		if !shown[k] {
			m.byPort.DeleteLabelValues(k[0], k[1])
		}
	}
	m.shown = shown
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// counts are what a capture has added to the metrics so far.
type counts struct {
	packets int
	octets  int64
	dropped uint64
}

// add adds to the metrics what a capture's counts have grown by since
// the last call. Each only grows: the kernel's drops read during the
// capture may be more than the capture's own count at its end, which
// leaves out those after the stop.
func (c *counts) add(m *watchMetrics, packets int, octets int64, dropped uint64) {
	if packets > c.packets {
		m.packets.Add(float64(packets - c.packets))
		c.packets = packets
	}
	if octets > c.octets {
		m.bytes.Add(float64(octets - c.octets))
		c.octets = octets
	}
	if dropped > c.dropped {
		m.drops.Add(float64(dropped - c.dropped))
		c.dropped = dropped
	}
}

// captureName names a capture by the second it starts, in dir: a
// capture that starts in the second of the last one (--capture under a
// second, --cooldown 0) takes the next free second, so as not to write
// over that one's first part.
func captureName(dir string, t time.Time) string {
	for {
		name := filepath.Join(dir, "timewait-"+t.Format("20060102-150405")+".pcapng")
		if _, err := os.Lstat(capture.PartName(name, 1)); err != nil {
			return name // free, or the capture will say why it is not
		}
		t = t.Add(time.Second)
	}
}

// capMu keeps enforceCap to one caller at a time: the capture's rotation
// hook and the sampling loop both call it, and two walks of the same
// listing would each delete files to make room.
var capMu sync.Mutex

// enforceCap deletes the oldest captures until the directory fits.
func enforceCap(dir string, max int64) {
	capMu.Lock()
	defer capMu.Unlock()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type file struct {
		path string
		size int64
		mod  time.Time
	}
	var files []file
	var total int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || !strings.HasPrefix(e.Name(), "timewait-") {
			continue
		}
		files = append(files, file{filepath.Join(dir, e.Name()), info.Size(), info.ModTime()})
		total += info.Size()
	}
	sort.Slice(files, func(i, j int) bool {
		if !files[i].mod.Equal(files[j].mod) {
			return files[i].mod.Before(files[j].mod)
		}
		return files[i].path < files[j].path // parts of one capture closed within a tick of the clock
	})
	for i := 0; total > max && i < len(files)-1; i++ { // keep the newest
		if err := os.Remove(files[i].path); err == nil || errors.Is(err, fs.ErrNotExist) {
			total -= files[i].size
		}
	}
}

// reservedPortHint explains an address in use whose port lies in the
// ephemeral range lo-hi: on a host that widened the range against a
// TIME_WAIT storm, a client socket may hold it, and waiting will not
// help while the storm lasts. "" otherwise.
func reservedPortHint(addr string, err error, lo, hi uint16) string {
	_, ps, splitErr := net.SplitHostPort(addr)
	p, convErr := strconv.ParseUint(ps, 10, 16)
	if !errors.Is(err, syscall.EADDRINUSE) || splitErr != nil || convErr != nil || uint16(p) < lo || uint16(p) > hi {
		return ""
	}
	return fmt.Sprintf("port %d lies in net.ipv4.ip_local_port_range (%d-%d), where client connections may hold it; reserve it: sysctl -w net.ipv4.ip_local_reserved_ports=%d", p, lo, hi, p)
}
