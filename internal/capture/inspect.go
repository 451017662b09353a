package capture

/*
#cgo CFLAGS: -Wall -Wextra -Werror
#cgo LDFLAGS: -lpcap
#include <pcap/pcap.h>
#include <stdlib.h>

// gc_image is libpcap's text of instruction n of a program, as
// bpf_dump (tcpdump -d) prints it; the struct is built here so that Go
// need not know its layout.
static const char *gc_image(unsigned short code, unsigned char jt, unsigned char jf, unsigned int k, int n) {
	struct bpf_insn insn = {.code = code, .jt = jt, .jf = jf, .k = k};
	return bpf_image(&insn, n);
}
*/
import "C"

import (
	"fmt"
	"net"
	"strings"
	"unsafe"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"
)

// Program is the kernel program that a capture with c would attach: the
// filter as libpcap compiles it on the interface's open handle (its link
// type, snap length and the kernel's VLAN handling), or for the afpacket
// engine as that engine builds it. It is what tcpdump -d shows.
func Program(c Config) ([]bpf.RawInstruction, error) {
	if err := CheckEngine(c.Engine); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if _, err := ifIndex(c); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	if c.Engine == "afpacket" && c.Interface != "any" && c.Interface != "" {
		ifc, err := net.InterfaceByName(c.Interface)
		if err != nil {
			return nil, err
		}
		prog, err := compile(layers.LinkTypeEthernet, c.Snaplen, c.Filter)
		if err != nil {
			return nil, err
		}
		if ifc.Flags&net.FlagLoopback != 0 {
			prog = append(append([]bpf.RawInstruction(nil), skipOutgoing...), prog...)
		}
		return prog, nil
	}
	h, err := activate(c)
	if err != nil {
		return nil, classify(err)
	}
	defer h.Close()
	return compileOn(h, c.Filter)
}

// compileOn compiles filter with libpcap for the open handle h.
func compileOn(h *pcap.Handle, filter string) ([]bpf.RawInstruction, error) {
	ins, err := h.CompileBPFFilter(filter)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrFilter, filter, err)
	}
	prog := make([]bpf.RawInstruction, len(ins))
	for i, in := range ins {
		prog[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	return prog, nil
}

// FileProgram is the program that filter compiles to for the capture
// file name ("-": standard input), for its link type and snap length,
// as tcpdump -d -r prints it.
func FileProgram(name, filter string) ([]bpf.RawInstruction, error) {
	src, _, err := OpenFile(name, "")
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return compileOn(src.(*pcapSource).h, filter)
}

// FormatProgram writes prog as tcpdump -d (level 1), -dd (2) and -ddd
// (3 or more) print it, which is libpcap's bpf_dump.
func FormatProgram(prog []bpf.RawInstruction, level int) string {
	var b strings.Builder
	switch {
	case level >= 3:
		fmt.Fprintf(&b, "%d\n", len(prog))
		for _, in := range prog {
			fmt.Fprintf(&b, "%d %d %d %d\n", in.Op, in.Jt, in.Jf, in.K)
		}
	case level == 2:
		for _, in := range prog {
			fmt.Fprintf(&b, "{ 0x%x, %d, %d, 0x%08x },\n", in.Op, in.Jt, in.Jf, in.K)
		}
	default:
		for i, in := range prog {
			b.WriteString(C.GoString(C.gc_image(C.ushort(in.Op), C.uchar(in.Jt), C.uchar(in.Jf), C.uint(in.K), C.int(i))))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// DataLinks lists the data link types of c's interface as tcpdump -L
// does, each as "NAME (description)", or "DLT n" for a type libpcap has
// no name for.
func DataLinks(c Config) ([]string, error) {
	if _, err := ifIndex(c); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	c.LinkType = "" // all of them
	h, err := activate(c)
	if err != nil {
		return nil, classify(err)
	}
	defer h.Close()
	p, err := pcapT(h)
	if err != nil {
		return nil, err
	}
	var dlts *C.int
	n := int(C.pcap_list_datalinks(p, &dlts))
	if n < 0 {
		return nil, fmt.Errorf("%s: %s", c.Interface, C.GoString(C.pcap_geterr(p)))
	}
	defer C.pcap_free_datalinks(dlts)
	var lines []string
	for _, dlt := range unsafe.Slice(dlts, n) {
		name := C.pcap_datalink_val_to_name(dlt)
		if name == nil {
			lines = append(lines, fmt.Sprintf("DLT %d", int(dlt)))
			continue
		}
		lines = append(lines, fmt.Sprintf("%s (%s)", C.GoString(name), C.GoString(C.pcap_datalink_val_to_description_or_dlt(dlt))))
	}
	return lines, nil
}
