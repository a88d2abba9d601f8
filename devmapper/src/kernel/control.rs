//! The control device (`/dev/mapper/control`) and the dm ioctl call.
//!
//! This is where the library touches the kernel: opening (and if needed
//! creating) the control node, the one-per-process version handshake, and
//! `ioctl()` with per-command buffer sizing. Buffers grow on
//! `DM_BUFFER_FULL_FLAG` within one call, up to a cap, and start small again
//! on the next call (no process-wide sticky growth). Every buffer is wiped
//! before it is freed, since table loads and reads may carry keys.

use super::abi::{Command, DmFlags, DmIoctl, DATA_START, DM_CONTROL_MAJOR, DM_CONTROL_MINOR};
use super::codec::{self, DecodeError};
use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Default upper bound on one ioctl buffer (64 MiB).
pub const DEFAULT_BUFFER_CAP: usize = 64 << 20;

/// Smallest first buffer for commands that return a payload.
const fn initial_output_size(cmd: Command) -> usize {
    match cmd {
        Command::ListDevices => 8 << 10,
        Command::ListVersions => 4 << 10,
        _ => 2 << 10,
    }
}

/// Largest size a remembered hint may reach: replies bigger than this
/// regrow within their call every time, so one huge table read never makes
/// later calls copy megabytes.
const HINT_MAX: usize = 256 << 10;

/// Per-command size hints for output commands: the size that last fitted,
/// capped at [`HINT_MAX`] and halved whenever a reply used less than a
/// quarter of its buffer. Commands without output always send just what
/// they carry, whatever happened before (no process-wide growth).
static HINTS: [AtomicUsize; 18] = [const { AtomicUsize::new(0) }; 18];

fn first_size(cmd: Command) -> usize {
    let h = HINTS[cmd as usize].load(Ordering::Relaxed);
    h.max(initial_output_size(cmd))
}

fn learn_size(cmd: Command, size: usize, used: usize, attempts: u32) {
    let slot = &HINTS[cmd as usize];
    let base = initial_output_size(cmd);
    if attempts > 1 {
        slot.store(size.min(HINT_MAX), Ordering::Relaxed);
    } else if used.saturating_mul(4) < size && size > base {
        slot.store((size / 2).max(base), Ordering::Relaxed);
    }
}

/// An 8-byte aligned, zero-initialised byte buffer that wipes itself on drop.
pub struct Buffer {
    words: Vec<u64>,
    /// Bytes that may hold caller or kernel data (wiped on drop).
    dirty: usize,
}

impl Buffer {
    /// A zeroed buffer of at least `len` bytes (rounded up to 8).
    pub fn zeroed(len: usize) -> Buffer {
        Buffer {
            words: vec![0u64; len.div_ceil(8)],
            dirty: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.words.len() * 8
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: u64 has no padding and any byte pattern is a valid u8; the
        // slice covers exactly the vector's initialised storage.
        unsafe {
            std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.words.len() * 8)
        }
    }

    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above; the borrow is unique.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.words.as_mut_ptr().cast::<u8>(),
                self.words.len() * 8,
            )
        }
    }

    /// Pointer to the start, for handing parts of a reply to C callers.
    pub fn as_ptr(&self) -> *const u8 {
        self.words.as_ptr().cast()
    }

    fn mark_dirty(&mut self, n: usize) {
        self.dirty = self.dirty.max(n.min(self.len()));
    }

    /// Zero the bytes that held data; not optimised away.
    pub fn wipe(&mut self) {
        let n = self.dirty;
        let bytes = self.as_bytes_mut();
        bytes[..n].fill(0);
        std::hint::black_box(&mut *bytes);
        self.dirty = 0;
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// A successful reply: the header as the kernel returned it, and the buffer.
pub struct Reply {
    pub header: DmIoctl,
    pub buf: Buffer,
    /// How many ioctls this reply took (1 + buffer regrowths).
    pub attempts: u32,
}

impl Reply {
    pub fn flags(&self) -> DmFlags {
        DmFlags::from_bits_retain(self.header.flags)
    }

    /// The payload bytes `[data_start, data_size)`, bounds-checked.
    pub fn payload(&self) -> Result<&[u8], DecodeError> {
        codec::reply_payload(self.buf.as_bytes(), &self.header)
    }
}

/// Why an ioctl did not produce a reply.
#[derive(Debug)]
pub enum IoctlError {
    /// The control device could not be opened or created.
    Open { path: String, err: io::Error },
    /// The kernel failed the ioctl with this errno.
    Kernel(i32),
    /// The reply would need a buffer larger than the cap.
    TooLarge { needed: usize, cap: usize },
    /// The reply is malformed.
    Decode(DecodeError),
}

impl std::fmt::Display for IoctlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IoctlError::Open { path, err } => write!(f, "{path}: open failed: {}", strerror(err)),
            IoctlError::Kernel(e) => write!(f, "{}", strerror(&io::Error::from_raw_os_error(*e))),
            IoctlError::TooLarge { needed, cap } => {
                write!(f, "reply needs more than {needed} bytes, above the ioctl buffer maximum of {cap} bytes")
            }
            IoctlError::Decode(d) => write!(f, "{d}"),
        }
    }
}

