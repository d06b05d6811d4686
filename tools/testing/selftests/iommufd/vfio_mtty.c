// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: a real VFIO device through whichever iommufd.ko is loaded. The kernel's own
 * vfio.ko, mdev.ko and the mtty sample (samples/vfio-mdev/mtty.c) must be loaded and one mtty
 * mdev created (the run plan does it); the device is an emulated-IOMMU one, so vfio.ko binds
 * it with vfio_iommufd_emulated_bind, i.e. iommufd_access_create/attach/detach/destroy.
 *
 *  - cdev: /dev/vfio/devices/vfioN, VFIO_DEVICE_BIND_IOMMUFD, ATTACH_IOMMUFD_PT to an IOAS,
 *    replace with a second IOAS, IOMMU_IOAS_MAP/UNMAP, GET_INFO, GET_REGION_INFO, the UART
 *    scratch register written and read back through the BAR0 region, DETACH, close.
 *  - group: /dev/vfio/N of the mdev's group on /dev/vfio/vfio (the container emulation):
 *    VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU type1v2, GET_DEVICE_FD, MAP_DMA/UNMAP_DMA, the
 *    scratch register again.
 *
 * With no mdev on the bus (e.g. the plain selftest plan) every test is skipped.
 * MTTY_UUID picks the mdev; otherwise the first one on /sys/bus/mdev/devices is used.
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
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "rs_utils.h"

#define MDEV_BUS "/sys/bus/mdev/devices"
#define UART_SCR 7
#define BUF_SIZE (4 * 4096UL)

/* The mdev's UUID in @uuid; 0, or -ENOENT when there is none. */
static int find_mdev(char *uuid, size_t len)
{
	const char *env = getenv("MTTY_UUID");
	struct dirent *de;
	DIR *d;

	if (env && *env) {
		snprintf(uuid, len, "%s", env);
		return 0;
	}
	d = opendir(MDEV_BUS);
	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (strlen(de->d_name) >= len)
			continue;
		memcpy(uuid, de->d_name, strlen(de->d_name) + 1);
		closedir(d);
		return 0;
	}
	closedir(d);
	return -ENOENT;
}

/* /dev/vfio/N of the mdev's IOMMU group. */
static int find_group(const char *uuid, char *path, size_t len)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), MDEV_BUS "/%s/iommu_group", uuid);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = 0;
	snprintf(path, len, "/dev/vfio/%s", basename(target));
	return 0;
}

/*
 * GET_INFO, GET_REGION_INFO of BAR0 and the config space, and a byte written to and read back
 * from the UART scratch register of port 0 (BAR0 + UART_SCR).
 */
static void check_device(struct __test_metadata *_metadata, int devfd, uint8_t pattern)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info bar0 = {
		.argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX,
	};
	struct vfio_region_info cfg = {
		.argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	uint16_t vendor = 0;
	uint8_t b;

	ASSERT_EQ(0, ioctl(devfd, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	EXPECT_EQ(VFIO_PCI_NUM_REGIONS, info.num_regions);
	EXPECT_LE(1, info.num_irqs);

	ASSERT_EQ(0, ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &bar0));
	EXPECT_EQ(8, bar0.size);
	EXPECT_TRUE(bar0.flags & VFIO_REGION_INFO_FLAG_READ);
	EXPECT_TRUE(bar0.flags & VFIO_REGION_INFO_FLAG_WRITE);

	ASSERT_EQ(0, ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &cfg));
	ASSERT_EQ(sizeof(vendor), pread(devfd, &vendor, sizeof(vendor), cfg.offset));
	EXPECT_EQ(0x4348, vendor); /* mtty's emulated config space: vendor 0x4348 */

	b = pattern;
	ASSERT_EQ(1, pwrite(devfd, &b, 1, bar0.offset + UART_SCR));
	b = 0;
	ASSERT_EQ(1, pread(devfd, &b, 1, bar0.offset + UART_SCR));
	EXPECT_EQ(pattern, b);
	b = (uint8_t)~pattern;
	ASSERT_EQ(1, pwrite(devfd, &b, 1, bar0.offset + UART_SCR));
	b = 0;
	ASSERT_EQ(1, pread(devfd, &b, 1, bar0.offset + UART_SCR));
	EXPECT_EQ((uint8_t)~pattern, b);
}

/* The VFIO cdev of the device named @name under MDEV_BUS. */
static int cdev_of(const char *name, char *path, size_t len)
{
	char dev[PATH_MAX];

	snprintf(dev, sizeof(dev), MDEV_BUS "/%s", name);
	return vfio_find_cdev(dev, path, len);
}

FIXTURE(mtty)
{
	char uuid[64];
	void *buf;
};

FIXTURE_SETUP(mtty)
{
	if (find_mdev(self->uuid, sizeof(self->uuid)))
		SKIP(return, "no mdev on " MDEV_BUS " (mtty not loaded)");
	TH_LOG("mdev %s", self->uuid);
	self->buf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0x5a, BUF_SIZE);
}

FIXTURE_TEARDOWN(mtty)
{
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, BUF_SIZE);
}

