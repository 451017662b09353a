package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

// sample is one measured run.
type sample struct {
	Wall float64 // seconds
	CPU  float64 // user + system seconds of the child
	RSS  float64 // peak, MiB
}

// command is one way of running a tool.
type command struct {
	name string
	home string // HOME for the child; empty keeps ours
	args []string
}

// timeBin reports each command's times and peak RSS. Measuring the
// child directly would not do for the RSS: a child exec'd from Go starts
// from a vfork of this process, whose peak RSS Linux keeps as the
// child's; GNU time forks a small process first.
const timeBin = "/usr/bin/time"

// measure runs c with its output to stdout (nil: discarded) and times it.
func measure(c command, stdout io.Writer) (sample, error) {
	f, err := os.CreateTemp("", "twbench-time.")
	if err != nil {
		return sample{}, err
	}
	f.Close()
	defer os.Remove(f.Name())
	cmd := exec.Command(timeBin, append([]string{"-f", "%e %U %S %M", "-o", f.Name()}, c.args...)...)
	cmd.Env = os.Environ()
	if c.home != "" {
		cmd.Env = append(cmd.Env, "HOME="+c.home)
	}
	cmd.Stdout = stdout
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("%s: %v: %s", strings.Join(c.args, " "), err, lastLines(stderr.String(), 5))
	}
	wall := time.Since(start).Seconds() // finer than time's %e
	s, err := readTime(f.Name())
	s.Wall = wall
	return s, err
}

// readTime reads what GNU time wrote with -f "%e %U %S %M".
func readTime(name string) (sample, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return sample{}, err
	}
	var wall, user, sys, rss float64
	if _, err := fmt.Sscan(lastLines(string(b), 1), &wall, &user, &sys, &rss); err != nil {
		return sample{}, fmt.Errorf("%s: %q: %v", timeBin, b, err)
	}
	return sample{Wall: wall, CPU: user + sys, RSS: rss / 1024}, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// alternate runs the measured runs of the commands in turn, printing
// each, and returns the samples of each command.
func alternate(runs int, cmds ...command) ([][]sample, error) {
	out := make([][]sample, len(cmds))
	for i := 0; i < runs; i++ {
		for j, c := range cmds {
			s, err := measure(c, nil)
			if err != nil {
				return nil, err
			}
			out[j] = append(out[j], s)
			fmt.Printf("   run %d %-22s wall %6.2f s, CPU %6.2f s, RSS %5.0f MiB\n", i+1, c.name, s.Wall, s.CPU, s.RSS)
		}
	}
	return out, nil
}

// row is one line of the results.
type row struct {
	Case        string    `json:"case"`
	Tool        string    `json:"tool"`
	Command     string    `json:"command"`
	Wall        float64   `json:"median_wall_s"`
	CPU         float64   `json:"median_cpu_s"`
	RatioWall   *float64  `json:"ratio_wall,omitempty"` // against the case's baseline
	RatioCPU    *float64  `json:"ratio_cpu,omitempty"`
	PeakRSS     float64   `json:"peak_rss_mib"`
	PacketsPerS float64   `json:"packets_per_s"`
	Target      string    `json:"target,omitempty"`
	Met         *bool     `json:"target_met,omitempty"`
	Walls       []float64 `json:"wall_s"`
	CPUs        []float64 `json:"cpu_s"`
	RSSs        []float64 `json:"rss_mib"`
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func summarise(caseName string, c command, ss []sample, packets int) row {
	r := row{Case: caseName, Tool: c.name, Command: strings.Join(c.args, " ")}
	for _, s := range ss {
		r.Walls = append(r.Walls, s.Wall)
		r.CPUs = append(r.CPUs, s.CPU)
		r.RSSs = append(r.RSSs, s.RSS)
		r.PeakRSS = max(r.PeakRSS, s.RSS)
	}
	r.Wall, r.CPU = median(r.Walls), median(r.CPUs)
	if r.Wall > 0 {
		r.PacketsPerS = float64(packets) / r.Wall
	}
	return r
}

// against sets r's ratios to base.
func (r *row) against(base row) {
	w, c := r.Wall/base.Wall, r.CPU/base.CPU
	r.RatioWall, r.RatioCPU = &w, &c
}

func (r *row) target(text string, met bool) {
	r.Target, r.Met = text, &met
}
