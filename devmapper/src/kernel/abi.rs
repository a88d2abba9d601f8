//! The kernel's device-mapper ioctl ABI (`linux/dm-ioctl.h`, interface 4.x).
//!
//! Hand-written `#[repr(C)]` layouts with compile-time size and offset checks,
//! the command numbers with the minimum interface version each one needs, and
//! the header flags. Nothing here performs I/O.

use bitflags::bitflags;
use std::mem::{offset_of, size_of};

/// Maximum length of a device name including the terminating NUL.
pub const DM_NAME_LEN: usize = 128;
/// Maximum length of a device uuid including the terminating NUL.
pub const DM_UUID_LEN: usize = 129;
/// Maximum length of a target type name including the terminating NUL.
pub const DM_MAX_TYPE_NAME: usize = 16;
/// The ioctl type byte of every dm command.
pub const DM_IOCTL: u32 = 0xfd;
/// Interface major version spoken by this library.
pub const DM_VERSION_MAJOR: u32 = 4;
/// Misc device major of `/dev/mapper/control`.
pub const DM_CONTROL_MAJOR: u32 = 10;
/// Misc device minor of `/dev/mapper/control`.
pub const DM_CONTROL_MINOR: u32 = 236;
/// Flags in a name-list trailer (interface 4.45+).
pub const DM_NAME_LIST_FLAG_HAS_UUID: u32 = 1;
/// The name-list trailer says: this device has no uuid.
pub const DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID: u32 = 2;
/// Where every payload starts: the header size rounded up to 8.
pub const DATA_START: usize = 312;

/// `struct dm_ioctl`: the header of every ioctl buffer (fields as named in
/// `linux/dm-ioctl.h`).
#[allow(missing_docs)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DmIoctl {
    pub version: [u32; 3],
    pub data_size: u32,
    pub data_start: u32,
    pub target_count: u32,
    pub open_count: i32,
    pub flags: u32,
    pub event_nr: u32,
    pub padding: u32,
    pub dev: u64,
    pub name: [u8; DM_NAME_LEN],
    pub uuid: [u8; DM_UUID_LEN],
    pub data: [u8; 7],
}

impl DmIoctl {
    /// The all-zero header.
    pub const ZERO: DmIoctl = DmIoctl {
        version: [0; 3],
        data_size: 0,
        data_start: 0,
        target_count: 0,
        open_count: 0,
        flags: 0,
        event_nr: 0,
        padding: 0,
        dev: 0,
        name: [0; DM_NAME_LEN],
        uuid: [0; DM_UUID_LEN],
        data: [0; 7],
    };
}

impl Default for DmIoctl {
    fn default() -> Self {
        DmIoctl::ZERO
    }
}

/// `struct dm_target_spec`, followed in the buffer by the NUL-terminated params.
#[allow(missing_docs)]
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct DmTargetSpec {
    pub sector_start: u64,
    pub length: u64,
    pub status: i32,
    pub next: u32,
    pub target_type: [u8; DM_MAX_TYPE_NAME],
}

/// `struct dm_target_deps` header; `count` u64 device numbers follow.
#[allow(missing_docs)]
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct DmTargetDeps {
    pub count: u32,
    pub padding: u32,
}

/// `struct dm_name_list` header; the name starts at offset 12.
#[allow(missing_docs)]
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct DmNameList {
    pub dev: u64,
    pub next: u32,
}

/// `struct dm_target_versions` header; the name starts at offset 16.
#[allow(missing_docs)]
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct DmTargetVersions {
    pub next: u32,
    pub version: [u32; 3],
}

/// `struct dm_target_msg` header; the message starts at offset 8.
#[allow(missing_docs)]
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct DmTargetMsg {
    pub sector: u64,
}

