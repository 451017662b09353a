package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
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
	fs := flag.NewFlagSet("gotcpdump watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var threshold int
	fs.IntVar(&threshold, "tw-threshold", 10000, "start a capture when TIME_WAIT sockets reach this many")
	fs.IntVar(&threshold, "threshold", 10000, "same as --tw-threshold")
	rearm := fs.Float64("rearm", 0.8, "re-arm the trigger once TIME_WAIT falls below this fraction of the threshold")
	interval := fs.Duration("interval", time.Second, "how often to sample TIME_WAIT sockets")
	length := fs.Duration("capture", time.Minute, "length of each capture")
	cooldown := fs.Duration("cooldown", 5*time.Minute, "minimum time between the starts of two captures")
	dir := fs.String("dir", "/var/lib/gotcpdump", "directory for the captures (created with mode 0700)")
	maxMB := fs.Int64("max-mb", 1024, "size cap of the directory in MB; the oldest captures go first")
	fileMB := fs.Int64("file-mb", 100, "start a new file when the current one exceeds MB million bytes")
	var metrics string
	fs.StringVar(&metrics, "metrics-addr", ":9870", "address for Prometheus /metrics (empty: none)")
	fs.StringVar(&metrics, "metrics", ":9870", "same as --metrics-addr")
	iface := fs.String("i", "any", "interface to capture on")
	// 512 bytes keep the headers and the requests' first lines, which is
	// what TIME_WAIT analysis reads, at a fraction of whole packets.
	snaplen := fs.Int("s", 512, "bytes of each packet to keep")
	engine := fs.String("engine", "pcap", "capture engine: pcap or afpacket")
	filter := fs.String("f", "", "capture filter (libpcap syntax; also taken from trailing arguments); default: TCP on the storm's ports")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if rest := strings.Join(fs.Args(), " "); rest != "" {
		*filter = rest
	}
	if err := checkWatch(threshold, *rearm, *interval, *length, *cooldown, *maxMB, *fileMB, *snaplen); err != nil {
		fmt.Fprintln(stderr, "gotcpdump watch:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	// The interface, the filter and the privileges are checked now: a
	// watch that could not capture would otherwise find out at the
	// trigger, when the capture is needed.
	probe := *filter
	if probe == "" {
		probe = stormFilter(nil)
	}
	src, err := capture.Open(capture.Config{Interface: *iface, Snaplen: *snaplen, BufferKiB: 1024, Filter: probe, Engine: *engine})
	if err != nil {
		fmt.Fprintln(stderr, "gotcpdump watch:", err)
		return 2
	}
	src.Close()
	if err := writableDir(*dir); err != nil {
		fmt.Fprintln(stderr, "gotcpdump watch:", err)
		return 2
	}
	m := newWatchMetrics(threshold)
	if metrics != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Addr: metrics, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		ln, err := net.Listen("tcp", metrics)
		if err != nil {
			log.Error("metrics listener", "addr", metrics, "err", err)
			return 2
		}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
	}

	stop := stopOnSignal(false)
	lo, hi := sockdiag.EphemeralRange()
	log.Info("watching", "threshold", threshold, "rearm_below", int(float64(threshold)**rearm), "interval", *interval, "dir", *dir, "metrics_addr", metrics)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		busy bool
		trig = newTrigger(threshold, *rearm, *cooldown)
	)
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		tws, err := sockdiag.DumpTimeWait()
		if err != nil {
			log.Error("sampling TIME_WAIT sockets", "err", err)
		}
		n := len(tws)
		// A port with a listener is a service port even inside the
		// ephemeral range; without the dump, the range alone decides.
		listening, _ := sockdiag.DumpListening()
		ports := sockdiag.ByPort(tws, listening, lo, hi)
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
		}
		m.armed.Set(b2f(trig.armed))
		mu.Unlock()
		if start {
			f := *filter
			if f == "" {
				f = stormFilter(ports)
			}
			// The parts of a capture (--file-mb) are NAME-001.pcapng,
			// NAME-002.pcapng...: timewait-*.pcapng matches them all, and
			// they sort in the order written.
			name := filepath.Join(*dir, "timewait-"+time.Now().Format("20060102-150405")+".pcapng")
			log.Info("trigger", "time_wait", n, "threshold", threshold, "top_ports", topPorts(ports, 5), "filter", f, "file", capture.PartName(name, 1), "duration", *length)
			m.captures.Inc()
			m.capturing.Set(1)
			m.lastCapture.SetToCurrentTime()
			o := &options{iface: *iface, write: name, pcapng: true, snaplen: *snaplen, bufferKiB: 32768,
				engine: *engine, filter: f, length: *length, maxMB: *fileMB, parts: true,
				// The cap holds at each new part too, not only at the
				// next sample: between two, a fast capture writes
				// many parts.
				rotated: func(string) { enforceCap(*dir, *maxMB*1_000_000) }}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := session(o, stop, io.Discard, newStatus(io.Discard))
				m.packets.Add(float64(r.captured))
				m.bytes.Add(float64(r.bytes))
				m.drops.Add(float64(r.dropped))
				first := r.file
				if first == "" { // it failed before the first file
					first = capture.PartName(name, 1)
				}
				files := []any{"file", first, "files", r.files}
				if r.files > 1 {
					files = append(files, "last", r.last)
				}
				if err != nil {
					m.errorsTotal.Inc()
					log.Error("capture failed", append(files, "err", err)...)
				} else {
					log.Info("capture done", append(files, "packets", r.captured, "bytes", r.bytes, "dropped", r.dropped)...)
				}
				enforceCap(*dir, *maxMB*1_000_000)
				m.capturing.Set(0)
				mu.Lock()
				busy = false
				mu.Unlock()
			}()
		} else if busy {
			enforceCap(*dir, *maxMB*1_000_000)
		}
		select {
		case <-stop:
			wg.Wait()
			log.Info("stopped")
			return 0
		case <-tick.C:
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

func newTrigger(threshold int, rearm float64, cooldown time.Duration) *trigger {
	return &trigger{threshold: threshold, rearmBelow: int(float64(threshold) * rearm), cooldown: cooldown, armed: true}
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

// checkWatch refuses values with which watch would not do what it says:
// a ticker needs a positive interval, and a capture of no length would
// never stop.
func checkWatch(threshold int, rearm float64, interval, length, cooldown time.Duration, maxMB, fileMB int64, snaplen int) error {
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
	case snaplen <= 0:
		return fmt.Errorf("-s %d: want a positive length", snaplen)
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
			Help: "TCP sockets in TIME_WAIT by service port; role is client when this host's ephemeral ports are tied up, server when it served the connections. The largest 20 groups; port=\"other\" holds the rest."},
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

func (m *watchMetrics) observe(n int, ports []sockdiag.PortCount) {
	m.tw.Set(float64(n))
	m.byPort.Reset()
	other := 0
	for i, p := range ports {
		if i >= maxPortSeries {
			other += p.Count
			continue
		}
		role := "server"
		if p.Client {
			role = "client"
		}
		m.byPort.WithLabelValues(strconv.Itoa(int(p.Port)), role).Set(float64(p.Count))
	}
	if other > 0 {
		m.byPort.WithLabelValues("other", "").Set(float64(other))
	}
}

// enforceCap deletes the oldest captures until the directory fits.
func enforceCap(dir string, max int64) {
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
		if os.Remove(files[i].path) == nil {
			total -= files[i].size
		}
	}
}
