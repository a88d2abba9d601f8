//! The control device (`/dev/mapper/control`) and the dm ioctl call.
//!
//! This is where the library touches the kernel: opening (and if needed
//! creating) the control node, the one version handshake per context, and
//! `ioctl()` with per-command buffer sizing. Buffers grow on
//! `DM_BUFFER_FULL_FLAG` within one call, up to a cap, and start small again
//! on the next call (no process-wide sticky growth). Every buffer is wiped
//! before it is freed, since table loads and reads may carry keys.
//!
//! One of the few files of the crate allowed `unsafe`: the ioctl itself and
//! the byte view of the aligned buffer.

#![allow(unsafe_code)]

use super::abi::{
    Command, DmFlags, DmIoctl, DATA_START, DM_CONTROL_MAJOR, DM_CONTROL_MINOR, DM_NAME_LEN,
    DM_UUID_LEN,
};
use super::codec::{self, DecodeError, EncodeError};
use crate::context::Context;
use crate::error::{Error, ErrorKind};
use parking_lot::Mutex;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

pub use crate::context::DEFAULT_BUFFER_CAP;

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
/// they carry, whatever happened before (no sticky growth).
struct Hints([AtomicUsize; 18]);

impl Hints {
    const fn new() -> Hints {
        Hints([const { AtomicUsize::new(0) }; 18])
    }

    fn first_size(&self, cmd: Command) -> usize {
        let h = self.0[cmd as usize].load(Ordering::Relaxed);
        h.max(initial_output_size(cmd))
    }

    fn learn(&self, cmd: Command, size: usize, used: usize, attempts: u32) {
        let slot = &self.0[cmd as usize];
        let base = initial_output_size(cmd);
        if attempts > 1 {
            slot.store(size.min(HINT_MAX), Ordering::Relaxed);
        } else if used.saturating_mul(4) < size && size > base {
            slot.store((size / 2).max(base), Ordering::Relaxed);
        }
    }
}

/// Buffers up to this many bytes live inline (no allocation): the header
/// of every command without output, and small replies.
const INLINE_BYTES: usize = 512;

/// An 8-byte aligned byte buffer that wipes the bytes that held data when
/// it is dropped or recycled. Up to `INLINE_BYTES` (512) it needs no
/// allocation. A fresh buffer is zeroed; a recycled one (see [`Reply`])
/// holds zeros where secrets were and possibly stale public bytes after
/// what the next request writes.
pub struct Buffer {
    store: Store,
    /// Length in bytes (a multiple of 8), at most the store's capacity.
    len: usize,
    /// Bytes that may hold caller or kernel data (wiped on drop).
    dirty: usize,
    /// Whether the contents may be secret (the default); buffers known to
    /// hold none (a status line, a device list) skip the wipe.
    secret: bool,
}

// Deliberately unboxed: the inline variant is the point (no allocation for
// the common header-only ioctls; the reply itself is boxed once).
#[allow(clippy::large_enum_variant)]
enum Store {
    Inline([u64; INLINE_BYTES / 8]),
    Heap(Vec<u64>),
}

impl Store {
    /// Zeroed storage for `words` 8-byte words.
    fn try_zeroed(words: usize) -> Option<Store> {
        if words * 8 <= INLINE_BYTES {
            return Some(Store::Inline([0; INLINE_BYTES / 8]));
        }
        let mut v = Vec::new();
        v.try_reserve_exact(words).ok()?;
        v.resize(words, 0u64);
        Some(Store::Heap(v))
    }

    /// Capacity in bytes.
    fn capacity(&self) -> usize {
        match self {
            Store::Inline(_) => INLINE_BYTES,
            Store::Heap(v) => v.len() * 8,
        }
    }
}

impl Buffer {
    /// A zeroed buffer of at least `len` bytes (rounded up to 8).
    pub fn zeroed(len: usize) -> Buffer {
        match Buffer::try_zeroed(len) {
            Some(b) => b,
            None => std::alloc::handle_alloc_error(
                std::alloc::Layout::array::<u64>(len.div_ceil(8))
                    .unwrap_or(std::alloc::Layout::new::<u64>()),
            ),
        }
    }

    /// Like [`Buffer::zeroed`], but `None` instead of aborting when the
    /// memory cannot be had (sizes come from callers and the kernel).
    pub fn try_zeroed(len: usize) -> Option<Buffer> {
        let n = len.div_ceil(8);
        Some(Buffer {
            store: Store::try_zeroed(n)?,
            len: n * 8,
            dirty: 0,
            secret: true,
        })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        let p: *const u64 = match &self.store {
            Store::Inline(w) => w.as_ptr(),
            Store::Heap(v) => v.as_ptr(),
        };
        // SAFETY: `len` never exceeds the store's capacity (it is only set
        // by try_zeroed and reset, next to the store), every word of the
        // store is initialised, u64 has no padding and any byte pattern is
        // a valid u8.
        unsafe { std::slice::from_raw_parts(p.cast::<u8>(), self.len) }
    }

    /// The bytes, mutably.
    #[inline]
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        let p: *mut u64 = match &mut self.store {
            Store::Inline(w) => w.as_mut_ptr(),
            Store::Heap(v) => v.as_mut_ptr(),
        };
        // SAFETY: as in as_bytes(); the borrow is unique.
        unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), self.len) }
    }

    /// The bytes as 8-byte words (native byte order), `len / 8` of them.
    #[inline]
    pub fn as_words(&self) -> &[u64] {
        let w: &[u64] = match &self.store {
            Store::Inline(w) => w,
            Store::Heap(v) => v,
        };
        w.get(..self.len / 8).unwrap_or_default()
    }

    /// Pointer to the start, for handing parts of a reply to C callers.
    pub fn as_ptr(&self) -> *const u8 {
        self.as_bytes().as_ptr()
    }

    fn mark_dirty(&mut self, n: usize) {
        self.dirty = self.dirty.max(n.min(self.len));
    }

    /// Declare that the buffer never holds key material (no wipe on drop).
    pub fn mark_public(&mut self) {
        self.secret = false;
    }

    /// Zero the bytes that held data; not optimised away.
    pub fn wipe(&mut self) {
        if self.dirty == 0 {
            return;
        }
        let n = self.dirty.min(self.len);
        let bytes = self.as_bytes_mut();
        if let Some(b) = bytes.get_mut(..n) {
            b.fill(0);
        }
        std::hint::black_box(&mut *bytes);
        self.dirty = 0;
    }

    /// Wipe what may be secret, and forget what was written: the buffer
    /// may be reused for another request.
    fn release(&mut self) {
        if self.secret {
            self.wipe();
        }
        self.dirty = 0;
        self.secret = true;
    }

    /// Make the buffer at least `len` bytes long (rounded up to 8) for a
    /// new request, reusing its storage when it is big enough, else
    /// replacing it with zeroed storage. The old contents are released
    /// (wiped if secret) first.
    fn reset(&mut self, len: usize) -> Option<()> {
        self.release();
        self.fit(len)
    }

    /// [`Buffer::reset`] of a buffer already released (or fresh).
    #[inline]
    fn fit(&mut self, len: usize) -> Option<()> {
        let n = len.div_ceil(8);
        if n * 8 > self.store.capacity() {
            self.store = Store::try_zeroed(n)?;
        }
        self.len = n * 8;
        Some(())
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if self.secret {
            self.wipe();
        }
    }
}

/// Tables up to this many bytes grow on the heap; bigger ones live in a
/// mapping of their own, which grows without a copy (`mremap`).
const TABLE_MAP_MIN: usize = 32 << 10;

/// Size of a table's first heap block (the smallest [`TableBuf`] storage),
/// and of the block kept for the next table.
const TABLE_FIRST: usize = 1024;

/// One boxed value kept for the next user, process-wide and lock-free: a
/// thread takes it with an atomic swap (so it alone owns it) and gives one
/// back only into an empty slot; a value that finds the slot taken is
/// dropped. Whoever gives a value makes it fit for any next user (the
/// spares below hold nothing of the data they served).
struct Spare<T>(AtomicPtr<T>);

impl<T: Send> Spare<T> {
    const fn new() -> Spare<T> {
        Spare(AtomicPtr::new(std::ptr::null_mut()))
    }

