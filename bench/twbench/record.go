package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gotcpdump/gotcpdump/internal/syncbuf"
)

// recordProbes records real TCP health-check probes on the loopback
// interface with gotcpdump, into file: n connections that open and close
// at once (a plain TCP connect check: the prober sends the first FIN and
// holds TIME_WAIT), and n that open and are reset by the prober
// (SO_LINGER 0, as some load balancers' checks do to leave no TIME_WAIT).
// The server reads until EOF and closes.
func recordProbes(gotcpdump, file string, n int) error {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, _ = io.Copy(io.Discard, c)
				_ = c.Close()
			}()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	tmp := file + ".tmp"
	stop, err := startCapture(gotcpdump, tmp, "tcp port "+strconv.Itoa(port))
	if err != nil {
		return err
	}
	for i := 0; i < 2*n; i++ {
		c, err := net.DialTCP("tcp4", nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			_ = stop()
			return err
		}
		if i%2 == 1 {
			_ = c.SetLinger(0)
		}
		_ = c.Close()
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the last FINs and ACKs
	if err := stop(); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// startCapture runs gotcpdump on lo into file with a filter, and returns
// once it captures; stop ends it.
func startCapture(gotcpdump, file, filter string) (stop func() error, err error) {
	var errBuf syncbuf.Buffer
	dump := exec.Command(gotcpdump, "-i", "lo", "-w", file, filter)
	dump.Stderr = &errBuf
	if err := dump.Start(); err != nil {
		return nil, err
	}
	stop = func() error {
		_ = dump.Process.Signal(syscall.SIGINT)
		if err := dump.Wait(); err != nil {
			return fmt.Errorf("gotcpdump: %v: %s", err, errBuf.String())
		}
		return nil
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(errBuf.String(), "listening on"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = stop()
			return nil, fmt.Errorf("gotcpdump did not start: %s", errBuf.String())
		}
	}
	return stop, nil
}

// recordUDP records n real 64-octet UDP datagrams sent on lo by the
// kernel into file, for the cost of the plugin on traffic that is not TCP.
func recordUDP(gotcpdump, file string, n int) error {
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer rc.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, err := rc.Read(buf); err != nil {
				return
			}
		}
	}()
	sc, err := net.DialUDP("udp4", nil, rc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		return err
	}
	defer sc.Close()
	tmp := file + ".tmp"
	stop, err := startCapture(gotcpdump, tmp, "udp port "+strconv.Itoa(rc.LocalAddr().(*net.UDPAddr).Port))
	if err != nil {
		return err
	}
	msg := make([]byte, 64)
	for i := 0; i < n; i++ {
		if _, err := sc.Write(msg); err != nil {
			_ = stop()
			return err
		}
		if i%1000 == 999 {
			time.Sleep(time.Millisecond) // no drops in the capture's ring
		}
	}
	time.Sleep(300 * time.Millisecond)
	if err := stop(); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// probeTemplates records the probes into file unless it is there, and
// returns its connections as templates, closed by FIN and by RST.
func probeTemplates(gotcpdump, file string, n int) (fin, rst []template, err error) {
	if _, err := os.Stat(file); err != nil {
		if os.Geteuid() != 0 {
			return nil, nil, errors.New("recording the probes needs root (gotcpdump on lo)")
		}
		fmt.Printf("== recording %d TCP probes on lo with gotcpdump into %s\n", 2*n, file)
		if err := recordProbes(gotcpdump, file, n); err != nil {
			return nil, nil, err
		}
	}
	ts, err := loadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	for _, t := range ts {
		if t.rst {
			rst = append(rst, t)
		} else {
			fin = append(fin, t)
		}
	}
	if len(fin) < n/2 || len(rst) < n/2 {
		return nil, nil, fmt.Errorf("%s: %d connections closed by FIN and %d by RST, want about %d each (delete it to record again)", file, len(fin), len(rst), n)
	}
	return fin, rst, nil
}
