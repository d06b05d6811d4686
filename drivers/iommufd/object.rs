// SPDX-License-Identifier: GPL-2.0

//! iommufd objects and the per-context object table (C `main.c`: `iommufd_object_*`,
//! `iommufd_get_object`, `iommufd_put_object`).
//!
//! The rules (IDs, publication, references, `EBUSY`) are the pure core's
//! [`ObjectTable`](crate::iommufd_core::objects::ObjectTable); this file puts it under a lock
//! and gives typed, reference-holding lookups.
//!
//! Lock order (outermost first): an object's own locks (e.g. [`Ioas`]'s io_pagetable lock)
//! may be held while taking [`Objects`]'s lock; never the reverse. Objects are destroyed
//! after they left the table and its lock was released.

use crate::{
    access::Access,
    ioas::Ioas,
    iommufd_core::{
        errno::Errno,
        objects::{Kinded, ObjectTable, Slot},
    },
    pages::AccountMode,
    storage::{KSlots, KStorage},
};
use kernel::{
    prelude::*,
    sync::{Arc, Mutex},
};

/// C `enum iommufd_object_type`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub(crate) enum ObjType {
    /// `IOMMUFD_OBJ_IOAS`
    Ioas = 5,
    /// `IOMMUFD_OBJ_ACCESS`
    Access = 6,
}

/// A published object: one variant per kind, each an `Arc` so that lookups can hand out
/// references that outlive the table's lock.
#[derive(Clone)]
pub(crate) enum Object {
    /// An IO address space.
    Ioas(Arc<Ioas>),
    /// An in-kernel access (no uAPI; its ID is only reported by its creator).
    Access(Arc<Access>),
}

impl Kinded for Object {
    fn kind(&self) -> u32 {
        match self {
            Object::Ioas(_) => ObjType::Ioas as u32,
            Object::Access(_) => ObjType::Access as u32,
        }
    }
}

/// The object table of a context.
pub(crate) type Table = ObjectTable<Object, KSlots<Slot<Object>>>;

/// What a context keeps under its objects lock (C: the `objects` xarray and the fields C
/// changes under `xa_lock`).
pub(crate) struct CtxObjects {
    /// The objects.
    pub(crate) table: Table,
    /// C `vfio_ioas`: the IOAS the VFIO compatibility ioctls use. Cleared when that object is
    /// removed, so the ID never names a later object.
    pub(crate) vfio_ioas: Option<u32>,
    /// C `no_iommu_mode`: set by a no-iommu VFIO device, exclusive with a compat IOAS.
    pub(crate) no_iommu_mode: bool,
    /// C `account_mode`: how pages pinned for this context are charged.
    pub(crate) account_mode: AccountMode,
}

impl CtxObjects {
    /// An empty context state.
    pub(crate) fn new(account_mode: AccountMode) -> Self {
        use crate::iommufd_core::storage::Storage;
        CtxObjects {
            table: ObjectTable::new(KStorage.new_table()),
            vfio_ioas: None,
            no_iommu_mode: false,
            account_mode,
        }
    }

    /// Removes `id` for `IOMMU_DESTROY` (C `iommufd_object_remove`), forgetting it as the
    /// compat IOAS. The caller drops the object after unlocking.
    pub(crate) fn remove(&mut self, id: u32) -> Result<Object, Errno> {
        let obj = self.table.remove(id, None)?;
        if self.vfio_ioas == Some(id) {
            self.vfio_ioas = None;
        }
        Ok(obj)
    }
}

/// The lock around a context's objects.
pub(crate) type Objects = Mutex<CtxObjects>;

/// A reference to a published object of kind `T`, taken by a lookup and given back on drop
/// (C: `iommufd_get_object` / `iommufd_put_object`). While it lives, `IOMMU_DESTROY` of the
/// object fails with `EBUSY`.
pub(crate) struct ObjRef<'a, T> {
    objects: &'a Objects,
    id: u32,
    obj: Arc<T>,
}

impl<T> ObjRef<'_, T> {
    /// The object's ID.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Another reference to the object itself, for a long-term user (which also takes a
    /// table reference with `add_user`).
    pub(crate) fn arc(&self) -> Arc<T> {
        self.obj.clone()
    }
}

impl<T> core::ops::Deref for ObjRef<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.obj
    }
}

impl<T> Drop for ObjRef<'_, T> {
    fn drop(&mut self) {
        self.objects.lock().table.put(self.id);
    }
}

/// C `iommufd_should_fail()`: fault injection for the selftests, never true without the mock.
fn should_fail() -> bool {
    #[cfg(CONFIG_IOMMUFD_TEST)]
    {
        crate::selftest::should_fail()
    }
    #[cfg(not(CONFIG_IOMMUFD_TEST))]
    {
        false
    }
}

/// Looks up the IOAS `id` (C: `iommufd_get_ioas` → `iommufd_get_object`, which fails with
/// `ENOENT` when fault injection says so).
pub(crate) fn get_ioas(objects: &Objects, id: u32) -> Result<ObjRef<'_, Ioas>, Errno> {
    if should_fail() {
        return Err(Errno::ENOENT);
    }
    let mut guard = objects.lock();
    match guard.table.get(id, Some(ObjType::Ioas as u32))? {
        Object::Ioas(ioas) => Ok(ObjRef {
            objects,
            id,
            obj: ioas,
        }),
        _ => {
            // Cannot happen: the lookup is by kind.
            guard.table.put(id);
            Err(Errno::ENOENT)
        }
    }
}

/// The compatibility IOAS of the VFIO ioctls (C `get_compat_ioas`): `ENODEV` if there is
/// none.
pub(crate) fn get_compat_ioas(objects: &Objects) -> Result<ObjRef<'_, Ioas>, Errno> {
    let mut guard = objects.lock();
    let id = guard.vfio_ioas.ok_or(Errno::ENODEV)?;
    match guard.table.get(id, Some(ObjType::Ioas as u32)) {
        Ok(Object::Ioas(ioas)) => Ok(ObjRef {
            objects,
            id,
            obj: ioas,
        }),
        Ok(_) => {
            // Cannot happen: the lookup is by kind.
            guard.table.put(id);
            Err(Errno::ENODEV)
        }
        Err(_) => Err(Errno::ENODEV),
    }
}

/// Publishes a fully built object under a reserved ID (C: `iommufd_object_finalize`).
pub(crate) fn finalize(objects: &Objects, id: u32, obj: Object) {
    if objects.lock().table.finalize(id, obj).is_err() {
        // The ID came from `reserve` on this table and nobody else finalizes it.
        pr_warn!("iommufd: object {} finalized twice\n", id);
    }
}

/// Destroys every object, leaves first (C: `iommufd_fops_release`). Never fails.
pub(crate) fn destroy_all(objects: &Objects) {
    loop {
        let taken = {
            let mut guard = objects.lock();
            guard.vfio_ioas = None;
            let t = &mut guard.table;
            match t.take_leaf() {
                Some(x) => Some(x),
                None => {
                    let any = t.take_any();
                    if let Some((id, _)) = &any {
                        // C warns too: the users graph did not reach zero.
                        pr_warn!("iommufd: object {} still referenced at close\n", id);
                    }
                    any
                }
            }
        };
        match taken {
            // Dropped here, outside the table lock: runs the object's destroy.
            Some((_, obj)) => drop(obj),
            None => break,
        }
    }
}
