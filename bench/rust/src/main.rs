//! dm-bench-rust: the workloads of `bench/dm-bench.c` (the C API) through
//! the devmapper crate's Rust API, for `make bench`'s "Rust API vs C API"
//! table (issue 11: the Rust API must be at least as fast as the C API).
//!
//! ```text
//! dm-bench-rust run LABEL WL...   timed workloads, each in its own forked
//!                                 child; WL: info status table deps message
//!                                 list bigtable (or "all")
//! dm-bench-rust callgrind         the callgrind regions, in this process
//!                                 (valgrind --tool=callgrind
//!                                 --collect-atstart=no)
//! dm-bench-rust libinfo           what this program measures
//! ```
//!
//! It mirrors `bench/bench-common.h`: the same sizes (`DMB_N`, `DMB_REPS`,
//! `DMB_MSG`, `DMB_LIST`, `DMB_T`, `DMB_READS`, `DMB_CG_OPS`,
//! `DMB_CG_LIST`, `DMB_CG_T`, `DMB_CG_READS`; `DMB_CG_SETUP=1` makes the
//! population first, for profiling on the host against `capi-tests`' fake
//! driver), the same warm-ups, loops,
//! result checks and rdtsc timing, the same output lines (`RES <label>
//! <workload> <metric> <value>`, `CGR <region> <ops>`, `ERR <message>`),
//! and the same callgrind regions, delimited with callgrind's client
//! requests (toggle collection, dump under the region's name) as the C
//! program's `CALLGRIND_*` macros do. It uses the population `dm-bench
//! setup` made (`bench-lin-NNNN`, `bench-msg`) and makes and removes
//! `bench-big` / `bench-cgbig` for the big-table reads.
//!
//! Each operation is one call of the Rust API, reading the reply in place
//! where the API can: [`DeviceMapper::info`], [`DeviceMapper::status_reply`]
//! and [`DeviceMapper::table_reply_with`] (every line visited; no
//! `DM_SECURE_DATA_FLAG`, as the C program's table task),
//! [`DeviceMapper::deps_reply`], [`DeviceMapper::target_message_reply`],
//! [`DeviceMapper::list_reply`] (every name visited). Creating and removing
//! devices (lifecycle, the big table's load) are not compared: the C
//! benchmark's rows for them stand alone.

use devmapper::{DevId, DeviceMapper, DmName, RemoveOptions, TableReadOptions, Target};
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

const PREFIX: &str = "bench-";
const WARMUP: usize = 5;

// ---- callgrind client requests ---------------------------------------------

/// Callgrind's client requests (`<valgrind/callgrind.h>`): tool base
/// `('C' << 24 | 'T' << 16)`, then DUMP_STATS, ZERO_STATS, TOGGLE_COLLECT,
/// DUMP_STATS_AT.
mod cg {
    const BASE: u64 = ((b'C' as u64) << 24) | ((b'T' as u64) << 16);
    const ZERO_STATS: u64 = BASE + 1;
    const TOGGLE_COLLECT: u64 = BASE + 2;
    const DUMP_STATS_AT: u64 = BASE + 3;

