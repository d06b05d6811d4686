// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: the debugfs view of our module (/sys/kernel/debug/iommufd/, see
 * Documentation/debugfs.md), checked against state this suite builds through the selftest's
 * mock IOMMU and access ops:
 *  - summary has exactly its five lines, and reads all zeros once every context is closed;
 *  - contexts lists our context with its objects (right types, IDs and users), each IOAS's
 *    areas (ranges, pinned pages, domains filled), an access with its pins, and the charged
 *    pages (which match VmPin and summary);
 *  - a 10,000-area IOAS reads completely and in order through small read() sizes;
 *  - root-only and read-only: uid 65534 gets EACCES, a write fails.
 *
 * The C iommufd.ko has no such view: every case SKIPs when the directory is missing
 * (c-baseline.txt: ours-skip debugfs).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "kselftest_harness.h"
#include "iommufd_test.h"
#include "rs_utils.h"

#define PAGE 4096UL
#define BASE (1UL << 24)
#define DIR_PATH "/sys/kernel/debug/iommufd"
#define SUMMARY DIR_PATH "/summary"
#define CONTEXTS DIR_PATH "/contexts"
#define HUGE_AREAS 10000

/* The whole of @path read @chunk bytes per read(); NUL-terminated, malloc'd; NULL on error. */
static char *read_all(const char *path, size_t chunk, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		if (n + chunk > cap) {
			char *nb;

			cap = 2 * (n + chunk);
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = nb;
		}
		r = read(fd, buf + n, chunk);
		if (r < 0) {
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

struct summary {
	long contexts, objects, pinned_pages, charged_pages, accesses;
};

/* Parses summary: exactly its five lines, in order; -1 if the format differs. */
static int read_summary(struct summary *s)
{
	char *b = read_all(SUMMARY, 4096, NULL);
	int n, used = 0;

	if (!b)
		return -1;
	n = sscanf(b, "contexts %ld\nobjects %ld\npinned_pages %ld\ncharged_pages %ld\naccesses %ld\n%n",
		   &s->contexts, &s->objects, &s->pinned_pages, &s->charged_pages, &s->accesses,
		   &used);
	n = (n == 5 && used > 0 && b[used] == 0) ? 0 : -1;
	free(b);
	return n;
}

/* The text of the newest context's block of contexts (ours: opened last), malloc'd. */
static char *our_context(size_t chunk)
{
	char *b = read_all(CONTEXTS, chunk, NULL), *last = NULL, *p;

	if (!b)
		return NULL;
	for (p = b; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, "context ", 8))
			last = p;
	p = last ? strdup(last) : NULL;
	free(b);
	return p;
}

/* Whether @block has a line that starts (after indentation) with @prefix. */
static const char *find_line(const char *block, const char *prefix)
{
	const char *p = block;

	while (p && *p) {
		const char *s = p;

		while (*s == ' ')
			s++;
		if (!strncmp(s, prefix, strlen(prefix)))
			return s;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static int test_cmd(int fd, struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(fd, IOMMU_TEST_CMD, cmd) ? -errno : 0;
}

static int mock_domain(int fd, uint32_t ioas, uint32_t *stdev, uint32_t *hwpt, uint32_t *idev)
{
	struct iommu_test_cmd cmd = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = ioas };
	int rc = test_cmd(fd, &cmd);

	*stdev = cmd.mock_domain.out_stdev_id;
	*hwpt = cmd.mock_domain.out_hwpt_id;
	*idev = cmd.mock_domain.out_idev_id;
	return rc;
}

static int create_access(int fd, uint32_t ioas, int *access_fd)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_CREATE_ACCESS,
		.id = ioas,
		.create_access = { .flags = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES },
	};
	int rc = test_cmd(fd, &cmd);

	*access_fd = cmd.create_access.out_access_fd;
	return rc;
}

static int access_pages(int fd, int access_fd, uint64_t iova, uint64_t len, void *uptr)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_ACCESS_PAGES,
		.id = access_fd,
		.access_pages = { .iova = iova, .length = len, .uptr = (uintptr_t)uptr },
	};

	return test_cmd(fd, &cmd);
}

FIXTURE(debugfs)
{
	int fd;
	uint32_t ioas;
	void *buf;
	size_t buf_len;
};

FIXTURE_SETUP(debugfs)
{
	struct stat st;

	self->fd = -1;
	self->buf = MAP_FAILED;
	if (stat(DIR_PATH, &st))
		SKIP(return, "no " DIR_PATH " (the C module has no debugfs view)");
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	self->buf_len = 64 * PAGE;
	self->buf = mmap(NULL, self->buf_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(debugfs)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->buf != MAP_FAILED)
		munmap(self->buf, self->buf_len);
}

