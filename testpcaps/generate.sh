#!/usr/bin/env bash
# Regenerates every HTTP/2 and gRPC capture in this directory from live
# loopback traffic, and not_h2_mix.pcap, other TCP protocols that HTTP/2
# heuristics must not claim. Must run as root (gotcpdump on lo). Needs go,
# tshark, editcap, capinfos, nghttp, nghttpd, curl, ssh, ssh-keygen and sshd
# (openssh-client, openssh-server), python3-grpcio and python3-protobuf
# (for /usr/bin/python3), and libpcap-dev to build gotcpdump.
#
# h2c_loss also needs ip (iproute2) and network namespaces.
#
# Usage: sudo ./generate.sh [SCENARIO...]
# Without arguments every capture is made again. Scenarios: h2c
# (h2c_go.pcap and h2c_go_midstream.pcap), h2c_loss, nghttp2, grpc_tls, grpc_gzip,
# grpc_python, grpc_web, grpc_fail, not_utf8, h2c_upgrade, not_h2_mix, tw_idle; e.g. "./generate.sh grpc_web" remakes
# grpc_web.pcap only.
#
# tw_idle (tw_h2c_idle_timeout.pcap, tw_http1_idle_timeout.pcap and
# tw_grpc_idle_timeout.pcap) runs their scenarios of
# tests/timewait_kernel_test.go, which make every tw_*.pcap between
# network namespaces (about 100 s); it is not part of the default set.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODROOT=$(cd "$HERE/.." && pwd)

# One fixed port per scenario, so captures can be decoded with a known
# "-d tcp.port==PORT,http2" and scenarios never see each other's traffic.
H2C_PORT=18080
NGHTTP_PORT=18081
H2C_LOSS_PORT=18082
GRPC_PORT=18443
GRPC_GZIP_PORT=18444
GRPC_PYTHON_PORT=18445
GRPC_WEB_H1_PORT=18446
GRPC_WEB_H2C_PORT=18447
GRPC_FAIL_PORT=18448
GRPC_FAIL_PROXY_PORT=18449
NOT_UTF8_H2_PORT=18096
NOT_UTF8_GRPC_PORT=18097
NOT_UTF8_H2C_PORT=18098
H2C_UPGRADE_PORT=18099
NOTH2_HTTP_PORT=18090
NOTH2_TLS_PORT=18091
NOTH2_RAW_PORT=18092
NOTH2_SSH_PORT=18022

WORK=$(mktemp -d /tmp/testpcaps.XXXXXX)
PIDS=()
NETNS= # a network namespace to delete on exit
IN_NS=() # how to run a command in the scenario's namespace (empty: the host's)

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	[[ -z $NETNS ]] || ip netns del "$NETNS" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

die() {
	echo "generate.sh: $*" >&2
	exit 1
}

[[ $EUID -eq 0 ]] || die "must run as root to capture on lo"
for tool in go tshark editcap capinfos nghttp nghttpd curl ss ssh ssh-keygen; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done

# tshark checks the captures with Wireshark's own dissectors only: an
# installed gotcpdump plugin would claim HTTP/2 itself.
mkdir -p "$WORK/tshark-home"
tshark() { HOME="$WORK/tshark-home" command tshark "$@"; }

