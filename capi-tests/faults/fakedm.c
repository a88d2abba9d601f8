/*
 * fakedm: a device-mapper driver played in user space, with fault
 * injection (see fakedm.h). Written from the dm ioctl interface
 * (<linux/dm-ioctl.h>) and Linux 6.1's documented behaviour: every reply
 * is what that kernel would write, unless a test asks for a fault.
 */
#define _GNU_SOURCE
#include "fakedm.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define FK_MAJOR 253
#define MAX_DEVS 64
#define MAX_TARGETS 16
#define MAX_FAULTS 16
#define MAX_MSG 16
#define MAX_FDS 4096
#define MAX_MARKS 512
#define MAX_LOG 4096

/* ------------------------------------------------------------------ state */

struct fk_target {
	uint64_t start, len;
	char type[DM_MAX_TYPE_NAME];
	char *params;
};

struct fk_table {
	int present;
	int n;
	int readonly;
	struct fk_target t[MAX_TARGETS];
};

struct fk_dev {
	int used;
	char name[DM_NAME_LEN];
	char uuid[DM_UUID_LEN];
	uint32_t minor;
	int suspended;
	int open_count;
	uint32_t event_nr;
	struct fk_table live, inactive;
};

struct fk_fault_spec {
	int at, cmd, kind;
	long arg;
};

struct fk_msg {
	char prefix[64];
	char *response; /* NULL: no data out */
};

/* a string or a next field of the reply being built (offsets in the buffer) */
struct mark {
	size_t off, end;   /* string: [off, end) is its record; next: field offset */
	size_t rec;        /* next: offset of the record (or of the payload for specs) */
	int absolute;      /* next: offset from the payload start (status specs) */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fk_dev devs[MAX_DEVS];
static struct fk_fault_spec faults[MAX_FAULTS];
static int nfaults;
static struct fk_msg msgs[MAX_MSG];
static int nmsgs;
static int calls, faults_applied;
static unsigned char fake_fd[MAX_FDS];
static struct mark strs[MAX_MARKS], nexts[MAX_MARKS];
static int nstrs, nnexts, last_strs, last_nexts;
static signed char cmd_log[MAX_LOG];
static short strs_log[MAX_LOG], nexts_log[MAX_LOG];

static const struct {
	const char *name;
	uint32_t v[3];
} target_types[] = {
	{ "linear", { 1, 4, 0 } },    { "striped", { 1, 6, 0 } },
	{ "zero", { 1, 2, 0 } },      { "error", { 1, 6, 0 } },
	{ "crypt", { 1, 24, 0 } },    { "thin-pool", { 1, 23, 0 } },
	{ "thin", { 1, 23, 0 } },     { "snapshot", { 1, 16, 0 } },
	{ "snapshot-origin", { 1, 9, 0 } },
};
#define NTYPES (sizeof(target_types) / sizeof(target_types[0]))

/* ------------------------------------------------------ real functions */

#define REAL(name, type) static type real_##name(void) \
	{ static type f; if (!f) f = (type)dlsym(RTLD_NEXT, #name); return f; }

typedef int (*open_t)(const char *, int, ...);
typedef int (*openat_t)(int, const char *, int, ...);
typedef int (*close_t)(int);
typedef int (*ioctl_t)(int, unsigned long, ...);
typedef int (*stat_t)(const char *, struct stat *);
typedef int (*fstatat_t)(int, const char *, struct stat *, int);
typedef int (*statx_t)(int, const char *, int, unsigned int, struct statx *);
typedef int (*xstat_t)(int, const char *, struct stat *);
typedef int (*fxstatat_t)(int, int, const char *, struct stat *, int);
typedef FILE *(*fopen_t)(const char *, const char *);

REAL(open, open_t)
REAL(open64, open_t)
REAL(openat, openat_t)
REAL(openat64, openat_t)
REAL(close, close_t)
REAL(ioctl, ioctl_t)
REAL(stat, stat_t)
REAL(stat64, stat_t)
REAL(lstat, stat_t)
REAL(lstat64, stat_t)
REAL(fstatat, fstatat_t)
REAL(fstatat64, fstatat_t)
REAL(statx, statx_t)
REAL(__xstat, xstat_t)
REAL(__xstat64, xstat_t)
REAL(__lxstat, xstat_t)
REAL(__lxstat64, xstat_t)
REAL(__fxstatat, fxstatat_t)
REAL(__fxstatat64, fxstatat_t)
REAL(fopen, fopen_t)
REAL(fopen64, fopen_t)

/* ------------------------------------------------------ path matching */

static int is_control(const char *path)
{
	static const char suffix[] = "/mapper/control";
	size_t n, s = sizeof(suffix) - 1;

	if (!path)
		return 0;
	n = strlen(path);
	return n >= s && !strcmp(path + n - s, suffix);
}

static int is_proc_devices(const char *path)
{
	return path && !strcmp(path, "/proc/devices");
}

static const char proc_devices[] =
	"Character devices:\n  1 mem\n  4 tty\n 10 misc\n\n"
	"Block devices:\n  7 loop\n  8 sd\n259 blkext\n253 device-mapper\n";

static int devices_fd(void)
{
	int fd = memfd_create("fakedm-proc-devices", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (write(fd, proc_devices, sizeof(proc_devices) - 1) != (ssize_t)sizeof(proc_devices) - 1 ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		real_close()(fd);
		return -1;
	}
	return fd;
}

static int control_fd(int flags)
{
	int fd = real_open()("/dev/null", O_RDWR | (flags & O_CLOEXEC));

	if (fd >= 0 && fd < MAX_FDS) {
		pthread_mutex_lock(&lock);
		fake_fd[fd] = 1;
		pthread_mutex_unlock(&lock);
	} else if (fd >= 0) {
		real_close()(fd);
		errno = EMFILE;
		return -1;
	}
	return fd;
}

static void fill_stat(struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFCHR | 0600;
	st->st_rdev = makedev(10, 236);
	st->st_dev = makedev(0, 5);
	st->st_ino = 0xd3c0;
	st->st_nlink = 1;
	st->st_blksize = 4096;
}

/* ------------------------------------------------------ interposed calls */

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	if (is_control(path))
		return control_fd(flags);
	if (is_proc_devices(path))
		return devices_fd();
	return real_open()(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	if (is_control(path))
		return control_fd(flags);
	if (is_proc_devices(path))
		return devices_fd();
	return real_open64()(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	if (path[0] == '/' && is_control(path))
		return control_fd(flags);
	if (is_proc_devices(path))
		return devices_fd();
	return real_openat()(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	if (path[0] == '/' && is_control(path))
		return control_fd(flags);
	if (is_proc_devices(path))
		return devices_fd();
	return real_openat64()(dirfd, path, flags, mode);
}

FILE *fopen(const char *path, const char *mode)
{
	if (is_proc_devices(path)) {
		int fd = devices_fd();
		return fd < 0 ? NULL : fdopen(fd, "r");
	}
	return real_fopen()(path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	if (is_proc_devices(path)) {
		int fd = devices_fd();
		return fd < 0 ? NULL : fdopen(fd, "r");
	}
	return real_fopen64()(path, mode);
}

int close(int fd)
{
	if (fd >= 0 && fd < MAX_FDS) {
		pthread_mutex_lock(&lock);
		fake_fd[fd] = 0;
		pthread_mutex_unlock(&lock);
	}
	return real_close()(fd);
}

int stat(const char *path, struct stat *st)
{
	if (is_control(path)) {
		fill_stat(st);
		return 0;
	}
	return real_stat()(path, st);
}

int stat64(const char *path, struct stat64 *st)
{
	if (is_control(path)) {
		fill_stat((struct stat *)st);
		return 0;
	}
	return real_stat64()(path, (struct stat *)st);
}

int lstat(const char *path, struct stat *st)
{
	if (is_control(path)) {
		fill_stat(st);
		return 0;
	}
	return real_lstat()(path, st);
}

int lstat64(const char *path, struct stat64 *st)
{
	if (is_control(path)) {
		fill_stat((struct stat *)st);
		return 0;
	}
	return real_lstat64()(path, (struct stat *)st);
}

int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	if (is_control(path)) {
		fill_stat(st);
		return 0;
	}
	return real_fstatat()(dirfd, path, st, flags);
}

int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	if (is_control(path)) {
		fill_stat((struct stat *)st);
		return 0;
	}
	return real_fstatat64()(dirfd, path, (struct stat *)st, flags);
}

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *sx)
{
	if (is_control(path)) {
		memset(sx, 0, sizeof(*sx));
		sx->stx_mask = STATX_BASIC_STATS;
		sx->stx_mode = S_IFCHR | 0600;
		sx->stx_nlink = 1;
		sx->stx_ino = 0xd3c0;
		sx->stx_blksize = 4096;
		sx->stx_rdev_major = 10;
		sx->stx_rdev_minor = 236;
		sx->stx_dev_minor = 5;
		return 0;
	}
	if (!real_statx()) {
		errno = ENOSYS;
		return -1;
	}
	return real_statx()(dirfd, path, flags, mask, sx);
}

int __xstat(int ver, const char *path, struct stat *st);
int __xstat(int ver, const char *path, struct stat *st)
{
	if (is_control(path)) {
		fill_stat(st);
		return 0;
	}
	return real___xstat()(ver, path, st);
}

int __xstat64(int ver, const char *path, struct stat *st);
int __xstat64(int ver, const char *path, struct stat *st)
{
	if (is_control(path)) {
		fill_stat(st);
		return 0;
	}
	return real___xstat64()(ver, path, st);
}

int __lxstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st)
{
	if (is_control(path)) {
		fill_stat(st);
		return 0;
	}
	return real___lxstat()(ver, path, st);
}

int __lxstat64(int ver, const char *path, struct stat *st);
int __lxstat64(int ver, const char *path, struct stat *st)
{
	if (is_control(path)) {
		fill_stat(st);
		return 0;
	}
	return real___lxstat64()(ver, path, st);
}

int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
	if (is_control(path)) {
		fill_stat(st);
		return 0;
	}
	return real___fxstatat()(ver, dirfd, path, st, flags);
}

int __fxstatat64(int ver, int dirfd, const char *path, struct stat *st, int flags);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
	if (is_control(path)) {
		fill_stat(st);
		return 0;
	}
	return real___fxstatat64()(ver, dirfd, path, st, flags);
}

static int dm_ioctl_fake(unsigned long request, void *arg);

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	int fake;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	pthread_mutex_lock(&lock);
	fake = fd >= 0 && fd < MAX_FDS && fake_fd[fd];
	pthread_mutex_unlock(&lock);
	if (fake && _IOC_TYPE(request) == DM_IOCTL)
		return dm_ioctl_fake(request, arg);
	if (fake) {
		errno = ENOTTY;
		return -1;
	}
	return real_ioctl()(fd, request, arg);
}

