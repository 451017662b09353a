package tests

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestTcptwAgreesWithTwreport: the Wireshark postdissector and twreport
// run one engine, each decoding the frames itself; on the same files they
// must give the same answers.
func TestTcptwAgreesWithTwreport(t *testing.T) {
	bin := filepath.Join(root, "build", "out", "twreport")
	caps, _ := filepath.Glob(filepath.Join(root, "testpcaps", "tw_*.pcap"))
	for _, c := range caps {
		t.Run(filepath.Base(c), func(t *testing.T) {
			want, err := exec.Command(bin, c).Output()
			if err != nil {
				t.Fatalf("twreport: %v (run make build)", err)
			}
			got := tshark(t, pluginEnv, "-q", "-r", c, "-z", "tcptw,report")
			if got != string(want) {
				t.Fatalf("tshark -z tcptw,report differs from twreport:\n%s", firstDiff(string(want), got))
			}

			js, err := exec.Command(bin, "--json", c).Output()
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Summary struct {
					Closes         map[string]int `json:"closes"`
					ReusesAccepted int            `json:"tuple_reuses_accepted"`
					SYNRetries     int            `json:"syn_retransmissions"`
				} `json:"summary"`
				Hosts []struct {
					Address string `json:"address"`
					Peak    int    `json:"peak"`
				} `json:"hosts"`
			}
			if err := json.Unmarshal(js, &r); err != nil {
				t.Fatal(err)
			}
			// The per-packet fields: the holder's population peaks where
			// the report says, and the per-packet events add up.
			peak := map[string]int{}
			rows := tshark(t, pluginEnv, "-r", c, "-Y", "tcptw.population", "-T", "fields", "-e", "tcptw.holder", "-e", "tcptw.population")
			for _, line := range strings.Split(strings.TrimSpace(rows), "\n") {
				f := strings.Split(line, "\t")
				if len(f) != 2 || f[0] == "" {
					continue
				}
				host := f[0][:strings.LastIndex(strings.Split(f[0], ",")[0], ":")]
				n, _ := strconv.Atoi(strings.Split(f[1], ",")[0])
				peak[host] = max(peak[host], n)
			}
			for _, h := range r.Hosts {
				if peak[h.Address] != h.Peak {
					t.Errorf("%s: tcptw.population peaks at %d, twreport says %d", h.Address, peak[h.Address], h.Peak)
				}
			}
			count := func(filter string) int {
				out := strings.TrimSpace(tshark(t, pluginEnv, "-r", c, "-Y", filter))
				if out == "" {
					return 0
				}
				return strings.Count(out, "\n") + 1
			}
			if n := count("tcptw.reuse.accepted == 1"); n != r.Summary.ReusesAccepted {
				t.Errorf("%d accepted reuses in the fields, %d in the report", n, r.Summary.ReusesAccepted)
			}
			if n := count("tcptw.syn_retry"); n != r.Summary.SYNRetries {
				t.Errorf("%d SYN retries in the fields, %d in the report", n, r.Summary.SYNRetries)
			}
			enter := count("tcptw.tw_enter && tcptw.closer == \"client\"")
			if enter > r.Summary.Closes["client"] {
				t.Errorf("%d client-held TIME_WAIT entries for %d client closes", enter, r.Summary.Closes["client"])
			}
			one := tshark(t, pluginEnv, "-r", c, "-O", "tcptw")
			two := tshark(t, pluginEnv, "-2", "-r", c, "-O", "tcptw")
			if one != two {
				t.Fatalf("tshark -2 differs:\n%s", firstDiff(one, two))
			}
		})
	}
}
