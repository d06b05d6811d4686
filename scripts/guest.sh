#!/usr/bin/env bash
# Boot the guest for one plan and wait for it, with a hard timeout.
#   scripts/guest.sh PLAN TIMEOUT_SECONDS
# Writes $OUT/PLAN/{console.log,results.log,cmdline}; streams the markers and TAP lines.
# Exit 0 if the guest reached the end of its plan, 1 on timeout or crash.
source "$(dirname "$0")/common.sh"

plan=$1 tmo=$2
RUN=$OUT/$plan
rm -rf "$RUN"
mkdir -p "$RUN"
# pc machine, no emulated IOMMU: a second IOMMU driver keeps the mock devices out of groups.
# Only the pci plan gets an Intel VT-d IOMMU (first: it must precede the PCI devices) and
# QEMU's edu device (1234:11e8, a DMA engine) for real DMA through vfio-pci.
MACHINE=(-machine pc)
APPEND=
# The pci-sm plans give the Intel IOMMU its other modes: scalable (PASID tables), and scalable
# with PASID support (QEMU 7.2's x-scalable-mode, x-pasid-mode).
case $plan in
pci) VTD= ;;
pci-sm) VTD=,x-scalable-mode=on ;;
pci-sm-pasid) VTD=,x-scalable-mode=on,x-pasid-mode=on ;;
esac
if [ "${plan%%-*}" = pci ]; then
	MACHINE=(-machine q35,kernel-irqchip=split
		-device "intel-iommu,intremap=on,caching-mode=on$VTD" -device edu)
	APPEND=" intel_iommu=on"
fi
# GUEST_APPEND: more kernel parameters, which init passes on to the plan as variables (make
# fuzz: fuzz_seed=, fuzz_seconds=, fuzz_modules=).
# Guest memory in MiB (the benchmark wants room for two 1 GiB buffers' worth of churn).
MEM=${GUEST_MEM:-2048}
QEMU=(qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m "$MEM" "${MACHINE[@]}"
	-nodefaults -display none -no-reboot
	-kernel "$KBUILD/arch/x86/boot/bzImage" -initrd "${IOMMUFD_RS_INITRAMFS:-$OUT/initramfs.cpio.gz}"
	-append "console=ttyS0 loglevel=4 panic=-1 plan=$plan$APPEND${GUEST_APPEND:+ $GUEST_APPEND}"
	-serial "file:$RUN/console.log" -serial "file:$RUN/results.log")
# Plan arm64 (IOMMUFD_RS_ARCH=arm64 builds what it boots): the virt machine with an emulated
# SMMUv3 in front of its PCI bus, GICv3 (whose ITS isolates MSIs, which vfio needs), and edu.
# virt has one PL011 (ttyAMA0, the console): the results channel is a virtio-mmio console
# (hvc0; virtio-mmio is not behind the SMMU), which init takes from results= on the command
# line. pauth-impdef: QEMU's own pointer-authentication hash instead of QARMA, the same for the
# guest and much cheaper under TCG.
if [ "$plan" = arm64 ]; then
	[ "$KARCH" = arm64 ] || die "plan arm64 needs IOMMUFD_RS_ARCH=arm64"
	QEMU=(qemu-system-aarch64 -accel tcg -cpu max,pauth-impdef=on -smp 2 -m "$MEM"
		-machine virt,iommu=smmuv3,gic-version=3 -device edu
		-nodefaults -display none -no-reboot
		-kernel "$KBUILD/$KIMAGE" -initrd "$AOUT/initramfs.cpio.gz"
		-append "console=ttyAMA0 loglevel=4 panic=-1 plan=$plan results=/dev/hvc0"
		-serial "file:$RUN/console.log"
		-device virtio-serial-device -chardev "file,id=results,path=$RUN/results.log"
		-device virtconsole,chardev=results)
fi
echo "${QEMU[*]}" >"$RUN/cmdline"
machine_lock guest
step "booting the guest (plan $plan, timeout ${tmo} s); logs in $RUN"
: >"$RUN/results.log"
start=$SECONDS
timeout -k 10 "$tmo" "${QEMU[@]}" </dev/null >"$RUN/qemu.out" 2>&1 &
qpid=$!
# Live progress: the markers and TAP results as the guest prints them.
tail -n +1 -F --pid="$qpid" "$RUN/results.log" 2>/dev/null |
	grep --line-buffered -E '^(### (BEGIN|END|LOADED|LOAD-FAILED|UNLOADED|ERROR|PLAN|DONE)|(not )?ok [0-9]+ )' |
	sed -u 's/^/    guest: /' >&2 &
tpid=$!
rc=0
wait "$qpid" || rc=$?
sleep 1
kill "$tpid" 2>/dev/null || true
wait "$tpid" 2>/dev/null || true
secs=$((SECONDS - start))
awk '/^### DMESG BEGIN/ { f = 1; next } /^### DMESG END/ { f = 0; next } f' "$RUN/results.log" >"$RUN/dmesg.log"
echo "$secs" >"$RUN/seconds"
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	info "guest TIMED OUT after ${tmo} s (console: $RUN/console.log)"
	echo timeout >"$RUN/status"
	exit 1
fi
if ! grep -q '^### DONE' "$RUN/results.log"; then
	info "guest stopped before the end of its plan (qemu rc $rc); console: $RUN/console.log"
	echo crashed >"$RUN/status"
	exit 1
fi
echo done >"$RUN/status"
info "guest finished in ${secs} s"