/* summary: exactly the five lines; our open context and its IOAS count. */
TEST_F(debugfs, summary_format)
{
	struct summary s;

	ASSERT_EQ(0, read_summary(&s));
	ASSERT_LE(1, s.contexts);
	ASSERT_LE(1, s.objects);
	ASSERT_LE(0, s.pinned_pages);
	ASSERT_LE(0, s.charged_pages);
	ASSERT_LE(0, s.accesses);
}

/* Objects appear with their types, IDs and users. */
TEST_F(debugfs, objects)
{
	uint32_t stdev, hwpt, idev, ioas2;
	char line[128], *ctx;

	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, &hwpt, &idev));
	ctx = our_context(4096);
	ASSERT_NE(NULL, ctx);
	TH_LOG("%s", ctx);
	ASSERT_NE(NULL, strstr(ctx, "objects 5"));
	/* The HWPT holds its IOAS (a user); nothing holds the second IOAS. */
	snprintf(line, sizeof(line), "object %u ioas users 1 shortterm 0\n", self->ioas);
	ASSERT_NE(NULL, find_line(ctx, line));
	snprintf(line, sizeof(line), "object %u ioas users 0 shortterm 0\n", ioas2);
	ASSERT_NE(NULL, find_line(ctx, line));
	snprintf(line, sizeof(line), "object %u hwpt_paging users ", hwpt);
	ASSERT_NE(NULL, find_line(ctx, line));
	snprintf(line, sizeof(line), "object %u device users ", idev);
	ASSERT_NE(NULL, find_line(ctx, line));
	snprintf(line, sizeof(line), "object %u selftest users ", stdev);
	ASSERT_NE(NULL, find_line(ctx, line));
	snprintf(line, sizeof(line), "ioas %u areas 0 domains 1 accesses 0\n", self->ioas);
	ASSERT_NE(NULL, find_line(ctx, line));
	snprintf(line, sizeof(line), "ioas %u areas 0 domains 0 accesses 0\n", ioas2);
	ASSERT_NE(NULL, find_line(ctx, line));
	free(ctx);
	ASSERT_EQ(0, destroy(self->fd, ioas2));
	ctx = our_context(4096);
	ASSERT_NE(NULL, ctx);
	snprintf(line, sizeof(line), "object %u ", ioas2);
	ASSERT_EQ(NULL, find_line(ctx, line));
	ASSERT_NE(NULL, strstr(ctx, "objects 4"));
	free(ctx);
}

/*
 * An IOAS with N areas lists N areas with their ranges; with a domain every page is pinned
 * and the area is filled in it; the context's charged pages match VmPin and the summary.
 */
TEST_F(debugfs, areas_and_charge)
{
	const unsigned int n = 6;
	uint32_t stdev, hwpt, idev;
	long vmpin0 = status_kb("VmPin:");
	unsigned int i, npages = 0;
	struct summary s0, s;
	char line[160], *ctx;

	ASSERT_EQ(0, read_summary(&s0));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, &hwpt, &idev));
	for (i = 0; i < n; i++) {
		/* Area i: i + 1 pages at BASE + i * 16 pages. */
		ASSERT_EQ(0, map_fixed(self->fd, self->ioas, (char *)self->buf + i * 8 * PAGE,
				       (i + 1) * PAGE, BASE + i * 16 * PAGE));
		npages += i + 1;
	}
	ctx = our_context(4096);
	ASSERT_NE(NULL, ctx);
	TH_LOG("%s", ctx);
	snprintf(line, sizeof(line), "ioas %u areas %u domains 1 accesses 0\n", self->ioas, n);
	ASSERT_NE(NULL, find_line(ctx, line));
	for (i = 0; i < n; i++) {
		unsigned long first = BASE + i * 16 * PAGE, last = first + (i + 1) * PAGE - 1;

		snprintf(line, sizeof(line), "area %#lx-%#lx pages ", first, last);
		const char *l = find_line(ctx, line);

		ASSERT_NE(NULL, l);
		snprintf(line, sizeof(line), " pinned %u pages_pinned %u domains 1 accesses 0\n",
			 i + 1, i + 1);
		ASSERT_NE(NULL, strstr(l, line));
	}
	snprintf(line, sizeof(line), "charged_pages %u ", npages);
	ASSERT_NE(NULL, strstr(ctx, line));
	free(ctx);
	ASSERT_EQ(vmpin0 + (long)(npages * PAGE / 1024), status_kb("VmPin:"));
	ASSERT_EQ(0, read_summary(&s));
	ASSERT_EQ(s0.pinned_pages + npages, s.pinned_pages);
	ASSERT_EQ(s0.charged_pages + npages, s.charged_pages);
	/* Unmapping two areas takes them (and their pins and charge) out. */
	ASSERT_EQ(0, unmap(self->fd, self->ioas, BASE, 32 * PAGE, NULL));
	ctx = our_context(4096);
	ASSERT_NE(NULL, ctx);
	snprintf(line, sizeof(line), "ioas %u areas %u ", self->ioas, n - 2);
	ASSERT_NE(NULL, find_line(ctx, line));
	snprintf(line, sizeof(line), "charged_pages %u ", npages - 3);
	ASSERT_NE(NULL, strstr(ctx, line));
	free(ctx);
	ASSERT_EQ(0, read_summary(&s));
	ASSERT_EQ(s0.pinned_pages + npages - 3, s.pinned_pages);
}

