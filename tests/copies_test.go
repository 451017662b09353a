package tests

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/tcptw"
	"github.com/gotcpdump/gotcpdump/internal/syncbuf"
)

// TestCopiesOnTwoInterfaces: on a host whose server sits behind a bridge
// (containers on a node), gotcpdump's default -i any captures each
// packet twice, on the veth and on the bridge. tcptw must find in that
// capture what it finds in the bridge's alone: the same connections,
// closes, TIME_WAIT sockets and requests, with the second copies counted
// apart. Before, every copy of a final ACK opened a partial connection,
// SYN copies read as retransmissions, and requests and bytes doubled.
func TestCopiesOnTwoInterfaces(t *testing.T) {
	dir := labBinaries(t)
	l := newLab(t, 40)
	br := l.bridge()
	type capture struct {
		file string
		cmd  *exec.Cmd
		err  syncbuf.Buffer
	}
	var caps []*capture
	for _, ifc := range []string{"any", br} {
		c := &capture{file: filepath.Join(dir, "copies-"+ifc+".pcap")}
		c.cmd = exec.Command("ip", "netns", "exec", l.srvNS, gotcpdumpBin, "-i", ifc, "-w", c.file, "tcp")
		c.cmd.Stderr = &c.err
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, &c.err, 10*time.Second, "listening on")
		caps = append(caps, c)
	}
	l.start(l.srvNS, httpServer(l)...)
	l.waitListening(l.srvNS, l.srvIP.String()+":8080")
	for _, mode := range []string{"close", "nokeepalive"} {
		cl := l.start(l.cliNS, httpClient(mode, 15, "20ms")(l)[0]...)
		_ = cl.Wait()
	}
	time.Sleep(500 * time.Millisecond)
	reports := make([]*tcptw.Report, len(caps))
	for i, c := range caps {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("gotcpdump: %v: %s", err, c.err.String())
		}
		if !strings.Contains(c.err.String(), "\n0 packets dropped by kernel") {
			t.Fatalf("gotcpdump dropped packets: %s", c.err.String())
		}
		reports[i] = analyse(t, c.file).Report(false)
	}
	anyR, brR := reports[0].Summary, reports[1].Summary
	if anyR.Packets < 2*brR.Packets-4 || brR.Copies != 0 || anyR.Copies == 0 {
		t.Fatalf("-i any: %d packets, %d second copies; the bridge alone: %d packets, %d copies: the capture did not hold each packet twice",
			anyR.Packets, anyR.Copies, brR.Packets, brR.Copies)
	}
	if brR.Connections != 30 || brR.Partial != 0 {
		t.Fatalf("the bridge's capture: %d connections (%d partial), want 30 complete", brR.Connections, brR.Partial)
	}
	for _, s := range []*tcptw.Summary{&anyR, &brR} {
		s.Start, s.End, s.Seconds, s.Packets, s.Copies = nil, nil, 0, 0, 0
	}
	if got, want := jsonOf(t, anyR), jsonOf(t, brR); got != want {
		t.Errorf("-i any, summary:\n%s\nthe bridge alone:\n%s", got, want)
	}
	// Pairs: connections, requests, bytes, closes and TIME_WAIT, as the
	// bridge saw them (times differ by the microseconds between copies).
	pairs := func(r *tcptw.Report) string {
		var b strings.Builder
		for _, p := range r.Pairs {
			b.WriteString(jsonOf(t, []any{p.Client, p.Server, p.Connections, p.RequestsPerConn, p.BytesToServer, p.BytesToClient, p.Closers, p.ObservedTimeWait}))
		}
		return b.String()
	}
	if got, want := pairs(reports[0]), pairs(reports[1]); got != want {
		t.Errorf("-i any, pairs: %s\nthe bridge alone: %s", got, want)
	}
	if got, want := jsonOf(t, reports[0].Findings), jsonOf(t, reports[1].Findings); got != want {
		t.Errorf("-i any, findings: %s\nthe bridge alone: %s", got, want)
	}

	// In tshark: each copy is marked, the report is twreport's, and a
	// second pass shows what the first found.
	file := caps[0].file
	out, err := exec.Command(goBuild(t, dir, "./cmd/twreport"), file).Output()
	if err != nil {
		t.Fatalf("twreport: %v", err)
	}
	if got := tshark(t, pluginEnv, "-q", "-r", file, "-z", "tcptw,report"); got != string(out) {
		t.Errorf("tshark -z tcptw,report differs from twreport:\n%s", firstDiff(string(out), got))
	}
	if !strings.Contains(string(out), "second copies of segments") {
		t.Errorf("twreport does not say that it left copies out:\n%s", out)
	}
	marked := strings.Fields(tshark(t, pluginEnv, "-r", file, "-Y", "tcptw.copy", "-T", "fields", "-e", "frame.number"))
	if len(marked) != reports[0].Summary.Copies {
		t.Errorf("%d frames marked tcptw.copy; the engine counted %d copies", len(marked), reports[0].Summary.Copies)
	}
	args := []string{"-r", file, "-T", "fields", "-e", "frame.number", "-e", "tcptw.conn", "-e", "tcptw.copy", "-e", "tcptw.tw_enter", "-e", "_ws.expert.message"}
	if one, two := tshark(t, pluginEnv, args...), tshark(t, pluginEnv, append([]string{"-2"}, args...)...); one != two {
		t.Errorf("tshark -2 differs from one pass:\n%s", firstDiff(one, two))
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
