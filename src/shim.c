/*
 * shim.c: the only C in libdevmapper-rs.
 *
 * It holds what stable Rust cannot express:
 *   - C-variadic functions: the built-in loggers and the adapters between the
 *     two callback styles;
 *   - the exported data objects dm_log and dm_log_with_errno. A client that
 *     references them gets a COPY relocation, so every read and write here
 *     goes through the exported symbol (the GOT), never a private copy;
 *   - the compat version dm_task_get_info@Base, which returns the 40-byte
 *     struct dm_info of headers up to 1.02.88;
 *   - the string formatters dm_snprintf, dm_asprintf and dm_vasprintf
 *     (C-variadic or taking a va_list);
 *   - dm_tree_node_size_changed@Base, the 0/1 variant of the function
 *     before 1.02.110 (1.02.185 lost it; 1.02.205 restored it);
 *   - the compat versions dm_stats_create_region@DM_1_02_104 (no precise,
 *     no histogram arguments) and @DM_1_02_106 (no histogram argument).
 *
 * build.rs compiles this file into a static archive linked whole-archive into
 * the library. The version script (exports.map) decides what is exported: the
 * dmrs_* helpers shared with the Rust side stay local.
 */

#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Callback types, as in libdevmapper.h. */
typedef void (*dm_log_with_errno_fn)(int level, const char *file, int line,
				     int dm_errno_or_class, const char *f, ...)
	__attribute__((format(printf, 5, 6)));
typedef void (*dm_log_fn)(int level, const char *file, int line,
			  const char *f, ...)
	__attribute__((format(printf, 4, 5)));

struct dm_task;
struct dm_tree_node;
struct dm_stats;

/* Size of the formatting buffer, the same as libdevmapper's. */
#define DMRS_LOG_BUFSIZE (2 * PATH_MAX + 256)

/* sizeof(struct dm_info) now, and its size before deferred_remove existed. */
#define DMRS_INFO_SIZE 48
#define DMRS_INFO_SIZE_BASE 40

/* Implemented in Rust (src/capi). */
void dmrs_default_log_line(int level, const char *file, int line,
			   int dm_errno_or_class, const char *msg);
int dmrs_task_get_info_full(struct dm_task *dmt, void *info48);
int dmrs_tree_node_size_changed(const struct dm_tree_node *dnode);
int dmrs_stats_create_region_compat(struct dm_stats *dms, uint64_t *region_id,
				    uint64_t start, uint64_t len, int64_t step,
				    int precise, const char *program_id,
				    const char *aux_data);

/* Exported by the Rust side (the memory family). */
void *dm_malloc_wrapper(size_t s, const char *file, int line);
char *dm_strdup_wrapper(const char *str, const char *file, int line);
void dm_free_wrapper(void *ptr);

/* Exported by this file. */
void dmrs_stdio_write(int to_stderr, const char *buf, size_t len);
void dm_log_init(dm_log_fn fn);
void dm_log_with_errno_init(dm_log_with_errno_fn fn);
int dm_log_is_non_default(void);
int dm_task_get_info_base(struct dm_task *dmt, void *info);
int dm_snprintf(char *buf, size_t bufsize, const char *format, ...)
	__attribute__((format(printf, 3, 4)));
int dm_vasprintf(char **result, const char *format, va_list ap)
	__attribute__((format(printf, 2, 0)));
int dm_asprintf(char **result, const char *format, ...)
	__attribute__((format(printf, 2, 3)));
int dm_tree_node_size_changed_base(const struct dm_tree_node *dnode);
int dm_stats_create_region_v1_02_106(struct dm_stats *dms, uint64_t *region_id,
				     uint64_t start, uint64_t len, int64_t step,
				     int precise, const char *program_id,
				     const char *aux_data);
int dm_stats_create_region_v1_02_104(struct dm_stats *dms, uint64_t *region_id,
				     uint64_t start, uint64_t len, int64_t step,
				     const char *program_id, const char *aux_data);

/* Called by the Rust side; local to the library. */
void dmrs_log_emit(int level, const char *file, int line,
		   int dm_errno_or_class, const char *msg);
int dmrs_log_is_default(void);

/*
 * Format a message into buf, cut at the buffer size (always NUL-terminated;
 * a formatting error yields an empty message). The adapters between the two
 * callback styles cut messages like stock's do.
 */
