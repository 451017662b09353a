// Command hostile writes a corpus of hostile captures for the plugin:
// what a corrupted file, a truncating snap length or an attacker puts in
// front of the dissectors. The corpus is made at test time, never
// committed; tests/hostile_test.go runs tshark with the plugin on it.
//
//	hostile -out DIR [-n N] [-seed S]
//
// Families (the file name starts with the family):
//
//	flip-*      the testpcaps captures with random bit flips in packet data
//	trunc-*     the same with every packet cut to a random length
//	maxlen-*    HTTP/2 frames whose length field is 2^24-1
//	hpackbomb-* header blocks that index one large dynamic entry thousands of times
//	contflood-* HEADERS without END_HEADERS followed by 20,000 CONTINUATION frames
//	streams-*   one connection opening 1,000,000 streams
//	grpc4g-*    a gRPC message whose length prefix claims 4 GiB
//	gzipbomb-*, zstdbomb-* gRPC messages that inflate far past the cap
//	pbdeep-*    a protobuf message nested 10,000 deep
//	synflood-*  100,000 SYNs from random tuples
//
// Everything is derived from -seed, so a corpus can be made again exactly.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/encoding/protowire"
)

func main() {
	out := flag.String("out", "", "directory to write the captures into")
	n := flag.Int("n", 1000, "number of captures (at least one of each family)")
	seed := flag.Int64("seed", 1, "random seed")
	src := flag.String("src", "testpcaps", "directory of the captures to mutate")
	flag.Parse()
	if *out == "" {
		log.Fatal("usage: hostile -out DIR [-n N] [-seed S]")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	g := &gen{dir: *out, rng: rand.New(rand.NewSource(*seed))}
	bases := g.loadBases(*src)
	crafted := []func(int){g.maxLen, g.hpackBomb, g.contFlood, g.streams, g.grpc4G, g.gzipBomb, g.zstdBomb, g.pbDeep, g.synFlood}
	for i, f := range crafted {
		f(i)
	}
	for i := len(crafted); i < *n; i++ {
		b := bases[g.rng.Intn(len(bases))]
		if i%2 == 0 {
			g.flip(i, b)
		} else {
			g.trunc(i, b)
		}
	}
	fmt.Printf("wrote %d captures to %s\n", max(*n, len(crafted)), *out)
}

type packet struct {
	ci   gopacket.CaptureInfo
	data []byte
}

type base struct {
	name    string
	link    layers.LinkType
	packets []packet
}

type gen struct {
	dir string
	rng *rand.Rand
}

func (g *gen) loadBases(dir string) []base {
	var out []base
	for _, name := range []string{"h2c_go.pcap", "nghttp2_push_padding.pcap", "grpc_h2c_gzip.pcap", "tw_healthz_storm.pcap", "tw_tuple_reuse.pcap"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			log.Fatal(err)
		}
		r, err := pcapgo.NewReader(f)
		if err != nil {
			log.Fatal(err)
		}
		b := base{name: name, link: r.LinkType()}
		for {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				break
			}
			b.packets = append(b.packets, packet{ci, data})
		}
		f.Close()
		out = append(out, b)
	}
	return out
}

