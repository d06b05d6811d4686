// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: accesses (the software-IOMMU path of mdev, driven through the selftest's
 * IOMMU_TEST_CMD access ops) and the pinning and accounting under them, for whichever
 * iommufd.ko is loaded (the C module and ours): VmPin follows the distinct pinned pages
 * (shared pins counted once) and returns to its start after unpin, unmap and close;
 * RLIMIT_MEMLOCK in user mode (the user's locked_vm) and in mm mode (VmLck) fails a pin with
 * ENOMEM leaving nothing pinned or charged; an IOAS_UNMAP racing pins is resolved by the
 * access's unmap notification. Needs no device.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "kselftest_harness.h"
#include "iommufd_test.h"
#include "rs_utils.h"

#define PAGE 4096UL
#define NPAGES 16
#define BASE (1UL << 24)

static int create_access(int fd, uint32_t ioas, int *access_fd)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_CREATE_ACCESS,
		.id = ioas,
		.create_access = { .flags = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES },
	};
	int rc = ioctl(fd, IOMMU_TEST_CMD, &cmd);

	*access_fd = cmd.create_access.out_access_fd;
	return rc ? -errno : 0;
}

static int access_pages(int fd, int access_fd, uint64_t iova, uint64_t len, void *uptr,
			uint32_t *item)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ACCESS_PAGES,
		.id = access_fd,
		.access_pages = { .iova = iova, .length = len, .uptr = (uintptr_t)uptr },
	};
	int rc = ioctl(fd, IOMMU_TEST_CMD, &cmd);

	if (item)
		*item = cmd.access_pages.out_access_pages_id;
	return rc ? -errno : 0;
}

static int destroy_item(int fd, int access_fd, uint32_t item)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
		.id = access_fd,
		.destroy_access_pages = { .access_pages_id = item },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd) ? -errno : 0;
}

#define KB(npages) ((long)((npages) * PAGE / 1024))

FIXTURE(access)
{
	int fd;
	uint32_t ioas;
	void *buf;
};

FIXTURE_SETUP(access)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	self->buf = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0x5a, NPAGES * PAGE);
}

FIXTURE_TEARDOWN(access)
{
	close(self->fd);
	munmap(self->buf, NPAGES * PAGE);
}

/* Pins show in VmPin once per page, and go away with unpin, unmap and close. */
TEST_F(access, vmpin_follows_pins)
{
	long start = status_kb("VmPin:");
	uint32_t a, b, c;
	uint64_t out;
	int afd;

	ASSERT_LE(0, start);
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, NPAGES * PAGE, BASE));
	ASSERT_EQ(0, create_access(self->fd, self->ioas, &afd));
	EXPECT_EQ(start, status_kb("VmPin:"));

	ASSERT_EQ(0, access_pages(self->fd, afd, BASE, 4 * PAGE, self->buf, &a));
	EXPECT_EQ(start + KB(4), status_kb("VmPin:"));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 4 * PAGE, 1));
	/* The same pages again: shared, not pinned twice. */
	ASSERT_EQ(0, access_pages(self->fd, afd, BASE, 4 * PAGE, self->buf, &b));
	EXPECT_EQ(start + KB(4), status_kb("VmPin:"));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 4 * PAGE, 1));
	/* Overlapping: only the new pages count. */
	ASSERT_EQ(0, access_pages(self->fd, afd, BASE + 2 * PAGE, 6 * PAGE,
				  (char *)self->buf + 2 * PAGE, &c));
	EXPECT_EQ(start + KB(8), status_kb("VmPin:"));

	EXPECT_EQ(0, destroy_item(self->fd, afd, a));
	EXPECT_EQ(start + KB(8), status_kb("VmPin:"));
	EXPECT_EQ(0, destroy_item(self->fd, afd, c));
	EXPECT_EQ(start + KB(4), status_kb("VmPin:"));
	EXPECT_EQ(0, destroy_item(self->fd, afd, b));
	EXPECT_EQ(start, status_kb("VmPin:"));
	EXPECT_EQ(-ENOENT, destroy_item(self->fd, afd, b));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 0));

	/* Unmap with pins: the access is told to let go. */
	ASSERT_EQ(0, access_pages(self->fd, afd, BASE, NPAGES * PAGE, self->buf, &a));
	EXPECT_EQ(start + KB(NPAGES), status_kb("VmPin:"));
	ASSERT_EQ(0, unmap(self->fd, self->ioas, BASE, NPAGES * PAGE, &out));
	EXPECT_EQ(NPAGES * PAGE, out);
	EXPECT_EQ(start, status_kb("VmPin:"));
	EXPECT_EQ(-ENOENT, destroy_item(self->fd, afd, a));

	/* Close with pins: the access fd's release unpins. */
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, NPAGES * PAGE, BASE));
	ASSERT_EQ(0, access_pages(self->fd, afd, BASE + PAGE, 2 * PAGE,
				  (char *)self->buf + PAGE, NULL));
	EXPECT_EQ(start + KB(2), status_kb("VmPin:"));
	ASSERT_EQ(0, close(afd));
	EXPECT_EQ(start, status_kb("VmPin:"));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 0));
}

