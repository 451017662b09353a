package main

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// tpkt is one packet of a recorded connection, with the offsets that the
// rewriting patches.
type tpkt struct {
	off        time.Duration // since the connection's first packet
	fromClient bool
	data       []byte
	ip, tcp    int  // offsets of the IPv4 and TCP headers
	ts         int  // offset of the timestamp option's TSval, or -1
	ack        bool // the ACK flag: only then is the ack field a sequence number
	full       bool // captured whole, so the TCP checksum can be recomputed
	wireLen    int
}

// template is one short connection of a recorded capture.
type template struct {
	pkts []tpkt
	rst  bool // ended by an RST
	// server, when set, replaces the server's address and port (the
	// probes are recorded on 127.0.0.1 with a random port).
	server     bool
	serverIP   [4]byte
	serverPort uint16
}

// maxTemplatePackets keeps long-lived connections (the storm capture's
// gRPC connection) out of the templates: only short connections are
// replayed.
const maxTemplatePackets = 20

// loadTemplates reads the short IPv4 connections of Ethernet pcap files:
// those that start with a SYN and close with FINs or an RST within the
// file.
func loadTemplates(files []string) ([]template, error) {
	var out []template
	for _, name := range files {
		ts, err := loadFile(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(ts) == 0 {
			return nil, fmt.Errorf("%s: no short connection", name)
		}
		out = append(out, ts...)
	}
	return out, nil
}

// openPcap opens a pcap file to read; the caller closes f.
func openPcap(name string) (r *pcapgo.Reader, f *os.File, err error) {
	if f, err = os.Open(name); err != nil {
		return nil, nil, err
	}
	if r, err = pcapgo.NewReader(bufio.NewReader(f)); err != nil {
		f.Close()
		return nil, nil, err
	}
	return r, f, nil
}

// countPackets counts the packets of a pcap file.
func countPackets(name string) (int, error) {
	r, f, err := openPcap(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	for {
		if _, _, err := r.ZeroCopyReadPacketData(); err != nil {
			if err == io.EOF {
				return n, nil
			}
			return n, err
		}
		n++
	}
}

func loadFile(name string) ([]template, error) {
	r, f, err := openPcap(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if r.LinkType() != layers.LinkTypeEthernet {
		return nil, fmt.Errorf("link type %v, want Ethernet", r.LinkType())
	}
	var (
		eth     layers.Ethernet
		ip4     layers.IPv4
		tcp     layers.TCP
		decoded []gopacket.LayerType
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &tcp)
	p.IgnoreUnsupported = true
	type building struct {
		client  [6]byte // address and port
		start   time.Time
		pkts    []tpkt
		fins    int
		rst     bool
		closed  bool
		dropped bool
	}
	conns := map[[12]byte]*building{}
	var order []*building
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		decoded = decoded[:0]
		_ = p.DecodeLayers(data, &decoded)
		if len(decoded) != 3 || decoded[2] != layers.LayerTypeTCP {
			continue
		}
		var src, dst [6]byte
		copy(src[:], ip4.SrcIP.To4())
		binary.BigEndian.PutUint16(src[4:], uint16(tcp.SrcPort))
		copy(dst[:], ip4.DstIP.To4())
		binary.BigEndian.PutUint16(dst[4:], uint16(tcp.DstPort))
		var k [12]byte
		if string(src[:]) < string(dst[:]) {
			copy(k[:], src[:])
			copy(k[6:], dst[:])
		} else {
			copy(k[:], dst[:])
			copy(k[6:], src[:])
		}
		b := conns[k]
		if tcp.SYN && !tcp.ACK {
			b = &building{client: src, start: ci.Timestamp}
			conns[k] = b
			order = append(order, b)
		}
		if b == nil || b.closed {
			continue // began before the capture, or a stray segment after the close
		}
		ipOff := len(eth.Contents)
		tcpOff := ipOff + int(ip4.IHL)*4
		tp := tpkt{
			off:        ci.Timestamp.Sub(b.start),
			fromClient: src == b.client,
			data:       append([]byte(nil), data...),
			ip:         ipOff,
			tcp:        tcpOff,
			ts:         -1,
			ack:        tcp.ACK,
			full:       ci.CaptureLength == ci.Length && int(ip4.Length) == len(data)-ipOff,
			wireLen:    ci.Length,
		}
		// The timestamp option (kind 8, length 10) among the options.
		for o := tcpOff + 20; o < tcpOff+int(tcp.DataOffset)*4 && o < len(data); {
			switch data[o] {
			case 0:
				o = len(data)
				continue
			case 1:
				o++
				continue
			}
			if o+1 >= len(data) || data[o+1] < 2 {
				break
			}
			if data[o] == 8 && data[o+1] == 10 && o+10 <= len(data) {
				tp.ts = o + 2
			}
			o += int(data[o+1])
		}
		b.pkts = append(b.pkts, tp)
		if len(b.pkts) > maxTemplatePackets {
			b.dropped = true
		}
		if tcp.FIN {
			b.fins++
		}
		// Closed: the last ACK after both FINs, or an RST.
		if tcp.RST || (b.fins >= 2 && tcp.ACK && !tcp.FIN) {
			b.closed, b.rst = true, tcp.RST
		}
	}
	var out []template
	for _, b := range order {
		if b.closed && !b.dropped {
			out = append(out, template{pkts: b.pkts, rst: b.rst})
		}
	}
	return out, nil
}

// genConfig says how to scale the templates up.
type genConfig struct {
	conns   int       // connections to write
	rate    float64   // new connections per second
	clients int       // client hosts; each connection takes the next port of its host
	start   time.Time // first SYN
	seed    uint64
}

// mix interleaves groups of templates: count connections of each group
// in turn, each group's templates taken in turn.
type mix []struct {
	tmpls []template
	count int
}

// order returns the templates of one cycle of the mix.
func (m mix) order() []template {
	var out []template
	next := make([]int, len(m))
	for {
		more := false
		for g, x := range m {
			for k := 0; k < x.count && len(x.tmpls) > 0; k++ {
				out = append(out, x.tmpls[next[g]%len(x.tmpls)])
				next[g]++
			}
			more = more || (x.count > 0 && next[g] < len(x.tmpls))
		}
		if !more {
			return out
		}
	}
}

// packetsPer returns the mean packets per connection of templates.
func packetsPer(tmpls []template) float64 {
	n := 0
	for _, t := range tmpls {
		n += len(t.pkts)
	}
	return float64(n) / float64(len(tmpls))
}

// event is the next packet of one connection in the merge.
type event struct {
	at   time.Time
	conn int
	next int // index of the packet in its template
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].conn < h[j].conn
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// rewrite is what one replayed connection changes in its template.
type rewrite struct {
	tmpl       *template
	clientIP   [4]byte
	clientPort uint16
	seq        [2]uint32 // offsets added to the client's and server's sequence numbers
	ts         [2]uint32 // and to their TCP timestamps
}

// generate writes cfg.conns connections, the templates taken in turn, as
// one pcap in time order. Each connection gets its own client address and
// port (distinct 4-tuples), random initial sequence numbers and timestamp
// offsets (as Linux gives each connection), and starts 1/rate seconds
// after the previous one; the packets keep their recorded spacing.
func generate(w io.Writer, tmpls []template, cfg genConfig) (packets int, err error) {
	if len(tmpls) == 0 || cfg.conns <= 0 || cfg.rate <= 0 || cfg.clients <= 0 || cfg.clients > 1<<16 {
		return 0, errors.New("generate: bad configuration")
	}
	const portLo, ports = 32768, 28232 // Linux's default ip_local_port_range
	if (cfg.conns+cfg.clients-1)/cfg.clients > ports {
		return 0, fmt.Errorf("generate: %d connections need more than %d client hosts for distinct 4-tuples", cfg.conns, cfg.clients)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriterNanos(bw)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(cfg.seed, 0x7477))
	conns := make(map[int]*rewrite)
	startOf := func(i int) time.Time {
		return cfg.start.Add(time.Duration(float64(i) / cfg.rate * float64(time.Second)))
	}
	var h eventHeap
	nextConn := 0
	buf := make([]byte, 0, 2048)
	for nextConn < cfg.conns || len(h) > 0 {
		// Open the connections that start before the earliest pending packet.
		for nextConn < cfg.conns && (len(h) == 0 || !startOf(nextConn).After(h[0].at)) {
			i := nextConn
			nextConn++
			host := i % cfg.clients
			rw := &rewrite{
				tmpl:       &tmpls[i%len(tmpls)],
				clientIP:   [4]byte{10, 200, byte(host >> 8), byte(host)},
				clientPort: uint16(portLo + (i/cfg.clients)%ports),
				seq:        [2]uint32{rng.Uint32(), rng.Uint32()},
				ts:         [2]uint32{rng.Uint32(), rng.Uint32()},
			}
			conns[i] = rw
			heap.Push(&h, event{at: startOf(i).Add(rw.tmpl.pkts[0].off), conn: i})
		}
		ev := heap.Pop(&h).(event)
		rw := conns[ev.conn]
		tp := &rw.tmpl.pkts[ev.next]
		buf = rw.packet(buf[:0], tp)
		ci := gopacket.CaptureInfo{Timestamp: ev.at, CaptureLength: len(buf), Length: tp.wireLen}
		if err := pw.WritePacket(ci, buf); err != nil {
			return packets, err
		}
		packets++
		if ev.next+1 < len(rw.tmpl.pkts) {
			start := ev.at.Add(-tp.off)
			heap.Push(&h, event{at: start.Add(rw.tmpl.pkts[ev.next+1].off), conn: ev.conn, next: ev.next + 1})
		} else {
			delete(conns, ev.conn)
		}
	}
	return packets, bw.Flush()
}

// packet appends the rewritten copy of a template packet to b.
func (rw *rewrite) packet(b []byte, tp *tpkt) []byte {
	b = append(b, tp.data...)
	ip, tcp := b[tp.ip:], b[tp.tcp:]
	me, peer := 1, 0          // indexes into rw.seq and rw.ts
	addrOff, portOff := 16, 2 // the client is the destination
	if tp.fromClient {
		me, peer = 0, 1
		addrOff, portOff = 12, 0
	}
	copy(ip[addrOff:addrOff+4], rw.clientIP[:])
	binary.BigEndian.PutUint16(tcp[portOff:], rw.clientPort)
	if t := rw.tmpl; t.server {
		copy(ip[28-addrOff:32-addrOff], t.serverIP[:])
		binary.BigEndian.PutUint16(tcp[2-portOff:], t.serverPort)
	}
	add32(tcp[4:], rw.seq[me])
	if tp.ack {
		add32(tcp[8:], rw.seq[peer])
	}
	if tp.ts >= 0 {
		add32(b[tp.ts:], rw.ts[me])
		if binary.BigEndian.Uint32(b[tp.ts+4:]) != 0 {
			add32(b[tp.ts+4:], rw.ts[peer])
		}
	}
	ihl := int(ip[0]&0x0f) * 4
	binary.BigEndian.PutUint16(ip[10:], 0)
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip[:ihl], 0)))
	if tp.full {
		seg := b[tp.tcp:]
		binary.BigEndian.PutUint16(seg[16:], 0)
		s := sum(ip[12:20], 0) + 6 + uint32(len(seg))
		binary.BigEndian.PutUint16(seg[16:], ^fold(sum(seg, s)))
	}
	return b
}

func add32(b []byte, d uint32) { binary.BigEndian.PutUint32(b, binary.BigEndian.Uint32(b)+d) }

// sum adds b as big-endian 16-bit words to s (the Internet checksum).
func sum(b []byte, s uint32) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
