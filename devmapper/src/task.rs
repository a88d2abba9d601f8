//! The one engine: libdevmapper's task model, what the `dm_task_*` setters
//! record and what `dm_task_run` does with it, in safe Rust.
//!
//! Every kernel operation of the crate goes through [`Task::run`]: the C
//! library's `dm_task_*` exports are a thin shell over it, and the typed
//! API ([`DeviceMapper`](crate::DeviceMapper)) builds tasks too. The
//! semantics live here, once: payload rules, flags, create-with-table,
//! suppress-identical reload, the EBUSY retry of removes, ENXIO handling,
//! (un)mangling, node operations and udev cookie completion.
//!
//! Failures are returned as [`Error`]s carrying libdm's wording; progress
//! and debug lines go to the [`Context`]'s logger.

use crate::context::Context;
use crate::error::{Error, ErrorKind};
use crate::kernel::abi::{self, Command, DmFlags, DmIoctl, DATA_START};
use crate::kernel::codec;
use crate::kernel::control::{Head, HeadNames, IoctlError, Payload, Reply, Request};

mod table;
use crate::log::Level;
use crate::mangle::{self, ManglingMode};
use crate::nodes::{self, OpRef, Plain};
use crate::secret::{self, Secret};
use crate::small::SmallBytes;
use crate::udev;
pub use table::{Begun, InPlace, Table, TableIter, TableTarget};

/// Task types, numbered as in `libdevmapper.h` (`DM_DEVICE_*`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum TaskType {
    Create = 0,
    Reload = 1,
    Remove = 2,
    RemoveAll = 3,
    Suspend = 4,
    Resume = 5,
    Info = 6,
    Deps = 7,
    Rename = 8,
    Version = 9,
    Status = 10,
    Table = 11,
    WaitEvent = 12,
    List = 13,
    Clear = 14,
    MkNodes = 15,
    ListVersions = 16,
    TargetMsg = 17,
    SetGeometry = 18,
    ArmPoll = 19,
    GetTargetVersion = 20,
}

impl TaskType {
    /// The type of a `DM_DEVICE_*` number.
    pub fn from_raw(v: i32) -> Option<TaskType> {
        use TaskType::*;
        const ALL: [TaskType; 21] = [
            Create,
            Reload,
            Remove,
            RemoveAll,
            Suspend,
            Resume,
            Info,
            Deps,
            Rename,
            Version,
            Status,
            Table,
            WaitEvent,
            List,
            Clear,
            MkNodes,
            ListVersions,
            TargetMsg,
            SetGeometry,
            ArmPoll,
            GetTargetVersion,
        ];
        usize::try_from(v).ok().and_then(|i| ALL.get(i).copied())
    }

    /// The ioctl this task type sends.
    pub fn command(self) -> Command {
        use TaskType::*;
        match self {
            Create => Command::DevCreate,
            Reload => Command::TableLoad,
            Remove => Command::DevRemove,
            RemoveAll => Command::RemoveAll,
            Suspend | Resume => Command::DevSuspend,
            Info | MkNodes => Command::DevStatus,
            Deps => Command::TableDeps,
            Rename => Command::DevRename,
            Version => Command::Version,
            Status | Table => Command::TableStatus,
            WaitEvent => Command::DevWait,
            List => Command::ListDevices,
            Clear => Command::TableClear,
            ListVersions => Command::ListVersions,
            TargetMsg => Command::TargetMsg,
            SetGeometry => Command::DevSetGeometry,
            ArmPoll => Command::DevArmPoll,
            GetTargetVersion => Command::GetTargetVersion,
        }
    }

    /// The name libdevmapper uses in messages.
    pub fn name(self) -> &'static str {
        use TaskType::*;
        match self {
            Create => "create",
            Reload => "reload",
            Remove => "remove",
            RemoveAll => "remove_all",
            Suspend => "suspend",
            Resume => "resume",
            Info => "info",
            Deps => "deps",
            Rename => "rename",
            Version => "version",
            Status => "status",
            Table => "table",
            WaitEvent => "waitevent",
            List => "names",
            Clear => "clear",
            MkNodes => "mknodes",
            ListVersions => "versions",
            TargetMsg => "message",
            SetGeometry => "setgeometry",
            ArmPoll => "armpoll",
            GetTargetVersion => "target-version",
        }
    }

    /// Types whose ioctl never carries target specs.
    fn carries_no_targets(self) -> bool {
        use TaskType::*;
        matches!(
            self,
            RemoveAll | Create | Remove | Suspend | Status | Clear | ArmPoll
        )
    }

    /// Types that make the kernel emit a uevent carrying the cookie.
    fn with_uevent(self) -> bool {
        matches!(self, TaskType::Resume | TaskType::Remove | TaskType::Rename)
    }
}

/// `DM_ADD_NODE_ON_RESUME` (`dm_add_node_t`).
pub const ADD_NODE_ON_RESUME: i32 = 0;
/// `DM_ADD_NODE_ON_CREATE`.
pub const ADD_NODE_ON_CREATE: i32 = 1;
/// Owner, group and mode of library-created `/dev/mapper` nodes: Debian
/// builds libdevmapper with `--with-device-gid=6 --with-device-mode=0660`
/// (root:disk, 0660), and that is what programs on Debian expect.
pub const DEVICE_UID: u32 = 0;
/// Group of library-created nodes (`disk`).
pub const DEVICE_GID: u32 = 6;
/// Mode of library-created nodes.
pub const DEVICE_MODE: u32 = 0o660;
pub use crate::nodes::READ_AHEAD_AUTO;
/// Attempts of `dm_task_retry_remove` on EBUSY.
pub const REMOVE_RETRIES: u32 = 25;
/// Delay between those attempts.
pub const REMOVE_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(200);

/// Check a target type name as `dm_task_add_target` does (non-empty, no
/// NUL, shorter than 16 bytes), with libdm's messages.
#[inline]
pub fn check_type_name(t: &[u8]) -> Result<(), Error> {
    if !t.is_empty() && t.len() < abi::DM_MAX_TYPE_NAME && !table::short_has_nul(t) {
        return Ok(());
    }
    type_name_error(t)
}

#[cold]
fn type_name_error(t: &[u8]) -> Result<(), Error> {
    // The error quotes the caller's bytes without an infallible copy (a
    // caller may hand over a huge one), so the length is checked here,
    // before the codec's check, whose error holds a copy.
    if t.len() >= abi::DM_MAX_TYPE_NAME {
        return Err(quoted(
            "Target type name ",
            t,
            " is too long.",
            Error::invalid,
        ));
    }
    codec::check_target_type(t).map_err(|_| {
        if t.is_empty() {
            Error::invalid("Target type name is empty.")
        } else {
            quoted("Target type name ", t, " is too long.", Error::invalid)
        }
    })
}

/// One step of a walk over the targets of a STATUS/TABLE/WAITEVENT reply by
/// cursor ([`Task::reply_target_step`]).
#[derive(Debug)]
pub struct TargetStep<'a> {
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub length: u64,
    /// The spec's type field: the type name, NUL-terminated.
    pub target_type: &'a mut [u8; 16],
    /// The reply buffer from the spec's parameters/status on: they are
    /// NUL-terminated in it.
    pub params: &'a mut [u8],
    /// The cursor of the next target, 0 after the last.
    pub next: usize,
}

/// See [`Task::reply_spec_window`].
#[derive(Clone, Copy, Debug)]
pub struct SpecWindow {
    /// The reply buffer.
    pub base: *mut u8,
    /// Its length in bytes.
    pub len: usize,
    /// Buffer offset of the first spec (the payload's start; never 0).
    pub first: usize,
    /// Buffer offset of the last spec.
    pub last: usize,
}

/// Where the specs of a checked STATUS/TABLE/WAITEVENT reply are, in
/// offsets into the reply buffer (0: no specs), for walks by cursor. A
/// cursor is the buffer offset of a spec (never 0: the header comes first).
#[derive(Clone, Copy, Debug)]
struct SpecWalk {
    /// The first spec (the payload's start).
    first: usize,
    /// The last spec.
    last: usize,
    /// The cursor the last step handed out, the spec after the one it read
    /// (0: none): the one value besides 0 that needs no walk to trust.
    expect: usize,
    /// [`codec::SpecLayout::disjoint`]: callers' writes into the strings
    /// cannot have changed the specs' offsets.
    disjoint: bool,
}

impl SpecWalk {
    const NONE: SpecWalk = SpecWalk {
        first: 0,
        last: 0,
        expect: 0,
        disjoint: false,
    };

    fn new(data_start: usize, layout: codec::SpecLayout) -> SpecWalk {
        match layout.last {
            Some(last) => SpecWalk {
                first: data_start,
                last: data_start + last,
                expect: 0,
                disjoint: layout.disjoint,
            },
            None => SpecWalk::NONE,
        }
    }
}

/// A target of a STATUS/TABLE/WAITEVENT reply, as offsets into the reply
/// buffer (the strings there are NUL-terminated), so reading a table costs
/// no allocation per target.
#[derive(Clone, Copy, Debug)]
pub struct ReplyTarget {
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub length: u64,
    /// Offset of the NUL-terminated type name in the reply buffer.
    pub type_off: usize,
    /// Offset of the NUL-terminated parameters/status in the reply buffer.
    pub params_off: usize,
}

/// Everything a libdevmapper task records, plus the result of its last run.
/// The fields are what the `dm_task_set_*` calls set.
#[allow(missing_docs)]
pub struct Task {
    pub raw_type: i32,
    /// Set with [`Task::set_name`].
    pub name: Option<SmallBytes>,
    pub mangled_name: Option<Vec<u8>>,
    pub uuid: Option<SmallBytes>,
    pub mangled_uuid: Option<Vec<u8>>,
    pub newname: Option<Vec<u8>>,
    pub new_uuid: bool,
    pub message: Option<Secret>,
    /// The message was set from a C string ([`Task::try_set_message_cstr`]),
    /// so it holds no NUL: the run need not look for one.
    message_nul_free: bool,
    pub sector: Option<u64>,
    pub geometry: Option<Vec<u8>>,
    /// The targets added, encoded once for the kernel (see [`Table`]).
    table: Table,
    pub read_only: bool,
    pub major: i32,
    pub minor: i32,
    pub allow_default_major_fallback: bool,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub read_ahead: u32,
    pub read_ahead_flags: u32,
    pub event_nr: u32,
    pub cookie_set: bool,
    pub no_flush: bool,
    pub no_open_count: bool,
    pub skip_lockfs: bool,
    pub query_inactive_table: bool,
    pub suppress_identical_reload: bool,
    pub add_node: i32,
    pub secure_data: bool,
    pub retry_remove: bool,
    pub deferred_remove: bool,
    pub enable_checks: bool,
    pub ima_measurement: bool,
    pub record_timestamp: bool,
    /// LIST only: ask the kernel (4.45+) for each device's uuid too. Not a
    /// libdevmapper 1.02.185 setting; the Rust API uses it.
    pub list_uuids: bool,
    /// The targets passed [`Task::check_table`] since they last changed.
    table_checked: bool,
    /// [`Task::set_name`] found the name plain (udev-whitelisted bytes
    /// only): a reply that echoes those bytes needs no unmangling check.
    name_plain: bool,
    /// Largest ioctl buffer (0: the context's).
    pub buffer_cap: usize,
    /// Result of the last successful run.
    pub reply: Option<Reply>,
    /// The specs of the last reply, for [`Task::reply_target_step`].
    spec_walk: SpecWalk,
    /// Errno of the last failed ioctl on this task.
    pub ioctl_errno: i32,
    /// Set once `run` has been called (libdm allows rerunning; we note it).
    pub runs: u32,
    /// The last reply's payload was walked whole and found well-formed
    /// (every reply with records is, before anything reads it).
    pub payload_checked: bool,
    /// The last reply is a checked STATUS/TABLE/WAITEVENT one (its target
    /// specs can be followed without looking at the strings again).
    reply_specs: bool,
}

impl Task {
    /// A new task with libdevmapper's defaults.
    #[inline]
    pub fn new(raw_type: i32) -> Task {
        Task {
            raw_type,
            name: None,
            mangled_name: None,
            name_plain: false,
            uuid: None,
            mangled_uuid: None,
            newname: None,
            new_uuid: false,
            message: None,
            message_nul_free: false,
            sector: None,
            geometry: None,
            table: Table::new(),
            read_only: false,
            major: -1,
            minor: -1,
            allow_default_major_fallback: true,
            uid: DEVICE_UID,
            gid: DEVICE_GID,
            mode: DEVICE_MODE,
            read_ahead: READ_AHEAD_AUTO,
            read_ahead_flags: 0,
            event_nr: 0,
            cookie_set: false,
            no_flush: false,
            no_open_count: false,
            skip_lockfs: false,
            query_inactive_table: false,
            suppress_identical_reload: false,
            add_node: ADD_NODE_ON_RESUME,
            secure_data: false,
            retry_remove: false,
            deferred_remove: false,
            enable_checks: false,
            ima_measurement: false,
            record_timestamp: false,
            list_uuids: false,
            table_checked: false,
            buffer_cap: 0,
            reply: None,
            spec_walk: SpecWalk::NONE,
            ioctl_errno: 0,
            runs: 0,
            payload_checked: false,
            reply_specs: false,
        }
    }

    /// Make this task what [`Task::new`] makes, in place (field by field:
    /// no half-kilobyte value built and copied), dropping what it held as
    /// dropping the task would: the C library keeps the block of a
    /// destroyed task for the next one this way.
    #[inline]
    pub fn reset(&mut self, new_type: i32) {
        // Every field is named: a new field must be reset here too.
        let Task {
            raw_type,
            name,
            mangled_name,
            name_plain,
            uuid,
            mangled_uuid,
            newname,
            new_uuid,
            message,
            message_nul_free,
            sector,
            geometry,
            table,
            read_only,
            major,
            minor,
            allow_default_major_fallback,
            uid,
            gid,
            mode,
            read_ahead,
            read_ahead_flags,
            event_nr,
            cookie_set,
            no_flush,
            no_open_count,
            skip_lockfs,
            query_inactive_table,
            suppress_identical_reload,
            add_node,
            secure_data,
            retry_remove,
            deferred_remove,
            enable_checks,
            ima_measurement,
            record_timestamp,
            list_uuids,
            table_checked,
            buffer_cap,
            reply,
            spec_walk,
            ioctl_errno,
            runs,
            payload_checked,
            reply_specs,
        } = self;
        *raw_type = new_type;
        *name = None;
        *mangled_name = None;
        *name_plain = false;
        *uuid = None;
        *mangled_uuid = None;
        *newname = None;
        *new_uuid = false;
        *message = None;
        *message_nul_free = false;
        *sector = None;
        *geometry = None;
        *table = Table::new();
        *read_only = false;
        *major = -1;
        *minor = -1;
        *allow_default_major_fallback = true;
        *uid = DEVICE_UID;
        *gid = DEVICE_GID;
        *mode = DEVICE_MODE;
        *read_ahead = READ_AHEAD_AUTO;
        *read_ahead_flags = 0;
        *event_nr = 0;
        *cookie_set = false;
        *no_flush = false;
        *no_open_count = false;
        *skip_lockfs = false;
        *query_inactive_table = false;
        *suppress_identical_reload = false;
        *add_node = ADD_NODE_ON_RESUME;
        *secure_data = false;
        *retry_remove = false;
        *deferred_remove = false;
        *enable_checks = false;
        *ima_measurement = false;
        *record_timestamp = false;
        *list_uuids = false;
        *table_checked = false;
        *buffer_cap = 0;
        *reply = None;
        *spec_walk = SpecWalk::NONE;
        *ioctl_errno = 0;
        *runs = 0;
        *payload_checked = false;
        *reply_specs = false;
    }

