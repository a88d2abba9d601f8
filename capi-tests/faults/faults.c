/*
 * Fault injection: every export that reaches the kernel, run against the
 * fake driver (fakedm.c) while it truncates, corrupts, misaligns or
 * unterminates replies, answers with another command's layout, claims
 * BUFFER_FULL forever or fails with an errno.
 *
 * Each scenario is first run on well-formed replies, where every result
 * is checked against the fake's devices (and, with --lib both, compared
 * with the stock library). Then each of its ioctls is faulted in turn with
 * every fault kind, each case in its own child process. A case passes when
 * the library returns a correct result or libdm's failure (0/NULL) with a
 * log line: no crash, no hang (20 s alarm), no sanitizer report. Faults
 * that make a reply unusable (an errno, an unterminated header name/uuid,
 * a data_size past the buffer) must make the scenario fail when they hit
 * its first or last ioctl. Flipped header flags are well-formed answers
 * (a device said to be missing, a table said to be absent): a failure
 * they cause may be as silent as stock's (create with a table whose new
 * device is reported missing logs only a debug backtrace in stock).
 *
 * Environment: FAULTS_SEEDS (random corruptions per ioctl, default 24).
 */
#define _GNU_SOURCE
#include "../harness.h"
#include "fakedm.h"

#include <dlfcn.h>
#include <errno.h>
#include <linux/dm-ioctl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define M T_MATCH
#ifndef DM_EXISTS_FLAG
#define DM_EXISTS_FLAG (1 << 2)
#endif

/* ---------------------------------------------------------------- truth */

#define KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static const char *const crypt_table = "0 2048 crypt aes-xts-plain64 " KEY " 0 253:0 0";

static int base_minor, top_minor;

static void std_setup(void)
{
	base_minor = fk_add_device(TP "base", "CAPI-base", "0 2048 zero", 0);
	top_minor = fk_add_device(TP "top", "CAPI-top",
				  "0 1024 linear 253:0 0\n1024 1024 linear 253:0 1024", 0);
	fk_add_device(TP "crypt", NULL, crypt_table, 0);
	fk_add_device(TP "empty", "CAPI-empty", NULL, 0);
	fk_add_device(TP "sp\\x20ace", NULL, "0 8 zero", 0);
	fk_add_device(TP "pool", NULL, "0 8 thin-pool 253:0 253:0 128 0", 0);
	fk_add_device(TP "load", NULL, "0 16 zero", 1);
	fk_message_reply("@stats_list", "0: 0+2048 2048 dmstats -\n1: 0+1024 512 dmstats foo histogram:1,10\n");
	/* region 1 has a histogram (bounds 1,10: three bins) and two areas */
	fk_message_reply("@stats_print 1", "0+512 10 9 80 0 4 3 32 0 0 0 0 0 0 14:0:0\n"
					   "512+512 0 0 0 0 0 0 0 0 0 0 0 0 0 0:0:0\n");
	fk_message_reply("@stats_print_clear 1", "0+512 10 9 80 0 4 3 32 0 0 0 0 0 0 14:0:0\n"
						 "512+512 0 0 0 0 0 0 0 0 0 0 0 0 0 0:0:0\n");
	fk_message_reply("@stats_print", "0+2048 10 9 80 0 4 3 32 0 0 0 0 0 0\n");
	fk_message_reply("@stats_create", "2\n");
	fk_message_reply("@stats_delete", NULL);
	fk_message_reply("hello", "world");
	fk_message_reply("quiet", NULL);
}

#define NDEVS 7

/* ------------------------------------------------------------ exercise */

static int g_clean;   /* well-formed replies: check results against the truth */
static int g_fail;    /* failures the library returned */

#define FAILED() (g_fail++)
#define TRUTH(c) do { if (g_clean) CHECK(c); } while (0)

static struct dm_task *new_task(int type, const char *name)
{
	struct dm_task *dmt = dm_task_create(type);

	if (!dmt) {
		FAILED();
		return NULL;
	}
	if (name && !dm_task_set_name(dmt, name)) {
		FAILED();
		dm_task_destroy(dmt);
		return NULL;
	}
	return dmt;
}

static void common_getters(struct dm_task *dmt, const char *want_name)
{
	struct dm_info info;
	char ver[64];
	const char *s;
	char *m;

	if (!dm_task_get_info(dmt, &info))
		FAILED();
	if (!dm_task_get_driver_version(dmt, ver, sizeof(ver)))
		FAILED();
	else
		TRUTH(!strcmp(ver, "4.47.0"));
	s = dm_task_get_name(dmt);
	if (!s)
		FAILED();
	else if (want_name)
		TRUTH(!strcmp(s, want_name));
	s = dm_task_get_uuid(dmt);
	if (!s)
		FAILED();
	else
		(void)strlen(s);
	if ((m = dm_task_get_name_mangled(dmt)))
		free(m);
	else
		FAILED();
	if ((m = dm_task_get_name_unmangled(dmt)))
		free(m);
	else
		FAILED();
	if ((m = dm_task_get_uuid_mangled(dmt)))
		free(m);
	else
		FAILED();
	if ((m = dm_task_get_uuid_unmangled(dmt)))
		free(m);
	else
		FAILED();
	(void)dm_task_get_errno(dmt);
}

/* run a task, then the getters of its type */
static int finish(struct dm_task *dmt, const char *want_name)
{
	int r;

	if (!dmt)
		return 0;
	r = dm_task_run(dmt);
	if (r)
		common_getters(dmt, want_name);
	else
		FAILED();
	dm_task_destroy(dmt);
	return r;
}

static int walk_names(struct dm_task *dmt)
{
	struct dm_names *n = dm_task_get_names(dmt);
	unsigned next = 0;
	int c = 0, saw_space = 0;

	if (!n) {
		FAILED();
		return -1;
	}
	if (n->dev) {
		do {
			n = (struct dm_names *)((char *)n + next);
			if (!strcmp(n->name, TP "sp ace"))
				saw_space = 1;
			(void)strlen(n->name);
			next = n->next;
			c++;
		} while (next && c < 100000);
	}
	TRUTH(c == NDEVS);
	TRUTH(saw_space); /* unmangled in the default (auto) mode */
	return c;
}

static int walk_versions(struct dm_task *dmt, int want)
{
	struct dm_versions *v = dm_task_get_versions(dmt), *last;
	int c = 0, linear = 0;

	if (!v) {
		FAILED();
		return -1;
	}
	do {
		last = v;
		if (!strcmp(v->name, "linear") && v->version[0] == 1 && v->version[1] == 4)
			linear = 1;
		v = (struct dm_versions *)((char *)v + v->next);
		c++;
	} while (last != v && c < 100000);
	TRUTH(want < 0 || c == want);
	TRUTH(want < 0 || linear);
	return c;
}

