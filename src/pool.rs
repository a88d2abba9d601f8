//! `dm_pool_*`: libdevmapper's pool allocator, with the semantics of stock's
//! release build (`libdm/mm/pool.c` + `pool-fast.c` of 1.02.185).
//!
//! A pool hands out memory from chunks obtained from libc `malloc` (through
//! the same 50,000,000-byte ceiling as `dm_malloc`). Each chunk starts with a
//! 24-byte header (`begin`, `end`, `prev`) followed by the memory handed out;
//! allocations bump `begin`. The layout, the alignment rule (stock's
//! `_align_chunk` always advances: an aligned `begin` moves by a whole
//! alignment step), the chunk sizes (a power of two of at least 1024 bytes,
//! or what one request needs) and the one-entry spare chunk are stock's, so
//! allocation patterns and distances between allocations are the same.
//!
//! * `dm_pool_free(p, ptr)` frees `ptr` and everything allocated after it;
//!   chunks left empty are released (one is kept as the spare).
//! * Objects (`begin`/`grow`/`end`/`abandon`): one object at a time; growing
//!   past the chunk copies the object into a new chunk; `begin_object`
//!   simply restarts (an unfinished object is dropped); plain allocations
//!   during an object return the object's own start, as in stock.
//! * `dm_pool_lock`/`unlock`: stock's release build does not `mprotect`
//!   (that needs `DEBUG_ENFORCE_POOL_LOCKING`); locking is a flag plus,
//!   when asked, a checksum of the pool's chunks that `unlock` compares to
//!   detect writes made while locked. Allocation is not refused while locked.
//! * Memory is not wiped on free or destroy. New chunks are zero-filled
//!   (calloc) so that the lock checksum never reads uninitialised memory.
//! * Allocation failure returns NULL (0 for the object calls) after stock's
//!   lines ("Huge memory allocation ..." above 50,000,000 bytes, then
//!   "Out of memory.  Requested N bytes."); nothing aborts.
//! * Every pool is registered so that [`check_leaks`] (run by `dm_lib_exit`
//!   in stock) can list the pools never destroyed.
//! * A pool is not thread-safe (like stock): one thread uses it at a time.
//!
//! Where stock is not reproduced (inputs on which it corrupts memory, hangs
//! or crashes):
//! - sizes of 2^31 bytes or more are compared as sizes (stock casts them to
//!   `int`, making huge requests "fit" in the current chunk);
//! - `dm_pool_free` with a pointer outside every chunk (or inside a chunk's
//!   header) logs stock's internal error and changes nothing (stock walks
//!   and releases chunks and leaves the pool pointing at freed memory);
//! - alignment 0 is refused (stock moves `begin` backwards);
//! - a `chunk_hint` whose rounded size does not fit in `size_t` is refused
//!   (stock loops forever);
//! - NULL pools and strings are refused with an internal error;
//!   `dm_pool_grow_object` without a chunk starts the object as
//!   `dm_pool_begin_object(p, 0)` would; `dm_pool_end_object` without a
//!   chunk returns NULL;
//! - the pool keeps a copy of its name (stock keeps the caller's pointer).

use crate::ffi::{guard, handle, handle_mut, opt_bytes};
use crate::CTX;
use devmapper::log::{Level, Record};
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::mem::size_of;
use std::ptr::null_mut;
use std::sync::Mutex;

/// Stock's `DEFAULT_ALIGNMENT`: `__alignof__(double)`.
const DEFAULT_ALIGNMENT: usize = 8;
/// Smallest chunk size.
const MIN_CHUNK_SIZE: usize = 1024;
/// `sizeof(struct dm_pool)` in stock (the size its creation failure names).
const STOCK_POOL_SIZE: usize = 72;
/// libdm's `LOG_CLASS_MEM`, the class of its pool debug lines.
const LOG_CLASS_MEM: i32 = 1;

/// The header at the start of every chunk (stock's `struct chunk`).
#[repr(C)]
struct Chunk {
    begin: *mut u8,
    end: *mut u8,
    prev: *mut Chunk,
}

const CHUNK_HDR: usize = size_of::<Chunk>();
const _: () = assert!(CHUNK_HDR == 24);

/// The opaque `struct dm_pool`.
pub struct dm_pool {
    /// Newest chunk (allocations come from it); chunks link to older ones.
    chunk: *mut Chunk,
    /// One released chunk kept for reuse.
    spare: *mut Chunk,
    /// The name given at creation (`None`: NULL).
    name: Option<Vec<u8>>,
    chunk_size: usize,
    object_len: usize,
    object_alignment: usize,
    locked: bool,
    crc: i64,
}

// ---------------------------------------------------------------- logging

