// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: a bounded, seeded ioctl fuzzer for whichever iommufd.ko is loaded, and the
 * differential test built on the same op generator (Documentation/fuzz.md).
 *
 * Fuzzer (default mode). Random but plausible sequences over every ioctl of /dev/iommu and
 * every object type: IOAS (map, unmap, copy, ranges, allow, options), HWPTs (paging with
 * NEST_PARENT / DIRTY_TRACKING, nested with invalidation), mock devices through the
 * IOMMU_TEST_CMD ops (attach, replace, hw info, dirty bits, IOPF through a fault queue),
 * accesses (pin, rw, replace), the VFIO type1 compat ioctls, the other test ops, PASIDs and our
 * RS_* test ops where the module has them (probed: the C module of 6.12 has none), on up to
 * four contexts at once (/dev/iommu and /dev/vfio/vfio), fork with the fds shared, close and
 * reopen, with CAP_IPC_LOCK toggled so pins are charged to the user or not. IDs are those of
 * live objects most of the time; stale, foreign (another context's, another type's) and random
 * ones otherwise. After each close: no new WARN/BUG/KASAN/lockdep line in /dev/kmsg and
 * VmPin/VmLck not grown; after closing everything (every "epoch" and at the end): VmPin and
 * VmLck back to their start values, and the user's locked_vm too, probed: with RLIMIT_MEMLOCK
 * set to 16 pages a fresh context must pin exactly 16 pages, not 17.
 *
 *   rs_fuzz [--seed S]... [--ops N] [--seconds T] [--module NAME] [-v]
 *
 * Each seed runs in a child process; its TAP line gives the ops, the ioctls and the time. The
 * stream is a function of the seed and the module's answers only, so `--seed S --ops N`
 * replays a run exactly (with -v printing every op). On a failure the fuzzer replays prefixes
 * of the failing run, each in a fresh child, to find the shortest failing one (a bisection on
 * the op count), and prints the command that replays it. With no --seed it runs the fixed
 * seed set of make test.
 *
 * Differential test (--diff-record FILE / --diff-compare FILE): one stream of IOAS, HWPT, mock
 * device, access and VFIO-compat ioctls (no PASID, no RS_* ops, no fork, nothing C lacks),
 * written one step a line (op, arguments, return value, errno, output fields, VmPin, VmLck)
 * on the C module, then run on ours and compared line by line. Fields that are policy, not ABI,
 * are masked where they are printed (see "policy" below and Documentation/fuzz.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "iommufd_test.h"
#include "rs_utils.h"

#define PAGE 4096UL
#define BUF_PAGES 512
#define SHM_PAGES 64
#define BUF_ADDR ((void *)0x100000000000UL) /* fixed: the differential test prints uptrs */
#define SHM_ADDR ((void *)0x100100000000UL)
#define HOLE_ADDR 0x100200000000UL /* never mapped */
#define BITMAP_ADDR ((void *)0x100400000000UL) /* dirty bitmaps, a hole after them */
#define BITMAP_PAGES 4
#define RW_ADDR ((void *)0x100500000000UL) /* ACCESS_RW's user buffer, a hole after it */
#define RW_PAGES 4

#define MAXCTX 4
#define MAXOBJ 48
#define MAXMAP 48
#define MAXACC 6
#define MAXITEM 6
#define MAXDEAD 32
#define MAXORPHAN 16
#define MAXJOBS 4

/* ---- random numbers (splitmix64) ---- */
static uint64_t rs;
static uint64_t rnd(void)
{
	uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
static uint32_t rn(uint32_t n) { return n ? rnd() % n : 0; }
static int pct(int p) { return rn(100) < (uint32_t)p; }

/* ---- shared with the parent: what the child did ---- */
struct stats {
	uint64_t ops, ioctls;
	char last[160];
	int failed;
};
static struct stats *st;

static int verbose, diff_mode, have_pasid, have_vfio_dev, ipc_lock_on;
static FILE *trace; /* differential: one line a step */
static char line[2048];
static size_t linelen;

static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (linelen < sizeof(line))
		linelen += vsnprintf(line + linelen, sizeof(line) - linelen, fmt, ap);
	va_end(ap);
}

/* Every ioctl goes through here: counted, its rc/errno in the step line. */
static long xio(int fd, unsigned long req, void *arg)
{
	long rc = ioctl(fd, req, arg);
	int e = errno;

	st->ioctls++;
	if (rc < 0)
		out(" =-%s", strerrorname_np(e) ? strerrorname_np(e) : "?");
	else
		out(" =%ld", rc);
	errno = e;
	return rc < 0 ? -e : rc;
}
static long xiov(int fd, unsigned long req, unsigned long v)
{
	return xio(fd, req, (void *)v);
}

static long tcmd(int fd, struct iommu_test_cmd *c)
{
	c->size = sizeof(*c);
	return xio(fd, IOMMU_TEST_CMD, c);
}

/* ---- the world as the fuzzer believes it is ---- */
enum { K_IOAS = 1, K_HWPT, K_NEST, K_DEV, K_IDEV, K_FAULT, K_NKIND };
struct obj {
	uint32_t id, kind;
	uint32_t a, b; /* HWPT/NEST: flags, parent; DEV: idev, pt; IDEV: stdev */
	int fd;	       /* FAULT: its fd; DEV: dev_flags */
};
struct map {
	uint32_t ioas;
	uint64_t iova, len;
};
struct access {
	int fd;
	uint32_t ioas, items[MAXITEM];
	int nitems;
};
struct ctx {
	int fd, vfio_node;
	struct obj o[MAXOBJ];
	int no;
	struct map m[MAXMAP];
	int nm;
	struct access ac[MAXACC];
	int na;
};
static struct ctx cx[MAXCTX];
static int ncx;
static uint32_t dead[MAXDEAD];
static int ndead;
static int orphan[MAXORPHAN];
static int norphan;
static char *buf, *shm;
static long vmpin0, vmlck0;
static int kmsg = -1;

static void add_dead(uint32_t id)
{
	dead[ndead < MAXDEAD ? ndead++ : rn(MAXDEAD)] = id;
}

static void add_orphan(int fd)
{
	if (norphan == MAXORPHAN) {
		close(orphan[0]);
		memmove(orphan, orphan + 1, sizeof(int) * (MAXORPHAN - 1));
		norphan--;
	}
	orphan[norphan++] = fd;
}

static struct obj *add_obj(struct ctx *c, uint32_t id, uint32_t kind, uint32_t a, uint32_t b,
			   int fd)
{
	struct obj *o;

	if (c->no == MAXOBJ)
		return NULL; /* untracked: reached only as a random ID */
	o = &c->o[c->no++];
	*o = (struct obj){ id, kind, a, b, fd };
	return o;
}

static struct obj *find_obj(struct ctx *c, uint32_t id)
{
	for (int i = 0; i < c->no; i++)
		if (c->o[i].id == id)
			return &c->o[i];
	return NULL;
}

static void del_obj(struct ctx *c, uint32_t id)
{
	for (int i = 0; i < c->no; i++) {
		if (c->o[i].id != id)
			continue;
		if (c->o[i].kind == K_FAULT && c->o[i].fd >= 0)
			add_orphan(c->o[i].fd); /* the fd outlives the object */
		if (c->o[i].kind == K_IOAS)
			for (int j = 0; j < c->nm; j++)
				if (c->m[j].ioas == id)
					c->m[j--] = c->m[--c->nm];
		c->o[i] = c->o[--c->no];
		add_dead(id);
		return;
	}
}

static struct obj *pick_obj(struct ctx *c, uint32_t kind)
{
	int n = 0, k;

	for (int i = 0; i < c->no; i++)
		n += c->o[i].kind == kind;
	if (!n)
		return NULL;
	k = rn(n);
	for (int i = 0; i < c->no; i++)
		if (c->o[i].kind == kind && !k--)
			return &c->o[i];
	return NULL;
}

/*
 * An ID for an argument that wants @kind (K_IOAS also takes HWPTs when @pt): usually a live
 * one; else another kind's, a destroyed one, another context's, or a random number.
 */
static uint32_t pick_id(struct ctx *c, uint32_t kind, int pt)
{
	int r = rn(100);
	struct obj *o;

	if (r < 82) {
		if (pt && pct(40)) {
			o = pick_obj(c, pct(70) ? K_HWPT : K_NEST);
			if (o)
				return o->id;
		}
		o = pick_obj(c, kind);
		if (o)
			return o->id;
	}
	if (r < 88 && c->no)
		return c->o[rn(c->no)].id;
	if (r < 93 && ndead)
		return dead[rn(ndead)];
	if (r < 96 && ncx > 1) {
		struct ctx *d = &cx[rn(ncx)];

		if (d->no)
			return d->o[rn(d->no)].id;
	}
	switch (rn(4)) {
	case 0:
		return 0;
	case 1:
		return UINT32_MAX;
	default:
		return rn(64);
	}
}

static struct map *pick_map(struct ctx *c, uint32_t ioas)
{
	int n = 0, k;

	for (int i = 0; i < c->nm; i++)
		n += c->m[i].ioas == ioas;
	if (!n)
		return NULL;
	k = rn(n);
	for (int i = 0; i < c->nm; i++)
		if (c->m[i].ioas == ioas && !k--)
			return &c->m[i];
	return NULL;
}

static void add_map(struct ctx *c, uint32_t ioas, uint64_t iova, uint64_t len)
{
	if (c->nm < MAXMAP)
		c->m[c->nm++] = (struct map){ ioas, iova, len };
	else
		c->m[rn(MAXMAP)] = (struct map){ ioas, iova, len };
}

/* ---- argument generators ---- */
static uint64_t gen_len(void)
{
	switch (rn(20)) {
	case 0:
		return 0;
	case 1:
		return PAGE * (1 + rn(16)) + 1 + rn(PAGE - 1); /* unaligned */
	case 2:
		return UINT64_MAX - rn(2) * (PAGE - 1);
	case 3:
	case 4:
		return PAGE * (17 + rn(240));
	default:
		return PAGE * (1 + rn(16));
	}
}

/* The fixed-IOVA window: inside the mock aperture; the differential test keeps it away from
 * where the automatic IOVA allocator starts (policy). */
static uint64_t gen_iova(struct ctx *c, uint32_t ioas)
{
	uint64_t base = diff_mode ? (1UL << 30) : MOCK_APERTURE_START;
	struct map *m;

	switch (rn(24)) {
	case 0:
		return 0;
	case 1:
		return 1UL << 40;
	case 2:
		return base + rn(4096) * PAGE + 1 + rn(PAGE - 1);
	case 3:
		return (uint64_t)MOCK_APERTURE_LAST + 1 - PAGE * rn(4);
	case 4:
	case 5:
	case 6:
	case 7:
		m = pick_map(c, ioas);
		if (m)
			return m->iova + PAGE * rn(m->len / PAGE + 1);
		/* fall through */
	default:
		return base + rn(4096) * PAGE;
	}
}

static void *gen_va(uint64_t len)
{
	uint64_t pages = (len + PAGE - 1) / PAGE;

	switch (rn(30)) {
	case 0:
		return NULL;
	case 1:
		return (void *)HOLE_ADDR;
	case 2:
		return buf + rn(BUF_PAGES) * PAGE + 1 + rn(PAGE - 1);
	case 3:
	case 4:
	case 5:
		if (pages <= SHM_PAGES)
			return shm + rn(SHM_PAGES - pages + 1) * PAGE;
		/* fall through */
	default:
		if (pages <= BUF_PAGES)
			return buf + rn(BUF_PAGES - pages + 1) * PAGE;
		return buf;
	}
}

static uint32_t gen_rw(void)
{
	uint32_t f = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

	if (pct(10))
		f = rn(4) << 1;
	if (pct(3))
		f |= 1U << (4 + rn(28));
	return f;
}

/* VmPin and VmLck (kB) in one read of /proc/self/status. */
static void status_pin_lck(long *pin, long *lck)
{
	char b[4096], *p;
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, b, sizeof(b) - 1) : -1;

	if (fd >= 0)
		close(fd);
	*pin = *lck = -1;
	if (n <= 0)
		return;
	b[n] = 0;
	p = strstr(b, "VmPin:");
	if (p)
		*pin = strtol(p + 6, NULL, 10);
	p = strstr(b, "VmLck:");
	if (p)
		*lck = strtol(p + 6, NULL, 10);
}

