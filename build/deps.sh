#!/usr/bin/env bash
# Installs what building and testing gotcpdump needs on Debian 12, only
# where it is missing, so that 'make run' and 'make test' work on a fresh
# machine. Needs root for apt-get.
set -euo pipefail

pkgs=(
  tshark            # Wireshark 4.0 with Lua 5.2: the host of our dissectors
  liblua5.2-dev     # headers for the Lua 5.2 shim (Wireshark <= 4.2)
  lua5.2            # plain interpreter for the shim's Lua-level test
  liblua5.4-dev     # headers for the Lua 5.4 shim (Wireshark 4.4+)
  lua5.4
  libpcap-dev       # gopacket/pcap and BPF compilation
  tcpdump           # capturing test traffic
  nghttp2-client    # nghttp, h2load: captures and benchmark load
  nghttp2-server    # nghttpd
  gcc
  make
  pkg-config
  curl              # the watch-mode test scrapes metrics inside a namespace
  jq                # the README's recipes pipe JSON into it (TestReadmeRecipes)
  iproute2          # ip netns and ss: the tests' network namespaces
  procps            # sysctl inside the namespaces
  nftables          # nft: the lossy path of the TIME_WAIT kernel scenarios
  systemd           # systemd-analyze verify checks deploy/systemd
  wireshark-qt      # the GUI test, under Xvfb
  xvfb
  xauth
  xdotool           # drives the GUI's Tools menu
  imagemagick       # screenshots
  debootstrap       # a Debian 13 chroot: Wireshark 4.4 tests, the .deb install test
  python3-grpcio    # a second gRPC implementation for captures
  python3-protobuf
  dpkg-dev          # make deb: dpkg-shlibdeps
  binutils          # make deb: strip
  man-db            # the .deb test looks its man pages up
  groff-base        # the man pages are rendered with warnings on
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}" >&2
  # Do not ask whether non-root users may capture.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null; then
  for d in /usr/local/go/bin /usr/lib/go/bin; do
    [ -x "$d/go" ] && { echo "deps: add $d to PATH" >&2; exit 1; }
  done
  echo "deps: Go $(sed -n 's/^go //p' "$(dirname "$0")/../go.mod") or newer is required (https://go.dev/dl/)" >&2
  exit 1
fi
go mod download

# promtool checks the Prometheus rules in deploy/. It comes from Debian's
# prometheus package, unpacked into build/tools rather than installed:
# installing the package would start a Prometheus server on the host.
tools="$(cd "$(dirname "$0")" && pwd)/tools"
if [ ! -x "$tools/promtool" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1) || { apt-get update -q >/dev/null && (cd "$tmp" && apt-get download prometheus >/dev/null); }
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
  mkdir -p "$tools"
  install -m 0755 "$tmp/x/usr/bin/promtool" "$tools/promtool"
  rm -rf "$tmp"
  echo "deps: promtool unpacked into $tools" >&2
fi

