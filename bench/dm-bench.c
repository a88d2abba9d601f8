/*
 * dm-bench: libdevmapper API micro-benchmark (see bench/README.md).
 *
 * Built once against the stock-compatible header (#include <libdevmapper.h>)
 * and linked with -ldevmapper (soname libdevmapper.so.1.02.1, no rpath), so
 * the same binary runs against the system's stock library or against ours,
 * chosen with LD_LIBRARY_PATH.
 *
 *   dm-bench setup N            create bench-base (zero, 8*N sectors),
 *                               bench-lin-0000..N-1 (linear, 8 sectors each on
 *                               bench-base) and bench-msg (zero, one dm-stats
 *                               region)
 *   dm-bench teardown           remove every device whose name starts "bench-"
 *   dm-bench run LABEL WL...    timed workloads, each in its own forked child;
 *                               WL: info status table deps message list
 *                               lifecycle bigtable startup (or "all")
 *   dm-bench callgrind          the callgrind regions, one after the other, in
 *                               this process (run it under
 *                               valgrind --tool=callgrind --collect-atstart=no)
 *   dm-bench libinfo            which libdevmapper got loaded
 *
 * Sizes come from the environment: DMB_N (population, default 200),
 * DMB_REPS (passes over the population, 2), DMB_MSG (200), DMB_LIST (30),
 * DMB_LC (50 lifecycle devices), DMB_T (20000 bigtable targets),
 * DMB_READS (3 steady read-backs), DMB_INFO_AFTER (100), DMB_STARTUP (10);
 * callgrind: DMB_CG_OPS (20), DMB_CG_LIST (10), DMB_CG_LC (10),
 * DMB_CG_T (2000), DMB_CG_READS (2), DMB_CG_INFO_AFTER (20).
 *
 * Output (stdout), one line per figure:
 *   RES <label> <workload> <metric> <value>
 *   CGR <region> <ops>         (callgrind mode: region name and op count;
 *                               the Ir come from the dump of that name)
 *   ERR <message>              a failed operation or a wrong result
 * Exit status 1 when any ERR line was printed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <libdevmapper.h>
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

/* ---- timing ------------------------------------------------------------ */

static double ns_per_tick;

static double mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* rdtsc calibrated against CLOCK_MONOTONIC over a 20 ms sleep: under TCG the
 * guest clocksource is HPET and clock_gettime() is an emulated MMIO read of a
 * couple of microseconds, rdtsc is a few ns. */
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

static void res(const char *wl, const char *metric, double v)
{
	printf("RES %s %s %s %.3f\n", label, wl, metric, v);
	fflush(stdout);
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

/* ---- names ------------------------------------------------------------- */

static char (*lin_names)[NAME_LEN];

static void make_lin_names(int n)
{
	lin_names = calloc(n, NAME_LEN);
	for (int i = 0; i < n; i++)
		snprintf(lin_names[i], NAME_LEN, PREFIX "lin-%04d", i);
}

/* ---- single operations (each one task, as the baseline) ------------------ */

static int do_info(const char *name, struct dm_info *info)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	int ok = dmt && dm_task_set_name(dmt, name) && dm_task_run(dmt) &&
		 dm_task_get_info(dmt, info);
	if (dmt)
		dm_task_destroy(dmt);
	return ok && info->exists;
}

/* STATUS or TABLE; returns the number of targets (-1 on failure). */
static long do_targets(int type, const char *name)
{
	struct dm_task *dmt = dm_task_create(type);
	long n = -1;
	if (dmt && dm_task_set_name(dmt, name) && dm_task_run(dmt)) {
		void *next = NULL;
		uint64_t start, length;
		char *ttype, *params;
		n = 0;
		do {
			next = dm_get_next_target(dmt, next, &start, &length, &ttype, &params);
			if (ttype)
				n++;
		} while (next);
	}
	if (dmt)
		dm_task_destroy(dmt);
	return n;
}

static int do_deps(const char *name)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_DEPS);
	int n = -1;
	struct dm_deps *deps;
	if (dmt && dm_task_set_name(dmt, name) && dm_task_run(dmt) &&
	    (deps = dm_task_get_deps(dmt)))
		n = (int)deps->count;
	if (dmt)
		dm_task_destroy(dmt);
	return n;
}

