/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iommufd-rs: the small ioctl wrappers our own selftests share (each returns 0 or -errno), and
 * the after-the-fact checks of rs_fuzz and rs_stress. IOMMU_TEST_CMD wrappers need
 * "iommufd_test.h", VFIO ones <linux/vfio.h>, included before this file.
 */
#ifndef IOMMUFD_RS_UTILS_H
#define IOMMUFD_RS_UTILS_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/iommufd.h>

/* IOMMU_HWPT_ALLOC on @pt for @dev, with @flags and driver data (@data_type, may be 0/NULL). */
static inline int hwpt_alloc(int fd, uint32_t dev, uint32_t pt, uint32_t flags,
			     uint32_t data_type, void *data, uint32_t data_len, uint32_t *out)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd), .flags = flags, .dev_id = dev, .pt_id = pt,
		.data_type = data_type, .data_len = data_len, .data_uptr = (uintptr_t)data,
	};
	int rc = ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);

	if (out)
		*out = cmd.out_hwpt_id;
	return rc ? -errno : 0;
}

static inline int ioas_alloc(int fd, uint32_t *id)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	int rc = ioctl(fd, IOMMU_IOAS_ALLOC, &cmd);

	*id = cmd.out_ioas_id;
	return rc ? -errno : 0;
}

static inline int destroy(int fd, uint32_t id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return ioctl(fd, IOMMU_DESTROY, &cmd) ? -errno : 0;
}

/* IOMMU_IOAS_MAP, readable and writeable, plus @flags; *iova in (fixed) and out. */
static inline int map(int fd, uint32_t ioas, void *va, uint64_t len, uint64_t *iova,
		      uint32_t flags)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = flags | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = *iova,
	};
	int rc = ioctl(fd, IOMMU_IOAS_MAP, &cmd);

	*iova = cmd.iova;
	return rc ? -errno : 0;
}

static inline int map_fixed(int fd, uint32_t ioas, void *va, uint64_t len, uint64_t iova)
{
	return map(fd, ioas, va, len, &iova, IOMMU_IOAS_MAP_FIXED_IOVA);
}

/* IOMMU_IOAS_UNMAP; the bytes unmapped in *out if @out. */
static inline int unmap(int fd, uint32_t ioas, uint64_t iova, uint64_t len, uint64_t *out)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd), .ioas_id = ioas, .iova = iova, .length = len,
	};
	int rc = ioctl(fd, IOMMU_IOAS_UNMAP, &cmd);

	if (out)
		*out = cmd.length;
	return rc ? -errno : 0;
}

/* A "Key:   N kB" line of @path (/proc/meminfo, /proc/PID/status), in kB; -1 if missing. */
static inline long proc_kb(const char *path, const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

/* A line of /proc/self/status such as "VmPin:" or "VmLck:", in kB; -1 if missing. */
static inline long status_kb(const char *key)
{
	return proc_kb("/proc/self/status", key);
}

/* The same line of another process's /proc/PID/status. */
static inline long pid_status_kb(int pid, const char *key)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return proc_kb(path, key);
}

/*
 * /dev/kmsg, non-blocking, positioned after the last record: what the kernel logs from now
 * on, and nothing from before (boot, earlier tests). -1 (errno set) if it cannot be opened or
 * positioned; kmsg_bad() then checks nothing.
 */
static inline int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Lines of /dev/kmsg (@kmsg, from kmsg_open()) logged since the last call that only a kernel
 * bug, a locking, memory or refcount error, a hung task or a panic writes: how many (each
 * printed, as "# kernel log: <line>"). 0 if @kmsg < 0.
 */
