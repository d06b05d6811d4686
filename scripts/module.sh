#!/usr/bin/env bash
# Build our iommufd.ko out of tree (M=) against the cached kernel build, with clippy (the
# kernel's lint set) as the compiler driver, and rustfmt-check the sources.
# Writes $OUT/module-build.log, $OUT/lint.log and $OUT/lint.status (clean | N problems).
source "$(dirname "$0")/common.sh"

mkdir -p "$OUT"
if [ "$KARCH" != x86 ]; then
	# Another arch: the same sources, copied (rsync keeps their times, so make rebuilds only what
	# changed) to $AOUT/module-src and built there, so the x86 objects in the clone stay; no
	# clippy or rustfmt (the x86 build lints the same sources).
	MSRC=$AOUT/module-src
	mkdir -p "$MSRC"
	rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '*.mod*' --exclude '.*.cmd' \
		--exclude modules.order --exclude Module.symvers --exclude 'core/target' \
		"$TOP/drivers" "$TOP/include" "$TOP/Kbuild" "$MSRC/"
	step "building drivers/iommufd/iommufd.ko for $KARCH (Rust, M=$MSRC)"
	rm -f "$MSRC/drivers/iommufd/iommufd.ko"
	if ! make -C "$KBUILD" M="$MSRC" "${KARCH_MAKE[@]}" LLVM=-19 RUSTC=/usr/bin/rustc \
		RUSTDOC=/usr/bin/rustdoc HOSTRUSTC=/usr/bin/rustc RUST_LIB_SRC="$RUST_LIB_SRC" \
		BINDGEN="$BINDGEN" -j"$JOBS" modules >"$AOUT/module-build.log" 2>&1; then
		cat "$AOUT/module-build.log" >&2
		die "module build for $KARCH failed"
	fi
	[ -f "$MSRC/drivers/iommufd/iommufd.ko" ] || die "no iommufd.ko for $KARCH after the build"
	info "built $MSRC/drivers/iommufd/iommufd.ko ($(du -h "$MSRC/drivers/iommufd/iommufd.ko" | cut -f1))"
	exit 0
fi
step "building drivers/iommufd/iommufd.ko (Rust, M=$TOP)"
MMAKE=(make -C "$KBUILD" M="$TOP" LLVM=-19 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	HOSTRUSTC=/usr/bin/rustc RUST_LIB_SRC="$RUST_LIB_SRC" BINDGEN="$BINDGEN"
	CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver)
# Clippy only speaks when it compiles: rebuild our crate every time (a few seconds). Not
# `make clean`, which would sweep every *.o under the repo (cargo's target/ included).
rm -f "$TOP/drivers/iommufd/iommufd_rs.o" "$TOP/drivers/iommufd/iommufd.ko"
if ! "${MMAKE[@]}" -j"$JOBS" modules >"$OUT/module-build.log" 2>&1; then
	cat "$OUT/module-build.log" >&2
	die "module build failed"
fi
[ -f "$TOP/drivers/iommufd/iommufd.ko" ] || die "no drivers/iommufd/iommufd.ko after the build"
info "built $(modinfo -F name "$TOP/drivers/iommufd/iommufd.ko" 2>/dev/null || echo iommufd).ko ($(du -h "$TOP/drivers/iommufd/iommufd.ko" | cut -f1))"

# Lint: compiler/clippy warnings in the build, and rustfmt with the kernel's settings.
{
	grep -E -A12 '^(warning|error)(\[|:)' "$OUT/module-build.log" || true
	find "$TOP/drivers/iommufd" "$TOP/rust/kernel" -name '*.rs' ! -path '*/rust/kernel/lib.rs' -print0 |
		xargs -0 /usr/bin/rustfmt --color never --check --edition 2021 --config-path "$KSRC/.rustfmt.toml" 2>&1 || true
} >"$OUT/lint.log"
n=$(grep -cE '^(warning|error)(\[|:)|^Diff in ' "$OUT/lint.log" || true)
if [ "$n" = 0 ]; then
	echo clean >"$OUT/lint.status"
	info "lint: clean (clippy with the kernel's lints, rustfmt)"
else
	echo "$n problems" >"$OUT/lint.status"
	info "lint: $n problems (see $OUT/lint.log)"
	head -40 "$OUT/lint.log" >&2
fi
