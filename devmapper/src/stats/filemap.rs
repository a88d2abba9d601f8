//! File maps: one region per extent of a file on the bound device, grouped
//! (`dm_stats_create_regions_from_fd`, `dm_stats_update_regions_from_fd`),
//! and the `dmfilemapd` daemon that keeps them up to date.

use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::error::{Note, Result, StatsError, StatsErrorKind};
use super::histogram::{build_histogram_arg, Histogram};
use super::transport::StatsTransport;
use super::Stats;
use crate::kernel::fiemap::{
    self, FiemapExtent, FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_LAST, FIEMAP_EXTENT_UNKNOWN,
    FIEMAP_FLAG_SYNC,
};

const SECTOR_SHIFT: u32 = 9;
const BTRFS_SUPER_MAGIC: i64 = 0x9123_683e;

/// One extent of a file as stock maps it: 512-byte sectors on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileExtent {
    /// Index of the extent in the file's map.
    pub id: u64,
    /// First sector on the device.
    pub start: u64,
    /// Length in sectors.
    pub len: u64,
}

/// Stock's extent accumulator (`_stats_map_extents`): logically adjacent
/// FIEMAP extents that are also physically contiguous are merged;
/// `UNKNOWN`/`DELALLOC` extents are skipped; `LAST` ends the map. Other
/// flags (`UNWRITTEN`, `DATA_INLINE`, `MERGED`, ...) are not looked at.
#[derive(Clone, Debug, Default)]
pub struct ExtentMapper {
    last: FiemapExtent,
    pending: FiemapExtent,
    eof: bool,
    next_start: u64,
    extents: Vec<FileExtent>,
}

impl ExtentMapper {
    /// A new, empty map.
    pub fn new() -> ExtentMapper {
        ExtentMapper::default()
    }

    fn add(&mut self, e: FiemapExtent) {
        self.extents.push(FileExtent {
            id: self.extents.len() as u64,
            start: e.fe_physical >> SECTOR_SHIFT,
            len: e.fe_length >> SECTOR_SHIFT,
        });
    }

    /// Feed the extents of one FIEMAP reply (non-empty).
    pub fn feed(&mut self, exts: &[FiemapExtent]) {
        let Some(tail) = exts.last().copied() else {
            return;
        };
        for e in exts {
            let expected = self.last.fe_physical.wrapping_add(self.last.fe_length);
            if e.fe_flags & FIEMAP_EXTENT_LAST != 0 {
                self.eof = true;
            }
            if e.fe_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC) != 0 {
                continue;
            }
            if self.pending.fe_length != 0 && e.fe_logical != 0 && e.fe_physical != expected {
                let p = self.pending;
                self.add(p);
                self.pending = *e;
            } else if self.pending.fe_length == 0 || e.fe_logical == 0 {
                self.pending = *e;
            } else {
                self.pending.fe_length = self.pending.fe_length.wrapping_add(e.fe_length);
            }
            self.last = *e;
        }
        if self.eof || tail.fe_logical == 0 {
            let p = self.pending;
            self.add(p);
        }
        self.next_start = tail.fe_logical.wrapping_add(tail.fe_length);
    }

    /// Whether an extent flagged `LAST` was seen.
    pub fn eof(&self) -> bool {
        self.eof
    }

    /// The logical offset the next FIEMAP call starts at.
    pub fn next_start(&self) -> u64 {
        self.next_start
    }

    /// The extents found so far.
    pub fn extents(&self) -> &[FileExtent] {
        &self.extents
    }
}

