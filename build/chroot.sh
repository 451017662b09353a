#!/usr/bin/env bash
# Creates a Debian 13 (trixie) chroot with tshark: Wireshark 4.4 built
# with Lua 5.4, which the Debian 12 host (Wireshark 4.0, Lua 5.2) cannot
# provide. 'make test-ws44' runs the tshark tests with it (build/ws44.sh).
# Needs root (debootstrap, chroot) and http://deb.debian.org/debian.
#
#   build/chroot.sh [DIR]     DIR defaults to build/chroot/trixie (git-ignored)
#
# When it succeeds, DIR is a working chroot with /usr/bin/tshark, and apt's
# package lists are kept so that more packages can be installed into it.
# It is cached: DIR/.chroot-ready is written last, only when everything is
# done, and a later run with the same recipe returns at once. A DIR
# without it (an interrupted run) or with another recipe is removed and
# made again. It is rebuilt only under an exclusive lock on DIR.lock;
# whatever uses the chroot can hold a shared one (flock -s) meanwhile.
#
# Small and fast: debootstrap --variant=minbase, then tshark with
# --no-install-recommends, then the downloaded .debs are deleted.
# wireshark-common's "install-setuid" question is preseeded to false and
# debconf is non-interactive. Nothing is mounted in the host's mount
# namespace: debootstrap and apt get /proc in private ones (unshare), so
# an interrupted run leaves no mount behind. An existing DIR is removed
# only if this script made it (DIR/.chroot-sh) or it is empty.
#
# Environment: CHROOT_MIRROR [http://deb.debian.org/debian]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${1:-$ROOT/build/chroot/trixie}
MIRROR=${CHROOT_MIRROR:-http://deb.debian.org/debian}
SUITE=trixie
PKGS=(tshark)
# Changing the recipe makes cached chroots stale.
RECIPE="suite=$SUITE variant=minbase mirror=$MIRROR packages=${PKGS[*]} v1"

die() {
	echo "chroot.sh: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (debootstrap and chroot)"
command -v debootstrap >/dev/null || die "debootstrap is missing (make deps installs it)"
command -v unshare >/dev/null || die "unshare (util-linux) is missing"
case $DIR in /*) ;; *) DIR=$PWD/$DIR ;; esac
DIR=${DIR%/}
[ "$DIR" != "" ] && [ "$DIR" != / ] || die "refusing to use / as the chroot"
STAMP=$DIR/.chroot-ready
MARK=$DIR/.chroot-sh # made by this script: it may remove DIR
start=$SECONDS

ready() {
	[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ] && [ -x "$DIR/usr/bin/tshark" ]
}
cached() {
	echo "chroot.sh: $DIR is ready (cached; $(chroot "$DIR" dpkg-query -W -f='tshark ${Version}' tshark)), $((SECONDS - start)) s"
	exit 0
}

# Users of the chroot (build/ws44.sh, TestDeb) hold a shared lock on
# DIR.lock while they use it; it is rebuilt only under an exclusive one.
mkdir -p "$(dirname "$DIR")"
exec 9>>"$DIR.lock"
flock -s 9
ready && cached
flock -u 9
flock 9
ready && cached

# Removes DIR, if this script made it (or it is empty), without ever
# following a mount inside it: anything still mounted there is unmounted
# first, and rm stays on DIR's own file system.
remove_dir() {
	[ -e "$DIR" ] || return 0
	[ -f "$MARK" ] || [ -z "$(ls -A "$DIR" 2>/dev/null)" ] ||
		die "$DIR exists and was not made by chroot.sh: remove it or name another directory"
	local m
	while read -r m; do
		umount -l "$m" || die "cannot unmount $m; remove $DIR by hand"
	done < <(awk -v d="$DIR/" 'index($5 "/", d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	rm -rf --one-file-system "$DIR"
}

# Runs a command in the chroot with /proc mounted in a private mount
# namespace: the mount goes away with the command, whatever happens.
in_chroot() {
	unshare --mount --propagation private \
		/bin/sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$DIR" \
		/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true "$@"
}

# Once more after a failure (a mirror hiccup), then gives up saying what.
retry() {
	local what=$1
	shift
	"$@" && return 0
	echo "chroot.sh: $what failed; retrying once in 10 s" >&2
	sleep 10
	"$@" || die "$what failed twice; see the output above"
}

# debootstrap mounts /proc and /sys in DIR while it installs: in a mount
# namespace of its own, so that they cannot outlive it.
bootstrap() {
	remove_dir
	mkdir -p "$DIR"
	: >"$MARK"
	unshare --mount --propagation private \
		debootstrap --variant=minbase "$SUITE" "$DIR" "$MIRROR" >"$DIR.debootstrap.log" 2>&1 || {
		tail -n 20 "$DIR.debootstrap.log" >&2
		return 1
	}
}

echo "chroot.sh: creating a Debian $SUITE chroot with ${PKGS[*]} in $DIR (a minute or two)"
rm -f "$STAMP"
retry "debootstrap $SUITE from $MIRROR (log: $DIR.debootstrap.log)" bootstrap
rm -f "$DIR.debootstrap.log"

cp /etc/resolv.conf "$DIR/etc/resolv.conf" 2>/dev/null || true
# No service may start inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$DIR/usr/sbin/policy-rc.d"
chmod 0755 "$DIR/usr/sbin/policy-rc.d"
echo "wireshark-common wireshark-common/install-setuid boolean false" | in_chroot debconf-set-selections
retry "apt-get update in the chroot" in_chroot apt-get update -q >/dev/null
retry "apt-get install ${PKGS[*]} in the chroot" \
	in_chroot apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "${PKGS[@]}" >/dev/null
in_chroot apt-get clean
in_chroot /usr/bin/tshark -v >/dev/null 2>&1 || die "tshark does not run in $DIR"

echo "$RECIPE" >"$STAMP"
echo "chroot.sh: $DIR is ready ($(chroot "$DIR" dpkg-query -W -f='tshark ${Version}' tshark)), $((SECONDS - start)) s"