static int walk_deps(struct dm_task *dmt, int want)
{
	struct dm_deps *d = dm_task_get_deps(dmt);
	uint64_t sum = 0;
	uint32_t i;

	if (!d) {
		FAILED();
		return -1;
	}
	for (i = 0; i < d->count && i < 1000000; i++)
		sum += d->device[i];
	TRUTH(want < 0 || (int)d->count == want);
	return (int)d->count + (int)(sum & 0);
}

static int walk_targets(struct dm_task *dmt, const char *want_type, const char *want_params)
{
	void *next = NULL;
	uint64_t start, len;
	char *type, *params;
	int c = 0;

	do {
		next = dm_get_next_target(dmt, next, &start, &len, &type, &params);
		if (type) {
			(void)strlen(type);
			if (c == 0 && want_type)
				TRUTH(!strcmp(type, want_type));
		}
		if (params) {
			(void)strlen(params);
			if (c == 0 && want_params)
				TRUTH(!strcmp(params, want_params));
		}
		c++;
	} while (next && c < 100000);
	return c;
}

/* ------------------------------------------------------------ scenarios */

static int s_version(void)
{
	return finish(new_task(DM_DEVICE_VERSION, NULL), NULL);
}

static int s_list(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_LIST, NULL);

	if (!dmt)
		return 0;
	if (dm_task_run(dmt))
		walk_names(dmt);
	else
		FAILED();
	dm_task_destroy(dmt);
	return !g_fail;
}

static int s_list_none_mode(void)
{
	dm_set_name_mangling_mode(DM_STRING_MANGLING_NONE);
	struct dm_task *dmt = new_task(DM_DEVICE_LIST, NULL);
	struct dm_names *n;

	if (!dmt)
		return 0;
	if (dm_task_run(dmt)) {
		if ((n = dm_task_get_names(dmt))) {
			unsigned next = 0;
			int c = 0;
			if (n->dev)
				do {
					n = (struct dm_names *)((char *)n + next);
					(void)strlen(n->name);
					next = n->next;
					c++;
				} while (next && c < 100000);
			TRUTH(c == NDEVS);
		} else {
			FAILED();
		}
	} else {
		FAILED();
	}
	dm_task_destroy(dmt);
	return !g_fail;
}

static int s_versions(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_LIST_VERSIONS, NULL);

	if (!dmt)
		return 0;
	if (dm_task_run(dmt))
		walk_versions(dmt, 9);
	else
		FAILED();
	dm_task_destroy(dmt);
	return !g_fail;
}

static int s_target_version(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_GET_TARGET_VERSION, "linear");

	if (!dmt)
		return 0;
	if (dm_task_run(dmt))
		walk_versions(dmt, 1);
	else
		FAILED();
	dm_task_destroy(dmt);
	return !g_fail;
}

static int s_info(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_INFO, TP "top");
	struct dm_info info;
	uint32_t ra;

	if (!dmt)
		return 0;
	if (dm_task_run(dmt)) {
		common_getters(dmt, TP "top");
		if (dm_task_get_info(dmt, &info)) {
			TRUTH(info.exists == 1 && info.major == 253 && (int)info.minor == top_minor);
			TRUTH(info.target_count == 2 && info.live_table == 1 && info.suspended == 0);
		}
		(void)dm_task_get_read_ahead(dmt, &ra);
	} else {
		FAILED();
	}
	dm_task_destroy(dmt);
	return !g_fail;
}

static int s_info_uuid(void)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);

	if (!dmt)
		return FAILED(), 0;
	if (!dm_task_set_uuid(dmt, "CAPI-base"))
		FAILED();
	return finish(dmt, TP "base") && !g_fail;
}

static int s_info_devno(void)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);

	if (!dmt)
		return FAILED(), 0;
	if (!dm_task_set_major(dmt, 253) || !dm_task_set_minor(dmt, base_minor))
		FAILED();
	return finish(dmt, TP "base") && !g_fail;
}

static int s_info_missing(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_INFO, TP "nosuch");
	struct dm_info info;

	if (!dmt)
		return 0;
	if (dm_task_run(dmt)) {
		if (dm_task_get_info(dmt, &info))
			TRUTH(info.exists == 0);
		else
			FAILED();
	} else {
		FAILED();
	}
	dm_task_destroy(dmt);
	return !g_fail;
}

static int s_deps(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_DEPS, TP "top");

	if (!dmt)
		return 0;
	if (dm_task_run(dmt))
		walk_deps(dmt, 1);
	else
		FAILED();
	dm_task_destroy(dmt);
	return !g_fail;
}

static int table_like(int type, const char *name, int secure, const char *want_type,
		      const char *want_params, int want_n)
{
	struct dm_task *dmt = new_task(type, name);
	int n;

	if (!dmt)
		return 0;
	if (secure)
		dm_task_secure_data(dmt);
	if (type == DM_DEVICE_WAITEVENT)
		dm_task_set_event_nr(dmt, 0);
	if (dm_task_run(dmt)) {
		n = walk_targets(dmt, want_type, want_params);
		TRUTH(n == want_n);
		common_getters(dmt, name);
	} else {
		FAILED();
	}
	dm_task_destroy(dmt);
	return !g_fail;
}

static int s_table(void)
{
	return table_like(DM_DEVICE_TABLE, TP "top", 0, "linear", "253:0 0", 2);
}

static int s_table_secure(void)
{
	return table_like(DM_DEVICE_TABLE, TP "crypt", 1, "crypt", crypt_table + 13, 1);
}

static int s_status(void)
{
	return table_like(DM_DEVICE_STATUS, TP "pool", 0, "thin-pool",
			  "0 1/1024 0/2048 - rw discard_passdown queue_if_no_space - 1024", 1);
}

static int s_status_empty(void)
{
	/* a device without a table: no targets; dm_get_next_target says so */
	struct dm_task *dmt = new_task(DM_DEVICE_STATUS, TP "empty");
	void *next;
	uint64_t s, l;
	char *t, *p;

	if (!dmt)
		return 0;
	if (dm_task_run(dmt)) {
		next = dm_get_next_target(dmt, NULL, &s, &l, &t, &p);
		TRUTH(!next && !t);
	} else {
		FAILED();
	}
	dm_task_destroy(dmt);
	return !g_fail;
}

static int s_waitevent(void)
{
	return table_like(DM_DEVICE_WAITEVENT, TP "top", 0, "linear", "", 2);
}

static int s_inactive(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_TABLE, TP "load");

	if (!dmt)
		return 0;
	dm_task_query_inactive_table(dmt);
	if (dm_task_run(dmt))
		TRUTH(walk_targets(dmt, "zero", "") == 1);
	else
		FAILED();
	dm_task_destroy(dmt);
	return !g_fail;
}

static int s_create(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_CREATE, TP "new");

	if (dmt && !dm_task_set_uuid(dmt, "CAPI-new"))
		FAILED();
	return finish(dmt, TP "new") && !g_fail;
}

