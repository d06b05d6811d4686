// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: devices and HW page tables, through the selftest's mock IOMMU
 * (IOMMU_TEST_OP_MOCK_DOMAIN), for whichever iommufd.ko is loaded (the C module and ours):
 * attach/detach and replace cycles leave no domain and no pin behind, devices on one IOAS
 * share its automatic domain until the last goes, a HWPT in use cannot be destroyed, and
 * closing the file with attached devices unpins everything.
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
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "kselftest_harness.h"
#include "iommufd_test.h"
#include "rs_utils.h"

#define PAGE 4096UL
#define NPAGES 64
#define BASE (1UL << 24)

static int mock_domain(int fd, uint32_t pt_id, uint32_t *stdev, uint32_t *hwpt,
		       uint32_t *idev)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
		.id = pt_id,
	};
	int rc = ioctl(fd, IOMMU_TEST_CMD, &cmd);

	if (stdev)
		*stdev = cmd.mock_domain.out_stdev_id;
	if (hwpt)
		*hwpt = cmd.mock_domain.out_hwpt_id;
	if (idev)
		*idev = cmd.mock_domain.out_idev_id;
	return rc ? -errno : 0;
}

static int mock_replace(int fd, uint32_t stdev, uint32_t pt_id, uint32_t *hwpt)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
		.id = stdev,
		.mock_domain_replace = { .pt_id = pt_id },
	};
	int rc = ioctl(fd, IOMMU_TEST_CMD, &cmd);

	if (hwpt)
		*hwpt = cmd.mock_domain_replace.pt_id;
	return rc ? -errno : 0;
}

/* The mock domain of @hwpt maps [iova, iova + len) to @buf (IOMMU_TEST_OP_MD_CHECK_MAP). */
static int check_map(int fd, uint32_t hwpt, uint64_t iova, void *buf, size_t len)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MD_CHECK_MAP,
		.id = hwpt,
		.check_map = { .iova = iova, .length = len, .uptr = (uintptr_t)buf },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd) ? -errno : 0;
}

FIXTURE(device)
{
	int fd;
	uint32_t ioas_id;
	void *buf;
	long vmpin0;
};

FIXTURE_SETUP(device)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas_id));
	self->buf = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0x5a, NPAGES * PAGE);
	self->vmpin0 = status_kb("VmPin:");
	ASSERT_LE(0, self->vmpin0);
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas_id, self->buf, NPAGES * PAGE, BASE));
	/* Without a domain or access nothing is pinned. */
	ASSERT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 0));
	ASSERT_EQ(self->vmpin0, status_kb("VmPin:"));
}

FIXTURE_TEARDOWN(device)
{
	if (self->fd >= 0)
		close(self->fd);
	munmap(self->buf, NPAGES * PAGE);
}

/* Attach pins each page once and maps it; detach unpins and destroys the automatic domain. */
TEST_F(device, attach_detach_cycles)
{
	for (int i = 0; i != 40; i++) {
		uint32_t stdev, hwpt, idev;

		ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt, &idev));
		ASSERT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 1));
		ASSERT_EQ(0, check_map(self->fd, hwpt, BASE, self->buf, NPAGES * PAGE));
		ASSERT_EQ(self->vmpin0 + (long)(NPAGES * PAGE / 1024), status_kb("VmPin:"));
		/* The device is held by its selftest object, the HWPT by the device. */
		ASSERT_EQ(-EBUSY, destroy(self->fd, idev));
		ASSERT_EQ(-EBUSY, destroy(self->fd, hwpt));
		ASSERT_EQ(-EBUSY, destroy(self->fd, self->ioas_id));
		ASSERT_EQ(0, destroy(self->fd, stdev));
		/* The automatic domain went with its last device, and the pins with it. */
		ASSERT_EQ(-ENOENT, destroy(self->fd, hwpt));
		ASSERT_EQ(-ENOENT, destroy(self->fd, idev));
		ASSERT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 0));
		ASSERT_EQ(self->vmpin0, status_kb("VmPin:"));
	}
}

/* Devices on one IOAS share its automatic domain; pages stay pinned once until the last goes. */
TEST_F(device, shared_auto_domain)
{
	uint32_t stdev[3], hwpt[3];

	for (int i = 0; i != 3; i++) {
		ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev[i], &hwpt[i], NULL));
		ASSERT_EQ(hwpt[0], hwpt[i]);
		ASSERT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 1));
	}
	for (int i = 0; i != 3; i++) {
		ASSERT_EQ(0, check_map(self->fd, hwpt[0], BASE, self->buf, NPAGES * PAGE));
		ASSERT_EQ(0, destroy(self->fd, stdev[i]));
	}
	ASSERT_EQ(-ENOENT, destroy(self->fd, hwpt[0]));
	ASSERT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 0));
	ASSERT_EQ(self->vmpin0, status_kb("VmPin:"));
}

