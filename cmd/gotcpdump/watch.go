package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gotcpdump/gotcpdump/internal/capture"
)

// watch counts the host's TIME_WAIT sockets and, when they climb past a
// threshold, captures for a while into a directory kept under a size cap.
// Prometheus scrapes its metrics.
//
//	gotcpdump watch --threshold 10000 --dir /var/lib/gotcpdump --metrics :9870 [capture flags] [filter]
func watch(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("gotcpdump watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	threshold := fs.Int("threshold", 10000, "start a capture when TIME_WAIT sockets reach this many")
	interval := fs.Duration("interval", time.Second, "how often to count TIME_WAIT sockets")
	length := fs.Duration("capture", time.Minute, "length of each capture")
	cooldown := fs.Duration("cooldown", 5*time.Minute, "minimum time between the starts of two captures")
	dir := fs.String("dir", "/var/lib/gotcpdump", "directory for the captures (created with mode 0700)")
	maxMB := fs.Int64("max-mb", 1024, "size cap of the directory in MB; the oldest captures go first")
	metrics := fs.String("metrics", ":9870", "address for Prometheus /metrics (empty: none)")
	iface := fs.String("i", "any", "interface to capture on")
	snaplen := fs.Int("s", 262144, "bytes of each packet to keep")
	engine := fs.String("engine", "afpacket", "capture engine: afpacket or pcap")
	filter := fs.String("f", "tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0", "capture filter (libpcap syntax); also taken from trailing arguments")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if rest := strings.Join(fs.Args(), " "); rest != "" {
		*filter = rest
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fmt.Fprintln(stderr, "gotcpdump watch:", err)
		return 1
	}

	reg := prometheus.NewRegistry()
	m := struct {
		tw, capturing      prometheus.Gauge
		captures, packets  prometheus.Counter
		drops, errorsTotal prometheus.Counter
		lastCapture        prometheus.Gauge
	}{
		tw:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "gotcpdump_time_wait_sockets", Help: "TCP sockets in TIME_WAIT on this host (network namespace)."}),
		capturing:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "gotcpdump_capturing", Help: "1 while a triggered capture runs."}),
		captures:    prometheus.NewCounter(prometheus.CounterOpts{Name: "gotcpdump_captures_total", Help: "Captures started because TIME_WAIT reached the threshold."}),
		packets:     prometheus.NewCounter(prometheus.CounterOpts{Name: "gotcpdump_packets_captured_total", Help: "Packets written by triggered captures."}),
		drops:       prometheus.NewCounter(prometheus.CounterOpts{Name: "gotcpdump_packets_dropped_total", Help: "Packets the kernel dropped during triggered captures."}),
		errorsTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "gotcpdump_capture_errors_total", Help: "Triggered captures that failed."}),
		lastCapture: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gotcpdump_last_capture_timestamp_seconds", Help: "When the last triggered capture started."}),
	}
	reg.MustRegister(m.tw, m.capturing, m.captures, m.packets, m.drops, m.errorsTotal, m.lastCapture)
	threshGauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "gotcpdump_time_wait_threshold", Help: "The TIME_WAIT count that starts a capture."})
	threshGauge.Set(float64(*threshold))
	reg.MustRegister(threshGauge)
	if *metrics != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Addr: *metrics, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintln(stderr, "gotcpdump watch: metrics:", err)
			}
		}()
		defer srv.Close()
	}

	stop := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		close(stop)
	}()
	fmt.Fprintf(stderr, "gotcpdump watch: capturing into %s when TIME_WAIT reaches %d\n", *dir, *threshold)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		busy      bool
		lastStart time.Time
	)
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		n, err := capture.CountTimeWait()
		if err == nil {
			m.tw.Set(float64(n))
		}
		mu.Lock()
		start := err == nil && n >= *threshold && !busy && (lastStart.IsZero() || time.Since(lastStart) >= *cooldown)
		if start {
			busy, lastStart = true, time.Now()
		}
		mu.Unlock()
		if start {
			m.captures.Inc()
			m.capturing.Set(1)
			m.lastCapture.SetToCurrentTime()
			name := filepath.Join(*dir, "timewait-"+time.Now().Format("20060102-150405")+".pcapng")
			fmt.Fprintf(stderr, "gotcpdump watch: %d sockets in TIME_WAIT, capturing %v into %s\n", n, *length, name)
			o := &options{iface: *iface, write: name, pcapng: true, snaplen: *snaplen, bufferKiB: 32768,
				engine: *engine, filter: *filter, duration: int(length.Seconds())}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := session(o, stop, io.Discard, newStatus(io.Discard))
				m.packets.Add(float64(r.captured))
				m.drops.Add(float64(r.dropped))
				if err != nil {
					m.errorsTotal.Inc()
					fmt.Fprintln(stderr, "gotcpdump watch:", err)
				}
				enforceCap(*dir, *maxMB*1_000_000)
				m.capturing.Set(0)
				mu.Lock()
				busy = false
				mu.Unlock()
			}()
		}
		select {
		case <-stop:
			wg.Wait()
			return 0
		case <-tick.C:
		}
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
		if err != nil || !info.Mode().IsRegular() || !strings.HasSuffix(e.Name(), ".pcapng") {
			continue
		}
		files = append(files, file{filepath.Join(dir, e.Name()), info.Size(), info.ModTime()})
		total += info.Size()
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	for i := 0; total > max && i < len(files)-1; i++ { // keep the newest
		if os.Remove(files[i].path) == nil {
			total -= files[i].size
		}
	}
}
