//! Scaffolding shared by the examples (not part of the library): scratch
//! files, loop devices made with `losetup`, block I/O that bypasses the page
//! cache, and [`Lab`], which removes every device an example made and
//! detaches every loop device when it is dropped, on every exit path
//! (success, `?` error or panic).
//!
//! Every example needs root, a kernel with device-mapper, `losetup`, and
//! writes its scratch files under `$DM_EXAMPLES_DIR` (default `/tmp`).

#![allow(dead_code)] // each example uses a different part of this module

use devmapper::targets::DevRef;
use devmapper::units::Sectors;
use devmapper::{DevId, DeviceMapper, DmName, RemoveOptions};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the examples' `main` returns.
pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The I/O unit of the helpers below (and the alignment `O_DIRECT` wants).
pub const BLOCK: usize = 4096;

/// Mebibytes as sectors (checked: an error rather than an overflow).
pub fn mib(n: u64) -> Res<Sectors> {
    Ok(Sectors::from_mib(n).ok_or("size out of range")?)
}

/// A loop device over a scratch file.
#[derive(Clone, Debug)]
pub struct Loop {
    /// `/dev/loopN`.
    pub path: PathBuf,
    /// The same device as a device number, for target parameters.
    pub dev: DevRef,
    /// Its size.
    pub size: Sectors,
    /// The backing file.
    pub file: PathBuf,
}

/// Everything an example made: removed (devices, newest first), detached
/// (loop devices) and deleted (the scratch directory) when dropped.
pub struct Lab {
    /// The handle on the driver.
    pub dm: DeviceMapper,
    prefix: String,
    dir: PathBuf,
    names: Vec<DmName>,
    loops: Vec<PathBuf>,
}

impl Lab {
    /// Start an example: a handle on device-mapper and a scratch directory.
    pub fn new(example: &str) -> Res<Lab> {
        let dm = DeviceMapper::new()
            .map_err(|e| format!("device-mapper is not usable here (root? dm-mod?): {e}"))?;
        let base = std::env::var_os("DM_EXAMPLES_DIR").unwrap_or_else(|| "/tmp".into());
        let dir = Path::new(&base).join(format!("rsex-{example}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Lab {
            dm,
            prefix: format!("rsex-{example}"),
            dir,
            names: Vec::new(),
            loops: Vec::new(),
        })
    }

    /// A device name for this example (`rsex-<example>-<what>`), remembered
    /// so that the device is removed at the end whether or not it gets made.
    pub fn name(&mut self, what: &str) -> Res<DmName> {
        let n = DmName::new(format!("{}-{what}", self.prefix))?;
        self.names.push(n.clone());
        Ok(n)
    }

    /// Forget a name whose device the example removed itself.
    pub fn forget(&mut self, name: &DmName) {
        self.names.retain(|n| n != name);
    }

    /// A sparse scratch file of `size`.
    pub fn scratch_file(&self, what: &str, size: Sectors) -> Res<PathBuf> {
        let path = self.dir.join(format!("{what}.img"));
        File::create(&path)?.set_len(size.bytes().ok_or("size out of range")?.get())?;
        Ok(path)
    }

    /// Attach a file to a free loop device.
    pub fn attach(&mut self, file: &Path) -> Res<Loop> {
        let out = Command::new("losetup")
            .arg("--find")
            .arg("--show")
            .arg(file)
            .output()?;
        if !out.status.success() {
            return Err(format!("losetup: {}", String::from_utf8_lossy(&out.stderr).trim()).into());
        }
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        self.loops.push(path.clone());
        let dev = DevRef::from_node(&path)?;
        let size = Sectors(std::fs::metadata(file)?.len() / 512);
        Ok(Loop {
            path,
            dev,
            size,
            file: file.to_path_buf(),
        })
    }

