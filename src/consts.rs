//! Constants and typedefs of `libdevmapper.h` that the C API uses.

use std::ffi::c_int;

/// `dm_string_mangling_t` (values `DM_STRING_MANGLING_*`).
pub type dm_string_mangling_t = c_int;
/// `dm_add_node_t` (values `DM_ADD_NODE_*`).
pub type dm_add_node_t = c_int;

pub const DM_READ_AHEAD_AUTO: u32 = u32::MAX;
pub const DM_READ_AHEAD_NONE: u32 = 0;
pub const DM_READ_AHEAD_MINIMUM_FLAG: u32 = 0x1;

pub const DM_FORMAT_DEV_BUFSIZE: u32 = 13;

pub const DM_COOKIE_MAGIC: u32 = 0x0D4D;
pub const DM_COOKIE_AUTO_CREATE: u32 = 0;
pub const DM_UDEV_FLAGS_MASK: u32 = 0xFFFF_0000_u32;
pub const DM_UDEV_FLAGS_SHIFT: u32 = 16;

pub const DM_UDEV_DISABLE_DM_RULES_FLAG: u32 = 0x0001;
pub const DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG: u32 = 0x0002;
pub const DM_UDEV_DISABLE_DISK_RULES_FLAG: u32 = 0x0004;
pub const DM_UDEV_DISABLE_OTHER_RULES_FLAG: u32 = 0x0008;
pub const DM_UDEV_LOW_PRIORITY_FLAG: u32 = 0x0010;
pub const DM_UDEV_DISABLE_LIBRARY_FALLBACK: u32 = 0x0020;
pub const DM_UDEV_PRIMARY_SOURCE_FLAG: u32 = 0x0040;

pub const DM_SUBSYSTEM_UDEV_FLAG0: u32 = 0x0100;
pub const DM_SUBSYSTEM_UDEV_FLAG1: u32 = 0x0200;
pub const DM_SUBSYSTEM_UDEV_FLAG2: u32 = 0x0400;
pub const DM_SUBSYSTEM_UDEV_FLAG3: u32 = 0x0800;
pub const DM_SUBSYSTEM_UDEV_FLAG4: u32 = 0x1000;
pub const DM_SUBSYSTEM_UDEV_FLAG5: u32 = 0x2000;
pub const DM_SUBSYSTEM_UDEV_FLAG6: u32 = 0x4000;
pub const DM_SUBSYSTEM_UDEV_FLAG7: u32 = 0x8000;

pub const DM_DEV_DIR_UMASK: u32 = 0o022;
pub const DM_CONTROL_NODE_UMASK: u32 = 0o177;

// The header's numbers are ABI facts written for cbindgen; the core has the
// same facts for its own use. They must agree.
const _: () = {
    use devmapper::udev;
    assert!(DM_READ_AHEAD_AUTO == devmapper::nodes::READ_AHEAD_AUTO);
    assert!(DM_READ_AHEAD_NONE == devmapper::nodes::READ_AHEAD_NONE);
    assert!(DM_READ_AHEAD_MINIMUM_FLAG == devmapper::nodes::READ_AHEAD_MINIMUM_FLAG);
    assert!(DM_COOKIE_MAGIC == udev::COOKIE_MAGIC);
    assert!(DM_COOKIE_AUTO_CREATE == udev::COOKIE_AUTO_CREATE);
    assert!(DM_UDEV_FLAGS_MASK == udev::UDEV_FLAGS_MASK);
    assert!(DM_UDEV_FLAGS_SHIFT == udev::UDEV_FLAGS_SHIFT);
    assert!(DM_UDEV_DISABLE_DM_RULES_FLAG == udev::DISABLE_DM_RULES_FLAG as u32);
    assert!(DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG == udev::DISABLE_SUBSYSTEM_RULES_FLAG as u32);
    assert!(DM_UDEV_DISABLE_DISK_RULES_FLAG == udev::DISABLE_DISK_RULES_FLAG as u32);
    assert!(DM_UDEV_DISABLE_OTHER_RULES_FLAG == udev::DISABLE_OTHER_RULES_FLAG as u32);
    assert!(DM_UDEV_LOW_PRIORITY_FLAG == udev::LOW_PRIORITY_FLAG as u32);
    assert!(DM_UDEV_DISABLE_LIBRARY_FALLBACK == udev::DISABLE_LIBRARY_FALLBACK as u32);
    assert!(DM_UDEV_PRIMARY_SOURCE_FLAG == udev::PRIMARY_SOURCE_FLAG as u32);
    assert!(DM_SUBSYSTEM_UDEV_FLAG0 == udev::SUBSYSTEM_UDEV_FLAG0 as u32);
    assert!(DM_SUBSYSTEM_UDEV_FLAG7 == udev::SUBSYSTEM_UDEV_FLAG7 as u32);
};