/* ---- checks ---- */
static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("# FAIL after op %llu (%s): ", (unsigned long long)st->ops, st->last);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	st->failed = 1;
}

static int set_ipc_lock(int on)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (on)
		d[0].effective |= 1U << CAP_IPC_LOCK;
	else
		d[0].effective &= ~(1U << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &h, d))
		return -errno;
	ipc_lock_on = on;
	return 0;
}

/* After closing one fd: the log is clean, and pins did not grow. */
static void check_after_close(long pin_before, long lck_before)
{
	if (kmsg_bad(kmsg))
		fail("kernel log");
	if (status_kb("VmPin:") > pin_before)
		fail("VmPin grew over a close: %ld -> %ld kB", pin_before, status_kb("VmPin:"));
	if (status_kb("VmLck:") > lck_before)
		fail("VmLck grew over a close: %ld -> %ld kB", lck_before, status_kb("VmLck:"));
}

/* Nothing open: everything back to the start values. */
static void check_all_closed(void)
{
	long pin = status_kb("VmPin:"), lck = status_kb("VmLck:");
	int rc;

	if (pin != vmpin0)
		fail("VmPin %ld kB with everything closed, %ld at the start", pin, vmpin0);
	if (lck != vmlck0)
		fail("VmLck %ld kB with everything closed, %ld at the start", lck, vmlck0);
	rc = probe_locked_vm();
	if (rc)
		fail("the user's locked_vm is not back to its start value (probe step %d)", rc);
	if (kmsg_bad(kmsg))
		fail("kernel log");
}

/* ---- open and close ---- */
static void op_open(void)
{
	struct ctx *c;
	int vn = have_vfio_dev && pct(20);

	if (ncx == MAXCTX)
		return;
	c = &cx[ncx];
	memset(c, 0, sizeof(*c));
	out("open %s", vn ? "vfio" : "iommu");
	c->fd = open(vn ? "/dev/vfio/vfio" : "/dev/iommu", O_RDWR);
	if (c->fd < 0) {
		out(" =-%d", errno);
		return;
	}
	c->vfio_node = vn;
	ncx++;
	if (pct(30)) {
		struct iommu_option o = { .size = sizeof(o), .option_id = IOMMU_OPTION_RLIMIT_MODE,
					  .op = IOMMU_OPTION_OP_SET, .val64 = rn(2) };

		out(" rlimit_mode=%llu", (unsigned long long)o.val64);
		xio(c->fd, IOMMU_OPTION, &o);
	}
}

static void close_ctx(int i, int with_fds)
{
	struct ctx *c = &cx[i];
	long pin = status_kb("VmPin:"), lck = status_kb("VmLck:");

	out("close %d%s", i, with_fds ? " +fds" : "");
	for (int j = 0; j < c->na; j++) {
		if (with_fds)
			close(c->ac[j].fd);
		else
			add_orphan(c->ac[j].fd);
	}
	for (int j = 0; j < c->no; j++) {
		if (c->o[j].kind == K_FAULT && c->o[j].fd >= 0) {
			if (with_fds)
				close(c->o[j].fd);
			else
				add_orphan(c->o[j].fd);
		}
		add_dead(c->o[j].id);
	}
	close(c->fd);
	cx[i] = cx[--ncx];
	check_after_close(pin, lck);
}

static void close_all(void)
{
	while (ncx)
		close_ctx(ncx - 1, 1);
	while (norphan)
		close(orphan[--norphan]);
	/* and whatever fd the fuzzer lost track of (one would hold its context, and its pins) */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != kmsg && (!trace || fd != fileno(trace)) && close(fd) == 0)
			out(" closed-untracked-fd");
	check_all_closed();
}

/* ---- the ops ---- */
static void op_ioas_alloc(struct ctx *c)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };

	if (pct(2))
		cmd.flags = 1U << rn(32);
	out("ioas_alloc f=%x", cmd.flags);
	if (!xio(c->fd, IOMMU_IOAS_ALLOC, &cmd)) {
		out(" id=%u", cmd.out_ioas_id);
		add_obj(c, cmd.out_ioas_id, K_IOAS, 0, 0, -1);
	}
}

static void op_destroy(struct ctx *c)
{
	static const uint32_t kinds[] = { K_IOAS, K_HWPT, K_NEST, K_DEV, K_IDEV, K_FAULT };
	struct iommu_destroy cmd = { .size = sizeof(cmd) };

	cmd.id = pick_id(c, kinds[rn(6)], 0);
	out("destroy %u", cmd.id);
	if (!xio(c->fd, IOMMU_DESTROY, &cmd)) {
		struct obj *o = find_obj(c, cmd.id);

		if (o && o->kind == K_DEV)
			for (int i = 0; i < c->no; i++)
				if (c->o[i].kind == K_IDEV && c->o[i].a == cmd.id)
					del_obj(c, c->o[i--].id);
		del_obj(c, cmd.id);
	}
}

static void op_map(struct ctx *c)
{
	struct iommu_ioas_map cmd = { .size = sizeof(cmd) };
	int fixed = pct(60);

	cmd.ioas_id = pick_id(c, K_IOAS, 0);
	cmd.length = gen_len();
	cmd.user_va = (uintptr_t)gen_va(cmd.length);
	cmd.flags = gen_rw() | (fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0);
	cmd.iova = fixed ? gen_iova(c, cmd.ioas_id) : (pct(90) ? 0 : rnd());
	out("map ioas=%u va=%llx len=%llx f=%x", cmd.ioas_id, (unsigned long long)cmd.user_va,
	    (unsigned long long)cmd.length, cmd.flags);
	if (fixed)
		out(" iova=%llx", (unsigned long long)cmd.iova);
	if (!xio(c->fd, IOMMU_IOAS_MAP, &cmd)) {
		/* policy: where the automatic IOVA lands (masked in the differential test) */
		if (fixed || !trace)
			out(" out=%llx", (unsigned long long)cmd.iova);
		else
			out(" out=*");
		add_map(c, cmd.ioas_id, cmd.iova, cmd.length);
	}
}

