package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gotcpdump/gotcpdump/internal/capture"
)

// TestTcpdumpCommandLines: what tcpdump's getopt takes, gotcpdump takes
// with the same meaning.
func TestTcpdumpCommandLines(t *testing.T) {
	for _, c := range []struct {
		args   string
		want   options
		filter string
	}{
		{"-i eth0 -w x.pcap tcp port 80", options{iface: "eth0", write: "x.pcap", snaplen: 262144}, "tcp port 80"},
		{"-s0 -c1 -ieth0 -wx.pcap", options{iface: "eth0", write: "x.pcap", snaplen: 262144, count: 1}, ""},
		{"-nn -i eth0 -s 128 -Uw x.pcap udp", options{iface: "eth0", write: "x.pcap", snaplen: 128, unbuffered: true, quiet: 2}, "udp"},
		{"-w x.pcap udp -c 5 and port 53", options{write: "x.pcap", snaplen: 262144, count: 5}, "udp and port 53"},
		{"-p 12 34 56 -w x.pcapng", options{write: "x.pcapng", snaplen: 262144, pids: pidList{12, 34, 56}, pcapng: true}, ""},
		{"-w x.pcap -p 12 34 -t 30 tcp", options{write: "x.pcap", snaplen: 262144, pids: pidList{12, 34}, duration: 30, length: 30 * time.Second}, "tcp"},
		{"--pid=7 -w - -v", options{write: "-", snaplen: 262144, pids: pidList{7}, quiet: 1}, ""},
		{"-w x.pcap -p12 34 tcp", options{write: "x.pcap", snaplen: 262144, pids: pidList{12, 34}}, "tcp"},
		{"--pid=7 12 -w x.pcap", options{write: "x.pcap", snaplen: 262144, pids: pidList{7, 12}}, ""},
		{"-w x.pcap -- -i", options{write: "x.pcap", snaplen: 262144}, "-i"},
		{"-p 12 host db -w x.pcap", options{write: "x.pcap", snaplen: 262144, pids: pidList{12}}, "host db"},
		{"-G60 -W3 -C1 -B4096 -ZUSER -w x.pcap", options{write: "x.pcap", snaplen: 262144, rotate: 60, files: 3, maxMB: 1, bufferKiB: 4096, user: "USER"}, ""},
		{"-Q in -w x.pcap", options{write: "x.pcap", snaplen: 262144, direction: "in"}, ""},
		{"--direction=OUT -w x.pcap", options{write: "x.pcap", snaplen: 262144, direction: "out"}, ""},
		// As tcpdump --version: no -w needed.
		{"--version", options{snaplen: 262144, version: true}, ""},
		// Printing flags of a runbook's tcpdump -w command.
		{"-nnvvXSs 1514 -i eth0 -w x.pcap", options{iface: "eth0", write: "x.pcap", snaplen: 1514, quiet: 6}, ""},
		{"-lAeKNx -w x.pcap -z gzip -C 1", options{write: "x.pcap", snaplen: 262144, quiet: 6, postRotate: "gzip", maxMB: 1}, ""},
		// -d, -dd, -ddd and -L print and exit: no -w needed.
		{"-d -i lo tcp port 80", options{iface: "lo", snaplen: 262144, dump: 1}, "tcp port 80"},
		{"-dd -ilo", options{iface: "lo", snaplen: 262144, dump: 2}, ""},
		{"-ddd -i any udp", options{snaplen: 262144, dump: 3}, "udp"},
		{"-d -nd", options{snaplen: 262144, dump: 2, quiet: 1}, ""},
		{"-L -i eth0", options{iface: "eth0", snaplen: 262144, listLinks: true}, ""},
		{"--list-data-link-types", options{snaplen: 262144, listLinks: true}, ""},
		{"-y LINUX_SLL -w x.pcap", options{write: "x.pcap", snaplen: 262144, linkType: "LINUX_SLL"}, ""},
		{"-yEN10MB -i eth0 -d", options{iface: "eth0", snaplen: 262144, linkType: "EN10MB", dump: 1}, ""},
		{"-r in.pcap -w out.pcap tcp port 443", options{write: "out.pcap", snaplen: 262144, read: "in.pcap"}, "tcp port 443"},
		{"-r - -w - -c 10", options{write: "-", snaplen: 262144, read: "-", count: 10}, ""},
		{"--time-stamp-precision=nano -w x.pcap", options{write: "x.pcap", snaplen: 262144, precision: "nano"}, ""},
		{"--time-stamp-precision micro -w x.pcapng", options{write: "x.pcapng", snaplen: 262144, precision: "micro", pcapng: true}, ""},
		{"--nano -w x.pcap", options{write: "x.pcap", snaplen: 262144, precision: "nano"}, ""},
		{"--micro -w x.pcap", options{write: "x.pcap", snaplen: 262144, precision: "micro"}, ""},
		{"--immediate-mode -Uw - udp", options{write: "-", snaplen: 262144, immediate: true, unbuffered: true}, "udp"},
	} {
		o, err := parse(strings.Fields(c.args), io.Discard)
		if err != nil {
			t.Errorf("%s: %v", c.args, err)
			continue
		}
		want := c.want
		if want.iface == "" {
			want.iface = "any"
		}
		if want.bufferKiB == 0 {
			want.bufferKiB = 32768
		}
		want.engine, want.filter = "pcap", c.filter
		if !reflect.DeepEqual(*o, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.args, *o, want)
		}
	}
	// -F: comments, as tcpdump takes them.
	f := filepath.Join(t.TempDir(), "filter")
	if err := os.WriteFile(f, []byte("# web traffic\ntcp port 80 # plain HTTP\n  or udp port 53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := parse([]string{"-F", f, "-w", "x.pcap"}, io.Discard); err != nil {
		t.Errorf("-F with comments: %v", err)
	} else if o.filter != "tcp port 80 \n  or udp port 53" {
		t.Errorf("-F with comments: filter %q", o.filter)
	}
	for _, c := range []struct{ args, err string }{
		{"-s -1 -w x.pcap", "-s -1: must not be negative"},
		{"-s 300000 -w x.pcap", "-s 300000: at most 262144"},
		{"-c -5 -w x.pcap", "invalid packet count -5"},
		{"-c 0 -w x.pcap", "invalid packet count 0"},
		{"-C 0 -w x.pcap", "invalid file size 0"},
		{"-W 0 -C 1 -w x.pcap", "invalid number of output files 0"},
		{"-G -3 -w x.pcap", "-G -3: must not be negative"},
		{"-B 0 -w x.pcap", "-B 0: want a positive size"},
		{"-j host -w x.pcap", "flag provided but not defined: -j"},
		{"-Q sideways -w x.pcap", "-Q sideways: want in, out or inout"},
		{"-i lo -w", "flag needs an argument: -w"},
		{"--time-stamp-precision=pico -w x.pcap", "unsupported time stamp precision"},
		{"-y FOO -w x.pcap", "invalid data link type FOO"},
		{"-r in.pcap", "-w FILE is required"},
		{"-r in.pcap -p 12 -w x.pcap", "-p/--pname: not with -r"},
		{"-r in.pcap -t 5 -w x.pcap", "-t: not with -r"},
		{"-r in.pcap -L", "-L: for an interface, not with -r"},
		{"-d --pname nginx", "-d: not with -p/--pname"},
		// The default interface, any, captures through libpcap whatever
		// the engine: the name is checked all the same.
		{"--engine afpaket -w x.pcap", `--engine: unknown engine "afpaket"`},
		{"-d --engine bogus tcp", `--engine: unknown engine "bogus"`},
		// tcpdump's -p (no promiscuous mode), or an unquoted $(pgrep)
		// that printed nothing.
		{"-p -i eth0 -w x.pcap", `bad PID "-i" (-p takes process IDs; promiscuous mode is off unless --promisc)`},
		{"-pni eth0 -w x.pcap", `bad PID "ni" (-p takes`},
		{"-p 12x -w x.pcap", `bad PID "12x"`},
		{"--engine= -w x.pcap", "--engine: no engine given"},
		{"--micro=false -w x.pcap", "takes no value"},
		{"--nano=false -w x.pcap", "takes no value"},
	} {
		if _, err := parse(strings.Fields(c.args), io.Discard); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", c.args, err, c.err)
		}
	}
	// A quoted "$(pgrep -f NAME)" that matched nothing: without a
	// process to follow, gotcpdump would capture everyone's traffic.
	for _, args := range [][]string{
		{"-p", "", "-w", "x.pcap"},
		{"-p", " ", "-w", "x.pcap"},
		{"-p", ",", "-w", "x.pcap"},
		{"--pid=", "-w", "x.pcap"},
		{"-w", "x.pcap", "-p", "\n"},
	} {
		if _, err := parse(args, io.Discard); err == nil || !strings.Contains(err.Error(), "no PID given") {
			t.Errorf("%q: %v, want no PID given", args, err)
		}
	}
	// A list separated by tabs too (a pasted column).
	if o, err := parse([]string{"-p", "12\t34", "-w", "x.pcap"}, io.Discard); err != nil || !reflect.DeepEqual(o.pids, pidList{12, 34}) {
		t.Errorf("-p with a tab: %v, %v", o, err)
	}
	for _, args := range [][]string{{"--pname", "", "-w", "x.pcap"}, {"--pname= ", "-w", "x.pcap"}} {
		if _, err := parse(args, io.Discard); err == nil || !strings.Contains(err.Error(), "--pname: no name given") {
			t.Errorf("%q: %v, want --pname: no name given", args, err)
		}
	}
}

