/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iommufd-rs: functions of iommufd_shim.c, and of the Rust side that it calls. The Rust
 * declarations of the C functions are generated from this header by bindgen at build time
 * (drivers/iommufd/Kbuild, shim.rs); the Rust side's own definitions are hidden from it.
 */
#ifndef IOMMUFD_RS_SHIM_H
#define IOMMUFD_RS_SHIM_H

#include <linux/types.h>

struct file;

bool iommufd_rs_allow_unsafe_interrupts(void);
struct iommufd_access;
struct iommufd_access_ops;
struct iommufd_ctx;
struct page;

/* C, called from Rust. */
bool iommufd_rs_ops_needs_pin_pages(const struct iommufd_access_ops *ops);
bool iommufd_rs_ops_has_unmap(const struct iommufd_access_ops *ops);
void iommufd_rs_ops_unmap(const struct iommufd_access_ops *ops, void *data,
			  unsigned long iova, unsigned long length);
bool iommufd_rs_should_fail(void);
int iommufd_rs_test_init(void);
void iommufd_rs_test_exit(void);
const struct iommufd_access_ops *iommufd_rs_test_access_ops(bool needs_pin_pages);
struct file *iommufd_rs_test_staccess_getfile(void *priv);
void *iommufd_rs_test_staccess_get(int fd, struct file **filep);

#ifndef __BINDGEN__
/* Rust (access.rs, selftest.rs), called from C. */
struct iommufd_access *iommufd_rs_access_create(struct iommufd_ctx *ictx,
						const struct iommufd_access_ops *ops,
						void *data, u32 *id);
void iommufd_rs_access_destroy(struct iommufd_access *access);
void iommufd_rs_access_detach(struct iommufd_access *access);
int iommufd_rs_access_attach(struct iommufd_access *access, u32 ioas_id);
int iommufd_rs_access_replace(struct iommufd_access *access, u32 ioas_id);
void iommufd_rs_access_unpin_pages(struct iommufd_access *access,
				   unsigned long iova, unsigned long length);
int iommufd_rs_access_pin_pages(struct iommufd_access *access, unsigned long iova,
				unsigned long length, struct page **out_pages,
				unsigned int flags);
int iommufd_rs_access_rw(struct iommufd_access *access, unsigned long iova,
			 void *data, size_t length, unsigned int flags);
void iommufd_rs_test_staccess_release(void *priv);
void iommufd_rs_test_access_unmap(void *data, unsigned long iova, unsigned long length);
#endif

struct rw_semaphore;

int iommufd_rs_mock_ida_alloc(void);
void iommufd_rs_mock_ida_free(int id);
void iommufd_rs_mock_init_rwsem(struct rw_semaphore *sem);
void iommufd_rs_warn(const char *file, int line);

struct device;
struct wait_queue_head;

struct file *iommufd_rs_fault_getfile(void *priv);
bool iommufd_rs_dev_is_virtfn(struct device *dev);

#ifndef __BINDGEN__
/* Rust (fault.rs), called from C. */
ssize_t iommufd_rs_fault_read(void *priv, char __user *buf, size_t count, loff_t pos);
ssize_t iommufd_rs_fault_write(void *priv, const char __user *buf, size_t count,
			       loff_t pos);
struct wait_queue_head *iommufd_rs_fault_wq(void *priv);
bool iommufd_rs_fault_pending(void *priv);
void iommufd_rs_fault_release(void *priv);
#endif

#endif
