/*
 * bench-common.h: the workloads shared by dm-bench (libdevmapper API, stock
 * or ours) and dm-floor (hand-written dm ioctls), so that both run exactly
 * the same loops, checks, timings and callgrind regions (see
 * bench/README.md). Only the operations differ: each program defines the
 * op_* functions declared below, then includes this file once.
 *
 * Sizes come from the environment: DMB_N (population, default 1000),
 * DMB_REPS (passes over the population, 2), DMB_MSG (200), DMB_LIST (30),
 * DMB_LC (50 lifecycle devices), DMB_T (100000 bigtable targets),
 * DMB_READS (3 steady read-backs), DMB_INFO_AFTER (100), DMB_STARTUP (10);
 * callgrind: DMB_CG_OPS (20), DMB_CG_LIST (10), DMB_CG_LC (10),
 * DMB_CG_T (2000), DMB_CG_READS (2), DMB_CG_INFO_AFTER (20).
 *
 * Output (stdout), one line per figure:
 *   RES <label> <workload> <metric> <value>
 *   CGR <region> <ops>         (callgrind mode: region name and op count;
 *                               the Ir come from the dump of that name)
 *   ERR <message>              a failed operation or a wrong result
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#ifdef HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_DUMP_STATS_AT(s) ((void)(s))
#define CALLGRIND_ZERO_STATS
#endif

#define PREFIX "bench-"
#define NAME_LEN 64

/* Defaults of the sizes (the environment overrides them). */
#define DEF_N 1000
#define DEF_T 100000

/* ---- the operations each program provides -------------------------------- */

/* Once per workload process (after fork), before any other op. */
static void op_init(void);
/* DM_DEVICE_INFO: the live table's target count, -1 when the call failed or
 * the device does not exist. */
static long op_info(const char *name);
/* DM_DEVICE_STATUS (table 0) or DM_DEVICE_TABLE (table 1), visiting every
 * target: the number of targets, -1 on failure. */
static long op_targets(int table, const char *name);
/* DM_DEVICE_DEPS: the number of dependencies, -1 on failure. */
static long op_deps(const char *name);
/* DM_DEVICE_TARGET_MSG to sector 0: the response length, -1 on failure. */
static long op_message(const char *name, const char *msg);
/* DM_DEVICE_LIST: the number of names, -1 on failure; fn on each name. */
static long op_list(void (*fn)(const char *, void *), void *arg);
/* Create NAME with N targets TTYPE of LEN sectors each (CREATE, LOAD,
 * RESUME) and its /dev/mapper node; 1 on success. */
static int op_create(const char *name, long n, const char *ttype, uint64_t len,
		     const char *params);
/* Remove NAME and its /dev/mapper node; 1 on success. */
static int op_remove(const char *name);
/* Big table: build the create request of T zero targets of 8 sectors
 * (NULL on failure), then run it (CREATE, LOAD, RESUME, node) and free it;
 * op_big_load returns 1 on success. */
static void *op_big_build(const char *name, long t);
static int op_big_load(void *req);
/* The startup child's one operation (DM_VERSION); 0 on success. */
static int op_startup_child(void);
/* One line: what this program measures. */
static void op_libinfo(void);

/* ---- reporting ----------------------------------------------------------- */

static int errors;
static const char *label = "?";

static void err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("ERR ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	errors++;
}

static long envl(const char *name, long def)
{
	const char *s = getenv(name);
	return s && *s ? strtol(s, NULL, 10) : def;
}

static void res(const char *wl, const char *metric, double v)
{
	printf("RES %s %s %s %.3f\n", label, wl, metric, v);
	fflush(stdout);
}

/* ---- timing -------------------------------------------------------------- */

static double ns_per_tick;

static double mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* rdtsc calibrated against CLOCK_MONOTONIC over a 20 ms sleep: under TCG the
 * guest clocksource may be HPET, where clock_gettime() is an emulated MMIO
 * read of a couple of microseconds; rdtsc is a few ns. */
static void calibrate(void)
{
	struct timespec d = { 0, 20 * 1000 * 1000 };
	double t0 = mono_ns();
	uint64_t c0 = __rdtsc();
	nanosleep(&d, NULL);
	double t1 = mono_ns();
	uint64_t c1 = __rdtsc();
	ns_per_tick = (t1 - t0) / (double)(c1 - c0);
}

