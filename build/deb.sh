#!/usr/bin/env bash
# Builds the Debian package gotcpdump_VERSION_ARCH.deb from what 'make build'
# left in build/out, so that the plugin and the tools can be installed on
# machines that have no Go toolchain: 'make deb' runs it, and
# tests/deb_test.go installs the result into a clean Debian 13 chroot.
#
#   build/deb.sh [OUTDIR]     OUTDIR defaults to build/out
#
# Contents:
#   /usr/lib/MULTIARCH/wireshark/plugins/gotcpdump/   goh2.lua, tcptw.lua,
#       gotcpdump.luainc, goshim52.so, goshim54.so, libgoparser.so: the
#       global Lua plugin folder of Debian's Wireshark 4.0 (Debian 12) and
#       4.4 (Debian 13) alike; the plugin loads the shim that matches the
#       Lua it runs in (5.2 or 5.4)
#   /usr/share/wireshark/profiles/gotcpdump/           the "gotcpdump" profile
#   /usr/bin/gotcpdump, /usr/bin/twreport
#   /usr/share/man/man8/gotcpdump.8.gz, /usr/share/man/man1/twreport.1.gz
#   /usr/share/doc/gotcpdump/copyright                 with the licenses of
#       the Go modules linked into the binaries, from the module cache
#
# Version: $VERSION when set, else from 'git describe --tags': a tag v1.2.3
# gives 1.2.3, 4 commits after it 1.2.3+4.gHASH, v2.0-rc1 2.0~rc1; with no tag,
# 0.0~gitYYYYMMDD.HHMMSS.HASH from the commit time (so that later commits
# sort higher and any tag sorts above them); "+dirty" when the work tree has
# changes. Depends are computed by dpkg-shlibdeps from the binaries (libc6,
# libpcap) and widened for Debian 13, whose libpcap package is
# libpcap0.8t64; Wireshark is tshark or wireshark, 4.0 or newer.
# Maintainer: $DEBFULLNAME <$DEBEMAIL>, else git's user.name and user.email.
# File times are clamped to the commit time (SOURCE_DATE_EPOCH).
#
# Needs dpkg-dev (dpkg-shlibdeps, dpkg-architecture) and binutils (strip);
# not root: the files are owned by root through --root-owner-group.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUTDIR=${1:-$ROOT/build/out}
BUILT=$ROOT/build/out
PKG=gotcpdump

die() {
	echo "deb.sh: $*" >&2
	exit 1
}

for tool in dpkg-deb dpkg-shlibdeps dpkg-architecture strip gzip; do
	command -v "$tool" >/dev/null || die "$tool is missing (apt-get install dpkg-dev binutils gzip)"
done
for f in libgoparser.so goshim52.so goshim54.so gotcpdump twreport; do
	[ -f "$BUILT/$f" ] || die "$BUILT/$f is missing: run 'make build' (or 'make deb')"
done
export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || die "go is missing: it lists the modules linked into the binaries for the copyright file"

