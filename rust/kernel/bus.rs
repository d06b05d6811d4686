// SPDX-License-Identifier: GPL-2.0

//! Buses of the driver model defined by a module.
//!
//! C header: [`include/linux/device/bus.h`](srctree/include/linux/device/bus.h).

use core::{
    marker::PhantomData,
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{bindings, device::Device, error::to_result, prelude::*, str::CStr, types::Opaque};

/// A `struct bus_type` with only a name, in a `static`: a software bus whose devices, all
/// [`BusDevice<T>`], the module adds itself, and which no driver binds.
///
/// # Invariants
///
/// After [`StaticBus::new`], the C side is the only writer of the structure (the driver core,
/// under its own locks, between `bus_register` and `bus_unregister`). Every device on the bus
/// is the `struct device` of a [`BusDevice<T>`] (only [`BusDevice::create`] puts devices on it).
pub struct StaticBus<T> {
    bus: Opaque<bindings::bus_type>,
    /// Whether the bus is registered ([`StaticBus::register`]).
    registered: AtomicBool,
    _t: PhantomData<T>,
}

// SAFETY: The C structure is only written by the driver core, which serialises its accesses;
// Rust code only reads `bus` of devices, compares addresses and hands it to C.
unsafe impl<T> Sync for StaticBus<T> {}

impl<T> StaticBus<T> {
    /// A bus called `name`, not registered yet.
    pub const fn new(name: &'static CStr) -> Self {
        Self {
            bus: Opaque::new(bindings::bus_type {
                name: name.as_char_ptr(),
                // SAFETY: All-zero is a valid `bus_type` (null pointers, no callbacks), as in a
                // C static initialiser.
                ..unsafe { core::mem::zeroed() }
            }),
            registered: AtomicBool::new(false),
            _t: PhantomData,
        }
    }

    /// The C `struct bus_type`.
    pub fn as_raw(&self) -> *mut bindings::bus_type {
        self.bus.get()
    }

    /// Whether `dev` is on this bus (C `dev->bus == bus`).
    pub fn contains(&self, dev: &Device) -> bool {
        let dev = core::ptr::from_ref(dev).cast::<bindings::device>();
        // SAFETY: `Device` wraps a valid `struct device` (its type invariant), whose `bus` is
        // set before the device is added and does not change afterwards.
        let bus = unsafe { (*dev).bus };
        ptr::eq(bus, self.as_raw())
    }

    /// The [`BusDevice`] of `dev`, if `dev` is on this bus (C `container_of`).
    pub fn device_of<'a>(&self, dev: &'a Device) -> Option<&'a BusDevice<T>> {
        if !self.contains(dev) {
            return None;
        }
        // SAFETY: Every device on the bus is the first field of a live `BusDevice<T>` (type
        // invariant), which lives as long as its device.
        Some(unsafe { &*ptr::from_ref(dev).cast::<BusDevice<T>>() })
    }

    /// Registers the bus (C `bus_register()`); unregistered when the returned value is dropped.
    /// `EBUSY` if it is registered already.
    pub fn register(&'static self) -> Result<BusRegistration<T>> {
        if self.registered.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        // SAFETY: The bus is a `'static` initialised by `new` and not registered (`registered`
        // was false); the registration's drop undoes this one once.
        if let Err(e) = to_result(unsafe { bindings::bus_register(self.as_raw()) }) {
            self.registered.store(false, Ordering::Release);
            return Err(e);
        }
        // INVARIANT: Registered just above.
        Ok(BusRegistration { bus: self })
    }
}

/// A registered [`StaticBus`]; dropping it is C `bus_unregister()`.
///
/// # Invariants
///
/// `bus` is registered, by this value.
pub struct BusRegistration<T: 'static> {
    bus: &'static StaticBus<T>,
}

impl<T> Drop for BusRegistration<T> {
    fn drop(&mut self) {
        // SAFETY: Registered by `StaticBus::register` (type invariant), unregistered once.
        unsafe { bindings::bus_unregister(self.bus.as_raw()) };
        self.bus.registered.store(false, Ordering::Release);
    }
}

/// A device of a [`StaticBus<T>`] with the driver's data `T`, which it derefs to (C: a struct
/// embedding `struct device` as its first member, freed by the device's release callback).
///
/// # Invariants
///
/// Allocated by [`BusDevice::create`] in a pinned `KBox`; from `device_initialize` on, the
/// device's references own the allocation, which the release callback frees (dropping `T`).
#[repr(C)]
#[pin_data]
pub struct BusDevice<T> {
    dev: Opaque<bindings::device>,
    #[pin]
    data: T,
}

// The driver core's pointers convert back with a cast (C `container_of`).
const _: () = assert!(core::mem::offset_of!(BusDevice<()>, dev) == 0);

// SAFETY: The C part is handled by the driver core with its own locking; `T` is `Send`.
unsafe impl<T: Send> Send for BusDevice<T> {}
// SAFETY: The C part is only reached through the driver core's functions; `T` is `Sync`.
unsafe impl<T: Sync> Sync for BusDevice<T> {}