const _: () = {
    assert!(size_of::<DmIoctl>() == 312);
    // Replies are read in place from 8-aligned buffers (kernel/control.rs).
    assert!(std::mem::align_of::<DmIoctl>() <= 8);
    assert!(offset_of!(DmIoctl, data_size) == 12);
    assert!(offset_of!(DmIoctl, data_start) == 16);
    assert!(offset_of!(DmIoctl, target_count) == 20);
    assert!(offset_of!(DmIoctl, open_count) == 24);
    assert!(offset_of!(DmIoctl, flags) == 28);
    assert!(offset_of!(DmIoctl, event_nr) == 32);
    assert!(offset_of!(DmIoctl, dev) == 40);
    assert!(offset_of!(DmIoctl, name) == 48);
    assert!(offset_of!(DmIoctl, uuid) == 176);
    assert!(offset_of!(DmIoctl, data) == 305);
    assert!(size_of::<DmTargetSpec>() == 40);
    assert!(offset_of!(DmTargetSpec, status) == 16);
    assert!(offset_of!(DmTargetSpec, next) == 20);
    assert!(offset_of!(DmTargetSpec, target_type) == 24);
    assert!(size_of::<DmTargetDeps>() == 8);
    assert!(size_of::<DmNameList>() == 16);
    assert!(offset_of!(DmNameList, next) == 8);
    assert!(size_of::<DmTargetVersions>() == 16);
    assert!(offset_of!(DmTargetVersions, version) == 4);
    assert!(size_of::<DmTargetMsg>() == 8);
};

/// Offset of the name inside a `dm_name_list` record.
pub const NAME_LIST_NAME_OFFSET: usize = 12;
/// Offset of the name inside a `dm_target_versions` record.
pub const VERSIONS_NAME_OFFSET: usize = 16;

/// The 18 commands of the control device (numbers 0–17), named after the
/// kernel's `DM_*_CMD`.
#[allow(missing_docs)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    Version = 0,
    RemoveAll = 1,
    ListDevices = 2,
    DevCreate = 3,
    DevRemove = 4,
    DevRename = 5,
    DevSuspend = 6,
    DevStatus = 7,
    DevWait = 8,
    TableLoad = 9,
    TableClear = 10,
    TableDeps = 11,
    TableStatus = 12,
    ListVersions = 13,
    TargetMsg = 14,
    DevSetGeometry = 15,
    DevArmPoll = 16,
    GetTargetVersion = 17,
}

impl Command {
    /// All commands, in number order.
    pub const ALL: [Command; 18] = [
        Command::Version,
        Command::RemoveAll,
        Command::ListDevices,
        Command::DevCreate,
        Command::DevRemove,
        Command::DevRename,
        Command::DevSuspend,
        Command::DevStatus,
        Command::DevWait,
        Command::TableLoad,
        Command::TableClear,
        Command::TableDeps,
        Command::TableStatus,
        Command::ListVersions,
        Command::TargetMsg,
        Command::DevSetGeometry,
        Command::DevArmPoll,
        Command::GetTargetVersion,
    ];

    /// The ioctl number: `_IOWR(0xfd, nr, struct dm_ioctl)` in the `_IOC`
    /// layout of the target architecture.
    pub const fn request(self) -> u64 {
        ioc::iowr(DM_IOCTL, self as u32, size_of::<DmIoctl>())
    }

    /// The minimum interface version the command needs; sent in the header so
    /// that older kernels do not reject the call on version alone.
    pub const fn min_version(self) -> [u32; 3] {
        match self {
            Command::ListVersions => [4, 1, 0],
            Command::TargetMsg => [4, 2, 0],
            Command::DevSetGeometry => [4, 6, 0],
            Command::DevArmPoll => [4, 36, 0],
            Command::GetTargetVersion => [4, 41, 0],
            _ => [4, 0, 0],
        }
    }

    /// Whether the kernel copies only the header in (`IOCTL_FLAGS_NO_PARAMS`).
    pub const fn takes_no_params(self) -> bool {
        matches!(
            self,
            Command::RemoveAll
                | Command::DevCreate
                | Command::DevRemove
                | Command::DevSuspend
                | Command::DevStatus
                | Command::TableClear
                | Command::DevArmPoll
        )
    }