static int s_create_table(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_CREATE, TP "newt");
	int r;

	if (!dmt)
		return 0;
	if (!dm_task_add_target(dmt, 0, 2048, "crypt", crypt_table + 13) ||
	    !dm_task_add_target(dmt, 2048, 8, "zero", ""))
		FAILED();
	dm_task_secure_data(dmt);
	r = finish(dmt, TP "newt");
	if (r)
		TRUTH(fk_device_count() == NDEVS + 1);
	return r && !g_fail;
}

static int s_reload(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_RELOAD, TP "empty");

	if (dmt && !dm_task_add_target(dmt, 0, 64, "linear", "253:0 8"))
		FAILED();
	if (dmt)
		dm_task_set_ro(dmt);
	return finish(dmt, TP "empty") && !g_fail;
}

static int s_reload_identical(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_RELOAD, TP "base");

	if (dmt && !dm_task_add_target(dmt, 0, 2048, "zero", ""))
		FAILED();
	if (dmt)
		dm_task_suppress_identical_reload(dmt);
	return finish(dmt, TP "base") && !g_fail;
}

static int s_suspend(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_SUSPEND, TP "base");

	if (dmt) {
		dm_task_no_flush(dmt);
		dm_task_skip_lockfs(dmt);
	}
	return finish(dmt, TP "base") && !g_fail;
}

static int s_suspend_checks(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_SUSPEND, TP "top");

	if (dmt)
		dm_task_enable_checks(dmt);
	return finish(dmt, TP "top") && !g_fail;
}

static int s_resume(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_RESUME, TP "load");

	if (dmt)
		dm_task_set_read_ahead(dmt, 256, DM_READ_AHEAD_MINIMUM_FLAG);
	return finish(dmt, TP "load") && !g_fail;
}

static int s_remove(void)
{
	int r = finish(new_task(DM_DEVICE_REMOVE, TP "empty"), TP "empty");

	if (r)
		TRUTH(fk_device_count() == NDEVS - 1);
	return r && !g_fail;
}

static int s_remove_deferred(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_REMOVE, TP "sp ace");

	if (dmt)
		dm_task_deferred_remove(dmt);
	return finish(dmt, NULL) && !g_fail;
}

static int s_remove_all(void)
{
	int r = finish(new_task(DM_DEVICE_REMOVE_ALL, NULL), NULL);

	if (r)
		TRUTH(fk_device_count() == 0);
	return r && !g_fail;
}

static int s_rename(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_RENAME, TP "empty");

	if (dmt && !dm_task_set_newname(dmt, TP "renamed"))
		FAILED();
	return finish(dmt, NULL) && !g_fail;
}

static int s_set_uuid(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_RENAME, TP "crypt");

	if (dmt && !dm_task_set_newuuid(dmt, "CAPI-crypt"))
		FAILED();
	return finish(dmt, NULL) && !g_fail;
}

static int s_clear(void)
{
	return finish(new_task(DM_DEVICE_CLEAR, TP "load"), TP "load") && !g_fail;
}

static int message(const char *text, const char *want)
{
	struct dm_task *dmt = new_task(DM_DEVICE_TARGET_MSG, TP "base");
	const char *resp;

	if (!dmt)
		return 0;
	if (!dm_task_set_sector(dmt, 0) || !dm_task_set_message(dmt, text))
		FAILED();
	if (dm_task_run(dmt)) {
		resp = dm_task_get_message_response(dmt);
		if (resp)
			(void)strlen(resp);
		if (want)
			TRUTH(resp && !strcmp(resp, want));
		else
			TRUTH(!resp || !*resp);
		common_getters(dmt, TP "base");
	} else {
		FAILED();
	}
	dm_task_destroy(dmt);
	return !g_fail;
}

static int s_message(void)
{
	return message("hello there", "world");
}

static int s_message_quiet(void)
{
	return message("quiet please", NULL);
}

static int s_message_stats_list(void)
{
	return message("@stats_list dmstats",
		       "0: 0+2048 2048 dmstats -\n1: 0+1024 512 dmstats foo histogram:1,10\n");
}

static int s_message_key(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_TARGET_MSG, TP "crypt");

	if (dmt) {
		dm_task_secure_data(dmt);
		if (!dm_task_set_sector(dmt, 0) || !dm_task_set_message(dmt, "key set " KEY))
			FAILED();
	}
	return finish(dmt, TP "crypt") && !g_fail;
}

static int s_geometry(void)
{
	struct dm_task *dmt = new_task(DM_DEVICE_SET_GEOMETRY, TP "base");

	if (dmt && !dm_task_set_geometry(dmt, "16", "4", "32", "0"))
		FAILED();
	return finish(dmt, TP "base") && !g_fail;
}

static int s_arm_poll(void)
{
	return finish(new_task(DM_DEVICE_ARM_POLL, NULL), NULL) && !g_fail;
}

static int s_mknodes_name(void)
{
	struct dm_task *dmt;

	if (!dm_mknodes(TP "base"))
		FAILED();
	/* the task form, on a device that is missing: the node is removed */
	dmt = new_task(DM_DEVICE_MKNODES, TP "nosuch");
	return finish(dmt, NULL) && !g_fail;
}

static int s_mknodes_all(void)
{
	if (!dm_mknodes(NULL))
		FAILED();
	return !g_fail;
}

static int s_tree(void)
{
	struct dm_tree *t = dm_tree_create();
	struct dm_tree_node *root, *c, *cc;
	void *h = NULL, *h2;
	int n = 0, m = 0;

	if (!t)
		return FAILED(), 0;
	if (!dm_tree_add_dev(t, 253, (uint32_t)top_minor))
		FAILED();
	if (!dm_tree_add_dev(t, 253, (uint32_t)base_minor))
		FAILED();
	root = dm_tree_find_node(t, 0, 0);
	while (root && (c = dm_tree_next_child(&h, root, 0)) && n < 1000) {
		const struct dm_info *i = dm_tree_node_get_info(c);
		const char *s = dm_tree_node_get_name(c), *u = dm_tree_node_get_uuid(c);
		if (s)
			(void)strlen(s);
		if (u)
			(void)strlen(u);
		if (i)
			(void)i->exists;
		h2 = NULL;
		while ((cc = dm_tree_next_child(&h2, c, 0)) && m < 1000) {
			s = dm_tree_node_get_name(cc);
			if (s)
				(void)strlen(s);
			m++;
		}
		n++;
	}
	TRUTH(n == 1 && m == 1);
	c = dm_tree_find_node(t, 253, (uint32_t)base_minor);
	TRUTH(c && !strcmp(dm_tree_node_get_name(c), TP "base"));
	dm_tree_free(t);
	return !g_fail;
}

