// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs benchmark: one round of every figure on whichever iommufd.ko is loaded. The
 * bench plan (scripts/guest/plan-bench.sh) runs it in alternating rounds, C module then ours,
 * in one boot of the production kernel; scripts/bench_report.py turns the rounds into median,
 * min, max and the ratio of medians (ours / C). A report, not a test: no thresholds.
 *
 *   iommufd_bench [-q] [-c CPU] [-f GROUPS] [-r N]
 *     -q  quick: 64 MiB instead of 1 GiB, fewer pairs, curve up to 1000 areas (development)
 *     -c  the CPU to run on (default: the last one); the process is pinned to it
 *     -f  only these groups, comma-separated (scripts/profile.sh): small (small_pairs, map_*
 *         without a domain), domain (small_pairs_domain, map_*_domain), copy, attach, dirty,
 *         access, vfio, curve, floor
 *     -r  run the chosen groups N times (profiles: enough samples at the tick rate)
 *
 * Output, one line per figure: "bench NAME: VALUE UNIT", and for the cost curves
 * "curve OP N: VALUE us" (cost of one OP with N areas in the IOAS). All values: lower is
 * better. A figure the loaded module cannot do prints "bench NAME: skipped (why)".
 *
 * Figures (SZ = 1 GiB, 64 MiB with -q; "domain": a mock device attached, so a map pins the
 * pages (GUP, accounting) and fills the mock IOMMU domain; without one neither module pins).
 * A figure of microseconds is the median of several samples within the run: the pairs in
 * BATCHES batches, the one- or two-ioctl figures over SAMPLES runs, each curve point over its
 * operations one by one; so one interrupt, or a process's first call, does not make it:
 *   small_pairs            one-page IOMMU_IOAS_MAP + UNMAP pairs, no domain     us/pair
 *   small_pairs_domain     the same with a mock domain                          us/pair
 *   map_{4k,thp}           map + unmap of SZ, 4 KiB pages / THP, no domain      us
 *   map_{4k,thp}_domain    the same with a mock domain                          ms
 *   copy                   IOMMU_IOAS_COPY of SZ into a second IOAS + unmap     us
 *   copy_domain            the same, both IOASes with a mock domain             ms
 *   attach                 mock device attach to an IOAS holding SZ (pin+fill)  ms
 *   detach                 its detach (unfill, unpin)                           ms
 *   dirty_read             IOMMU_HWPT_GET_DIRTY_BITMAP of SZ, half dirty        ms
 *   access_pin_1m          test access: pin + unpin 1 MiB (ACCESS_PAGES)        us/op
 *   access_rw_64k          test access: 64 KiB read or write (ACCESS_RW)        us/op
 *   vfio_pairs             type1 MAP_DMA + UNMAP_DMA of one page, /dev/vfio/vfio us/pair
 *   vfio_map               type1 MAP_DMA + UNMAP_DMA of SZ / 4                  us
 *   floor_{4k,thp}         iommufd-rs only (IOMMU_TEST_OP_RS_FLOOR_PIN_MAP): pin SZ and map
 *                          it into a mock domain directly, unmap, unpin: no iommufd
 *                          bookkeeping; compare with map_*_domain (ours/floor)       ms
 *   curve map|unmap|lookup N: one-page map at a fixed IOVA, its unmap, and an unmap of a hole
 *                          (ENOENT: the IOVA lookup) with N one-page areas in the IOAS  us/op
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "iommufd_test.h"

#ifndef IOMMU_TEST_OP_RS_FLOOR_PIN_MAP
#define IOMMU_TEST_OP_RS_FLOOR_PIN_MAP 0x10004
#endif

#define MIB (1UL << 20)
#define HUGE (2UL << 20)
#define PAGE 4096UL
#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

static int fd;
static int quick;
static const char *only;

/* Whether group @g runs: all without -f, else those in its list. */
static int want(const char *g)
{
	size_t n = strlen(g);
	const char *s = only;

	if (!only)
		return 1;
	while ((s = strstr(s, g))) {
		if ((s == only || s[-1] == ',') && (s[n] == ',' || !s[n]))
			return 1;
		s += n;
	}
	return 0;
}
static size_t SZ = 1UL << 30;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * The median of @n samples (sorts @v). The short figures are the median of several samples
 * within a round, so that one interrupt or a process's first-call costs do not make the
 * round's figure.
 */
