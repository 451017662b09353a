package tests

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestOctetsNotUTF8: on h2_not_utf8.pcap, whose header values and
// grpc-message hold octets that are not UTF-8, tshark's JSON, EK and PDML
// output stays readable, and goh2 and gogrpc show each such octet as
// U+FFFD, as Wireshark's http2 does.
func TestOctetsNotUTF8(t *testing.T) {
	t.Parallel()
	file := pcap("h2_not_utf8.pcap")
	for _, format := range []string{"json", "ek", "pdml"} {
		out := tshark(t, pluginEnv, "-r", file, "-T", format)
		if !utf8.ValidString(out) {
			t.Errorf("-T %s: output is not UTF-8", format)
		}
		var err error
		switch format {
		case "json":
			var v any
			err = json.Unmarshal([]byte(out), &v)
		case "ek":
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var v any
				if err = json.Unmarshal([]byte(line), &v); err != nil {
					break
				}
			}
		case "pdml":
			d := xml.NewDecoder(bytes.NewReader([]byte(out)))
			for err == nil {
				_, err = d.Token()
			}
			if err == io.EOF {
				err = nil
			}
		}
		if err != nil {
			t.Errorf("-T %s: %v", format, err)
		}
		sep := "." // EK names fields with underscores
		if format == "ek" {
			sep = "_"
		}
		if !strings.Contains(out, "goh2"+sep+"header"+sep+"value") || !strings.Contains(out, "gogrpc"+sep+"status_message") {
			t.Errorf("-T %s: no goh2.header.value or gogrpc.status_message", format)
		}
	}
	got := tshark(t, pluginEnv, "-r", file, "-Y", `goh2.header.name == "x-raw" || gogrpc.status_message`,
		"-T", "fields", "-E", "aggregator=|", "-e", "goh2.header.value", "-e", "gogrpc.status_message")
	for _, want := range []string{
		"|a\ufffd\ufffdb\t",                             // curl's x-raw: a\xff\xfeb
		"\tbad \ufffd\ufffd octets, caf\u00e9\n",        // grpc-go sent the octets as U+FFFD
		"|bad %FF%FE octets\tbad \ufffd\ufffd octets\n", // net/http, percent-encoded as they are
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	builtin := tshark(t, plainEnv, "-r", file, "-d", "tcp.port==18096,http2", "-Y", `http2.header.name == "x-raw"`,
		"-T", "fields", "-E", "aggregator=|", "-e", "http2.header.value")
	if !strings.Contains(builtin, "|a\ufffd\ufffdb\n") {
		t.Errorf("Wireshark's http2 shows x-raw otherwise:\n%s", builtin)
	}
}