/* ------------------------------------------------------ device model */

static uint64_t encode_dev(uint32_t major, uint32_t minor)
{
	return (minor & 0xff) | ((uint64_t)major << 8) | ((uint64_t)(minor & ~0xffu) << 12);
}

static void decode_dev(uint64_t dev, uint32_t *major, uint32_t *minor)
{
	*major = (uint32_t)((dev & 0xfff00) >> 8);
	*minor = (uint32_t)((dev & 0xff) | ((dev >> 12) & 0xfff00));
}

static void free_table(struct fk_table *t)
{
	int i;

	for (i = 0; i < t->n; i++) {
		if (t->t[i].params) {
			/* tables may carry keys: wipe like the kernel does */
			explicit_bzero(t->t[i].params, strlen(t->t[i].params));
			free(t->t[i].params);
		}
	}
	memset(t, 0, sizeof(*t));
}

static void free_dev(struct fk_dev *d)
{
	free_table(&d->live);
	free_table(&d->inactive);
	memset(d, 0, sizeof(*d));
}

static struct fk_dev *by_name(const char *name)
{
	int i;

	for (i = 0; i < MAX_DEVS; i++)
		if (devs[i].used && !strcmp(devs[i].name, name))
			return &devs[i];
	return NULL;
}

static struct fk_dev *by_uuid(const char *uuid)
{
	int i;

	for (i = 0; i < MAX_DEVS; i++)
		if (devs[i].used && devs[i].uuid[0] && !strcmp(devs[i].uuid, uuid))
			return &devs[i];
	return NULL;
}

