//! Thin wrappers for the few system calls that neither std nor our other
//! dependencies expose safely: SysV semaphores (the udev cookie protocol),
//! `mknod` for block nodes, and the `BLKRAGET`/`BLKRASET` read-ahead ioctls.
//!
//! Every wrapper is a safe function. Failures come back as the raw `errno`
//! value (`Err(errno)`), which is what the libdm-style messages need; nothing
//! here logs. One of the few files of the crate allowed `unsafe`.

#![allow(unsafe_code)]

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use libc::{c_int, c_long, c_ulong, c_void};

/// `IPC_CREAT` for [`semget`].
pub const IPC_CREAT: i32 = libc::IPC_CREAT;
/// `IPC_EXCL` for [`semget`].
pub const IPC_EXCL: i32 = libc::IPC_EXCL;
/// `IPC_NOWAIT` for [`semop_one`].
pub const IPC_NOWAIT: i16 = libc::IPC_NOWAIT as i16;

/// `poll()` one descriptor for `POLLIN` for at most `timeout` (`None`:
/// without limit; longer waits are made of several polls). `Ok(true)`
/// when it is readable (or reports an error condition, which a read would
/// surface), `Ok(false)` when the time ran out. An interrupted poll is
/// resumed with the time that remains.
pub fn poll_readable(
    fd: BorrowedFd<'_>,
    timeout: Option<std::time::Duration>,
) -> Result<bool, i32> {
    let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
    loop {
        let ms: c_int = match (timeout, deadline) {
            (None, _) => -1,
            // Too far ahead to represent: as good as forever.
            (Some(_), None) => -1,
            (Some(_), Some(d)) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                // Round up, so that a short timeout still waits.
                let ms = left.as_nanos().div_ceil(1_000_000);
                c_int::try_from(ms).unwrap_or(c_int::MAX)
            }
        };
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `p` is one valid, initialised pollfd living across the
        // call, and the count passed is 1; `fd` is borrowed, so it stays
        // open during the call.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r > 0 {
            return Ok(true);
        }
        if r == 0 {
            if ms == c_int::MAX || ms < 0 {
                continue; // a slice of a longer wait
            }
            return Ok(false);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// `_IO(0x12, 99)`: get the read-ahead of a block device (in 512-byte sectors).
const BLKRAGET: c_ulong = 0x1263;
/// `_IO(0x12, 98)`: set the read-ahead of a block device (in 512-byte sectors).
const BLKRASET: c_ulong = 0x1262;

/// The calling thread's current `errno`.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `strerror(errno)`: the plain C library text, without Rust's
/// " (os error N)" suffix.
pub fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    let suffix = format!(" (os error {errno})");
    match s.strip_suffix(&suffix) {
        Some(t) => t.to_string(),
        None => s,
    }
}

/// `makedev(major, minor)` as glibc encodes it (what `st_rdev` holds).
pub fn makedev(major: u32, minor: u32) -> u64 {
    libc::makedev(major, minor)
}

/// The argument union of `semctl` (`union semun`).
#[repr(C)]
#[derive(Clone, Copy)]
union SemUn {
    val: c_int,
    ptr: *mut c_void,
}

fn ret_unit(r: c_int) -> Result<(), i32> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Whether the kernel supports SysV semaphores: `semctl(0, 0, SEM_INFO)`
/// succeeds.
pub fn sem_info_supported() -> bool {
    // SAFETY: all-zero is a valid `seminfo` (plain integers).
    let mut info: libc::seminfo = unsafe { std::mem::zeroed() };
    let arg = SemUn {
        ptr: &mut info as *mut libc::seminfo as *mut c_void,
    };
    // SAFETY: SEM_INFO writes one `struct seminfo` through the pointer in the
    // union, which points at a live, writable local of that type.
    let r = unsafe { libc::semctl(0, 0, libc::SEM_INFO, arg) };
    r >= 0
}

