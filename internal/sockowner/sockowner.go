// Package sockowner attributes TCP connections to processes at the moment
// the kernel sends their first packet, so that a capture can keep one
// process's traffic even when its connections live for a millisecond.
//
// Two eBPF programs on tracepoints (tp_btf: raw, with BTF) do it. The
// first, on inet_sock_set_state, sees a socket enter SYN_SENT: that is
// tcp_v4_connect or tcp_v6_connect, in the process that called
// connect(2) (or sendmsg with MSG_FASTOPEN), before its port is chosen.
// When the process is a target it stores the socket's address with the
// process ID in an LRU hash map, and otherwise deletes any entry a freed
// socket at that address left. The second, on net_dev_queue, sees each
// packet a socket queues for transmission; for a TCP socket in SYN_SENT
// found in the first map it stores the socket's addresses and ports with
// that process ID. User space looks a packet's 4-tuple up there: the
// entry exists before the SYN reaches the capture.
//
// The process running when the SYN is queued is not the owner: a SYN
// waiting for ARP is sent when the reply comes, and a retransmitted one
// from a timer, both in softirq context, in whatever process the CPU was
// running (at 5,500 connections a second, a target took another
// process's connection this way).
//
// These are hooks that work on kernels without kprobes or BPF trampolines
// (fentry), which also rules out LSM programs, and with cgroup v1 only,
// which rules out cgroup socket programs. Accepted connections are not
// seen here (the server's SYN-ACK is sent from softirq context); callers
// match them by the target's listening ports, read from /proc, as they do
// for connections that exist when the capture starts.
//
// The programs are assembled with cilium/ebpf's asm package, with field
// offsets read from the kernel's BTF, so the build needs no C compiler
// and nothing depends on one kernel's struct layout.
package sockowner

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
)

// ErrUnsupported wraps every reason the kernel cannot run the programs
// (no BTF, no fentry, missing CAP_BPF or CAP_PERFMON); callers fall back
// to polling /proc.
var ErrUnsupported = errors.New("eBPF socket attribution unavailable")

const (
	afInet  = 2
	afInet6 = 10

	// MaxSockets bounds the map of attributed sockets; the least
	// recently used entries are dropped first.
	MaxSockets = 1 << 18
	maxTargets = 1024
)

// key is the map key: the connection seen from the connecting socket.
type key struct {
	Family uint16
	LPort  uint16 // host byte order (skc_num)
	RPort  uint16 // network byte order (skc_dport), as the kernel keeps it
	_      uint16
	LAddr  [16]byte // IPv4 in the first four bytes
	RAddr  [16]byte
}

const keySize = 40

// Tracker holds the loaded programs and their maps.
type Tracker struct {
	targets *ebpf.Map
	connect *ebpf.Map // socket address -> PID, from connect(2)
	socks   *ebpf.Map
	progs   []*ebpf.Program
	links   []link.Link
}

// New loads and attaches the programs for the given process IDs
// (thread-group IDs, as in /proc).
func New(pids []int) (*Tracker, error) {
	off, err := kernelOffsets()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	t := &Tracker{}
	ok := false
	defer func() {
		if !ok {
			t.Close()
		}
	}()
	t.targets, err = ebpf.NewMap(&ebpf.MapSpec{Name: "gtd_targets", Type: ebpf.Hash, KeySize: 4, ValueSize: 1, MaxEntries: maxTargets})
	if err != nil {
		return nil, fmt.Errorf("%w: creating a map: %w", ErrUnsupported, err)
	}
	t.connect, err = ebpf.NewMap(&ebpf.MapSpec{Name: "gtd_connect", Type: ebpf.LRUHash, KeySize: 8, ValueSize: 4, MaxEntries: MaxSockets})
	if err != nil {
		return nil, fmt.Errorf("%w: creating a map: %w", ErrUnsupported, err)
	}
	t.socks, err = ebpf.NewMap(&ebpf.MapSpec{Name: "gtd_socks", Type: ebpf.LRUHash, KeySize: keySize, ValueSize: 4, MaxEntries: MaxSockets})
	if err != nil {
		return nil, fmt.Errorf("%w: creating a map: %w", ErrUnsupported, err)
	}
	for _, pid := range pids {
		if err := t.targets.Put(uint32(pid), uint8(1)); err != nil {
			return nil, fmt.Errorf("%w: adding process %d: %w", ErrUnsupported, pid, err)
		}
	}
	for _, p := range []struct {
		name, tracepoint string
		insns            asm.Instructions
	}{
		{"gtd_connect", "inet_sock_set_state", connectProgram(t.targets.FD(), t.connect.FD())},
		{"gtd_syn_owner", "net_dev_queue", synProgram(off, t.connect.FD(), t.socks.FD())},
	} {
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name: p.name, Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp,
			AttachTo: p.tracepoint, Instructions: p.insns, License: "Dual MIT/GPL",
		})
		if err != nil {
			return nil, fmt.Errorf("%w: loading the program for %s: %w", ErrUnsupported, p.tracepoint, err)
		}
		t.progs = append(t.progs, prog)
		l, err := link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			return nil, fmt.Errorf("%w: attaching to %s: %w", ErrUnsupported, p.tracepoint, err)
		}
		t.links = append(t.links, l)
	}
	ok = true
	return t, nil
}

