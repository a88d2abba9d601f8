/* Logging: dm_log_with_errno_init, dm_log_init, dm_log_init_verbose,
 * dm_log_is_non_default, the default logger's streams and environment. */
#define _GNU_SOURCE
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

/* something that logs one error line without a driver */
#define TRIGGER_ERROR() dm_set_uuid_prefix("ABCDEFGHIJKLMNOP")
#define ERROR_TEXT "New uuid prefix ABCDEFGHIJKLMNOP too long."
/* something that logs one debug line */
#define TRIGGER_DEBUG() dm_udev_set_checking(0)

static int old_n, old_level, old_line;
static char old_text[1024], old_fmt[64];
static void old_cb(int level, const char *file, int line, const char *f, ...)
	__attribute__((format(printf, 4, 5)));
static void old_cb(int level, const char *file, int line, const char *f, ...)
{
	va_list ap;

	(void)file;
	if (old_n++)
		return; /* keep the first */
	old_level = level;
	old_line = line;
	snprintf(old_fmt, sizeof(old_fmt), "%s", f);
	va_start(ap, f);
	vsnprintf(old_text, sizeof(old_text), f, ap);
	va_end(ap);
}

static int new_n, new_level, new_class, new_has_file;
static char new_text[1024];
static void new_cb(int level, const char *file, int line, int dm_errno_or_class, const char *f, ...)
	__attribute__((format(printf, 5, 6)));
static void new_cb(int level, const char *file, int line, int dm_errno_or_class, const char *f, ...)
{
	va_list ap;

	(void)line;
	if (new_n++)
		return;
	new_level = level;
	new_class = dm_errno_or_class;
	new_has_file = file != NULL;
	va_start(ap, f);
	vsnprintf(new_text, sizeof(new_text), f, ap);
	va_end(ap);
}

TEST(non_default_tracking, T_MATCH)
{
	int a, b, c, d, e, f, g;

	dm_log_with_errno_init(NULL);
	a = dm_log_is_non_default();
	dm_log_with_errno_init(new_cb);
	b = dm_log_is_non_default();
	dm_log_with_errno_init(NULL);
	c = dm_log_is_non_default();
	dm_log_init(old_cb);
	d = dm_log_is_non_default();
	dm_log_init(NULL);
	e = dm_log_is_non_default();
	dm_log_init(old_cb);
	dm_log_with_errno_init(NULL); /* NULL restores both */
	f = dm_log_is_non_default();
	dm_log_with_errno_init(new_cb);
	dm_log_init(NULL);
	g = dm_log_is_non_default();
	CHECK_INT(a, 0);
	CHECK_INT(b, 1);
	CHECK_INT(c, 0);
	CHECK_INT(d, 1);
	CHECK_INT(e, 0);
	CHECK_INT(f, 0);
	CHECK_INT(g, 0);
	fact("default=%d errno_cb=%d null=%d old_cb=%d old_null=%d old_then_errno_null=%d errno_then_old_null=%d",
	     a, b, c, d, e, f, g);
}

TEST(errno_callback_error_line, T_MATCH)
{
	dm_log_with_errno_init(new_cb);
	TRIGGER_ERROR();
	CHECK_INT(new_n, 1);
	CHECK_INT(new_level & 0xf, 3);
	CHECK_INT(new_class, -1);
	CHECK(new_has_file);
	CHECK_STR(new_text, ERROR_TEXT);
	fact("n=%d level=%d class=%d file=%d text=%s", new_n, new_level, new_class, new_has_file, new_text);
}

TEST(errno_callback_debug_line, T_MATCH)
{
	dm_log_with_errno_init(new_cb);
	TRIGGER_DEBUG();
	CHECK(new_n >= 1);
	CHECK_INT(new_level & 0xf, 7);
	fact("level=%d", new_level);
	fact_info("class=%d text=%s", new_class, new_text);
}

/* dm_log_init: the old-style callback gets the formatted text */
TEST(old_callback, T_MATCH)
{
	dm_log_init(old_cb);
	TRIGGER_ERROR();
	CHECK_INT(old_n, 1);
	CHECK_INT(old_level & 0xf, 3);
	CHECK_STR(old_text, ERROR_TEXT);
	CHECK(old_line > 0);
	fact("n=%d level=%d text=%s", old_n, old_level, old_text);
	fact_info("fmt=%s", old_fmt);
}