    /// The task's type, if it is a known one.
    pub fn task_type(&self) -> Option<TaskType> {
        TaskType::from_raw(self.raw_type)
    }

    // ----- setters with libdevmapper's validation -----

    /// `dm_task_set_name`. Paths (names containing '/') are resolved to the
    /// dm name of the device node they point to. The name is mangled for
    /// the kernel in the context's mode.
    pub fn set_name(&mut self, ctx: &Context, name: &[u8]) -> Result<(), Error> {
        // The usual name: short, whitelisted bytes only (no '/', no NUL,
        // the same mangled or not): what the checks of `set_name_checked`
        // would keep as is. Stored in place of the previous one.
        if name.len() < abi::DM_NAME_LEN && mangle::is_plain(name) {
            self.mangled_name = None;
            SmallBytes::store(&mut self.name, name);
            self.name_plain = true;
            return Ok(());
        }
        self.set_name_checked(ctx, name)
    }

    /// [`Task::set_name`] of a name that is not plain: a path, a name too
    /// long, or one that may need mangling.
    #[inline(never)]
    fn set_name_checked(&mut self, ctx: &Context, name: &[u8]) -> Result<(), Error> {
        self.name = None;
        self.mangled_name = None;
        self.name_plain = false;
        // The name may be of any length: no copy, and messages that quote it
        // are built fallibly, before the length check has bounded it.
        if name.contains(&b'/') {
            if self.task_type() == Some(TaskType::Create) {
                return Err(quoted(
                    "Name \"",
                    name,
                    "\" invalid. It contains \"/\".",
                    Error::invalid,
                ));
            }
            // No path is longer than PATH_MAX (stat would say ENAMETOOLONG):
            // do not copy an arbitrarily long one for the file system calls.
            let resolved = if name.len() < libc::PATH_MAX as usize {
                resolve_path_name(ctx, name)
            } else {
                None
            };
            return match resolved {
                Some(n) => {
                    self.name = Some(n.into());
                    Ok(())
                }
                None => Err(quoted("Device ", name, " not found", |m| {
                    Error::new(ErrorKind::NotFound, m)
                })
                .with_errno(libc::ENXIO)),
            };
        }
        if name.len() >= abi::DM_NAME_LEN {
            return Err(quoted("Name \"", name, "\" too long.", Error::invalid));
        }
        let mut name = name.to_vec();
        if name.contains(&0) {
            name.truncate(name.iter().position(|&c| c == 0).unwrap_or(0));
        }
        self.mangled_name = mangle_for_kernel(ctx, &name, "name", "device name", abi::DM_NAME_LEN)?;
        self.name = Some(name.into());
        Ok(())
    }

    /// `dm_task_set_uuid`.
    pub fn set_uuid(&mut self, ctx: &Context, uuid: &[u8]) -> Result<(), Error> {
        self.uuid = None;
        self.mangled_uuid = None;
        if uuid.len() >= abi::DM_UUID_LEN {
            return Err(quoted("Uuid \"", uuid, "\" too long.", Error::invalid));
        }
        if !mangle::is_plain(uuid) {
            self.mangled_uuid =
                mangle_for_kernel(ctx, uuid, "UUID", "device uuid", abi::DM_UUID_LEN)?;
        }
        SmallBytes::store(&mut self.uuid, uuid);
        Ok(())
    }

    /// `dm_task_set_newname`.
    pub fn set_newname(&mut self, ctx: &Context, newname: &[u8]) -> Result<(), Error> {
        if newname.contains(&b'/') {
            return Err(quoted(
                "Name \"",
                newname,
                "\" invalid. It contains \"/\".",
                Error::invalid,
            ));
        }
        if newname.len() >= abi::DM_NAME_LEN {
            return Err(quoted("Name \"", newname, "\" too long", Error::invalid));
        }
        if newname.is_empty() {
            return Err(Error::invalid("Non empty new name is required."));
        }
        let v = mangle_for_kernel(
            ctx,
            newname,
            "new name",
            "new device name",
            abi::DM_NAME_LEN,
        )?
        .unwrap_or_else(|| newname.to_vec());
        self.newname = Some(v);
        self.new_uuid = false;
        Ok(())
    }

    /// `dm_task_set_newuuid`.
    pub fn set_newuuid(&mut self, ctx: &Context, newuuid: &[u8]) -> Result<(), Error> {
        if newuuid.len() >= abi::DM_UUID_LEN {
            return Err(quoted("Uuid \"", newuuid, "\" too long", Error::invalid));
        }
        let v = mangle_for_kernel(
            ctx,
            newuuid,
            "new UUID",
            "new device uuid",
            abi::DM_UUID_LEN,
        )?
        .unwrap_or_else(|| newuuid.to_vec());
        self.newname = Some(v);
        self.new_uuid = true;
        Ok(())
    }

    /// `dm_task_add_target`: the target is encoded into the task's table
    /// (see [`Table`]) straight from `params`, which is not kept: no other
    /// copy of it is made.
    #[inline]
    pub fn add_target(
        &mut self,
        start: u64,
        length: u64,
        ttype: &[u8],
        params: &[u8],
    ) -> Result<(), Error> {
        check_type_name(ttype)?;
        self.table.push(start, length, ttype, params)?;
        self.table_checked = false;
        Ok(())
    }

    /// [`Task::add_target`] for C strings: the same checks and messages,
    /// without looking for NULs, which a `CStr`'s bytes cannot hold.
    #[inline]
    pub fn add_target_cstr(
        &mut self,
        start: u64,
        length: u64,
        ttype: &std::ffi::CStr,
        params: &std::ffi::CStr,
    ) -> Result<(), Error> {
        let ty = ttype.to_bytes();
        if ty.is_empty() || ty.len() >= abi::DM_MAX_TYPE_NAME {
            return type_name_error(ty);
        }
        self.table
            .push_nul_free(start, length, ty, params.to_bytes())?;
        self.table_checked = false;
        Ok(())
    }

