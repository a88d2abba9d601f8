//! Log lines to stderr or to the system log, filtered by level.

use crate::args::Sink;
use devmapper::log::{Level, Logger, Record};
use parking_lot::Mutex;
use std::io::Write;
use std::os::unix::net::UnixDatagram;

/// syslog severities of our levels.
fn severity(l: Level) -> u8 {
    match l {
        Level::Fatal => 2,
        Level::Error => 3,
        Level::Warn => 4,
        Level::Notice => 5,
        Level::Info => 6,
        Level::Debug => 7,
    }
}

fn name(l: Level) -> &'static str {
    match l {
        Level::Fatal => "fatal",
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Notice => "notice",
        Level::Info => "info",
        Level::Debug => "debug",
    }
}

/// `LOG_DAEMON`.
const FACILITY: u8 = 3 << 3;

/// The daemon's logger.
pub struct DaemonLogger {
    level: Level,
    sink: Sink,
    syslog: Mutex<Option<UnixDatagram>>,
    pid: u32,
}

fn connect_syslog() -> Option<UnixDatagram> {
    let s = UnixDatagram::unbound().ok()?;
    s.connect("/dev/log").ok()?;
    Some(s)
}

impl DaemonLogger {
    /// A logger keeping lines up to `level`.
    pub fn new(level: Level, sink: Sink) -> DaemonLogger {
        let syslog = if sink == Sink::Syslog {
            connect_syslog()
        } else {
            None
        };
        DaemonLogger {
            level,
            sink,
            syslog: Mutex::new(syslog),
            pid: std::process::id(),
        }
    }

    /// Whether the system log can be reached (for a syslog sink).
    pub fn syslog_ok(&self) -> bool {
        self.syslog.lock().is_some()
    }

    /// Log a line outside of the library's records.
    pub fn line(&self, level: Level, args: std::fmt::Arguments<'_>) {
        self.log(&Record {
            level,
            stderr: false,
            class: 0,
            file: file!(),
            line: line!(),
            args,
        });
    }
}

impl Logger for DaemonLogger {
    fn enabled(&self, level: Level) -> bool {
        level <= self.level
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.level) {
            return;
        }
        match self.sink {
            Sink::Stderr => {
                let line = format!("dm-ulogd[{}]: {}: {}\n", self.pid, name(r.level), r.args);
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            Sink::Syslog => {
                let msg = format!(
                    "<{}>dm-ulogd[{}]: {}: {}",
                    FACILITY | severity(r.level),
                    self.pid,
                    name(r.level),
                    r.args
                );
                let mut g = self.syslog.lock();
                let sent = g.as_ref().is_some_and(|s| s.send(msg.as_bytes()).is_ok());
                if !sent {
                    // The log daemon restarted: connect again, once.
                    *g = connect_syslog();
                    if let Some(s) = g.as_ref() {
                        let _ = s.send(msg.as_bytes());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        let l = DaemonLogger::new(Level::Notice, Sink::Stderr);
        assert!(l.enabled(Level::Error) && l.enabled(Level::Notice));
        assert!(!l.enabled(Level::Info) && !l.enabled(Level::Debug));
        assert_eq!(severity(Level::Warn), 4);
        assert_eq!(FACILITY | severity(Level::Error), 27);
    }
}