/// `semget(key, nsems, flags)`: the semaphore set id.
pub fn semget(key: i32, nsems: i32, flags: i32) -> Result<i32, i32> {
    // SAFETY: plain system call with integer arguments.
    let r = unsafe { libc::semget(key, nsems, flags) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// `semctl(semid, 0, GETVAL)`.
pub fn sem_getval(semid: i32) -> Result<i32, i32> {
    // SAFETY: GETVAL takes no fourth argument.
    let r = unsafe { libc::semctl(semid, 0, libc::GETVAL) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// `semctl(semid, 0, SETVAL, val)`.
pub fn sem_setval(semid: i32, val: i32) -> Result<(), i32> {
    let arg = SemUn { val };
    // SAFETY: SETVAL reads `val` from the union passed by value.
    ret_unit(unsafe { libc::semctl(semid, 0, libc::SETVAL, arg) })
}

/// `semctl(semid, 0, IPC_RMID)`: remove the semaphore set.
pub fn sem_remove(semid: i32) -> Result<(), i32> {
    // SAFETY: IPC_RMID ignores the fourth argument.
    ret_unit(unsafe { libc::semctl(semid, 0, libc::IPC_RMID, 0 as c_int) })
}

/// `semop` with one operation on semaphore 0 of the set: `op` is added to the
/// value (0 = wait for zero); `flags` may hold [`IPC_NOWAIT`].
pub fn semop_one(semid: i32, op: i16, flags: i16) -> Result<(), i32> {
    let mut sb = libc::sembuf {
        sem_num: 0,
        sem_op: op,
        sem_flg: flags,
    };
    // SAFETY: one valid `sembuf` is passed with nsops = 1.
    ret_unit(unsafe { libc::semop(semid, &mut sb, 1) })
}

/// Paths shorter than this are made C strings on the stack.
const STACK_PATH: usize = 256;

/// A path as a C string, lent by [`with_path`]; the node calls on it make
/// no allocation.
pub struct CPath<'a>(&'a CStr);

/// Call `f` with the path made of `parts` (concatenated) as a C string: on
/// the stack when short, else on the heap. A path with a NUL inside is
/// `EINVAL`, as for std's calls.
pub fn with_path<R>(parts: &[&[u8]], f: impl FnOnce(&CPath<'_>) -> R) -> Result<R, i32> {
    let mut store = PathStore::new();
    Ok(f(&store.path(parts)?))
}

/// Room for a path made a C string ([`CPath`]): a buffer on the stack, or
/// a heap copy for a long path. A caller that makes its path in one of
/// several ways can then make the calls on it in one place.
pub struct PathStore {
    buf: [std::mem::MaybeUninit<u8>; STACK_PATH],
    /// A long path and its NUL. (A `Vec`, not an `Option<CString>`: the
    /// `None` written next to the uninitialised buffer let the compiler
    /// clear both with a memset.)
    heap: Vec<u8>,
}

impl Default for PathStore {
    fn default() -> Self {
        Self::new()
    }
}

impl PathStore {
    /// Empty room (the buffer is not cleared: only the bytes written are
    /// read).
    #[inline]
    pub fn new() -> PathStore {
        PathStore {
            buf: [std::mem::MaybeUninit::<u8>::uninit(); STACK_PATH],
            heap: Vec::new(),
        }
    }

    /// The path made of `parts` (concatenated), as [`with_path`] lends it:
    /// `EINVAL` for a NUL inside.
    pub fn path(&mut self, parts: &[&[u8]]) -> Result<CPath<'_>, i32> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if parts
            .iter()
            .any(|p| crate::kernel::codec::contains_byte(p, 0))
        {
            return Err(libc::EINVAL);
        }
        if len >= STACK_PATH {
            return self.long(parts);
        }
        let dst = self.buf.as_mut_ptr().cast::<u8>();
        let mut at = 0;
        for p in parts {
            // SAFETY: `at + p.len()` is at most `len`, below STACK_PATH: the
            // bytes written are inside the buffer, which no part overlaps.
            unsafe { std::ptr::copy_nonoverlapping(p.as_ptr(), dst.add(at), p.len()) };
            at += p.len();
        }
        // SAFETY: the first `len` bytes (the parts' total length, below
        // STACK_PATH) were written just above: the parts, which hold no NUL
        // (checked above).
        Ok(unsafe { self.stack_cpath(len) })
    }

    /// `dir/name`, the usual node path, as [`with_dir_path`] lends it.
    #[inline]
    pub fn dir_path(&mut self, dir: NoNul<'_>, name: NoNul<'_>) -> Result<CPath<'_>, i32> {
        let (dir, name) = (dir.0, name.0);
        let len = dir.len() + 1 + name.len();
        if len >= STACK_PATH {
            return self.long(&[dir, b"/", name]);
        }
        let dst = self.buf.as_mut_ptr().cast::<u8>();
        // SAFETY: `dir.len() + 1 + name.len()` is `len`, below STACK_PATH:
        // the bytes written are inside the buffer, which neither part
        // overlaps.
        unsafe {
            copy_part(dst, dir);
            dst.add(dir.len()).write(b'/');
            copy_part(dst.add(dir.len() + 1), name);
        }
        // SAFETY: the first `len` bytes (below STACK_PATH) were written just
        // above: `dir`, '/', `name` (neither holds a NUL: `NoNul`s).
        Ok(unsafe { self.stack_cpath(len) })
    }

    /// A path too long for the stack buffer, on the heap.
    #[cold]
    #[inline(never)]
    fn long(&mut self, parts: &[&[u8]]) -> Result<CPath<'_>, i32> {
        self.heap = [parts, &[b"\0"]].concat().concat();
        CStr::from_bytes_with_nul(&self.heap)
            .map(CPath)
            .map_err(|_| libc::EINVAL)
    }

    /// The C string the stack buffer holds once its first `len` bytes are
    /// written: its NUL is written here.
    ///
    /// # Safety
    /// `len < STACK_PATH`, and the first `len` bytes of the buffer are
    /// initialised, none of them NUL.
    #[inline(always)]
    unsafe fn stack_cpath(&mut self, len: usize) -> CPath<'_> {
        self.buf[len].write(0);
        // SAFETY: the caller's `len` initialised bytes without a NUL, then
        // the NUL just written: `len + 1` initialised bytes, one C string.
        CPath(unsafe {
            CStr::from_bytes_with_nul_unchecked(std::slice::from_raw_parts(
                self.buf.as_ptr().cast::<u8>(),
                len + 1,
            ))
        })
    }
}