extern "C" {
    fn dmrs_log_emit(
        level: c_int,
        file: *const c_char,
        line: c_int,
        dm_errno_or_class: c_int,
        msg: *const c_char,
    );
}

/// Log one line given as bytes through the library's context.
///
/// UTF-8 text goes through `CTX`'s logger ([`Record`]); bytes that are not
/// UTF-8 (a report line showing a name with such bytes) cannot be carried by
/// a `Record`'s `fmt::Arguments`, so they go unchanged to the C log
/// callback, the C library's only logger. A NUL byte ends the line as it
/// would in C.
pub(crate) fn log_bytes(level: Level, stderr: bool, class: i32, msg: &[u8]) {
    if !CTX.log_enabled(level) {
        return;
    }
    let msg = match msg.iter().position(|&b| b == 0) {
        Some(n) => &msg[..n],
        None => msg,
    };
    match std::str::from_utf8(msg) {
        Ok(text) => CTX.log_record(&Record {
            level,
            stderr,
            class,
            file: file!(),
            line: line!(),
            args: format_args!("{text}"),
        }),
        Err(_) => {
            let mut buf = Vec::new();
            if buf.try_reserve_exact(msg.len() + 1).is_err() {
                return;
            }
            buf.extend_from_slice(msg);
            buf.push(0);
            let raw = level as c_int
                | if stderr {
                    devmapper::log::LOG_STDERR
                } else {
                    0
                };
            // SAFETY: both strings are NUL-terminated and outlive the call;
            // the shim forwards them to the installed C callback.
            unsafe {
                dmrs_log_emit(
                    raw,
                    c"src/pool.rs".as_ptr(),
                    line!() as c_int,
                    class,
                    buf.as_ptr().cast(),
                )
            };
        }
    }
}

/// `log_error` of a message made of bytes.
pub(crate) fn log_error_bytes(msg: &[u8]) {
    log_bytes(Level::Error, false, devmapper::log::EUNCLASSIFIED, msg);
}