    /// [`Task::add_target`]'s usual case, or nothing: the target written
    /// in place by `fill`, under [`Table::push_in_place`]'s terms (a type
    /// name of 1 to 15 bytes, parameters without a backslash, a target
    /// that continues the table and fits its storage). After
    /// [`InPlace::Long`], [`Begun::finish`] keeps the record or wipes it;
    /// after [`InPlace::Refused`], nothing changed and
    /// [`Task::add_target`] does the rest, with its checks and errors.
    #[inline(always)]
    pub fn add_target_in_place(
        &mut self,
        start: u64,
        length: u64,
        fill: impl FnOnce(&mut [u8; 16], &mut [u8; 16]) -> Option<usize>,
    ) -> InPlace<'_> {
        let r = self.table.push_in_place(start, length, fill);
        if !matches!(r, InPlace::Refused) {
            // (When a long record is not kept after all, Task::add_target
            // comes next: a table checked again for nothing, at most.)
            self.table_checked = false;
        }
        r
    }

    /// Prepare the storage of a task's table for its first target, so
    /// that [`Task::add_target_in_place`] can add it (see
    /// [`Table::start`]). Answers whether it did: false when the table
    /// has storage already (targets were added, or it was started, since
    /// it was last cleared) or the memory cannot be had; then nothing
    /// changed.
    #[inline]
    pub fn start_table(&mut self) -> bool {
        self.table.start()
    }

    /// `dm_task_add_target` with parameters held in a [`Secret`] (encoded
    /// like [`Task::add_target`]'s; the secret is wiped when dropped here).
    pub fn add_target_secret(
        &mut self,
        start: u64,
        length: u64,
        ttype: &[u8],
        params: Secret,
    ) -> Result<(), Error> {
        self.add_target(start, length, ttype, params.as_bytes())
    }

    /// The targets added (not those of a reply: see
    /// [`Task::reply_targets`]), in order, read from their encoding.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The targets added, in order (`self.table().iter()`).
    pub fn targets(&self) -> TableIter<'_> {
        self.table.iter()
    }

    /// Remove every target added (wiped).
    pub fn clear_targets(&mut self) {
        self.table.clear();
        self.table_checked = false;
    }

    /// `dm_task_set_message`.
    pub fn set_message(&mut self, message: &[u8]) {
        self.message =
            Some(Secret::try_from_slice_reusing(message).unwrap_or_else(|| Secret::from(message)));
        self.message_nul_free = false;
    }

    /// [`Task::set_message`] that fails with [`ErrorKind::NoMemory`] instead
    /// of aborting when the copy cannot be allocated (the size is the
    /// caller's).
    pub fn try_set_message(&mut self, message: &[u8]) -> Result<(), Error> {
        let m = Secret::try_from_slice_reusing(message)
            .ok_or_else(|| Error::no_memory(message.len()))?;
        self.message = Some(m);
        self.message_nul_free = false;
        Ok(())
    }

    /// [`Task::try_set_message`] for a C string, which cannot hold a NUL:
    /// the run does not look for one.
    pub fn try_set_message_cstr(&mut self, message: &std::ffi::CStr) -> Result<(), Error> {
        self.try_set_message(message.to_bytes())?;
        self.message_nul_free = true;
        Ok(())
    }

    /// [`Task::set_geometry`] that fails with [`ErrorKind::NoMemory`]
    /// instead of aborting when the text cannot be allocated.
    pub fn try_set_geometry(
        &mut self,
        cylinders: &[u8],
        heads: &[u8],
        sectors: &[u8],
        start: &[u8],
    ) -> Result<(), Error> {
        let parts = [cylinders, heads, sectors, start];
        let len = parts
            .iter()
            .try_fold(3usize, |n, p| n.checked_add(p.len()))
            .ok_or_else(|| Error::no_memory(usize::MAX))?;
        let mut g = Vec::new();
        g.try_reserve_exact(len)
            .map_err(|_| Error::no_memory(len))?;
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                g.push(b' ');
            }
            g.extend_from_slice(part);
        }
        self.geometry = Some(g);
        Ok(())
    }

    /// `dm_task_set_geometry`: the four numbers as text.
    pub fn set_geometry(&mut self, cylinders: &[u8], heads: &[u8], sectors: &[u8], start: &[u8]) {
        let mut g =
            Vec::with_capacity(cylinders.len() + heads.len() + sectors.len() + start.len() + 3);
        for (i, part) in [cylinders, heads, sectors, start].into_iter().enumerate() {
            if i > 0 {
                g.push(b' ');
            }
            g.extend_from_slice(part);
        }
        self.geometry = Some(g);
    }

    /// `dm_task_set_add_node`.
    pub fn set_add_node(&mut self, add_node: i32) -> Result<(), Error> {
        if add_node != ADD_NODE_ON_RESUME && add_node != ADD_NODE_ON_CREATE {
            return Err(Error::invalid("Unknown add node parameter"));
        }
        self.add_node = add_node;
        Ok(())
    }

    /// `dm_task_set_major`: the default-major fallback no longer applies.
    pub fn set_major(&mut self, major: i32) {
        self.major = major;
        self.allow_default_major_fallback = false;
    }

    /// `dm_task_set_major_minor`.
    pub fn set_major_minor(&mut self, major: i32, minor: i32, allow_default_major_fallback: bool) {
        self.major = major;
        self.minor = minor;
        self.allow_default_major_fallback = allow_default_major_fallback;
    }

    /// `dm_task_set_cookie`: join (or create, when `*cookie` is 0) the udev
    /// transaction `*cookie` with `flags`.
    pub fn set_cookie(&mut self, ctx: &Context, cookie: &mut u32, flags: u16) -> Result<(), Error> {
        if self.set_cookie_known(ctx, cookie, flags) {
            return Ok(());
        }
        self.set_cookie_asked(ctx, cookie, flags)
    }

    /// [`Task::set_cookie`] when its answer is known without a call (no
    /// udev sync, the driver version latched): `true`, the cookie set;
    /// `false`, nothing changed. A caller can keep the full setter (and
    /// its error path) out of line.
    #[inline]
    pub fn set_cookie_known(&mut self, ctx: &Context, cookie: &mut u32, flags: u16) -> bool {
        match udev::set_cookie_known(ctx, cookie, flags) {
            Some(event_nr) => {
                self.event_nr = event_nr;
                self.cookie_set = true;
                true
            }
            None => false,
        }
    }

    /// [`Task::set_cookie`] in full: the version check, udev sync asked.
    #[inline(never)]
    fn set_cookie_asked(
        &mut self,
        ctx: &Context,
        cookie: &mut u32,
        flags: u16,
    ) -> Result<(), Error> {
        let supported = ctx.cookies_supported();
        let sync = ctx.udev_sync();
        match udev::set_cookie_for(ctx, cookie, flags, sync, supported, self.raw_type) {
            Ok(event_nr) => {
                self.event_nr = event_nr;
                self.cookie_set = true;
                Ok(())
            }
            Err(e) => {
                self.event_nr = 0;
                Err(e)
            }
        }
    }

    // ----- results -----

    /// The reply header of the last successful run.
    pub fn reply_header(&self) -> Option<&DmIoctl> {
        self.reply.as_ref().map(|r| r.header())
    }

    /// The reply payload of the last successful run.
    pub fn reply_payload(&self) -> Option<&[u8]> {
        self.reply.as_ref().and_then(|r| r.payload().ok())
    }

    /// Offset of the payload inside the reply buffer.
    pub fn payload_offset(&self) -> Option<usize> {
        self.reply_header().map(|h| h.data_start as usize)
    }

    /// The device's name as the kernel returned it (unmangled), if the task ran.
    pub fn reply_name(&self) -> Option<&[u8]> {
        self.reply_header().map(|h| codec::fixed_str(&h.name))
    }

    /// The device's uuid as the kernel returned it, if the task ran.
    pub fn reply_uuid(&self) -> Option<&[u8]> {
        self.reply_header().map(|h| codec::fixed_str(&h.uuid))
    }

    /// The driver version the reply carries, as `major.minor.patch`.
    pub fn reply_driver_version(&self) -> Option<[u32; 3]> {
        self.reply_header().map(|h| h.version)
    }

    /// The targets of a STATUS/TABLE/WAITEVENT reply, in order: start,
    /// length, type and parameters/status (borrowed from the reply buffer).
    pub fn reply_targets(&self) -> impl Iterator<Item = (u64, u64, &[u8], &[u8])> + '_ {
        let (p, count) = self.spec_payload();
        codec::specs(p, count)
            .filter_map(Result::ok)
            .map(|(_, e)| (e.start, e.length, e.target_type, e.params))
    }

    /// The number of targets in a STATUS/TABLE/WAITEVENT reply.
    pub fn reply_target_count(&self) -> u32 {
        self.spec_payload().1
    }

    /// The payload and target count of a (validated) status-type reply.
    #[inline]
    fn spec_payload(&self) -> (&[u8], u32) {
        match &self.reply {
            Some(r) if self.payload_checked && self.reply_specs => {
                // Checked by the run: data_start..data_size is inside the
                // buffer (`get` only keeps this free of a panic path).
                let h = r.header();
                let p = r
                    .buf
                    .as_bytes()
                    .get(h.data_start as usize..h.data_size as usize);
                (p.unwrap_or_default(), h.target_count)
            }
            _ => (&[], 0),
        }
    }

    /// Where the specs of the last reply are, for a caller at the C
    /// boundary that walks them in place: only for a checked
    /// STATUS/TABLE/WAITEVENT reply with targets, laid out as the kernel
    /// does ([`codec::SpecLayout::disjoint`]). The run checked that the
    /// 40-byte fixed part of the spec at buffer offset `first`, and of the
    /// spec at `first` + the next offset of each spec before `last`, lies
    /// inside the `len` bytes at `base`, and writes into the strings a walk
    /// hands out cannot change those offsets. `base` stays valid, and the
    /// specs stay as checked, until the task runs again or is dropped.
    pub fn reply_spec_window(&mut self) -> Option<SpecWindow> {
        let w = self.spec_walk;
        if w.first == 0 || !w.disjoint || !self.has_reply_targets() {
            return None;
        }
        let b = self.reply.as_mut()?.buf.as_bytes_mut();
        Some(SpecWindow {
            base: b.as_mut_ptr(),
            len: b.len(),
            first: w.first,
            last: w.last,
        })
    }

    /// Whether the last reply holds target specs to walk (a checked
    /// STATUS/TABLE/WAITEVENT reply).
    #[inline]
    pub fn has_reply_targets(&self) -> bool {
        self.reply.is_some() && self.payload_checked && self.reply_specs
    }

    /// The `index`-th target of a STATUS/TABLE/WAITEVENT reply, as offsets
    /// into the reply buffer. A walk from the first target: walking a
    /// table in order is [`Task::reply_target_step`]'s.
    pub fn reply_target_at(&self, index: u32) -> Option<ReplyTarget> {
        let base = self.reply.as_ref()?.header().data_start as usize;
        let (p, count) = self.spec_payload();
        let (off, e) = codec::specs(p, count).nth(index as usize)?.ok()?;
        Some(ReplyTarget {
            start: e.start,
            length: e.length,
            type_off: base + off + 24,
            params_off: base + off + 40,
        })
    }

    /// One step of a walk over the targets of a STATUS/TABLE/WAITEVENT
    /// reply (`dm_get_next_target`'s): the target at `cursor`, 0 for the
    /// first one, else a [`TargetStep::next`] an earlier step of this reply
    /// returned. `None` when there is no such target: no targets, or a
    /// cursor that is not the offset of one of this reply's specs (checked
    /// by a walk of the reply, so any value is harmless). Walking the
    /// targets in order costs O(1) per target.
    pub fn reply_target_step(&mut self, cursor: usize) -> Option<TargetStep<'_>> {
        let w = self.spec_walk;
        if w.first == 0 {
            return None;
        }
        let at = if cursor == 0 {
            w.first
        } else if cursor == w.expect {
            cursor
        } else {
            self.find_spec(cursor)?
        };
        if !w.disjoint && !self.spec_still_checks(at) {
            return None;
        }
        self.step_at(at)
    }

    /// [`Task::reply_target_step`] for the usual walk only: the first
    /// target (`cursor` 0) or the one the last step pointed to, of a reply
    /// laid out as the kernel does. `None` means "ask
    /// [`Task::reply_target_step`]", which decides every other case. No
    /// calls, for a caller that wants its fast path free of them.
    #[inline(always)]
    pub fn reply_target_step_in_order(&mut self, cursor: usize) -> Option<TargetStep<'_>> {
        let w = self.spec_walk;
        let at = if cursor == 0 { w.first } else { cursor };
        if at == 0 || !w.disjoint || (cursor != 0 && cursor != w.expect) {
            return None;
        }
        self.step_at(at)
    }

    /// Read the spec at buffer offset `at`, a spec the run checked (and
    /// that still passes its checks), and point the walk past it.
    #[inline(always)]
    fn step_at(&mut self, at: usize) -> Option<TargetStep<'_>> {
        let w = self.spec_walk;
        let b = self.reply.as_mut()?.buf.as_bytes_mut();
        // `get_mut` and the `?` on constant sizes only keep this free of a
        // panic path (they fold away or never fail).
        let (fixed, params) = b.get_mut(at..)?.split_first_chunk_mut::<40>()?;
        let (head, target_type) = fixed.split_last_chunk_mut::<16>()?;
        let [s0, s1, s2, s3, s4, s5, s6, s7, l0, l1, l2, l3, l4, l5, l6, l7, _, _, _, _, n0, n1, n2, n3] =
            *head.first_chunk::<24>()?;
        let next = if at == w.last {
            0
        } else {
            w.first
                .checked_add(u32::from_ne_bytes([n0, n1, n2, n3]) as usize)?
        };
        self.spec_walk.expect = next;
        Some(TargetStep {
            start: u64::from_ne_bytes([s0, s1, s2, s3, s4, s5, s6, s7]),
            length: u64::from_ne_bytes([l0, l1, l2, l3, l4, l5, l6, l7]),
            target_type,
            params,
            next,
        })
    }

    /// The spec of this reply at buffer offset `cursor`, found by a walk
    /// that checks every spec again (so it holds whatever callers wrote
    /// into the strings).
    #[cold]
    #[inline(never)]
    fn find_spec(&self, cursor: usize) -> Option<usize> {
        let first = self.spec_walk.first;
        let (p, count) = self.spec_payload();
        let want = cursor.checked_sub(first)?;
        codec::specs(p, count)
            .map_while(Result::ok)
            .map(|(off, _)| off)
            .take_while(|&off| off <= want)
            .find(|&off| off == want)
            .map(|off| first + off)
    }

    /// For a reply whose strings overlap later specs (no kernel lays them
    /// out so; writes into them may have changed the specs since the run):
    /// whether the spec at buffer offset `at` still passes the run's checks,
    /// before [`Task::reply_target_step`] reads it.
    #[cold]
    #[inline(never)]
    fn spec_still_checks(&self, at: usize) -> bool {
        let w = self.spec_walk;
        let (p, _) = self.spec_payload();
        at.checked_sub(w.first)
            .is_some_and(|off| codec::spec_checks(p, off, at != w.last))
    }

    /// The names of a LIST reply (decoded; unmangled by the run unless the
    /// mode is `none`).
    pub fn reply_names(&self) -> Result<Vec<codec::NameEntry<'_>>, Error> {
        let p = self
            .reply_payload()
            .ok_or_else(|| Error::internal("Internal error: the task has not run."))?;
        codec::decode_names(p).map_err(|e| Error::protocol(e.to_string()))
    }

    /// A task holding `reply` as if a run of type `ty` in mangling mode
    /// `mode` had received it: unmangled and checked as the run does (for
    /// tests of what reads replies, without a kernel).
    #[cfg(test)]
    pub(crate) fn with_reply(
        ty: TaskType,
        mode: ManglingMode,
        mut reply: Reply,
    ) -> Result<Task, Error> {
        let mut t = Task::new(ty as i32);
        t.accept_reply(mode, ty, &mut reply)?;
        t.reply = Some(reply);
        Ok(t)
    }

    /// The message response of a TARGET_MSG reply.
    pub fn message_response(&self) -> Option<&[u8]> {
        let off = self.message_response_offset()?;
        let buf = self.reply.as_ref()?.buf.as_bytes();
        Some(cstr_at(buf, off))
    }

    /// `dm_task_get_info` fields.
    pub fn info(&self) -> Option<Info> {
        let h = self.reply_header()?;
        let f = DmFlags::from_bits_retain(h.flags);
        if !f.contains(DmFlags::EXISTS) {
            return Some(Info::default());
        }
        let (major, minor) = abi::decode_dev(h.dev);
        Some(Info {
            exists: 1,
            suspended: f.contains(DmFlags::SUSPEND) as i32,
            live_table: f.contains(DmFlags::ACTIVE_PRESENT) as i32,
            inactive_table: f.contains(DmFlags::INACTIVE_PRESENT) as i32,
            open_count: h.open_count,
            event_nr: h.event_nr,
            major,
            minor,
            read_only: f.contains(DmFlags::READONLY) as i32,
            target_count: h.target_count as i32,
            deferred_remove: (h.flags & DmFlags::DEFERRED_REMOVE.bits()) as i32,
            internal_suspend: f.contains(DmFlags::INTERNAL_SUSPEND) as i32,
        })
    }

    /// The message response (`DM_DATA_OUT_FLAG` set, NUL-terminated), as an
    /// offset into the reply buffer.
    #[inline]
    pub fn message_response_offset(&self) -> Option<usize> {
        let r = self.reply.as_ref()?;
        let h = r.header();
        if h.flags & DmFlags::DATA_OUT.bits() == 0 {
            return None;
        }
        if self.payload_checked && self.raw_type == TaskType::TargetMsg as i32 {
            // The run checked the response (validate_reply).
            return Some(h.data_start as usize);
        }
        Self::unchecked_response_offset(r)
    }

    /// [`Task::message_response_offset`] of a reply the run did not check
    /// as a message reply.
    #[cold]
    #[inline(never)]
    fn unchecked_response_offset(r: &Reply) -> Option<usize> {
        match r.payload().and_then(codec::decode_message) {
            Ok(_) => Some(r.header().data_start as usize),
            Err(_) => None,
        }
    }

    // ----- running -----

    /// `dm_task_run`: send the task to the kernel in `ctx`.
    pub fn run(&mut self, ctx: &Context) -> Result<(), Error> {
        self.runs += 1;
        let Some(ty) = self.task_type() else {
            return Err(Error::internal(format!(
                "Internal error: unknown device-mapper task {}",
                self.raw_type
            )));
        };
        if ty == TaskType::Create && !self.table.is_empty() {
            return self.create_and_load(ctx);
        }
        if ty == TaskType::MkNodes && self.name.is_none() && self.uuid.is_none() && self.major <= 0
        {
            return mknodes_all(ctx);
        }
        if ty == TaskType::Suspend && self.enable_checks {
            // Like libdevmapper: report the hazard as an internal error (which
            // aborts under DM_ABORT_ON_INTERNAL_ERRORS), then suspend anyway.
            let _ = self.children_not_suspended(ctx);
        }
        if ty == TaskType::Reload
            && self.suppress_identical_reload
            && self.identical_to_live(ctx)?
        {
            return Ok(());
        }
        match self.run_ioctl(ctx, ty) {
            Ok(()) => Ok(()),
            Err(e) if self.cookie_set => {
                // libdm logs the failure before completing the cookie.
                let e = logged(ctx, e);
                self.udev_complete(ctx);
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    fn dev_name(&self) -> Option<&[u8]> {
        self.mangled_name.as_deref().or(self.name.as_deref())
    }

    /// Whether [`Task::dev_name`] is the name as given and `set_name`
    /// found it plain (udev-whitelisted bytes only: no NUL, no '/', the
    /// same mangled or not).
    #[inline]
    fn dev_name_plain(&self) -> bool {
        self.name_plain && self.mangled_name.is_none()
    }

    fn dev_uuid(&self) -> Option<&[u8]> {
        self.mangled_uuid.as_deref().or(self.uuid.as_deref())
    }

    /// The device as messages name it: name and uuid.
    pub fn display_name(&self) -> String {
        self.device_text().trim_end().to_string()
    }

    /// The task's name and uuid for messages ("" when unset), as sent to
    /// the kernel (mangled), which is how libdm quotes them.
    fn name_and_uuid(&self) -> (String, String) {
        let text = |v: Option<&[u8]>| {
            v.map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        (text(self.dev_name()), text(self.dev_uuid()))
    }

    /// The device as libdevmapper prints it in ioctl error lines:
    /// `"<name> <uuid> "`, or `"<name> <uuid>(<maj>:<min>) "` with a devno.
    pub(crate) fn device_text(&self) -> String {
        let (name, uuid) = self.name_and_uuid();
        let dev = if self.major > 0 {
            format!("({}:{}) ", self.major, self.minor)
        } else {
            " ".to_string()
        };
        format!("{name} {uuid}{dev}")
    }

    /// The header fields and the payload size, the way libdevmapper's
    /// `_flatten` makes them; [`Task::encode_payload`] writes the payload.
    /// Everything is checked here, so encoding cannot fail.
    fn flatten(
        &self,
        ctx: &Context,
        ty: TaskType,
        driver_minor: u32,
    ) -> Result<(Head<'_>, usize), Error> {
        let mut h = Head::default();
        let has_targets = !self.table.is_empty() && !ty.carries_no_targets();
        // A message, a new name, a geometry or a sector (what can clash), or
        // a RENAME (which needs a new name): the checks of check_exclusive.
        let extras = self.message.is_some()
            | self.newname.is_some()
            | self.geometry.is_some()
            | self.sector.is_some();
        // A message alone (no targets, no new name, no geometry; a sector
        // or not) clashes with nothing: no checks to run.
        if (extras
            && !(self.message.is_some()
                && self.newname.is_none()
                && self.geometry.is_none()
                && self.table.is_empty()))
            || (!self.table.is_empty() && !has_targets)
            || ty == TaskType::Rename
        {
            self.check_exclusive(ctx, ty, has_targets)?;
        }
        let mut flags = DmFlags::EXISTS;
        if self.minor >= 0 {
            h.dev = self.persistent_dev(ctx, ty)?;
            flags |= DmFlags::PERSISTENT_DEV;
        }
        self.put_names(ty, &mut h)?;
        if ty == TaskType::Suspend {
            flags |= DmFlags::SUSPEND;
        }
        if self.no_flush {
            flags |= DmFlags::NOFLUSH;
        }
        if self.read_only {
            flags |= DmFlags::READONLY;
        }
        if self.skip_lockfs {
            flags |= DmFlags::SKIP_LOCKFS;
        }
        if self.deferred_remove && matches!(ty, TaskType::Remove | TaskType::RemoveAll) {
            flags |= DmFlags::DEFERRED_REMOVE;
        }
        if self.secure_data | self.query_inactive_table | self.new_uuid | self.ima_measurement {
            flags |= self.versioned_flags(ctx, driver_minor)?;
        }
        if ty == TaskType::Table {
            flags |= DmFlags::STATUS_TABLE;
        }
        if ty == TaskType::List && self.list_uuids {
            flags |= DmFlags::UUID;
        }
        if self.no_open_count {
            flags |= DmFlags::SKIP_BDGET;
        }
        h.event_nr = self.event_nr;
        let need = if has_targets || extras {
            self.payload_len(has_targets, &mut h)?
        } else {
            0
        };
        h.flags = flags.bits();
        Ok((h, need))
    }

    /// The name and uuid of the header, as [`Task::flatten`] sends them.
    #[inline(always)]
    fn put_names<'a>(&'a self, ty: TaskType, h: &mut Head<'a>) -> Result<(), Error> {
        let enc = |e: codec::EncodeError| Error::invalid(e.to_string());
        if let Some(n) = self.dev_name() {
            // RESUME and RELOAD with a device number send it alone: the
            // kernel refuses a name and a number together (ENXIO). The
            // number is the one after the fallback (persistent_dev: a major
            // above 0 whenever the minor is set), as libdm decides on the
            // major it has just overridden.
            let by_devno = matches!(ty, TaskType::Resume | TaskType::Reload) && self.minor >= 0;
            if !by_devno {
                // A plain name (set_name kept it as given) holds no NUL.
                h.set_name(n, self.dev_name_plain()).map_err(enc)?;
            }
        }
        if let Some(u) = self.dev_uuid() {
            h.set_uuid(u, false).map_err(enc)?;
        }
        Ok(())
    }

    /// [`Task::flatten`]'s checks of what cannot go together.
    #[cold]
    fn check_exclusive(&self, ctx: &Context, ty: TaskType, has_targets: bool) -> Result<(), Error> {
        let fail =
            |msg: &str| Err(Error::invalid(msg).with_note("Couldn't create ioctl argument."));
        if !self.table.is_empty() && ty.carries_no_targets() {
            crate::log_debug!(
                ctx,
                "Internal error: targets ignored: {} does not take a table",
                ty.name()
            );
        }
        if has_targets && self.message.is_some() {
            return fail("targets and message are incompatible");
        }
        if has_targets && self.newname.is_some() && !self.new_uuid {
            return fail("targets and rename are incompatible");
        }
        if has_targets && self.geometry.is_some() {
            return fail("targets and geometry are incompatible");
        }
        if self.newname.is_some() && !self.new_uuid && self.message.is_some() {
            return fail("message and rename are incompatible");
        }
        if self.newname.is_some() && self.geometry.is_some() {
            return fail("geometry and rename are incompatible");
        }
        if self.geometry.is_some() && self.message.is_some() {
            return fail("geometry and message are incompatible");
        }
        if self.sector.is_some() && self.message.is_none() {
            return fail("message is required with sector");
        }
        // libdm sends this RENAME and the kernel refuses it (EINVAL); a
        // refused dm_task_set_newname then still reached the kernel.
        if ty == TaskType::Rename && self.newname.is_none() {
            return fail("rename needs a new name or uuid (none was set)");
        }
        Ok(())
    }

    /// [`Task::flatten`]'s `dev` for a task with a minor number.
    #[inline]
    fn persistent_dev(&self, ctx: &Context, ty: TaskType) -> Result<u64, Error> {
        let dm_major = crate::devices::dm_major(ctx);
        match dm_major {
            // The usual case (a device-mapper device by its number, as the
            // RELOAD of a create sends it): nothing to override, log or
            // refuse.
            Some(dmm) if self.major > 0 && self.major == dmm as i32 => {
                Ok(abi::encode_dev(dmm, self.minor as u32))
            }
            _ => self.persistent_dev_checked(ctx, ty, dm_major),
        }
    }

    /// [`Task::persistent_dev`] of any other major (`dm_major`: the one
    /// device-mapper has, if known).
    #[cold]
    #[inline(never)]
    fn persistent_dev_checked(
        &self,
        ctx: &Context,
        ty: TaskType,
        dm_major: Option<u32>,
    ) -> Result<u64, Error> {
        let fail =
            |msg: &str| Err(Error::invalid(msg).with_note("Couldn't create ioctl argument."));
        // The major the header carries: libdm's fallback replaces a foreign
        // or unset one with device-mapper's own (and says so, even for an
        // unset -1, as libdm does).
        let mut major = self.major;
        if let Some(dmm) = dm_major {
            if self.allow_default_major_fallback && major != dmm as i32 {
                crate::log_verbose!(
                    ctx,
                    "Overriding major number of {} with {} for persistent device.",
                    major,
                    dmm
                );
                major = dmm as i32;
            }
        }
        if major <= 0 {
            return fail("Missing major number for persistent device.");
        }
        if ty == TaskType::Create && dm_major.is_some_and(|m| m as i32 != major) {
            return fail(&format!(
                "Major number {major} is not device-mapper's major {} and the fallback is disabled.",
                dm_major.unwrap_or(0)
            ));
        }
        Ok(abi::encode_dev(major as u32, self.minor as u32))
    }

    /// [`Task::flatten`]'s flags that depend on the driver's version.
    #[cold]
    fn versioned_flags(&self, ctx: &Context, driver_minor: u32) -> Result<DmFlags, Error> {
        let fail =
            |msg: &str| Err(Error::invalid(msg).with_note("Couldn't create ioctl argument."));
        let mut flags = DmFlags::empty();
        if self.secure_data {
            if driver_minor < 20 {
                crate::log_verbose!(
                    ctx,
                    "Secure data flag unsupported by kernel. Buffers will not be wiped after use."
                );
            }
            flags |= DmFlags::SECURE_DATA;
        }
        if self.query_inactive_table {
            if driver_minor < 16 {
                crate::log_warn!(
                    ctx,
                    "WARNING: Inactive table query unsupported by kernel. It will use live table."
                );
            }
            flags |= DmFlags::QUERY_INACTIVE_TABLE;
        }
        if self.new_uuid {
            if driver_minor < 19 {
                return fail("WARNING: Setting UUID unsupported by kernel. Aborting operation.");
            }
            flags |= DmFlags::UUID;
        }
        if self.ima_measurement {
            if driver_minor < 45 {
                return fail("WARNING: IMA measurement unsupported by kernel. Aborting operation.");
            }
            flags |= DmFlags::IMA_MEASUREMENT;
        }
        Ok(flags)
    }

    /// [`Task::flatten`]'s payload size (targets, new name, message,
    /// geometry), checked; sets the header's target count.
    fn payload_len(&self, has_targets: bool, h: &mut Head<'_>) -> Result<usize, Error> {
        let fail =
            |msg: &str| Err(Error::invalid(msg).with_note("Couldn't create ioctl argument."));
        let enc = |e: codec::EncodeError| Error::invalid(e.to_string());
        let mut need = 0usize;
        if has_targets {
            if let Some(e) = self.table.refusal() {
                return fail(&e.to_string());
            }
            need = self.table.payload_len();
            h.target_count = self.table.len() as u32;
        }
        let string = |v: &[u8], what: &'static str| {
            if codec::contains_byte(v, 0) {
                Err(enc(codec::EncodeError::EmbeddedNul(what)))
            } else {
                Ok(v.len() + 1)
            }
        };
        if let Some(n) = &self.newname {
            need = need.saturating_add(string(n, "new name")?);
        }
        if let Some(m) = &self.message {
            let n = if self.message_nul_free {
                m.len() + 1
            } else {
                string(m.as_bytes(), "message")?
            };
            need = need.saturating_add(8 + n);
        }
        if let Some(g) = &self.geometry {
            need = need.saturating_add(string(g, "geometry")?);
        }
        if need > u32::MAX as usize - DATA_START {
            return fail(&codec::EncodeError::TooLarge.to_string());
        }
        Ok(need)
    }

    /// Write the payload [`Task::flatten`] sized into `out` (zeroed, exactly
    /// that long): target specs, new name, message, geometry.
    fn encode_payload(&self, ty: TaskType, out: &mut [u8]) {
        let mut at = 0;
        if !self.table.is_empty() && !ty.carries_no_targets() {
            let p = self.table.payload();
            out[..p.len()].copy_from_slice(p);
            at = p.len();
        }
        // Each string is followed by the NUL the zeroed buffer already has.
        let mut put = |at: &mut usize, b: &[u8], nul: usize| {
            out[*at..*at + b.len()].copy_from_slice(b);
            *at += b.len() + nul;
        };
        if let Some(n) = &self.newname {
            put(&mut at, n, 1);
        }
        if let Some(m) = &self.message {
            put(&mut at, &self.sector.unwrap_or(0).to_ne_bytes(), 0);
            put(&mut at, m.as_bytes(), 1);
        }
        if let Some(g) = &self.geometry {
            put(&mut at, g, 1);
        }
    }

    /// Check a table the kernel would reject, to fail before touching devices.
    pub fn check_table(&mut self) -> Result<(), Error> {
        if self.table_checked || self.table.contiguous() {
            self.table_checked = true;
            return Ok(());
        }
        check_table(
            self.table
                .iter()
                .map(|t| (t.start, t.length, t.target_type())),
        )?;
        self.table_checked = true;
        Ok(())
    }

    fn run_ioctl(&mut self, ctx: &Context, ty: TaskType) -> Result<(), Error> {
        let driver = match ctx.driver_version() {
            Ok(v) => v,
            Err(e) => {
                self.ioctl_errno = e.errno().unwrap_or(libc::EIO);
                return Err(e);
            }
        };
        if ty == TaskType::Reload && !self.table.is_empty() {
            self.check_table()?;
        }
        if ctx.suspended_counter() != 0 && ty == TaskType::Reload {
            crate::log_error!(
                ctx,
                "Internal error: Performing unsafe table load while {} device(s) are known to be suspended: {}",
                ctx.suspended_counter(),
                self.display_name()
            );
        }
        let (mut h, payload_len) = self.flatten(ctx, ty, driver[1])?;
        // The udev state is asked where libdm asks it (the first ask may log
        // "Udev is not running..."): here only for a uevent-raising command
        // without a cookie, after the ioctl only for uevent-raising ones.
        if ty.with_uevent() && driver[1] >= 15 {
            let mut f = (udev::PRIMARY_SOURCE_FLAG as u32) << udev::UDEV_FLAGS_SHIFT;
            if !self.cookie_set && ctx.udev_sync() {
                let which = match ty {
                    TaskType::Resume => "DM_DEVICE_RESUME",
                    TaskType::Remove => "DM_DEVICE_REMOVE",
                    _ => "DM_DEVICE_RENAME",
                };
                crate::log_debug_act!(ctx, "Cookie value is not set while trying to call {which} ioctl. Please, consider using libdevmapper's udev synchronisation interface or disable it explicitly by calling dm_udev_set_sync_support(0).");
                crate::log_debug_act!(ctx, "Switching off device-mapper and all subsystem related udev rules. Falling back to libdevmapper node creation.");
                f |= ((udev::DISABLE_DM_RULES_FLAG | udev::DISABLE_SUBSYSTEM_RULES_FLAG) as u32)
                    << udev::UDEV_FLAGS_SHIFT;
            }
            h.event_nr |= f;
        }
        let cmd = ty.command();
        // A table alone (targets exclude every other payload), for a
        // command without output: sent in place.
        let in_place = h.target_count != 0 && !cmd.has_output();
        let cap = if self.buffer_cap == 0 {
            ctx.buffer_cap()
        } else {
            self.buffer_cap
        };
        // What a made-up reply (ENXIO below) repeats of the request.
        let (dev, flags, event_nr, target_count) = (h.dev, h.flags, h.event_nr, h.target_count);
        // A message alone (what can go with it was refused by flatten):
        // written into the buffer directly.
        let message_only = match &self.message {
            Some(m)
                if self.newname.is_none()
                    && self.geometry.is_none()
                    && (self.table.is_empty() || ty.carries_no_targets()) =>
            {
                Some(m.as_bytes())
            }
            _ => None,
        };
        // Asked once per run: for the ioctl line (each attempt) and the
        // node operations the run stacks.
        let debug = ctx.log_enabled(Level::Debug);
        let mut attempt = 0;
        let result = if in_place {
            // A table load (never retried): the header is written in front
            // of the table, which is sent where it was encoded. The header's
            // name and uuid are copied first, since `h` borrows the task.
            attempt = 1;
            self.log_ioctl(ctx, debug, ty, &h, payload_len, attempt);
            let mut names = HeadNames::new();
            let head = h.copied(&mut names);
            let r = ctx
                .control
                .ioctl_in_place(ctx, cmd, &head, self.table.buf_mut());
            if self.record_timestamp {
                ctx.record_ioctl_timestamp();
            }
            r
        } else {
            loop {
                attempt += 1;
                self.log_ioctl(ctx, debug, ty, &h, payload_len, attempt);
                let r = {
                    let encode = |out: &mut [u8]| self.encode_payload(ty, out);
                    let payload = match message_only {
                        Some(text) => Payload::Message {
                            sector: self.sector.unwrap_or(0),
                            text,
                        },
                        None => Payload::Encoded {
                            len: payload_len,
                            encode: &encode,
                        },
                    };
                    debug_assert_eq!(payload.len(), payload_len);
                    let req = Request {
                        cmd,
                        head: &h,
                        payload,
                        cap,
                    };
                    ctx.control.ioctl(ctx, &req)
                };
                if self.record_timestamp {
                    ctx.record_ioctl_timestamp();
                }
                match r {
                    Err(IoctlError::Kernel(e))
                        if e == libc::EBUSY
                            && ty == TaskType::Remove
                            && self.retry_remove
                            && attempt < REMOVE_RETRIES =>
                    {
                        crate::log_debug!(ctx, "device-mapper: remove ioctl on {} failed: Device or resource busy (retrying)", self.display_name());
                        std::thread::sleep(REMOVE_RETRY_DELAY);
                        continue;
                    }
                    other => break other,
                }
            }
        };
        let mut reply = match result {
            Ok(r) => r,
            Err(IoctlError::Kernel(e))
                if e == libc::ENXIO
                    && matches!(ty, TaskType::Info | TaskType::MkNodes | TaskType::Status) =>
            {
                // Not an error: the device does not exist.
                self.ioctl_errno = e;
                let mut hh = Head::default();
                hh.dev = dev;
                hh.flags = flags & !DmFlags::EXISTS.bits();
                hh.event_nr = event_nr;
                hh.target_count = target_count;
                self.put_names(ty, &mut hh)?;
                let mut bytes = [0u8; DATA_START];
                hh.write(&mut bytes, driver, DATA_START as u32);
                let mut r =
                    Reply::from_bytes(&bytes).map_err(|e| Error::protocol(e.to_string()))?;
                r.attempts = attempt;
                r
            }
            Err(e) => {
                self.ioctl_errno = e.errno();
                return Err(self.ioctl_failure(ty, e));
            }
        };
        if reply.attempts > 1 {
            crate::log_debug!(
                ctx,
                "dm {}: reply needed {} ioctls to fit",
                ty.name(),
                reply.attempts
            );
        }
        let flags = reply.flags();
        if flags.contains(DmFlags::BUFFER_FULL) && !ty.command().has_output() {
            crate::log_warn!(ctx, "WARNING: libdevmapper buffer too small for data");
        }
        self.accept_reply(ctx.mangling_mode(), ty, &mut reply)?;
        // libdm asks dm_udev_get_sync_support() before looking at the
        // flag; asked last here, it is skipped when the kernel raised the
        // uevent (the usual reply). Nothing is lost: its one side effect,
        // the first probe's log line, already happened in this run (before
        // the ioctl without a cookie, in set_cookie with one), and the
        // version it may check is known (`driver`).
        if ty.with_uevent()
            && driver[1] >= 17
            && !flags.contains(DmFlags::UEVENT_GENERATED)
            && ctx.udev_sync()
        {
            crate::log_debug_act!(
                ctx,
                "Uevent not generated! Calling udev_complete internally to avoid process lock-up."
            );
            self.udev_complete(ctx);
        }
        self.reply = Some(reply);
        self.post_process(ctx, ty, debug);
        Ok(())
    }

    /// What every reply goes through before anything reads it: names
    /// unmangled in place (`mode`), the payload validated whole, and the
    /// task noting what the checks proved.
    fn accept_reply(
        &mut self,
        mode: ManglingMode,
        ty: TaskType,
        reply: &mut Reply,
    ) -> Result<(), Error> {
        // A reply name echoing the plain name this task sent needs no scan.
        let sent_plain = self.name.as_deref().filter(|_| self.dev_name_plain());
        let walked = unmangle_reply(mode, ty, reply, sent_plain)?;
        let layout = if walked {
            None
        } else {
            validate_reply(ty, reply).map_err(|e| Error::protocol(e.to_string()))?
        };
        self.note_checked(ty, reply, layout);
        Ok(())
    }

    /// Record what the run's checks learned about `reply`, the reply it is
    /// about to keep.
    fn note_checked(&mut self, ty: TaskType, reply: &Reply, layout: Option<codec::SpecLayout>) {
        self.payload_checked = true;
        self.reply_specs = matches!(ty, TaskType::Status | TaskType::Table | TaskType::WaitEvent);
        self.spec_walk = layout
            .map(|l| SpecWalk::new(reply.header().data_start as usize, l))
            .unwrap_or(SpecWalk::NONE);
    }

    /// The error for a failed ioctl, with libdm's wording.
    fn ioctl_failure(&self, ty: TaskType, e: IoctlError) -> Error {
        let errno = e.errno();
        let err = match &e {
            IoctlError::Kernel(errno) => {
                let msg = format!(
                    "device-mapper: {} ioctl on {}failed: {}",
                    ty.name(),
                    self.device_text(),
                    crate::kernel::sys::strerror(*errno)
                );
                let err = Error::from_errno(*errno, msg.clone());
                if *errno == libc::EINTR {
                    err.at_level(Level::Notice)
                } else if let Some(hint) = self.deviceless_hint(ty, *errno) {
                    Error::from_errno(*errno, format!("{msg}: {hint}"))
                        .with_kind(ErrorKind::Unsupported)
                } else {
                    err
                }
            }
            IoctlError::TooLarge { .. } => Error::new(
                ErrorKind::ReplyTooLarge,
                format!("Ioctl buffer maximum reached: {e}"),
            ),
            IoctlError::Open { .. } => e.into_driver_error(),
            IoctlError::Decode(_) => Error::protocol(e.to_string()),
            IoctlError::NoMemory(n) => Error::no_memory(*n),
        };
        let err = err.with_errno(errno).with_op(ty.name());
        match self.name.as_deref().or(self.uuid.as_deref()) {
            Some(d) => err.with_device(d.to_vec()),
            None => err,
        }
    }

    /// Whether this is a deviceless message: a TARGET_MSG whose text starts
    /// with `%`, sent to a target type by name.
    pub fn is_deviceless_message(&self) -> bool {
        self.task_type() == Some(TaskType::TargetMsg)
            && self.uuid.is_none()
            && self.major < 0
            && self
                .message
                .as_ref()
                .is_some_and(|m| m.as_bytes().first() == Some(&b'%'))
    }

    /// A clearer reason for a failed deviceless message: kernels without the
    /// feature look the name up as a device and answer ENXIO.
    fn deviceless_hint(&self, ty: TaskType, errno: i32) -> Option<String> {
        if ty != TaskType::TargetMsg || !self.is_deviceless_message() {
            return None;
        }
        let target = self
            .name
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        match errno {
            libc::ENXIO => Some(format!("kernel does not support deviceless messages (target '{target}')")),
            libc::EINVAL => Some(format!(
                "target type '{target}' is unknown, has no deviceless message handler, or rejected the message"
            )),
            _ => None,
        }
    }

    /// libdm's debug line before each ioctl, field for field: the size is
    /// what this call starts from (ours fits the request; stock's starts at
    /// 16 KiB) and the last number counts remove retries.
    #[inline(always)]
    fn log_ioctl(
        &self,
        ctx: &Context,
        debug: bool,
        ty: TaskType,
        h: &Head<'_>,
        payload_len: usize,
        attempt: u32,
    ) {
        if debug {
            self.log_ioctl_line(ctx, ty, h, payload_len, attempt);
        }
    }

    #[cold]
    #[inline(never)]
    fn log_ioctl_line(
        &self,
        ctx: &Context,
        ty: TaskType,
        h: &Head<'_>,
        payload_len: usize,
        attempt: u32,
    ) {
        let mut opts = String::new();
        opts.push_str(if self.no_open_count {
            "noopencount "
        } else {
            "opencount "
        });
        opts.push_str(if self.no_flush { "noflush " } else { "flush " });
        for (on, word) in [
            (self.read_only, "readonly "),
            (self.skip_lockfs, "skiplockfs "),
            (self.retry_remove, "retryremove "),
            (self.deferred_remove, "deferredremove "),
            (self.secure_data, "securedata "),
            (self.ima_measurement, "ima_measurement "),
            (self.query_inactive_table, "inactive "),
            (self.enable_checks, "enablechecks "),
        ] {
            if on {
                opts.push_str(word);
            }
        }
        let msg = self
            .message
            .as_ref()
            .map(|m| secret::loggable_message(m.as_bytes()))
            .unwrap_or_default();
        let sector = match self.sector {
            Some(s) if s != 0 && self.message.is_some() => s.to_string(),
            _ => String::new(),
        };
        let dev = if self.major > 0 {
            let minor = if self.minor > 0 {
                self.minor.to_string()
            } else {
                "0".into()
            };
            format!("({}:{minor}) ", self.major)
        } else {
            String::new()
        };
        let newname = self.newname.as_deref().map(String::from_utf8_lossy);
        crate::log_debug!(
            ctx,
            "dm {} {}{} {}{}{} {}[ {}] {} {} [{}] (*{})",
            ty.name(),
            if self.new_uuid { "UUID " } else { "" },
            String::from_utf8_lossy(h.name()),
            String::from_utf8_lossy(h.uuid()),
            if newname.is_some() { " " } else { "" },
            newname.as_deref().unwrap_or(""),
            dev,
            opts,
            sector,
            msg,
            DATA_START + payload_len,
            attempt
        );
    }

    /// Stack the node operations of a successful run; `debug`: whether
    /// debug lines are wanted (asked once by the run).
    fn post_process(&mut self, ctx: &Context, ty: TaskType, debug: bool) {
        if !matches!(
            ty,
            TaskType::Create
                | TaskType::Remove
                | TaskType::Rename
                | TaskType::Resume
                | TaskType::MkNodes
        ) {
            return;
        }
        let Some(reply) = self.reply.as_ref() else {
            return;
        };
        let flags = self.event_nr >> udev::UDEV_FLAGS_SHIFT;
        let rely_on_udev = self.cookie_set && (flags & udev::DISABLE_LIBRARY_FALLBACK as u32) != 0;
        // Whether udev was expected to act is settled when the node
        // operation runs (udev sync and checking asked then, as libdm does).
        let check_udev = self.cookie_set && (flags & udev::DISABLE_DM_RULES_FLAG as u32) == 0;
        // The device number of the reply, read only by the operations that
        // make nodes (a REMOVE's does not).
        let devno = || abi::decode_dev(reply.header().dev);
        // libdm names nodes by the name as sent to the kernel (mangled), except
        // for MKNODES, which uses the (unmangled) name of the reply. The
        // names are copied once, into the node stack.
        // The node libdevmapper creates: owner, group and mode from the task.
        let add = |name, check_udev| {
            let (major, minor) = devno();
            OpRef::Add {
                name,
                major,
                minor,
                uid: self.uid,
                gid: self.gid,
                mode: self.mode,
                check_udev,
            }
        };
        // The task's own name (`dev_name`): plain when set_name found it
        // so and it is sent unmangled.
        let checked = self.dev_name_plain();
        let plain = |n: &[u8]| Plain::task_name(n, checked);
        let unknown = Plain::UNKNOWN;
        match ty {
            TaskType::Create if self.add_node == ADD_NODE_ON_CREATE && !rely_on_udev => {
                if let Some(n) = self.dev_name().filter(|n| !n.is_empty()) {
                    let op = add(n, check_udev);
                    nodes::stack_ref_logged(ctx, op, rely_on_udev, debug, plain(n));
                }
            }
            TaskType::Remove if !rely_on_udev => {
                if let Some(name) = self.dev_name() {
                    let op = OpRef::Del { name, check_udev };
                    nodes::stack_ref_logged(ctx, op, rely_on_udev, debug, plain(name));
                }
            }
            TaskType::Rename if !self.new_uuid => {
                if let (Some(old), Some(new)) = (self.dev_name(), self.newname.as_deref()) {
                    let op = OpRef::Rename {
                        old,
                        new,
                        check_udev,
                    };
                    nodes::stack_ref_logged(ctx, op, rely_on_udev, debug, unknown);
                }
            }
            TaskType::Resume => {
                if let Some(n) = self.dev_name() {
                    if self.add_node == ADD_NODE_ON_RESUME {
                        let op = add(n, check_udev);
                        nodes::stack_ref_logged(ctx, op, rely_on_udev, debug, plain(n));
                    }
                    // An AUTO read-ahead is never stacked.
                    if self.read_ahead != nodes::READ_AHEAD_AUTO {
                        let (major, minor) = devno();
                        let ra = OpRef::ReadAhead {
                            name: n,
                            major,
                            minor,
                            read_ahead: self.read_ahead,
                            flags: self.read_ahead_flags,
                        };
                        nodes::stack_ref_logged(ctx, ra, false, debug, unknown);
                    }
                }
            }
            TaskType::MkNodes => {
                if reply.flags().contains(DmFlags::EXISTS) {
                    let name = self
                        .reply_header()
                        .map_or(&[][..], |h| codec::fixed_str(&h.name));
                    nodes::stack_ref_logged(ctx, add(name, false), false, debug, unknown);
                } else if let Some(name) = self.dev_name() {
                    let op = OpRef::Del {
                        name,
                        check_udev: false,
                    };
                    // A made-up reply (ENXIO): the kernel never saw the name.
                    nodes::stack_ref_logged(ctx, op, false, debug, unknown);
                }
            }
            _ => {}
        }
    }

    /// Decrement the task's cookie semaphore (the kernel will not, or the
    /// call failed). A failure is logged.
    pub fn udev_complete(&self, ctx: &Context) {
        if !self.cookie_set {
            return;
        }
        let base = self.event_nr & !udev::UDEV_FLAGS_MASK;
        if base == 0 {
            return;
        }
        let cookie = (udev::COOKIE_MAGIC << udev::UDEV_FLAGS_SHIFT) | base;
        if let Err(e) = udev::complete(ctx, cookie, ctx.udev_sync()) {
            ctx.log_failure(&e);
        }
    }

    fn sub_task(&self, ty: TaskType) -> Task {
        let mut t = Task::new(ty as i32);
        t.buffer_cap = self.buffer_cap;
        t
    }

    /// Point the sub-task `t` at this task's device: name, uuid (both as
    /// given and as mangled) and device number.
    fn same_device(&self, t: &mut Task) {
        t.name = self.name.clone();
        t.name_plain = self.name_plain;
        t.mangled_name = self.mangled_name.clone();
        t.uuid = self.uuid.clone();
        t.mangled_uuid = self.mangled_uuid.clone();
        t.major = self.major;
        t.minor = self.minor;
    }

    /// Turn this CREATE sub-task, after its run, into the RELOAD
    /// `create_and_load` sends next, as if made new: by name (as set) and
    /// the new device's number, without uuid, with `parent`'s table and
    /// load flags; everything else as [`Task::new`] has it. The CREATE's
    /// reply is dropped first (its buffer serves the RELOAD's ioctl).
    fn become_reload_of(&mut self, parent: &mut Task, info: &Info) {
        self.raw_type = TaskType::Reload as i32;
        self.reply = None;
        self.spec_walk = SpecWalk::NONE;
        self.payload_checked = false;
        self.reply_specs = false;
        self.ioctl_errno = 0;
        self.runs = 0;
        self.uuid = None;
        self.mangled_uuid = None;
        self.major = info.major as i32;
        self.minor = info.minor as i32;
        self.allow_default_major_fallback = false;
        self.uid = DEVICE_UID;
        self.gid = DEVICE_GID;
        self.mode = DEVICE_MODE;
        self.add_node = ADD_NODE_ON_RESUME;
        self.cookie_set = false;
        self.event_nr = 0;
        self.read_only = parent.read_only;
        self.secure_data = parent.secure_data;
        self.ima_measurement = parent.ima_measurement;
        self.table = std::mem::take(&mut parent.table);
        self.table_checked = parent.table_checked;
    }

    /// libdevmapper's create-with-table: CREATE, RELOAD by devno, then this
    /// task becomes the RESUME; on a failed load or resume the new device is
    /// removed again.
    fn create_and_load(&mut self, ctx: &Context) -> Result<(), Error> {
        if let Err(e) = self.check_table() {
            let e = logged(ctx, e);
            self.udev_complete(ctx);
            return Err(e);
        }
        // One sub-task serves the CREATE and then the RELOAD (the fields
        // that differ are set as a new RELOAD task has them). It lives in a
        // block and is dropped where it is (a `drop(task)` would first copy
        // the whole task).
        let (info, loaded, reload_errno) = {
            let mut sub = self.sub_task(TaskType::Create);
            self.same_device(&mut sub);
            sub.allow_default_major_fallback = self.allow_default_major_fallback;
            sub.uid = self.uid;
            sub.gid = self.gid;
            sub.mode = self.mode;
            sub.add_node = self.add_node;
            sub.cookie_set = self.cookie_set;
            sub.event_nr = self.event_nr & udev::UDEV_FLAGS_MASK;
            if let Err(e) = sub.run(ctx) {
                self.ioctl_errno = sub.ioctl_errno;
                let e = logged(ctx, e);
                self.udev_complete(ctx);
                return Err(e);
            }
            let Some(info) = sub.info().filter(|i| i.exists != 0) else {
                self.udev_complete(ctx);
                return Err(Error::new(ErrorKind::NotFound, "the new device vanished")
                    .with_errno(libc::ENXIO)
                    .silently());
            };
            sub.become_reload_of(self, &info);
            let loaded = sub.run(ctx);
            self.table = std::mem::take(&mut sub.table);
            (info, loaded, sub.ioctl_errno)
        };
        if let Err(e) = loaded {
            self.ioctl_errno = reload_errno;
            let e = logged(ctx, e);
            self.udev_complete(ctx);
            self.revert_create(ctx, &info);
            return Err(e);
        }
        // The caller's task becomes the RESUME, by name as libdm sends it
        // (its uuid dropped, the caller's device number, if any, kept).
        self.raw_type = TaskType::Resume as i32;
        self.uuid = None;
        self.mangled_uuid = None;
        self.clear_targets();
        match self.run_ioctl(ctx, TaskType::Resume) {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = logged(ctx, e);
                self.udev_complete(ctx);
                self.revert_create(ctx, &info);
                Err(e)
            }
        }
    }

    fn revert_create(&mut self, ctx: &Context, info: &Info) {
        let mut rm = self.sub_task(TaskType::Remove);
        rm.name = self.name.clone();
        rm.name_plain = self.name_plain;
        rm.mangled_name = self.mangled_name.clone();
        if rm.name.is_none() {
            rm.major = info.major as i32;
            rm.minor = info.minor as i32;
        }
        rm.cookie_set = false;
        if let Err(e) = rm.run(ctx) {
            ctx.log_failure(&e);
            crate::log_error!(ctx, "Failed to revert device creation.");
        }
    }

    /// `dm_task_enable_checks` on a suspend: report (as an internal error) a
    /// device whose dm dependencies, recursively, are already suspended,
    /// which could trap I/O between them. Returns whether all is well.
    fn children_not_suspended(&self, ctx: &Context) -> bool {
        let mut deps = self.sub_task(TaskType::Deps);
        self.same_device(&mut deps);
        self.check_deps_of(ctx, deps, 0)
    }

    fn check_deps_of(&self, ctx: &Context, mut deps: Task, depth: u32) -> bool {
        if depth > 64 {
            return true;
        }
        if let Err(e) = deps.run(ctx) {
            // A missing device is reported by the suspend itself.
            ctx.log_failure(&e);
            return true;
        }
        let Some(devs) = deps
            .reply_payload()
            .and_then(|p| codec::decode_deps(p).ok())
        else {
            return true;
        };
        let dm_major = crate::devices::dm_major(ctx);
        for d in devs {
            let (major, minor) = abi::decode_dev(d);
            if Some(major) != dm_major {
                continue;
            }
            let mut info = self.sub_task(TaskType::Info);
            info.major = major as i32;
            info.minor = minor as i32;
            info.allow_default_major_fallback = false;
            if let Err(e) = info.run(ctx) {
                ctx.log_failure(&e);
                continue;
            }
            if info
                .info()
                .is_some_and(|i| i.exists != 0 && i.suspended != 0)
            {
                let (name, uuid) = self.name_and_uuid();
                let dev = if self.major > 0 {
                    format!("({}:{}) ", self.major, self.minor)
                } else {
                    String::new()
                };
                crate::log_error!(ctx, "Internal error: Attempt to suspend device {name}{uuid}{dev}that uses already-suspended device ({major}:{minor})");
                return false;
            }
            let mut child = self.sub_task(TaskType::Deps);
            child.major = major as i32;
            child.minor = minor as i32;
            child.allow_default_major_fallback = false;
            if !self.check_deps_of(ctx, child, depth + 1) {
                return false;
            }
        }
        true
    }

    /// Suppress-identical reload: compare the new table with the live one.
    fn identical_to_live(&mut self, ctx: &Context) -> Result<bool, Error> {
        let mut t = self.sub_task(TaskType::Table);
        self.same_device(&mut t);
        t.no_open_count = true;
        if let Err(e) = t.run(ctx) {
            self.ioctl_errno = t.ioctl_errno;
            return Err(e);
        }
        let Some(reply) = t.reply.as_ref() else {
            return Ok(false);
        };
        let ro = reply.flags().contains(DmFlags::READONLY);
        let same = ro == self.read_only
            && t.reply_target_count() as usize == self.table.len()
            && t.reply_targets().zip(self.table.iter()).all(|(a, b)| {
                let (start, length, ty, params) = a;
                start == b.start
                    && length == b.length
                    && ty == b.target_type()
                    && same_params(params, &b)
            });
        if same {
            crate::log_verbose!(
                ctx,
                "Suppressed {} identical table reload.",
                self.display_name()
            );
            // Take over the TABLE result, as libdevmapper does.
            self.reply = t.reply.take();
            self.payload_checked = t.payload_checked;
            self.reply_specs = false;
            self.spec_walk = SpecWalk::NONE;
        }
        Ok(same)
    }
}