cd "$ROOT"
if [ -z "${VERSION:-}" ]; then
	git rev-parse --verify -q HEAD >/dev/null || die "not a git checkout: set VERSION (e.g. VERSION=1.0.0 make deb)"
	desc=$(git describe --tags --dirty 2>/dev/null || true)
	if [ -n "$desc" ]; then
		dirty=
		[[ $desc == *-dirty ]] && { dirty=+dirty; desc=${desc%-dirty}; }
		desc=${desc#v}
		# A hyphen in the tag marks a pre-release (v2.0-rc1): "~" sorts it
		# before the release, as Debian does.
		if [[ $desc =~ ^(.*)-([0-9]+)-(g[0-9a-f]+)$ ]]; then
			tag=${BASH_REMATCH[1]}
			VERSION="${tag//-/\~}+${BASH_REMATCH[2]}.${BASH_REMATCH[3]}$dirty"
		else
			VERSION="${desc//-/\~}$dirty"
		fi
	else
		VERSION="0.0~git$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d.%H%M%S).$(git rev-parse --short HEAD)"
		git diff --quiet HEAD 2>/dev/null || VERSION+=+dirty
	fi
fi
dpkg --validate-version "$VERSION" 2>/dev/null || die "'$VERSION' is not a valid Debian version (set VERSION=...)"
ARCH=$(dpkg --print-architecture)
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
[ -n "$MULTIARCH" ] || die "dpkg-architecture names no multiarch triplet"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
MAINTAINER="${DEBFULLNAME:-$(git config user.name || true)} <${DEBEMAIL:-$(git config user.email || true)}>"
[ "$MAINTAINER" != " <>" ] || MAINTAINER="gotcpdump maintainers <gotcpdump@localhost>"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
STAGE=$TMP/$PKG
PLUGIN=usr/lib/$MULTIARCH/wireshark/plugins/gotcpdump
PROFILE=usr/share/wireshark/profiles/gotcpdump
DOC=usr/share/doc/$PKG
install -d "$STAGE/DEBIAN" "$STAGE/$PLUGIN" "$STAGE/$PROFILE" "$STAGE/usr/bin" \
	"$STAGE/usr/share/man/man1" "$STAGE/usr/share/man/man8" "$STAGE/$DOC"

install -m 0644 lua/goh2.lua lua/tcptw.lua lua/gotcpdump.luainc "$STAGE/$PLUGIN/"
# Shared objects are not executable in Debian packages; dlopen does not care.
install -m 0644 "$BUILT/libgoparser.so" "$BUILT/goshim52.so" "$BUILT/goshim54.so" "$STAGE/$PLUGIN/"
install -m 0755 "$BUILT/gotcpdump" "$BUILT/twreport" "$STAGE/usr/bin/"
# As dh_strip does; Go's tracebacks use its own tables, not the symbols.
strip --remove-section=.comment --remove-section=.note --strip-unneeded \
	"$STAGE/$PLUGIN"/*.so "$STAGE/usr/bin/gotcpdump" "$STAGE/usr/bin/twreport"
install -m 0644 profile/gotcpdump/preferences profile/gotcpdump/colorfilters profile/gotcpdump/io_graphs "$STAGE/$PROFILE/"
gzip -9n <docs/man/gotcpdump.8 >"$STAGE/usr/share/man/man8/gotcpdump.8.gz"
gzip -9n <docs/man/twreport.1 >"$STAGE/usr/share/man/man1/twreport.1.gz"
chmod 0644 "$STAGE"/usr/share/man/man*/*.gz

# The copyright file: the project, then the Go standard library and every
# module linked into a binary, each with its license text (Apache-2.0 by
# reference to the copy every Debian system has).
license_files() {
	find "$1" -maxdepth 1 -type f \( -iname 'LICEN[CS]E*' -o -iname 'COPYING*' -o -iname 'NOTICE*' \) | sort
}
{
	cat <<-EOF
		This is gotcpdump, built from $(git rev-parse HEAD 2>/dev/null || echo "an unknown commit").

		Copyright: the gotcpdump authors.
	EOF
	if f=$(license_files "$ROOT" | head -n 1) && [ -n "$f" ]; then
		echo "License:"
		echo
		cat "$f"
	else
		echo "License: none is declared in the source tree."
	fi
	cat <<-EOF

		The binaries (gotcpdump, twreport, libgoparser.so) are statically linked
		with the Go standard library and the Go modules below; their copyright
		and license notices follow. On Debian systems the Apache License 2.0 is
		in /usr/share/common-licenses/Apache-2.0.
	EOF
	gomodcache=$(go env GOMODCACHE)
	emit() { # name dir
		local found=0 f
		echo
		echo "== $1 (linked into the binaries)"
		while read -r f; do
			[ -n "$f" ] || continue
			found=1
			if head -n 5 "$f" | grep -q 'Apache License' && head -n 5 "$f" | grep -q 'Version 2.0, January 2004'; then
				echo "License: Apache-2.0 ($(basename "$f"); see /usr/share/common-licenses/Apache-2.0)"
			else
				echo "$(basename "$f"):"
				echo
				cat "$f"
			fi
		done < <(license_files "$2")
		[ "$found" = 1 ] || die "no license file for $1 in $2"
	}
	emit "Go standard library $(go env GOVERSION)" "$(go env GOROOT)"
	go version -m "$BUILT/gotcpdump" "$BUILT/twreport" "$BUILT/libgoparser.so" |
		awk '$1 == "dep" { print $2, $3 } $1 == "=>" { print $2, $3 }' | sort -u |
		while read -r mod ver; do
			# The module cache spells capitals as "!" and the small letter.
			dir=$gomodcache/$(sed 's/[A-Z]/!\L&/g' <<<"$mod")@$ver
			[ -d "$dir" ] || die "$mod@$ver is not in the module cache (run 'go mod download')"
			emit "$mod $ver" "$dir"
		done
} >"$STAGE/$DOC/copyright"
chmod 0644 "$STAGE/$DOC/copyright"

# Depends from the binaries' own linkage, as dh_shlibdeps computes it.
(
	cd "$TMP"
	mkdir -p debian
	printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$PKG" "$PKG" >debian/control
	dpkg-shlibdeps -O -e"$STAGE/usr/bin/gotcpdump" -e"$STAGE/usr/bin/twreport" \
		-e"$STAGE/$PLUGIN/libgoparser.so" -e"$STAGE/$PLUGIN/goshim52.so" -e"$STAGE/$PLUGIN/goshim54.so" \
		2> >(grep -v 'symbol lua_.* used by .* found in none of the libraries' >&2)
) >"$TMP/shlibs"
shlibs=$(sed -n 's/^shlibs:Depends=//p' "$TMP/shlibs")
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no dependencies"
# libpcap0.8 was renamed libpcap0.8t64 in Debian 13 (the 64-bit time_t
# transition); either one satisfies the binaries.
depends=$(sed -E 's/libpcap0\.8(t64)? (\([^)]*\))/libpcap0.8 \2 | libpcap0.8t64 \2/' <<<"$shlibs")
depends+=", tshark (>= 4.0) | wireshark (>= 4.0)"

cat >"$STAGE/DEBIAN/control" <<EOF
Package: $PKG
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $(du -sk --apparent-size --exclude=DEBIAN "$STAGE" | cut -f1)
Depends: $depends
Section: net
Priority: optional
Description: Go-backed Wireshark dissectors and packet capture tools
 Tools for diagnosing TCP and HTTP/2 problems between Go services, inside
 Wireshark and tshark:
  * goh2: an HTTP/2 dissector whose decoding is done by Go's own
    golang.org/x/net/http2 Framer and hpack decoder, with flow-control and
    HPACK state, and gogrpc, gRPC messages, status and call summaries;
  * tcptw: where TIME_WAIT sockets come from, as a postdissector and a
    report (tshark -z tcptw,report);
  * gotcpdump: captures into pcap or pcapng with tcpdump's write-side
    flags, per process (eBPF), and "gotcpdump watch", which captures by
    itself when TIME_WAIT sockets climb and serves Prometheus metrics;
  * twreport: the TIME_WAIT report from capture files, as text or JSON.
 .
 The plugin goes into Wireshark's global Lua plugin folder and works with
 Wireshark 4.0 (Lua 5.2) and 4.4 (Lua 5.4); the "gotcpdump" configuration
 profile (tshark -C gotcpdump) adds its columns, coloring rules and I/O
 graphs.
EOF

(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/md5sums"
find "$STAGE" -type d -exec chmod 0755 {} +

mkdir -p "$OUTDIR"
DEB=$OUTDIR/${PKG}_${VERSION}_$ARCH.deb
dpkg-deb --root-owner-group --build "$STAGE" "$DEB" >/dev/null
echo "deb.sh: $DEB ($(du -h "$DEB" | cut -f1); Depends: $depends)"
