// SPDX-License-Identifier: GPL-2.0

//! The debugfs view of the module (the C module has none): `/sys/kernel/debug/iommufd/`,
//! created at module init and removed at exit, root-only and read-only (mode 0400):
//!
//! - `summary`: module-wide totals, one per line: open `contexts`, published `objects`,
//!   `pinned_pages` (every pin the module holds: pages objects, access pins, the selftest's
//!   floor pins; counted by `kernel::page_pin`), `charged_pages` (what those pins are charged,
//!   `kernel::page_pin`) and `accesses` (created, not destroyed). All zero once every context
//!   is closed; the fuzzer and our `debugfs` suite check that.
//! - `contexts`: every open context: its accounting mode and charged pages, its objects (type,
//!   ID, users), each IOAS's areas (IOVA range, pages object, pinned pages, domains filled)
//!   and each access with its pins. Format: `Documentation/debugfs.md`.
//!
//! Both are `seq_file`s ([`kernel::seq_file::SeqIterator`]). `contexts` prints one bounded
//! record at a time (a context's header, [`OBJECTS_PER_RECORD`] objects, [`AREAS_PER_RECORD`]
//! areas of one IOAS, or one access): each record is a snapshot taken with the locks held only
//! for it, printed after they are let go, and the next one resumes after the last object ID or
//! area IOVA printed ([`Cursor`]). So a huge IOAS never needs one big buffer or one long lock
//! hold, and a reader never blocks the ioctls for long.
//!
//! Lock order: one table for the module, `Documentation/locking.md`. Here: the registry's lock
//! ([`Registry`], outermost: a reader holds it across a record so that no context is freed
//! under it), then one of a context's object table lock, an IOAS's io_pagetable lock (then its
//! pages objects' locks) or an access's state lock, never two of them at once.

use crate::{
    access::{self, Access},
    ioas::Ioas,
    object::ObjType,
    pages::{AccountMode, PAGE_SIZE},
    registry::Registry,
};
use kernel::{
    c_str,
    debugfs::{Dir, SeqFileEntry},
    page_pin,
    prelude::*,
    seq_file::{SeqFile, SeqIterator},
    seq_print,
    sync::Arc,
};

/// Objects per record of `contexts` (a line each: a record stays well under a page).
const OBJECTS_PER_RECORD: usize = 16;
/// Areas per record of `contexts` (a line each).
const AREAS_PER_RECORD: usize = 16;

/// The debugfs directory and its files; dropping it removes them (the files first).
pub(crate) struct DebugfsView {
    _summary: Pin<KBox<SeqFileEntry<Summary>>>,
    _contexts: Pin<KBox<SeqFileEntry<ContextsView>>>,
    _dir: Dir,
    registry: Arc<Registry>,
}

impl DebugfsView {
    /// Creates `/sys/kernel/debug/iommufd/` for `module`.
    pub(crate) fn new(module: &'static ThisModule) -> Result<DebugfsView> {
        let registry = Registry::new()?;
        let dir = Dir::new(c_str!("iommufd"));
        let summary = KBox::pin_init(
            SeqFileEntry::new(
                &dir,
                c_str!("summary"),
                0o400,
                Arc::new(Summary(registry.clone()), GFP_KERNEL)?,
                module,
            ),
            GFP_KERNEL,
        )?;
        let contexts = KBox::pin_init(
            SeqFileEntry::new(
                &dir,
                c_str!("contexts"),
                0o400,
                Arc::new(ContextsView(registry.clone()), GFP_KERNEL)?,
                module,
            ),
            GFP_KERNEL,
        )?;
        Ok(DebugfsView {
            _summary: summary,
            _contexts: contexts,
            _dir: dir,
            registry,
        })
    }

    /// The registry contexts register in.
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// The `summary` file.
pub(crate) struct Summary(Arc<Registry>);

/// The module-wide totals of `summary`.
pub(crate) struct Totals {
    contexts: usize,
    objects: usize,
    pinned_pages: usize,
    charged_pages: usize,
    accesses: usize,
}

impl SeqIterator for Summary {
    type Cursor = ();
    type Record = Totals;

