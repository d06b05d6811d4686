// SPDX-License-Identifier: GPL-2.0

//! iommufd objects and the per-context object table (C `main.c`: `iommufd_object_*`,
//! `iommufd_get_object`, `iommufd_put_object`).
//!
//! The rules (IDs, publication, references, `EBUSY`) are the pure core's
//! [`ObjectTable`](crate::iommufd_core::objects::ObjectTable); this file puts it under a lock
//! and gives typed, reference-holding lookups.
//!
//! The table knows no object type: each type says which kind it is ([`ObjectKind`], next to
//! the type), the table holds them as `Arc<dyn AnyObject>`, and a typed lookup
//! ([`get::<T>`](get)) checks the kind and hands out an `Arc<T>`. So this file (and the
//! context, which owns the table) imports none of the files that implement ioctls.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: an object's own locks
//! (e.g. [`Ioas`]'s io_pagetable lock) may be held while taking [`Objects`]'s lock; never the
//! reverse. Objects are destroyed after they left the table and its lock was released.

use crate::{
    iommufd_core::{
        errno::Errno,
        objects::{Kinded, ObjectTable, Slot},
    },
    storage::{KSlots, KStorage},
    test_hooks::should_fail,
};
use core::{
    any::{Any, TypeId},
    mem::ManuallyDrop,
};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{lock::mutex::MutexBackend, lock::Guard, Arc, CondVar, CondVarTimeoutResult, Mutex},
};

/// How long a destroy waits for in-flight lookups before it gives up (C
/// `iommufd_object_dec_wait_shortterm`: 60 s, then "Time out waiting for iommufd object to
/// become free").
const DESTROY_WAIT_MS: u32 = 60_000;

/// C `enum iommufd_object_type`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub(crate) enum ObjType {
    /// `IOMMUFD_OBJ_DEVICE`
    Device = 1,
    /// `IOMMUFD_OBJ_HWPT_PAGING`
    HwptPaging = 2,
    /// `IOMMUFD_OBJ_HWPT_NESTED`
    HwptNested = 3,
    /// `IOMMUFD_OBJ_IOAS`
    Ioas = 4,
    /// `IOMMUFD_OBJ_ACCESS`
    Access = 5,
    /// `IOMMUFD_OBJ_FAULT`
    Fault = 6,
    /// `IOMMUFD_OBJ_SELFTEST`
    #[cfg(CONFIG_IOMMUFD_TEST)]
    Selftest = 7,
}

/// An object type of the table: which kind (C `enum iommufd_object_type`) it is.
pub(crate) trait ObjectKind: Any + Send + Sync {
    /// The kind of every object of this type.
    const TYPE: ObjType;
}

/// What the table holds of any object: the `Any` to find its type.
pub(crate) trait AnyObject: Any + Send + Sync {
    /// The object, to check its type.
    fn as_any(&self) -> &dyn Any;
}

impl<T: ObjectKind> AnyObject for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `a` as the `Arc` of its concrete type.
///
/// # Safety
///
/// `a` points to a `T` (for a trait object: its concrete type is `T`).
unsafe fn arc_cast<T, U: ?Sized>(a: Arc<U>) -> Arc<T> {
    let raw = Arc::into_raw(a).cast::<T>();
    // SAFETY: The allocation is the one `Arc::<T>::new` made (the caller's guarantee), only
    // seen through a wider pointer: the concrete type finds the same header and drops the
    // same value.
    unsafe { Arc::from_raw(raw) }
}

/// `a` as an `Arc<T>`, if that is its concrete type.
pub(crate) fn downcast_any<T: Any + Send + Sync>(a: &Arc<dyn Any + Send + Sync>) -> Option<Arc<T>> {
    if !(**a).is::<T>() {
        return None;
    }
    // SAFETY: Its concrete type is `T` (checked just above).
    Some(unsafe { arc_cast::<T, dyn Any + Send + Sync>(a.clone()) })
}

/// A published object, any kind: an `Arc` so that lookups can hand out references that
/// outlive the table's lock.
///
/// The kind and the concrete type are recorded beside the `Arc` when the entry is made, so
/// that a lookup checks them with two compares instead of calls through the vtable (each
/// lookup of an ioctl did three).
///
/// # Invariants
///
/// `type_id` is the `TypeId` of the concrete type behind `obj`, and `kind` its
/// [`ObjectKind::TYPE`].
#[derive(Clone)]
pub(crate) struct Object {
    obj: Arc<dyn AnyObject>,
    kind: ObjType,
    type_id: TypeId,
}

