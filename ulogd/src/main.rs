//! `dm-ulogd`: the dirty logs of device-mapper mirrors, served from
//! userspace on one node (the `userspace` log type, kernel module
//! `dm-log-userspace`). A thin shell over `devmapper::ulog`: options,
//! detaching, the pid file, signals, logging, and the poll loop.
//!
//! `dm-ulogd -f` stays in the foreground; plain `dm-ulogd` detaches once
//! it is serving (its parent exits 0 then, or 1 with the reason on stderr).

#![deny(unsafe_code)]

mod args;
#[allow(unsafe_code)]
mod cpg;
mod daemon;
mod logging;

use args::{Command, Options, Sink};
use devmapper::log::{Level, Logger};
use devmapper::ulog::abi::RequestType;
use devmapper::ulog::cluster::ClusterRouter;
use devmapper::ulog::socket::ConnectorSocket;
use devmapper::ulog::{LocalRouter, LogTable, Router, Server, TableOptions};
use logging::DaemonLogger;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;

macro_rules! say {
    ($log:expr, $lvl:expr, $($arg:tt)*) => {
        $log.line($lvl, format_args!($($arg)*))
    };
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let opts = match args::parse(argv.clone()) {
        Ok(Command::Run(o)) => o,
        Ok(Command::Help) => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!(
                "dm-ulogd {} (dm-log-userspace request version {})",
                env!("CARGO_PKG_VERSION"),
                devmapper::ulog::abi::DM_ULOG_REQUEST_VERSION
            );
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("dm-ulogd: {e}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    if !opts.foreground && !opts.detached_child {
        return spawn_detached(&argv);
    }
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dm-ulogd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The parent of a detaching server: start the server again as a child in
/// its own session, and wait until it says it serves (or fails).
fn spawn_detached(argv: &[String]) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("dm-ulogd: cannot find my own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let child = std::process::Command::new(exe)
        .args(argv)
        .arg("--detached-child")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dm-ulogd: cannot start the server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut said = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut said);
    }
    if said.starts_with("READY") {
        return ExitCode::SUCCESS;
    }
    match child.wait() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

fn signals() -> SigSet {
    let mut s = SigSet::empty();
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
    ] {
        s.add(sig);
    }
    s
}

fn run(opts: Options) -> Result<(), String> {
    if opts.detached_child {
        // Our own session, no controlling terminal, no cwd pinned.
        let _ = nix::unistd::setsid();
        let _ = std::env::set_current_dir("/");
    }
    let sink = opts.sink.unwrap_or(if opts.detached_child {
        Sink::Syslog
    } else {
        Sink::Stderr
    });
    let logger = Arc::new(DaemonLogger::new(opts.level, sink));
    if sink == Sink::Syslog && !logger.syslog_ok() {
        eprintln!("dm-ulogd: warning: no system log at /dev/log: log lines are lost");
    }
    let mask = signals();
    mask.thread_block()
        .map_err(|e| format!("cannot block signals: {e}"))?;
    let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("cannot open a signalfd: {e}"))?;
    let pidfile = daemon::PidFile::acquire(&opts.pidfile)?;
    // In clustered mode corosync must answer before anything is served.
    let cpg = if opts.cluster {
        Some(cpg::Cpg::open()?)
    } else {
        None
    };
    let table = LogTable::new(
        TableOptions {
            state_dir: opts.state_dir.clone(),
            node_dir: None,
        },
        Some(logger.clone() as Arc<dyn Logger>),
    )
    .map_err(|e| e.message().to_string())?;
    let socket = ConnectorSocket::open().map_err(|e| {
        let mut m = e.message().to_string();
        for n in e.notes() {
            m.push_str("; ");
            m.push_str(n);
        }
        m
    })?;
    if opts.mlock {
        use nix::sys::mman::{mlockall, MlockAllFlags};
        if let Err(e) = mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE) {
            say!(
                logger,
                Level::Warn,
                "cannot lock memory ({e}): the server may be paged out under memory pressure"
            );
        }
    }
    if let Err(e) = daemon::oom_protect() {
        say!(
            logger,
            Level::Info,
            "cannot protect from the OOM killer: {e}"
        );
    }
    let logger_dyn = Some(logger.clone() as Arc<dyn Logger>);
    let ready = |what: String| {
        say!(
            logger,
            Level::Notice,
            "serving dm-log-userspace (request version {}){what}, state in {}",
            devmapper::ulog::abi::DM_ULOG_REQUEST_VERSION,
            opts.state_dir
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(none)".into())
        );
        if opts.detached_child {
            let mut out = std::io::stdout();
            let _ = out.write_all(b"READY\n");
            let _ = out.flush();
            detach_stdio();
        }
        daemon::sd_notify(&format!("READY=1\nMAINPID={}", std::process::id()));
    };
    let cpu0 = daemon::cpu_time_us().unwrap_or(0);
    let (result, written, live) = match cpg {
        None => {
            let mut server = Server::new(socket, table, LocalRouter, logger_dyn);
            ready(String::new());
            let result = serve(&mut server, &sigfd, &logger, cpu0);
            daemon::sd_notify("STOPPING=1");
            let written = server.shutdown();
            let live = server.dispatcher().table().len();
            stats(&server, &logger, cpu0);
            (result, written, live)
        }
        Some(cpg) => {
            let me = cpg.me();
            let router = ClusterRouter::new(me, cpg, logger_dyn.clone());
            let mut server = Server::new(socket, table, router, logger_dyn);
            ready(format!(
                " in clustered mode (corosync node {}, pid {})",
                me.node, me.pid
            ));
            let result = serve_cluster(&mut server, &sigfd, &logger, cpu0);
            daemon::sd_notify("STOPPING=1");
            let written = server.shutdown();
            server.dispatcher_mut().router_mut().leave_all();
            let live = server.dispatcher().table().len();
            stats(&server, &logger, cpu0);
            (result, written, live)
        }
    };
    say!(
        logger,
        Level::Notice,
        "stopped: {written} disk log(s) written; {live} log(s) still constructed (their mirrors wait for the next server, which takes them back from {})",
        opts.state_dir.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| "their disk logs".into())
    );
    drop(pidfile);
    result
}

