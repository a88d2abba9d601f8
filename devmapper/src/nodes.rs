//! The `/dev/mapper` node-operation stack, run the way libdevmapper runs it.
//!
//! Tasks do not touch device nodes when their ioctl succeeds: they *stack*
//! an operation ([`stack`]); the stack is executed, in FIFO order, by
//! [`update_devs`] — which libdm calls from `dm_task_update_nodes`,
//! `dm_udev_wait`, `dm_udev_wait_immediate` (when ready) and
//! `dm_lib_release`. Operations that udev is trusted to perform
//! (`rely_on_udev`) are only logged as skipped.
//!
//! The stack belongs to a [`Context`], behind a mutex; execution happens
//! after the pending operations were taken out, and nothing is logged while
//! the lock is held. Names are bytes.
//!
//! Also here: reading a device's read-ahead ([`get_read_ahead`], behind
//! `dm_task_get_read_ahead`) and directory creation ([`create_dir`]).

use std::cell::OnceCell;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::kernel::sys;

/// `DM_READ_AHEAD_AUTO`: leave the kernel's read-ahead alone.
pub const READ_AHEAD_AUTO: u32 = u32::MAX;
/// `DM_READ_AHEAD_NONE`: no read-ahead.
pub const READ_AHEAD_NONE: u32 = 0;
/// `DM_READ_AHEAD_MINIMUM_FLAG`: only ever increase the read-ahead.
pub const READ_AHEAD_MINIMUM_FLAG: u32 = 0x1;

/// A stacked node operation. A name containing `/` is used as a path as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeOp {
    /// `NODE_ADD`: make `dm_dir()/name` a block node `major:minor`.
    Add {
        /// Node name.
        name: Vec<u8>,
        /// Device major.
        major: u32,
        /// Device minor.
        minor: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
        /// Permission bits.
        mode: u32,
        /// Warn when udev did not do it.
        check_udev: bool,
    },
    /// `NODE_DEL`: remove `dm_dir()/name`.
    Del {
        /// Node name.
        name: Vec<u8>,
        /// Warn when udev did not do it.
        check_udev: bool,
    },
    /// `NODE_RENAME`: rename `dm_dir()/old` to `dm_dir()/new`.
    Rename {
        /// Old node name.
        old: Vec<u8>,
        /// New node name.
        new: Vec<u8>,
        /// Warn when udev did not do it.
        check_udev: bool,
    },
    /// `NODE_READ_AHEAD`: set the device's read-ahead (in sectors).
    ReadAhead {
        /// Node name.
        name: Vec<u8>,
        /// Device major.
        major: u32,
        /// Device minor.
        minor: u32,
        /// Read-ahead in sectors.
        read_ahead: u32,
        /// `DM_READ_AHEAD_*` flags.
        flags: u32,
    },
}

impl NodeOp {
    /// `add_dev_node`.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        name: impl Into<Vec<u8>>,
        major: u32,
        minor: u32,
        uid: u32,
        gid: u32,
        mode: u32,
        check_udev: bool,
    ) -> Self {
        NodeOp::Add {
            name: name.into(),
            major,
            minor,
            uid,
            gid,
            mode,
            check_udev,
        }
    }

    /// `rm_dev_node`.
    pub fn del(name: impl Into<Vec<u8>>, check_udev: bool) -> Self {
        NodeOp::Del {
            name: name.into(),
            check_udev,
        }
    }

    /// `rename_dev_node`.
    pub fn rename(old: impl Into<Vec<u8>>, new: impl Into<Vec<u8>>, check_udev: bool) -> Self {
        NodeOp::Rename {
            old: old.into(),
            new: new.into(),
            check_udev,
        }
    }

    /// `set_dev_node_read_ahead`.
    pub fn read_ahead(
        name: impl Into<Vec<u8>>,
        major: u32,
        minor: u32,
        read_ahead: u32,
        flags: u32,
    ) -> Self {
        NodeOp::ReadAhead {
            name: name.into(),
            major,
            minor,
            read_ahead,
            flags,
        }
    }

    /// The operation with its names borrowed.
    pub(crate) fn as_ref(&self) -> OpRef<'_> {
        match self {
            NodeOp::Add {
                name,
                major,
                minor,
                uid,
                gid,
                mode,
                check_udev,
            } => OpRef::Add {
                name,
                major: *major,
                minor: *minor,
                uid: *uid,
                gid: *gid,
                mode: *mode,
                check_udev: *check_udev,
            },
            NodeOp::Del { name, check_udev } => OpRef::Del {
                name,
                check_udev: *check_udev,
            },
            NodeOp::Rename {
                old,
                new,
                check_udev,
            } => OpRef::Rename {
                old,
                new,
                check_udev: *check_udev,
            },
            NodeOp::ReadAhead {
                name,
                major,
                minor,
                read_ahead,
                flags,
            } => OpRef::ReadAhead {
                name,
                major: *major,
                minor: *minor,
                read_ahead: *read_ahead,
                flags: *flags,
            },
        }
    }
}

/// A [`NodeOp`] with borrowed names: what tasks stack (the names are
/// copied once, into the stack's arena) and what the stack runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpRef<'a> {
    Add {
        name: &'a [u8],
        major: u32,
        minor: u32,
        uid: u32,
        gid: u32,
        mode: u32,
        check_udev: bool,
    },
    Del {
        name: &'a [u8],
        check_udev: bool,
    },
    Rename {
        old: &'a [u8],
        new: &'a [u8],
        check_udev: bool,
    },
    ReadAhead {
        name: &'a [u8],
        major: u32,
        minor: u32,
        read_ahead: u32,
        flags: u32,
    },
}

impl<'a> OpRef<'a> {
    fn kind(&self) -> Kind {
        match self {
            OpRef::Add { .. } => Kind::Add,
            OpRef::Del { .. } => Kind::Del,
            OpRef::Rename { .. } => Kind::Rename,
            OpRef::ReadAhead { .. } => Kind::ReadAhead,
        }
    }

    /// libdm's `dev_name` of the op (the *new* name for a rename).
    fn dev_name(&self) -> &'a [u8] {
        match *self {
            OpRef::Add { name, .. } | OpRef::Del { name, .. } | OpRef::ReadAhead { name, .. } => {
                name
            }
            OpRef::Rename { new, .. } => new,
        }
    }

    fn check_udev(&self) -> bool {
        match *self {
            OpRef::Add { check_udev, .. }
            | OpRef::Del { check_udev, .. }
            | OpRef::Rename { check_udev, .. } => check_udev,
            OpRef::ReadAhead { .. } => false,
        }
    }

    /// A copy with owned names (for log lines written after the stack's
    /// lock is released, and tests).
    fn to_owned(self) -> NodeOp {
        match self {
            OpRef::Add {
                name,
                major,
                minor,
                uid,
                gid,
                mode,
                check_udev,
            } => NodeOp::add(name, major, minor, uid, gid, mode, check_udev),
            OpRef::Del { name, check_udev } => NodeOp::del(name, check_udev),
            OpRef::Rename {
                old,
                new,
                check_udev,
            } => NodeOp::rename(old, new, check_udev),
            OpRef::ReadAhead {
                name,
                major,
                minor,
                read_ahead,
                flags,
            } => NodeOp::read_ahead(name, major, minor, read_ahead, flags),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Add,
    Del,
    Rename,
    ReadAhead,
}

/// Where a name lies in the stack's arena.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    at: usize,
    len: usize,
}

impl Span {
    fn of<'n>(&self, names: &'n [u8]) -> &'n [u8] {
        names.get(self.at..self.at + self.len).unwrap_or(&[])
    }
}

