/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iommufd-rs: the small ioctl wrappers our own selftests share. Each returns 0 or -errno.
 * IOMMU_TEST_CMD wrappers need "iommufd_test.h", VFIO ones <linux/vfio.h>, included before
 * this file.
 */
#ifndef IOMMUFD_RS_UTILS_H
#define IOMMUFD_RS_UTILS_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

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
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

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