    fn cursor(&self) {}

    fn record(&self, _cursor: &mut (), pos: u64) -> Result<Option<Totals>> {
        if pos != 0 {
            return Ok(None);
        }
        let g = self.0.contexts.lock();
        let objects = g
            .list
            .iter()
            .map(|(_, c)| c.objects().lock().table.live_count())
            .sum();
        Ok(Some(Totals {
            contexts: g.list.len(),
            objects,
            pinned_pages: page_pin::pinned_pages(),
            charged_pages: page_pin::charged_pages(),
            accesses: access::live_accesses(),
        }))
    }

    fn show(t: &Totals, m: &SeqFile) {
        seq_print!(
            m,
            "contexts {}\nobjects {}\npinned_pages {}\ncharged_pages {}\naccesses {}\n",
            t.contexts,
            t.objects,
            t.pinned_pages,
            t.charged_pages,
            t.accesses
        );
    }
}

/// The `contexts` file.
pub(crate) struct ContextsView(Arc<Registry>);

/// Which part of a context a record shows, in the order they are printed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Header,
    Objects,
    Ioas,
    Access,
}

/// Where a record starts: the context, its part, the first object ID of the part, and for an
/// IOAS the first area IOVA (`None`: the IOAS's first record, which also has its header).
#[derive(Clone, Copy)]
struct Key {
    ctx: u64,
    part: Part,
    id: u32,
    iova: Option<u64>,
}

impl Key {
    const FIRST: Key = Key::part(0, Part::Header, 0);

    const fn part(ctx: u64, part: Part, id: u32) -> Key {
        Key {
            ctx,
            part,
            id,
            iova: None,
        }
    }
}

/// Where an open `contexts` file is: the record last taken (its position and where it
/// started) and where the one after it starts. The seq_file core asks for that record again
/// when it did not fit in the reader's buffer, and for the next one otherwise; any other
/// position (a seek) is found by walking from the start.
pub(crate) struct Cursor {
    pos: Option<u64>,
    start: Key,
    end: Key,
}

/// One object's line.
pub(crate) struct ObjLine {
    id: u32,
    ty: ObjType,
    users: u32,
    shortterm: u32,
}

/// An IOAS's header line.
pub(crate) struct IoasHead {
    areas: usize,
    domains: usize,
    accesses: usize,
}

/// One area's line.
pub(crate) struct AreaLine {
    iova: u64,
    last: u64,
    pages: u64,
    pinned: u64,
    pages_pinned: u64,
    domains: usize,
    accesses: u32,
    pending: bool,
}

/// A record of `contexts`.
pub(crate) enum Record {
    Context {
        id: u64,
        mode: AccountMode,
        charged: u64,
        objects: usize,
    },
    Objects(KVec<ObjLine>),
    Areas {
        ioas: u32,
        head: Option<IoasHead>,
        areas: KVec<AreaLine>,
    },
    Access {
        id: u32,
        ioas: Option<u32>,
        pinned: u64,
    },
}

fn type_name(t: ObjType) -> &'static str {
    match t {
        ObjType::Device => "device",
        ObjType::HwptPaging => "hwpt_paging",
        ObjType::HwptNested => "hwpt_nested",
        ObjType::Ioas => "ioas",
        ObjType::Access => "access",
        ObjType::Fault => "fault",
        #[cfg(CONFIG_IOMMUFD_TEST)]
        ObjType::Selftest => "selftest",
    }
}

fn mode_name(m: AccountMode) -> &'static str {
    match m {
        AccountMode::None => "none",
        AccountMode::User => "user",
        AccountMode::Mm => "mm",
    }
}

