// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: real device DMA through a real (emulated) IOMMU and whichever iommufd.ko is
 * loaded. Needs QEMU's edu device (1234:11e8, hw/misc/edu.c) behind an Intel VT-d IOMMU (the
 * pci plans of scripts/guest.sh, x86) or an ARM SMMUv3 (plan arm64) and the kernel's vfio.ko,
 * vfio-pci-core.ko, vfio-pci.ko.
 *
 * The test binds edu to vfio-pci (driver_override), opens its VFIO cdev, binds it to
 * /dev/iommu (VFIO_DEVICE_BIND_IOMMUFD), attaches it to an IOAS (ATTACH_IOMMUFD_PT: a paging
 * domain of the Intel IOMMU driver), maps buffers at fixed IOVAs and lets edu's DMA engine
 * copy between them: IOVA -> edu's 4 KiB buffer (device address 0x40000) -> another IOVA.
 * The data must land exactly in the page the IOAS maps there, and a DMA to an IOVA that is
 * not (or no longer) mapped must land nowhere in our buffers (the IOMMU faults it; dmesg shows
 * a DMAR fault line, or an arm-smmu-v3 event). Teardown unbinds edu from vfio-pci again.
 *
 * Also: the IOMMU driver's answers through IOMMU_GET_HW_INFO and IOMMU_HWPT_ALLOC (VT-d or
 * SMMUv3: the test finds which is behind edu and expects what that 6.12 driver answers), a
 * manual HWPT carrying DMA, and the legacy path QEMU and DPDK use (the group on /dev/vfio/vfio,
 * the type1 container iommufd emulates, VFIO_IOMMU_MAP_DMA).
 *
 * With no edu device (e.g. the plain selftest plan, no IOMMU) every test is skipped.
 */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "rs_utils.h"
#include "iommufd_test.h"
#include "rs_pci.h"

#define PAGE 4096UL
#define NPAGES 4
#define BUF_SIZE (NPAGES * PAGE)
/* edu clamps DMA addresses to 28 bits: every IOVA stays below 256 MiB. */
#define IOVA_SRC 0x100000UL
#define IOVA_DST 0x200000UL
#define IOVA_HOLE 0x400000UL

/* One edu DMA (32-bit register writes: every address here is below 4 GiB); 0 or -ETIMEDOUT. */
static int edu_dma(volatile uint32_t *bar, uint64_t src, uint64_t dst, uint32_t cnt,
		   uint32_t dir)
{
	struct timespec t0, t;

	wr(bar, EDU_DMA_SRC, (uint32_t)src);
	wr(bar, EDU_DMA_DST, (uint32_t)dst);
	wr(bar, EDU_DMA_CNT, cnt);
	wr(bar, EDU_DMA_CMD, EDU_DMA_RUN | dir);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (rd(bar, EDU_DMA_CMD) & EDU_DMA_RUN) {
		usleep(5000);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			return -ETIMEDOUT;
	}
	return 0;
}

/* @len bytes from IOVA @src to IOVA @dst, through edu's buffer in EDU_XFER pieces. */
static int edu_copy(volatile uint32_t *bar, uint64_t src, uint64_t dst, uint64_t len)
{
	while (len) {
		uint32_t n = len < EDU_XFER ? len : EDU_XFER;
		int rc = edu_dma(bar, src, EDU_BUF, n, 0);

		if (!rc)
			rc = edu_dma(bar, EDU_BUF, dst, n, EDU_DMA_TO_RAM);
		if (rc)
			return rc;
		src += n;
		dst += n;
		len -= n;
	}
	return 0;
}

static int all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

/* The VFIO cdev of the device named @name under PCI_DEVICES. */
static int cdev_of(const char *name, char *path, size_t len)
{
	char dev[PATH_MAX];

	snprintf(dev, sizeof(dev), PCI_DEVICES "/%s", name);
	return vfio_find_cdev(dev, path, len);
}

/*
 * Turns on memory decode and bus mastering of the VFIO device @devfd (vfio-pci leaves bus
 * mastering to the user) and maps its BAR0 (mmap-able, at least the 0x100 edu registers);
 * its size in *@size.
 */
