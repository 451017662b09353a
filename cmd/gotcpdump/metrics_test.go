package main

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/gotcpdump/gotcpdump/internal/sockdiag"
)

// byPortSeries is the by-port gauge's series as "port role value".
func byPortSeries(t *testing.T, m *watchMetrics) string {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "gotcpdump_time_wait_sockets_by_port" {
			continue
		}
		for _, s := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range s.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out = append(out, fmt.Sprintf("%s %s %g", l["port"], l["role"], s.GetGauge().GetValue()))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// TestObserveByPort: a sample replaces the last one's series (those it
// lacks go), and the rest past the 20 largest are port "other", with
// their role when they share one and "mixed" when not.
func TestObserveByPort(t *testing.T) {
	m := newWatchMetrics(10000)
	m.observe(30, []sockdiag.PortCount{{Port: 8080, Count: 20}, {Port: 443, Client: true, Count: 10}})
	if got, want := byPortSeries(t, m), "443 client 10, 8080 server 20"; got != want {
		t.Errorf("first sample: %s; want %s", got, want)
	}
	var ports []sockdiag.PortCount
	for i := range maxPortSeries + 2 {
		ports = append(ports, sockdiag.PortCount{Port: uint16(9000 + i), Count: 100 - i, Client: i == maxPortSeries+1})
	}
	m.observe(2000, ports)
	got := byPortSeries(t, m)
	if strings.Contains(got, "8080") || strings.Contains(got, "443 ") || !strings.Contains(got, "other mixed 159") ||
		strings.Count(got, ",") != maxPortSeries {
		t.Errorf("second sample: %s", got)
	}
	m.observe(5, ports[maxPortSeries-1:maxPortSeries+1])
	if got, want := byPortSeries(t, m), "9019 server 81, 9020 server 80"; got != want {
		t.Errorf("third sample: %s; want %s", got, want)
	}
	m.observe(300, append(ports[:maxPortSeries:maxPortSeries], ports[maxPortSeries+1]))
	if got := byPortSeries(t, m); !strings.Contains(got, "other client 79") {
		t.Errorf("fourth sample, the rest all clients: %s", got)
	}
}

// TestCountsAdd: the capture counters grow by what each call adds, and
// never go back: the drops read during a capture may be more than the
// capture's own count at its end.
func TestCountsAdd(t *testing.T) {
	m := newWatchMetrics(10000)
	var c counts
	c.add(m, 100, 6400, 3)
	c.add(m, 250, 16000, 5)
	c.add(m, 250, 16000, 4) // the end: drops after the stop left out
	for name, want := range map[string]float64{
		"gotcpdump_capture_packets_total": 250, "gotcpdump_capture_bytes_total": 16000, "gotcpdump_capture_dropped_packets_total": 5,
	} {
		if got := counterValue(t, m, name); got != want {
			t.Errorf("%s = %g; want %g", name, got, want)
		}
	}
}

func counterValue(t *testing.T, m *watchMetrics, name string) float64 {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
