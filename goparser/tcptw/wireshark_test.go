package tcptw

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/schema"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

// TestExpertTextsConstant: -z expert groups expert items by their text,
// so each kind has one text whatever the numbers (tcptw.enter one per
// holder); the numbers are in the fields.
func TestExpertTextsConstant(t *testing.T) {
	d := NewDissector(Config{})
	texts := map[schema.ExpertID]map[string]bool{}
	holder := netip.MustParseAddrPort("10.0.0.2:80")
	for i := 1; i <= 50; i++ {
		v := Verdict{Conn: uint64(i), RolesKnown: true, Closer: CloserServer, Holder: holder, TWStarted: true,
			Population: i, Requests: 1, SynRetry: i%3 + 1, PortsInUse: 80 + i, PortRange: 100,
			Reuse: &Reuse{Since: time.Duration(i) * time.Millisecond, Accepted: i%2 == 0, Holder: holder}}
		var e result.Encoder
		var xs []tree.ExpertRecord
		d.render(&v, tree.Writer{E: &e, X: &xs})
		for _, x := range xs {
			if texts[x.ID] == nil {
				texts[x.ID] = map[string]bool{}
			}
			texts[x.ID][x.Msg] = true
		}
	}
	for id, want := range map[schema.ExpertID]int{xEnter: 1, xPorts: 1, xSynRetry: 1, xShortConn: 1, xReuse: 2} {
		if n := len(texts[id]); n != want {
			t.Errorf("expert %d: %d texts over 50 packets, want %d: %v", id, n, want, texts[id])
		}
	}
	// A client's sockets each have a port of their own: one text for the
	// host, or a storm is as many groups as connections.
	for i := 1; i <= 50; i++ {
		v := Verdict{Conn: uint64(100 + i), RolesKnown: true, Closer: CloserClient, TWStarted: true,
			Holder: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(40000+i))}
		var e result.Encoder
		var xs []tree.ExpertRecord
		d.render(&v, tree.Writer{E: &e, X: &xs})
		for _, x := range xs {
			if x.ID == xEnter && x.Msg != "10.0.0.1 enters TIME_WAIT" {
				t.Fatalf("client socket %v: %q", v.Holder, x.Msg)
			}
		}
	}
	for text := range texts[xShortConn] {
		if strings.Contains(text, "port is tied up") {
			t.Errorf("one_request says the port is tied up, although the server holds TIME_WAIT: %q", text)
		}
	}
}

// TestDissectorShortFrames: tshark's report counts the frames whose TCP
// header the snap length cut, as twreport's does; a frame whose options
// alone were cut is a segment.
func TestDissectorShortFrames(t *testing.T) {
	frame := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, // Ethernet
		0x45, 0, 0, 52, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
		0x9c, 0x40, 0x1f, 0x90, 0, 0, 0x03, 0xe8, 0, 0, 0, 1, 0x80, 0x10, 0x01, 0xf6, 0, 0, 0, 0, // TCP, 32 octets
		1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9}
	d := NewDissector(Config{})
	for i, snap := range []int{40, 53, 54, 60, 66} {
		d.Track(t0.Add(time.Duration(i)*time.Millisecond), 40000, 8080, frame[:snap])
	}
	if s := d.Engine.Report(false).Summary; s.TooShort != 2 || s.Packets != 3 {
		t.Fatalf("%d frames too short, %d packets; want 2 and 3", s.TooShort, s.Packets)
	}
}
