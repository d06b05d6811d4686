// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: the PASID attach kind (a HW page table on one PASID of a device), through the
 * selftest's mock IOMMU and the later test uAPI's PASID ops (IOMMU_TEST_OP_PASID_ATTACH,
 * _REPLACE, _DETACH and _CHECK_HWPT, which asks both the iommu core and the mock driver what
 * a PASID is on) plus our IOMMU_TEST_OP_RS_PASID_ASSIGN:
 *  - attach, replace (and its rollback: the mock driver fails a replace on PASID 1024),
 *    detach and assign, with IOMMU_HWPT_ALLOC_PASID HWPTs, paging and nested, and an IOPF
 *    delivered on a PASID;
 *  - every refusal with its errno: the PASID range, a device without PASID support, unknown
 *    IDs, an IOAS or another object as the page table, a HWPT that is not PASID-compatible, a
 *    second attach, and the RID lockout both ways (a RID on a HWPT that is not
 *    PASID-compatible keeps PASIDs out, and attached PASIDs keep the RID off such a HWPT);
 *  - what is held and what is left: a HWPT on a PASID cannot be destroyed; destroying the
 *    device or closing the file detaches every PASID, leaving no reference, no pin and no
 *    assigned PASID behind;
 *  - attach/replace/detach of different PASIDs of one device from several threads;
 *  - fault injection (fail-nth, as iommufd_fail_nth) over attach, replace, assign and
 *    detach+reattach: a failed op leaves the state it found and works when retried.
 *
 * The C iommufd.ko of 6.12 has no PASID attach: every case SKIPs on a module that answers
 * IOMMU_TEST_OP_PASID_CHECK_HWPT with EOPNOTSUPP.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "kselftest_harness.h"
#include "iommufd_test.h"
#include "rs_utils.h"

#define PAGE 4096UL
#define NPAGES 16
#define BASE (1UL << 24)
/* The mock's PASID space: PASIDs 1 .. MAX_PASID - 1 (GET_HW_INFO: MOCK_PASID_WIDTH bits). */
#define MAX_PASID (1U << MOCK_PASID_WIDTH)
/* The mock driver's PASID whose set_dev_pasid fails (ENOMEM) going from one domain to another. */
#define PASID_REPLACE_FAILS 1024
/* No object has this ID. */
#define NO_ID 1000000
/* A fault-injection sweep that goes past this many sites is stuck. */
#define MAX_SITES 1000
#define DEBUGFS "/sys/kernel/debug"

static int test_cmd(int fd, struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(fd, IOMMU_TEST_CMD, cmd) ? -errno : 0;
}

/* A mock device (MOCK_DOMAIN_FLAGS, MOCK_FLAGS_DEVICE_* @dev_flags), its RID attached to @pt. */
static int mock_dev(int fd, uint32_t pt, uint32_t dev_flags, uint32_t *stdev, uint32_t *hwpt,
		    uint32_t *idev)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
		.id = pt,
		.mock_domain_flags = { .dev_flags = dev_flags },
	};
	int rc = test_cmd(fd, &cmd);

	if (stdev)
		*stdev = cmd.mock_domain_flags.out_stdev_id;
	if (hwpt)
		*hwpt = cmd.mock_domain_flags.out_hwpt_id;
	if (idev)
		*idev = cmd.mock_domain_flags.out_idev_id;
	return rc;
}

/* The RID of @stdev to @pt (MOCK_DOMAIN_REPLACE). */
static int rid_replace(int fd, uint32_t stdev, uint32_t pt)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
		.id = stdev,
		.mock_domain_replace = { .pt_id = pt },
	};

	return test_cmd(fd, &cmd);
}

/* PASID_ATTACH; -EPROTO if it succeeds without writing @pt back. */
static int cmd_pasid_attach(int fd, uint32_t stdev, uint32_t pasid, uint32_t pt)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_PASID_ATTACH,
		.id = stdev,
		.pasid_attach = { .pasid = pasid, .pt_id = pt },
	};
	int rc = test_cmd(fd, &cmd);

	if (!rc && cmd.pasid_attach.pt_id != pt)
		return -EPROTO;
	return rc;
}

static int cmd_pasid_replace(int fd, uint32_t stdev, uint32_t pasid, uint32_t pt)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_PASID_REPLACE,
		.id = stdev,
		.pasid_replace = { .pasid = pasid, .pt_id = pt },
	};

	return test_cmd(fd, &cmd);
}

static int cmd_pasid_detach(int fd, uint32_t stdev, uint32_t pasid)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_PASID_DETACH,
		.id = stdev,
		.pasid_detach = { .pasid = pasid },
	};

	return test_cmd(fd, &cmd);
}

/* 0 if @pasid of @stdev is on @hwpt (0: on nothing), in the iommu core and the mock driver. */
static int cmd_pasid_check(int fd, uint32_t stdev, uint32_t pasid, uint32_t hwpt)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_PASID_CHECK_HWPT,
		.id = stdev,
		.pasid_check = { .pasid = pasid, .hwpt_id = hwpt },
	};

	return test_cmd(fd, &cmd);
}

/* RS_PASID_ASSIGN: @pt on a PASID taken from the global PASID space, returned in *@pasid. */
static int cmd_pasid_assign(int fd, uint32_t stdev, uint32_t pt, uint32_t *pasid)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_RS_PASID_ASSIGN,
		.id = stdev,
		.pasid_assign = { .pt_id = pt },
	};
	int rc = test_cmd(fd, &cmd);

	*pasid = cmd.pasid_assign.out_pasid;
	return rc;
}

/* IOMMU_GET_HW_INFO of @idev: its PASID width. */
static int pasid_log2(int fd, uint32_t idev, unsigned int *log2)
{
	struct iommu_test_hw_info info;
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = idev,
		.data_len = sizeof(info),
		.data_uptr = (uintptr_t)&info,
	};
	int rc = ioctl(fd, IOMMU_GET_HW_INFO, &cmd);

	*log2 = cmd.out_max_pasid_log2;
	return rc ? -errno : 0;
}