/// Read a file's extents with FIEMAP as stock does (`FIEMAP_FLAG_SYNC`, 36
/// extents per call, until `LAST` or an empty reply).
pub fn file_extents(fd: BorrowedFd<'_>) -> Result<Vec<FileExtent>> {
    let mut m = ExtentMapper::new();
    loop {
        let r = fiemap::fiemap(fd, m.next_start(), u64::MAX, FIEMAP_FLAG_SYNC).map_err(|e| {
            let errno = e.raw_os_error().unwrap_or(libc::EIO);
            let err = if errno == libc::EBADR {
                StatsError::new(
                    StatsErrorKind::Unsupported,
                    format!("FIEMAP failed with unknown flags {FIEMAP_FLAG_SYNC:x}."),
                )
            } else {
                StatsError::silent(StatsErrorKind::Io)
            };
            err.with_errno(errno)
        })?;
        if r.extents.is_empty() {
            break;
        }
        m.feed(&r.extents);
        if m.eof() {
            break;
        }
    }
    if m.extents().is_empty() {
        return Err(StatsError::new(
            StatsErrorKind::NotFound,
            "Cannot map file: no allocated extents.",
        ));
    }
    Ok(m.extents)
}

fn find_extent(exts: &[FileExtent], start: u64, len: u64) -> Option<&FileExtent> {
    exts.iter().find(|e| e.start == start && e.len == len)
}

impl<T: StatsTransport> Stats<T> {
    /// Stock's checks on the file: not btrfs, a regular file, on a dm device.
    fn check_map_fd(&self, fd: BorrowedFd<'_>, group_id: u64) -> Result<()> {
        let raw = fd.as_raw_fd();
        let sfs = nix::sys::statfs::fstatfs(fd).map_err(|e| {
            StatsError::new(StatsErrorKind::Io, format!("fstatfs failed for fd {raw}"))
                .with_errno(e as i32)
        })?;
        if sfs.filesystem_type().0 as i64 == BTRFS_SUPER_MAGIC {
            return Err(StatsError::new(
                StatsErrorKind::Unsupported,
                "Cannot map file: btrfs does not provide physical FIEMAP extent data.",
            ));
        }
        let st = nix::sys::stat::fstat(raw).map_err(|e| {
            StatsError::new(StatsErrorKind::Io, format!("fstat failed for fd {raw}"))
                .with_errno(e as i32)
        })?;
        if st.st_mode & libc::S_IFREG == 0 {
            return Err(StatsError::invalid("Not a regular file"));
        }
        let (major, minor) = (libc::major(st.st_dev), libc::minor(st.st_dev));
        if !self.transport.is_dm_major(major) {
            return Err(StatsError::invalid(
                "Cannot map file: not a device-mapper device.",
            ));
        }
        if self.group_present(group_id) {
            crate::log_info!(
                self.transport.context(),
                "Updating extents from fd {raw} with group ID {group_id} on ({major}:{minor})"
            );
        } else {
            crate::log_info!(
                self.transport.context(),
                "Mapping extents from fd {raw} on ({major}:{minor})"
            );
        }
        Ok(())
    }

    /// The extents of `fd`, logged as stock reads them. A failure is logged
    /// here (stock follows it with a line of its own) and returned silent.
    fn read_extents(&self, fd: BorrowedFd<'_>) -> Result<Vec<FileExtent>> {
        let raw = fd.as_raw_fd();
        let ctx = self.transport.context();
        match file_extents(fd) {
            Ok(exts) => {
                for e in &exts {
                    crate::log_info!(ctx, "Extent {} on fd {raw} at {}+{}", e.id, e.start, e.len);
                }
                Ok(exts)
            }
            Err(e) => {
                for l in e.log_lines() {
                    crate::log_error!(ctx, "{}", l);
                }
                crate::log_info!(ctx, "No extents found in fd {raw}");
                Err(e.silently())
            }
        }
    }

    /// `_stats_cleanup_region_ids`: delete regions created by a failed map.
    fn cleanup_region_ids(&mut self, ids: &[u64]) {
        for (i, &id) in ids.iter().enumerate() {
            if let Err(e) = self.delete_region_raw(id) {
                for l in e.log_lines() {
                    crate::log_error!(self.transport.context(), "{}", l);
                }
                // Stock prints the index, not the id.
                crate::log_error!(self.transport.context(), "Could not delete region {}.", i);
            }
        }
    }

