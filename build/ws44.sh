#!/usr/bin/env bash
# Runs the tshark tests (go test ./tests/...) on Wireshark 4.4 with Lua
# 5.4, the tshark of the Debian 13 chroot that build/chroot.sh makes,
# where the host has Wireshark 4.0 with Lua 5.2. Run it through 'make
# test-ws44' (which builds, and makes the chroot if needed), as root.
#
# How: a directory first on the PATH holds a 'tshark' script that execs
# the chroot's /usr/bin/tshark through chroot(8), with the caller's working
# directory and environment (HOME, the tests' temporary plugin folder; TZ;
# LANG); PATH inside is the chroot's. The same test binaries, plugin files
# (build/out, lua/) and captures are used as on the host: only tshark
# changes. Host tools other than tshark (go, editcap, capinfos, ip) stay
# the host's.
#
# tshark runs there as nobody, not root: run as root, Wireshark 4.4 loads
# no Lua plugin from the personal plugin folder, where the tests install
# the plugin (it ships no init.lua; Debian 12's 4.0 sets
# run_user_scripts_when_superuser in /usr/share/wireshark/init.lua). It
# keeps CAP_DAC_READ_SEARCH, to read the tests' root-only temporary
# directories.
#
# Paths are the same inside as outside: the repository and /tmp are
# bind-mounted at their own paths, and a fresh /proc is mounted (the
# chroot's /dev already has the device nodes tshark uses; / is never
# bind-mounted). Everything runs in a private mount namespace (unshare):
# the mounts are invisible to the rest of the machine and go away with
# this script however it ends; they are also unmounted on exit. Within
# that namespace /tmp is made a shared mount, so that a tmpfs a test mounts
# under its temporary directory (the full-disk tests) reaches the chroot
# too. A shared lock on the chroot's lock file keeps build/chroot.sh from
# rebuilding it meanwhile.
#
# What runs: every test that runs tshark with the plugin. Left out: the
# tests that run no tshark, TestTimeWaitAgainstKernel (the kernel against
# the engine, over 2 minutes), TestTwreportGolden (the twreport command),
# TestDeployFiles (systemd and Prometheus files), TestManPages; the
# gotcpdump tests (TestGotcpdump*), which test the capture binary and run
# tshark only without the plugin, as a reader of the files it writes
# (about 150 s), but for those whose files carry what 4.4 must read too:
# packet comments (--pid), nanosecond time stamps and pcapng written in
# batches; TestWiresharkGUI (it would start the host's
# wireshark-qt 4.0); and TestDeb, which installs the package into its own
# copy of the same chroot and runs its 4.4 in every 'make test'.
# WIRESHARK_VERSION=4.4 makes TestWiresharkVersion require tshark 4.4 with
# Lua 5.4 and the plugin running on goshim54.so; this script checks the
# version before it starts, too.
#
# Environment: WS44_CHROOT [build/chroot/trixie]; WS44_RUN, a go test -run
# pattern to run fewer tests. The whole output goes to
# build/out/ws44-test.log; failures and a count are printed at the end.
#
# build/ws44.sh COMMAND [ARG...] runs COMMAND in the same environment
# instead of the tests, from the repository's root, and exits with its
# status: 'make bench-ws44' runs the benchmarks this way, against 4.4's
# built-in dissectors.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CHROOT=${WS44_CHROOT:-$ROOT/build/chroot/trixie}
SKIP='^(TestTimeWaitAgainstKernel|TestTwreportGolden|TestDeployFiles|TestManPages|TestGotcpdump(AgainstTcpdump|ErrorsAsTcpdump|Faults|IfaceGone|ImmediateMode|PidHighRate|Prints.*|Reads(Files.*|LargeFiles|SlowPipes|TruncatedFiles)|Watch.*)|TestWiresharkGUI|TestDeb)$'
LOG=$ROOT/build/out/ws44-test.log
export PATH=$PATH:/usr/local/go/bin