static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Samples per round of the figures of one or two ioctls (median), and batches of the pairs. */
#define SAMPLES 9
#define BATCHES 5

static void fig(const char *name, double v, const char *unit)
{
	printf("bench %s: %.3f %s\n", name, v, unit);
	fflush(stdout);
}

static void skip(const char *name, const char *why, int err)
{
	printf("bench %s: skipped (%s: %s)\n", name, why, strerror(err));
	fflush(stdout);
}

static uint32_t ioas_alloc(void)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };

	if (ioctl(fd, IOMMU_IOAS_ALLOC, &cmd)) {
		perror("IOMMU_IOAS_ALLOC");
		exit(1);
	}
	return cmd.out_ioas_id;
}

static void destroy(uint32_t id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	if (ioctl(fd, IOMMU_DESTROY, &cmd))
		fprintf(stderr, "IOMMU_DESTROY %u: %s\n", id, strerror(errno));
}

static int map_at(uint32_t ioas, void *va, uint64_t len, uint64_t *iova, int fixed)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = RW | (fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0),
		.ioas_id = ioas,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = *iova,
	};

	if (ioctl(fd, IOMMU_IOAS_MAP, &cmd))
		return -errno;
	*iova = cmd.iova;
	return 0;
}

static int unmap(uint32_t ioas, uint64_t iova, uint64_t len)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd), .ioas_id = ioas, .iova = iova, .length = len,
	};

	return ioctl(fd, IOMMU_IOAS_UNMAP, &cmd) ? -errno : 0;
}

/* A mock device attached to @pt (an IOAS or a HWPT): its selftest object id (0 on error). */
static uint32_t mock_domain(uint32_t pt, uint32_t *hwpt, uint32_t *idev)
{
	struct iommu_test_cmd cmd = { .size = sizeof(cmd), .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = pt };

	if (ioctl(fd, IOMMU_TEST_CMD, &cmd))
		return 0;
	if (hwpt)
		*hwpt = cmd.mock_domain.out_hwpt_id;
	if (idev)
		*idev = cmd.mock_domain.out_idev_id;
	return cmd.mock_domain.out_stdev_id;
}

/* Anonymous memory of @len bytes, populated; THP-aligned and advised if @huge. */
static char *buf_alloc(size_t len, int huge)
{
	char *p = mmap(NULL, len + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)p + HUGE - 1) & ~(HUGE - 1));
	madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	memset(p, 1, len);
	return p;
}

