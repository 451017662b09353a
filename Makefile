# gotcpdump: Go-backed Wireshark dissectors and capture tools.
#   make run [PCAP=file]   install what is missing, build, install the plugin, decode a capture
#   make test              every test
#   make bench             benchmarks against Wireshark's own dissectors and tcpdump
#   make bench-ws44        the tshark benchmarks again, against Wireshark 4.4 (a Debian 13 chroot)
#   make install-global    the plugin and profile for every user (Wireshark's global folders; root)
#   make uninstall         removes what install, install-profile and install-global installed
#   make deb               a Debian package for Debian 12 and 13, into build/out
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

OUT      := build/out
LIB      := $(OUT)/libgoparser.so
SHIM52   := $(OUT)/goshim52.so
SHIM54   := $(OUT)/goshim54.so
PLUGDIR  ?= $(HOME)/.local/lib/wireshark/plugins/gotcpdump
PROFDIR  ?= $(HOME)/.config/wireshark/profiles/gotcpdump
PCAP     ?= testpcaps/h2c_go.pcap
CFLAGS   ?= -O2 -g
SHIM_SRC := cshim/goshim.c cshim/render.c cshim/postdissector.c cshim/stream.c cshim/layout.c cshim/tshark_args.c
SHIM_CFLAGS := -std=c99 -D_GNU_SOURCE -fPIC -Wall -Wextra -Werror -Igoparser/capi
GO_SRC   := $(shell find goparser -name '*.go' -not -name '*_test.go') go.mod go.sum

.PHONY: all deps build install install-profile screenshots uninstall install-global deb run test test-go test-lua test-asan test-tshark test-ws44 lint bench bench-capture bench-tw bench-ws44 fuzz fuzz-smoke clean

all: build

deps:
	@build/deps.sh

build: $(LIB) $(SHIM52) $(SHIM54) $(OUT)/twreport $(OUT)/gotcpdump

$(OUT)/twreport: $(GO_SRC) $(shell find cmd -name '*.go')
	@mkdir -p $(OUT)
	go build -o $@ ./cmd/twreport

$(OUT)/gotcpdump: $(shell find cmd internal -name '*.go') $(GO_SRC)
	@mkdir -p $(OUT)
	go build -o $@ ./cmd/gotcpdump

$(LIB): $(GO_SRC) goparser/capi/goparser.h
	@mkdir -p $(OUT)
	go build -buildmode=c-shared -o $@ ./goparser/capi

# One shim per Lua ABI: 5.2 for Wireshark <= 4.2, 5.4 for 4.4 and later.
# The plugin loads the one that matches its _VERSION.
$(OUT)/goshim%.so: $(SHIM_SRC) cshim/shim.h cshim/wireshark.h goparser/capi/goparser.h $(LIB)
	$(CC) $(CFLAGS) $(SHIM_CFLAGS) $$(pkg-config --cflags lua$(subst 5,5.,$*)) -shared -o $@ $(SHIM_SRC) \
		-L$(OUT) -lgoparser -lm -Wl,-rpath,'$$ORIGIN'

install: build
	@mkdir -p $(PLUGDIR)
	install -m 0644 lua/goh2.lua lua/tcptw.lua lua/gotcpdump.luainc $(PLUGDIR)/
	install -m 0755 $(LIB) $(SHIM52) $(SHIM54) $(PLUGDIR)/
	@echo "installed into $(PLUGDIR)"

# Screenshots of Wireshark with the plugin (under Xvfb) into docs/.
screenshots: build
	@mkdir -p docs
	GUI_SCREENSHOTS=$(CURDIR)/docs go test -count=1 -run TestWiresharkGUI ./tests/

# The "gotcpdump" configuration profile: columns, coloring rules, I/O graphs.
install-profile:
	@mkdir -p $(PROFDIR)
	install -m 0644 profile/gotcpdump/preferences profile/gotcpdump/colorfilters profile/gotcpdump/io_graphs $(PROFDIR)/
	@echo "installed the profile into $(PROFDIR) (Edit > Configuration Profiles, or tshark -C gotcpdump)"

# Wireshark's global Lua plugin and configuration folders, from tshark -G
# folders when a recipe runs: sets plug and prof to our folders in them,
# or to nothing when tshark does not name them.
ws_global = ws=$$(tshark -G folders 2>/dev/null); \
	plug=$$(sed -n 's/^Global Lua Plugins:[[:space:]]*\(\/.*\)/\1\/gotcpdump/p' <<<"$$ws"); \
	prof=$$(sed -n 's/^Global configuration:[[:space:]]*\(\/.*\)/\1\/profiles\/gotcpdump/p' <<<"$$ws")