/// The C library's text for an I/O error (no " (os error N)" suffix).
pub fn strerror(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => super::sys::strerror(n),
        None => e.to_string(),
    }
}

impl IoctlError {
    /// The errno that best describes the failure.
    pub fn errno(&self) -> i32 {
        match self {
            IoctlError::Open { err, .. } => err.raw_os_error().unwrap_or(libc::EIO),
            IoctlError::Kernel(e) => *e,
            IoctlError::TooLarge { .. } => libc::ENOMEM,
            IoctlError::Decode(_) => libc::EPROTO,
        }
    }
}

/// What to send: a header (name, uuid, dev, flags, event_nr, target_count
/// already filled in by the caller) and an encoded payload.
pub struct Request<'a> {
    pub cmd: Command,
    pub header: DmIoctl,
    pub payload: &'a [u8],
    /// Upper bound for buffer growth.
    pub cap: usize,
}

/// The control device. One per process ([`Control::global`]); the file
/// descriptor is opened lazily, shared by all threads, and may be released.
pub struct Control {
    file: Mutex<Option<Arc<File>>>,
    version: OnceLock<[u32; 3]>,
}

static GLOBAL: Control = Control {
    file: Mutex::new(None),
    version: OnceLock::new(),
};

impl Control {
    /// The process-wide control device.
    pub fn global() -> &'static Control {
        &GLOBAL
    }

    /// Open the control node if it is not open yet.
    pub fn open(&self) -> Result<Arc<File>, IoctlError> {
        let mut g = self.file.lock();
        if let Some(f) = g.as_ref() {
            return Ok(Arc::clone(f));
        }
        let path = crate::config::control_path();
        ensure_control_node(&path).map_err(|err| IoctlError::Open {
            path: path.clone(),
            err,
        })?;
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(|err| IoctlError::Open { path, err })?;
        let f = Arc::new(f);
        *g = Some(Arc::clone(&f));
        Ok(f)
    }

    /// Whether the control node is currently open.
    pub fn is_open(&self) -> bool {
        self.file.lock().is_some()
    }

    /// Close the control node (`dm_lib_release`). In-flight calls on other
    /// threads keep their reference and finish normally.
    pub fn release(&self) {
        self.file.lock().take();
    }

    /// The kernel's interface version, from the one handshake per process.
    pub fn driver_version(&self) -> Result<[u32; 3], IoctlError> {
        if let Some(v) = self.version.get() {
            return Ok(*v);
        }
        let r = self.ioctl(&Request {
            cmd: Command::Version,
            header: DmIoctl::default(),
            payload: &[],
            cap: DATA_START,
        })?;
        let v = r.header.version;
        Ok(*self.version.get_or_init(|| v))
    }

    /// The cached interface version, if the handshake happened.
    pub fn cached_version(&self) -> Option<[u32; 3]> {
        self.version.get().copied()
    }

    /// Record a version seen in any reply (the kernel always writes its own).
    pub fn note_version(&self, v: [u32; 3]) {
        if v[0] == super::abi::DM_VERSION_MAJOR {
            let _ = self.version.set(v);
        }
    }

    /// Run one dm ioctl, growing the buffer on `DM_BUFFER_FULL_FLAG`.
    pub fn ioctl(&self, req: &Request<'_>) -> Result<Reply, IoctlError> {
        let file = self.open()?;
        let base = DATA_START + req.payload.len();
        let cap = req.cap.max(base);
        let mut size = if req.cmd.has_output() {
            base.max(first_size(req.cmd).min(cap))
        } else {
            base
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut buf = Buffer::zeroed(size);
            let mut h = req.header;
            h.version = req.cmd.min_version();
            h.data_size =
                u32::try_from(buf.len()).map_err(|_| IoctlError::TooLarge { needed: size, cap })?;
            h.data_start = DATA_START as u32;
            {
                let b = buf.as_bytes_mut();
                codec::write_header(b, &h);
                b[DATA_START..base].copy_from_slice(req.payload);
            }
            buf.mark_dirty(base);
            let rc = raw_ioctl(&file, req.cmd, &mut buf);
            if rc < 0 {
                let e = io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EIO);
                // The kernel writes its version back even on failure.
                if let Ok(h) = codec::read_header(buf.as_bytes()) {
                    self.note_version(h.version);
                }
                return Err(IoctlError::Kernel(e));
            }
            let header = codec::read_header(buf.as_bytes()).map_err(IoctlError::Decode)?;
            buf.mark_dirty(header.data_size as usize);
            self.note_version(header.version);
            let flags = DmFlags::from_bits_retain(header.flags);
            if flags.contains(DmFlags::BUFFER_FULL) && req.cmd.has_output() {
                let next = size.saturating_mul(2);
                if next > cap {
                    return Err(IoctlError::TooLarge { needed: next, cap });
                }
                size = next;
                continue;
            }
            if header.data_size as usize > buf.len() {
                return Err(IoctlError::Decode(DecodeError(
                    "data_size larger than the buffer",
                )));
            }
            if req.cmd.has_output() {
                learn_size(req.cmd, size, header.data_size as usize, attempts);
            }
            return Ok(Reply {
                header,
                buf,
                attempts,
            });
        }
    }
}

