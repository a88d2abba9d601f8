/* capi-tests harness: registration, fork-per-test runner, checks, facts,
 * log capture and small helpers.  See harness.h. */
#define _GNU_SOURCE
#include "harness.h"

#include <dlfcn.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TESTS 256
#define TEST_TIMEOUT 120
/* The runner's own limit on a test (its child's SIGALRM comes first; this
 * one is for a child that cannot take it: stuck in the kernel, or gone while
 * processes it forked keep the report pipe open) and on a cleanup. */
#define PARENT_TIMEOUT (TEST_TIMEOUT + 15)
#define CLEANUP_TIMEOUT 30

struct test {
	const char *name;
	test_fn fn;
	int flags;
	int line;
};

static struct test tests[MAX_TESTS];
static int ntests;

const char *h_area = "?";
const char *h_name = "?";
int h_flags;
char h_tmpdir[256];
int h_kernel;
const char *h_lib = "unknown";
int h_failed;
static int h_verbose;
static int h_report_fd = -1;

struct logline h_log[LOG_MAX];
int h_log_n;
static int h_log_dropped;

void h_register(const char *name, test_fn fn, int flags, int line)
{
	if (ntests >= MAX_TESTS) {
		fprintf(stderr, "too many tests\n");
		abort();
	}
	tests[ntests].name = name;
	tests[ntests].fn = fn;
	tests[ntests].flags = flags;
	tests[ntests].line = line;
	ntests++;
}

/* re-exec hook: an area may define h_helper() to report state that only
 * exists at library load time (environment read by the constructor) */
__attribute__((weak)) int h_helper(const char *what)
{
	fprintf(stderr, "no helper %s\n", what);
	return 2;
}