/// Check a table the kernel would reject (zero-length targets, gaps,
/// overlaps), with libdm's messages: `(start, length, type)` per target.
pub fn check_table<'a>(
    targets: impl IntoIterator<Item = (u64, u64, &'a [u8])>,
) -> Result<(), Error> {
    let mut next = 0u64;
    for (i, (start, length, ty)) in targets.into_iter().enumerate() {
        if length != 0 && start == next {
            next = start.saturating_add(length);
            continue;
        }
        let ty = String::from_utf8_lossy(ty);
        if length == 0 {
            return Err(Error::invalid(format!(
                "Target {i} (type {ty}) at sector {start} has zero length."
            )));
        }
        if start != next {
            let what = if start < next {
                "overlaps the previous one"
            } else {
                "leaves a gap after the previous one"
            };
            return Err(Error::invalid(format!(
                "Target {i} (type {ty}) starting at sector {start} {what} (expected start {next})."
            )));
        }
        next = start.saturating_add(length);
    }
    Ok(())
}

/// Log a failure now (to keep libdm's order of lines) and return it marked
/// as already logged.
fn logged(ctx: &Context, e: Error) -> Error {
    ctx.log_failure(&e);
    e.silently()
}

/// `struct dm_info` contents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Info {
    pub exists: i32,
    pub suspended: i32,
    pub live_table: i32,
    pub inactive_table: i32,
    pub open_count: i32,
    pub event_nr: u32,
    pub major: u32,
    pub minor: u32,
    pub read_only: i32,
    pub target_count: i32,
    pub deferred_remove: i32,
    pub internal_suspend: i32,
}

