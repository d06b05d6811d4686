// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: the VFIO type1 container emulation on a compat IOAS set with IOMMU_VFIO_IOAS,
 * for whichever iommufd.ko is loaded (the C module and ours): /dev/vfio/vfio, MAP_DMA /
 * UNMAP_DMA seen from both APIs, type1 vs type1v2 unmap inside a mapping, unmap-all,
 * GET_INFO capability chain with short and full argsz, and the compat IOAS forgotten when it
 * is destroyed. Needs no device.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "rs_utils.h"

#define PAGE 4096UL
#define BASE (1UL << 24)

static int vfio_ioas(int fd, uint16_t op, uint32_t *id)
{
	struct iommu_vfio_ioas cmd = { .size = sizeof(cmd), .op = op, .ioas_id = *id };
	int rc = ioctl(fd, IOMMU_VFIO_IOAS, &cmd);

	*id = cmd.ioas_id;
	return rc ? -errno : 0;
}

#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

FIXTURE(compat)
{
	int fd;
	uint32_t ioas;
	char *buf;
};

FIXTURE_SETUP(compat)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, &alloc));
	self->ioas = alloc.out_ioas_id;
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &self->ioas));
	self->buf = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(compat)
{
	munmap(self->buf, 64 * PAGE);
	close(self->fd);
}

TEST(vfio_container_node)
{
	struct iommu_option opt = { .size = sizeof(opt) };
	struct stat st;
	int fd;

	/* /dev/iommu defaults to per-user accounting: RLIMIT_MODE 0. */
	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);
	opt.option_id = IOMMU_OPTION_RLIMIT_MODE;
	opt.op = IOMMU_OPTION_OP_GET;
	opt.val64 = 7;
	ASSERT_EQ(0, ioctl(fd, IOMMU_OPTION, &opt));
	EXPECT_EQ(0, opt.val64);
	close(fd);

	ASSERT_EQ(0, stat("/dev/vfio/vfio", &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0666, st.st_mode & 07777);
	EXPECT_EQ(10, major(st.st_rdev));
	EXPECT_EQ(196, minor(st.st_rdev));
	fd = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, fd);
	/* A container opened as /dev/vfio/vfio accounts like VFIO: RLIMIT_MODE 1 (mm). */
	opt.option_id = IOMMU_OPTION_RLIMIT_MODE;
	opt.op = IOMMU_OPTION_OP_GET;
	ASSERT_EQ(0, ioctl(fd, IOMMU_OPTION, &opt));
	EXPECT_EQ(1, opt.val64);
	EXPECT_EQ(VFIO_API_VERSION, ioctl(fd, VFIO_GET_API_VERSION));
	EXPECT_EQ(1, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(0, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR));
	close(fd);
}

TEST_F(compat, map_unmap_both_apis)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap), .ioas_id = self->ioas, .iova = BASE, .length = 8 * PAGE,
	};
	uint64_t out = 0;
	uint32_t id = 0;

	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	EXPECT_EQ(self->ioas, id);
	EXPECT_EQ(1, ioctl(self->fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU));
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));

	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, BASE, 8 * PAGE, RW));
	EXPECT_EQ(-EEXIST, vfio_map_dma(self->fd, self->buf, BASE + PAGE, PAGE, RW));
	/* The IOAS API sees the VFIO mapping. */
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_UNMAP, &unmap));
	EXPECT_EQ(8 * PAGE, unmap.length);
	/* As VFIO type1: unmapping nothing succeeds and reports 0 bytes. */
	out = 1;
	EXPECT_EQ(0, vfio_unmap_dma(self->fd, BASE, 8 * PAGE, 0, &out));
	EXPECT_EQ(0, out);

	/* Unmap-all needs iova and size 0, and reports the bytes. */
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, BASE, 4 * PAGE, RW));
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, BASE + 16 * PAGE, 2 * PAGE, RW));
	EXPECT_EQ(-EINVAL, vfio_unmap_dma(self->fd, BASE, 0, VFIO_DMA_UNMAP_FLAG_ALL, &out));
	ASSERT_EQ(0, vfio_unmap_dma(self->fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &out));
	EXPECT_EQ(6 * PAGE, out);
}

TEST_F(compat, type1_cuts_type1v2_does_not)
{
	uint64_t out = 0;

	/* type1v2: only whole mappings. */
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, BASE, 8 * PAGE, RW));
	EXPECT_EQ(-ENOENT, vfio_unmap_dma(self->fd, BASE + 2 * PAGE, 2 * PAGE, 0, &out));
	ASSERT_EQ(0, vfio_unmap_dma(self->fd, BASE, 8 * PAGE, 0, &out));
	EXPECT_EQ(8 * PAGE, out);

	/* type1: unmapping inside a mapping cuts it; both ends stay mapped. */
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, BASE, 8 * PAGE, RW));
	ASSERT_EQ(0, vfio_unmap_dma(self->fd, BASE + 2 * PAGE, 2 * PAGE, 0, &out));
	EXPECT_EQ(2 * PAGE, out);
	ASSERT_EQ(0, vfio_unmap_dma(self->fd, BASE, 2 * PAGE, 0, &out));
	EXPECT_EQ(2 * PAGE, out);
	ASSERT_EQ(0, vfio_unmap_dma(self->fd, BASE + 4 * PAGE, 4 * PAGE, 0, &out));
	EXPECT_EQ(4 * PAGE, out);
}

TEST_F(compat, get_info_caps)
{
	struct {
		struct vfio_iommu_type1_info info;
		uint8_t caps[256];
	} big;
	struct vfio_iommu_type1_info small = { .argsz = sizeof(small) };
	struct vfio_info_cap_header *hdr;
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info_cap_iova_range *ranges;

	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_GET_INFO, &small));
	EXPECT_EQ(VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS, small.flags);
	EXPECT_NE(0, small.iova_pgsizes & PAGE);
	EXPECT_EQ(0, small.cap_offset);	/* no room: only the size needed */
	EXPECT_LT(sizeof(small), small.argsz);

	memset(&big, 0xa5, sizeof(big));
	big.info.argsz = sizeof(big);
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_GET_INFO, &big));
	EXPECT_EQ(small.argsz, big.info.argsz);
	ASSERT_EQ(sizeof(big.info), big.info.cap_offset);
	hdr = (void *)((char *)&big + big.info.cap_offset);
	EXPECT_EQ(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, hdr->id);
	EXPECT_EQ(1, hdr->version);
	avail = (void *)hdr;
	EXPECT_EQ(UINT32_MAX, avail->avail);
	ASSERT_LT(hdr->next, sizeof(big));
	hdr = (void *)((char *)&big + hdr->next);
	EXPECT_EQ(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, hdr->id);
	EXPECT_EQ(0, hdr->next);
	ranges = (void *)hdr;
	ASSERT_LE(1, ranges->nr_iovas);
	EXPECT_EQ(0, ranges->iova_ranges[0].start);
}

TEST_F(compat, destroyed_compat_ioas_is_forgotten)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = self->ioas };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	uint32_t id = 0;

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_DESTROY, &d));
	EXPECT_EQ(-ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	EXPECT_EQ(-ENODEV, vfio_map_dma(self->fd, self->buf, BASE, PAGE, RW));
	/* A new IOAS with the same ID is not the compat IOAS. */
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, &alloc));
	EXPECT_EQ(self->ioas, alloc.out_ioas_id);
	EXPECT_EQ(-ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
}

TEST_HARNESS_MAIN
