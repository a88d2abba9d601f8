/* Helpers built on the library under test (kernel tests). */
#define _GNU_SOURCE
#include "harness.h"

#include <stdlib.h>

struct dm_task *task_for(int type, const char *name)
{
	struct dm_task *dmt = dm_task_create(type);

	if (!dmt)
		return NULL;
	if (name && !dm_task_set_name(dmt, name)) {
		dm_task_destroy(dmt);
		return NULL;
	}
	return dmt;
}

struct dm_task *run_for(int type, const char *name)
{
	struct dm_task *dmt = task_for(type, name);

	if (dmt && !dm_task_run(dmt)) {
		dm_task_destroy(dmt);
		return NULL;
	}
	return dmt;
}

/* "start len type params" lines, separated by '\n' */
int add_table(struct dm_task *dmt, const char *table)
{
	char *copy = strdup(table), *line, *save = NULL;
	int ok = 1;

	if (!copy)
		return 0;
	for (line = strtok_r(copy, "\n", &save); line && ok; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long start, len;
		char type[64];
		int off = 0;

		if (sscanf(line, "%llu %llu %63s %n", &start, &len, type, &off) < 3) {
			ok = 0;
			break;
		}
		if (!off)
			off = strlen(line);
		ok = dm_task_add_target(dmt, start, len, type, line + off);
	}
	free(copy);
	return ok;
}

int create_dev(const char *name, const char *uuid, const char *table)
{
	struct dm_task *dmt = task_for(DM_DEVICE_CREATE, name);
	int r = 0;

	if (!dmt)
		return 0;
	if (uuid && !dm_task_set_uuid(dmt, uuid))
		goto out;
	if (table && !add_table(dmt, table))
		goto out;
	r = dm_task_run(dmt);
out:
	dm_task_destroy(dmt);
	return r;
}

int load_table(const char *name, const char *table)
{
	struct dm_task *dmt = task_for(DM_DEVICE_RELOAD, name);
	int r = 0;

	if (!dmt)
		return 0;
	if (add_table(dmt, table))
		r = dm_task_run(dmt);
	dm_task_destroy(dmt);
	return r;
}

int simple_task(int type, const char *name)
{
	struct dm_task *dmt = task_for(type, name);
	int r = 0;

	if (!dmt)
		return 0;
	r = dm_task_run(dmt);
	dm_task_destroy(dmt);
	return r;
}

int remove_dev(const char *name)
{
	return simple_task(DM_DEVICE_REMOVE, name);
}

int get_info(const char *name, struct dm_info *info)
{
	struct dm_task *dmt = run_for(DM_DEVICE_INFO, name);
	int r;

	memset(info, 0, sizeof(*info));
	if (!dmt)
		return 0;
	r = dm_task_get_info(dmt, info);
	dm_task_destroy(dmt);
	return r;
}

uint32_t dm_major_of(const char *name)
{
	struct dm_info info;

	if (!get_info(name, &info) || !info.exists)
		return 0;
	return info.major;
}

void dev_path_of(const char *name, char *buf, size_t size)
{
	struct dm_info info;

	if (!get_info(name, &info) || !info.exists)
		snprintf(buf, size, "0:0");
	else
		snprintf(buf, size, "%u:%u", info.major, info.minor);
}