/// Bytes known to hold no NUL: a part of a path [`with_dir_path`] writes
/// without scanning it again.
#[derive(Clone, Copy, Debug)]
pub struct NoNul<'a>(&'a [u8]);

impl<'a> NoNul<'a> {
    /// `b`, if it holds no NUL.
    #[inline]
    pub fn new(b: &'a [u8]) -> Option<NoNul<'a>> {
        (!crate::kernel::codec::contains_byte(b, 0)).then_some(NoNul(b))
    }

    /// A constant checked when it is compiled (a NUL in it fails the build).
    pub const fn from_const(b: &'static [u8]) -> NoNul<'static> {
        let mut i = 0;
        while i < b.len() {
            assert!(b[i] != 0, "a NUL in a path constant");
            i += 1;
        }
        NoNul(b)
    }

    /// `name` if it is a plain node name: neither '/' nor NUL in it
    /// (both looked for in one pass).
    #[inline]
    pub fn plain_name(name: &'a [u8]) -> Option<NoNul<'a>> {
        (!crate::kernel::codec::contains_either(name, b'/', 0)).then_some(NoNul(name))
    }

    /// `name`, which the caller knows to be a plain node name (neither '/'
    /// nor NUL in it: a task's name its check found whitelisted whole);
    /// checked again in debug builds only.
    #[inline]
    pub fn known_plain(name: &'a [u8]) -> NoNul<'a> {
        debug_assert!(!crate::kernel::codec::contains_either(name, b'/', 0));
        NoNul(name)
    }

    /// The bytes.
    #[inline]
    pub fn bytes(self) -> &'a [u8] {
        self.0
    }
}

/// [`with_path`] for `dir/name`, the usual node path: the separator is
/// written in place rather than copied as a part of its own, and neither
/// part is scanned for a NUL again.
pub fn with_dir_path<R>(
    dir: NoNul<'_>,
    name: NoNul<'_>,
    f: impl FnOnce(&CPath<'_>) -> R,
) -> Result<R, i32> {
    let mut store = PathStore::new();
    Ok(f(&store.dir_path(dir, name)?))
}

/// `copy_nonoverlapping(src, dst, src.len())` for a part of a node path:
/// the usual lengths of a directory or a node name (8 to 16 bytes) are
/// copied inline as two overlapping words, without a call to memcpy (as
/// [`crate::kernel::codec::copy_short`] does between slices).
///
/// # Safety
/// `dst` is valid for `src.len()` bytes of writes, none of them in `src`.
#[inline(always)]
unsafe fn copy_part(dst: *mut u8, src: &[u8]) {
    let n = src.len();
    if (8..=16).contains(&n) {
        let word = |s: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(s);
            w
        };
        let (head, tail) = (word(&src[..8]), word(&src[n - 8..]));
        // SAFETY: 8 <= n: both words lie in the n bytes at `dst` the
        // caller lends, and are written unaligned.
        unsafe {
            dst.cast::<[u8; 8]>().write_unaligned(head);
            dst.add(n - 8).cast::<[u8; 8]>().write_unaligned(tail);
        }
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, n) };
    }
}

fn with_cpath<R>(path: &Path, f: impl FnOnce(&CPath<'_>) -> Result<R, i32>) -> Result<R, i32> {
    with_path(&[path.as_os_str().as_bytes()], f)?
}

/// What the node operations need of `stat(2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeStat {
    /// `st_mode` (file type and permission bits).
    pub mode: u32,
    /// `st_rdev`.
    pub rdev: u64,
}

impl NodeStat {
    /// A block device.
    pub fn is_block(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFBLK
    }

