// SPDX-License-Identifier: GPL-2.0

//! The open contexts, for the debugfs view (`debugfs.rs`, `Documentation/debugfs.md`): each
//! context registers at open and unregisters as the last step of its drop. Apart from the
//! view so that the context, which registers itself, imports nothing that handles ioctls.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: the registry's lock
//! (outermost of all).

use crate::ctx::{CtxRef, IommufdCtx};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// The open contexts, in the order they were opened, with their numbers in the view.
pub(crate) struct Contexts {
    /// The number of the next context registered (the first is 1; never reused).
    next_id: u64,
    /// `(number, context)`, sorted by number.
    pub(crate) list: KVec<(u64, CtxRef)>,
}

/// The contexts the view shows.
///
/// # Invariants
///
/// Every context in the list is alive: a context unregisters itself (under the lock) before
/// it is freed, so a reader holding the lock may use any context it finds.
#[pin_data]
pub(crate) struct Registry {
    #[pin]
    pub(crate) contexts: Mutex<Contexts>,
}

impl Registry {
    /// An empty registry (the module's, made by `DebugfsView::new`).
    pub(crate) fn new() -> Result<Arc<Registry>> {
        Arc::pin_init(
            pin_init!(Registry {
                contexts <- new_mutex!(
                    Contexts {
                        next_id: 1,
                        list: KVec::new(),
                    },
                    "iommufd_debugfs::contexts"
                ),
            }),
            GFP_KERNEL,
        )
    }
}

/// Shows `ctx` in the view (at open). `ENOMEM` if it cannot be added.
pub(crate) fn register(ctx: &IommufdCtx) -> Result {
    let Some(reg) = crate::debugfs_registry() else {
        return Ok(());
    };
    let mut g = reg.contexts.lock();
    let id = g.next_id;
    g.list.push((id, ctx.as_ref()), GFP_KERNEL)?;
    g.next_id += 1;
    ctx.set_debug_id(id);
    Ok(())
}

/// Takes `ctx` out of the view (its last step before it is freed). Waits for a reader that is
/// taking a record of it.
pub(crate) fn unregister(ctx: &IommufdCtx) {
    let id = ctx.debug_id();
    if id == 0 {
        return;
    }
    let Some(reg) = crate::debugfs_registry() else {
        return;
    };
    let mut g = reg.contexts.lock();
    if let Some(i) = g.list.iter().position(|(n, _)| *n == id) {
        let _ = crate::storage::vec_remove(&mut g.list, i);
    }
}
