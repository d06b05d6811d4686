// SPDX-License-Identifier: GPL-2.0

//! Buses of the driver model defined by a module.
//!
//! C header: [`include/linux/device/bus.h`](srctree/include/linux/device/bus.h).

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{bindings, device::Device, error::to_result, prelude::*, str::CStr, types::Opaque};

/// A `struct bus_type` with only a name, in a `static`: a software bus whose devices the
/// module adds itself and which no driver binds.
///
/// # Invariants
///
/// After [`StaticBus::new`], the C side is the only writer of the structure (the driver core,
/// under its own locks, between `bus_register` and `bus_unregister`).
pub struct StaticBus {
    bus: Opaque<bindings::bus_type>,
    /// Whether the bus is registered ([`StaticBus::register`]).
    registered: AtomicBool,
}

// SAFETY: The C structure is only written by the driver core, which serialises its accesses;
// Rust code only reads `bus` of devices, compares addresses and hands it to C.
unsafe impl Sync for StaticBus {}

impl StaticBus {
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
        core::ptr::eq(bus, self.as_raw())
    }

    /// Registers the bus (C `bus_register()`); unregistered when the returned value is dropped.
    /// `EBUSY` if it is registered already.
    pub fn register(&'static self) -> Result<BusRegistration> {
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
pub struct BusRegistration {
    bus: &'static StaticBus,
}

impl Drop for BusRegistration {
    fn drop(&mut self) {
        // SAFETY: Registered by `StaticBus::register` (type invariant), unregistered once.
        unsafe { bindings::bus_unregister(self.bus.as_raw()) };
        self.bus.registered.store(false, Ordering::Release);
    }
}