    /// A symbolic link (only from [`lstat`]).
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }
}

impl CPath<'_> {
    /// The path, for messages.
    pub fn as_path(&self) -> &Path {
        Path::new(std::ffi::OsStr::from_bytes(self.0.to_bytes()))
    }

    fn stat_with(
        &self,
        call: unsafe extern "C" fn(*const libc::c_char, *mut libc::stat) -> c_int,
    ) -> Result<NodeStat, i32> {
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: a valid C string and a writable `struct stat`.
        if unsafe { call(self.0.as_ptr(), st.as_mut_ptr()) } < 0 {
            return Err(errno());
        }
        // SAFETY: the call succeeded, so it filled the whole struct.
        let st = unsafe { st.assume_init() };
        Ok(NodeStat {
            mode: st.st_mode,
            rdev: st.st_rdev,
        })
    }

    /// `stat(path)` (follows symbolic links).
    pub fn stat(&self) -> Result<NodeStat, i32> {
        self.stat_with(libc::stat)
    }

    /// `lstat(path)`.
    pub fn lstat(&self) -> Result<NodeStat, i32> {
        self.stat_with(libc::lstat)
    }

    /// `unlink(path)`.
    pub fn unlink(&self) -> Result<(), i32> {
        // SAFETY: a valid C string for the duration of the call.
        ret_unit(unsafe { libc::unlink(self.0.as_ptr()) })
    }

    /// `chmod(path, mode)`.
    pub fn chmod(&self, mode: u32) -> Result<(), i32> {
        // SAFETY: a valid C string for the duration of the call.
        ret_unit(unsafe { libc::chmod(self.0.as_ptr(), mode as libc::mode_t) })
    }

    /// `chown(path, uid, gid)` (follows symbolic links).
    pub fn chown(&self, uid: u32, gid: u32) -> Result<(), i32> {
        // SAFETY: a valid C string for the duration of the call.
        ret_unit(unsafe { libc::chown(self.0.as_ptr(), uid, gid) })
    }

    /// `mknod(path, mode, dev)` (mode includes the file type, e.g.
    /// `S_IFBLK`). The process umask applies, as for the C call.
    pub fn mknod(&self, mode: u32, dev: u64) -> Result<(), i32> {
        // SAFETY: a valid C string for the duration of the call.
        ret_unit(unsafe { libc::mknod(self.0.as_ptr(), mode as libc::mode_t, dev as libc::dev_t) })
    }
}

/// `mknod(path, mode, dev)` (mode includes the file type, e.g. `S_IFBLK`).
/// The process umask applies, as for the C call.
pub fn mknod(path: &Path, mode: u32, dev: u64) -> Result<(), i32> {
    with_cpath(path, |p| p.mknod(mode, dev))
}

/// `stat(path)` (follows symbolic links).
pub fn stat(path: &Path) -> Result<NodeStat, i32> {
    with_cpath(path, |p| p.stat())
}

/// `lstat(path)`.
pub fn lstat(path: &Path) -> Result<NodeStat, i32> {
    with_cpath(path, |p| p.lstat())
}

/// `unlink(path)`.
pub fn unlink(path: &Path) -> Result<(), i32> {
    with_cpath(path, |p| p.unlink())
}