    /// First update pass: delete the group's regions whose extent is gone and
    /// return the kept ones.
    fn unmap_regions(
        &mut self,
        group_id: u64,
        extents: Option<&[FileExtent]>,
        regroup: &mut bool,
    ) -> Result<Vec<FileExtent>> {
        crate::log_info!(
            self.transport.context(),
            "Checking for changed file extents in group ID {group_id}"
        );
        let members: Vec<u64> = self
            .group(group_id)
            .map(|g| g.regions.iter().rev().copied().collect())
            .unwrap_or_default();
        let nr_old = members.len();
        let mut kept = Vec::new();
        for i in members {
            let (start, len) = self.region(i).map(|r| (r.start, r.len)).unwrap_or((0, 0));
            if extents.is_some_and(|e| find_extent(e, start, len).is_some())
                && self.region(i).is_some()
            {
                kept.push(FileExtent { id: i, start, len });
                crate::log_info!(self.transport.context(), "Kept region {}", i);
            } else {
                if i == group_id {
                    *regroup = true;
                }
                self.delete_region_raw(i)
                    .map_err(|e| e.note(format!("Could not remove region ID {i}")))?;
                crate::log_info!(self.transport.context(), "Deleted region {}", i);
            }
        }
        let found = extents.map_or(0, <[FileExtent]>::len);
        crate::log_info!(
            self.transport.context(),
            "Kept {} of {nr_old} old extents",
            kept.len()
        );
        crate::log_info!(
            self.transport.context(),
            "Found {} new extents",
            found.wrapping_sub(kept.len())
        );
        Ok(kept)
    }

    /// `_stats_map_file_regions` over an already-read extent list (`Err`:
    /// the extents could not be read).
    fn map_file_regions(
        &mut self,
        extents: Result<Vec<FileExtent>>,
        bounds: Option<&Histogram>,
        precise: bool,
        group_id: u64,
        regroup: &mut bool,
    ) -> Result<Vec<u64>> {
        let update = self.group_present(group_id);
        let extents = match extents {
            Ok(e) => Some(e),
            Err(e) if !update => return Err(e),
            Err(e) => {
                for l in e.log_lines() {
                    crate::log_error!(self.transport.context(), "{}", l);
                }
                None
            }
        };
        let count = extents.as_ref().map_or(0, Vec::len);
        // Stock keeps the members in a bitmap sized by the highest member
        // when listed, and grows it (logging the sizes) for new members.
        let mut bitmap_bits = self
            .group(group_id)
            .and_then(|g| g.regions.last())
            .map_or(0, |&l| l.wrapping_add(1));
        let old = if update {
            self.unmap_regions(group_id, extents.as_deref(), regroup)?
        } else {
            Vec::new()
        };
        let mut precise = precise;
        let hist_arg = match bounds {
            Some(b) => Some(build_histogram_arg(b, &mut precise)?),
            None => None,
        };
        let mut ids: Vec<u64> = Vec::new();
        ids.try_reserve(count)
            .map_err(|_| StatsError::invalid("Could not allocate memory for region IDs."))?;
        let pid = self.program_id.clone();
        for (i, e) in extents.iter().flatten().enumerate() {
            if update {
                if let Some(o) = find_extent(&old, e.start, e.len) {
                    ids.push(o.id);
                    continue;
                }
            }
            match self.create_region_raw(
                e.start,
                e.len,
                -1,
                precise,
                hist_arg.as_deref(),
                Some(&pid),
                b"",
            ) {
                Ok(id) => {
                    crate::log_info!(
                        self.transport.context(),
                        "Created new region mapping {}+{} with region ID {}",
                        e.start,
                        e.len,
                        id
                    );
                    ids.push(id);
                    if !*regroup && update {
                        if id > bitmap_bits.wrapping_sub(1) {
                            let num_bits = id.wrapping_add(count as u64);
                            let last_bit = self
                                .group(group_id)
                                .and_then(|g| g.regions.last().copied())
                                .unwrap_or(u64::MAX);
                            crate::log_info!(
                                self.transport.context(),
                                "Resizing group bitmap from {bitmap_bits} to {num_bits} (last_bit: {last_bit})."
                            );
                            bitmap_bits = num_bits;
                        }
                        if let Some(Some(g)) = self
                            .groups
                            .as_mut()
                            .and_then(|t| t.get_mut(usize::try_from(group_id).ok()?))
                        {
                            g.regions.insert(id);
                        }
                    }
                }
                Err(err) => {
                    let err = err.note(format!(
                        "Failed to create region {i} of {count} at {}.",
                        e.start
                    ));
                    for l in err.log_lines() {
                        crate::log_error!(self.transport.context(), "{}", l);
                    }
                    if self.list(None).is_ok() {
                        self.cleanup_region_ids(&ids);
                    }
                    return Err(StatsError::silent(err.kind()));
                }
            }
        }
        if !*regroup && update {
            let aux = self
                .region(group_id)
                .map(|r| r.aux_data.clone())
                .unwrap_or_default();
            if let Err(e) = self.set_aux(group_id, &aux) {
                for l in e.log_lines() {
                    crate::log_error!(self.transport.context(), "{}", l);
                }
                crate::log_error!(self.transport.context(), "Failed to update group aux_data.");
            }
        }
        Ok(ids)
    }

