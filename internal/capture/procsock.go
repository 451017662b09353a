package capture

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Proc is a process whose connections are captured.
type Proc struct {
	PID  int
	Comm string
}

// FindByName returns the processes whose comm or command line contains
// name, as pgrep -f would.
func FindByName(name string) ([]Proc, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, err
	}
	// Not gotcpdump itself, nor what started it: the command line of a
	// sudo, timeout or shell -c that runs it holds NAME too.
	skip := ancestors()
	var out []Proc
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || skip[pid] {
			continue
		}
		cmd, _ := os.ReadFile(d + "/cmdline")
		comm := readComm(pid)
		if strings.Contains(comm, name) || strings.Contains(strings.ReplaceAll(string(cmd), "\x00", " "), name) {
			out = append(out, Proc{PID: pid, Comm: comm})
		}
	}
	return out, nil
}

// ancestors returns this process and its parents, up to init.
func ancestors() map[int]bool {
	out := map[int]bool{}
	for pid := os.Getpid(); pid > 1 && !out[pid]; {
		out[pid] = true
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			break
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if i < 0 || len(f) < 2 {
			break
		}
		pid, _ = strconv.Atoi(f[1])
	}
	return out
}

func readComm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// startTime is field 22 of /proc/PID/stat, when the process started (in
// clock ticks after boot); false when there is no such process.
func startTime(pid int) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// After the command's name, which may hold spaces and parentheses,
	// come fields 3 and on.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, false
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	return st, err == nil
}

// NewProc describes a PID.
func NewProc(pid int) (Proc, error) {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return Proc{}, fmt.Errorf("no process %d", pid)
	}
	return Proc{PID: pid, Comm: readComm(pid)}, nil
}

// Socket is one TCP socket of a process, read from /proc.
type Socket struct {
	Local, Remote netip.AddrPort
	Listen        bool
	Proc          Proc
}

// Sockets lists the TCP sockets of the processes, from /proc/PID/fd and
// the TCP tables of each process's network namespace, and the PIDs whose
// /proc/PID/fd could not be read (gotcpdump -Z as a user other than
// theirs).
func Sockets(procs []Proc) (out []Socket, unreadable map[int]bool) {
	for _, p := range procs {
		inodes, err := socketInodes(p.PID)
		if errors.Is(err, fs.ErrPermission) {
			if unreadable == nil {
				unreadable = make(map[int]bool)
			}
			unreadable[p.PID] = true
		}
		if len(inodes) == 0 {
			continue
		}
		for _, f := range []string{"tcp", "tcp6"} {
			fh, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", p.PID, f))
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(fh)
			for sc.Scan() {
				fields := strings.Fields(sc.Text())
				if len(fields) < 10 || !inodes[fields[9]] {
					continue
				}
				l, err1 := procAddr(fields[1])
				r, err2 := procAddr(fields[2])
				if err1 != nil || err2 != nil {
					continue
				}
				out = append(out, Socket{Local: l, Remote: r, Listen: fields[3] == "0A", Proc: p})
			}
			fh.Close()
		}
	}
	return out, unreadable
}

// procAddr parses an address of /proc/net/tcp{,6}: hex words in host
// (little-endian) byte order, a colon, the port in hex.
func procAddr(s string) (netip.AddrPort, error) {
	h, port, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	n, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", s)
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(a.Unmap(), uint16(n)), nil
}

// Readable returns an error when the sockets of a process may not be
// read from /proc: /proc/PID/fd is for its user and root only. A process
// that has exited is not an error here.
func (p Proc) Readable() error {
	if _, err := socketInodes(p.PID); errors.Is(err, fs.ErrPermission) {
		return err
	}
	return nil
}

func socketInodes(pid int) (map[string]bool, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	inodes := make(map[string]bool)
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	return inodes, err
}

// PortFilter is a libpcap expression matching TCP on the given ports.
func PortFilter(owners map[uint16]Proc) string {
	if len(owners) == 0 {
		return "tcp and less 1" // nothing yet (libpcap refuses an expression it can prove rejects all)
	}
	ports := make([]int, 0, len(owners))
	for p := range owners {
		ports = append(ports, int(p))
	}
	sort.Ints(ports)
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = "port " + strconv.Itoa(p)
	}
	return "tcp and (" + strings.Join(parts, " or ") + ")"
}

// LocalAddrs returns the addresses of the processes' network namespaces
// other than gotcpdump's own, which their wildcard listeners accept
// connections on: a container's, when gotcpdump runs on the host.
// gotcpdump's own namespace is left to its interfaces' addresses: its
// fib_trie, read every 100 ms without eBPF, can hold a router's whole
// table.
func LocalAddrs(procs []Proc) []netip.Addr {
	var out []netip.Addr
	self, _ := os.Readlink("/proc/self/ns/net")
	seen := map[string]bool{self: true}
	for _, p := range procs {
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", p.PID))
		if err != nil || seen[ns] {
			continue
		}
		seen[ns] = true
		out = append(out, nsAddrs(p.PID)...)
	}
	return out
}

// nsAddrs returns the local addresses of a process's network namespace,
// from /proc/PID/net/fib_trie and if_inet6.
func nsAddrs(pid int) []netip.Addr {
	var out []netip.Addr
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/fib_trie", pid)); err == nil {
		out = append(out, fibLocal(string(b))...)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/if_inet6", pid)); err == nil {
		out = append(out, ifInet6(string(b))...)
	}
	return out
}

// fibLocal returns the host addresses of fib_trie: a "|-- ADDRESS" line
// followed by "/32 host LOCAL".
func fibLocal(s string) []netip.Addr {
	var out []netip.Addr
	var last netip.Addr
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "|--":
			last, _ = netip.ParseAddr(f[1])
		case len(f) == 3 && f[0] == "/32" && f[1] == "host" && f[2] == "LOCAL" && last.IsValid():
			out = append(out, last)
		}
	}
	return out
}

// ifInet6 returns the addresses of if_inet6: 32 hex digits first on
// each line.
func ifInet6(s string) []netip.Addr {
	var out []netip.Addr
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || len(f[0]) != 32 {
			continue
		}
		b, err := hex.DecodeString(f[0])
		if err != nil {
			continue
		}
		out = append(out, netip.AddrFrom16([16]byte(b)))
	}
	return out
}