static volatile uint32_t *edu_enable(struct __test_metadata *_metadata, int devfd,
				     size_t *size)
{
	struct vfio_region_info bar0 = {
		.argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX,
	};
	struct vfio_region_info cfg = {
		.argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	volatile uint32_t *bar;
	uint16_t cmd;

	ASSERT_EQ(0, ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &cfg));
	ASSERT_EQ(2, pread(devfd, &cmd, 2, cfg.offset + PCI_COMMAND));
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ASSERT_EQ(2, pwrite(devfd, &cmd, 2, cfg.offset + PCI_COMMAND));

	ASSERT_EQ(0, ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &bar0));
	ASSERT_TRUE(bar0.flags & VFIO_REGION_INFO_FLAG_MMAP);
	ASSERT_LE(0x100, bar0.size);
	bar = mmap(NULL, bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, devfd, bar0.offset);
	ASSERT_NE(MAP_FAILED, bar);
	*size = bar0.size;
	return bar;
}

FIXTURE(edu)
{
	char bdf[64];
	int iommufd, devfd;
	uint32_t ioas, devid;
	volatile uint32_t *bar;
	size_t bar_size;
	uint8_t *src, *dst;
};

FIXTURE_SETUP(edu)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	char path[PATH_MAX];

	self->iommufd = self->devfd = -1;
	self->bar = MAP_FAILED;
	self->src = self->dst = MAP_FAILED;
	if (find_edu(self->bdf, sizeof(self->bdf)))
		SKIP(return, "no edu device (%04x:%04x) on " PCI_DEVICES, EDU_VENDOR, EDU_DEVICE);
	ASSERT_EQ(0, bind_vfio_pci(self->bdf));
	ASSERT_EQ(0, cdev_of(self->bdf, path, sizeof(path)));
	TH_LOG("edu %s, cdev %s", self->bdf, path);

	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);
	ASSERT_EQ(0, ioas_alloc(self->iommufd, &self->ioas));
	self->devfd = open(path, O_RDWR);
	ASSERT_LE(0, self->devfd);
	bind.iommufd = self->iommufd;
	ASSERT_EQ(0, ioctl(self->devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	EXPECT_NE(0, bind.out_devid);
	self->devid = bind.out_devid;
	ASSERT_EQ(0, attach_pt(self->devfd, self->ioas));

	self->bar = edu_enable(_metadata, self->devfd, &self->bar_size);

	self->src = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	ASSERT_NE(MAP_FAILED, self->src);
	self->dst = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	ASSERT_NE(MAP_FAILED, self->dst);
	for (size_t i = 0; i < BUF_SIZE; i++)
		self->src[i] = (uint8_t)(i * 7 + i / PAGE);
	memset(self->dst, 0xee, BUF_SIZE);
}

FIXTURE_TEARDOWN(edu)
{
	if (self->bar != MAP_FAILED)
		munmap((void *)self->bar, self->bar_size);
	if (self->devfd >= 0)
		close(self->devfd);
	if (self->iommufd >= 0)
		close(self->iommufd);
	if (self->src != MAP_FAILED)
		munmap(self->src, BUF_SIZE);
	if (self->dst != MAP_FAILED)
		munmap(self->dst, BUF_SIZE);
	if (self->bdf[0])
		unbind_vfio_pci(self->bdf);
}

/* BAR0 through the mmap of the vfio-pci region: identification and liveness registers. */
TEST_F(edu, registers)
{
	EXPECT_EQ(0x010000ed, rd(self->bar, EDU_ID));
	wr(self->bar, EDU_LIVENESS, 0x12345678);
	EXPECT_EQ(~0x12345678U, rd(self->bar, EDU_LIVENESS));
	wr(self->bar, EDU_LIVENESS, 0);
	EXPECT_EQ(~0U, rd(self->bar, EDU_LIVENESS));
}

/*
 * Page 2 of src (IOVA_SRC + 2 pages) -> edu -> page 1 of dst (IOVA_DST + 1 page): exactly that
 * page of dst changes, and it holds page 2 of src.
 */
TEST_F(edu, dma_copy)
{
	uint64_t done;

	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->src, BUF_SIZE, IOVA_SRC));
	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->dst, BUF_SIZE, IOVA_DST));
	ASSERT_EQ(0, edu_copy(self->bar, IOVA_SRC + 2 * PAGE, IOVA_DST + PAGE, PAGE));
	EXPECT_EQ(0, memcmp(self->dst + PAGE, self->src + 2 * PAGE, PAGE));
	EXPECT_TRUE(all_bytes(self->dst, PAGE, 0xee));
	EXPECT_TRUE(all_bytes(self->dst + 2 * PAGE, 2 * PAGE, 0xee));

	/* A partial copy at an offset inside a page: 256 bytes of page 3 to page 0 + 0x800. */
	ASSERT_EQ(0, edu_copy(self->bar, IOVA_SRC + 3 * PAGE + 0x100, IOVA_DST + 0x800, 256));
	EXPECT_EQ(0, memcmp(self->dst + 0x800, self->src + 3 * PAGE + 0x100, 256));
	EXPECT_TRUE(all_bytes(self->dst, 0x800, 0xee));
	EXPECT_TRUE(all_bytes(self->dst + 0x900, PAGE - 0x900, 0xee));

	EXPECT_EQ(0, unmap(self->iommufd, self->ioas, IOVA_SRC, BUF_SIZE, &done));
	EXPECT_EQ(BUF_SIZE, done);
	EXPECT_EQ(0, unmap(self->iommufd, self->ioas, IOVA_DST, BUF_SIZE, &done));
	EXPECT_EQ(BUF_SIZE, done);
	EXPECT_EQ(0, detach_pt(self->devfd));
	EXPECT_EQ(0, destroy(self->iommufd, self->ioas));
}