/* The cdev path: bind, attach, replace, map/unmap, device access, detach, close. */
TEST_F(mtty, cdev)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	uint32_t ioas, ioas2;
	char path[PATH_MAX];
	int iommufd, devfd;
	uint64_t iova = 0;
	uint8_t b;

	ASSERT_EQ(0, cdev_of(self->uuid, path, sizeof(path)));
	TH_LOG("cdev %s", path);
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	ASSERT_EQ(0, ioas_alloc(iommufd, &ioas));
	ASSERT_EQ(0, ioas_alloc(iommufd, &ioas2));

	devfd = open(path, O_RDWR);
	ASSERT_LE(0, devfd);
	/* Not bound yet: every device ioctl but BIND is refused. */
	b = 0;
	EXPECT_EQ(-1, pread(devfd, &b, 1, 0));
	EXPECT_EQ(-EINVAL, attach_pt(devfd, ioas));

	bind.iommufd = iommufd;
	ASSERT_EQ(0, ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	TH_LOG("bound: devid %u", bind.out_devid);
	EXPECT_NE(0, bind.out_devid);
	/* A second bind of the same open file is refused. */
	EXPECT_NE(0, ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	/* The devid is an iommufd object of the device: not an IOAS to attach to. */
	EXPECT_NE(0, attach_pt(devfd, bind.out_devid));

	ASSERT_EQ(0, attach_pt(devfd, ioas));
	ASSERT_EQ(0, map(iommufd, ioas, self->buf, BUF_SIZE, &iova, 0));
	/* The IOAS has an attached access: it cannot go. */
	EXPECT_EQ(-EBUSY, destroy(iommufd, ioas));
	check_device(_metadata, devfd, 0xa5);

	/* Attaching again replaces the IOAS (iommufd_access_replace). */
	ASSERT_EQ(0, attach_pt(devfd, ioas2));
	EXPECT_EQ(0, unmap(iommufd, ioas, iova, BUF_SIZE, NULL));
	EXPECT_EQ(0, destroy(iommufd, ioas));
	ASSERT_EQ(0, map(iommufd, ioas2, self->buf, BUF_SIZE, &iova, 0));
	check_device(_metadata, devfd, 0x3c);
	EXPECT_EQ(0, unmap(iommufd, ioas2, iova, BUF_SIZE, NULL));

	ASSERT_EQ(0, detach_pt(devfd));
	EXPECT_EQ(0, destroy(iommufd, ioas2));
	/* Detached but still bound: region access still works (an emulated device). */
	check_device(_metadata, devfd, 0x81);

	ASSERT_EQ(0, close(devfd));
	ASSERT_EQ(0, close(iommufd));
}

/* Closing the iommufd first, while the device is bound and attached, must be safe. */
TEST_F(mtty, cdev_close_order)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	char path[PATH_MAX];
	int iommufd, devfd;
	uint64_t iova = 0;
	uint32_t ioas;

	ASSERT_EQ(0, cdev_of(self->uuid, path, sizeof(path)));
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	ASSERT_EQ(0, ioas_alloc(iommufd, &ioas));
	devfd = open(path, O_RDWR);
	ASSERT_LE(0, devfd);
	bind.iommufd = iommufd;
	ASSERT_EQ(0, ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	ASSERT_EQ(0, attach_pt(devfd, ioas));
	ASSERT_EQ(0, map(iommufd, ioas, self->buf, BUF_SIZE, &iova, 0));
	ASSERT_EQ(0, close(iommufd));
	check_device(_metadata, devfd, 0x42);
	ASSERT_EQ(0, close(devfd));
}

/* The legacy group path on /dev/vfio/vfio, i.e. the container emulation of iommufd. */
TEST_F(mtty, group_container)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	int container, group, devfd;
	char path[PATH_MAX];
	uint64_t done;

	ASSERT_EQ(0, find_group(self->uuid, path, sizeof(path)));
	TH_LOG("group %s", path);
	ASSERT_EQ(0, vfio_legacy_open(path, &container, &group));
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_GET_STATUS, &status));
	EXPECT_TRUE(status.flags & VFIO_GROUP_FLAGS_CONTAINER_SET);

	devfd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, self->uuid);
	ASSERT_LE(0, devfd);
	ASSERT_EQ(0, vfio_map_dma(container, self->buf, 1UL << 24, BUF_SIZE,
				  VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
	check_device(_metadata, devfd, 0x96);
	ASSERT_EQ(0, vfio_unmap_dma(container, 1UL << 24, BUF_SIZE, 0, &done));
	EXPECT_EQ(BUF_SIZE, done);

	ASSERT_EQ(0, close(devfd));
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
	ASSERT_EQ(0, close(group));
	ASSERT_EQ(0, close(container));
}

/* The same device again through the cdev after the group was used: nothing left behind. */
TEST_F(mtty, cdev_after_group)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	char path[PATH_MAX];
	int iommufd, devfd;
	uint32_t ioas;

	ASSERT_EQ(0, cdev_of(self->uuid, path, sizeof(path)));
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	ASSERT_EQ(0, ioas_alloc(iommufd, &ioas));
	devfd = open(path, O_RDWR);
	ASSERT_LE(0, devfd);
	bind.iommufd = iommufd;
	ASSERT_EQ(0, ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	ASSERT_EQ(0, attach_pt(devfd, ioas));
	check_device(_metadata, devfd, 0x17);
	ASSERT_EQ(0, close(devfd));
	/* The access is gone with the device: the IOAS can be destroyed. */
	EXPECT_EQ(0, destroy(iommufd, ioas));
	ASSERT_EQ(0, close(iommufd));
}

TEST_HARNESS_MAIN
