/*
 * dm-floor: the floor of bench/ (see bench/README.md): dm-bench's workloads
 * (bench-common.h, the same loops, checks, timings and callgrind regions)
 * with every operation written by hand as dm ioctls on /dev/mapper/control,
 * from the kernel's <linux/dm-ioctl.h> only, the way a careful programmer
 * who needs nothing else would:
 *
 *  - one process-wide buffer, from malloc, never zeroed as a whole: each
 *    call clears the 312-byte header and writes what it sends;
 *  - data_size as small as the call allows: the header alone for commands
 *    that carry nothing and return nothing (INFO, CREATE, RESUME, REMOVE,
 *    VERSION), the exact bytes for TABLE_LOAD; for commands that return
 *    data, the size that last fitted that command in this process (starting
 *    at 2 KiB), grown on DM_BUFFER_FULL to what the kernel says it needs
 *    (LIST, DEPS) or to an estimate from the targets that fitted
 *    (TABLE/STATUS: used bytes per target x target_count + 1/8 + 4 KiB), so
 *    a later read of the same table is one ioctl;
 *  - replies are read in place (names, targets, deps, message), no copies;
 *  - the same node work as the libraries with udev off: mknod
 *    /dev/mapper/<name> (block, 0660, root:disk) after RESUME, unlink after
 *    REMOVE; RESUME and REMOVE carry DM_UDEV_PRIMARY_SOURCE_FLAG in the
 *    cookie field as libdm does;
 *  - no logging, no name mangling, no version handshake beyond what the
 *    kernel checks (the header says 4.0.0; the kernel only needs major 4).
 *
 *   dm-floor run LABEL WL...    timed workloads (as dm-bench; LABEL "floor")
 *   dm-floor callgrind          the callgrind regions
 *   dm-floor libinfo            what this program measures
 *
 * It needs the population dm-bench setup made (bench-base, bench-lin-*,
 * bench-msg) and leaves none of its own devices behind.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "bench-common.h"

/* libdm's udev flag on RESUME/REMOVE (libdevmapper.h, not a kernel header). */
#define UDEV_PRIMARY_SOURCE (0x0040u << 16)
#define FIRST_OUT_SIZE 2048
#define DISK_GID 6

static int ctl = -1;
static struct dm_ioctl *buf;
static size_t buf_len;
/* Per command number: the output size that last fitted. */
static size_t fitted[DM_GET_TARGET_VERSION_CMD + 1];

static void op_init(void)
{
	if (ctl < 0)
		ctl = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		err("open /dev/mapper/control: %s", strerror(errno));
}

/* The shared buffer, at least len bytes, with a fresh header for NAME. */
static struct dm_ioctl *header(size_t len, const char *name)
{
	if (len > buf_len) {
		free(buf);
		buf = malloc(len);
		buf_len = buf ? len : 0;
		if (!buf)
			return NULL;
	}
	struct dm_ioctl *io = buf;
	memset(io, 0, sizeof(*io));
	io->version[0] = DM_VERSION_MAJOR;
	io->data_size = (uint32_t)len;
	io->data_start = sizeof(*io);
	if (name) {
		size_t l = strlen(name);
		if (l >= sizeof(io->name))
			return NULL;
		memcpy(io->name, name, l);
	}
	return io;
}

/* A command without payload or output: INFO, CREATE, RESUME, REMOVE. */
static struct dm_ioctl *simple(unsigned long req, const char *name, uint32_t event_nr)
{
	struct dm_ioctl *io = header(sizeof(*io), name);
	if (!io)
		return NULL;
	io->event_nr = event_nr;
	return ioctl(ctl, req, io) ? NULL : io;
}

/* How many target specs of a full TABLE_STATUS reply are complete. */
static size_t specs_fitted(const struct dm_ioctl *io)
{
	if (io->data_size <= io->data_start)
		return 0;
	const char *base = (const char *)io + io->data_start;
	size_t end = io->data_size - io->data_start, off = 0, n = 0;
	while (off + sizeof(struct dm_target_spec) < end) {
		n++;
		uint32_t next = ((const struct dm_target_spec *)(base + off))->next;
		if (next <= off)
			break;
		off = next;
	}
	return n;
}

