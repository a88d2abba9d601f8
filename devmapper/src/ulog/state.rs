//! State files: what a server keeps so that it can be restarted under live
//! mirrors.
//!
//! When the server dies, the kernel's logs stay; their next request finds
//! no listener (or gets `ESRCH` from a server that does not know them), and
//! the kernel reconnects: CTR (its argument string now NUL-terminated) and
//! RESUME, then the request again. A server that starts from nothing at
//! that point would answer with bits that are not the kernel's view: a core
//! log would call every region out of sync while the kernel, which saw the
//! mirror in sync, never asks for recovery work again until the device is
//! resumed, and writes to "out of sync" regions go to the first leg only.
//! So every change is written to a small file per log (on a tmpfs such as
//! `/run`) before the reply that depends on it is sent, and a reconnecting
//! log gets its exact state back.
//!
//! One file per `(uuid, luid)`, named `<fnv64(uuid)>-<luid>.state`, all
//! integers little-endian:
//!
//! | Offset | Content |
//! |---|---|
//! | 0 | magic `DMULOGST` |
//! | 8 | format version (1), u32 |
//! | 12 | flags, u32: bit 0 resumed, bit 1 suspended, bit 2 device failed |
//! | 16 | luid, u64 |
//! | 24 | device length (sectors), u64 |
//! | 32 | region size, u64 |
//! | 40 | region count, u64 |
//! | 48 | resync cursor, u64 |
//! | 56 | region being recovered, u64 (`u64::MAX`: none) |
//! | 64 | length of the constructor arguments, u32 |
//! | 72 | uuid, 129 bytes, NUL-padded |
//! | 208 | constructor arguments (after the device length), at most 332 bytes |
//! | 1024 | clean bits, then sync bits: `ceil(regions / 64)` u64 words each |

use super::bitset::{words_for, Bitset, Touched};
use super::codec::Uuid;
use super::log::{Phase, RegionLog, Snapshot};
use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Range;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"DMULOGST";
const VERSION: u32 = 1;
const BITS_AT: u64 = 1024;
const ARGS_AT: usize = 208;
const ARGS_MAX: usize = 1024 - ARGS_AT;
const META: Range<usize> = 12..64;

/// A directory of state files.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
}

/// The open state file of one log.
#[derive(Debug)]
pub struct StateFile {
    file: File,
    path: PathBuf,
    words: u64,
}