/* A nested mock HWPT on @parent; with @fault_id if IOMMU_HWPT_FAULT_ID_VALID is in @flags. */
static int hwpt_nested(int fd, uint32_t idev, uint32_t parent, uint32_t flags,
		       uint32_t fault_id, uint32_t *out)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = idev,
		.pt_id = parent,
		.data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
		.fault_id = fault_id,
	};
	int rc = ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);

	*out = cmd.out_hwpt_id;
	return rc ? -errno : 0;
}

static int fault_alloc(int fd, uint32_t *id, int *fault_fd)
{
	struct iommu_fault_alloc cmd = { .size = sizeof(cmd) };
	int rc = ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd);

	*id = cmd.out_fault_id;
	*fault_fd = cmd.out_fault_fd;
	return rc ? -errno : 0;
}

static int trigger_iopf(int fd, uint32_t idev, uint32_t pasid, uint32_t grpid, uint32_t perm,
			uint64_t addr)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_TRIGGER_IOPF,
		.trigger_iopf = {
			.dev_id = idev, .pasid = pasid, .grpid = grpid, .perm = perm, .addr = addr,
		},
	};

	return test_cmd(fd, &cmd);
}

/* 1 if @fd becomes readable within @ms, 0 if not. */
static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int rc = poll(&p, 1, ms);

	if (rc < 0)
		return -errno;
	return rc == 1 && (p.revents & POLLIN);
}

/*
 * A PASID-capable mock device on @ioas, its RID moved from the automatic domain (not
 * PASID-compatible) to a new PASID-compatible HWPT, *@rid_hwpt, so its PASIDs can be attached.
 */
static int pasid_dev(int fd, uint32_t ioas, uint32_t *stdev, uint32_t *idev, uint32_t *rid_hwpt)
{
	int rc = mock_dev(fd, ioas, MOCK_FLAGS_DEVICE_PASID, stdev, NULL, idev);

	if (!rc)
		rc = hwpt_alloc(fd, *idev, ioas, IOMMU_HWPT_ALLOC_PASID, 0, NULL, 0, rid_hwpt);
	if (!rc)
		rc = rid_replace(fd, *stdev, *rid_hwpt);
	return rc;
}

FIXTURE(pasid)
{
	int fd;
	uint32_t ioas;
	void *buf;
	long vmpin0;
	/* The PASID-capable device; its RID is on rid_hwpt. */
	uint32_t stdev, idev, rid_hwpt;
	/* A device without PASID support, its RID on the IOAS's automatic domain np_hwpt. */
	uint32_t np_stdev, np_idev, np_hwpt;
	/* Paging HWPTs on the IOAS: two PASID-compatible, one not. */
	uint32_t a, b, nc;
	/* The fault-injection sweeps' state. */
	uint32_t p0, assigned;
	int detach_rc;
};

FIXTURE_SETUP(pasid)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	/* Decided by what the module answers, before anything PASID-only is asked. */
	if (cmd_pasid_check(self->fd, NO_ID, 1, 0) == -EOPNOTSUPP)
		SKIP(return, "no PASID support in this iommufd.ko (PASID_CHECK_HWPT: EOPNOTSUPP)");
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	self->buf = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 0x5a, NPAGES * PAGE);
	self->vmpin0 = status_kb("VmPin:");
	ASSERT_LE(0, self->vmpin0);
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, NPAGES * PAGE, BASE));
	ASSERT_EQ(0, mock_dev(self->fd, self->ioas, 0, &self->np_stdev, &self->np_hwpt,
			      &self->np_idev));
	ASSERT_EQ(0, pasid_dev(self->fd, self->ioas, &self->stdev, &self->idev, &self->rid_hwpt));
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev, self->ioas, IOMMU_HWPT_ALLOC_PASID, 0, NULL,
				0, &self->a));
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev, self->ioas, IOMMU_HWPT_ALLOC_PASID, 0, NULL,
				0, &self->b));
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev, self->ioas, 0, 0, NULL, 0, &self->nc));
	ASSERT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 1));
}

FIXTURE_TEARDOWN(pasid)
{
	if (self->fd >= 0)
		close(self->fd);
	munmap(self->buf, NPAGES * PAGE);
}

/* GET_HW_INFO: the PASID device has MOCK_PASID_WIDTH bits of PASID, the other none. */
TEST_F(pasid, hw_info)
{
	unsigned int log2 = 99;

	ASSERT_EQ(0, pasid_log2(self->fd, self->idev, &log2));
	ASSERT_EQ(MOCK_PASID_WIDTH, log2);
	ASSERT_EQ(0, pasid_log2(self->fd, self->np_idev, &log2));
	ASSERT_EQ(0, log2);
}

/* Two PASIDs on two HWPTs: CHECK_HWPT sees each on its own, and only there. */
TEST_F(pasid, attach_two)
{
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, 0));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 200, self->b));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 200, self->b));
	ASSERT_EQ(-EINVAL, cmd_pasid_check(self->fd, self->stdev, 100, self->b));
	ASSERT_EQ(-EINVAL, cmd_pasid_check(self->fd, self->stdev, 200, self->a));
	/* Attached: "on nothing" is wrong; so is the RID's HWPT. */
	ASSERT_EQ(-EINVAL, cmd_pasid_check(self->fd, self->stdev, 100, 0));
	ASSERT_EQ(-EINVAL, cmd_pasid_check(self->fd, self->stdev, 100, self->rid_hwpt));
	/* A PASID next to them has nothing. */
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 300, 0));
	ASSERT_EQ(-EINVAL, cmd_pasid_check(self->fd, self->stdev, 300, self->a));
	/* CHECK_HWPT's own errors: no such object, not a HWPT. */
	ASSERT_EQ(-ENOENT, cmd_pasid_check(self->fd, self->stdev, 100, NO_ID));
	ASSERT_EQ(-EINVAL, cmd_pasid_check(self->fd, self->stdev, 100, self->ioas));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 100));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 200));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, 0));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 200, 0));
}