/* the last installed callback wins */
TEST(last_init_wins, T_MATCH)
{
	dm_log_init(old_cb);
	dm_log_with_errno_init(new_cb);
	TRIGGER_ERROR();
	CHECK_INT(new_n, 1);
	CHECK_INT(old_n, 0);
	dm_log_init(old_cb);
	TRIGGER_ERROR();
	CHECK_INT(new_n, 1);
	CHECK_INT(old_n, 1);
	fact("new=%d old=%d", new_n, old_n);
}

/* --- the default logger: run with fds 1 and 2 redirected to files --- */

struct capture {
	int saved1, saved2;
};

static void streams_begin(struct capture *c)
{
	int fd1, fd2;

	fflush(stdout);
	fflush(stderr);
	c->saved1 = dup(1);
	c->saved2 = dup(2);
	fd1 = open(tmp_path("stdout"), O_CREAT | O_TRUNC | O_WRONLY, 0600);
	fd2 = open(tmp_path("stderr"), O_CREAT | O_TRUNC | O_WRONLY, 0600);
	REQUIRE(fd1 >= 0 && fd2 >= 0);
	dup2(fd1, 1);
	dup2(fd2, 2);
	close(fd1);
	close(fd2);
}

static void slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = 0;

	buf[0] = '\0';
	if (fd < 0)
		return;
	n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
}

static void streams_end(struct capture *c, char *out, char *err, size_t size)
{
	fflush(stdout);
	fflush(stderr);
	dup2(c->saved1, 1);
	dup2(c->saved2, 2);
	close(c->saved1);
	close(c->saved2);
	slurp(tmp_path("stdout"), out, size);
	slurp(tmp_path("stderr"), err, size);
}

static void fact_stream(const char *tag, const char *s)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", s);
	h_normalize(buf, sizeof(buf));
	fact("%s='%s'", tag, buf);
}

TEST(default_logger_streams, T_MATCH)
{
	struct capture c;
	char out[4096], err[4096];

	dm_log_with_errno_init(NULL);
	dm_log_init_verbose(0);
	streams_begin(&c);
	TRIGGER_ERROR();
	TRIGGER_DEBUG();
	streams_end(&c, out, err, sizeof(out));
	CHECK_STR(err, ERROR_TEXT "\n");
	CHECK_STR(out, "");
	fact_stream("verbose0.stderr", err);
	fact_stream("verbose0.stdout", out);
}

TEST(default_logger_verbose, T_MATCH)
{
	struct capture c;
	char out[4096], err[4096];

	dm_log_with_errno_init(NULL);
	dm_log_init_verbose(1);
	streams_begin(&c);
	TRIGGER_DEBUG(); /* "DM udev checking disabled" */
	TRIGGER_ERROR();
	streams_end(&c, out, err, sizeof(out));
	CHECK_STR(err, ERROR_TEXT "\n");
	CHECK(out[0] != '\0' && out[strlen(out) - 1] == '\n');
	fact_stream("verbose1.stderr", err);
	fact("verbose1.stdout.lines=%d", (int)(strchr(out, '\n') != NULL));
	fact_info("verbose1.stdout='%s'", out);
}

/*
 * The default logger writes stdout lines through C's stdout: in order with
 * the program's own printf output on the same (buffered) stream, and
 * without a write per line.
 */
TEST(default_logger_keeps_stdio_order, T_MATCH)
{
	struct capture c;
	char out[4096], err[4096];

	dm_log_with_errno_init(NULL);
	dm_log_init_verbose(1);
	streams_begin(&c);
	printf("before\n");
	TRIGGER_DEBUG(); /* "DM udev checking disabled" */
	printf("after\n");
	streams_end(&c, out, err, sizeof(out));
	dm_log_init_verbose(0);
	CHECK(strncmp(out, "before\n", 7) == 0);
	CHECK(strlen(out) > 13 && strcmp(out + strlen(out) - 6, "after\n") == 0);
	fact_info("stdout='%s'", out);
	fact("order=%s", strncmp(out, "before\n", 7) == 0 &&
			 strcmp(out + strlen(out) - 6, "after\n") == 0 ? "kept" : "lost");
}