/// `chmod(path, mode)`.
pub fn chmod(path: &Path, mode: u32) -> Result<(), i32> {
    with_cpath(path, |p| p.chmod(mode))
}

/// `chown(path, uid, gid)` (follows symbolic links).
pub fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), i32> {
    with_cpath(path, |p| p.chown(uid, gid))
}

/// The fields of C's `struct tm` that `mktime` reads (as it counts them:
/// months from 0, years from 1900).
#[derive(Clone, Copy, Debug, Default)]
pub struct BrokenDownTime {
    /// Seconds.
    pub sec: c_int,
    /// Minutes.
    pub min: c_int,
    /// Hours.
    pub hour: c_int,
    /// Day of the month.
    pub mday: c_int,
    /// Month, 0-11.
    pub mon: c_int,
    /// Years since 1900.
    pub year: c_int,
}

/// `mktime(3)` of a local time with `tm_isdst = -1` (out-of-range fields
/// are normalised, as C does).
#[allow(clippy::useless_conversion)] // time_t is not i64 everywhere
pub fn mktime_local(t: &BrokenDownTime) -> i64 {
    // SAFETY: an all-zero `struct tm` is a valid value (plain integers and a
    // null `tm_zone` pointer).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_sec = t.sec;
    tm.tm_min = t.min;
    tm.tm_hour = t.hour;
    tm.tm_mday = t.mday;
    tm.tm_mon = t.mon;
    tm.tm_year = t.year;
    tm.tm_wday = -1;
    tm.tm_yday = -1;
    tm.tm_isdst = -1;
    // SAFETY: `tm` is a valid, exclusively borrowed `struct tm`; mktime only
    // reads and normalises it.
    i64::from(unsafe { libc::mktime(&mut tm) })
}

/// `gmtime_r(3)` of `t`, then `mktime(3)` of that broken-down time read as
/// local time: the time and whether DST was in effect (libdm finds the
/// local zone's offset this way). `None` when `t` cannot be converted.
#[allow(clippy::useless_conversion)] // time_t is not i64 everywhere
pub fn gmtime_as_local(t: i64) -> Option<(i64, bool)> {
    let t = libc::time_t::try_from(t).ok()?;
    // SAFETY: an all-zero `struct tm` is a valid value.
    let mut gm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; gmtime_r is reentrant.
    if unsafe { libc::gmtime_r(&t, &mut gm) }.is_null() {
        return None;
    }
    // SAFETY: `gm` is a valid `struct tm` filled by gmtime_r.
    let local = i64::from(unsafe { libc::mktime(&mut gm) });
    Some((local, gm.tm_isdst != 0))
}

/// `ioctl(fd, BLKRAGET, &long)`: read-ahead in 512-byte sectors.
pub fn blkraget(fd: BorrowedFd<'_>) -> Result<i64, i32> {
    let mut v: c_long = 0;
    // SAFETY: BLKRAGET writes one `long` through the pointer, which points at
    // a live local; the fd is borrowed and therefore open.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), BLKRAGET as _, &mut v as *mut c_long) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(v as i64)
    }
}

/// `ioctl(fd, BLKRASET, value)`: set read-ahead in 512-byte sectors (the
/// value is passed directly, not through a pointer).
pub fn blkraset(fd: BorrowedFd<'_>, sectors: u64) -> Result<(), i32> {
    // SAFETY: BLKRASET takes its argument by value; no memory is accessed.
    ret_unit(unsafe { libc::ioctl(fd.as_raw_fd(), BLKRASET as _, sectors as c_ulong) })
}

/// The errno of an I/O error (0 when it has none).
pub fn io_errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// libdevmapper's `log_sys_error` / `log_sys_debug` text:
/// `"<obj>: <call> failed: <strerror>"`.
pub fn sys_msg(call: &str, obj: &str, errno: i32) -> String {
    if obj.is_empty() {
        format!("{call} failed: {}", strerror(errno))
    } else {
        format!("{obj}: {call} failed: {}", strerror(errno))
    }
}

