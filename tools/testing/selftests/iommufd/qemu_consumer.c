// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: QEMU 10 as a real consumer of /dev/iommu, against whichever iommufd.ko is loaded.
 *
 * The pci plan's guest has QEMU's edu device (1234:11e8, a DMA engine, hw/misc/edu.c) behind an
 * emulated Intel VT-d IOMMU, and an mdev of the mtty sample. Here QEMU 10 runs inside that guest
 * and assigns them to a VM of its own, as a host assigns devices to a VM: edu through vfio-pci's
 * cdev bound to an iommufd object (-object iommufd), the mdev through the software path (an
 * access on the IOAS), and edu once more through its VFIO group and the /dev/vfio/vfio container
 * that iommufd's VFIO compat layer serves. QEMU maps the VM's RAM into the IOAS, pins it,
 * attaches the devices, unplugs and replugs one, quits or is killed: every ioctl in the order
 * and with the arguments real QEMU uses, not the ones our own suites chose.
 *
 * Why qtest: booting a guest OS inside the TCG guest (a VM two levels deep) would take minutes
 * a case. Here no vCPU ever runs (-accel qtest where the binary has that accelerator; Debian's
 * QEMU builds leave it out, and there TCG with the vCPU stopped from the start, -S); the test
 * plays the VM's driver itself through QEMU's qtest protocol (-qtest: port and memory
 * accesses, as QEMU's libqtest does, whatever the accelerator): it programs edu's BAR0
 * through PCI config space, reads edu's registers through the BAR (QEMU's mmap of the vfio-pci
 * region), writes a pattern into the VM's RAM and has edu DMA it through the IOMMU into its
 * buffer and back out, and ejects the device through the PIIX4 ACPI hotplug register as the
 * guest's ACPI _EJ0 method would. QMP (qmp_capabilities, quit, device_del, device_add and the
 * DEVICE_DELETED event) drives the rest.
 *
 * Every case checks QEMU's exit status; its stderr (each line must be one that known_msgs
 * explains, else it is printed and fails the case); VmPin of the QEMU process against the VM's
 * RAM (behind a paging domain all of it is pinned, an mdev alone pins nothing); and, once QEMU
 * is gone, that its pins and objects are gone too: MemAvailable back where it was, and edu (the
 * mdev) bindable to a fresh iommufd and attachable to an IOAS, i.e. nothing still owns it.
 *
 * Needs /opt/qemu10/qemu10 (QEMU 10's qemu-system-x86_64 with its libraries and firmware, same
 * arguments), edu bound to vfio-pci (done here, as rs_vfio_edu does) and, for the mdev cases,
 * the mtty mdev named by $MTTY_UUID. The pci plan provides them; a missing piece fails the case
 * rather than skipping it, so that the suite cannot pass without having run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "rs_utils.h"
#include "rs_pci.h"

#define QEMU10 "/opt/qemu10/qemu10"
#define MDEV_DEVICES "/sys/bus/mdev/devices"

/* The harness's bound on one case; the deadlines below keep a normal one far below it. */
#define CASE_TIMEOUT 90

/* Deadlines, in ms (a TCG guest is some 20x slower than the host). */
#define T_START 30000	/* QEMU connects to both sockets and answers qmp_capabilities */
#define T_REPLY 20000	/* one qtest or QMP command (device_add realizes and pins) */
#define T_DMA 10000	/* one edu DMA (edu runs it from a 100 ms timer) */
#define T_EVENT 20000	/* DEVICE_DELETED after the eject */
#define T_EXIT 30000	/* QEMU gone after quit or SIGKILL */
#define T_KMSG 6000	/* the DMAR fault line after a refused DMA */
#define T_SETTLE 10000	/* MemAvailable back after QEMU exited */

/*
 * The VM: a pc machine (i440fx, PIIX4 ACPI PCI hotplug) with 64 MiB of RAM. QEMU maps its RAM
 * (less the legacy hole 0xa0000-0xfffff, which is VGA and ROM space) and its read-only BIOS and
 * option ROM areas into the IOAS: a few hundred KiB above 64 MiB - 384 KiB in all.
 */
#define VM_RAM_MIB 64
#define PIN_MIN_KB (VM_RAM_MIB * 1024L - 384)
#define PIN_MAX_KB (VM_RAM_MIB * 1024L + 4096)
/*
 * MemAvailable may move this much for reasons of its own (pages parked on the per-CPU free
 * lists, slab, kmemleak's metadata): up to 15 MiB less after a QEMU run was seen, with either
 * module; pins left behind by a 64 MiB VM would be twice the slack.
 */
#define MEM_SLACK_KB (32 * 1024L)

#define EDU_SLOT 4
#define MTTY_SLOT 5
#define EDU_BAR0_GPA 0xe0000000UL /* the first PCI MMIO address libqos hands out on pc */
#define VM_SRC 0x200000UL
#define VM_DST 0x300000UL
#define VM_HOLE 0x6000000UL	/* 96 MiB: no RAM there, but below edu's 28-bit DMA mask */
#define VM_CANARY 0x2000000UL	/* VM_HOLE modulo the RAM size: where a wrap would land */
#define XFER_LEN 4096
#define TAIL_LEN 256		/* after dst: must stay untouched */

/* samples/vfio-mdev/mtty.c: the config space's vendor and device IDs */
#define MTTY_IDS 0x32534348

/* hw/acpi/pcihp.c: PIIX4's PCI hotplug registers (bus select, eject) */
#define PCIHP_EJ 0xae08
#define PCIHP_SEL 0xae10

/*
 * What QEMU may print on stderr in these cases, and why that is fine. Every other line fails
 * the case. (A line matches an entry when it holds each of its strings.)
 */
static const struct known_msg {
	const char *tag;
	const char *has[2];
	const char *why;
} known_msgs[] = {
	{ "bar-map", { "IOMMU_IOAS_MAP failed: Bad address" },
	  "QEMU's iommufd backend maps every RAM-device section into the IOAS, among them its mmap "
	  "of the assigned device's BAR0 (VM_PFNMAP); neither 6.12 iommufd.ko can pin such memory "
	  "(EFAULT) and QEMU goes on without peer-to-peer DMA to that BAR" },
	{ "bar-map", { "vfio_container_dma_map(", "= -14 (Bad address)" },
	  "the memory listener's report of the same refused BAR mapping (once a QEMU process); "
	  "with the legacy container it is VFIO_IOMMU_MAP_DMA of iommufd's compat layer that "
	  "refuses it, the same way" },
	{ "bar-map", { "PCI peer-to-peer transactions on BARs are not supported" },
	  "the hint QEMU appends to the message above" },
	{ "no-reset", { "Cannot reset device", "no available reset mechanism" },
	  "at every system reset and device realize QEMU resets the device: edu has neither FLR "
	  "nor PM reset and sits on the guest's root bus (no bus reset), mtty reports no "
	  "VFIO_DEVICE_FLAGS_RESET and no hot reset; QEMU says so and goes on" },
	{ "no-kvm", { "KVM VFIO device isn't created yet" },
	  "on device_del QEMU takes the device's fd off the KVM VFIO pseudo-device "
	  "(vfio_kvm_device_del_fd), which exists only under KVM; this VM runs under TCG, where "
	  "adding the fd was a no-op, so the removal reports that there is no such device" },
};

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* ---- the guest's side: edu on vfio-pci, /proc figures, the kernel log ---- */