static void format_cut(char *buf, size_t size, const char *f, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void format_cut(char *buf, size_t size, const char *f, va_list ap)
{
	if (!f || vsnprintf(buf, size, f, ap) < 0)
		buf[0] = '\0';
}

/*
 * Format a message of any length (the built-in loggers print whole lines,
 * as stock's do): into buf when it fits, else into memory
 * from malloc (stock's loggers print whole lines, however long). Returns the
 * text; *heap is what to free afterwards (NULL when buf was used). When
 * memory is short the message is cut at the buffer size.
 */
static const char *format_any(char *buf, size_t size, char **heap, const char *f, va_list ap)
	__attribute__((format(printf, 4, 0)));

static const char *format_any(char *buf, size_t size, char **heap, const char *f, va_list ap)
{
	va_list again;
	int n;

	*heap = NULL;
	if (!f) {
		buf[0] = '\0';
		return buf;
	}
	va_copy(again, ap);
	n = vsnprintf(buf, size, f, ap);
	if (n < 0)
		buf[0] = '\0';
	else if ((size_t)n >= size && (*heap = malloc((size_t)n + 1))) {
		if (vsnprintf(*heap, (size_t)n + 1, f, again) < 0)
			(*heap)[0] = '\0';
	}
	va_end(again);
	return *heap ? *heap : buf;
}

/*
 * The built-in loggers: format, then let the Rust side decide whether and
 * where to print. errno is preserved so that logging never disturbs the
 * caller's error handling.
 */
static void default_log_with_errno(int level, const char *file, int line,
				   int dm_errno_or_class, const char *f, ...)
	__attribute__((format(printf, 5, 6)));

static void default_log_with_errno(int level, const char *file, int line,
				   int dm_errno_or_class, const char *f, ...)
{
	char buf[DMRS_LOG_BUFSIZE];
	int saved_errno = errno;
	va_list ap;

	char *heap;
	const char *msg;

	va_start(ap, f);
	msg = format_any(buf, sizeof(buf), &heap, f, ap);
	va_end(ap);
	dmrs_default_log_line(level, file, line, dm_errno_or_class, msg);
	free(heap);
	errno = saved_errno;
}

static void default_log(int level, const char *file, int line,
			const char *f, ...)
	__attribute__((format(printf, 4, 5)));

static void default_log(int level, const char *file, int line,
			const char *f, ...)
{
	char buf[DMRS_LOG_BUFSIZE];
	int saved_errno = errno;
	va_list ap;

	char *heap;
	const char *msg;

	va_start(ap, f);
	msg = format_any(buf, sizeof(buf), &heap, f, ap);
	va_end(ap);
	dmrs_default_log_line(level, file, line, 0, msg);
	free(heap);
	errno = saved_errno;
}

/* The exported callback pointers (type "D", 8 bytes each); never NULL. */
dm_log_fn dm_log = default_log;
dm_log_with_errno_fn dm_log_with_errno = default_log_with_errno;

static dm_log_fn load_log(void)
{
	return __atomic_load_n(&dm_log, __ATOMIC_ACQUIRE);
}

static dm_log_with_errno_fn load_log_with_errno(void)
{
	return __atomic_load_n(&dm_log_with_errno, __ATOMIC_ACQUIRE);
}

/*
 * The two exported pointers change as a pair. Writers are serialised, and
 * each pair is stored user callback first, adapter second: a reader then
 * never sees both pointers holding adapters that call each other, even in
 * the middle of two concurrent dm_log_init()/dm_log_with_errno_init() calls.
 */
static pthread_mutex_t log_init_lock = PTHREAD_MUTEX_INITIALIZER;

static void store_log_first(dm_log_fn log, dm_log_with_errno_fn log_with_errno)
{
	__atomic_store_n(&dm_log, log, __ATOMIC_RELEASE);
	__atomic_store_n(&dm_log_with_errno, log_with_errno, __ATOMIC_RELEASE);
}

static void store_with_errno_first(dm_log_fn log, dm_log_with_errno_fn log_with_errno)
{
	__atomic_store_n(&dm_log_with_errno, log_with_errno, __ATOMIC_RELEASE);
	__atomic_store_n(&dm_log, log, __ATOMIC_RELEASE);
}

/*
 * Depth of adapter calls on this thread. A program that hands a saved
 * adapter back (dm_log_init(old dm_log)) can still build a loop between the
 * two adapters; the second hop then goes to the built-in logger instead of
 * recursing until the stack overflows.
 */
static __thread int adapter_depth;

static void log_to_log_with_errno(int level, const char *file, int line,
				  const char *f, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Installed as dm_log_with_errno by dm_log_init(fn): messages from the
 * library reach the old-style callback (the errno/class argument is dropped).
 */
static void log_with_errno_to_log(int level, const char *file, int line,
				  int dm_errno_or_class, const char *f, ...)
	__attribute__((format(printf, 5, 6)));

static void log_with_errno_to_log(int level, const char *file, int line,
				  int dm_errno_or_class, const char *f, ...)
{
	char buf[DMRS_LOG_BUFSIZE];
	va_list ap;

	dm_log_fn target;
	dm_log_with_errno_fn now;

	va_start(ap, f);
	format_cut(buf, sizeof(buf), f, ap);
	va_end(ap);
	target = load_log();
	if (adapter_depth == 0 && target == log_to_log_with_errno &&
	    (now = load_log_with_errno()) != log_with_errno_to_log) {
		/* Raced with a switch to an errno-style callback: use it. */
		adapter_depth++;
		now(level, file, line, dm_errno_or_class, "%s", buf);
		adapter_depth--;
		return;
	}
	if (adapter_depth > 0 || target == log_to_log_with_errno) {
		dmrs_default_log_line(level, file, line, dm_errno_or_class, buf);
		return;
	}
	adapter_depth++;
	target(level, file, line, "%s", buf);
	adapter_depth--;
}

/*
 * Installed as dm_log by dm_log_with_errno_init(fn): callers of the old
 * pointer reach the new-style callback with errno/class 0.
 */
static void log_to_log_with_errno(int level, const char *file, int line,
				  const char *f, ...)
	__attribute__((format(printf, 4, 5)));

static void log_to_log_with_errno(int level, const char *file, int line,
				  const char *f, ...)
{
	char buf[DMRS_LOG_BUFSIZE];
	va_list ap;

	dm_log_with_errno_fn target;
	dm_log_fn now;

	va_start(ap, f);
	format_cut(buf, sizeof(buf), f, ap);
	va_end(ap);
	target = load_log_with_errno();
	if (adapter_depth == 0 && target == log_with_errno_to_log &&
	    (now = load_log()) != log_to_log_with_errno) {
		/* Raced with a switch to an old-style callback: use it. */
		adapter_depth++;
		now(level, file, line, "%s", buf);
		adapter_depth--;
		return;
	}
	if (adapter_depth > 0 || target == log_with_errno_to_log) {
		dmrs_default_log_line(level, file, line, 0, buf);
		return;
	}
	adapter_depth++;
	target(level, file, line, 0, "%s", buf);
	adapter_depth--;
}

void dm_log_init(dm_log_fn fn)
{
	pthread_mutex_lock(&log_init_lock);
	if (!fn)
		store_log_first(default_log, default_log_with_errno);
	else if (fn == log_to_log_with_errno) {
		/*
		 * A saved dm_log handed back after dm_log_with_errno_init():
		 * keep routing to the current errno-style callback instead of
		 * building an adapter loop (unless that callback is the other
		 * adapter: then there is nothing to route to).
		 */
		if (load_log_with_errno() == log_with_errno_to_log)
			store_log_first(default_log, default_log_with_errno);
		else
			__atomic_store_n(&dm_log, fn, __ATOMIC_RELEASE);
	} else
		store_log_first(fn, log_with_errno_to_log);
	pthread_mutex_unlock(&log_init_lock);
}

void dm_log_with_errno_init(dm_log_with_errno_fn fn)
{
	pthread_mutex_lock(&log_init_lock);
	if (!fn)
		store_log_first(default_log, default_log_with_errno);
	else if (fn == log_with_errno_to_log) {
		/* The mirror case of the one in dm_log_init(). */
		if (load_log() == log_to_log_with_errno)
			store_log_first(default_log, default_log_with_errno);
		else
			__atomic_store_n(&dm_log_with_errno, fn, __ATOMIC_RELEASE);
	} else
		store_with_errno_first(log_to_log_with_errno, fn);
	pthread_mutex_unlock(&log_init_lock);
}

/*
 * The built-in pair, for the Rust side's check of whether a line would be
 * printed (log.rs), which reads the two exported pointers itself instead of
 * calling dmrs_log_is_default() on every dm_task_run.
 */
const dm_log_fn dmrs_default_log = default_log;
const dm_log_with_errno_fn dmrs_default_log_with_errno = default_log_with_errno;

int dmrs_log_is_default(void)
{
	return load_log() == default_log &&
	       load_log_with_errno() == default_log_with_errno;
}

int dm_log_is_non_default(void)
{
	return !dmrs_log_is_default();
}

/* Every message of the Rust side ends here, in the current callback. */
void dmrs_log_emit(int level, const char *file, int line,
		   int dm_errno_or_class, const char *msg)
{
	load_log_with_errno()(level, file, line, dm_errno_or_class, "%s", msg);
}

/*
 * dm_task_get_info@Base: programs built against headers up to 1.02.88 pass
 * a 40-byte struct dm_info. Fill a full one and copy the old part only.
 */
int dm_task_get_info_base(struct dm_task *dmt, void *info)
{
	int full[DMRS_INFO_SIZE / sizeof(int)];

	_Static_assert(sizeof(full) == DMRS_INFO_SIZE, "struct dm_info is 48 bytes");
	if (!info)
		/* Let the Rust side report the NULL argument the usual way. */
		return dmrs_task_get_info_full(dmt, NULL);
	if (!dmrs_task_get_info_full(dmt, full))
		return 0;
	memcpy(info, full, DMRS_INFO_SIZE_BASE);
	return 1;
}

__asm__(".symver dm_task_get_info_base, dm_task_get_info@Base");

/* Stock crashes on these NULL arguments; here they fail with a message. */
static void null_format(const char *what)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "Internal error: %s called with a NULL argument.", what);
	dmrs_log_emit(3, __FILE__, __LINE__, -1, msg);
}