static void op_unmap(struct ctx *c)
{
	struct iommu_ioas_unmap cmd = { .size = sizeof(cmd) };
	struct map *m;

	cmd.ioas_id = pick_id(c, K_IOAS, 0);
	m = pick_map(c, cmd.ioas_id);
	if (m && pct(75)) {
		cmd.iova = m->iova;
		cmd.length = m->len;
		if (pct(20))
			cmd.length = PAGE * (1 + rn(4));
	} else if (pct(30)) {
		cmd.iova = 0;
		cmd.length = UINT64_MAX;
	} else {
		cmd.iova = gen_iova(c, cmd.ioas_id);
		cmd.length = gen_len();
	}
	out("unmap ioas=%u iova=%llx len=%llx", cmd.ioas_id, (unsigned long long)cmd.iova,
	    (unsigned long long)cmd.length);
	if (!xio(c->fd, IOMMU_IOAS_UNMAP, &cmd)) {
		out(" out=%llx", (unsigned long long)cmd.length);
		if (m && m->iova == cmd.iova && m->len == cmd.length)
			*m = c->m[--c->nm];
		else if (cmd.iova == 0 && cmd.length)
			for (int i = 0; i < c->nm; i++)
				if (c->m[i].ioas == cmd.ioas_id)
					c->m[i--] = c->m[--c->nm];
	}
}

static void op_copy(struct ctx *c)
{
	struct iommu_ioas_copy cmd = { .size = sizeof(cmd) };
	int fixed = pct(50);
	struct map *m;

	cmd.src_ioas_id = pick_id(c, K_IOAS, 0);
	cmd.dst_ioas_id = pick_id(c, K_IOAS, 0);
	m = pick_map(c, cmd.src_ioas_id);
	if (m && pct(85)) {
		uint64_t off = PAGE * rn(m->len / PAGE);

		cmd.src_iova = m->iova + off;
		cmd.length = pct(50) ? m->len - off : PAGE * (1 + rn(4));
	} else {
		cmd.src_iova = gen_iova(c, cmd.src_ioas_id);
		cmd.length = gen_len();
	}
	cmd.flags = gen_rw() | (fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0);
	cmd.dst_iova = fixed ? gen_iova(c, cmd.dst_ioas_id) : 0;
	out("copy %u<-%u src=%llx len=%llx f=%x", cmd.dst_ioas_id, cmd.src_ioas_id,
	    (unsigned long long)cmd.src_iova, (unsigned long long)cmd.length, cmd.flags);
	if (fixed)
		out(" dst=%llx", (unsigned long long)cmd.dst_iova);
	if (!xio(c->fd, IOMMU_IOAS_COPY, &cmd)) {
		if (fixed || !trace)
			out(" out=%llx", (unsigned long long)cmd.dst_iova);
		else
			out(" out=*");
		add_map(c, cmd.dst_ioas_id, cmd.dst_iova, cmd.length);
	}
}

static void op_iova_ranges(struct ctx *c)
{
	struct iommu_iova_range r[4];
	struct iommu_ioas_iova_ranges cmd = { .size = sizeof(cmd) };

	memset(r, 0xa5, sizeof(r));
	cmd.ioas_id = pick_id(c, K_IOAS, 0);
	cmd.num_iovas = rn(5);
	cmd.allowed_iovas = pct(95) ? (uintptr_t)r : HOLE_ADDR;
	out("iova_ranges ioas=%u n=%u", cmd.ioas_id, cmd.num_iovas);
	long rc = xio(c->fd, IOMMU_IOAS_IOVA_RANGES, &cmd);

	if (!rc || rc == -EMSGSIZE) {
		out(" n=%u align=%llx", cmd.num_iovas, (unsigned long long)cmd.out_iova_alignment);
		for (uint32_t i = 0; !rc && i < cmd.num_iovas && i < 4; i++)
			out(" [%llx,%llx]", (unsigned long long)r[i].start,
			    (unsigned long long)r[i].last);
	}
}

static void op_allow_iovas(struct ctx *c)
{
	struct iommu_iova_range r[3];
	struct iommu_ioas_allow_iovas cmd = { .size = sizeof(cmd) };

	cmd.ioas_id = pick_id(c, K_IOAS, 0);
	cmd.num_iovas = rn(4);
	for (uint32_t i = 0; i < 3; i++) {
		r[i].start = pct(50) ? 0 : gen_iova(c, cmd.ioas_id) & ~(PAGE - 1);
		r[i].last = pct(30) ? UINT64_MAX : r[i].start + gen_len() - 1;
	}
	cmd.allowed_iovas = (uintptr_t)r;
	out("allow_iovas ioas=%u n=%u", cmd.ioas_id, cmd.num_iovas);
	for (uint32_t i = 0; i < cmd.num_iovas; i++)
		out(" [%llx,%llx]", (unsigned long long)r[i].start, (unsigned long long)r[i].last);
	xio(c->fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd);
}

static void op_option(struct ctx *c)
{
	struct iommu_option cmd = { .size = sizeof(cmd) };

	cmd.option_id = pct(50) ? IOMMU_OPTION_RLIMIT_MODE :
		       pct(95) ? IOMMU_OPTION_HUGE_PAGES : rn(8);
	cmd.op = pct(50) ? IOMMU_OPTION_OP_GET : pct(95) ? IOMMU_OPTION_OP_SET : rn(4);
	cmd.object_id = cmd.option_id == IOMMU_OPTION_HUGE_PAGES ? pick_id(c, K_IOAS, 0) :
			pct(90) ? 0 : rn(8);
	cmd.val64 = pct(90) ? rn(2) : rnd();
	out("option id=%u op=%u obj=%u val=%llx", cmd.option_id, cmd.op, cmd.object_id,
	    (unsigned long long)cmd.val64);
	if (!xio(c->fd, IOMMU_OPTION, &cmd))
		out(" out=%llx", (unsigned long long)cmd.val64);
}

static void op_vfio_ioas(struct ctx *c)
{
	struct iommu_vfio_ioas cmd = { .size = sizeof(cmd) };

	cmd.op = rn(100) < 97 ? rn(3) : rn(8);
	cmd.ioas_id = pick_id(c, K_IOAS, 0);
	out("vfio_ioas op=%u id=%u", cmd.op, cmd.ioas_id);
	if (!xio(c->fd, IOMMU_VFIO_IOAS, &cmd))
		out(" out=%u", cmd.ioas_id);
}

static void op_vfio(struct ctx *c)
{
	uint8_t info[256];
	struct vfio_iommu_type1_info *i = (void *)info;
	struct vfio_iommu_type1_dma_map mp = { .argsz = sizeof(mp) };
	struct vfio_iommu_type1_dma_unmap um = { .argsz = sizeof(um) };
	static const unsigned long types[] = { VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU,
					       VFIO_SPAPR_TCE_IOMMU, VFIO_NOIOMMU_IOMMU, 0, 77 };
	long rc;

	switch (rn(7)) {
	case 0:
		out("vfio_api");
		xiov(c->fd, VFIO_GET_API_VERSION, 0);
		break;
	case 1: {
		unsigned long t = pct(80) ? types[rn(6)] : rn(64);

		out("vfio_check_ext %lu", t);
		xiov(c->fd, VFIO_CHECK_EXTENSION, t);
		break;
	}
	case 2: {
		unsigned long t = types[rn(6)];

		out("vfio_set_iommu %lu", t);
		xiov(c->fd, VFIO_SET_IOMMU, t);
		break;
	}
	case 3:
	case 4:
		mp.size = gen_len();
		mp.vaddr = (uintptr_t)gen_va(mp.size);
		mp.iova = gen_iova(c, 0);
		mp.flags = pct(90) ? VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE : rn(16);
		if (pct(3))
			mp.argsz = rn(sizeof(mp));
		out("vfio_map va=%llx iova=%llx len=%llx f=%x sz=%u",
		    (unsigned long long)mp.vaddr, (unsigned long long)mp.iova,
		    (unsigned long long)mp.size, mp.flags, mp.argsz);
		xio(c->fd, VFIO_IOMMU_MAP_DMA, &mp);
		break;
	case 5:
		um.flags = pct(20) ? VFIO_DMA_UNMAP_FLAG_ALL : pct(95) ? 0 : rn(8);
		um.iova = um.flags & VFIO_DMA_UNMAP_FLAG_ALL ? 0 : gen_iova(c, 0);
		um.size = um.flags & VFIO_DMA_UNMAP_FLAG_ALL ? 0 : gen_len();
		out("vfio_unmap iova=%llx len=%llx f=%x", (unsigned long long)um.iova,
		    (unsigned long long)um.size, um.flags);
		if (!xio(c->fd, VFIO_IOMMU_UNMAP_DMA, &um))
			out(" out=%llx", (unsigned long long)um.size);
		break;
	default:
		memset(info, 0, sizeof(info));
		i->argsz = pct(50) ? sizeof(*i) : pct(80) ? sizeof(info) : rn(sizeof(info));
		out("vfio_info sz=%u", i->argsz);
		rc = xio(c->fd, VFIO_IOMMU_GET_INFO, i);
		if (!rc) {
			out(" argsz=%u flags=%x pgs=%llx cap=%u", i->argsz, i->flags,
			    (unsigned long long)i->iova_pgsizes, i->cap_offset);
			if (trace) {
				/* the capability chain, as returned */
				uint32_t n = i->argsz < sizeof(info) ? i->argsz : sizeof(info);

				out(" caps=");
				for (uint32_t k = sizeof(*i); k < n; k++)
					out("%02x", info[k]);
			}
		}
		break;
	}
}