    /// The kept value, if there is one; the slot is then empty.
    #[inline]
    fn take(&self) -> Option<Box<T>> {
        let p = self.0.swap(std::ptr::null_mut(), Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: the slot only ever holds a pointer from Box::into_raw
        // (`give`), and the swap made this thread its only owner.
        Some(unsafe { Box::from_raw(p) })
    }

    /// Keep `b` for the next `take` when the slot is empty, else drop it.
    #[inline]
    fn give(&self, b: Box<T>) {
        let p = Box::into_raw(b);
        if self
            .0
            .compare_exchange(
                std::ptr::null_mut(),
                p,
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_err()
        {
            // SAFETY: p came from Box::into_raw just above and the failed
            // exchange did not publish it: this thread still owns it.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

impl<T> Drop for Spare<T> {
    fn drop(&mut self) {
        let p = *self.0.get_mut();
        if !p.is_null() {
            // SAFETY: as in `take`; `&mut self` makes this the only owner.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// One heap block of [`TABLE_FIRST`] bytes, every one of them zero, kept
/// for the next table of the process: a create builds a small table, loads
/// it and lets it go, and the next create needs the same block again. A
/// block enters only wiped whole ([`retire_block`]), so it holds nothing of
/// the table it served.
static SPARE_TABLE: Spare<[u8; TABLE_FIRST]> = Spare::new();

/// A zeroed heap block of `cap` bytes (its length and capacity): the spare
/// one for [`TABLE_FIRST`] bytes when there is one, else a new one. `None`
/// when the memory cannot be had.
fn zeroed_block(cap: usize) -> Option<Vec<u8>> {
    if cap == TABLE_FIRST {
        if let Some(b) = SPARE_TABLE.take() {
            return Some((b as Box<[u8]>).into_vec());
        }
    }
    let mut v = Vec::new();
    v.try_reserve_exact(cap).ok()?;
    v.resize(cap, 0);
    Some(v)
}

/// Let go of a table's heap block whose first `used` bytes may hold data
/// (keys, maybe): a block of [`TABLE_FIRST`] bytes is wiped whole and kept
/// as the spare when there is none (else freed); any other is wiped where
/// it was used (past that it holds zeros) and freed.
fn retire_block(mut v: Vec<u8>, used: usize) {
    if v.len() == TABLE_FIRST && v.capacity() == TABLE_FIRST {
        v.fill(0);
        // (The slice, not the Vec: its length and capacity stay known, so
        // the conversions below compile to nothing.)
        std::hint::black_box(v.as_mut_slice());
        // Length and capacity equal: no reallocation, no copy.
        if let Ok(b) = Box::<[u8; TABLE_FIRST]>::try_from(v.into_boxed_slice()) {
            SPARE_TABLE.give(b);
        }
        return;
    }
    if used == 0 {
        return; // nothing held (a table started, no target kept)
    }
    if let Some(b) = v.get_mut(..used) {
        b.fill(0);
        std::hint::black_box(b);
    }
}

/// A growable byte buffer for data that may hold keys: the table of a task
/// as it is built, encoded where the kernel will read it (see
/// `Task::add_target`). Growth never leaves an unwiped copy behind: small
/// buffers move to a new heap block (the old one wiped, never `realloc`ed),
/// big ones live in an anonymous mapping that `mremap` moves page by page
/// (nothing is copied, so nothing is left behind, and the peak memory of a
/// big table is the table, not twice it). Wiped when truncated, cleared or
/// dropped. Allocation failures are reported (`None`), never aborts.
pub struct TableBuf {
    store: TableStore,
    /// Bytes in use. Beyond them the storage holds zeros (so appending
    /// needs no fill).
    len: usize,
    /// The storage's first byte (null while there is none), through which
    /// every access goes: kept with `store` wherever it changes.
    base: *mut u8,
    /// How far [`TableBuf::extend_within`] may go: the capacity, at most
    /// `u32::MAX` (what one ioctl can carry); 0 without storage.
    within: usize,
}

enum TableStore {
    /// A zeroed heap block; `v.len()` is the capacity.
    Heap(Vec<u8>),
    /// An anonymous private mapping of `cap` bytes (pages untouched until
    /// written, so its resident size is what was written).
    Map {
        ptr: std::ptr::NonNull<u8>,
        cap: usize,
    },
}

// SAFETY: the storage (heap block or mapping) is owned by the buffer alone
// (`base` points into it; no pointer from outside exists), so moving it to another thread or reading it from several
// (through &self) is as safe as for a Vec<u8>.
unsafe impl Send for TableBuf {}
// SAFETY: as above; &self only reads.
unsafe impl Sync for TableBuf {}

impl Default for TableBuf {
    fn default() -> Self {
        TableBuf::new()
    }
}

impl TableBuf {
    /// An empty buffer (no allocation).
    pub const fn new() -> TableBuf {
        TableBuf {
            store: TableStore::Heap(Vec::new()),
            len: 0,
            base: std::ptr::null_mut(),
            within: 0,
        }
    }

    /// Bytes in use.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is in use.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes in use.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        if self.base.is_null() {
            return &[];
        }
        // SAFETY: `base` is the start of the storage (heap block or
        // mapping), which holds `capacity() >= len` initialised bytes,
        // lives while self does and is only written through &mut self.
        // Every access goes through `base` (the heap block's Vec is never
        // read or written through), so no other borrow invalidates it.
        unsafe { std::slice::from_raw_parts(self.base, self.len) }
    }

    /// The bytes in use, mutably.
    #[inline]
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        if self.base.is_null() {
            return &mut [];
        }
        // SAFETY: as in as_bytes(); the borrow of self is unique.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.len) }
    }

    /// Capacity in bytes.
    fn capacity(&self) -> usize {
        match &self.store {
            TableStore::Heap(v) => v.len(),
            TableStore::Map { cap, .. } => *cap,
        }
    }

    /// Append `n` zero bytes and return them, growing the storage if needed
    /// (at least doubling it). `None` when the memory cannot be had (the
    /// buffer is then unchanged).
    #[inline]
    pub fn try_extend_zeroed(&mut self, n: usize) -> Option<&mut [u8]> {
        let old = self.len;
        let new = old.checked_add(n)?;
        if new > self.capacity() {
            self.grow(new)?;
        }
        self.len = new;
        self.as_bytes_mut().get_mut(old..)
    }

    /// Give a buffer without storage its first block (the spare one when
    /// there is one: see [`TableBuf::grow`]), zero, its first `used` bytes
    /// in use (a table's header room). False when the buffer has storage
    /// already, `used` is more than that block, or the memory cannot be
    /// had: then nothing changed.
    #[inline(never)]
    pub(crate) fn start(&mut self, used: usize) -> bool {
        if !self.base.is_null() || used > TABLE_FIRST {
            return false;
        }
        let Some(mut v) = zeroed_block(TABLE_FIRST) else {
            return false;
        };
        self.set_storage(v.as_mut_ptr(), TABLE_FIRST);
        // (The store replaced is an empty heap one: no storage.)
        self.store = TableStore::Heap(v);
        self.len = used;
        true
    }

    /// Append bytes written in place by `f`, when at least `min` bytes
    /// fit the storage and keep the buffer within `u32::MAX` bytes (what
    /// one ioctl can carry): [`TableBuf::try_extend_zeroed`]'s usual case
    /// in a few instructions (no growth, no storage kind to look at). `f`
    /// gets every byte the storage has after those in use (zero; `min` or
    /// more) and answers how many of them to keep (0: none); it leaves (or
    /// puts back) zeros in the others. Answers how many were kept (0 when
    /// `min` did not fit: `f` was not called). `min` is at least 1 (the
    /// crate's callers pass a record's size; not public for that reason).
    #[inline(always)]
    pub(crate) fn append_within(
        &mut self,
        min: usize,
        f: impl FnOnce(&mut [u8]) -> usize,
    ) -> usize {
        let room = match self.within.checked_sub(self.len) {
            Some(room) if room >= min => room,
            _ => return 0,
        };
        // `min >= 1` (the contract) makes `room >= 1`, so storage exists
        // and `base` is not null (a table without storage has a null one).
        debug_assert!(min >= 1, "append_within needs min >= 1");
        // SAFETY: `base` is the storage's start and `within` is at most
        // its capacity (both set with it, see `set_storage`), so the
        // `room` bytes from `len` lie inside it; the unique borrow of self
        // makes the slice the only reference to them.
        let spare = unsafe { std::slice::from_raw_parts_mut(self.base.add(self.len), room) };
        let n = f(spare).min(room);
        self.len += n;
        n
    }

    /// Note the storage's start and capacity (after every change of
    /// `store`).
    fn set_storage(&mut self, base: *mut u8, cap: usize) {
        self.base = base;
        self.within = cap.min(u32::MAX as usize);
    }

    /// Make room for at least `need` bytes.
    #[cold]
    fn grow(&mut self, need: usize) -> Option<()> {
        let cap = need.max(self.capacity().saturating_mul(2)).max(TABLE_FIRST);
        if cap < TABLE_MAP_MIN {
            // A zeroed block (the spare one, for a first block), the old
            // one wiped and let go (a heap block: maps are bigger).
            let mut v = zeroed_block(cap)?;
            if self.len != 0 {
                if let Some(d) = v.get_mut(..self.len) {
                    d.copy_from_slice(self.as_bytes());
                }
            }
            let base = v.as_mut_ptr();
            if let TableStore::Heap(old) = std::mem::replace(&mut self.store, TableStore::Heap(v)) {
                retire_block(old, self.len);
            }
            self.set_storage(base, cap);
            return Some(());
        }
        let page = 4096usize;
        let cap = cap.checked_add(page - 1)? & !(page - 1);
        match &mut self.store {
            TableStore::Map { ptr, cap: old } => {
                // SAFETY: ptr/old describe a mapping this buffer owns;
                // MREMAP_MAYMOVE moves its pages (no copy is left at the
                // old address, which is unmapped) or fails leaving it as
                // it was.
                let p =
                    unsafe { libc::mremap(ptr.as_ptr().cast(), *old, cap, libc::MREMAP_MAYMOVE) };
                if p == libc::MAP_FAILED {
                    return None;
                }
                *ptr = std::ptr::NonNull::new(p.cast())?;
                *old = cap;
            }
            TableStore::Heap(_) => {
                // SAFETY: a fresh anonymous private mapping; no address hint.
                let p = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        cap,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                        -1,
                        0,
                    )
                };
                if p == libc::MAP_FAILED {
                    return None;
                }
                // (mmap without MAP_FIXED never answers address 0.)
                let ptr = std::ptr::NonNull::new(p.cast::<u8>())?;
                // No transparent huge pages here: the buffer doubles, so up
                // to half of it is spare room, and with THP "always" the
                // first write into a 2 MiB-aligned stretch of that room
                // faults in all 2 MiB (or khugepaged fills it in later):
                // the resident size of a table would then be up to 2 MiB
                // more than the table, depending on where the mapping
                // happens to land. With small pages it is what was written.
                // The flag stays with the mapping through mremap. A kernel
                // without THP refuses the advice (EINVAL): nothing to do.
                // SAFETY: advice on the mapping just made, which this
                // buffer owns; it changes no content.
                unsafe { libc::madvise(p, cap, libc::MADV_NOHUGEPAGE) };
                // SAFETY: the new mapping has cap > len bytes, distinct from
                // the heap block being copied.
                unsafe {
                    std::ptr::copy_nonoverlapping(self.as_bytes().as_ptr(), ptr.as_ptr(), self.len)
                };
                self.wipe_used();
                self.store = TableStore::Map { ptr, cap };
            }
        }
        if let TableStore::Map { ptr, cap } = self.store {
            self.set_storage(ptr.as_ptr(), cap);
        }
        Some(())
    }

    /// Zero the bytes in use (not optimised away).
    fn wipe_used(&mut self) {
        if self.len == 0 {
            return; // nothing held (a task without targets)
        }
        let b = self.as_bytes_mut();
        b.fill(0);
        std::hint::black_box(b);
    }

    /// Drop the bytes from `len` on (wiped).
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        if let Some(tail) = self.as_bytes_mut().get_mut(len..) {
            tail.fill(0);
            std::hint::black_box(tail);
        }
        self.len = len;
    }

    /// Wipe everything and release the storage.
    pub fn clear(&mut self) {
        self.release();
        self.set_storage(std::ptr::null_mut(), 0);
        self.len = 0;
    }

    /// Wipe the bytes in use and let the storage go (a small heap block
    /// may be kept for the next table: see [`retire_block`]); the store is
    /// left empty, `base` and `len` as they were (for the caller to reset).
    #[inline]
    fn release(&mut self) {
        if self.base.is_null() {
            return; // no storage (a task without targets)
        }
        self.release_storage();
    }

    /// [`TableBuf::release`] of a buffer that has storage.
    #[inline(never)]
    fn release_storage(&mut self) {
        if let TableStore::Heap(v) = &mut self.store {
            retire_block(std::mem::take(v), self.len);
            return;
        }
        self.wipe_used();
        if let TableStore::Map { ptr, cap } = &self.store {
            // SAFETY: the buffer owns this mapping; nothing refers to it
            // after this (the store is replaced right after, and `base` is
            // reset or dropped with the buffer).
            unsafe { libc::munmap(ptr.as_ptr().cast(), *cap) };
        }
        self.store = TableStore::Heap(Vec::new());
    }
}

impl Drop for TableBuf {
    fn drop(&mut self) {
        self.release();
    }
}

/// What a [`Reply`] owns: the ioctl buffer the kernel answered in.
pub struct ReplyBuf {
    /// The whole buffer: the header where the kernel wrote it, then the
    /// payload (wiped when dropped, when it may hold keys).
    pub buf: Buffer,
    /// How many ioctls this reply took (1 + buffer regrowths).
    pub attempts: u32,
}

/// A successful reply, read in place: the header is the first 312 bytes of
/// the buffer, checked once when the reply arrived (NUL-terminated name and
/// uuid, `data_size` within the buffer). One allocation, recycled: when a
/// reply is dropped its box (and buffer, up to `SPARE_MAX` bytes) is kept
/// for the next ioctl of the process, after the wipe of anything secret.
pub struct Reply(ManuallyDrop<Box<ReplyBuf>>);

/// Largest buffer kept for reuse between ioctls (libdevmapper's sticky
/// big buffer must not come back: only small ones are kept).
const SPARE_MAX: usize = 16 << 10;

/// One spare reply box for the next ioctl (its buffer released, see
/// `Buffer::release`).
static SPARE: Spare<ReplyBuf> = Spare::new();

impl Reply {
    /// A reply box with a buffer of at least `len` bytes: the spare one if
    /// there is one, else a new one.
    #[inline]
    fn with_len(len: usize) -> Option<Reply> {
        let mut b = match SPARE.take() {
            Some(b) => b,
            None => Reply::new_box(len)?,
        };
        // Spare buffers were released when their reply was dropped.
        b.buf.fit(len)?;
        b.attempts = 0;
        Some(Reply(ManuallyDrop::new(b)))
    }

    /// A new reply box, when there is no spare one (the first ioctl of a
    /// process, or of a thread racing another): out of line, so that the
    /// usual call (the spare taken) builds no buffer on its stack.
    #[cold]
    #[inline(never)]
    fn new_box(len: usize) -> Option<Box<ReplyBuf>> {
        Some(Box::new(ReplyBuf {
            buf: Buffer::try_zeroed(len)?,
            attempts: 0,
        }))
    }

    /// A reply made of `bytes` (a header and a payload), checked like a
    /// kernel reply: for replies the library makes up itself, and tests.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Reply, DecodeError> {
        let mut r =
            Reply::with_len(bytes.len().max(DATA_START)).ok_or(DecodeError("out of memory"))?;
        let b = r.buf.as_bytes_mut();
        b[..bytes.len()].copy_from_slice(bytes);
        b[bytes.len()..].fill(0);
        let len = r.buf.len();
        r.buf.mark_dirty(len);
        codec::check_reply_header(r.buf.as_bytes())?;
        if r.header().data_size as usize > len {
            return Err(DecodeError("data_size larger than the buffer"));
        }
        Ok(r)
    }
}

impl std::ops::Deref for Reply {
    type Target = ReplyBuf;
    fn deref(&self) -> &ReplyBuf {
        &self.0
    }
}

impl std::ops::DerefMut for Reply {
    fn deref_mut(&mut self) -> &mut ReplyBuf {
        &mut self.0
    }
}

impl Drop for Reply {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the box is taken exactly once, here, and not used after.
        let mut b = unsafe { ManuallyDrop::take(&mut self.0) };
        if b.buf.store.capacity() > SPARE_MAX {
            return; // dropped (and wiped) here
        }
        b.buf.release();
        SPARE.give(b);
    }
}