/*
 * dm_snprintf: snprintf, except that output that does not fit (or a
 * formatting error) gives -1, as snprintf did before C99.
 */
int dm_snprintf(char *buf, size_t bufsize, const char *format, ...)
{
	va_list ap;
	int n;

	if (!format) {
		null_format("dm_snprintf");
		return -1;
	}
	va_start(ap, format);
	n = vsnprintf(buf, bufsize, format, ap);
	va_end(ap);

	if (n < 0 || (size_t)n >= bufsize)
		return -1;
	return n;
}

/*
 * dm_vasprintf: format into memory from dm_malloc (the caller frees it with
 * dm_free); returns the size of the result including its NUL, or -1 with
 * *result NULL. Like libdevmapper it starts with 16 bytes and grows the
 * buffer to what vsnprintf asks for (doubling it when vsnprintf fails), so
 * results above dm_malloc's 50 MB ceiling fail with its error line.
 */
int dm_vasprintf(char **result, const char *format, va_list ap)
{
	int size = 16, n, grown = 0;
	char *buf, *copy;
	va_list aq;

	if (!result || !format) {
		null_format(result ? "dm_vasprintf" : "dm_vasprintf (result)");
		return -1;
	}
	*result = NULL;
	if (!(buf = dm_malloc_wrapper((size_t)size, __FILE__, __LINE__)))
		return -1;

	for (;;) {
		va_copy(aq, ap);
		n = vsnprintf(buf, (size_t)size, format, aq);
		va_end(aq);
		if (n >= 0 && n < size)
			break;
		dm_free_wrapper(buf);
		if (n < 0) {
			if (size > INT_MAX / 2)
				return -1;
			size *= 2;
		} else {
			size = n + 1;
		}
		if (!(buf = dm_malloc_wrapper((size_t)size, __FILE__, __LINE__)))
			return -1;
		grown++;
	}

	if (grown > 1) {
		/* After several attempts the buffer may be far too large. */
		copy = dm_strdup_wrapper(buf, __FILE__, __LINE__);
		dm_free_wrapper(buf);
		if (!copy)
			return -1;
		buf = copy;
	}
	*result = buf;
	return n + 1;
}

