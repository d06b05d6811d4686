// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: the C part of iommufd.ko, for what the kernel only offers as C macros.
 *
 * - The exported kernel API of accesses (include/linux/iommufd.h, EXPORT_SYMBOL_NS_GPL in the
 *   IOMMUFD namespace), forwarding to the Rust functions iommufd_rs_access_* (access.rs).
 *   A "struct iommufd_ctx *" is the address of the Rust context, a "struct iommufd_access *"
 *   the address of the Rust access.
 * - Small wrappers of inline functions and bitfields the Rust side needs (the
 *   iommufd_access_ops fields).
 * - The file_operations of a fault object's file ("[iommufd-pgfault]", fault.rs).
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
#include <linux/moduleparam.h>
#include <linux/idr.h>
#include <linux/iommu.h>
#include <linux/list.h>
#include <linux/pci.h>
#include <linux/poll.h>
#include <linux/wait.h>
#include <linux/rwsem.h>
#include <linux/xarray.h>

#include "iommufd_shim.h"
/* The PASID attach kind of our kAPI, shipped for drivers (kapi.rs). */
#include "../../include/linux/iommufd_pasid.h"

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
EXPORT_SYMBOL_NS_GPL(iommufd_device_pasid_attach, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_device_pasid_replace, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_device_pasid_detach, IOMMUFD);
EXPORT_SYMBOL_NS_GPL(iommufd_device_pasid_assign, IOMMUFD);
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

/*
 * fault.rs: the fault object's file (fault.c iommufd_fault_fops, calling the Rust
 * iommufd_rs_fault_* functions with the private data). The wait queue is a Rust CondVar;
 * poll_wait() gets its head from iommufd_rs_fault_wq().
 */
static ssize_t iommufd_rs_fault_fops_read(struct file *filep, char __user *buf,
					  size_t count, loff_t *ppos)
{
	return iommufd_rs_fault_read(filep->private_data, buf, count, *ppos);
}

static ssize_t iommufd_rs_fault_fops_write(struct file *filep, const char __user *buf,
					   size_t count, loff_t *ppos)
{
	return iommufd_rs_fault_write(filep->private_data, buf, count, *ppos);
}

static __poll_t iommufd_rs_fault_fops_poll(struct file *filep,
					   struct poll_table_struct *wait)
{
	__poll_t pollflags = EPOLLOUT;

	poll_wait(filep, iommufd_rs_fault_wq(filep->private_data), wait);
	if (iommufd_rs_fault_pending(filep->private_data))
		pollflags |= EPOLLIN | EPOLLRDNORM;
	return pollflags;
}

static int iommufd_rs_fault_fops_release(struct inode *inode, struct file *filep)
{
	iommufd_rs_fault_release(filep->private_data);
	return 0;
}

static const struct file_operations iommufd_rs_fault_fops = {
	.owner = THIS_MODULE,
	.open = nonseekable_open,
	.read = iommufd_rs_fault_fops_read,
	.write = iommufd_rs_fault_fops_write,
	.poll = iommufd_rs_fault_fops_poll,
	.release = iommufd_rs_fault_fops_release,
};

struct file *iommufd_rs_fault_getfile(void *priv)
{
	return anon_inode_getfile("[iommufd-pgfault]", &iommufd_rs_fault_fops, priv, O_RDWR);
}

/* fault.c iommufd_fault_iopf_enable(): PCI/PRI of a VF is shared with its PF. */
bool iommufd_rs_dev_is_virtfn(struct device *dev)
{
	return dev_is_pci(dev) && to_pci_dev(dev)->is_virtfn;
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
	/*
	 * As C iommufd_test_init(): the fault attribute is optional. Without
	 * CONFIG_FAULT_INJECTION_DEBUG_FS (a production kernel) it is an error
	 * pointer, and the module still loads, only without fail_iommufd.
	 */
	dbgfs_root = fault_create_debugfs_attr("fail_iommufd", NULL, &fail_iommufd);
	if (IS_ERR(dbgfs_root))
		dbgfs_root = NULL;
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

/* mock.rs: init_rwsem() of a mock device's iopf_rwsem. */
void iommufd_rs_mock_init_rwsem(struct rw_semaphore *sem)
{
	init_rwsem(sem);
}

/* mock.rs: WARN_ON() of the mock driver's consistency checks. */
void iommufd_rs_warn(const char *file, int line)
{
	WARN(1, "iommufd mock: warning at %s:%d\n", file, line);
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