impl ReplyBuf {
    /// The reply's header, where the kernel wrote it.
    #[inline]
    pub fn header(&self) -> &DmIoctl {
        let b = self.buf.as_bytes();
        if b.len() < DATA_START {
            return &DmIoctl::ZERO;
        }
        // SAFETY: the buffer is 8-aligned (u64 storage) and at least 312
        // bytes; DmIoctl is repr(C), 312 bytes, align <= 8 (checked in
        // abi.rs), without padding, and every bit pattern of its integer
        // fields is valid. The borrow of self keeps the bytes alive and
        // unchanged.
        unsafe { &*b.as_ptr().cast::<DmIoctl>() }
    }

    /// The reply's header, mutably (names are unmangled in place); `None`
    /// only for a buffer shorter than a header, which replies never are.
    pub fn header_mut(&mut self) -> Option<&mut DmIoctl> {
        let b = self.buf.as_bytes_mut();
        if b.len() < DATA_START {
            return None;
        }
        // SAFETY: as in header(); the borrow is unique.
        Some(unsafe { &mut *b.as_mut_ptr().cast::<DmIoctl>() })
    }

    /// The reply's header flags.
    pub fn flags(&self) -> DmFlags {
        DmFlags::from_bits_retain(self.header().flags)
    }

    /// The payload bytes `[data_start, data_size)`, bounds-checked.
    pub fn payload(&self) -> Result<&[u8], DecodeError> {
        codec::reply_payload(self.buf.as_bytes(), self.header())
    }

    /// [`payload`](Self::payload) with the bytes of the buffer up to the
    /// next multiple of 8 (its length is one): the kernel ends a reply
    /// right after the last string's NUL, and a walk that reads its
    /// strings a word at a time finds the same NUL in a whole last word.
    /// Empty when the payload is not valid.
    pub fn payload_to_word_end(&self) -> &[u8] {
        let h = self.header();
        match self.payload() {
            Ok(p) if !p.is_empty() => {
                let end = codec::align8(h.data_size as usize);
                self.buf
                    .as_bytes()
                    .get(h.data_start as usize..end)
                    .unwrap_or(p)
            }
            _ => &[],
        }
    }

    /// The payload as 8-byte words (native byte order): word `k` holds
    /// bytes `8k..8k + 8` of [`payload`](Self::payload), the last one
    /// completed from the buffer when `data_size` is not a multiple of 8
    /// (the buffer's length is). Empty when the payload is. For walks of
    /// records that start 8-aligned (a LIST reply's), which need no bounds
    /// check per byte field.
    pub fn payload_words(&self) -> &[u64] {
        let h = self.header();
        match self.payload() {
            Ok(p) if !p.is_empty() => {
                let start = h.data_start as usize / 8;
                let end = (h.data_size as usize).div_ceil(8);
                self.buf.as_words().get(start..end).unwrap_or_default()
            }
            _ => &[],
        }
    }
}