/// A pool name as stock's `%s` prints it.
fn name_of(name: &Option<Vec<u8>>) -> &[u8] {
    name.as_deref().unwrap_or(b"(null)")
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// ---------------------------------------------------------------- registry

/// Live pools, in creation order, with their names (stock's `_dm_pools`).
static POOLS: Mutex<Vec<(usize, Option<Vec<u8>>)>> = Mutex::new(Vec::new());

fn register(p: *const dm_pool, name: &Option<Vec<u8>>) {
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let copy = match name {
        Some(n) => {
            let mut v = Vec::new();
            if v.try_reserve_exact(n.len()).is_err() {
                return;
            }
            v.extend_from_slice(n);
            Some(v)
        }
        None => None,
    };
    if pools.try_reserve(1).is_ok() {
        pools.push((p as usize, copy));
    }
}

fn unregister(p: *const dm_pool) {
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = pools.iter().rposition(|(a, _)| *a == p as usize) {
        pools.remove(i);
    }
}

/// `dm_pools_check_leaks`: list the pools never destroyed. Stock runs it
/// from `dm_lib_exit` (the library destructor).
pub(crate) fn check_leaks() {
    let pools: Vec<(usize, Option<Vec<u8>>)> = {
        let guard = POOLS.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_empty() {
            return;
        }
        guard.iter().map(|(a, n)| (*a, n.clone())).collect()
    };
    devmapper::log_error!(&CTX, "You have a memory leak (not released memory pool):");
    for (addr, name) in &pools {
        let line = cat(&[
            format!(" [{:p}] ", *addr as *const u8).as_bytes(),
            name_of(name),
        ]);
        log_error_bytes(&line);
    }
    devmapper::log_error!(&CTX, "Internal error: Unreleased memory pool(s) found.");
}

// ---------------------------------------------------------------- chunks

/// Stock's `_align_chunk`: advance `begin` by `alignment - (begin & (alignment - 1))`
/// (between 1 and `alignment` bytes; `alignment` is not 0).
///
/// # Safety
/// `c` is a live chunk.
unsafe fn align_chunk(c: *mut Chunk, alignment: usize) {
    // SAFETY: `c` is a live chunk header (caller).
    let c = unsafe { &mut *c };
    let addr = c.begin as usize;
    let step = alignment - (addr & (alignment - 1));
    c.begin = c.begin.wrapping_add(step);
}

/// Free bytes of a chunk after `used` bytes from `begin` (stock's
/// `c->end - (c->begin + used)`); `None` when that is negative (`begin`
/// can pass `end` by an alignment step).
///
/// # Safety
/// `c` is a live chunk.
unsafe fn room(c: *const Chunk, used: usize) -> Option<usize> {
    // SAFETY: `c` is a live chunk header (caller).
    let c = unsafe { &*c };
    (c.end as usize).checked_sub((c.begin as usize).checked_add(used)?)
}

/// Where the memory of chunk `c` starts.
fn data_start(c: *mut Chunk) -> *mut u8 {
    c.cast::<u8>().wrapping_add(CHUNK_HDR)
}

impl dm_pool {
    /// Stock's `_new_chunk`: the spare chunk when it has room for `s` bytes,
    /// else a new one of `s` bytes; it becomes the current chunk.
    fn new_chunk(&mut self, s: usize) -> *mut Chunk {
        // SAFETY: a non-NULL spare is a live chunk owned by this pool.
        let c = if !self.spare.is_null() && unsafe { room(self.spare, 0) }.is_some_and(|r| r >= s) {
            std::mem::replace(&mut self.spare, null_mut())
        } else {
            let c = crate::mem::dm_zalloc_wrapper(s, c"pool".as_ptr(), 0).cast::<Chunk>();
            if c.is_null() {
                devmapper::log_error!(&CTX, "Out of memory.  Requested {s} bytes.");
                return null_mut();
            }
            // SAFETY: `c` points to `s` >= CHUNK_HDR zeroed bytes from
            // calloc, suitably aligned for the header.
            unsafe {
                c.write(Chunk {
                    begin: data_start(c),
                    end: c.cast::<u8>().wrapping_add(s),
                    prev: null_mut(),
                })
            };
            c
        };
        // SAFETY: `c` is a live chunk header owned by this pool.
        unsafe { (*c).prev = self.chunk };
        self.chunk = c;
        c
    }

    /// `dm_pool_alloc_aligned` (alignment not 0).
    fn alloc(&mut self, s: usize, alignment: usize) -> *mut u8 {
        let mut c = self.chunk;
        if !c.is_null() {
            // SAFETY: the current chunk is live.
            unsafe { align_chunk(c, alignment) };
        }
        // SAFETY: `c` is live when not NULL.
        if c.is_null() || unsafe { room(c, 0) }.is_none_or(|r| r < s) {
            let needed = s
                .saturating_add(alignment)
                .saturating_add(CHUNK_HDR)
                .max(self.chunk_size);
            c = self.new_chunk(needed);
            if c.is_null() {
                return null_mut();
            }
            // SAFETY: `c` is the live chunk just made current.
            unsafe { align_chunk(c, alignment) };
            // SAFETY: as above.
            if unsafe { room(c, 0) }.is_none_or(|r| r < s) {
                // Cannot happen (the chunk was sized for it); never hand out
                // memory past a chunk.
                return null_mut();
            }
        }
        // SAFETY: `c` is live and has at least `s` bytes at `begin`.
        unsafe {
            let r = (*c).begin;
            (*c).begin = r.wrapping_add(s);
            r
        }
    }

    /// Stock's `dm_pool_free` walk, for a `ptr` known to be in a chunk.
    fn free_to(&mut self, ptr: *mut u8) -> bool {
        if !self.contains(ptr) {
            devmapper::log_error!(
                &CTX,
                "Internal error: pool_free asked to free pointer not in pool"
            );
            return false;
        }
        let mut c = self.chunk;
        while !c.is_null() {
            // SAFETY: every chunk on the list is live.
            let end = unsafe { (*c).end };
            if (data_start(c) as usize) <= ptr as usize && (ptr as usize) < end as usize {
                // SAFETY: as above.
                unsafe { (*c).begin = ptr };
                break;
            }
            if !self.spare.is_null() {
                // SAFETY: the spare chunk came from calloc and is no longer
                // referenced once replaced.
                unsafe { libc::free(self.spare.cast()) };
            }
            // SAFETY: `c` is live; it becomes the spare, detached from the list.
            let prev = unsafe {
                (*c).begin = data_start(c);
                (*c).prev
            };
            self.spare = c;
            c = prev;
        }
        self.chunk = c;
        true
    }

    /// Whether `ptr` points into the memory of one of the pool's chunks.
    fn contains(&self, ptr: *mut u8) -> bool {
        let mut c = self.chunk;
        while !c.is_null() {
            // SAFETY: every chunk on the list is live.
            let (end, prev) = unsafe { ((*c).end, (*c).prev) };
            if (data_start(c) as usize) <= ptr as usize && (ptr as usize) < end as usize {
                return true;
            }
            c = prev;
        }
        false
    }

    /// `dm_pool_begin_object`.
    fn begin_object(&mut self, hint: usize) -> bool {
        let c = self.chunk;
        self.object_len = 0;
        self.object_alignment = DEFAULT_ALIGNMENT;
        if !c.is_null() {
            // SAFETY: the current chunk is live.
            unsafe { align_chunk(c, DEFAULT_ALIGNMENT) };
        }
        // SAFETY: `c` is live when not NULL.
        if c.is_null() || unsafe { room(c, 0) }.is_none_or(|r| r < hint) {
            let size = if hint > self.chunk_size - CHUNK_HDR {
                hint.saturating_add(CHUNK_HDR + DEFAULT_ALIGNMENT)
            } else {
                self.chunk_size
            };
            let c = self.new_chunk(size);
            if c.is_null() {
                return false;
            }
            // SAFETY: the live chunk just made current.
            unsafe { align_chunk(c, DEFAULT_ALIGNMENT) };
        }
        true
    }

    /// `dm_pool_grow_object` with the bytes to append.
    ///
    /// # Safety
    /// `extra` points to `delta` readable bytes.
    unsafe fn grow_object(&mut self, extra: *const u8, delta: usize) -> bool {
        if self.chunk.is_null() && !self.begin_object(0) {
            return false;
        }
        let mut c = self.chunk;
        // SAFETY: the current chunk is live.
        if unsafe { room(c, self.object_len) }.is_none_or(|f| f < delta) {
            let Some(need) = self.object_len.checked_add(delta) else {
                devmapper::log_error!(&CTX, "Out of memory.  Requested {} bytes.", usize::MAX);
                return false;
            };
            let size = if need > self.chunk_size / 2 {
                need.saturating_mul(2)
            } else {
                self.chunk_size
            };
            let nc = self.new_chunk(size);
            if nc.is_null() {
                return false;
            }
            // SAFETY: `nc` is the live current chunk.
            unsafe { align_chunk(nc, self.object_alignment) };
            // SAFETY: as above.
            if unsafe { room(nc, 0) }.is_none_or(|r| r < need) {
                // Cannot happen with stock's sizes; refuse rather than overrun.
                return false;
            }
            // SAFETY: the old chunk `c` is still live (it stays on the list)
            // and holds the `object_len` bytes of the object at its `begin`;
            // `nc` has room for them. The regions are in different chunks.
            unsafe { std::ptr::copy_nonoverlapping((*c).begin, (*nc).begin, self.object_len) };
            c = nc;
        }
        // SAFETY: `c` has room for object_len + delta bytes at `begin`;
        // `extra` has `delta` readable bytes (caller); `copy` allows the
        // caller's bytes to overlap the pool's.
        unsafe {
            let dst = (*c).begin.add(self.object_len);
            std::ptr::copy(extra, dst, delta);
        }
        self.object_len += delta;
        true
    }

    /// Stock's `_pool_crc`: a hash of every chunk from its header up to its
    /// `begin` (rounded down to 8 bytes).
    fn crc(&self) -> i64 {
        let mut h: i64 = 0;
        let mut c = self.chunk;
        while !c.is_null() {
            // SAFETY: every chunk on the list is live.
            let (begin, end, prev) = unsafe { ((*c).begin, (*c).end, (*c).prev) };
            let stop = if (begin as usize) < end as usize {
                begin as usize & !7
            } else {
                end as usize
            };
            let mut at = c as usize;
            while at < stop {
                // SAFETY: `at` is 8-aligned (chunks come from calloc) and
                // inside the chunk (`stop` <= its end); chunk memory is
                // always initialised (zero-filled at allocation).
                let v = unsafe { std::ptr::read(at as *const i64) };
                h = h.wrapping_add(v);
                h = h.wrapping_add(h << 10);
                h ^= h >> 6;
                at += 8;
            }
            c = prev;
        }
        h
    }
}

impl Drop for dm_pool {
    fn drop(&mut self) {
        if !self.spare.is_null() {
            // SAFETY: the spare chunk came from calloc and is owned by the pool.
            unsafe { libc::free(self.spare.cast()) };
        }
        let mut c = self.chunk;
        while !c.is_null() {
            // SAFETY: every chunk on the list is live and owned by the pool.
            let prev = unsafe { (*c).prev };
            // SAFETY: as above; it is not used again.
            unsafe { libc::free(c.cast()) };
            c = prev;
        }
    }
}

// ---------------------------------------------------------------- crate API

/// Create a pool (shared by the exports and the report shell); NULL after
/// logging on failure.
pub(crate) fn create(name: Option<&[u8]>, chunk_hint: usize) -> *mut dm_pool {
    let shown = name.unwrap_or(b"(null)");
    let fail = || {
        log_error_bytes(&cat(&[
            b"Couldn't create memory pool ",
            shown,
            format!(" (size {STOCK_POOL_SIZE})").as_bytes(),
        ]));
        null_mut()
    };
    // Stock: chunk_hint + sizeof(struct chunk) (wrapping), rounded up to a
    // power of two of at least 1024.
    let Some(chunk_size) = chunk_hint
        .wrapping_add(CHUNK_HDR)
        .max(MIN_CHUNK_SIZE)
        .checked_next_power_of_two()
    else {
        return fail();
    };
    let name = match name {
        Some(n) => {
            let mut v = Vec::new();
            if v.try_reserve_exact(n.len()).is_err() {
                return fail();
            }
            v.extend_from_slice(n);
            Some(v)
        }
        None => None,
    };
    let p = Box::into_raw(Box::new(dm_pool {
        chunk: null_mut(),
        spare: null_mut(),
        name,
        chunk_size,
        object_len: 0,
        object_alignment: DEFAULT_ALIGNMENT,
        locked: false,
        crc: 0,
    }));
    // SAFETY: `p` was just made from a Box and is not shared yet.
    register(p, unsafe { &(*p).name });
    p
}

/// Destroy a pool made by [`create`] (NULL: nothing).
///
/// # Safety
/// `p` is NULL or a live pool that is not used afterwards.
pub(crate) unsafe fn destroy(p: *mut dm_pool) {
    if p.is_null() {
        return;
    }
    unregister(p);
    // SAFETY: a live pool made by `Box::into_raw` (caller).
    drop(unsafe { Box::from_raw(p) });
}

/// `dm_pool_alloc` for the crate (NULL pool: NULL).
///
/// # Safety
/// `p` is NULL or a live pool not borrowed elsewhere.
pub(crate) unsafe fn alloc(p: *mut dm_pool, s: usize) -> *mut c_void {
    // SAFETY: caller's contract.
    match unsafe { p.as_mut() } {
        Some(p) => p.alloc(s, DEFAULT_ALIGNMENT).cast(),
        None => null_mut(),
    }
}

/// `dm_pool_free` for the crate.
///
/// # Safety
/// As [`alloc`].
pub(crate) unsafe fn free(p: *mut dm_pool, ptr: *mut c_void) {
    // SAFETY: caller's contract.
    if let Some(p) = unsafe { p.as_mut() } {
        p.free_to(ptr.cast());
    }
}

/// `dm_pool_strdup` for the crate: a NUL-terminated copy of `s`.
///
/// # Safety
/// As [`alloc`].
pub(crate) unsafe fn strdup_bytes(p: *mut dm_pool, s: &[u8]) -> *mut c_char {
    // SAFETY: caller's contract.
    let r = unsafe { alloc(p, s.len().saturating_add(1)) }.cast::<u8>();
    if !r.is_null() {
        // SAFETY: `r` has s.len() + 1 bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(s.as_ptr(), r, s.len());
            *r.add(s.len()) = 0;
        }
    }
    r.cast()
}