static inline int kmsg_bad(int kmsg)
{
	/* Not at file scope: there -Wall warns in each test that includes it but never calls. */
	static const char *const bad_log[] = {
		"WARNING:", "BUG:", "BUG ", "Oops", "KASAN", "Call Trace", "circular locking",
		"recursive locking", "inconsistent lock state", "DEBUG_LOCKS_WARN_ON", "UBSAN",
		"refcount_t:", "list_add corruption", "list_del corruption", "panicked",
		"general protection fault", "kernel BUG", "lockdep", "suspicious RCU",
		"sleeping function called", "blocked for more than",
	};
	char rec[4096];
	int bad = 0;

	if (kmsg < 0)
		return 0;
	for (;;) {
		ssize_t n = read(kmsg, rec, sizeof(rec) - 1);
		char *msg;

		if (n < 0 && errno == EPIPE)
			continue; /* records overwritten before we read them: go on with the next */
		if (n <= 0)
			break;
		rec[n] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		for (size_t i = 0; i < sizeof(bad_log) / sizeof(bad_log[0]); i++)
			if (strstr(msg, bad_log[i])) {
				printf("# kernel log: %s", msg);
				bad++;
				break;
			}
	}
	return bad;
}

#ifdef IOMMU_TEST_CMD
/* Every page of [va, va + len) is pinned exactly @refs times (IOMMU_TEST_OP_MD_CHECK_REFS). */
static inline int check_refs(int fd, void *va, uint64_t len, unsigned int refs)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MD_CHECK_REFS,
		.check_refs = { .length = len, .uptr = (uintptr_t)va, .refs = refs },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd) ? -errno : 0;
}

#define LOCKED_VM_PROBE_PAGES 16

/*
 * The user's locked_vm is not in /proc: probe it. With RLIMIT_MEMLOCK at LOCKED_VM_PROBE_PAGES
 * pages and CAP_IPC_LOCK off, a fresh context pins LOCKED_VM_PROBE_PAGES pages through an
 * access, and not one more, iff nothing is charged to the user. CAP_IPC_LOCK lifts the limit,
 * so it is dropped from the effective set for the probe; the limit and the capabilities are
 * restored after. 0, or the step that differed (printed): 1 the set-up (memory, limit,
 * capabilities), 2 /dev/iommu, 3 the IOAS, its mapping or the access, 4 the pin of
 * LOCKED_VM_PROBE_PAGES pages (something is charged already), 5 the pin of one more (not
 * ENOMEM: the limit is not applied, or is off by one).
 */
static inline int probe_locked_vm(void)
{
	const size_t page = sysconf(_SC_PAGESIZE), lim = LOCKED_VM_PROBE_PAGES * page;
	const size_t len = lim + page;
	struct rlimit old, rl = { lim, lim };
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct caps[2], nolock[2];
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd), .op = IOMMU_TEST_OP_CREATE_ACCESS,
		.create_access = { .flags = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES },
	};
	uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	int fd = -1, afd = -1, rc = 1, r = 0;
	uint32_t ioas;

	if (buf == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	if (getrlimit(RLIMIT_MEMLOCK, &old) || syscall(SYS_capget, &h, caps)) {
		r = -errno;
		goto out_munmap;
	}
	rl.rlim_max = old.rlim_max;
	if (setrlimit(RLIMIT_MEMLOCK, &rl)) {
		r = -errno;
		goto out_munmap;
	}
	memcpy(nolock, caps, sizeof(caps));
	nolock[0].effective &= ~(1U << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &h, nolock)) {
		r = -errno;
		goto out_rlimit;
	}

	rc = 2;
	fd = open("/dev/iommu", O_RDWR);
	if (fd < 0) {
		r = -errno;
		goto out_caps;
	}
	rc = 3;
	r = ioas_alloc(fd, &ioas);
	if (!r)
		r = map_fixed(fd, ioas, buf, len, MOCK_APERTURE_START);
	if (!r) {
		cmd.id = ioas;
		r = ioctl(fd, IOMMU_TEST_CMD, &cmd) ? -errno : 0;
		afd = r ? -1 : (int)cmd.create_access.out_access_fd;
	}
	if (r)
		goto out_caps;
	/* Exactly the limit pins; one page more must not. */
	for (int i = 0; i < 2; i++) {
		struct iommu_test_cmd pin = {
			.size = sizeof(pin), .op = IOMMU_TEST_OP_ACCESS_PAGES, .id = afd,
			.access_pages = {
				.iova = MOCK_APERTURE_START + (i ? lim : 0),
				.length = i ? page : lim,
				.uptr = (uintptr_t)buf + (i ? lim : 0),
			},
		};

		r = ioctl(fd, IOMMU_TEST_CMD, &pin) ? -errno : 0;
		if (r != (i ? -ENOMEM : 0)) {
			rc = 4 + i;
			goto out_caps;
		}
	}
	rc = 0;
