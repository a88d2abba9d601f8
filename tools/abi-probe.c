/*
 * Runtime probe of the parts of the ABI that live in src/capi/shim.c, run by
 * tools/check-exports.sh. Built without PIE, so the executable references
 * dm_log and dm_log_with_errno through COPY relocations: the library must read
 * and write the executable's copies, exactly as with stock libdevmapper.
 *
 * Self-contained on purpose (no libdevmapper.h): the declarations below are the
 * stock ABI, including the two data objects the stock header does not declare.
 */

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*dm_log_fn)(int level, const char *file, int line, const char *f, ...)
	__attribute__((format(printf, 4, 5)));
typedef void (*dm_log_with_errno_fn)(int level, const char *file, int line,
				     int dm_errno_or_class, const char *f, ...)
	__attribute__((format(printf, 5, 6)));

extern dm_log_fn dm_log;
extern dm_log_with_errno_fn dm_log_with_errno;
void dm_log_init(dm_log_fn fn);
void dm_log_with_errno_init(dm_log_with_errno_fn fn);
int dm_log_is_non_default(void);

struct dm_task;
struct dm_task *dm_task_create(int type);
void dm_task_destroy(struct dm_task *dmt);
int dm_task_get_info(struct dm_task *dmt, void *info);
/* The same name bound to the compat version, as old binaries see it. */
int probe_get_info_base(struct dm_task *dmt, void *info);
__asm__(".symver probe_get_info_base, dm_task_get_info@Base");

#define BUFSIZE_EXPECTED (2 * PATH_MAX + 256)

static int checks, failures;

#define EXPECT(cond)                                                              \
	do {                                                                      \
		checks++;                                                         \
		if (!(cond)) {                                                    \
			failures++;                                               \
			printf("abi-probe: line %d: %s\n", __LINE__, #cond);      \
		}                                                                 \
	} while (0)

/* What the last callback saw. */
static struct {
	int calls, level, line, errno_or_class;
	char file[64], fmt[64], msg[3 * PATH_MAX];
} seen;

static void record(int level, const char *file, int line, int errno_or_class,
		   const char *f, const char *msg)
{
	seen.calls++;
	seen.level = level;
	seen.line = line;
	seen.errno_or_class = errno_or_class;
	snprintf(seen.file, sizeof(seen.file), "%s", file ? file : "(null)");
	snprintf(seen.fmt, sizeof(seen.fmt), "%s", f);
	snprintf(seen.msg, sizeof(seen.msg), "%s", msg);
}

static void probe_log_with_errno(int level, const char *file, int line,
				 int dm_errno_or_class, const char *f, ...)
	__attribute__((format(printf, 5, 6)));
static void probe_log_with_errno(int level, const char *file, int line,
				 int dm_errno_or_class, const char *f, ...)
{
	char buf[3 * PATH_MAX];
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	record(level, file, line, dm_errno_or_class, f, buf);
}

static void probe_log(int level, const char *file, int line, const char *f, ...)
	__attribute__((format(printf, 4, 5)));
static void probe_log(int level, const char *file, int line, const char *f, ...)
{
	char buf[3 * PATH_MAX];
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	record(level, file, line, 12345, f, buf);
}

static void reset(void)
{
	memset(&seen, 0, sizeof(seen));
}

static void check_logging(void)
{
	static char huge[BUFSIZE_EXPECTED + 1000];
	dm_log_fn saved;

	/* Defaults: both set, reported as default. */
	EXPECT(dm_log != NULL);
	EXPECT(dm_log_with_errno != NULL);
	EXPECT(dm_log_is_non_default() == 0);

	/* The library sees a store into the executable's copy... */
	dm_log_with_errno = probe_log_with_errno;
	EXPECT(dm_log_is_non_default() == 1);
	/* ...and its own stores land there too. */
	dm_log_with_errno_init(NULL);
	EXPECT(dm_log_with_errno != probe_log_with_errno && dm_log_with_errno != NULL);
	EXPECT(dm_log_is_non_default() == 0);

	/* New-style callback; old-style callers reach it with errno 0. */
	dm_log_with_errno_init(probe_log_with_errno);
	EXPECT(dm_log_with_errno == probe_log_with_errno);
	EXPECT(dm_log_is_non_default() == 1);
	reset();
	dm_log(4, "old.c", 9, "x=%s/%d", "y", 2);
	EXPECT(seen.calls == 1 && seen.level == 4 && seen.line == 9 && seen.errno_or_class == 0);
	EXPECT(!strcmp(seen.file, "old.c") && !strcmp(seen.msg, "x=y/2") && !strcmp(seen.fmt, "%s"));

	/* Handing the saved dm_log back must not build an adapter loop. */
	saved = dm_log;
	dm_log_init(saved);
	reset();
	dm_log_with_errno(3, "loop.c", 1, -1, "no %s", "loop");
	EXPECT(seen.calls == 1 && !strcmp(seen.msg, "no loop") && seen.errno_or_class == -1);

	/* Long messages are cut at the stock buffer size, NUL-terminated. */
	memset(huge, 'm', sizeof(huge) - 1);
	reset();
	dm_log(7, "long.c", 2, "%s", huge);
	EXPECT(seen.calls == 1 && strlen(seen.msg) == BUFSIZE_EXPECTED - 1);

	/* Old-style callback; new-style callers reach it through "%s". */
	dm_log_init(probe_log);
	EXPECT(dm_log == probe_log);
	EXPECT(dm_log_with_errno != probe_log_with_errno);
	reset();
	dm_log_with_errno(3, "new.c", 11, -1, "z%c%d", '!', 7);
	EXPECT(seen.calls == 1 && seen.level == 3 && seen.line == 11 && seen.errno_or_class == 12345);
	EXPECT(!strcmp(seen.file, "new.c") && !strcmp(seen.msg, "z!7") && !strcmp(seen.fmt, "%s"));

	/* NULL restores both defaults. */
	dm_log_init(NULL);
	EXPECT(dm_log_is_non_default() == 0);
	dm_log_with_errno_init(probe_log_with_errno);
	dm_log_with_errno_init(NULL);
	EXPECT(dm_log_is_non_default() == 0);
	EXPECT(dm_log != probe_log && dm_log_with_errno != probe_log_with_errno);
}

static void check_get_info_base(void)
{
	unsigned char old_info[48], new_info[48];
	struct dm_task *dmt;
	int r_old, r_new;

	/* No kernel needed: whatever the outcome, bytes 40..47 stay untouched. */
	dm_log_with_errno_init(probe_log_with_errno);
	dmt = dm_task_create(9 /* DM_DEVICE_VERSION */);
	memset(old_info, 0xa5, sizeof(old_info));
	memset(new_info, 0xa5, sizeof(new_info));
	r_old = probe_get_info_base(dmt, old_info);
	r_new = dm_task_get_info(dmt, new_info);
	EXPECT(r_old == r_new);
	for (int i = 40; i < 48; i++)
		EXPECT(old_info[i] == 0xa5);
	if (r_old)
		EXPECT(!memcmp(old_info, new_info, 40));
	if (dmt)
		dm_task_destroy(dmt);
	dm_log_with_errno_init(NULL);
}

int main(void)
{
	check_logging();
	check_get_info_base();
	if (failures) {
		printf("abi-probe: %d of %d checks failed\n", failures, checks);
		return 1;
	}
	printf("%d checks passed\n", checks);
	return 0;
}