/// A path for messages.
pub fn disp(p: &std::path::Path) -> std::borrow::Cow<'_, str> {
    p.to_string_lossy()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_paths_of_every_short_length() {
        let bytes = |n: usize, c: u8| -> Vec<u8> { (0..n).map(|i| c + (i % 20) as u8).collect() };
        for d in 0..24 {
            for n in 0..24 {
                let (dir, name) = (bytes(d, b'a'), bytes(n, b'A'));
                let want = [&dir[..], b"/", &name[..]].concat();
                let got =
                    with_dir_path(NoNul::new(&dir).unwrap(), NoNul::new(&name).unwrap(), |p| {
                        p.0.to_bytes().to_vec()
                    })
                    .unwrap();
                assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn long_paths_and_nuls() {
        let dir = vec![b'd'; 200];
        let name = vec![b'n'; 100];
        let want = [&dir[..], b"/", &name[..]].concat();
        let got = with_dir_path(NoNul::new(&dir).unwrap(), NoNul::new(&name).unwrap(), |p| {
            p.0.to_bytes().to_vec()
        })
        .unwrap();
        assert_eq!(got, want);
        let got = with_path(&[&dir, b"/", &name], |p| p.0.to_bytes().to_vec()).unwrap();
        assert_eq!(got, want);
        assert_eq!(with_path(&[&dir, b"/\0", &name], |_| ()), Err(libc::EINVAL));
        assert_eq!(with_path(&[b"/a\0b"], |_| ()), Err(libc::EINVAL));
    }

    #[test]
    fn strerror_is_plain() {
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
        assert_eq!(strerror(libc::EBUSY), "Device or resource busy");
    }

    #[test]
    fn semaphore_roundtrip() {
        if !sem_info_supported() {
            return;
        }
        // A private (IPC_PRIVATE) set so no key can collide.
        let id = semget(libc::IPC_PRIVATE, 1, 0o600 | IPC_CREAT).expect("semget");
        sem_setval(id, 1).expect("setval");
        assert_eq!(sem_getval(id), Ok(1));
        semop_one(id, 1, 0).expect("inc");
        assert_eq!(sem_getval(id), Ok(2));
        semop_one(id, -2, IPC_NOWAIT).expect("dec");
        assert_eq!(sem_getval(id), Ok(0));
        assert_eq!(semop_one(id, -1, IPC_NOWAIT), Err(libc::EAGAIN));
        semop_one(id, 0, 0).expect("wait for zero returns at once");
        sem_remove(id).expect("rmid");
        assert_eq!(sem_getval(id).err(), Some(libc::EINVAL));
    }

    #[test]
    fn path_calls_work_on_short_and_long_paths() {
        let dir = std::env::temp_dir().join(format!("dmrs-sys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sub = dir.join("y".repeat(150));
        std::fs::create_dir_all(&sub).unwrap();
        let long = sub.join("z".repeat(150));
        assert!(long.as_os_str().len() > STACK_PATH);
        for p in [dir.join("short"), long] {
            std::fs::write(&p, b"").unwrap();
            let st = lstat(&p).unwrap();
            assert_eq!(st.mode & libc::S_IFMT, libc::S_IFREG);
            assert!(!st.is_block() && !st.is_symlink());
            chmod(&p, 0o600).unwrap();
            assert_eq!(stat(&p).unwrap().mode & 0o777, 0o600);
            chown(&p, own_uid(), u32::MAX).unwrap();
            unlink(&p).unwrap();
            assert_eq!(lstat(&p), Err(libc::ENOENT));
            assert_eq!(unlink(&p), Err(libc::ENOENT));
        }
        let nul = Path::new(std::ffi::OsStr::from_bytes(b"a\0b"));
        assert_eq!(stat(nul), Err(libc::EINVAL));
        let short = dir.join("parts");
        std::fs::write(&short, b"").unwrap();
        let d = dir.as_os_str().as_bytes();
        assert_eq!(
            with_path(&[d, b"/", b"parts"], |p| p.as_path() == short),
            Ok(true)
        );
        assert_eq!(with_path(&[d, b"/", b"parts"], |p| p.unlink()), Ok(Ok(())));
        assert_eq!(with_path(&[d, b"/\0"], |_| ()), Err(libc::EINVAL));
        std::fs::remove_dir(&sub).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }

    /// The caller's own uid (chown to it always works).
    fn own_uid() -> u32 {
        nix::unistd::getuid().as_raw()
    }

    #[test]
    fn makedev_matches_glibc() {
        assert_eq!(makedev(253, 0), 0xfd00);
        assert_eq!(makedev(8, 16), 0x810);
    }
}