int h_is_ours(void)
{
	return !strcmp(h_lib, "ours");
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (h_report_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (write(h_report_fd, buf, n) < 0) {
		/* nothing useful to do */
	}
}

void h_fail(const char *file, int line, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# FAIL %s:%d: %s\n", file, line, buf);
	fflush(stdout);
	if (!h_failed)
		report("%s:%d: %s", file, line, buf);
	h_failed++;
}

void h_note(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void __attribute__((noreturn)) finish_child(int code)
{
	if (h_failed && log_count(7))
		log_dump(h_verbose ? 7 : 4);
	fflush(stdout);
	exit(code);
}

void h_skip(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (h_failed)
		finish_child(1);
	report("%s", buf);
	finish_child(77);
}

void h_abort_test(void)
{
	finish_child(1);
}

static void vfact(const char *tag, const char *fmt, va_list ap)
{
	char buf[4096];

	char *nl;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	while ((nl = strchr(buf, '\n')))
		*nl = '|';
	printf("%s %s/%s %s\n", tag, h_area, h_name, buf);
	fflush(stdout);
}

void fact(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfact((h_flags & T_MATCH) ? "@M" : "@I", fmt, ap);
	va_end(ap);
}

void fact_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfact("@I", fmt, ap);
	va_end(ap);
}

/* ---------------- log capture ---------------- */

static void replace_all(char *s, size_t size, const char *from, const char *to)
{
	char out[2048];
	size_t flen = strlen(from), o = 0;
	const char *p = s;

	if (!flen)
		return;
	while (*p && o + 1 < sizeof(out)) {
		if (!strncmp(p, from, flen)) {
			size_t tl = strlen(to);
			if (o + tl + 1 >= sizeof(out))
				break;
			memcpy(out + o, to, tl);
			o += tl;
			p += flen;
		} else
			out[o++] = *p++;
	}
	out[o] = '\0';
	snprintf(s, size, "%s", out);
}

/* "(253:4)" -> "(M:m)" so device numbers do not enter facts */
static void strip_devnums(char *s)
{
	char *p = s, *q;

	while ((p = strchr(p, '('))) {
		q = p + 1;
		if (*q < '0' || *q > '9') {
			p++;
			continue;
		}
		while (*q >= '0' && *q <= '9')
			q++;
		if (*q != ':') {
			p++;
			continue;
		}
		q++;
		if (*q < '0' || *q > '9') {
			p++;
			continue;
		}
		while (*q >= '0' && *q <= '9')
			q++;
		if (*q != ')') {
			p++;
			continue;
		}
		/* "(d:d)" is at least as long as "(M:m)": shrink in place */
		memmove(p + 5, q + 1, strlen(q + 1) + 1);
		memcpy(p, "(M:m)", 5);
		p += 5;
	}
}

void h_normalize(char *s, size_t size)
{
	char *nl;

	if (h_tmpdir[0])
		replace_all(s, size, h_tmpdir, "$TMP");
	strip_devnums(s);
	while ((nl = strchr(s, '\n')))
		*nl = '|';
}

static void capture_cb(int level, const char *file, int line, int dm_errno_or_class,
		       const char *f, ...)
	__attribute__((format(printf, 5, 6)));
static void capture_cb(int level, const char *file, int line, int dm_errno_or_class,
		       const char *f, ...)
{
	struct logline *l;
	va_list ap;

	(void)file;
	(void)line;
	if (h_log_n >= LOG_MAX) {
		h_log_dropped++;
		return;
	}
	l = &h_log[h_log_n++];
	l->level = level;
	l->errclass = dm_errno_or_class;
	va_start(ap, f);
	vsnprintf(l->text, sizeof(l->text), f, ap);
	va_end(ap);
	h_normalize(l->text, sizeof(l->text));
	if (h_verbose > 1)
		printf("# log[%d/%d] %s\n", level, dm_errno_or_class, l->text);
}

void log_capture(void)
{
	dm_log_with_errno_init(capture_cb);
}

void log_clear(void)
{
	h_log_n = 0;
	h_log_dropped = 0;
}

int log_count(int maxlevel)
{
	int i, n = 0;

	for (i = 0; i < h_log_n; i++)
		if ((h_log[i].level & 0xf) <= maxlevel)
			n++;
	return n;
}

int log_has(const char *substr, int maxlevel)
{
	int i;

	for (i = 0; i < h_log_n; i++)
		if ((h_log[i].level & 0xf) <= maxlevel && strstr(h_log[i].text, substr))
			return 1;
	return 0;
}

const char *log_first(int maxlevel)
{
	int i;

	for (i = 0; i < h_log_n; i++)
		if ((h_log[i].level & 0xf) <= maxlevel)
			return h_log[i].text;
	return NULL;
}

void log_dump(int maxlevel)
{
	int i;

	for (i = 0; i < h_log_n; i++)
		if ((h_log[i].level & 0xf) <= maxlevel)
			printf("# log[%d/%d] %s\n", h_log[i].level, h_log[i].errclass, h_log[i].text);
	fflush(stdout);
}

static void fact_logs_tag(const char *tag, int maxlevel, int info)
{
	int i, n = 0;

	for (i = 0; i < h_log_n; i++) {
		if ((h_log[i].level & 0xf) > maxlevel)
			continue;
		if (info)
			fact_info("%s.log[%d] L%d/%d %s", tag, n, h_log[i].level, h_log[i].errclass,
				  h_log[i].text);
		else
			fact("%s.log[%d] L%d/%d %s", tag, n, h_log[i].level, h_log[i].errclass,
			     h_log[i].text);
		n++;
	}
	if (info)
		fact_info("%s.log.count=%d", tag, n);
	else
		fact("%s.log.count=%d", tag, n);
}

void fact_logs(const char *tag, int maxlevel)
{
	fact_logs_tag(tag, maxlevel, 0);
}

void fact_logs_info(const char *tag, int maxlevel)
{
	fact_logs_tag(tag, maxlevel, 1);
}

/* ---------------- small helpers ---------------- */

char *tmp_path(const char *rel)
{
	static char buf[4][512];
	static int idx;

	idx = (idx + 1) % 4;
	snprintf(buf[idx], sizeof(buf[idx]), "%s/%s", h_tmpdir, rel);
	return buf[idx];
}

int count_fds_to(const char *suffix)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char path[300], target[512];
	int n = 0;
	ssize_t len;
	size_t sl = strlen(suffix);

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if ((size_t)len >= sl && !strcmp(target + len - sl, suffix))
			n++;
	}
	closedir(d);
	return n;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---------------- runner ---------------- */

