#!/usr/bin/env bash
# make bench: the C module and ours, in alternating rounds, in one boot of the production
# kernel (configs/iommufd-rs-prod.config), and the report.
#   1. build the production kernel (kernel.sh with IOMMUFD_RS_KVARIANT=prod: its own build
#      folder beside the test kernel's, same source tree and overlay);
#   2. build our iommufd.ko against it from a copy of the sources under $OUT/bench-build
#      (the tree's drivers/iommufd/iommufd.ko stays the test kernel's);
#   3. build iommufd_bench (static) and a small initramfs: busybox, the plans, the bench, the
#      production kernel's C iommufd.ko and ours;
#   4. boot plan bench (GUEST_MEM MiB, hard timeout BENCH_TIMEOUT s), BENCH_ROUNDS rounds per
#      module (BENCH_QUICK=1: small sizes, for development);
#   5. scripts/bench_report.py: the table, $OUT/bench/results.csv and the PNG plots.
# With BENCH_PROFILE=GROUPS (make profile), the boot runs plan profile instead: those groups
# of the benchmark (iommufd_bench -f) under `perf record` (cpu-clock: TCG has no PMU), once
# per module, and the flat profiles are written to $OUT/profile/{c,rust}.txt.
export IOMMUFD_RS_KVARIANT=prod
source "$(dirname "$0")/common.sh"

ROUNDS=${BENCH_ROUNDS:-5}
QUICK=${BENCH_QUICK:-0}
TMO=${BENCH_TIMEOUT:-1800}
PROFILE=${BENCH_PROFILE:-}
B=$OUT/bench-build

"$TOP/scripts/kernel.sh"

step "building iommufd.ko against the production kernel (copy in $B/src)"
mkdir -p "$B/src"
rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='*.mod*' --exclude='.*.cmd' \
	--exclude=Module.symvers --exclude=modules.order --exclude='*_generated.rs' \
	--include=/Kbuild --include='/drivers/***' --include='/include/***' --exclude='*' \
	"$TOP/" "$B/src/"
MMAKE=(make -C "$KBUILD" M="$B/src" LLVM=-19 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	HOSTRUSTC=/usr/bin/rustc RUST_LIB_SRC="$RUST_LIB_SRC" BINDGEN="$BINDGEN")
if ! "${MMAKE[@]}" -j"$JOBS" modules >"$B/module-build.log" 2>&1; then
	tail -n 40 "$B/module-build.log" >&2
	die "module build against the production kernel failed (log: $B/module-build.log)"
fi
info "built $B/src/drivers/iommufd/iommufd.ko"

step "building iommufd_bench and the bench initramfs"
R=$B/initramfs-root
rm -rf "$R"
mkdir -p "$R"/{bin,sbin,proc,sys,dev,tmp,etc/iommufd-rs,tests,lib/modules/c,lib/modules/rust}
gcc -static -D_GNU_SOURCE -O2 -Wall -Wno-unused-function -isystem "$TOP/include/uapi" \
	-isystem "$KBUILD/usr/include" -I "$TOP/drivers/iommufd" \
	-o "$R/tests/iommufd_bench" "$TOP/tools/testing/selftests/iommufd/bench/iommufd_bench.c" ||
	die "building iommufd_bench failed"
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -s busybox "$R/bin/$a"
done
cp "$TOP/scripts/guest/init" "$R/init"
cp "$TOP"/scripts/guest/{lib,plan-bench}.sh "$R/etc/iommufd-rs/"
printf 'BENCH_ROUNDS=%s\nBENCH_QUICK=%s\nBENCH_PROFILE=%s\nBENCH_PROFILE_REPS=%s\nBENCH_PROFILE_PROCS=%s\n' \
	"$ROUNDS" "$QUICK" "$PROFILE" "${BENCH_PROFILE_REPS:-20}" "${BENCH_PROFILE_PROCS:-1}" \
	>"$R/etc/iommufd-rs/bench.conf"
PLAN=bench
if [ -n "$PROFILE" ]; then
	PLAN=profile
	cp "$TOP/scripts/guest/plan-profile.sh" "$R/etc/iommufd-rs/"
	# perf and its shared libraries (Debian's linux-perf; setup.sh installs it).
	PERF=$(command -v perf) || die "perf not found (apt-get install linux-perf)"
	for f in "$PERF" $(ldd "$PERF" | awk '$3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		mkdir -p "$R$(dirname "$f")"
		cp -L "$f" "$R$f"
	done
	[ "$PERF" = /bin/perf ] || ln -sf "$PERF" "$R/bin/perf"
fi
cp "$KBUILD/drivers/iommu/iommufd/iommufd.ko" "$R/lib/modules/c/"
cp "$B/src/drivers/iommufd/iommufd.ko" "$R/lib/modules/rust/"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$B/initramfs.cpio.gz"
info "initramfs: $B/initramfs.cpio.gz ($(du -h "$B/initramfs.cpio.gz" | cut -f1)), $ROUNDS rounds per module"

rc=0
GUEST_MEM=${GUEST_MEM:-4096} IOMMUFD_RS_INITRAMFS=$B/initramfs.cpio.gz \
	"$TOP/scripts/guest.sh" "$PLAN" "$TMO" || rc=1
if [ -n "$PROFILE" ]; then
	for m in c rust; do
		awk -v m="$m" '{ sub(/\r$/, "") } $0 == "### PROFILE BEGIN " m { f = 1; next }
			/^### PROFILE END/ { f = 0 } f' \
			"$OUT/profile/results.log" >"$OUT/profile/$m.txt"
		info "profile [$m]: $OUT/profile/$m.txt ($(grep -c . "$OUT/profile/$m.txt") lines)"
	done
	exit $rc
fi
"$TOP/scripts/bench_report.py" "$OUT/bench" || rc=1
exit $rc