/// A stacked operation with libdm's udev decisions. Its names are in the
/// stack's arena ([`Pending`]), so an entry is plain data.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    kind: Kind,
    /// libdm's `dev_name`: the node (a rename's new name).
    name: Span,
    /// A rename's old name.
    old: Span,
    major: u32,
    minor: u32,
    uid: u32,
    gid: u32,
    mode: u32,
    read_ahead: u32,
    flags: u32,
    check_udev: bool,
    rely_on_udev: bool,
    warn_if_udev_failed: bool,
    /// The name (`name`) is a task's name that its check found plain
    /// (see [`Plain`]): the node path is built without a second scan.
    plain: bool,
}

impl Entry {
    /// The operation, its names read from `names` (the stack's arena).
    fn op<'n>(&self, names: &'n [u8]) -> OpRef<'n> {
        let name = self.name.of(names);
        match self.kind {
            Kind::Add => OpRef::Add {
                name,
                major: self.major,
                minor: self.minor,
                uid: self.uid,
                gid: self.gid,
                mode: self.mode,
                check_udev: self.check_udev,
            },
            Kind::Del => OpRef::Del {
                name,
                check_udev: self.check_udev,
            },
            Kind::Rename => OpRef::Rename {
                old: self.old.of(names),
                new: name,
                check_udev: self.check_udev,
            },
            Kind::ReadAhead => OpRef::ReadAhead {
                name,
                major: self.major,
                minor: self.minor,
                read_ahead: self.read_ahead,
                flags: self.flags,
            },
        }
    }
}

/// The stacked operations of a context (a `Vec` of them, through
/// `Deref`) and the arena their names are copied into. Both are emptied,
/// not freed, once the stack has run: stacking and running an operation
/// then allocates nothing.
#[derive(Default)]
pub(crate) struct Pending {
    ops: Vec<Entry>,
    names: Vec<u8>,
}

/// The emptied vectors are kept for the next operations up to these
/// capacities.
const KEEP_OPS: usize = 64;
const KEEP_NAMES: usize = 16 << 10;

/// Names up to this length are copied into the arena inline.
const SHORT_NAME: usize = 16;

impl Pending {
    pub(crate) const fn new() -> Pending {
        Pending {
            ops: Vec::new(),
            names: Vec::new(),
        }
    }

    fn put_name(&mut self, n: &[u8]) -> Span {
        let at = self.names.len();
        if n.len() <= SHORT_NAME {
            // The usual name is copied inline (no call to memcpy): a
            // fixed-size block, of which only the name's bytes are kept.
            let mut block = [0u8; SHORT_NAME];
            crate::kernel::codec::copy_short(&mut block[..n.len()], n);
            self.names.extend_from_slice(&block);
            self.names.truncate(at + n.len());
        } else {
            self.names.extend_from_slice(n);
        }
        Span { at, len: n.len() }
    }

    #[inline]
    fn push(&mut self, op: OpRef<'_>, rely_on_udev: bool, warn_if_udev_failed: bool, plain: Plain) {
        let mut e = Entry {
            kind: op.kind(),
            name: Span::default(),
            old: Span::default(),
            major: 0,
            minor: 0,
            uid: 0,
            gid: 0,
            mode: 0,
            read_ahead: 0,
            flags: 0,
            check_udev: op.check_udev(),
            rely_on_udev,
            warn_if_udev_failed,
            plain: plain.known() && matches!(op, OpRef::Add { .. } | OpRef::Del { .. }),
        };
        match op {
            OpRef::Add {
                name,
                major,
                minor,
                uid,
                gid,
                mode,
                ..
            } => {
                e.name = self.put_name(name);
                (e.major, e.minor, e.uid, e.gid, e.mode) = (major, minor, uid, gid, mode);
            }
            OpRef::Del { name, .. } => e.name = self.put_name(name),
            OpRef::Rename { old, new, .. } => {
                e.old = self.put_name(old);
                e.name = self.put_name(new);
            }
            OpRef::ReadAhead {
                name,
                major,
                minor,
                read_ahead,
                flags,
            } => {
                e.name = self.put_name(name);
                (e.major, e.minor, e.read_ahead, e.flags) = (major, minor, read_ahead, flags);
            }
        }
        self.ops.push(e);
    }

    /// The stacked entry `i`'s `dev_name`.
    fn dev_name(&self, i: usize) -> &[u8] {
        self.ops[i].name.of(&self.names)
    }

    /// Take entry `i` out (its names stay in the arena until the stack
    /// runs), with a copy for the log when `debug`.
    fn unstack(&mut self, i: usize, debug: bool, log: &mut Vec<(NodeOp, bool, bool)>) {
        let e = self.ops.remove(i);
        if debug {
            log.push((
                e.op(&self.names).to_owned(),
                e.rely_on_udev,
                e.warn_if_udev_failed,
            ));
        }
    }
}

impl std::ops::Deref for Pending {
    type Target = Vec<Entry>;
    fn deref(&self) -> &Vec<Entry> {
        &self.ops
    }
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// `_log_node_op`'s text.
fn describe(action: &str, op: OpRef<'_>, rely_on_udev: bool, warn_if_udev_failed: bool) -> String {
    let rely = if rely_on_udev { " [trust_udev]" } else { "" };
    let verify = if warn_if_udev_failed {
        " [verify_udev]"
    } else {
        ""
    };
    match op {
        OpRef::Add {
            name,
            major,
            minor,
            uid,
            gid,
            mode,
            ..
        } => {
            let name = lossy(name);
            format!(
                "{name}: {action} NODE_ADD ({major},{minor}) {uid}:{gid} 0{mode:o}{rely}{verify}"
            )
        }
        OpRef::Del { name, .. } => {
            format!("{}: {action} NODE_DEL{rely}{verify}", lossy(name))
        }
        OpRef::Rename { old, new, .. } => {
            format!(
                "{}: {action} NODE_RENAME to {}{rely}{verify}",
                lossy(old),
                lossy(new)
            )
        }
        OpRef::ReadAhead {
            name,
            read_ahead,
            flags,
            ..
        } => {
            format!(
                "{}: {action} NODE_READ_AHEAD {read_ahead} (flags={flags}){rely}{verify}",
                lossy(name)
            )
        }
    }
}

/// `_log_node_op`, for a caller that knows debug lines are wanted.
#[cold]
#[inline(never)]
fn log_op(ctx: &Context, action: &str, op: OpRef<'_>, rely: bool, warn: bool) {
    crate::log_debug_act!(ctx, "{}", describe(action, op, rely, warn));
}

fn other_ops(stack: &[Entry], kind: Kind) -> bool {
    stack.iter().any(|e| e.kind != kind)
}

/// Stack a node operation, applying libdm's rules:
///
/// * DEL drops pending operations on the same name (while other kinds of
///   operation are pending);
/// * ADD drops the first pending DEL of the same name;
/// * RENAME drops every pending operation on the old name;
/// * READ_AHEAD never relies on udev and never warns; `READ_AHEAD_AUTO` is
///   not stacked at all.
///
/// `rely_on_udev` (cookie set with `DM_UDEV_DISABLE_LIBRARY_FALLBACK`) makes
/// [`update_devs`] skip the operation; otherwise, with `check_udev` (cookie
/// set without `DISABLE_DM_RULES`), it warns when udev evidently did not do
/// the job.
pub fn stack(ctx: &Context, op: NodeOp, rely_on_udev: bool) {
    stack_ref(ctx, op.as_ref(), rely_on_udev);
}

/// [`stack`] for an operation whose names are borrowed: they are copied
/// once, into the stack's arena, under one taking of its lock.
pub(crate) fn stack_ref(ctx: &Context, op: OpRef<'_>, rely_on_udev: bool) {
    // Asked before the lock is taken: a logger's `enabled` is its code.
    stack_ref_logged(
        ctx,
        op,
        rely_on_udev,
        ctx.log_enabled(crate::log::Level::Debug),
        Plain::UNKNOWN,
    );
}

/// Whether the name of a node operation is known to be plain: neither '/'
/// nor NUL in it, so that its node path is the device directory, '/' and
/// the name. A task knows it of the name that `Task::set_name` found made
/// of udev-whitelisted bytes only and sends unmangled; every other name is
/// scanned when its node path is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plain(bool);

impl Plain {
    /// Not known: the name is scanned.
    pub(crate) const UNKNOWN: Plain = Plain(false);