/// 64-bit FNV-1a.
fn fnv64(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn meta_bytes(log: &RegionLog) -> [u8; 64] {
    let mut h = [0u8; 64];
    let c = log.config();
    let mut flags = 0u32;
    match log.phase() {
        Phase::Constructed => {}
        Phase::Running => flags |= 1,
        Phase::Suspended => flags |= 1 | 2,
    }
    if log
        .device_health()
        .is_some_and(|h| h != super::log::DeviceHealth::Alive)
    {
        flags |= 4;
    }
    h[0..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&flags.to_le_bytes());
    h[16..24].copy_from_slice(&log.luid().to_le_bytes());
    h[24..32].copy_from_slice(&c.dev_len.to_le_bytes());
    h[32..40].copy_from_slice(&c.region_size.to_le_bytes());
    h[40..48].copy_from_slice(&c.region_count.to_le_bytes());
    h[48..56].copy_from_slice(&log.sync_search_cursor().to_le_bytes());
    h[56..64].copy_from_slice(&log.recovering().unwrap_or(u64::MAX).to_le_bytes());
    h
}

fn le64(b: &[u8], off: usize) -> Option<u64> {
    let mut a = [0u8; 8];
    a.copy_from_slice(b.get(off..off + 8)?);
    Some(u64::from_le_bytes(a))
}

fn le32(b: &[u8], off: usize) -> Option<u32> {
    let mut a = [0u8; 4];
    a.copy_from_slice(b.get(off..off + 4)?);
    Some(u32::from_le_bytes(a))
}

impl StateDir {
    /// Use (and create, mode 0700) this directory.
    pub fn open(dir: &Path) -> io::Result<StateDir> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        Ok(StateDir {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn file_path(&self, uuid: &Uuid, luid: u64) -> PathBuf {
        self.dir.join(format!(
            "{:016x}-{:016x}.state",
            fnv64(uuid.as_bytes()),
            luid
        ))
    }

    /// Write a new state file for a log (replacing any old one).
    pub fn create(&self, log: &mut RegionLog) -> io::Result<StateFile> {
        let path = self.file_path(log.uuid(), log.luid());
        let tmp = path.with_extension("new");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        let words = words_for(log.config().region_count);
        let mut head = vec![0u8; BITS_AT as usize];
        head[..64].copy_from_slice(&meta_bytes(log));
        let args = &log.config().args;
        let n = args.len().min(ARGS_MAX);
        head[64..68].copy_from_slice(&(n as u32).to_le_bytes());
        head[72..72 + 129].copy_from_slice(log.uuid().field());
        head[ARGS_AT..ARGS_AT + n].copy_from_slice(&args[..n]);
        file.write_all_at(&head, 0)?;
        let mut sf = StateFile {
            file,
            path: path.clone(),
            words,
        };
        let all = 0..words as usize;
        sf.write_bits(log.clean_bits(), all.clone(), 0)?;
        sf.write_bits(log.sync_bits(), all, words)?;
        std::fs::rename(&tmp, &path)?;
        log.saved_clean = Touched::none();
        log.saved_sync = Touched::none();
        log.saved_meta = false;
        Ok(sf)
    }

    /// The saved state of `(uuid, luid)`, when a file exists and was
    /// written for the same constructor arguments and sizes.
    pub fn load(&self, uuid: &Uuid, luid: u64, log: &RegionLog) -> io::Result<Option<Snapshot>> {
        let path = self.file_path(uuid, luid);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(parse(&data, uuid, luid, log))
    }

    /// Remove the state file of `(uuid, luid)` (missing is fine).
    pub fn remove(&self, uuid: &Uuid, luid: u64) {
        let _ = std::fs::remove_file(self.file_path(uuid, luid));
    }
}

fn parse(data: &[u8], uuid: &Uuid, luid: u64, log: &RegionLog) -> Option<Snapshot> {
    let c = log.config();
    if data.get(0..8)? != MAGIC || le32(data, 8)? != VERSION {
        return None;
    }
    let flags = le32(data, 12)?;
    if le64(data, 16)? != luid
        || le64(data, 24)? != c.dev_len
        || le64(data, 32)? != c.region_size
        || le64(data, 40)? != c.region_count
    {
        return None;
    }
    let n = le32(data, 64)? as usize;
    let want = c.args.get(..c.args.len().min(ARGS_MAX))?;
    if n > ARGS_MAX || data.get(ARGS_AT..ARGS_AT + n)? != want {
        return None;
    }
    let mut field = [0u8; 129];
    field.copy_from_slice(data.get(72..72 + 129)?);
    if Uuid::from_field(field) != *uuid {
        return None;
    }
    let words = words_for(c.region_count) as usize;
    let bytes = words.checked_mul(8)?;
    let at = BITS_AT as usize;
    let clean_b = data.get(at..at + bytes)?;
    let sync_b = data.get(at + bytes..at + 2 * bytes)?;
    let mut clean = Bitset::try_new(c.region_count, false).ok()?;
    let mut sync = Bitset::try_new(c.region_count, false).ok()?;
    clean.read_le(clean_b, c.region_count);
    sync.read_le(sync_b, c.region_count);
    let recovering = le64(data, 56)?;
    Some(Snapshot {
        clean,
        sync,
        sync_search: le64(data, 48)?.min(c.region_count),
        recovering: (recovering != u64::MAX).then_some(recovering),
        phase: match flags & 3 {
            0 => Phase::Constructed,
            1 => Phase::Running,
            _ => Phase::Suspended,
        },
        dev_failed: flags & 4 != 0,
    })
}

impl StateFile {
    fn write_bits(&mut self, bits: &Bitset, words: Range<usize>, base_word: u64) -> io::Result<()> {
        if words.is_empty() {
            return Ok(());
        }
        // A request changes a word or two: no allocation for those.
        let mut small = [0u8; 64];
        let mut large = Vec::new();
        let n = words.len() * 8;
        let buf = match small.get_mut(..n) {
            Some(b) => b,
            None => {
                large.resize(n, 0u8);
                &mut large[..]
            }
        };
        bits.write_le(words.clone(), buf);
        self.file
            .write_all_at(buf, BITS_AT + (base_word + words.start as u64) * 8)
    }

    /// Write what changed in `log` since the last call.
    pub fn update(&mut self, log: &mut RegionLog) -> io::Result<()> {
        if let Some(r) = log.saved_clean.take() {
            self.write_bits(log.clean_bits(), r, 0)?;
        }
        if let Some(r) = log.saved_sync.take() {
            self.write_bits(log.sync_bits(), r, self.words)?;
        }
        if std::mem::take(&mut log.saved_meta) {
            let m = meta_bytes(log);
            self.file.write_all_at(&m[META], META.start as u64)?;
        }
        Ok(())
    }

    /// Delete the file (the log was destroyed).
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::super::ctr::parse_ctr;
    use super::*;

    fn dir() -> StateDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let d = std::env::temp_dir().join(format!(
            "dmrs-ulog-state-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        StateDir::open(&d).unwrap()
    }

    fn log(args: &str, luid: u64) -> RegionLog {
        RegionLog::new(
            Uuid::new(b"LVM-abc").unwrap(),
            luid,
            parse_ctr(args.as_bytes()).unwrap(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn save_update_load() {
        let sd = dir();
        let mut l = log("100000 clustered-core 64", 7);
        let mut f = sd.create(&mut l).unwrap();
        l.resume().unwrap();
        for _ in 0..100 {
            let p = l.get_resync_work().unwrap();
            let r = u64::from_ne_bytes(p.as_bytes()[8..].try_into().unwrap());
            l.set_region_sync(r, true).unwrap();
        }
        l.get_resync_work().unwrap();
        l.mark([5u64, 1000].into_iter()).unwrap();
        f.update(&mut l).unwrap();
        let fresh = log("100000 clustered-core 64", 7);
        let snap = sd.load(l.uuid(), 7, &fresh).unwrap().unwrap();
        assert_eq!(snap, l.snapshot());
        assert_eq!(snap.recovering, Some(100));
        assert_eq!(snap.phase, Phase::Running);
        // Other luid, other arguments: nothing.
        assert!(sd.load(l.uuid(), 8, &fresh).unwrap().is_none());
        let other = log("100000 clustered-core 64 nosync", 7);
        assert!(sd.load(l.uuid(), 7, &other).unwrap().is_none());
        f.remove();
        assert!(sd.load(l.uuid(), 7, &fresh).unwrap().is_none());
        std::fs::remove_dir_all(sd.path()).unwrap();
    }

    #[test]
    fn garbage_is_ignored() {
        let sd = dir();
        let l = log("1000 clustered-core 64", 1);
        std::fs::write(sd.file_path(l.uuid(), 1), b"DMULOGST\x01\0\0\0 short").unwrap();
        assert!(sd.load(l.uuid(), 1, &l).unwrap().is_none());
        std::fs::remove_dir_all(sd.path()).unwrap();
    }
}