static long anon_huge_kb(void)
{
	char line[256];
	long kb = 0;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void small_pairs(uint32_t ioas, const char *name, int n)
{
	static char *p;
	uint64_t iova = 0;
	double t0;
	int i, rc;

	double batch[BATCHES];
	int b;

	if (!p)
		p = buf_alloc(PAGE, 0);
	/* The median of BATCHES batches of n / BATCHES pairs. */
	for (b = 0; b != BATCHES; b++) {
		t0 = now_us();
		for (i = 0; i != n / BATCHES; i++) {
			rc = map_at(ioas, p, PAGE, &iova, 0);
			if (!rc)
				rc = unmap(ioas, iova, PAGE);
			if (rc) {
				skip(name, "map/unmap", -rc);
				return;
			}
		}
		batch[b] = (now_us() - t0) / (n / BATCHES);
	}
	fig(name, median(batch, BATCHES), "us");
}

/* Map + unmap of @len at @p, the mean of @reps, in ms. */
static void map_unmap(uint32_t ioas, const char *name, char *p, size_t len, int reps)
{
	double t[SAMPLES], t0;
	uint64_t iova = 0;
	int i, rc;

	if (reps > SAMPLES)
		reps = SAMPLES;
	for (i = 0; i != reps; i++) {
		t0 = now_us();
		rc = map_at(ioas, p, len, &iova, 0);
		if (!rc)
			rc = unmap(ioas, iova, len);
		if (rc) {
			skip(name, "map/unmap", -rc);
			return;
		}
		t[i] = now_us() - t0;
	}
	/* Without a domain (several samples) a map+unmap of 1 GiB takes microseconds. */
	if (reps > 1)
		fig(name, median(t, reps), "us");
	else
		fig(name, median(t, reps) / 1e3, "ms");
}

static int copy(uint32_t dst, uint32_t src, uint64_t src_iova, uint64_t len, uint64_t *dst_iova)
{
	struct iommu_ioas_copy cmd = {
		.size = sizeof(cmd), .flags = RW, .dst_ioas_id = dst, .src_ioas_id = src,
		.length = len, .src_iova = src_iova,
	};

	if (ioctl(fd, IOMMU_IOAS_COPY, &cmd))
		return -errno;
	*dst_iova = cmd.dst_iova;
	return 0;
}

/* IOMMU_IOAS_COPY of @len from one IOAS into another, then unmap of the copy. */
static void bench_copy(const char *name, char *p, size_t len, int domains)
{
	uint32_t a = ioas_alloc(), b = 0, sa = 0, sb = 0;
	int i, rc, reps = domains ? 1 : SAMPLES;
	uint64_t src = 0, dst = 0;
	double t[SAMPLES], t0;

	if (domains && !(sa = mock_domain(a, NULL, NULL))) {
		skip(name, "mock domain", errno);
		goto out;
	}
	rc = map_at(a, p, len, &src, 0);
	if (rc) {
		skip(name, "map", -rc);
		goto out;
	}
	/* Each sample copies into a new IOAS (with its own mock domain for copy_domain). */
	for (i = 0; i != reps; i++) {
		b = ioas_alloc();
		if (domains && !(sb = mock_domain(b, NULL, NULL))) {
			skip(name, "mock domain", errno);
			goto out;
		}
		t0 = now_us();
		rc = copy(b, a, src, len, &dst);
		if (!rc)
			rc = unmap(b, dst, len);
		t[i] = now_us() - t0;
		if (rc) {
			skip(name, "copy", -rc);
			goto out;
		}
		if (sb)
			destroy(sb);
		destroy(b);
		sb = b = 0;
	}
	if (reps > 1)
		fig(name, median(t, reps), "us");
	else
		fig(name, median(t, reps) / 1e3, "ms");
out:
	unmap(a, src, len);
	if (sb)
		destroy(sb);
	if (b)
		destroy(b);
	if (sa)
		destroy(sa);
	destroy(a);
}

/* Attaching a mock device to an IOAS that holds @len (pin + domain fill), and detaching. */
static void bench_attach(char *p, size_t len)
{
	uint32_t ioas = ioas_alloc(), st;
	uint64_t iova = MOCK_APERTURE_START; /* inside the mock domain's aperture */
	double t0;
	int rc = map_at(ioas, p, len, &iova, 1);

	if (rc) {
		skip("attach", "map", -rc);
		goto out;
	}
	t0 = now_us();
	st = mock_domain(ioas, NULL, NULL);
	if (!st) {
		skip("attach", "mock domain", errno);
		goto out;
	}
	fig("attach", (now_us() - t0) / 1e3, "ms");
	t0 = now_us();
	destroy(st);
	fig("detach", (now_us() - t0) / 1e3, "ms");
out:
	destroy(ioas);
}

/* IOMMU_HWPT_GET_DIRTY_BITMAP of @len mapped in a dirty-tracking mock domain, every other
 * page marked dirty by IOMMU_TEST_OP_DIRTY first (not timed). */
static void bench_dirty(char *p, size_t len)
{
	uint32_t ioas = ioas_alloc(), hwpt = 0, idev = 0, st;
	size_t nbits = len / PAGE, i;
	uint64_t *bitmap = calloc(nbits / 64 + 1, 8);
	uint64_t iova = 0;
	double t0;
	int rc;

	st = mock_domain(ioas, NULL, &idev);
	if (!st || !bitmap) {
		skip("dirty_read", "mock domain", errno);
		goto out_ioas;
	}
	{
		struct iommu_hwpt_alloc a = {
			.size = sizeof(a), .flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
			.dev_id = idev, .pt_id = ioas,
		};
		struct iommu_test_cmd r = {
			.size = sizeof(r), .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, .id = st,
		};

		if (ioctl(fd, IOMMU_HWPT_ALLOC, &a)) {
			skip("dirty_read", "hwpt alloc", errno);
			goto out_st;
		}
		hwpt = a.out_hwpt_id;
		r.mock_domain_replace.pt_id = hwpt;
		if (ioctl(fd, IOMMU_TEST_CMD, &r)) {
			skip("dirty_read", "replace", errno);
			goto out_st;
		}
	}
	rc = map_at(ioas, p, len, &iova, 0);
	if (rc) {
		skip("dirty_read", "map", -rc);
		goto out_st;
	}
	{
		struct iommu_hwpt_set_dirty_tracking s = {
			.size = sizeof(s), .flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE, .hwpt_id = hwpt,
		};
		struct iommu_test_cmd d = {
			.size = sizeof(d), .op = IOMMU_TEST_OP_DIRTY, .id = hwpt,
			.dirty = { .iova = iova, .length = len, .page_size = PAGE,
				   .uptr = (uintptr_t)bitmap },
		};
		struct iommu_hwpt_get_dirty_bitmap g = {
			.size = sizeof(g), .hwpt_id = hwpt, .iova = iova, .length = len,
			.page_size = PAGE, .data = (uintptr_t)bitmap,
		};

		for (i = 0; i < nbits / 64 + 1; i++)
			bitmap[i] = 0x5555555555555555ULL;
		if (ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &s) || ioctl(fd, IOMMU_TEST_CMD, &d)) {
			skip("dirty_read", "set dirty", errno);
			goto out_map;
		}
		memset(bitmap, 0, (nbits / 64 + 1) * 8);
		t0 = now_us();
		if (ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &g)) {
			skip("dirty_read", "get dirty bitmap", errno);
			goto out_map;
		}
		fig("dirty_read", (now_us() - t0) / 1e3, "ms");
		for (rc = 0, i = 0; i < nbits / 64; i++)
			rc += __builtin_popcountll(bitmap[i]);
		printf("# dirty_read: %d of %zu pages read dirty (every other marked)\n", rc, nbits);
	}