/// `dm_pool_begin_object` for the crate.
///
/// # Safety
/// As [`alloc`].
pub(crate) unsafe fn begin_object(p: *mut dm_pool, hint: usize) -> bool {
    // SAFETY: caller's contract.
    unsafe { p.as_mut() }.is_some_and(|p| p.begin_object(hint))
}

/// `dm_pool_grow_object` for the crate, with bytes.
///
/// # Safety
/// As [`alloc`].
pub(crate) unsafe fn grow_object(p: *mut dm_pool, bytes: &[u8]) -> bool {
    // SAFETY: caller's contract; `bytes` is readable.
    unsafe { p.as_mut() }.is_some_and(|p| unsafe { p.grow_object(bytes.as_ptr(), bytes.len()) })
}

/// `dm_pool_end_object` for the crate.
///
/// # Safety
/// As [`alloc`].
pub(crate) unsafe fn end_object(p: *mut dm_pool) -> *mut c_void {
    // SAFETY: caller's contract.
    match unsafe { p.as_mut() } {
        Some(p) => p.end_object(),
        None => null_mut(),
    }
}

impl dm_pool {
    fn end_object(&mut self) -> *mut c_void {
        let c = self.chunk;
        if c.is_null() {
            devmapper::log_error!(
                &CTX,
                "Internal error: dm_pool_end_object called on a pool without an object."
            );
            return null_mut();
        }
        // SAFETY: the current chunk is live; `begin + object_len` stays
        // within it (grow_object made room).
        let r = unsafe {
            let r = (*c).begin;
            (*c).begin = r.wrapping_add(self.object_len);
            r
        };
        self.object_len = 0;
        self.object_alignment = DEFAULT_ALIGNMENT;
        r.cast()
    }
}