static inline uint64_t ticks(void)
{
	return __rdtsc();
}

static double tick_us(uint64_t dt)
{
	return dt * ns_per_tick / 1000.0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Median of n samples (sorts in place), in microseconds. */
static double p50_us(uint64_t *s, size_t n)
{
	if (!n)
		return 0;
	qsort(s, n, sizeof(*s), cmp_u64);
	return n % 2 ? tick_us(s[n / 2]) : tick_us((s[n / 2 - 1] + s[n / 2]) / 2);
}

/* CPU time and minor faults of this process, for the per-phase split. */
struct cpu {
	double user_ms, sys_ms;
	long minflt;
};

static struct cpu cpu_now(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	struct cpu c = { ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3,
			 ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3, ru.ru_minflt };
	return c;
}

/* Per-op CPU split of a phase (tick-sampled: good for phases >> 4 ms). */
static void res_cpu(const char *wl, struct cpu a, long ops)
{
	struct cpu b = cpu_now();
	res(wl, "user_ms", (b.user_ms - a.user_ms) / ops);
	res(wl, "sys_ms", (b.sys_ms - a.sys_ms) / ops);
	res(wl, "minflt", (double)(b.minflt - a.minflt) / ops);
}

/* ---- names --------------------------------------------------------------- */

static char (*lin_names)[NAME_LEN];

static void make_lin_names(int n)
{
	lin_names = calloc(n, NAME_LEN);
	for (int i = 0; i < n; i++)
		snprintf(lin_names[i], NAME_LEN, PREFIX "lin-%04d", i);
}

/* ---- timed workloads (each in its own child process) --------------------- */

#define WARMUP 5

static void wl_per_device(const char *wl, int n, int reps)
{
	size_t cnt = (size_t)n * reps, k = 0;
	uint64_t *s = malloc(cnt * sizeof(*s));
	int which = !strcmp(wl, "info") ? 0 : !strcmp(wl, "deps") ? 2 : !strcmp(wl, "status") ? 3 : 1;

	for (int i = 0; i < WARMUP; i++)
		op_info(lin_names[i % n]);
	for (int r = 0; r < reps; r++)
		for (int i = 0; i < n; i++) {
			const char *name = lin_names[i];
			long got;
			uint64_t t0 = ticks();
			if (which == 0)
				got = op_info(name);
			else if (which == 2)
				got = op_deps(name);
			else
				got = op_targets(which == 1, name);
			s[k++] = ticks() - t0;
			if (got != 1)
				err("%s %s: got %ld (want 1)", wl, name, got);
		}
	res(wl, "p50_us", p50_us(s, k));
	free(s);
}

static void wl_message(int m)
{
	uint64_t *s = malloc(m * sizeof(*s));
	for (int i = 0; i < WARMUP; i++)
		op_message(PREFIX "msg", "@stats_list");
	for (int i = 0; i < m; i++) {
		uint64_t t0 = ticks();
		long got = op_message(PREFIX "msg", "@stats_list");
		s[i] = ticks() - t0;
		if (got <= 0)
			err("message: response length %ld", got);
	}
	res("message", "p50_us", p50_us(s, m));
	free(s);
}

/* The list check: every bench-lin name is seen (they come in name order, so
 * a counter of the ones matching the next expected name suffices). */
struct list_check {
	long names, lin;
};

static void check_name(const char *name, void *arg)
{
	struct list_check *c = arg;
	c->names++;
	if (!strncmp(name, PREFIX "lin-", sizeof(PREFIX "lin-") - 1))
		c->lin++;
}

static void wl_list(int l, int n)
{
	uint64_t *s = malloc(l * sizeof(*s));
	struct list_check c = { 0, 0 };
	for (int i = 0; i < 2; i++)
		op_list(check_name, &c);
	for (int i = 0; i < l; i++) {
		c.names = c.lin = 0;
		uint64_t t0 = ticks();
		long got = op_list(check_name, &c);
		s[i] = ticks() - t0;
		if (got < n + 2 || c.names != got || c.lin != n)
			err("list: %ld names, %ld visited, %ld " PREFIX "lin-* (want >= %d, all, %d)",
			    got, c.names, c.lin, n + 2, n);
	}
	res("list", "p50_us", p50_us(s, l));
	free(s);
}

static void wl_lifecycle(int lc)
{
	char (*names)[NAME_LEN] = calloc(lc, NAME_LEN);
	uint64_t *sc = malloc(lc * sizeof(*sc)), *sr = malloc(lc * sizeof(*sr));

	for (int i = 0; i < lc; i++)
		snprintf(names[i], NAME_LEN, PREFIX "lc-%03d", i);
	/* Warm the library up (control node, /proc/devices) outside the loop. */
	op_info(PREFIX "base");
	struct cpu c0 = cpu_now();
	for (int i = 0; i < lc; i++) {
		uint64_t t0 = ticks();
		int ok = op_create(names[i], 1, "zero", 8, "");
		sc[i] = ticks() - t0;
		if (!ok)
			err("create %s", names[i]);
	}
	res_cpu("lifecycle.create", c0, lc);
	char path[128];
	snprintf(path, sizeof(path), "/dev/mapper/%s", names[0]);
	if (access(path, F_OK))
		err("create: %s missing (node creation)", path);
	if (op_info(names[lc - 1]) != 1)
		err("create: %s has no one-target live table", names[lc - 1]);
	c0 = cpu_now();
	for (int i = 0; i < lc; i++) {
		uint64_t t0 = ticks();
		int ok = op_remove(names[i]);
		sr[i] = ticks() - t0;
		if (!ok)
			err("remove %s", names[i]);
	}
	res_cpu("lifecycle.remove", c0, lc);
	if (!access(path, F_OK))
		err("remove: %s still there", path);
	res("lifecycle.create", "p50_us", p50_us(sc, lc));
	res("lifecycle.remove", "p50_us", p50_us(sr, lc));
	free(names);
	free(sc);
	free(sr);
}

/* The load runs in a child of its own, so that wait4() reports the peak RSS
 * of building and loading the table alone (rss_kib of bigtable.load); the
 * read-backs then run in the workload process. */
static void wl_bigtable(long t, int reads, int info_after)
{
	const char *name = PREFIX "big";
	uint64_t *s = malloc(info_after * sizeof(*s));
	double sum = 0;
	long got;

	op_info(PREFIX "base"); /* warm-up, small buffer */

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		errors = 0;
		struct cpu c0 = cpu_now();
		uint64_t t0 = ticks();
		void *req = op_big_build(name, t);
		uint64_t t1 = ticks();
		res_cpu("bigtable.build", c0, 1);
		c0 = cpu_now();
		t1 = ticks();
		int ok = req && op_big_load(req);
		uint64_t t2 = ticks();
		res_cpu("bigtable.load", c0, 1);
		if (!ok)
			err("bigtable: create with %ld targets", t);
		res("bigtable.build", "ms", tick_us(t1 - t0) / 1000);
		res("bigtable.load", "ms", tick_us(t2 - t1) / 1000);
		fflush(stdout);
		_exit(ok && !errors ? 0 : 1);
	}
	int st = 0;
	struct rusage ru;
	if (pid < 0 || wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		err("bigtable: load child status 0x%x", st);
		op_remove(name);
		free(s);
		return;
	}
	res("bigtable.load", "rss_kib", ru.ru_maxrss);

	struct cpu c0 = cpu_now();
	uint64_t t0 = ticks();
	got = op_targets(1, name);
	res("bigtable.table_first", "ms", tick_us(ticks() - t0) / 1000);
	res_cpu("bigtable.table_first", c0, 1);
	if (got != t)
		err("bigtable: first read-back %ld targets (want %ld)", got, t);
	c0 = cpu_now();
	for (int i = 0; i < reads; i++) {
		t0 = ticks();
		got = op_targets(1, name);
		sum += tick_us(ticks() - t0);
		if (got != t)
			err("bigtable: read-back %ld targets (want %ld)", got, t);
	}
	res("bigtable.table", "ms", sum / reads / 1000);
	res_cpu("bigtable.table", c0, reads);
	c0 = cpu_now();
	for (int i = 0; i < info_after; i++) {
		t0 = ticks();
		got = op_info(name);
		s[i] = ticks() - t0;
		if (got != t)
			err("bigtable: info after: %ld targets (want %ld)", got, t);
	}
	res("bigtable.info_after", "p50_us", p50_us(s, info_after));
	res_cpu("bigtable.info_after", c0, info_after);
	if (!op_remove(name))
		err("bigtable: remove");
	free(s);
}

