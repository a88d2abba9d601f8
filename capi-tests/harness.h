/*
 * capi-tests: a small fork-per-test harness for the libdevmapper C ABI.
 *
 * Each test binary (one per area) registers its tests with TEST(); the
 * harness runs every selected test in a child process so that a crash, a
 * timeout or a leak report is confined to that test.  Results go to stdout:
 *
 *   ok - area/name                  passed
 *   not ok - area/name # why        failed (check failed, crash, timeout...)
 *   ok - area/name # SKIP why       skipped
 *   @M area/name text               a fact that must be identical between
 *                                   the stock library and ours
 *   @I area/name text               an informational fact (differences are
 *                                   reported but do not fail the run)
 *   # ...                           diagnostics
 *
 * run.sh numbers the results and, with --lib both, diffs the facts.
 */
#ifndef CAPI_HARNESS_H
#define CAPI_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <libdevmapper.h>

/* test flags */
#define T_MATCH     0x01  /* facts must match between libraries */
#define T_INFO      0x02  /* facts are informational only */
#define T_KERNEL    0x04  /* needs a working device-mapper driver (root, VM) */
#define T_NOKERNEL  0x08  /* needs the driver to be ABSENT (this host) */
#define T_OURS      0x10  /* ours only: stock crashes on this input */
#define T_DEVDIR    0x20  /* keep the default dev dir (do not point it at the tmp dir) */

typedef void (*test_fn)(void);
void h_register(const char *name, test_fn fn, int flags, int line);

#define TEST(name, flags)                                                  \
	static void test_##name(void);                                     \
	__attribute__((constructor)) static void reg_##name(void)          \
	{ h_register(#name, test_##name, (flags), __LINE__); }             \
	static void test_##name(void)

/* --- state of the running test (child process) --- */
extern const char *h_area;       /* binary/area name */
extern const char *h_name;       /* current test name */
extern int h_flags;              /* current test flags */
extern char h_tmpdir[];          /* private temp dir of the test */
extern int h_kernel;             /* run with a kernel driver (CAPI_KERNEL=1) */
extern const char *h_lib;        /* "ours", "stock" or "unknown" */
extern int h_failed;

int h_is_ours(void);

/* --- checks --- */
void h_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void h_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void h_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void h_abort_test(void) __attribute__((noreturn));

#define CHECK(c) do { if (!(c)) h_fail(__FILE__, __LINE__, "CHECK(%s)", #c); } while (0)
#define REQUIRE(c) do { if (!(c)) { h_fail(__FILE__, __LINE__, "REQUIRE(%s)", #c); h_abort_test(); } } while (0)
#define CHECK_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) h_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, _a, #b, _b); } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b)) h_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a, _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)
#define SKIP(...) h_skip(__VA_ARGS__)

/* --- facts (compared between libraries by run.sh --lib both) --- */
void fact(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fact_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- log capture --- */
struct logline {
	int level;        /* as passed, including flag bits */
	int errclass;     /* 4th argument of dm_log_with_errno_fn */
	char text[1024];  /* normalized: tmpdir -> $TMP, (maj:min) -> (M:m) */
};
#define LOG_MAX 1024
extern struct logline h_log[LOG_MAX];
extern int h_log_n;
void log_capture(void);          /* install the capturing callback (default) */
void log_clear(void);
int log_count(int maxlevel);      /* lines with (level & 0xf) <= maxlevel */
int log_has(const char *substr, int maxlevel);
const char *log_first(int maxlevel);
void log_dump(int maxlevel);      /* print as diagnostics */
/* emit one fact per captured line with (level & 0xf) <= maxlevel */
void fact_logs(const char *tag, int maxlevel);
void fact_logs_info(const char *tag, int maxlevel);
void h_normalize(char *s, size_t size);

/* --- helpers --- */
/* Re-exec support: run_helper() runs this binary again with CAPI_HELPER=what
 * and the given extra environment ("NAME=value", may be NULL); the child calls
 * h_helper(what), whose stdout is returned (static buffer, trailing newline
 * stripped).  Areas define h_helper() when they need it. */
int h_helper(const char *what);
const char *run_helper(const char *what, const char *env1, const char *env2);

char *tmp_path(const char *rel);     /* static buffer: <tmpdir>/<rel> */
int count_fds_to(const char *suffix); /* open fds whose target ends with suffix */

/* kernel helpers (library under test) */
#define TP "capitest-"
struct dm_task *task_for(int type, const char *name);   /* create + set_name (if name) */
struct dm_task *run_for(int type, const char *name);    /* ... + run; NULL on failure */
int add_table(struct dm_task *dmt, const char *table);  /* "start len type params\n..." */
int create_dev(const char *name, const char *uuid, const char *table);
int load_table(const char *name, const char *table);    /* RELOAD */
int simple_task(int type, const char *name);           /* run a task, 1/0 */
int remove_dev(const char *name);
int get_info(const char *name, struct dm_info *info);   /* INFO task */
uint32_t dm_major_of(const char *name);                 /* 0 if missing */
void dev_path_of(const char *name, char *buf, size_t size); /* "maj:min" */

/* raw kernel helpers (independent of the library under test) */
int raw_exists(const char *name, uint32_t *flags, uint64_t *dev);
void raw_cleanup(void);           /* remove every capitest-* device */
int raw_count_devices(int only_foreign); /* devices (not capitest-*) */

#endif
