//! Command line.

use devmapper::log::Level;
use std::path::PathBuf;

/// Default pid (lock) file.
pub const PIDFILE: &str = "/run/dm-ulogd.pid";
/// Default directory of restart state files.
pub const STATE_DIR: &str = "/run/dm-ulogd";

/// Where log lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    /// Standard error.
    Stderr,
    /// The system log (`/dev/log`).
    Syslog,
}

/// Parsed options.
#[derive(Clone, Debug)]
pub struct Options {
    pub foreground: bool,
    pub level: Level,
    pub sink: Option<Sink>,
    pub pidfile: PathBuf,
    pub state_dir: Option<PathBuf>,
    pub mlock: bool,
    /// Share every log with the other nodes of a corosync cluster.
    pub cluster: bool,
    /// Internal: this process is the detached child of `dm-ulogd`.
    pub detached_child: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            foreground: false,
            level: Level::Notice,
            sink: None,
            pidfile: PathBuf::from(PIDFILE),
            state_dir: Some(PathBuf::from(STATE_DIR)),
            mlock: true,
            cluster: false,
            detached_child: false,
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Run(Options),
    Help,
    Version,
}

pub const USAGE: &str = "\
Usage: dm-ulogd [options]

Serves the dirty logs of device-mapper mirror targets whose table names a
'userspace' log (kernel module dm-log-userspace), on this node:

  0 <len> mirror userspace 4 <uuid> clustered-disk <logdev> <region> 2 <dev0> 0 <dev1> 0
  0 <len> mirror userspace 3 <uuid> clustered-core <region> 2 <dev0> 0 <dev1> 0

Options:
  -f, --foreground       stay in the foreground; log to stderr (unless --syslog)
  -d, --debug            log every request and reply (--log-level debug)
  -l, --log-level LEVEL  error, warn, notice (default), info or debug
      --syslog           log to the system log (default when detached)
      --stderr           log to standard error (default in the foreground)
  -p, --pidfile PATH     pid and lock file (default /run/dm-ulogd.pid)
  -s, --state-dir DIR    restart state files (default /run/dm-ulogd)
      --no-state         keep no restart state (a restarted server then loses
                         what core logs knew, see the README)
      --no-mlock         do not lock the server's memory
  -c, --cluster          clustered mode (the role of cmirrord): every log is
                         shared with the other nodes that run dm-ulogd
                         --cluster, through corosync's CPG (libcpg.so.4 is
                         loaded at run time; corosync must be running); one
                         CPG group per log uuid. Start every node the same way
  -h, --help             this text
  -V, --version          the version

Signals: TERM, INT, QUIT stop the server after writing every disk log;
USR1 and HUP log counters and the state of every log.
Needs CAP_SYS_ADMIN and CAP_NET_ADMIN (run as root).
";

fn level(s: &str) -> Option<Level> {
    Some(match s {
        "error" | "err" => Level::Error,
        "warn" | "warning" => Level::Warn,
        "notice" => Level::Notice,
        "info" => Level::Info,
        "debug" => Level::Debug,
        _ => return None,
    })
}

/// Parse the arguments (without the program name).
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut o = Options::default();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{what} needs a value"))
        };
        match name.as_str() {
            "-f" | "--foreground" => o.foreground = true,
            "-d" | "--debug" => o.level = Level::Debug,
            "-l" | "--log-level" => {
                let v = value(&name)?;
                o.level = level(&v).ok_or_else(|| format!("unknown log level '{v}'"))?;
            }
            "--syslog" => o.sink = Some(Sink::Syslog),
            "--stderr" => o.sink = Some(Sink::Stderr),
            "-p" | "--pidfile" => o.pidfile = PathBuf::from(value(&name)?),
            "-s" | "--state-dir" => o.state_dir = Some(PathBuf::from(value(&name)?)),
            "--no-state" => o.state_dir = None,
            "-c" | "--cluster" => o.cluster = true,
            "--no-mlock" => o.mlock = false,
            "--detached-child" => o.detached_child = true,
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            // Combined short flags: -fd
            s if s.starts_with('-')
                && !s.starts_with("--")
                && s.len() > 2
                && s[1..].chars().all(|c| "fd".contains(c)) =>
            {
                for c in s[1..].chars() {
                    match c {
                        'f' => o.foreground = true,
                        _ => o.level = Level::Debug,
                    }
                }
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(Command::Run(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(a: &[&str]) -> Options {
        match parse(a.iter().map(|s| s.to_string())).unwrap() {
            Command::Run(o) => o,
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn options() {
        let o = run(&[]);
        assert!(!o.foreground && o.mlock && o.sink.is_none());
        assert_eq!(o.level, Level::Notice);
        assert_eq!(
            o.state_dir.as_deref(),
            Some(std::path::Path::new(STATE_DIR))
        );
        let o = run(&[
            "-fd",
            "--pidfile",
            "/tmp/p",
            "--state-dir=/tmp/s",
            "--no-mlock",
            "--syslog",
        ]);
        assert!(o.foreground && !o.mlock);
        assert_eq!(o.level, Level::Debug);
        assert_eq!(o.pidfile, PathBuf::from("/tmp/p"));
        assert_eq!(o.state_dir, Some(PathBuf::from("/tmp/s")));
        assert_eq!(o.sink, Some(Sink::Syslog));
        let o = run(&["-f", "-l", "info", "--no-state"]);
        assert_eq!(o.level, Level::Info);
        assert!(o.state_dir.is_none());
        // The contract of the multi-node harness.
        assert!(!o.cluster);
        let o = run(&["-f", "--cluster", "--no-state", "-l", "debug"]);
        assert!(o.cluster && o.foreground && o.state_dir.is_none());
        assert!(run(&["-c"]).cluster);
        assert!(USAGE.contains("--cluster"));
        assert!(matches!(parse(["-h".to_string()]), Ok(Command::Help)));
        assert!(matches!(
            parse(["--version".to_string()]),
            Ok(Command::Version)
        ));
        assert!(parse(["-x".to_string()]).is_err());
        assert!(parse(["-l".to_string()]).is_err());
        assert!(parse(["-l".to_string(), "loud".to_string()]).is_err());
    }
}
