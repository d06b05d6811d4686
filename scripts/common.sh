# shellcheck shell=bash
# Shared settings for every iommufd-rs script.  Sourced, never run.
#
# Everything that is expensive to make (toolchain bits, the unpacked kernel tree, the kernel
# build) lives in a cache outside the clone, so a fresh clone reuses it.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export TOP

# The pinned kernel: Debian's linux-source-6.12 package.  The version moves with Debian
# security updates, so it is pinned here and checked after unpacking.
KVER_PIN=6.12.117
KSRC_TARBALL=/usr/src/linux-source-6.12.tar.xz
BINDGEN_VERSION=0.71.1

CACHE=${IOMMUFD_RS_CACHE:-/var/cache/iommufd-rs}
TOOLS=$CACHE/tools
BINDGEN=$TOOLS/bindgen-$BINDGEN_VERSION/bin/bindgen
KTREE=$CACHE/linux-$KVER_PIN          # per kernel version
KSRC=$KTREE/src                       # pristine tree (a git repo) + our rust/ overlay
RUST_LIB_SRC=/usr/src/rustc-1.96.0/library

# The architecture to build for and boot: x86 (the default) or arm64 (a cross build from
# this x86 machine, booted under qemu-system-aarch64 with an emulated SMMUv3). Every script
# reads IOMMUFD_RS_ARCH; the Makefile sets it for the arm64 steps.
KARCH=${IOMMUFD_RS_ARCH:-x86}
# Kernel variant: test (the default: KASAN, lockdep, kmemleak; make test, make run) or prod
# (configs/iommufd-rs-prod.config, a distribution-like kernel without the debug checks; make
# bench, x86 only). Each has its own fragment and build folder, from the same source tree and
# overlay.
KVARIANT=${IOMMUFD_RS_KVARIANT:-test}
# Per arch: the config fragment, the kernel image, extra make variables, the build folder's
# name prefix (each arch and variant its own), and AOUT, where the arch's build products go
# (x86: $OUT itself, as always; arm64: $OUT/build-arm64, so that the two never overwrite each
# other; the arm64 guest's logs are $OUT/arm64 like any plan's).
OUT=${IOMMUFD_RS_OUT:-$TOP/out}
case $KARCH/$KVARIANT in
x86/test)
	FRAG=$TOP/configs/iommufd-rs.config
	KBUILD_PREFIX=build-
	;;
x86/prod)
	FRAG=$TOP/configs/iommufd-rs-prod.config
	KBUILD_PREFIX=build-prod-
	;;
arm64/test)
	FRAG=$TOP/configs/iommufd-rs-arm64.config
	KBUILD_PREFIX=build-arm64-
	;;
*) echo "error: IOMMUFD_RS_ARCH=$KARCH IOMMUFD_RS_KVARIANT=$KVARIANT: x86 (test or prod) or arm64 (test)" >&2; exit 1 ;;
esac
case $KARCH in
x86)
	KIMAGE=arch/x86/boot/bzImage
	KARCH_MAKE=()
	AOUT=$OUT
	;;
arm64)
	KIMAGE=arch/arm64/boot/Image
	KARCH_MAKE=(ARCH=arm64)
	AOUT=$OUT/build-arm64
	;;
esac
# Cross tools for the arm64 test programs (static, against Debian's arm64 cross libc).
ARM64_CC=aarch64-linux-gnu-gcc
ARM64_BUSYBOX=$CACHE/arm64/busybox/root/bin/busybox

# Config hash: the fragment, the recipe that applies it and the toolchain.  Each distinct
# hash gets its own build folder, so switching back and forth never rebuilds from scratch.
# (x86 keeps its folder name build-<hash>; other arches are build-<arch>-<hash>.)
cfg_hash() {
	{
		cat "$FRAG"
		/usr/bin/rustc --version 2>/dev/null || true
		clang-19 --version 2>/dev/null | head -1 || true
	} | sha256sum | cut -c1-12
}
KBUILD=$KTREE/$KBUILD_PREFIX$(cfg_hash)
# QEMU 10 (iommufd backend) for the pci guest, unpacked by setup.sh, never installed:
# $QEMU10/current -> the version folder, whose root/ is the unpacked packages.
QEMU10=$CACHE/qemu10
QEMU10_ROOT=$QEMU10/current/root
QEMU10_LIBS=$QEMU10_ROOT/usr/lib/x86_64-linux-gnu:$QEMU10_ROOT/lib/x86_64-linux-gnu
# Everything a run produces that is worth keeping (guest logs, TAP) goes to $OUT (set above).

export LIBCLANG_PATH=/usr/lib/llvm-19/lib
KMAKE=(make -C "$KSRC" O="$KBUILD" "${KARCH_MAKE[@]}" LLVM=-19 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	HOSTRUSTC=/usr/bin/rustc RUST_LIB_SRC="$RUST_LIB_SRC" BINDGEN="$BINDGEN"
	CLIPPY_DRIVER=/usr/bin/clippy-driver)

JOBS=$(nproc)

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Take a machine-wide lock (held until this shell exits) so that two checkouts of the project
# never boot two guests, or run two kernel builds, at once on this 2-core machine: the second
# waits. The lock files live outside the cache and the checkout, so every clone shares them.
#   machine_lock guest|kbuild
machine_lock() {
	local f=/tmp/iommufd-rs-$1.lock
	exec 9>"$f"
	if ! flock -n 9; then
		info "waiting for another $1 on this machine to finish (lock $f)"
		flock 9
	fi
}

# Run a long command, printing a heartbeat line every 30 s and the log tail on failure.
run_logged() {
	local log=$1; shift
	local start=$SECONDS
	"$@" >"$log" 2>&1 &
	local pid=$! next=$((SECONDS + 30))
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		if ((SECONDS >= next)) && kill -0 "$pid" 2>/dev/null; then
			info "... $((SECONDS - start)) s: $(tail -c 300 "$log" | tail -n 1 | cut -c1-100)"
			next=$((SECONDS + 30))
		fi
	done
	if ! wait "$pid"; then
		tail -n 40 "$log" >&2
		die "failed (full log: $log)"
	fi
	info "done in $((SECONDS - start)) s (log: $log)"
}