/* Replace moves the PASID and its HWPT reference; refusals leave it where it was. */
TEST_F(pasid, replace)
{
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_replace(self->fd, self->stdev, 100, self->b));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, self->b));
	/* To the HWPT it is on: nothing to do. */
	ASSERT_EQ(0, cmd_pasid_replace(self->fd, self->stdev, 100, self->b));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, self->b));
	ASSERT_EQ(-EINVAL, cmd_pasid_replace(self->fd, self->stdev, 100, self->nc));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, self->b));
	ASSERT_EQ(-EINVAL, cmd_pasid_replace(self->fd, self->stdev, 100, self->ioas));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, self->b));
	/* Replace does not attach. */
	ASSERT_EQ(-EINVAL, cmd_pasid_replace(self->fd, self->stdev, 200, self->a));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 200, 0));
	/* A was left for B: it holds no reference for the PASID any more. */
	ASSERT_EQ(0, destroy(self->fd, self->a));
	ASSERT_EQ(-EBUSY, destroy(self->fd, self->b));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 100));
	ASSERT_EQ(0, destroy(self->fd, self->b));
}

/*
 * The mock driver cannot move PASID 1024 straight to another domain: the replace fails with
 * ENOMEM and the old HWPT is on it again, in the iommu core and the driver, still detachable;
 * the same replace on other PASIDs works. References stay balanced: once all is detached,
 * both HWPTs can go.
 */
TEST_F(pasid, replace_rollback)
{
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 200, self->a));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, PASID_REPLACE_FAILS, self->a));
	ASSERT_EQ(0, cmd_pasid_replace(self->fd, self->stdev, 100, self->b));
	ASSERT_EQ(0, cmd_pasid_replace(self->fd, self->stdev, 200, self->b));
	ASSERT_EQ(-ENOMEM, cmd_pasid_replace(self->fd, self->stdev, PASID_REPLACE_FAILS, self->b));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, PASID_REPLACE_FAILS, self->a));
	ASSERT_EQ(-EINVAL, cmd_pasid_check(self->fd, self->stdev, PASID_REPLACE_FAILS, self->b));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, self->b));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 200, self->b));
	/* A is held by PASID 1024 only. */
	ASSERT_EQ(-EBUSY, destroy(self->fd, self->a));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, PASID_REPLACE_FAILS));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, PASID_REPLACE_FAILS, 0));
	ASSERT_EQ(0, destroy(self->fd, self->a));
	ASSERT_EQ(-EBUSY, destroy(self->fd, self->b));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 100));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 200));
	ASSERT_EQ(0, destroy(self->fd, self->b));
}

/* Detach leaves nothing on the PASID, is 0 with nothing attached, and frees it for another. */
TEST_F(pasid, detach)
{
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 100));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, 0));
	ASSERT_EQ(-EINVAL, cmd_pasid_check(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 100));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 300));
	ASSERT_EQ(0, destroy(self->fd, self->a));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 100, self->b));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, self->b));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 100));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, 0));
	ASSERT_EQ(0, destroy(self->fd, self->b));
}

/*
 * Nested HWPTs: one allocated with IOMMU_HWPT_ALLOC_PASID serves a PASID (its parent is not
 * the PASID's HWPT, and both are held); one without the flag does not. A NEST_PARENT paging
 * HWPT with the flag serves one too.
 */
TEST_F(pasid, nested)
{
	uint32_t parent, nested, nested_nc, parent_pasid;

	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev, self->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0,
				NULL, 0, &parent));
	ASSERT_EQ(0, hwpt_nested(self->fd, self->idev, parent, IOMMU_HWPT_ALLOC_PASID, 0, &nested));
	ASSERT_EQ(0, hwpt_nested(self->fd, self->idev, parent, 0, 0, &nested_nc));
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev, self->ioas,
				IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID, 0, NULL, 0,
				&parent_pasid));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 300, nested));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 300, nested));
	ASSERT_EQ(-EINVAL, cmd_pasid_check(self->fd, self->stdev, 300, parent));
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, 301, nested_nc));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 301, 0));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 302, parent_pasid));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 302, parent_pasid));
	/* Nested to paging and back, on one PASID. */
	ASSERT_EQ(0, cmd_pasid_replace(self->fd, self->stdev, 300, parent_pasid));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 300, parent_pasid));
	ASSERT_EQ(0, cmd_pasid_replace(self->fd, self->stdev, 300, nested));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 300, nested));
	ASSERT_EQ(-EBUSY, destroy(self->fd, nested));
	ASSERT_EQ(-EBUSY, destroy(self->fd, parent));
	ASSERT_EQ(-EBUSY, destroy(self->fd, parent_pasid));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 300));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 302));
	ASSERT_EQ(0, destroy(self->fd, nested));
	ASSERT_EQ(0, destroy(self->fd, nested_nc));
	ASSERT_EQ(0, destroy(self->fd, parent));
	ASSERT_EQ(0, destroy(self->fd, parent_pasid));
}

/*
 * A nested HWPT with a fault object on PASID 400: a page request the mock device makes with
 * that PASID arrives on the fault fd, PASID and all, and takes the response. Once the PASID
 * is detached, requests with it no longer reach the fault object.
 */