/* Whether process @pid has a file descriptor open on @path. */
static bool fd_open(pid_t pid, const char *path)
{
	char dir[64], link[PATH_MAX], target[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d;
	ssize_t n;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		found = !strcmp(target, path);
	}
	closedir(d);
	return found;
}

/*
 * Whether nothing owns the VFIO device at @sysdev any more: its cdev opens, binds to a fresh
 * iommufd and attaches to an IOAS there (what vfio_edu's fixture does). 0, or -errno with the
 * step in @err.
 */
static int dev_bindable(const char *sysdev, char *err, size_t len)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	char cdev[PATH_MAX];
	const char *step = "no VFIO cdev";
	int dev = -1, fd = -1, rc;
	uint32_t ioas;

	rc = vfio_find_cdev(sysdev, cdev, sizeof(cdev));
	if (!rc) {
		step = "open the cdev";
		dev = open(cdev, O_RDWR);
		rc = dev < 0 ? -errno : 0;
	}
	if (!rc) {
		step = "open /dev/iommu";
		fd = open("/dev/iommu", O_RDWR);
		rc = fd < 0 ? -errno : 0;
	}
	if (!rc) {
		step = "IOMMU_IOAS_ALLOC";
		rc = ioas_alloc(fd, &ioas);
	}
	if (!rc) {
		step = "VFIO_DEVICE_BIND_IOMMUFD";
		bind.iommufd = fd;
		rc = ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind) ? -errno : 0;
	}
	if (!rc) {
		step = "VFIO_DEVICE_ATTACH_IOMMUFD_PT";
		rc = attach_pt(dev, ioas);
	}
	snprintf(err, len, "%s: %s", step, rc ? strerror(-rc) : "ok");
	if (dev >= 0)
		close(dev);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Waits for a kernel log record holding @a and @b; its text in @out. 0 or -ETIMEDOUT. */
static int kmsg_wait(int fd, const char *a, const char *b, long long deadline, char *out,
		     size_t len)
{
	char rec[8192];

	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		char *msg, *nl;

		if (n > 0) {
			rec[n] = 0;
			msg = strchr(rec, ';');
			msg = msg ? msg + 1 : rec;
			nl = strchr(msg, '\n');
			if (nl)
				*nl = 0;
			if (strstr(msg, a) && strstr(msg, b)) {
				size_t n = strnlen(msg, len - 1);

				memcpy(out, msg, n);
				out[n] = 0;
				return 0;
			}
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR && errno != EPIPE)
			return -errno;
		if (n < 0 && errno == EPIPE) /* records overwritten under us: read on */
			continue;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(50000);
	}
}

/* ---- QEMU: the launcher, a qtest client and a QMP client ---- */

#define CONN_BUF 32768
#define REPLY_MAX 20000

/* One connected socket QEMU talks a line protocol on. */
struct conn {
	int fd;
	size_t len;
	char buf[CONN_BUF];
};

struct qemu {
	pid_t owner;		/* the process holding the sockets (the test's) */
	pid_t child;		/* what we forked: QEMU, or a wrapper that runs it */
	pid_t pid;		/* QEMU itself: the peer of the qtest socket */
	bool running;		/* @child not reaped yet */
	bool qtest_accel;	/* the binary has -accel qtest */
	bool stderr_shown;
	int status;		/* @child's wait status, once reaped */
	long long up_ms;	/* fork to QMP ready */
	int lqt, lqmp;		/* listening sockets */
	struct conn qt, qmp;
	char dir[32], qt_path[64], qmp_path[64], log_path[64];
	char events[8192];	/* QMP events seen, squeezed, one a line */
	char line[REPLY_MAX];	/* the last line read */
	char sq[REPLY_MAX];	/* the same, squeezed (no blanks) for matching */
	char err[1024];		/* what the last failing step saw */
};

static int __attribute__((format(printf, 3, 4)))
fail(struct qemu *q, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->err, sizeof(q->err), fmt, ap);
	va_end(ap);
	return rc;
}

static int conn_send(struct conn *c, const char *s)
{
	size_t len = strlen(s), done = 0;

	while (done < len) {
		ssize_t n = send(c->fd, s + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += n;
	}
	return 0;
}

/* The next line (without "\r\n") into @out; its length, -ETIMEDOUT, or -EPIPE at EOF. */
static int conn_readline(struct conn *c, char *out, size_t max, long long deadline)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		long long left;
		ssize_t n;

		if (nl) {
			size_t len = nl - c->buf, keep = len;

			if (keep && c->buf[keep - 1] == '\r')
				keep--;
			if (keep >= max)
				keep = max - 1;
			memcpy(out, c->buf, keep);
			out[keep] = 0;
			c->len -= len + 1;
			memmove(c->buf, nl + 1, c->len);
			return keep;
		}
		if (c->len == sizeof(c->buf))
			return -E2BIG;
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -ETIMEDOUT;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EPIPE;
		c->len += n;
	}
}

/*
 * qtest (system/qtest.c): one command a line, answered "OK [VALUE]" or "FAIL ..."; "IRQ ..."
 * lines are asynchronous (only with irq_intercept_*, which this suite does not use).
 */
static int qt_cmd(struct qemu *q, const char *cmd)
{
	long long deadline = now_ms() + T_REPLY;
	int rc = conn_send(&q->qt, cmd);

	if (!rc)
		rc = conn_send(&q->qt, "\n");
	if (rc)
		return fail(q, rc, "qtest '%.60s': %s", cmd, strerror(-rc));
	for (;;) {
		rc = conn_readline(&q->qt, q->line, sizeof(q->line), deadline);
		if (rc < 0)
			return fail(q, rc, "qtest '%.60s': no answer: %s", cmd, strerror(-rc));
		if (!strncmp(q->line, "IRQ ", 4))
			continue;
		if (!strcmp(q->line, "OK") || !strncmp(q->line, "OK ", 3))
			return 0;
		return fail(q, -EPROTO, "qtest '%.60s' answered '%.200s'", cmd, q->line);
	}
}