/* Returns the response length (-1 on failure). */
static long do_message(const char *name, const char *msg)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TARGET_MSG);
	long n = -1;
	if (dmt && dm_task_set_name(dmt, name) && dm_task_set_sector(dmt, 0) &&
	    dm_task_set_message(dmt, msg) && dm_task_run(dmt)) {
		const char *r = dm_task_get_message_response(dmt);
		n = r ? (long)strlen(r) : 0;
	}
	if (dmt)
		dm_task_destroy(dmt);
	return n;
}

/* Returns the number of names (-1 on failure); calls fn on each. */
static long do_list(void (*fn)(const char *, void *), void *arg)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST);
	long n = -1;
	struct dm_names *names;
	if (dmt && dm_task_run(dmt) && (names = dm_task_get_names(dmt))) {
		n = 0;
		if (names->dev) {
			unsigned next = 0;
			do {
				names = (struct dm_names *)((char *)names + next);
				if (fn)
					fn(names->name, arg);
				n++;
				next = names->next;
			} while (next);
		}
	}
	if (dmt)
		dm_task_destroy(dmt);
	return n;
}

/* Create a device with its table in one task (libdm issues CREATE, RELOAD and
 * RESUME), then flush the node operations as dmsetup does through
 * dm_udev_wait() with udev sync off. */
static int do_create(const char *name, int ntargets, const char *ttype,
		     uint64_t len, const char *params)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_CREATE);
	uint32_t cookie = 0;
	int ok = dmt && dm_task_set_name(dmt, name);
	for (int i = 0; ok && i < ntargets; i++)
		ok = dm_task_add_target(dmt, (uint64_t)i * len, len, ttype, params);
	ok = ok && dm_task_set_cookie(dmt, &cookie, 0) && dm_task_run(dmt);
	if (dmt)
		dm_task_destroy(dmt);
	dm_task_update_nodes();
	return ok;
}

static int do_remove(const char *name)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_REMOVE);
	uint32_t cookie = 0;
	int ok = dmt && dm_task_set_name(dmt, name) &&
		 dm_task_set_cookie(dmt, &cookie, 0) && dm_task_run(dmt);
	if (dmt)
		dm_task_destroy(dmt);
	dm_task_update_nodes();
	return ok;
}

/* ---- setup / teardown --------------------------------------------------- */

static int cmd_setup(int n)
{
	struct dm_info info;
	char params[64];
	long r;

	if (!do_create(PREFIX "base", 1, "zero", 8ULL * n, ""))
		err("setup: create " PREFIX "base");
	if (!do_info(PREFIX "base", &info)) {
		err("setup: info " PREFIX "base");
		return 1;
	}
	make_lin_names(n);
	for (int i = 0; i < n; i++) {
		snprintf(params, sizeof(params), "%u:%u %d", info.major, info.minor, 8 * i);
		if (!do_create(lin_names[i], 1, "linear", 8, params)) {
			err("setup: create %s", lin_names[i]);
			return 1;
		}
	}
	if (!do_create(PREFIX "msg", 1, "zero", 8, ""))
		err("setup: create " PREFIX "msg");
	/* One dm-stats region over the whole device, so @stats_list answers. */
	if ((r = do_message(PREFIX "msg", "@stats_create - /1")) < 0)
		err("setup: @stats_create");
	if ((r = do_message(PREFIX "msg", "@stats_list")) <= 0)
		err("setup: @stats_list answered %ld bytes", r);
	return errors != 0;
}

struct namevec {
	char (*v)[NAME_LEN];
	int n, cap;
};

static void collect_bench(const char *name, void *arg)
{
	struct namevec *nv = arg;
	if (strncmp(name, PREFIX, strlen(PREFIX)))
		return;
	if (nv->n == nv->cap) {
		nv->cap = nv->cap ? 2 * nv->cap : 64;
		nv->v = realloc(nv->v, nv->cap * NAME_LEN);
	}
	snprintf(nv->v[nv->n++], NAME_LEN, "%s", name);
}

/* Remove bench-* devices; devices still in use (bench-base under the linear
 * ones) go in a later pass. */
static int cmd_teardown(void)
{
	for (int pass = 0; pass < 4; pass++) {
		struct namevec nv = { 0 };
		if (do_list(collect_bench, &nv) < 0) {
			err("teardown: list");
			return 1;
		}
		if (!nv.n) {
			free(nv.v);
			return errors != 0;
		}
		/* The base goes last within a pass. */
		for (int i = 0; i < nv.n; i++)
			if (strcmp(nv.v[i], PREFIX "base"))
				do_remove(nv.v[i]);
		for (int i = 0; i < nv.n; i++)
			if (!strcmp(nv.v[i], PREFIX "base"))
				do_remove(nv.v[i]);
		free(nv.v);
	}
	err("teardown: " PREFIX "* devices left after 4 passes");
	return 1;
}