    /// `_stats_group_file_regions`.
    fn group_file_regions(&mut self, ids: &[u64], alias: Option<&[u8]>) -> Result<u64> {
        let set: BTreeSet<u64> = ids.iter().copied().collect();
        if !self.check_overlap(&set) {
            crate::log_info!(
                self.transport.context(),
                "Creating group with overlapping regions."
            );
        }
        self.create_group_raw(set, alias)
    }

    /// `dm_stats_create_regions_from_fd`: one region per extent of the file
    /// `fd` (on the bound device), grouped with `alias` unless `group` is
    /// false. Returns the new region ids (the C array adds the
    /// [`super::DM_STATS_REGION_NOT_PRESENT`] terminator).
    pub fn create_regions_from_fd(
        &mut self,
        fd: BorrowedFd<'_>,
        group: bool,
        precise: bool,
        bounds: Option<&Histogram>,
        alias: Option<&[u8]>,
    ) -> Result<Vec<u64>> {
        if alias.is_some() && !group {
            return Err(StatsError::invalid(
                "Cannot set alias without grouping regions.",
            ));
        }
        self.check_map_fd(fd, super::DM_STATS_GROUP_NONE)?;
        let extents = self.read_extents(fd);
        self.create_regions_from_extents(extents, group, precise, bounds, alias)
    }

    /// The part of [`Stats::create_regions_from_fd`] after FIEMAP (for
    /// callers that read extents themselves, and for tests).
    pub fn create_regions_from_extents(
        &mut self,
        extents: Result<Vec<FileExtent>>,
        group: bool,
        precise: bool,
        bounds: Option<&Histogram>,
        alias: Option<&[u8]>,
    ) -> Result<Vec<u64>> {
        if alias.is_some() && !group {
            return Err(StatsError::invalid(
                "Cannot set alias without grouping regions.",
            ));
        }
        let mut regroup = true;
        let ids = self.map_file_regions(
            extents,
            bounds,
            precise,
            super::DM_STATS_GROUP_NONE,
            &mut regroup,
        )?;
        if !group {
            return Ok(ids);
        }
        let r = self
            .list(None)
            .and_then(|_| self.group_file_regions(&ids, alias));
        if let Err(e) = r {
            for l in e.log_lines() {
                crate::log_error!(self.transport.context(), "{}", l);
            }
            self.cleanup_region_ids(&ids);
            return Err(StatsError::silent(e.kind()));
        }
        Ok(ids)
    }

