// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs benchmark: times IOMMU_IOAS_MAP + IOMMU_IOAS_UNMAP on whichever iommufd.ko is
 * loaded. The guest runs it against the C module and ours in one boot; the host prints the
 * ratios. A report, not a test: no thresholds.
 *
 *   map1g_4k      map + unmap of 1 GiB of populated anonymous 4 KiB pages
 *   map1g_thp     the same with transparent huge pages (2 MiB), when THP gives them
 *   small_pairs   100000 map + unmap pairs of one page
 *
 * With no device attached the IOAS has no domain, so neither module pins: these figures are
 * the IOVA bookkeeping, pages-object and ioctl paths. The *_domain figures repeat them with a
 * mock device attached (IOMMU_TEST_OP_MOCK_DOMAIN): every map then pins the pages (GUP,
 * RLIMIT_MEMLOCK accounting) and maps them into the mock IOMMU domain, and every unmap undoes
 * that. They use 256 MiB (a TCG guest pins slowly) and 20000 small pairs.
 *
 * Output, one line per figure: "bench NAME: VALUE UNIT".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "iommufd_test.h"

#define GIB (1UL << 30)
#define HUGE (2UL << 20)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int map(int fd, uint32_t ioas, void *va, uint64_t len, uint64_t *iova)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas,
		.user_va = (uintptr_t)va,
		.length = len,
	};

	if (ioctl(fd, IOMMU_IOAS_MAP, &cmd))
		return -errno;
	*iova = cmd.iova;
	return 0;
}

static int unmap(int fd, uint32_t ioas, uint64_t iova, uint64_t len)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd), .ioas_id = ioas, .iova = iova, .length = len,
	};

	return ioctl(fd, IOMMU_IOAS_UNMAP, &cmd) ? -errno : 0;
}

static int thp_pages(void *p, size_t len)
{
	/* AnonHugePages of this mapping, from smaps_rollup of the whole process (rough). */
	char line[256];
	long kb = 0;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	(void)p;
	(void)len;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb / 2048;
}

static void *alloc_len(size_t want, int huge, void **base, size_t *len)
{
	char *p;

	*len = want + (huge ? HUGE : 0);
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*base = p;
	if (huge) {
		p = (char *)(((uintptr_t)p + HUGE - 1) & ~(HUGE - 1));
		madvise(p, want, MADV_HUGEPAGE);
	} else {
		madvise(p, want, MADV_NOHUGEPAGE);
	}
	memset(p, 1, want);
	return p;
}

static int bench_big(int fd, uint32_t ioas, const char *name, int huge, size_t size, int rounds)
{
	void *base = NULL;
	size_t len = 0;
	void *p = alloc_len(size, huge, &base, &len);
	double best = 1e30, total = 0;
	uint64_t iova = 0;
	int i, rc;

	if (!p) {
		printf("bench %s: skipped (no memory)\n", name);
		return 0;
	}
	if (huge && thp_pages(p, size) < (int)(size / HUGE / 4)) {
		printf("bench %s: skipped (THP gave %d huge pages)\n", name, thp_pages(p, size));
		munmap(base, len);
		return 0;
	}
	for (i = 0; i != rounds; i++) {
		double t0 = now_us(), t;

		rc = map(fd, ioas, p, size, &iova);
		if (!rc)
			rc = unmap(fd, ioas, iova, size);
		if (rc) {
			printf("bench %s: error %d\n", name, rc);
			munmap(base, len);
			return 1;
		}
		t = now_us() - t0;
		total += t;
		if (t < best)
			best = t;
	}
	printf("bench %s: %.1f us (best of %d; mean %.1f us)\n", name, best, rounds, total / rounds);
	munmap(base, len);
	return 0;
}

static int bench_small(int fd, uint32_t ioas, const char *name, int n)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int i, rc;
	uint64_t iova = 0;
	double t0;

	if (p == MAP_FAILED)
		return 1;
	p[0] = 1;
	t0 = now_us();
	for (i = 0; i != n; i++) {
		rc = map(fd, ioas, p, page, &iova);
		if (!rc)
			rc = unmap(fd, ioas, iova, page);
		if (rc) {
			printf("bench %s: error %d at %d\n", name, rc, i);
			return 1;
		}
	}
	printf("bench %s: %.3f us (per map+unmap pair, %d pairs)\n", name,
	       (now_us() - t0) / n, n);
	munmap(p, page);
	return 0;
}

int main(void)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_test_cmd mock = { .size = sizeof(mock), .op = IOMMU_TEST_OP_MOCK_DOMAIN };
	int fd = open("/dev/iommu", O_RDWR), rc = 0;

	if (fd < 0 || ioctl(fd, IOMMU_IOAS_ALLOC, &alloc)) {
		perror("iommufd");
		return 1;
	}
	rc |= bench_small(fd, alloc.out_ioas_id, "small_pairs", 100000);
	rc |= bench_big(fd, alloc.out_ioas_id, "map1g_4k", 0, GIB, 10);
	rc |= bench_big(fd, alloc.out_ioas_id, "map1g_thp", 1, GIB, 10);

	/* The same with a mock device attached: maps pin and fill the mock domain. */
	mock.id = alloc.out_ioas_id;
	if (ioctl(fd, IOMMU_TEST_CMD, &mock)) {
		printf("bench domain: skipped (no mock domain: %s)\n", strerror(errno));
	} else {
		rc |= bench_small(fd, alloc.out_ioas_id, "small_pairs_domain", 20000);
		rc |= bench_big(fd, alloc.out_ioas_id, "map256m_4k_domain", 0, GIB / 4, 5);
		rc |= bench_big(fd, alloc.out_ioas_id, "map256m_thp_domain", 1, GIB / 4, 5);
	}
	close(fd);
	return rc;
}