static void wl_startup(const char *self, int k)
{
	uint64_t *s = malloc(k * sizeof(*s));
	for (int i = 0; i < k; i++) {
		uint64_t t0 = ticks();
		pid_t pid = fork();
		if (pid == 0) {
			execl(self, self, "startup-child", (char *)NULL);
			_exit(127);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		s[i] = ticks() - t0;
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			err("startup: child status 0x%x", st);
	}
	res("startup", "p50_us", p50_us(s, k));
	free(s);
}

static void run_one(const char *self, const char *wl)
{
	int n = envl("DMB_N", DEF_N), reps = envl("DMB_REPS", 2);

	if (!strcmp(wl, "info") || !strcmp(wl, "status") || !strcmp(wl, "table") ||
	    !strcmp(wl, "deps"))
		wl_per_device(wl, n, reps);
	else if (!strcmp(wl, "message"))
		wl_message(envl("DMB_MSG", 200));
	else if (!strcmp(wl, "list"))
		wl_list(envl("DMB_LIST", 30), n);
	else if (!strcmp(wl, "lifecycle"))
		wl_lifecycle(envl("DMB_LC", 50));
	else if (!strcmp(wl, "bigtable"))
		wl_bigtable(envl("DMB_T", DEF_T), envl("DMB_READS", 3), envl("DMB_INFO_AFTER", 100));
	else if (!strcmp(wl, "startup"))
		wl_startup(self, envl("DMB_STARTUP", 10));
	else
		err("unknown workload %s", wl);
}

static const char *all_wl[] = { "info", "status",    "table",	 "deps",    "message",
				"list", "lifecycle", "bigtable", "startup", NULL };

/* Each workload in a fresh child: process-wide state (libdm's sticky buffer
 * factor, control fd, node-op stack; the floor's remembered sizes) never
 * leaks from one into another, and wait4() gives the workload's own peak
 * RSS. */
static int cmd_run(const char *self, int argc, char **argv)
{
	const char **wls = (const char **)argv;
	if (argc == 1 && !strcmp(argv[0], "all")) {
		wls = all_wl;
		for (argc = 0; all_wl[argc]; argc++)
			;
	}
	make_lin_names(envl("DMB_N", DEF_N));
	int rc = 0;
	for (int i = 0; i < argc; i++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			op_init();
			errors = 0;
			run_one(self, wls[i]);
			fflush(stdout);
			_exit(errors ? 1 : 0);
		}
		int st = 0;
		struct rusage ru;
		if (wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			err("workload %s: child status 0x%x", wls[i], st);
			rc = 1;
		}
		res(wls[i], "rss_kib", ru.ru_maxrss);
	}
	return rc || errors;
}