TEST_F(pasid, iopf)
{
	const uint32_t perm = IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE;
	struct iommu_hwpt_page_response resp = { .code = IOMMUFD_PAGE_RESP_SUCCESS };
	struct iommu_hwpt_pgfault fault = {};
	uint32_t parent, iopf_hwpt, fault_id;
	int fault_fd;

	ASSERT_EQ(0, fault_alloc(self->fd, &fault_id, &fault_fd));
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->idev, self->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0,
				NULL, 0, &parent));
	ASSERT_EQ(0, hwpt_nested(self->fd, self->idev, parent,
				 IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID, fault_id,
				 &iopf_hwpt));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 400, iopf_hwpt));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 400, iopf_hwpt));
	ASSERT_EQ(0, readable(fault_fd, 0));

	ASSERT_EQ(0, trigger_iopf(self->fd, self->idev, 400, 2, perm, 0xdeadb000));
	ASSERT_EQ(1, readable(fault_fd, 5000));
	ASSERT_EQ(sizeof(fault), read(fault_fd, &fault, sizeof(fault)));
	ASSERT_TRUE(fault.flags & IOMMU_PGFAULT_FLAGS_PASID_VALID);
	ASSERT_EQ(400, fault.pasid);
	ASSERT_EQ(self->idev, fault.dev_id);
	ASSERT_EQ(2, fault.grpid);
	ASSERT_EQ(perm, fault.perm);
	ASSERT_EQ(0xdeadb000, fault.addr);
	resp.cookie = fault.cookie;
	ASSERT_EQ(sizeof(resp), write(fault_fd, &resp, sizeof(resp)));
	ASSERT_EQ(0, readable(fault_fd, 0));
	/* The PASID holds its HWPT. */
	ASSERT_EQ(-EBUSY, destroy(self->fd, iopf_hwpt));

	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 400));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 400, 0));
	/* Whatever the trigger answers now, nothing may reach the fault object. */
	trigger_iopf(self->fd, self->idev, 400, 3, perm, 0xdeadc000);
	ASSERT_EQ(0, readable(fault_fd, 200));
	ASSERT_EQ(0, destroy(self->fd, iopf_hwpt));
	ASSERT_EQ(0, destroy(self->fd, parent));
	ASSERT_EQ(0, close(fault_fd));
	ASSERT_EQ(0, destroy(self->fd, fault_id));
}

/*
 * The RID and the PASIDs must agree. A RID on a HWPT that is not PASID-compatible (the
 * automatic domain right after MOCK_DOMAIN, a manual one, or the automatic domain again after
 * a replace to the IOAS) keeps every PASID out; while a PASID is attached the RID cannot go
 * to such a HWPT, only to a PASID-compatible one. A refused RID replace leaves the RID where
 * it was.
 */
TEST_F(pasid, rid_lockout)
{
	uint32_t stdev2, idev2;

	/* Right after MOCK_DOMAIN: the automatic domain. */
	ASSERT_EQ(0, mock_dev(self->fd, self->ioas, MOCK_FLAGS_DEVICE_PASID, &stdev2, NULL,
			      &idev2));
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, stdev2, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, stdev2, 100, 0));
	ASSERT_EQ(0, rid_replace(self->fd, stdev2, self->b));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, stdev2, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, stdev2, 100, self->a));
	ASSERT_EQ(0, destroy(self->fd, stdev2));

	/* PASIDs attached: the RID cannot take a HWPT that is not PASID-compatible. */
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(-EINVAL, rid_replace(self->fd, self->stdev, self->nc));
	ASSERT_EQ(-EINVAL, rid_replace(self->fd, self->stdev, self->ioas));
	/* Still on rid_hwpt (which only the RID holds), and the PASID still on A. */
	ASSERT_EQ(-EBUSY, destroy(self->fd, self->rid_hwpt));
	ASSERT_EQ(0, destroy(self->fd, self->nc));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, self->a));
	/* A PASID-compatible one is fine, A itself too. */
	ASSERT_EQ(0, rid_replace(self->fd, self->stdev, self->b));
	ASSERT_EQ(0, destroy(self->fd, self->rid_hwpt));
	ASSERT_EQ(0, rid_replace(self->fd, self->stdev, self->a));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 100));

	/* No PASID attached: the RID may go to the automatic domain, which locks PASIDs out. */
	ASSERT_EQ(0, rid_replace(self->fd, self->stdev, self->ioas));
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, 0));
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, 200, self->b));
	ASSERT_EQ(0, rid_replace(self->fd, self->stdev, self->b));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 100));
	ASSERT_EQ(0, destroy(self->fd, self->a));
}

/* Unknown IDs: the selftest device first (ENOENT before the PASID is looked at), then pt_id. */
TEST_F(pasid, attach_unknown_ids)
{
	ASSERT_EQ(-ENOENT, cmd_pasid_attach(self->fd, NO_ID, 100, self->a));
	ASSERT_EQ(-ENOENT, cmd_pasid_attach(self->fd, NO_ID, 0, self->a));
	ASSERT_EQ(-ENOENT, cmd_pasid_attach(self->fd, self->stdev, 100, NO_ID));
	/* The PASID is checked before pt_id is looked up. */
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, 0, NO_ID));
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->np_stdev, 100, NO_ID));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, 0));
}

/* An IOAS is no page table for a PASID (no automatic domain serves one), nor is any object
 * that is not a HWPT. */
TEST_F(pasid, attach_ioas)
{
	uint32_t fault_id;
	int fault_fd;

	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, 100, self->ioas));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, 0));
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, 100, self->idev));
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, 100, self->np_stdev));
	ASSERT_EQ(0, fault_alloc(self->fd, &fault_id, &fault_fd));
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, 100, fault_id));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, 0));
	/* Nothing was taken: the IOAS goes once its HWPTs and devices do. */
	ASSERT_EQ(0, close(fault_fd));
	ASSERT_EQ(0, destroy(self->fd, fault_id));
	ASSERT_EQ(0, destroy(self->fd, self->stdev));
	ASSERT_EQ(0, destroy(self->fd, self->np_stdev));
	ASSERT_EQ(0, destroy(self->fd, self->rid_hwpt));
	ASSERT_EQ(0, destroy(self->fd, self->a));
	ASSERT_EQ(0, destroy(self->fd, self->b));
	ASSERT_EQ(0, destroy(self->fd, self->nc));
	ASSERT_EQ(0, destroy(self->fd, self->ioas));
}