static struct fk_dev *by_dev(uint64_t dev)
{
	uint32_t major, minor;
	int i;

	decode_dev(dev, &major, &minor);
	if (major != FK_MAJOR)
		return NULL;
	for (i = 0; i < MAX_DEVS; i++)
		if (devs[i].used && devs[i].minor == minor)
			return &devs[i];
	return NULL;
}

static struct fk_dev *new_dev(const char *name, const char *uuid, int64_t want_minor)
{
	int i, j;
	uint32_t minor = 0;

	for (i = 0; i < MAX_DEVS; i++)
		if (!devs[i].used)
			break;
	if (i == MAX_DEVS)
		return NULL;
	if (want_minor >= 0) {
		minor = (uint32_t)want_minor;
	} else {
		for (;; minor++) {
			for (j = 0; j < MAX_DEVS; j++)
				if (devs[j].used && devs[j].minor == minor)
					break;
			if (j == MAX_DEVS)
				break;
		}
	}
	memset(&devs[i], 0, sizeof(devs[i]));
	devs[i].used = 1;
	snprintf(devs[i].name, sizeof(devs[i].name), "%s", name);
	snprintf(devs[i].uuid, sizeof(devs[i].uuid), "%s", uuid ? uuid : "");
	devs[i].minor = minor;
	return &devs[i];
}

/* "start len type params" lines into a table */
static int parse_table_text(struct fk_table *t, const char *text)
{
	const char *p = text;

	memset(t, 0, sizeof(*t));
	while (p && *p && t->n < MAX_TARGETS) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char line[1024], type[64];
		unsigned long long s, l;
		int off = 0;

		if (n >= sizeof(line))
			return -1;
		memcpy(line, p, n);
		line[n] = '\0';
		if (sscanf(line, "%llu %llu %63s %n", &s, &l, type, &off) < 3 ||
		    strlen(type) >= DM_MAX_TYPE_NAME)
			return -1;
		t->t[t->n].start = s;
		t->t[t->n].len = l;
		memcpy(t->t[t->n].type, type, strnlen(type, DM_MAX_TYPE_NAME - 1));
		t->t[t->n].params = strdup(off ? line + off : "");
		t->n++;
		p = eol ? eol + 1 : NULL;
	}
	t->present = 1;
	return 0;
}

/* ------------------------------------------------------ public API */

void fk_reset(void)
{
	int i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < MAX_DEVS; i++)
		if (devs[i].used)
			free_dev(&devs[i]);
	for (i = 0; i < nmsgs; i++)
		free(msgs[i].response);
	nmsgs = 0;
	nfaults = 0;
	calls = faults_applied = 0;
	pthread_mutex_unlock(&lock);
}

void fk_clear_faults(void)
{
	pthread_mutex_lock(&lock);
	nfaults = 0;
	calls = faults_applied = 0;
	pthread_mutex_unlock(&lock);
}

void fk_fault(int at, int cmd, int kind, long arg)
{
	pthread_mutex_lock(&lock);
	if (nfaults < MAX_FAULTS) {
		faults[nfaults].at = at;
		faults[nfaults].cmd = cmd;
		faults[nfaults].kind = kind;
		faults[nfaults].arg = arg;
		nfaults++;
	}
	pthread_mutex_unlock(&lock);
}

int fk_calls(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = calls;
	pthread_mutex_unlock(&lock);
	return n;
}

int fk_faults(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = faults_applied;
	pthread_mutex_unlock(&lock);
	return n;
}

int fk_last_strings(void)
{
	return last_strs;
}

int fk_last_nexts(void)
{
	return last_nexts;
}

int fk_strings_of(int i)
{
	return i >= 0 && i < MAX_LOG && i < calls ? strs_log[i] : 0;
}

int fk_nexts_of(int i)
{
	return i >= 0 && i < MAX_LOG && i < calls ? nexts_log[i] : 0;
}

int fk_cmd_of(int i)
{
	return i >= 0 && i < MAX_LOG && i < calls ? cmd_log[i] : -1;
}

int fk_add_device(const char *name, const char *uuid, const char *table, int inactive)
{
	struct fk_dev *d;
	int r = -1;

	pthread_mutex_lock(&lock);
	if (!by_name(name) && (!uuid || !*uuid || !by_uuid(uuid)) && (d = new_dev(name, uuid, -1))) {
		r = (int)d->minor;
		if (table && parse_table_text(inactive ? &d->inactive : &d->live, table)) {
			free_dev(d);
			r = -1;
		}
	}
	pthread_mutex_unlock(&lock);
	return r;
}

void fk_set_open_count(const char *name, int n)
{
	struct fk_dev *d;

	pthread_mutex_lock(&lock);
	if ((d = by_name(name)))
		d->open_count = n;
	pthread_mutex_unlock(&lock);
}

void fk_message_reply(const char *prefix, const char *response)
{
	pthread_mutex_lock(&lock);
	if (nmsgs < MAX_MSG) {
		snprintf(msgs[nmsgs].prefix, sizeof(msgs[nmsgs].prefix), "%s", prefix);
		msgs[nmsgs].response = response ? strdup(response) : NULL;
		nmsgs++;
	}
	pthread_mutex_unlock(&lock);
}

int fk_device_count(void)
{
	int i, n = 0;

	pthread_mutex_lock(&lock);
	for (i = 0; i < MAX_DEVS; i++)
		n += devs[i].used;
	pthread_mutex_unlock(&lock);
	return n;
}

int fk_active(void)
{
	return 1;
}

/* ------------------------------------------------------ reply building */

#define HDR sizeof(struct dm_ioctl)
#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

struct reply {
	unsigned char *buf;   /* copy of the caller's buffer, reply built here */
	size_t size;          /* the caller's data_size */
	struct dm_ioctl *h;
};

static void mark_string(size_t off, size_t end)
{
	if (nstrs < MAX_MARKS) {
		strs[nstrs].off = off;
		strs[nstrs].end = end;
		nstrs++;
	}
}

static void mark_next(size_t off, size_t rec, int absolute)
{
	if (nnexts < MAX_MARKS) {
		nexts[nnexts].off = off;
		nexts[nnexts].rec = rec;
		nexts[nnexts].absolute = absolute;
		nnexts++;
	}
}