/*
 * DMA to an IOVA that was never mapped, and to one that was mapped and then unmapped (the
 * IOTLB must have been flushed): neither lands in our buffers. The IOMMU reports DMAR faults.
 */
TEST_F(edu, dma_unmapped)
{
	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->src, BUF_SIZE, IOVA_SRC));
	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->dst, BUF_SIZE, IOVA_DST));
	ASSERT_EQ(0, edu_dma(self->bar, IOVA_SRC, EDU_BUF, EDU_XFER, 0));

	/* Never mapped. */
	ASSERT_EQ(0, edu_dma(self->bar, EDU_BUF, IOVA_HOLE, EDU_XFER, EDU_DMA_TO_RAM));
	EXPECT_TRUE(all_bytes(self->dst, BUF_SIZE, 0xee));

	/* Mapped, used once (IOTLB warm), unmapped: the second DMA must not land. */
	ASSERT_EQ(0, edu_dma(self->bar, EDU_BUF, IOVA_DST, EDU_XFER, EDU_DMA_TO_RAM));
	EXPECT_EQ(0, memcmp(self->dst, self->src, EDU_XFER));
	memset(self->dst, 0xee, BUF_SIZE);
	EXPECT_EQ(0, unmap(self->iommufd, self->ioas, IOVA_DST, BUF_SIZE, NULL));
	ASSERT_EQ(0, edu_dma(self->bar, EDU_BUF, IOVA_DST, EDU_XFER, EDU_DMA_TO_RAM));
	EXPECT_TRUE(all_bytes(self->dst, BUF_SIZE, 0xee));
	for (size_t i = 0; i < BUF_SIZE; i++)
		if (self->src[i] != (uint8_t)(i * 7 + i / PAGE)) {
			EXPECT_EQ(0, (int)i); /* src was only read by the device */
			break;
		}

	EXPECT_EQ(0, unmap(self->iommufd, self->ioas, IOVA_SRC, BUF_SIZE, NULL));
	EXPECT_EQ(0, detach_pt(self->devfd));
}

/* Detached from the IOAS and the IOAS gone: the device file still closes cleanly. */
TEST_F(edu, detach_then_close)
{
	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->dst, BUF_SIZE, IOVA_DST));
	/* The IOAS has a device attached: it cannot go. */
	EXPECT_EQ(-EBUSY, destroy(self->iommufd, self->ioas));
	EXPECT_EQ(0, detach_pt(self->devfd));
	EXPECT_EQ(0, destroy(self->iommufd, self->ioas));
	EXPECT_EQ(0x010000ed, rd(self->bar, EDU_ID));
}

