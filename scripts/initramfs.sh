#!/usr/bin/env bash
# Pack the guest initramfs: static busybox, our init and plans, the test programs, the C
# iommufd.ko (baseline), the vfio modules, our iommufd.ko, and QEMU 10 for the pci plan.
# IOMMUFD_RS_ARCH=arm64: the same, for arm64 (Debian's static arm64 busybox, the arm64 build's
# modules, the cross-built test programs), without QEMU 10: $OUT/build-arm64/initramfs.cpio.gz.
source "$(dirname "$0")/common.sh"

R=$AOUT/initramfs-root
rm -rf "$R"
mkdir -p "$R"/{bin,sbin,proc,sys,dev,tmp,etc/iommufd-rs,tests,lib/modules/c,lib/modules/rust,lib/modules/kernel}
BUSYBOX=/bin/busybox
OURS=$TOP/drivers/iommufd/iommufd.ko
if [ "$KARCH" = arm64 ]; then
	BUSYBOX=$ARM64_BUSYBOX
	OURS=$AOUT/module-src/drivers/iommufd/iommufd.ko
fi
cp "$BUSYBOX" "$R/bin/busybox"
# The applets: the host's busybox lists them (the arm64 one is the same Debian version, and
# cannot run here).
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -s busybox "$R/bin/$a"
done
cp "$TOP/scripts/guest/init" "$R/init"
cp "$TOP"/scripts/guest/*.sh "$R/etc/iommufd-rs/"
cp "$AOUT"/guest/bin/* "$R/tests/"

cp "$KBUILD/drivers/iommu/iommufd/iommufd.ko" "$R/lib/modules/c/"
cp "$OURS" "$R/lib/modules/rust/"
for m in virt/lib/irqbypass.ko drivers/vfio/vfio.ko drivers/vfio/pci/vfio-pci-core.ko \
	drivers/vfio/pci/vfio-pci.ko drivers/vfio/mdev/mdev.ko samples/vfio-mdev/mtty.ko; do
	[ -f "$KBUILD/$m" ] && cp "$KBUILD/$m" "$R/lib/modules/kernel/"
done

if [ "$KARCH" = arm64 ]; then
	(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$AOUT/initramfs.cpio.gz"
	info "initramfs ($KARCH): $AOUT/initramfs.cpio.gz ($(du -h "$AOUT/initramfs.cpio.gz" | cut -f1))"
	exit 0
fi

# QEMU 10 (setup.sh unpacked it into the cache): a real iommufd user for the pci plan
# (-object iommufd, -device vfio-pci,iommufd=). Only what q35 with -nodefaults -display none
# needs: the binary, the libraries it links (the unpacked ones first, else the host's), the
# loader at the binary's interpreter path, and the firmware it reads: bios-256k.bin and
# kvmvapic.bin, plus linuxboot_dma.bin for -kernel. No optional modules (GUI, audio, spice):
# with -display none it loads none. /opt/qemu10/qemu10 runs it with these libraries and firmware.
Q10=$R/opt/qemu10
qbin=$QEMU10_ROOT/usr/bin/qemu-system-x86_64
[ -x "$qbin" ] || die "QEMU 10 missing in $QEMU10 (make setup fetches it)"
mkdir -p "$Q10"/{bin,lib,share}
cp "$qbin" "$Q10/bin/"
libs=$(LD_LIBRARY_PATH=$QEMU10_LIBS ldd "$qbin")
nf=$(awk '/not found/ { print $1 }' <<<"$libs" | xargs)
[ -z "$nf" ] || die "QEMU 10 cannot find: $nf"
mapfile -t sos < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 }' <<<"$libs")
cp -L "${sos[@]}" "$Q10/lib/"
interp=$(awk '$1 ~ /^\/.*ld-linux/ { print $1 }' <<<"$libs")
[ -n "$interp" ] || die "no loader in: ldd $qbin"
mkdir -p "$R${interp%/*}"
for f in "$QEMU10_ROOT"/{usr/,}lib/x86_64-linux-gnu/"${interp##*/}" "$interp"; do
	[ -e "$f" ] && cp -L "$f" "$R$interp" && break
done
for fw in bios-256k.bin kvmvapic.bin linuxboot_dma.bin; do
	for d in "$QEMU10_ROOT"/usr/share/{qemu,seabios} /usr/share/{qemu,seabios} ""; do
		[ -n "$d" ] || die "QEMU 10: no $fw"
		[ -f "$d/$fw" ] && cp -L "$d/$fw" "$Q10/share/" && break
	done
done
cat >"$Q10/qemu10" <<'SH'
#!/bin/sh
# QEMU 10 with its own libraries and firmware (nothing else in this system has them).
D=/opt/qemu10
LD_LIBRARY_PATH=$D/lib exec $D/bin/qemu-system-x86_64 -L $D/share "$@"
SH
chmod +x "$Q10/qemu10"
# Those files alone must be enough: in this very tree (chroot), start q35 with its CPUs
# stopped, read the reset vector, which must be the last bytes of the BIOS (so the firmware
# loaded), and ask for a reset, which ends QEMU under -no-reboot. Anything on stderr (a missing
# ROM is only a warning) fails too.
if [ "$(id -u)" = 0 ]; then
	bios=$Q10/share/bios-256k.bin
	want=$(od -An -tx8 -j $(($(stat -c %s "$bios") - 16)) -N 8 "$bios" | tr -d ' ')
	got=$(printf 'readq 0xfffffff0\noutb 0xcf9 0x6\n' | timeout 60 chroot "$R" /opt/qemu10/qemu10 \
		-accel tcg -S -no-reboot -machine q35 -nodefaults -display none -m 64 \
		-qtest stdio -qtest-log none 2>"$OUT/qemu10-check.err") ||
		die "QEMU 10 in the initramfs failed: $(cat "$OUT/qemu10-check.err")"
	if [ "$(head -n 1 <<<"$got")" != "OK 0x$want" ] || [ -s "$OUT/qemu10-check.err" ]; then
		die "QEMU 10 in the initramfs: got '$got', want 'OK 0x$want' ($(cat "$OUT/qemu10-check.err"))"
	fi
	rm -f "$OUT/qemu10-check.err"
else
	info "not root: QEMU 10 in the initramfs not checked (it runs chrooted)"
fi

(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$OUT/initramfs.cpio.gz"
info "initramfs: $OUT/initramfs.cpio.gz ($(du -h "$OUT/initramfs.cpio.gz" | cut -f1))"
