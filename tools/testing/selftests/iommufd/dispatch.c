// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: /dev/iommu node and ioctl dispatcher rules, for whichever iommufd.ko is loaded
 * (the harness runs it against the C module and ours). Covers what the upstream selftests take
 * for granted: the node's mode, routing of unknown numbers, the size and trailing-byte rules
 * of the extensible structs, faults on the argument. Nothing here creates objects.
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

#include "kselftest_harness.h"

#define IOMMUFD_TYPE_CHAR ';'

/* ioctl(2) result as -errno, 0 or the positive return. */
static int xioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

TEST(node_is_char_device_0660)
{
	struct stat st;

	ASSERT_EQ(0, stat("/dev/iommu", &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(0660, st.st_mode & 07777);
	ASSERT_EQ(10, major(st.st_rdev)); /* MISC_MAJOR */
}

TEST(open_close_many)
{
	int i, fds[64];

	for (i = 0; i != 2000; i++) {
		int fd = open("/dev/iommu", O_RDWR);

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, close(fd));
	}
	/* Many open at once, closed in another order. */
	for (i = 0; i != 64; i++) {
		fds[i] = open("/dev/iommu", O_RDWR);
		ASSERT_LE(0, fds[i]);
	}
	for (i = 0; i != 64; i += 2)
		ASSERT_EQ(0, close(fds[i]));
	for (i = 1; i < 64; i += 2)
		ASSERT_EQ(0, close(fds[i]));
}

FIXTURE(dispatch)
{
	int fd;
};

FIXTURE_SETUP(dispatch)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(dispatch)
{
	close(self->fd);
}

TEST_F(dispatch, unknown_numbers_are_enotty)
{
	uint64_t buf[16] = { sizeof(buf) };
	static const unsigned long cmds[] = {
		_IO(IOMMUFD_TYPE_CHAR, 0x00),
		_IO(IOMMUFD_TYPE_CHAR, 0x7f),	/* below the table: VFIO compat, unknown */
		_IO(IOMMUFD_TYPE_CHAR, 0x8f),	/* empty slots inside the table */
		_IO(IOMMUFD_TYPE_CHAR, 0x9f),
		_IO(IOMMUFD_TYPE_CHAR, 0xa1),	/* past the table */
		_IO(IOMMUFD_TYPE_CHAR, 0xff),
		_IO('X', 0x85),			/* another type with an iommufd nr */
		_IOW(IOMMUFD_TYPE_CHAR, 0x85, struct iommu_ioas_map),	/* dir/size bits */
		_IOWR(IOMMUFD_TYPE_CHAR, 0x80, struct iommu_destroy),
		0,
		0xffffffff,
	};
	unsigned int i;

	for (i = 0; i != sizeof(cmds) / sizeof(cmds[0]); i++) {
		TH_LOG("cmd 0x%lx", cmds[i]);
		EXPECT_EQ(-ENOTTY, xioctl(self->fd, cmds[i], buf));
	}
}

TEST_F(dispatch, size_below_minimum_is_einval)
{
	struct {
		unsigned long cmd;
		uint32_t min;
	} ops[] = {
		{ IOMMU_DESTROY, 8 },
		{ IOMMU_IOAS_ALLOC, 12 },
		{ IOMMU_IOAS_ALLOW_IOVAS, 24 },
		{ IOMMU_IOAS_COPY, 40 },
		{ IOMMU_IOAS_IOVA_RANGES, 32 },
		{ IOMMU_IOAS_MAP, 40 },
		{ IOMMU_IOAS_UNMAP, 24 },
		{ IOMMU_OPTION, 24 },
		{ IOMMU_VFIO_IOAS, 12 },
		{ IOMMU_HWPT_ALLOC, 24 },
		{ IOMMU_GET_HW_INFO, 32 },
		{ IOMMU_HWPT_SET_DIRTY_TRACKING, 16 },
		{ IOMMU_HWPT_GET_DIRTY_BITMAP, 48 },
		{ IOMMU_HWPT_INVALIDATE, 32 },
		{ IOMMU_FAULT_QUEUE_ALLOC, 16 },
	};
	uint8_t buf[128];
	unsigned int i;
	uint32_t size;

	memset(buf, 0, sizeof(buf));
	for (i = 0; i != sizeof(ops) / sizeof(ops[0]); i++) {
		uint32_t probes[] = { 0, 1, 4, ops[i].min - 1 };
		unsigned int j;

		for (j = 0; j != 4; j++) {
			size = probes[j];
			memcpy(buf, &size, sizeof(size));
			TH_LOG("cmd 0x%lx size %u", ops[i].cmd, size);
			EXPECT_EQ(-EINVAL, xioctl(self->fd, ops[i].cmd, buf));
		}
	}
}

TEST_F(dispatch, nonzero_trailing_bytes_are_e2big)
{
	uint8_t buf[256];
	uint32_t size = sizeof(buf);

	/* struct iommu_destroy is 8 bytes: bytes 8..255 must be zero. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &size, sizeof(size));
	buf[8] = 1;
	EXPECT_EQ(-E2BIG, xioctl(self->fd, IOMMU_DESTROY, buf));
	buf[8] = 0;
	buf[255] = 0x80;
	EXPECT_EQ(-E2BIG, xioctl(self->fd, IOMMU_DESTROY, buf));
	/* IOAS_MAP's last byte is 39. */
	buf[255] = 0;
	buf[40] = 1;
	EXPECT_EQ(-E2BIG, xioctl(self->fd, IOMMU_IOAS_MAP, buf));
}

TEST_F(dispatch, bad_pointers_are_efault)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *map;
	uint32_t size;

	EXPECT_EQ(-EFAULT, xioctl(self->fd, IOMMU_DESTROY, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, IOMMU_IOAS_ALLOC, (void *)8));

	/* A struct that claims to run into an unmapped page. */
	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + page, page));
	memset(map, 0, page);
	size = 2 * page;
	memcpy(map, &size, sizeof(size));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, IOMMU_DESTROY, map));
	/* The size word itself straddling into the hole. */
	EXPECT_EQ(-EFAULT, xioctl(self->fd, IOMMU_DESTROY, map + page - 2));
	munmap(map, page);
}

TEST_HARNESS_MAIN