    /// A loop device over a new sparse file of `size`.
    pub fn loop_device(&mut self, what: &str, size: Sectors) -> Res<Loop> {
        let file = self.scratch_file(what, size)?;
        let l = self.attach(&file)?;
        println!(
            "  loop device {} ({} MiB, {})",
            l.path.display(),
            size.0 / 2048,
            l.dev
        );
        Ok(l)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let retry = RemoveOptions {
            retry: true,
            ..Default::default()
        };
        for n in self.names.iter().rev() {
            let id = DevId::Name(n.clone());
            if matches!(self.dm.exists(&id), Ok(true)) {
                if let Err(e) = self.dm.remove(&id, retry) {
                    eprintln!("cleanup: removing {n}: {e}");
                }
            }
        }
        for l in self.loops.iter().rev() {
            let _ = Command::new("losetup").arg("--detach").arg(l).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A buffer of `len` bytes aligned for `O_DIRECT`, carved out of a larger
/// vector (no unsafe needed).
fn aligned(len: usize) -> (Vec<u8>, usize) {
    let v = vec![0u8; len + BLOCK];
    let off = v.as_ptr().align_offset(BLOCK);
    (v, off)
}

fn open_direct(path: &Path, write: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_DIRECT)
        .open(path)
}

/// Write `data` (a whole number of blocks) at byte `offset`, bypassing the
/// page cache, and flush the device's write cache.
pub fn write_direct(path: &Path, offset: u64, data: &[u8]) -> io::Result<()> {
    let f = open_direct(path, true)?;
    let (mut v, off) = aligned(data.len());
    let buf = &mut v[off..off + data.len()];
    buf.copy_from_slice(data);
    f.write_all_at(buf, offset)?;
    f.sync_all()
}

/// Read `len` bytes (a whole number of blocks) at byte `offset`, bypassing
/// the page cache.
pub fn read_direct(path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let f = open_direct(path, false)?;
    let (mut v, off) = aligned(len);
    let buf = &mut v[off..off + len];
    f.read_exact_at(buf, offset)?;
    Ok(buf.to_vec())
}

/// A block of recognisable content: `tag` repeated.
pub fn pattern(tag: &str, len: usize) -> Vec<u8> {
    tag.bytes().cycle().take(len).collect()
}

/// The first bytes of a buffer as text, for printing.
pub fn preview(b: &[u8]) -> String {
    let n = b.len().min(24);
    b[..n]
        .iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                char::from(c)
            } else {
                '.'
            }
        })
        .collect()
}

/// Whether the kernel has a target type (loading its module if needed).
pub fn has_target(dm: &DeviceMapper, target_type: &str) -> Option<[u32; 3]> {
    dm.target_version(target_type).ok().map(|v| v.version)
}

/// Report that the example cannot run here; the runner counts it skipped.
pub fn skip(reason: &str) -> Res<()> {
    println!("SKIP: {reason}");
    Ok(())
}

/// Fail with a message (for checks an example makes on what it sees).
pub fn check(ok: bool, what: &str) -> Res<()> {
    if ok {
        println!("  ok: {what}");
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

/// A table as `dmsetup table` prints it, indented; the parameters of
/// key-carrying targets (crypt, integrity) are left out.
pub fn show(t: &devmapper::targets::Table) -> String {
    let mut s = String::new();
    for l in t.lines() {
        use devmapper::targets::{IntegrityOption as O, Target};
        let ty = String::from_utf8_lossy(l.target.target_type()).into_owned();
        let keyed = match &l.target {
            Target::Crypt(_) => true,
            Target::Integrity(p) => p.options.0.iter().any(|o| {
                matches!(o, O::InternalHash(a) | O::JournalCrypt(a) | O::JournalMac(a)
                    if a.key_hex.is_some())
            }),
            _ => false,
        };
        let params = if keyed {
            "<parameters not shown: they carry a key>".to_string()
        } else {
            String::from_utf8_lossy(l.target.to_params().as_bytes()).into_owned()
        };
        s.push_str(&format!("  {} {} {ty} {params}\n", l.start, l.length));
    }
    s
}