/*
 * A HWPT allocated without IOMMU_HWPT_ALLOC_PASID cannot serve a PASID: a manual one, or an
 * automatic domain (the other device's). The refusal takes no reference.
 */
TEST_F(pasid, attach_non_compat)
{
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, 100, self->nc));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, 0));
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, 100, self->np_hwpt));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, 0));
	ASSERT_EQ(0, destroy(self->fd, self->nc));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 100));
}

/*
 * A second attach on an attached PASID is EBUSY whatever the HWPT (the same, another, one
 * that is not PASID-compatible); an IOAS is still EINVAL, an unknown ID ENOENT. None of them
 * changes the PASID.
 */
TEST_F(pasid, attach_twice)
{
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(-EBUSY, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(-EBUSY, cmd_pasid_attach(self->fd, self->stdev, 100, self->b));
	ASSERT_EQ(-EBUSY, cmd_pasid_attach(self->fd, self->stdev, 100, self->nc));
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, 100, self->ioas));
	ASSERT_EQ(-ENOENT, cmd_pasid_attach(self->fd, self->stdev, 100, NO_ID));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, self->a));
	/* The refused attaches took no reference on B. */
	ASSERT_EQ(0, destroy(self->fd, self->b));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 100));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 100));
	ASSERT_EQ(0, destroy(self->fd, self->a));
}

/* PASIDs are 1 .. 2^20 - 1 on the mock: 0 is the RID's. */
TEST_F(pasid, pasid_range)
{
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, 0, self->a));
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, MAX_PASID, self->a));
	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->stdev, UINT32_MAX, self->a));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, MAX_PASID - 1, self->a));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, MAX_PASID - 1, self->a));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 1, self->b));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 1, self->b));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, MAX_PASID - 1));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 1));
	ASSERT_EQ(0, destroy(self->fd, self->a));
	ASSERT_EQ(0, destroy(self->fd, self->b));
}

/* A device without PASID support: no PASID attach or assign, no PASID-compatible HWPT. */
TEST_F(pasid, no_pasid_device)
{
	uint32_t hwpt = 0, parent, pasid;

	ASSERT_EQ(-EINVAL, cmd_pasid_attach(self->fd, self->np_stdev, 100, self->a));
	ASSERT_EQ(-EINVAL, cmd_pasid_assign(self->fd, self->np_stdev, self->a, &pasid));
	ASSERT_EQ(-EOPNOTSUPP, hwpt_alloc(self->fd, self->np_idev, self->ioas,
					  IOMMU_HWPT_ALLOC_PASID, 0, NULL, 0, &hwpt));
	ASSERT_EQ(-EOPNOTSUPP, hwpt_alloc(self->fd, self->np_idev, self->ioas,
					  IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID, 0,
					  NULL, 0, &hwpt));
	ASSERT_EQ(0, hwpt_alloc(self->fd, self->np_idev, self->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
				0, NULL, 0, &parent));
	ASSERT_EQ(-EOPNOTSUPP, hwpt_nested(self->fd, self->np_idev, parent,
					   IOMMU_HWPT_ALLOC_PASID, 0, &hwpt));
	/* Without the flag the same allocations work. */
	ASSERT_EQ(0, hwpt_nested(self->fd, self->np_idev, parent, 0, 0, &hwpt));
	ASSERT_EQ(0, destroy(self->fd, hwpt));
	ASSERT_EQ(0, destroy(self->fd, parent));
	/* Nothing of A was taken. */
	ASSERT_EQ(0, destroy(self->fd, self->a));
}

/*
 * Assign takes PASIDs from the global PASID space: two assigns give two PASIDs, each on its
 * HWPT; detach gives a PASID back, so the next assign gets it again (the space hands out its
 * lowest free PASID, and nothing else in the guest takes any); so does a failed assign.
 */
TEST_F(pasid, assign)
{
	uint32_t p1, p2, p3, p4;

	ASSERT_EQ(0, cmd_pasid_assign(self->fd, self->stdev, self->a, &p1));
	ASSERT_EQ(0, cmd_pasid_assign(self->fd, self->stdev, self->b, &p2));
	ASSERT_LE(1, p1);
	ASSERT_LE(1, p2);
	ASSERT_GT(MAX_PASID, p1);
	ASSERT_GT(MAX_PASID, p2);
	ASSERT_NE(p1, p2);
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, p1, self->a));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, p2, self->b));
	ASSERT_EQ(-EBUSY, destroy(self->fd, self->a));
	/* An assigned PASID is attached like any other: a second attach is EBUSY. */
	ASSERT_EQ(-EBUSY, cmd_pasid_attach(self->fd, self->stdev, p1, self->a));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, p1));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, p1, 0));
	ASSERT_EQ(0, cmd_pasid_assign(self->fd, self->stdev, self->b, &p3));
	ASSERT_EQ(p1, p3);
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, p3, self->b));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, p3));
	/* A refused assign keeps no PASID. */
	ASSERT_EQ(-EINVAL, cmd_pasid_assign(self->fd, self->stdev, self->nc, &p4));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, p1, 0));
	ASSERT_EQ(0, cmd_pasid_assign(self->fd, self->stdev, self->a, &p4));
	ASSERT_EQ(p1, p4);
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, p4));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, p2));
	ASSERT_EQ(0, destroy(self->fd, self->a));
	ASSERT_EQ(0, destroy(self->fd, self->b));
}

