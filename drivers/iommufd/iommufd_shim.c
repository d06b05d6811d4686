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

#include "iommufd_shim.h"

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
