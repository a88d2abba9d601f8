//! corosync's Closed Process Group library (`libcpg.so.4`), loaded with
//! `dlopen` at run time, and the [`Transport`] of the clustered mode over
//! it.
//!
//! Why not the `rust-corosync` crate (the corosync project's own binding):
//! it links `libcpg` at build time through pkg-config, so building needs
//! `libcpg-dev`/`libcorosync-common-dev`, and the binary would not start on
//! a machine without corosync's libraries. Here the library is only needed
//! when `--cluster` is given; a single node builds and runs without it.
//! The project also takes no new crates.
//!
//! The C declarations below are written from corosync's public headers
//! (`include/corosync/cpg.h`, `corotypes.h`, corosync 2 and 3), with
//! compile-time size checks. One CPG handle per group: a message sent with
//! `cpg_mcast_joined` goes to every group its handle joined.
//!
//! The callbacks run inside `cpg_dispatch`, called from the main loop; they
//! only copy what they are given into a queue (never unwinding across the
//! C frame), which the main loop then feeds to the cluster router.

use devmapper::ulog::cluster::{Member, Transport};
use devmapper::ulog::Uuid;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// `cpg_handle_t`.
type CpgHandle = u64;
/// `cs_error_t` (an enum: `int`).
type CsError = c_int;

const CS_OK: CsError = 1;
const CS_ERR_TRY_AGAIN: CsError = 6;
/// `CS_DISPATCH_ALL` (`cs_dispatch_flags_t`).
const CS_DISPATCH_ALL: c_int = 2;
/// `CPG_TYPE_AGREED` (`cpg_guarantee_t`).
const CPG_TYPE_AGREED: c_int = 2;
/// `CPG_MAX_NAME_LENGTH`.
pub const CPG_MAX_NAME_LENGTH: usize = 128;

/// `struct cpg_name`.
#[repr(C)]
#[derive(Clone, Copy)]
struct CpgName {
    length: u32,
    value: [c_char; CPG_MAX_NAME_LENGTH],
}

/// `struct cpg_address`.
#[repr(C)]
#[derive(Clone, Copy)]
struct CpgAddress {
    nodeid: u32,
    pid: u32,
    reason: u32,
}

/// `cpg_deliver_fn_t` (corosync 2 and later: `size_t msg_len`).
type DeliverFn = unsafe extern "C" fn(
    handle: CpgHandle,
    group: *const CpgName,
    nodeid: u32,
    pid: u32,
    msg: *mut c_void,
    msg_len: usize,
);

/// `cpg_confchg_fn_t`.
type ConfchgFn = unsafe extern "C" fn(
    handle: CpgHandle,
    group: *const CpgName,
    members: *const CpgAddress,
    n_members: usize,
    left: *const CpgAddress,
    n_left: usize,
    joined: *const CpgAddress,
    n_joined: usize,
);

/// `cpg_callbacks_t`.
#[repr(C)]
struct CpgCallbacks {
    deliver: Option<DeliverFn>,
    confchg: Option<ConfchgFn>,
}

const _: () = {
    assert!(std::mem::size_of::<CpgName>() == 4 + CPG_MAX_NAME_LENGTH);
    assert!(std::mem::size_of::<CpgAddress>() == 12);
    assert!(std::mem::size_of::<CpgCallbacks>() == 2 * std::mem::size_of::<usize>());
    assert!(std::mem::size_of::<CpgHandle>() == 8);
    assert!(std::mem::size_of::<libc::iovec>() == 2 * std::mem::size_of::<usize>());
};

type InitializeFn = unsafe extern "C" fn(*mut CpgHandle, *mut CpgCallbacks) -> CsError;
type FinalizeFn = unsafe extern "C" fn(CpgHandle) -> CsError;
type FdGetFn = unsafe extern "C" fn(CpgHandle, *mut c_int) -> CsError;
type DispatchFn = unsafe extern "C" fn(CpgHandle, c_int) -> CsError;
type JoinFn = unsafe extern "C" fn(CpgHandle, *const CpgName) -> CsError;
type LeaveFn = unsafe extern "C" fn(CpgHandle, *const CpgName) -> CsError;
type McastFn = unsafe extern "C" fn(CpgHandle, c_int, *const libc::iovec, c_uint) -> CsError;
type LocalGetFn = unsafe extern "C" fn(CpgHandle, *mut c_uint) -> CsError;

/// The entry points of `libcpg.so.4`.
struct Lib {
    initialize: InitializeFn,
    finalize: FinalizeFn,
    fd_get: FdGetFn,
    dispatch: DispatchFn,
    join: JoinFn,
    leave: LeaveFn,
    mcast_joined: McastFn,
    local_get: LocalGetFn,
}