/* A HWPT on PASIDs is held by each of them: EBUSY until the last is detached. */
TEST_F(pasid, hwpt_destroy_busy)
{
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 200, self->a));
	ASSERT_EQ(-EBUSY, destroy(self->fd, self->a));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 100));
	ASSERT_EQ(-EBUSY, destroy(self->fd, self->a));
	ASSERT_EQ(0, cmd_pasid_check(self->fd, self->stdev, 200, self->a));
	ASSERT_EQ(0, cmd_pasid_detach(self->fd, self->stdev, 200));
	ASSERT_EQ(0, destroy(self->fd, self->a));
	ASSERT_EQ(-ENOENT, cmd_pasid_check(self->fd, self->stdev, 100, self->a));
}

/*
 * Destroying the selftest device object (the unbind) with PASIDs attached detaches them all:
 * their HWPTs can go, the assigned PASID is free again, and once the rest is destroyed
 * nothing is pinned.
 */
TEST_F(pasid, destroy_device_attached)
{
	uint32_t p, p2, stdev2, idev2, rid2;

	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 200, self->b));
	ASSERT_EQ(0, cmd_pasid_assign(self->fd, self->stdev, self->a, &p));
	ASSERT_EQ(0, destroy(self->fd, self->stdev));
	ASSERT_EQ(-ENOENT, destroy(self->fd, self->idev));
	ASSERT_EQ(0, destroy(self->fd, self->a));
	ASSERT_EQ(0, destroy(self->fd, self->b));
	ASSERT_EQ(0, destroy(self->fd, self->rid_hwpt));

	ASSERT_EQ(0, pasid_dev(self->fd, self->ioas, &stdev2, &idev2, &rid2));
	ASSERT_EQ(0, cmd_pasid_assign(self->fd, stdev2, rid2, &p2));
	ASSERT_EQ(p, p2);
	ASSERT_EQ(0, destroy(self->fd, stdev2));
	ASSERT_EQ(0, destroy(self->fd, rid2));

	ASSERT_EQ(0, destroy(self->fd, self->nc));
	ASSERT_EQ(0, destroy(self->fd, self->np_stdev));
	ASSERT_EQ(0, check_refs(self->fd, self->buf, NPAGES * PAGE, 0));
	ASSERT_EQ(self->vmpin0, status_kb("VmPin:"));
	ASSERT_EQ(0, destroy(self->fd, self->ioas));
}

/*
 * Closing the file with PASIDs attached (explicitly, assigned, and one after a failed
 * replace) leaves nothing: no page pinned (asked from a new file), VmPin back to its start,
 * the assigned PASID free again.
 */
TEST_F(pasid, close_attached)
{
	uint32_t p, p2, ioas2, stdev2, idev2, rid2;
	int fd2;

	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 100, self->a));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, 200, self->b));
	ASSERT_EQ(0, cmd_pasid_attach(self->fd, self->stdev, PASID_REPLACE_FAILS, self->a));
	ASSERT_EQ(-ENOMEM, cmd_pasid_replace(self->fd, self->stdev, PASID_REPLACE_FAILS, self->b));
	ASSERT_EQ(0, cmd_pasid_assign(self->fd, self->stdev, self->b, &p));
	ASSERT_LT(self->vmpin0, status_kb("VmPin:"));
	close(self->fd);
	self->fd = -1;

	fd2 = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, check_refs(fd2, self->buf, NPAGES * PAGE, 0));
	ASSERT_EQ(self->vmpin0, status_kb("VmPin:"));
	ASSERT_EQ(0, ioas_alloc(fd2, &ioas2));
	ASSERT_EQ(0, pasid_dev(fd2, ioas2, &stdev2, &idev2, &rid2));
	ASSERT_EQ(0, cmd_pasid_assign(fd2, stdev2, rid2, &p2));
	ASSERT_EQ(p, p2);
	close(fd2);
}

struct racer {
	int fd;
	uint32_t stdev, pasid, hwpt[2];
	pthread_barrier_t *start;
	/* The first call that failed: its iteration, what it was, its result. */
	int iter, rc;
	const char *what;
};

#define RACE_ITERS 300
#define RACE_THREADS 4

static void *racer(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->start);
	for (r->iter = 0; r->iter != RACE_ITERS; r->iter++) {
		uint32_t h = r->hwpt[r->iter & 1], other = r->hwpt[!(r->iter & 1)];

#define STEP(call)                      \
	do {                            \
		r->rc = (call);         \
		if (r->rc) {            \
			r->what = #call; \
			return NULL;    \
		}                       \
	} while (0)
		STEP(cmd_pasid_attach(r->fd, r->stdev, r->pasid, h));
		STEP(cmd_pasid_check(r->fd, r->stdev, r->pasid, h));
		STEP(cmd_pasid_replace(r->fd, r->stdev, r->pasid, other));
		STEP(cmd_pasid_check(r->fd, r->stdev, r->pasid, other));
		STEP(cmd_pasid_detach(r->fd, r->stdev, r->pasid));
		STEP(cmd_pasid_check(r->fd, r->stdev, r->pasid, 0));
#undef STEP
	}
	return NULL;
}

/*
 * Threads attach, replace and detach different PASIDs of one device (one group) at once:
 * every call succeeds and sees its own PASID as it left it; at the end nothing is attached
 * and nothing holds the HWPTs.
 */
