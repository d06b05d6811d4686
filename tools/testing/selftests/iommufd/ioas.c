// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: IOAS and object-table behaviour the upstream selftests leave out, for whichever
 * iommufd.ko is loaded (run against the C module and ours): ID reuse, destroy of every kind of
 * bad ID, close with live mappings, and map/unmap/copy from several threads on one IOAS ending
 * consistent. Needs no device (no mock domain).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "kselftest_harness.h"
#include "rs_utils.h"

#define PAGE 4096UL

static int copy(int fd, uint32_t dst, uint32_t src, uint64_t src_iova, uint64_t len,
		uint64_t *dst_iova)
{
	struct iommu_ioas_copy cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.dst_ioas_id = dst,
		.src_ioas_id = src,
		.length = len,
		.src_iova = src_iova,
	};
	int rc = ioctl(fd, IOMMU_IOAS_COPY, &cmd);

	*dst_iova = cmd.dst_iova;
	return rc ? -errno : 0;
}

FIXTURE(ioas)
{
	int fd;
	void *buf;
	size_t len;
};

FIXTURE_SETUP(ioas)
{
	self->len = 256 * PAGE;
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	self->buf = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(ioas)
{
	munmap(self->buf, self->len);
	close(self->fd);
}

TEST_F(ioas, ids_lowest_free_and_destroy_errors)
{
	struct iommu_ioas_alloc bad = { .size = sizeof(bad), .flags = 1 };
	uint32_t a, b, c, d;

	ASSERT_EQ(0, ioas_alloc(self->fd, &a));
	ASSERT_EQ(0, ioas_alloc(self->fd, &b));
	ASSERT_EQ(0, ioas_alloc(self->fd, &c));
	EXPECT_EQ(1, a);
	EXPECT_EQ(2, b);
	EXPECT_EQ(3, c);
	ASSERT_EQ(0, destroy(self->fd, b));
	EXPECT_EQ(-ENOENT, destroy(self->fd, b));
	ASSERT_EQ(0, ioas_alloc(self->fd, &d));
	EXPECT_EQ(b, d); /* the lowest free ID again */
	EXPECT_EQ(-ENOENT, destroy(self->fd, 0));
	EXPECT_EQ(-ENOENT, destroy(self->fd, 4));
	EXPECT_EQ(-ENOENT, destroy(self->fd, UINT32_MAX));
	EXPECT_EQ(-ENOENT, destroy(self->fd, 0x80000000u));
	/* Unknown flags change nothing. */
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_ALLOC, &bad));
	EXPECT_EQ(EOPNOTSUPP, errno);
	ASSERT_EQ(0, ioas_alloc(self->fd, &d));
	EXPECT_EQ(4, d);
}

TEST_F(ioas, close_with_mappings_and_copies)
{
	uint32_t a, b;
	uint64_t iova = 0, iova2 = 0;
	int i;

	/* Repeatedly leave mapped and copied areas behind at close. */
	for (i = 0; i != 50; i++) {
		int fd = open("/dev/iommu", O_RDWR);

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, ioas_alloc(fd, &a));
		ASSERT_EQ(0, ioas_alloc(fd, &b));
		ASSERT_EQ(0, map(fd, a, self->buf, self->len, &iova, 0));
		ASSERT_EQ(0, copy(fd, b, a, iova + PAGE, 16 * PAGE, &iova2));
		if (i & 1)
			ASSERT_EQ(0, destroy(fd, a));
		ASSERT_EQ(0, close(fd));
	}
}

TEST_F(ioas, unmap_all_counts_and_empty)
{
	uint32_t a;
	uint64_t iova, out = 0;
	int i;

	ASSERT_EQ(0, ioas_alloc(self->fd, &a));
	for (i = 0; i != 8; i++) {
		iova = 0;
		ASSERT_EQ(0, map(self->fd, a, (char *)self->buf + i * 16 * PAGE, 16 * PAGE, &iova, 0));
	}
	ASSERT_EQ(0, unmap(self->fd, a, 0, UINT64_MAX, &out));
	EXPECT_EQ(8 * 16 * PAGE, out);
	/* Unmap all of nothing succeeds with 0; a range of nothing is ENOENT. */
	ASSERT_EQ(0, unmap(self->fd, a, 0, UINT64_MAX, &out));
	EXPECT_EQ(0, out);
	EXPECT_EQ(-ENOENT, unmap(self->fd, a, 1UL << 30, PAGE, NULL));
}

struct worker {
	int fd;
	uint32_t ioas, other;
	char *buf;
	unsigned int seed;
	int errors;
	uint64_t mapped; /* bytes this worker still has mapped in ioas at the end */
};

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t iovas[32], lens[32];
	int n = 0, i;

	for (i = 0; i != 3000; i++) {
		int r = rand_r(&w->seed) % 4;
		uint64_t iova = 0, out = 0, len;

		if (r <= 1 && n < 32) {
			len = (1 + rand_r(&w->seed) % 8) * PAGE;
			if (map(w->fd, w->ioas, w->buf + (rand_r(&w->seed) % 64) * PAGE, len, &iova, 0)) {
				w->errors++;
				continue;
			}
			iovas[n] = iova;
			lens[n++] = len;
		} else if (r == 2 && n) {
			int k = rand_r(&w->seed) % n;

			if (unmap(w->fd, w->ioas, iovas[k], lens[k], &out) || out != lens[k])
				w->errors++;
			iovas[k] = iovas[--n];
			lens[k] = lens[n];
		} else if (n) {
			int k = rand_r(&w->seed) % n;

			/* Copy one of ours into the other IOAS and drop it again. */
			if (copy(w->fd, w->other, w->ioas, iovas[k], lens[k], &iova)) {
				w->errors++;
				continue;
			}
			if (unmap(w->fd, w->other, iova, lens[k], &out) || out != lens[k])
				w->errors++;
		}
	}
	for (i = 0; i != n; i++)
		w->mapped += lens[i];
	return NULL;
}

TEST_F(ioas, concurrent_map_unmap_copy)
{
	struct worker w[4];
	pthread_t t[4];
	uint64_t total = 0, out = 0;
	uint32_t a, b;
	int i;

	ASSERT_EQ(0, ioas_alloc(self->fd, &a));
	ASSERT_EQ(0, ioas_alloc(self->fd, &b));
	for (i = 0; i != 4; i++) {
		w[i] = (struct worker){ .fd = self->fd, .ioas = a, .other = b,
					.buf = self->buf, .seed = 1234 + i };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, work, &w[i]));
	}
	for (i = 0; i != 4; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, w[i].errors);
		total += w[i].mapped;
	}
	/* Exactly what the threads left mapped is there, and the other IOAS is empty. */
	ASSERT_EQ(0, unmap(self->fd, a, 0, UINT64_MAX, &out));
	EXPECT_EQ(total, out);
	ASSERT_EQ(0, unmap(self->fd, b, 0, UINT64_MAX, &out));
	EXPECT_EQ(0, out);
	EXPECT_EQ(0, destroy(self->fd, a));
	EXPECT_EQ(0, destroy(self->fd, b));
}

TEST_HARNESS_MAIN