static int __attribute__((format(printf, 2, 3))) qt(struct qemu *q, const char *fmt, ...)
{
	char cmd[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return qt_cmd(q, cmd);
}

/* A command answered "OK VALUE": the value in *@v. */
static int __attribute__((format(printf, 3, 4)))
qt_val(struct qemu *q, uint64_t *v, const char *fmt, ...)
{
	char cmd[256];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = qt_cmd(q, cmd);
	if (rc)
		return rc;
	if (strncmp(q->line, "OK 0x", 5))
		return fail(q, -EPROTO, "qtest '%s' answered '%.200s'", cmd, q->line);
	*v = strtoull(q->line + 3, NULL, 0);
	return 0;
}

static int qt_readl(struct qemu *q, uint64_t addr, uint32_t *v)
{
	uint64_t val;
	int rc = qt_val(q, &val, "readl 0x%llx", (unsigned long long)addr);

	*v = val;
	return rc;
}

static int qt_writel(struct qemu *q, uint64_t addr, uint32_t v)
{
	return qt(q, "writel 0x%llx 0x%x", (unsigned long long)addr, v);
}

/* @len bytes of the VM's memory at @addr ("write ADDR SIZE 0xHEX"). */
static int qt_write(struct qemu *q, uint64_t addr, const uint8_t *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 64 + 2 * len, off;
	char *cmd = malloc(n);
	int rc;

	if (!cmd)
		return -ENOMEM;
	off = snprintf(cmd, n, "write 0x%llx %zu 0x", (unsigned long long)addr, len);
	for (size_t i = 0; i < len; i++) {
		cmd[off++] = hex[buf[i] >> 4];
		cmd[off++] = hex[buf[i] & 15];
	}
	cmd[off] = 0;
	rc = qt_cmd(q, cmd);
	free(cmd);
	return rc;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* @len bytes of the VM's memory at @addr ("read ADDR SIZE", answered "OK 0xHEX"). */
static int qt_read(struct qemu *q, uint64_t addr, uint8_t *buf, size_t len)
{
	const char *h;
	int rc = qt(q, "read 0x%llx %zu", (unsigned long long)addr, len);

	if (rc)
		return rc;
	h = q->line + 3;
	if (strncmp(h, "0x", 2) || strlen(h + 2) < 2 * len)
		return fail(q, -EPROTO, "qtest read of %zu bytes answered '%.80s...'", len,
			    q->line);
	for (size_t i = 0; i < len; i++) {
		int hi = hexval(h[2 + 2 * i]), lo = hexval(h[3 + 2 * i]);

		if (hi < 0 || lo < 0)
			return fail(q, -EPROTO, "qtest read: not hex at byte %zu", i);
		buf[i] = hi << 4 | lo;
	}
	return 0;
}

/* PCI config space of bus 0, @slot, function 0, through ports 0xcf8/0xcfc (as libqos does). */
static uint32_t cfg_addr(int slot, int off)
{
	return 0x80000000u | slot << 11 | (off & 0xfc);
}

static int cfg_readl(struct qemu *q, int slot, int off, uint32_t *v)
{
	uint64_t val;
	int rc = qt(q, "outl 0xcf8 0x%x", cfg_addr(slot, off));

	if (!rc)
		rc = qt_val(q, &val, "inl 0xcfc");
	*v = rc ? 0 : val;
	return rc;
}

static int cfg_writel(struct qemu *q, int slot, int off, uint32_t v)
{
	int rc = qt(q, "outl 0xcf8 0x%x", cfg_addr(slot, off));

	return rc ?: qt(q, "outl 0xcfc 0x%x", v);
}

static int cfg_writew(struct qemu *q, int slot, int off, uint16_t v)
{
	int rc = qt(q, "outl 0xcf8 0x%x", cfg_addr(slot, off));

	return rc ?: qt(q, "outw 0x%x 0x%x", 0xcfc + (off & 2), v);
}

/* JSON as QEMU prints it, without blanks ("event": "X" -> "event":"X"), for matching. */
static void squeeze(char *dst, const char *src, size_t len)
{
	size_t n = 0;

	for (; *src && n + 1 < len; src++)
		if (*src != ' ' && *src != '\t')
			dst[n++] = *src;
	dst[n] = 0;
}

/* QMP: one line into q->line (q->sq); events are also kept in q->events. */
static int qmp_line(struct qemu *q, long long deadline, bool *event)
{
	int rc = conn_readline(&q->qmp, q->line, sizeof(q->line), deadline);
	size_t len;

	if (rc < 0)
		return rc;
	squeeze(q->sq, q->line, sizeof(q->sq));
	*event = strstr(q->sq, "\"event\":") != NULL;
	len = strlen(q->events);
	if (*event && len + strlen(q->sq) + 2 < sizeof(q->events))
		snprintf(q->events + len, sizeof(q->events) - len, "%s\n", q->sq);
	return 0;
}

/* A QMP command; 0 on its "return", -EPROTO on its "error" (the line in q->err). */
static int qmp_cmd(struct qemu *q, const char *json)
{
	long long deadline = now_ms() + T_REPLY;
	bool event;
	int rc = conn_send(&q->qmp, json);

	if (!rc)
		rc = conn_send(&q->qmp, "\n");
	if (rc)
		return fail(q, rc, "QMP %.80s: %s", json, strerror(-rc));
	for (;;) {
		rc = qmp_line(q, deadline, &event);
		if (rc < 0)
			return fail(q, rc, "QMP %.80s: no answer: %s", json, strerror(-rc));
		if (event)
			continue;
		if (strstr(q->sq, "{\"return\""))
			return 0;
		if (strstr(q->sq, "{\"error\""))
			return fail(q, -EPROTO, "QMP %.80s: %.400s", json, q->line);
	}
}

/* Whether an event line with @ev and @dev was seen. */
static bool event_seen(struct qemu *q, const char *ev, const char *dev)
{
	for (char *l = q->events; *l;) {
		char *nl = strchr(l, '\n');
		bool hit;

		*nl = 0;
		hit = strstr(l, ev) && strstr(l, dev);
		*nl = '\n';
		if (hit)
			return true;
		l = nl + 1;
	}
	return false;
}

/* Waits for QMP event @name about device @id (e.g. DEVICE_DELETED of "hostdev0"). */
static int qmp_event(struct qemu *q, const char *name, const char *id, long long deadline)
{
	char ev[64], dev[64];
	bool event;
	int rc;

	snprintf(ev, sizeof(ev), "\"event\":\"%s\"", name);
	snprintf(dev, sizeof(dev), "\"device\":\"%s\"", id);
	while (!event_seen(q, ev, dev)) {
		rc = qmp_line(q, deadline, &event);
		if (rc < 0)
			return fail(q, rc, "no QMP event %s of %s: %s", name, id, strerror(-rc));
	}
	return 0;
}

static void qemu_init(struct qemu *q)
{
	memset(q, 0, sizeof(*q));
	q->owner = getpid();
	q->lqt = q->lqmp = q->qt.fd = q->qmp.fd = -1;
}

/* The scratch directory of one QEMU run: its two sockets and its stderr. */
static int qemu_dir(struct qemu *q)
{
	snprintf(q->dir, sizeof(q->dir), "/tmp/rs_qc.XXXXXX");
	if (!mkdtemp(q->dir)) {
		q->dir[0] = 0;
		return -errno;
	}
	snprintf(q->qt_path, sizeof(q->qt_path), "%s/qtest.sock", q->dir);
	snprintf(q->qmp_path, sizeof(q->qmp_path), "%s/qmp.sock", q->dir);
	snprintf(q->log_path, sizeof(q->log_path), "%s/stderr", q->dir);
	return 0;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

/* Reaps @child if it exited; whether it is gone. */
static bool qemu_reap(struct qemu *q)
{
	if (q->running && q->child > 0 && waitpid(q->child, &q->status, WNOHANG) == q->child)
		q->running = false;
	return !q->running;
}

/* Whether @pid has exited (gone, or a zombie: its files and memory are released already). */
static bool pid_gone(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

static int qemu_wait(struct qemu *q, long long deadline)
{
	while (!qemu_reap(q)) {
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(20000);
	}
	return 0;
}

/*
 * SIGKILL to QEMU (and the wrapper), and wait until they are gone: reaped if this process is
 * their parent, else (the harness may run the teardown in the test's parent) seen exiting.
 */
static void qemu_kill(struct qemu *q)
{
	long long deadline = now_ms() + T_EXIT;

	if (!q->running)
		return;
	kill(q->pid, SIGKILL);
	if (q->pid != q->child)
		kill(q->child, SIGKILL);
	while (!qemu_reap(q) && now_ms() < deadline) {
		if (getpid() != q->owner && pid_gone(q->pid) && pid_gone(q->child)) {
			q->running = false;
			break;
		}
		usleep(20000);
	}
}

/* Runs @argv, its stdout into @out (stderr dropped), for at most @ms; 0 or -errno. */
static int run_capture(const char *const *argv, char *out, size_t len, int ms)
{
	long long deadline = now_ms() + ms;
	size_t n = 0;
	int fds[2], st;
	pid_t pid;

	out[0] = 0;
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (!pid) {
		int nul = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(nul, 2) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	while (n + 1 < len) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		r = read(fds[0], out + n, len - 1 - n);
		if (r <= 0)
			break;
		n += r;
		out[n] = 0;
	}
	close(fds[0]);
	while (waitpid(pid, &st, WNOHANG) != pid) {
		if (now_ms() >= deadline)
			kill(pid, SIGKILL);
		usleep(20000);
	}
	return 0;
}

/* Whether QEMU 10 lists the qtest accelerator ("-accel help": one name a line). */
static bool has_qtest_accel(void)
{
	const char *const argv[] = { QEMU10, "-accel", "help", NULL };
	char out[1024];

	if (run_capture(argv, out, sizeof(out), T_START))
		return false;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
		if (!strcmp(l, "qtest"))
			return true;
	return false;
}

/* QEMU's argv, assembled from pieces. */
struct args {
	const char *v[48];
	int n;
	size_t used;
	char store[4096];
};

static void __attribute__((format(printf, 2, 3))) arg(struct args *a, const char *fmt, ...)
{
	size_t room = sizeof(a->store) - a->used;
	va_list ap;
	int n;

	if (a->n + 1 >= (int)(sizeof(a->v) / sizeof(a->v[0])))
		return;
	va_start(ap, fmt);
	n = vsnprintf(a->store + a->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return;
	a->v[a->n++] = a->store + a->used;
	a->v[a->n] = NULL;
	a->used += n + 1;
}

/*
 * The VM and QEMU's two channels. Both are client sockets QEMU connects to ours, as libqtest
 * has it (tests/qtest/libqtest.c): -qtest unix:PATH, and a socket chardev carrying the QMP
 * monitor. -qtest-log /dev/null, else qtest logs every command on stderr. No vCPU runs: the
 * qtest accelerator, or TCG stopped before the first instruction (-S; no firmware runs, PCI
 * BARs stay unassigned as under qtest).
 */
static void args_vm(struct args *a, struct qemu *q)
{
	memset(a, 0, sizeof(*a));
	arg(a, QEMU10);
	arg(a, "-machine");
	arg(a, "pc");
	arg(a, "-accel");
	if (q->qtest_accel) {
		arg(a, "qtest");
	} else {
		arg(a, "tcg");
		arg(a, "-S");
	}
	arg(a, "-m");
	arg(a, "%d", VM_RAM_MIB);
	arg(a, "-nodefaults");
	arg(a, "-display");
	arg(a, "none");
	arg(a, "-vga");
	arg(a, "none");
	arg(a, "-qtest");
	arg(a, "unix:%s", q->qt_path);
	arg(a, "-qtest-log");
	arg(a, "/dev/null");
	arg(a, "-chardev");
	arg(a, "socket,id=qmp0,path=%s", q->qmp_path);
	arg(a, "-mon");
	arg(a, "chardev=qmp0,mode=control");
}

static void args_iommufd(struct args *a)
{
	arg(a, "-object");
	arg(a, "iommufd,id=fd0");
}

/* edu at slot 4: through the iommufd object, or (legacy) its group and the VFIO container. */
static void args_edu(struct args *a, const char *bdf, bool iommufd)
{
	arg(a, "-device");
	arg(a, "vfio-pci,host=%s%s,id=hostdev0,addr=0x%x", bdf, iommufd ? ",iommufd=fd0" : "",
	    EDU_SLOT);
}

static void args_mtty(struct args *a, const char *mdev)
{
	arg(a, "-device");
	arg(a, "vfio-pci,sysfsdev=%s,iommufd=fd0,id=mdev0,addr=0x%x", mdev, MTTY_SLOT);
}

/*
 * Forks QEMU (stdin /dev/null, stdout and stderr to q->log_path), accepts its qtest and QMP
 * connections, reads the QMP greeting and negotiates capabilities. QEMU answers that only from
 * its main loop: its devices are realized (and the VM's RAM mapped) by then.
 */
static int qemu_start(struct qemu *q, struct args *a)
{
	long long t0 = now_ms(), deadline = t0 + T_START;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int log, rc;
	pid_t pid;

	q->lqt = listen_unix(q->qt_path);
	if (q->lqt < 0)
		return fail(q, q->lqt, "listen on %s: %s", q->qt_path, strerror(-q->lqt));
	q->lqmp = listen_unix(q->qmp_path);
	if (q->lqmp < 0)
		return fail(q, q->lqmp, "listen on %s: %s", q->qmp_path, strerror(-q->lqmp));
	log = open(q->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log < 0)
		return fail(q, -errno, "%s: %s", q->log_path, strerror(errno));
	fflush(stdout);
	fflush(stderr);
	/* Not into *q directly: the fixture is shared memory, the child would write 0 there. */
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(log);
		return fail(q, rc, "fork: %s", strerror(-rc));
	}
	if (!pid) {
		int nul = open("/dev/null", O_RDONLY);

		/* Not a QEMU that outlives this test, whatever happens to it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
			_exit(126);
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		execv(a->v[0], (char *const *)a->v);
		dprintf(2, "exec %s: %s\n", a->v[0], strerror(errno));
		_exit(127);
	}
	close(log);
	q->child = q->pid = pid;
	q->running = true;

	while (q->qt.fd < 0 || q->qmp.fd < 0) {
		struct pollfd p[2];
		int n = 0;

		if (q->qt.fd < 0)
			p[n++] = (struct pollfd){ .fd = q->lqt, .events = POLLIN };
		if (q->qmp.fd < 0)
			p[n++] = (struct pollfd){ .fd = q->lqmp, .events = POLLIN };
		if (qemu_reap(q))
			return fail(q, -ECHILD, "QEMU exited (wait status %#x) before connecting",
				    q->status);
		if (now_ms() >= deadline)
			return fail(q, -ETIMEDOUT, "QEMU did not connect within %d s",
				    T_START / 1000);
		if (poll(p, n, 100) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			struct conn *c = p[i].fd == q->lqt ? &q->qt : &q->qmp;

			if (!(p[i].revents & POLLIN))
				continue;
			c->fd = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);
			c->len = 0;
		}
	}
	/* The process at the other end: QEMU itself even if a wrapper forked it. */
	if (!getsockopt(q->qt.fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) && cred.pid > 0)
		q->pid = cred.pid;

	rc = conn_readline(&q->qmp, q->line, sizeof(q->line), deadline);
	if (rc < 0)
		return fail(q, rc, "no QMP greeting: %s", strerror(-rc));
	if (!strstr(q->line, "\"QMP\""))
		return fail(q, -EPROTO, "QMP greeting: %.200s", q->line);
	rc = qmp_cmd(q, "{\"execute\": \"qmp_capabilities\"}");
	q->up_ms = now_ms() - t0;
	return rc;
}

static const struct known_msg *known(const char *line)
{
	for (size_t i = 0; i < sizeof(known_msgs) / sizeof(known_msgs[0]); i++) {
		const struct known_msg *k = &known_msgs[i];

		if (strstr(line, k->has[0]) && (!k->has[1] || strstr(line, k->has[1])))
			return k;
	}
	return NULL;
}

/* QEMU's stderr (and stdout), line by line; how many lines known_msgs does not explain. */
static int show_stderr(struct __test_metadata *_metadata, struct qemu *q)
{
	char line[1024];
	int unknown = 0;
	FILE *f;

	q->stderr_shown = true;
	f = fopen(q->log_path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		const struct known_msg *k;

		line[strcspn(line, "\n")] = 0;
		if (!line[0])
			continue;
		k = known(line);
		if (k) {
			TH_LOG("QEMU (known, %s): %s", k->tag, line);
		} else {
			TH_LOG("QEMU (UNEXPECTED): %s", line);
			unknown++;
		}
	}
	fclose(f);
	return unknown;
}

/*
 * ---- the fixture: edu on vfio-pci, one QEMU at a time ----
 *
 * The teardown is FIXTURE_TEARDOWN_PARENT (self shared with the test's process): built -O2,
 * the harness skips a plain FIXTURE_TEARDOWN after a failed ASSERT (its fork's pid is not kept
 * across the longjmp), which would leave edu on vfio-pci. QEMU itself dies with the test's
 * process anyway (PR_SET_PDEATHSIG).
 */

FIXTURE(qc)
{
	char bdf[32];
	char edu_dev[PATH_MAX];
	long mem_before;
	struct qemu q;
};

FIXTURE_SETUP(qc)
{
	qemu_init(&self->q);
	signal(SIGPIPE, SIG_IGN);
	ASSERT_EQ(0, access(QEMU10, X_OK))
		TH_LOG("no QEMU 10 at %s (%s): the pci plan's initramfs must carry it", QEMU10,
		       strerror(errno));
	self->q.qtest_accel = has_qtest_accel();
	ASSERT_EQ(0, find_edu(self->bdf, sizeof(self->bdf)))
		TH_LOG("no edu device (%04x:%04x) on %s: this suite needs the pci plan's machine",
		       EDU_VENDOR, EDU_DEVICE, PCI_DEVICES);
	ASSERT_EQ(0, qemu_dir(&self->q)) TH_LOG("mkdtemp: %s", strerror(errno));
	ASSERT_EQ(0, bind_vfio_pci(self->bdf)) TH_LOG("binding %s to vfio-pci", self->bdf);
	snprintf(self->edu_dev, sizeof(self->edu_dev), PCI_DEVICES "/%s", self->bdf);
}

FIXTURE_TEARDOWN_PARENT(qc)
{
	struct qemu *q = &self->q;

	if (q->running) {
		if (!q->stderr_shown)
			show_stderr(_metadata, q);
		TH_LOG("killing QEMU (pid %d)", q->pid);
		qemu_kill(q);
	}
	/* The sockets are the test process's: elsewhere these numbers are other files. */
	if (getpid() == q->owner) {
		if (q->qt.fd >= 0)
			close(q->qt.fd);
		if (q->qmp.fd >= 0)
			close(q->qmp.fd);
		if (q->lqt >= 0)
			close(q->lqt);
		if (q->lqmp >= 0)
			close(q->lqmp);
	}
	if (q->dir[0]) {
		unlink(q->qt_path);
		unlink(q->qmp_path);
		unlink(q->log_path);
		rmdir(q->dir);
	}
	if (self->bdf[0])
		unbind_vfio_pci(self->bdf);
}

/* The mtty mdev the plan created (load_mtty in plan-pci.sh), as a sysfs path in @path. */
static void mdev_path(struct __test_metadata *_metadata, char *path, size_t len)
{
	const char *uuid = getenv("MTTY_UUID");

	ASSERT_TRUE(uuid && uuid[0])
		TH_LOG("MTTY_UUID is not set: the plan creates the mtty mdev and exports its UUID");
	snprintf(path, len, MDEV_DEVICES "/%s", uuid);
	ASSERT_EQ(0, access(path, F_OK))
		TH_LOG("no mdev %s: mtty.ko is not loaded or the mdev was not created", path);
}

static void vm_start(struct __test_metadata *_metadata, FIXTURE_DATA(qc) *self, struct args *a)
{
	struct qemu *q = &self->q;
	char cmd[2048];
	size_t off = 0;
	int rc;

	for (int i = 0; i < a->n && off < sizeof(cmd); i++)
		off += snprintf(cmd + off, sizeof(cmd) - off, "%s%s", i ? " " : "", a->v[i]);
	TH_LOG("%s", cmd);
	self->mem_before = proc_kb("/proc/meminfo", "MemAvailable:");
	rc = qemu_start(q, a);
	if (rc)
		show_stderr(_metadata, q);
	ASSERT_EQ(0, rc) TH_LOG("QEMU did not come up: %s", q->err);
	TH_LOG("QEMU pid %d ready in %lld ms (MemAvailable before: %ld kB)", q->pid, q->up_ms,
	       self->mem_before);
}

/*
 * Which device files QEMU holds: /dev/iommu and the VFIO cdevs of edu (if @edu) and of @mdev,
 * or (!@iommufd) edu's group and the /dev/vfio/vfio container.
 */
static void vm_files(struct __test_metadata *_metadata, FIXTURE_DATA(qc) *self, bool iommufd,
		     bool edu, const char *mdev)
{
	struct qemu *q = &self->q;
	char path[PATH_MAX];

	if (iommufd) {
		EXPECT_TRUE(fd_open(q->pid, "/dev/iommu"));
		EXPECT_FALSE(fd_open(q->pid, "/dev/vfio/vfio"));
		if (edu && !vfio_find_cdev(self->edu_dev, path, sizeof(path)))
			EXPECT_TRUE(fd_open(q->pid, path)) TH_LOG("QEMU does not hold %s", path);
		if (mdev && !vfio_find_cdev(mdev, path, sizeof(path)))
			EXPECT_TRUE(fd_open(q->pid, path)) TH_LOG("QEMU does not hold %s", path);
		TH_LOG("QEMU holds /dev/iommu and the devices' VFIO cdevs");
	} else {
		snprintf(path, sizeof(path), "/dev/vfio/%d", group_of(self->bdf));
		EXPECT_TRUE(fd_open(q->pid, "/dev/vfio/vfio"));
		EXPECT_TRUE(fd_open(q->pid, path)) TH_LOG("QEMU does not hold %s", path);
		EXPECT_FALSE(fd_open(q->pid, "/dev/iommu"));
		TH_LOG("QEMU holds %s and /dev/vfio/vfio (iommufd's VFIO container)", path);
	}
}

/*
 * VmPin of QEMU: behind a paging domain the VM's RAM is pinned (iommufd counts it in pinned_vm
 * whatever the rlimit accounting), with an mdev alone nothing (an access pins on demand).
 */
static void vm_pins(struct __test_metadata *_metadata, struct qemu *q, bool ram)
{
	long pin = pid_status_kb(q->pid, "VmPin:"), lck = pid_status_kb(q->pid, "VmLck:");

	TH_LOG("QEMU VmPin %ld kB, VmLck %ld kB (VM RAM %d MiB)", pin, lck, VM_RAM_MIB);
	ASSERT_LE(0, pin);
	if (ram) {
		EXPECT_LE(PIN_MIN_KB, pin);
		EXPECT_GE(PIN_MAX_KB, pin);
	} else {
		EXPECT_EQ(0, pin);
	}
}

/*
 * The VM's driver brings edu up: its IDs in config space, BAR0 at EDU_BAR0_GPA, memory decode
 * and bus mastering on, then the identification and liveness registers through the BAR.
 */
static void vm_edu_up(struct __test_metadata *_metadata, struct qemu *q)
{
	uint32_t v, id, live;

	ASSERT_EQ(0, cfg_readl(q, EDU_SLOT, PCI_VENDOR_ID, &v)) TH_LOG("%s", q->err);
	ASSERT_EQ(EDU_DEVICE << 16 | EDU_VENDOR, v);
	ASSERT_EQ(0, cfg_writel(q, EDU_SLOT, PCI_BASE_ADDRESS_0, EDU_BAR0_GPA))
		TH_LOG("%s", q->err);
	ASSERT_EQ(0, cfg_readl(q, EDU_SLOT, PCI_BASE_ADDRESS_0, &v)) TH_LOG("%s", q->err);
	ASSERT_EQ(EDU_BAR0_GPA, v & PCI_BASE_ADDRESS_MEM_MASK);
	ASSERT_EQ(0, cfg_writew(q, EDU_SLOT, PCI_COMMAND,
				PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER))
		TH_LOG("%s", q->err);

	ASSERT_EQ(0, qt_readl(q, EDU_BAR0_GPA + EDU_ID, &id)) TH_LOG("%s", q->err);
	EXPECT_EQ(0xed, id & 0xffff) TH_LOG("edu ident %#x", id);
	ASSERT_EQ(0, qt_writel(q, EDU_BAR0_GPA + EDU_LIVENESS, 0x12345678)) TH_LOG("%s", q->err);
	ASSERT_EQ(0, qt_readl(q, EDU_BAR0_GPA + EDU_LIVENESS, &live)) TH_LOG("%s", q->err);
	EXPECT_EQ(~0x12345678u, live);
	TH_LOG("edu at slot %d, BAR0 %#lx: ident %#x (version %u.%u), liveness %#x -> %#x",
	       EDU_SLOT, EDU_BAR0_GPA, id, id >> 24, (id >> 16) & 0xff, 0x12345678, live);
}

/* One edu DMA of @cnt bytes (@dir 0: VM -> edu's buffer); 0, or -ETIMEDOUT. */
static int edu_dma(struct qemu *q, uint64_t src, uint64_t dst, uint32_t cnt, uint32_t dir)
{
	long long deadline = now_ms() + T_DMA;
	uint32_t cmd;
	int rc;

	rc = qt_writel(q, EDU_BAR0_GPA + EDU_DMA_SRC, src) ?:
	     qt_writel(q, EDU_BAR0_GPA + EDU_DMA_DST, dst) ?:
	     qt_writel(q, EDU_BAR0_GPA + EDU_DMA_CNT, cnt) ?:
	     qt_writel(q, EDU_BAR0_GPA + EDU_DMA_CMD, EDU_DMA_RUN | dir);
	while (!rc) {
		rc = qt_readl(q, EDU_BAR0_GPA + EDU_DMA_CMD, &cmd);
		if (rc || !(cmd & EDU_DMA_RUN))
			break;
		if (now_ms() >= deadline)
			return fail(q, -ETIMEDOUT, "edu DMA %#llx -> %#llx runs after %d s",
				    (unsigned long long)src, (unsigned long long)dst,
				    T_DMA / 1000);
		usleep(20000);
	}
	return rc;
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void pattern(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + i / 251 + seed * 13);
}

/*
 * A pattern in the VM's RAM at VM_SRC, DMA'd by edu into its buffer and back out to VM_DST, in
 * EDU_XFER pieces; read back and compared, and the bytes after it untouched.
 */
static void vm_edu_roundtrip(struct __test_metadata *_metadata, struct qemu *q,
			     unsigned int seed)
{
	uint8_t pat[XFER_LEN], got[XFER_LEN + TAIL_LEN];

	pattern(pat, sizeof(pat), seed);
	ASSERT_EQ(0, qt_write(q, VM_SRC, pat, sizeof(pat))) TH_LOG("%s", q->err);
	ASSERT_EQ(0, qt(q, "memset 0x%lx %zu 0xee", VM_DST, sizeof(got))) TH_LOG("%s", q->err);
	for (size_t off = 0; off < XFER_LEN; off += EDU_XFER) {
		ASSERT_EQ(0, edu_dma(q, VM_SRC + off, EDU_BUF, EDU_XFER, 0)) TH_LOG("%s", q->err);
		ASSERT_EQ(0, edu_dma(q, EDU_BUF, VM_DST + off, EDU_XFER, EDU_DMA_TO_RAM))
			TH_LOG("%s", q->err);
	}
	ASSERT_EQ(0, qt_read(q, VM_DST, got, sizeof(got))) TH_LOG("%s", q->err);
	for (size_t i = 0; i < XFER_LEN; i++)
		if (got[i] != pat[i]) {
			EXPECT_EQ(pat[i], got[i])
				TH_LOG("VM byte %#lx differs after the round trip", VM_DST + i);
			break;
		}
	EXPECT_TRUE(all_bytes(got + XFER_LEN, TAIL_LEN, 0xee))
		TH_LOG("the DMA went past the %d bytes it was given", XFER_LEN);
	TH_LOG("DMA round trip: %d bytes VM %#lx -> edu %#lx -> VM %#lx checked (seed %u)",
	       XFER_LEN, VM_SRC, EDU_BUF, VM_DST, seed);
}

/*
 * One DMA (edu's buffer, still holding the pattern) to VM_HOLE, which no IOAS mapping covers:
 * the IOMMU refuses it, the guest kernel logs a DMAR fault for that address, and no byte of
 * the VM's RAM changes (not dst, not where a 26-bit wrap of the address would land).
 */
static void vm_edu_fault(struct __test_metadata *_metadata, struct qemu *q)
{
	uint8_t dst[XFER_LEN], dst2[XFER_LEN], canary[XFER_LEN];
	char want[48], line[512] = "";
	uint32_t hole, hole2;
	int kfd, rc = -ETIMEDOUT;

	ASSERT_EQ(0, qt(q, "memset 0x%lx %d 0x5a", VM_CANARY, XFER_LEN)) TH_LOG("%s", q->err);
	ASSERT_EQ(0, qt_read(q, VM_DST, dst, sizeof(dst))) TH_LOG("%s", q->err);
	ASSERT_EQ(0, qt_readl(q, VM_HOLE, &hole)) TH_LOG("%s", q->err);
	kfd = kmsg_open();
	ASSERT_LE(0, kfd) TH_LOG("/dev/kmsg: %s", strerror(errno));
	snprintf(want, sizeof(want), "fault addr %#lx", VM_HOLE);
	/* A second try only if the first line was lost to the DMAR fault ratelimit. */
	for (int i = 0; i < 2 && rc; i++) {
		rc = edu_dma(q, EDU_BUF, VM_HOLE, EDU_XFER, EDU_DMA_TO_RAM);
		if (rc)
			break;
		rc = kmsg_wait(kfd, "DMAR", want, now_ms() + T_KMSG, line, sizeof(line));
	}
	close(kfd);
	ASSERT_EQ(0, rc) TH_LOG("DMA to %#lx: %s", VM_HOLE,
				rc == -ETIMEDOUT ? "no DMAR fault line in the kernel log" : q->err);
	TH_LOG("refused DMA to %#lx, kernel: %s", VM_HOLE, line);

	ASSERT_EQ(0, qt_read(q, VM_DST, dst2, sizeof(dst2))) TH_LOG("%s", q->err);
	EXPECT_EQ(0, memcmp(dst, dst2, sizeof(dst)));
	ASSERT_EQ(0, qt_read(q, VM_CANARY, canary, sizeof(canary))) TH_LOG("%s", q->err);
	EXPECT_TRUE(all_bytes(canary, sizeof(canary), 0x5a));
	ASSERT_EQ(0, qt_readl(q, VM_HOLE, &hole2)) TH_LOG("%s", q->err);
	EXPECT_EQ(hole, hole2);
	TH_LOG("after it: VM %#lx still reads %#x, dst and the canary at %#lx unchanged", VM_HOLE,
	       hole2, VM_CANARY);
}

/* The VM's driver reads the mdev's IDs through config space: mtty's serial port. */
static void vm_mtty_ids(struct __test_metadata *_metadata, struct qemu *q)
{
	uint32_t v;

	ASSERT_EQ(0, cfg_readl(q, MTTY_SLOT, PCI_VENDOR_ID, &v)) TH_LOG("%s", q->err);
	EXPECT_EQ(MTTY_IDS, v);
	TH_LOG("mtty at slot %d: vendor %#x device %#x", MTTY_SLOT, v & 0xffff, v >> 16);
}

/* QMP quit: QEMU answers, exits 0, and printed nothing but known messages. */
static void vm_quit(struct __test_metadata *_metadata, FIXTURE_DATA(qc) *self)
{
	struct qemu *q = &self->q;
	int rc = qmp_cmd(q, "{\"execute\": \"quit\"}");

	/* QEMU may close the socket right after its answer. */
	EXPECT_TRUE(rc == 0 || rc == -EPIPE) TH_LOG("%s", q->err);
	rc = qemu_wait(q, now_ms() + T_EXIT);
	EXPECT_EQ(0, show_stderr(_metadata, q)) TH_LOG("QEMU printed unexpected lines (above)");
	ASSERT_EQ(0, rc) TH_LOG("QEMU still runs %d s after quit", T_EXIT / 1000);
	EXPECT_TRUE(WIFEXITED(q->status) && WEXITSTATUS(q->status) == 0)
		TH_LOG("QEMU wait status %#x", q->status);
	TH_LOG("QEMU quit, exit status %d", WIFEXITED(q->status) ? WEXITSTATUS(q->status) : -1);
}

/*
 * QEMU is gone: so are its pins (MemAvailable back within MEM_SLACK_KB of before it started)
 * and its hold on the devices (edu, and the mdev if @mdev, bind to a fresh iommufd).
 */
static void vm_released(struct __test_metadata *_metadata, FIXTURE_DATA(qc) *self,
			const char *mdev)
{
	long long deadline = now_ms() + T_SETTLE;
	char err[256];
	long avail;

	for (;;) {
		avail = proc_kb("/proc/meminfo", "MemAvailable:");
		if (avail >= self->mem_before - MEM_SLACK_KB || now_ms() >= deadline)
			break;
		usleep(100000);
	}
	TH_LOG("MemAvailable %ld kB before QEMU, %ld kB after it (%+ld kB)", self->mem_before,
	       avail, avail - self->mem_before);
	EXPECT_LE(self->mem_before - MEM_SLACK_KB, avail)
		TH_LOG("memory QEMU had is still gone: pins left behind?");
	EXPECT_EQ(0, dev_bindable(self->edu_dev, err, sizeof(err)))
		TH_LOG("edu %s after QEMU: %s", self->bdf, err);
	if (mdev)
		EXPECT_EQ(0, dev_bindable(mdev, err, sizeof(err)))
			TH_LOG("mdev %s after QEMU: %s", mdev, err);
	TH_LOG("edu%s free again: bound to a fresh iommufd and attached to an IOAS",
	       mdev ? " and the mdev" : "");
}

/* edu assigned through -object iommufd: registers, DMA round trip, a refused DMA, quit. */
TEST_F_TIMEOUT(qc, edu_iommufd, CASE_TIMEOUT)
{
	struct args a;

	args_vm(&a, &self->q);
	args_iommufd(&a);
	args_edu(&a, self->bdf, true);
	vm_start(_metadata, self, &a);
	vm_files(_metadata, self, true, true, NULL);
	vm_pins(_metadata, &self->q, true);
	vm_edu_up(_metadata, &self->q);
	vm_edu_roundtrip(_metadata, &self->q, 1);
	vm_edu_fault(_metadata, &self->q);
	vm_quit(_metadata, self);
	vm_released(_metadata, self, NULL);
}

/* The mtty mdev through -object iommufd: an access on the IOAS, which pins nothing. */
TEST_F_TIMEOUT(qc, mtty_iommufd, CASE_TIMEOUT)
{
	char mdev[PATH_MAX];
	struct args a;

	mdev_path(_metadata, mdev, sizeof(mdev));
	args_vm(&a, &self->q);
	args_iommufd(&a);
	args_mtty(&a, mdev);
	vm_start(_metadata, self, &a);
	vm_files(_metadata, self, true, false, mdev);
	vm_pins(_metadata, &self->q, false);
	vm_mtty_ids(_metadata, &self->q);
	vm_quit(_metadata, self);
	vm_released(_metadata, self, mdev);
}

/* edu and the mdev in one VM on one iommufd object (one IOAS): edu's DMA works. */
TEST_F_TIMEOUT(qc, both, CASE_TIMEOUT)
{
	char mdev[PATH_MAX];
	struct args a;

	mdev_path(_metadata, mdev, sizeof(mdev));
	args_vm(&a, &self->q);
	args_iommufd(&a);
	args_edu(&a, self->bdf, true);
	args_mtty(&a, mdev);
	vm_start(_metadata, self, &a);
	vm_files(_metadata, self, true, true, mdev);
	vm_pins(_metadata, &self->q, true);
	vm_mtty_ids(_metadata, &self->q);
	vm_edu_up(_metadata, &self->q);
	vm_edu_roundtrip(_metadata, &self->q, 3);
	vm_quit(_metadata, self);
	vm_released(_metadata, self, mdev);
}

/*
 * edu hot-unplugged (device_del, then the eject the guest's ACPI would do) and plugged back
 * (device_add): in between edu is free for anyone; afterwards it does DMA again.
 */
TEST_F_TIMEOUT(qc, hotplug, CASE_TIMEOUT)
{
	struct qemu *q = &self->q;
	char json[256], err[256], cdev[PATH_MAX];
	long pin;
	struct args a;

	args_vm(&a, q);
	args_iommufd(&a);
	args_edu(&a, self->bdf, true);
	vm_start(_metadata, self, &a);
	vm_pins(_metadata, q, true);
	vm_edu_up(_metadata, q);
	vm_edu_roundtrip(_metadata, q, 4);

	ASSERT_EQ(0, qmp_cmd(q, "{\"execute\": \"device_del\", "
				"\"arguments\": {\"id\": \"hostdev0\"}}"))
		TH_LOG("%s", q->err);
	/* The guest's _EJ0: select the root bus (bsel 0), write the slot's bit to PCI_EJ. */
	ASSERT_EQ(0, qt(q, "outl 0x%x 0", PCIHP_SEL)) TH_LOG("%s", q->err);
	ASSERT_EQ(0, qt(q, "outl 0x%x 0x%x", PCIHP_EJ, 1u << EDU_SLOT)) TH_LOG("%s", q->err);
	ASSERT_EQ(0, qmp_event(q, "DEVICE_DELETED", "hostdev0", now_ms() + T_EVENT))
		TH_LOG("%s", q->err);
	pin = pid_status_kb(q->pid, "VmPin:");
	TH_LOG("edu unplugged: QEMU VmPin %ld kB (%s)", pin,
	       pin < PIN_MIN_KB ? "QEMU dropped the IOAS with its last device" :
				  "QEMU kept the VM's RAM mapped");
	if (!vfio_find_cdev(self->edu_dev, cdev, sizeof(cdev)))
		EXPECT_FALSE(fd_open(q->pid, cdev)) TH_LOG("QEMU still holds %s", cdev);
	EXPECT_EQ(0, dev_bindable(self->edu_dev, err, sizeof(err)))
		TH_LOG("edu %s while QEMU runs without it: %s", self->bdf, err);

	snprintf(json, sizeof(json),
		 "{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"vfio-pci\", "
		 "\"host\": \"%s\", \"iommufd\": \"fd0\", \"id\": \"hostdev0\", "
		 "\"addr\": \"0x%x\"}}", self->bdf, EDU_SLOT);
	ASSERT_EQ(0, qmp_cmd(q, json)) TH_LOG("%s", q->err);
	TH_LOG("edu plugged back");
	vm_files(_metadata, self, true, true, NULL);
	vm_pins(_metadata, q, true);
	vm_edu_up(_metadata, q);
	vm_edu_roundtrip(_metadata, q, 5);
	vm_quit(_metadata, self);
	vm_released(_metadata, self, NULL);
}

/*
 * edu without iommufd=: QEMU's legacy backend, the group /dev/vfio/N in the /dev/vfio/vfio
 * container that iommufd's VFIO compat layer serves.
 */
TEST_F_TIMEOUT(qc, legacy_container, CASE_TIMEOUT)
{
	struct args a;

	args_vm(&a, &self->q);
	args_edu(&a, self->bdf, false);
	vm_start(_metadata, self, &a);
	vm_files(_metadata, self, false, true, NULL);
	vm_pins(_metadata, &self->q, true);
	vm_edu_up(_metadata, &self->q);
	vm_edu_roundtrip(_metadata, &self->q, 6);
	vm_quit(_metadata, self);
	vm_released(_metadata, self, NULL);
}

/* QEMU killed with the VM's RAM pinned: its exit alone must release pins and devices. */
TEST_F_TIMEOUT(qc, sigkill, CASE_TIMEOUT)
{
	struct qemu *q = &self->q;
	long long deadline;
	long pin;
	struct args a;

	args_vm(&a, q);
	args_iommufd(&a);
	args_edu(&a, self->bdf, true);
	vm_start(_metadata, self, &a);
	deadline = now_ms() + T_REPLY;
	while ((pin = pid_status_kb(q->pid, "VmPin:")) < PIN_MIN_KB && now_ms() < deadline)
		usleep(50000);
	TH_LOG("QEMU VmPin %ld kB: killing it", pin);
	ASSERT_LE(PIN_MIN_KB, pin);

	ASSERT_EQ(0, kill(q->pid, SIGKILL));
	ASSERT_EQ(0, qemu_wait(q, now_ms() + T_EXIT))
		TH_LOG("QEMU not gone %d s after SIGKILL", T_EXIT / 1000);
	if (q->pid == q->child)
		EXPECT_TRUE(WIFSIGNALED(q->status) && WTERMSIG(q->status) == SIGKILL)
			TH_LOG("wait status %#x", q->status);
	TH_LOG("QEMU reaped, wait status %#x", q->status);
	EXPECT_EQ(0, show_stderr(_metadata, q)) TH_LOG("QEMU printed unexpected lines (above)");
	vm_released(_metadata, self, NULL);
}

TEST_HARNESS_MAIN