/* The size to retry with after DM_BUFFER_FULL at size. */
static size_t grow(int nr, const struct dm_ioctl *io, size_t size)
{
	size_t want = 2 * size;
	if (nr == DM_LIST_DEVICES_CMD || nr == DM_TABLE_DEPS_CMD || nr == DM_TARGET_MSG_CMD) {
		if (io->data_size > size)
			want = io->data_size;
	} else if (nr == DM_TABLE_STATUS_CMD) {
		size_t k = specs_fitted(io);
		if (k && io->target_count > k) {
			size_t est = (io->data_size - io->data_start) / k * io->target_count;
			est = io->data_start + est + est / 8 + 4096;
			if (est > size)
				want = est;
		}
	}
	return (want + 7) & ~(size_t)7;
}

/* A command with output (LIST, STATUS/TABLE, DEPS, TARGET_MSG with MSG),
 * sized as the file comment says. */
static struct dm_ioctl *output(unsigned long req, int nr, const char *name, uint32_t flags,
			       const char *msg)
{
	size_t mlen = msg ? strlen(msg) + 1 : 0;
	size_t in = sizeof(struct dm_ioctl) + (msg ? sizeof(struct dm_target_msg) + mlen : 0);
	size_t size = fitted[nr] ? fitted[nr] : FIRST_OUT_SIZE;
	if (size < in)
		size = in;
	for (;;) {
		struct dm_ioctl *io = header(size, name);
		if (!io)
			return NULL;
		io->flags = flags;
		if (msg) {
			struct dm_target_msg *m = (struct dm_target_msg *)(io + 1);
			m->sector = 0;
			memcpy(m->message, msg, mlen);
		}
		if (ioctl(ctl, req, io))
			return NULL;
		if (!(io->flags & DM_BUFFER_FULL_FLAG)) {
			fitted[nr] = size;
			return io;
		}
		size = grow(nr, io, size);
	}
}

static long op_info(const char *name)
{
	struct dm_ioctl *io = simple(DM_DEV_STATUS, name, 0);
	/* A missing device fails with ENXIO. */
	return io ? (long)io->target_count : -1;
}

static long op_targets(int table, const char *name)
{
	struct dm_ioctl *io = output(DM_TABLE_STATUS, DM_TABLE_STATUS_CMD, name,
				     table ? DM_STATUS_TABLE_FLAG : 0, NULL);
	if (!io)
		return -1;
	/* What dm_get_next_target hands out: start, length, type, params. */
	const char *base = (const char *)io + io->data_start, *end = (const char *)io + io->data_size;
	uint32_t off = 0;
	long n = 0;
	for (uint32_t i = 0; i < io->target_count; i++) {
		const struct dm_target_spec *sp = (const struct dm_target_spec *)(base + off);
		if ((const char *)(sp + 1) > end)
			return -1;
		if (sp->target_type[0])
			n++;
		off = sp->next;
	}
	return n;
}

static long op_deps(const char *name)
{
	struct dm_ioctl *io = output(DM_TABLE_DEPS, DM_TABLE_DEPS_CMD, name, 0, NULL);
	if (!io || io->data_size < io->data_start + sizeof(struct dm_target_deps))
		return -1;
	return ((const struct dm_target_deps *)((const char *)io + io->data_start))->count;
}

static long op_message(const char *name, const char *msg)
{
	struct dm_ioctl *io = output(DM_TARGET_MSG, DM_TARGET_MSG_CMD, name, 0, msg);
	if (!io)
		return -1;
	if (!(io->flags & DM_DATA_OUT_FLAG) || io->data_size <= io->data_start)
		return 0;
	return (long)strlen((const char *)io + io->data_start);
}

static long op_list(void (*fn)(const char *, void *), void *arg)
{
	struct dm_ioctl *io = output(DM_LIST_DEVICES, DM_LIST_DEVICES_CMD, NULL, 0, NULL);
	if (!io)
		return -1;
	const struct dm_name_list *nl =
		(const struct dm_name_list *)((const char *)io + io->data_start);
	long n = 0;
	if (!nl->dev)
		return 0;
	for (;;) {
		if (fn)
			fn(nl->name, arg);
		n++;
		if (!nl->next)
			return n;
		nl = (const struct dm_name_list *)((const char *)nl + nl->next);
	}
}

/* ---- create / remove --------------------------------------------------------- */

/* A table load: header plus T specs, built in its own exact-size buffer. */
struct load {
	char name[DM_NAME_LEN];
	struct dm_ioctl *io;
};

static size_t spec_len(const char *params)
{
	return sizeof(struct dm_target_spec) + ((strlen(params) + 1 + 7) & ~(size_t)7);
}