/// The loop of the clustered mode: the connector socket, the signals and
/// one CPG descriptor per joined group. CPG callbacks only queue events;
/// they are fed to the router here, then the replies that became ready are
/// sent.
fn serve_cluster(
    server: &mut Server<ClusterRouter<cpg::Cpg>>,
    sigfd: &SignalFd,
    logger: &DaemonLogger,
    cpu0: u64,
) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    loop {
        let groups = server.dispatcher_mut().router_mut().transport().fds();
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(2 + groups.len());
        for fd in [server.fd().as_raw_fd(), sigfd.as_raw_fd()]
            .into_iter()
            .chain(groups.iter().map(|g| g.1))
        {
            fds.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        match cpg::poll(&mut fds) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        let ready = |i: usize| fds.get(i).is_some_and(|f| f.revents != 0);
        if ready(0) {
            if let Err(e) = server.process(16) {
                say!(logger, Level::Error, "receiving from the kernel: {e}");
                if e.raw_os_error() != Some(libc::EAGAIN) {
                    return Err(format!("the netlink socket failed: {e}"));
                }
            }
        }
        for (i, (handle, _)) in groups.iter().enumerate() {
            if ready(i + 2) {
                let t = server.dispatcher_mut().router_mut().transport_mut();
                if let Err(e) = t.dispatch(*handle) {
                    return Err(format!(
                        "lost the connection to corosync ({e}): stopping (the kernel waits for a server; restart dm-ulogd --cluster when corosync runs)"
                    ));
                }
            }
        }
        feed_cluster(server, logger);
        if ready(1) {
            while let Ok(Some(si)) = sigfd.read_signal() {
                match Signal::try_from(si.ssi_signo as i32) {
                    Ok(Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT) => {
                        say!(logger, Level::Notice, "signal {}: stopping", si.ssi_signo);
                        let _ = server.process(16);
                        feed_cluster(server, logger);
                        return Ok(());
                    }
                    Ok(_) => {
                        stats(server, logger, cpu0);
                        cluster_stats(server, logger);
                    }
                    Err(_) => {}
                }
            }
        }
    }
}

/// The cluster layer's counters and every group, at notice level.
fn cluster_stats(server: &mut Server<ClusterRouter<cpg::Cpg>>, logger: &DaemonLogger) {
    let r = server.dispatcher_mut().router_mut();
    let s = r.stats().clone();
    say!(
        logger,
        Level::Notice,
        "cluster: me={:?} sent={} applied={} dropped={} checkpoints_sent={} checkpoints_restored={} resynced_after_leave={}",
        r.me(),
        s.sent,
        s.applied,
        s.dropped,
        s.checkpoints_sent,
        s.checkpoints_restored,
        s.resynced_after_leave
    );
    let uuids: Vec<_> = r.groups().copied().collect();
    for u in uuids {
        say!(
            logger,
            Level::Notice,
            "cluster group [{}]: members {:?}, writer {:?}, {}",
            u.display(),
            r.members(&u),
            r.writer(&u),
            if r.is_ready(&u) {
                "ready"
            } else {
                "waiting for the state"
            }
        );
    }
}

