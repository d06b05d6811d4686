#!/usr/bin/env bash
# Pack the guest initramfs: static busybox, our init and plans, the test programs, the C
# iommufd.ko (baseline), the vfio modules, and our iommufd.ko.
source "$(dirname "$0")/common.sh"

R=$OUT/initramfs-root
rm -rf "$R"
mkdir -p "$R"/{bin,sbin,proc,sys,dev,tmp,etc/iommufd-rs,tests,lib/modules/c,lib/modules/rust,lib/modules/kernel}
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -s busybox "$R/bin/$a"
done
cp "$TOP/scripts/guest/init" "$R/init"
cp "$TOP"/scripts/guest/*.sh "$R/etc/iommufd-rs/"
cp "$OUT"/guest/bin/* "$R/tests/"

cp "$KBUILD/drivers/iommu/iommufd/iommufd.ko" "$R/lib/modules/c/"
cp "$TOP/drivers/iommufd/iommufd.ko" "$R/lib/modules/rust/"
for m in virt/lib/irqbypass.ko drivers/vfio/vfio.ko drivers/vfio/pci/vfio-pci-core.ko \
	drivers/vfio/pci/vfio-pci.ko drivers/vfio/mdev/mdev.ko samples/vfio-mdev/mtty.ko; do
	[ -f "$KBUILD/$m" ] && cp "$KBUILD/$m" "$R/lib/modules/kernel/"
done
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$OUT/initramfs.cpio.gz"
info "initramfs: $OUT/initramfs.cpio.gz ($(du -h "$OUT/initramfs.cpio.gz" | cut -f1))"