/* A VT-d register the Intel IOMMU driver exports in sysfs (hex), of the unit behind @bdf. */
static int vtd_reg(const char *bdf, const char *name, uint64_t *val)
{
	char path[PATH_MAX], buf[32] = {};
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/iommu/intel-iommu/%s", bdf, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	*val = strtoull(buf, NULL, 16);
	return 0;
}

#define VTD_ECAP_SMTS (1ULL << 43) /* scalable mode */
#define VTD_ECAP_SLADS (1ULL << 45) /* second-stage accessed/dirty */
#define VTD_ECAP_NEST (1ULL << 26) /* nested translation */

enum iommu_kind { IOMMU_VTD, IOMMU_SMMUV3, IOMMU_OTHER };

/*
 * The IOMMU behind @bdf, from sysfs: the Intel driver gives its units an intel-iommu/ folder;
 * arm-smmu-v3 names its units "smmu3.<address>" (iommu_device_sysfs_add in 6.12).
 */
static enum iommu_kind iommu_kind(const char *bdf)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/iommu/intel-iommu", bdf);
	if (!access(path, F_OK))
		return IOMMU_VTD;
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/iommu", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = 0;
		if (!strncmp(basename(target), "smmu3.", 6))
			return IOMMU_SMMUV3;
	}
	return IOMMU_OTHER;
}

/*
 * The IOMMU driver through iommufd, VT-d or SMMUv3, whichever is behind edu.
 *
 * VT-d: IOMMU_GET_HW_INFO reports the unit's own CAP and ECAP registers (as its sysfs files
 * show them), and IOMMU_HWPT_ALLOC gets the driver's answer for what this unit supports: a
 * nesting parent needs scalable mode and NEST, dirty tracking needs scalable mode and SLADS,
 * else EOPNOTSUPP.
 * SMMUv3 (6.12): the driver has no hw_info, so GET_HW_INFO answers type NONE with no data; it
 * has no nesting (a nesting parent is EOPNOTSUPP); dirty tracking needs the unit's HTTU (the
 * IOMMU_HW_CAP_DIRTY_TRACKING capability; QEMU's SMMUv3 has none), else iommufd's EOPNOTSUPP.
 * Both: a nested (VTD_S1) page table on a parent that is not a nesting parent is iommufd's
 * EINVAL. A plain paging HWPT is a real domain: edu DMA goes through it, and replacing it
 * with the IOAS's automatic domain keeps working.
 */