TEST_F_TIMEOUT(pasid, concurrent, 300)
{
	struct racer r[RACE_THREADS];
	pthread_barrier_t start;
	pthread_t t[RACE_THREADS];
	int i;

	ASSERT_EQ(0, pthread_barrier_init(&start, NULL, RACE_THREADS));
	for (i = 0; i != RACE_THREADS; i++) {
		r[i] = (struct racer){
			.fd = self->fd, .stdev = self->stdev, .pasid = 500 + i,
			.hwpt = { self->a, self->b }, .start = &start,
		};
		ASSERT_EQ(0, pthread_create(&t[i], NULL, racer, &r[i]));
	}
	for (i = 0; i != RACE_THREADS; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	for (i = 0; i != RACE_THREADS; i++) {
		EXPECT_EQ(0, r[i].rc)
			TH_LOG("PASID %u, iteration %d: %s: %d", r[i].pasid, r[i].iter, r[i].what,
			       r[i].rc);
		EXPECT_EQ(RACE_ITERS, r[i].iter);
		EXPECT_EQ(0, cmd_pasid_check(self->fd, self->stdev, r[i].pasid, 0));
	}
	pthread_barrier_destroy(&start);
	ASSERT_EQ(0, destroy(self->fd, self->a));
	ASSERT_EQ(0, destroy(self->fd, self->b));
}

/* Fault injection. */

static int write_file(const char *path, const char *val)
{
	ssize_t len = strlen(val);
	int fd = open(path, O_WRONLY), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != len)
		rc = -EIO;
	close(fd);
	return rc;
}

/*
 * Fault injection set up as iommufd_fail_nth does: every slab allocation may fail (failslab
 * without ignore-gfp-wait, fail_page_alloc too if there is one), and every attribute is quiet
 * (verbose 0: no stack dump in the log). task-filter on fail_iommufd and failslab keeps any
 * probability-driven injection to tasks that ask for it; fail-nth does not look at it. A
 * number written to this thread's fail-nth file then fails the n-th fault-injection site the
 * thread reaches, whichever attribute it belongs to. Returns that file, or -1 and *@why.
 */
static int fail_nth_open(const char **why)
{
	static const char *const need[] = {
		DEBUGFS "/fail_iommufd/task-filter", DEBUGFS "/failslab/task-filter",
		DEBUGFS "/failslab/ignore-gfp-wait",
	};
	static const char *const val[] = { "Y", "Y", "N" };
	struct dirent *de;
	char path[300];
	unsigned int i;
	DIR *d;
	int fd;

	for (i = 0; i != sizeof(need) / sizeof(need[0]); i++) {
		if (write_file(need[i], val[i])) {
			*why = "fault injection unavailable (no " DEBUGFS
			       "/fail_iommufd or failslab: CONFIG_FAULT_INJECTION_DEBUG_FS, "
			       "CONFIG_FAILSLAB, an iommufd.ko with fail_iommufd)";
			return -1;
		}
	}
	write_file(DEBUGFS "/fail_page_alloc/ignore-gfp-wait", "N");
	write_file(DEBUGFS "/fail_page_alloc/ignore-gfp-highmem", "N");
	d = opendir(DEBUGFS);
	if (!d) {
		*why = "no " DEBUGFS;
		return -1;
	}
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "fail", 4))
			continue;
		snprintf(path, sizeof(path), DEBUGFS "/%s/verbose", de->d_name);
		if (!access(path, F_OK) && write_file(path, "0")) {
			closedir(d);
			*why = "cannot quiet fault injection (verbose)";
			return -1;
		}
	}
	closedir(d);
	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth", (long)syscall(SYS_gettid));
	fd = open(path, O_RDWR);
	if (fd < 0)
		*why = "no /proc/self/task/<tid>/fail-nth (CONFIG_FAULT_INJECTION)";
	return fd;
}

/* The n-th fault-injection site this thread reaches from now on fails. */
static int nth_arm(int nthfd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nthfd, buf, len, 0) == len ? 0 : -errno;
}

/*
 * Disarms: 1 if the armed failure happened (the count ran down to 0), 0 if the code in
 * between reached fewer sites. As upstream: a read that faults counts as not reached.
 */
static int nth_disarm(int nthfd)
{
	char buf[16] = "";
	ssize_t res = pread(nthfd, buf, sizeof(buf) - 1, 0);

	if (res < 0 && errno == EFAULT)
		strcpy(buf, "1\n");
	else if (res < 2)
		return -EIO;
	if (pwrite(nthfd, "0", 1, 0) != 1 && pwrite(nthfd, "0", 1, 0) != 1)
		return -EIO;
	return !strcmp(buf, "0\n");
}

typedef FIXTURE_DATA(pasid) pasid_t;

/*
 * One op of a sweep and the states around it. Each check returns 0 if the state is the one
 * named. @failed is the state a failed @op must leave (@before, but for detach+reattach,
 * whose detach cannot fail); @undo goes from @after back to @before.
 */
struct sweep {
	const char *name;
	int (*op)(pasid_t *self);
	int (*before)(pasid_t *self);
	int (*failed)(pasid_t *self);
	int (*after)(pasid_t *self);
	int (*undo)(pasid_t *self);
};

#define SWEEP_PASID 100

static int on_nothing(pasid_t *self)
{
	return cmd_pasid_check(self->fd, self->stdev, SWEEP_PASID, 0);
}

static int on_a(pasid_t *self)
{
	return cmd_pasid_check(self->fd, self->stdev, SWEEP_PASID, self->a);
}

static int on_b(pasid_t *self)
{
	return cmd_pasid_check(self->fd, self->stdev, SWEEP_PASID, self->b);
}

static int attach_a(pasid_t *self)
{
	return cmd_pasid_attach(self->fd, self->stdev, SWEEP_PASID, self->a);
}

static int detach(pasid_t *self)
{
	return cmd_pasid_detach(self->fd, self->stdev, SWEEP_PASID);
}

static int replace_b(pasid_t *self)
{
	return cmd_pasid_replace(self->fd, self->stdev, SWEEP_PASID, self->b);
}

static int replace_a(pasid_t *self)
{
	return cmd_pasid_replace(self->fd, self->stdev, SWEEP_PASID, self->a);
}

