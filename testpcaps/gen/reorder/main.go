// Command reorder delays TCP segments of one side of a capture, as a path
// that reorders packets delivers them (netem's "delay 10ms reorder 25%"):
// every -every-th data segment from source port -port goes through at
// once and the others -delay later, and the capture is written in the
// new order of arrival. Wireshark's TCP then sees segments after gaps,
// and the missing ones later, out of order.
//
//	reorder -in full.pcap -out reordered.pcap -port 18082 -every 4 -delay 10ms
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

type packet struct {
	ci   gopacket.CaptureInfo
	data []byte
	seg  bool // a data segment from the chosen port
}

func main() {
	in := flag.String("in", "", "input pcap")
	out := flag.String("out", "", "output pcap")
	port := flag.Int("port", 0, "TCP source port whose data segments are reordered")
	every := flag.Int("every", 4, "let every Nth data segment through at once")
	delay := flag.Duration("delay", 10*time.Millisecond, "delay of the other data segments")
	flag.Parse()
	if *in == "" || *out == "" || *port <= 0 || *every < 2 {
		flag.Usage()
		os.Exit(2)
	}
	moved, err := run(*in, *out, layers.TCPPort(*port), *every, *delay)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reorder:", err)
		os.Exit(1)
	}
	fmt.Println(moved)
}

// run writes the reordered capture and returns the original frame numbers
// of the segments it delayed.
func run(inName, outName string, port layers.TCPPort, every int, delay time.Duration) ([]int, error) {
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
		if tcp, ok := pk.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && tcp.SrcPort == port && len(tcp.Payload) > 0 {
			p.seg = true
		}
		pkts = append(pkts, p)
	}
	type arrival struct {
		at    time.Time
		index int
	}
	order := make([]arrival, len(pkts))
	var moved []int
	n := 0
	for i, p := range pkts {
		order[i] = arrival{p.ci.Timestamp, i}
		if !p.seg {
			continue
		}
		n++
		if n%every != 1 { // never the first segment: the connection is recognised by it
			order[i].at = order[i].at.Add(delay)
			moved = append(moved, i+1) // frame numbers count from 1
		}
	}
	if len(moved) == 0 {
		return nil, fmt.Errorf("only %d data segments from port %d: nothing to reorder", n, port)
	}
	sort.SliceStable(order, func(a, b int) bool { return order[a].at.Before(order[b].at) })
	o, err := os.Create(outName)
	if err != nil {
		return nil, err
	}
	w := pcapgo.NewWriter(o)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		o.Close()
		return nil, err
	}
	for _, a := range order {
		p := pkts[a.index]
		p.ci.Timestamp = a.at
		if err := w.WritePacket(p.ci, p.data); err != nil {
			o.Close()
			return nil, err
		}
	}
	return moved, o.Close()
}