/*
 * In a child that gave up root (so CAP_IPC_LOCK): pins are charged against RLIMIT_MEMLOCK,
 * to the user (mm_mode 0) or to the mm's VmLck (mm_mode 1). Returns 0 or the failing line.
 */
static int limit_child(int fd, uint32_t ioas, void *buf, int mm_mode)
{
	struct rlimit rl = { .rlim_cur = 8 * PAGE, .rlim_max = 8 * PAGE };
	long pin0, lck0;
	uint32_t item;
	int afd, rc;

	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return __LINE__;
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return __LINE__;
	pin0 = status_kb("VmPin:");
	lck0 = status_kb("VmLck:");
	if (map_fixed(fd, ioas, buf, NPAGES * PAGE, BASE))
		return __LINE__;
	if (create_access(fd, ioas, &afd))
		return __LINE__;
	/* Over the limit: ENOMEM, and nothing stays pinned or charged. */
	rc = access_pages(fd, afd, BASE, NPAGES * PAGE, buf, &item);
	if (rc != -ENOMEM)
		return __LINE__;
	if (status_kb("VmPin:") != pin0 || status_kb("VmLck:") != lck0)
		return __LINE__;
	if (check_refs(fd, buf, NPAGES * PAGE, 0))
		return __LINE__;
	/* Exactly the limit fits (so the failure above left no charge behind). */
	if (access_pages(fd, afd, BASE, 8 * PAGE, buf, &item))
		return __LINE__;
	if (status_kb("VmPin:") != pin0 + KB(8))
		return __LINE__;
	if (mm_mode && status_kb("VmLck:") != lck0 + KB(8))
		return __LINE__;
	if (!mm_mode && status_kb("VmLck:") != lck0)
		return __LINE__;
	/* One page more does not. */
	if (access_pages(fd, afd, BASE + 8 * PAGE, PAGE, (char *)buf + 8 * PAGE, NULL) !=
	    -ENOMEM)
		return __LINE__;
	/* The same pages again are free. */
	if (access_pages(fd, afd, BASE + 4 * PAGE, 4 * PAGE, (char *)buf + 4 * PAGE, NULL))
		return __LINE__;
	/* Unmapping releases everything; the whole limit is there again. */
	if (unmap(fd, ioas, BASE, NPAGES * PAGE, NULL))
		return __LINE__;
	if (status_kb("VmPin:") != pin0 || status_kb("VmLck:") != lck0)
		return __LINE__;
	if (map_fixed(fd, ioas, buf, NPAGES * PAGE, BASE))
		return __LINE__;
	if (access_pages(fd, afd, BASE + 8 * PAGE, 8 * PAGE, (char *)buf + 8 * PAGE, NULL))
		return __LINE__;
	if (close(afd))
		return __LINE__;
	if (status_kb("VmPin:") != pin0 || status_kb("VmLck:") != lck0)
		return __LINE__;
	if (check_refs(fd, buf, NPAGES * PAGE, 0))
		return __LINE__;
	if (unmap(fd, ioas, BASE, NPAGES * PAGE, NULL))
		return __LINE__;
	return 0;
}