// Close detaches the programs and frees the maps.
func (t *Tracker) Close() {
	for _, l := range t.links {
		_ = l.Close()
	}
	for _, p := range t.progs {
		_ = p.Close()
	}
	for _, m := range []*ebpf.Map{t.socks, t.connect} {
		if m != nil {
			_ = m.Close()
		}
	}
	if t.targets != nil {
		_ = t.targets.Close()
	}
	t.links, t.progs, t.socks, t.connect, t.targets = nil, nil, nil, nil, nil
}

// Owner returns the target process whose socket at local connected to
// remote.
func (t *Tracker) Owner(local, remote netip.AddrPort) (pid int, ok bool) {
	var v uint32
	for _, k := range lookupKeys(local, remote) {
		if err := t.socks.Lookup(&k, &v); err == nil {
			return int(v), true
		}
	}
	return 0, false
}

// lookupKeys lists the keys a socket at local talking to remote may have
// been stored under: an IPv4 socket, or an IPv6 one (for IPv4 peers, a
// dual-stack socket with v4-mapped addresses).
func lookupKeys(local, remote netip.AddrPort) []key {
	l, r := local.Addr(), remote.Addr()
	var keys []key
	if l.Unmap().Is4() && r.Unmap().Is4() {
		k := key{Family: afInet, LPort: local.Port(), RPort: htons(remote.Port())}
		l4, r4 := l.Unmap().As4(), r.Unmap().As4()
		copy(k.LAddr[:], l4[:])
		copy(k.RAddr[:], r4[:])
		keys = append(keys, k)
	}
	return append(keys, key{Family: afInet6, LPort: local.Port(), RPort: htons(remote.Port()), LAddr: l.As16(), RAddr: r.As16()})
}

func htons(p uint16) uint16 { return p>>8 | p<<8 }

// offsets are byte offsets into kernel structures.
type offsets struct {
	skbSk                     int16 // sk_buff.sk
	state, family, num, dport int16 // sock_common, which begins struct sock
	rcvSaddr, daddr           int16
	v6RcvSaddr, v6Daddr       int16
	protocol                  int16 // sock.sk_protocol
	hasV6                     bool
}

func kernelOffsets() (offsets, error) {
	var o offsets
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return o, err
	}
	var skb, sc, sk *btf.Struct
	for name, dst := range map[string]**btf.Struct{"sk_buff": &skb, "sock_common": &sc, "sock": &sk} {
		if err := spec.TypeByName(name, dst); err != nil {
			return o, err
		}
	}
	for _, f := range []struct {
		in   *btf.Struct
		name string
		dst  *int16
		size uint32
		opt  bool
	}{
		{skb, "sk", &o.skbSk, 8, false}, {sk, "sk_protocol", &o.protocol, 2, false},
		{sc, "skc_state", &o.state, 1, false}, {sc, "skc_family", &o.family, 2, false},
		{sc, "skc_num", &o.num, 2, false}, {sc, "skc_dport", &o.dport, 2, false},
		{sc, "skc_rcv_saddr", &o.rcvSaddr, 4, false}, {sc, "skc_daddr", &o.daddr, 4, false},
		{sc, "skc_v6_rcv_saddr", &o.v6RcvSaddr, 16, true}, {sc, "skc_v6_daddr", &o.v6Daddr, 16, true},
	} {
		n, typ, found := member(f.in, f.name)
		if !found {
			if f.opt {
				continue
			}
			return o, fmt.Errorf("struct %s has no %s", f.in.Name, f.name)
		}
		if size, err := btf.Sizeof(typ); err != nil || uint32(size) != f.size {
			return o, fmt.Errorf("%s.%s is %d bytes, want %d", f.in.Name, f.name, size, f.size)
		}
		*f.dst = int16(n)
	}
	o.hasV6 = o.v6Daddr != 0 && o.v6RcvSaddr != 0
	return o, nil
}

// member finds a field by name, looking through the anonymous unions and
// structs the kernel nests its fields in.
func member(t btf.Type, name string) (uint32, btf.Type, bool) {
	var members []btf.Member
	switch t := t.(type) {
	case *btf.Struct:
		members = t.Members
	case *btf.Union:
		members = t.Members
	default:
		return 0, nil, false
	}
	for _, m := range members {
		if m.Name == name && m.BitfieldSize == 0 {
			return m.Offset.Bytes(), m.Type, true
		}
		if m.Name == "" {
			if n, typ, ok := member(btf.UnderlyingType(m.Type), name); ok {
				return m.Offset.Bytes() + n, typ, true
			}
		}
	}
	return 0, nil, false
}

const (
	tcpSynSent = 2 // TCP_SYN_SENT
	ipprotoTCP = 6
)

// Stack layout of the program (offsets from R10).
const (
	stTgid  = -4
	stState = -6 // skc_state
	stProto = -8 // sk_protocol
	stSk    = -16
	stKey   = -56 // keySize bytes
)