impl<T> core::ops::Deref for BusDevice<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T: Send + Sync> BusDevice<T> {
    /// Allocates a device on `bus` with the data `init` and initialises it (C `kzalloc` +
    /// `device_initialize()`); it is named and added through the returned handle.
    pub fn create(
        bus: &'static StaticBus<T>,
        init: impl PinInit<T, Error>,
    ) -> Result<OwnedBusDevice<T>> {
        let dev = KBox::try_pin_init(
            try_pin_init!(Self {
                // SAFETY: All-zero is the state `device_initialize` expects.
                dev: Opaque::new(unsafe { core::mem::zeroed() }),
                data <- init,
            }? Error),
            GFP_KERNEL,
        )?;
        // SAFETY: From here the device's reference owns the allocation, which the release
        // callback frees in place; it is never moved.
        let dev = KBox::into_raw(unsafe { Pin::into_inner_unchecked(dev) });
        // SAFETY: `dev` is a zeroed, exclusively owned device; initialised in place. The release
        // callback frees the `BusDevice<T>` and `bus` keeps the `StaticBus` invariant (only
        // `BusDevice<T>`s on it).
        unsafe {
            let raw = (*dev).dev.get();
            bindings::device_initialize(raw);
            (*raw).release = Some(release_callback::<T>);
            (*raw).bus = bus.as_raw();
        }
        // INVARIANT: We own the reference of `device_initialize`; the device is not added.
        Ok(OwnedBusDevice {
            // SAFETY: `KBox::into_raw` is not null.
            dev: unsafe { NonNull::new_unchecked(dev) },
            added: AtomicBool::new(false),
        })
    }
}

impl<T> BusDevice<T> {
    /// The C `struct device`.
    pub fn as_raw(&self) -> *mut bindings::device {
        self.dev.get()
    }

    /// The device.
    pub fn device(&self) -> &Device {
        // SAFETY: The device is initialised and lives as long as `self`.
        unsafe { Device::as_ref(self.as_raw()) }
    }
}

/// C `release` of a [`BusDevice<T>`]: frees it.
///
/// # Safety
///
/// Called by the driver core with a `BusDevice<T>`'s device whose last reference went.
unsafe extern "C" fn release_callback<T>(dev: *mut bindings::device) {
    // SAFETY: The device is the first field of a `BusDevice<T>` allocated by `BusDevice::create`
    // in a `KBox` (type invariant); this is its last use, and dropping it in place keeps it
    // pinned.
    drop(unsafe { KBox::from_raw(dev.cast::<BusDevice<T>>()) });
}

/// The reference on a [`BusDevice<T>`] of its creator: dropping it is C `put_device()`, or C
/// `device_unregister()` once the device was added.
///
/// # Invariants
///
/// `dev` is live and this value owns one reference on it; `added` is set once
/// [`OwnedBusDevice::add`] succeeded, and the device is then added until the drop.
pub struct OwnedBusDevice<T> {
    dev: NonNull<BusDevice<T>>,
    added: AtomicBool,
}

// SAFETY: A device reference may be dropped from any thread; `T` is `Send + Sync`.
unsafe impl<T: Send + Sync> Send for OwnedBusDevice<T> {}
// SAFETY: `&OwnedBusDevice` gives `&BusDevice<T>` and the C calls of a device, which the
// driver core serialises.
unsafe impl<T: Send + Sync> Sync for OwnedBusDevice<T> {}

impl<T> core::ops::Deref for OwnedBusDevice<T> {
    type Target = BusDevice<T>;

    fn deref(&self) -> &BusDevice<T> {
        // SAFETY: We own a reference (type invariant).
        unsafe { self.dev.as_ref() }
    }
}

impl<T> OwnedBusDevice<T> {
    /// Names the device `<base><id>` (C `dev_set_name(dev, "%s%u", base, id)`); before
    /// [`OwnedBusDevice::add`].
    pub fn set_name_numbered(&self, base: &CStr, id: u32) -> Result {
        if self.added.load(Ordering::Acquire) {
            return Err(EBUSY);
        }
        // SAFETY: The device is initialised and not added; the format takes a string and an
        // `unsigned int`.
        to_result(unsafe {
            bindings::dev_set_name(
                self.as_raw(),
                kernel::c_str!("%s%u").as_char_ptr(),
                base.as_char_ptr(),
                id,
            )
        })
    }

    /// Gives the device a software node with `props` (C
    /// `device_create_managed_software_node(dev, props, NULL)`), which goes with the device;
    /// before [`OwnedBusDevice::add`].
    pub fn add_software_node<const N: usize>(
        &self,
        props: &crate::property::PropertyList<N>,
    ) -> Result {
        if self.added.load(Ordering::Acquire) {
            return Err(EBUSY);
        }
        // SAFETY: The device is initialised and not added; the list is terminated (its type
        // invariant) and copied by the callee.
        to_result(unsafe {
            bindings::device_create_managed_software_node(
                self.as_raw(),
                props.as_ptr(),
                ptr::null(),
            )
        })
    }

    /// Adds the device (C `device_add()`); `EBUSY` if it was added already.
    pub fn add(&self) -> Result {
        if self.added.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        // SAFETY: The device is initialised and on its registered bus; not added yet.
        if let Err(e) = to_result(unsafe { bindings::device_add(self.as_raw()) }) {
            self.added.store(false, Ordering::Release);
            return Err(e);
        }
        Ok(())
    }
}

impl<T> Drop for OwnedBusDevice<T> {
    fn drop(&mut self) {
        let dev = self.as_raw();
        if *self.added.get_mut() {
            // SAFETY: The device is added and this drops our reference, once (type invariant).
            unsafe { bindings::device_unregister(dev) };
        } else {
            // SAFETY: Drops our reference, once; the release callback frees the device.
            unsafe { bindings::put_device(dev) };
        }
    }
}
