/*
 * dm-bench: libdevmapper API micro-benchmark (see bench/README.md).
 *
 * Built once against the stock-compatible header (#include <libdevmapper.h>)
 * and linked with -ldevmapper (soname libdevmapper.so.1.02.1, no rpath), so
 * the same binary runs against the system's stock library or against ours,
 * chosen with LD_LIBRARY_PATH. Its workloads are bench-common.h's, shared
 * with dm-floor (the same operations as hand-written ioctls).
 *
 *   dm-bench setup N            create bench-base (zero, 8*N sectors),
 *                               bench-lin-0000..N-1 (linear, 8 sectors each on
 *                               bench-base) and bench-msg (zero, one dm-stats
 *                               region)
 *   dm-bench teardown           remove every device whose name starts "bench-"
 *   dm-bench run LABEL WL...    timed workloads, each in its own forked child;
 *                               WL: info status table deps message list
 *                               lifecycle bigtable startup (or "all")
 *   dm-bench callgrind          the callgrind regions, one after the other, in
 *                               this process (run it under
 *                               valgrind --tool=callgrind --collect-atstart=no)
 *   dm-bench libinfo            which libdevmapper got loaded
 *
 * Sizes and output: see bench-common.h. Exit status 1 when any ERR line was
 * printed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libdevmapper.h>

#include "bench-common.h"

/* ---- the operations: one task each, as dmsetup does ------------------------ */

static void op_init(void)
{
	dm_udev_set_sync_support(0);
}

static int do_info(const char *name, struct dm_info *info)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	int ok = dmt && dm_task_set_name(dmt, name) && dm_task_run(dmt) &&
		 dm_task_get_info(dmt, info);
	if (dmt)
		dm_task_destroy(dmt);
	return ok && info->exists;
}

static long op_info(const char *name)
{
	struct dm_info info;
	return do_info(name, &info) ? (long)info.target_count : -1;
}

static long op_targets(int table, const char *name)
{
	struct dm_task *dmt = dm_task_create(table ? DM_DEVICE_TABLE : DM_DEVICE_STATUS);
	long n = -1;
	if (dmt && dm_task_set_name(dmt, name) && dm_task_run(dmt)) {
		void *next = NULL;
		uint64_t start, length;
		char *ttype, *params;
		n = 0;
		do {
			next = dm_get_next_target(dmt, next, &start, &length, &ttype, &params);
			if (ttype)
				n++;
		} while (next);
	}
	if (dmt)
		dm_task_destroy(dmt);
	return n;
}

static long op_deps(const char *name)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_DEPS);
	long n = -1;
	struct dm_deps *deps;
	if (dmt && dm_task_set_name(dmt, name) && dm_task_run(dmt) &&
	    (deps = dm_task_get_deps(dmt)))
		n = (long)deps->count;
	if (dmt)
		dm_task_destroy(dmt);
	return n;
}

static long op_message(const char *name, const char *msg)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TARGET_MSG);
	long n = -1;
	if (dmt && dm_task_set_name(dmt, name) && dm_task_set_sector(dmt, 0) &&
	    dm_task_set_message(dmt, msg) && dm_task_run(dmt)) {
		const char *r = dm_task_get_message_response(dmt);
		n = r ? (long)strlen(r) : 0;
	}
	if (dmt)
		dm_task_destroy(dmt);
	return n;
}

static long op_list(void (*fn)(const char *, void *), void *arg)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST);
	long n = -1;
	struct dm_names *names;
	if (dmt && dm_task_run(dmt) && (names = dm_task_get_names(dmt))) {
		n = 0;
		if (names->dev) {
			unsigned next = 0;
			do {
				names = (struct dm_names *)((char *)names + next);
				if (fn)
					fn(names->name, arg);
				n++;
				next = names->next;
			} while (next);
		}
	}
	if (dmt)
		dm_task_destroy(dmt);
	return n;
}

/* The create task with its table (libdm issues CREATE, RELOAD and RESUME);
 * the cookie is set with udev sync off, as dmsetup does. */
static struct dm_task *create_task(const char *name, long n, const char *ttype, uint64_t len,
				   const char *params)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_CREATE);
	uint32_t cookie = 0;
	int ok = dmt && dm_task_set_name(dmt, name);
	for (long i = 0; ok && i < n; i++)
		ok = dm_task_add_target(dmt, (uint64_t)i * len, len, ttype, params);
	ok = ok && dm_task_set_cookie(dmt, &cookie, 0);
	if (!ok && dmt) {
		dm_task_destroy(dmt);
		dmt = NULL;
	}
	return dmt;
}

/* Run it, then flush the node operations as dmsetup does through
 * dm_udev_wait() with udev sync off (the library creates the node). */