static int cmp_tests(const void *a, const void *b)
{
	const struct test *x = a, *y = b;

	return x->line - y->line;
}

static int selected(const char *name, int argc, char **argv, int first)
{
	int i;

	if (first >= argc)
		return 1;
	for (i = first; i < argc; i++)
		if (strstr(name, argv[i]))
			return 1;
	return 0;
}

static void check_loaded_library(void)
{
	Dl_info dli;
	const char *path = "?";

	if (dladdr((void *)dm_task_create, &dli) && dli.dli_fname)
		path = dli.dli_fname;
	printf("# %s: library %s (%s)\n", h_area, path, h_lib);
	if (!strcmp(h_lib, "stock") && strstr(path, "/build/lib")) {
		printf("Bail out! CAPI_LIB=stock but loaded %s\n", path);
		exit(2);
	}
	if (!strcmp(h_lib, "ours") && !strstr(path, "/build/lib")) {
		printf("Bail out! CAPI_LIB=ours but loaded %s\n", path);
		exit(2);
	}
}

/* What a hung test waits on, for its report: the devices (suspended ones
 * have "s" in attr) and the tasks blocked in the kernel, with their wait
 * channels.  Best effort, bounded, on stdout. */
static void hang_report(pid_t pid)
{
	char cmd[512];

	printf("# %s/%s: pid %d still running after %d s; devices and blocked tasks:\n",
	       h_area, h_name, (int)pid, PARENT_TIMEOUT);
	fflush(stdout);
	snprintf(cmd, sizeof(cmd),
		 "timeout 10 dmsetup info -c -o name,attr,open,segments,events 2>&1 | sed 's/^/#   /';"
		 " ps -eo pid,ppid,pgid,stat,wchan:32,args 2>/dev/null |"
		 " awk 'NR == 1 || $4 ~ /^[DT]/ || $3 == %d' | sed 's/^/#   /'", (int)pid);
	if (system(cmd)) {
		/* nothing more to say */
	}
	fflush(stdout);
}

/* Wait for a child of the runner (the leader of its own process group) for
 * at most `secs` seconds, reading what it reports on `fd` (-1: none) into
 * buf.  The report pipe's end of file is not waited for: processes the test
 * forked (a holder of a device, a helper) may keep it open after the test
 * is gone.  Once the child is gone, or the time is up, its whole group is
 * killed.  Returns 1 with *status set when the child ended in time, 2 when
 * it was reaped once killed for its time, 0 when it could not be reaped even
 * after SIGKILL (stuck in the kernel): then it is left behind. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int wait_child(pid_t pid, int secs, int *status, int fd, char *buf, size_t cap)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	size_t got = buf ? strlen(buf) : 0;
	double deadline = now_s() + secs;
	int killed = 0, reaped = 0;
	pid_t r;
	ssize_t n;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR)) {
			reaped = r == pid ? 1 + killed : 0;
			break;
		}
		if (now_s() > deadline) {
			if (killed)
				break;
			if (fd >= 0)
				hang_report(pid);
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			killed = 1;
			deadline = now_s() + 10; /* to die */
		}
		if (fd >= 0 && pf.fd >= 0) {
			if (poll(&pf, 1, 100) > 0) {
				n = got < cap - 1 ? read(fd, buf + got, cap - 1 - got) : 0;
				if (n > 0)
					got += n;
				else if (!(n < 0 && errno == EINTR))
					pf.fd = -1; /* end of file, or full: just wait */
				buf[got] = '\0';
			}
		} else {
			usleep(2000); /* (the end of file comes just before the exit) */
		}
	}
	kill(-pid, SIGKILL); /* whatever it left running in its group */
	/* drain what is already there */
	while (fd >= 0 && pf.fd >= 0 && got < cap - 1 && poll(&pf, 1, 0) > 0 &&
	       (n = read(fd, buf + got, cap - 1 - got)) > 0) {
		got += n;
		buf[got] = '\0';
	}
	return reaped;
}

