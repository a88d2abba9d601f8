//! Process-wide library settings that libdevmapper keeps as globals: the
//! device directory, the sysfs directory and the uuid prefix. Each is behind
//! its own lock, so concurrent readers never see a torn value.

use parking_lot::RwLock;

static DEV_DIR: RwLock<Option<String>> = RwLock::new(None);
static SYSFS_DIR: RwLock<Option<String>> = RwLock::new(None);
static UUID_PREFIX: RwLock<Option<String>> = RwLock::new(None);

/// Default `dm_dir()`.
pub const DEFAULT_DM_DIR: &str = "/dev/mapper";
/// Default `dm_sysfs_dir()`.
pub const DEFAULT_SYSFS_DIR: &str = "/sys/";
/// Default `dm_uuid_prefix()`.
pub const DEFAULT_UUID_PREFIX: &str = "LVM-";

/// The directory holding the control node and device nodes (`dm_dir()`).
pub fn dm_dir() -> String {
    DEV_DIR
        .read()
        .clone()
        .unwrap_or_else(|| DEFAULT_DM_DIR.to_string())
}

/// `dm_set_dev_dir(dir)`: nodes live in `<dir>/mapper`.
pub fn set_dev_dir(dir: &str) {
    let dir = dir.trim_end_matches('/');
    *DEV_DIR.write() = Some(format!("{dir}/mapper"));
}

/// Path of the control node.
pub fn control_path() -> String {
    format!("{}/control", dm_dir())
}

/// The sysfs mount point (with a trailing slash), or empty when disabled.
pub fn sysfs_dir() -> String {
    SYSFS_DIR
        .read()
        .clone()
        .unwrap_or_else(|| DEFAULT_SYSFS_DIR.to_string())
}

/// `dm_set_sysfs_dir`: an empty string disables sysfs use.
pub fn set_sysfs_dir(dir: &str) {
    let v = if dir.is_empty() || dir.ends_with('/') {
        dir.to_string()
    } else {
        format!("{dir}/")
    };
    *SYSFS_DIR.write() = Some(v);
}

/// `dm_uuid_prefix()`.
pub fn uuid_prefix() -> String {
    UUID_PREFIX
        .read()
        .clone()
        .unwrap_or_else(|| DEFAULT_UUID_PREFIX.to_string())
}

/// `dm_set_uuid_prefix`: at most 15 characters.
pub fn set_uuid_prefix(prefix: &str) -> bool {
    if prefix.len() > 15 {
        return false;
    }
    *UUID_PREFIX.write() = Some(prefix.to_string());
    true
}