/* ---- timed workloads (each in its own child process) -------------------- */

#define WARMUP 5

static void wl_per_device(const char *wl, int n, int reps)
{
	size_t cnt = (size_t)n * reps, k = 0;
	uint64_t *s = malloc(cnt * sizeof(*s));
	struct dm_info info;
	int type = !strcmp(wl, "status") ? DM_DEVICE_STATUS : DM_DEVICE_TABLE;
	int which = !strcmp(wl, "info") ? 0 : !strcmp(wl, "deps") ? 2 : 1;

	for (int i = 0; i < WARMUP; i++)
		do_info(lin_names[i % n], &info);
	for (int r = 0; r < reps; r++)
		for (int i = 0; i < n; i++) {
			const char *name = lin_names[i];
			long got;
			uint64_t t0 = ticks();
			if (which == 0)
				got = do_info(name, &info);
			else if (which == 2)
				got = do_deps(name);
			else
				got = do_targets(type, name);
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
		do_message(PREFIX "msg", "@stats_list");
	for (int i = 0; i < m; i++) {
		uint64_t t0 = ticks();
		long got = do_message(PREFIX "msg", "@stats_list");
		s[i] = ticks() - t0;
		if (got <= 0)
			err("message: response length %ld", got);
	}
	res("message", "p50_us", p50_us(s, m));
	free(s);
}

static void count_name(const char *name, void *arg)
{
	(void)name;
	(*(long *)arg)++;
}

static void wl_list(int l, int n)
{
	uint64_t *s = malloc(l * sizeof(*s));
	long visited = 0;
	for (int i = 0; i < 2; i++)
		do_list(count_name, &visited);
	for (int i = 0; i < l; i++) {
		uint64_t t0 = ticks();
		long got = do_list(count_name, &visited);
		s[i] = ticks() - t0;
		if (got < n + 2)
			err("list: %ld names (want >= %d)", got, n + 2);
	}
	res("list", "p50_us", p50_us(s, l));
	free(s);
}

static void wl_lifecycle(int lc)
{
	char (*names)[NAME_LEN] = calloc(lc, NAME_LEN);
	uint64_t *sc = malloc(lc * sizeof(*sc)), *sr = malloc(lc * sizeof(*sr));
	struct dm_info info;

	for (int i = 0; i < lc; i++)
		snprintf(names[i], NAME_LEN, PREFIX "lc-%03d", i);
	/* Warm the library up (control node, /proc/devices) outside the loop. */
	do_info(PREFIX "base", &info);
	struct cpu c0 = cpu_now();
	for (int i = 0; i < lc; i++) {
		uint64_t t0 = ticks();
		int ok = do_create(names[i], 1, "zero", 8, "");
		sc[i] = ticks() - t0;
		if (!ok)
			err("create %s", names[i]);
	}
	res_cpu("lifecycle.create", c0, lc);
	char path[128];
	snprintf(path, sizeof(path), "/dev/mapper/%s", names[0]);
	if (access(path, F_OK))
		err("create: %s missing (library node creation)", path);
	c0 = cpu_now();
	for (int i = 0; i < lc; i++) {
		uint64_t t0 = ticks();
		int ok = do_remove(names[i]);
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

static void wl_bigtable(long t, int reads, int info_after)
{
	const char *name = PREFIX "big";
	struct dm_info info;
	uint64_t *s = malloc(info_after * sizeof(*s));
	double sum = 0;
	long got;

	do_info(PREFIX "base", &info); /* warm-up, small buffer */

	struct dm_task *dmt = dm_task_create(DM_DEVICE_CREATE);
	uint32_t cookie = 0;
	int ok = dmt && dm_task_set_name(dmt, name);
	struct cpu c0 = cpu_now();
	uint64_t t0 = ticks();
	for (long i = 0; ok && i < t; i++)
		ok = dm_task_add_target(dmt, (uint64_t)i * 8, 8, "zero", "");
	uint64_t t1 = ticks();
	res_cpu("bigtable.build", c0, 1);
	c0 = cpu_now();
	t1 = ticks();
	ok = ok && dm_task_set_cookie(dmt, &cookie, 0) && dm_task_run(dmt);
	uint64_t t2 = ticks();
	res_cpu("bigtable.load", c0, 1);
	if (dmt)
		dm_task_destroy(dmt);
	dm_task_update_nodes();
	if (!ok) {
		err("bigtable: create with %ld targets", t);
		free(s);
		return;
	}
	res("bigtable.build", "ms", tick_us(t1 - t0) / 1000);
	res("bigtable.load", "ms", tick_us(t2 - t1) / 1000);

	c0 = cpu_now();
	t0 = ticks();
	got = do_targets(DM_DEVICE_TABLE, name);
	res("bigtable.table_first", "ms", tick_us(ticks() - t0) / 1000);
	res_cpu("bigtable.table_first", c0, 1);
	if (got != t)
		err("bigtable: first read-back %ld targets (want %ld)", got, t);
	c0 = cpu_now();
	for (int i = 0; i < reads; i++) {
		t0 = ticks();
		got = do_targets(DM_DEVICE_TABLE, name);
		sum += tick_us(ticks() - t0);
		if (got != t)
			err("bigtable: read-back %ld targets (want %ld)", got, t);
	}
	res("bigtable.table", "ms", sum / reads / 1000);
	res_cpu("bigtable.table", c0, reads);
	c0 = cpu_now();
	for (int i = 0; i < info_after; i++) {
		t0 = ticks();
		ok = do_info(name, &info);
		s[i] = ticks() - t0;
		if (!ok || info.target_count != t)
			err("bigtable: info after (ok %d, %d targets)", ok, info.target_count);
	}
	res("bigtable.info_after", "p50_us", p50_us(s, info_after));
	res_cpu("bigtable.info_after", c0, info_after);
	if (!do_remove(name))
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

static int cmd_startup_child(void)
{
	char v[64];
	struct dm_task *dmt = dm_task_create(DM_DEVICE_VERSION);
	int ok = dmt && dm_task_run(dmt) && dm_task_get_driver_version(dmt, v, sizeof(v));
	if (dmt)
		dm_task_destroy(dmt);
	return ok ? 0 : 1;
}

static void run_one(const char *self, const char *wl)
{
	int n = envl("DMB_N", 200), reps = envl("DMB_REPS", 2);

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
		wl_bigtable(envl("DMB_T", 20000), envl("DMB_READS", 3),
			    envl("DMB_INFO_AFTER", 100));
	else if (!strcmp(wl, "startup"))
		wl_startup(self, envl("DMB_STARTUP", 10));
	else
		err("unknown workload %s", wl);
}

static const char *all_wl[] = { "info",	     "status",	 "table",   "deps", "message",
				"list",	     "lifecycle", "bigtable", "startup", NULL };

/* Each workload in a fresh child: libdm's process-wide state (sticky buffer
 * factor, control fd, node-op stack) never leaks from one into another, and
 * wait4() gives the workload's own peak RSS. */
static int cmd_run(const char *self, int argc, char **argv)
{
	const char **wls = (const char **)argv;
	if (argc == 1 && !strcmp(argv[0], "all")) {
		wls = all_wl;
		for (argc = 0; all_wl[argc]; argc++)
			;
	}
	make_lin_names(envl("DMB_N", 200));
	int rc = 0;
	for (int i = 0; i < argc; i++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			dm_udev_set_sync_support(0);
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

/* ---- callgrind regions --------------------------------------------------- */

/* Collection is toggled on around the measured loop only, then the counters
 * are dumped under the region's name (a dump also zeroes them). */
#define CG_REGION(region, ops, body)                                       \
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
	int n = envl("DMB_N", 200), ops = envl("DMB_CG_OPS", 20);
	int nl = envl("DMB_CG_LIST", 10), lc = envl("DMB_CG_LC", 10);
	long t = envl("DMB_CG_T", 2000);
	int reads = envl("DMB_CG_READS", 2), ia = envl("DMB_CG_INFO_AFTER", 20);
	struct dm_info info;
	long bad = 0;

	if (ops > n)
		ops = n;
	dm_udev_set_sync_support(0);
	make_lin_names(n);
	char (*lc_names)[NAME_LEN] = calloc(lc, NAME_LEN);
	for (int i = 0; i < lc; i++)
		snprintf(lc_names[i], NAME_LEN, PREFIX "cg-%03d", i);
	/* Warm-up: every function used below runs once before its region, so
	 * lazy binding and first-use setup are not counted. */
	do_info(lin_names[0], &info);
	do_targets(DM_DEVICE_STATUS, lin_names[0]);
	do_targets(DM_DEVICE_TABLE, lin_names[0]);
	do_deps(lin_names[0]);
	do_message(PREFIX "msg", "@stats_list");
	do_list(NULL, NULL);
	do_create(PREFIX "cg-warm", 1, "zero", 8, "");
	do_remove(PREFIX "cg-warm");
	CALLGRIND_ZERO_STATS;

	CG_REGION("info", ops, for (int i = 0; i < ops; i++) bad += !do_info(lin_names[i], &info));
	CG_REGION("status", ops,
		  for (int i = 0; i < ops; i++) bad += do_targets(DM_DEVICE_STATUS, lin_names[i]) != 1);
	CG_REGION("table", ops,
		  for (int i = 0; i < ops; i++) bad += do_targets(DM_DEVICE_TABLE, lin_names[i]) != 1);
	CG_REGION("deps", ops, for (int i = 0; i < ops; i++) bad += do_deps(lin_names[i]) != 1);
	CG_REGION("message", ops,
		  for (int i = 0; i < ops; i++) bad += do_message(PREFIX "msg", "@stats_list") <= 0);
	CG_REGION("list", nl, for (int i = 0; i < nl; i++) bad += do_list(NULL, NULL) < n + 2);
	CG_REGION("lifecycle.create", lc,
		  for (int i = 0; i < lc; i++) bad += !do_create(lc_names[i], 1, "zero", 8, ""));
	CG_REGION("lifecycle.remove", lc, for (int i = 0; i < lc; i++) bad += !do_remove(lc_names[i]));

	/* bigtable last: it grows stock's process-wide buffer factor. */
	const char *big = PREFIX "cgbig";
	struct dm_task *dmt = NULL;
	uint32_t cookie = 0;
	int ok = 1;
	CG_REGION("bigtable.build", t, {
		dmt = dm_task_create(DM_DEVICE_CREATE);
		ok = dmt && dm_task_set_name(dmt, big);
		for (long i = 0; ok && i < t; i++)
			ok = dm_task_add_target(dmt, (uint64_t)i * 8, 8, "zero", "");
	});
	ok = ok && dm_task_set_cookie(dmt, &cookie, 0);
	CG_REGION("bigtable.load", t, {
		ok = ok && dm_task_run(dmt);
		dm_task_destroy(dmt);
		dm_task_update_nodes();
	});
	if (!ok) {
		err("callgrind: bigtable create");
		return 1;
	}
	CG_REGION("bigtable.table_first", t, bad += do_targets(DM_DEVICE_TABLE, big) != t);
	CG_REGION("bigtable.table", (long)reads * t,
		  for (int i = 0; i < reads; i++) bad += do_targets(DM_DEVICE_TABLE, big) != t);
	CG_REGION("bigtable.info_after", ia, for (int i = 0; i < ia; i++) bad += !do_info(big, &info));
	do_remove(big);
	if (bad)
		err("callgrind: %ld operations failed or returned wrong results", bad);
	return errors != 0;
}

/* ---- main ---------------------------------------------------------------- */

static int cmd_libinfo(void)
{
	Dl_info di;
	char v[128] = "";
	int (*getv)(char *, size_t) = (int (*)(char *, size_t))dlsym(RTLD_DEFAULT, "dm_get_library_version");
	if (getv)
		getv(v, sizeof(v));
	if (dladdr((void *)dm_task_create, &di) && di.dli_fname)
		printf("library %s version %s\n", di.dli_fname, v);
	else
		printf("library ? version %s\n", v);
	return 0;
}

int main(int argc, char **argv)
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
		fprintf(stderr, "usage: dm-bench setup N | teardown | run LABEL WL... | callgrind | libinfo\n");
		return 2;
	}
	if (!strcmp(argv[1], "startup-child"))
		return cmd_startup_child();
	if (!strcmp(argv[1], "libinfo"))
		return cmd_libinfo();
	dm_udev_set_sync_support(0);
	calibrate();
	if (!strcmp(argv[1], "setup") && argc == 3)
		return cmd_setup(atoi(argv[2]));
	if (!strcmp(argv[1], "teardown"))
		return cmd_teardown();
	if (!strcmp(argv[1], "callgrind"))
		return cmd_callgrind();
	if (!strcmp(argv[1], "run") && argc >= 4) {
		label = argv[2];
		printf("# tsc: %.4f ns/tick\n", ns_per_tick);
		return cmd_run(self, argc - 3, argv + 3);
	}
	fprintf(stderr, "dm-bench: bad arguments\n");
	return 2;
}