/* dm_stats_* through dlsym: not every build exports them yet */
struct dm_stats;
static int s_stats(void)
{
	struct dm_stats *(*create)(const char *) = dlsym(RTLD_DEFAULT, "dm_stats_create");
	int (*bind_name)(struct dm_stats *, const char *) = dlsym(RTLD_DEFAULT, "dm_stats_bind_name");
	int (*list)(struct dm_stats *, const char *) = dlsym(RTLD_DEFAULT, "dm_stats_list");
	int (*populate)(struct dm_stats *, const char *, uint64_t) =
		dlsym(RTLD_DEFAULT, "dm_stats_populate");
	uint64_t (*nregions)(const struct dm_stats *) = dlsym(RTLD_DEFAULT, "dm_stats_get_nr_regions");
	void (*destroy)(struct dm_stats *) = dlsym(RTLD_DEFAULT, "dm_stats_destroy");
	struct dm_stats *s;

	if (!create || !bind_name || !list || !populate || !nregions || !destroy)
		return -1;
	if (!(s = create("dmstats")))
		return FAILED(), 0;
	if (!bind_name(s, TP "base"))
		FAILED();
	if (list(s, "dmstats"))
		TRUTH(nregions(s) == 2);
	else
		FAILED();
	if (!populate(s, "dmstats", UINT64_MAX))
		FAILED();
	destroy(s);
	return !g_fail;
}

struct scen {
	const char *name;
	int (*run)(void);
	int aux; /* ioctls between the first and the last may fail silently */
};

static const struct scen scens[] = {
	{ "version", s_version, 0 },
	{ "list", s_list, 0 },
	{ "list_no_mangling", s_list_none_mode, 0 },
	{ "versions", s_versions, 0 },
	{ "target_version", s_target_version, 0 },
	{ "info", s_info, 0 },
	{ "info_uuid", s_info_uuid, 0 },
	{ "info_devno", s_info_devno, 0 },
	{ "info_missing", s_info_missing, 0 },
	{ "deps", s_deps, 0 },
	{ "table", s_table, 0 },
	{ "table_secure", s_table_secure, 0 },
	{ "status", s_status, 0 },
	{ "status_no_table", s_status_empty, 0 },
	{ "waitevent", s_waitevent, 0 },
	{ "inactive_table", s_inactive, 0 },
	{ "create", s_create, 0 },
	{ "create_with_table", s_create_table, 0 },
	{ "reload", s_reload, 0 },
	{ "reload_identical", s_reload_identical, 1 },
	{ "suspend", s_suspend, 0 },
	{ "suspend_checks", s_suspend_checks, 1 },
	{ "resume", s_resume, 0 },
	{ "remove", s_remove, 0 },
	{ "remove_deferred", s_remove_deferred, 0 },
	{ "remove_all", s_remove_all, 0 },
	{ "rename", s_rename, 0 },
	{ "set_uuid", s_set_uuid, 0 },
	{ "clear", s_clear, 0 },
	{ "message", s_message, 0 },
	{ "message_no_response", s_message_quiet, 0 },
	{ "message_stats_list", s_message_stats_list, 0 },
	{ "message_key", s_message_key, 0 },
	{ "set_geometry", s_geometry, 0 },
	{ "arm_poll", s_arm_poll, 0 },
	{ "mknodes", s_mknodes_name, 1 },
	{ "mknodes_all", s_mknodes_all, 1 },
	{ "tree", s_tree, 1 },
	{ "stats", s_stats, 1 },
};
#define NSCENS (sizeof(scens) / sizeof(scens[0]))

/* ------------------------------------------------------------ runner */

struct result {
	int ran;      /* the child reported */
	int r;        /* scenario result: 1 ok, 0 failure returned, -1 unavailable */
	int fails;    /* failures returned */
	int logs;     /* log lines at notice level or more important */
	int calls;    /* ioctls */
	int faults;   /* faults applied */
	int checks;   /* CHECK failures (clean runs) */
	int fd_leak;  /* descriptors open after dm_lib_release minus before */
	int cmds[64]; /* command of each ioctl (clean run) */
	int strs[64], nexts[64];
};

/* SysV semaphore sets in the system (udev cookies are semaphores) */
static int count_semaphores(void)
{
	FILE *f = fopen("/proc/sysvipc/sem", "r");
	char line[512];
	int n = -1;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n < 0 ? 0 : n;
}

static int status_of_child(pid_t pid, char *why, size_t size)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return snprintf(why, size, "waitpid: %s", strerror(errno)), 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 1;
	if (WIFEXITED(st))
		snprintf(why, size, "exit status %d%s", WEXITSTATUS(st),
			 WEXITSTATUS(st) == 23 ? " (sanitizer report)" : "");
	else if (WIFSIGNALED(st))
		snprintf(why, size, "%s %d (%s)", WTERMSIG(st) == SIGALRM ? "hang: alarm" : "crash: signal",
			 WTERMSIG(st), strsignal(WTERMSIG(st)));
	return 0;
}

/* Run scenario s in a child, with one fault (kind 0: none). */
static int run_case(const struct scen *s, int at, int kind, long arg, struct result *res, char *why,
		    size_t size)
{
	int pfd[2], ok, i;
	pid_t pid;
	ssize_t n;

	memset(res, 0, sizeof(*res));
	if (pipe(pfd))
		return snprintf(why, size, "pipe: %s", strerror(errno)), 0;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return snprintf(why, size, "fork: %s", strerror(errno)), 0;
	if (!pid) {
		struct result out;
		int failed_before, fds;

		close(pfd[0]);
		/* CHECK failures are counted here, not reported to the harness
		 * through its pipe (the sweep reports them) */
		h_failed += 1000;
		failed_before = h_failed;
		alarm(20);
		fk_reset();
		std_setup();
		fk_clear_faults();
		if (kind)
			fk_fault(at, -1, kind, arg);
		log_clear();
		g_clean = !kind;
		g_fail = 0;
		memset(&out, 0, sizeof(out));
		fds = count_fds_to("");
		out.r = s->run();
		dm_lib_release();
		out.fd_leak = count_fds_to("") - fds;
		out.ran = 1;
		out.fails = g_fail;
		out.logs = log_count(5);
		out.calls = fk_calls();
		out.faults = fk_faults();
		out.checks = h_failed - failed_before;
		for (i = 0; i < 64 && i < out.calls; i++) {
			out.cmds[i] = fk_cmd_of(i);
			out.strs[i] = fk_strings_of(i);
			out.nexts[i] = fk_nexts_of(i);
		}
		if (write(pfd[1], &out, sizeof(out)) != (ssize_t)sizeof(out))
			_exit(3);
		if (out.checks && g_clean)
			log_dump(7);
		fflush(stdout);
		_exit(out.checks ? 1 : 0);
	}
	close(pfd[1]);
	n = read(pfd[0], res, sizeof(*res));
	close(pfd[0]);
	ok = status_of_child(pid, why, size);
	if (n != (ssize_t)sizeof(*res))
		res->ran = 0;
	if (ok && !res->ran)
		return snprintf(why, size, "no report from the child"), 0;
	return ok;
}

struct fault {
	int kind;
	long arg;
	int forever;
	const char *label;
};