static void run_one(struct test *t)
{
	char reason[512] = "";
	int pfd[2], status = 0, reaped;
	pid_t pid;
	const char *tmpbase = getenv("TMPDIR");

	if ((t->flags & T_KERNEL) && !h_kernel) {
		printf("ok - %s/%s # SKIP needs a kernel (--kernel)\n", h_area, t->name);
		return;
	}
	if ((t->flags & T_NOKERNEL) && h_kernel) {
		printf("ok - %s/%s # SKIP needs a host without the dm driver\n", h_area, t->name);
		return;
	}
	if ((t->flags & T_OURS) && !h_is_ours() && !getenv("CAPI_FORCE_OURS_ONLY")) {
		printf("ok - %s/%s # SKIP ours-only (stock crashes here)\n", h_area, t->name);
		return;
	}

	snprintf(h_tmpdir, sizeof(h_tmpdir), "%s/capitest.XXXXXX",
		 tmpbase && *tmpbase ? tmpbase : "/tmp");
	if (!mkdtemp(h_tmpdir)) {
		printf("not ok - %s/%s # mkdtemp: %s\n", h_area, t->name, strerror(errno));
		return;
	}
	if (pipe(pfd)) {
		printf("not ok - %s/%s # pipe: %s\n", h_area, t->name, strerror(errno));
		return;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		printf("not ok - %s/%s # fork: %s\n", h_area, t->name, strerror(errno));
		return;
	}
	if (!pid) {
		/* its own process group: the runner can kill all it forks */
		setpgid(0, 0);
		close(pfd[0]);
		h_report_fd = pfd[1];
		h_name = t->name;
		h_flags = t->flags;
		alarm(TEST_TIMEOUT);
		log_capture();
		if (!(t->flags & T_DEVDIR) && !h_kernel)
			dm_set_dev_dir(h_tmpdir);
		t->fn();
		finish_child(h_failed ? 1 : 0);
	}
	setpgid(pid, pid); /* (either side may get there first) */
	close(pfd[1]);
	h_name = t->name;
	reaped = wait_child(pid, PARENT_TIMEOUT, &status, pfd[0], reason, sizeof(reason));
	close(pfd[0]);

	if (!reaped)
		printf("not ok - %s/%s # timeout: pid %d survives SIGKILL (stuck in the kernel), left behind%s%s\n",
		       h_area, t->name, (int)pid, reason[0] ? "; " : "", reason);
	else if (reaped == 2)
		printf("not ok - %s/%s # timeout: killed by the runner after %d s%s%s\n",
		       h_area, t->name, PARENT_TIMEOUT, reason[0] ? "; " : "", reason);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		printf("ok - %s/%s\n", h_area, t->name);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		printf("ok - %s/%s # SKIP %s\n", h_area, t->name, reason);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
		printf("not ok - %s/%s # %s\n", h_area, t->name, reason);
	else if (WIFEXITED(status))
		printf("not ok - %s/%s # exit status %d%s %s\n", h_area, t->name,
		       WEXITSTATUS(status), WEXITSTATUS(status) == 23 ? " (sanitizer report)" : "",
		       reason);
	else if (WIFSIGNALED(status))
		printf("not ok - %s/%s # %s %d (%s)\n", h_area, t->name,
		       WTERMSIG(status) == SIGALRM ? "timeout, signal" : "crashed, signal",
		       WTERMSIG(status), strsignal(WTERMSIG(status)));
	fflush(stdout);

	if (t->flags & T_KERNEL) {
		/* leave no capitest-* device behind, whatever happened */
		pid = fork();
		if (!pid) {
			setpgid(0, 0);
			raw_cleanup();
			_exit(0);
		}
		if (pid > 0) {
			setpgid(pid, pid);
			if (!wait_child(pid, CLEANUP_TIMEOUT, &status, -1, NULL, 0))
				printf("# %s/%s: the device cleanup is stuck (pid %d), left behind\n",
				       h_area, t->name, (int)pid);
		}
	}
	h_name = "?";
	rm_rf(h_tmpdir);
	h_tmpdir[0] = '\0';
}