    /// Whether the command returns a variable-sized payload after the header,
    /// i.e. whether `DM_BUFFER_FULL_FLAG` is worth retrying on.
    pub const fn has_output(self) -> bool {
        matches!(
            self,
            Command::ListDevices
                | Command::DevWait
                | Command::TableDeps
                | Command::TableStatus
                | Command::ListVersions
                | Command::TargetMsg
                | Command::GetTargetVersion
        )
    }

    /// The short name used in log lines (matches libdevmapper's wording).
    pub const fn name(self) -> &'static str {
        match self {
            Command::Version => "version",
            Command::RemoveAll => "remove_all",
            Command::ListDevices => "names",
            Command::DevCreate => "create",
            Command::DevRemove => "remove",
            Command::DevRename => "rename",
            Command::DevSuspend => "suspend",
            Command::DevStatus => "info",
            Command::DevWait => "waitevent",
            Command::TableLoad => "reload",
            Command::TableClear => "clear",
            Command::TableDeps => "deps",
            Command::TableStatus => "status",
            Command::ListVersions => "versions",
            Command::TargetMsg => "message",
            Command::DevSetGeometry => "setgeometry",
            Command::DevArmPoll => "armpoll",
            Command::GetTargetVersion => "target-version",
        }
    }
}

/// The `_IOC` encoding of ioctl numbers. Most architectures use the generic
/// layout (2 direction bits, 14 size bits, read = 2, write = 1); powerpc,
/// mips and sparc have 3 direction bits, 13 size bits, read = 2, write = 4.
/// Any other architecture fails to compile rather than send wrong numbers.
mod ioc {
    #[cfg(any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "riscv32",
        target_arch = "riscv64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    ))]
    mod layout {
        pub const SIZEBITS: u32 = 14;
        pub const READ: u64 = 2;
        pub const WRITE: u64 = 1;
    }

    #[cfg(any(
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "sparc64"
    ))]
    mod layout {
        pub const SIZEBITS: u32 = 13;
        pub const READ: u64 = 2;
        pub const WRITE: u64 = 4;
    }

    #[cfg(not(any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "riscv32",
        target_arch = "riscv64",
        target_arch = "s390x",
        target_arch = "loongarch64",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "sparc64"
    )))]
    compile_error!("the _IOC layout of this architecture is not known: add it to kernel/abi.rs");

    const NRSHIFT: u32 = 0;
    const TYPESHIFT: u32 = 8;
    const SIZESHIFT: u32 = 16;
    const DIRSHIFT: u32 = SIZESHIFT + layout::SIZEBITS;

    /// `_IOWR(ty, nr, size)`.
    pub const fn iowr(ty: u32, nr: u32, size: usize) -> u64 {
        assert!(size < (1 << layout::SIZEBITS));
        ((layout::READ | layout::WRITE) << DIRSHIFT)
            | ((size as u64) << SIZESHIFT)
            | ((ty as u64) << TYPESHIFT)
            | ((nr as u64) << NRSHIFT)
    }
}

/// Whether a driver of this interface version supports udev cookies (4.15+).
pub const fn cookies_supported(v: [u32; 3]) -> bool {
    v[0] == DM_VERSION_MAJOR && v[1] >= 15
}