/// Mangle `value` for the kernel in the current mode, logging libdevmapper's
/// errors. `Ok(None)`: send it unchanged.
fn mangle_for_kernel(
    ctx: &Context,
    value: &[u8],
    kind: &str,
    what: &str,
    max: usize,
) -> Result<Option<Vec<u8>>, Error> {
    let mode = ctx.mangling_mode();
    if mode == ManglingMode::None {
        return Ok(None);
    }
    mangle::mangle(value, mode, kind, max).map_err(|e| {
        let err = Error::invalid(e.to_string());
        if e.failure != mangle::MangleFailure::MangledMoreThanOnce {
            err.with_note(format!(
                "Failed to mangle {what} \"{}\".",
                String::from_utf8_lossy(value)
            ))
        } else {
            err
        }
    })
}

/// The error `make(prefix + value + suffix)`, the value shown as lossy
/// UTF-8 like `String::from_utf8_lossy`, but allocated fallibly: the value
/// is the caller's, of any size, and a text that cannot be allocated gives
/// a [`ErrorKind::NoMemory`] error instead of aborting.
fn quoted(prefix: &str, value: &[u8], suffix: &str, make: impl FnOnce(String) -> Error) -> Error {
    let shown: usize = value
        .utf8_chunks()
        .map(|c| c.valid().len() + if c.invalid().is_empty() { 0 } else { 3 })
        .sum();
    let len = prefix
        .len()
        .saturating_add(shown)
        .saturating_add(suffix.len());
    let mut m = String::new();
    if m.try_reserve_exact(len).is_err() {
        return Error::no_memory(len);
    }
    m.push_str(prefix);
    for c in value.utf8_chunks() {
        m.push_str(c.valid());
        if !c.invalid().is_empty() {
            m.push(char::REPLACEMENT_CHARACTER);
        }
    }
    m.push_str(suffix);
    make(m)
}

