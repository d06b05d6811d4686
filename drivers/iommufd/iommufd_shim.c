// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: the C part of iommufd.ko, for what the kernel only offers as C macros.
 *
 * CONFIG_IOMMUFD_TEST: the "fail_iommufd" fault-injection attribute of the pinned tree's
 * selftest.c (DECLARE_FAULT_ATTR is a static initialiser), which iommufd_fail_nth drives
 * through debugfs, and iommufd_should_fail() on top of it.
 */
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/fault-inject.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iommufd.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/idr.h>
#include <linux/iommu.h>
#include <linux/rwsem.h>
#include <linux/xarray.h>

#include "iommufd_shim.h"

/*
 * The kernel API of include/linux/iommufd.h. The functions are Rust (kapi.rs, with C
 * linkage); Rust in 6.12 cannot put an export into a symbol namespace, so it is done here.
 */
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_get, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_put, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_from_file, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_from_fd, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_has_group, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_device_bind, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_device_unbind, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_device_attach, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_device_replace, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_device_detach, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_device_to_ictx, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_device_to_id, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_vfio_compat_ioas_get_id, IOMMUFD_VFIO);
EXPORT_SYMBOL_NS_GPL(iommufd_vfio_compat_ioas_create, IOMMUFD_VFIO);
EXPORT_SYMBOL_NS_GPL(iommufd_vfio_compat_set_no_iommu, IOMMUFD_VFIO);

/* The iommu core's attach-handle functions and iova_bitmap live in these namespaces. */
MODULE_IMPORT_NS(IOMMUFD_INTERNAL);
MODULE_IMPORT_NS(IOMMUFD);

static bool allow_unsafe_interrupts;
module_param(allow_unsafe_interrupts, bool, 0644);
MODULE_PARM_DESC(
	allow_unsafe_interrupts,
	"Allow IOMMUFD to bind to devices even if the platform cannot isolate "
	"the MSI interrupt window. Enabling this is a security weakness.");

bool iommufd_rs_allow_unsafe_interrupts(void)
{
	return READ_ONCE(allow_unsafe_interrupts);
}

void iommufd_rs_get_file(struct file *file)
{
	get_file(file);
}

#ifdef CONFIG_IOMMUFD_TEST
static DECLARE_FAULT_ATTR(fail_iommufd);
static struct dentry *dbgfs_root;

bool iommufd_rs_should_fail(void)
{
	return should_fail(&fail_iommufd, 1);
}

int iommufd_rs_test_init(void)
{
	dbgfs_root = fault_create_debugfs_attr("fail_iommufd", NULL, &fail_iommufd);
	if (IS_ERR(dbgfs_root)) {
		int rc = PTR_ERR(dbgfs_root);

		dbgfs_root = NULL;
		return rc;
	}
	return 0;
}

void iommufd_rs_test_exit(void)
{
	debugfs_remove_recursive(dbgfs_root);
	dbgfs_root = NULL;
}

/* mock.rs: C mock_dev_ida, the ids of the "iommufd_mock%u" devices. */
static DEFINE_IDA(mock_dev_ida);

int iommufd_rs_mock_ida_alloc(void)
{
	return ida_alloc(&mock_dev_ida, GFP_KERNEL);
}

void iommufd_rs_mock_ida_free(int id)
{
	ida_free(&mock_dev_ida, id);
}

/* mock.rs: xa_init() of a mock domain's PFN table (one lockdep class, as in C). */
void iommufd_rs_mock_xa_init(struct xarray *xa)
{
	xa_init(xa);
}

/* mock.rs: init_rwsem() of a mock device's iopf_rwsem. */
void iommufd_rs_mock_init_rwsem(struct rw_semaphore *sem)
{
	init_rwsem(sem);
}

/* mock.rs: iommu_dirty_bitmap_record() is inline (iova_bitmap_set is in namespace IOMMUFD). */
void iommufd_rs_dirty_bitmap_record(struct iommu_dirty_bitmap *dirty, unsigned long iova,
				    unsigned long length)
{
	iommu_dirty_bitmap_record(dirty, iova, length);
}

/* mock.rs: WARN_ON() of the mock driver's consistency checks. */
void iommufd_rs_warn(const char *file, int line)
{
	WARN(1, "iommufd mock: warning at %s:%d\n", file, line);
}

MODULE_IMPORT_NS(IOMMUFD);
#endif