// ---------------------------------------------------------------- exports

const WHAT: &str = "pool";

/// `dm_pool_create`: a pool named `name` whose chunks are at least
/// `chunk_hint` bytes (rounded up to a power of two, 1024 at least).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn dm_pool_create(name: *const c_char, chunk_hint: usize) -> *mut dm_pool {
    guard("dm_pool_create", null_mut(), || {
        // SAFETY: a C string or NULL (C contract).
        let name = unsafe { opt_bytes(name) };
        Some(create(name, chunk_hint))
    })
}

/// `dm_pool_destroy`: release the pool and all its memory.
#[no_mangle]
pub unsafe extern "C" fn dm_pool_destroy(p: *mut dm_pool) {
    guard("dm_pool_destroy", (), || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        unsafe { handle_mut(p, "dm_pool_destroy", WHAT) }?;
        // SAFETY: a live pool the caller gives up.
        unsafe { destroy(p) };
        Some(())
    })
}

/// `dm_pool_alloc`: `s` bytes aligned for a double.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn dm_pool_alloc(p: *mut dm_pool, s: usize) -> *mut c_void {
    guard("dm_pool_alloc", null_mut(), || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let p = unsafe { handle_mut(p, "dm_pool_alloc", WHAT) }?;
        Some(p.alloc(s, DEFAULT_ALIGNMENT).cast())
    })
}

