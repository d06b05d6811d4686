// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: real device DMA through a real (emulated) IOMMU and whichever iommufd.ko is
 * loaded. Needs QEMU's edu device (1234:11e8, hw/misc/edu.c) behind an Intel VT-d IOMMU (the
 * pci plan of scripts/guest.sh) and the kernel's vfio.ko, vfio-pci-core.ko, vfio-pci.ko.
 *
 * The test binds edu to vfio-pci (driver_override), opens its VFIO cdev, binds it to
 * /dev/iommu (VFIO_DEVICE_BIND_IOMMUFD), attaches it to an IOAS (ATTACH_IOMMUFD_PT: a paging
 * domain of the Intel IOMMU driver), maps buffers at fixed IOVAs and lets edu's DMA engine
 * copy between them: IOVA -> edu's 4 KiB buffer (device address 0x40000) -> another IOVA.
 * The data must land exactly in the page the IOAS maps there, and a DMA to an IOVA that is
 * not (or no longer) mapped must land nowhere in our buffers (the IOMMU faults it; dmesg shows
 * a DMAR fault line). Teardown unbinds edu from vfio-pci again.
 *
 * With no edu device (e.g. the plain selftest plan, no IOMMU) every test is skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "rs_utils.h"

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

#define PAGE 4096UL
#define NPAGES 4
#define BUF_SIZE (NPAGES * PAGE)
/* edu clamps DMA addresses to 28 bits: every IOVA stays below 256 MiB. */
#define IOVA_SRC 0x100000UL
#define IOVA_DST 0x200000UL
#define IOVA_HOLE 0x400000UL

static int write_str(const char *path, const char *s)
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

static long read_hex(const char *path)
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
static int find_edu(char *bdf, size_t len)
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
static void bound_driver(const char *bdf, char *drv, size_t len)
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
static int bind_vfio_pci(const char *bdf)
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

static void unbind_vfio_pci(const char *bdf)
{
	char path[PATH_MAX], drv[64];

	bound_driver(bdf, drv, sizeof(drv));
	if (!strcmp(drv, "vfio-pci"))
		write_str(VFIO_PCI_DRV "/unbind", bdf);
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override", bdf);
	write_str(path, "\n");
}

static inline uint32_t rd(volatile uint32_t *bar, unsigned int off)
{
	return bar[off / 4];
}

static inline void wr(volatile uint32_t *bar, unsigned int off, uint32_t v)
{
	bar[off / 4] = v;
}

/* One edu DMA (32-bit register writes: every address here is below 4 GiB); 0 or -ETIMEDOUT. */
static int edu_dma(volatile uint32_t *bar, uint64_t src, uint64_t dst, uint32_t cnt,
		   uint32_t dir)
{
	struct timespec t0, t;

	wr(bar, EDU_DMA_SRC, (uint32_t)src);
	wr(bar, EDU_DMA_DST, (uint32_t)dst);
	wr(bar, EDU_DMA_CNT, cnt);
	wr(bar, EDU_DMA_CMD, EDU_DMA_RUN | dir);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (rd(bar, EDU_DMA_CMD) & EDU_DMA_RUN) {
		usleep(5000);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			return -ETIMEDOUT;
	}
	return 0;
}

/* @len bytes from IOVA @src to IOVA @dst, through edu's buffer in EDU_XFER pieces. */
static int edu_copy(volatile uint32_t *bar, uint64_t src, uint64_t dst, uint64_t len)
{
	while (len) {
		uint32_t n = len < EDU_XFER ? len : EDU_XFER;
		int rc = edu_dma(bar, src, EDU_BUF, n, 0);

		if (!rc)
			rc = edu_dma(bar, EDU_BUF, dst, n, EDU_DMA_TO_RAM);
		if (rc)
			return rc;
		src += n;
		dst += n;
		len -= n;
	}
	return 0;
}

static int all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

/* The VFIO cdev of the device named @name under PCI_DEVICES. */
static int cdev_of(const char *name, char *path, size_t len)
{
	char dev[PATH_MAX];

	snprintf(dev, sizeof(dev), PCI_DEVICES "/%s", name);
	return vfio_find_cdev(dev, path, len);
}