    /// valgrind.h's amd64 client request: the special instruction
    /// sequence (four rotations of %rdi that add up to 128 bits, then
    /// `xchg %rbx,%rbx`), with %rax pointing at the request words; a no-op
    /// (result = default) when not running under valgrind.
    #[cfg(target_arch = "x86_64")]
    fn request(req: u64, arg1: u64) -> u64 {
        let args: [u64; 6] = [req, arg1, 0, 0, 0, 0];
        let mut result: u64 = 0;
        // SAFETY: the sequence only rotates %rdi by a multiple of 64 bits
        // (leaving it as it was) and exchanges %rbx with itself: natively
        // it changes no register or memory; under valgrind it is the
        // documented client-request trap, which reads `args` (alive across
        // the asm, pointed to by %rax) and writes the result to %rdx.
        unsafe {
            std::arch::asm!(
                "rol rdi, 3",
                "rol rdi, 13",
                "rol rdi, 61",
                "rol rdi, 51",
                "xchg rbx, rbx",
                inout("rdx") result,
                in("rax") args.as_ptr(),
                inout("rdi") 0u64 => _,
                options(nostack, preserves_flags),
            );
        }
        result
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn request(_req: u64, _arg1: u64) -> u64 {
        0
    }

    /// `CALLGRIND_TOGGLE_COLLECT`.
    pub fn toggle_collect() {
        request(TOGGLE_COLLECT, 0);
    }

    /// `CALLGRIND_ZERO_STATS`.
    pub fn zero_stats() {
        request(ZERO_STATS, 0);
    }

    /// `CALLGRIND_DUMP_STATS_AT(region)`.
    pub fn dump_stats_at(region: &str) {
        let mut s = Vec::with_capacity(region.len() + 1);
        s.extend_from_slice(region.as_bytes());
        s.push(0);
        request(DUMP_STATS_AT, s.as_ptr() as u64);
    }
}

// ---- reporting and timing ----------------------------------------------------

struct Bench {
    label: String,
    errors: u32,
    ns_per_tick: f64,
}

fn envl(name: &str, def: i64) -> i64 {
    std::env::var(name)
        .ok()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
        .unwrap_or(def)
}

fn envu(name: &str, def: usize) -> usize {
    usize::try_from(envl(name, def as i64)).unwrap_or(def)
}

fn out(line: std::fmt::Arguments<'_>) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_fmt(line);
    let _ = o.write_all(b"\n");
    let _ = o.flush();
}

/// The time-stamp counter (as `bench-common.h`'s `ticks()`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn ticks() -> u64 {
    #[allow(unused_unsafe)]
    // SAFETY: rdtsc reads a counter; it has no memory effects.
    unsafe {
        std::arch::x86_64::_rdtsc()
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn ticks() -> u64 {
    use std::sync::OnceLock;
    static T0: OnceLock<Instant> = OnceLock::new();
    T0.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

impl Bench {
    fn new() -> Bench {
        // rdtsc calibrated against the monotonic clock over a 20 ms sleep,
        // as the C programs do.
        let t0 = Instant::now();
        let c0 = ticks();
        std::thread::sleep(Duration::from_millis(20));
        let c1 = ticks();
        let ns = t0.elapsed().as_nanos() as f64;
        Bench {
            label: "?".into(),
            errors: 0,
            ns_per_tick: ns / (c1.wrapping_sub(c0).max(1)) as f64,
        }
    }

    fn err(&mut self, msg: std::fmt::Arguments<'_>) {
        out(format_args!("ERR {msg}"));
        self.errors += 1;
    }

    fn res(&self, wl: &str, metric: &str, v: f64) {
        out(format_args!("RES {} {wl} {metric} {v:.3}", self.label));
    }

    fn us(&self, dt: u64) -> f64 {
        dt as f64 * self.ns_per_tick / 1000.0
    }

    /// Median of the samples, in microseconds.
    fn p50_us(&self, s: &mut [u64]) -> f64 {
        if s.is_empty() {
            return 0.0;
        }
        s.sort_unstable();
        let n = s.len();
        if n % 2 == 1 {
            self.us(s[n / 2])
        } else {
            self.us((s[n / 2 - 1] + s[n / 2]) / 2)
        }
    }
}

// ---- the operations: one Rust API call each -------------------------------

fn handle() -> DeviceMapper {
    let dm = match DeviceMapper::new() {
        Ok(dm) => dm,
        Err(e) => {
            eprintln!("dm-bench-rust: {e}");
            std::process::exit(1);
        }
    };
    // As dm-bench's op_init (dm_udev_set_sync_support(0)).
    dm.context().set_udev_sync(false);
    dm
}

fn dev(name: &str) -> DevId {
    DevId::Name(DmName::new(name).expect("a valid device name"))
}

fn lin_ids(n: usize) -> Vec<DevId> {
    (0..n)
        .map(|i| dev(&format!("{PREFIX}lin-{i:04}")))
        .collect()
}

/// DM_DEVICE_INFO: the live table's target count, -1 on failure.
#[inline(never)]
fn op_info(dm: &DeviceMapper, id: &DevId) -> i64 {
    // dm_task_get_info's counterpart: the state, no name copy.
    match dm.state(id) {
        Ok(i) => i64::from(i.target_count),
        Err(_) => -1,
    }
}

/// DM_DEVICE_TABLE (`table`) or DM_DEVICE_STATUS, visiting every line in
/// the reply: the number of lines, -1 on failure.
#[inline(never)]
fn op_targets(dm: &DeviceMapper, table: bool, id: &DevId) -> i64 {
    let mut n = 0;
    if table {
        // As dm-bench's C table task: no DM_SECURE_DATA_FLAG (the Rust
        // API's default asks the kernel to wipe its copy; the bench's
        // tables hold no keys).
        let opts = TableReadOptions {
            secure_data: false,
            ..TableReadOptions::default()
        };
        let Ok(r) = dm.table_reply_with(id, opts) else {
            return -1;
        };
        for t in &r {
            black_box(&t);
            n += 1;
        }
    } else {
        let Ok(r) = dm.status_reply(id, false) else {
            return -1;
        };
        for s in &r {
            black_box(&s);
            n += 1;
        }
    }
    n
}

/// DM_DEVICE_DEPS: the number of dependencies, -1 on failure.
#[inline(never)]
fn op_deps(dm: &DeviceMapper, id: &DevId) -> i64 {
    // As dm-bench's op_deps: the count, read from the reply.
    dm.deps_reply(id, false).map_or(-1, |d| d.len() as i64)
}

/// DM_DEVICE_TARGET_MSG to sector 0: the response length, -1 on failure.
#[inline(never)]
fn op_message(dm: &DeviceMapper, id: &DevId, msg: &[u8]) -> i64 {
    // As dm-bench's op_message: the response's length (its strlen),
    // read in the reply.
    match dm.target_message_reply(id, 0, msg) {
        Ok(r) => r.response().map_or(0, |r| r.len() as i64),
        Err(_) => -1,
    }
}

/// The list check of bench-common.h: names seen, bench-lin-* among them.
#[derive(Default)]
struct ListCheck {
    names: i64,
    lin: i64,
}

/// DM_DEVICE_LIST, visiting every name (into `check` if given): the
/// number of names, -1 on failure.
#[inline(never)]
fn op_list(dm: &DeviceMapper, mut check: Option<&mut ListCheck>) -> i64 {
    let Ok(r) = dm.list_reply() else {
        return -1;
    };
    let mut n = 0;
    for d in &r {
        // As dm-bench's op_list: the names are looked at by the check only.
        if let Some(c) = check.as_deref_mut() {
            c.names += 1;
            if d.name().starts_with(b"bench-lin-") {
                c.lin += 1;
            }
        }
        n += 1;
    }
    n
}

/// The big table (T zero targets of 8 sectors), created and resumed.
fn create_big(dm: &DeviceMapper, name: &str, t: u64) -> bool {
    let table: Vec<Target> = (0..t).map(|i| Target::new(i * 8, 8, "zero", "")).collect();
    let Ok(n) = DmName::new(name) else {
        return false;
    };
    dm.create_with_table(&n, None, &table, false).is_ok()
}

fn remove(dm: &DeviceMapper, id: &DevId) -> bool {
    dm.remove(id, RemoveOptions::default()).is_ok()
}

// ---- timed workloads ---------------------------------------------------------

fn wl_per_device(b: &mut Bench, dm: &DeviceMapper, wl: &str, ids: &[DevId], reps: usize) {
    let mut s = Vec::with_capacity(ids.len() * reps);
    for i in 0..WARMUP {
        op_info(dm, &ids[i % ids.len()]);
    }
    for _ in 0..reps {
        for id in ids {
            let t0 = ticks();
            let got = match wl {
                "info" => op_info(dm, id),
                "deps" => op_deps(dm, id),
                "status" => op_targets(dm, false, id),
                _ => op_targets(dm, true, id),
            };
            s.push(ticks().wrapping_sub(t0));
            if got != 1 {
                b.err(format_args!("{wl} {id}: got {got} (want 1)"));
            }
        }
    }
    let v = b.p50_us(&mut s);
    b.res(wl, "p50_us", v);
}

fn wl_message(b: &mut Bench, dm: &DeviceMapper, m: usize) {
    let id = dev(&format!("{PREFIX}msg"));
    let mut s = Vec::with_capacity(m);
    for _ in 0..WARMUP {
        op_message(dm, &id, b"@stats_list");
    }
    for _ in 0..m {
        let t0 = ticks();
        let got = op_message(dm, &id, b"@stats_list");
        s.push(ticks().wrapping_sub(t0));
        if got <= 0 {
            b.err(format_args!("message: response length {got}"));
        }
    }
    let v = b.p50_us(&mut s);
    b.res("message", "p50_us", v);
}

fn wl_list(b: &mut Bench, dm: &DeviceMapper, l: usize, n: usize) {
    let mut s = Vec::with_capacity(l);
    let mut c = ListCheck::default();
    for _ in 0..2 {
        op_list(dm, Some(&mut c));
    }
    let n = n as i64;
    for _ in 0..l {
        c = ListCheck::default();
        let t0 = ticks();
        let got = op_list(dm, Some(&mut c));
        s.push(ticks().wrapping_sub(t0));
        if got < n + 2 || c.names != got || c.lin != n {
            b.err(format_args!(
                "list: {got} names, {} visited, {} {PREFIX}lin-* (want >= {}, all, {n})",
                c.names,
                c.lin,
                n + 2
            ));
        }
    }
    let v = b.p50_us(&mut s);
    b.res("list", "p50_us", v);
}

/// The big table is created in a child process (as bench-common.h loads
/// it in one), so the reads start in a process that never touched it.
fn wl_bigtable(b: &mut Bench, dm: &DeviceMapper, t: u64, reads: usize) {
    let name = format!("{PREFIX}big");
    let id = dev(&name);
    op_info(dm, &dev(&format!("{PREFIX}base"))); // warm-up, small buffer
    let (ok, _) = in_child(|| {
        let dm = handle();
        if create_big(&dm, &name, t) {
            0
        } else {
            1
        }
    });
    if !ok {
        b.err(format_args!("bigtable: create with {t} targets"));
        remove(dm, &id);
        return;
    }
    let t0 = ticks();
    let got = op_targets(dm, true, &id);
    let first = b.us(ticks().wrapping_sub(t0)) / 1000.0;
    b.res("bigtable.table_first", "ms", first);
    if got != t as i64 {
        b.err(format_args!(
            "bigtable: first read-back {got} targets (want {t})"
        ));
    }
    let mut sum = 0.0;
    for _ in 0..reads {
        let t0 = ticks();
        let got = op_targets(dm, true, &id);
        sum += b.us(ticks().wrapping_sub(t0));
        if got != t as i64 {
            b.err(format_args!("bigtable: read-back {got} targets (want {t})"));
        }
    }
    b.res("bigtable.table", "ms", sum / reads.max(1) as f64 / 1000.0);
    if !remove(dm, &id) {
        b.err(format_args!("bigtable: remove"));
    }
}

fn run_one(b: &mut Bench, wl: &str) {
    let n = envu("DMB_N", 1000);
    let reps = envu("DMB_REPS", 2);
    let dm = handle();
    match wl {
        "info" | "status" | "table" | "deps" => wl_per_device(b, &dm, wl, &lin_ids(n), reps),
        "message" => wl_message(b, &dm, envu("DMB_MSG", 200)),
        "list" => wl_list(b, &dm, envu("DMB_LIST", 30), n),
        "bigtable" => wl_bigtable(
            b,
            &dm,
            envl("DMB_T", 100_000).max(1) as u64,
            envu("DMB_READS", 3),
        ),
        _ => b.err(format_args!("unknown workload {wl}")),
    }
}

/// Run `f` in a forked child; whether it exited 0, and its peak RSS (KiB).
fn in_child(f: impl FnOnce() -> i32) -> (bool, i64) {
    let _ = std::io::stdout().flush();
    // SAFETY: this program is single-threaded; the child only runs `f`
    // (which opens its own handle) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let rc = f();
        let _ = std::io::stdout().flush();
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(rc) };
    }
    if pid < 0 {
        return (false, 0);
    }
    let mut st = 0;
    // SAFETY: an all-zero rusage is a valid value of the C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; st and ru are valid for writes.
    let r = unsafe { libc::wait4(pid, &mut st, 0, &mut ru) };
    let ok = r == pid && libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0;
    (ok, ru.ru_maxrss)
}

const ALL: &[&str] = &[
    "info", "status", "table", "deps", "message", "list", "bigtable",
];

/// Each workload in a fresh child, as bench-common.h's cmd_run.
fn cmd_run(b: &mut Bench, wls: &[String]) -> i32 {
    let wls: Vec<String> = if wls.len() == 1 && wls[0] == "all" {
        ALL.iter().map(|s| s.to_string()).collect()
    } else {
        wls.to_vec()
    };
    let mut rc = 0;
    for wl in &wls {
        let (ok, rss) = in_child(|| {
            b.errors = 0;
            run_one(b, wl);
            i32::from(b.errors != 0)
        });
        if !ok {
            b.err(format_args!("workload {wl}: child failed"));
            rc = 1;
        }
        b.res(wl, "rss_kib", rss as f64);
    }
    i32::from(rc != 0 || b.errors != 0)
}

// ---- callgrind regions ---------------------------------------------------------

/// Collection toggled on around `body` only, then the counters dumped under
/// the region's name (as bench-common.h's CG_REGION).
fn region(name: &str, ops: i64, body: impl FnOnce()) {
    cg::toggle_collect();
    body();
    cg::toggle_collect();
    cg::dump_stats_at(name);
    out(format_args!("CGR {name} {ops}"));
}

/// bench-base, the bench-lin-NNNN devices (linear on it) and bench-msg, for `DMB_CG_SETUP=1` (a fake driver has no population).
fn setup_population(dm: &DeviceMapper, n: usize) {
    let make = |name: &str, len: u64, ty: &str, params: &str| {
        let n = DmName::new(name).expect("a valid device name");
        let _ = dm.create_with_table(&n, None, &[Target::new(0, len, ty, params)], false);
    };
    make(&format!("{PREFIX}base"), 8 * n as u64, "zero", "");
    let base = dm.info(&dev(&format!("{PREFIX}base")));
    let (major, minor) = base.map_or((0, 0), |i| (i.major, i.minor));
    for i in 0..n {
        let params = format!("{major}:{minor} {}", 8 * i);
        make(&format!("{PREFIX}lin-{i:04}"), 8, "linear", &params);
    }
    make(&format!("{PREFIX}msg"), 8, "zero", "");
}

fn cmd_callgrind(b: &mut Bench) -> i32 {
    let n = envu("DMB_N", 1000);
    let ops = envu("DMB_CG_OPS", 20).min(n);
    let nl = envu("DMB_CG_LIST", 10);
    let t = envl("DMB_CG_T", 2000).max(1);
    let reads = envu("DMB_CG_READS", 2);
    let dm = handle();
    let ids = lin_ids(n);
    let msg = dev(&format!("{PREFIX}msg"));
    let mut bad = 0i64;
    if envl("DMB_CG_SETUP", 0) == 1 {
        // Profiling on the host against capi-tests' fake driver
        // (LD_PRELOAD): make the population in this process first.
        setup_population(&dm, n);
    }
    // Warm-up: every operation once before its region.
    op_info(&dm, &ids[0]);
    op_targets(&dm, false, &ids[0]);
    op_targets(&dm, true, &ids[0]);
    op_deps(&dm, &ids[0]);
    op_message(&dm, &msg, b"@stats_list");
    cg::zero_stats();

    let ids = &ids[..ops];
    let o = ops as i64;
    region("info", o, || {
        bad += ids.iter().filter(|id| op_info(&dm, id) != 1).count() as i64
    });
    region("status", o, || {
        bad += ids
            .iter()
            .filter(|id| op_targets(&dm, false, id) != 1)
            .count() as i64
    });
    region("table", o, || {
        bad += ids
            .iter()
            .filter(|id| op_targets(&dm, true, id) != 1)
            .count() as i64
    });
    region("deps", o, || {
        bad += ids.iter().filter(|id| op_deps(&dm, id) != 1).count() as i64
    });
    region("message", o, || {
        bad += (0..ops)
            .filter(|_| op_message(&dm, &msg, b"@stats_list") <= 0)
            .count() as i64
    });
    op_list(&dm, None);
    let want = n as i64 + 2;
    region("list", nl as i64, || {
        bad += (0..nl).filter(|_| op_list(&dm, None) < want).count() as i64
    });

    let big = format!("{PREFIX}cgbig");
    let big_id = dev(&big);
    if !create_big(&dm, &big, t as u64) {
        b.err(format_args!("callgrind: bigtable create"));
        return 1;
    }
    region("bigtable.table_first", t, || {
        bad += i64::from(op_targets(&dm, true, &big_id) != t)
    });
    region("bigtable.table", reads as i64 * t, || {
        bad += (0..reads)
            .filter(|_| op_targets(&dm, true, &big_id) != t)
            .count() as i64
    });
    remove(&dm, &big_id);
    if bad != 0 {
        b.err(format_args!(
            "callgrind: {bad} operations failed or returned wrong results"
        ));
    }
    i32::from(b.errors != 0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "dm-bench-rust run LABEL WL... | callgrind | libinfo";
    if args.len() < 2 {
        eprintln!("usage: {usage}");
        std::process::exit(2);
    }
    if args[1] == "libinfo" {
        out(format_args!(
            "Rust API: the devmapper crate of this workspace (libdevmapper {}), statically linked into {}",
            devmapper::LIBDM_VERSION,
            args[0]
        ));
        return;
    }
    let mut b = Bench::new();
    let rc = match args[1].as_str() {
        "callgrind" => cmd_callgrind(&mut b),
        "run" if args.len() >= 4 => {
            b.label = args[2].clone();
            out(format_args!("# tsc: {:.4} ns/tick", b.ns_per_tick));
            cmd_run(&mut b, &args[3..])
        }
        _ => {
            eprintln!("bad arguments; usage: {usage}");
            2
        }
    };
    std::process::exit(rc);
}