/// Why an ioctl did not produce a reply.
#[derive(Debug)]
pub(crate) enum IoctlError {
    /// The control device could not be opened or created.
    Open { path: Vec<u8>, err: io::Error },
    /// The kernel failed the ioctl with this errno.
    Kernel(i32),
    /// The reply would need a buffer larger than the cap.
    TooLarge { needed: usize, cap: usize },
    /// The reply is malformed.
    Decode(DecodeError),
    /// A buffer of this many bytes could not be allocated.
    NoMemory(usize),
}

impl std::fmt::Display for IoctlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IoctlError::Open { path, err } => write!(
                f,
                "{}: open failed: {}",
                String::from_utf8_lossy(path),
                strerror(err)
            ),
            IoctlError::Kernel(e) => write!(f, "{}", strerror(&io::Error::from_raw_os_error(*e))),
            IoctlError::TooLarge { needed, cap } => {
                write!(f, "reply needs more than {needed} bytes, above the ioctl buffer maximum of {cap} bytes")
            }
            IoctlError::Decode(d) => write!(f, "{d}"),
            IoctlError::NoMemory(n) => write!(f, "Failed to allocate {n} bytes."),
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
            IoctlError::NoMemory(_) => libc::ENOMEM,
        }
    }

    /// The failure of the version handshake, with libdm's lines about the
    /// driver ("Failure to communicate with kernel device-mapper driver.").
    pub(crate) fn into_driver_error(self) -> Error {
        let errno = self.errno();
        match &self {
            IoctlError::Open { .. } => {
                let e = Error::new(ErrorKind::Control, self.to_string())
                    .with_errno(errno)
                    .with_note("Failure to communicate with kernel device-mapper driver.");
                if nix::unistd::geteuid().is_root() {
                    e.with_note("Check that device-mapper is available in the kernel.")
                } else {
                    e
                }
            }
            _ => Error::new(
                ErrorKind::Control,
                format!("Failure to communicate with kernel device-mapper driver: {self}"),
            )
            .with_errno(errno),
        }
    }
}

/// The payload of a request.
pub enum Payload<'a> {
    /// Bytes ready to send.
    Bytes(&'a [u8]),
    /// `len` bytes written straight into the ioctl buffer by `encode` (a
    /// table is encoded where the kernel reads it, without a second copy).
    Encoded {
        /// Exact length.
        len: usize,
        /// Fills exactly `len` bytes.
        encode: &'a dyn Fn(&mut [u8]),
    },
    /// A target message alone (TARGET_MSG's payload): the sector, then
    /// the text (which holds no NUL) and its NUL. Written directly, without
    /// zeroing first or a call through a closure.
    Message {
        /// The sector of the target to message.
        sector: u64,
        /// The text.
        text: &'a [u8],
    },
}

impl Payload<'_> {
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        match self {
            Payload::Bytes(b) => b.len(),
            Payload::Encoded { len, .. } => *len,
            Payload::Message { text, .. } => 8 + text.len() + 1,
        }
    }

    /// Write the payload into `out` (exactly its length), which may hold
    /// stale bytes of a recycled buffer: encoders get it zeroed.
    #[inline(always)]
    pub(crate) fn write(&self, out: &mut [u8]) {
        // Most requests carry nothing: no call for them.
        if !out.is_empty() {
            self.write_some(out);
        }
    }

    /// [`Payload::write`] of a payload of at least one byte.
    #[inline(never)]
    fn write_some(&self, out: &mut [u8]) {
        match self {
            Payload::Bytes(b) => out.copy_from_slice(b),
            Payload::Encoded { encode, .. } => {
                out.fill(0);
                encode(out)
            }
            Payload::Message { sector, text } => {
                // `out` is exactly 8 + text + 1 bytes long (see len()).
                if let Some((s, rest)) = out.split_first_chunk_mut::<8>() {
                    *s = sector.to_ne_bytes();
                    if let Some((nul, t)) = rest.split_last_mut() {
                        t.copy_from_slice(text);
                        *nul = 0;
                    }
                }
            }
        }
    }
}

/// The header fields of a request that its sender chooses: the device
/// (name, uuid, number), flags, event number and target count. The rest of
/// the header is zero but for what the ioctl itself sets (version,
/// `data_size`, `data_start`). Written straight into the ioctl buffer, so
/// no `struct dm_ioctl` is built elsewhere and copied in.
#[derive(Clone, Copy, Debug, Default)]
pub struct Head<'a> {
    /// `dev` (a device number, for requests by number).
    pub dev: u64,
    /// `flags`.
    pub flags: u32,
    /// `event_nr` (and the udev flags and cookie in its upper bits).
    pub event_nr: u32,
    /// `target_count`.
    pub target_count: u32,
    /// The name, checked to fit its field (see [`Head::set_name`]).
    name: &'a [u8],
    /// The uuid, checked to fit its field (see [`Head::set_uuid`]).
    uuid: &'a [u8],
}

impl<'a> Head<'a> {
    /// Set the name, after [`codec::put_fixed`]'s checks (shorter than the
    /// field, no NUL); `nul_free`: the caller knows it holds no NUL.
    #[inline]
    pub fn set_name(&mut self, name: &'a [u8], nul_free: bool) -> Result<(), EncodeError> {
        codec::check_fixed_known(DM_NAME_LEN, name, "name", nul_free)?;
        self.name = name;
        Ok(())
    }

    /// Set the uuid, checked like [`Head::set_name`].
    #[inline]
    pub fn set_uuid(&mut self, uuid: &'a [u8], nul_free: bool) -> Result<(), EncodeError> {
        codec::check_fixed_known(DM_UUID_LEN, uuid, "uuid", nul_free)?;
        self.uuid = uuid;
        Ok(())
    }

    /// The name (empty when unset).
    pub fn name(&self) -> &'a [u8] {
        self.name
    }

    /// The uuid (empty when unset).
    pub fn uuid(&self) -> &'a [u8] {
        self.uuid
    }

    /// Write the header into the first 312 bytes of `out`, with the given
    /// interface version and `data_size`, and `data_start` = 312. Every
    /// field is written; the name and the uuid up to their NUL only. The
    /// kernel reads each of those two as a string ending at its first NUL
    /// inside the field, so the bytes after it are never read: they keep
    /// what the buffer held (zeros, or a recycled buffer's bytes, which
    /// never include a secret: see [`Buffer`]). That spares zeroing 312
    /// bytes on every ioctl.
    #[inline]
    pub fn write(&self, out: &mut [u8], version: [u32; 3], data_size: u32) {
        let (fixed, rest) = out[..DATA_START].split_at_mut(NAME_AT);
        let mut f = [0u8; NAME_AT];
        let mut put = |at: usize, v: &[u8]| f[at..at + v.len()].copy_from_slice(v);
        put(0, &version[0].to_ne_bytes());
        put(4, &version[1].to_ne_bytes());
        put(8, &version[2].to_ne_bytes());
        put(12, &data_size.to_ne_bytes());
        put(16, &(DATA_START as u32).to_ne_bytes());
        put(20, &self.target_count.to_ne_bytes());
        // open_count (24) and padding (36) stay zero.
        put(28, &self.flags.to_ne_bytes());
        put(32, &self.event_nr.to_ne_bytes());
        put(40, &self.dev.to_ne_bytes());
        fixed.copy_from_slice(&f);
        // Both fit with their NUL (the setters checked).
        let (name, rest) = rest.split_at_mut(DM_NAME_LEN);
        let (uuid, data) = rest.split_at_mut(DM_UUID_LEN);
        put_str(name, self.name);
        put_str(uuid, self.uuid);
        // `data[7]`, the header's tail padding.
        data.fill(0);
    }

    /// The fields of `h` that a [`Head`] holds.
    pub fn from_header(h: &'a DmIoctl) -> Head<'a> {
        Head {
            dev: h.dev,
            flags: h.flags,
            event_nr: h.event_nr,
            target_count: h.target_count,
            name: codec::fixed_str(&h.name),
            uuid: codec::fixed_str(&h.uuid),
        }
    }

    /// The header as a `struct dm_ioctl` with the given version and sizes.
    pub fn header(&self, version: [u32; 3], data_size: u32) -> DmIoctl {
        let mut b = [0u8; DATA_START];
        self.write(&mut b, version, data_size);
        codec::read_header(&b).unwrap_or_default()
    }
}

/// Offset of the name in `struct dm_ioctl`: the fixed-size fields before it.
const NAME_AT: usize = 48;

/// `s` and its NUL at the start of `field` (which it fits with its NUL:
/// the setters of [`Head`] checked).
#[inline(always)]
fn put_str(field: &mut [u8], s: &[u8]) {
    if let Some((nul, text)) = field.get_mut(..=s.len()).and_then(|f| f.split_last_mut()) {
        text.copy_from_slice(s);
        *nul = 0;
    }
}

/// Room for the name and uuid of a [`Head`] copied with [`Head::copied`].
pub struct HeadNames {
    name: [u8; DM_NAME_LEN],
    uuid: [u8; DM_UUID_LEN],
}

impl HeadNames {
    /// Empty room.
    #[inline]
    pub fn new() -> HeadNames {
        HeadNames {
            name: [0; DM_NAME_LEN],
            uuid: [0; DM_UUID_LEN],
        }
    }
}

impl Default for HeadNames {
    fn default() -> Self {
        Self::new()
    }
}