func (g *gen) write(name string, link layers.LinkType, packets []packet) {
	f, err := os.Create(filepath.Join(g.dir, name))
	if err != nil {
		log.Fatal(err)
	}
	w := pcapgo.NewWriterNanos(f)
	if err := w.WriteFileHeader(262144, link); err != nil {
		log.Fatal(err)
	}
	for _, p := range packets {
		if err := w.WritePacket(p.ci, p.data); err != nil {
			log.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// flip copies a capture with a few random bits flipped in some packets
// (the link, IP and TCP headers included).
func (g *gen) flip(i int, b base) {
	var ps []packet
	for _, p := range b.packets {
		d := append([]byte(nil), p.data...)
		if len(d) > 0 && g.rng.Intn(4) == 0 {
			for k := 0; k < 1+g.rng.Intn(4); k++ {
				d[g.rng.Intn(len(d))] ^= 1 << g.rng.Intn(8)
			}
		}
		ci := p.ci
		ci.CaptureLength = len(d)
		ps = append(ps, packet{ci, d})
	}
	g.write(fmt.Sprintf("flip-%04d-%s", i, b.name), b.link, ps)
}

// trunc copies a capture with packets cut short, as a small snap length
// or a damaged file would leave them.
func (g *gen) trunc(i int, b base) {
	var ps []packet
	for _, p := range b.packets {
		d := p.data
		if len(d) > 0 && g.rng.Intn(3) == 0 {
			d = d[:g.rng.Intn(len(d))]
		}
		ci := p.ci
		ci.CaptureLength = len(d)
		ps = append(ps, packet{ci, d})
	}
	g.write(fmt.Sprintf("trunc-%04d-%s", i, b.name), b.link, ps)
}

// flow builds the packets of one TCP connection, client to server, with
// consistent sequence numbers so that Wireshark reassembles it.
type flow struct {
	eth      layers.Ethernet
	ip       layers.IPv4
	seq, ack uint32
	t        time.Time
	out      []packet
	mss      int
}

func newFlow(src, dst net.IP, sport, dport uint16) *flow {
	f := &flow{
		eth: layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		ip:  layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst},
		seq: 1000, ack: 5000, t: time.Unix(1_790_000_000, 0), mss: 16000,
	}
	f.tcp(layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: true}, nil)
	f.seq++
	return f
}

func (f *flow) tcp(t layers.TCP, payload []byte) {
	t.Seq, t.Ack, t.Window = f.seq, f.ack, 65535
	t.ACK = !t.SYN
	if t.SrcPort == 0 {
		t.SrcPort, t.DstPort = 40000, 8080
	}
	_ = t.SetNetworkLayerForChecksum(&f.ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, &f.eth, &f.ip, &t, gopacket.Payload(payload)); err != nil {
		log.Fatal(err)
	}
	f.t = f.t.Add(time.Millisecond)
	d := append([]byte(nil), buf.Bytes()...)
	f.out = append(f.out, packet{gopacket.CaptureInfo{Timestamp: f.t, CaptureLength: len(d), Length: len(d)}, d})
}

// send writes a byte stream in segments of at most mss octets.
func (f *flow) send(sport, dport uint16, b []byte) {
	for len(b) > 0 {
		n := min(len(b), f.mss)
		f.tcp(layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), PSH: true}, b[:n])
		f.seq += uint32(n)
		b = b[n:]
	}
}

const cport, sport = 40000, 50051

func h2conn() (*bytes.Buffer, *http2.Framer) {
	var buf bytes.Buffer
	buf.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&buf, nil)
	fr.AllowIllegalWrites = true
	_ = fr.WriteSettings()
	return &buf, fr
}

func (g *gen) emit(name string, payload []byte) {
	f := newFlow(net.IP{10, 9, 0, 1}, net.IP{10, 9, 0, 2}, cport, sport)
	f.send(cport, sport, payload)
	g.write(name, layers.LinkTypeEthernet, f.out)
}

func block(fields ...string) []byte {
	var b bytes.Buffer
	e := hpack.NewEncoder(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = e.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return b.Bytes()
}

func grpcHeaders(extra ...string) []byte {
	return block(append([]string{":method", "POST", ":scheme", "http", ":path", "/pkg.Svc/Call", ":authority", "x", "content-type", "application/grpc"}, extra...)...)
}

// maxLen: frames that claim 2^24-1 octets, then end.
func (g *gen) maxLen(i int) {
	buf, _ := h2conn()
	for k := 0; k < 3; k++ {
		buf.Write([]byte{0xff, 0xff, 0xff, byte(k), 0, 0, 0, 0, 1})
		buf.Write(bytes.Repeat([]byte{0x41}, 1000))
	}
	g.emit(fmt.Sprintf("maxlen-%04d.pcap", i), buf.Bytes())
}

// hpackBomb: a 4 KiB header value put in the dynamic table once, then
// referenced by index thousands of times per block (decoded, megabytes),
// in 300 blocks: kept whole, each block's result grew tshark by 2 MB.
func (g *gen) hpackBomb(i int) {
	buf, fr := h2conn()
	big := bytes.Repeat([]byte("b"), 4000)
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":method", "GET", ":path", "/", "x-big", string(big)), EndHeaders: true})
	refs := bytes.Repeat([]byte{0xbe}, 16000) // index 62: the newest dynamic entry
	for s := uint32(3); s < 603; s += 2 {
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: s, BlockFragment: refs, EndHeaders: true})
	}
	g.emit(fmt.Sprintf("hpackbomb-%04d.pcap", i), buf.Bytes())
}

