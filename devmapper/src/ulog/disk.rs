//! The on-disk format of a disk log, and the log device itself.
//!
//! **Format: the kernel `disk` dirty log's** (`drivers/md/dm-log.c`, also
//! what LVM2's cmirrord writes), so one log device works with either log
//! type and moves between them:
//!
//! | Offset | Size | Content |
//! |---|---|---|
//! | 0 | 4 | magic `0x4D695272` ("MiRr"), little-endian |
//! | 4 | 4 | version 2, little-endian (1 is read as 2) |
//! | 8 | 8 | `nr_regions`: regions the bits below describe, little-endian |
//! | 1024 | `ceil(regions / 64) * 8` | clean bits, bit `n` in byte `n / 8` at position `n % 8` (1 = clean) |
//!
//! The area written is `1024 + bitset bytes` rounded up to the device's
//! logical block size; the log device must be at least that large.
//!
//! Rules on resume, as the kernel applies them: a header with another magic,
//! or a table that says `sync` or `nosync`, starts a new log; regions past
//! `nr_regions` (the mirror grew) are clean under `nosync` and dirty
//! otherwise; bits past the last region are cleared; the header is then
//! rewritten with the current region count.
//!
//! I/O uses `O_DIRECT` on the block device with block-aligned buffers (safe
//! Rust: an over-allocated `Vec` sliced at its aligned offset), writes only
//! the blocks whose bits changed, and issues a cache flush (`fdatasync`)
//! when regions were marked dirty, before FLUSH is acknowledged.

use super::bitset::{words_for, Bitset};
use super::ctr::SyncMode;
use crate::error::{Error, ErrorKind};
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// "MiRr".
pub const MIRROR_MAGIC: u32 = 0x4D69_5272;
/// The on-disk version.
pub const MIRROR_DISK_VERSION: u32 = 2;
/// Where the bits start (`LOG_OFFSET` = 2 sectors).
pub const BITS_OFFSET: usize = 1024;
/// Alignment of the I/O buffer in memory (any logical block size up to a
/// page divides it).
const MEM_ALIGN: usize = 4096;

/// The 16-byte header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskHeader {
    /// Magic number.
    pub magic: u32,
    /// Format version.
    pub version: u32,
    /// Regions described by the bits.
    pub nr_regions: u64,
}

impl DiskHeader {
    /// Read from the first 16 bytes (`None` when shorter).
    pub fn decode(b: &[u8]) -> Option<DiskHeader> {
        let mut m = [0u8; 4];
        let mut v = [0u8; 4];
        let mut n = [0u8; 8];
        m.copy_from_slice(b.get(0..4)?);
        v.copy_from_slice(b.get(4..8)?);
        n.copy_from_slice(b.get(8..16)?);
        Some(DiskHeader {
            magic: u32::from_le_bytes(m),
            version: u32::from_le_bytes(v),
            nr_regions: u64::from_le_bytes(n),
        })
    }

    /// Write into the first 16 bytes of `out` (at least 16 long).
    pub fn encode(&self, out: &mut [u8]) {
        if let Some(o) = out.get_mut(0..16) {
            o[0..4].copy_from_slice(&self.magic.to_le_bytes());
            o[4..8].copy_from_slice(&self.version.to_le_bytes());
            o[8..16].copy_from_slice(&self.nr_regions.to_le_bytes());
        }
    }
}

/// Sizes of the area a log of `region_count` regions uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Bytes of clean bits (a multiple of 8).
    pub bitset_bytes: usize,
    /// Bytes read and written: header area + bits, rounded up to the block
    /// size.
    pub area: usize,
    /// The device's logical block size.
    pub block_size: usize,
}

impl Layout {
    /// The layout for `region_count` regions on a device with this logical
    /// block size (`None` when it does not fit in memory sizes).
    pub fn new(region_count: u64, block_size: usize) -> Option<Layout> {
        let bitset_bytes = usize::try_from(words_for(region_count).checked_mul(8)?).ok()?;
        let bs = block_size.max(512);
        let area = (BITS_OFFSET.checked_add(bitset_bytes)?).checked_next_multiple_of(bs)?;
        Some(Layout {
            bitset_bytes,
            area,
            block_size: bs,
        })
    }
}