    /// `dm_stats_update_regions_from_fd`: bring the file-mapped group
    /// `group_id` up to date with the file's extents (deleting regions of
    /// extents that are gone, creating regions for new ones, regrouping if
    /// the leader went). Returns every region id of the map.
    pub fn update_regions_from_fd(
        &mut self,
        fd: BorrowedFd<'_>,
        group_id: u64,
    ) -> Result<Vec<u64>> {
        self.update_prepare(group_id)?;
        self.check_map_fd(fd, group_id)?;
        let extents = self.read_extents(fd);
        self.update_regions_from_extents(extents, group_id)
    }

    fn update_prepare(&mut self, group_id: u64) -> Result<()> {
        if self.regions.is_none() || !self.group_present(group_id) {
            let pid = self.program_id.clone();
            self.list(Some(&pid)).map_err(|e| {
                e.note(format!(
                    "Could not obtain region list while updating group {group_id}."
                ))
            })?;
        }
        if !self.group_present(group_id) {
            return Err(StatsError::new(
                StatsErrorKind::NotFound,
                format!("Group ID {group_id} does not exist."),
            ));
        }
        Ok(())
    }

    /// The part of [`Stats::update_regions_from_fd`] after FIEMAP.
    pub fn update_regions_from_extents(
        &mut self,
        extents: Result<Vec<FileExtent>>,
        group_id: u64,
    ) -> Result<Vec<u64>> {
        self.update_prepare(group_id)?;
        let mut regroup = false;
        let alias = self.group(group_id).and_then(|g| g.alias.clone());
        let bounds = self.region(group_id).and_then(|r| r.bounds.clone());
        // Stock copies the leader's bounds, final u64::MAX bin included.
        let bounds = bounds.map(|b| {
            let mut b = b;
            for x in b.bins.iter_mut() {
                x.count = 0;
            }
            b.sum = 0;
            b
        });
        let precise = self.region(group_id).is_some_and(|r| r.timescale == 1);
        let ids =
            self.map_file_regions(extents, bounds.as_ref(), precise, group_id, &mut regroup)?;
        let r = self.list(None).and_then(|_| {
            if regroup && !ids.is_empty() {
                self.group_file_regions(&ids, alias.as_deref()).map(|_| ())
            } else {
                Ok(())
            }
        });
        if let Err(e) = r {
            for l in e.log_lines() {
                crate::log_error!(self.transport.context(), "{}", l);
            }
            self.cleanup_region_ids(&ids);
            return Err(StatsError::silent(e.kind()));
        }
        Ok(ids)
    }
}

/// `dm_filemapd_mode_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum FilemapdMode {
    /// `DM_FILEMAPD_FOLLOW_INODE`: follow the open file.
    FollowInode = 0,
    /// `DM_FILEMAPD_FOLLOW_PATH`: follow the path.
    FollowPath = 1,
    /// `DM_FILEMAPD_FOLLOW_NONE`: the error value.
    FollowNone = 2,
}

/// `dm_filemapd_mode_from_string`: "inode" or "path" (`None`: inode). On
/// error the C function logs the error line and returns
/// `DM_FILEMAPD_FOLLOW_NONE`.
pub fn filemapd_mode_from_string(mode: Option<&[u8]>) -> Result<FilemapdMode> {
    match mode {
        None | Some(b"inode") => Ok(FilemapdMode::FollowInode),
        Some(b"path") => Ok(FilemapdMode::FollowPath),
        Some(m) => Err(StatsError::invalid(format!(
            "Could not parse dmfilemapd mode: {}",
            String::from_utf8_lossy(m)
        ))),
    }
}