/// Feed what the CPG callbacks queued to the router, then send the replies
/// that became ready.
fn feed_cluster(server: &mut Server<ClusterRouter<cpg::Cpg>>, logger: &DaemonLogger) {
    let events = cpg::take_events();
    {
        let (table, router) = server.dispatcher_mut().parts_mut();
        for ev in events {
            match ev {
                cpg::CpgEvent::Deliver { handle, from, data } => {
                    if router.transport().uuid_of(handle).is_some() {
                        router.deliver(table, from, &data);
                    }
                }
                cpg::CpgEvent::Confchg {
                    handle,
                    members,
                    left,
                    joined,
                } => {
                    if let Some(u) = router.transport().uuid_of(handle) {
                        router.membership(table, &u, &members, &left, &joined);
                    }
                }
            }
        }
    }
    let replies = server.dispatcher_mut().router_mut().take_replies();
    for (h, o) in replies {
        if let Err(e) = server.reply(&h, o) {
            say!(
                logger,
                Level::Error,
                "cannot send a reply to the kernel: {e} (it resends after 15 s)"
            );
        }
    }
}

/// Standard streams to /dev/null once detached.
fn detach_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        use std::os::fd::AsRawFd;
        for fd in 0..3 {
            let _ = nix::unistd::dup2(null.as_raw_fd(), fd);
        }
    }
}

fn serve(
    server: &mut Server,
    sigfd: &SignalFd,
    logger: &DaemonLogger,
    cpu0: u64,
) -> Result<(), String> {
    loop {
        let (sock_ready, sig_ready) = {
            let mut fds = [
                PollFd::new(server.fd(), PollFlags::POLLIN),
                PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(format!("poll: {e}")),
            }
            let r = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            (r(&fds[0]), r(&fds[1]))
        };
        if sock_ready {
            if let Err(e) = server.process(16) {
                say!(logger, Level::Error, "receiving from the kernel: {e}");
                if e.raw_os_error() != Some(libc::EAGAIN) {
                    return Err(format!("the netlink socket failed: {e}"));
                }
            }
        }
        if sig_ready {
            while let Ok(Some(si)) = sigfd.read_signal() {
                match Signal::try_from(si.ssi_signo as i32) {
                    Ok(Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT) => {
                        say!(logger, Level::Notice, "signal {}: stopping", si.ssi_signo);
                        // Answer what is already queued first.
                        let _ = server.process(16);
                        return Ok(());
                    }
                    Ok(_) => stats(server, logger, cpu0),
                    Err(_) => {}
                }
            }
        }
    }
}

/// Counters and every log's state, at notice level.
fn stats<R: Router>(server: &Server<R>, logger: &DaemonLogger, cpu0: u64) {
    let t = server.dispatcher().table();
    let s = t.stats();
    let total = s.total();
    let cpu = daemon::cpu_time_us().unwrap_or(cpu0).saturating_sub(cpu0);
    let per = if total > 0 {
        cpu as f64 / total as f64
    } else {
        0.0
    };
    say!(
        logger,
        Level::Notice,
        "stats: requests={} errors={} unknown_log={} malformed={} overruns={} dropped={} logs={} cpu_us={} cpu_us_per_request={:.2}",
        total,
        s.errors,
        s.unknown_log,
        s.malformed,
        server.overruns(),
        server.dispatcher().dropped(),
        t.len(),
        cpu,
        per
    );
    let by_type: Vec<String> = RequestType::ALL
        .iter()
        .filter_map(|k| {
            let n = s.requests.get(*k as usize).copied().unwrap_or(0);
            (n > 0).then(|| format!("{}={}", k.name(), n))
        })
        .collect();
    if !by_type.is_empty() {
        say!(logger, Level::Notice, "stats: {}", by_type.join(" "));
    }
    for l in t.logs() {
        let c = l.config();
        say!(
            logger,
            Level::Notice,
            "log [{}/{:x}] {}: {} regions of {} sectors, {} in sync, {:?}{}",
            l.uuid().display(),
            l.luid(),
            devmapper::ulog::codec::EscapedBytes(&c.type_name),
            c.region_count,
            c.region_size,
            l.sync_count(),
            l.phase(),
            match l.device_health() {
                Some(h) => format!(", device {h:?}"),
                None => String::new(),
            }
        );
    }
}