/* Replacing between two IOASes moves the pins with the attachment; nothing is left after. */
TEST_F(device, replace_cycles)
{
	uint32_t ioas2, stdev, hwpt, hwpt2;
	void *buf2 = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	ASSERT_NE(MAP_FAILED, buf2);
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, map_fixed(self->fd, ioas2, buf2, NPAGES * PAGE, BASE));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt, NULL));
	for (int i = 0; i != 20; i++) {
		ASSERT_EQ(0, mock_replace(self->fd, stdev, ioas2, &hwpt2));
		ASSERT_EQ(0, check_refs(self->fd, buf2, NPAGES * PAGE, 1));
		ASSERT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 0));
		ASSERT_EQ(0, check_map(self->fd, hwpt2, BASE, buf2, NPAGES * PAGE));
		/* The old automatic domain is gone. */
		ASSERT_EQ(-ENOENT, destroy(self->fd, hwpt));
		ASSERT_EQ(0, mock_replace(self->fd, stdev, self->ioas_id, &hwpt));
		ASSERT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 1));
		ASSERT_EQ(0, check_refs(self->fd, buf2, NPAGES * PAGE, 0));
		ASSERT_EQ(-ENOENT, destroy(self->fd, hwpt2));
	}
	ASSERT_EQ(0, destroy(self->fd, stdev));
	ASSERT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 0));
	ASSERT_EQ(0, destroy(self->fd, ioas2));
	ASSERT_EQ(self->vmpin0, status_kb("VmPin:"));
	munmap(buf2, NPAGES * PAGE);
}

/* A manual HWPT cannot be destroyed while a device uses it, and survives its detach. */
TEST_F(device, manual_hwpt_busy)
{
	uint32_t stdev, hwpt, idev, manual;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, &hwpt, &idev));
	ASSERT_EQ(0, hwpt_alloc(self->fd, idev, self->ioas_id, 0, 0, NULL, 0, &manual));
	ASSERT_NE(hwpt, manual);
	ASSERT_EQ(0, check_map(self->fd, manual, BASE, self->buf, NPAGES * PAGE));
	ASSERT_EQ(0, mock_replace(self->fd, stdev, manual, NULL));
	ASSERT_EQ(-ENOENT, destroy(self->fd, hwpt));
	ASSERT_EQ(-EBUSY, destroy(self->fd, manual));
	ASSERT_EQ(0, destroy(self->fd, stdev));
	/* Detached, but a manual HWPT stays until destroyed; it still holds the pins. */
	ASSERT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 1));
	ASSERT_EQ(-EBUSY, destroy(self->fd, self->ioas_id));
	ASSERT_EQ(0, destroy(self->fd, manual));
	ASSERT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 0));
	ASSERT_EQ(self->vmpin0, status_kb("VmPin:"));
	ASSERT_EQ(0, destroy(self->fd, self->ioas_id));
}

/* Closing the file with devices attached unpins everything. */
TEST_F(device, close_attached)
{
	int fd2;

	for (int i = 0; i != 4; i++)
		ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, NULL, NULL, NULL));
	ASSERT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 1));
	close(self->fd);
	self->fd = -1;
	fd2 = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, check_refs(fd2, self->buf, NPAGES * PAGE, 0));
	ASSERT_EQ(self->vmpin0, status_kb("VmPin:"));
	close(fd2);
}

struct hw_info_racer {
	int fd;
	volatile uint32_t idev;
	volatile int stop;
	unsigned long ok, gone, errors;
};

/* IOMMU_GET_HW_INFO on whatever device is current: a short-term lookup of the device object. */
static void *hw_info_racer(void *arg)
{
	struct hw_info_racer *r = arg;
	struct iommu_test_hw_info info;

	while (!r->stop) {
		struct iommu_hw_info cmd = {
			.size = sizeof(cmd),
			.dev_id = r->idev,
			.data_len = sizeof(info),
			.data_uptr = (uintptr_t)&info,
		};

		if (!ioctl(r->fd, IOMMU_GET_HW_INFO, &cmd))
			r->ok++;
		else if (errno == ENOENT) /* destroyed, or the ID names another object now */
			r->gone++;
		else
			r->errors++;
	}
	return NULL;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/*
 * Unbind (destroying the selftest object that bound the mock device) while another thread
 * keeps looking the device up: every destroy succeeds after waiting for the lookup in flight
 * (REMOVE_WAIT_SHORTTERM), promptly, and nothing stays attached or pinned.
 *
 * "Promptly" is what the C module of 6.12.117 fails (recorded in c-baseline.txt): its
 * iommufd_put_object() wakes destroy_wait with wake_up_interruptible_all(), but
 * iommufd_object_dec_wait_shortterm() sleeps uninterruptibly (wait_event_timeout), so a
 * destroy that had to wait is never woken and sleeps its whole 60 s time-out. Ours wakes it,
 * and stops new lookups while it waits (with overlapping lookups C's count may never reach
 * zero). The loop stops at the first slow destroy, so C costs one time-out.
 */
TEST_F(device, unbind_races_lookups)
{
	struct hw_info_racer r = { .fd = self->fd };
	double slowest = 0;
	pthread_t t;
	int i;

	ASSERT_EQ(0, pthread_create(&t, NULL, hw_info_racer, &r));
	for (i = 0; i != 200 && slowest < 10; i++) {
		uint32_t stdev, idev;
		double t0;

		ASSERT_EQ(0, mock_domain(self->fd, self->ioas_id, &stdev, NULL, &idev));
		r.idev = idev;
		usleep(100);
		t0 = now();
		EXPECT_EQ(0, destroy(self->fd, stdev));
		if (now() - t0 > slowest)
			slowest = now() - t0;
	}
	r.stop = 1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	TH_LOG("%d unbinds, slowest %.3f s; lookups: %lu found, %lu gone", i, slowest, r.ok, r.gone);
	EXPECT_GT(10, slowest);
	EXPECT_EQ(0, r.errors);
	EXPECT_LT(0, r.ok);
	EXPECT_LT(0, r.gone);
	EXPECT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 0));
	EXPECT_EQ(self->vmpin0, status_kb("VmPin:"));
	EXPECT_EQ(0, destroy(self->fd, self->ioas_id));
}

TEST_HARNESS_MAIN