FIXTURE(edu)
{
	char bdf[64];
	int iommufd, devfd;
	uint32_t ioas;
	volatile uint32_t *bar;
	size_t bar_size;
	uint8_t *src, *dst;
};

FIXTURE_SETUP(edu)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_region_info bar0 = {
		.argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX,
	};
	struct vfio_region_info cfg = {
		.argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	char path[PATH_MAX];
	uint16_t cmd;

	self->iommufd = self->devfd = -1;
	self->bar = MAP_FAILED;
	self->src = self->dst = MAP_FAILED;
	if (find_edu(self->bdf, sizeof(self->bdf)))
		SKIP(return, "no edu device (%04x:%04x) on " PCI_DEVICES, EDU_VENDOR, EDU_DEVICE);
	ASSERT_EQ(0, bind_vfio_pci(self->bdf));
	ASSERT_EQ(0, cdev_of(self->bdf, path, sizeof(path)));
	TH_LOG("edu %s, cdev %s", self->bdf, path);

	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);
	ASSERT_EQ(0, ioas_alloc(self->iommufd, &self->ioas));
	self->devfd = open(path, O_RDWR);
	ASSERT_LE(0, self->devfd);
	bind.iommufd = self->iommufd;
	ASSERT_EQ(0, ioctl(self->devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	EXPECT_NE(0, bind.out_devid);
	ASSERT_EQ(0, attach_pt(self->devfd, self->ioas));

	/* Memory decode and bus mastering (vfio-pci leaves bus mastering to the user). */
	ASSERT_EQ(0, ioctl(self->devfd, VFIO_DEVICE_GET_REGION_INFO, &cfg));
	ASSERT_EQ(2, pread(self->devfd, &cmd, 2, cfg.offset + PCI_COMMAND));
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ASSERT_EQ(2, pwrite(self->devfd, &cmd, 2, cfg.offset + PCI_COMMAND));

	ASSERT_EQ(0, ioctl(self->devfd, VFIO_DEVICE_GET_REGION_INFO, &bar0));
	ASSERT_TRUE(bar0.flags & VFIO_REGION_INFO_FLAG_MMAP);
	ASSERT_LE(0x100, bar0.size);
	self->bar_size = bar0.size;
	self->bar = mmap(NULL, bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, self->devfd,
			 bar0.offset);
	ASSERT_NE(MAP_FAILED, self->bar);

	self->src = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	ASSERT_NE(MAP_FAILED, self->src);
	self->dst = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	ASSERT_NE(MAP_FAILED, self->dst);
	for (size_t i = 0; i < BUF_SIZE; i++)
		self->src[i] = (uint8_t)(i * 7 + i / PAGE);
	memset(self->dst, 0xee, BUF_SIZE);
}

FIXTURE_TEARDOWN(edu)
{
	if (self->bar != MAP_FAILED)
		munmap((void *)self->bar, self->bar_size);
	if (self->devfd >= 0)
		close(self->devfd);
	if (self->iommufd >= 0)
		close(self->iommufd);
	if (self->src != MAP_FAILED)
		munmap(self->src, BUF_SIZE);
	if (self->dst != MAP_FAILED)
		munmap(self->dst, BUF_SIZE);
	if (self->bdf[0])
		unbind_vfio_pci(self->bdf);
}

/* BAR0 through the mmap of the vfio-pci region: identification and liveness registers. */
TEST_F(edu, registers)
{
	EXPECT_EQ(0x010000ed, rd(self->bar, EDU_ID));
	wr(self->bar, EDU_LIVENESS, 0x12345678);
	EXPECT_EQ(~0x12345678U, rd(self->bar, EDU_LIVENESS));
	wr(self->bar, EDU_LIVENESS, 0);
	EXPECT_EQ(~0U, rd(self->bar, EDU_LIVENESS));
}

/*
 * Page 2 of src (IOVA_SRC + 2 pages) -> edu -> page 1 of dst (IOVA_DST + 1 page): exactly that
 * page of dst changes, and it holds page 2 of src.
 */
TEST_F(edu, dma_copy)
{
	uint64_t done;

	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->src, BUF_SIZE, IOVA_SRC));
	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->dst, BUF_SIZE, IOVA_DST));
	ASSERT_EQ(0, edu_copy(self->bar, IOVA_SRC + 2 * PAGE, IOVA_DST + PAGE, PAGE));
	EXPECT_EQ(0, memcmp(self->dst + PAGE, self->src + 2 * PAGE, PAGE));
	EXPECT_TRUE(all_bytes(self->dst, PAGE, 0xee));
	EXPECT_TRUE(all_bytes(self->dst + 2 * PAGE, 2 * PAGE, 0xee));

	/* A partial copy at an offset inside a page: 256 bytes of page 3 to page 0 + 0x800. */
	ASSERT_EQ(0, edu_copy(self->bar, IOVA_SRC + 3 * PAGE + 0x100, IOVA_DST + 0x800, 256));
	EXPECT_EQ(0, memcmp(self->dst + 0x800, self->src + 3 * PAGE + 0x100, 256));
	EXPECT_TRUE(all_bytes(self->dst, 0x800, 0xee));
	EXPECT_TRUE(all_bytes(self->dst + 0x900, PAGE - 0x900, 0xee));

	EXPECT_EQ(0, unmap(self->iommufd, self->ioas, IOVA_SRC, BUF_SIZE, &done));
	EXPECT_EQ(BUF_SIZE, done);
	EXPECT_EQ(0, unmap(self->iommufd, self->ioas, IOVA_DST, BUF_SIZE, &done));
	EXPECT_EQ(BUF_SIZE, done);
	EXPECT_EQ(0, detach_pt(self->devfd));
	EXPECT_EQ(0, destroy(self->iommufd, self->ioas));
}