// connectProgram assembles the tp_btf/inet_sock_set_state program. Its
// arguments are the socket, the old state and the new state.
func connectProgram(targets, connect int) asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R1, asm.R6, 16, asm.DWord), // newstate
		asm.JNE.Imm(asm.R1, tcpSynSent, "out"),
		// The socket's address, as a number (the map key).
		asm.Mov.Reg(asm.R1, asm.R10),
		asm.Add.Imm(asm.R1, stSk),
		asm.Mov.Imm(asm.R2, 8),
		asm.Mov.Reg(asm.R3, asm.R6),
		asm.FnProbeReadKernel.Call(),
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.R10, stTgid, asm.R0, asm.Word),
	}
	insns = append(insns, mapCall(asm.FnMapLookupElem, targets, stTgid)...)
	insns = append(insns, asm.JEq.Imm(asm.R0, 0, "other"))
	insns = append(insns, mapCall(asm.FnMapUpdateElem, connect, stSk, stTgid)...)
	insns = append(insns, asm.Ja.Label("out"))
	del := mapCall(asm.FnMapDeleteElem, connect, stSk)
	del[0] = del[0].WithSymbol("other")
	return append(append(insns, del...),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
}

// mapCall calls a map helper on the map with the given FD, its key (and
// value, for an update) on the stack at the given offsets. An update
// creates or replaces (BPF_ANY).
func mapCall(fn asm.BuiltinFunc, fd int, key int16, value ...int16) asm.Instructions {
	insns := asm.Instructions{
		asm.LoadMapPtr(asm.R1, fd),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, int32(key)),
	}
	if len(value) > 0 {
		insns = append(insns,
			asm.Mov.Reg(asm.R3, asm.R10),
			asm.Add.Imm(asm.R3, int32(value[0])),
			asm.Mov.Imm(asm.R4, 0)) // BPF_ANY
	}
	return append(insns, fn.Call())
}

// synProgram assembles the tp_btf/net_dev_queue program. Its one
// argument is the sk_buff being queued.
func synProgram(o offsets, connect, socks int) asm.Instructions {
	// read copies size bytes at R6+field to the stack at dst.
	read := func(dst int16, size int32, field int16) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.R10),
			asm.Add.Imm(asm.R1, int32(dst)),
			asm.Mov.Imm(asm.R2, size),
			asm.Mov.Reg(asm.R3, asm.R6),
			asm.Add.Imm(asm.R3, int32(field)),
			asm.FnProbeReadKernel.Call(),
		}
	}
	insns := asm.Instructions{
		asm.LoadMem(asm.R6, asm.R1, 0, asm.DWord), // skb = args[0]
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.R10, stSk, asm.R1, asm.DWord),
		asm.StoreMem(asm.R10, stProto, asm.R1, asm.Word), // protocol, state
	}
	insns = append(insns, read(stSk, 8, o.skbSk)...)
	insns = append(insns,
		asm.LoadMem(asm.R6, asm.R10, stSk, asm.DWord), // sk
		asm.JEq.Imm(asm.R6, 0, "out"))
	insns = append(insns, read(stState, 1, o.state)...)
	insns = append(insns,
		asm.LoadMem(asm.R1, asm.R10, stState, asm.Byte),
		asm.JNE.Imm(asm.R1, tcpSynSent, "out"))
	insns = append(insns, read(stProto, 2, o.protocol)...)
	insns = append(insns,
		asm.LoadMem(asm.R1, asm.R10, stProto, asm.Half),
		asm.JNE.Imm(asm.R1, ipprotoTCP, "out"))
	// Whose connect(2) put the socket in SYN_SENT.
	insns = append(insns, mapCall(asm.FnMapLookupElem, connect, stSk)...)
	insns = append(insns,
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.Word),
		asm.StoreMem(asm.R10, stTgid, asm.R1, asm.Word),
		asm.Mov.Imm(asm.R1, 0),
	)
	for i := int16(0); i < keySize; i += 8 {
		insns = append(insns, asm.StoreMem(asm.R10, stKey+i, asm.R1, asm.DWord))
	}
	insns = append(insns, read(stKey, 2, o.family)...)
	insns = append(insns, read(stKey+2, 2, o.num)...)
	insns = append(insns, read(stKey+4, 2, o.dport)...)
	insns = append(insns,
		asm.LoadMem(asm.R1, asm.R10, stKey, asm.Half),
		asm.JEq.Imm(asm.R1, afInet6, "v6"))
	insns = append(insns, read(stKey+8, 4, o.rcvSaddr)...)
	insns = append(insns, read(stKey+24, 4, o.daddr)...)
	insns = append(insns, asm.Ja.Label("store"))
	if o.hasV6 {
		v6 := read(stKey+8, 16, o.v6RcvSaddr)
		v6[0] = v6[0].WithSymbol("v6")
		insns = append(insns, v6...)
		insns = append(insns, read(stKey+24, 16, o.v6Daddr)...)
	} else {
		insns = append(insns, asm.Ja.Label("out").WithSymbol("v6"))
	}
	store := mapCall(asm.FnMapUpdateElem, socks, stKey, stTgid)
	store[0] = store[0].WithSymbol("store")
	return append(append(insns, store...),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
}
