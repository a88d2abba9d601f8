//! The `FS_IOC_FIEMAP` ioctl (`linux/fiemap.h`): where a file's extents lie
//! on the block device that holds its file system.
//!
//! [`fiemap`] runs one ioctl with room for [`EXTENTS_PER_CALL`] extents (the
//! chunk libdevmapper's file-map code uses) and returns the mapped extents as
//! values. The layouts below are written by hand and checked at compile time.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `struct fiemap_extent` (56 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FiemapExtent {
    /// Byte offset of the extent in the file.
    pub fe_logical: u64,
    /// Byte offset of the extent on the device.
    pub fe_physical: u64,
    /// Length of the extent in bytes.
    pub fe_length: u64,
    /// Reserved by the kernel.
    pub fe_reserved64: [u64; 2],
    /// `FIEMAP_EXTENT_*` flags.
    pub fe_flags: u32,
    /// Reserved by the kernel.
    pub fe_reserved: [u32; 3],
}

/// `struct fiemap` without its flexible `fm_extents[]` tail (32 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fiemap {
    /// Logical byte offset where the mapping starts (in).
    pub fm_start: u64,
    /// Logical length of the mapping (in).
    pub fm_length: u64,
    /// `FIEMAP_FLAG_*` (in/out).
    pub fm_flags: u32,
    /// Number of extents the kernel filled in (out).
    pub fm_mapped_extents: u32,
    /// Room in `fm_extents[]` (in).
    pub fm_extent_count: u32,
    /// Reserved by the kernel.
    pub fm_reserved: u32,
}

/// How many extents one call asks for: libdevmapper uses a 2048-byte buffer,
/// (2048 - 32) / 56 = 36 extents.
pub const EXTENTS_PER_CALL: usize =
    (2048 - std::mem::size_of::<Fiemap>()) / std::mem::size_of::<FiemapExtent>();

/// The ioctl buffer: the header followed by the extent array.
#[repr(C)]
struct FiemapBuf {
    hdr: Fiemap,
    extents: [FiemapExtent; EXTENTS_PER_CALL],
}

const _: () = {
    assert!(std::mem::size_of::<FiemapExtent>() == 56);
    assert!(std::mem::align_of::<FiemapExtent>() == 8);
    assert!(std::mem::size_of::<Fiemap>() == 32);
    assert!(std::mem::align_of::<Fiemap>() == 8);
    assert!(std::mem::offset_of!(Fiemap, fm_flags) == 16);
    assert!(std::mem::offset_of!(Fiemap, fm_mapped_extents) == 20);
    assert!(std::mem::offset_of!(Fiemap, fm_extent_count) == 24);
    assert!(std::mem::offset_of!(FiemapExtent, fe_length) == 16);
    assert!(std::mem::offset_of!(FiemapExtent, fe_flags) == 40);
    assert!(std::mem::offset_of!(FiemapBuf, extents) == 32);
    assert!(EXTENTS_PER_CALL == 36);
};

/// `FIEMAP_FLAG_SYNC`: sync the file before mapping.
pub const FIEMAP_FLAG_SYNC: u32 = 0x1;
/// `FIEMAP_EXTENT_LAST`: the last extent of the file.
pub const FIEMAP_EXTENT_LAST: u32 = 0x1;
/// `FIEMAP_EXTENT_UNKNOWN`: the location is not known yet.
pub const FIEMAP_EXTENT_UNKNOWN: u32 = 0x2;
/// `FIEMAP_EXTENT_DELALLOC`: delayed allocation (implies UNKNOWN).
pub const FIEMAP_EXTENT_DELALLOC: u32 = 0x4;
/// `FIEMAP_EXTENT_DATA_INLINE`: data stored with the metadata.
pub const FIEMAP_EXTENT_DATA_INLINE: u32 = 0x200;
/// `FIEMAP_EXTENT_UNWRITTEN`: allocated but not written (fallocate).
pub const FIEMAP_EXTENT_UNWRITTEN: u32 = 0x800;
/// `FIEMAP_EXTENT_MERGED`: the file system merged several extents.
pub const FIEMAP_EXTENT_MERGED: u32 = 0x1000;

/// `_IOWR('f', 11, struct fiemap)`, with the direction bits of the target.
pub const FS_IOC_FIEMAP: u64 = {
    #[cfg(any(
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "sparc64"
    ))]
    const DIR_RW: u64 = 6 << 29; // _IOC_READ 2 | _IOC_WRITE 4, dir at bit 29
    #[cfg(not(any(
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "sparc64"
    )))]
    const DIR_RW: u64 = 3 << 30; // _IOC_READ 2 | _IOC_WRITE 1, dir at bit 30
    DIR_RW | ((std::mem::size_of::<Fiemap>() as u64) << 16) | ((b'f' as u64) << 8) | 11
};

#[cfg(target_arch = "x86_64")]
const _: () = assert!(FS_IOC_FIEMAP == 0xC020_660B);

/// What one FIEMAP call returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FiemapReply {
    /// The header as the kernel left it (`fm_mapped_extents` etc.).
    pub header: Fiemap,
    /// The first `fm_mapped_extents` extents.
    pub extents: Vec<FiemapExtent>,
}

/// Run `ioctl(fd, FS_IOC_FIEMAP)` for the logical range `start..start+length`
/// with `flags` and room for [`EXTENTS_PER_CALL`] extents.
pub fn fiemap(fd: BorrowedFd<'_>, start: u64, length: u64, flags: u32) -> io::Result<FiemapReply> {
    let mut buf = Box::new(FiemapBuf {
        hdr: Fiemap {
            fm_start: start,
            fm_length: length,
            fm_flags: flags,
            fm_mapped_extents: 0,
            fm_extent_count: EXTENTS_PER_CALL as u32,
            fm_reserved: 0,
        },
        extents: [FiemapExtent::default(); EXTENTS_PER_CALL],
    });
    let ptr: *mut FiemapBuf = &mut *buf;
    // SAFETY: `buf` is a live, exclusively borrowed #[repr(C)] struct fiemap
    // followed by room for exactly `fm_extent_count` extents, so the kernel
    // writes only inside it; the fd is borrowed for the duration of the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), FS_IOC_FIEMAP as _, ptr) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = (buf.hdr.fm_mapped_extents as usize).min(EXTENTS_PER_CALL);
    Ok(FiemapReply {
        header: buf.hdr,
        extents: buf.extents.get(..n).unwrap_or(&[]).to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_request_number() {
        assert_eq!(EXTENTS_PER_CALL, 36);
        assert_eq!(FS_IOC_FIEMAP & 0xffff, 0x660B);
        assert_eq!((FS_IOC_FIEMAP >> 16) & 0x3fff, 32);
    }

    #[test]
    fn fiemap_on_a_regular_file_answers_or_fails_cleanly() {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!("dmrs-fiemap-{}", std::process::id()));
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&[7u8; 8192]).unwrap();
        f.sync_all().unwrap();
        let fd = std::os::fd::AsFd::as_fd(&f);
        match fiemap(fd, 0, u64::MAX, FIEMAP_FLAG_SYNC) {
            Ok(r) => {
                assert_eq!(r.extents.len(), r.header.fm_mapped_extents as usize);
                let total: u64 = r.extents.iter().map(|e| e.fe_length).sum();
                assert!(r.extents.is_empty() || total >= 8192);
            }
            // Some file systems (tmpfs, overlay) do not implement FIEMAP.
            Err(e) => assert!(matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP) | Some(libc::ENOTTY)
            )),
        }
        let _ = std::fs::remove_file(path);
    }
}