impl ContextsView {
    /// The first record at or after `key`, with where it starts and where the next one
    /// starts. Holds the registry's lock throughout, and each object lock only for its part.
    fn find(&self, mut key: Key) -> Result<Option<(Record, Key, Key)>> {
        // Allocated before any lock is taken.
        let mut objs = KVec::with_capacity(OBJECTS_PER_RECORD, GFP_KERNEL)?;
        let mut lines = KVec::with_capacity(AREAS_PER_RECORD, GFP_KERNEL)?;
        let reg = self.0.contexts.lock();
        loop {
            let Some((cid, cref)) = reg.list.iter().find(|(id, _)| *id >= key.ctx) else {
                return Ok(None);
            };
            if *cid != key.ctx {
                key = Key::part(*cid, Part::Header, 0);
            }
            // Alive while it is registered (`Registry` invariants).
            let ctx = cref.ctx();
            match key.part {
                Part::Header => {
                    let objects = ctx.objects().lock().table.live_count();
                    let mode = ctx.account_mode();
                    let rec = Record::Context {
                        id: *cid,
                        mode,
                        charged: ctx.charged().get(),
                        objects,
                    };
                    return Ok(Some((rec, key, Key::part(*cid, Part::Objects, 1))));
                }
                Part::Objects => {
                    {
                        let g = ctx.objects().lock();
                        for (id, o, users, shortterm) in
                            g.table.live_from(key.id).take(OBJECTS_PER_RECORD)
                        {
                            // Within the capacity allocated above: no allocation here.
                            objs.push(
                                ObjLine {
                                    id,
                                    ty: o.obj_type(),
                                    users,
                                    shortterm,
                                },
                                GFP_KERNEL,
                            )?;
                        }
                    }
                    let Some(last) = objs.last().map(|l| l.id) else {
                        key = Key::part(*cid, Part::Ioas, 1);
                        continue;
                    };
                    let end = Key::part(*cid, Part::Objects, last + 1);
                    return Ok(Some((Record::Objects(objs), key, end)));
                }
                Part::Ioas => {
                    let found = {
                        let g = ctx.objects().lock();
                        let found = g
                            .table
                            .live_from(key.id)
                            .find_map(|(id, o, ..)| o.downcast::<Ioas>().map(|i| (id, i)));
                        found
                    };
                    let Some((id, ioas)) = found else {
                        key = Key::part(*cid, Part::Access, 1);
                        continue;
                    };
                    if id != key.id {
                        key = Key::part(*cid, Part::Ioas, id);
                    }
                    let (head, next) = {
                        let iopt = ioas.iopt();
                        let areas = iopt.core().areas();
                        let from = key.iova.unwrap_or(0);
                        let ndomains = iopt.domains.len();
                        // The first area starting at or after `from` (the one holding `from`,
                        // if any, was printed in the previous record).
                        let resume = areas.iter_from(from).skip_while(|a| a.iova() < from);
                        for a in resume.take(AREAS_PER_RECORD) {
                            let pages = a.handle();
                            let pfirst = a.start_byte() / PAGE_SIZE;
                            let plast = (a.start_byte() + a.length() - 1) / PAGE_SIZE;
                            let (pinned, pages_pinned) = pages.pinned_counts(pfirst, plast);
                            // Within the capacity allocated above.
                            lines.push(
                                AreaLine {
                                    iova: a.iova(),
                                    last: a.last_iova(),
                                    pages: pages.debug_id(),
                                    pinned,
                                    pages_pinned,
                                    domains: if a.is_pending() { 0 } else { ndomains },
                                    accesses: a.num_accesses(),
                                    pending: a.is_pending(),
                                },
                                GFP_KERNEL,
                            )?;
                        }
                        let head = key.iova.is_none().then(|| IoasHead {
                            areas: areas.len(),
                            domains: ndomains,
                            accesses: iopt.accesses.len(),
                        });
                        (head, lines.last().and_then(|l| l.iova.checked_add(1)))
                    };
                    // The IOAS reference goes here, with no lock held.
                    drop(ioas);
                    if head.is_none() && lines.is_empty() {
                        key = Key::part(*cid, Part::Ioas, id + 1);
                        continue;
                    }
                    let end = match next {
                        Some(iova) => Key {
                            iova: Some(iova),
                            ..key
                        },
                        None if head.is_some() && lines.is_empty() => Key {
                            iova: Some(0),
                            ..key
                        },
                        None => Key::part(*cid, Part::Ioas, id + 1),
                    };
                    let rec = Record::Areas {
                        ioas: id,
                        head,
                        areas: lines,
                    };
                    return Ok(Some((rec, key, end)));
                }
                Part::Access => {
                    let found = {
                        let g = ctx.objects().lock();
                        let found = g
                            .table
                            .live_from(key.id)
                            .find_map(|(id, o, ..)| o.downcast::<Access>().map(|a| (id, a)));
                        found
                    };
                    let Some((id, acc)) = found else {
                        key = Key::part(*cid + 1, Part::Header, 0);
                        continue;
                    };
                    let (_, ioas, pinned) = acc.debug_state();
                    drop(acc);
                    let start = Key::part(*cid, Part::Access, id);
                    let end = Key::part(*cid, Part::Access, id + 1);
                    return Ok(Some((Record::Access { id, ioas, pinned }, start, end)));
                }
            }
        }
    }
}