/* ---- callgrind regions ----------------------------------------------------- */

/* Collection is toggled on around the measured loop only, then the counters
 * are dumped under the region's name (a dump also zeroes them). */
#define CG_REGION(region, ops, body)                                      \
	do {                                                                  \
		CALLGRIND_TOGGLE_COLLECT;                                     \
		body;                                                         \
		CALLGRIND_TOGGLE_COLLECT;                                     \
		CALLGRIND_DUMP_STATS_AT(region);                              \
		printf("CGR %s %ld\n", region, (long)(ops));                  \
		fflush(stdout);                                               \
	} while (0)

static int cmd_callgrind(void)
{
	int n = envl("DMB_N", DEF_N), ops = envl("DMB_CG_OPS", 20);
	int nl = envl("DMB_CG_LIST", 10), lc = envl("DMB_CG_LC", 10);
	long t = envl("DMB_CG_T", 2000);
	int reads = envl("DMB_CG_READS", 2), ia = envl("DMB_CG_INFO_AFTER", 20);
	long bad = 0;

	if (ops > n)
		ops = n;
	op_init();
	make_lin_names(n);
	char (*lc_names)[NAME_LEN] = calloc(lc, NAME_LEN);
	for (int i = 0; i < lc; i++)
		snprintf(lc_names[i], NAME_LEN, PREFIX "cg-%03d", i);
	/* Warm-up: every function used below runs once before its region, so
	 * lazy binding and first-use setup are not counted. */
	op_info(lin_names[0]);
	op_targets(0, lin_names[0]);
	op_targets(1, lin_names[0]);
	op_deps(lin_names[0]);
	op_message(PREFIX "msg", "@stats_list");
	op_create(PREFIX "cg-warm", 1, "zero", 8, "");
	op_remove(PREFIX "cg-warm");
	CALLGRIND_ZERO_STATS;

	CG_REGION("info", ops, for (int i = 0; i < ops; i++) bad += op_info(lin_names[i]) != 1);
	CG_REGION("status", ops, for (int i = 0; i < ops; i++) bad += op_targets(0, lin_names[i]) != 1);
	CG_REGION("table", ops, for (int i = 0; i < ops; i++) bad += op_targets(1, lin_names[i]) != 1);
	CG_REGION("deps", ops, for (int i = 0; i < ops; i++) bad += op_deps(lin_names[i]) != 1);
	CG_REGION("message", ops,
		  for (int i = 0; i < ops; i++) bad += op_message(PREFIX "msg", "@stats_list") <= 0);
	CG_REGION("lifecycle.create", lc,
		  for (int i = 0; i < lc; i++) bad += !op_create(lc_names[i], 1, "zero", 8, ""));
	CG_REGION("lifecycle.remove", lc, for (int i = 0; i < lc; i++) bad += !op_remove(lc_names[i]));
	/* The list after the small ops: a list of ~1000 names grows stock's
	 * process-wide buffer factor (16 KiB -> 32 KiB for every later ioctl),
	 * which is measured here and in bigtable.info_after, not in the rows
	 * above (the timed rounds run every workload in its own process). */
	op_list(NULL, NULL);
	CG_REGION("list", nl, for (int i = 0; i < nl; i++) bad += op_list(NULL, NULL) < n + 2);

	/* bigtable last: it grows stock's process-wide buffer factor. */
	const char *big = PREFIX "cgbig";
	void *req = NULL;
	int ok = 0;
	CG_REGION("bigtable.build", t, req = op_big_build(big, t));
	CG_REGION("bigtable.load", t, ok = req && op_big_load(req));
	if (!ok) {
		err("callgrind: bigtable create");
		return 1;
	}
	CG_REGION("bigtable.table_first", t, bad += op_targets(1, big) != t);
	CG_REGION("bigtable.table", (long)reads * t,
		  for (int i = 0; i < reads; i++) bad += op_targets(1, big) != t);
	CG_REGION("bigtable.info_after", ia, for (int i = 0; i < ia; i++) bad += op_info(big) != t);
	op_remove(big);
	if (bad)
		err("callgrind: %ld operations failed or returned wrong results", bad);
	free(lc_names);
	return errors != 0;
}

/* ---- main ------------------------------------------------------------------ */

/* Subcommands a program handles itself (setup, teardown); 0 if not one. */
static int cmd_extra(int argc, char **argv, int *rc);

static int bench_main(int argc, char **argv, const char *usage)
{
	const char *self = "/proc/self/exe";
	char selfpath[4096];
	ssize_t sl = readlink("/proc/self/exe", selfpath, sizeof(selfpath) - 1);
	if (sl > 0) {
		selfpath[sl] = 0;
		self = selfpath;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: %s\n", usage);
		return 2;
	}
	if (!strcmp(argv[1], "startup-child"))
		return op_startup_child();
	if (!strcmp(argv[1], "libinfo")) {
		op_libinfo();
		return 0;
	}
	calibrate();
	int rc;
	if (cmd_extra(argc, argv, &rc))
		return rc;
	if (!strcmp(argv[1], "callgrind"))
		return cmd_callgrind();
	if (!strcmp(argv[1], "run") && argc >= 4) {
		label = argv[2];
		printf("# tsc: %.4f ns/tick\n", ns_per_tick);
		return cmd_run(self, argc - 3, argv + 3);
	}
	fprintf(stderr, "bad arguments; usage: %s\n", usage);
	return 2;
}

#endif