int main(int argc, char **argv)
{
	const char *s;
	int i, first = 1, list = 0;

	h_area = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if ((s = getenv("CAPI_LIB")) && *s)
		h_lib = s;
	if ((s = getenv("CAPI_KERNEL")) && *s && strcmp(s, "0"))
		h_kernel = 1;
	if ((s = getenv("CAPI_VERBOSE")) && *s)
		h_verbose = atoi(s);
	if ((s = getenv("CAPI_HELPER")) && *s)
		return h_helper(s);
	if (argc > 1 && !strcmp(argv[1], "-l")) {
		list = 1;
		first = 2;
	}

	qsort(tests, ntests, sizeof(tests[0]), cmp_tests);
	if (list) {
		for (i = 0; i < ntests; i++)
			printf("%s/%s\n", h_area, tests[i].name);
		return 0;
	}
	check_loaded_library();
	if (h_kernel && getuid() != 0)
		printf("# warning: kernel tests need root\n");
	if (h_kernel) {
		pid_t pid = fork();
		int st;
		if (!pid) {
			setpgid(0, 0);
			raw_cleanup();
			_exit(0);
		}
		if (pid > 0) {
			setpgid(pid, pid);
			if (!wait_child(pid, CLEANUP_TIMEOUT, &st, -1, NULL, 0))
				printf("# %s: the device cleanup is stuck (pid %d), left behind\n",
				       h_area, (int)pid);
		}
	}
	for (i = 0; i < ntests; i++)
		if (selected(tests[i].name, argc, argv, first))
			run_one(&tests[i]);
	return 0;
}

const char *run_helper(const char *what, const char *env1, const char *env2)
{
	static char out[4096];
	char cmd_env[3][512];
	int pfd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	out[0] = '\0';
	if (pipe(pfd))
		return NULL;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return NULL;
	if (!pid) {
		char *envp[8];
		int e = 0;
		extern char **environ;
		char **ep;

		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		snprintf(cmd_env[0], sizeof(cmd_env[0]), "CAPI_HELPER=%s", what);
		/* a small clean environment plus the library search path */
		for (ep = environ; *ep && e < 4; ep++)
			if (!strncmp(*ep, "LD_LIBRARY_PATH=", 16) || !strncmp(*ep, "ASAN_OPTIONS=", 13) ||
			    !strncmp(*ep, "PATH=", 5) || !strncmp(*ep, "UBSAN_OPTIONS=", 14))
				envp[e++] = *ep;
		envp[e++] = cmd_env[0];
		if (env1)
			envp[e++] = (char *)env1;
		if (env2)
			envp[e++] = (char *)env2;
		envp[e] = NULL;
		execle("/proc/self/exe", h_area, (char *)NULL, envp);
		_exit(127);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], out + got, sizeof(out) - 1 - got)) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0)
			got += n;
	out[got] = '\0';
	close(pfd[0]);
	waitpid(pid, &status, 0);
	while (got && out[got - 1] == '\n')
		out[--got] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		h_note("helper %s exited abnormally (status 0x%x)", what, status);
	return out;
}