out_caps:
	if (afd >= 0)
		close(afd);
	if (fd >= 0)
		close(fd);
	syscall(SYS_capset, &h, caps);
out_rlimit:
	setrlimit(RLIMIT_MEMLOCK, &old);
out_munmap:
	munmap(buf, len);
out:
	if (rc)
		printf("# locked_vm probe: step %d, rc %d (%s)\n", rc, r, strerror(-r));
	return rc;
}
#endif

#ifdef VFIO_DEVICE_ATTACH_IOMMUFD_PT
/* VFIO_IOMMU_MAP_DMA of [@va, @va + @size) at @iova, VFIO_DMA_MAP_FLAG_* @flags. */
static inline int vfio_map_dma(int fd, void *va, uint64_t iova, uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = flags, .vaddr = (uintptr_t)va,
		.iova = iova, .size = size,
	};

	return ioctl(fd, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
}

/* VFIO_IOMMU_UNMAP_DMA with VFIO_DMA_UNMAP_FLAG_* @flags; the bytes unmapped in *@out. */
static inline int vfio_unmap_dma(int fd, uint64_t iova, uint64_t size, uint32_t flags,
				 uint64_t *out)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .flags = flags, .iova = iova, .size = size,
	};
	int rc = ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &unmap);

	if (out)
		*out = unmap.size;
	return rc ? -errno : 0;
}

#include <dirent.h>
#include <limits.h>

/*
 * The VFIO cdev of a device, "/dev/vfio/devices/vfioN", from its sysfs directory @sysdev
 * (e.g. /sys/bus/pci/devices/<bdf> or /sys/bus/mdev/devices/<uuid>): its vfio-dev/ entry.
 */
static inline int vfio_find_cdev(const char *sysdev, char *path, size_t len)
{
	char dir[PATH_MAX + 16];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/vfio-dev", sysdev);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "vfio", 4))
			continue;
		snprintf(path, len, "/dev/vfio/devices/%s", de->d_name);
		closedir(d);
		return 0;
	}
	closedir(d);
	return -ENOENT;
}

/*
 * The legacy VFIO path (QEMU's and DPDK's without the cdev): open /dev/vfio/vfio (the type1
 * container iommufd emulates), check the API version and type1v2, open the group
 * @group_path, check that it is viable and in no container yet, put it in the container and
 * select VFIO_TYPE1v2_IOMMU. 0 with both open, or the negative errno of the step that failed
 * (-EPROTO: an unexpected answer) with neither open.
 */
static inline int vfio_legacy_open(const char *group_path, int *container, int *group)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	int rc = 0;

	*group = -1;
	*container = open("/dev/vfio/vfio", O_RDWR);
	if (*container < 0)
		return -errno;
	if (ioctl(*container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(*container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1)
		rc = -EPROTO;
	else if ((*group = open(group_path, O_RDWR)) < 0 ||
		 ioctl(*group, VFIO_GROUP_GET_STATUS, &status))
		rc = -errno;
	else if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE) ||
		 (status.flags & VFIO_GROUP_FLAGS_CONTAINER_SET))
		rc = -EPROTO;
	else if (ioctl(*group, VFIO_GROUP_SET_CONTAINER, container) ||
		 ioctl(*container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		rc = -errno;
	if (rc) {
		if (*group >= 0)
			close(*group);
		close(*container);
		*group = *container = -1;
	}
	return rc;
}

static inline int attach_pt(int devfd, uint32_t pt)
{
	struct vfio_device_attach_iommufd_pt cmd = { .argsz = sizeof(cmd), .pt_id = pt };

	return ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &cmd) ? -errno : 0;
}

static inline int detach_pt(int devfd)
{
	struct vfio_device_detach_iommufd_pt cmd = { .argsz = sizeof(cmd) };

	return ioctl(devfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &cmd) ? -errno : 0;
}
#endif

#endif
