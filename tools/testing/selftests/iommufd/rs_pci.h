/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iommufd-rs selftests: QEMU's edu device (hw/misc/edu.c, a DMA engine) and vfio-pci through
 * sysfs, shared by the suites that use real PCI (vfio_edu, qemu_consumer): its registers, and
 * finding it and moving it to and from vfio-pci.
 */
#ifndef IOMMUFD_RS_PCI_H
#define IOMMUFD_RS_PCI_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCI_DEVICES "/sys/bus/pci/devices"
#define VFIO_PCI_DRV "/sys/bus/pci/drivers/vfio-pci"

/* hw/misc/edu.c */
#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_ID 0x00
#define EDU_LIVENESS 0x04
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_DMA_RUN 0x1
#define EDU_DMA_TO_RAM 0x2 /* direction: edu's buffer -> RAM */
#define EDU_BUF 0x40000UL
#define EDU_BUF_SIZE 4096UL
/*
 * QEMU's edu (7.2 at least) refuses a transfer that reaches the last byte of its buffer, and
 * refusing is a hw_error() that aborts QEMU: transfers are at most half the buffer.
 */
#define EDU_XFER (EDU_BUF_SIZE / 2)

/* edu's 32-bit registers in its mmapped BAR0. */
static inline uint32_t rd(volatile uint32_t *bar, unsigned int off)
{
	return bar[off / 4];
}

static inline void wr(volatile uint32_t *bar, unsigned int off, uint32_t v)
{
	bar[off / 4] = v;
}

static inline int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

static inline long read_hex(const char *path)
{
	char buf[32] = {};
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 16) : -1;
}

/* The edu device's "DDDD:BB:DD.F" in @bdf; 0, or -ENOENT. */
static inline int find_edu(char *bdf, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(PCI_DEVICES);

	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), PCI_DEVICES "/%s/vendor", de->d_name);
		if (read_hex(path) != EDU_VENDOR)
			continue;
		snprintf(path, sizeof(path), PCI_DEVICES "/%s/device", de->d_name);
		if (read_hex(path) != EDU_DEVICE)
			continue;
		if (strlen(de->d_name) >= len)
			continue;
		memcpy(bdf, de->d_name, strlen(de->d_name) + 1);
		closedir(d);
		return 0;
	}
	closedir(d);
	return -ENOENT;
}

/* The name of the driver @bdf is bound to in @drv ("" if none). */
static inline void bound_driver(const char *bdf, char *drv, size_t len)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), PCI_DEVICES "/%s/driver", bdf);
	n = readlink(link, target, sizeof(target) - 1);
	drv[0] = 0;
	if (n < 0)
		return;
	target[n] = 0;
	snprintf(drv, len, "%s", basename(target));
}

/* Unbind @bdf from whatever driver has it and bind it to vfio-pci. */
static inline int bind_vfio_pci(const char *bdf)
{
	char path[PATH_MAX], drv[64];
	int rc;

	bound_driver(bdf, drv, sizeof(drv));
	if (!strcmp(drv, "vfio-pci"))
		return 0;
	if (drv[0]) {
		snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver/unbind", bdf);
		rc = write_str(path, bdf);
		if (rc)
			return rc;
	}
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override", bdf);
	rc = write_str(path, "vfio-pci");
	if (rc)
		return rc;
	return write_str(VFIO_PCI_DRV "/bind", bdf);
}

static inline void unbind_vfio_pci(const char *bdf)
{
	char path[PATH_MAX], drv[64];

	bound_driver(bdf, drv, sizeof(drv));
	if (!strcmp(drv, "vfio-pci"))
		write_str(VFIO_PCI_DRV "/unbind", bdf);
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override", bdf);
	write_str(path, "\n");
}

/* The VFIO group number of @bdf (its iommu_group link), or -1. */
static inline int group_of(const char *bdf)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), PCI_DEVICES "/%s/iommu_group", bdf);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = 0;
	return atoi(basename(target));
}

#endif