/// What the bits read at resume say, after the kernel's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loaded {
    /// A valid log: its first `nr_regions` (at most the region count)
    /// regions were taken from the device.
    Log {
        /// Regions taken from the device.
        nr_regions: u64,
    },
    /// A new log (no magic, or `sync`/`nosync` given): nothing taken.
    New,
    /// An unknown version: nothing taken (the kernel fails the resume).
    BadVersion(u32),
}

/// Apply the kernel's resume rules to the area read from a log device:
/// fill `clean` (its length is the region count) and say what was used.
pub fn load_clean_bits(area: &[u8], sync: SyncMode, clean: &mut Bitset) -> Loaded {
    let header = DiskHeader::decode(area);
    let loaded = match header {
        _ if sync != SyncMode::Default => Loaded::New,
        Some(h) if h.magic != MIRROR_MAGIC => Loaded::New,
        None => Loaded::New,
        // Version 1 is version 2 written on a little-endian machine.
        Some(h) if h.version == 1 || h.version == MIRROR_DISK_VERSION => Loaded::Log {
            nr_regions: h.nr_regions.min(clean.len()),
        },
        Some(h) => Loaded::BadVersion(h.version),
    };
    let taken = match loaded {
        Loaded::Log { nr_regions } => {
            clean.read_le(area.get(BITS_OFFSET..).unwrap_or(&[]), nr_regions);
            nr_regions
        }
        _ => 0,
    };
    clean.fill_from(taken, sync == SyncMode::Nosync);
    loaded
}

/// A buffer whose start is aligned for `O_DIRECT`, in safe Rust: a `Vec`
/// over-allocated by the alignment and used from its first aligned byte.
/// The `Vec` never grows, so the address never moves.
pub struct AlignedBuf {
    v: Vec<u8>,
    off: usize,
    len: usize,
}

impl AlignedBuf {
    /// `len` zero bytes aligned to 4096 (fallible allocation).
    pub fn try_new(len: usize) -> Result<AlignedBuf, Error> {
        let total = len
            .checked_add(MEM_ALIGN)
            .ok_or_else(|| Error::no_memory(usize::MAX))?;
        let mut v = Vec::new();
        v.try_reserve_exact(total)
            .map_err(|_| Error::no_memory(total))?;
        v.resize(total, 0);
        let off = v.as_ptr().align_offset(MEM_ALIGN);
        if off > MEM_ALIGN {
            return Err(Error::internal("cannot align an I/O buffer"));
        }
        Ok(AlignedBuf { v, off, len })
    }

    /// The aligned bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.v.get(self.off..self.off + self.len).unwrap_or(&[])
    }

    /// The aligned bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let (off, len) = (self.off, self.len);
        self.v.get_mut(off..off + len).unwrap_or(&mut [])
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBuf({} bytes)", self.len)
    }
}

/// A log device opened for the log's area.
pub struct DiskLog {
    file: File,
    name: Vec<u8>,
    path: PathBuf,
    dev: Option<(u32, u32)>,
    layout: Layout,
    buf: AlignedBuf,
}

impl std::fmt::Debug for DiskLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskLog")
            .field("path", &self.path)
            .field("dev", &self.dev)
            .field("layout", &self.layout)
            .finish()
    }
}

fn io_error(what: String, e: &io::Error) -> Error {
    let errno = e.raw_os_error().unwrap_or(libc::EIO);
    Error::new(
        ErrorKind::Io,
        format!("{what}: {}", crate::kernel::sys::strerror(errno)),
    )
    .with_errno(errno)
}