static const char *kind_name(int k)
{
	static const char *const names[] = {
		"none", "errno", "truncate", "data_start", "data_size_grow", "buffer_full",
		"target_count", "unterm_name", "unterm_uuid", "unterm_string", "bad_next",
		"corrupt", "corrupt_header", "layout", "flags", "version", "junk_tail",
	};
	return k >= 0 && k < FK_KIND_MAX ? names[k] : "?";
}

/* Which faults make a reply unusable, so that the scenario must fail. */
static int must_fail(int kind, long arg, int cmd)
{
	switch (kind) {
	case FK_ERRNO:
		/* INFO, MKNODES and STATUS treat a missing device as an answer */
		if (arg == ENXIO && (cmd == DM_DEV_STATUS_CMD || cmd == DM_TABLE_STATUS_CMD))
			return 0;
		return 1;
	case FK_UNTERM_NAME:
	case FK_UNTERM_UUID:
	case FK_DATA_SIZE_GROW:
		return 1;
	default:
		return 0;
	}
}

static int has_output(int cmd)
{
	switch (cmd) {
	case DM_LIST_DEVICES_CMD:
	case DM_LIST_VERSIONS_CMD:
	case DM_GET_TARGET_VERSION_CMD:
	case DM_TABLE_DEPS_CMD:
	case DM_TABLE_STATUS_CMD:
	case DM_DEV_WAIT_CMD:
	case DM_TARGET_MSG_CMD:
		return 1;
	default:
		return 0;
	}
}

static long total_cases, total_calls, total_faults, total_failures_returned;

#define MAX_REPORTS 12

static void sweep(const struct scen *s)
{
	struct result clean, res;
	char why[256];
	int K, i, j, reports = 0, cases = 0, seeds = 24;
	long calls = 0, faults = 0, fails = 0;
	const char *e = getenv("FAULTS_SEEDS");
	struct fault list[512];
	int nl, sems;

	if (e && *e)
		seeds = atoi(e);
	sems = count_semaphores();
	if (!run_case(s, -1, 0, 0, &clean, why, sizeof(why))) {
		h_fail(__FILE__, __LINE__, "%s: clean run: %s", s->name, why);
		return;
	}
	if (clean.r < 0)
		SKIP("this library does not export the functions of %s", s->name);
	CHECK_INT(clean.checks, 0);
	if (clean.r != 1)
		h_fail(__FILE__, __LINE__, "%s: fails on well-formed replies (%d failures)", s->name,
		       clean.fails);
	K = clean.calls;
	fact("%s: result on well-formed replies=%d", s->name, clean.r);
	/* informational: ours may take a different number of ioctls (stock's
	 * enable_checks reads the suspended flag from the DEPS reply, ours asks
	 * INFO as well) */
	fact_info("%s: ioctls on well-formed replies=%d", s->name, K);
	if (!h_is_ours() && !getenv("CAPI_FORCE_OURS_ONLY"))
		return; /* the sweep is for ours; stock validates the fake */

	for (i = 0; i < K && i < 64; i++) {
		int cmd = clean.cmds[i];
		static const int errnos[] = { EINTR, EAGAIN, EBUSY, ENOMEM, ENXIO, EPERM, EINVAL, ENOTTY, EFAULT };
		static const long starts[] = { 0, 8, 304, 305, 308, 311, 316, 320, 4096, 0xfffffff8L };
		static const long cuts[] = { 0, 1, 4, 8, 12, 16, 24, 39, 40, 47, 48, 64 };
		static const long fulls[] = { 0, 305, 312, 0x7fffffffL, 0xffffffffL };
		static const long counts[] = { 0, 1, 2, 3, 1000, 0x7fffffffL, 0xffffffffL };
		static const long flagset[] = { DM_BUFFER_FULL_FLAG, DM_DATA_OUT_FLAG, DM_EXISTS_FLAG,
			DM_SUSPEND_FLAG, DM_UEVENT_GENERATED_FLAG, DM_READONLY_FLAG,
			DM_ACTIVE_PRESENT_FLAG, 0xffffffffL };
		static const long layouts[] = { DM_LIST_DEVICES_CMD, DM_LIST_VERSIONS_CMD, DM_TABLE_DEPS_CMD,
			DM_TABLE_STATUS_CMD, DM_TARGET_MSG_CMD, DM_VERSION_CMD };
		size_t k;

		nl = 0;
#define ADD(K_, A_) do { if (nl < 512) { list[nl].kind = (K_); list[nl].arg = (A_); list[nl].forever = 0; nl++; } } while (0)
		for (k = 0; k < sizeof(errnos) / sizeof(errnos[0]); k++)
			ADD(FK_ERRNO, errnos[k]);
		for (k = 0; k < sizeof(starts) / sizeof(starts[0]); k++)
			ADD(FK_DATA_START, starts[k]);
		ADD(FK_DATA_SIZE_GROW, 1);
		ADD(FK_DATA_SIZE_GROW, 8);
		ADD(FK_DATA_SIZE_GROW, 1 << 20);
		for (k = 0; k < sizeof(fulls) / sizeof(fulls[0]); k++)
			ADD(FK_BUFFER_FULL, fulls[k]);
		ADD(FK_UNTERM_NAME, 0);
		ADD(FK_UNTERM_UUID, 0);
		for (k = 0; k < sizeof(flagset) / sizeof(flagset[0]); k++)
			ADD(FK_FLAGS, flagset[k]);
		ADD(FK_VERSION, 3);
		ADD(FK_VERSION, 5);
		ADD(FK_JUNK_TAIL, 0);
		for (k = 0; k < sizeof(layouts) / sizeof(layouts[0]); k++)
			ADD(FK_LAYOUT, layouts[k]);
		for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
			ADD(FK_TARGET_COUNT, counts[k]);
		if (has_output(cmd)) {
			for (k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++)
				ADD(FK_TRUNCATE, cuts[k]);
			for (j = 0; j < clean.strs[i] && j < 12; j++)
				ADD(FK_UNTERM_STRING, j);
			ADD(FK_UNTERM_STRING, -1);
			ADD(FK_UNTERM_STRING, -2);
			for (j = 0; j < clean.nexts[i] && j < 6; j++)
				for (k = 0; k < FK_BAD_NEXT_MODES; k++)
					ADD(FK_BAD_NEXT, j * 16 + (long)k);
			for (j = 1; j <= seeds; j++)
				ADD(FK_CORRUPT, j * 1000 + i);
		}
		for (j = 1; j <= seeds / 2; j++)
			ADD(FK_CORRUPT_HEADER, j * 1000 + i);
		/* the same fault on every ioctl: must end, not loop */
		if (i == 0) {
			int f0 = nl;
			ADD(FK_ERRNO, EINTR);
			ADD(FK_ERRNO, EAGAIN);
			ADD(FK_ERRNO, EBUSY);
			ADD(FK_BUFFER_FULL, 0);
			ADD(FK_BUFFER_FULL, 0xffffffffL);
			ADD(FK_DATA_SIZE_GROW, 8);
			ADD(FK_UNTERM_STRING, -2);
			ADD(FK_CORRUPT, 77);
			for (j = f0; j < nl; j++)
				list[j].forever = 1;
		}
#undef ADD
		for (j = 0; j < nl; j++) {
			int at = list[j].forever ? -1 : i;
			int ok = run_case(s, at, list[j].kind, list[j].arg, &res, why, sizeof(why));
			const char *violation = NULL;

			cases++;
			calls += res.calls;
			faults += res.faults;
			if (res.r == 0)
				fails++;
			if (!ok)
				violation = why;
			else if (res.fd_leak)
				violation = "a file descriptor was left open (after dm_lib_release)";
			else if (res.r == 0 && res.logs == 0 && list[j].kind != FK_FLAGS)
				violation = "failure without a log line";
			else if (res.r == 1 && res.faults && !list[j].forever &&
				 (i == 0 || (!s->aux && i == K - 1)) &&
				 must_fail(list[j].kind, list[j].arg, cmd))
				violation = "an unusable reply was accepted";
			else if (res.r == 1 && list[j].forever && res.faults &&
				 (list[j].kind == FK_ERRNO || list[j].kind == FK_DATA_SIZE_GROW))
				violation = "an unusable reply was accepted (every ioctl faulted)";
			if (violation) {
				if (reports++ < MAX_REPORTS)
					h_fail(__FILE__, __LINE__, "%s: ioctl %d (cmd %d) %s %s(%ld): %s",
					       s->name, i, cmd, list[j].forever ? "every" : "only",
					       kind_name(list[j].kind), list[j].arg, violation);
			}
		}
	}
	/* no SysV semaphore (udev cookie) may outlive the cases */
	CHECK_INT(count_semaphores(), sems);
	CHECK_INT(clean.fd_leak, 0);
	total_cases += cases;
	total_calls += calls;
	total_faults += faults;
	total_failures_returned += fails;
	fact_info("%s: cases=%d ioctls=%ld faults=%ld failures_returned=%ld violations=%d", s->name,
		  cases, calls, faults, fails, reports);
	h_note("%s: %d cases, %ld ioctls, %ld faults injected, %ld failures returned, %d violations",
	       s->name, cases, calls, faults, fails, reports);
}