/* dm_log_init(NULL) restores the default logger too */
TEST(default_logger_after_old_null, T_MATCH)
{
	struct capture c;
	char out[4096], err[4096];

	dm_log_init(old_cb);
	dm_log_init(NULL);
	streams_begin(&c);
	TRIGGER_ERROR();
	streams_end(&c, out, err, sizeof(out));
	CHECK_STR(err, ERROR_TEXT "\n");
	CHECK_INT(old_n, 0);
	fact_stream("stderr", err);
}

/* DM_DEBUG_WITH_LINE_NUMBERS is read lazily at the first default log line */
TEST(default_logger_line_numbers, T_MATCH)
{
	struct capture c;
	char out[4096], err[4096];
	const char *colon;

	setenv("DM_DEBUG_WITH_LINE_NUMBERS", "1", 1);
	dm_log_with_errno_init(NULL);
	streams_begin(&c);
	TRIGGER_ERROR();
	streams_end(&c, out, err, sizeof(out));
	colon = strchr(err, ':');
	CHECK(colon && colon < strstr(err, ERROR_TEXT));
	CHECK(strstr(err, ERROR_TEXT "\n") != NULL);
	fact("prefixed=%d ends_with_text=%d", colon && colon < strstr(err, ERROR_TEXT),
	     strstr(err, ERROR_TEXT "\n") != NULL);
	fact_info("line='%s'", err);
}

/* --- concurrent callback changes (hardening: the pair changes as one) --- */

static void quiet_old(int level, const char *file, int line, const char *f, ...)
	__attribute__((format(printf, 4, 5)));
static void quiet_old(int level, const char *file, int line, const char *f, ...)
{
	(void)level; (void)file; (void)line; (void)f;
	__atomic_fetch_add(&old_n, 1, __ATOMIC_RELAXED);
}

static void quiet_new(int level, const char *file, int line, int c, const char *f, ...)
	__attribute__((format(printf, 5, 6)));
static void quiet_new(int level, const char *file, int line, int c, const char *f, ...)
{
	(void)level; (void)file; (void)line; (void)c; (void)f;
	__atomic_fetch_add(&new_n, 1, __ATOMIC_RELAXED);
}

static void *flip_old(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++)
		dm_log_init(quiet_old);
	return NULL;
}

static void *flip_new(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++)
		dm_log_with_errno_init(quiet_new);
	return NULL;
}

static void *log_lines(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++)
		TRIGGER_ERROR();
	return NULL;
}

/* Two threads install the two kinds of callback at once while a third logs:
 * every line reaches one of the callbacks, none recurses between the two
 * adapters (which used to overflow the stack). */
TEST(concurrent_log_init, T_OURS)
{
	pthread_t a, b, c;
	int saved2 = dup(2), fd, printed = 0;
	char *path = tmp_path("concurrent.stderr"), line[256];
	FILE *f;

	/* A line that meets a callback switch half-way may go to the built-in
	 * logger instead (stderr); none may be lost or loop. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0 && saved2 >= 0);
	dup2(fd, 2);
	close(fd);
	dm_log_with_errno_init(quiet_new);	/* not the harness's capture */
	old_n = new_n = 0;
	pthread_create(&a, NULL, flip_old, NULL);
	pthread_create(&b, NULL, flip_new, NULL);
	pthread_create(&c, NULL, log_lines, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pthread_join(c, NULL);
	fflush(stderr);
	dup2(saved2, 2);
	close(saved2);
	REQUIRE((f = fopen(path, "r")));
	while (fgets(line, sizeof(line), f))
		printed += strstr(line, ERROR_TEXT) != NULL;
	fclose(f);
	CHECK_INT(old_n + new_n + printed, 2000);
	old_n = new_n = 0;
	TRIGGER_ERROR();
	CHECK_INT(old_n + new_n, 1);
	fact("lines=%d", old_n + new_n + printed);
}

/* Exported by both libraries, declared by neither header. */
extern dm_log_fn dm_log;

/* Handing back a saved adapter must not build a loop either. */
TEST(saved_adapter_handed_back, T_OURS)
{
	dm_log_fn saved;

	dm_log_with_errno_init(new_cb);
	saved = dm_log;                 /* the old-style view of new_cb */
	dm_log_init(old_cb);            /* errno-style pointer now adapts to old_cb */
	dm_log_init(saved);             /* would point both adapters at each other */
	old_n = new_n = 0;
	TRIGGER_ERROR();                /* returns, whatever prints it */
	CHECK(dm_log_is_non_default() == 0 || old_n + new_n == 1);
	fact("non_default=%d", dm_log_is_non_default());
}