out_map:
	unmap(ioas, iova, len);
out_st:
	destroy(st);
	if (hwpt)
		destroy(hwpt);
out_ioas:
	destroy(ioas);
	free(bitmap);
}

/* The selftest's access (the mdev path): pin/unpin through ACCESS_PAGES, and ACCESS_RW. */
static void bench_access(char *p)
{
	size_t len = 64 * MIB;
	uint32_t ioas = ioas_alloc();
	struct iommu_test_cmd c = {
		.size = sizeof(c), .op = IOMMU_TEST_OP_CREATE_ACCESS, .id = ioas,
		.create_access = { .flags = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES },
	};
	uint64_t iova = 0;
	static char ubuf[64 * 1024];
	int n = quick ? 50 : 500, i, afd, rc;
	double t0;

	rc = map_at(ioas, p, len, &iova, 0);
	if (rc || ioctl(fd, IOMMU_TEST_CMD, &c)) {
		skip("access_pin_1m", "map or create access", rc ? -rc : errno);
		destroy(ioas);
		return;
	}
	afd = c.create_access.out_access_fd;
	t0 = now_us();
	for (i = 0; i != n; i++) {
		struct iommu_test_cmd a = {
			.size = sizeof(a), .op = IOMMU_TEST_OP_ACCESS_PAGES, .id = afd,
			.access_pages = { .flags = MOCK_FLAGS_ACCESS_WRITE,
					  .iova = iova + (i % 64) * MIB, .length = MIB,
					  .uptr = (uintptr_t)p + (i % 64) * MIB },
		};
		struct iommu_test_cmd d = {
			.size = sizeof(d), .op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, .id = afd,
		};

		if (ioctl(fd, IOMMU_TEST_CMD, &a)) {
			skip("access_pin_1m", "access pages", errno);
			goto rw;
		}
		d.destroy_access_pages.access_pages_id = a.access_pages.out_access_pages_id;
		if (ioctl(fd, IOMMU_TEST_CMD, &d)) {
			skip("access_pin_1m", "destroy access pages", errno);
			goto rw;
		}
	}
	fig("access_pin_1m", (now_us() - t0) / n, "us");
rw:
	n *= 4;
	t0 = now_us();
	for (i = 0; i != n; i++) {
		struct iommu_test_cmd a = {
			.size = sizeof(a), .op = IOMMU_TEST_OP_ACCESS_RW, .id = afd,
			.access_rw = { .iova = iova + (i % 1024) * sizeof(ubuf), .length = sizeof(ubuf),
				       .uptr = (uintptr_t)ubuf,
				       .flags = (i & 1) ? MOCK_ACCESS_RW_WRITE : 0 },
		};

		if (ioctl(fd, IOMMU_TEST_CMD, &a)) {
			skip("access_rw_64k", "access rw", errno);
			goto out;
		}
	}
	fig("access_rw_64k", (now_us() - t0) / n, "us");
out:
	close(afd);
	unmap(ioas, iova, len);
	destroy(ioas);
}