// contFlood: a header block that never ends.
func (g *gen) contFlood(i int) {
	buf, fr := h2conn()
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":method", "GET"), EndHeaders: false})
	for k := 0; k < 20000; k++ {
		_ = fr.WriteContinuation(1, false, []byte{0x40, 0x01, 'a', 0x01, 'b'})
	}
	g.emit(fmt.Sprintf("contflood-%04d.pcap", i), buf.Bytes())
}

// streams: one connection opening a million streams.
func (g *gen) streams(i int) {
	buf, fr := h2conn()
	frag := []byte{0x82} // :method GET
	for s := uint32(1); s < 2_000_000; s += 2 {
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: s, BlockFragment: frag, EndHeaders: true})
	}
	g.emit(fmt.Sprintf("streams-%04d.pcap", i), buf.Bytes())
}

func (g *gen) grpcStream(name string, prefixAndBody []byte, extra ...string) {
	buf, fr := h2conn()
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: grpcHeaders(extra...), EndHeaders: true})
	for len(prefixAndBody) > 0 {
		n := min(len(prefixAndBody), 16384)
		_ = fr.WriteData(1, false, prefixAndBody[:n])
		prefixAndBody = prefixAndBody[n:]
	}
	g.emit(name, buf.Bytes())
}

func prefixed(compressed bool, msg []byte, claim uint32) []byte {
	p := make([]byte, 5, 5+len(msg))
	if compressed {
		p[0] = 1
	}
	binary.BigEndian.PutUint32(p[1:], claim)
	return append(p, msg...)
}

// grpc4G: a message that claims 4 GiB and brings 64 KiB.
func (g *gen) grpc4G(i int) {
	g.grpcStream(fmt.Sprintf("grpc4g-%04d.pcap", i), prefixed(false, bytes.Repeat([]byte{0x0a}, 65536), 0xffffffff))
}

// gzipBomb: 64 MiB of zeros, gzip-compressed to about 64 KiB.
func (g *gen) gzipBomb(i int) {
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	chunk := make([]byte, 1<<20)
	for k := 0; k < 64; k++ {
		_, _ = w.Write(chunk)
	}
	_ = w.Close()
	g.grpcStream(fmt.Sprintf("gzipbomb-%04d.pcap", i), prefixed(true, z.Bytes(), uint32(z.Len())), "grpc-encoding", "gzip")
}

// zstdBomb: 256 MiB of zeros in a few KiB of zstd.
func (g *gen) zstdBomb(i int) {
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	z := enc.EncodeAll(make([]byte, 256<<20), nil)
	g.grpcStream(fmt.Sprintf("zstdbomb-%04d.pcap", i), prefixed(true, z, uint32(len(z))), "grpc-encoding", "zstd")
}

// pbDeep: field 1 holding field 1 holding ... 10,000 deep.
func (g *gen) pbDeep(i int) {
	msg := []byte{}
	for d := 0; d < 10000; d++ {
		inner := msg
		msg = protowire.AppendTag(nil, 1, protowire.BytesType)
		msg = protowire.AppendBytes(msg, inner)
	}
	g.grpcStream(fmt.Sprintf("pbdeep-%04d.pcap", i), prefixed(false, msg, uint32(len(msg))))
}

// synFlood: SYNs from random addresses and ports to one server.
func (g *gen) synFlood(i int) {
	var ps []packet
	t := time.Unix(1_790_000_000, 0)
	for k := 0; k < 100000; k++ {
		src := net.IP{byte(10 + g.rng.Intn(200)), byte(g.rng.Intn(256)), byte(g.rng.Intn(256)), byte(1 + g.rng.Intn(254))}
		f := &flow{
			eth: layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
			ip:  layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: net.IP{10, 9, 0, 2}},
			seq: g.rng.Uint32(), t: t,
		}
		f.tcp(layers.TCP{SrcPort: layers.TCPPort(1024 + g.rng.Intn(64000)), DstPort: 443, SYN: true}, nil)
		t = t.Add(10 * time.Microsecond)
		ps = append(ps, f.out...)
	}
	g.write(fmt.Sprintf("synflood-%04d.pcap", i), layers.LinkTypeEthernet, ps)
}
