package main

import (
	"fmt"
	"strings"
)

func yesNo(met *bool) string {
	switch {
	case met == nil:
		return ""
	case *met:
		return "met"
	}
	return "NOT MET"
}

func ratio(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *r)
}

func printTable(res *results) {
	c := res.Capture
	fmt.Printf("\n== results: %d packets, %d connections (%s), tshark %s, %d CPUs; medians of %d runs; ratio = tool / baseline (the row above)\n",
		c.Packets, c.Connections, c.Mix, res.Tshark, res.CPUs, res.Runs)
	if len(res.Rows) > 0 {
		fmt.Printf("%-18s %-20s %8s %8s %10s %9s %8s %12s  %s\n", "case", "tool", "wall s", "CPU s", "ratio wall", "ratio CPU", "RSS MiB", "packets/s", "target")
		for _, r := range res.Rows {
			target := ""
			if r.Target != "" {
				target = r.Target + ": " + yesNo(r.Met)
			}
			fmt.Printf("%-18s %-20s %8.2f %8.2f %10s %9s %8.0f %12.0f  %s\n",
				r.Case, r.Tool, r.Wall, r.CPU, ratio(r.RatioWall), ratio(r.RatioCPU), r.PeakRSS, r.PacketsPerS, target)
		}
	}
	if m := res.Memory; m != nil {
		met := m.Met
		fmt.Printf("%-18s twreport, %d connections in TIME_WAIT: RSS %.0f bytes/connection (%.0f MiB, %.0f MiB for %d); Go heap %.0f bytes/connection (BenchmarkMillionConnections)  %s: %s\n",
			"memory", m.TimeWaitAtEnd, m.BytesPerConn, m.RSS, m.BaseRSS, m.BaseConnections, m.HeapBytesPerConn, m.Target, yesNo(&met))
	}
	for _, b := range res.Boundary {
		extra := ""
		if b.Allocs != nil {
			extra = fmt.Sprintf(", %.0f allocs, %.0f B", *b.Allocs, *b.Bytes)
		}
		fmt.Printf("%-18s %-6s from %-26s %8.0f ns/call%s\n", "6 boundary", b.Name, strings.TrimSpace(b.From), b.NS, extra)
	}
}