static void op_mock_domain(struct ctx *c)
{
	struct iommu_test_cmd cmd = { .op = IOMMU_TEST_OP_MOCK_DOMAIN };
	uint32_t flags = 0;

	if (pct(50)) {
		cmd.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS;
		flags = rn(4);
		if (have_pasid && pct(40))
			flags |= MOCK_FLAGS_DEVICE_PASID;
		if (pct(2))
			flags = 1U << rn(32);
		if (!have_pasid)
			flags &= ~MOCK_FLAGS_DEVICE_PASID;
		cmd.mock_domain_flags.dev_flags = flags;
	}
	cmd.id = pick_id(c, K_IOAS, 1);
	out("mock_domain pt=%u flags=%x", cmd.id, flags);
	if (!tcmd(c->fd, &cmd)) {
		out(" stdev=%u hwpt=%u idev=%u", cmd.mock_domain.out_stdev_id,
		    cmd.mock_domain.out_hwpt_id, cmd.mock_domain.out_idev_id);
		add_obj(c, cmd.mock_domain.out_stdev_id, K_DEV, cmd.mock_domain.out_idev_id,
			cmd.id, flags);
		add_obj(c, cmd.mock_domain.out_idev_id, K_IDEV, cmd.mock_domain.out_stdev_id, 0,
			-1);
		if (cmd.mock_domain.out_hwpt_id != cmd.id && !find_obj(c, cmd.mock_domain.out_hwpt_id))
			add_obj(c, cmd.mock_domain.out_hwpt_id, K_HWPT, 0, cmd.id, -1);
	}
}

static void op_mock_replace(struct ctx *c)
{
	struct iommu_test_cmd cmd = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE };

	cmd.id = pick_id(c, K_DEV, 0);
	cmd.mock_domain_replace.pt_id = pick_id(c, K_IOAS, 1);
	out("mock_replace dev=%u pt=%u", cmd.id, cmd.mock_domain_replace.pt_id);
	if (!tcmd(c->fd, &cmd)) {
		out(" out=%u", cmd.mock_domain_replace.pt_id);
		if (cmd.mock_domain_replace.pt_id != 0 &&
		    !find_obj(c, cmd.mock_domain_replace.pt_id))
			add_obj(c, cmd.mock_domain_replace.pt_id, K_HWPT, 0, 0, -1);
	}
}

static uint32_t dev_idev(struct ctx *c)
{
	struct obj *o = pct(85) ? pick_obj(c, K_IDEV) : NULL;

	return o ? o->id : pick_id(c, K_IDEV, 0);
}

static void op_hwpt_alloc(struct ctx *c)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc cmd = { .size = sizeof(cmd) };
	int nested = pct(35);
	struct obj *f;

	cmd.dev_id = dev_idev(c);
	if (nested) {
		struct obj *p = pick_obj(c, K_HWPT);

		cmd.pt_id = p && pct(85) ? p->id : pick_id(c, K_HWPT, 0);
		cmd.data_type = pct(95) ? IOMMU_HWPT_DATA_SELFTEST : rn(4);
		cmd.data_len = pct(95) ? sizeof(data) : rn(16);
		cmd.data_uptr = (uintptr_t)&data;
		if (pct(5))
			data.iotlb = rn(4);
		if (pct(30)) {
			f = pick_obj(c, K_FAULT);
			cmd.flags |= IOMMU_HWPT_FAULT_ID_VALID;
			cmd.fault_id = f && pct(90) ? f->id : pick_id(c, K_FAULT, 0);
		}
	} else {
		cmd.pt_id = pick_id(c, K_IOAS, 0);
		if (pct(30))
			cmd.flags |= IOMMU_HWPT_ALLOC_NEST_PARENT;
		if (pct(30))
			cmd.flags |= IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
		if (have_pasid && pct(20))
			cmd.flags |= IOMMU_HWPT_ALLOC_PASID;
		if (pct(5)) {
			f = pick_obj(c, K_FAULT);
			cmd.flags |= IOMMU_HWPT_FAULT_ID_VALID;
			cmd.fault_id = f ? f->id : 0;
		}
	}
	if (pct(2))
		cmd.flags |= 1U << (4 + rn(28));
	out("hwpt_alloc dev=%u pt=%u f=%x type=%x len=%u fault=%u", cmd.dev_id, cmd.pt_id,
	    cmd.flags, cmd.data_type, cmd.data_len, cmd.fault_id);
	if (!xio(c->fd, IOMMU_HWPT_ALLOC, &cmd)) {
		out(" id=%u", cmd.out_hwpt_id);
		add_obj(c, cmd.out_hwpt_id, nested ? K_NEST : K_HWPT, cmd.flags, cmd.pt_id, -1);
	}
}

static void op_invalidate(struct ctx *c)
{
	struct iommu_hwpt_invalidate_selftest e[4];
	struct iommu_hwpt_invalidate cmd = { .size = sizeof(cmd) };

	for (int i = 0; i < 4; i++) {
		e[i].flags = pct(80) ? 0 : pct(80) ? IOMMU_TEST_INVALIDATE_FLAG_ALL : rnd();
		e[i].iotlb_id = pct(90) ? rn(MOCK_NESTED_DOMAIN_IOTLB_NUM) : rn(16);
	}
	cmd.hwpt_id = pick_id(c, K_NEST, 0);
	cmd.data_uptr = pct(97) ? (uintptr_t)e : HOLE_ADDR;
	cmd.data_type = pct(95) ? IOMMU_HWPT_INVALIDATE_DATA_SELFTEST :
		       pct(50) ? IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID : rn(4);
	cmd.entry_len = pct(95) ? sizeof(e[0]) : rn(16);
	cmd.entry_num = rn(5);
	out("invalidate hwpt=%u type=%x elen=%u n=%u", cmd.hwpt_id, cmd.data_type, cmd.entry_len,
	    cmd.entry_num);
	xio(c->fd, IOMMU_HWPT_INVALIDATE, &cmd);
	out(" done=%u", cmd.entry_num);
}

static void op_check_iotlb(struct ctx *c)
{
	struct iommu_test_cmd cmd = { .op = IOMMU_TEST_OP_MD_CHECK_IOTLB };

	cmd.id = pick_id(c, K_NEST, 0);
	cmd.check_iotlb.id = rn(5);
	cmd.check_iotlb.iotlb = pct(50) ? IOMMU_TEST_IOTLB_DEFAULT : 0;
	out("check_iotlb hwpt=%u id=%u v=%x", cmd.id, cmd.check_iotlb.id, cmd.check_iotlb.iotlb);
	tcmd(c->fd, &cmd);
}

static uint64_t *bitmap; /* BITMAP_PAGES pages: bits past it land in the hole (EFAULT) */

static void op_dirty(struct ctx *c)
{
	struct obj *h = pick_obj(c, K_HWPT);
	uint32_t id = h && pct(85) ? h->id : pick_id(c, K_HWPT, 0);
	struct map *m = NULL;
	uint64_t iova, len, psz = pct(90) ? PAGE : PAGE << rn(4);

	for (int i = 0; i < c->nm && !m; i++)
		if (pct(50))
			m = &c->m[i];
	iova = m && pct(80) ? m->iova : gen_iova(c, 0);
	len = m && pct(80) ? m->len : gen_len();
	if (pct(80) && len > PAGE * 512)
		len = PAGE * 512;
	switch (rn(3)) {
	case 0: {
		struct iommu_hwpt_set_dirty_tracking cmd = { .size = sizeof(cmd), .hwpt_id = id };

		cmd.flags = pct(95) ? rn(2) : rnd();
		out("set_dirty hwpt=%u f=%x", id, cmd.flags);
		xio(c->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd);
		break;
	}
	case 1: {
		struct iommu_hwpt_get_dirty_bitmap cmd = {
			.size = sizeof(cmd), .hwpt_id = id, .iova = iova, .length = len,
			.page_size = psz, .data = (uintptr_t)bitmap,
		};

		cmd.flags = pct(80) ? 0 : pct(90) ? IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR : rnd();
		memset(bitmap, 0, BITMAP_PAGES * PAGE);
		out("get_dirty hwpt=%u iova=%llx len=%llx psz=%llx f=%x", id,
		    (unsigned long long)iova, (unsigned long long)len, (unsigned long long)psz,
		    cmd.flags);
		if (!xio(c->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd) && trace) {
			out(" bits=");
			for (unsigned int i = 0; i < BITMAP_PAGES * PAGE / 8; i++)
				if (bitmap[i])
					out("%d:%llx,", i, (unsigned long long)bitmap[i]);
		}
		break;
	}
	default: {
		struct iommu_test_cmd cmd = { .op = IOMMU_TEST_OP_DIRTY, .id = id };

		for (int i = 0; i < 64; i++)
			bitmap[i] = rnd() & rnd();
		memset(bitmap + 64, 0, BITMAP_PAGES * PAGE - 64 * 8);
		cmd.dirty.iova = iova;
		cmd.dirty.length = len;
		cmd.dirty.page_size = psz;
		cmd.dirty.uptr = (uintptr_t)bitmap;
		cmd.dirty.flags = pct(80) ? 0 : rn(2);
		out("test_dirty hwpt=%u iova=%llx len=%llx psz=%llx", id, (unsigned long long)iova,
		    (unsigned long long)len, (unsigned long long)psz);
		if (!tcmd(c->fd, &cmd))
			out(" n=%llu", (unsigned long long)cmd.dirty.out_nr_dirty);
		break;
	}
	}
}

