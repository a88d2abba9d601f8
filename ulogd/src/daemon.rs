//! Daemon plumbing: the pid/lock file, detaching, readiness, CPU time.

use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The pid file, locked (`flock`) for the life of the process: a second
/// server on the same file refuses to start.
pub struct PidFile {
    path: PathBuf,
    _lock: Flock<File>,
}

impl PidFile {
    /// Create (or take over a stale) pid file and lock it.
    pub fn acquire(path: &Path) -> Result<PidFile, String> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(|e| format!("cannot open pid file {}: {e}", path.display()))?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((mut f, errno)) => {
                let mut s = String::new();
                let _ = f.read_to_string(&mut s);
                return Err(if errno == nix::errno::Errno::EWOULDBLOCK {
                    format!(
                        "a server is already running (pid {}, {})",
                        s.trim(),
                        path.display()
                    )
                } else {
                    format!("cannot lock pid file {}: {errno}", path.display())
                });
            }
        };
        let pid = format!("{}\n", std::process::id());
        let w = lock
            .set_len(0)
            .and_then(|_| lock.seek(SeekFrom::Start(0)))
            .and_then(|_| lock.write_all(pid.as_bytes()));
        w.map_err(|e| format!("cannot write pid file {}: {e}", path.display()))?;
        Ok(PidFile {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Tell systemd (`Type=notify`) about our state, when it asked
/// (`NOTIFY_SOCKET`).
pub fn sd_notify(state: &str) {
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
    let addr = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        SocketAddr::from_abstract_name(name)
    } else {
        SocketAddr::from_pathname(Path::new(&path))
    };
    if let Ok(addr) = addr {
        let _ = sock.send_to_addr(state.as_bytes(), &addr);
    }
}

/// User + system CPU time of this process in microseconds.
pub fn cpu_time_us() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14 and stime 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    let tck = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&t| t > 0)
        .unwrap_or(100) as u64;
    Some((utime + stime) * 1_000_000 / tck)
}

/// Protect the server from the OOM killer: it is on the I/O path of every
/// mirror it serves.
pub fn oom_protect() -> std::io::Result<()> {
    std::fs::write("/proc/self/oom_score_adj", b"-1000")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_locks() {
        let p = std::env::temp_dir().join(format!("dm-ulogd-test-{}.pid", std::process::id()));
        let a = PidFile::acquire(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            format!("{}\n", std::process::id())
        );
        let e = PidFile::acquire(&p).err().unwrap();
        assert!(e.contains("already running"), "{e}");
        drop(a);
        assert!(!p.exists());
        drop(PidFile::acquire(&p).unwrap());
    }

    #[test]
    fn cpu_time() {
        assert!(cpu_time_us().is_some());
    }
}