impl Object {
    /// The table entry of `obj`.
    pub(crate) fn new<T: ObjectKind>(obj: Arc<T>) -> Object {
        // INVARIANT: `obj` is an `Arc<T>`.
        Object {
            obj,
            kind: T::TYPE,
            type_id: TypeId::of::<T>(),
        }
    }

    /// The object's kind.
    pub(crate) fn obj_type(&self) -> ObjType {
        self.kind
    }

    /// The object, if it is a `T`.
    pub(crate) fn get<T: ObjectKind>(&self) -> Option<&T> {
        if self.type_id != TypeId::of::<T>() {
            return None;
        }
        self.obj.as_any().downcast_ref::<T>()
    }

    /// The object's `Arc`, if it is a `T`.
    pub(crate) fn downcast<T: ObjectKind>(&self) -> Option<Arc<T>> {
        if self.type_id != TypeId::of::<T>() {
            return None;
        }
        // SAFETY: Its concrete type is `T` (checked just above, type invariants).
        Some(unsafe { arc_cast::<T, dyn AnyObject>(self.obj.clone()) })
    }
}

impl Kinded for Object {
    fn kind(&self) -> u32 {
        self.kind as u32
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
    /// C `groups`: the IOMMU groups of bound devices (the device layer's group objects, by
    /// the address of their `struct iommu_group`), with how many are bound.
    pub(crate) groups: KVec<(usize, Arc<dyn Any + Send + Sync>, u32)>,
    /// How many destroys sleep on [`Objects::destroy_wait`]: a reference given back wakes
    /// them only if there are any.
    destroy_waiters: u32,
}

impl CtxObjects {
    /// An empty context state.
    pub(crate) fn new() -> Self {
        use crate::iommufd_core::storage::Storage;
        CtxObjects {
            table: ObjectTable::new(KStorage.new_table()),
            vfio_ioas: None,
            no_iommu_mode: false,
            groups: KVec::new(),
            destroy_waiters: 0,
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

/// A context's objects: the table under its lock, and the wait queue of destroys that wait
/// for in-flight lookups (C `ictx->objects` with `xa_lock`, and `ictx->destroy_wait`).
#[pin_data]
pub(crate) struct Objects {
    #[pin]
    inner: Mutex<CtxObjects>,
    /// Destroys waiting for an object's short-term references to be given back.
    #[pin]
    destroy_wait: CondVar,
}

impl Objects {
    /// An empty table.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Objects {
            inner <- new_mutex!(CtxObjects::new(), "iommufd_ctx::objects"),
            destroy_wait <- new_condvar!("iommufd_ctx::destroy_wait"),
        })
    }

    /// Locks the table.
    pub(crate) fn lock(&self) -> Guard<'_, CtxObjects, MutexBackend> {
        self.inner.lock()
    }

    /// Gives back a short-term reference taken by a lookup (C `iommufd_put_object`), waking
    /// the destroys that wait for it.
    fn put(&self, id: u32) {
        let mut guard = self.lock();
        guard.table.put(id);
        let wake = guard.destroy_waiters != 0;
        drop(guard);
        if wake {
            self.destroy_wait.notify_all();
        }
    }

    /// Drops the caller's long-term reference on object `id` (of kind `kind`, if given) and
    /// removes the object once no lookup holds it any more (C `iommufd_object_destroy_user`:
    /// `iommufd_object_remove(..., REMOVE_WAIT_SHORTTERM)`; the reference is consumed whatever
    /// the result, as there). The object drains first: new lookups fail with `ENOENT`
    /// (so overlapping lookups cannot starve the destroy), and this sleeps (uninterruptibly,
    /// as C) until those in flight are given back, for at most [`DESTROY_WAIT_MS`]. `EBUSY`
    /// on time-out or if long-term users remain; the object is then back to normal. The
    /// caller drops the object after this returns (outside the lock).
    pub(crate) fn destroy_user(&self, id: u32, kind: Option<u32>) -> Result<Object, Errno> {
        let mut guard = self.lock();
        guard.table.remove_user(id);
        let mut shortterm = guard.table.start_drain(id, kind)?;
        let mut left = kernel::time::msecs_to_jiffies(DESTROY_WAIT_MS);
        while shortterm != 0 {
            guard.destroy_waiters += 1;
            let r = self.destroy_wait.wait_timeout(&mut guard, left);
            guard.destroy_waiters -= 1;
            if let CondVarTimeoutResult::Woken { jiffies } = r {
                left = jiffies;
            } else {
                guard.table.stop_drain(id);
                pr_crit!(
                    "iommufd: time out waiting for object {} to become free\n",
                    id
                );
                return Err(Errno::EBUSY);
            }
            shortterm = match guard.table.refs(id) {
                Some((_, shortterm)) => shortterm,
                // Cannot happen: only a destroy removes it, and this one is ours.
                None => return Err(Errno::ENOENT),
            };
        }
        let r = guard.table.remove(id, kind);
        match r {
            Ok(_) if guard.vfio_ioas == Some(id) => guard.vfio_ioas = None,
            Ok(_) => {}
            Err(_) => guard.table.stop_drain(id),
        }
        r
    }
}

