// Command recut cuts every TCP data segment of a capture into pieces of 1
// to -max octets (sizes drawn from -seed), as a sender with a small MSS
// or a middlebox that resegments would send them. Frame headers and HPACK
// blocks then fall across segments anywhere, which exercises TCP
// reassembly and its later passes.
//
//	recut -in h2c_go.pcap -out recut.pcap -max 100 -seed 2
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func main() {
	in := flag.String("in", "", "input pcap")
	out := flag.String("out", "", "output pcap")
	maxLen := flag.Int("max", 100, "largest piece, in octets")
	seed := flag.Int64("seed", 1, "seed of the piece sizes")
	flag.Parse()
	if *in == "" || *out == "" || *maxLen < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*in, *out, *maxLen, rand.New(rand.NewSource(*seed))); err != nil {
		fmt.Fprintln(os.Stderr, "recut:", err)
		os.Exit(1)
	}
}

func run(inName, outName string, maxLen int, rng *rand.Rand) error {
	f, err := os.Open(inName)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return err
	}
	o, err := os.Create(outName)
	if err != nil {
		return err
	}
	w := pcapgo.NewWriter(o)
	if err := w.WriteFileHeader(65535, r.LinkType()); err != nil {
		o.Close()
		return err
	}
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			o.Close()
			return err
		}
		if err := recut(w, r.LinkType(), ci, data, maxLen, rng); err != nil {
			o.Close()
			return err
		}
	}
	return o.Close()
}

// recut writes one packet, cut into pieces if it is a TCP data segment.
// Each piece is 1 µs after the one before; a FIN goes with the last.
func recut(w *pcapgo.Writer, lt layers.LinkType, ci gopacket.CaptureInfo, data []byte, maxLen int, rng *rand.Rand) error {
	pk := gopacket.NewPacket(data, lt, gopacket.Default)
	tcp, _ := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if tcp == nil || len(tcp.Payload) == 0 || pk.NetworkLayer() == nil {
		return w.WritePacket(ci, data)
	}
	var below []gopacket.SerializableLayer
	for _, l := range pk.Layers() {
		if l.LayerType() == layers.LayerTypeTCP {
			break
		}
		s, ok := l.(gopacket.SerializableLayer)
		if !ok {
			return fmt.Errorf("layer %v cannot be written", l.LayerType())
		}
		below = append(below, s)
	}
	payload := append([]byte(nil), tcp.Payload...)
	for off := 0; off < len(payload); {
		n := min(1+rng.Intn(maxLen), len(payload)-off)
		piece := *tcp
		piece.Seq = tcp.Seq + uint32(off)
		piece.FIN = tcp.FIN && off+n == len(payload)
		piece.Payload = nil
		if err := piece.SetNetworkLayerForChecksum(pk.NetworkLayer()); err != nil {
			return err
		}
		buf := gopacket.NewSerializeBuffer()
		ls := append(append([]gopacket.SerializableLayer(nil), below...), &piece, gopacket.Payload(payload[off:off+n]))
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			return err
		}
		pci := ci
		pci.CaptureLength, pci.Length = len(buf.Bytes()), len(buf.Bytes())
		if err := w.WritePacket(pci, buf.Bytes()); err != nil {
			return err
		}
		ci.Timestamp = ci.Timestamp.Add(time.Microsecond)
		off += n
	}
	return nil
}
