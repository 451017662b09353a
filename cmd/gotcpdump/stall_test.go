package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestStopWithStalledReader: SIGINT stops a capture into a pipe whose
// reader has stopped reading (a stalled ssh, a paused tshark), as it
// stops tcpdump, instead of leaving it blocked in a write that the
// runtime restarts after each signal: exit 0 with the counts, within
// stopGrace and a little. The capture is a file read into -w -, large
// enough to fill the pipe.
func TestStopWithStalledReader(t *testing.T) {
	if args := os.Getenv("GOTCPDUMP_TEST_RUN"); args != "" {
		os.Exit(run(strings.Fields(args), os.Stderr))
	}
	in := filepath.Join(t.TempDir(), "in.pcap")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	pw := pcapgo.NewWriter(f)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1000)
	for i := 0; i < 4000; i++ {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1_700_000_000, int64(i)*1000), CaptureLength: len(data), Length: len(data)}
		if err := pw.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close() // never read
	cmd := exec.Command(os.Args[0], "-test.run=^TestStopWithStalledReader$")
	cmd.Env = append(os.Environ(), "GOTCPDUMP_TEST_RUN=-r "+in+" -w -")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	time.Sleep(time.Second) // the pipe is full: the capture waits in a write
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	exited, err := exitWithin(cmd, stopGrace+5*time.Second, func() { _ = cmd.Process.Kill() })
	if !exited {
		t.Fatalf("still running %v after SIGINT, its reader stalled; stderr:\n%s", stopGrace+5*time.Second, stderr.String())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("exit %d after SIGINT; stderr:\n%s", exit.ExitCode(), stderr.String())
	} else if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "its reader took nothing") {
		t.Errorf("stderr does not say why the rest is not written:\n%s", stderr.String())
	}
}

// exitWithin waits for cmd to exit, for d at most; then giveUp makes it
// end, and exited is false.
func exitWithin(cmd *exec.Cmd, d time.Duration, giveUp func()) (exited bool, err error) {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return true, err
	case <-time.After(d):
		giveUp()
		<-done
		return false, nil
	}
}

// TestStopWaitingForFIFOReader: SIGINT ends gotcpdump while it waits
// for a reader to open its -w FIFO (exit 1, as tcpdump's interrupted
// open), instead of being ignored until one comes.
func TestStopWaitingForFIFOReader(t *testing.T) {
	if args := os.Getenv("GOTCPDUMP_TEST_RUN"); args != "" {
		os.Exit(run(strings.Fields(args), os.Stderr))
	}
	dir := t.TempDir()
	in, fifo := filepath.Join(dir, "in.pcap"), filepath.Join(dir, "fifo")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := pcapgo.NewWriter(f).WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStopWaitingForFIFOReader$")
	cmd.Env = append(os.Environ(), "GOTCPDUMP_TEST_RUN=-r "+in+" -w "+fifo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	exited, err := exitWithin(cmd, 5*time.Second, func() {
		// A reader lets the open, and then gotcpdump, end.
		if r, err := os.OpenFile(fifo, os.O_RDONLY, 0); err == nil {
			r.Close()
		}
	})
	if !exited {
		t.Fatalf("still waiting for the FIFO's reader 5 s after SIGINT; stderr:\n%s", stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("%v after SIGINT; want exit 1; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted while waiting for the FIFO's reader") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}

// TestStopReadingStalledPipe: SIGINT stops gotcpdump -r - while the
// program that feeds it stalls (as tcpdump -r - stops), writing the
// packets that came before: exit 0, not a wait until the input ends.
func TestStopReadingStalledPipe(t *testing.T) {
	if args := os.Getenv("GOTCPDUMP_TEST_RUN"); args != "" {
		os.Exit(run(strings.Fields(args), os.Stderr))
	}
	out := filepath.Join(t.TempDir(), "out.pcap")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close() // never closed before the end: the feeder stalls
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1_700_000_000, int64(i)*1000), CaptureLength: 60, Length: 60}
		if err := pw.WritePacket(ci, make([]byte, 60)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStopReadingStalledPipe$")
	cmd.Env = append(os.Environ(), "GOTCPDUMP_TEST_RUN=-r - -w "+out)
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = r, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	exited, err := exitWithin(cmd, 5*time.Second, func() { w.Close() }) // the end of the input ends it
	if !exited {
		t.Fatalf("still reading its stalled input 5 s after SIGINT; stderr:\n%s", stderr.String())
	}
	if err != nil {
		t.Fatalf("%v after SIGINT; stderr:\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := 24 + 10*(16+60); len(b) != want {
		t.Errorf("%s: %d octets; want %d (the header and the 10 packets)", out, len(b), want)
	}
}