/// `dm_pool_alloc_aligned`: `s` bytes after advancing to the next multiple
/// of `alignment` (a power of two).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn dm_pool_alloc_aligned(
    p: *mut dm_pool,
    s: usize,
    alignment: c_uint,
) -> *mut c_void {
    guard("dm_pool_alloc_aligned", null_mut(), || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let p = unsafe { handle_mut(p, "dm_pool_alloc_aligned", WHAT) }?;
        if alignment == 0 {
            devmapper::log_error!(
                &CTX,
                "Internal error: dm_pool_alloc_aligned called with alignment 0."
            );
            return None;
        }
        Some(p.alloc(s, alignment as usize).cast())
    })
}

/// `dm_pool_empty`: free everything allocated from the pool (the oldest
/// chunk is kept for reuse, and one more as the spare).
#[no_mangle]
pub unsafe extern "C" fn dm_pool_empty(p: *mut dm_pool) {
    guard("dm_pool_empty", (), || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let p = unsafe { handle_mut(p, "dm_pool_empty", WHAT) }?;
        let mut c = p.chunk;
        // SAFETY: every chunk on the list is live.
        while !c.is_null() && unsafe { !(*c).prev.is_null() } {
            // SAFETY: as above.
            c = unsafe { (*c).prev };
        }
        if !c.is_null() {
            p.free_to(data_start(c));
        }
        Some(())
    })
}

/// `dm_pool_free`: free `ptr` and everything allocated after it.
#[no_mangle]
pub unsafe extern "C" fn dm_pool_free(p: *mut dm_pool, ptr: *mut c_void) {
    guard("dm_pool_free", (), || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let p = unsafe { handle_mut(p, "dm_pool_free", WHAT) }?;
        p.free_to(ptr.cast());
        Some(())
    })
}

/// `dm_pool_locked`: 1 when the pool is locked.
#[no_mangle]
pub unsafe extern "C" fn dm_pool_locked(p: *mut dm_pool) -> c_int {
    guard("dm_pool_locked", 0, || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let p = unsafe { handle(p, "dm_pool_locked", WHAT) }?;
        Some(c_int::from(p.locked))
    })
}

/// `dm_pool_lock`: mark the pool locked, remembering its checksum when
/// `crc` is set. Locking does not write-protect the memory (as stock's
/// release build).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn dm_pool_lock(p: *mut dm_pool, crc: c_int) -> c_int {
    guard("dm_pool_lock", 0, || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let p = unsafe { handle_mut(p, "dm_pool_lock", WHAT) }?;
        let name = name_of(&p.name);
        if p.locked {
            log_error_bytes(&cat(&[
                b"Internal error: Pool ",
                name,
                b" is already locked.",
            ]));
            return Some(0);
        }
        if crc != 0 {
            p.crc = p.crc();
        }
        p.locked = true;
        log_bytes(
            Level::Debug,
            false,
            LOG_CLASS_MEM,
            &cat(&[b"Pool ", name_of(&p.name), b" is locked."]),
        );
        Some(1)
    })
}

/// `dm_pool_unlock`: clear the lock; with `crc`, fail (the pool is unlocked
/// all the same) when the checksum differs from the one taken by
/// `dm_pool_lock`.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn dm_pool_unlock(p: *mut dm_pool, crc: c_int) -> c_int {
    guard("dm_pool_unlock", 0, || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let p = unsafe { handle_mut(p, "dm_pool_unlock", WHAT) }?;
        if !p.locked {
            log_error_bytes(&cat(&[
                b"Internal error: Pool ",
                name_of(&p.name),
                b" is already unlocked.",
            ]));
            return Some(0);
        }
        p.locked = false;
        log_bytes(
            Level::Debug,
            false,
            LOG_CLASS_MEM,
            &cat(&[b"Pool ", name_of(&p.name), b" is unlocked."]),
        );
        if crc != 0 && p.crc != p.crc() {
            log_error_bytes(&cat(&[
                b"Internal error: Pool ",
                name_of(&p.name),
                b" crc mismatch.",
            ]));
            return Some(0);
        }
        Some(1)
    })
}