/*
 * DMA to an IOVA that was never mapped, and to one that was mapped and then unmapped (the
 * IOTLB must have been flushed): neither lands in our buffers. The IOMMU reports DMAR faults.
 */
TEST_F(edu, dma_unmapped)
{
	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->src, BUF_SIZE, IOVA_SRC));
	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->dst, BUF_SIZE, IOVA_DST));
	ASSERT_EQ(0, edu_dma(self->bar, IOVA_SRC, EDU_BUF, EDU_XFER, 0));

	/* Never mapped. */
	ASSERT_EQ(0, edu_dma(self->bar, EDU_BUF, IOVA_HOLE, EDU_XFER, EDU_DMA_TO_RAM));
	EXPECT_TRUE(all_bytes(self->dst, BUF_SIZE, 0xee));

	/* Mapped, used once (IOTLB warm), unmapped: the second DMA must not land. */
	ASSERT_EQ(0, edu_dma(self->bar, EDU_BUF, IOVA_DST, EDU_XFER, EDU_DMA_TO_RAM));
	EXPECT_EQ(0, memcmp(self->dst, self->src, EDU_XFER));
	memset(self->dst, 0xee, BUF_SIZE);
	EXPECT_EQ(0, unmap(self->iommufd, self->ioas, IOVA_DST, BUF_SIZE, NULL));
	ASSERT_EQ(0, edu_dma(self->bar, EDU_BUF, IOVA_DST, EDU_XFER, EDU_DMA_TO_RAM));
	EXPECT_TRUE(all_bytes(self->dst, BUF_SIZE, 0xee));
	for (size_t i = 0; i < BUF_SIZE; i++)
		if (self->src[i] != (uint8_t)(i * 7 + i / PAGE)) {
			EXPECT_EQ(0, (int)i); /* src was only read by the device */
			break;
		}

	EXPECT_EQ(0, unmap(self->iommufd, self->ioas, IOVA_SRC, BUF_SIZE, NULL));
	EXPECT_EQ(0, detach_pt(self->devfd));
}

/* Detached from the IOAS and the IOAS gone: the device file still closes cleanly. */
TEST_F(edu, detach_then_close)
{
	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->dst, BUF_SIZE, IOVA_DST));
	/* The IOAS has a device attached: it cannot go. */
	EXPECT_EQ(-EBUSY, destroy(self->iommufd, self->ioas));
	EXPECT_EQ(0, detach_pt(self->devfd));
	EXPECT_EQ(0, destroy(self->iommufd, self->ioas));
	EXPECT_EQ(0x010000ed, rd(self->bar, EDU_ID));
}

TEST_HARNESS_MAIN