bitflags! {
    /// `dm_ioctl.flags`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct DmFlags: u32 {
        /// `DM_READONLY_FLAG`: the table is read-only.
        const READONLY = 1 << 0;
        /// `DM_SUSPEND_FLAG`: suspend (in) / is suspended (out).
        const SUSPEND = 1 << 1;
        /// Not a kernel flag: libdevmapper sends bit 2 and reads it back as
        /// "the device exists"; the kernel leaves the bit untouched.
        const EXISTS = 1 << 2;
        /// `DM_PERSISTENT_DEV_FLAG`: use the given device number.
        const PERSISTENT_DEV = 1 << 3;
        /// `DM_STATUS_TABLE_FLAG`: TABLE_STATUS returns the table, not the status.
        const STATUS_TABLE = 1 << 4;
        /// `DM_ACTIVE_PRESENT_FLAG`: a live table exists.
        const ACTIVE_PRESENT = 1 << 5;
        /// `DM_INACTIVE_PRESENT_FLAG`: an inactive table exists.
        const INACTIVE_PRESENT = 1 << 6;
        /// `DM_BUFFER_FULL_FLAG`: the reply did not fit.
        const BUFFER_FULL = 1 << 8;
        /// `DM_SKIP_BDGET_FLAG`: skip the open count.
        const SKIP_BDGET = 1 << 9;
        /// `DM_SKIP_LOCKFS_FLAG`: do not freeze the filesystem.
        const SKIP_LOCKFS = 1 << 10;
        /// `DM_NOFLUSH_FLAG`: do not flush queued I/O on suspend.
        const NOFLUSH = 1 << 11;
        /// `DM_QUERY_INACTIVE_TABLE_FLAG`: report on the inactive table.
        const QUERY_INACTIVE_TABLE = 1 << 12;
        /// `DM_UEVENT_GENERATED_FLAG`: the kernel sent a uevent.
        const UEVENT_GENERATED = 1 << 13;
        /// `DM_UUID_FLAG`: rename sets the uuid / list returns uuids.
        const UUID = 1 << 14;
        /// `DM_SECURE_DATA_FLAG`: the kernel wipes its copies of the buffer.
        const SECURE_DATA = 1 << 15;
        /// `DM_DATA_OUT_FLAG`: a message produced a response.
        const DATA_OUT = 1 << 16;
        /// `DM_DEFERRED_REMOVE`: remove on last close (in) / marked for it (out).
        const DEFERRED_REMOVE = 1 << 17;
        /// `DM_INTERNAL_SUSPEND_FLAG`: suspended by the kernel itself.
        const INTERNAL_SUSPEND = 1 << 18;
        /// `DM_IMA_MEASUREMENT_FLAG`: return the IMA measurement.
        const IMA_MEASUREMENT = 1 << 19;
    }
}

/// Encode a device number the way the kernel's `huge_encode_dev` does.
pub const fn encode_dev(major: u32, minor: u32) -> u64 {
    ((minor & 0xff) as u64) | ((major as u64) << 8) | (((minor & !0xff) as u64) << 12)
}

/// Decode a kernel `huge_encode_dev` device number into (major, minor).
pub const fn decode_dev(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) as u32;
    let minor = ((dev & 0xff) | ((dev >> 12) & 0xfff00)) as u32;
    (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn request_numbers_match_the_kernel_header() {
        assert_eq!(Command::Version.request(), 0xc138_fd00);
        assert_eq!(Command::TargetMsg.request(), 0xc138_fd0e);
        assert_eq!(Command::GetTargetVersion.request(), 0xc138_fd11);
        for (i, c) in Command::ALL.iter().enumerate() {
            assert_eq!(c.request(), 0xc138_fd00 + i as u64);
        }
    }

    #[test]
    fn dev_encoding_round_trips() {
        assert_eq!(encode_dev(254, 3), (254 << 8) | 3);
        assert_eq!(decode_dev(encode_dev(254, 3)), (254, 3));
        assert_eq!(decode_dev(encode_dev(253, 0x12345)), (253, 0x12345));
        // Below 4096 majors and 256 minors the encoding equals glibc makedev.
        assert_eq!(encode_dev(8, 1), libc::makedev(8, 1));
    }

    #[test]
    fn no_param_commands_have_no_output() {
        for c in Command::ALL {
            assert!(!(c.takes_no_params() && c.has_output()), "{c:?}");
        }
    }
}