die() {
	echo "ws44.sh: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (chroot, mounts)"
[ -f "$CHROOT/.chroot-ready" ] && [ -x "$CHROOT/usr/bin/tshark" ] ||
	die "no finished chroot in $CHROOT: run build/chroot.sh first (make test-ws44 does)"
[ "$ROOT" != /tmp ] || die "the repository cannot be /tmp itself"
command -v go >/dev/null || die "go is not on the PATH"

# No rebuild of the chroot (build/chroot.sh) while the tests use it.
[ -f "$CHROOT.lock" ] || die "no $CHROOT.lock: run build/chroot.sh first"
exec 8<"$CHROOT.lock"
flock -s 8
[ -f "$CHROOT/.chroot-ready" ] || die "$CHROOT was removed meanwhile: run build/chroot.sh again"

# Everything below runs in a private mount namespace.
if [ "${WS44_PRIVATE_NS:-}" != "$$" ]; then
	export WS44_PRIVATE_NS=$$
	exec unshare --mount --propagation private "$BASH" "${BASH_SOURCE[0]}" "$@"
fi
# (unshare execs in the same process, so $$ is unchanged; the variable
# is dropped so that the tests do not inherit it.)
unset WS44_PRIVATE_NS

mounted=() # mount points, in mount order
made=()    # directories made for them in the chroot, parents first
bin=
cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" ||
			echo "ws44.sh: could not unmount ${mounted[i]}" >&2
	done
	for ((i = ${#made[@]} - 1; i >= 0; i--)); do
		rmdir "${made[i]}" 2>/dev/null || true # only if empty
	done
	[ -z "$bin" ] || rm -rf "$bin"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bind() { # SRC: bind-mounts SRC at the same path in the chroot
	local d=$CHROOT rest=${1#/}
	while [ -n "$rest" ]; do
		d=$d/${rest%%/*}
		[ "$rest" = "${rest#*/}" ] && rest= || rest=${rest#*/}
		[ -d "$d" ] || { mkdir "$d" && made+=("$d"); }
	done
	mount --bind "$1" "$CHROOT$1"
	mounted+=("$CHROOT$1")
}
# /tmp becomes a shared mount of this namespace only, so that mounts
# under it propagate to its bind in the chroot.
if ! mountpoint -q /tmp; then
	mount --bind /tmp /tmp
	mounted+=(/tmp)
fi
mount --make-shared /tmp
bind /tmp
# A repository under /tmp (a CI clone, say) comes with /tmp.
case $ROOT in /tmp/*) ;; *) bind "$ROOT" ;; esac
mount -t proc proc "$CHROOT/proc"
mounted+=("$CHROOT/proc")

export TMPDIR=/tmp
bin=$(mktemp -d /tmp/ws44-bin.XXXXXX)
cat >"$bin/tshark" <<EOF
#!/bin/sh
# tshark of $CHROOT (made by build/ws44.sh)
exec chroot '$CHROOT' /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups \\
	--inh-caps=+dac_read_search --ambient-caps=+dac_read_search \\
	/usr/bin/env --chdir="\$PWD" PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/bin/tshark "\$@"
EOF
chmod 0755 "$bin/tshark"
export PATH=$bin:$PATH

version=$(cd "$ROOT" && tshark -v 2>/dev/null) || die "the chroot's tshark does not run"
head=$(head -n 1 <<<"$version")
version=$(tr -s '\n' ' ' <<<"$version") # -v wraps its lines anywhere
[[ $head == "TShark (Wireshark) 4.4."* ]] || die "expected tshark 4.4 in the chroot, got: $head"
grep -q 'with Lua 5\.4' <<<"$version" || die "the chroot's tshark is not built with Lua 5.4"
echo "ws44.sh: ${head%.}, $(grep -o 'with Lua 5\.4[.0-9]*' <<<"$version" | sed 's/^with //')"

cd "$ROOT"
if (($#)); then
	set +e
	"$@"
	exit $?
fi
start=$SECONDS
run=()
[ -z "${WS44_RUN:-}" ] || run=(-run "$WS44_RUN")
set +e
WIRESHARK_VERSION=4.4 go test -count=1 -v -parallel 8 -timeout 15m "${run[@]}" -skip "$SKIP" ./tests/... >"$LOG" 2>&1
rc=$?
set -e
grep -E '^(\s*--- (FAIL|SKIP)|FAIL|ok|panic)' "$LOG" || true
echo "ws44.sh: $(grep -cE '^\s*--- PASS' "$LOG") passed, $(grep -cE '^\s*--- FAIL' "$LOG") failed," \
	"$(grep -cE '^\s*--- SKIP' "$LOG") skipped (tests and subtests) in $((SECONDS - start)) s; log: $LOG"
exit $rc