TEST_F(edu, hw_info_and_hwpt_alloc)
{
	struct iommu_hw_info_vtd vtd = {};
	struct iommu_hw_info info = {
		.size = sizeof(info), .dev_id = self->devid,
		.data_len = sizeof(vtd), .data_uptr = (uintptr_t)&vtd,
	};
	struct iommu_hwpt_vtd_s1 s1 = { .pgtbl_addr = 0, .addr_width = 48 };
	enum iommu_kind kind = iommu_kind(self->bdf);
	uint64_t cap, ecap;
	uint32_t hwpt, nested;
	bool sm, nest, dirty;
	int expect;

	ASSERT_NE(IOMMU_OTHER, kind);
	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_GET_HW_INFO, &info));
	if (kind == IOMMU_VTD) {
		ASSERT_EQ(0, vtd_reg(self->bdf, "cap", &cap));
		ASSERT_EQ(0, vtd_reg(self->bdf, "ecap", &ecap));
		ASSERT_EQ(IOMMU_HW_INFO_TYPE_INTEL_VTD, info.out_data_type);
		EXPECT_EQ(sizeof(vtd), info.data_len);
		EXPECT_EQ(cap, vtd.cap_reg);
		EXPECT_EQ(ecap, vtd.ecap_reg);
		sm = ecap & VTD_ECAP_SMTS;
		nest = sm && (ecap & VTD_ECAP_NEST);
		dirty = sm && (ecap & VTD_ECAP_SLADS);
		TH_LOG("VT-d cap %#llx ecap %#llx: scalable %d nest %d dirty %d capabilities %#llx",
		       (unsigned long long)cap, (unsigned long long)ecap, sm, nest, dirty,
		       (unsigned long long)info.out_capabilities);
		if (!dirty)
			EXPECT_EQ(0, info.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING);
	} else {
		EXPECT_EQ(IOMMU_HW_INFO_TYPE_NONE, info.out_data_type);
		EXPECT_EQ(0, info.data_len);
		nest = false;
		dirty = info.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING;
		TH_LOG("SMMUv3: hw_info type %u len %u, capabilities %#llx: dirty %d",
		       info.out_data_type, info.data_len,
		       (unsigned long long)info.out_capabilities, dirty);
	}

	expect = nest ? 0 : -EOPNOTSUPP;
	hwpt = 0;
	EXPECT_EQ(expect, hwpt_alloc(self->iommufd, self->devid, self->ioas,
				     IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0, &hwpt));
	if (!expect)
		EXPECT_EQ(0, destroy(self->iommufd, hwpt));
	expect = dirty ? 0 : -EOPNOTSUPP;
	EXPECT_EQ(expect, hwpt_alloc(self->iommufd, self->devid, self->ioas,
				     IOMMU_HWPT_ALLOC_DIRTY_TRACKING, 0, NULL, 0, &hwpt));
	if (!expect)
		EXPECT_EQ(0, destroy(self->iommufd, hwpt));

	/* A plain paging HWPT on the IOAS, attached in place of the automatic domain. */
	ASSERT_EQ(0, hwpt_alloc(self->iommufd, self->devid, self->ioas, 0, 0, NULL, 0, &hwpt));
	/* Nested on a parent that is not a nesting parent: iommufd refuses it, EINVAL. */
	EXPECT_EQ(-EINVAL,
		  hwpt_alloc(self->iommufd, self->devid, hwpt, 0, IOMMU_HWPT_DATA_VTD_S1, &s1,
			     sizeof(s1), &nested));
	ASSERT_EQ(0, attach_pt(self->devfd, hwpt));
	EXPECT_EQ(-EBUSY, destroy(self->iommufd, hwpt));
	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->src, BUF_SIZE, IOVA_SRC));
	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->dst, BUF_SIZE, IOVA_DST));
	ASSERT_EQ(0, edu_copy(self->bar, IOVA_SRC + PAGE, IOVA_DST + 3 * PAGE, PAGE));
	EXPECT_EQ(0, memcmp(self->dst + 3 * PAGE, self->src + PAGE, PAGE));
	EXPECT_TRUE(all_bytes(self->dst, 3 * PAGE, 0xee));

	/* Back to the IOAS (an automatic domain): the mappings follow, the HWPT is free. */
	ASSERT_EQ(0, attach_pt(self->devfd, self->ioas));
	EXPECT_EQ(0, destroy(self->iommufd, hwpt));
	ASSERT_EQ(0, edu_copy(self->bar, IOVA_SRC + 2 * PAGE, IOVA_DST, PAGE));
	EXPECT_EQ(0, memcmp(self->dst, self->src + 2 * PAGE, PAGE));
	EXPECT_EQ(0, unmap(self->iommufd, self->ioas, IOVA_SRC, BUF_SIZE, NULL));
	EXPECT_EQ(0, unmap(self->iommufd, self->ioas, IOVA_DST, BUF_SIZE, NULL));
	EXPECT_EQ(0, detach_pt(self->devfd));
}

#define VTD_ECAP_PASID (1ULL << 40) /* requests with PASID */

/* IOMMU_TEST_CMD on @fd; 0 or -errno. */
static int test_cmd(int fd, struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(fd, IOMMU_TEST_CMD, cmd) ? -errno : 0;
}

/*
 * The PASID attach kind on real VT-d, in whichever mode the pci boot gave the Intel IOMMU
 * (legacy; x-scalable-mode; x-scalable-mode + x-pasid-mode), and on the SMMUv3 (plan arm64),
 * whose 6.12 driver could serve a PASID with a stage-1 domain. No emulated PCI device has a PASID
 * capability, so edu has no PASIDs in any mode: a PASID-compatible HWPT cannot be allocated for
 * it (EOPNOTSUPP, as for the C module, to which the flag is unknown), and a PASID attach, which
 * 6.12's vfio cannot ask for, goes through our kAPI by IOMMU_TEST_OP_RS_DEV_PASID_ATTACH and
 * ends at the "device has no PASID" refusal (EINVAL) instead of the iommu core's silent 0. A
 * module without the PASID kind (C) answers the op EOPNOTSUPP. The RID still works after it.
 */
