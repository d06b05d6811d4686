// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-rs: helpers for the static inline kernel functions the iommufd module needs
 * (pages, mm, accounting). Each is a plain call-through, exported like every helper.
 */

#include <linux/atomic.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/iommu.h>
#include <linux/xarray.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>

bool rust_helper_PageCompound(const struct page *page)
{
	return PageCompound(page);
}

int rust_helper_page_ref_count(const struct page *page)
{
	return page_ref_count(page);
}

void rust_helper_put_page(struct page *page)
{
	put_page(page);
}

unsigned long rust_helper_page_to_pfn(const struct page *page)
{
	return page_to_pfn(page);
}

struct page *rust_helper_pfn_to_page(unsigned long pfn)
{
	return pfn_to_page(pfn);
}

struct mm_struct *rust_helper_current_mm(void)
{
	return current->mm;
}

struct task_struct *rust_helper_current_group_leader(void)
{
	return current->group_leader;
}

void rust_helper_mmgrab(struct mm_struct *mm)
{
	mmgrab(mm);
}

void rust_helper_mmdrop(struct mm_struct *mm)
{
	mmdrop(mm);
}

bool rust_helper_mmget_not_zero(struct mm_struct *mm)
{
	return mmget_not_zero(mm);
}

void rust_helper_mmap_read_lock(struct mm_struct *mm)
{
	mmap_read_lock(mm);
}

void rust_helper_mmap_read_unlock(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
}

void rust_helper_mmap_write_lock(struct mm_struct *mm)
{
	mmap_write_lock(mm);
}

void rust_helper_mmap_write_unlock(struct mm_struct *mm)
{
	mmap_write_unlock(mm);
}

unsigned long rust_helper_task_rlimit_memlock(struct task_struct *task)
{
	return task_rlimit(task, RLIMIT_MEMLOCK);
}

struct user_struct *rust_helper_get_current_user(void)
{
	return get_current_user();
}

/* The user's locked_vm counter, as pages.c's incr/decr_user_locked_vm use it. */
long rust_helper_user_locked_vm_read(struct user_struct *user)
{
	return atomic_long_read(&user->locked_vm);
}

bool rust_helper_user_locked_vm_try_cmpxchg(struct user_struct *user, long *old, long new)
{
	return atomic_long_try_cmpxchg(&user->locked_vm, old, new);
}

void rust_helper_user_locked_vm_sub(struct user_struct *user, long n)
{
	atomic_long_sub(n, &user->locked_vm);
}

void rust_helper_mm_pinned_vm_add(struct mm_struct *mm, s64 n)
{
	atomic64_add(n, &mm->pinned_vm);
}

void rust_helper_mm_pinned_vm_sub(struct mm_struct *mm, s64 n)
{
	atomic64_sub(n, &mm->pinned_vm);
}

/* kernel::xarray: xa_init() is inline. */
void rust_helper_xa_init(struct xarray *xa)
{
	xa_init(xa);
}

/* kernel::iommu::driver: iommu_dirty_bitmap_record() is inline. */
void rust_helper_iommu_dirty_bitmap_record(struct iommu_dirty_bitmap *dirty, unsigned long iova,
					   unsigned long length)
{
	iommu_dirty_bitmap_record(dirty, iova, length);
}

struct file *rust_helper_get_file(struct file *f)
{
	return get_file(f);
}