/// `major:minor` of a device argument, if it is one.
fn parse_dev(arg: &[u8]) -> Option<(u32, u32)> {
    let s = std::str::from_utf8(arg).ok()?;
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn sysfs_block_size(dev: (u32, u32)) -> Option<usize> {
    let base = format!("/sys/dev/block/{}:{}", dev.0, dev.1);
    for rel in ["queue/logical_block_size", "../queue/logical_block_size"] {
        if let Ok(s) = std::fs::read_to_string(format!("{base}/{rel}")) {
            if let Ok(n) = s.trim().parse::<usize>() {
                if n.is_power_of_two() && (512..=65536).contains(&n) {
                    return Some(n);
                }
            }
        }
    }
    None
}

fn open_rw(path: &Path, direct: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    if direct {
        o.custom_flags(libc::O_DIRECT);
    }
    o.open(path)
}

/// Open the block device named by a table argument (`major:minor` or a
/// path) read-write with `O_DIRECT`. A `major:minor` is found as
/// `/dev/block/M:m`, then through sysfs (`DEVNAME` under `/dev`), else as a
/// private node made in `node_dir` and unlinked once open.
fn open_block_device(
    arg: &[u8],
    node_dir: Option<&Path>,
) -> Result<(File, PathBuf, (u32, u32)), Error> {
    let shown = super::codec::EscapedBytes(arg).to_string();
    if arg.first() == Some(&b'/') {
        use std::os::unix::ffi::OsStrExt;
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(arg));
        let file = open_rw(&path, true)
            .map_err(|e| io_error(format!("cannot open log device {shown}"), &e))?;
        let md = file
            .metadata()
            .map_err(|e| io_error(format!("cannot stat log device {shown}"), &e))?;
        if !md.file_type().is_block_device() {
            return Err(Error::invalid(format!(
                "log device {shown} is not a block device"
            )));
        }
        let rdev = md.rdev();
        return Ok((file, path, (libc::major(rdev), libc::minor(rdev))));
    }
    let dev =
        parse_dev(arg).ok_or_else(|| Error::invalid(format!("invalid log device {shown}")))?;
    let want = libc::makedev(dev.0, dev.1);
    let mut candidates = vec![PathBuf::from(format!("/dev/block/{}:{}", dev.0, dev.1))];
    if let Ok(uevent) =
        std::fs::read_to_string(format!("/sys/dev/block/{}:{}/uevent", dev.0, dev.1))
    {
        if let Some(name) = uevent.lines().find_map(|l| l.strip_prefix("DEVNAME=")) {
            candidates.push(Path::new("/dev").join(name));
        }
    }
    let mut last = io::Error::from_raw_os_error(libc::ENODEV);
    for p in &candidates {
        match p.metadata() {
            Ok(md) if md.file_type().is_block_device() && md.rdev() == want => {}
            Ok(_) => continue,
            Err(e) => {
                last = e;
                continue;
            }
        }
        match open_rw(p, true) {
            Ok(f) => return Ok((f, p.clone(), dev)),
            Err(e) => last = e,
        }
    }
    if let Some(dir) = node_dir {
        let p = dir.join(format!(
            ".logdev-{}-{}-{}",
            dev.0,
            dev.1,
            std::process::id()
        ));
        let _ = std::fs::remove_file(&p);
        if crate::kernel::sys::mknod(&p, libc::S_IFBLK | 0o600, want).is_ok() {
            let r = open_rw(&p, true);
            let _ = std::fs::remove_file(&p);
            match r {
                Ok(f) => return Ok((f, PathBuf::from(format!("(node {}:{})", dev.0, dev.1)), dev)),
                Err(e) => last = e,
            }
        }
    }
    Err(io_error(format!("cannot open log device {shown}"), &last))
}

impl DiskLog {
    /// Open the log device of a table argument for `region_count` regions:
    /// it must be a block device at least as large as the log's area.
    pub fn open(arg: &[u8], region_count: u64, node_dir: Option<&Path>) -> Result<DiskLog, Error> {
        let (file, path, dev) = open_block_device(arg, node_dir)?;
        let bs = sysfs_block_size(dev).unwrap_or(MEM_ALIGN);
        DiskLog::with_file(file, arg.to_vec(), path, Some(dev), bs, region_count)
    }

    /// A log kept in an already open file (tests use regular files, which
    /// need no `O_DIRECT`). Fails with `EINVAL` when the file is smaller
    /// than the log's area.
    pub fn with_file(
        mut file: File,
        name: Vec<u8>,
        path: PathBuf,
        dev: Option<(u32, u32)>,
        block_size: usize,
        region_count: u64,
    ) -> Result<DiskLog, Error> {
        let layout = Layout::new(region_count, block_size)
            .ok_or_else(|| Error::invalid("region count too large for a disk log"))?;
        let size = file
            .seek(SeekFrom::End(0))
            .map_err(|e| io_error("cannot size the log device".into(), &e))?;
        if size < layout.area as u64 {
            return Err(Error::invalid(format!(
                "log device {} too small: {} bytes, {} needed for {} regions",
                super::codec::EscapedBytes(&name),
                size,
                layout.area,
                region_count
            )));
        }
        let buf = AlignedBuf::try_new(layout.area)?;
        Ok(DiskLog {
            file,
            name,
            path,
            dev,
            layout,
            buf,
        })
    }