TEST_F(edu, pasid_refused)
{
	struct iommu_test_cmd probe = {
		.op = IOMMU_TEST_OP_PASID_CHECK_HWPT, .id = 0,
	};
	struct iommu_test_cmd att = {
		.op = IOMMU_TEST_OP_RS_DEV_PASID_ATTACH, .id = self->devid,
	};
	struct iommu_test_cmd det = {
		.op = IOMMU_TEST_OP_RS_DEV_PASID_DETACH, .id = self->devid,
	};
	uint64_t ecap;
	uint32_t hwpt, pasid_hwpt;
	bool has_pasid_kind;
	int rc;

	rc = test_cmd(self->iommufd, &probe);
	has_pasid_kind = rc != -EOPNOTSUPP;
	if (iommu_kind(self->bdf) == IOMMU_VTD) {
		ASSERT_EQ(0, vtd_reg(self->bdf, "ecap", &ecap));
		TH_LOG("VT-d ecap %#llx: scalable %d, PASID %d; this iommufd.ko has the PASID kind: %d",
		       (unsigned long long)ecap, !!(ecap & VTD_ECAP_SMTS), !!(ecap & VTD_ECAP_PASID),
		       has_pasid_kind);
	} else {
		TH_LOG("%s: this iommufd.ko has the PASID kind: %d",
		       iommu_kind(self->bdf) == IOMMU_SMMUV3 ? "SMMUv3" : "unknown IOMMU",
		       has_pasid_kind);
	}

	EXPECT_EQ(-EOPNOTSUPP, hwpt_alloc(self->iommufd, self->devid, self->ioas,
					  IOMMU_HWPT_ALLOC_PASID, 0, NULL, 0, &pasid_hwpt));
	ASSERT_EQ(0, hwpt_alloc(self->iommufd, self->devid, self->ioas, 0, 0, NULL, 0, &hwpt));
	att.pasid_attach.pasid = 1;
	att.pasid_attach.pt_id = hwpt;
	EXPECT_EQ(has_pasid_kind ? -EINVAL : -EOPNOTSUPP, test_cmd(self->iommufd, &att));
	/* Not even an IOAS or a bogus PASID gets further on a device without PASIDs. */
	att.pasid_attach.pt_id = self->ioas;
	EXPECT_EQ(has_pasid_kind ? -EINVAL : -EOPNOTSUPP, test_cmd(self->iommufd, &att));
	det.pasid_detach.pasid = 1;
	EXPECT_EQ(has_pasid_kind ? 0 : -EOPNOTSUPP, test_cmd(self->iommufd, &det));
	/* Nothing was taken: the HWPT can go, and the RID still carries DMA. */
	EXPECT_EQ(0, destroy(self->iommufd, hwpt));
	ASSERT_EQ(0, attach_pt(self->devfd, self->ioas));
	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->src, BUF_SIZE, IOVA_SRC));
	ASSERT_EQ(0, map_fixed(self->iommufd, self->ioas, self->dst, BUF_SIZE, IOVA_DST));
	ASSERT_EQ(0, edu_copy(self->bar, IOVA_SRC, IOVA_DST, PAGE));
	EXPECT_EQ(0, memcmp(self->dst, self->src, PAGE));
	EXPECT_EQ(0, unmap(self->iommufd, self->ioas, IOVA_SRC, BUF_SIZE, NULL));
	EXPECT_EQ(0, unmap(self->iommufd, self->ioas, IOVA_DST, BUF_SIZE, NULL));
	EXPECT_EQ(0, detach_pt(self->devfd));
}