fn cstr_at(buf: &[u8], off: usize) -> &[u8] {
    let s = buf.get(off..).unwrap_or(&[]);
    &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
}

/// Whether a table read back has the parameters a target was added with,
/// trailing spaces aside (libdm's comparison).
fn same_params(read: &[u8], added: &TableTarget<'_>) -> bool {
    match added.params() {
        Some(p) => trim_trailing_spaces(read) == trim_trailing_spaces(p),
        // Parameters with backslashes (rare): compared as given.
        None => added
            .params_secret()
            .is_some_and(|p| trim_trailing_spaces(read) == trim_trailing_spaces(p.as_bytes())),
    }
}

fn trim_trailing_spaces(b: &[u8]) -> &[u8] {
    let n = b.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
    &b[..n]
}

/// Walk a reply's records whole, once, before anything (C callers
/// included) reads them: every offset, length and terminator checked.
/// The layout of the specs of a STATUS/TABLE/WAITEVENT reply (`None` for
/// other replies).
fn validate_reply(
    ty: TaskType,
    reply: &Reply,
) -> Result<Option<codec::SpecLayout>, codec::DecodeError> {
    let p = reply.payload()?;
    match ty {
        TaskType::List => codec::walk_names_flagged(p, codec::nul_bytes, |_, _| true).map(|_| ()),
        TaskType::ListVersions | TaskType::GetTargetVersion => {
            codec::versions(p).try_for_each(|r| r.map(|_| ()))
        }
        TaskType::Deps => codec::deps_count(p).map(|_| ()),
        TaskType::Status | TaskType::Table | TaskType::WaitEvent => {
            return codec::check_specs(p, reply.header().target_count).map(Some);
        }
        // The kernel ends the payload with the response's NUL (data_size
        // counts it): then the response is terminated within the payload
        // without a scan. Anything else is looked at byte by byte.
        TaskType::TargetMsg if reply.flags().contains(DmFlags::DATA_OUT) => match p.last() {
            Some(0) => Ok(()),
            _ => codec::decode_message(p).map(|_| ()),
        },
        _ => Ok(()),
    }
    .map(|()| None)
}

/// Unmangle the names (and uuids) the kernel returned, in place, as libdm
/// does before its caller sees them: every one is checked (a blacklisted
/// byte fails the run in AUTO and HEX modes), only those with a backslash
/// can change. Returns whether it walked a LIST payload whole and left it
/// as the kernel wrote it (so it needs no second validating walk).
/// `sent_plain` is the name the request carried when it is known plain: a
/// reply name with exactly those bytes is plain too and is not scanned.
fn unmangle_reply(
    mode: ManglingMode,
    ty: TaskType,
    reply: &mut Reply,
    sent_plain: Option<&[u8]>,
) -> Result<bool, Error> {
    if mode == ManglingMode::None {
        return Ok(false);
    }
    let fail = |e: mangle::MangleError| Error::invalid(e.to_string());
    let check = |s: &[u8], kind: &str| mangle::unmangle_reply_string(s, mode, kind).map_err(fail);
    // Header name and uuid (not the uuid of REMOVE, like libdm).
    // Decoded in place, in the buffer C callers get pointers into.
    if let Some(h) = reply.header_mut() {
        let echoed = sent_plain.is_some_and(|n| codec::fixed_holds(&h.name, n));
        if echoed {
            // The bytes of a plain name: nothing to check or decode.
        } else if let Some(v) = mangle::unmangle_reply_field(&h.name, mode, "name").map_err(fail)? {
            let _ = codec::put_fixed(&mut h.name, &v, "name");
        }
        if ty != TaskType::Remove {
            if let Some(v) = mangle::unmangle_reply_field(&h.uuid, mode, "UUID").map_err(fail)? {
                let _ = codec::put_fixed(&mut h.uuid, &v, "uuid");
            }
        }
    }
    if ty != TaskType::List {
        return Ok(false);
    }
    // Records whose name or uuid decodes to something shorter are rewritten
    // whole: libdm only shortens the name in place, which leaves the event
    // number and uuid where a reader (strlen, then align) no longer looks.
    struct Edit {
        at: usize,
        end: usize,
        name: Option<Vec<u8>>,
        uuid: Option<Vec<u8>>,
    }
    let mut edits: Vec<Edit> = Vec::new();
    {
        let p = reply
            .payload()
            .map_err(|e| Error::protocol(e.to_string()))?;
        // The usual reply: every name and uuid plain (nothing to report or
        // decode), settled in one lean walk, eight bytes at a time; a name
        // the word test does not vouch for gets the exact check.
        let plain =
            |n: &[u8], u: Option<&[u8]>| mangle::is_plain(n) && u.is_none_or(mangle::is_plain);
        if codec::walk_names_flagged(p, mangle::unvouched_bytes, plain)
            .map_err(|e| Error::protocol(e.to_string()))?
        {
            return Ok(true);
        }
        // Like libdm, every bad name or uuid is reported, not just the first;
        // the run fails after the walk.
        let mut bad: Option<Error> = None;
        let mut keep = |r: Result<Option<Vec<u8>>, Error>| match r {
            Ok(v) => v,
            Err(e) => {
                bad = Some(match bad.take() {
                    None => e,
                    Some(first) => first.with_note(e.to_string()),
                });
                None
            }
        };
        for e in codec::names(p) {
            let e = e.map_err(|e| Error::protocol(e.to_string()))?;
            let name = keep(check(e.name, "name"));
            let uuid = e.uuid.and_then(|u| keep(check(u, "UUID")));
            if name.is_some() || uuid.is_some() {
                let next = codec::name_record_next(p, e.offset).unwrap_or(0);
                let end = if next == 0 { p.len() } else { e.offset + next };
                edits
                    .try_reserve(1)
                    .map_err(|_| Error::no_memory(std::mem::size_of::<Edit>()))?;
                edits.push(Edit {
                    at: e.offset,
                    end,
                    name,
                    uuid,
                });
            }
        }
        if let Some(e) = bad {
            return Err(e);
        }
    }
    if edits.is_empty() {
        return Ok(true);
    }
    let base = reply.header().data_start as usize;
    let b = reply.buf.as_bytes_mut();
    for ed in edits {
        let rec = &mut b[base + ed.at..base + ed.end];
        let old = codec::names(rec).next().and_then(Result::ok).map(|e| {
            (
                e.name.to_vec(),
                e.event_nr,
                e.flags,
                e.uuid.map(<[u8]>::to_vec),
            )
        });
        let Some((old_name, event_nr, flags, old_uuid)) = old else {
            continue;
        };
        let name = ed.name.unwrap_or(old_name);
        let uuid = ed.uuid.or(old_uuid);
        // Decoded text is never longer than its mangled form, so the
        // record only shrinks and its next offset stays as it is.
        codec::rewrite_name_record(rec, &name, event_nr.zip(flags), uuid.as_deref());
    }
    Ok(false)
}

