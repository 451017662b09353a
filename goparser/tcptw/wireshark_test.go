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