/// What [`start_filemapd`] did in the background mode.
#[derive(Debug, PartialEq, Eq)]
pub enum FilemapdStart {
    /// The daemon process was started (`dmfilemapd` daemonizes itself).
    Started {
        /// Its process id.
        pid: u32,
    },
    /// `dmfilemapd` could not be executed (Debian ships no such binary).
    /// Stock forks first, so its child logs `log_line` at error level and
    /// exits 127 while `dm_stats_start_filemapd` returns success: the C
    /// shell logs the line and returns 1.
    ExecFailed {
        /// `"dmfilemapd: execvp failed: <strerror>"`.
        log_line: String,
    },
}

/// `dm_stats_start_filemapd`: run `dmfilemapd <fd> <group_id> <path> <mode>
/// <foreground> <verbose>` (found on `PATH`). In the background mode the
/// daemon is spawned (the file descriptor is inherited unless it is
/// close-on-exec); in the foreground mode this process becomes the daemon
/// and the call only returns on failure.
pub fn start_filemapd(
    ctx: &crate::Context,
    fd: i32,
    group_id: u64,
    path: &[u8],
    mode: FilemapdMode,
    foreground: u32,
    verbose: u32,
) -> Result<FilemapdStart> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    if fd < 0 {
        return Err(StatsError::invalid(format!(
            "dmfilemapd file descriptor must be non-negative: {fd}"
        )));
    }
    if path.first() != Some(&b'/') {
        return Err(StatsError::invalid(
            "Path argument must specify an absolute path.",
        ));
    }
    let mode_str = match mode {
        FilemapdMode::FollowInode => "inode",
        FilemapdMode::FollowPath => "path",
        FilemapdMode::FollowNone => {
            return Err(StatsError::invalid(
                "Invalid dmfilemapd mode argument: Must be DM_FILEMAPD_FOLLOW_INODE or DM_FILEMAPD_FOLLOW_PATH",
            ))
        }
    };
    if foreground > 1 {
        return Err(StatsError::invalid(format!(
            "Invalid dmfilemapd foreground argument. Must be 0 or 1: {foreground}."
        )));
    }
    if verbose > 3 {
        return Err(StatsError::invalid(format!(
            "Invalid dmfilemapd verbose argument. Must be 0..3: {verbose}."
        )));
    }
    // Stock formats fd and group id into 8-byte buffers.
    let fd_str = fd.to_string();
    if fd_str.len() >= 8 {
        return Err(StatsError::invalid("Could not format fd argument."));
    }
    let group_str = group_id.to_string();
    if group_str.len() >= 8 {
        return Err(StatsError::invalid("Could not format group_id argument."));
    }
    crate::log_info!(
        ctx,
        "Spawning daemon as 'dmfilemapd {} {} {} {} {} {}'",
        fd,
        group_id,
        String::from_utf8_lossy(path),
        mode_str,
        foreground,
        verbose
    );
    let mut cmd = std::process::Command::new("dmfilemapd");
    cmd.arg(&fd_str)
        .arg(&group_str)
        .arg(std::ffi::OsStr::from_bytes(path))
        .arg(mode_str)
        .arg(foreground.to_string())
        .arg(verbose.to_string());
    let exec_line = |e: &std::io::Error| {
        let msg = e.to_string();
        let msg = match msg.find(" (os error") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        format!("dmfilemapd: execvp failed: {msg}")
    };
    if foreground == 1 {
        let e = cmd.exec();
        return Err(StatsError::new(StatsErrorKind::Io, exec_line(&e))
            .with_errno(e.raw_os_error().unwrap_or(libc::ENOENT)));
    }
    match cmd.spawn() {
        Ok(child) => {
            crate::log_info!(ctx, "Forked dmfilemapd process as pid {}", child.id());
            Ok(FilemapdStart::Started { pid: child.id() })
        }
        Err(e) => Ok(FilemapdStart::ExecFailed {
            log_line: exec_line(&e),
        }),
    }
}