/* kernel's get_result_buffer: payload offset and room */
static size_t result_buffer(struct reply *r, size_t *len)
{
	if (HDR < r->size) {
		r->h->data_start = HDR;
		*len = r->size - HDR;
	} else {
		r->h->data_start = (uint32_t)r->size;
		*len = 0;
	}
	return r->h->data_start;
}

static void put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void dev_status(struct reply *r, struct fk_dev *d)
{
	struct dm_ioctl *h = r->h;
	struct fk_table *t = (h->flags & DM_QUERY_INACTIVE_TABLE_FLAG) ? &d->inactive : &d->live;

	h->flags &= ~(DM_SUSPEND_FLAG | DM_READONLY_FLAG | DM_ACTIVE_PRESENT_FLAG |
		      DM_INTERNAL_SUSPEND_FLAG | DM_INACTIVE_PRESENT_FLAG);
	if (d->suspended)
		h->flags |= DM_SUSPEND_FLAG;
	if (d->live.present)
		h->flags |= DM_ACTIVE_PRESENT_FLAG;
	if (d->inactive.present)
		h->flags |= DM_INACTIVE_PRESENT_FLAG;
	h->dev = encode_dev(FK_MAJOR, d->minor);
	h->open_count = d->open_count;
	h->event_nr = d->event_nr;
	h->target_count = t->present ? (uint32_t)t->n : 0;
	if (t->present && t->readonly)
		h->flags |= DM_READONLY_FLAG;
	memset(h->name, 0, sizeof(h->name));
	memcpy(h->name, d->name, strlen(d->name));
	memset(h->uuid, 0, sizeof(h->uuid));
	memcpy(h->uuid, d->uuid, strlen(d->uuid));
}

static struct fk_dev *find_dev(struct dm_ioctl *h)
{
	if (h->uuid[0] && memchr(h->uuid, 0, sizeof(h->uuid)))
		return by_uuid(h->uuid);
	if (h->name[0] && memchr(h->name, 0, sizeof(h->name)))
		return by_name(h->name);
	if (h->dev)
		return by_dev(h->dev);
	return NULL;
}

static int b_names(struct reply *r, int with_uuid)
{
	size_t len, start = result_buffer(r, &len), needed = 0, pos, old = 0;
	int i, any = 0;

	for (i = 0; i < MAX_DEVS; i++) {
		if (!devs[i].used)
			continue;
		needed += ALIGN8(offsetof(struct dm_name_list, name) + strlen(devs[i].name) + 1);
		needed += ALIGN8(8);
		if (with_uuid && devs[i].uuid[0])
			needed += ALIGN8(strlen(devs[i].uuid) + 1);
	}
	if (len < needed || len < 8) {
		r->h->flags |= DM_BUFFER_FULL_FLAG;
		return 0;
	}
	r->h->data_size = (uint32_t)(start + needed);
	put64(r->buf + start, 0);
	pos = start;
	for (i = 0; i < MAX_DEVS; i++) {
		struct fk_dev *d = &devs[i];
		size_t nl = strlen(d->name), ev, u;
		uint32_t flags = 0;

		if (!d->used)
			continue;
		if (any) {
			put32(r->buf + old + 8, (uint32_t)(pos - old));
			mark_next(old + 8, old, 0);
		}
		any = 1;
		put64(r->buf + pos, encode_dev(FK_MAJOR, d->minor));
		put32(r->buf + pos + 8, 0);
		memcpy(r->buf + pos + 12, d->name, nl + 1);
		ev = pos + ALIGN8(12 + nl + 1);
		mark_string(pos + 12, ev);
		put32(r->buf + ev, d->event_nr);
		u = ev + 8;
		if (with_uuid) {
			if (d->uuid[0]) {
				size_t ul = strlen(d->uuid);
				flags |= DM_NAME_LIST_FLAG_HAS_UUID;
				memcpy(r->buf + u, d->uuid, ul + 1);
				mark_string(u, u + ALIGN8(ul + 1));
				u += ALIGN8(ul + 1);
			} else {
				flags |= DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID;
			}
		}
		put32(r->buf + ev + 4, flags);
		old = pos;
		pos = u;
	}
	return 0;
}

static int b_versions(struct reply *r, const char *only)
{
	size_t len, start = result_buffer(r, &len), needed = 0, pos, old = 0;
	size_t i;
	int any = 0;

	for (i = 0; i < NTYPES; i++)
		if (!only || !strcmp(only, target_types[i].name))
			needed += ALIGN8(sizeof(struct dm_target_versions) + strlen(target_types[i].name) + 1);
	if (only && !needed)
		return -EINVAL;
	if (len < needed) {
		r->h->flags |= DM_BUFFER_FULL_FLAG;
		return 0;
	}
	pos = start;
	for (i = 0; i < NTYPES; i++) {
		size_t nl = strlen(target_types[i].name), rec;

		if (only && strcmp(only, target_types[i].name))
			continue;
		if (any) {
			put32(r->buf + old, (uint32_t)(pos - old));
			mark_next(old, old, 0);
		}
		any = 1;
		put32(r->buf + pos, 0);
		put32(r->buf + pos + 4, target_types[i].v[0]);
		put32(r->buf + pos + 8, target_types[i].v[1]);
		put32(r->buf + pos + 12, target_types[i].v[2]);
		memcpy(r->buf + pos + 16, target_types[i].name, nl + 1);
		rec = ALIGN8(16 + nl + 1);
		mark_string(pos + 16, pos + rec);
		old = pos;
		pos += rec;
	}
	r->h->data_size = (uint32_t)pos;
	return 0;
}

static int table_devs(struct fk_table *t, uint64_t *out, int max)
{
	int i, n = 0;

	for (i = 0; i < t->n; i++) {
		const char *p = t->t[i].params;
		while (p && *p) {
			unsigned maj, min;
			int used = 0, k;

			while (*p == ' ')
				p++;
			if (sscanf(p, "%u:%u%n", &maj, &min, &used) == 2 && used &&
			    (p[used] == ' ' || !p[used])) {
				uint64_t dev = encode_dev(maj, min);
				for (k = 0; k < n; k++)
					if (out[k] == dev)
						break;
				if (k == n && n < max)
					out[n++] = dev;
			}
			while (*p && *p != ' ')
				p++;
		}
	}
	return n;
}