static struct dm_ioctl *build_table(struct dm_ioctl *io, long t, const char *ttype,
				    uint64_t len, const char *params, size_t sl)
{
	size_t plen = strlen(params) + 1, tlen = strlen(ttype);
	char *p = (char *)(io + 1);
	if (tlen >= DM_MAX_TYPE_NAME)
		return NULL;
	io->target_count = (uint32_t)t;
	for (long i = 0; i < t; i++, p += sl) {
		struct dm_target_spec *sp = (struct dm_target_spec *)p;
		sp->sector_start = (uint64_t)i * len;
		sp->length = len;
		sp->status = 0;
		sp->next = (uint32_t)sl;
		memset(sp->target_type, 0, DM_MAX_TYPE_NAME);
		memcpy(sp->target_type, ttype, tlen);
		memcpy(sp + 1, params, plen);
		memset((char *)(sp + 1) + plen, 0, sl - sizeof(*sp) - plen);
	}
	return io;
}

static int make_node(const char *name, uint64_t dev)
{
	char path[sizeof("/dev/mapper/") + DM_NAME_LEN];
	size_t l = strlen(name);
	memcpy(path, "/dev/mapper/", sizeof("/dev/mapper/") - 1);
	memcpy(path + sizeof("/dev/mapper/") - 1, name, l + 1);
	mode_t old = umask(0);
	int r = mknod(path, S_IFBLK | 0660, makedev(major(dev), minor(dev)));
	umask(old);
	return !r && !chown(path, 0, DISK_GID);
}

/* After CREATE: the load (in the shared buffer or its own), RESUME, node. */
static int load_resume(const char *name, struct dm_ioctl *load)
{
	if (!load || ioctl(ctl, DM_TABLE_LOAD, load)) {
		simple(DM_DEV_REMOVE, name, UDEV_PRIMARY_SOURCE);
		return 0;
	}
	struct dm_ioctl *io = simple(DM_DEV_SUSPEND, name, UDEV_PRIMARY_SOURCE);
	return io && make_node(name, io->dev);
}

/* CREATE, then the table written straight into the shared buffer. */
static int op_create(const char *name, long n, const char *ttype, uint64_t len,
		     const char *params)
{
	size_t sl = spec_len(params);
	if (!simple(DM_DEV_CREATE, name, 0))
		return 0;
	struct dm_ioctl *io = header(sizeof(*io) + n * sl, name);
	return load_resume(name, io ? build_table(io, n, ttype, len, params, sl) : NULL);
}

static int op_remove(const char *name)
{
	char path[sizeof("/dev/mapper/") + DM_NAME_LEN];
	size_t l = strlen(name);
	if (!simple(DM_DEV_REMOVE, name, UDEV_PRIMARY_SOURCE))
		return 0;
	memcpy(path, "/dev/mapper/", sizeof("/dev/mapper/") - 1);
	memcpy(path + sizeof("/dev/mapper/") - 1, name, l + 1);
	return !unlink(path);
}

static void *op_big_build(const char *name, long t)
{
	size_t sl = spec_len(""), len = sizeof(struct dm_ioctl) + t * sl;
	struct load *ld = malloc(sizeof(*ld));
	if (!ld || strlen(name) >= DM_NAME_LEN)
		return free(ld), NULL;
	strcpy(ld->name, name);
	ld->io = malloc(len);
	if (!ld->io)
		return free(ld), NULL;
	memset(ld->io, 0, sizeof(*ld->io));
	ld->io->version[0] = DM_VERSION_MAJOR;
	ld->io->data_size = (uint32_t)len;
	ld->io->data_start = sizeof(*ld->io);
	memcpy(ld->io->name, name, strlen(name));
	if (!build_table(ld->io, t, "zero", 8, "", sl)) {
		free(ld->io);
		free(ld);
		return NULL;
	}
	return ld;
}

static int op_big_load(void *req)
{
	struct load *ld = req;
	int ok = simple(DM_DEV_CREATE, ld->name, 0) && load_resume(ld->name, ld->io);
	free(ld->io);
	free(ld);
	return ok;
}

/* ---- the rest ------------------------------------------------------------------ */

static int op_startup_child(void)
{
	op_init();
	struct dm_ioctl *io = simple(DM_VERSION, NULL, 0);
	return io && io->version[0] == DM_VERSION_MAJOR ? 0 : 1;
}

static void op_libinfo(void)
{
	printf("library none: raw ioctls on /dev/mapper/control (<linux/dm-ioctl.h> %d.%d.%d)\n",
	       DM_VERSION_MAJOR, DM_VERSION_MINOR, DM_VERSION_PATCHLEVEL);
}

static int cmd_extra(int argc, char **argv, int *rc)
{
	(void)argc;
	(void)argv;
	(void)rc;
	return 0;
}

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "dm-floor run LABEL WL... | callgrind | libinfo");
}
