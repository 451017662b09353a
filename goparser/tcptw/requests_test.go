package tcptw

import (
	"slices"
	"testing"
)

func TestTLSAlert(t *testing.T) {
	alert12 := []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00}                  // close_notify up to TLS 1.2
	alert13 := append([]byte{0x17, 0x03, 0x03, 0x00, 0x13}, make([]byte, 19)...) // in TLS 1.3: 19 octets of application data
	data := append([]byte{0x17, 0x03, 0x03, 0x00, 0x40}, make([]byte, 64)...)
	for _, tc := range []struct {
		name       string
		p          []byte
		last, only bool
	}{
		{"TLS 1.2 alert", alert12, true, true},
		{"TLS 1.3 alert", alert13, true, true},
		{"two alerts", slices.Concat(alert12, alert12), true, true},
		{"data, then an alert", slices.Concat(data, alert13), true, false},
		{"an alert, then data", slices.Concat(alert12, data), false, false},
		{"data", data, false, false},
		{"an alert cut short", alert12[:6], false, false},
		{"data cut short, then nothing", slices.Concat(data, alert12)[:60], false, false},
		{"a handshake record", tlsHello, false, false},
		{"not TLS", []byte("GET / HTTP/1.1\r\n\r\n"), false, false},
		{"empty", nil, false, false},
	} {
		if last, only := tlsAlert(tc.p); last != tc.last || only != tc.only {
			t.Errorf("%s: last %v, only %v; want %v, %v", tc.name, last, only, tc.last, tc.only)
		}
	}
}

// TestTLSOffersH2: the ClientHello's ALPN offers h2, as far as the
// segment holds it; an HTTP/2 client may take two turns more.
// clientHello is a TLS ClientHello whose ALPN offers protos.
func clientHello(protos ...string) []byte {
	var alpn []byte
	for _, p := range protos {
		alpn = append(alpn, byte(len(p)))
		alpn = append(alpn, p...)
	}
	ext := slices.Concat([]byte{0x00, 0x00, 0x00, 0x00}, // server_name, empty
		[]byte{0x00, 0x10, 0x00, byte(len(alpn) + 2), 0x00, byte(len(alpn))}, alpn,
		[]byte{0x00, 0x33, 0x00, 0x04, 1, 2, 3, 4}) // key_share
	body := slices.Concat([]byte{0x03, 0x03}, make([]byte, 32), // version, random
		[]byte{0x00},                   // session ID
		[]byte{0x00, 0x02, 0x13, 0x01}, // cipher suites
		[]byte{0x01, 0x00},             // compression
		[]byte{0x00, byte(len(ext))}, ext)
	msg := slices.Concat([]byte{0x01, 0x00, 0x00, byte(len(body))}, body)
	return slices.Concat([]byte{0x16, 0x03, 0x01, 0x00, byte(len(msg))}, msg)
}

func TestTLSOffersH2(t *testing.T) {
	hello := clientHello
	full := hello("h2", "http/1.1")
	alpnEnd := len(full) - 8 // the key share's extension follows ALPN's
	for _, tc := range []struct {
		name string
		p    []byte
		want bool
	}{
		{"h2 and http/1.1", full, true},
		{"http/1.1 only", hello("http/1.1"), false},
		{"no ALPN", hello(), false},
		{"cut after ALPN", full[:alpnEnd], true},
		{"cut inside ALPN", full[:alpnEnd-3], false},
		{"not a ClientHello", tlsRecord, false},
	} {
		if got := tlsOffersH2(tc.p); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	r := reqTracker{}
	r.clientPayload(full, false)
	if !r.tls || !r.offersH2 {
		t.Fatalf("tracker %+v", r)
	}
	r.turns = tlsFewTurns + 2
	if !r.fewTurns() {
		t.Errorf("%d turns of an HTTP/2 client are not few", r.turns)
	}
	r.offersH2 = false
	if r.fewTurns() {
		t.Errorf("%d turns of an HTTP/1 client are few", r.turns)
	}
}

// FuzzTLSRecords: the readers of TLS records in the client's and the
// server's segments take any octets. Invariants: a segment of alerts
// alone ends with one; a ClientHello that offers h2 still does with
// octets after it.
func FuzzTLSRecords(f *testing.F) {
	f.Add(clientHello("h2", "http/1.1"))
	f.Add(clientHello("http/1.1"))
	f.Add(slices.Concat(tlsRecord, []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00}))
	f.Add(slices.Concat([]byte{0x14, 0x03, 0x03, 0x00, 0x01, 0x01}, tlsHello))
	f.Fuzz(func(t *testing.T, p []byte) {
		if last, only := tlsAlert(p); only && !last {
			t.Fatalf("alerts alone, but not ending with one: %x", p)
		}
		if tlsOffersH2(p) && !tlsOffersH2(append(slices.Clip(p), 0xff, 0xff, 0xff)) {
			t.Fatalf("h2 offered, but not with more after: %x", p)
		}
		tlsRetriedHello(p)
		(&reqTracker{tls: true}).tlsClientData(p)
	})
}

func TestTLSClientData(t *testing.T) {
	ccs := []byte{0x14, 0x03, 0x03, 0x00, 0x01, 0x01}
	appData := func(n int) []byte { return append([]byte{0x17, 0x03, 0x03, byte(n >> 8), byte(n)}, make([]byte, n)...) }
	alert13 := appData(19)
	for _, tc := range []struct {
		name      string
		segments  [][]byte
		requested bool
	}{
		{"TLS 1.3 Finished, SHA-256", [][]byte{slices.Concat(ccs, appData(53))}, false},
		{"TLS 1.3 Finished, SHA-384, then an alert", [][]byte{slices.Concat(ccs, appData(69)), alert13}, false},
		{"TLS 1.3 Finished and a request", [][]byte{slices.Concat(ccs, appData(53), appData(80))}, true},
		{"TLS 1.3 Finished, then a request", [][]byte{slices.Concat(ccs, appData(53)), appData(80)}, true},
		{"a second record of a Finished's size", [][]byte{slices.Concat(ccs, appData(53)), appData(53)}, true},
		{"a Finished's size without ChangeCipherSpec", [][]byte{appData(53)}, true},
		{"TLS 1.2: handshake records, ChangeCipherSpec, Finished", [][]byte{slices.Concat([]byte{0x16, 0x03, 0x03, 0x00, 0x02, 0x10, 0x00}, ccs, []byte{0x16, 0x03, 0x03, 0x00, 0x01, 0x00})}, false},
		{"TLS 1.2, then a request", [][]byte{slices.Concat(ccs, []byte{0x16, 0x03, 0x03, 0x00, 0x01, 0x00}), appData(60)}, true},
		{"not records", [][]byte{[]byte("the middle of a record")}, true},
	} {
		r := reqTracker{tls: true}
		for _, p := range tc.segments {
			r.clientPayload(p, false)
		}
		if r.requested != tc.requested {
			t.Errorf("%s: requested %v, want %v", tc.name, r.requested, tc.requested)
		}
	}
}
