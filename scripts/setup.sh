#!/usr/bin/env bash
# Install what the build and the guest need, from the package registries only.
# Idempotent and quiet when everything is already there.
source "$(dirname "$0")/common.sh"

PKGS=(rustc-web cargo-web rust-web-src rust-web-clippy rustfmt-web clang-19 lld-19 llvm-19 libclang-19-dev
	flex bison bc libelf-dev libssl-dev cpio dwarves make gcc libc6-dev libcap-dev
	busybox-static qemu-system-x86 kmod xz-utils zstd python3 rsync git linux-source-6.12)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	[ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
	step "apt: installing ${missing[*]}"
	mkdir -p "$CACHE"
	run_logged "$CACHE/apt-update.log" apt-get update
	run_logged "$CACHE/apt-install.log" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}"
fi
[ -f "$KSRC_TARBALL" ] || die "$KSRC_TARBALL missing after installing linux-source-6.12"
[ -d "$RUST_LIB_SRC" ] || die "$RUST_LIB_SRC missing (rust-web-src)"
/usr/bin/rustc --version | grep -q '^rustc 1\.96' || die "want rustc 1.96 at /usr/bin/rustc (rustc-web)"

if [ ! -x "$BINDGEN" ]; then
	step "cargo: installing bindgen-cli $BINDGEN_VERSION (about 70 s)"
	mkdir -p "$TOOLS"
	run_logged "$TOOLS/bindgen-install.log" /usr/bin/cargo install --locked bindgen-cli \
		--version "$BINDGEN_VERSION" --root "$TOOLS/bindgen-$BINDGEN_VERSION"
fi
"$BINDGEN" --version | grep -q "$BINDGEN_VERSION" || die "bindgen is not $BINDGEN_VERSION"
