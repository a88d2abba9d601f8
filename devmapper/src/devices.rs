//! Device queries libdevmapper answers from `/proc` and sysfs:
//! `dm_is_dm_major`, `dm_device_get_name`, `dm_device_has_holders` and
//! `dm_device_has_mounted_fs` (all four used by libcryptsetup).
//!
//! Every sysfs path is built from the context's sysfs directory (bytes, with
//! its trailing slash; empty disables sysfs, and then these answer "no").

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

const PROC_DEVICES: &str = "/proc/devices";
const MOUNTINFO: &str = "/proc/self/mountinfo";
/// The name of device-mapper's block major in `/proc/devices`.
const DM_NAME: &str = "device-mapper";
/// libdm reads paths into `PATH_MAX` buffers.
const PATH_MAX: usize = 4096;
use crate::kernel::abi::DM_NAME_LEN;

/// Maps a device-mapper name (from a `/dev/mapper/<name>` in mountinfo) to
/// its device number; see [`device_has_mounted_fs_with`].
pub type DmNameResolver = dyn Fn(&[u8]) -> Option<(u32, u32)>;

/// Cached device-mapper block major (0: not known yet).
static DM_MAJOR: AtomicU32 = AtomicU32::new(0);

use crate::context::Context;
use crate::kernel::sys::{disp, io_errno, sys_msg};

/// A sysfs root and the context whose logger gets the lines.
struct Sys<'a> {
    ctx: &'a Context,
    /// With its trailing slash; empty: sysfs disabled.
    root: Vec<u8>,
}