static int b_deps(struct reply *r, struct fk_dev *d)
{
	size_t len, start = result_buffer(r, &len), needed;
	uint64_t dv[64];
	int n = 0, i;

	if (d && d->live.present)
		n = table_devs(&d->live, dv, 64);
	needed = 8 + 8 * (size_t)n;
	if (len < needed) {
		r->h->flags |= DM_BUFFER_FULL_FLAG;
		return 0;
	}
	put32(r->buf + start, (uint32_t)n);
	put32(r->buf + start + 4, 0);
	for (i = 0; i < n; i++)
		put64(r->buf + start + 8 + 8 * i, dv[i]);
	r->h->data_size = (uint32_t)(start + needed);
	return 0;
}

static const char *status_text(const struct fk_target *t)
{
	if (!strcmp(t->type, "thin-pool"))
		return "0 1/1024 0/2048 - rw discard_passdown queue_if_no_space - 1024";
	if (!strcmp(t->type, "crypt") || !strcmp(t->type, "linear") || !strcmp(t->type, "zero"))
		return "";
	if (!strcmp(t->type, "snapshot"))
		return "16/2048 16";
	return "";
}

/* kernel's retrieve_status */
static int b_specs(struct reply *r, struct fk_table *t, int table)
{
	size_t len, start = result_buffer(r, &len), used = 0;
	unsigned char *outbuf = r->buf + start, *outptr = outbuf;
	int i;

	for (i = 0; t && i < t->n; i++) {
		size_t remaining = len - (size_t)(outptr - outbuf), l;
		unsigned char *spec = outptr;
		const char *text = table ? t->t[i].params : status_text(&t->t[i]);

		if (remaining <= sizeof(struct dm_target_spec)) {
			r->h->flags |= DM_BUFFER_FULL_FLAG;
			break;
		}
		put64(spec, t->t[i].start);
		put64(spec + 8, t->t[i].len);
		put32(spec + 16, 0);
		memset(spec + 24, 0, DM_MAX_TYPE_NAME);
		memcpy(spec + 24, t->t[i].type, strnlen(t->t[i].type, DM_MAX_TYPE_NAME - 1));
		mark_string(start + (size_t)(spec - outbuf) + 24, start + (size_t)(spec - outbuf) + 40);
		outptr += sizeof(struct dm_target_spec);
		remaining = len - (size_t)(outptr - outbuf);
		l = strlen(text) + 1;
		if (l >= remaining) {
			/* the kernel's snprintf-style emitters stop at the room left */
			r->h->flags |= DM_BUFFER_FULL_FLAG;
			break;
		}
		memcpy(outptr, text, l);
		mark_string(start + (size_t)(outptr - outbuf), start + ALIGN8((size_t)(outptr - outbuf) + l));
		outptr += l;
		used = start + (size_t)(outptr - outbuf);
		outptr = outbuf + ALIGN8((size_t)(outptr - outbuf));
		if (outptr > outbuf + len) {
			r->h->flags |= DM_BUFFER_FULL_FLAG;
			break;
		}
		put32(spec + 20, (uint32_t)(outptr - outbuf));
		mark_next(start + (size_t)(spec - outbuf) + 20, start, 1);
	}
	if (used)
		r->h->data_size = (uint32_t)used;
	r->h->target_count = t ? (uint32_t)t->n : 0;
	return 0;
}

static int b_message(struct reply *r, const char *text)
{
	size_t len, start = result_buffer(r, &len), l = strlen(text) + 1;

	r->h->flags |= DM_DATA_OUT_FLAG;
	if (l >= len) {
		/* dm_message_test_buffer_overflow: the text filled the room */
		if (len) {
			memcpy(r->buf + start, text, len - 1);
			r->buf[start + len - 1] = 0;
		}
		r->h->flags |= DM_BUFFER_FULL_FLAG;
		return 0;
	}
	memcpy(r->buf + start, text, l);
	mark_string(start, start + l);
	r->h->data_size = (uint32_t)(start + l);
	return 0;
}

/* a NUL-terminated string of the request payload, or NULL */
static const char *payload_string(struct reply *in, size_t off)
{
	size_t start = in->h->data_start;

	if (start < HDR || start + off >= in->size)
		return NULL;
	if (!memchr(in->buf + start + off, 0, in->size - start - off))
		return NULL;
	return (const char *)in->buf + start + off;
}

static int load_table(struct reply *in, struct fk_table *t)
{
	size_t off = in->h->data_start, end = in->size;
	uint32_t i, next = 0;

	memset(t, 0, sizeof(*t));
	if (in->h->target_count > MAX_TARGETS)
		return -ENOMEM;
	for (i = 0; i < in->h->target_count; i++) {
		unsigned char *spec;
		const char *params;
		uint64_t s, l;

		off += next;
		if (off < HDR || off + sizeof(struct dm_target_spec) >= end)
			goto bad;
		spec = in->buf + off;
		params = (const char *)spec + sizeof(struct dm_target_spec);
		if (!memchr(params, 0, end - off - sizeof(struct dm_target_spec)) ||
		    !memchr(spec + 24, 0, DM_MAX_TYPE_NAME))
			goto bad;
		memcpy(&s, spec, 8);
		memcpy(&l, spec + 8, 8);
		memcpy(&next, spec + 20, 4);
		t->t[i].start = s;
		t->t[i].len = l;
		memcpy(t->t[i].type, spec + 24, DM_MAX_TYPE_NAME);
		t->t[i].params = strdup(params);
		t->n++;
		/* the kernel's dm_table_complete: contiguous from sector 0 */
		if (!l || s != (i ? t->t[i - 1].start + t->t[i - 1].len : 0))
			goto bad;
	}
	if (!t->n)
		goto bad;
	t->present = 1;
	t->readonly = !!(in->h->flags & DM_READONLY_FLAG);
	return 0;
bad:
	free_table(t);
	return -EINVAL;
}

static int check_name(const char *n)
{
	return !n[0] || strchr(n, '/') || !strcmp(n, ".") || !strcmp(n, "..") ? -EINVAL : 0;
}