/// Resolve a path such as `/dev/mapper/x` or `/dev/dm-3` to the dm name.
fn resolve_path_name(ctx: &Context, path: &[u8]) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let p = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
    let md = std::fs::metadata(p).ok()?;
    let dm_dir_bytes = ctx.dm_dir();
    let dm_dir = std::path::Path::new(std::ffi::OsStr::from_bytes(&dm_dir_bytes));
    if let Some(base) = p.file_name() {
        let cand = dm_dir.join(base);
        if std::fs::metadata(&cand)
            .ok()
            .is_some_and(|m| m.rdev() == md.rdev())
        {
            return Some(base.as_encoded_bytes().to_vec());
        }
    }
    for e in std::fs::read_dir(dm_dir).ok()?.flatten() {
        if std::fs::metadata(e.path())
            .ok()
            .is_some_and(|m| m.rdev() == md.rdev())
        {
            return Some(e.file_name().as_encoded_bytes().to_vec());
        }
    }
    None
}

/// `dm_mknodes(NULL)`: make nodes for every device, remove stale ones.
pub fn mknodes_all(ctx: &Context) -> Result<(), Error> {
    use std::os::unix::ffi::OsStrExt;
    let dir = ctx.dm_dir();
    let each = |name: &[u8]| {
        let mut t = Task::new(TaskType::MkNodes as i32);
        let r = t.set_name(ctx, name).and_then(|()| t.run(ctx));
        if let Err(e) = r {
            ctx.log_failure(&e);
        }
    };
    if let Ok(rd) = std::fs::read_dir(std::ffi::OsStr::from_bytes(&dir)) {
        for e in rd.flatten() {
            let n = e.file_name();
            if n == "control" {
                continue;
            }
            each(n.as_bytes());
        }
    }
    let mut list = Task::new(TaskType::List as i32);
    list.run(ctx)?;
    let names: Vec<Vec<u8>> = list
        .reply_payload()
        .and_then(|p| codec::decode_names(p).ok())
        .map(|v| v.into_iter().map(|e| e.name.to_vec()).collect())
        .unwrap_or_default();
    for n in names {
        each(&n);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context::new()
    }

    /// The header and payload a run would send.
    fn flat(t: &Task, c: &Context, ty: TaskType, minor: u32) -> Result<(DmIoctl, Vec<u8>), Error> {
        let (h, n) = t.flatten(c, ty, minor)?;
        let mut p = vec![0u8; n];
        t.encode_payload(ty, &mut p);
        Ok((h.header([4, minor, 0], (DATA_START + n) as u32), p))
    }

    /// A LIST reply holding `names` (name, optional uuid), header name `hn`.
    fn list_reply(hn: &str, names: &[(&str, Option<&str>)]) -> Reply {
        let mut p = Vec::new();
        for (i, (n, u)) in names.iter().enumerate() {
            let at = p.len();
            p.extend_from_slice(&(i as u64 + 1).to_ne_bytes());
            p.extend_from_slice(&0u32.to_ne_bytes());
            p.extend_from_slice(n.as_bytes());
            p.push(0);
            p.resize(p.len().next_multiple_of(8), 0);
            p.extend_from_slice(&0u32.to_ne_bytes());
            let flags = if u.is_some() {
                abi::DM_NAME_LIST_FLAG_HAS_UUID
            } else {
                0
            };
            p.extend_from_slice(&flags.to_ne_bytes());
            if let Some(u) = u {
                p.extend_from_slice(u.as_bytes());
                p.push(0);
                p.resize(p.len().next_multiple_of(8), 0);
            }
            let next = if i + 1 == names.len() {
                0
            } else {
                (p.len() - at) as u32
            };
            p[at + 8..at + 12].copy_from_slice(&next.to_ne_bytes());
        }
        let mut header = DmIoctl {
            data_start: DATA_START as u32,
            data_size: (DATA_START + p.len()) as u32,
            ..DmIoctl::default()
        };
        codec::put_fixed(&mut header.name, hn.as_bytes(), "name").unwrap();
        let mut bytes = vec![0u8; DATA_START + p.len()];
        codec::write_header(&mut bytes, &header);
        bytes[DATA_START..].copy_from_slice(&p);
        Reply::from_bytes(&bytes).unwrap()
    }

    fn listed(r: &Reply) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        codec::decode_names(r.payload().unwrap())
            .unwrap()
            .into_iter()
            .map(|e| (e.name.to_vec(), e.uuid.map(<[u8]>::to_vec)))
            .collect()
    }

    #[test]
    fn reply_names_are_checked_and_unmangled_like_libdm() {
        use ManglingMode::{Auto, Hex, None as NoneMode};
        // Decoded where a backslash says so, in names and uuids.
        let mut r = list_reply("", &[("plain", Some("U-1")), ("a\\x20b", Some("u\\x2fv"))]);
        unmangle_reply(Auto, TaskType::List, &mut r, None).unwrap();
        assert_eq!(
            listed(&r),
            vec![
                (b"plain".to_vec(), Some(b"U-1".to_vec())),
                (b"a b".to_vec(), Some(b"u/v".to_vec())),
            ]
        );
        // A blacklisted byte anywhere fails the run (stock: "should be
        // mangled but it contains blacklisted characters"), with or
        // without a backslash elsewhere in the payload.
        for mode in [Auto, Hex] {
            let mut r = list_reply("", &[("ok", None), ("a b", None)]);
            let e = unmangle_reply(mode, TaskType::List, &mut r, None).unwrap_err();
            assert!(e.to_string().contains("The name \"a b\""), "{e}");
            let mut r = list_reply("", &[("x\\x20", None), ("ok", Some("bad uuid"))]);
            let e = unmangle_reply(mode, TaskType::List, &mut r, None).unwrap_err();
            assert!(e.to_string().contains("The UUID \"bad uuid\""), "{e}");
        }
        // Every bad name is reported, in list order, not just the first.
        let mut r = list_reply("", &[("a b", None), ("ok", None), ("c d", None)]);
        let e = unmangle_reply(Auto, TaskType::List, &mut r, None).unwrap_err();
        let lines: Vec<&str> = e.log_lines().collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].contains("\"a b\"") && lines[1].contains("\"c d\""),
            "{lines:?}"
        );
        // So does the header's name, whatever the command.
        let mut r = list_reply("with space", &[]);
        assert!(unmangle_reply(Auto, TaskType::Info, &mut r, None).is_err());
        // A plain name the request carried, echoed byte for byte, is taken
        // as is; any other reply name is still checked.
        let mut r = list_reply("plain-1", &[]);
        unmangle_reply(Auto, TaskType::Info, &mut r, Some(b"plain-1")).unwrap();
        assert_eq!(codec::fixed_str(&r.header().name), b"plain-1");
        let mut r = list_reply("plain-1 x", &[]);
        assert!(unmangle_reply(Auto, TaskType::Info, &mut r, Some(b"plain-1")).is_err());
        let mut r = list_reply("a\\x20b", &[]);
        unmangle_reply(Auto, TaskType::Info, &mut r, Some(b"a")).unwrap();
        assert_eq!(codec::fixed_str(&r.header().name), b"a b");
        // AUTO refuses a string mangled twice.
        let mut r = list_reply("", &[("a\\x5cx20", None)]);
        assert!(unmangle_reply(Auto, TaskType::List, &mut r, None).is_err());
        // NONE leaves everything alone.
        let mut r = list_reply("with space", &[("a b", None), ("a\\x20b", None)]);
        unmangle_reply(NoneMode, TaskType::List, &mut r, None).unwrap();
        assert_eq!(listed(&r)[1].0, b"a\\x20b".to_vec());
    }

    /// A spec of a TABLE payload, laid out as the kernel does (`pad`: extra
    /// bytes of `b'x'` after the parameters' NUL, which no kernel adds).
    fn push_spec(p: &mut Vec<u8>, start: u64, ty: &str, params: &str, pad: usize) {
        codec::push_test_spec(p, start, ty, params, pad, b'x');
    }

    /// A task holding a TABLE reply of `count` specs in `p`, checked and
    /// noted as a run does.
    fn table_task(p: &[u8], count: u32) -> Task {
        let header = DmIoctl {
            data_start: DATA_START as u32,
            data_size: (DATA_START + p.len()) as u32,
            target_count: count,
            ..DmIoctl::default()
        };
        let mut bytes = vec![0u8; DATA_START + p.len()];
        codec::write_header(&mut bytes, &header);
        bytes[DATA_START..].copy_from_slice(p);
        let reply = Reply::from_bytes(&bytes).unwrap();
        let layout = validate_reply(TaskType::Table, &reply).unwrap();
        let mut t = Task::new(TaskType::Table as i32);
        t.note_checked(TaskType::Table, &reply, layout);
        t.reply = Some(reply);
        t
    }

    type Seen = (u64, u64, Vec<u8>, Vec<u8>, usize);

    /// Bytes of a task's reply buffer after its payload.
    fn slack(t: &Task) -> usize {
        let r = t.reply.as_ref().unwrap();
        r.buf.len() - r.header().data_size as usize
    }

    /// A step as plain values: start, length, the type and parameters up
    /// to their NUL (which must be inside the field and the payload: the
    /// step's parameters run to the end of the buffer, `slack` bytes past
    /// the payload), next cursor.
    fn seen(s: TargetStep<'_>, slack: usize) -> Seen {
        let ty = codec::fixed_str(&s.target_type[..]).to_vec();
        assert!(ty.len() < 16, "type field without its NUL");
        let inside = &s.params[..s.params.len() - slack];
        let n = codec::cstr_len(inside).expect("parameters end in the payload");
        (s.start, s.length, ty, s.params[..n].to_vec(), s.next)
    }

    /// Walk a task's table with the cursor as dm_get_next_target does:
    /// (cursor passed, what the step gave).
    fn walk_steps(t: &mut Task) -> Vec<(usize, Seen)> {
        let slack = slack(t);
        let mut out = Vec::new();
        let mut c = 0;
        while let Some(s) = t.reply_target_step(c) {
            let v = seen(s, slack);
            let next = v.4;
            out.push((c, v));
            if next == 0 {
                break;
            }
            c = next;
        }
        out
    }

    /// The buffer offsets of the specs (cursors a walk hands out).
    fn spec_offsets(t: &Task) -> Vec<usize> {
        let (p, count) = t.spec_payload();
        codec::specs(p, count)
            .map(|r| DATA_START + r.unwrap().0)
            .collect()
    }

    /// Every step of `t`, also as the iterator and reply_target_at see it.
    fn expected_targets(t: &Task) -> Vec<(u64, u64, Vec<u8>, Vec<u8>)> {
        t.reply_targets()
            .map(|(s, l, ty, p)| (s, l, ty.to_vec(), p.to_vec()))
            .collect()
    }

    #[test]
    fn reply_cursor_walks_the_table_and_refuses_foreign_values() {
        let mut kernel = Vec::new();
        push_spec(&mut kernel, 0, "linear", "7:0 2048", 0);
        push_spec(&mut kernel, 8, "zero", "", 0);
        push_spec(&mut kernel, 16, "snapshot-origin", "7:1", 0);
        push_spec(&mut kernel, 24, "crypt", "aes-xts-plain64 0 7:2 0", 0);
        let mut padded = Vec::new();
        push_spec(&mut padded, 0, "linear", "7:0 2048", 9);
        push_spec(&mut padded, 8, "zero", "", 0);
        push_spec(&mut padded, 16, "error", "", 17);
        for (p, count, disjoint) in [(&kernel, 4u32, true), (&padded, 3, false)] {
            let mut t = table_task(p, count);
            assert_eq!(t.spec_walk.disjoint, disjoint);
            let want = expected_targets(&t);
            let offs = spec_offsets(&t);
            assert_eq!(want.len(), count as usize);
            // In order: the iterator's targets, cursors = spec offsets,
            // the last step's next is 0.
            let walked = walk_steps(&mut t);
            let got: Vec<_> = walked
                .iter()
                .map(|(_, (s, l, ty, p, _))| (*s, *l, ty.clone(), p.clone()))
                .collect();
            assert_eq!(got, want);
            let cursors: Vec<usize> = walked.iter().map(|(c, _)| *c).collect();
            let mut expect_cursors = vec![0];
            expect_cursors.extend(&offs[1..]);
            assert_eq!(cursors, expect_cursors);
            assert_eq!(walked.last().unwrap().1 .4, 0);
            for (i, _) in want.iter().enumerate() {
                let rt = t.reply_target_at(i as u32).unwrap();
                assert_eq!((rt.start, rt.type_off), (want[i].0, offs[i] + 24));
            }
            // Any other value: a spec offset gives that spec (found by a
            // walk), anything else the end; and the in-order walk goes on
            // from there.
            let end = t.reply.as_ref().unwrap().buf.len();
            let mut values: Vec<usize> = (1..end + 64).collect();
            values.extend([usize::MAX, usize::MAX - 7, 1 << 40, DATA_START - 8]);
            for v in values {
                for warm in [false, true] {
                    let mut t = table_task(p, count);
                    if warm {
                        // The walk's own cursor points at the second spec.
                        let _ = t.reply_target_step(0);
                    }
                    let fast = t.reply_target_step_in_order(v).map(|s| (s.start, s.next));
                    let slack = slack(&t);
                    let got = t.reply_target_step(v).map(|s| seen(s, slack));
                    match offs.iter().position(|&o| o == v) {
                        Some(i) => {
                            let g = got.expect("a spec offset is a valid cursor");
                            assert_eq!(
                                (g.0, g.1, &g.2, &g.3),
                                (want[i].0, want[i].1, &want[i].2, &want[i].3)
                            );
                            assert_eq!(g.4, offs.get(i + 1).copied().unwrap_or(0));
                            // ... and the walk carries on in order.
                            if g.4 != 0 {
                                let n = t.reply_target_step(g.4).unwrap();
                                assert_eq!(n.start, want[i + 1].0);
                            }
                        }
                        None => assert!(got.is_none(), "value {v} taken as a cursor"),
                    }
                    // The call-free path only ever answers for the walk's
                    // own cursor, and then as the full one does.
                    if let Some((s, n)) = fast {
                        assert!(disjoint && warm && v == offs[1], "{v}");
                        assert_eq!((s, n), (want[1].0, offs.get(2).copied().unwrap_or(0)));
                    }
                }
            }
        }
    }

    #[test]
    fn reply_cursor_of_empty_and_other_replies() {
        // No targets: nothing at any cursor.
        let mut t = table_task(&[], 0);
        assert!(t.has_reply_targets());
        for v in [0, 1, DATA_START, DATA_START + 8, usize::MAX] {
            assert!(t.reply_target_step(v).is_none());
            assert!(t.reply_target_step_in_order(v).is_none());
        }
        assert!(t.reply_target_at(0).is_none());
        // A task that has not run, and a reply of another kind.
        let mut t = Task::new(TaskType::Table as i32);
        assert!(t.reply_target_step(0).is_none() && !t.has_reply_targets());
        let mut p = Vec::new();
        push_spec(&mut p, 0, "zero", "", 0);
        let mut t = table_task(&p, 1);
        let r = t.reply.take().unwrap();
        t.note_checked(TaskType::Info, &r, None);
        t.reply = Some(r);
        assert!(t.reply_target_step(0).is_none() && !t.has_reply_targets());
        // One target: its next is 0, and it can be read again.
        let mut t = table_task(&p, 1);
        for _ in 0..2 {
            let s = t.reply_target_step(0).unwrap();
            assert_eq!((s.next, &s.target_type[..5]), (0, &b"zero\0"[..]));
        }
    }

    #[test]
    fn reply_cursor_survives_writes_into_overlapping_strings() {
        // Specs whose next offsets point into the previous spec's
        // parameters (no kernel does this; check_specs accepts it): a
        // caller writing into those parameters (its string) rewrites later
        // specs. Each step of such a reply checks its spec again, so no
        // step hands out a string that does not end inside the payload,
        // whatever was written.
        let mut p = Vec::new();
        push_spec(&mut p, 0, "linear", &"p".repeat(60), 0);
        let tail_at = p.len();
        push_spec(&mut p, 8, "zero", "", 0);
        // A second spec at 48, inside the first one's parameters, whose
        // next is the spec laid after the first.
        let second = 48;
        p[20..24].copy_from_slice(&(second as u32).to_ne_bytes());
        p[second + 24..second + 28].copy_from_slice(b"zero");
        p[second + 28] = 0;
        p[second + 20..second + 24].copy_from_slice(&(tail_at as u32).to_ne_bytes());
        let mut t = table_task(&p, 3);
        assert!(!t.spec_walk.disjoint);
        assert_eq!(walk_steps(&mut t).len(), 3);
        let offs = spec_offsets(&t);
        // Writes into the first spec's parameters (its string runs to the
        // NUL in the second spec's next offset, 69): every byte with a few
        // values, and the low byte of the second spec's next offset
        // (parameters byte 28) set to every aligned offset past it, most
        // of them inside the first spec's parameters where a type field
        // has no NUL.
        let mut patches: Vec<(usize, Vec<u8>)> = Vec::new();
        for at in 0..60 {
            for v in [0u8, 1, 0x08, 0x30, 0x7f, 0xff] {
                patches.push((at, vec![v]));
            }
        }
        assert!(p.len() < 256);
        for next in (second + 8..p.len() + 16).step_by(8) {
            patches.push((second + 20 - 40, vec![next as u8]));
        }
        let (mut refused, mut bad_next) = (0, 0);
        for (at, bytes) in patches {
            {
                let mut t = table_task(&p, 3);
                let slack = slack(&t);
                let first = t.reply_target_step(0).unwrap();
                let n = codec::cstr_len(first.params).unwrap();
                if at + bytes.len() <= n {
                    first.params[at..at + bytes.len()].copy_from_slice(&bytes);
                }
                match t.reply_target_step(offs[1]) {
                    None => refused += 1,
                    Some(s) => {
                        let n = s.next;
                        if n != 0 && t.reply_target_step(n).is_none() {
                            bad_next += 1;
                        }
                    }
                }
                // The walk from where it was, and from every spec offset
                // and a few other values: every answer is well-formed.
                let mut c = offs[1];
                for _ in 0..p.len() / 8 {
                    let Some(s) = t.reply_target_step(c) else {
                        break;
                    };
                    c = seen(s, slack).4;
                    if c == 0 {
                        break;
                    }
                }
                for c in offs
                    .iter()
                    .copied()
                    .chain([0, 1, DATA_START + 8, usize::MAX])
                {
                    if let Some(s) = t.reply_target_step(c) {
                        let _ = seen(s, slack);
                    }
                }
            }
        }
        assert!(refused > 0, "some writes make the second spec unusable");
        assert!(bad_next > 0, "some writes point the walk at a broken spec");
    }

    #[test]
    fn types_map_to_commands() {
        assert_eq!(TaskType::from_raw(21), None);
        assert_eq!(TaskType::from_raw(-1), None);
        assert_eq!(
            TaskType::from_raw(11).unwrap().command(),
            Command::TableStatus
        );
        assert_eq!(TaskType::Resume.command(), Command::DevSuspend);
        assert_eq!(TaskType::MkNodes.command(), Command::DevStatus);
        assert_eq!(TaskType::GetTargetVersion.name(), "target-version");
    }

    #[test]
    fn setters_validate() {
        let c = ctx();
        let mut t = Task::new(TaskType::Info as i32);
        assert!(t.set_name(&c, b"vol0").is_ok());
        let e = t.set_name(&c, &[b'a'; 128]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().ends_with("too long."));
        assert!(t.set_name(&c, &[b'a'; 127]).is_ok());
        assert!(t.set_uuid(&c, &[b'u'; 129]).is_err());
        assert!(t.set_uuid(&c, &[b'u'; 128]).is_ok());
        assert!(t.add_target(0, 1, b"nonexistent_target", b"").is_err());
        assert!(t.add_target(0, 1, b"zero", b"").is_ok());
        assert_eq!(
            t.set_newname(&c, b"").unwrap_err().to_string(),
            "Non empty new name is required."
        );
        assert!(t.set_newname(&c, b"a/b").is_err());
        assert!(t.set_newname(&c, b"b").is_ok());
        let mut cr = Task::new(TaskType::Create as i32);
        assert!(cr.set_name(&c, b"a/b").is_err());
        assert!(t.set_add_node(7).is_err());
    }

    #[test]
    fn mangling_failures_carry_both_lines() {
        let c = ctx();
        let mut t = Task::new(TaskType::Info as i32);
        // A mixture of mangled and raw characters is refused in auto mode.
        let e = t.set_name(&c, b"a\\x20 b").unwrap_err();
        assert_eq!(e.log_lines().count(), 2);
        assert!(e.notes()[0].starts_with("Failed to mangle device name"));
        c.set_mangling_mode(ManglingMode::None);
        assert!(t.set_name(&c, b"a\\x20 b").is_ok());
        assert_eq!(t.mangled_name, None);
    }

    #[test]
    fn rename_without_a_new_name_never_reaches_the_kernel() {
        let c = ctx();
        let mut t = Task::new(TaskType::Rename as i32);
        t.set_name(&c, b"x").unwrap();
        assert!(t.set_newname(&c, b"").is_err());
        assert!(flat(&t, &c, TaskType::Rename, 47).is_err());
        t.set_newname(&c, b"y").unwrap();
        assert!(flat(&t, &c, TaskType::Rename, 47).is_ok());
    }

    #[test]
    fn add_target_from_c_strings_checks_and_encodes_alike() {
        use std::ffi::CString;
        let types: [&[u8]; 6] = [
            b"",
            b"z",
            b"linear",
            b"abcdefghijklmno",
            b"abcdefghijklmnop",
            b"nonexistent_target",
        ];
        let params: [&[u8]; 4] = [b"", b"7:0 2048", b"a\\b \\\\c\\", b"0123456789abcdefg 0"];
        for ty in types {
            for p in params {
                let (mut a, mut b) = (
                    Task::new(TaskType::Reload as i32),
                    Task::new(TaskType::Reload as i32),
                );
                let ra = a.add_target(0, 8, ty, p);
                let rb =
                    b.add_target_cstr(0, 8, &CString::new(ty).unwrap(), &CString::new(p).unwrap());
                assert_eq!(
                    ra.as_ref().map_err(|e| e.to_string()),
                    rb.as_ref().map_err(|e| e.to_string())
                );
                assert_eq!(a.table().payload(), b.table().payload());
                if ra.is_ok() {
                    let x = a.targets().next().unwrap();
                    assert_eq!(x.target_type(), ty);
                    assert_eq!(x.params_secret().unwrap().as_bytes(), p);
                }
            }
        }
    }

    #[test]
    fn flatten_enforces_exclusive_payloads() {
        let c = ctx();
        let mut t = Task::new(TaskType::TargetMsg as i32);
        t.set_name(&c, b"x").unwrap();
        t.sector = Some(0);
        assert!(flat(&t, &c, TaskType::TargetMsg, 47).is_err());
        t.message = Some(Secret::from(&b"@stats_list"[..]));
        let (h, p) = flat(&t, &c, TaskType::TargetMsg, 47).unwrap();
        assert_eq!(&p[8..], b"@stats_list\0");
        assert!(DmFlags::from_bits_retain(h.flags).contains(DmFlags::EXISTS));
        t.add_target(0, 1, b"zero", b"").unwrap();
        assert!(flat(&t, &c, TaskType::TargetMsg, 47).is_err());
    }

    #[test]
    fn a_message_alone_is_written_as_the_encoder_writes_it() {
        let c = ctx();
        for nul_free in [false, true] {
            let mut t = Task::new(TaskType::TargetMsg as i32);
            t.set_name(&c, b"x").unwrap();
            t.sector = Some(0x0102_0304_0506_0708);
            if nul_free {
                t.try_set_message_cstr(c"@stats_list").unwrap();
            } else {
                t.set_message(b"@stats_list");
            }
            let (_, p) = flat(&t, &c, TaskType::TargetMsg, 47).unwrap();
            let text = t.message.as_ref().unwrap().as_bytes();
            let direct = Payload::Message {
                sector: t.sector.unwrap(),
                text,
            };
            assert_eq!(direct.len(), p.len());
            // Over stale bytes, as in a recycled buffer.
            let mut out = vec![0xa5u8; p.len()];
            direct.write(&mut out);
            assert_eq!(out, p);
        }
        // A message with a NUL is refused by the run (set from bytes).
        let mut t = Task::new(TaskType::TargetMsg as i32);
        t.set_name(&c, b"x").unwrap();
        t.set_message(b"a\0b");
        assert!(flat(&t, &c, TaskType::TargetMsg, 47).is_err());
    }

    #[test]
    fn message_responses_are_checked_before_they_are_read() {
        let reply = |p: &[u8]| {
            let header = DmIoctl {
                data_start: DATA_START as u32,
                data_size: (DATA_START + p.len()) as u32,
                flags: (DmFlags::EXISTS | DmFlags::DATA_OUT).bits(),
                ..DmIoctl::default()
            };
            let mut bytes = vec![0u8; DATA_START + p.len()];
            codec::write_header(&mut bytes, &header);
            bytes[DATA_START..].copy_from_slice(p);
            Reply::from_bytes(&bytes).unwrap()
        };
        let run = |p: &[u8]| Task::with_reply(TaskType::TargetMsg, ManglingMode::Auto, reply(p));
        // As the kernel answers: the NUL is the payload's last byte.
        let t = run(b"0: 0+8 8 - -\n\0").unwrap();
        assert_eq!(t.message_response(), Some(&b"0: 0+8 8 - -\n"[..]));
        // A NUL earlier, bytes after it: still a terminated response.
        let t = run(b"ok\0\x01\x02").unwrap();
        assert_eq!(t.message_response(), Some(&b"ok"[..]));
        // No NUL at all: refused before anything reads it.
        assert!(run(b"unterminated").is_err());
        assert!(run(b"").is_err());
    }

    #[test]
    fn flatten_sets_flags() {
        let c = ctx();
        let mut t = Task::new(TaskType::Table as i32);
        t.set_name(&c, b"x").unwrap();
        t.no_flush = true;
        t.query_inactive_table = true;
        t.secure_data = true;
        let (h, p) = flat(&t, &c, TaskType::Table, 47).unwrap();
        let f = DmFlags::from_bits_retain(h.flags);
        assert!(f.contains(
            DmFlags::STATUS_TABLE
                | DmFlags::NOFLUSH
                | DmFlags::QUERY_INACTIVE_TABLE
                | DmFlags::SECURE_DATA
        ));
        assert!(p.is_empty());
        let mut r = Task::new(TaskType::Remove as i32);
        r.deferred_remove = true;
        let (h, _) = flat(&r, &c, TaskType::Remove, 47).unwrap();
        assert!(DmFlags::from_bits_retain(h.flags).contains(DmFlags::DEFERRED_REMOVE));
        let mut s = Task::new(TaskType::Info as i32);
        s.ima_measurement = true;
        assert!(flat(&s, &c, TaskType::Info, 44).is_err());
    }

    #[test]
    fn table_checks() {
        let mut t = Task::new(TaskType::Reload as i32);
        t.add_target(0, 8, b"zero", b"").unwrap();
        t.add_target(8, 8, b"zero", b"").unwrap();
        assert!(t.check_table().is_ok());
        t.add_target(10, 8, b"zero", b"").unwrap();
        assert!(t.check_table().is_err());
        let mut z = Task::new(TaskType::Reload as i32);
        z.add_target(0, 0, b"zero", b"").unwrap();
        assert!(z.check_table().is_err());
    }

    #[test]
    fn reload_by_devno_omits_name() {
        let c = ctx();
        let mut t = Task::new(TaskType::Resume as i32);
        t.set_name(&c, b"x").unwrap();
        t.major = 254;
        t.minor = 3;
        t.allow_default_major_fallback = false;
        let (h, _) = flat(&t, &c, TaskType::Resume, 47).unwrap();
        assert_eq!(codec::fixed_str(&h.name), b"");
        assert_eq!(h.dev, abi::encode_dev(254, 3));
    }

    #[test]
    fn a_reset_task_sends_what_a_new_one_sends() {
        let c = ctx();
        let mut t = Task::new(TaskType::Create as i32);
        t.set_name(&c, b"was").unwrap();
        t.set_uuid(&c, b"UUID-was").unwrap();
        t.set_newname(&c, b"renamed").unwrap();
        t.set_message(b"key set 00ff");
        t.sector = Some(7);
        t.set_geometry(b"1", b"2", b"3", b"4");
        t.add_target(0, 8, b"zero", b"").unwrap();
        t.set_major_minor(253, 4, false);
        t.read_only = true;
        t.no_flush = true;
        t.secure_data = true;
        t.event_nr = 9;
        t.buffer_cap = 4096;
        t.reset(TaskType::Info as i32);
        assert_eq!(t.task_type(), Some(TaskType::Info));
        assert!(t.name.is_none() && t.uuid.is_none() && t.newname.is_none());
        assert!(t.message.is_none() && t.sector.is_none() && t.geometry.is_none());
        assert!(t.reply.is_none() && t.table.is_empty());
        assert_eq!((t.major, t.minor, t.buffer_cap, t.runs), (-1, -1, 0, 0));
        let mut n = Task::new(TaskType::Info as i32);
        for ty in [TaskType::Info, TaskType::Reload, TaskType::Suspend] {
            for u in [&mut t, &mut n] {
                u.raw_type = ty as i32;
                u.set_name(&c, b"now").unwrap();
            }
            let (a, b) = (flat(&t, &c, ty, 47).unwrap(), flat(&n, &c, ty, 47).unwrap());
            assert_eq!(a.1, b.1);
            let key = |h: &DmIoctl| {
                (
                    h.data_size,
                    h.target_count,
                    h.flags,
                    h.event_nr,
                    h.dev,
                    h.name,
                    h.uuid,
                )
            };
            assert_eq!(key(&a.0), key(&b.0));
        }
    }
}