    /// `name`, a task's name, is plain when `checked`: the task's check
    /// found it whitelisted whole (checked again here in debug builds).
    #[inline]
    pub(crate) fn task_name(name: &[u8], checked: bool) -> Plain {
        debug_assert!(!checked || crate::mangle::is_plain(name));
        Plain(checked)
    }

    fn known(self) -> bool {
        self.0
    }
}

/// [`stack_ref`] with the answer of `ctx.log_enabled(Level::Debug)` given
/// (`debug`): a task run asks it once, for its ioctl line and its node
/// operations alike; `plain`: what is known of the name of an add or a
/// delete (see [`Plain`]).
pub(crate) fn stack_ref_logged(
    ctx: &Context,
    op: OpRef<'_>,
    rely_on_udev: bool,
    debug: bool,
    plain: Plain,
) {
    let kind = op.kind();
    let (rely, warn) = match op {
        OpRef::ReadAhead {
            read_ahead: READ_AHEAD_AUTO,
            ..
        } => return,
        // udev does not handle read-ahead.
        OpRef::ReadAhead { .. } => (false, false),
        _ => (rely_on_udev, op.check_udev()),
    };
    let warn_if_udev_failed = if rely { false } else { warn };
    let mut st = ctx.nodes.lock();
    // The usual case: nothing pending (the stack ran since the last task),
    // so nothing to unstack.
    if st.ops.is_empty() {
        st.push(op, rely, warn_if_udev_failed, plain);
        drop(st);
    } else {
        stack_after_pending(ctx, st, op, kind, rely, warn_if_udev_failed, debug, plain);
    }
    if debug {
        log_op(ctx, "Stacking", op, rely, warn_if_udev_failed);
    }
}

/// [`stack_ref_logged`] when operations are pending: libdm's unstacking
/// rules, then the push; the lock is released before the unstacked
/// operations are logged.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn stack_after_pending(
    ctx: &Context,
    mut st: parking_lot::MutexGuard<'_, Pending>,
    op: OpRef<'_>,
    kind: Kind,
    rely: bool,
    warn_if_udev_failed: bool,
    debug: bool,
    plain: Plain,
) {
    // Lines to log once the lock is released (made only when they will be).
    let mut unstacked: Vec<(NodeOp, bool, bool)> = Vec::new();
    match kind {
        Kind::Del if other_ops(&st.ops, Kind::Del) => {
            let mut i = 0;
            while i < st.ops.len() {
                if st.dev_name(i) == op.dev_name() {
                    st.unstack(i, debug, &mut unstacked);
                    if !other_ops(&st.ops, Kind::Del) {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        }
        Kind::Add => {
            if let Some(i) = (0..st.ops.len())
                .find(|&i| st.ops[i].kind == Kind::Del && st.dev_name(i) == op.dev_name())
            {
                st.unstack(i, debug, &mut unstacked);
            }
        }
        Kind::Rename => {
            if let OpRef::Rename { old, .. } = op {
                let mut i = 0;
                while i < st.ops.len() {
                    if st.dev_name(i) == old {
                        st.unstack(i, debug, &mut unstacked);
                    } else {
                        i += 1;
                    }
                }
            }
        }
        Kind::ReadAhead | Kind::Del => {}
    }
    st.push(op, rely, warn_if_udev_failed, plain);
    drop(st);
    if debug {
        for (e, r, w) in &unstacked {
            log_op(ctx, "Unstacking", e.as_ref(), *r, *w);
        }
    }
}

/// [`crate::context::DEFAULT_DM_DIR`], checked for NULs when compiled.
const DEFAULT_DM_DIR: sys::NoNul<'static> = sys::NoNul::from_const(crate::context::DEFAULT_DM_DIR);

/// Where and how operations run: the context and a snapshot of its settings.
struct Env<'a> {
    ctx: &'a Context,
    /// Debug lines are wanted (asked once per run of the stack; the
    /// logging macros ask again before formatting).
    debug: bool,
    /// The device directory set in the context (`None`: the default).
    dm_dir_set: Option<std::sync::Arc<[u8]>>,
    /// Asked when a read-ahead operation needs it.
    sysfs_dir: OnceCell<Vec<u8>>,
    /// `dm_udev_get_sync_support() && dm_udev_get_checking()`, asked only
    /// when an operation wants to verify udev's work (as libdm does).
    udev_checks: OnceCell<bool>,
}

impl<'a> Env<'a> {
    #[inline]
    fn of(ctx: &'a Context) -> Self {
        Env {
            ctx,
            debug: ctx.log_enabled(crate::log::Level::Debug),
            dm_dir_set: ctx.dm_dir_shared(),
            sysfs_dir: OnceCell::new(),
            udev_checks: OnceCell::new(),
        }
    }

    /// `dm_dir()`.
    fn dm_dir(&self) -> &[u8] {
        self.dm_dir_set
            .as_deref()
            .unwrap_or(crate::context::DEFAULT_DM_DIR)
    }

    /// `_build_dev_path`: a name containing '/' is taken as a path.
    fn dev_path(&self, name: &[u8]) -> PathBuf {
        if name.contains(&b'/') {
            PathBuf::from(OsStr::from_bytes(name))
        } else {
            PathBuf::from(OsStr::from_bytes(&[self.dm_dir(), b"/", name].concat()))
        }
    }

    /// [`Env::dev_path`] as a C string lent to `f` (no allocation for
    /// the usual node path); `Err(EINVAL)` for a name (or directory) with a
    /// NUL inside. `plain`: what the stack knows of the name.
    fn with_dev_path<R>(
        &self,
        name: &[u8],
        plain: Plain,
        f: impl FnOnce(&sys::CPath<'_>) -> R,
    ) -> Result<R, i32> {
        // The usual name, neither '/' nor NUL in it, is scanned once, or
        // not at all when its task's check found it plain; the default
        // directory is known to hold no NUL. `f` is called in one place,
        // whichever way the path is made, so it can be inlined.
        let mut store = sys::PathStore::new();
        let plain = if plain.known() {
            Some(sys::NoNul::known_plain(name))
        } else {
            sys::NoNul::plain_name(name)
        };
        let path = if let Some(name) = plain {
            let dir = match self.dm_dir_set.as_deref() {
                None => DEFAULT_DM_DIR,
                Some(d) => sys::NoNul::new(d).ok_or(libc::EINVAL)?,
            };
            store.dir_path(dir, name)?
        } else if crate::kernel::codec::contains_byte(name, b'/') {
            store.path(&[name])?
        } else {
            // No '/', so a NUL is what the scan found.
            return Err(libc::EINVAL);
        };
        Ok(f(&path))
    }

    /// `_warn_if_op_needed`.
    #[inline]
    fn warn_needed(&self, warn_if_udev_failed: bool) -> bool {
        if !warn_if_udev_failed {
            return false;
        }
        // Asked once per run of the stack (inline: the usual answer of
        // udev_sync is a few loads).
        match self.udev_checks.get() {
            Some(&checks) => checks,
            None => {
                let checks = self.ctx.udev_sync() && self.ctx.udev_checking();
                let _ = self.udev_checks.set(checks);
                checks
            }
        }
    }

    fn read_ahead_kb_path(&self, major: u32, minor: u32) -> Option<PathBuf> {
        let sysfs_dir = self.sysfs_dir.get_or_init(|| self.ctx.sysfs_dir());
        if sysfs_dir.is_empty() || major == 0 {
            None
        } else {
            let mut p = sysfs_dir.clone();
            p.extend_from_slice(format!("dev/block/{major}:{minor}/bdi/read_ahead_kb").as_bytes());
            Some(PathBuf::from(OsStr::from_bytes(&p)))
        }
    }
}

/// `update_devs()`: run every stacked operation in FIFO order and clear the
/// stack. Failures are logged; they do not stop later operations.
pub fn update_devs(ctx: &Context) {
    // The stack is taken out (operations stacked meanwhile, by a logger
    // running a task, start a new one) and run without the lock.
    let (mut ops, mut names) = {
        let mut st = ctx.nodes.lock();
        if st.ops.is_empty() {
            return;
        }
        (std::mem::take(&mut st.ops), std::mem::take(&mut st.names))
    };
    let env = Env::of(ctx);
    for e in &ops {
        if env.debug {
            let action = if e.rely_on_udev {
                "Skipping"
            } else {
                "Processing"
            };
            log_op(
                ctx,
                action,
                e.op(&names),
                e.rely_on_udev,
                e.warn_if_udev_failed,
            );
        }
        if !e.rely_on_udev {
            let _ = execute(&env, e, &names);
        }
    }
    // The emptied vectors (small ones only) serve the next operations.
    if ops.capacity() <= KEEP_OPS && names.capacity() <= KEEP_NAMES {
        ops.clear();
        names.clear();
        let mut st = ctx.nodes.lock();
        // Only in place of the vectors left by the take (nothing stacked
        // meanwhile): they own no memory, so nothing is freed under the
        // lock, and the compiler knows it.
        if st.ops.capacity() == 0 && st.names.capacity() == 0 {
            st.ops = ops;
            st.names = names;
        }
    }
}

/// Run the stacked entry `e` (its names in `names`, the stack's arena).
/// Each kind of operation is a call of its own: the usual one, a single
/// node made or removed, runs no code of the others.
fn execute(ctx: &Env<'_>, e: &Entry, names: &[u8]) -> bool {
    let name = e.name.of(names);
    let plain = Plain(e.plain);
    let warn = e.warn_if_udev_failed;
    match e.kind {
        Kind::Add => add_dev_node(
            ctx, name, plain, e.major, e.minor, e.uid, e.gid, e.mode, warn,
        ),
        Kind::Del => rm_dev_node(ctx, name, plain, warn),
        Kind::Rename => rename_dev_node(ctx, e.old.of(names), name, warn),
        Kind::ReadAhead => {
            set_dev_node_read_ahead(ctx, name, e.major, e.minor, e.read_ahead, e.flags)
        }
    }
}

use crate::kernel::sys::{disp, io_errno, sys_msg};

/// `dm_create_dir` (mkdir -p). With `fixed_mode`, each directory created is
/// given exactly that mode, as if made under the matching umask (libdm
/// creates the device directory under umask 0022, i.e. 0755); without it
/// the process umask applies to 0777.
pub fn create_dir(ctx: &Context, dir: &Path, fixed_mode: Option<u32>) -> bool {
    if dir.as_os_str().is_empty() {
        return true;
    }
    if dir.is_dir() {
        return true;
    }
    crate::log_verbose!(ctx, "Creating directory \"{}\"", disp(dir));
    let mut cur = PathBuf::new();
    for comp in dir.components() {
        cur.push(comp);
        if cur.is_dir() {
            continue;
        }
        let mut b = fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut b, fixed_mode.unwrap_or(0o777));
        match b.create(&cur) {
            Ok(()) => {
                if let Some(m) = fixed_mode {
                    let _ = fs::set_permissions(&cur, fs::Permissions::from_mode(m));
                }
            }
            Err(err) => {
                let errno = io_errno(&err);
                if errno == libc::EEXIST && cur.is_dir() {
                    continue;
                }
                if errno != libc::EROFS {
                    crate::log_error!(ctx, "{}", sys_msg("mkdir", &disp(dir), errno));
                }
                return false;
            }
        }
    }
    true
}

/// `_add_dev_node`.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn add_dev_node(
    ctx: &Env<'_>,
    name: &[u8],
    plain: Plain,
    major: u32,
    minor: u32,
    uid: u32,
    gid: u32,
    mode: u32,
    warn: bool,
) -> bool {
    let at = |p: &sys::CPath<'_>| add_dev_node_at(ctx, p, name, major, minor, uid, gid, mode, warn);
    match ctx.with_dev_path(name, plain, at) {
        Ok(done) => done,
        Err(e) => {
            // A name the C library could not pass to mknod (a NUL inside).
            crate::log_error!(
                ctx.ctx,
                "{}: mknod for {} failed: {}",
                disp(&ctx.dev_path(name)),
                lossy(name),
                sys::strerror(e)
            );
            false
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn add_dev_node_at(
    ctx: &Env<'_>,
    path: &sys::CPath<'_>,
    name: &[u8],
    major: u32,
    minor: u32,
    uid: u32,
    gid: u32,
    mode: u32,
    warn: bool,
) -> bool {
    let dev = sys::makedev(major, minor);

    match path.stat() {
        Ok(st) => {
            if !st.is_block() {
                crate::log_error!(
                    ctx.ctx,
                    "A non-block device file at '{}' is already present",
                    disp(path.as_path())
                );
                return false;
            }
            // The right node exists: leave it (and its owner/mode) alone.
            if st.rdev == dev {
                return true;
            }
            if path.unlink().is_err() {
                crate::log_error!(
                    ctx.ctx,
                    "Unable to unlink device node for '{}'",
                    lossy(name)
                );
                return false;
            }
        }
        Err(_) => {
            if ctx.warn_needed(warn) {
                crate::log_warn!(
                    ctx.ctx,
                    "{} not set up by udev: Falling back to direct node creation.",
                    disp(path.as_path())
                );
            }
        }
    }

    // libdm runs mknod under umask 0; setting the mode afterwards gives the
    // same node without touching the process-wide umask. The device
    // directory normally exists already (the control node lives there);
    // when it does not, it is made like libdm makes it, and mknod retried.
    let mut made = path.mknod(libc::S_IFBLK | (mode & 0o7777), dev);
    if made == Err(libc::ENOENT) && !name.contains(&b'/') {
        let dir = Path::new(OsStr::from_bytes(ctx.dm_dir()));
        if !create_dir(ctx.ctx, dir, Some(0o755)) {
            return false;
        }
        made = path.mknod(libc::S_IFBLK | (mode & 0o7777), dev);
    }
    match made {
        Ok(()) => {
            let _ = path.chmod(mode & 0o7777);
        }
        // The node may already have been created by udev.
        Err(libc::EEXIST) => {}
        Err(e) => {
            crate::log_error!(
                ctx.ctx,
                "{}: mknod for {} failed: {}",
                disp(path.as_path()),
                lossy(name),
                sys::strerror(e)
            );
            return false;
        }
    }

    if let Err(errno) = path.chown(uid, gid) {
        crate::log_error!(
            ctx.ctx,
            "{}",
            sys_msg("chown", &disp(path.as_path()), errno)
        );
        return false;
    }

    if ctx.debug {
        crate::log_debug_act!(ctx.ctx, "Created {}", disp(path.as_path()));
    }
    true
}

/// `_rm_dev_node`.
#[inline(never)]
fn rm_dev_node(ctx: &Env<'_>, name: &[u8], plain: Plain, warn: bool) -> bool {
    // A name with a NUL inside names no node: nothing to remove.
    ctx.with_dev_path(name, plain, |p| rm_dev_node_at(ctx, p, name, warn))
        .unwrap_or(true)
}

#[inline]
fn rm_dev_node_at(ctx: &Env<'_>, path: &sys::CPath<'_>, name: &[u8], warn: bool) -> bool {
    if path.lstat().is_err() {
        return true;
    }
    if ctx.warn_needed(warn) {
        crate::log_warn!(
            ctx.ctx,
            "Node {} was not removed by udev. Falling back to direct node removal.",
            disp(path.as_path())
        );
    }
    // udev may already have deleted the node.
    if let Err(errno) = path.unlink() {
        if errno != libc::ENOENT {
            crate::log_error!(
                ctx.ctx,
                "Unable to unlink device node for '{}'",
                lossy(name)
            );
            return false;
        }
    }
    if ctx.debug {
        crate::log_debug_act!(ctx.ctx, "Removed {}", disp(path.as_path()));
    }
    true
}

/// `_rename_dev_node`.
#[inline(never)]
fn rename_dev_node(ctx: &Env<'_>, old_name: &[u8], new_name: &[u8], warn: bool) -> bool {
    let oldpath = ctx.dev_path(old_name);
    let newpath = ctx.dev_path(new_name);

    match fs::symlink_metadata(&newpath) {
        Ok(lmd) => {
            let md = if lmd.file_type().is_symlink() {
                match fs::metadata(&newpath) {
                    Ok(m) => m,
                    Err(err) => {
                        crate::log_error!(
                            ctx.ctx,
                            "{}",
                            sys_msg("stat", &disp(&newpath), io_errno(&err))
                        );
                        return false;
                    }
                }
            } else {
                lmd
            };
            if !md.file_type().is_block_device() {
                crate::log_error!(
                    ctx.ctx,
                    "A non-block device file at '{}' is already present",
                    disp(&newpath)
                );
                return false;
            }
            if ctx.warn_needed(warn) {
                if let Err(err) = fs::symlink_metadata(&oldpath) {
                    if io_errno(&err) == libc::ENOENT {
                        // udev already did the rename.
                        return true;
                    }
                }
                crate::log_warn!(ctx.ctx,
                    "The node {} should have been renamed to {} by udev but old node is still present. Falling back to direct old node removal.",
                    disp(&oldpath),
                    disp(&newpath)
                );
                return rm_dev_node(ctx, old_name, Plain::UNKNOWN, false);
            }
            if let Err(err) = fs::remove_file(&newpath) {
                if io_errno(&err) == libc::EPERM {
                    // devfs: the entry has already been renamed.
                    return true;
                }
                crate::log_error!(
                    ctx.ctx,
                    "Unable to unlink device node for '{}'",
                    lossy(new_name)
                );
                return false;
            }
        }
        Err(_) => {
            if ctx.warn_needed(warn) {
                crate::log_warn!(ctx.ctx,
                    "The node {} should have been renamed to {} by udev but new node is not present. Falling back to direct node rename.",
                    disp(&oldpath),
                    disp(&newpath)
                );
            }
        }
    }

    // udev may already have renamed the node.
    if let Err(err) = fs::rename(&oldpath, &newpath) {
        if io_errno(&err) != libc::ENOENT {
            crate::log_error!(
                ctx.ctx,
                "Unable to rename device node from '{}' to '{}'",
                lossy(old_name),
                lossy(new_name)
            );
            return false;
        }
    }
    crate::log_debug_act!(ctx.ctx, "Renamed {} to {}", disp(&oldpath), disp(&newpath));
    true
}

/// C `atoi`: optional whitespace and sign, then digits; anything else ends
/// the number (0 if none).
fn atoi(b: &[u8]) -> i32 {
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c') {
        i += 1;
    }
    let neg = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        v = (v * 10 + (d - b'0') as i64).min(i64::from(i32::MAX) + 1);
        i += 1;
    }
    let v = if neg { -v } else { v };
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// `_open_dev_node`: open the node read-only (for both read-ahead ioctls).
fn open_dev_node(ctx: &Env<'_>, name: &[u8]) -> Option<File> {
    let path = ctx.dev_path(name);
    match File::open(&path) {
        Ok(f) => Some(f),
        Err(err) => {
            crate::log_error!(ctx.ctx, "{}", sys_msg("open", &disp(&path), io_errno(&err)));
            None
        }
    }
}

/// `get_dev_node_read_ahead`.
fn read_ahead_of(ctx: &Env<'_>, name: &[u8], major: u32, minor: u32) -> Option<u32> {
    if let Some(path) = ctx.read_ahead_kb_path(major, minor) {
        match File::open(&path) {
            Ok(mut f) => {
                // Expecting "number\n".
                let mut buf = [0u8; 23];
                return match f.read(&mut buf) {
                    Ok(n) if n >= 1 => {
                        let ra = (atoi(&buf[..n]) as u32).wrapping_mul(2);
                        crate::log_debug_act!(
                            ctx.ctx,
                            "{} ({}:{}): read ahead is {}",
                            lossy(name),
                            major as i32,
                            minor as i32,
                            ra
                        );
                        Some(ra)
                    }
                    Ok(_) => {
                        crate::log_error!(ctx.ctx, "{}", sys_msg("read", &disp(&path), 0));
                        None
                    }
                    Err(err) => {
                        crate::log_error!(
                            ctx.ctx,
                            "{}",
                            sys_msg("read", &disp(&path), io_errno(&err))
                        );
                        None
                    }
                };
            }
            Err(err) => {
                crate::log_debug!(ctx.ctx, "{}", sys_msg("open", &disp(&path), io_errno(&err)));
                // Fall back to the device node.
            }
        }
    }

    if name.is_empty() {
        crate::log_error!(ctx.ctx, "Empty device name passed to BLKRAGET");
        return None;
    }
    let f = open_dev_node(ctx, name)?;
    match sys::blkraget(f.as_fd()) {
        Ok(v) => {
            let ra = v as u32;
            crate::log_debug_act!(ctx.ctx, "{}: read ahead is {}", lossy(name), ra);
            Some(ra)
        }
        Err(e) => {
            crate::log_error!(ctx.ctx, "{}", sys_msg("BLKRAGET", &lossy(name), e));
            None
        }
    }
}

/// The read-ahead (in 512-byte sectors) of device `major:minor` named
/// `name`: from `<sysfs>/dev/block/M:m/bdi/read_ahead_kb` (×2) when sysfs is
/// configured and the major is known, otherwise `BLKRAGET` on the node.
/// `None` on failure (logged). Behind `dm_task_get_read_ahead`.
pub fn get_read_ahead(
    ctx: &Context,
    name: impl AsRef<[u8]>,
    major: u32,
    minor: u32,
) -> Option<u32> {
    read_ahead_of(&Env::of(ctx), name.as_ref(), major, minor)
}

/// `_set_read_ahead`.
fn write_read_ahead(ctx: &Env<'_>, name: &[u8], major: u32, minor: u32, read_ahead: u32) -> bool {
    crate::log_debug_act!(
        ctx.ctx,
        "{} ({}:{}): Setting read ahead to {}",
        lossy(name),
        major as i32,
        minor as i32,
        read_ahead
    );

    if let Some(path) = ctx.read_ahead_kb_path(major, minor) {
        // sysfs counts kB: round the sector count up.
        let kb = u64::from(read_ahead).div_ceil(2).to_string();
        match OpenOptions::new().write(true).open(&path) {
            Ok(mut f) => {
                return match f.write(kb.as_bytes()) {
                    Ok(n) if n == kb.len() => true,
                    Ok(_) => {
                        crate::log_error!(ctx.ctx, "{}", sys_msg("write", &disp(&path), 0));
                        false
                    }
                    Err(err) => {
                        crate::log_error!(
                            ctx.ctx,
                            "{}",
                            sys_msg("write", &disp(&path), io_errno(&err))
                        );
                        false
                    }
                };
            }
            Err(err) => {
                crate::log_debug!(ctx.ctx, "{}", sys_msg("open", &disp(&path), io_errno(&err)));
                // Fall back to the device node.
            }
        }
    }

    if name.is_empty() {
        // libdm 1.02.185 names the wrong ioctl here too.
        crate::log_error!(ctx.ctx, "Empty device name passed to BLKRAGET");
        return false;
    }
    let Some(f) = open_dev_node(ctx, name) else {
        return false;
    };
    if let Err(e) = sys::blkraset(f.as_fd(), u64::from(read_ahead)) {
        crate::log_error!(ctx.ctx, "{}", sys_msg("BLKRASET", &lossy(name), e));
        return false;
    }
    true
}

/// `_set_dev_node_read_ahead`.
#[inline(never)]
fn set_dev_node_read_ahead(
    ctx: &Env<'_>,
    name: &[u8],
    major: u32,
    minor: u32,
    read_ahead: u32,
    flags: u32,
) -> bool {
    if read_ahead == READ_AHEAD_AUTO {
        return true;
    }
    let read_ahead = if read_ahead == READ_AHEAD_NONE {
        0
    } else {
        read_ahead
    };
    if flags & READ_AHEAD_MINIMUM_FLAG != 0 {
        let Some(current) = read_ahead_of(ctx, name, major, minor) else {
            return false;
        };
        if current >= read_ahead {
            crate::log_debug_act!(
                ctx.ctx,
                "{}: retaining kernel read ahead of {} (requested {})",
                lossy(name),
                current,
                read_ahead
            );
            return true;
        }
    }
    write_read_ahead(ctx, name, major, minor, read_ahead)
}

/// Apply a read-ahead setting right away (what a stacked `NODE_READ_AHEAD`
/// does when processed). `false` on failure (logged).
pub fn set_read_ahead(
    ctx: &Context,
    name: impl AsRef<[u8]>,
    major: u32,
    minor: u32,
    read_ahead: u32,
    flags: u32,
) -> bool {
    set_dev_node_read_ahead(
        &Env::of(ctx),
        name.as_ref(),
        major,
        minor,
        read_ahead,
        flags,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct TmpDir(PathBuf);
    impl TmpDir {
        fn new(tag: &str) -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "dmrs-nodes-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).expect("tmpdir");
            TmpDir(p)
        }
        fn context(&self) -> Context {
            let c = Context::new();
            c.set_dev_dir(self.0.join("dev").as_os_str().as_bytes())
                .expect("dev dir");
            c.set_sysfs_dir(self.0.join("sys").as_os_str().as_bytes())
                .expect("sysfs dir");
            c
        }
    }
    impl Drop for TmpDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn root() -> bool {
        // mknod of block nodes needs root (CAP_MKNOD).
        std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
            })
            .unwrap_or(false)
    }

    fn node(ctx: &Env<'_>, name: &str) -> PathBuf {
        ctx.dev_path(name.as_bytes())
    }

    fn snapshot(c: &Context) -> Vec<NodeOp> {
        let st = c.nodes.lock();
        st.iter().map(|e| e.op(&st.names).to_owned()).collect()
    }

    fn env(c: &Context) -> Env<'_> {
        let e = Env::of(c);
        let _ = e.udev_checks.set(false);
        e
    }

    /// The C string `with_dev_path` lends for `name`, or its error.
    fn lent_path(ctx: &Env<'_>, name: &[u8]) -> Result<Vec<u8>, i32> {
        ctx.with_dev_path(name, Plain::UNKNOWN, |p| {
            p.as_path().as_os_str().as_bytes().to_vec()
        })
    }

    #[test]
    fn node_paths_lent_as_c_strings() {
        let t = TmpDir::new("paths");
        let c = t.context();
        let ctx = env(&c);
        let dir = ctx.dm_dir().to_vec();
        let under = |n: &[u8]| [&dir[..], b"/", n].concat();
        // A plain name is a node of the device directory; a name with '/'
        // is a path as it is.
        assert_eq!(lent_path(&ctx, b"vg-lv").unwrap(), under(b"vg-lv"));
        assert_eq!(lent_path(&ctx, b"/x/y").unwrap(), b"/x/y");
        assert_eq!(lent_path(&ctx, b"a/b").unwrap(), b"a/b");
        // A NUL inside names no node, with or without '/'.
        assert_eq!(lent_path(&ctx, b"vg\0lv"), Err(libc::EINVAL));
        assert_eq!(lent_path(&ctx, b"/x\0y"), Err(libc::EINVAL));
        assert_eq!(lent_path(&ctx, b"\0"), Err(libc::EINVAL));
        // Names of every length around the stack buffer's size, NULs and
        // '/' at every place of the SWAR words included.
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 200, 300, 5000] {
            let name = vec![b'n'; len];
            assert_eq!(lent_path(&ctx, &name).unwrap(), under(&name));
            for at in [0, len / 2, len.saturating_sub(1)] {
                if at < len {
                    let mut bad = name.clone();
                    bad[at] = 0;
                    assert_eq!(lent_path(&ctx, &bad), Err(libc::EINVAL), "{len} {at}");
                    bad[at] = b'/';
                    assert_eq!(lent_path(&ctx, &bad).unwrap(), bad, "{len} {at}");
                }
            }
        }
        // The default directory when none is set.
        let d = Context::new();
        assert_eq!(
            lent_path(&Env::of(&d), b"vg-lv").unwrap(),
            b"/dev/mapper/vg-lv"
        );
    }

    #[test]
    fn a_known_plain_name_makes_the_same_path_unscanned() {
        let t = TmpDir::new("plain");
        let c = t.context();
        let ctx = env(&c);
        let known = Plain::task_name(b"vg-lv", true);
        for name in [&b"vg-lv"[..], b"x", b"a-name-of-twenty-six-bytes"] {
            let unscanned = ctx
                .with_dev_path(name, known, |p| p.as_path().as_os_str().as_bytes().to_vec())
                .unwrap();
            assert_eq!(unscanned, lent_path(&ctx, name).unwrap());
        }
        // Stacked: only an add or a delete keeps what is known of its name;
        // a rename's and a read-ahead's names are always scanned.
        assert_eq!(c.pending_node_ops(), 0);
        let ops = [
            NodeOp::add("a", 7, 1, 0, 0, 0o600, false),
            NodeOp::del("d", false),
            NodeOp::rename("r", "s", false),
            NodeOp::read_ahead("ra", 7, 2, 256, 0),
        ];
        let mut st = c.nodes.lock();
        for op in &ops {
            st.push(op.as_ref(), false, false, known);
            st.push(op.as_ref(), false, false, Plain::UNKNOWN);
        }
        let kept: Vec<bool> = st.iter().map(|e| e.plain).collect();
        assert_eq!(kept, [true, false, true, false, false, false, false, false]);
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic]
    fn a_name_said_plain_is_checked_in_debug_builds() {
        let _ = Plain::task_name(b"a/b", true);
    }

    #[test]
    fn removal_of_a_node_that_is_a_file() {
        // lstat and unlink only: no root needed.
        let t = TmpDir::new("rm");
        let c = t.context();
        let ctx = env(&c);
        fs::create_dir_all(OsStr::from_bytes(ctx.dm_dir())).unwrap();
        let p = node(&ctx, "gone");
        fs::write(&p, b"x").unwrap();
        stack(&c, NodeOp::del("gone", true), false);
        update_devs(&c);
        assert!(fs::symlink_metadata(&p).is_err());
        // The same through a task's delete, its name known plain.
        fs::write(&p, b"x").unwrap();
        stack_ref_logged(
            &c,
            OpRef::Del {
                name: b"gone",
                check_udev: true,
            },
            false,
            false,
            Plain::task_name(b"gone", true),
        );
        update_devs(&c);
        assert!(fs::symlink_metadata(&p).is_err());
        // Absent: nothing to do, no failure.
        assert!(rm_dev_node(&ctx, b"gone", Plain::UNKNOWN, false));
        assert!(rm_dev_node(&ctx, b"a\0b", Plain::UNKNOWN, false));
    }

    #[test]
    fn log_texts() {
        let op = NodeOp::add("vg-lv", 253, 3, 0, 6, 0o660, true);
        assert_eq!(
            describe("Stacking", op.as_ref(), false, true),
            "vg-lv: Stacking NODE_ADD (253,3) 0:6 0660 [verify_udev]"
        );
        let op = NodeOp::del("x", false);
        assert_eq!(
            describe("Skipping", op.as_ref(), true, false),
            "x: Skipping NODE_DEL [trust_udev]"
        );
        let op = NodeOp::rename("a", "b", false);
        assert_eq!(
            describe("Processing", op.as_ref(), false, false),
            "a: Processing NODE_RENAME to b"
        );
        let op = NodeOp::read_ahead("a", 253, 0, 256, 1);
        assert_eq!(
            describe("Stacking", op.as_ref(), false, false),
            "a: Stacking NODE_READ_AHEAD 256 (flags=1)"
        );
    }

    #[test]
    fn stacking_rules() {
        let c = Context::new();

        // DEL drops pending ops on the same name.
        stack(&c, NodeOp::add("a", 253, 0, 0, 0, 0o600, false), false);
        stack(&c, NodeOp::read_ahead("a", 253, 0, 256, 0), false);
        stack(&c, NodeOp::add("b", 253, 1, 0, 0, 0o600, false), false);
        stack(&c, NodeOp::del("a", false), false);
        assert_eq!(
            snapshot(&c),
            vec![
                NodeOp::add("b", 253, 1, 0, 0, 0o600, false),
                NodeOp::del("a", false)
            ]
        );

        // ADD drops a pending DEL of the same name.
        stack(&c, NodeOp::add("a", 253, 2, 0, 0, 0o600, false), false);
        assert_eq!(
            snapshot(&c),
            vec![
                NodeOp::add("b", 253, 1, 0, 0, 0o600, false),
                NodeOp::add("a", 253, 2, 0, 0, 0o600, false)
            ]
        );

        // RENAME drops every pending op on the old name.
        stack(&c, NodeOp::read_ahead("a", 253, 2, 512, 0), false);
        stack(&c, NodeOp::rename("a", "c", false), false);
        assert_eq!(
            snapshot(&c),
            vec![
                NodeOp::add("b", 253, 1, 0, 0, 0o600, false),
                NodeOp::rename("a", "c", false)
            ]
        );

        // DEL of the new name drops the rename (its dev_name is the new name).
        stack(&c, NodeOp::del("c", false), false);
        assert_eq!(
            snapshot(&c),
            vec![
                NodeOp::add("b", 253, 1, 0, 0, 0o600, false),
                NodeOp::del("c", false)
            ]
        );

        // AUTO read-ahead is never stacked; READ_AHEAD never relies on udev.
        stack(
            &c,
            NodeOp::read_ahead("b", 253, 1, READ_AHEAD_AUTO, 0),
            false,
        );
        assert_eq!(c.pending_node_ops(), 2);
        stack(&c, NodeOp::read_ahead("b", 253, 1, 128, 0), true);
        assert!(!c
            .nodes
            .lock()
            .last()
            .map(|e| e.rely_on_udev)
            .unwrap_or(true));

        // warn flag is cleared when relying on udev.
        stack(&c, NodeOp::add("d", 253, 4, 0, 0, 0o600, true), true);
        let last = c.nodes.lock().last().cloned().unwrap();
        assert!(last.rely_on_udev && !last.warn_if_udev_failed);
        stack(&c, NodeOp::add("e", 253, 5, 0, 0, 0o600, true), false);
        assert!(c
            .nodes
            .lock()
            .last()
            .map(|e| e.warn_if_udev_failed)
            .unwrap_or(false));

        // A DEL with only DELs pending keeps them.
        let c = Context::new();
        stack(&c, NodeOp::del("x", false), false);
        stack(&c, NodeOp::del("x", false), false);
        assert_eq!(c.pending_node_ops(), 2);
    }

    #[test]
    fn a_run_stack_keeps_its_vectors() {
        let c = Context::new();
        // Skipped (relied on udev): nothing touches the file system.
        stack(&c, NodeOp::del("a-rather-long-name", false), true);
        stack(&c, NodeOp::rename("old", "new", false), true);
        update_devs(&c);
        assert_eq!(c.pending_node_ops(), 0);
        {
            let st = c.nodes.lock();
            assert!(st.ops.capacity() >= 2 && st.names.capacity() >= 24);
            assert!(st.names.is_empty());
        }
        // The arena holds exactly the new names.
        stack(&c, NodeOp::del("ab", false), true);
        stack(&c, NodeOp::rename("cd", "ef", false), true);
        assert_eq!(
            snapshot(&c),
            vec![NodeOp::del("ab", false), NodeOp::rename("cd", "ef", false)]
        );
        assert_eq!(c.nodes.lock().names, b"abcdef");
        // Unstacked names stay in the arena until the stack runs.
        stack(&c, NodeOp::del("ef", false), true);
        assert_eq!(
            snapshot(&c),
            vec![NodeOp::del("ab", false), NodeOp::del("ef", false)]
        );
        update_devs(&c);
        assert!(c.nodes.lock().names.is_empty());
        // Big vectors are not kept.
        for i in 0..(KEEP_OPS + 1) {
            stack(&c, NodeOp::del(format!("n{i}"), false), true);
        }
        update_devs(&c);
        assert_eq!(c.nodes.lock().ops.capacity(), 0);
    }

    #[test]
    fn execute_in_fifo_order() {
        if !root() {
            return;
        }
        let t = TmpDir::new("fifo");
        let c = t.context();
        let ctx = env(&c);

        stack(&c, NodeOp::add("one", 7, 200, 0, 0, 0o640, false), false);
        stack(&c, NodeOp::add("two", 7, 201, 0, 0, 0o600, false), false);
        stack(&c, NodeOp::add("skipped", 7, 202, 0, 0, 0o600, false), true);
        stack(&c, NodeOp::add("gone", 7, 203, 0, 0, 0o600, false), false);
        update_devs(&c);
        assert_eq!(c.pending_node_ops(), 0);

        let md = fs::metadata(node(&ctx, "one")).expect("one created");
        assert!(md.file_type().is_block_device());
        assert_eq!(md.rdev(), sys::makedev(7, 200));
        // Exact mode, whatever the umask (libdm uses umask 0).
        assert_eq!(md.mode() & 0o7777, 0o640);
        // The device directory was created 0755.
        assert_eq!(
            fs::metadata(OsStr::from_bytes(ctx.dm_dir()))
                .unwrap()
                .mode()
                & 0o777,
            0o755
        );
        assert!(fs::metadata(node(&ctx, "two")).is_ok());
        assert!(
            fs::symlink_metadata(node(&ctx, "skipped")).is_err(),
            "relied on udev"
        );

        // FIFO: rename then delete of the new name in one batch, and a
        // delete of a node that is not there.
        stack(&c, NodeOp::rename("one", "uno", false), false);
        stack(&c, NodeOp::del("gone", false), false);
        stack(&c, NodeOp::del("missing", false), false);
        update_devs(&c);
        assert!(fs::symlink_metadata(node(&ctx, "one")).is_err());
        assert_eq!(
            fs::metadata(node(&ctx, "uno")).unwrap().rdev(),
            sys::makedev(7, 200)
        );
        assert!(fs::symlink_metadata(node(&ctx, "gone")).is_err());

        // Renaming a node that does not exist is not an error.
        assert!(rename_dev_node(&ctx, b"nothere", b"nowhere", false));
    }

    #[test]
    fn existing_nodes() {
        if !root() {
            return;
        }
        let t = TmpDir::new("existing");
        let c = t.context();
        let ctx = env(&c);
        assert!(create_dir(
            &c,
            Path::new(OsStr::from_bytes(ctx.dm_dir())),
            Some(0o755)
        ));
        // Every node here is of major 7, its name scanned, no udev warning.
        let add = |name: &[u8], minor, uid, gid, mode| {
            add_dev_node(&ctx, name, Plain::UNKNOWN, 7, minor, uid, gid, mode, false)
        };

        // Same rdev: left alone, mode and owner untouched.
        assert!(add(b"same", 210, 0, 0, 0o600));
        let p = node(&ctx, "same");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let ino = fs::metadata(&p).unwrap().ino();
        assert!(add(b"same", 210, 0, 0, 0o600));
        let md = fs::metadata(&p).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o644);
        assert_eq!(md.ino(), ino);

        // Different rdev: replaced.
        assert!(add(b"same", 211, 0, 0, 0o600));
        let md = fs::metadata(&p).unwrap();
        assert_eq!(md.rdev(), sys::makedev(7, 211));
        assert_eq!(md.mode() & 0o7777, 0o600);

        // A regular file is not replaced.
        let f = node(&ctx, "file");
        fs::write(&f, b"x").unwrap();
        assert!(!add(b"file", 212, 0, 0, 0o600));
        assert!(fs::metadata(&f).unwrap().is_file());

        // Rename onto an existing block node replaces it; onto a file fails.
        assert!(add(b"src", 213, 0, 0, 0o600));
        assert!(rename_dev_node(&ctx, b"src", b"same", false));
        assert_eq!(fs::metadata(&p).unwrap().rdev(), sys::makedev(7, 213));
        assert!(add(b"src2", 214, 0, 0, 0o600));
        assert!(!rename_dev_node(&ctx, b"src2", b"file", false));

        // uid/gid are applied.
        assert!(add(b"owned", 215, 12, 34, 0o660));
        let md = fs::metadata(node(&ctx, "owned")).unwrap();
        assert_eq!((md.uid(), md.gid()), (12, 34));

        // Absolute names are used as paths.
        let abs = t.0.join("elsewhere");
        assert!(add(abs.as_os_str().as_bytes(), 216, 0, 0, 0o600));
        assert!(fs::metadata(&abs).unwrap().file_type().is_block_device());
        assert!(rm_dev_node(
            &ctx,
            abs.as_os_str().as_bytes(),
            Plain::UNKNOWN,
            false
        ));
        assert!(fs::symlink_metadata(&abs).is_err());
    }

    #[test]
    fn read_ahead_via_sysfs() {
        let t = TmpDir::new("ra");
        let c = t.context();
        let ctx = env(&c);
        let dir = t.0.join("sys/dev/block/253:4/bdi");
        fs::create_dir_all(&dir).unwrap();
        let kb = dir.join("read_ahead_kb");
        fs::write(&kb, b"128\n").unwrap();

        assert_eq!(read_ahead_of(&ctx, b"vol", 253, 4), Some(256));

        // Plain set: (ra + 1) / 2 kB. (sysfs attributes need no truncation,
        // so the test file is emptied first.)
        fs::write(&kb, b"").unwrap();
        assert!(set_dev_node_read_ahead(&ctx, b"vol", 253, 4, 1001, 0));
        assert_eq!(fs::read_to_string(&kb).unwrap(), "501");

        // MINIMUM: only increase.
        fs::write(&kb, b"128\n").unwrap();
        assert!(set_dev_node_read_ahead(
            &ctx,
            b"vol",
            253,
            4,
            200,
            READ_AHEAD_MINIMUM_FLAG
        ));
        assert_eq!(fs::read_to_string(&kb).unwrap(), "128\n");
        assert!(set_dev_node_read_ahead(
            &ctx,
            b"vol",
            253,
            4,
            300,
            READ_AHEAD_MINIMUM_FLAG
        ));
        assert_eq!(fs::read_to_string(&kb).unwrap(), "150\n");

        // NONE sets 0; AUTO does nothing.
        fs::write(&kb, b"").unwrap();
        assert!(set_dev_node_read_ahead(
            &ctx,
            b"vol",
            253,
            4,
            READ_AHEAD_NONE,
            0
        ));
        assert_eq!(fs::read_to_string(&kb).unwrap(), "0");
        fs::write(&kb, b"64\n").unwrap();
        assert!(set_dev_node_read_ahead(
            &ctx,
            b"vol",
            253,
            4,
            READ_AHEAD_AUTO,
            0
        ));
        assert_eq!(fs::read_to_string(&kb).unwrap(), "64\n");

        // No sysfs entry and no node: failure, no panic.
        assert_eq!(read_ahead_of(&ctx, b"nonode", 253, 9), None);
        assert_eq!(read_ahead_of(&ctx, b"", 253, 9), None);
        let nc = t.context();
        nc.set_sysfs_dir(b"").unwrap();
        let no_sysfs = env(&nc);
        assert_eq!(read_ahead_of(&no_sysfs, b"vol", 253, 4), None);
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi(b"128\n"), 128);
        assert_eq!(atoi(b"  -5x"), -5);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(atoi(b""), 0);
        assert_eq!(atoi(b"99999999999"), i32::MAX);
    }

    #[test]
    fn create_dir_nested() {
        let t = TmpDir::new("mkdir");
        let c = Context::new();
        let d = t.0.join("a/b/c");
        assert!(create_dir(&c, &d, Some(0o755)));
        assert!(d.is_dir());
        assert_eq!(fs::metadata(&d).unwrap().mode() & 0o777, 0o755);
        assert!(create_dir(&c, &d, None));
        let f = t.0.join("file");
        fs::write(&f, b"").unwrap();
        assert!(!create_dir(&c, &f.join("sub"), None));
    }
}