/* An access pin shows on the access and on the area it pins. */
TEST_F(debugfs, access_pin)
{
	struct summary s0, s;
	char line[160], *ctx;
	int afd;

	ASSERT_EQ(0, read_summary(&s0));
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 8 * PAGE, BASE));
	ASSERT_EQ(0, create_access(self->fd, self->ioas, &afd));
	ASSERT_EQ(0, access_pages(self->fd, afd, BASE + PAGE, 4 * PAGE, (char *)self->buf + PAGE));
	ctx = our_context(4096);
	ASSERT_NE(NULL, ctx);
	TH_LOG("%s", ctx);
	snprintf(line, sizeof(line), "ioas %u areas 1 domains 0 accesses 1\n", self->ioas);
	ASSERT_NE(NULL, find_line(ctx, line));
	snprintf(line, sizeof(line), "area %#lx-%#lx pages ", BASE, BASE + 8 * PAGE - 1);
	const char *l = find_line(ctx, line);

	ASSERT_NE(NULL, l);
	ASSERT_NE(NULL, strstr(l, " pinned 4 pages_pinned 4 domains 0 accesses 1\n"));
	snprintf(line, sizeof(line), " ioas %u pinned_pages 4\n", self->ioas);
	l = find_line(ctx, "access ");
	ASSERT_NE(NULL, l);
	ASSERT_NE(NULL, strstr(l, line));
	ASSERT_NE(NULL, find_line(ctx, "object "));
	ASSERT_NE(NULL, strstr(ctx, " access users "));
	free(ctx);
	ASSERT_EQ(0, read_summary(&s));
	ASSERT_EQ(s0.accesses + 1, s.accesses);
	ASSERT_EQ(s0.pinned_pages + 4, s.pinned_pages);
	close(afd);
	ASSERT_EQ(0, read_summary(&s));
	ASSERT_EQ(s0.accesses, s.accesses);
	ASSERT_EQ(s0.pinned_pages, s.pinned_pages);
}

/*
 * IOMMU_IOAS_COPY shares the pages object: both areas show the same pages number, and its
 * pins are counted once. Also the sample of Documentation/debugfs.md (printed).
 */
TEST_F(debugfs, copy_shares_pages)
{
	struct iommu_ioas_copy copy = {
		.size = sizeof(copy),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.length = 4 * PAGE,
		.dst_iova = BASE + 64 * PAGE,
		.src_iova = BASE,
	};
	uint32_t stdev, hwpt, idev, ioas2;
	unsigned long p1, p2;
	char line[160], *ctx, *sum;
	const char *l;
	int afd;

	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, &hwpt, &idev));
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 4 * PAGE, BASE));
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, (char *)self->buf + 8 * PAGE, 2 * PAGE,
			       BASE + 16 * PAGE));
	copy.src_ioas_id = self->ioas;
	copy.dst_ioas_id = ioas2;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_COPY, &copy));
	ASSERT_EQ(0, create_access(self->fd, ioas2, &afd));
	ASSERT_EQ(0, access_pages(self->fd, afd, BASE + 64 * PAGE, 2 * PAGE, self->buf));
	ctx = our_context(4096);
	ASSERT_NE(NULL, ctx);
	sum = read_all(SUMMARY, 4096, NULL);
	ASSERT_NE(NULL, sum);
	TH_LOG("contexts (our context):\n%s", ctx);
	TH_LOG("summary:\n%s", sum);
	snprintf(line, sizeof(line), "area %#lx-%#lx pages ", BASE, BASE + 4 * PAGE - 1);
	l = find_line(ctx, line);
	ASSERT_NE(NULL, l);
	ASSERT_EQ(1, sscanf(l + strlen(line), "%lu", &p1));
	ASSERT_NE(NULL, strstr(l, " pinned 4 pages_pinned 4 domains 1 accesses 0\n"));
	snprintf(line, sizeof(line), "area %#lx-%#lx pages ", BASE + 64 * PAGE,
		 BASE + 68 * PAGE - 1);
	l = find_line(ctx, line);
	ASSERT_NE(NULL, l);
	ASSERT_EQ(1, sscanf(l + strlen(line), "%lu", &p2));
	ASSERT_EQ(p1, p2);
	/* Pinned by the first IOAS's domain; the access's pins add no page. */
	ASSERT_NE(NULL, strstr(l, " pinned 4 pages_pinned 4 domains 0 accesses 1\n"));
	ASSERT_NE(NULL, strstr(ctx, "charged_pages 6 "));
	free(ctx);
	free(sum);
	close(afd);
}