    /// The device argument as the table gave it.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// `major:minor` of the device, when it is one.
    pub fn dev(&self) -> Option<(u32, u32)> {
        self.dev
    }

    /// The sizes in use.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Read the whole area from the device.
    pub fn read(&mut self) -> io::Result<&[u8]> {
        let n = self.layout.area;
        let buf = self.buf.as_mut_slice();
        let mut done = 0;
        while done < n {
            let r = self.file.read_at(&mut buf[done..n], done as u64)?;
            if r == 0 {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            done += r;
        }
        Ok(self.buf.as_slice())
    }

    /// Write the header (with `nr_regions`) and all the bits.
    pub fn write_all(&mut self, clean: &Bitset) -> io::Result<()> {
        let words = clean.words().len();
        self.stage(clean, 0..words, Some(clean.len()));
        let area = self.layout.area;
        self.write_bytes(0..area)
    }

    /// Write the blocks holding words `words` of the bits.
    pub fn write_words(&mut self, clean: &Bitset, words: Range<usize>) -> io::Result<()> {
        if words.is_empty() {
            return Ok(());
        }
        self.stage(clean, words.clone(), None);
        let lo = BITS_OFFSET + words.start * 8;
        let hi = BITS_OFFSET + words.end * 8;
        self.write_bytes(lo..hi)
    }

    /// Flush the device's write cache.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn stage(&mut self, clean: &Bitset, words: Range<usize>, header: Option<u64>) {
        let buf = self.buf.as_mut_slice();
        if let Some(nr_regions) = header {
            buf[..BITS_OFFSET].fill(0);
            DiskHeader {
                magic: MIRROR_MAGIC,
                version: MIRROR_DISK_VERSION,
                nr_regions,
            }
            .encode(buf);
        }
        let lo = BITS_OFFSET + words.start * 8;
        let hi = (BITS_OFFSET + words.end * 8).min(buf.len());
        if lo < hi {
            clean.write_le(words, &mut buf[lo..hi]);
        }
    }