forget_pid() {
	local keep=() p
	for p in "${PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

port_free() {
	[[ -z $(ss -Hltn "sport = :$1") ]] || die "port $1 is in use"
}

# start_capture OUT PORT [FILTER]: starts gotcpdump (this project's
# capture binary, built below) and waits until it is capturing. FILTER
# defaults to "tcp port PORT"; PORT also names the log. gotcpdump reads
# the ring on after SIGINT until it has every packet that arrived before.
CAP_PID=
start_capture() {
	local out=$1 port=$2 filter=${3:-"tcp port $2"} log="$WORK/gotcpdump.$2.log"
	"${IN_NS[@]}" "$WORK/gotcpdump" -i lo -s 262144 -B 65536 -w "$out" "$filter" 2>"$log" &
	CAP_PID=$!
	PIDS+=("$CAP_PID")
	for _ in $(seq 100); do
		grep -q "listening on" "$log" && return 0
		kill -0 "$CAP_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$log" >&2
	die "gotcpdump did not start"
}

stop_capture() {
	# Let the final FIN/ACKs reach the capture before stopping it.
	sleep 0.5
	kill -INT "$CAP_PID"
	wait "$CAP_PID" || die "gotcpdump exited with an error: $(cat "$WORK/gotcpdump.$1.log")"
	forget_pid "$CAP_PID"
	grep "packets captured" "$WORK/gotcpdump.$1.log"
	grep -q "^0 packets dropped by kernel" "$WORK/gotcpdump.$1.log" ||
		die "gotcpdump: $(grep "dropped by kernel" "$WORK/gotcpdump.$1.log")"
}

wait_port() {
	local pid=$1 port=$2
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || die "server on port $port exited"
		[[ -n $("${IN_NS[@]}" ss -Hltn "sport = :$port") ]] && return 0
		sleep 0.05
	done
	die "nothing listening on port $port"
}

packets() {
	capinfos -c -M -T "$1" | awk -F'\t' 'NR == 2 { print $2 }'
}

# require FILE DESCRIPTION DISPLAYFILTER [tshark args...]: fails unless the
# capture has at least one packet matching the filter.
require() {
	local file=$1 what=$2 filter=$3
	shift 3
	local n
	n=$(tshark -r "$file" "$@" -Y "$filter" 2>/dev/null | wc -l)
	((n > 0)) || die "$(basename "$file"): no $what ($filter)"
	printf '  %-28s %4d packets\n' "$what" "$n"
}

# --- not HTTP/2 ---------------------------------------------------------------
# not_h2_mix.pcap: HTTP/1.1, TLS (ALPN http/1.1), seeded random bytes and an
# SSH handshake, one port each, in one capture. Decoded with Wireshark's own
# dissectors it shows http, tls, ssh and data; the goh2 heuristics must
# claim none of it. Expects $WORK/noth2 to be built.
gen_not_h2_mix() {
	local out="$HERE/not_h2_mix.pcap" port sshd sshd_pid dir home
	echo "== not_h2_mix.pcap (ports $NOTH2_HTTP_PORT $NOTH2_TLS_PORT $NOTH2_RAW_PORT $NOTH2_SSH_PORT)"
	sshd=$(PATH="$PATH:/usr/sbin:/sbin" command -v sshd) || die "missing tool: sshd (openssh-server)"
	for port in "$NOTH2_HTTP_PORT" "$NOTH2_TLS_PORT" "$NOTH2_RAW_PORT" "$NOTH2_SSH_PORT"; do
		port_free "$port"
	done

	# A throwaway sshd: its own host key and config, listening on loopback
	# only, logging to a file. The client logs in as "nobody" with a
	# throwaway key that is authorized nowhere, so the session ends with a
	# failed login after the key exchange and the public key offer.
	dir="$WORK/ssh"
	mkdir -p "$dir"
	ssh-keygen -q -t ed25519 -N '' -C not_h2_mix-host -f "$dir/host_key"
	ssh-keygen -q -t ed25519 -N '' -C not_h2_mix-client -f "$dir/client_key"
	cat >"$dir/sshd_config" <<-EOF
		Port $NOTH2_SSH_PORT
		ListenAddress 127.0.0.1
		HostKey $dir/host_key
		PidFile $dir/sshd.pid
		UsePAM no
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		StrictModes no
	EOF
	mkdir -p /run/sshd # privilege separation directory
	"$sshd" -D -f "$dir/sshd_config" -E "$dir/sshd.log" &
	sshd_pid=$!
	PIDS+=("$sshd_pid")
	wait_port "$sshd_pid" "$NOTH2_SSH_PORT"

	start_capture "$WORK/noth2.pcap" "$NOTH2_HTTP_PORT" \
		"tcp port $NOTH2_HTTP_PORT or tcp port $NOTH2_TLS_PORT or tcp port $NOTH2_RAW_PORT or tcp port $NOTH2_SSH_PORT"
	"$WORK/noth2" -http "127.0.0.1:$NOTH2_HTTP_PORT" -tls "127.0.0.1:$NOTH2_TLS_PORT" \
		-raw "127.0.0.1:$NOTH2_RAW_PORT"
	# No config, known hosts, agent or keys of the real user.
	if ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \
		-o IdentityAgent=none -o IdentitiesOnly=yes -i "$dir/client_key" \
		-o LogLevel=ERROR -p "$NOTH2_SSH_PORT" nobody@127.0.0.1 true 2>"$dir/ssh.log"; then
		die "ssh login as nobody unexpectedly succeeded"
	fi
	grep -q "Permission denied" "$dir/ssh.log" || {
		cat "$dir/ssh.log" "$dir/sshd.log" >&2
		die "ssh did not reach authentication"
	}
	stop_capture "$NOTH2_HTTP_PORT"
	kill "$sshd_pid"
	wait "$sshd_pid" || true
	forget_pid "$sshd_pid"
	cp "$WORK/noth2.pcap" "$out"

	# Wireshark's own dissectors only, without the user's plugins.
	home="$WORK/emptyhome"
	mkdir -p "$home"
	HOME=$home require "$out" "HTTP/1.1 requests" "http.request"
	HOME=$home require "$out" "HTTP/1.1 responses" "http.response"
	HOME=$home require "$out" "TLS handshake" "tls.handshake"
	HOME=$home require "$out" "TLS application data" "tls.app_data"
	# Wireshark 4.0 has no SSH heuristic and only knows ports 22 and 29418;
	# an unregistered port is what lets every TCP heuristic see the SSH
	# bytes, so SSH is decoded explicitly here.
	HOME=$home require "$out" "SSH" "ssh" -d "tcp.port==$NOTH2_SSH_PORT,ssh"
	HOME=$home require "$out" "random bytes" "data && tcp.port == $NOTH2_RAW_PORT"
	if HOME=$home tshark -r "$out" -Y http2 2>/dev/null | grep -q .; then
		die "not_h2_mix.pcap: Wireshark's http2 dissector claims packets"
	fi
}

# --- Go net/http h2c -------------------------------------------------------
gen_h2c() {
	echo "== h2c_go.pcap (port $H2C_PORT)"
	port_free "$H2C_PORT"
	start_capture "$WORK/h2c.pcap" "$H2C_PORT"
	"$WORK/h2c" -addr "127.0.0.1:$H2C_PORT"
	stop_capture "$H2C_PORT"
	cp "$WORK/h2c.pcap" "$HERE/h2c_go.pcap"

	H2C=(-d "tcp.port==$H2C_PORT,http2")
	require "$HERE/h2c_go.pcap" "connection preface" "http2.magic" "${H2C[@]}"
	require "$HERE/h2c_go.pcap" "CONTINUATION" "http2.type == 9" "${H2C[@]}"
	require "$HERE/h2c_go.pcap" "RST_STREAM CANCEL" "http2.rst_stream.error == 8" "${H2C[@]}"
	require "$HERE/h2c_go.pcap" "RST_STREAM INTERNAL_ERROR" "http2.rst_stream.error == 2" "${H2C[@]}"
	require "$HERE/h2c_go.pcap" "WINDOW_UPDATE" "http2.type == 8" "${H2C[@]}"
	require "$HERE/h2c_go.pcap" "PING" "http2.type == 6" "${H2C[@]}"
	require "$HERE/h2c_go.pcap" "GOAWAY" "http2.type == 7" "${H2C[@]}"
	require "$HERE/h2c_go.pcap" "trailers" "http2.header.name == \"x-checksum\"" "${H2C[@]}"

	# The second half of the same connection: no preface, no SETTINGS, and
	# an HPACK dynamic table the dissector never saw being built.
	total=$(packets "$HERE/h2c_go.pcap")
	first=$((total / 2 + 1))
	echo "== h2c_go_midstream.pcap (packets $first-$total of h2c_go.pcap)"
	editcap -r "$HERE/h2c_go.pcap" "$HERE/h2c_go_midstream.pcap" "$first-$total"
	if tshark -r "$HERE/h2c_go_midstream.pcap" "${H2C[@]}" -Y http2.magic 2>/dev/null | grep -q .; then
		die "h2c_go_midstream.pcap still contains the connection preface"
	fi
	require "$HERE/h2c_go_midstream.pcap" "GOAWAY" "http2.type == 7" "${H2C[@]}"
}

# --- h2c with segments missing from the capture ------------------------------
# h2c_loss.pcap: nghttp fetches 24 random 16 KiB bodies from nghttpd over
# one connection, in a network namespace whose loopback has Ethernet's MTU
# and one segment per packet (no GSO); then every third of the server's
# segments that hold a frame boundary after their first octet is cut from
# the capture (testpcaps/gen/cutgaps), as a capture that lost packets (or
# one taken beyond a lossy link) lacks them. Wireshark's TCP hands on the
# segment after each such gap as if it continued the stream, in the
# middle of a frame.
gen_h2c_loss() {
	local ns=gotcpdump-h2c-loss port=$H2C_LOSS_PORT docroot="$WORK/loss-htdocs" nghttpd_pid out="$HERE/h2c_loss.pcap" cut
	echo "== h2c_loss.pcap (port $port, network namespace $ns)"
	command -v ip >/dev/null || die "missing tool: ip (iproute2)"
	mkdir -p "$docroot"
	# Random bodies: octets inside a DATA frame read as nonsense headers,
	# as compressed or encrypted payloads do.
	head -c 16384 /dev/urandom >"$docroot/blob.bin"

	ip netns del "$ns" 2>/dev/null || true
	ip netns add "$ns"
	NETNS=$ns
	ip -n "$ns" link set lo mtu 1500
	ip -n "$ns" link set lo gso_max_segs 1
	ip -n "$ns" link set lo up
	# ip netns exec execs the command, so $! is the server's or gotcpdump's
	# PID and the usual helpers work.
	IN_NS=(ip netns exec "$ns")
	"${IN_NS[@]}" nghttpd --no-tls -a 127.0.0.1 -d "$docroot" "$port" >"$WORK/nghttpd.loss.log" 2>&1 &
	nghttpd_pid=$!
	PIDS+=("$nghttpd_pid")
	wait_port "$nghttpd_pid" "$port"
	start_capture "$WORK/loss.pcap" "$port"
	"${IN_NS[@]}" nghttp -n -m 24 "http://127.0.0.1:$port/blob.bin" >/dev/null
	stop_capture "$port"
	kill "$nghttpd_pid"
	wait "$nghttpd_pid" || true
	forget_pid "$nghttpd_pid"
	IN_NS=()
	ip netns del "$ns"
	NETNS=

	cut=$("$WORK/cutgaps" -in "$WORK/loss.pcap" -out "$out" -port "$port" -every 3)
	echo "   cut frames: $cut"

	LOSS=(-d "tcp.port==$port,http2")
	require "$out" "segments not captured" "tcp.analysis.lost_segment && tcp.srcport == $port"
	require "$out" "connection preface" "http2.magic" "${LOSS[@]}"
}

# --- nghttp2 -----------------------------------------------------------------
gen_nghttp2() {
	echo "== nghttp2_push_padding.pcap (port $NGHTTP_PORT)"
	DOCROOT="$WORK/htdocs"
	mkdir -p "$DOCROOT"
	cat >"$DOCROOT/index.html" <<-'EOF'
	<!DOCTYPE html>
	<html>
	<head>
	<title>nghttp2 capture</title>
	<link rel="stylesheet" href="/style.css">
	<script src="/app.js"></script>
	</head>
	<body><img src="/logo.png" alt="logo"><p>HTTP/2 push and padding test page.</p></body>
	</html>
	EOF
	printf 'body { font-family: sans-serif; color: #333; }\n' >"$DOCROOT/style.css"
	printf 'console.log("loaded");\n' >"$DOCROOT/app.js"
	# Deterministic filler: only the size matters (several DATA frames).
	head -c 3000 /dev/zero | tr '\0' 'P' >"$DOCROOT/logo.png"
	head -c 20000 /dev/zero | tr '\0' 'u' >"$WORK/upload.txt"

	port_free "$NGHTTP_PORT"
	# -b pads frames, -p pushes style.css with the page, --echo-upload and
	# --trailer give the upload connection a body and trailers to return.
	nghttpd --no-tls -a 127.0.0.1 -d "$DOCROOT" -b 32 -p /=/style.css \
		--echo-upload --trailer 'x-server-trailer: done' "$NGHTTP_PORT" >"$WORK/nghttpd.log" 2>&1 &
	NGHTTPD_PID=$!
	PIDS+=("$NGHTTPD_PID")
	wait_port "$NGHTTPD_PID" "$NGHTTP_PORT"

	start_capture "$WORK/nghttp2.pcap" "$NGHTTP_PORT"
	# Connection 1: page plus assets. nghttp sends PRIORITY frames for its
	# idle anchor streams and HEADERS with the PRIORITY flag (-p sets weight);
	# the server pushes style.css. Both sides pad.
	nghttp -n -a -b 16 -p 32 "http://127.0.0.1:$NGHTTP_PORT/" >/dev/null
	# Connection 2: padded upload with an oversized header block split into
	# CONTINUATION frames, request trailers and echoed response trailers.
	nghttp -n -b 16 --continuation --trailer 'x-client-trailer: sent' \
		-d "$WORK/upload.txt" "http://127.0.0.1:$NGHTTP_PORT/echo" >/dev/null
	stop_capture "$NGHTTP_PORT"
	kill "$NGHTTPD_PID"
	wait "$NGHTTPD_PID" || true
	forget_pid "$NGHTTPD_PID"
	cp "$WORK/nghttp2.pcap" "$HERE/nghttp2_push_padding.pcap"

	NG=(-d "tcp.port==$NGHTTP_PORT,http2")
	require "$HERE/nghttp2_push_padding.pcap" "PADDED" "http2.flags.padded == 1" "${NG[@]}"
	require "$HERE/nghttp2_push_padding.pcap" "PUSH_PROMISE" "http2.type == 5" "${NG[@]}"
	require "$HERE/nghttp2_push_padding.pcap" "PRIORITY" "http2.type == 2" "${NG[@]}"
	require "$HERE/nghttp2_push_padding.pcap" "HEADERS with PRIORITY" "http2.type == 1 && http2.flags.priority == 1" "${NG[@]}"
	require "$HERE/nghttp2_push_padding.pcap" "CONTINUATION" "http2.type == 9" "${NG[@]}"
}

# --- gRPC over TLS -------------------------------------------------------
gen_grpc_tls() {
	echo "== grpc_tls_keylog.pcapng (port $GRPC_PORT)"
	port_free "$GRPC_PORT"
	start_capture "$WORK/grpc.pcap" "$GRPC_PORT"
	"$WORK/grpctls" -addr "127.0.0.1:$GRPC_PORT" -keylog "$WORK/keylog.txt"
	stop_capture "$GRPC_PORT"
	[[ -s $WORK/keylog.txt ]] || die "empty TLS key log"
	# Embedding the secrets in a Decryption Secrets Block makes the file
	# decryptable without any tshark preference.
	rm -f "$HERE/grpc_tls_keylog.pcapng"
	editcap --inject-secrets "tls,$WORK/keylog.txt" "$WORK/grpc.pcap" "$HERE/grpc_tls_keylog.pcapng"

	GR="$HERE/grpc_tls_keylog.pcapng"
	require "$GR" "decrypted HTTP/2" "http2"
	require "$GR" "grpc-status trailers" "http2.header.name == \"grpc-status\""
	require "$GR" "RST_STREAM CANCEL" "http2.rst_stream.error == 8"
	require "$GR" "GOAWAY" "http2.type == 7"
}

# --- gRPC over h2c with gzip ---------------------------------------------
gen_grpc_gzip() {
	echo "== grpc_h2c_gzip.pcap (port $GRPC_GZIP_PORT)"
	port_free "$GRPC_GZIP_PORT"
	start_capture "$WORK/grpcgzip.pcap" "$GRPC_GZIP_PORT"
	"$WORK/grpcgzip" -addr "127.0.0.1:$GRPC_GZIP_PORT"
	stop_capture "$GRPC_GZIP_PORT"
	cp "$WORK/grpcgzip.pcap" "$HERE/grpc_h2c_gzip.pcap"
	GZ=(-d "tcp.port==$GRPC_GZIP_PORT,http2")
	require "$HERE/grpc_h2c_gzip.pcap" "compressed gRPC messages" "grpc.compressed_flag == 1" "${GZ[@]}"
	require "$HERE/grpc_h2c_gzip.pcap" "a message over 100 KB" "grpc.message_length > 100000" "${GZ[@]}"
}

# --- gRPC from Python (grpcio, the gRPC C core) ------------------------------
# Debian's python3-grpcio and python3-protobuf, so /usr/bin/python3 and not
# whatever python3 comes first on the PATH. The generator takes its message
# types from the committed descriptor set.
gen_grpc_python() {
	local out="$HERE/grpc_python.pcap" py=/usr/bin/python3
	echo "== grpc_python.pcap (port $GRPC_PYTHON_PORT)"
	"$py" -c 'import grpc, google.protobuf' 2>/dev/null ||
		die "$py cannot import grpc and google.protobuf: install python3-grpcio and python3-protobuf (build/deps.sh)"
	port_free "$GRPC_PYTHON_PORT"
	start_capture "$WORK/grpcpython.pcap" "$GRPC_PYTHON_PORT"
	"$py" "$HERE/gen/pygrpc/pygrpc.py" -addr "127.0.0.1:$GRPC_PYTHON_PORT" -descriptors "$HERE/grpc_health.pb"
	stop_capture "$GRPC_PYTHON_PORT"
	cp "$WORK/grpcpython.pcap" "$out"
	PY=(-d "tcp.port==$GRPC_PYTHON_PORT,http2")
	require "$out" "grpc-python user agent" 'http2.header.value contains "grpc-python"' "${PY[@]}"
	require "$out" "compressed gRPC messages" "grpc.compressed_flag == 1" "${PY[@]}"
	require "$out" "grpc-encoding gzip" 'http2.header.name == "grpc-encoding" && http2.header.value == "gzip"' "${PY[@]}"
	require "$out" "client-streaming calls" 'http2.header.value == "/testpcaps.v1.HealthBatch/Report"' "${PY[@]}"
	require "$out" "bidirectional calls" 'http2.header.value == "/testpcaps.v1.HealthBatch/CheckEach"' "${PY[@]}"
	require "$out" "NOT_FOUND status" 'http2.header.name == "grpc-status" && http2.header.value == "5"' "${PY[@]}"
	require "$out" "a message over 20 KB" "grpc.message_length > 20000" "${PY[@]}"
}

# --- gRPC-Web (improbable-eng/grpc-web around grpc-go) -----------------------
# One capture, two ports: HTTP/1.1 and h2c. Wireshark 4.0's grpc dissector
# decodes gRPC-Web over both (the HTTP/1.1 port by the http heuristics, the
# h2c one with Decode As).
gen_grpc_web() {
	local out="$HERE/grpc_web.pcap"
	echo "== grpc_web.pcap (ports $GRPC_WEB_H1_PORT $GRPC_WEB_H2C_PORT)"
	port_free "$GRPC_WEB_H1_PORT"
	port_free "$GRPC_WEB_H2C_PORT"
	start_capture "$WORK/grpcweb.pcap" "$GRPC_WEB_H1_PORT" "tcp port $GRPC_WEB_H1_PORT or tcp port $GRPC_WEB_H2C_PORT"
	"$WORK/grpcweb" -h1 "127.0.0.1:$GRPC_WEB_H1_PORT" -h2c "127.0.0.1:$GRPC_WEB_H2C_PORT"
	stop_capture "$GRPC_WEB_H1_PORT"
	cp "$WORK/grpcweb.pcap" "$out"
	WEB=(-d "tcp.port==$GRPC_WEB_H2C_PORT,http2")
	require "$out" "grpc-web over HTTP/1.1" "http && grpc && tcp.port == $GRPC_WEB_H1_PORT" "${WEB[@]}"
	require "$out" "grpc-web over HTTP/2" "http2 && grpc && tcp.port == $GRPC_WEB_H2C_PORT" "${WEB[@]}"
	require "$out" "grpc-web-text over HTTP/1.1" 'http.content_type == "application/grpc-web-text"' "${WEB[@]}"
	require "$out" "grpc-web-text over HTTP/2" 'http2.header.value == "application/grpc-web-text"' "${WEB[@]}"
	require "$out" "trailer frames" "grpc.frame_type == 1" "${WEB[@]}"
	require "$out" "NOT_FOUND in a trailer frame" 'grpc.frame_type == 1 && grpc.message_data contains "grpc-status: 5"' "${WEB[@]}"
	require "$out" "a message over 20 KB" "grpc.message_length > 20000" "${WEB[@]}"
}

# --- gRPC calls that fail -----------------------------------------------------
# grpc-go calls to a grpc-go server and to a net/http server that answers as
# a proxy without an upstream or a server that gets gRPC wrong would; the
# generator checks that grpc-go's client reports the statuses the tests
# expect of gogrpc.
gen_grpc_fail() {
	local out="$HERE/grpc_failures.pcap"
	echo "== grpc_failures.pcap (ports $GRPC_FAIL_PORT $GRPC_FAIL_PROXY_PORT)"
	port_free "$GRPC_FAIL_PORT"
	port_free "$GRPC_FAIL_PROXY_PORT"
	start_capture "$WORK/grpcfail.pcap" "$GRPC_FAIL_PORT" "tcp port $GRPC_FAIL_PORT or tcp port $GRPC_FAIL_PROXY_PORT"
	"$WORK/grpcfail" -grpc "127.0.0.1:$GRPC_FAIL_PORT" -proxy "127.0.0.1:$GRPC_FAIL_PROXY_PORT"
	stop_capture "$GRPC_FAIL_PORT"
	cp "$WORK/grpcfail.pcap" "$out"
	FAIL=(-d "tcp.port==$GRPC_FAIL_PORT,http2" -d "tcp.port==$GRPC_FAIL_PROXY_PORT,http2")
	require "$out" "a status in a CONTINUATION" 'http2.type == 9 && http2.header.name == "grpc-status"' "${FAIL[@]}"
	require "$out" "RST_STREAM CANCEL" "http2.rst_stream.error == 8" "${FAIL[@]}"
	require "$out" "HTTP 503" 'http2.header.value == "503"' "${FAIL[@]}"
}

# --- Header octets that are not UTF-8 -------------------------------------------
# h2_not_utf8.pcap: curl sends nghttpd a header whose value holds octets
# that are not UTF-8 (HTTP/2 allows any but NUL, CR and LF); grpc-go calls
# get status messages with an "é" from a grpc-go server and with
# percent-encoded octets that are not UTF-8 from a net/http server
# (gen/notutf8).
gen_not_utf8() {
	local out="$HERE/h2_not_utf8.pcap" docroot="$WORK/not-utf8-htdocs" nghttpd_pid
	echo "== h2_not_utf8.pcap (ports $NOT_UTF8_H2_PORT $NOT_UTF8_GRPC_PORT $NOT_UTF8_H2C_PORT)"
	port_free "$NOT_UTF8_H2_PORT"
	port_free "$NOT_UTF8_GRPC_PORT"
	port_free "$NOT_UTF8_H2C_PORT"
	mkdir -p "$docroot"
	printf 'hello\n' >"$docroot/index.html"
	nghttpd --no-tls -a 127.0.0.1 -d "$docroot" "$NOT_UTF8_H2_PORT" >"$WORK/nghttpd.not-utf8.log" 2>&1 &
	nghttpd_pid=$!
	PIDS+=("$nghttpd_pid")
	wait_port "$nghttpd_pid" "$NOT_UTF8_H2_PORT"
	start_capture "$WORK/not-utf8.pcap" "$NOT_UTF8_H2_PORT" "tcp port $NOT_UTF8_H2_PORT or tcp port $NOT_UTF8_GRPC_PORT or tcp port $NOT_UTF8_H2C_PORT"
	curl -sS --http2-prior-knowledge -o /dev/null -H $'x-raw: a\xff\xfeb' "http://127.0.0.1:$NOT_UTF8_H2_PORT/index.html"
	"$WORK/notutf8" -grpc "127.0.0.1:$NOT_UTF8_GRPC_PORT" -h2c "127.0.0.1:$NOT_UTF8_H2C_PORT"
	stop_capture "$NOT_UTF8_H2_PORT"
	kill "$nghttpd_pid"
	wait "$nghttpd_pid" || true
	forget_pid "$nghttpd_pid"
	cp "$WORK/not-utf8.pcap" "$out"
	local decode=(-d "tcp.port==$NOT_UTF8_H2_PORT,http2" -d "tcp.port==$NOT_UTF8_GRPC_PORT,http2" -d "tcp.port==$NOT_UTF8_H2C_PORT,http2")
	require "$out" "x-raw header" 'http2.header.name == "x-raw"' "${decode[@]}"
	require "$out" "grpc-message with é" 'http2.header.value contains "caf%C3%A9"' "${decode[@]}"
	require "$out" "grpc-message with %FF" 'http2.header.value contains "%FF%FE"' "${decode[@]}"
}

# --- HTTP/1.1 Upgrade to h2c ------------------------------------------------------
# h2c_upgrade.pcap: curl --http2 on http:// URLs asks x/net's h2c handler
# to upgrade: the first request goes as HTTP/1.1 with "Upgrade: h2c", the
# 101 and the rest of the connection are HTTP/2 (gen/h2cupgrade).
gen_h2c_upgrade() {
	local out="$HERE/h2c_upgrade.pcap"
	echo "== h2c_upgrade.pcap (port $H2C_UPGRADE_PORT)"
	port_free "$H2C_UPGRADE_PORT"
	start_capture "$WORK/h2c-upgrade.pcap" "$H2C_UPGRADE_PORT"
	"$WORK/h2cupgrade" -addr "127.0.0.1:$H2C_UPGRADE_PORT"
	stop_capture "$H2C_UPGRADE_PORT"
	cp "$WORK/h2c-upgrade.pcap" "$out"
	local decode=(-d "tcp.port==$H2C_UPGRADE_PORT,http")
	require "$out" "HTTP/1.1 Upgrade: h2c" 'http.upgrade == "h2c"' "${decode[@]}"
	require "$out" "101 Switching Protocols" "http.response.code == 101" "${decode[@]}"
	require "$out" "HTTP/2 after the 101" "http2.type == 1" "${decode[@]}"
}

# --- TIME_WAIT: servers that close idle connections ----------------------------
# The TIME_WAIT captures come from the kernel test, which compares the
# engine with the kernel while it captures and checks the report; -update
# writes them. tw_h2c_idle_timeout.pcap: Go's h2c server with IdleTimeout
# 1 s, x/net/http2's client with health-check PINGs every 400 ms of
# silence; the server sends GOAWAY and closes 1 s later.
gen_tw_idle() {
	local out="$HERE/tw_h2c_idle_timeout.pcap"
	echo "== tw_h2c_idle_timeout.pcap, tw_http1_idle_timeout.pcap, tw_grpc_idle_timeout.pcap (tests/timewait_kernel_test.go)"
	if ! (cd "$MODROOT" && go test -count=1 ./tests -run 'TestTimeWaitAgainstKernel/^(h2c|http1|grpc)_idle_timeout$' -update -v) >"$WORK/tw_idle.log" 2>&1; then
		cat "$WORK/tw_idle.log" >&2
		die "the kernel test failed"
	fi
	grep -E 'compared with the kernel|wrote ' "$WORK/tw_idle.log" || true
	TW=(-d "tcp.port==8080,http2")
	require "$out" "GOAWAY" "http2.type == 7" "${TW[@]}"
	require "$out" "PING" "http2.type == 6 && http2.flags.ack == 0" "${TW[@]}"
	require "$out" "PING ACK" "http2.type == 6 && http2.flags.ack == 1" "${TW[@]}"
	require "$HERE/tw_http1_idle_timeout.pcap" "HTTP/1.1 responses" "http.response"
	# grpc-go's MaxConnectionIdle: GOAWAY and PING in one segment, then
	# the client's FIN.
	local grpc="$HERE/tw_grpc_idle_timeout.pcap"
	require "$grpc" "GOAWAY" "http2.type == 7" -d "tcp.port==9090,http2"
	require "$grpc" "client FIN" "tcp.flags.fin == 1 && tcp.dstport == 9090"
}

SCENARIOS=(h2c h2c_loss nghttp2 grpc_tls grpc_gzip grpc_python grpc_web grpc_fail not_utf8 h2c_upgrade not_h2_mix)
if (($# == 0)); then
	set -- "${SCENARIOS[@]}"
fi
for s in "$@"; do
	[[ " ${SCENARIOS[*]} tw_idle " == *" $s "* ]] || die "unknown scenario $s (known: ${SCENARIOS[*]} tw_idle)"
done

echo "== building generators"
(cd "$MODROOT" && go build -o "$WORK/gotcpdump" ./cmd/gotcpdump && go build -o "$WORK/h2c" ./testpcaps/gen/h2c && go build -o "$WORK/grpctls" ./testpcaps/gen/grpctls &&
	go build -o "$WORK/noth2" ./testpcaps/gen/noth2 && go build -o "$WORK/grpcgzip" ./testpcaps/gen/grpcgzip &&
	go build -o "$WORK/grpcweb" ./testpcaps/gen/grpcweb && go build -o "$WORK/grpcfail" ./testpcaps/gen/grpcfail &&
	go build -o "$WORK/cutgaps" ./testpcaps/gen/cutgaps && go build -o "$WORK/notutf8" ./testpcaps/gen/notutf8 &&
	go build -o "$WORK/h2cupgrade" ./testpcaps/gen/h2cupgrade)

for s in "$@"; do
	"gen_$s"
done

echo "== done"
for f in h2c_go.pcap h2c_go_midstream.pcap h2c_loss.pcap nghttp2_push_padding.pcap grpc_tls_keylog.pcapng grpc_h2c_gzip.pcap grpc_python.pcap grpc_web.pcap grpc_failures.pcap h2_not_utf8.pcap h2c_upgrade.pcap not_h2_mix.pcap; do
	[[ -e $HERE/$f ]] || continue
	printf '  %-28s %5d packets %8d bytes\n' "$f" "$(packets "$HERE/$f")" "$(stat -c %s "$HERE/$f")"
done