static void op_hw_info(struct ctx *c)
{
	uint8_t data[64];
	struct iommu_hw_info cmd = { .size = sizeof(cmd) };

	memset(data, 0x5a, sizeof(data));
	cmd.dev_id = dev_idev(c);
	cmd.data_len = pct(50) ? sizeof(struct iommu_test_hw_info) : rn(sizeof(data));
	cmd.data_uptr = pct(95) ? (uintptr_t)data : 0;
	if (pct(3))
		cmd.flags = rnd();
	out("hw_info dev=%u len=%u", cmd.dev_id, cmd.data_len);
	if (!xio(c->fd, IOMMU_GET_HW_INFO, &cmd)) {
		out(" type=%x len=%u caps=%llx", cmd.out_data_type, cmd.data_len,
		    (unsigned long long)cmd.out_capabilities);
		if (trace)
			for (uint32_t i = 0; i < cmd.data_len && i < sizeof(data); i++)
				out("%s%02x", i ? "" : " data=", data[i]);
	}
}

static void op_fault(struct ctx *c)
{
	switch (rn(4)) {
	case 0: {
		struct iommu_fault_alloc cmd = { .size = sizeof(cmd) };

		if (pct(3))
			cmd.flags = rnd();
		out("fault_alloc f=%x", cmd.flags);
		if (!xio(c->fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd)) {
			/* the fd number is the process's, not the module's: not printed */
			out(" id=%u", cmd.out_fault_id);
			if (!add_obj(c, cmd.out_fault_id, K_FAULT, 0, 0, cmd.out_fault_fd))
				add_orphan(cmd.out_fault_fd);
		}
		break;
	}
	case 1: {
		struct iommu_test_cmd cmd = { .op = IOMMU_TEST_OP_TRIGGER_IOPF };

		cmd.trigger_iopf.dev_id = dev_idev(c);
		cmd.trigger_iopf.pasid = pct(50) ? 0 : rn(4);
		cmd.trigger_iopf.grpid = rn(8);
		cmd.trigger_iopf.perm = rn(16);
		cmd.trigger_iopf.addr = gen_iova(c, 0);
		out("trigger_iopf dev=%u pasid=%u grp=%u", cmd.trigger_iopf.dev_id,
		    cmd.trigger_iopf.pasid, cmd.trigger_iopf.grpid);
		tcmd(c->fd, &cmd);
		break;
	}
	default: {
		/* read the queue (never blocking), answer what was read (or a made-up cookie) */
		struct obj *f = pick_obj(c, K_FAULT);
		struct iommu_hwpt_pgfault pf[4];
		struct iommu_hwpt_page_response resp = { .code = rn(3) };
		struct pollfd p;
		ssize_t n = 0;

		if (!f)
			return;
		p = (struct pollfd){ .fd = f->fd, .events = POLLIN };
		out("fault_read %u", f->id);
		if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN))
			n = read(f->fd, pf, pct(90) ? sizeof(pf) : rn(sizeof(pf)));
		out(" n=%zd", n);
		if (n >= (ssize_t)sizeof(pf[0]))
			resp.cookie = pf[n / sizeof(pf[0]) - 1].cookie;
		else
			resp.cookie = rn(8);
		if (pct(80))
			out(" w=%zd", write(f->fd, &resp, pct(95) ? sizeof(resp) : rn(12)));
		break;
	}
	}
}

static void op_access(struct ctx *c)
{
	struct access *a = c->na ? &c->ac[rn(c->na)] : NULL;
	struct iommu_test_cmd cmd = { 0 };

	switch (a ? rn(8) : 0) {
	case 0:
		cmd.op = IOMMU_TEST_OP_CREATE_ACCESS;
		cmd.id = pick_id(c, K_IOAS, 0);
		cmd.create_access.flags = pct(50) ? MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES : 0;
		if (pct(3))
			cmd.create_access.flags = rnd();
		out("access_create ioas=%u f=%x", cmd.id, cmd.create_access.flags);
		if (!tcmd(c->fd, &cmd)) {
			int fd = cmd.create_access.out_access_fd;

			if (c->na < MAXACC)
				c->ac[c->na++] = (struct access){ .fd = fd, .ioas = cmd.id };
			else
				add_orphan(fd);
		}
		return;
	case 1:
	case 2: {
		struct map *m = pick_map(c, a->ioas);

		cmd.op = IOMMU_TEST_OP_ACCESS_PAGES;
		cmd.id = a->fd;
		cmd.access_pages.flags = pct(50) ? MOCK_FLAGS_ACCESS_WRITE : 0;
		if (pct(3))
			cmd.access_pages.flags = rnd();
		if (m && pct(85)) {
			uint64_t off = PAGE * rn(m->len / PAGE + 1);

			cmd.access_pages.iova = m->iova + off + (pct(10) ? rn(PAGE) : 0);
			cmd.access_pages.length = PAGE * (1 + rn(8)) - (pct(10) ? rn(PAGE) : 0);
		} else {
			cmd.access_pages.iova = gen_iova(c, a->ioas);
			cmd.access_pages.length = gen_len();
		}
		cmd.access_pages.uptr = (uintptr_t)gen_va(cmd.access_pages.length);
		out("access_pages iova=%llx len=%llx f=%x", (unsigned long long)cmd.access_pages.iova,
		    (unsigned long long)cmd.access_pages.length, cmd.access_pages.flags);
		if (!tcmd(c->fd, &cmd)) {
			out(" item=%u", cmd.access_pages.out_access_pages_id);
			if (a->nitems < MAXITEM)
				a->items[a->nitems++] = cmd.access_pages.out_access_pages_id;
		}
		return;
	}
	case 3:
		cmd.op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES;
		cmd.id = a->fd;
		if (a->nitems && pct(85)) {
			int k = rn(a->nitems);

			cmd.destroy_access_pages.access_pages_id = a->items[k];
			a->items[k] = a->items[--a->nitems];
		} else {
			cmd.destroy_access_pages.access_pages_id = rn(8);
		}
		out("access_unpin item=%u", cmd.destroy_access_pages.access_pages_id);
		tcmd(c->fd, &cmd);
		return;
	case 4: {
		char *tmp = RW_ADDR; /* RW_PAGES pages, then the hole */
		struct map *m = pick_map(c, a->ioas);

		cmd.op = IOMMU_TEST_OP_ACCESS_RW;
		cmd.id = a->fd;
		cmd.access_rw.iova = m && pct(85) ? m->iova + rn(m->len) : gen_iova(c, a->ioas);
		cmd.access_rw.length = pct(95) ? 1 + rn(RW_PAGES * PAGE) : gen_len();
		cmd.access_rw.uptr = (uintptr_t)tmp;
		cmd.access_rw.flags = rn(2) | (pct(30) ? MOCK_ACCESS_RW_SLOW_PATH : 0);
		if (pct(3))
			cmd.access_rw.flags = rnd();
		out("access_rw iova=%llx len=%llx f=%x", (unsigned long long)cmd.access_rw.iova,
		    (unsigned long long)cmd.access_rw.length, cmd.access_rw.flags);
		tcmd(c->fd, &cmd);
		return;
	}
	case 5:
		cmd.op = IOMMU_TEST_OP_ACCESS_REPLACE_IOAS;
		cmd.id = a->fd;
		cmd.access_replace_ioas.ioas_id = pick_id(c, K_IOAS, 0);
		out("access_replace ioas=%u", cmd.access_replace_ioas.ioas_id);
		if (!tcmd(c->fd, &cmd))
			a->ioas = cmd.access_replace_ioas.ioas_id;
		return;
	case 6:
		/* another context's access, or a random fd, as the access */
		cmd.op = IOMMU_TEST_OP_ACCESS_PAGES;
		cmd.id = pct(50) && ncx > 1 && cx[rn(ncx)].na ? cx[rn(ncx)].ac[0].fd : rn(32);
		cmd.access_pages.iova = gen_iova(c, 0);
		cmd.access_pages.length = PAGE;
		cmd.access_pages.uptr = (uintptr_t)buf;
		out("access_pages_foreign");
		if (!tcmd(c->fd, &cmd)) {
			/* pinned through someone's access: unpin on the same fd right away */
			uint32_t item = cmd.access_pages.out_access_pages_id;

			cmd = (struct iommu_test_cmd){ .op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
						       .id = cmd.id };
			cmd.destroy_access_pages.access_pages_id = item;
			tcmd(c->fd, &cmd);
		}
		return;
	default:
		out("access_close");
		close(a->fd);
		*a = c->ac[--c->na];
		return;
	}
}