    /// Write `bytes` widened to whole blocks.
    fn write_bytes(&mut self, bytes: Range<usize>) -> io::Result<()> {
        let bs = self.layout.block_size;
        let lo = bytes.start / bs * bs;
        let hi = bytes.end.next_multiple_of(bs).min(self.layout.area);
        let buf = self.buf.as_slice();
        let mut done = lo;
        while done < hi {
            let w = self.file.write_at(&buf[done..hi], done as u64)?;
            if w == 0 {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            done += w;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(len: u64) -> (File, PathBuf) {
        let dir = std::env::temp_dir().join(format!("dmrs-ulog-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(format!("log-{}", rand_suffix()));
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .unwrap();
        f.set_len(len).unwrap();
        (f, p)
    }

    fn rand_suffix() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn layout_matches_the_kernel() {
        // 100 regions: 2 words = 16 bytes; 1024 + 16 rounded to 512.
        assert_eq!(
            Layout::new(100, 512),
            Some(Layout {
                bitset_bytes: 16,
                area: 1536,
                block_size: 512
            })
        );
        assert_eq!(Layout::new(100, 4096).unwrap().area, 4096);
        assert_eq!(Layout::new(64 * 512, 512).unwrap().area, 1024 + 4096);
        assert!(Layout::new(u64::MAX, 512).is_some_and(|l| l.area > 1 << 60));
    }

    #[test]
    fn resume_rules() {
        let mut area = vec![0u8; 2048];
        DiskHeader {
            magic: MIRROR_MAGIC,
            version: 2,
            nr_regions: 10,
        }
        .encode(&mut area);
        area[BITS_OFFSET] = 0b1010_1010;
        area[BITS_OFFSET + 1] = 0b11;
        // Grown to 20 regions: 0..10 from disk, 10..20 dirty (default).
        let mut clean = Bitset::try_new(20, true).unwrap();
        assert_eq!(
            load_clean_bits(&area, SyncMode::Default, &mut clean),
            Loaded::Log { nr_regions: 10 }
        );
        let bits: Vec<bool> = (0..20).map(|i| clean.get(i)).collect();
        assert_eq!(
            &bits[..10],
            &[false, true, false, true, false, true, false, true, true, true]
        );
        assert!(bits[10..].iter().all(|b| !b));
        // nosync: a new log, all clean.
        let mut clean = Bitset::try_new(20, false).unwrap();
        assert_eq!(
            load_clean_bits(&area, SyncMode::Nosync, &mut clean),
            Loaded::New
        );
        assert_eq!(clean.count_ones(), 20);
        // sync: a new log, all dirty.
        assert_eq!(
            load_clean_bits(&area, SyncMode::Force, &mut clean),
            Loaded::New
        );
        assert_eq!(clean.count_ones(), 0);
        // Shrunk to 4 regions: only 4 bits taken.
        let mut clean = Bitset::try_new(4, false).unwrap();
        assert_eq!(
            load_clean_bits(&area, SyncMode::Default, &mut clean),
            Loaded::Log { nr_regions: 4 }
        );
        assert_eq!(clean.words(), &[0b1010]);
        // Version 1 reads as 2; version 3 is refused; no magic is new.
        DiskHeader {
            magic: MIRROR_MAGIC,
            version: 1,
            nr_regions: 10,
        }
        .encode(&mut area);
        assert!(matches!(
            load_clean_bits(&area, SyncMode::Default, &mut clean),
            Loaded::Log { .. }
        ));
        DiskHeader {
            magic: MIRROR_MAGIC,
            version: 3,
            nr_regions: 10,
        }
        .encode(&mut area);
        assert_eq!(
            load_clean_bits(&area, SyncMode::Default, &mut clean),
            Loaded::BadVersion(3)
        );
        assert_eq!(clean.count_ones(), 0);
        assert_eq!(
            load_clean_bits(&[0u8; 4], SyncMode::Default, &mut clean),
            Loaded::New
        );
    }

    #[test]
    fn writes_and_reads_back() {
        let (f, p) = temp_file(8192);
        let mut d = DiskLog::with_file(f, b"test".to_vec(), p.clone(), None, 512, 200).unwrap();
        let mut clean = Bitset::try_new(200, false).unwrap();
        clean.put(3, true);
        clean.put(199, true);
        d.write_all(&clean).unwrap();
        let raw = std::fs::read(&p).unwrap();
        assert_eq!(
            DiskHeader::decode(&raw).unwrap(),
            DiskHeader {
                magic: MIRROR_MAGIC,
                version: 2,
                nr_regions: 200
            }
        );
        assert_eq!(raw[BITS_OFFSET], 0b1000);
        assert_eq!(raw[BITS_OFFSET + 199 / 8], 0b1000_0000);
        clean.put(130, true);
        d.write_words(&clean, 2..3).unwrap();
        let area = d.read().unwrap().to_vec();
        let mut back = Bitset::try_new(200, false).unwrap();
        assert_eq!(
            load_clean_bits(&area, SyncMode::Default, &mut back),
            Loaded::Log { nr_regions: 200 }
        );
        assert_eq!(back, clean);
        d.sync().unwrap();
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn too_small() {
        let (f, p) = temp_file(1024);
        let e = DiskLog::with_file(f, b"7:3".to_vec(), p.clone(), None, 512, 10).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EINVAL));
        assert!(e.message().contains("too small"), "{}", e.message());
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn aligned_buffers() {
        for n in [0, 1, 512, 4096, 10000] {
            let mut b = AlignedBuf::try_new(n).unwrap();
            assert_eq!(b.as_slice().len(), n);
            assert_eq!(b.as_mut_slice().as_ptr() as usize % MEM_ALIGN, 0);
        }
        assert!(AlignedBuf::try_new(usize::MAX).is_err());
    }

    #[test]
    fn device_arguments() {
        assert_eq!(parse_dev(b"253:2"), Some((253, 2)));
        assert_eq!(parse_dev(b"253"), None);
        let e = DiskLog::open(b"/nonexistent/dev", 10, None).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENOENT));
        let e = DiskLog::open(b"/dev/null", 10, None).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EINVAL));
    }
}