impl<'a> Sys<'a> {
    fn of(ctx: &'a Context) -> Sys<'a> {
        Sys {
            ctx,
            root: ctx.sysfs_dir(),
        }
    }

    fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// `<root><rel>` as a path, bytes kept.
    fn path(&self, rel: &str) -> PathBuf {
        let mut p = self.root.clone();
        p.extend_from_slice(rel.as_bytes());
        PathBuf::from(std::ffi::OsString::from_vec(p))
    }
}

/// The major registered as `name` in the "Block devices:" section of a
/// `/proc/devices` text.
pub fn parse_proc_devices(text: &str, name: &str) -> Option<u32> {
    let mut in_block = false;
    for line in text.lines() {
        let t = line.trim();
        if t.ends_with(':') {
            in_block = t == "Block devices:";
            continue;
        }
        if !in_block {
            continue;
        }
        let mut it = t.split_whitespace();
        if let (Some(num), Some(n)) = (it.next(), it.next()) {
            if n == name {
                if let Ok(v) = num.parse::<u32>() {
                    return Some(v);
                }
            }
        }
    }
    None
}

/// device-mapper's block major from `/proc/devices`, cached once found
/// (`None` while the dm module is not loaded).
#[inline]
pub fn dm_major(ctx: &Context) -> Option<u32> {
    let cached = DM_MAJOR.load(Ordering::Relaxed);
    if cached != 0 {
        return Some(cached);
    }
    read_dm_major(ctx)
}

/// [`dm_major`] before the major is known: read from `/proc/devices`
/// (out of line: the usual call is one load).
#[cold]
#[inline(never)]
fn read_dm_major(ctx: &Context) -> Option<u32> {
    let text = match fs::read_to_string(PROC_DEVICES) {
        Ok(t) => t,
        Err(err) => {
            crate::log_error!(ctx, "{}", sys_msg("fopen", PROC_DEVICES, io_errno(&err)));
            return None;
        }
    };
    let major = parse_proc_devices(&text, DM_NAME)?;
    if major != 0 {
        DM_MAJOR.store(major, Ordering::Relaxed);
    }
    Some(major)
}

/// `dm_is_dm_major`.
pub fn is_dm_major(ctx: &Context, major: u32) -> bool {
    dm_major(ctx) == Some(major)
}

fn block_path(sysfs: &Sys<'_>, major: u32, minor: u32, suffix: &str) -> PathBuf {
    sysfs.path(&format!("dev/block/{major}:{minor}{suffix}"))
}

/// `_sysfs_get_dm_name`: `<sysfs>dev/block/M:m/dm/name` without its newline.
fn sysfs_dm_name(sysfs: &Sys<'_>, major: u32, minor: u32, buf_size: usize) -> Option<Vec<u8>> {
    let path = block_path(sysfs, major, minor, "/dm/name");
    let mut f = match File::open(&path) {
        Ok(f) => f,
        Err(err) => {
            let e = io_errno(&err);
            if e == libc::ENOENT {
                crate::log_debug!(sysfs.ctx, "{}", sys_msg("fopen", &disp(&path), e));
            } else {
                crate::log_error!(sysfs.ctx, "{}", sys_msg("fopen", &disp(&path), e));
            }
            return None;
        }
    };
    // fgets into a PATH_MAX buffer: the first line, newline included.
    let mut data = Vec::new();
    if let Err(err) = f
        .by_ref()
        .take((PATH_MAX - 1) as u64)
        .read_to_end(&mut data)
    {
        crate::log_error!(
            sysfs.ctx,
            "{}",
            sys_msg("fgets", &disp(&path), io_errno(&err))
        );
        return None;
    }
    if let Some(nl) = data.iter().position(|&b| b == b'\n') {
        data.truncate(nl + 1);
    }
    if data.is_empty() {
        crate::log_error!(sysfs.ctx, "{}", sys_msg("fgets", &disp(&path), 0));
        return None;
    }
    if data.len() > buf_size {
        crate::log_error!(sysfs.ctx, "_sysfs_get_dm_name: supplied buffer too small");
        return None;
    }
    if data.last() == Some(&b'\n') {
        data.pop();
    }
    Some(data)
}

/// Whether `path` holds "major:minor" equal to the given numbers.
fn dev_file_matches(path: &Path, major: u32, minor: u32) -> bool {
    let Ok(s) = fs::read_to_string(path) else {
        return false;
    };
    let mut it = s.trim().splitn(2, ':');
    matches!(
        (it.next().and_then(|a| a.parse::<u32>().ok()), it.next().and_then(|b| b.trim().parse::<u32>().ok())),
        (Some(a), Some(b)) if a == major && b == minor
    )
}

/// Entries `_sysfs_find_kernel_name` does not descend into.
const SKIP: [&str; 16] = [
    "bdi",
    "dev",
    "device",
    "holders",
    "integrity",
    "loop",
    "queue",
    "md",
    "mq",
    "power",
    "removable",
    "slave",
    "slaves",
    "subsystem",
    "trace",
    "uevent",
];

/// `_sysfs_find_kernel_name`: scan `<sysfs>block/*/dev` and one level of
/// partitions below for `major:minor`.
fn sysfs_find_kernel_name(
    sysfs: &Sys<'_>,
    major: u32,
    minor: u32,
    buf_size: usize,
) -> Option<Vec<u8>> {
    if sysfs.is_empty() {
        crate::log_error!(sysfs.ctx, "Failed to build sysfs_path.");
        return None;
    }
    let top = sysfs.path("block/");
    let rd = match fs::read_dir(&top) {
        Ok(rd) => rd,
        Err(err) => {
            // libdm names this directory "<sysfs>/block/" (its sysfs dir
            // already ends in a slash), unlike its other sysfs paths.
            crate::log_error!(
                sysfs.ctx,
                "{}",
                sys_msg("opendir", &disp(&sysfs.path("/block/")), io_errno(&err))
            );
            return None;
        }
    };
    let fits = |name: &[u8]| {
        if name.len() + 1 > buf_size {
            None
        } else {
            Some(name.to_vec())
        }
    };
    for ent in rd.flatten() {
        let name = ent.file_name();
        let dir = top.join(&name);
        if dev_file_matches(&dir.join("dev"), major, minor) {
            return fits(name.as_bytes());
        }
        let sub = match fs::read_dir(&dir) {
            Ok(s) => s,
            Err(err) => {
                let e = io_errno(&err);
                if e != libc::ENOTDIR {
                    crate::log_debug!(sysfs.ctx, "{}", sys_msg("opendir", &disp(&dir), e));
                }
                continue;
            }
        };
        for s in sub.flatten() {
            let sname = s.file_name();
            if SKIP.iter().any(|k| sname.as_bytes() == k.as_bytes()) {
                continue;
            }
            if dev_file_matches(&dir.join(&sname).join("dev"), major, minor) {
                return fits(sname.as_bytes());
            }
        }
    }
    None
}

/// `_sysfs_get_kernel_name`: the basename of the `<sysfs>dev/block/M:m`
/// link (`dm-3`, `sda1`, ...), or a scan of `<sysfs>block` if the link is
/// missing.
fn sysfs_kernel_name(sysfs: &Sys<'_>, major: u32, minor: u32, buf_size: usize) -> Option<Vec<u8>> {
    let path = block_path(sysfs, major, minor, "");
    let target = match fs::read_link(&path) {
        Ok(t) => t,
        Err(err) => {
            let e = io_errno(&err);
            if e == libc::ENOENT {
                crate::log_debug!(sysfs.ctx, "{}", sys_msg("readlink", &disp(&path), e));
                return sysfs_find_kernel_name(sysfs, major, minor, buf_size);
            }
            crate::log_error!(sysfs.ctx, "{}", sys_msg("readlink", &disp(&path), e));
            return None;
        }
    };
    let bytes = target.as_os_str().as_bytes();
    let Some(slash) = bytes.iter().rposition(|&b| b == b'/') else {
        crate::log_error!(
            sysfs.ctx,
            "Could not locate device kernel name in sysfs path {}",
            disp(&target)
        );
        return None;
    };
    let name = &bytes[slash + 1..];
    if name.len() + 1 > buf_size {
        crate::log_error!(sysfs.ctx, "_sysfs_get_kernel_name: output buffer too small");
        return None;
    }
    Some(name.to_vec())
}

fn get_name_in(
    sysfs: &Sys<'_>,
    major: u32,
    minor: u32,
    prefer_kernel_name: bool,
    is_dm: impl FnOnce(u32) -> bool,
    buf_size: usize,
) -> Option<Vec<u8>> {
    if sysfs.is_empty() {
        return None;
    }
    // dm devices: the dm name, unless the kernel name is preferred; fall
    // back to the kernel name.
    if is_dm(major) && !prefer_kernel_name {
        if let Some(n) = sysfs_dm_name(sysfs, major, minor, buf_size) {
            return Some(n);
        }
    }
    sysfs_kernel_name(sysfs, major, minor, buf_size)
}

/// `dm_device_get_name(major, minor, prefer_kernel_name, buf, buf_size)`:
/// the name for a device number, as raw bytes. For device-mapper devices
/// the dm name (`/sys/dev/block/M:m/dm/name`) unless `prefer_kernel_name`;
/// otherwise, and as fallback, the kernel name (`dm-0`, `sda`). `buf_size`
/// is the caller's buffer (libdm fails, with its messages, when the name
/// and its NUL do not fit); pass `usize::MAX` for no limit. `None` when
/// sysfs is disabled or nothing was found.
pub fn device_get_name_into(
    ctx: &Context,
    major: u32,
    minor: u32,
    prefer_kernel_name: bool,
    buf_size: usize,
) -> Option<Vec<u8>> {
    get_name_in(
        &Sys::of(ctx),
        major,
        minor,
        prefer_kernel_name,
        |m| is_dm_major(ctx, m),
        buf_size,
    )
}

/// [`device_get_name_into`] without a size limit.
pub fn device_get_name(
    ctx: &Context,
    major: u32,
    minor: u32,
    prefer_kernel_name: bool,
) -> Option<Vec<u8>> {
    device_get_name_into(ctx, major, minor, prefer_kernel_name, usize::MAX)
}

/// `dm_is_empty_dir`: an unreadable directory counts as not empty.
fn is_empty_dir(ctx: &Context, dir: &Path) -> bool {
    match fs::read_dir(dir) {
        Ok(mut rd) => rd.next().is_none(),
        Err(err) => {
            crate::log_error!(ctx, "{}", sys_msg("opendir", &disp(dir), io_errno(&err)));
            false
        }
    }
}

fn has_holders_in(sysfs: &Sys<'_>, major: u32, minor: u32) -> bool {
    if sysfs.is_empty() {
        return false;
    }
    let path = block_path(sysfs, major, minor, "/holders");
    if let Err(err) = fs::metadata(&path) {
        let e = io_errno(&err);
        if e != libc::ENOENT {
            crate::log_debug!(sysfs.ctx, "{}", sys_msg("stat", &disp(&path), e));
        }
        return false;
    }
    !is_empty_dir(sysfs.ctx, &path)
}

/// `dm_device_has_holders`: `<sysfs>dev/block/M:m/holders/` is not empty.
/// False when sysfs is disabled or the directory is missing.
pub fn device_has_holders(ctx: &Context, major: u32, minor: u32) -> bool {
    has_holders_in(&Sys::of(ctx), major, minor)
}

/// Decode mountinfo's octal escapes (`\040` for a space, ...).
fn unmangle_mountinfo(s: &[u8]) -> Vec<u8> {
    let is_oct = |b: Option<&u8>| matches!(b, Some(b'0'..=b'7'));
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && is_oct(s.get(i + 1)) && is_oct(s.get(i + 2)) && is_oct(s.get(i + 3)) {
            let v = 64 * (s[i + 1] & 7) as u32 + 8 * (s[i + 2] & 7) as u32 + (s[i + 3] & 7) as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// One parsed mountinfo line: device numbers and the (unescaped) mount point.
struct MountLine {
    major: u32,
    minor: u32,
    target: Vec<u8>,
}

/// `_mountinfo_parse_line`: "%*u %*u %u:%u %s %s". A major of 0 with a
/// `/dev/mapper/<name>` in the line (btrfs) is replaced through `resolve`.
fn parse_mountinfo_line(ctx: &Context, line: &[u8], resolve: &DmNameResolver) -> Option<MountLine> {
    let mut f = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let num = |w: Option<&[u8]>| {
        w.and_then(|w| std::str::from_utf8(w).ok())
            .and_then(|s| s.parse::<u32>().ok())
    };
    num(f.next())?;
    num(f.next())?;
    let devno = f.next()?;
    let colon = devno.iter().position(|&b| b == b':')?;
    let mut major = num(Some(&devno[..colon]))?;
    let mut minor = num(Some(&devno[colon + 1..]))?;
    let _root = f.next()?;
    let target = f.next()?;

    const PREFIX: &[u8] = b"/dev/mapper/";
    if major == 0 {
        if let Some(pos) = line.windows(PREFIX.len()).position(|w| w == PREFIX) {
            let rest = &line[pos + PREFIX.len()..];
            let end = rest
                .iter()
                .position(|&b| b == b' ' || b == b'\n')
                .unwrap_or(rest.len());
            let mut name = unmangle_mountinfo(&rest[..end.min(PATH_MAX)]);
            name.truncate(DM_NAME_LEN);
            if let Some((ma, mi)) = resolve(&name) {
                crate::log_debug!(
                    ctx,
                    "Replacing mountinfo device ({}:{}) with matching DM device {} ({}:{}).",
                    major,
                    minor,
                    String::from_utf8_lossy(&name),
                    ma,
                    mi
                );
                major = ma;
                minor = mi;
            }
        }
    }
    Some(MountLine {
        major,
        minor,
        target: unmangle_mountinfo(target),
    })
}

/// `_mounted_fs_on_device`: `<sysfs>fs/<type>/<kernel name>` exists for
/// some filesystem type (ext4, xfs, btrfs ... register their devices there).
fn mounted_fs_on_device(sysfs: &Sys<'_>, kernel_name: &[u8]) -> bool {
    let fsdir = sysfs.path("fs");
    let rd = match fs::read_dir(&fsdir) {
        Ok(rd) => rd,
        Err(err) => {
            let e = io_errno(&err);
            if e != libc::ENOENT {
                crate::log_debug!(sysfs.ctx, "{}", sys_msg("opendir", &disp(&fsdir), e));
            }
            return false;
        }
    };
    let kname = std::ffi::OsStr::from_bytes(kernel_name);
    for ent in rd.flatten() {
        let p = fsdir.join(ent.file_name()).join(kname);
        match fs::metadata(&p) {
            Ok(_) => return true,
            Err(err) => {
                let e = io_errno(&err);
                if e != libc::ENOENT {
                    crate::log_debug!(sysfs.ctx, "{}", sys_msg("stat", &disp(&p), e));
                    break;
                }
            }
        }
    }
    false
}

fn has_mounted_fs_in(
    sysfs: &Sys<'_>,
    mountinfo: Option<&[u8]>,
    major: u32,
    minor: u32,
    is_dm: &dyn Fn(u32) -> bool,
    resolve: &DmNameResolver,
) -> bool {
    let kernel_name = |ma: u32, mi: u32| get_name_in(sysfs, ma, mi, true, is_dm, PATH_MAX);

    let mut mounted = false;
    if let Some(text) = mountinfo {
        // fgets with a 2*PATH_MAX buffer: longer lines arrive in pieces.
        for line in text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .flat_map(|l| l.chunks(2 * PATH_MAX - 1))
        {
            let Some(ml) = parse_mountinfo_line(sysfs.ctx, line, resolve) else {
                crate::log_error!(sysfs.ctx, "Failed to parse mountinfo line.");
                break;
            };
            if ml.major == major && ml.minor == minor {
                let kname = kernel_name(major, minor).unwrap_or_default();
                crate::log_verbose!(
                    sysfs.ctx,
                    "Device {} ({}:{}) appears to be mounted on {}.",
                    String::from_utf8_lossy(&kname),
                    major,
                    minor,
                    String::from_utf8_lossy(&ml.target)
                );
                mounted = true;
            }
        }
    }
    if mounted {
        return true;
    }
    // Mounts in other namespaces: look for the kernel name under /sys/fs.
    match kernel_name(major, minor) {
        Some(k) => mounted_fs_on_device(sysfs, &k),
        None => false,
    }
}

fn read_mountinfo(ctx: &Context) -> Option<Vec<u8>> {
    match fs::read(MOUNTINFO) {
        Ok(v) => Some(v),
        Err(err) => {
            let e = io_errno(&err);
            if e == libc::ENOENT {
                crate::log_debug!(ctx, "{}", sys_msg("fopen", MOUNTINFO, e));
            } else {
                crate::log_error!(ctx, "{}", sys_msg("fopen", MOUNTINFO, e));
            }
            None
        }
    }
}

/// `dm_device_has_mounted_fs`, with `resolve_dm_name` mapping a
/// `/dev/mapper/<name>` to its device number (libdm runs a dm INFO task;
/// used for btrfs, whose mountinfo entries carry a fake major 0).
///
/// True if `/proc/self/mountinfo` lists a mount of `major:minor`, or if
/// `<sysfs>fs/<fstype>/<kernel name>` exists (a filesystem holds the device,
/// possibly mounted in another namespace).
pub fn device_has_mounted_fs_with(
    ctx: &Context,
    major: u32,
    minor: u32,
    resolve_dm_name: &DmNameResolver,
) -> bool {
    let text = read_mountinfo(ctx);
    has_mounted_fs_in(
        &Sys::of(ctx),
        text.as_deref(),
        major,
        minor,
        &|m| is_dm_major(ctx, m),
        resolve_dm_name,
    )
}

/// `dm_device_has_mounted_fs` without the btrfs name resolution.
pub fn device_has_mounted_fs(ctx: &Context, major: u32, minor: u32) -> bool {
    device_has_mounted_fs_with(ctx, major, minor, &|_| None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Tree(PathBuf);
    impl Tree {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "dmrs-sysfs-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).expect("tmpdir");
            Tree(p)
        }
        fn sysfs<'a>(&self, ctx: &'a Context) -> Sys<'a> {
            let mut root = self.0.as_os_str().as_bytes().to_vec();
            root.push(b'/');
            Sys { ctx, root }
        }
        fn mkdir(&self, rel: &str) -> PathBuf {
            let p = self.0.join(rel);
            fs::create_dir_all(&p).unwrap();
            p
        }
        fn write(&self, rel: &str, data: &str) {
            let p = self.0.join(rel);
            if let Some(d) = p.parent() {
                fs::create_dir_all(d).unwrap();
            }
            fs::write(p, data).unwrap();
        }
        /// A block device: /sys/devices/virtual/block/<k> and the
        /// /sys/dev/block/M:m link to it, plus /sys/block/<k>.
        fn dev(&self, kname: &str, major: u32, minor: u32) -> PathBuf {
            let d = self.mkdir(&format!("devices/virtual/block/{kname}"));
            fs::write(d.join("dev"), format!("{major}:{minor}\n")).unwrap();
            self.mkdir("dev/block");
            self.mkdir("block");
            std::os::unix::fs::symlink(
                format!("../../devices/virtual/block/{kname}"),
                self.0.join(format!("dev/block/{major}:{minor}")),
            )
            .unwrap();
            std::os::unix::fs::symlink(
                format!("../devices/virtual/block/{kname}"),
                self.0.join(format!("block/{kname}")),
            )
            .unwrap();
            d
        }
    }
    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const PROC: &str = "Character devices:\n  1 mem\n 10 misc\n253 device-mapper\n\nBlock devices:\n  7 loop\n  8 sd\n252 device-mapper\n259 blkext\n";

    #[test]
    fn proc_devices() {
        assert_eq!(parse_proc_devices(PROC, "device-mapper"), Some(252));
        assert_eq!(parse_proc_devices(PROC, "loop"), Some(7));
        assert_eq!(parse_proc_devices(PROC, "misc"), None);
        assert_eq!(
            parse_proc_devices("Block devices:\n  7 loop\n", "device-mapper"),
            None
        );
        assert_eq!(parse_proc_devices("", "device-mapper"), None);
        // The real file parses without panicking, whatever it holds.
        let c = Context::new();
        let _ = dm_major(&c);
        let _ = is_dm_major(&c, 0);
    }

    #[test]
    fn names() {
        let t = Tree::new();
        let c = Context::new();
        let s = t.sysfs(&c);
        let d = t.dev("dm-3", 252, 3);
        fs::create_dir_all(d.join("dm")).unwrap();
        fs::write(d.join("dm/name"), "vg-lv\n").unwrap();
        t.dev("sda", 8, 0);

        let dm = |m: u32| m == 252;
        assert_eq!(
            get_name_in(&s, 252, 3, false, dm, usize::MAX),
            Some(b"vg-lv".to_vec())
        );
        assert_eq!(
            get_name_in(&s, 252, 3, true, dm, usize::MAX),
            Some(b"dm-3".to_vec())
        );
        assert_eq!(
            get_name_in(&s, 252, 3, false, |_| false, usize::MAX),
            Some(b"dm-3".to_vec())
        );
        assert_eq!(
            get_name_in(&s, 8, 0, false, dm, usize::MAX),
            Some(b"sda".to_vec())
        );
        assert_eq!(get_name_in(&s, 8, 9, false, dm, usize::MAX), None);
        assert_eq!(
            get_name_in(
                &Sys {
                    ctx: &c,
                    root: Vec::new()
                },
                252,
                3,
                false,
                dm,
                usize::MAX
            ),
            None
        );

        // Buffer limits: name + NUL must fit.
        assert_eq!(
            get_name_in(&s, 252, 3, false, dm, 6),
            Some(b"vg-lv".to_vec())
        );
        // dm name does not fit in 5 bytes, kernel name "dm-3" does.
        assert_eq!(
            get_name_in(&s, 252, 3, false, dm, 5),
            Some(b"dm-3".to_vec())
        );
        assert_eq!(get_name_in(&s, 252, 3, true, dm, 4), None);

        // Missing dm/name falls back to the kernel name.
        fs::remove_file(d.join("dm/name")).unwrap();
        assert_eq!(
            get_name_in(&s, 252, 3, false, dm, usize::MAX),
            Some(b"dm-3".to_vec())
        );
    }

    #[test]
    fn name_scan_without_dev_link() {
        let t = Tree::new();
        let c = Context::new();
        let s = t.sysfs(&c);
        // /sys/block/sdb with partition sdb1, no /sys/dev/block links.
        t.write("block/sdb/dev", "8:16\n");
        t.write("block/sdb/sdb1/dev", "8:17\n");
        t.write("block/sdb/holders/dm-9/dev", "8:18\n");
        t.mkdir("dev/block");
        assert_eq!(
            get_name_in(&s, 8, 16, true, |_| false, usize::MAX),
            Some(b"sdb".to_vec())
        );
        assert_eq!(
            get_name_in(&s, 8, 17, true, |_| false, usize::MAX),
            Some(b"sdb1".to_vec())
        );
        assert_eq!(get_name_in(&s, 8, 18, true, |_| false, usize::MAX), None);
    }

    #[test]
    fn holders() {
        let t = Tree::new();
        let c = Context::new();
        let s = t.sysfs(&c);
        let d = t.dev("dm-0", 252, 0);
        assert!(!has_holders_in(&s, 252, 0), "no holders dir");
        fs::create_dir_all(d.join("holders")).unwrap();
        assert!(!has_holders_in(&s, 252, 0), "empty");
        std::os::unix::fs::symlink("../../dm-1", d.join("holders/dm-1")).unwrap();
        assert!(has_holders_in(&s, 252, 0));
        assert!(!has_holders_in(&s, 252, 7), "unknown device");
        assert!(
            !has_holders_in(
                &Sys {
                    ctx: &c,
                    root: Vec::new()
                },
                252,
                0
            ),
            "sysfs disabled"
        );
    }

    #[test]
    fn mountinfo_unescape() {
        assert_eq!(unmangle_mountinfo(br"/mnt/a\040b"), b"/mnt/a b");
        assert_eq!(unmangle_mountinfo(br"/x\\y\08"), br"/x\\y\08");
        let ml = parse_mountinfo_line(
            &Context::new(),
            b"36 35 252:0 / /mnt/my\\040disk rw,relatime shared:1 - ext4 /dev/mapper/x rw",
            &|_| None,
        )
        .unwrap();
        assert_eq!((ml.major, ml.minor), (252, 0));
        assert_eq!(ml.target, b"/mnt/my disk");
        assert!(parse_mountinfo_line(&Context::new(), b"garbage", &|_| None).is_none());
    }

    #[test]
    fn mounted() {
        let t = Tree::new();
        let c = Context::new();
        let s = t.sysfs(&c);
        t.dev("dm-0", 252, 0);
        t.dev("dm-1", 252, 1);
        t.dev("dm-2", 252, 2);
        t.mkdir("fs/ext4/dm-1");
        t.mkdir("fs/xfs");
        let dm = |m: u32| m == 252;
        let none = |_: &[u8]| None;
        let mi: &[u8] = b"22 1 0:21 / /proc rw - proc proc rw\n36 35 252:0 / /mnt rw,relatime shared:1 - ext4 /dev/mapper/vg-a rw\n";

        // Listed in mountinfo.
        assert!(has_mounted_fs_in(&s, Some(mi), 252, 0, &dm, &none));
        // Not listed, but a filesystem registered it under /sys/fs.
        assert!(has_mounted_fs_in(&s, Some(mi), 252, 1, &dm, &none));
        assert!(has_mounted_fs_in(&s, None, 252, 1, &dm, &none));
        // Neither.
        assert!(!has_mounted_fs_in(&s, Some(mi), 252, 2, &dm, &none));
        // btrfs: major 0 with a /dev/mapper name resolved to 252:2.
        let btrfs: &[u8] = b"40 35 0:45 / /data rw shared:2 - btrfs /dev/mapper/vg-b rw\n";
        let resolve = |n: &[u8]| if n == b"vg-b" { Some((252, 2)) } else { None };
        assert!(has_mounted_fs_in(&s, Some(btrfs), 252, 2, &dm, &resolve));
        assert!(!has_mounted_fs_in(&s, Some(btrfs), 252, 2, &dm, &none));
        // Sysfs disabled: only mountinfo counts.
        assert!(has_mounted_fs_in(
            &Sys {
                ctx: &c,
                root: Vec::new()
            },
            Some(mi),
            252,
            0,
            &dm,
            &none
        ));
        assert!(!has_mounted_fs_in(
            &Sys {
                ctx: &c,
                root: Vec::new()
            },
            Some(mi),
            252,
            1,
            &dm,
            &none
        ));
        // A malformed line stops the scan without panicking.
        let bad: &[u8] = b"oops\n36 35 252:0 / /mnt rw - ext4 x rw\n";
        assert!(!has_mounted_fs_in(&s, Some(bad), 252, 2, &dm, &none));
        // The real mountinfo can be read.
        let _ = device_has_mounted_fs(&c, 0, 0);
    }
}