/// What a callback saw, queued for the main loop.
#[derive(Debug)]
pub enum CpgEvent {
    /// A message.
    Deliver {
        /// The handle it came on.
        handle: u64,
        /// Its sender.
        from: Member,
        /// Its bytes.
        data: Vec<u8>,
    },
    /// A membership change.
    Confchg {
        /// The handle it came on.
        handle: u64,
        /// Every member now.
        members: Vec<Member>,
        /// Who left or failed.
        left: Vec<Member>,
        /// Who joined.
        joined: Vec<Member>,
    },
}

static EVENTS: Mutex<Vec<CpgEvent>> = Mutex::new(Vec::new());

fn addresses(p: *const CpgAddress, n: usize) -> Vec<Member> {
    if p.is_null() || n == 0 || n > 1 << 16 {
        return Vec::new();
    }
    // SAFETY: corosync passes an array of `n` `cpg_address` valid for the
    // duration of the callback (checked non-null, bounded above).
    let s = unsafe { std::slice::from_raw_parts(p, n) };
    s.iter()
        .map(|a| Member {
            node: a.nodeid,
            pid: a.pid,
        })
        .collect()
}

unsafe extern "C" fn on_deliver(
    handle: CpgHandle,
    _group: *const CpgName,
    nodeid: u32,
    pid: u32,
    msg: *mut c_void,
    msg_len: usize,
) {
    let _ = std::panic::catch_unwind(|| {
        let data = if msg.is_null() || msg_len == 0 {
            Vec::new()
        } else {
            // SAFETY: corosync hands `msg_len` bytes at `msg`, valid during
            // the callback; they are copied out at once.
            unsafe { std::slice::from_raw_parts(msg as *const u8, msg_len) }.to_vec()
        };
        EVENTS.lock().push(CpgEvent::Deliver {
            handle,
            from: Member { node: nodeid, pid },
            data,
        });
    });
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn on_confchg(
    handle: CpgHandle,
    _group: *const CpgName,
    members: *const CpgAddress,
    n_members: usize,
    left: *const CpgAddress,
    n_left: usize,
    joined: *const CpgAddress,
    n_joined: usize,
) {
    let _ = std::panic::catch_unwind(|| {
        EVENTS.lock().push(CpgEvent::Confchg {
            handle,
            members: addresses(members, n_members),
            left: addresses(left, n_left),
            joined: addresses(joined, n_joined),
        });
    });
}

fn cs_error(e: CsError) -> String {
    let name = match e {
        2 => "CS_ERR_LIBRARY (is corosync running?)",
        3 => "CS_ERR_VERSION",
        4 => "CS_ERR_INIT",
        5 => "CS_ERR_TIMEOUT",
        6 => "CS_ERR_TRY_AGAIN",
        7 => "CS_ERR_INVALID_PARAM",
        8 => "CS_ERR_NO_MEMORY",
        9 => "CS_ERR_BAD_HANDLE",
        10 => "CS_ERR_BUSY",
        11 => "CS_ERR_ACCESS",
        12 => "CS_ERR_NOT_EXIST",
        14 => "CS_ERR_EXIST",
        20 => "CS_ERR_NOT_SUPPORTED",
        29 => "CS_ERR_SECURITY",
        30 => "CS_ERR_TOO_MANY_GROUPS",
        _ => "",
    };
    if name.is_empty() {
        format!("corosync error {e}")
    } else {
        format!("corosync error {e} {name}")
    }
}

/// The CPG group name of a log: `dm-ulog:<uuid>`, or when that is longer
/// than 128 bytes, `dm-ulog#<first 100 bytes of the uuid>#<16 hex digits of
/// the uuid's 64-bit FNV-1a hash>` (messages carry the whole uuid and are
/// checked against it).
pub fn group_name(uuid: &[u8]) -> Vec<u8> {
    let mut n = b"dm-ulog:".to_vec();
    if n.len() + uuid.len() <= CPG_MAX_NAME_LENGTH {
        n.extend_from_slice(uuid);
        return n;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in uuid {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut n = b"dm-ulog#".to_vec();
    n.extend_from_slice(uuid.get(..100).unwrap_or(uuid));
    n.extend_from_slice(format!("#{h:016x}").as_bytes());
    n
}

fn cpg_name(uuid: &Uuid) -> CpgName {
    let g = group_name(uuid.as_bytes());
    let mut value = [0 as c_char; CPG_MAX_NAME_LENGTH];
    let n = g.len().min(CPG_MAX_NAME_LENGTH);
    for (d, s) in value.iter_mut().zip(&g[..n]) {
        *d = *s as c_char;
    }
    CpgName {
        length: n as u32,
        value,
    }
}

/// Retry a call while corosync says TRY_AGAIN (its queues are full), as
/// every CPG client does, for at most `limit`.
fn retry(limit: Duration, mut f: impl FnMut() -> CsError) -> CsError {
    let start = Instant::now();
    let mut wait = Duration::from_micros(200);
    loop {
        let e = f();
        if e != CS_ERR_TRY_AGAIN || start.elapsed() >= limit {
            return e;
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_millis(50));
    }
}

struct Joined {
    handle: CpgHandle,
    fd: RawFd,
}

/// The CPG transport: one handle per joined group.
pub struct Cpg {
    lib: Lib,
    local_node: u32,
    groups: HashMap<Uuid, Joined>,
    by_handle: HashMap<CpgHandle, Uuid>,
}

impl std::fmt::Debug for Cpg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cpg")
            .field("local_node", &self.local_node)
            .field("groups", &self.groups.len())
            .finish()
    }
}

fn sym<T: Copy>(lib: *mut c_void, name: &CStr) -> Result<T, String> {
    assert!(std::mem::size_of::<T>() == std::mem::size_of::<*mut c_void>());
    // SAFETY: `lib` is a handle from dlopen, `name` a NUL-terminated name.
    let p = unsafe { libc::dlsym(lib, name.as_ptr()) };
    if p.is_null() {
        return Err(format!("libcpg.so.4 has no {}", name.to_string_lossy()));
    }
    // SAFETY: `T` is a function pointer type of the same size as a data
    // pointer (asserted), declared from corosync's header for this symbol.
    Ok(unsafe { std::mem::transmute_copy::<*mut c_void, T>(&p) })
}

impl Cpg {
    /// Load `libcpg.so.4`, connect to corosync once to learn this node's
    /// id. Fails with a sentence saying what is missing.
    pub fn open() -> Result<Cpg, String> {
        // SAFETY: a constant NUL-terminated name; RTLD_NOW resolves every
        // symbol at once. The library is never closed (its functions stay
        // callable for the life of the process).
        let lib =
            unsafe { libc::dlopen(c"libcpg.so.4".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if lib.is_null() {
            // SAFETY: dlerror returns a NUL-terminated string or null.
            let why = unsafe {
                let e = libc::dlerror();
                if e.is_null() {
                    String::from("unknown error")
                } else {
                    CStr::from_ptr(e).to_string_lossy().into_owned()
                }
            };
            return Err(format!(
                "--cluster needs corosync's libcpg.so.4 (Debian package libcpg4): {why}"
            ));
        }
        let lib = Lib {
            initialize: sym(lib, c"cpg_initialize")?,
            finalize: sym(lib, c"cpg_finalize")?,
            fd_get: sym(lib, c"cpg_fd_get")?,
            dispatch: sym(lib, c"cpg_dispatch")?,
            join: sym(lib, c"cpg_join")?,
            leave: sym(lib, c"cpg_leave")?,
            mcast_joined: sym(lib, c"cpg_mcast_joined")?,
            local_get: sym(lib, c"cpg_local_get")?,
        };
        let mut cpg = Cpg {
            lib,
            local_node: 0,
            groups: HashMap::new(),
            by_handle: HashMap::new(),
        };
        let h = cpg.initialize().map_err(|e| {
            format!("--cluster: cannot connect to corosync ({e}): start corosync first")
        })?;
        let mut node: c_uint = 0;
        // SAFETY: `h` is a live handle; `node` is a valid out pointer.
        let e = retry(Duration::from_secs(5), || unsafe {
            (cpg.lib.local_get)(h, &mut node)
        });
        // SAFETY: `h` is a live handle, finalized once.
        unsafe { (cpg.lib.finalize)(h) };
        if e != CS_OK {
            return Err(format!(
                "--cluster: cannot get this node's id from corosync: {}",
                cs_error(e)
            ));
        }
        cpg.local_node = node;
        Ok(cpg)
    }

    fn initialize(&self) -> Result<CpgHandle, String> {
        let mut cb = CpgCallbacks {
            deliver: Some(on_deliver),
            confchg: Some(on_confchg),
        };
        let mut h: CpgHandle = 0;
        // SAFETY: valid out pointer and callbacks struct (copied by the
        // library); the callbacks are `extern "C"` and never unwind.
        let e = retry(Duration::from_secs(5), || unsafe {
            (self.lib.initialize)(&mut h, &mut cb)
        });
        if e != CS_OK {
            return Err(cs_error(e));
        }
        Ok(h)
    }

    /// This process as a group member.
    pub fn me(&self) -> Member {
        Member {
            node: self.local_node,
            pid: std::process::id(),
        }
    }

    /// The descriptors to poll, with their handles.
    pub fn fds(&self) -> Vec<(u64, RawFd)> {
        self.groups.values().map(|j| (j.handle, j.fd)).collect()
    }

    /// The log a handle serves.
    pub fn uuid_of(&self, handle: u64) -> Option<Uuid> {
        self.by_handle.get(&handle).copied()
    }

    /// Run the callbacks of what arrived on `handle`; the events are then
    /// in [`take_events`].
    pub fn dispatch(&mut self, handle: u64) -> Result<(), String> {
        // SAFETY: `handle` is live (it is in our table or the call fails
        // with BAD_HANDLE); the callbacks only queue.
        let e = unsafe { (self.lib.dispatch)(handle, CS_DISPATCH_ALL) };
        if e == CS_OK || e == CS_ERR_TRY_AGAIN {
            Ok(())
        } else {
            Err(cs_error(e))
        }
    }
}

/// `poll(2)` on raw descriptors (the CPG descriptors are corosync's, not
/// owned here), without a timeout.
pub fn poll(fds: &mut [libc::pollfd]) -> std::io::Result<usize> {
    // SAFETY: `fds` is a valid, exclusively borrowed array of its length.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Every event the callbacks queued, in order.
pub fn take_events() -> Vec<CpgEvent> {
    std::mem::take(&mut *EVENTS.lock())
}

impl Transport for Cpg {
    fn join(&mut self, uuid: &Uuid) -> Result<(), String> {
        if self.groups.contains_key(uuid) {
            return Ok(());
        }
        let h = self.initialize()?;
        let mut fd: c_int = -1;
        // SAFETY: live handle, valid out pointer.
        let e = unsafe { (self.lib.fd_get)(h, &mut fd) };
        if e != CS_OK {
            // SAFETY: live handle, finalized once.
            unsafe { (self.lib.finalize)(h) };
            return Err(format!("cpg_fd_get: {}", cs_error(e)));
        }
        let name = cpg_name(uuid);
        // SAFETY: live handle; `name` outlives the call.
        let e = retry(Duration::from_secs(10), || unsafe {
            (self.lib.join)(h, &name)
        });
        if e != CS_OK {
            // SAFETY: live handle, finalized once.
            unsafe { (self.lib.finalize)(h) };
            return Err(format!("cpg_join: {}", cs_error(e)));
        }
        self.groups.insert(*uuid, Joined { handle: h, fd });
        self.by_handle.insert(h, *uuid);
        Ok(())
    }

    fn leave(&mut self, uuid: &Uuid) -> Result<(), String> {
        let Some(j) = self.groups.remove(uuid) else {
            return Ok(());
        };
        self.by_handle.remove(&j.handle);
        let name = cpg_name(uuid);
        // SAFETY: live handle; `name` outlives the call.
        let e = retry(Duration::from_secs(5), || unsafe {
            (self.lib.leave)(j.handle, &name)
        });
        // Disconnecting also takes us out of the group (the others see a
        // member leaving either way).
        // SAFETY: live handle, finalized once; not used afterwards.
        unsafe { (self.lib.finalize)(j.handle) };
        if e != CS_OK {
            return Err(format!("cpg_leave: {}", cs_error(e)));
        }
        Ok(())
    }

    fn multicast(&mut self, uuid: &Uuid, message: &[u8]) -> Result<(), String> {
        let Some(j) = self.groups.get(uuid) else {
            return Err("not a member of the group".into());
        };
        let iov = libc::iovec {
            iov_base: message.as_ptr() as *mut c_void,
            iov_len: message.len(),
        };
        // SAFETY: live handle; one iovec over `message`, which outlives the
        // call (corosync copies it before returning).
        let e = retry(Duration::from_secs(10), || unsafe {
            (self.lib.mcast_joined)(j.handle, CPG_TYPE_AGREED, &iov, 1)
        });
        if e != CS_OK {
            return Err(format!("cpg_mcast_joined: {}", cs_error(e)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_fit() {
        assert_eq!(group_name(b"LVM-abc"), b"dm-ulog:LVM-abc");
        let long = [b'x'; 128];
        let g = group_name(&long);
        assert!(g.len() <= CPG_MAX_NAME_LENGTH, "{}", g.len());
        assert!(g.starts_with(b"dm-ulog#"));
        let mut other = long;
        other[127] = b'y';
        assert_ne!(group_name(&other), g);
        let edge = [b'z'; 120];
        assert_eq!(group_name(&edge).len(), 128);
        assert_eq!(
            cpg_name(&Uuid::new(&long).unwrap()).length as usize,
            g.len()
        );
    }
}