#define SWEEP(n) TEST(n, M) { sweep(&scens[find(#n)]); }

static int find(const char *name)
{
	size_t i;

	for (i = 0; i < NSCENS; i++)
		if (!strcmp(scens[i].name, name))
			return (int)i;
	fprintf(stderr, "no scenario %s\n", name);
	abort();
}

SWEEP(version)
SWEEP(list)
SWEEP(list_no_mangling)
SWEEP(versions)
SWEEP(target_version)
SWEEP(info)
SWEEP(info_uuid)
SWEEP(info_devno)
SWEEP(info_missing)
SWEEP(deps)
SWEEP(table)
SWEEP(table_secure)
SWEEP(status)
SWEEP(status_no_table)
SWEEP(waitevent)
SWEEP(inactive_table)
SWEEP(create)
SWEEP(create_with_table)
SWEEP(reload)
SWEEP(reload_identical)
SWEEP(suspend)
SWEEP(suspend_checks)
SWEEP(resume)
SWEEP(remove)
SWEEP(remove_deferred)
SWEEP(remove_all)
SWEEP(rename)
SWEEP(set_uuid)
SWEEP(clear)
SWEEP(message)
SWEEP(message_no_response)
SWEEP(message_stats_list)
SWEEP(message_key)
SWEEP(set_geometry)
SWEEP(arm_poll)
SWEEP(mknodes)
SWEEP(mknodes_all)
SWEEP(tree)
SWEEP(stats)

/* ------------------------------------------------------------ cursors
 *
 * dm_get_next_target's `next` on a read-back table is an opaque value the
 * caller passes back. Stock's is a pointer it follows blindly; ours must
 * take any value: the walk's own values give their target, anything else
 * (a forged value, one of another task, one from before a rerun) gives a
 * target only if it is one of this reply's cursors, else the end (zeros,
 * NULL), and never reads outside the reply (ASan build). */

struct tgt {
	uint64_t start, len;
	char type[32], params[64];
	void *cursor; /* the value that gave this target */
	void *next;   /* the value it returned */
};

static int read_all(struct dm_task *dmt, struct tgt *out, int max)
{
	void *next = NULL, *cur;
	uint64_t s, l;
	char *t, *p;
	int n = 0;

	do {
		cur = next;
		next = dm_get_next_target(dmt, cur, &s, &l, &t, &p);
		if (!t || n >= max)
			break;
		out[n].start = s;
		out[n].len = l;
		snprintf(out[n].type, sizeof(out[n].type), "%s", t);
		snprintf(out[n].params, sizeof(out[n].params), "%s", p ? p : "(null)");
		out[n].cursor = cur;
		out[n].next = next;
		n++;
	} while (next);
	return n;
}

/* what one call with `v` gives: -1 for the end (all zeros), else the index
 * of the target of `want` it matches (-2 for a target that is none) */