/// `dm_pool_begin_object`: start an object, expecting about `hint` bytes.
#[no_mangle]
pub unsafe extern "C" fn dm_pool_begin_object(p: *mut dm_pool, hint: usize) -> c_int {
    guard("dm_pool_begin_object", 0, || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let p = unsafe { handle_mut(p, "dm_pool_begin_object", WHAT) }?;
        Some(c_int::from(p.begin_object(hint)))
    })
}

/// `dm_pool_grow_object`: append `delta` bytes of `extra` to the object
/// (`delta` 0: the string `extra` without its NUL).
#[no_mangle]
pub unsafe extern "C" fn dm_pool_grow_object(
    p: *mut dm_pool,
    extra: *const c_void,
    delta: usize,
) -> c_int {
    guard("dm_pool_grow_object", 0, || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let p = unsafe { handle_mut(p, "dm_pool_grow_object", WHAT) }?;
        if extra.is_null() {
            devmapper::log_error!(
                &CTX,
                "Internal error: dm_pool_grow_object called with NULL data."
            );
            return Some(0);
        }
        let delta = if delta == 0 {
            // SAFETY: with delta 0, `extra` is a C string (C contract).
            unsafe { CStr::from_ptr(extra.cast()) }.to_bytes().len()
        } else {
            delta
        };
        // SAFETY: `extra` has `delta` readable bytes (C contract).
        Some(c_int::from(unsafe { p.grow_object(extra.cast(), delta) }))
    })
}

/// `dm_pool_end_object`: finish the object and return its address.
#[no_mangle]
pub unsafe extern "C" fn dm_pool_end_object(p: *mut dm_pool) -> *mut c_void {
    guard("dm_pool_end_object", null_mut(), || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let p = unsafe { handle_mut(p, "dm_pool_end_object", WHAT) }?;
        Some(p.end_object())
    })
}

/// `dm_pool_abandon_object`: drop the object being built.
#[no_mangle]
pub unsafe extern "C" fn dm_pool_abandon_object(p: *mut dm_pool) {
    guard("dm_pool_abandon_object", (), || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let p = unsafe { handle_mut(p, "dm_pool_abandon_object", WHAT) }?;
        p.object_len = 0;
        p.object_alignment = DEFAULT_ALIGNMENT;
        Some(())
    })
}

/// `dm_pool_strdup`: a copy of the string `str` in the pool.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn dm_pool_strdup(p: *mut dm_pool, str: *const c_char) -> *mut c_char {
    guard("dm_pool_strdup", null_mut(), || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let pool = unsafe { handle_mut(p, "dm_pool_strdup", WHAT) }?;
        // SAFETY: a C string or NULL (C contract).
        let s = unsafe { crate::ffi::arg_bytes(str, "dm_pool_strdup", "string") }?;
        let len = s.len() + 1;
        let r = pool.alloc(len, DEFAULT_ALIGNMENT);
        if !r.is_null() {
            // SAFETY: `r` has `len` bytes; `str` has `len` readable bytes
            // (the string and its NUL).
            unsafe { std::ptr::copy_nonoverlapping(str.cast::<u8>(), r, len) };
        }
        Some(r.cast())
    })
}

/// `dm_pool_strndup`: a copy of at most `n` bytes of `str`, NUL-terminated,
/// in `n + 1` bytes of the pool.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn dm_pool_strndup(
    p: *mut dm_pool,
    str: *const c_char,
    n: usize,
) -> *mut c_char {
    guard("dm_pool_strndup", null_mut(), || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let pool = unsafe { handle_mut(p, "dm_pool_strndup", WHAT) }?;
        if str.is_null() {
            devmapper::log_error!(
                &CTX,
                "Internal error: dm_pool_strndup called with a NULL string."
            );
            return None;
        }
        // SAFETY: `str` is a C string or has at least `n` readable bytes.
        let len = unsafe { libc::strnlen(str, n) };
        let r = pool.alloc(n.saturating_add(1), DEFAULT_ALIGNMENT);
        if !r.is_null() {
            // SAFETY: `r` has n + 1 > len bytes; `str` has `len` readable bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(str.cast::<u8>(), r, len);
                *r.add(len) = 0;
            }
        }
        Some(r.cast())
    })
}