/* With every context closed, summary reads all zeros. */
TEST_F(debugfs, summary_zero_after_close)
{
	uint32_t stdev, hwpt, idev;
	struct summary s;
	int afd, fd2;

	fd2 = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, &hwpt, &idev));
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 16 * PAGE, BASE));
	ASSERT_EQ(0, create_access(self->fd, self->ioas, &afd));
	ASSERT_EQ(0, access_pages(self->fd, afd, BASE, 2 * PAGE, self->buf));
	ASSERT_EQ(0, read_summary(&s));
	ASSERT_LE(2, s.contexts);
	ASSERT_LE(16, s.pinned_pages);
	ASSERT_LE(1, s.accesses);
	/* The access holds the context: close it first. */
	close(afd);
	close(fd2);
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(0, read_summary(&s));
	ASSERT_EQ(0, s.contexts);
	ASSERT_EQ(0, s.objects);
	ASSERT_EQ(0, s.pinned_pages);
	ASSERT_EQ(0, s.charged_pages);
	ASSERT_EQ(0, s.accesses);
}

/* 10,000 areas read completely and in order, whatever the read() size. */
TEST_F_TIMEOUT(debugfs, huge_ioas_small_reads, 300)
{
	static const size_t chunks[] = { 7, 61, 4096 };
	unsigned int i, c;

	for (i = 0; i < HUGE_AREAS; i++)
		ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, PAGE, BASE + 2 * i * PAGE));
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		char *ctx = our_context(chunks[c]), *p;
		unsigned int seen = 0;
		char head[64];

		ASSERT_NE(NULL, ctx);
		snprintf(head, sizeof(head), "ioas %u areas %u ", self->ioas, HUGE_AREAS);
		ASSERT_NE(NULL, find_line(ctx, head));
		for (p = ctx; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
			unsigned long first, last;

			if (sscanf(p, " area %lx-%lx ", &first, &last) != 2)
				continue;
			ASSERT_EQ(BASE + 2 * seen * PAGE, first);
			ASSERT_EQ(first + PAGE - 1, last);
			seen++;
		}
		TH_LOG("read(%zu): %u areas", chunks[c], seen);
		ASSERT_EQ(HUGE_AREAS, seen);
		free(ctx);
	}
}

/* Root only: uid 65534 cannot open the files (EACCES); the files are mode 0400. */
TEST_F(debugfs, nonroot_eacces)
{
	struct stat st;
	pid_t pid;
	int status;

	ASSERT_EQ(0, stat(SUMMARY, &st));
	ASSERT_EQ(0400, st.st_mode & 0777);
	ASSERT_EQ(0, stat(CONTEXTS, &st));
	ASSERT_EQ(0400, st.st_mode & 0777);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int a, b;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		a = open(SUMMARY, O_RDONLY);
		if (a >= 0 || errno != EACCES)
			_exit(3);
		b = open(CONTEXTS, O_RDONLY);
		_exit(b < 0 && errno == EACCES ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

/* Read only: even root's write fails. */
TEST_F(debugfs, write_fails)
{
	const char *files[] = { SUMMARY, CONTEXTS };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		int wfd = open(files[i], O_WRONLY);

		/* Root may open a 0400 file for writing (CAP_DAC_OVERRIDE); the write fails. */
		if (wfd >= 0) {
			ASSERT_EQ(-1, write(wfd, "0\n", 2));
			close(wfd);
		}
	}
}

TEST_HARNESS_MAIN