impl Head<'_> {
    /// The same header, its name and uuid copied into `room` (so that it no
    /// longer borrows what this one does): exactly their bytes, without a
    /// `struct dm_ioctl` built and read back.
    #[inline]
    pub fn copied<'b>(&self, room: &'b mut HeadNames) -> Head<'b> {
        // Both are shorter than their fields (the setters checked).
        let (n, u) = (self.name.len(), self.uuid.len());
        room.name[..n].copy_from_slice(self.name);
        room.uuid[..u].copy_from_slice(self.uuid);
        Head {
            dev: self.dev,
            flags: self.flags,
            event_nr: self.event_nr,
            target_count: self.target_count,
            name: &room.name[..n],
            uuid: &room.uuid[..u],
        }
    }
}

/// What to send: the header fields (see [`Head`]) and a payload.
pub struct Request<'a> {
    /// The command.
    pub cmd: Command,
    /// The header to send (borrowed: the caller keeps its own, and the
    /// request is not a second copy of it).
    pub head: &'a Head<'a>,
    /// The payload.
    pub payload: Payload<'a>,
    /// Upper bound for buffer growth.
    pub cap: usize,
}

/// The control device of a [`Context`]: the file descriptor is opened
/// lazily, shared by all threads, and may be released.
pub(crate) struct Control {
    /// The open descriptor (opened and released under this lock).
    file: Mutex<Option<Arc<File>>>,
    /// `file`'s descriptor number while it is open, -1 otherwise: the
    /// ioctls take it without the lock (see [`InFlight`]).
    fast_fd: AtomicI32,
    /// How many ioctls may be using a descriptor read from `fast_fd`.
    in_flight: AtomicUsize,
    /// Descriptors released while ioctls were in flight: closed (dropped)
    /// once none is.
    retired: Mutex<Vec<Arc<File>>>,
    /// Whether `retired` holds anything (checked when an ioctl ends).
    retired_any: AtomicBool,
    /// The interface version once known (lock-free: read on every call).
    version: KnownVersion,
    hints: Hints,
    /// Sizes of big replies per device (see [`BigHints`]).
    big: Mutex<BigHints>,
    /// Whether `big` ever held a size (until then it is not consulted).
    big_used: AtomicBool,
}

/// An ioctl in flight on the control descriptor `fd` (see
/// [`Control::enter`]): while one lives, [`Control::release`] does not close
/// the descriptor that `fd` names.
///
/// Why that holds: an ioctl counts itself in `in_flight` before it reads
/// `fast_fd`; `release` withdraws the number from `fast_fd` before it
/// retires the descriptor, and a retired descriptor is closed only under
/// the `retired` lock after `in_flight` was seen to be zero (all SeqCst).
/// An ioctl that read the number is counted from before that read until
/// its guard drops, so it is seen; one that starts later reads -1 or a new
/// descriptor. The last ioctl to end closes what was retired meanwhile.
struct InFlight<'a> {
    control: &'a Control,
    fd: std::os::fd::RawFd,
}

impl Drop for InFlight<'_> {
    #[inline]
    fn drop(&mut self) {
        let c = self.control;
        if c.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 && c.retired_any.load(Ordering::SeqCst) {
            c.close_retired();
        }
    }
}

/// The driver's interface version, written once, read without a lock.
struct KnownVersion {
    set: AtomicBool,
    parts: [AtomicU32; 3],
}

impl KnownVersion {
    const fn new() -> KnownVersion {
        KnownVersion {
            set: AtomicBool::new(false),
            parts: [const { AtomicU32::new(0) }; 3],
        }
    }

    #[inline]
    fn get(&self) -> Option<[u32; 3]> {
        if !self.set.load(Ordering::Acquire) {
            return None;
        }
        Some([
            self.parts[0].load(Ordering::Relaxed),
            self.parts[1].load(Ordering::Relaxed),
            self.parts[2].load(Ordering::Relaxed),
        ])
    }

    fn set(&self, v: [u32; 3]) {
        if self.set.load(Ordering::Acquire) {
            return;
        }
        for (p, x) in self.parts.iter().zip(v) {
            p.store(x, Ordering::Relaxed);
        }
        self.set.store(true, Ordering::Release);
    }
}

/// Remembered sizes of replies above [`HINT_MAX`], per device and command:
/// reading a big table again costs one ioctl, while a small device's read
/// still starts small (libdevmapper's one growing buffer made every later
/// call big). A few entries, oldest replaced first; only sizes are kept,
/// never buffers.
struct BigHints {
    entries: [(u64, usize); 8],
    next: usize,
}

impl BigHints {
    const fn new() -> BigHints {
        BigHints {
            entries: [(0, 0); 8],
            next: 0,
        }
    }

    fn get(&self, key: u64) -> Option<usize> {
        self.entries
            .iter()
            .find(|(k, n)| *k == key && *n != 0)
            .map(|&(_, n)| n)
    }

    fn put(&mut self, key: u64, size: usize) {
        if let Some(e) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            e.1 = size;
            return;
        }
        self.entries[self.next] = (key, size);
        self.next = (self.next + 1) % self.entries.len();
    }
}