/*
 * What QEMU and DPDK do without the cdev: edu's VFIO group on /dev/vfio/vfio (the type1
 * container that iommufd emulates), VFIO_SET_IOMMU type1v2, VFIO_GROUP_GET_DEVICE_FD, and DMA
 * through VFIO_IOMMU_MAP_DMA mappings. A read-only mapping can be read by the device; after
 * VFIO_IOMMU_UNMAP_DMA a DMA to the IOVA lands nowhere.
 */
TEST(edu_legacy_container)
{
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	int container, group, devfd, gnum;
	volatile uint32_t *bar;
	uint8_t *src, *dst;
	char bdf[64], path[PATH_MAX];
	size_t bar_size;
	uint64_t done;

	if (find_edu(bdf, sizeof(bdf)))
		SKIP(return, "no edu device (%04x:%04x) on " PCI_DEVICES, EDU_VENDOR, EDU_DEVICE);
	ASSERT_EQ(0, bind_vfio_pci(bdf));
	gnum = group_of(bdf);
	ASSERT_LE(0, gnum);
	snprintf(path, sizeof(path), "/dev/vfio/%d", gnum);

	ASSERT_EQ(0, vfio_legacy_open(path, &container, &group));
	ASSERT_EQ(0, ioctl(container, VFIO_IOMMU_GET_INFO, &info));
	EXPECT_TRUE(info.flags & VFIO_IOMMU_INFO_PGSIZES);
	EXPECT_TRUE(info.iova_pgsizes & PAGE); /* VT-d, and SMMUv3 with 4 KiB pages, map 4 KiB */

	devfd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	ASSERT_LE(0, devfd);
	bar = edu_enable(_metadata, devfd, &bar_size);
	EXPECT_EQ(0x010000ed, rd(bar, EDU_ID));

	src = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	ASSERT_NE(MAP_FAILED, dst);
	for (size_t i = 0; i < BUF_SIZE; i++)
		src[i] = (uint8_t)(i * 5 + 1);
	memset(dst, 0xee, BUF_SIZE);

	ASSERT_EQ(0, vfio_map_dma(container, src, IOVA_SRC, BUF_SIZE, VFIO_DMA_MAP_FLAG_READ));
	ASSERT_EQ(0, vfio_map_dma(container, dst, IOVA_DST, BUF_SIZE,
			     VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
	/* The same IOVA twice: type1 says EEXIST. */
	EXPECT_EQ(-EEXIST, vfio_map_dma(container, dst, IOVA_DST, PAGE, VFIO_DMA_MAP_FLAG_READ));
	ASSERT_EQ(0, edu_copy(bar, IOVA_SRC + PAGE, IOVA_DST + 2 * PAGE, PAGE));
	EXPECT_EQ(0, memcmp(dst + 2 * PAGE, src + PAGE, PAGE));
	EXPECT_TRUE(all_bytes(dst, 2 * PAGE, 0xee));
	EXPECT_TRUE(all_bytes(dst + 3 * PAGE, PAGE, 0xee));

	/* Unmapped: the next DMA to the page just written (IOTLB warm) lands nowhere. */
	ASSERT_EQ(0, edu_dma(bar, IOVA_SRC, EDU_BUF, EDU_XFER, 0));
	EXPECT_EQ(0, vfio_unmap_dma(container, IOVA_DST, BUF_SIZE, 0, &done));
	EXPECT_EQ(BUF_SIZE, done);
	memset(dst, 0xee, BUF_SIZE);
	ASSERT_EQ(0, edu_dma(bar, EDU_BUF, IOVA_DST + 2 * PAGE, EDU_XFER, EDU_DMA_TO_RAM));
	EXPECT_TRUE(all_bytes(dst, BUF_SIZE, 0xee));
	EXPECT_EQ(0, vfio_unmap_dma(container, IOVA_SRC, BUF_SIZE, 0, &done));
	EXPECT_EQ(BUF_SIZE, done);

	munmap((void *)bar, bar_size);
	EXPECT_EQ(0, close(devfd));
	EXPECT_EQ(0, ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
	EXPECT_EQ(0, close(group));
	EXPECT_EQ(0, close(container));
	munmap(src, BUF_SIZE);
	munmap(dst, BUF_SIZE);
	unbind_vfio_pci(bdf);
}

TEST_HARNESS_MAIN