static int run_create(struct dm_task *dmt)
{
	int ok = dm_task_run(dmt);
	dm_task_destroy(dmt);
	dm_task_update_nodes();
	return ok;
}

static int op_create(const char *name, long n, const char *ttype, uint64_t len,
		     const char *params)
{
	struct dm_task *dmt = create_task(name, n, ttype, len, params);
	return dmt && run_create(dmt);
}

static int op_remove(const char *name)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_REMOVE);
	uint32_t cookie = 0;
	int ok = dmt && dm_task_set_name(dmt, name) &&
		 dm_task_set_cookie(dmt, &cookie, 0) && dm_task_run(dmt);
	if (dmt)
		dm_task_destroy(dmt);
	dm_task_update_nodes();
	return ok;
}

static void *op_big_build(const char *name, long t)
{
	return create_task(name, t, "zero", 8, "");
}

static int op_big_load(void *req)
{
	return run_create(req);
}

static int op_startup_child(void)
{
	char v[64];
	struct dm_task *dmt = dm_task_create(DM_DEVICE_VERSION);
	int ok = dmt && dm_task_run(dmt) && dm_task_get_driver_version(dmt, v, sizeof(v));
	if (dmt)
		dm_task_destroy(dmt);
	return ok ? 0 : 1;
}

static void op_libinfo(void)
{
	Dl_info di;
	char v[128] = "";
	int (*getv)(char *, size_t) =
		(int (*)(char *, size_t))dlsym(RTLD_DEFAULT, "dm_get_library_version");
	if (getv)
		getv(v, sizeof(v));
	if (dladdr((void *)dm_task_create, &di) && di.dli_fname)
		printf("library %s version %s\n", di.dli_fname, v);
	else
		printf("library ? version %s\n", v);
}

/* ---- setup / teardown (population, made with whichever library runs) ------ */

static int cmd_setup(int n)
{
	struct dm_info info;
	char params[64];
	long r;

	if (!op_create(PREFIX "base", 1, "zero", 8ULL * n, ""))
		err("setup: create " PREFIX "base");
	if (!do_info(PREFIX "base", &info)) {
		err("setup: info " PREFIX "base");
		return 1;
	}
	make_lin_names(n);
	for (int i = 0; i < n; i++) {
		snprintf(params, sizeof(params), "%u:%u %d", info.major, info.minor, 8 * i);
		if (!op_create(lin_names[i], 1, "linear", 8, params)) {
			err("setup: create %s", lin_names[i]);
			return 1;
		}
	}
	if (!op_create(PREFIX "msg", 1, "zero", 8, ""))
		err("setup: create " PREFIX "msg");
	/* One dm-stats region over the whole device, so @stats_list answers. */
	if ((r = op_message(PREFIX "msg", "@stats_create - /1")) < 0)
		err("setup: @stats_create");
	if ((r = op_message(PREFIX "msg", "@stats_list")) <= 0)
		err("setup: @stats_list answered %ld bytes", r);
	return errors != 0;
}

struct namevec {
	char (*v)[NAME_LEN];
	int n, cap;
};

static void collect_bench(const char *name, void *arg)
{
	struct namevec *nv = arg;
	if (strncmp(name, PREFIX, strlen(PREFIX)))
		return;
	if (nv->n == nv->cap) {
		nv->cap = nv->cap ? 2 * nv->cap : 64;
		nv->v = realloc(nv->v, nv->cap * NAME_LEN);
	}
	snprintf(nv->v[nv->n++], NAME_LEN, "%s", name);
}

/* Remove bench-* devices; devices still in use (bench-base under the linear
 * ones) go in a later pass. */
static int cmd_teardown(void)
{
	for (int pass = 0; pass < 4; pass++) {
		struct namevec nv = { 0 };
		if (op_list(collect_bench, &nv) < 0) {
			err("teardown: list");
			return 1;
		}
		if (!nv.n) {
			free(nv.v);
			return errors != 0;
		}
		/* The base goes last within a pass. */
		for (int i = 0; i < nv.n; i++)
			if (strcmp(nv.v[i], PREFIX "base"))
				op_remove(nv.v[i]);
		for (int i = 0; i < nv.n; i++)
			if (!strcmp(nv.v[i], PREFIX "base"))
				op_remove(nv.v[i]);
		free(nv.v);
	}
	err("teardown: " PREFIX "* devices left after 4 passes");
	return 1;
}

static int cmd_extra(int argc, char **argv, int *rc)
{
	op_init();
	if (!strcmp(argv[1], "setup") && argc == 3) {
		*rc = cmd_setup(atoi(argv[2]));
		return 1;
	}
	if (!strcmp(argv[1], "teardown")) {
		*rc = cmd_teardown();
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	return bench_main(argc, argv,
			  "dm-bench setup N | teardown | run LABEL WL... | callgrind | libinfo");
}