fn raw_ioctl(file: &File, cmd: Command, buf: &mut Buffer) -> i32 {
    // SAFETY: the buffer is at least DATA_START bytes, 8-aligned, and its
    // header's data_size equals its length, so the kernel reads and writes
    // only inside it. The request number encodes struct dm_ioctl's size.
    unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            cmd.request() as libc::c_ulong,
            buf.as_bytes_mut().as_mut_ptr(),
        )
    }
}

/// Make sure `path` is the dm control node (char 10:236), creating the
/// directory and the node when missing, as libdevmapper does.
fn ensure_control_node(path: &str) -> io::Result<()> {
    let want = libc::makedev(DM_CONTROL_MAJOR, DM_CONTROL_MINOR);
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_char_device() && m.rdev() == want => return Ok(()),
        Ok(_) => {
            crate::dm_verbose!("{path}: not a control device, removing it");
            std::fs::remove_file(path)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)?;
        }
    }
    crate::dm_verbose!("Creating device {path} ({DM_CONTROL_MAJOR}, {DM_CONTROL_MINOR})");
    mknod_char(path, 0o600, want)?;
    Ok(())
}

fn mknod_char(path: &str, mode: u32, dev: libc::dev_t) -> io::Result<()> {
    let c = std::ffi::CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | mode, dev) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(e);
        }
    }
    // mknod honours the umask; make the mode exact like libdm's umask 0177.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_is_aligned_and_wiped() {
        let mut b = Buffer::zeroed(13);
        assert_eq!(b.len(), 16);
        assert_eq!(b.as_ptr() as usize % 8, 0);
        b.as_bytes_mut()[..4].copy_from_slice(b"key!");
        b.mark_dirty(4);
        b.wipe();
        assert_eq!(&b.as_bytes()[..4], &[0, 0, 0, 0]);
    }

    #[test]
    fn hints_grow_to_fit_and_decay() {
        let c = Command::TableDeps;
        assert_eq!(first_size(c), 2048);
        learn_size(c, 32 << 10, 20 << 10, 5);
        assert_eq!(first_size(c), 32 << 10);
        // small replies halve it back towards the minimum
        for _ in 0..10 {
            let s = first_size(c);
            learn_size(c, s, 400, 1);
        }
        assert_eq!(first_size(c), 2048);
        // huge replies are not remembered beyond the cap
        learn_size(c, 64 << 20, 60 << 20, 15);
        assert_eq!(first_size(c), HINT_MAX);
        HINTS[c as usize].store(0, Ordering::Relaxed);
    }

    #[test]
    fn output_commands_start_small() {
        assert_eq!(initial_output_size(Command::TableStatus), 2048);
        assert!(initial_output_size(Command::ListDevices) <= 16 << 10);
    }
}