/// The device and command a request is about, as a hash (FNV-1a).
fn device_key(cmd: Command, h: &Head<'_>) -> u64 {
    let mut x: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for &c in b {
            x = (x ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(&[cmd as u8]);
    eat(h.name);
    eat(&[0]);
    eat(h.uuid);
    eat(&h.dev.to_le_bytes());
    eat(&h.flags.to_le_bytes());
    x | 1
}

impl Control {
    pub(crate) const fn new() -> Control {
        Control {
            file: Mutex::new(None),
            fast_fd: AtomicI32::new(-1),
            in_flight: AtomicUsize::new(0),
            retired: Mutex::new(Vec::new()),
            retired_any: AtomicBool::new(false),
            version: KnownVersion::new(),
            hints: Hints::new(),
            big: Mutex::new(BigHints::new()),
            big_used: AtomicBool::new(false),
        }
    }

    /// Open the control node if it is not open yet. The node is created
    /// (and its directory) when missing; nothing is logged under the lock.
    fn open(&self, ctx: &Context) -> Result<Arc<File>, IoctlError> {
        if let Some(f) = self.file.lock().as_ref() {
            return Ok(Arc::clone(f));
        }
        let path = ctx.control_path();
        let p = Path::new(OsStr::from_bytes(&path));
        ensure_control_node(ctx, p).map_err(|err| IoctlError::Open {
            path: path.clone(),
            err,
        })?;
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(p)
            .map_err(|err| IoctlError::Open { path, err })?;
        let mut g = self.file.lock();
        // Another thread may have opened it meanwhile: keep one descriptor.
        let f = g.get_or_insert_with(|| Arc::new(f));
        self.fast_fd.store(f.as_raw_fd(), Ordering::SeqCst);
        Ok(Arc::clone(f))
    }

    /// Mark an ioctl in flight on the open descriptor (opened now if it
    /// is not), without taking a lock: the descriptor is not closed until
    /// the returned guard is dropped.
    #[inline]
    fn enter(&self, ctx: &Context) -> Result<InFlight<'_>, IoctlError> {
        loop {
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            let g = InFlight {
                control: self,
                fd: self.fast_fd.load(Ordering::SeqCst),
            };
            if g.fd >= 0 {
                return Ok(g);
            }
            drop(g);
            // Not open (or released meanwhile): open it and look again.
            self.open(ctx)?;
        }
    }

    /// Close the retired descriptors if no ioctl is in flight.
    #[cold]
    #[inline(never)]
    fn close_retired(&self) {
        let old = {
            let mut r = self.retired.lock();
            if self.in_flight.load(Ordering::SeqCst) != 0 {
                // The last ioctl in flight closes them when it ends.
                return;
            }
            self.retired_any.store(false, Ordering::SeqCst);
            std::mem::take(&mut *r)
        };
        drop(old);
    }

    /// The open control descriptor (opened now if it is not), shared.
    pub(crate) fn file(&self, ctx: &Context) -> Result<Arc<File>, Error> {
        self.open(ctx).map_err(IoctlError::into_driver_error)
    }

    /// Whether the control node is currently open.
    pub(crate) fn is_open(&self) -> bool {
        self.file.lock().is_some()
    }

    /// Close the control node (`dm_lib_release`). In-flight calls on other
    /// threads keep their reference and finish normally.
    pub(crate) fn release(&self) {
        let Some(f) = ({
            let mut g = self.file.lock();
            let f = g.take();
            if f.is_some() {
                self.fast_fd.store(-1, Ordering::SeqCst);
            }
            f
        }) else {
            return;
        };
        // An ioctl that read the descriptor number before it was withdrawn
        // above may still be using it: it is closed once none is in flight
        // (by the last ioctl to end, or here). Ioctls that start from now on
        // cannot see it.
        let mut f = Some(f);
        {
            let mut r = self.retired.lock();
            if r.try_reserve(1).is_ok() {
                r.extend(f.take());
                self.retired_any.store(true, Ordering::SeqCst);
            }
        }
        if let Some(f) = f {
            // No memory to defer the close: wait for the ioctls in flight.
            while self.in_flight.load(Ordering::SeqCst) != 0 {
                std::thread::yield_now();
            }
            drop(f);
            return;
        }
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            self.close_retired();
        }
    }

    /// Whether [`Control::known_version`] is known (one load).
    #[inline]
    pub(crate) fn version_known(&self) -> bool {
        self.version.set.load(Ordering::Acquire)
    }

    /// The interface version if the handshake (or any reply) told it.
    #[inline]
    pub(crate) fn known_version(&self) -> Option<[u32; 3]> {
        self.version.get()
    }

    /// The kernel's interface version, from the one handshake per context.
    /// A failure carries libdm's lines about the driver.
    #[inline]
    pub(crate) fn driver_version(&self, ctx: &Context) -> Result<[u32; 3], Error> {
        match self.version.get() {
            Some(v) => Ok(v),
            None => self.handshake(ctx),
        }
    }

    /// The VERSION ioctl of [`Control::driver_version`].
    #[cold]
    #[inline(never)]
    fn handshake(&self, ctx: &Context) -> Result<[u32; 3], Error> {
        // libdm's version check is a task of its own, logged like any other.
        crate::log_debug!(
            ctx,
            "dm version   [ opencount flush ]   [{}] (*1)",
            DATA_START
        );
        let r = self
            .ioctl(
                ctx,
                &Request {
                    cmd: Command::Version,
                    head: &Head::default(),
                    payload: Payload::Bytes(&[]),
                    cap: DATA_START,
                },
            )
            .map_err(|e| e.into_driver_error())?;
        let v = r.header().version;
        self.version.set(v);
        Ok(v)
    }

    /// Forget the version (`dm_lib_exit`: the next call asks again).
    pub(crate) fn forget_version(&self) {
        self.version.set.store(false, Ordering::Release);
    }

    /// The dm ioctl on `buf`. A failure gives the errno, after noting the
    /// interface version the kernel writes back even then.
    ///
    /// # Safety
    /// `buf` must start with a `struct dm_ioctl` whose `data_size` is at
    /// most `buf.len()`: the kernel reads and writes up to `data_size` bytes.
    unsafe fn raw_ioctl(
        &self,
        file: &InFlight<'_>,
        cmd: Command,
        buf: &mut [u8],
    ) -> Result<(), IoctlError> {
        // SAFETY: the caller guarantees data_size <= buf.len(), so the kernel
        // stays inside it; the request number encodes struct dm_ioctl's size.
        // The descriptor stays open while `file` lives (see InFlight).
        let rc = unsafe { libc::ioctl(file.fd, cmd.request() as libc::c_ulong, buf.as_mut_ptr()) };
        if rc < 0 {
            let e = io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
            if let Ok(v) = codec::read_version(buf) {
                self.note_version(v);
            }
            return Err(IoctlError::Kernel(e));
        }
        Ok(())
    }

    /// Record a version seen in any reply (the kernel always writes its own).
    fn note_version(&self, v: [u32; 3]) {
        if v[0] == super::abi::DM_VERSION_MAJOR {
            self.version.set(v);
        }
    }

    /// Run one dm ioctl, growing the buffer on `DM_BUFFER_FULL_FLAG`. The
    /// reply is read in place (see [`Reply`]).
    pub(crate) fn ioctl(&self, ctx: &Context, req: &Request<'_>) -> Result<Reply, IoctlError> {
        let file = self.enter(ctx)?;
        let plen = req.payload.len();
        let base = DATA_START + plen;
        let cap = req.cap.max(base);
        let output = req.cmd.has_output();
        // Big replies are remembered per device; hash the device only when
        // there is something remembered.
        let key = if output && self.big_used.load(Ordering::Relaxed) {
            device_key(req.cmd, req.head)
        } else {
            0
        };
        let mut size = if output {
            let hint = self.hints.first_size(req.cmd);
            let hint = match (key != 0).then(|| self.big.lock().get(key)).flatten() {
                Some(n) => n.max(hint),
                None => hint,
            };
            base.max(hint.min(cap))
        } else {
            base
        };
        let keys = may_hold_keys(req, plen);
        let mut r = Reply::with_len(size).ok_or(IoctlError::NoMemory(size))?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            r.attempts = attempts;
            let len = r.buf.len();
            let data_size =
                u32::try_from(len).map_err(|_| IoctlError::TooLarge { needed: size, cap })?;
            {
                let b = r.buf.as_bytes_mut();
                req.head.write(b, req.cmd.min_version(), data_size);
                req.payload.write(&mut b[DATA_START..base]);
            }
            r.buf.mark_dirty(base);
            if !keys {
                r.buf.mark_public();
            }
            // SAFETY: the header just written says data_size == buf.len(),
            // and the buffer is at least DATA_START bytes.
            unsafe { self.raw_ioctl(&file, req.cmd, r.buf.as_bytes_mut()) }?;
            if let Err(e) = codec::check_reply_header(r.buf.as_bytes()) {
                // The kernel wrote a reply, but where it ends is not known:
                // the whole buffer is wiped (if secret) before it is reused.
                r.buf.mark_dirty(len);
                return Err(IoctlError::Decode(e));
            }
            let h = r.header();
            let used = h.data_size as usize;
            let version = h.version;
            let full = DmFlags::from_bits_retain(h.flags).contains(DmFlags::BUFFER_FULL);
            r.buf.mark_dirty(used);
            self.note_version(version);
            if full && output {
                let next = next_size(req.cmd, size, r.header(), r.buf.as_bytes());
                if next > cap {
                    // One last try at the cap before giving up.
                    if size < cap {
                        size = cap;
                    } else {
                        return Err(IoctlError::TooLarge { needed: next, cap });
                    }
                } else {
                    size = next;
                }
                r.buf.reset(size).ok_or(IoctlError::NoMemory(size))?;
                continue;
            }
            if used > len {
                return Err(IoctlError::Decode(DecodeError(
                    "data_size larger than the buffer",
                )));
            }
            if output {
                self.hints.learn(req.cmd, size, used, attempts);
                if size > HINT_MAX {
                    // Keep the size that fitted; forget it once the device's
                    // replies have shrunk to a quarter.
                    let keep = if attempts == 1 && used.saturating_mul(4) < size {
                        0
                    } else {
                        size
                    };
                    let key = if key != 0 {
                        key
                    } else {
                        device_key(req.cmd, req.head)
                    };
                    self.big.lock().put(key, keep);
                    if keep != 0 {
                        self.big_used.store(true, Ordering::Relaxed);
                    }
                }
            }
            return Ok(r);
        }
    }
}

impl Control {
    /// Run a command without output whose request is already encoded in
    /// `table` after [`DATA_START`] bytes of room for the header (a table
    /// load): the header is written in front and the kernel reads the
    /// request where it was built, without a copy. The kernel writes back
    /// only the reply's `data_size` bytes, the header: the reply is that
    /// header (a reply claiming more is refused), and the table stays as it
    /// was encoded.
    pub(crate) fn ioctl_in_place(
        &self,
        ctx: &Context,
        cmd: Command,
        head: &Head<'_>,
        table: &mut TableBuf,
    ) -> Result<Reply, IoctlError> {
        let file = self.enter(ctx)?;
        let len = table.len();
        if len < DATA_START || cmd.has_output() {
            return Err(IoctlError::Decode(DecodeError("no room for the header")));
        }
        let data_size = u32::try_from(len).map_err(|_| IoctlError::TooLarge {
            needed: len,
            cap: len,
        })?;
        let b = table.as_bytes_mut();
        head.write(b, cmd.min_version(), data_size);
        // SAFETY: the header just written says data_size == b.len(), and
        // the table holds at least DATA_START bytes.
        unsafe { self.raw_ioctl(&file, cmd, b) }?;
        // The reply is the header: from_bytes checks it as any reply's
        // (NUL-terminated name and uuid, data_size within the header).
        let r = Reply::from_bytes(&table.as_bytes()[..DATA_START]).map_err(IoctlError::Decode)?;
        self.note_version(r.header().version);
        Ok(r)
    }
}

/// Whether a request or its reply may carry key material: anything with a
/// payload (tables, messages), table reads, message responses. Status
/// lines, device lists, dependencies and versions never do.
fn may_hold_keys(req: &Request<'_>, payload_len: usize) -> bool {
    payload_len > 0
        || matches!(req.cmd, Command::TargetMsg | Command::TableLoad)
        || req.head.flags & DmFlags::STATUS_TABLE.bits() != 0
}

/// The buffer size to retry with after a reply of `size` bytes came back
/// with `DM_BUFFER_FULL_FLAG`, so that a reply of any size costs about two
/// kernel renderings instead of one per doubling:
///
/// * LIST_DEVICES, LIST_VERSIONS, GET_TARGET_VERSION, TABLE_DEPS and
///   TARGET_MSG replies say exactly how much they need in `data_size`;
/// * TABLE_STATUS and DEV_WAIT say how many targets there are
///   (`target_count`) and how many bytes the ones that fitted took
///   (`data_size`): the rest is estimated from those, with a margin;
/// * otherwise (nothing fitted, or a nonsensical answer) the size doubles.
fn next_size(cmd: Command, size: usize, h: &DmIoctl, buf: &[u8]) -> usize {
    let doubled = size.saturating_mul(2);
    let used = h.data_size as usize;
    let round = |n: usize| n.saturating_add(7) & !7;
    let grown = |n: usize| if n > size { round(n) } else { doubled };
    match cmd {
        Command::ListDevices
        | Command::ListVersions
        | Command::GetTargetVersion
        | Command::TableDeps
        | Command::TargetMsg => grown(used),
        Command::TableStatus | Command::DevWait => {
            let total = h.target_count as usize;
            let fitted = fitted_specs(buf, h.data_start as usize, used);
            if fitted == 0 || total <= fitted || used <= DATA_START {
                return doubled;
            }
            let per = (used - DATA_START).div_ceil(fitted);
            // 1/8 margin (later targets may print longer lines) + a page.
            let estimate = DATA_START
                .saturating_add(per.saturating_mul(total))
                .saturating_add(per.saturating_mul(total) / 8)
                .saturating_add(4096);
            grown(estimate)
        }
        _ => doubled,
    }
}