static int run_cmd(unsigned nr, struct reply *in, struct reply *r)
{
	struct dm_ioctl *h = r->h;
	struct fk_dev *d;
	const char *s;
	int i, rc;
	size_t len;

	switch (nr) {
	case DM_VERSION_CMD:
		return 0;
	case DM_REMOVE_ALL_CMD:
		for (i = 0; i < MAX_DEVS; i++)
			if (devs[i].used && !devs[i].open_count)
				free_dev(&devs[i]);
		return 0;
	case DM_LIST_DEVICES_CMD:
		return b_names(r, !!(in->h->flags & DM_UUID_FLAG));
	case DM_DEV_CREATE_CMD: {
		int64_t minor = -1;
		if (!memchr(h->name, 0, sizeof(h->name)) || !memchr(h->uuid, 0, sizeof(h->uuid)))
			return -EINVAL;
		if ((rc = check_name(h->name)))
			return rc;
		if (by_name(h->name) || (h->uuid[0] && by_uuid(h->uuid)))
			return -EBUSY;
		if (h->flags & DM_PERSISTENT_DEV_FLAG) {
			uint32_t maj, min;
			decode_dev(h->dev, &maj, &min);
			if (maj != FK_MAJOR || by_dev(h->dev))
				return -EBUSY;
			minor = min;
		}
		if (!(d = new_dev(h->name, h->uuid, minor)))
			return -ENOMEM;
		h->flags &= ~DM_INACTIVE_PRESENT_FLAG;
		dev_status(r, d);
		return 0;
	}
	case DM_DEV_REMOVE_CMD:
		if (!(d = find_dev(h)))
			return -ENXIO;
		if (d->open_count)
			return -EBUSY;
		dev_status(r, d);
		free_dev(d);
		h->flags |= DM_UEVENT_GENERATED_FLAG;
		return 0;
	case DM_DEV_RENAME_CMD:
		if (!(d = find_dev(h)))
			return -ENXIO;
		if (!(s = payload_string(in, 0)))
			return -EINVAL;
		if (in->h->flags & DM_UUID_FLAG) {
			if (d->uuid[0] || strlen(s) >= DM_UUID_LEN || by_uuid(s))
				return -EINVAL;
			snprintf(d->uuid, sizeof(d->uuid), "%s", s);
		} else {
			if (check_name(s) || strlen(s) >= DM_NAME_LEN)
				return -EINVAL;
			if (by_name(s))
				return -EBUSY;
			snprintf(d->name, sizeof(d->name), "%s", s);
		}
		d->event_nr++;
		dev_status(r, d);
		h->flags |= DM_UEVENT_GENERATED_FLAG;
		return 0;
	case DM_DEV_SUSPEND_CMD:
		if (!(d = find_dev(h)))
			return -ENXIO;
		if (in->h->flags & DM_SUSPEND_FLAG) {
			d->suspended = 1;
		} else {
			if (d->inactive.present) {
				free_table(&d->live);
				d->live = d->inactive;
				memset(&d->inactive, 0, sizeof(d->inactive));
				d->event_nr++;
			}
			d->suspended = 0;
			h->flags |= DM_UEVENT_GENERATED_FLAG;
		}
		dev_status(r, d);
		return 0;
	case DM_DEV_STATUS_CMD:
		if (!(d = find_dev(h)))
			return -ENXIO;
		dev_status(r, d);
		return 0;
	case DM_DEV_WAIT_CMD:
		/* an event has always just happened: never block */
		if (!(d = find_dev(h)))
			return -ENXIO;
		dev_status(r, d);
		return b_specs(r, d->live.present ? &d->live : NULL, !!(in->h->flags & DM_STATUS_TABLE_FLAG));
	case DM_TABLE_LOAD_CMD: {
		struct fk_table t;
		if (!(d = find_dev(h)))
			return -ENXIO;
		if ((rc = load_table(in, &t)))
			return rc;
		free_table(&d->inactive);
		d->inactive = t;
		dev_status(r, d);
		return 0;
	}
	case DM_TABLE_CLEAR_CMD:
		if (!(d = find_dev(h)))
			return -ENXIO;
		free_table(&d->inactive);
		dev_status(r, d);
		return 0;
	case DM_TABLE_DEPS_CMD:
		if (!(d = find_dev(h)))
			return -ENXIO;
		dev_status(r, d);
		return b_deps(r, d);
	case DM_TABLE_STATUS_CMD: {
		struct fk_table *t;
		if (!(d = find_dev(h)))
			return -ENXIO;
		dev_status(r, d);
		t = (in->h->flags & DM_QUERY_INACTIVE_TABLE_FLAG) ? &d->inactive : &d->live;
		return b_specs(r, t->present ? t : NULL, !!(in->h->flags & DM_STATUS_TABLE_FLAG));
	}
	case DM_LIST_VERSIONS_CMD:
		return b_versions(r, NULL);
	case DM_GET_TARGET_VERSION_CMD:
		if (!memchr(h->name, 0, sizeof(h->name)))
			return -EINVAL;
		return b_versions(r, h->name);
	case DM_TARGET_MSG_CMD: {
		char name[DM_NAME_LEN];
		if (!(s = payload_string(in, 8)))
			return -EINVAL;
		if (!(d = find_dev(h)))
			return -ENXIO;
		if (!d->live.present)
			return -EINVAL;
		snprintf(name, sizeof(name), "%s", d->name);
		(void)name;
		dev_status(r, d);
		for (i = 0; i < nmsgs; i++) {
			if (!strncmp(s, msgs[i].prefix, strlen(msgs[i].prefix))) {
				if (!msgs[i].response)
					return 0;
				return b_message(r, msgs[i].response);
			}
		}
		if (s[0] == '@')
			return -EINVAL;
		return 0;
	}
	case DM_DEV_SET_GEOMETRY_CMD:
		if (!(d = find_dev(h)))
			return -ENXIO;
		if (!(s = payload_string(in, 0)))
			return -EINVAL;
		return 0;
	case DM_DEV_ARM_POLL_CMD:
		(void)len;
		return 0;
	default:
		return -ENOTTY;
	}
}

/* ------------------------------------------------------ faults */

static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33);
}