static int one_step(struct dm_task *dmt, void *v, const struct tgt *want, int n, void **next_out)
{
	uint64_t s = 7, l = 7;
	char *t = (char *)"x", *p = (char *)"y";
	void *next = dm_get_next_target(dmt, v, &s, &l, &t, &p);
	int i;

	*next_out = next;
	if (!t) {
		TRUTH(!next && !s && !l && !p);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (s == want[i].start && l == want[i].len && !strcmp(t, want[i].type) &&
		    !strcmp(p, want[i].params))
			return i;
	return -2;
}

TEST(next_target_cursor_values, T_OURS)
{
	struct dm_task *dmt, *other;
	struct tgt want[8], again[8], small[2];
	void *nx;
	int n, i, hits = 0;
	uintptr_t v;

	fk_reset();
	std_setup();
	fk_add_device(TP "multi", NULL,
		      "0 8 linear 253:0 0\n8 8 zero\n16 8 snapshot-origin 253:0\n24 8 linear 253:0 2048", 0);
	REQUIRE((dmt = new_task(DM_DEVICE_TABLE, TP "multi")));
	REQUIRE(dm_task_run(dmt));
	n = read_all(dmt, want, 8);
	CHECK_INT(n, 4);
	CHECK_STR(want[2].type, "snapshot-origin");
	CHECK_STR(want[3].params, "253:0 2048");
	CHECK(want[n - 1].next == NULL);

	/* every cursor the walk handed out, in any order, gives its target
	 * again; the last one's next is NULL */
	for (i = n - 1; i >= 0; i--) {
		CHECK_INT(one_step(dmt, want[i].cursor, want, n, &nx), i);
		CHECK(nx == want[i].next);
	}

	/* every other small value, and far ones: the end, or (if it is one
	 * of the reply's cursors) that target */
	for (v = 1; v < 4096; v++) {
		int r = one_step(dmt, (void *)v, want, n, &nx);

		if (r >= 0) {
			/* the first target is NULL's, and also its own offset's */
			CHECK(r == 0 || (void *)v == want[r].cursor);
			CHECK(nx == want[r].next);
			hits++;
		} else {
			CHECK_INT(r, -1);
		}
	}
	CHECK_INT(hits, n);
	for (v = 0; v < 64; v++) {
		CHECK_INT(one_step(dmt, (void *)(UINTPTR_MAX - v), want, n, &nx), -1);
		CHECK_INT(one_step(dmt, (void *)(((uintptr_t)1 << (v % 63)) + 1), want, n, &nx), -1);
	}
	CHECK_INT(one_step(dmt, (void *)want, want, n, &nx), -1); /* a pointer of ours */

	/* a walk interrupted by foreign values still ends right */
	CHECK_INT(one_step(dmt, NULL, want, n, &nx), 0);
	CHECK_INT(one_step(dmt, (void *)3, want, n, &nx), -1);
	CHECK_INT(one_step(dmt, want[1].cursor, want, n, &nx), 1);
	CHECK_INT(read_all(dmt, again, 8), n);

	/* a one-target table of another task: its cursors mean nothing here */
	REQUIRE((other = new_task(DM_DEVICE_TABLE, TP "base")));
	REQUIRE(dm_task_run(other));
	CHECK_INT(read_all(other, small, 2), 1);
	CHECK(small[0].next == NULL);
	CHECK_INT(one_step(other, want[1].cursor, want, n, &nx), -1);
	CHECK_INT(one_step(other, want[3].cursor, want, n, &nx), -1);

	/* after a rerun the old cursors are checked against the new reply */
	REQUIRE(dm_task_run(dmt));
	for (i = 1; i < n; i++)
		CHECK_INT(one_step(dmt, want[i].cursor, want, n, &nx), i);
	dm_task_destroy(other);
	dm_task_destroy(dmt);

	/* no targets: nothing at any value */
	REQUIRE((dmt = new_task(DM_DEVICE_STATUS, TP "empty")));
	REQUIRE(dm_task_run(dmt));
	for (v = 0; v < 1024; v += 7)
		CHECK_INT(one_step(dmt, (void *)v, want, n, &nx), -1);
	CHECK_INT(one_step(dmt, want[1].cursor, want, n, &nx), -1);
	dm_task_destroy(dmt);
	fact("targets=%d cursor_hits=%d", n, hits);
}

/* ------------------------------------------------------------ allocation
 *
 * Allocations sized by the caller or by the kernel must fail the libdm way
 * (0/NULL and a log line), never abort the host ("memory allocation of N
 * bytes failed", SIGABRT). Each test caps the address space (RLIMIT_AS) a
 * little above what the process already uses, after building its own big
 * inputs, then asks the library for more than the cap. Not under ASan (its
 * shadow memory needs terabytes of address space). */

#include <sys/mman.h>
#include <sys/resource.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NO_RLIMIT() SKIP("RLIMIT_AS cannot be used under a sanitizer (run.sh runs these in the plain build)")
#else
#define NO_RLIMIT() do { } while (0)
#endif

#define MB (1024UL * 1024UL)

static size_t vm_bytes(void)
{
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void cap_memory(size_t extra)
{
	struct rlimit rl;

	rl.rlim_cur = rl.rlim_max = vm_bytes() + extra;
	REQUIRE(setrlimit(RLIMIT_AS, &rl) == 0);
}

/* a NUL-terminated string of n bytes, outside the heap */
static char *big_string(size_t n, char c)
{
	char *p = mmap(NULL, n + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE(p != MAP_FAILED);
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

static void alloc_setup(void)
{
	NO_RLIMIT();
	fk_reset();
	std_setup();
	dm_task_destroy(dm_task_create(DM_DEVICE_VERSION)); /* the handshake, before the cap */
	log_clear();
}

#define EXPECT_LIBDM_FAILURE(call) do {                                       \
	int r_ = (call);                                                          \
	CHECK_INT(r_, 0);                                                         \
	if (!r_ && !log_count(3))                                                 \
		h_fail(__FILE__, __LINE__, "%s failed without an error line", #call); \
	fact_info("%s: %s", #call, log_first(3) ? log_first(3) : "(no line)");    \
} while (0)

TEST(alloc_set_message, T_OURS)
{
	struct dm_task *dmt;
	char *msg;

	alloc_setup();
	msg = big_string(256 * MB, 'm');
	REQUIRE((dmt = new_task(DM_DEVICE_TARGET_MSG, TP "base")));
	cap_memory(32 * MB);
	EXPECT_LIBDM_FAILURE(dm_task_set_message(dmt, msg));
	dm_task_destroy(dmt);
}

TEST(alloc_set_geometry, T_OURS)
{
	struct dm_task *dmt;
	char *g;

	alloc_setup();
	g = big_string(64 * MB, '7');
	REQUIRE((dmt = new_task(DM_DEVICE_SET_GEOMETRY, TP "base")));
	cap_memory(32 * MB);
	EXPECT_LIBDM_FAILURE(dm_task_set_geometry(dmt, g, g, g, g));
	dm_task_destroy(dmt);
}

TEST(alloc_add_target_params, T_OURS)
{
	struct dm_task *dmt;
	char *p;

	alloc_setup();
	p = big_string(256 * MB, 'p');
	REQUIRE((dmt = new_task(DM_DEVICE_RELOAD, TP "base")));
	cap_memory(32 * MB);
	EXPECT_LIBDM_FAILURE(dm_task_add_target(dmt, 0, 8, "linear", p));
	dm_task_destroy(dmt);
}

TEST(alloc_run_big_table, T_OURS)
{
	struct dm_task *dmt;
	char *p;

	alloc_setup();
	p = big_string(96 * MB, 'p');
	REQUIRE((dmt = new_task(DM_DEVICE_RELOAD, TP "base")));
	CHECK_INT(dm_task_add_target(dmt, 0, 8, "linear", p), 1);
	munmap(p, 96 * MB + 1);
	cap_memory(64 * MB);
	EXPECT_LIBDM_FAILURE(dm_task_run(dmt));
	dm_task_destroy(dmt);
}

TEST(alloc_many_targets, T_OURS)
{
	struct dm_task *dmt;
	uint64_t i;
	int r = 1;

	alloc_setup();
	REQUIRE((dmt = new_task(DM_DEVICE_RELOAD, TP "base")));
	cap_memory(48 * MB);
	for (i = 0; i < 100000000 && r; i++)
		r = dm_task_add_target(dmt, i * 8, 8, "zero", "");
	CHECK_INT(r, 0);
	fact_info("targets added before running out of memory=%llu", (unsigned long long)i - 1);
	if (!r)
		CHECK(log_count(3) > 0);
	dm_task_destroy(dmt);
}

TEST(alloc_reply_buffer_cap, T_OURS)
{
	alloc_setup();
	fk_fault(-1, DM_LIST_DEVICES_CMD, FK_BUFFER_FULL, 0xffffffffL);
	cap_memory(16 * MB);
	EXPECT_LIBDM_FAILURE(dm_task_run(new_task(DM_DEVICE_LIST, NULL)));
}

/* a well-formed reply of many small records: the buffer fits under the
 * cap, anything the library allocates per record does not */
static void huge_reply(int type, int cmd, const char *name, size_t bytes, size_t room, int none)
{
	struct dm_task *dmt;
	int r;

	alloc_setup();
	if (none)
		dm_set_name_mangling_mode(DM_STRING_MANGLING_NONE);
	REQUIRE((dmt = new_task(type, name)));
	fk_fault(-1, cmd, FK_HUGE_LIST, (long)bytes);
	cap_memory(room);
	r = dm_task_run(dmt);
	if (r) {
		/* the getters walk the payload in place */
		switch (type) {
		case DM_DEVICE_LIST: r = walk_names(dmt) >= 0; break;
		case DM_DEVICE_LIST_VERSIONS: r = walk_versions(dmt, -1) >= 0; break;
		case DM_DEVICE_DEPS: r = walk_deps(dmt, -1) >= 0; break;
		default: r = walk_targets(dmt, NULL, NULL) > 0; break;
		}
	}
	fact_info("huge reply: %s, %d log lines", r ? "walked" : "failed", log_count(3));
	if (!r && !log_count(3))
		h_fail(__FILE__, __LINE__, "failed without an error line");
	dm_task_destroy(dmt);
}

TEST(alloc_huge_names_reply, T_OURS)
{
	huge_reply(DM_DEVICE_LIST, DM_LIST_DEVICES_CMD, NULL, 48 * MB, 96 * MB, 0);
}

TEST(alloc_huge_names_reply_no_mangling, T_OURS)
{
	huge_reply(DM_DEVICE_LIST, DM_LIST_DEVICES_CMD, NULL, 48 * MB, 96 * MB, 1);
}

TEST(alloc_huge_versions_reply, T_OURS)
{
	huge_reply(DM_DEVICE_LIST_VERSIONS, DM_LIST_VERSIONS_CMD, NULL, 48 * MB, 96 * MB, 0);
}

TEST(alloc_huge_deps_reply, T_OURS)
{
	huge_reply(DM_DEVICE_DEPS, DM_TABLE_DEPS_CMD, TP "top", 48 * MB, 96 * MB, 0);
}

TEST(alloc_huge_status_reply, T_OURS)
{
	huge_reply(DM_DEVICE_STATUS, DM_TABLE_STATUS_CMD, TP "top", 48 * MB, 96 * MB, 0);
}

TEST(alloc_huge_table_reply, T_OURS)
{
	huge_reply(DM_DEVICE_TABLE, DM_TABLE_STATUS_CMD, TP "top", 48 * MB, 96 * MB, 0);
}

TEST(alloc_pool, T_OURS)
{
	struct dm_pool *p;

	alloc_setup();
	REQUIRE((p = dm_pool_create("faults", 1024)));
	cap_memory(32 * MB);
	CHECK(dm_pool_alloc(p, 256 * MB) == NULL);
	CHECK(log_count(3) > 0);
	CHECK(dm_pool_strndup(p, "abc", 3) != NULL);
	dm_pool_destroy(p);
}

/* setters whose argument is checked for length: a huge one is refused
 * (after logging its text, as stock does) without aborting */
static void huge_setter(int which)
{
	struct dm_task *dmt;
	char *s;
	int r;

	alloc_setup();
	s = big_string(128 * MB, 'n');
	REQUIRE((dmt = dm_task_create(which == 4 ? DM_DEVICE_RELOAD : DM_DEVICE_RENAME)));
	cap_memory(64 * MB);
	switch (which) {
	case 0: r = dm_task_set_name(dmt, s); break;
	case 1: r = dm_task_set_uuid(dmt, s); break;
	case 2: r = dm_task_set_newname(dmt, s); break;
	case 3: r = dm_task_set_newuuid(dmt, s); break;
	default: r = dm_task_add_target(dmt, 0, 8, s, ""); break;
	}
	CHECK_INT(r, 0);
	CHECK(log_count(3) > 0);
	dm_task_destroy(dmt);
}

TEST(alloc_huge_name, T_OURS) { huge_setter(0); }
TEST(alloc_huge_uuid, T_OURS) { huge_setter(1); }
TEST(alloc_huge_newname, T_OURS) { huge_setter(2); }
TEST(alloc_huge_newuuid, T_OURS) { huge_setter(3); }
TEST(alloc_huge_target_type, T_OURS) { huge_setter(4); }

/* ------------------------------------------------------------ returned strings
 *
 * dm_dir(), dm_sysfs_dir() and dm_uuid_prefix() return stock's static
 * buffers: a pointer a caller (or another thread) still holds stays valid
 * after the setting changes. Under ASan a freed string is a report. */

TEST(returned_setting_strings_outlive_a_change, M)
{
	const char *d, *s, *u;
	char other[600];

	d = dm_dir();
	s = dm_sysfs_dir();
	u = dm_uuid_prefix();
	REQUIRE(d && s && u);
	snprintf(other, sizeof(other), "%s/other", h_tmpdir);
	CHECK_INT(dm_set_dev_dir(other), 1);
	CHECK_INT(dm_set_sysfs_dir(other), 1);
	CHECK_INT(dm_set_uuid_prefix("OTHER-"), 1);
	REQUIRE(dm_dir() && dm_sysfs_dir() && dm_uuid_prefix());
	/* the earlier pointers are still readable strings */
	fact("old pointers readable=%d", strlen(d) > 0 && strlen(s) > 0 && strlen(u) > 0);
}

/* the over-long name is quoted in the error line: the message fits, the
 * copies the log path makes of it must fail softly too */
TEST(alloc_huge_name_logged, T_OURS)
{
	struct dm_task *dmt;
	char *s;

	alloc_setup();
	s = big_string(96 * MB, 'n');
	REQUIRE((dmt = dm_task_create(DM_DEVICE_INFO)));
	cap_memory(160 * MB);
	CHECK_INT(dm_task_set_name(dmt, s), 0);
	CHECK(log_count(3) > 0);
	dm_task_destroy(dmt);
}

/* a path longer than any path: refused (as stat refuses it) without
 * copying it for the file system calls */
TEST(alloc_huge_path_name, T_OURS)
{
	struct dm_task *dmt;
	char *s;

	alloc_setup();
	s = big_string(96 * MB, 'p');
	s[0] = '/';
	REQUIRE((dmt = dm_task_create(DM_DEVICE_INFO)));
	cap_memory(64 * MB);
	CHECK_INT(dm_task_set_name(dmt, s), 0);
	CHECK(log_count(3) > 0);
	dm_task_destroy(dmt);
}