/// `dm_pool_zalloc`: `s` zeroed bytes.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn dm_pool_zalloc(p: *mut dm_pool, s: usize) -> *mut c_void {
    guard("dm_pool_zalloc", null_mut(), || {
        // SAFETY: NULL is checked; otherwise a live pool (C contract).
        let p = unsafe { handle_mut(p, "dm_pool_zalloc", WHAT) }?;
        let r = p.alloc(s, DEFAULT_ALIGNMENT);
        if !r.is_null() {
            // SAFETY: `r` has `s` writable bytes.
            unsafe { std::ptr::write_bytes(r, 0, s) };
        }
        Some(r.cast())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(hint: usize) -> *mut dm_pool {
        let p = create(Some(b"test"), hint);
        assert!(!p.is_null());
        p
    }

    #[test]
    fn chunk_size_is_a_power_of_two() {
        for (hint, size) in [
            (0, 1024),
            (1000, 1024),
            (1001, 2048),
            (usize::MAX - 10, 1024),
        ] {
            let p = pool(hint);
            // SAFETY: a live pool made above.
            assert_eq!(unsafe { (*p).chunk_size }, size, "hint {hint}");
            // SAFETY: as above, not used again.
            unsafe { destroy(p) };
        }
        assert!(create(None, (1 << 63) + 1).is_null());
    }

    #[test]
    fn alloc_steps_like_stock() {
        let p = pool(0);
        // SAFETY: a live pool made above, used by this thread only.
        unsafe {
            let a = alloc(p, 1) as usize;
            let b = alloc(p, 1) as usize;
            let c = alloc(p, 8) as usize;
            let d = alloc(p, 8) as usize;
            assert_eq!(a % 16, 0);
            assert_eq!((b - a, c - b, d - c), (8, 8, 16));
            // An aligned begin still moves by a whole step.
            let e = (*p).alloc(8, 64) as usize;
            assert_eq!(e % 64, 0);
            assert!(e > d + 8);
            destroy(p);
        }
    }

    #[test]
    fn free_gives_back_everything_after() {
        let p = pool(0);
        // SAFETY: a live pool made above, used by this thread only.
        unsafe {
            let first = alloc(p, 100).cast::<u8>();
            let mut last = first;
            for _ in 0..100 {
                last = alloc(p, 100).cast::<u8>();
                assert!(!last.is_null());
            }
            // Several chunks now; free back into the first one.
            assert!(!(*(*p).chunk).prev.is_null());
            free(p, first.add(8).cast());
            assert!((*(*p).chunk).prev.is_null());
            assert!(!(*p).spare.is_null());
            assert_eq!(alloc(p, 8).cast::<u8>(), first.add(16));
            // A pointer outside the pool changes nothing.
            let before = (*(*p).chunk).begin;
            let x = 0u64;
            free(p, std::ptr::addr_of!(x).cast_mut().cast());
            assert_eq!((*(*p).chunk).begin, before);
            assert!(!last.is_null());
            destroy(p);
        }
    }

    #[test]
    fn object_moves_with_its_bytes() {
        let p = pool(0);
        // SAFETY: a live pool made above, used by this thread only.
        unsafe {
            assert!(!alloc(p, 1000).is_null());
            assert!(begin_object(p, 4));
            let mut want = Vec::new();
            for i in 0..5000u32 {
                let b = [(i % 251) as u8; 3];
                assert!(grow_object(p, &b));
                want.extend_from_slice(&b);
            }
            let o = end_object(p).cast::<u8>();
            assert_eq!(std::slice::from_raw_parts(o, want.len()), &want[..]);
            destroy(p);
        }
    }

    #[test]
    fn checksum_sees_writes_and_allocations() {
        let p = pool(0);
        // SAFETY: a live pool made above, used by this thread only.
        unsafe {
            let a = alloc(p, 64).cast::<u8>();
            let c0 = (*p).crc();
            assert_eq!((*p).crc(), c0);
            *a.add(3) = 7;
            let c1 = (*p).crc();
            assert_ne!(c1, c0);
            assert!(!alloc(p, 8).is_null());
            assert_ne!((*p).crc(), c1);
            destroy(p);
        }
    }

    #[test]
    fn huge_requests_fail_without_aborting() {
        let p = pool(0);
        // SAFETY: a live pool made above, used by this thread only.
        unsafe {
            assert!(alloc(p, 50_000_000).is_null());
            assert!(alloc(p, usize::MAX).is_null());
            assert!(begin_object(p, 8));
            // Fails allocating the chunk, before reading the bytes.
            assert!(!(*p).grow_object(b"x".as_ptr(), 1 << 40));
            assert!(!alloc(p, 8).is_null());
            destroy(p);
        }
    }
}