/* Assign: p0 is the PASID the global space hands out (found before the sweep). */
static int assign_a(pasid_t *self)
{
	return cmd_pasid_assign(self->fd, self->stdev, self->a, &self->assigned);
}

static int p0_free(pasid_t *self)
{
	return cmd_pasid_check(self->fd, self->stdev, self->p0, 0);
}

static int p0_on_a(pasid_t *self)
{
	if (self->assigned != self->p0)
		return -EPROTO;
	return cmd_pasid_check(self->fd, self->stdev, self->p0, self->a);
}

static int detach_p0(pasid_t *self)
{
	return cmd_pasid_detach(self->fd, self->stdev, self->p0);
}

/*
 * Detach+reattach. The detach itself cannot fail; only the test op's lookup of the selftest
 * device can (ENOENT, fault injection in the object lookup, as upstream's), and then nothing
 * has changed.
 */
static int reattach_a(pasid_t *self)
{
	self->detach_rc = cmd_pasid_detach(self->fd, self->stdev, SWEEP_PASID);
	if (self->detach_rc)
		return self->detach_rc;
	return attach_a(self);
}

static int detached(pasid_t *self)
{
	if (self->detach_rc == -ENOENT)
		return on_a(self);
	return self->detach_rc ? self->detach_rc : on_nothing(self);
}

static int reattached(pasid_t *self)
{
	return on_a(self);
}

static int nothing(pasid_t *self)
{
	return 0;
}

/*
 * For n = 1, 2, ...: from @before, run @op with the n-th fault-injection site failing. If
 * the op failed, the state must be @failed and the op must then work without injection;
 * either way it must end in @after, and is undone. Stops at the first n the op does not
 * reach; at least one site must have failed the op.
 */
static void run_sweep(struct __test_metadata *_metadata, pasid_t *self, int nthfd,
		      const struct sweep *s)
{
	unsigned int n, failed = 0;
	int rc, hit;

	for (n = 1;; n++) {
		ASSERT_GT(MAX_SITES, n) TH_LOG("%s: more than %d sites", s->name, MAX_SITES);
		ASSERT_EQ(0, s->before(self)) TH_LOG("%s: site %u: wrong state before", s->name, n);
		ASSERT_EQ(0, nth_arm(nthfd, n));
		rc = s->op(self);
		hit = nth_disarm(nthfd);
		ASSERT_LE(0, hit);
		if (!hit) {
			ASSERT_EQ(0, rc) TH_LOG("%s: failed with no fault injected", s->name);
			ASSERT_EQ(0, s->after(self));
			ASSERT_EQ(0, s->undo(self));
			break;
		}
		if (rc) {
			failed++;
			ASSERT_GT(0, rc);
			ASSERT_EQ(0, s->failed(self))
				TH_LOG("%s: site %u failed it (%d) and left another state",
				       s->name, n, rc);
			ASSERT_EQ(0, s->op(self))
				TH_LOG("%s: site %u failed it (%d), then it failed again",
				       s->name, n, rc);
		}
		ASSERT_EQ(0, s->after(self))
			TH_LOG("%s: site %u (op: %d): wrong state after", s->name, n, rc);
		ASSERT_EQ(0, s->undo(self));
	}
	TH_LOG("%s: %u fault-injection sites covered, %u of them failed the op", s->name, n - 1,
	       failed);
	ASSERT_LT(0, failed);
}

#define NEED_FAIL_NTH(nthfd)                                   \
	do {                                                   \
		const char *why = "";                          \
		nthfd = fail_nth_open(&why);                   \
		if (nthfd < 0)                                 \
			SKIP(return, "%s", why);               \
	} while (0)

TEST_F_TIMEOUT(pasid, fail_nth_attach, 300)
{
	static const struct sweep s = {
		"attach", attach_a, on_nothing, on_nothing, on_a, detach,
	};
	int nthfd;

	NEED_FAIL_NTH(nthfd);
	run_sweep(_metadata, self, nthfd, &s);
	ASSERT_EQ(0, destroy(self->fd, self->a));
	close(nthfd);
}

TEST_F_TIMEOUT(pasid, fail_nth_replace, 300)
{
	static const struct sweep s = {
		"replace", replace_b, on_a, on_a, on_b, replace_a,
	};
	int nthfd;

	NEED_FAIL_NTH(nthfd);
	ASSERT_EQ(0, attach_a(self));
	run_sweep(_metadata, self, nthfd, &s);
	ASSERT_EQ(0, detach(self));
	/* Every failed replace gave its references back. */
	ASSERT_EQ(0, destroy(self->fd, self->a));
	ASSERT_EQ(0, destroy(self->fd, self->b));
	close(nthfd);
}

TEST_F_TIMEOUT(pasid, fail_nth_assign, 300)
{
	static const struct sweep s = {
		"assign", assign_a, p0_free, p0_free, p0_on_a, detach_p0,
	};
	int nthfd;

	NEED_FAIL_NTH(nthfd);
	ASSERT_EQ(0, cmd_pasid_assign(self->fd, self->stdev, self->a, &self->p0));
	ASSERT_EQ(0, detach_p0(self));
	run_sweep(_metadata, self, nthfd, &s);
	ASSERT_EQ(0, destroy(self->fd, self->a));
	close(nthfd);
}

TEST_F_TIMEOUT(pasid, fail_nth_reattach, 300)
{
	static const struct sweep s = {
		"detach+reattach", reattach_a, on_a, detached, reattached, nothing,
	};
	int nthfd;

	NEED_FAIL_NTH(nthfd);
	ASSERT_EQ(0, attach_a(self));
	run_sweep(_metadata, self, nthfd, &s);
	ASSERT_EQ(0, detach(self));
	ASSERT_EQ(0, destroy(self->fd, self->a));
	close(nthfd);
}

TEST_HARNESS_MAIN