static void op_test_misc(struct ctx *c)
{
	struct iommu_test_cmd cmd = { 0 };

	switch (rn(5)) {
	case 0:
		cmd.op = IOMMU_TEST_OP_ADD_RESERVED;
		cmd.id = pick_id(c, K_IOAS, 0);
		cmd.add_reserved.start = gen_iova(c, cmd.id) & ~(PAGE - 1);
		cmd.add_reserved.length = pct(90) ? PAGE * (1 + rn(4)) : gen_len();
		out("add_reserved ioas=%u %llx+%llx", cmd.id,
		    (unsigned long long)cmd.add_reserved.start,
		    (unsigned long long)cmd.add_reserved.length);
		break;
	case 1: {
		struct map *m = c->nm ? &c->m[rn(c->nm)] : NULL;

		cmd.op = IOMMU_TEST_OP_MD_CHECK_MAP;
		cmd.id = pick_id(c, K_HWPT, 0);
		cmd.check_map.iova = m ? m->iova : gen_iova(c, 0);
		cmd.check_map.length = m ? (m->len < 64 * PAGE ? m->len : 64 * PAGE) : PAGE;
		cmd.check_map.uptr = (uintptr_t)gen_va(cmd.check_map.length);
		out("check_map hwpt=%u iova=%llx len=%llx", cmd.id,
		    (unsigned long long)cmd.check_map.iova,
		    (unsigned long long)cmd.check_map.length);
		break;
	}
	case 2:
		cmd.op = IOMMU_TEST_OP_MD_CHECK_REFS;
		cmd.check_refs.length = PAGE * (1 + rn(16));
		cmd.check_refs.uptr = (uintptr_t)gen_va(cmd.check_refs.length);
		cmd.check_refs.refs = rn(3);
		out("check_refs len=%llx refs=%u", (unsigned long long)cmd.check_refs.length,
		    cmd.check_refs.refs);
		break;
	case 3:
		/* the module-wide batch memory limit: set, used, and back to the default */
		cmd.op = IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT;
		cmd.memory_limit.limit = pct(50) ? 65536 : rn(1024);
		out("memory_limit %u", cmd.memory_limit.limit);
		break;
	default:
		/* an op number nobody has, or a reserved one */
		cmd.op = pct(50) ? 16 + rn(2) : 0x100 + rn(0x100);
		cmd.id = pick_id(c, K_IOAS, 0);
		out("test_op %u", cmd.op);
		break;
	}
	tcmd(c->fd, &cmd);
}

static void op_pasid(struct ctx *c)
{
	struct iommu_test_cmd cmd = { 0 };
	uint32_t pasid = pct(80) ? 1 + rn(8) : pct(50) ? 0 : rnd() & ((1U << 21) - 1);

	cmd.id = pick_id(c, K_DEV, 0);
	switch (rn(7)) {
	case 0:
		cmd.op = IOMMU_TEST_OP_PASID_ATTACH;
		cmd.pasid_attach.pasid = pasid;
		cmd.pasid_attach.pt_id = pick_id(c, K_IOAS, 1);
		break;
	case 1:
		cmd.op = IOMMU_TEST_OP_PASID_REPLACE;
		cmd.pasid_replace.pasid = pasid;
		cmd.pasid_replace.pt_id = pick_id(c, K_IOAS, 1);
		break;
	case 2:
		cmd.op = IOMMU_TEST_OP_PASID_DETACH;
		cmd.pasid_detach.pasid = pasid;
		break;
	case 3:
		cmd.op = IOMMU_TEST_OP_PASID_CHECK_HWPT;
		cmd.pasid_check.pasid = pasid;
		cmd.pasid_check.hwpt_id = pct(30) ? 0 : pick_id(c, K_HWPT, 0);
		break;
	case 4:
		cmd.op = IOMMU_TEST_OP_RS_PASID_ASSIGN;
		cmd.pasid_assign.pt_id = pick_id(c, K_IOAS, 1);
		break;
	case 5:
		cmd.op = IOMMU_TEST_OP_RS_DEV_PASID_ATTACH;
		cmd.id = dev_idev(c);
		cmd.pasid_attach.pasid = pasid;
		cmd.pasid_attach.pt_id = pick_id(c, K_IOAS, 1);
		break;
	default:
		cmd.op = IOMMU_TEST_OP_RS_DEV_PASID_DETACH;
		cmd.id = dev_idev(c);
		cmd.pasid_detach.pasid = pasid;
		break;
	}
	out("pasid op=%x dev=%u pasid=%u", cmd.op, cmd.id, pasid);
	tcmd(c->fd, &cmd);
}

/* Garbage: a random iommufd command with a random size and bytes (pointers into the hole). */
static void op_garbage(struct ctx *c)
{
	uint64_t b[16];
	uint32_t nr = IOMMUFD_CMD_BASE + rn(0x12);

	for (int i = 0; i < 16; i++)
		b[i] = pct(50) ? rn(64) : pct(50) ? HOLE_ADDR : rnd();
	b[0] = (uint32_t)(pct(70) ? 8 * (1 + rn(12)) : rn(200)) | (b[0] & ~0xffffffffULL);
	out("garbage nr=%x size=%u", nr, (uint32_t)b[0]);
	if (!xio(c->fd, _IO(IOMMUFD_TYPE, nr), b) && nr == IOMMUFD_CMD_FAULT_QUEUE_ALLOC) {
		struct iommu_fault_alloc fa;

		memcpy(&fa, b, sizeof(fa));
		add_orphan(fa.out_fault_fd); /* it holds the context */
	}
}

static void run_ops(uint64_t max_ops, double deadline, int child_depth);

/* A child with every fd shared runs a few ops of its own, then exits (the parent waits). */
static void op_fork(void)
{
	uint64_t sub = rnd(), n = 1 + rn(20);
	pid_t pid;
	int status;

	out("fork n=%llu", (unsigned long long)n);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return;
	if (!pid) {
		rs = sub;
		run_ops(n, 0, 1);
		_exit(st->failed ? 1 : 0);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status))
		fail("forked child died: status %x", status);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* One op, chosen by weight; the first context is opened on demand. */
static void one_op(int child)
{
	int w = rn(1000);
	struct ctx *c;

	linelen = 0;
	if (!ncx || (ncx < MAXCTX && w < 8)) {
		op_open();
		return;
	}
	c = &cx[rn(ncx)];
	if (w < 8)
		op_ioas_alloc(c);
	else if (w < 16 && !child && !diff_mode)
		close_ctx(rn(ncx), pct(50));
	else if (w < 18 && !child && !diff_mode)
		close_all();
	else if (w < 20 && !child && !diff_mode)
		op_fork();
	else if (w < 23 && !diff_mode)
		set_ipc_lock(!ipc_lock_on), out("ipc_lock %d", ipc_lock_on);
	else if (w < 30 && norphan)
		out("close_orphan"), close(orphan[--norphan]);
	else if (w < 80)
		op_ioas_alloc(c);
	else if (w < 120)
		op_destroy(c);
	else if (w < 260)
		op_map(c);
	else if (w < 350)
		op_unmap(c);
	else if (w < 400)
		op_copy(c);
	else if (w < 420)
		op_iova_ranges(c);
	else if (w < 440)
		op_allow_iovas(c);
	else if (w < 460)
		op_option(c);
	else if (w < 480)
		op_vfio_ioas(c);
	else if (w < 540)
		op_vfio(c);
	else if (w < 600)
		op_mock_domain(c);
	else if (w < 640)
		op_mock_replace(c);
	else if (w < 700)
		op_hwpt_alloc(c);
	else if (w < 720)
		op_invalidate(c);
	else if (w < 730)
		op_check_iotlb(c);
	else if (w < 770)
		op_dirty(c);
	else if (w < 785)
		op_hw_info(c);
	else if (w < 815 && !diff_mode)
		op_fault(c);
	else if (w < 900)
		op_access(c);
	else if (w < 930)
		op_test_misc(c);
	else if (w < 960 && have_pasid && !diff_mode)
		op_pasid(c);
	else if (w < 975 && !diff_mode)
		op_garbage(c);
	else
		op_map(c);
}

static void run_ops(uint64_t max_ops, double deadline, int child)
{
	for (uint64_t i = 0; i < max_ops && !st->failed; i++) {
		if (deadline && !(i & 63) && now() > deadline)
			break;
		one_op(child);
		if (!child)
			st->ops++;
		snprintf(st->last, sizeof(st->last), "%.*s", (int)(linelen < 159 ? linelen : 159),
			 line);
		if (verbose && !trace)
			printf("# %s%llu: %.*s\n", child ? "  child " : "",
			       (unsigned long long)st->ops, (int)linelen, line);
		if (trace && !child) {
			long pin, lck;

			status_pin_lck(&pin, &lck);
			fprintf(trace, "%llu %.*s pin=%ld lck=%ld\n", (unsigned long long)st->ops,
				(int)linelen, line, pin, lck);
		}
	}
}