# install-global: the plugin into Wireshark's global Lua plugin folder and
# the profile into its global profiles folder, for every user of the
# machine (run as root). Both folders come from tshark -G folders; the .deb
# installs the same files, and folders that a Debian package owns are left
# alone.
install-global: build
	@command -v tshark >/dev/null || { echo "install-global: tshark is missing; it names Wireshark's global folders (make deps installs it)" >&2; exit 1; }
	@set -e; $(ws_global); \
	[ -n "$$plug" ] && [ -n "$$prof" ] || { echo "install-global: tshark -G folders names no global Lua plugin or configuration folder" >&2; exit 1; }; \
	for d in "$$plug" "$$prof"; do \
		if dpkg -S "$$d" >/dev/null 2>&1; then echo "install-global: $$d belongs to a Debian package (apt remove gotcpdump first)" >&2; exit 1; fi; \
	done; \
	install -d "$$plug" "$$prof"; \
	install -m 0644 lua/goh2.lua lua/tcptw.lua lua/gotcpdump.luainc $(LIB) $(SHIM52) $(SHIM54) "$$plug/"; \
	install -m 0644 profile/gotcpdump/preferences profile/gotcpdump/colorfilters profile/gotcpdump/io_graphs "$$prof/"; \
	echo "installed into $$plug and $$prof"

# uninstall removes the personal plugin and profile (install,
# install-profile) and, when they exist, the global ones of install-global:
# a user expects everything 'make install*' put in place to go. Removing
# the global ones needs root; a Debian package's files are left to apt
# (apt remove gotcpdump), and without tshark the global folders are unknown
# and left alone.
uninstall:
	rm -rf $(PLUGDIR) $(PROFDIR)
	@command -v tshark >/dev/null || exit 0; $(ws_global); \
	for d in "$$plug" "$$prof"; do \
		[ -n "$$d" ] && [ -e "$$d" ] || continue; \
		if dpkg -S "$$d" >/dev/null 2>&1; then echo "uninstall: $$d belongs to a Debian package: apt remove gotcpdump"; continue; fi; \
		rm -rf "$$d" || { echo "uninstall: cannot remove $$d (make install-global put it there): run as root" >&2; exit 1; }; \
		echo "removed $$d"; \
	done

# A Debian package (build/deb.sh says what goes where) into $(OUT); the test
# TestDeb installs one into a clean Debian 13 chroot.
deb: build
	build/deb.sh $(OUT)

DEMO_TW  := testpcaps/tw_healthz_storm.pcap

run: deps install
	@echo "== goh2 decoding $(PCAP) (tshark -O goh2)"
	tshark -r $(PCAP) -O goh2 -Y goh2
	@echo "== TIME_WAIT report of $(DEMO_TW): a /healthz probe storm without keep-alive (tshark -q -z tcptw,report)"
	tshark -q -r $(DEMO_TW) -z tcptw,report

lint:
	@files=$$(gofmt -l .); test -z "$$files" || { echo "gofmt needed: $$files"; exit 1; }
	go vet ./...

test: deps build lint test-go fuzz-smoke test-lua test-asan test-tshark test-ws44

test-go:
	go test ./goparser/... ./internal/... ./cmd/... ./bench/...

test-lua: build $(OUT)/tshark_args_test
	$(CC) $(CFLAGS) $(SHIM_CFLAGS) -DGOSHIM_EXPECT_ABI=999 $$(pkg-config --cflags lua5.2) -shared \
		-o $(OUT)/goshim52_badabi.so $(SHIM_SRC) -L$(OUT) -lgoparser -lm -Wl,-rpath,'$$ORIGIN'
	LUA_SHIM=$(SHIM52) LUA_SHIM_BADABI=$(OUT)/goshim52_badabi.so lua5.2 cshim/shim_test.lua
	LUA_SHIM=$(SHIM54) lua5.4 cshim/shim_test.lua
	$(OUT)/tshark_args_test

# Every Go fuzz target (the committed corpora under testdata/fuzz run in
# test-go as regression tests). make fuzz FUZZTIME=10m runs each for that
# long, then runs 1,000 hostile captures through tshark (TestHostileCaptures,
# which make test runs on 60); fuzz-smoke, part of make test, runs each
# target for a few seconds' worth of inputs. Its budgets are counts of
# inputs (-fuzztime Nx), not durations: with a duration, Go 1.26's fuzzing
# coordinator can report "context deadline exceeded" as a failure when its
# time runs out on a busy machine (go.dev/issue/75804, fixed in Go 1.27).
FUZZ_TARGETS := ./goparser/h2:FuzzDecode ./goparser/grpcmsg:FuzzFeed ./goparser/grpcmsg:FuzzDecompress \
	./goparser/tcptw:FuzzDissector ./goparser/gogrpc:FuzzTypedMessage ./goparser/result:FuzzDecode ./goparser/grpcmsg:FuzzBase64Stream \
	./goparser/tcpdecode:FuzzDecode ./goparser/grpcmsg:FuzzDecodeRawOffsets ./goparser/tcptw:FuzzTLSRecords