// TestUsageErrors: a bad flag is told once, with a line of usage, as
// tcpdump tells it, not followed by every flag; -h lists them all.
func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args  []string
		usage string
		code  int
	}{
		{[]string{"--no-such-flag", "-w", "x.pcap"}, usageLine, 1},
		{[]string{"watch", "--no-such-flag"}, watchUsageLine, 2},
	} {
		var errOut bytes.Buffer
		code := run(c.args, &errOut)
		want := "flag provided but not defined: -no-such-flag"
		if code != c.code || strings.Count(errOut.String(), want) != 1 || !strings.HasSuffix(errOut.String(), "\n"+c.usage+"\n") ||
			strings.Count(errOut.String(), "\n") != 2 {
			t.Errorf("%q: exit %d, printed %q; want %d, the error once and %q", c.args, code, errOut.String(), c.code, c.usage)
		}
	}
	for _, args := range [][]string{{"-h"}, {"watch", "--help"}} {
		var errOut bytes.Buffer
		if code := run(args, &errOut); code != 0 || !strings.Contains(errOut.String(), "-i string") {
			t.Errorf("%q: exit %d, printed %q; want 0 and the flags", args, code, errOut.String())
		}
	}
}

// TestPostRotate: -z runs "command file" at the lowest priority from its
// start (tcpdump sets it in the child before exec; setting it from here
// after the start left a command's first moments at 0), and a command
// that cannot run is reported, not fatal.
func TestPostRotate(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "z.sh")
	// Field 19 of /proc/PID/stat is the nice value; $$ is the shell
	// itself, read before it does anything else.
	if err := os.WriteFile(script, []byte("#!/bin/sh\nread -r stat < /proc/$$/stat\necho \"$stat\" > \"$1.stat\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "x.pcap")
	postRotate(script, io.Discard)(file)
	var stat []byte
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(file + ".stat"); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			stat = b
			break
		}
	}
	// The fields after the command's name, in parentheses.
	_, rest, _ := bytes.Cut(stat, []byte(") "))
	if f := strings.Fields(string(rest)); len(f) < 17 || f[16] != "19" {
		t.Errorf("the -z command's /proc/PID/stat: %q, want nice 19", stat)
	}
	var errOut bytes.Buffer
	postRotate(filepath.Join(dir, "missing"), &errOut)(file)
	if !strings.Contains(errOut.String(), "gotcpdump: -z "+filepath.Join(dir, "missing")+" "+file+": ") {
		t.Errorf("a missing -z command: %q", errOut.String())
	}
}

