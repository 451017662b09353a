// Command cutgaps removes packets from a capture of one cleartext HTTP/2
// connection so that the server's byte stream has gaps that swallow frame
// boundaries, as a capture that lost packets (or one taken beyond a lossy
// link) has: Wireshark's TCP then hands on the segment after such a gap
// as if it continued the stream, in the middle of a frame.
//
// It reads the server's stream (the side with source port -port) in
// full, finds its frame boundaries with x/net/http2, and cuts every
// -every-th data segment that holds a boundary after its first octet,
// never the first or last such segment. The capture must have no gaps
// of its own.
//
//	cutgaps -in full.pcap -out cut.pcap -port 18082
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/http2"
)

type packet struct {
	ci      gopacket.CaptureInfo
	data    []byte
	seq     uint32 // server data segments: TCP sequence number
	payload []byte // server data segments: TCP payload (nil otherwise)
}

func main() {
	in := flag.String("in", "", "input pcap")
	out := flag.String("out", "", "output pcap")
	port := flag.Int("port", 0, "server TCP port")
	every := flag.Int("every", 3, "cut every Nth segment that holds a frame boundary")
	flag.Parse()
	if *in == "" || *out == "" || *port <= 0 || *every < 1 {
		flag.Usage()
		os.Exit(2)
	}
	cut, err := run(*in, *out, layers.TCPPort(*port), *every)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cutgaps:", err)
		os.Exit(1)
	}
	fmt.Println(cut)
}

// run writes the thinned capture and returns the cut frame numbers.
func run(inName, outName string, port layers.TCPPort, every int) ([]int, error) {
	f, err := os.Open(inName)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, err
	}
	var pkts []packet
	var isn uint32
	haveISN := false
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		p := packet{ci: ci, data: data}
		pk := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		if tcp, ok := pk.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && tcp.SrcPort == port {
			if tcp.SYN {
				isn, haveISN = tcp.Seq+1, true
			} else if len(tcp.Payload) > 0 {
				p.seq, p.payload = tcp.Seq, tcp.Payload
			}
		}
		pkts = append(pkts, p)
	}
	if !haveISN {
		return nil, errors.New("no SYN-ACK from the server")
	}

	// The server's stream. Segments may be captured out of order (loopback
	// retransmits too), but none may be missing.
	var end int
	for _, p := range pkts {
		if p.payload != nil {
			end = max(end, int(p.seq-isn)+len(p.payload))
		}
	}
	buf, have := make([]byte, end), make([]bool, end)
	for _, p := range pkts {
		if p.payload != nil {
			off := int(p.seq - isn)
			copy(buf[off:], p.payload)
			for i := off; i < off+len(p.payload); i++ {
				have[i] = true
			}
		}
	}
	for i, ok := range have {
		if !ok {
			return nil, fmt.Errorf("the server's stream has a gap at offset %d", i)
		}
	}
	boundaries := map[int]bool{}
	br := bytes.NewReader(buf)
	for off := 0; ; {
		fh, err := http2.ReadFrameHeader(br)
		if err != nil {
			break // end of the stream (or a frame cut by the capture's end)
		}
		boundaries[off] = true
		off += 9 + int(fh.Length)
		if _, err := br.Seek(int64(off), io.SeekStart); err != nil {
			break
		}
	}

	var candidates []int // packet indexes
	for i, p := range pkts {
		if p.payload == nil {
			continue
		}
		off := int(p.seq - isn)
		for b := off + 1; b < off+len(p.payload); b++ {
			if boundaries[b] {
				candidates = append(candidates, i)
				break
			}
		}
	}
	drop := map[int]bool{}
	var cut []int
	for k := every; k < len(candidates)-1; k += every {
		drop[candidates[k]] = true
		cut = append(cut, candidates[k]+1) // frame numbers count from 1
	}
	if len(cut) == 0 {
		return nil, fmt.Errorf("only %d segments hold a frame boundary: nothing to cut", len(candidates))
	}

	o, err := os.Create(outName)
	if err != nil {
		return nil, err
	}
	w := pcapgo.NewWriter(o)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		o.Close()
		return nil, err
	}
	for i, p := range pkts {
		if drop[i] {
			continue
		}
		if err := w.WritePacket(p.ci, p.data); err != nil {
			o.Close()
			return nil, err
		}
	}
	return cut, o.Close()
}
