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