impl SeqIterator for ContextsView {
    type Cursor = Cursor;
    type Record = Record;

    fn cursor(&self) -> Cursor {
        Cursor {
            pos: None,
            start: Key::FIRST,
            end: Key::FIRST,
        }
    }

    fn record(&self, cursor: &mut Cursor, pos: u64) -> Result<Option<Record>> {
        let key = if pos == 0 {
            Key::FIRST
        } else if cursor.pos == Some(pos) {
            cursor.start
        } else if cursor.pos.and_then(|p| p.checked_add(1)) == Some(pos) {
            cursor.end
        } else {
            // A seek: walk the records before `pos` (without keeping them).
            let mut k = Key::FIRST;
            for _ in 0..pos {
                match self.find(k)? {
                    Some((_, _, end)) => k = end,
                    None => return Ok(None),
                }
            }
            k
        };
        match self.find(key)? {
            Some((rec, start, end)) => {
                *cursor = Cursor {
                    pos: Some(pos),
                    start,
                    end,
                };
                Ok(Some(rec))
            }
            None => Ok(None),
        }
    }

    fn show(r: &Record, m: &SeqFile) {
        match r {
            Record::Context {
                id,
                mode,
                charged,
                objects,
            } => seq_print!(
                m,
                "context {} account_mode {} charged_pages {} objects {}\n",
                id,
                mode_name(*mode),
                charged,
                objects
            ),
            Record::Objects(objs) => {
                for o in objs.iter() {
                    seq_print!(
                        m,
                        "  object {} {} users {} shortterm {}\n",
                        o.id,
                        type_name(o.ty),
                        o.users,
                        o.shortterm
                    );
                }
            }
            Record::Areas { ioas, head, areas } => {
                if let Some(h) = head {
                    seq_print!(
                        m,
                        "  ioas {} areas {} domains {} accesses {}\n",
                        ioas,
                        h.areas,
                        h.domains,
                        h.accesses
                    );
                }
                for a in areas.iter() {
                    seq_print!(
                        m,
                        "    area {:#x}-{:#x} pages {} pinned {} pages_pinned {} domains {} accesses {}{}\n",
                        a.iova,
                        a.last,
                        a.pages,
                        a.pinned,
                        a.pages_pinned,
                        a.domains,
                        a.accesses,
                        if a.pending { " pending" } else { "" }
                    );
                }
            }
            Record::Access { id, ioas, pinned } => match ioas {
                Some(i) => seq_print!(m, "  access {} ioas {} pinned_pages {}\n", id, i, pinned),
                None => seq_print!(m, "  access {} ioas - pinned_pages {}\n", id, pinned),
            },
        }
    }
}