FUZZ_SMOKE := ./goparser/h2:FuzzDecode:10000 ./goparser/grpcmsg:FuzzFeed:50000 ./goparser/grpcmsg:FuzzDecompress:50000 \
	./goparser/tcptw:FuzzDissector:3000 ./goparser/gogrpc:FuzzTypedMessage:15000 ./goparser/result:FuzzDecode:100000 \
	./goparser/grpcmsg:FuzzBase64Stream:80000 ./goparser/tcpdecode:FuzzDecode:50000 ./goparser/grpcmsg:FuzzDecodeRawOffsets:50000 \
	./goparser/tcptw:FuzzTLSRecords:50000
FUZZTIME ?= 1m
fuzz: build
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t#*:} ($${t%%:*}) for $(FUZZTIME)"; \
		go test -run XXX -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s "$${t%%:*}"; \
	done
	@echo "== 1,000 hostile captures through tshark"
	HOSTILE_N=1000 go test -count=1 -v -timeout 60m -run TestHostileCaptures ./tests/

fuzz-smoke:
	@set -e; for t in $(FUZZ_SMOKE); do \
		pkg=$${t%%:*}; rest=$${t#*:}; \
		go test -run XXX -fuzz "^$${rest%%:*}$$" -fuzztime "$${rest#*:}x" -fuzzminimizetime 2s "$$pkg"; \
	done

# The shim again, built with AddressSanitizer and UBSan (any report is
# fatal), under the same Lua tests; lua5.2 itself is not instrumented, so
# the ASan runtime is preloaded.
test-asan: build
	$(CC) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
		$(SHIM_CFLAGS) $$(pkg-config --cflags lua5.2) -shared \
		-o $(OUT)/goshim52_asan.so $(SHIM_SRC) -L$(OUT) -lgoparser -lm -Wl,-rpath,'$$ORIGIN'
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		LD_PRELOAD=$$($(CC) -print-file-name=libasan.so) LUA_SHIM=$(OUT)/goshim52_asan.so lua5.2 cshim/shim_test.lua

# The tshark tests (tests/) use these too: the options that the shim knows
# of tshark's, and a library that reads tshark's own.
TEST_PROGS := $(OUT)/tshark_args_test $(OUT)/getopt_probe.so
$(OUT)/tshark_args_test: cshim/tshark_args_test.c cshim/tshark_args.c cshim/layout.c cshim/shim.h
	@mkdir -p $(OUT)
	$(CC) $(CFLAGS) $(SHIM_CFLAGS) $$(pkg-config --cflags lua5.2) -o $@ cshim/tshark_args_test.c cshim/tshark_args.c cshim/layout.c
$(OUT)/getopt_probe.so: cshim/getopt_probe.c
	@mkdir -p $(OUT)
	$(CC) $(CFLAGS) $(SHIM_CFLAGS) -shared -o $@ $< -ldl

# -parallel: every parallel test at once: TestTimeWaitAgainstKernel's
# scenarios (run before the others, alone: they mostly wait out their
# TIME_WAIT sockets), then the tests that read captures, which take turns
# on the cores (tests/tshark_test.go). TestDeb's chroot is made first,
# alone: the first time, that takes minutes of debootstrap.
test-tshark: build $(TEST_PROGS)
	build/chroot.sh
	go test -count=1 -v -parallel 128 -timeout 15m ./tests/...

# The tshark tests again, on Wireshark 4.4 with Lua 5.4: the tshark of a
# Debian 13 chroot (build/chroot.sh, cached in build/chroot/; build/ws44.sh).
test-ws44: build $(TEST_PROGS)
	build/chroot.sh
	build/ws44.sh

bench: deps build
	build/bench.sh
	$(MAKE) --no-print-directory bench-capture
	$(MAKE) --no-print-directory bench-tw

# gotcpdump against tcpdump at rising packet rates on veth, then at the
# generator's maximum on the any interface (about 7 minutes)
bench-capture: deps build
	go build -o $(OUT)/capbench ./bench/capbench
	$(OUT)/capbench -gotcpdump $(OUT)/gotcpdump -json bench/out/capture.json

# The TIME_WAIT engine (about 2.5 minutes): tshark with tcptw against plain
# tshark, twreport against tshark -z conv,tcp, twreport's memory per
# connection, the plugin on UDP only, and the cost of one Lua -> C -> Go
# call (bench/twbench says how). Records TCP probes and UDP datagrams on lo
# once, as root, then reuses bench/out/.
bench-tw: deps build
	go build -o $(OUT)/twbench ./bench/twbench
	$(OUT)/twbench -json bench/out/tw.json

# The tshark cases of make bench again, on Wireshark 4.4: the chroot's
# tshark (build/ws44.sh) against its own http2, grpc and conversation
# table (about 6 minutes, the chroot made first if needed). The captures
# of make bench are reused.
bench-ws44: deps build
	build/chroot.sh
	go build -o $(OUT)/twbench ./bench/twbench
	BENCH_RESULTS=bench/out/results-ws44.json build/ws44.sh build/bench.sh
	build/ws44.sh $(OUT)/twbench -skip memory,boundary -json bench/out/tw-ws44.json

clean:
	rm -rf $(OUT)