// TestListedInterfaces: -D numbers libpcap's devices as tcpdump does,
// and marks those that -i refuses (nflog, nfqueue, D-Bus or Bluetooth
// monitors), as the others open.
func TestListedInterfaces(t *testing.T) {
	devs, err := capture.DeviceList()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 0 {
		t.Fatal("-D lists nothing")
	}
	for _, d := range devs {
		_, err := capture.IfIndex(d.Name)
		if marked := strings.Contains(listNote(d), "not a network interface"); marked != (err != nil && d.Name != "any") {
			t.Errorf("-D lists %q as %q; its index: %v", d.Name, listNote(d), err)
		}
	}
}

// TestDeviceStatus: -D's brackets, as tcpdump 4.99 prints libpcap's
// flags (PCAP_IF_*: loopback 1, up 2, running 4, wireless 8, the
// connection status in 0x30).
func TestDeviceStatus(t *testing.T) {
	for _, c := range []struct {
		flags uint32
		want  string
	}{
		{0x0, ""}, // no flag, not even a connection status: no brackets
		{0x2 | 0x4 | 0x10, "Up, Running, Connected"},
		{0x2 | 0x4 | 0x30, "Up, Running"},
		{0x1 | 0x2 | 0x4 | 0x30, "Up, Running, Loopback"},
		{0x30, "none"},
		{0x2 | 0x20, "Up, Disconnected"},
		{0x2 | 0x4, "Up, Running, Connection status unknown"},
		{0x8 | 0x30, "Wireless"},
		{0x2 | 0x8 | 0x10, "Up, Wireless, Associated"},
		{0x8 | 0x20, "Wireless, Not associated"},
		{0x8, "Wireless, Association status unknown"},
	} {
		if got := (capture.Device{Flags: c.flags}).Status(); got != c.want {
			t.Errorf("flags %#x: %q, want %q", c.flags, got, c.want)
		}
	}
	if got := listNote(capture.Device{Name: "any", Description: "Pseudo-device that captures on all interfaces", Flags: 0x36}); got != " (Pseudo-device that captures on all interfaces) [Up, Running]" {
		t.Errorf("any: %q", got)
	}
}

func TestVersions(t *testing.T) {
	v := versions()
	if lines := strings.Split(strings.TrimSpace(v), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "gotcpdump version ") ||
		!strings.HasPrefix(lines[1], "libpcap version 1.") || !strings.HasPrefix(lines[2], "go1.") {
		t.Errorf("--version printed %q", v)
	}
}