/// How many target specs of a full TABLE_STATUS reply lie complete within
/// `used` bytes (each linked to the next by its `next` offset).
fn fitted_specs(buf: &[u8], data_start: usize, used: usize) -> usize {
    let end = used.min(buf.len());
    let mut off = data_start;
    let mut n = 0;
    while off + std::mem::size_of::<super::abi::DmTargetSpec>() < end {
        n += 1;
        let next =
            buf.get(off + 20..off + 24)
                .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]])) as usize;
        if next == 0 {
            break;
        }
        off = data_start.saturating_add(next);
    }
    n
}

/// Make sure `path` is the dm control node (char 10:236), creating the
/// directory and the node when missing, as libdevmapper does.
fn ensure_control_node(ctx: &Context, path: &Path) -> io::Result<()> {
    let want = libc::makedev(DM_CONTROL_MAJOR, DM_CONTROL_MINOR);
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_char_device() && m.rdev() == want => return Ok(()),
        Ok(_) => {
            crate::log_verbose!(ctx, "{}: not a control device, removing it", path.display());
            std::fs::remove_file(path)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        // libdm makes the device directory under umask 0022 (0755).
        if !dir.as_os_str().is_empty() && !crate::nodes::create_dir(ctx, dir, Some(0o755)) {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
    }
    crate::log_verbose!(
        ctx,
        "Creating device {} ({DM_CONTROL_MAJOR}, {DM_CONTROL_MINOR})",
        path.display()
    );
    mknod_char(path, 0o600, want)?;
    Ok(())
}

fn mknod_char(path: &Path, mode: u32, dev: libc::dev_t) -> io::Result<()> {
    match super::sys::mknod(path, libc::S_IFCHR | mode, dev) {
        Ok(()) | Err(libc::EEXIST) => {}
        Err(e) => return Err(io::Error::from_raw_os_error(e)),
    }
    // mknod honours the umask; make the mode exact like libdm's umask 0177.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A control whose descriptor (here /dev/null) is open, and a handle on it.
    fn opened() -> (Control, Arc<File>) {
        let c = Control::new();
        let f = Arc::new(File::open("/dev/null").unwrap());
        *c.file.lock() = Some(Arc::clone(&f));
        c.fast_fd.store(f.as_raw_fd(), Ordering::SeqCst);
        (c, f)
    }

    #[test]
    fn release_closes_the_descriptor_only_once_no_ioctl_uses_it() {
        let ctx = Context::new();
        // Nothing in flight: closed at once.
        let (c, f) = opened();
        c.release();
        assert_eq!(Arc::strong_count(&f), 1);
        assert!(!c.is_open() && c.retired.lock().is_empty());
        // Two in flight: kept until the last ends, which closes it.
        let (c, f) = opened();
        let a = c.enter(&ctx).unwrap();
        let b = c.enter(&ctx).unwrap();
        assert_eq!((a.fd, b.fd), (f.as_raw_fd(), f.as_raw_fd()));
        c.release();
        assert!(!c.is_open());
        assert_eq!(c.fast_fd.load(Ordering::SeqCst), -1);
        assert_eq!(Arc::strong_count(&f), 2);
        drop(a);
        assert_eq!(Arc::strong_count(&f), 2);
        drop(b);
        assert_eq!(Arc::strong_count(&f), 1);
        assert!(c.retired.lock().is_empty());
        assert!(!c.retired_any.load(Ordering::SeqCst));
        assert_eq!(c.in_flight.load(Ordering::SeqCst), 0);
        // A second release has nothing to close.
        c.release();
        assert!(c.retired.lock().is_empty());
    }

    #[test]
    fn ioctls_in_flight_on_other_threads_keep_the_descriptor_open() {
        let ctx = Context::new();
        let (c, f) = opened();
        let c = &c;
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|s| {
            let t = s.spawn(move || {
                let g = c.enter(&ctx).unwrap();
                entered_tx.send(g.fd).unwrap();
                go_rx.recv().unwrap();
                // Still the same open file: fcntl on the number works.
                // SAFETY: F_GETFD reads the descriptor's flags only; g.fd
                // stays open while g lives.
                let rc = unsafe { libc::fcntl(g.fd, libc::F_GETFD) };
                assert!(rc >= 0);
                drop(g);
            });
            assert_eq!(entered_rx.recv().unwrap(), f.as_raw_fd());
            c.release();
            assert_eq!(Arc::strong_count(&f), 2);
            go_tx.send(()).unwrap();
            t.join().unwrap();
        });
        assert_eq!(Arc::strong_count(&f), 1);
    }

    #[test]
    fn table_buf_grows_keeps_its_bytes_and_zeros_past_its_length() {
        let mut b = TableBuf::new();
        assert!(b.is_empty());
        let mut want = Vec::new();
        let mut i = 0u32;
        // From the heap into a mapping and through a few mremaps.
        while b.len() < 5 * TABLE_MAP_MIN {
            let n = 1 + (i as usize * 7) % 61;
            let chunk = b.try_extend_zeroed(n).unwrap();
            assert!(chunk.iter().all(|&c| c == 0));
            for (k, c) in chunk.iter_mut().enumerate() {
                *c = (i as usize + k) as u8 | 1;
            }
            want.extend_from_slice(chunk);
            assert_eq!(b.as_bytes(), &want[..]);
            i += 1;
        }
        // Truncation wipes: what is appended again reads as zeros.
        let keep = b.len() / 3;
        b.truncate(keep);
        want.truncate(keep);
        assert_eq!(b.as_bytes(), &want[..]);
        let again = b.try_extend_zeroed(4096).unwrap();
        assert!(again.iter().all(|&c| c == 0));
        b.clear();
        assert!(b.is_empty());
        assert!(b.try_extend_zeroed(usize::MAX).is_none());
        assert!(b.is_empty());
    }

    #[test]
    fn a_spare_slot_keeps_one_value_and_drops_the_rest() {
        use std::sync::atomic::AtomicUsize;
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Counted(u32);
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::Relaxed);
            }
        }
        let slot = Spare::<Counted>::new();
        assert!(slot.take().is_none());
        slot.give(Box::new(Counted(1)));
        // The slot is full: the second value is dropped, the first kept.
        slot.give(Box::new(Counted(2)));
        assert_eq!(DROPS.load(Ordering::Relaxed), 1);
        let b = slot.take().unwrap();
        assert_eq!(b.0, 1);
        assert!(slot.take().is_none());
        slot.give(b);
        // A slot dropped with a value in it drops the value.
        drop(slot);
        assert_eq!(DROPS.load(Ordering::Relaxed), 2);
        // Many threads giving and taking: every value made is either kept
        // (at most one, in the slot) or dropped, exactly once.
        static MADE: AtomicUsize = AtomicUsize::new(0);
        DROPS.store(0, Ordering::Relaxed);
        let slot = Spare::<Counted>::new();
        std::thread::scope(|s| {
            for t in 0..4 {
                let slot = &slot;
                s.spawn(move || {
                    for i in 0..1000 {
                        match slot.take() {
                            Some(b) => slot.give(b),
                            None => {
                                MADE.fetch_add(1, Ordering::Relaxed);
                                slot.give(Box::new(Counted(t * 1000 + i)));
                            }
                        }
                    }
                });
            }
        });
        let kept = slot.take();
        let live = MADE.load(Ordering::Relaxed) - DROPS.load(Ordering::Relaxed);
        assert_eq!(live, usize::from(kept.is_some()));
        assert!(kept.is_some(), "the last give found the slot empty");
    }

    #[test]
    fn table_buf_first_blocks_are_zero_whether_new_or_kept() {
        // A block let go with data anywhere in it comes back (as the
        // spare, unless another thread took that) all zero.
        let mut v = zeroed_block(TABLE_FIRST).unwrap();
        v.fill(0xa5);
        retire_block(v, 10);
        let v = zeroed_block(TABLE_FIRST).unwrap();
        assert_eq!((v.len(), v.capacity()), (TABLE_FIRST, TABLE_FIRST));
        assert!(v.iter().all(|&c| c == 0));
        retire_block(v, 0);
        for round in 0..6 {
            let mut b = TableBuf::new();
            assert!(!b.start(TABLE_FIRST + 1));
            assert!(b.start(DATA_START));
            // Only a buffer without storage is started.
            assert!(!b.start(DATA_START));
            assert_eq!((b.len(), b.capacity()), (DATA_START, TABLE_FIRST));
            assert!(b.as_bytes().iter().all(|&c| c == 0));
            let mut spare = 0;
            b.append_within(1, |room| {
                assert!(room.iter().all(|&c| c == 0));
                spare = room.len();
                0
            });
            assert_eq!(spare, TABLE_FIRST - DATA_START);
            b.as_bytes_mut().fill(0x5a);
            b.try_extend_zeroed(100).unwrap().fill(0xa5);
            match round % 3 {
                0 => drop(b),
                1 => {
                    b.clear();
                    assert!(b.is_empty() && b.as_bytes().is_empty());
                    assert!(b.start(8));
                    assert!(b.as_bytes().iter().all(|&c| c == 0));
                }
                _ => {
                    // Outgrown: the bytes move, the old block is let go.
                    b.try_extend_zeroed(TABLE_FIRST).unwrap();
                    assert!(b.as_bytes()[..DATA_START].iter().all(|&c| c == 0x5a));
                    assert!(b.as_bytes()[DATA_START..DATA_START + 100]
                        .iter()
                        .all(|&c| c == 0xa5));
                    assert!(b.as_bytes()[DATA_START + 100..].iter().all(|&c| c == 0));
                }
            }
        }
    }

    /// The `VmFlags` line of the mapping of /proc/self/smaps holding `addr`.
    fn vm_flags_at(addr: usize) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split(' ').next().unwrap_or("");
            if let Some((lo, hi)) = range.split_once('-') {
                if let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                {
                    inside = (lo..hi).contains(&addr);
                    continue;
                }
            }
            if inside {
                if let Some(f) = line.strip_prefix("VmFlags:") {
                    return f.to_string();
                }
            }
        }
        panic!("no mapping holds {addr:#x}");
    }

    #[test]
    fn table_buf_mapping_has_no_huge_pages_through_growth() {
        let mut b = TableBuf::new();
        // Into a mapping, then through mremaps to several MiB.
        let mut n = 1024;
        while b.len() < 6 << 20 {
            b.try_extend_zeroed(n).unwrap();
            n = b.len();
            let at = b.as_bytes().as_ptr() as usize;
            if b.len() > TABLE_MAP_MIN {
                let flags = vm_flags_at(at);
                assert!(flags.split_whitespace().any(|f| f == "nh"), "{flags}");
            }
        }
    }

    #[test]
    fn head_is_written_over_stale_bytes() {
        let mut h = Head {
            dev: 0x1234,
            flags: 7,
            event_nr: 9,
            target_count: 2,
            ..Head::default()
        };
        h.set_name(b"vg-lv", true).unwrap();
        h.set_uuid(b"LVM-x", false).unwrap();
        let mut b = [0xa5u8; DATA_START + 8];
        h.write(&mut b, [4, 47, 0], 400);
        let d = codec::read_header(&b).unwrap();
        assert_eq!(d.version, [4, 47, 0]);
        assert_eq!((d.data_size, d.data_start), (400, DATA_START as u32));
        assert_eq!(
            (d.dev, d.flags, d.event_nr, d.target_count),
            (0x1234, 7, 9, 2)
        );
        assert_eq!((d.open_count, d.padding, d.data), (0, 0, [0; 7]));
        assert_eq!(codec::fixed_str(&d.name), b"vg-lv");
        assert_eq!(d.name[5], 0);
        assert_eq!(codec::fixed_str(&d.uuid), b"LVM-x");
        assert_eq!(d.uuid[5], 0);
        // Past the NULs, nothing the kernel reads: left as they were.
        assert!(d.name[6..].iter().chain(&d.uuid[6..]).all(|&c| c == 0xa5));
        assert_eq!(&b[DATA_START..], &[0xa5; 8]);
        assert_eq!(Head::from_header(&d).name(), b"vg-lv");
        // The setters refuse what put_fixed refuses, with its errors.
        let long = [b'a'; DM_NAME_LEN];
        assert_eq!(
            h.set_name(&long, true),
            Err(EncodeError::NameTooLong(DM_NAME_LEN))
        );
        assert_eq!(
            h.set_name(b"a\0b", false),
            Err(EncodeError::EmbeddedNul("name"))
        );
        assert_eq!(
            h.set_uuid(b"u\0", false),
            Err(EncodeError::EmbeddedNul("uuid"))
        );
        assert_eq!(
            h.set_uuid(&[b'u'; DM_UUID_LEN], false),
            Err(EncodeError::UuidTooLong(DM_UUID_LEN))
        );
        // Refused values leave the header as it was.
        assert_eq!((h.name(), h.uuid()), (&b"vg-lv"[..], &b"LVM-x"[..]));
    }

    /// Calls `f` with a header of each name/uuid shape (short, empty,
    /// name only, longest), and its name and uuid.
    fn for_each_sample_head(mut f: impl FnMut(&Head<'_>, &[u8], &[u8])) {
        let longest_name = [b'n'; DM_NAME_LEN - 1];
        let longest_uuid = [b'u'; DM_UUID_LEN - 1];
        let names: [(&[u8], &[u8]); 4] = [
            (b"vg-lv", b"LVM-x"),
            (b"", b""),
            (b"only-a-name", b""),
            (&longest_name, &longest_uuid),
        ];
        for (name, uuid) in names {
            let mut h = Head {
                dev: 0xfd00_0003,
                flags: 0x4_0005,
                event_nr: 0x0e00_0001,
                target_count: 3,
                ..Head::default()
            };
            h.set_name(name, false).unwrap();
            h.set_uuid(uuid, false).unwrap();
            f(&h, name, uuid);
        }
    }

    #[test]
    fn a_header_written_over_stale_bytes_reads_back_the_same() {
        for_each_sample_head(|h, name, uuid| {
            // A recycled buffer: every byte stale.
            let mut stale = [0xa5u8; DATA_START + 8];
            h.write(&mut stale, [4, 47, 0], 4096);
            let mut fresh = [0u8; DATA_START];
            h.write(&mut fresh, [4, 47, 0], 4096);
            // Every field the kernel reads is the same: the fixed fields,
            // the name and the uuid up to and with their NUL, the padding.
            assert_eq!(stale[..NAME_AT], fresh[..NAME_AT]);
            assert_eq!(
                stale[NAME_AT..=NAME_AT + name.len()],
                fresh[NAME_AT..=NAME_AT + name.len()]
            );
            let u = NAME_AT + DM_NAME_LEN;
            assert_eq!(stale[u..=u + uuid.len()], fresh[u..=u + uuid.len()]);
            assert_eq!(stale[u + DM_UUID_LEN..DATA_START], [0; 7]);
            // Nothing past the header is touched.
            assert_eq!(stale[DATA_START..], [0xa5; 8]);
            let (a, b) = (
                codec::read_header(&stale).unwrap(),
                codec::read_header(&fresh).unwrap(),
            );
            assert_eq!(
                (a.version, a.data_size, a.data_start),
                (b.version, b.data_size, b.data_start)
            );
            assert_eq!(
                (a.dev, a.flags, a.event_nr, a.target_count),
                (b.dev, b.flags, b.event_nr, b.target_count)
            );
            assert_eq!((a.open_count, a.padding), (0, 0));
            assert_eq!(codec::fixed_str(&a.name), name);
            assert_eq!(codec::fixed_str(&a.uuid), uuid);
        });
    }

    #[test]
    fn a_copied_head_writes_the_same_header() {
        for_each_sample_head(|h, name, uuid| {
            let mut room = HeadNames::new();
            let c = h.copied(&mut room);
            assert_eq!((c.name(), c.uuid()), (name, uuid));
            // Written over the same stale bytes, both give the same 312.
            let (mut a, mut b) = ([0xa5u8; DATA_START], [0xa5u8; DATA_START]);
            h.write(&mut a, [4, 47, 0], 512);
            c.write(&mut b, [4, 47, 0], 512);
            assert_eq!(a, b);
        });
    }

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
        let h = Hints::new();
        let c = Command::TableDeps;
        assert_eq!(h.first_size(c), 2048);
        h.learn(c, 32 << 10, 20 << 10, 5);
        assert_eq!(h.first_size(c), 32 << 10);
        // small replies halve it back towards the minimum
        for _ in 0..10 {
            let s = h.first_size(c);
            h.learn(c, s, 400, 1);
        }
        assert_eq!(h.first_size(c), 2048);
        // huge replies are not remembered beyond the cap
        h.learn(c, 64 << 20, 60 << 20, 15);
        assert_eq!(h.first_size(c), HINT_MAX);
    }

    #[test]
    fn full_replies_are_resized_from_what_the_kernel_says() {
        let mut h = DmIoctl {
            data_start: DATA_START as u32,
            ..DmIoctl::default()
        };
        // LIST_DEVICES: data_size is what is needed.
        h.data_size = 100_000;
        assert_eq!(next_size(Command::ListDevices, 8192, &h, &[]), 100_000);
        // An answer no bigger than the buffer: double.
        h.data_size = 100;
        assert_eq!(next_size(Command::ListDevices, 8192, &h, &[]), 16384);
        // TABLE_STATUS: 3 of 10 000 targets fitted in 3 * 64 bytes.
        let mut buf = vec![0u8; 4096];
        for i in 0..3usize {
            let off = DATA_START + i * 64;
            let next = ((i + 1) * 64) as u32;
            buf[off + 20..off + 24].copy_from_slice(&next.to_ne_bytes());
        }
        h.target_count = 10_000;
        h.data_size = (DATA_START + 3 * 64) as u32;
        let n = next_size(Command::TableStatus, 4096, &h, &buf);
        assert!(n >= DATA_START + 10_000 * 64, "{n}");
        assert!(n <= DATA_START + 10_000 * 64 * 2, "{n}");
        assert_eq!(n % 8, 0);
        // Nothing fitted: double.
        h.data_size = DATA_START as u32;
        assert_eq!(next_size(Command::TableStatus, 4096, &h, &buf), 8192);
    }

    #[test]
    fn output_commands_start_small() {
        assert_eq!(initial_output_size(Command::TableStatus), 2048);
        assert!(initial_output_size(Command::ListDevices) <= 16 << 10);
    }
}