static void run_limit_child(struct __test_metadata *_metadata, int fd, uint32_t ioas,
			    void *buf, int mm_mode)
{
	int status;
	pid_t pid = fork();

	ASSERT_NE(-1, pid);
	if (!pid)
		_exit(limit_child(fd, ioas, buf, mm_mode));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child failed at line %d", WEXITSTATUS(status));
}

TEST_F(access, rlimit_memlock_user)
{
	run_limit_child(_metadata, self->fd, self->ioas, self->buf, 0);
}

TEST_F(access, rlimit_memlock_mm)
{
	struct iommu_option opt = {
		.size = sizeof(opt),
		.option_id = IOMMU_OPTION_RLIMIT_MODE,
		.op = IOMMU_OPTION_OP_SET,
		.val64 = 1,
	};
	int fd = open("/dev/iommu", O_RDWR);
	uint32_t ioas;

	/* RLIMIT_MODE needs an empty context. */
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, IOMMU_OPTION, &opt));
	ASSERT_EQ(0, ioas_alloc(fd, &ioas));
	run_limit_child(_metadata, fd, ioas, self->buf, 1);
	close(fd);
}

struct racer {
	int fd;
	uint32_t ioas;
	int rounds;
	int unmapped;
	int unmap_errors;
};

static void *unmapper(void *arg)
{
	struct racer *r = arg;
	uint64_t out;

	for (int i = 0; i != r->rounds; i++) {
		int rc = unmap(r->fd, r->ioas, BASE, NPAGES * PAGE, &out);

		/*
		 * ENOENT: nothing mapped. EBUSY: the area is still being built by the racing
		 * IOAS_MAP (C iopt_unmap_iova_range: "Userspace should not race map/unmap's of
		 * the same area"). Anything else (EDEADLOCK: the access did not let go) is a bug.
		 */
		if (!rc)
			r->unmapped++;
		else if (rc != -ENOENT && rc != -EBUSY)
			r->unmap_errors++;
		usleep(50);
	}
	return NULL;
}

/*
 * Pins race IOAS_UNMAPs of the same range: every unmap succeeds, finds nothing, or finds the
 * area still being mapped (EBUSY); none fails for the access (the access's unmap op drops the
 * items it overlaps), and nothing stays pinned.
 */
TEST_F(access, unmap_notifies_concurrent)
{
	long start = status_kb("VmPin:");
	struct racer r = { .fd = self->fd, .ioas = self->ioas, .rounds = 200 };
	pthread_t t;
	int afd, pinned = 0;

	ASSERT_EQ(0, create_access(self->fd, self->ioas, &afd));
	ASSERT_EQ(0, pthread_create(&t, NULL, unmapper, &r));
	for (int i = 0; i != 2000; i++) {
		int rc = map_fixed(self->fd, self->ioas, self->buf, NPAGES * PAGE, BASE);

		ASSERT_TRUE(rc == 0 || rc == -EEXIST || rc == -EBUSY) TH_LOG("map: %d", rc);
		rc = access_pages(self->fd, afd, BASE + PAGE, 4 * PAGE,
				  (char *)self->buf + PAGE, NULL);
		/* 0; EINVAL while an unmap waits for us; ENOENT once it is gone. */
		ASSERT_TRUE(rc == 0 || rc == -EINVAL || rc == -ENOENT) TH_LOG("pin: %d", rc);
		pinned += !rc;
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, r.unmap_errors);
	EXPECT_LT(0, r.unmapped);
	EXPECT_LT(0, pinned);
	/* What is still mapped still has its pins until unmapped. */
	unmap(self->fd, self->ioas, BASE, NPAGES * PAGE, NULL);
	EXPECT_EQ(start, status_kb("VmPin:"));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 0));
	EXPECT_EQ(0, close(afd));
	EXPECT_EQ(start, status_kb("VmPin:"));
}

TEST_HARNESS_MAIN