static uint32_t bad_next_value(int mode, struct mark *m, struct reply *r)
{
	size_t end = r->h->data_size;
	size_t base = m->absolute ? m->rec : m->rec;

	switch (mode) {
	case 0: return 0x7ffffff8u;
	case 1: return 3;
	case 2: { uint32_t v; memcpy(&v, r->buf + m->off, 4); return v + 4; }
	case 3: return m->absolute ? (uint32_t)(m->off - 20 - m->rec) : 8;
	case 4: return (uint32_t)(end > base ? end - base + 8 : 8);
	case 5: return 0xffffffffu;
	default: return 16;
	}
}

static void apply_payload_layout(struct reply *r, long cmd)
{
	struct fk_dev *first = NULL;
	int i;

	for (i = 0; i < MAX_DEVS; i++)
		if (devs[i].used && devs[i].live.present) {
			first = &devs[i];
			break;
		}
	r->h->flags &= ~(DM_BUFFER_FULL_FLAG | DM_DATA_OUT_FLAG);
	r->h->data_size = offsetof(struct dm_ioctl, data);
	switch (cmd) {
	case DM_LIST_DEVICES_CMD: b_names(r, 1); break;
	case DM_LIST_VERSIONS_CMD: b_versions(r, NULL); break;
	case DM_TABLE_DEPS_CMD: b_deps(r, first); break;
	case DM_TABLE_STATUS_CMD: b_specs(r, first ? &first->live : NULL, 1); break;
	case DM_TARGET_MSG_CMD: b_message(r, "layout test response"); break;
	default: break;
	}
}

/* FK_HUGE_LIST: the payload filled with the smallest well-formed records */
static void huge_list(struct reply *r, unsigned nr, size_t bytes)
{
	size_t len, start = result_buffer(r, &len), rec, n, i;
	unsigned char *p;

	bytes &= ~(size_t)7;
	r->h->flags &= ~DM_BUFFER_FULL_FLAG;
	if (len < bytes) {
		r->h->flags |= DM_BUFFER_FULL_FLAG;
		r->h->data_size = (uint32_t)(start + bytes);
		return;
	}
	p = r->buf + start;
	memset(p, 0, bytes);
	switch (nr) {
	case DM_LIST_DEVICES_CMD: rec = 16; break;   /* dev, next, "" + pad */
	case DM_LIST_VERSIONS_CMD: rec = 24; break;  /* next, version, "x" + pad */
	case DM_TABLE_STATUS_CMD:
	case DM_DEV_WAIT_CMD: rec = 48; break;       /* spec, "zero", "" + pad */
	case DM_TABLE_DEPS_CMD:
		put32(p, (uint32_t)((bytes - 8) / 8));
		for (i = 0; i < (bytes - 8) / 8; i++)
			put64(p + 8 + 8 * i, encode_dev(7, (uint32_t)i));
		r->h->data_size = (uint32_t)(start + bytes);
		return;
	default: return;
	}
	n = bytes / rec;
	for (i = 0; i < n; i++) {
		unsigned char *q = p + i * rec;
		switch (nr) {
		case DM_LIST_DEVICES_CMD:
			put64(q, encode_dev(FK_MAJOR, (uint32_t)i));
			put32(q + 8, i + 1 < n ? 16 : 0);
			break;
		case DM_LIST_VERSIONS_CMD:
			put32(q, i + 1 < n ? 24 : 0);
			put32(q + 4, 1);
			q[16] = 'x';
			break;
		default:
			put64(q, i * 8);
			put64(q + 8, 8);
			put32(q + 20, (uint32_t)((i + 1) * rec));
			memcpy(q + 24, "zero", 4);
			break;
		}
	}
	if (nr == DM_TABLE_STATUS_CMD || nr == DM_DEV_WAIT_CMD)
		r->h->target_count = (uint32_t)n;
	r->h->data_size = (uint32_t)(start + n * rec);
}

/* An errno fault for this call (the command is then not run at all). */
static int errno_fault(int idx, unsigned nr)
{
	int i;

	for (i = 0; i < nfaults; i++) {
		struct fk_fault_spec *f = &faults[i];
		if ((f->at >= 0 && f->at != idx) || (f->cmd >= 0 && (unsigned)f->cmd != nr))
			continue;
		if (f->kind == FK_ERRNO) {
			faults_applied++;
			return (int)f->arg;
		}
	}
	return 0;
}

