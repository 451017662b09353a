#!/usr/bin/env bash
# Regenerates every HTTP/2 capture in this directory from live loopback
# traffic. Must run as root (tcpdump on lo). Needs go, tcpdump, tshark,
# editcap, capinfos, nghttp and nghttpd.
#
# Usage: sudo ./generate.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODROOT=$(cd "$HERE/.." && pwd)

# One fixed port per scenario, so captures can be decoded with a known
# "-d tcp.port==PORT,http2" and scenarios never see each other's traffic.
H2C_PORT=18080
NGHTTP_PORT=18081
GRPC_PORT=18443

WORK=$(mktemp -d /tmp/testpcaps.XXXXXX)
PIDS=()

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

die() {
	echo "generate.sh: $*" >&2
	exit 1
}

[[ $EUID -eq 0 ]] || die "must run as root to capture on lo"
for tool in go tcpdump tshark editcap capinfos nghttp nghttpd ss; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done

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

# start_capture OUT PORT: starts tcpdump and waits until it is listening.
# --immediate-mode matters: without it packets still sitting in the
# kernel ring buffer are lost when tcpdump is interrupted.
TCPDUMP_PID=
start_capture() {
	local out=$1 port=$2 log="$WORK/tcpdump.$2.log"
	tcpdump -i lo -s 0 -U --immediate-mode -Z root -w "$out" "tcp port $port" 2>"$log" &
	TCPDUMP_PID=$!
	PIDS+=("$TCPDUMP_PID")
	for _ in $(seq 100); do
		grep -q "listening on" "$log" && return 0
		kill -0 "$TCPDUMP_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$log" >&2
	die "tcpdump did not start"
}

stop_capture() {
	# Let the final FIN/ACKs reach the capture before stopping it.
	sleep 0.5
	kill -INT "$TCPDUMP_PID"
	wait "$TCPDUMP_PID" || die "tcpdump exited with an error"
	forget_pid "$TCPDUMP_PID"
	tail -n 3 "$WORK/tcpdump.$1.log" | head -n 1
}

wait_port() {
	local pid=$1 port=$2
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || die "server on port $port exited"
		[[ -n $(ss -Hltn "sport = :$port") ]] && return 0
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

echo "== building generators"
(cd "$MODROOT" && go build -o "$WORK/h2c" ./testpcaps/gen/h2c && go build -o "$WORK/grpctls" ./testpcaps/gen/grpctls)

# --- Go net/http h2c -------------------------------------------------------
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

# --- nghttp2 -----------------------------------------------------------------
echo "== nghttp2_push_padding.pcap (port $NGHTTP_PORT)"
DOCROOT="$WORK/htdocs"
mkdir -p "$DOCROOT"
cat >"$DOCROOT/index.html" <<'EOF'
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

# --- gRPC over TLS -------------------------------------------------------
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

echo "== done"
for f in h2c_go.pcap h2c_go_midstream.pcap nghttp2_push_padding.pcap grpc_tls_keylog.pcapng; do
	printf '  %-28s %5d packets %8d bytes\n' "$f" "$(packets "$HERE/$f")" "$(stat -c %s "$HERE/$f")"
done
