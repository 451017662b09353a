// Package capture reads packets from a network interface, through
// libpcap (gopacket/pcap, read a ring-full at a time into pcap records or
// pcapng blocks) or an AF_PACKET TPACKET_V3 ring (gopacket/afpacket),
// with a BPF filter compiled by libpcap and run in the kernel, and writes
// them to pcap or pcapng files.
package capture

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// Source is an open capture.
type Source interface {
	// ReadPacket returns the next packet and fills in ci; the data is
	// valid until the next call or Close. It returns ErrTimeout when no packet
	// came in a while, so that callers can check for signals and
	// deadlines. (ci is filled in place: copying it on every return
	// was a tenth of the capture's time.)
	ReadPacket(ci *gopacket.CaptureInfo) ([]byte, error)
	LinkType() layers.LinkType
	// Stats reports packets that passed the filter and packets the
	// kernel dropped, since the capture started.
	Stats() (received, dropped uint64, err error)
	// SetFilter replaces the kernel filter while capturing.
	SetFilter(expr string) error
	Close()
}

// ErrTimeout means no packet arrived within the poll interval.
var ErrTimeout = errors.New("capture: timeout")

// Errors that say the capture cannot start as asked; Open wraps them
// with the details.
var (
	ErrFilter     = errors.New("bad filter")
	ErrInterface  = errors.New("No such device exists") // libpcap's words, which tcpdump prints
	ErrPermission = errors.New("capturing needs CAP_NET_RAW (promiscuous mode needs no more); run as root or grant it with setcap cap_net_raw+ep")
)

// classify wraps an error of opening a capture in the sentinel that
// explains it. libpcap reports errors as text.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrFilter) {
		return err
	}
	// libpcap's own text for it is "Permission Denied".
	if msg := strings.ToLower(err.Error()); errors.Is(err, os.ErrPermission) || strings.Contains(msg, "not permitted") || strings.Contains(msg, "permission denied") {
		return fmt.Errorf("%w (%v)", ErrPermission, err)
	}
	return err
}

// Config describes a capture.
type Config struct {
	Interface string // "any" for all interfaces
	Snaplen   int
	BufferKiB int // ring or kernel buffer size, as tcpdump's -B
	Filter    string
	Engine    string // "pcap" (default) or "afpacket"
	Promisc   bool
	Direction string // "in", "out" or "inout" (""), as tcpdump's -Q: libpcap only
	// LinkType is tcpdump's -y: a data link type's name (EN10MB,
	// LINUX_SLL2...), set on the handle as libpcap's pcap_set_datalink;
	// "" keeps the interface's (cooked v2 for any).
	LinkType string
	// Immediate is tcpdump's --immediate-mode: libpcap hands each packet
	// over as it arrives, instead of a ring block at a time (libpcap
	// only).
	Immediate bool
	// Nano requires nanosecond time stamps of libpcap, as tcpdump's
	// --time-stamp-precision=nano, failing where it cannot give them.
	// gopacket asks for them anyway, but falls back to microseconds
	// silently. (AF_PACKET's are always nanoseconds.)
	Nano bool
}

const pollInterval = 200 * time.Millisecond

// BlockTimeout is how long the kernel fills a ring block before handing
// it over part-full. Each hand-over costs a wake-up (and a Go scheduler
// hand-off), so it is long, as libpcap's default timeout is; a reader
// that stops must read on for this long to get the last packets.
const BlockTimeout = 100 * time.Millisecond

// ifIndex is the index of c's interface (0 for any), or why it cannot
// be captured on.
func ifIndex(c Config) (int, error) {
	if c.Interface == "" || c.Interface == "any" {
		return 0, nil
	}
	i, err := IfIndex(c.Interface)
	if err != nil {
		if isPcapDevice(c.Interface) {
			return 0, fmt.Errorf("%s: libpcap's device, not a network interface; gotcpdump captures on network interfaces and any", c.Interface)
		}
		// -i N past -D's list (gotcpdump's caller maps the others to
		// names), in tcpdump's words.
		if n, err := strconv.Atoi(c.Interface); err == nil && n >= 0 && !strings.HasPrefix(c.Interface, "+") {
			return 0, errors.New("Invalid adapter index (gotcpdump -D lists the interfaces)")
		}
		// As tcpdump says it ("tcpdump: eth9: No such device exists").
		return 0, fmt.Errorf("%s: %w (gotcpdump -D lists them)", c.Interface, ErrInterface)
	}
	return i, nil
}

// withDefaults is c with tcpdump's snap length and gotcpdump's buffer
// where c gives none.
func (c Config) withDefaults() Config {
	if c.Snaplen <= 0 {
		c.Snaplen = 262144
	}
	if c.BufferKiB <= 0 {
		c.BufferKiB = 32 * 1024
	}
	return c
}

func (c Config) anyIface() bool { return c.Interface == "any" || c.Interface == "" }

// EngineOverridden reports whether c asks for the afpacket engine on
// "any", which Open captures through libpcap instead: the caller tells
// the user, who would otherwise believe the engine was used.
func (c Config) EngineOverridden() bool { return c.Engine == "afpacket" && c.anyIface() }

// CheckEngine refuses an engine name that Open would not take. Open
// captures on "any" through libpcap whatever the engine, so a misspelt
// name there would otherwise pass unnoticed, until the interface changed.
func CheckEngine(name string) error {
	switch name {
	case "", "pcap", "afpacket":
		return nil
	}
	return fmt.Errorf("unknown engine %q (pcap or afpacket)", name)
}

// Open starts a capture. libpcap is the default: its batches go to a
// pcap file whole. The afpacket engine cannot give cooked headers for
// "any", which always goes through libpcap.
func Open(c Config) (Source, error) {
	if err := CheckEngine(c.Engine); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	ifindex, err := ifIndex(c)
	if err != nil {
		return nil, err
	}
	c = c.withDefaults()
	switch {
	case c.Engine == "" || c.Engine == "pcap" || c.anyIface():
		s, err := openPcap(c, ifindex)
		return s, classify(err)
	case c.Direction != "" && c.Direction != "inout":
		return nil, fmt.Errorf("capture: -Q %s needs the pcap engine", c.Direction)
	case c.Immediate:
		return nil, errors.New("capture: --immediate-mode needs the pcap engine")
	case c.LinkType != "" && pcap.DatalinkNameToVal(c.LinkType) != int(layers.LinkTypeEthernet):
		// An AF_PACKET socket of type SOCK_RAW gives Ethernet only.
		return nil, fmt.Errorf("%s is not one of the DLTs supported by this device (the afpacket engine's is EN10MB)", c.LinkType)
	default:
		s, err := openAFPacket(c)
		return s, classify(err)
	}
}