/// A reference to a published object of kind `T`, taken by a lookup and given back on drop
/// (C: `iommufd_get_object` / `iommufd_put_object`). While it lives, `IOMMU_DESTROY` of the
/// object fails with `EBUSY`.
///
/// # Invariants
///
/// `obj` is dropped exactly once, in `drop`, before the reference is given back: a destroy
/// that waits for it ([`Objects::destroy_user`]) then holds the last `Arc`, so the
/// object's release (e.g. a device's DMA ownership) is done when the destroy returns, never
/// later by a lookup.
pub(crate) struct ObjRef<'a, T> {
    objects: &'a Objects,
    id: u32,
    obj: ManuallyDrop<Arc<T>>,
}

impl<T> ObjRef<'_, T> {
    /// The object's ID.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// A reference to the object that outlives the lookup (it does not keep it from being
    /// destroyed by `IOMMU_DESTROY`).
    pub(crate) fn arc(&self) -> Arc<T> {
        Arc::clone(&self.obj)
    }
}

/// A lookup of any kind (C `iommufd_get_object(ictx, id, IOMMUFD_OBJ_ANY)`).
///
/// # Invariants
///
/// As [`ObjRef`]: `obj` is dropped exactly once, in `drop`, before the reference is given
/// back.
pub(crate) struct AnyRef<'a> {
    objects: &'a Objects,
    id: u32,
    obj: ManuallyDrop<Object>,
}

impl AnyRef<'_> {
    /// The object's ID.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }
}

impl core::ops::Deref for AnyRef<'_> {
    type Target = Object;

    fn deref(&self) -> &Object {
        &self.obj
    }
}

impl Drop for AnyRef<'_> {
    fn drop(&mut self) {
        // SAFETY: `obj` is not used after this (type invariants).
        unsafe { ManuallyDrop::drop(&mut self.obj) };
        self.objects.put(self.id);
    }
}

/// Looks up `id` of any kind.
pub(crate) fn get_any(objects: &Objects, id: u32) -> Result<AnyRef<'_>, Errno> {
    if should_fail() {
        return Err(Errno::ENOENT);
    }
    let obj = ManuallyDrop::new(objects.lock().table.get(id, None)?);
    Ok(AnyRef { objects, id, obj })
}

/// C `iommufd_get_object(ictx, id, T's kind)`: looks up object `id` of type `T`, `ENOENT`
/// if there is none of that type (or fault injection says so).
pub(crate) fn get<T: ObjectKind>(objects: &Objects, id: u32) -> Result<ObjRef<'_, T>, Errno> {
    if should_fail() {
        return Err(Errno::ENOENT);
    }
    lock::<T>(objects, id)
}

/// [`get`] without fault injection: C `iommufd_lock_obj()` on an object found through
/// another (an IOAS's HWPT list), where C has no `iommufd_should_fail()` either.
pub(crate) fn lock<T: ObjectKind>(objects: &Objects, id: u32) -> Result<ObjRef<'_, T>, Errno> {
    let obj = objects.lock().table.get(id, Some(T::TYPE as u32))?;
    match obj.downcast::<T>() {
        Some(obj) => Ok(ObjRef {
            objects,
            id,
            obj: ManuallyDrop::new(obj),
        }),
        None => {
            objects.put(id);
            Err(Errno::ENOENT)
        }
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
        // SAFETY: `obj` is not used after this (type invariants).
        unsafe { ManuallyDrop::drop(&mut self.obj) };
        self.objects.put(self.id);
    }
}

/// The compatibility IOAS of the VFIO ioctls (C `get_compat_ioas`): `ENODEV` if there is
/// none. `T` is the IOAS type.
pub(crate) fn get_compat<T: ObjectKind>(objects: &Objects) -> Result<ObjRef<'_, T>, Errno> {
    let mut guard = objects.lock();
    let id = guard.vfio_ioas.ok_or(Errno::ENODEV)?;
    match guard
        .table
        .get(id, Some(T::TYPE as u32))
        .map(|o| o.downcast::<T>())
    {
        Ok(Some(ioas)) => Ok(ObjRef {
            objects,
            id,
            obj: ManuallyDrop::new(ioas),
        }),
        Ok(None) => {
            // Not an IOAS (cannot happen: `vfio_ioas` is cleared when its object goes):
            // nobody can be waiting on a reference that was never handed out.
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