static void setup_memory(void)
{
	buf = mmap(BUF_ADDR, BUF_PAGES * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	shm = mmap(SHM_ADDR, SHM_PAGES * PAGE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	void *rw = mmap(RW_ADDR, RW_PAGES * PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	bitmap = mmap(BITMAP_ADDR, BITMAP_PAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (buf != BUF_ADDR || shm != SHM_ADDR || rw != RW_ADDR ||
	    (void *)bitmap != BITMAP_ADDR) {
		printf("Bail out! fixed mappings failed\n");
		exit(2);
	}
	memset(buf, 1, BUF_PAGES * PAGE);
	memset(shm, 2, SHM_PAGES * PAGE);
}

/* What the loaded module has: PASIDs and our RS_* ops (the C module of 6.12 answers
 * EOPNOTSUPP), and /dev/vfio/vfio. */
static void probe_features(void)
{
	struct iommu_test_cmd cmd = { .size = sizeof(cmd), .op = IOMMU_TEST_OP_PASID_CHECK_HWPT };
	int fd = open("/dev/iommu", O_RDWR);

	if (fd >= 0) {
		have_pasid = !(ioctl(fd, IOMMU_TEST_CMD, &cmd) && errno == EOPNOTSUPP);
		close(fd);
	}
	have_vfio_dev = access("/dev/vfio/vfio", R_OK | W_OK) == 0;
}

/* The child's whole run: 0 if every check passed. */
static int run_seed(uint64_t seed, uint64_t max_ops, double seconds)
{
	struct rlimit rl = { 64 << 20, 64 << 20 };

	rs = seed;
	setrlimit(RLIMIT_MEMLOCK, &rl); /* pins charged to the user fail past 64 MiB */
	set_ipc_lock(0);
	kmsg = kmsg_open();
	vmpin0 = status_kb("VmPin:");
	vmlck0 = status_kb("VmLck:");
	if (probe_locked_vm()) {
		fail("the locked_vm probe fails before anything ran: is something charged already?");
		return 1;
	}
	run_ops(max_ops, seconds ? now() + seconds : 0, 0);
	if (!st->failed) {
		linelen = 0;
		snprintf(st->last, sizeof(st->last), "the final close");
		close_all();
		/* the module-wide limit back to its default, whatever the stream set */
		int fd = open("/dev/iommu", O_RDWR);
		struct iommu_test_cmd cmd = { .size = sizeof(cmd),
					      .op = IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
					      .memory_limit.limit = 65536 };

		if (fd >= 0) {
			ioctl(fd, IOMMU_TEST_CMD, &cmd);
			close(fd);
		}
	}
	return st->failed;
}

/*
 * Worker @slot runs as its own user (uid FUZZ_UID + slot, every capability kept but
 * CAP_IPC_LOCK), so the user's locked_vm it probes is its own while another worker runs.
 */
#define FUZZ_UID 61000
static struct stats *slots;

static void become_worker(int slot)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	uid_t uid = FUZZ_UID + slot;

	st = &slots[slot];
	prctl(PR_SET_KEEPCAPS, 1);
	if (setresuid(uid, uid, uid) || syscall(SYS_capget, &h, d)) {
		printf("# worker %d: setresuid/capget: %s\n", slot, strerror(errno));
		_exit(3);
	}
	d[0].effective = d[0].permitted;
	d[1].effective = d[1].permitted;
	if (syscall(SYS_capset, &h, d)) {
		printf("# worker %d: capset: %s\n", slot, strerror(errno));
		_exit(3);
	}
}

/* Start seed @seed in worker @slot; its pid. */
static pid_t child_start(int slot, uint64_t seed, uint64_t max_ops, double seconds,
			 double timeout)
{
	pid_t pid;

	memset(&slots[slot], 0, sizeof(slots[slot]));
	fflush(stdout);
	pid = fork();
	if (!pid) {
		become_worker(slot);
		alarm((unsigned int)timeout + 1);
		_exit(run_seed(seed, max_ops, seconds));
	}
	return pid;
}

/* 0 pass, 1 a check failed, 2 the child died (signal, time-out). */
static int child_wait(int slot, pid_t pid)
{
	int status;

	if (pid < 0)
		return 2;
	waitpid(pid, &status, 0);
	if (WIFEXITED(status))
		return WEXITSTATUS(status) ? 1 : 0;
	printf("# child died: %s after op %llu (%s)\n",
	       WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "?",
	       (unsigned long long)slots[slot].ops, slots[slot].last);
	return 2;
}

/*
 * Our module's debugfs view (Documentation/debugfs.md): with nothing of the fuzzer open, its
 * module-wide totals (contexts, objects, pinned_pages, charged_pages, accesses) must all read
 * 0. The parent reads them (it is root; the workers run as other users and the view is
 * root-only) once every worker of a batch has exited, so no other worker's context counts, and
 * after each replay of the prefix search. It polls for up to 2 s: a file released from a work
 * item (delayed fput) may close a moment after its process exited, a leak stays.
 */
#define DEBUGFS_SUMMARY "/sys/kernel/debug/iommufd/summary"
static int debugfs_view; /* the loaded module has the view (probed) */

/* 0 if the summary reads all zeros; else prints what it read and returns -1. */
static int check_debugfs_zero(void)
{
	static const char zeros[] =
		"contexts 0\nobjects 0\npinned_pages 0\ncharged_pages 0\naccesses 0\n";
	char buf[512] = "";

	for (int tries = 0; tries < 200; tries++) {
		int fd = open(DEBUGFS_SUMMARY, O_RDONLY);
		ssize_t n = -1;

		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
		}
		if (n < 0)
			snprintf(buf, sizeof(buf), "(cannot read %s: %s)\n", DEBUGFS_SUMMARY,
				 strerror(errno));
		else
			buf[n] = 0;
		if (!strcmp(buf, zeros))
			return 0;
		usleep(10000);
	}
	printf("# debugfs summary not all zero with everything closed:\n");
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
		printf("#   %s\n", l);
	return -1;
}

static int child_run(uint64_t seed, uint64_t max_ops, double seconds, double timeout)
{
	int rc = child_wait(0, child_start(0, seed, max_ops, seconds, timeout));

	if (!rc && debugfs_view && check_debugfs_zero()) {
		printf("# seed %llu, first %llu ops: debugfs summary not zero after the close-all\n",
		       (unsigned long long)seed, (unsigned long long)max_ops);
		rc = 1;
	}
	return rc;
}

/*
 * The C module's bug the differential test steps over (known_c_bug()), as a case of its own:
 * IOMMU_HWPT_GET_DIRTY_BITMAP over 8 pages of which only the first 4 are mapped must fail
 * with EINVAL (what __iommu_read_and_clear_dirty() returns); 6.12's C module answers 0.
 * 0 if the module answers EINVAL.
 */
static int c_bug_get_dirty_unmapped(void)
{
	struct iommu_test_cmd md = { .size = sizeof(md), .op = IOMMU_TEST_OP_MOCK_DOMAIN };
	struct iommu_hwpt_set_dirty_tracking set = { .size = sizeof(set),
						     .flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE };
	struct iommu_hwpt_get_dirty_bitmap get = { .size = sizeof(get) };
	uint64_t bits[8] = { 0 };
	uint32_t ioas, hwpt;
	int fd = open("/dev/iommu", O_RDWR), rc = -1;

	if (fd < 0 || ioas_alloc(fd, &ioas))
		goto out;
	md.id = ioas;
	if (ioctl(fd, IOMMU_TEST_CMD, &md) ||
	    hwpt_alloc(fd, md.mock_domain.out_idev_id, ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, 0,
		       NULL, 0, &hwpt) ||
	    map_fixed(fd, ioas, buf, 4 * PAGE, MOCK_APERTURE_START))
		goto out;
	set.hwpt_id = hwpt;
	if (ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &set))
		goto out;
	get.hwpt_id = hwpt;
	get.iova = MOCK_APERTURE_START;
	get.length = 8 * PAGE;
	get.page_size = PAGE;
	get.data = (uintptr_t)bits;
	rc = ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get) ? -errno : 0;
	printf("# GET_DIRTY_BITMAP over 4 mapped and 4 unmapped pages: %d (%s), want -EINVAL\n",
	       rc, rc ? strerror(-rc) : "success");
	rc = rc != -EINVAL;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static const uint64_t default_seeds[] = { 1, 2, 3, 0x5eed, 0xdecafbad, 20261129 };

static int diff_run(const char *mode, const char *file, uint64_t seed, uint64_t ops);

int main(int argc, char **argv)
{
	uint64_t seeds[64], ops = 0, seed_ops, total_ioctls = 0;
	double seconds = 0, t, t_all = now();
	int nseeds = 0, failed = 0, minimize = 1, jobs = 2;
	const char *module = "?", *diff = NULL, *diff_file = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc && nseeds < 64)
			seeds[nseeds++] = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
			ops = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--module") && i + 1 < argc)
			module = argv[++i];
		else if (!strcmp(argv[i], "--jobs") && i + 1 < argc)
			jobs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--no-minimize"))
			minimize = 0;
		else if ((!strcmp(argv[i], "--diff-record") || !strcmp(argv[i], "--diff-compare")) &&
			 i + 1 < argc)
			diff = argv[i] + 7, diff_file = argv[++i];
		else if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else {
			fprintf(stderr,
				"usage: %s [--seed S]... [--ops N] [--seconds T] [--module NAME] "
				"[--no-minimize] [-v]\n"
				"       %s --diff-record|--diff-compare FILE [--seed S]... [--ops N]\n",
				argv[0], argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (jobs < 1 || jobs > MAXJOBS)
		jobs = 1;
	slots = mmap(NULL, sizeof(*slots) * MAXJOBS, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	st = &slots[0];
	setup_memory();
	probe_features();
	if (!nseeds) {
		memcpy(seeds, default_seeds, sizeof(default_seeds));
		nseeds = sizeof(default_seeds) / sizeof(default_seeds[0]);
	}
	printf("TAP version 13\n1..%d\n", nseeds + !!diff);
	if (diff) {
		int rc = c_bug_get_dirty_unmapped();

		printf("%s 1 diff.c_bug_get_dirty_bitmap_unmapped\n", rc ? "not ok" : "ok");
		failed |= rc && strcmp(module, "c");
		diff_mode = 1;
		have_pasid = 0; /* nothing the C module lacks */
		for (int i = 0; i < nseeds; i++) {
			char f[512];

			snprintf(f, sizeof(f), "%s.%llu", diff_file, (unsigned long long)seeds[i]);
			int rc = diff_run(diff, f, seeds[i], ops ? ops : 4000);

			printf("%s %d diff.%s_seed_%llu\n", rc ? "not ok" : "ok", i + 2, diff,
			       (unsigned long long)seeds[i]);
			failed |= rc;
		}
		return failed;
	}
	/* Our module has the debugfs view, which the fuzzer then checks; the C module has none. */
	debugfs_view = access("/sys/kernel/debug/iommufd", F_OK) == 0;
	if (!debugfs_view && !strcmp(module, "rust")) {
		printf("Bail out! no /sys/kernel/debug/iommufd on our module\n");
		return 1;
	}
	printf("# module %s: debugfs view %s\n", module,
	       debugfs_view ? "checked after every batch" : "absent (not checked)");
	printf("# module %s: PASID and RS_* test ops %s, /dev/vfio/vfio %s\n", module,
	       have_pasid ? "fuzzed" : "absent (skipped)", have_vfio_dev ? "fuzzed" : "absent");
	seed_ops = ops ? ops : (seconds ? UINT64_MAX : 18000);
	/* two workers at a time (the guest has two CPUs), then the failures' prefix searches */
	for (int i = 0; i < nseeds; i += jobs) {
		int n = nseeds - i < jobs ? nseeds - i : jobs, rc[MAXJOBS];
		pid_t pid[MAXJOBS];
		double t0s = now();

		for (int k = 0; k < n; k++) {
			printf("# seed %llu: replay with: rs_fuzz --seed %llu --ops %llu\n",
			       (unsigned long long)seeds[i + k], (unsigned long long)seeds[i + k],
			       (unsigned long long)seed_ops);
			pid[k] = child_start(k, seeds[i + k], seed_ops, seconds,
					     seconds ? seconds + 600 : 3600);
		}
		for (int k = 0; k < n; k++)
			rc[k] = child_wait(k, pid[k]);
		/* Every worker of the batch is gone: nothing may be left (our module's view). */
		if (debugfs_view && check_debugfs_zero()) {
			for (int k = 0; k < n; k++) {
				printf("# seed %llu: debugfs summary not zero after the close-all "
				       "(%d seeds at once; the prefix search replays it alone)\n",
				       (unsigned long long)seeds[i + k], n);
				rc[k] = 1;
			}
		}
		t = now() - t0s;
		for (int k = 0; k < n; k++) {
			uint64_t seed = seeds[i + k], fops = slots[k].ops;

			total_ioctls += slots[k].ioctls;
			printf("# seed %llu: %llu ops, %llu ioctls, %.1f s (%d seeds at once)\n",
			       (unsigned long long)seed, (unsigned long long)slots[k].ops,
			       (unsigned long long)slots[k].ioctls, t, n);
			if (rc[k] && minimize) {
				/* the shortest failing prefix: bisect on the op count, each try a
				 * fresh child (alone) */
				uint64_t lo = 0, hi = fops;
				double end = now() + (seconds > 60 ? seconds : 60);

				while (lo + 1 < hi) {
					uint64_t mid = lo + (hi - lo) / 2;

					if (now() > end) {
						printf("# the search ran out of time (as long as the run)\n");
						break;
					}
					printf("# replaying the first %llu ops\n", (unsigned long long)mid);
					if (child_run(seed, mid, 0, 3600))
						hi = mid;
					else
						lo = mid;
				}
				printf("# seed %llu: shortest failing prefix found: %llu ops; replay with: "
				       "rs_fuzz --seed %llu --ops %llu -v\n",
				       (unsigned long long)seed, (unsigned long long)hi,
				       (unsigned long long)seed, (unsigned long long)hi);
			}
			printf("%s %d fuzz.seed_%llu\n", rc[k] ? "not ok" : "ok", i + k + 1,
			       (unsigned long long)seed);
			failed |= rc[k];
		}
	}
	t = now() - t_all;
	printf("# module %s: %llu ioctls in %.1f s (%.0f ioctls/s), %d seeds\n", module,
	       (unsigned long long)total_ioctls, t, total_ioctls / (t > 0 ? t : 1), nseeds);
	return failed;
}

/*
 * The differential test. The stream is generated exactly as the fuzzer's (diff_mode leaves
 * out: fork, close, CAP_IPC_LOCK toggling, fault queue reads, PASIDs and RS_* ops, garbage),
 * on one context at a time opened from /dev/iommu or /dev/vfio/vfio, CAP_IPC_LOCK off so pins
 * are charged. Each step prints op, arguments, results; then VmPin and VmLck.
 *
 * Policy, not ABI, and masked where printed (Documentation/fuzz.md):
 *  - the IOVA the automatic allocator picks (IOAS_MAP and IOAS_COPY without FIXED_IOVA):
 *    printed as "*"; fixed IOVAs stay in a window above 1 GiB that the allocator does not
 *    reach in these streams;
 *  - fd numbers (fault queue, access): never printed.
 * Everything else, object IDs included, must match.
 */
/*
 * A difference that is the C module's bug, not ours (c-baseline.txt, ours-fail
 * diff.c_bug_get_dirty_bitmap_unmapped): 6.12's iommu_read_and_clear_dirty() drops the
 * return value of iova_bitmap_for_each(), so IOMMU_HWPT_GET_DIRTY_BITMAP over a range that
 * mapped areas do not cover answers 0 (the bits of the covered part written) where its own
 * __iommu_read_and_clear_dirty() said EINVAL; ours answers EINVAL. Same step, same arguments,
 * same pins after: C "=0 bits=...", ours "=-EINVAL".
 */
static int known_c_bug(const char *c, const char *ours)
{
	const char *ec = strstr(c, " =0 bits="), *eo = strstr(ours, " =-EINVAL pin=");

	if (!strstr(c, " get_dirty ") || !ec || !eo || ec - c != eo - ours ||
	    strncmp(c, ours, ec - c))
		return 0;
	return !strcmp(strstr(ec, " pin="), eo + strlen(" =-EINVAL"));
}

static int diff_run(const char *mode, const char *file, uint64_t seed, uint64_t ops)
{
	char tmp[600];
	int rc;

	snprintf(tmp, sizeof(tmp), "%s%s", file, strcmp(mode, "record") ? ".ours" : "");
	memset(&slots[0], 0, sizeof(slots[0]));
	fflush(stdout);
	pid_t pid = fork();

	if (!pid) {
		become_worker(0);
		trace = fopen(tmp, "w");
		if (!trace)
			_exit(3);
		rc = run_seed(seed, ops, 0);
		fprintf(trace, "end failed=%d\n", rc);
		fclose(trace);
		_exit(rc);
	}
	int status;

	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("# seed %llu: the stream's run failed (status %x), last op: %s\n",
		       (unsigned long long)seed, status, st->last);
		return 1;
	}
	printf("# seed %llu: %llu steps, %llu ioctls, trace %s\n", (unsigned long long)seed,
	       (unsigned long long)st->ops, (unsigned long long)st->ioctls, tmp);
	if (!strcmp(mode, "record"))
		return 0;

	/* compare: the first differing step fails the test */
	FILE *a = fopen(file, "r"), *b = fopen(tmp, "r");
	char la[4096], lb[4096], ctx[24][4096];
	int step = 0, known = 0;

	if (!a || !b) {
		printf("# no recording of the C module's run at %s\n", file);
		return 1;
	}
	for (;;) {
		char *ra = fgets(la, sizeof(la), a), *rb = fgets(lb, sizeof(lb), b);

		step++;
		if (!ra && !rb)
			break;
		if (ra && rb && strcmp(la, lb) && known_c_bug(la, lb)) {
			known++;
			if (known <= 3)
				printf("# seed %llu: step %d: the C module's known bug (not a "
				       "difference):\n#   C:    %s#   ours: %s",
				       (unsigned long long)seed, step, la, lb);
		} else if (!ra || !rb || strcmp(la, lb)) {
			printf("# seed %llu: the steps before (both modules):\n", (unsigned long long)seed);
			for (int k = step > 24 ? step - 24 : 1; k < step; k++)
				printf("#   %s", ctx[k % 24]);
			printf("# seed %llu: differs at step %d\n#   C:    %s#   ours: %s",
			       (unsigned long long)seed, step, ra ? la : "(end)\n",
			       rb ? lb : "(end)\n");
			fclose(a);
			fclose(b);
			return 1;
		}
		strcpy(ctx[step % 24], la);
	}
	fclose(a);
	fclose(b);
	if (known)
		printf("# seed %llu: %d steps where the C module's known bug answered instead\n",
		       (unsigned long long)seed, known);
	return 0;
}