/* Apply the matching faults; returns an errno to fail with, or 0. */
static int apply_faults(int idx, unsigned nr, struct reply *r, int *rc)
{
	int i, j;

	for (i = 0; i < nfaults; i++) {
		struct fk_fault_spec *f = &faults[i];
		struct dm_ioctl *h = r->h;

		if ((f->at >= 0 && f->at != idx) || (f->cmd >= 0 && (unsigned)f->cmd != nr))
			continue;
		switch (f->kind) {
		case FK_ERRNO:
			continue; /* handled before the command runs */
		case FK_TRUNCATE:
			if (*rc)
				continue;
			h->data_size = (uint32_t)(h->data_start + (size_t)f->arg);
			break;
		case FK_DATA_START:
			if (*rc)
				continue;
			h->data_start = (uint32_t)f->arg;
			break;
		case FK_DATA_SIZE_GROW:
			if (*rc)
				continue;
			h->data_size = (uint32_t)(r->size + (size_t)f->arg);
			break;
		case FK_BUFFER_FULL:
			if (*rc)
				continue;
			h->flags |= DM_BUFFER_FULL_FLAG;
			h->data_size = f->arg ? (uint32_t)f->arg : (uint32_t)r->size;
			break;
		case FK_TARGET_COUNT:
			if (*rc)
				continue;
			h->target_count = (uint32_t)f->arg;
			break;
		case FK_UNTERM_NAME:
			if (*rc)
				continue;
			memset(h->name, 'N', sizeof(h->name));
			break;
		case FK_UNTERM_UUID:
			if (*rc)
				continue;
			memset(h->uuid, 'U', sizeof(h->uuid));
			break;
		case FK_UNTERM_STRING: {
			int from = (int)f->arg, to;
			if (*rc || !nstrs)
				continue;
			if (from == -1)
				from = nstrs - 1;
			to = from + 1;
			if (from == -2) {
				from = 0;
				to = nstrs;
			}
			if (from < 0 || from >= nstrs)
				continue;
			for (j = from; j < to; j++) {
				size_t end = strs[j].end;
				/* the last string of the payload: fill to the buffer end */
				if (j == nstrs - 1 || end >= h->data_size)
					end = r->size;
				if (end > r->size)
					end = r->size;
				memset(r->buf + strs[j].off, 'X', end - strs[j].off);
			}
			break;
		}
		case FK_BAD_NEXT: {
			int which = (int)(f->arg / 16), mode = (int)(f->arg % 16);
			uint32_t v;
			if (*rc || which >= nnexts)
				continue;
			v = bad_next_value(mode, &nexts[which], r);
			put32(r->buf + nexts[which].off, v);
			break;
		}
		case FK_CORRUPT: {
			size_t lo = h->data_start, hi = h->data_size < r->size ? h->data_size : r->size;
			int n;
			if (*rc || hi <= lo)
				continue;
			rng_state = (uint64_t)f->arg * 0x9e3779b97f4a7c15ULL + 1;
			n = 1 + (int)(rnd() % 8);
			for (j = 0; j < n; j++) {
				size_t at = lo + rnd() % (hi - lo);
				switch (rnd() % 4) {
				case 0: r->buf[at] = 0; break;
				case 1: r->buf[at] = 0xff; break;
				case 2: r->buf[at] ^= (unsigned char)(1u << (rnd() % 8)); break;
				default: r->buf[at] = (unsigned char)rnd(); break;
				}
			}
			break;
		}
		case FK_CORRUPT_HEADER: {
			static const size_t fields[] = { 12, 16, 20, 24, 28, 32, 40 };
			if (*rc)
				continue;
			rng_state = (uint64_t)f->arg * 0x9e3779b97f4a7c15ULL + 7;
			for (j = 0; j < 2; j++) {
				size_t at = fields[rnd() % 7];
				uint32_t v;
				switch (rnd() % 5) {
				case 0: v = 0; break;
				case 1: v = 0xffffffffu; break;
				case 2: v = rnd(); break;
				case 3: v = rnd() % 1024; break;
				default: memcpy(&v, r->buf + at, 4); v ^= 1u << (rnd() % 32); break;
				}
				put32(r->buf + at, v);
			}
			break;
		}
		case FK_LAYOUT:
			if (*rc)
				continue;
			nstrs = nnexts = 0;
			apply_payload_layout(r, f->arg);
			break;
		case FK_FLAGS:
			if (*rc)
				continue;
			h->flags ^= (uint32_t)f->arg;
			break;
		case FK_VERSION:
			h->version[0] = (uint32_t)f->arg;
			break;
		case FK_HUGE_LIST:
			continue; /* handled before the command runs */
		case FK_JUNK_TAIL:
			if (*rc || h->data_size >= r->size)
				continue;
			memset(r->buf + h->data_size, 'Z', r->size - h->data_size);
			break;
		default:
			continue;
		}
		faults_applied++;
	}
	return 0;
}

static int dm_ioctl_fake(unsigned long request, void *arg)
{
	struct dm_ioctl *u = arg, hdr;
	struct reply in, r;
	unsigned nr = _IOC_NR(request);
	int rc, err, idx, i;
	uint32_t version[3] = { DM_VERSION_MAJOR, DM_VERSION_MINOR, 0 };

	if (!arg) {
		errno = EFAULT;
		return -1;
	}
	memcpy(&hdr, u, sizeof(hdr));
	pthread_mutex_lock(&lock);
	idx = calls++;
	if (idx < MAX_LOG)
		cmd_log[idx] = (signed char)nr;
	if (hdr.version[0] != DM_VERSION_MAJOR || hdr.version[1] > DM_VERSION_MINOR) {
		memcpy(u->version, version, sizeof(version));
		pthread_mutex_unlock(&lock);
		errno = EINVAL;
		return -1;
	}
	memcpy(u->version, version, sizeof(version));
	if (hdr.data_size < offsetof(struct dm_ioctl, data)) {
		pthread_mutex_unlock(&lock);
		errno = EINVAL;
		return -1;
	}
	/* a huge list is written straight into the caller's buffer: the
	 * fake's own copies would eat the address space a test caps */
	for (i = 0; i < nfaults; i++) {
		struct fk_fault_spec *f = &faults[i];
		if (f->kind != FK_HUGE_LIST || (f->at >= 0 && f->at != idx) ||
		    (f->cmd >= 0 && (unsigned)f->cmd != nr))
			continue;
		r.buf = (unsigned char *)u;
		r.size = hdr.data_size;
		r.h = u;
		u->flags &= ~(DM_BUFFER_FULL_FLAG | DM_UEVENT_GENERATED_FLAG | DM_DATA_OUT_FLAG);
		u->data_size = offsetof(struct dm_ioctl, data);
		huge_list(&r, nr, (size_t)f->arg);
		faults_applied++;
		pthread_mutex_unlock(&lock);
		return 0;
	}
	in.size = r.size = hdr.data_size;
	in.buf = malloc(in.size);
	r.buf = malloc(r.size);
	if (!in.buf || !r.buf) {
		free(in.buf);
		free(r.buf);
		pthread_mutex_unlock(&lock);
		errno = ENOMEM;
		return -1;
	}
	memcpy(in.buf, u, in.size);
	memcpy(in.buf, version, sizeof(version));
	memcpy(r.buf, in.buf, r.size);
	in.h = (struct dm_ioctl *)in.buf;
	r.h = (struct dm_ioctl *)r.buf;
	r.h->flags &= ~(DM_BUFFER_FULL_FLAG | DM_UEVENT_GENERATED_FLAG | DM_DATA_OUT_FLAG);
	r.h->data_size = offsetof(struct dm_ioctl, data);
	nstrs = nnexts = 0;
	err = errno_fault(idx, nr);
	rc = err ? 0 : run_cmd(nr, &in, &r);
	if (!err)
		err = apply_faults(idx, nr, &r, &rc);
	last_strs = nstrs;
	last_nexts = nnexts;
	if (idx < MAX_LOG) {
		strs_log[idx] = (short)nstrs;
		nexts_log[idx] = (short)nnexts;
	}
	if (!err && rc)
		err = -rc;
	if (!err)
		memcpy(u, r.buf, r.size);
	/* the buffers may hold keys */
	explicit_bzero(in.buf, in.size);
	explicit_bzero(r.buf, r.size);
	free(in.buf);
	free(r.buf);
	pthread_mutex_unlock(&lock);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}
