package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
)

// captureStart is the first SYN of the generated captures.
var captureStart = time.Unix(1_800_000_000, 0)

const probeServerPort = 9000

// stormMix returns the mix of the benchmark capture: per 10 connections
// one HTTP /healthz connection, 4 probes closed by FIN and 5 reset. With
// memoryCase, every connection leaves a TIME_WAIT socket: one HTTP
// connection and 4 closed probes.
func stormMix(gotcpdump, probes string, httpFiles []string, memoryCase bool) (mix, string, error) {
	http, err := loadTemplates(httpFiles)
	if err != nil {
		return nil, "", err
	}
	fin, rst, err := probeTemplates(gotcpdump, probes, 200)
	if err != nil {
		return nil, "", err
	}
	for _, ts := range [][]template{fin, rst} {
		for i := range ts {
			// The probes were recorded on 127.0.0.1 with a random port.
			ts[i].server, ts[i].serverIP, ts[i].serverPort = true, [4]byte{10, 251, 9, 2}, probeServerPort
		}
	}
	m := mix{{http, 1}, {fin, 4}, {rst, 5}}
	name := "1 HTTP /healthz : 4 closed probes : 5 reset probes"
	if memoryCase {
		m = mix{{http, 1}, {fin, 4}}
		name = "1 HTTP /healthz : 4 closed probes"
	}
	return m, name, nil
}

// captureInfo describes the generated capture.
type captureInfo struct {
	File        string  `json:"file"`
	Packets     int     `json:"packets"`
	Connections int     `json:"connections"`
	Bytes       int64   `json:"bytes"`
	Seconds     float64 `json:"seconds"`
	Rate        float64 `json:"new_connections_per_second"`
	Mix         string  `json:"mix"`
	PerConn     float64 `json:"packets_per_connection"`
}

// stormCapture generates the capture of cases 3 and 4 unless a complete
// one made with the same parameters is there (its .json, written last).
func stormCapture(o *options) (*captureInfo, error) {
	m, name, err := stormMix(o.gotcpdump, o.probeFile, o.httpFiles, false)
	if err != nil {
		return nil, err
	}
	order := m.order()
	per := packetsPer(order)
	conns := max(o.conns, int(math.Ceil(float64(o.packets)/per*1.001)))
	file := filepath.Join(o.outDir, fmt.Sprintf("tw-storm-c%d-r%.0f.pcap", conns, o.rate))
	meta := file + ".json"
	var info captureInfo
	if b, err := os.ReadFile(meta); err == nil && json.Unmarshal(b, &info) == nil && info.Packets >= o.packets {
		if st, err := os.Stat(file); err == nil && st.Size() == info.Bytes {
			return &info, nil
		}
	}
	fmt.Printf("== generating %s: %d connections (%s, %.2f packets each)\n", file, conns, name, per)
	f, err := os.Create(file + ".tmp")
	if err != nil {
		return nil, err
	}
	n, err := generate(f, order, genConfig{conns: conns, rate: o.rate, clients: 256, start: captureStart, seed: 1})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if n < o.packets {
		return nil, fmt.Errorf("%d packets, fewer than %d", n, o.packets)
	}
	if err := os.Rename(file+".tmp", file); err != nil {
		return nil, err
	}
	st, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	info = captureInfo{File: file, Packets: n, Connections: conns, Bytes: st.Size(),
		Seconds: float64(conns) / o.rate, Rate: o.rate, Mix: name, PerConn: float64(n) / float64(conns)}
	b, _ := json.MarshalIndent(info, "", "  ")
	return &info, os.WriteFile(meta, append(b, '\n'), 0o644)
}

// writeLuaFrames writes the first n frames of the capture for the Lua
// boundary benchmark: per frame a line "framelen keylen sec nsec", then
// the frame and the key ("src addr port\ndst addr port", as tcptw.lua
// passes it).
func writeLuaFrames(capture, file string, n int) (int, error) {
	frames, err := readFrames(capture, n)
	if err != nil {
		return 0, err
	}
	f, err := os.Create(file)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriter(f)
	for _, fr := range frames {
		fmt.Fprintf(w, "%d %d %d %d\n", len(fr.data), len(fr.key), fr.ts.Unix(), fr.ts.Nanosecond())
		w.Write(fr.data)
		w.WriteString(fr.key)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return len(frames), f.Close()
}
