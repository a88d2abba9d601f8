/* Raw device-mapper ioctls, independent of the library under test: used to
 * clean up capitest-* devices and to cross-check what the library reports.
 * This file deliberately does not include libdevmapper.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/dm-ioctl.h>

#define RAW_PREFIX "capitest-"
#define RAW_BUF (256 * 1024)

static int raw_open(void)
{
	char node[64];
	int fd;

	fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	/* no usable /dev/mapper/control: a private node */
	snprintf(node, sizeof(node), "/tmp/capitest-ctl.%d", (int)getpid());
	unlink(node);
	if (mknod(node, S_IFCHR | 0600, makedev(10, 236)))
		return -1;
	fd = open(node, O_RDWR | O_CLOEXEC);
	unlink(node);
	return fd;
}

static int raw_ioctl(int fd, unsigned long cmd, struct dm_ioctl *io, size_t size,
		     const char *name, uint32_t flags)
{
	memset(io, 0, size);
	io->version[0] = DM_VERSION_MAJOR;
	io->version[1] = 0;
	io->version[2] = 0;
	io->data_size = size;
	io->data_start = sizeof(*io);
	io->flags = flags;
	if (name)
		snprintf(io->name, sizeof(io->name), "%s", name);
	return ioctl(fd, cmd, io);
}

int raw_exists(const char *name, uint32_t *flags, uint64_t *dev)
{
	struct dm_ioctl io;
	int fd = raw_open(), r;

	if (fd < 0)
		return -1;
	r = raw_ioctl(fd, DM_DEV_STATUS, &io, sizeof(io), name, 0);
	close(fd);
	if (r < 0)
		return errno == ENXIO ? 0 : -1;
	if (flags)
		*flags = io.flags;
	if (dev)
		*dev = io.dev;
	return 1;
}

/* names of all devices; returns count, fills up to max names */
static int raw_list(int fd, char names[][DM_NAME_LEN], int max)
{
	struct dm_ioctl *io = malloc(RAW_BUF);
	struct dm_name_list *nl;
	unsigned off = 0;
	int n = 0;

	if (!io)
		return -1;
	if (raw_ioctl(fd, DM_LIST_DEVICES, io, RAW_BUF, NULL, 0) < 0 ||
	    (io->flags & DM_BUFFER_FULL_FLAG)) {
		free(io);
		return -1;
	}
	nl = (struct dm_name_list *)((char *)io + io->data_start);
	if (!nl->dev) {
		free(io);
		return 0;
	}
	do {
		nl = (struct dm_name_list *)((char *)nl + off);
		if (n < max)
			snprintf(names[n], DM_NAME_LEN, "%s", nl->name);
		n++;
		off = nl->next;
	} while (off);
	free(io);
	return n;
}

int raw_count_devices(int only_foreign)
{
	static char names[1024][DM_NAME_LEN];
	int fd = raw_open(), n, i, c = 0;

	if (fd < 0)
		return -1;
	n = raw_list(fd, names, 1024);
	close(fd);
	if (n < 0 || !only_foreign)
		return n;
	for (i = 0; i < n && i < 1024; i++)
		if (strncmp(names[i], RAW_PREFIX, strlen(RAW_PREFIX)))
			c++;
	return c;
}

void raw_cleanup(void)
{
	static char names[1024][DM_NAME_LEN];
	struct dm_ioctl io;
	char path[DM_NAME_LEN + 32];
	struct stat st;
	int fd = raw_open(), n, i, pass, removed, left = 0;

	if (fd < 0)
		return;
	for (pass = 0; pass < 20; pass++) {
		n = raw_list(fd, names, 1024);
		if (n <= 0)
			break;
		removed = left = 0;
		for (i = 0; i < n && i < 1024; i++) {
			if (strncmp(names[i], RAW_PREFIX, strlen(RAW_PREFIX)))
				continue;
			if (raw_ioctl(fd, DM_DEV_REMOVE, &io, sizeof(io), names[i], 0) == 0) {
				removed++;
				snprintf(path, sizeof(path), "/dev/mapper/%.127s", names[i]);
				if (!lstat(path, &st) && S_ISBLK(st.st_mode))
					unlink(path);
			} else
				left++;
		}
		if (!left)
			break;
		if (!removed)
			usleep(100000);
	}
	if (left)
		fprintf(stdout, "# raw_cleanup: %d capitest device(s) could not be removed\n", left);
	close(fd);
}
