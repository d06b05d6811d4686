// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: the C part of iommufd.ko, for what the kernel only offers as C macros.
 *
 * - The exported kernel API of accesses (include/linux/iommufd.h, EXPORT_SYMBOL_NS_GPL in the
 *   IOMMUFD namespace), forwarding to the Rust functions iommufd_rs_access_* (access.rs).
 *   A "struct iommufd_ctx *" is the address of the Rust context, a "struct iommufd_access *"
 *   the address of the Rust access.
 * - Small wrappers of inline functions and bitfields the Rust side needs (get_file(), the
 *   iommufd_access_ops fields).
 * - CONFIG_IOMMUFD_TEST: the "fail_iommufd" fault-injection attribute of the pinned tree's
 *   selftest.c (DECLARE_FAULT_ATTR is a static initialiser), which iommufd_fail_nth drives
 *   through debugfs, and iommufd_should_fail() on top of it; the selftest's access file
 *   ("[iommufd_test_staccess]") and its two iommufd_access_ops.
 */
#include <linux/anon_inodes.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/fault-inject.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iommufd.h>
#include <linux/module.h>

#include "iommufd_shim.h"

void iommufd_rs_get_file(struct file *file)
{
	get_file(file);
}

bool iommufd_rs_ops_needs_pin_pages(const struct iommufd_access_ops *ops)
{
	return ops->needs_pin_pages;
}

bool iommufd_rs_ops_has_unmap(const struct iommufd_access_ops *ops)
{
	return ops->unmap != NULL;
}

void iommufd_rs_ops_unmap(const struct iommufd_access_ops *ops, void *data,
			  unsigned long iova, unsigned long length)
{
	ops->unmap(data, iova, length);
}

/* The exported API of accesses (C device.c). */
struct iommufd_access *
iommufd_access_create(struct iommufd_ctx *ictx,
		      const struct iommufd_access_ops *ops, void *data, u32 *id)
{
	return iommufd_rs_access_create(ictx, ops, data, id);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_create, IOMMUFD);

void iommufd_access_destroy(struct iommufd_access *access)
{
	iommufd_rs_access_destroy(access);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_destroy, IOMMUFD);

void iommufd_access_detach(struct iommufd_access *access)
{
	iommufd_rs_access_detach(access);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_detach, IOMMUFD);

int iommufd_access_attach(struct iommufd_access *access, u32 ioas_id)
{
	return iommufd_rs_access_attach(access, ioas_id);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_attach, IOMMUFD);

int iommufd_access_replace(struct iommufd_access *access, u32 ioas_id)
{
	return iommufd_rs_access_replace(access, ioas_id);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_replace, IOMMUFD);

void iommufd_access_unpin_pages(struct iommufd_access *access,
				unsigned long iova, unsigned long length)
{
	iommufd_rs_access_unpin_pages(access, iova, length);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_unpin_pages, IOMMUFD);

int iommufd_access_pin_pages(struct iommufd_access *access, unsigned long iova,
			     unsigned long length, struct page **out_pages,
			     unsigned int flags)
{
	return iommufd_rs_access_pin_pages(access, iova, length, out_pages,
					   flags);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_pin_pages, IOMMUFD);

int iommufd_access_rw(struct iommufd_access *access, unsigned long iova,
		      void *data, size_t length, unsigned int flags)
{
	return iommufd_rs_access_rw(access, iova, data, length, flags);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_rw, IOMMUFD);

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

/* selftest.c iommufd_test_staccess_release(): the Rust side frees the state. */
static int iommufd_rs_staccess_release(struct inode *inode, struct file *filep)
{
	iommufd_rs_test_staccess_release(filep->private_data);
	return 0;
}

static const struct file_operations iommufd_rs_staccess_fops = {
	.owner = THIS_MODULE,
	.release = iommufd_rs_staccess_release,
};

static const struct iommufd_access_ops selftest_access_ops_pin = {
	.needs_pin_pages = 1,
	.unmap = iommufd_rs_test_access_unmap,
};

static const struct iommufd_access_ops selftest_access_ops = {
	.unmap = iommufd_rs_test_access_unmap,
};

const struct iommufd_access_ops *iommufd_rs_test_access_ops(bool needs_pin_pages)
{
	return needs_pin_pages ? &selftest_access_ops_pin : &selftest_access_ops;
}

/* selftest.c iommufd_test_alloc_access(): the anon-inode file of an access. */
struct file *iommufd_rs_test_staccess_getfile(void *priv)
{
	return anon_inode_getfile("[iommufd_test_staccess]",
				  &iommufd_rs_staccess_fops, priv, O_RDWR);
}

/*
 * selftest.c iommufd_access_get(): the private data of the access file @fd, with a
 * reference on the file in *filep (fput() it). NULL (EBADFD) if @fd is not one.
 */
void *iommufd_rs_test_staccess_get(int fd, struct file **filep)
{
	struct file *file = fget(fd);

	*filep = NULL;
	if (!file)
		return NULL;
	if (file->f_op != &iommufd_rs_staccess_fops) {
		fput(file);
		return NULL;
	}
	*filep = file;
	return file->private_data;
}
#endif