/* VFIO type1 through the compat layer: /dev/vfio/vfio (served by iommufd.ko) or, if the node
 * is missing, the same ioctls on /dev/iommu. */
static void bench_vfio(char *p)
{
	int vfd = open("/dev/vfio/vfio", O_RDWR), i, n = quick ? 2000 : 20000, saved = fd;
	struct iommu_vfio_ioas v = { .size = sizeof(v), .op = IOMMU_VFIO_IOAS_SET };
	size_t len = SZ / 4;
	double t0;

	if (vfd < 0)
		vfd = open("/dev/iommu", O_RDWR);
	fd = vfd;
	v.ioas_id = ioas_alloc();
	if (ioctl(vfd, IOMMU_VFIO_IOAS, &v) || ioctl(vfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		skip("vfio_pairs", "compat container", errno);
		goto out;
	}
	for (int big = 0; big != 2; big++) {
		const char *name = big ? "vfio_map" : "vfio_pairs";
		/* vfio_map: the median of SAMPLES pairs; vfio_pairs: of BATCHES batches. */
		int reps = big ? SAMPLES : BATCHES, per = big ? 1 : n / BATCHES;
		size_t l = big ? len : PAGE;
		double t[SAMPLES];

		for (int r = 0; r != reps; r++) {
			t0 = now_us();
			for (i = 0; i != per; i++) {
				struct vfio_iommu_type1_dma_map m = {
					.argsz = sizeof(m),
					.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
					.vaddr = (uintptr_t)p, .iova = 1UL << 24, .size = l,
				};
				struct vfio_iommu_type1_dma_unmap u = {
					.argsz = sizeof(u), .iova = 1UL << 24, .size = l,
				};

				if (ioctl(vfd, VFIO_IOMMU_MAP_DMA, &m) || ioctl(vfd, VFIO_IOMMU_UNMAP_DMA, &u)) {
					skip(name, "map/unmap dma", errno);
					goto out;
				}
			}
			t[r] = (now_us() - t0) / per;
		}
		fig(name, median(t, reps), "us");
	}
out:
	close(vfd);
	fd = saved;
}

/* Cost per op as the IOAS grows to @max one-page areas (no domain: the bookkeeping). */
static void bench_curve(char *p, int max)
{
	static const int points[] = { 1, 10, 100, 1000, 3000, 10000 };
	uint32_t ioas = ioas_alloc();
	const uint64_t base = 1UL << 24;
	int have = 0, k, K = quick ? 51 : 201;
	double *tm = calloc(3 * K, sizeof(double)), *tu = tm + K, *tl = tu + K, t0;

	if (!tm)
		goto out;
	for (unsigned int pi = 0; pi < sizeof(points) / sizeof(points[0]); pi++) {
		int n = points[pi];

		if (n > max)
			break;
		for (; have < n; have++) {
			uint64_t iova = base + 2 * have * PAGE;

			if (map_at(ioas, p, PAGE, &iova, 1)) {
				printf("# curve: map %d failed: %s\n", have, strerror(errno));
				goto out;
			}
		}
		for (k = 0; k != K; k++) {
			/* A hole between two areas, spread over the whole range. */
			uint64_t hole = base + (2 * (((uint64_t)k * 7919) % n) + 1) * PAGE;
			uint64_t iova = hole;

			t0 = now_us();
			if (unmap(ioas, hole, PAGE) != -ENOENT) {
				printf("# curve: lookup of a hole did not fail with ENOENT\n");
				goto out;
			}
			tl[k] = now_us() - t0;
			t0 = now_us();
			if (map_at(ioas, p, PAGE, &iova, 1)) {
				printf("# curve: map at a hole failed: %s\n", strerror(errno));
				goto out;
			}
			tm[k] = now_us() - t0;
			t0 = now_us();
			if (unmap(ioas, hole, PAGE)) {
				printf("# curve: unmap failed: %s\n", strerror(errno));
				goto out;
			}
			tu[k] = now_us() - t0;
		}
		printf("curve map %d: %.3f us\ncurve unmap %d: %.3f us\ncurve lookup %d: %.3f us\n",
		       n, median(tm, K), n, median(tu, K), n, median(tl, K));
		fflush(stdout);
	}
out:
	free(tm);
	destroy(ioas);
}

/* The floor: pin + map into a mock domain, unmap + unpin, with no iommufd bookkeeping. */
static void bench_floor(const char *name, char *p, size_t len)
{
	uint32_t ioas = ioas_alloc(), hwpt = 0, st = mock_domain(ioas, &hwpt, NULL);
	struct iommu_test_cmd c = {
		.size = sizeof(c), .op = IOMMU_TEST_OP_RS_FLOOR_PIN_MAP, .id = hwpt,
		.check_map = { .iova = MOCK_APERTURE_START, .length = len, .uptr = (uintptr_t)p },
	};
	double t0;

	if (!st) {
		skip(name, "mock domain", errno);
	} else {
		t0 = now_us();
		if (ioctl(fd, IOMMU_TEST_CMD, &c))
			skip(name, "IOMMU_TEST_OP_RS_FLOOR_PIN_MAP", errno);
		else
			fig(name, (now_us() - t0) / 1e3, "ms");
		destroy(st);
	}
	destroy(ioas);
}

int main(int argc, char **argv)
{
	int cpu = -1, opt, thp_ok, reps = 1, r;
	uint32_t ioas, st;
	char *p4k, *pthp;
	cpu_set_t set;

	while ((opt = getopt(argc, argv, "qc:f:r:")) != -1) {
		if (opt == 'q')
			quick = 1;
		else if (opt == 'c')
			cpu = atoi(optarg);
		else if (opt == 'f')
			only = optarg;
		else if (opt == 'r')
			reps = atoi(optarg);
		else
			return 2;
	}
	if (quick)
		SZ = 64 * MIB;
	if (cpu < 0)
		cpu = sysconf(_SC_NPROCESSORS_ONLN) - 1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("sched_setaffinity");
	printf("# iommufd_bench: cpu %d, size %zu MiB%s\n", cpu, SZ / MIB, quick ? " (quick)" : "");

	fd = open("/dev/iommu", O_RDWR);
	if (fd < 0) {
		perror("/dev/iommu");
		return 1;
	}
	p4k = buf_alloc(SZ, 0);
	pthp = buf_alloc(SZ, 1);
	if (!p4k || !pthp) {
		printf("# no memory for two %zu MiB buffers\n", SZ / MIB);
		return 1;
	}
	thp_ok = anon_huge_kb() * 1024 >= (long)SZ / 2;
	if (!thp_ok)
		printf("# THP gave %ld kB of huge pages: the thp figures are skipped\n", anon_huge_kb());

	for (r = 0; r < reps; r++) {
		ioas = ioas_alloc();
		if (want("small")) {
			small_pairs(ioas, "small_pairs", quick ? 5000 : 100000);
			map_unmap(ioas, "map_4k", p4k, SZ, SAMPLES);
			if (thp_ok)
				map_unmap(ioas, "map_thp", pthp, SZ, SAMPLES);
		}
		if (want("domain")) {
			st = mock_domain(ioas, NULL, NULL);
			if (!st) {
				skip("small_pairs_domain", "mock domain", errno);
			} else {
				small_pairs(ioas, "small_pairs_domain", quick ? 2000 : 20000);
				map_unmap(ioas, "map_4k_domain", p4k, SZ, 1);
				if (thp_ok)
					map_unmap(ioas, "map_thp_domain", pthp, SZ, 1);
				destroy(st);
			}
		}
		destroy(ioas);

		if (want("copy")) {
			bench_copy("copy", p4k, SZ, 0);
			bench_copy("copy_domain", p4k, SZ, 1);
		}
		if (want("attach"))
			bench_attach(p4k, SZ);
		if (want("dirty"))
			bench_dirty(p4k, SZ);
		if (want("access"))
			bench_access(p4k);
		if (want("vfio"))
			bench_vfio(p4k);
		if (want("curve"))
			bench_curve(p4k, quick ? 1000 : 10000);
		if (want("floor")) {
			bench_floor("floor_4k", p4k, SZ);
			if (thp_ok)
				bench_floor("floor_thp", pthp, SZ);
		}
	}
	close(fd);
	return 0;
}