int dm_asprintf(char **result, const char *format, ...)
{
	va_list ap;
	int r;

	va_start(ap, format);
	r = dm_vasprintf(result, format, ap);
	va_end(ap);
	return r;
}

/* dm_tree_node_size_changed@Base: 1 for any change, as before 1.02.110. */
int dm_tree_node_size_changed_base(const struct dm_tree_node *dnode)
{
	return dmrs_tree_node_size_changed(dnode) ? 1 : 0;
}

__asm__(".symver dm_tree_node_size_changed_base, dm_tree_node_size_changed@Base");

/*
 * dm_stats_create_region@DM_1_02_106: before histograms. Unlike the current
 * version it does not ask whether the driver supports precise timestamps.
 */
int dm_stats_create_region_v1_02_106(struct dm_stats *dms, uint64_t *region_id,
				     uint64_t start, uint64_t len, int64_t step,
				     int precise, const char *program_id,
				     const char *aux_data)
{
	return dmrs_stats_create_region_compat(dms, region_id, start, len, step,
					       precise, program_id, aux_data);
}

__asm__(".symver dm_stats_create_region_v1_02_106, dm_stats_create_region@DM_1_02_106");

/* dm_stats_create_region@DM_1_02_104: millisecond counters only. */
int dm_stats_create_region_v1_02_104(struct dm_stats *dms, uint64_t *region_id,
				     uint64_t start, uint64_t len, int64_t step,
				     const char *program_id, const char *aux_data)
{
	return dmrs_stats_create_region_compat(dms, region_id, start, len, step,
					       0, program_id, aux_data);
}

__asm__(".symver dm_stats_create_region_v1_02_104, dm_stats_create_region@DM_1_02_104");

/*
 * The default logger's output goes through C's stdio, as libdevmapper's
 * does: stdout stays buffered (one write for many report lines) and in
 * order with the program's own printf output on the same stream.
 */
void dmrs_stdio_write(int to_stderr, const char *buf, size_t len)
{
	FILE *out = to_stderr ? stderr : stdout;

	(void) fwrite(buf, 1, len, out);
}
