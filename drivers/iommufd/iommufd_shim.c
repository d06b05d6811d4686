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
#endif
