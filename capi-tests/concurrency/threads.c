/*
 * Concurrency: N threads x M operations over every thread-relevant export,
 * against the fake driver (capi-tests/faults/fakedm.c), built with
 * ThreadSanitizer. Tasks of every kind run on private handles while other
 * threads flip the process-wide settings (dev dir, mangling mode, udev sync
 * and checking, verbosity, log callbacks of both styles), release and hold
 * the control device, and a log callback calls back into the library from
 * its log lines. A pass: no ThreadSanitizer report (the run fails with its
 * exit code), no deadlock (the harness's alarm), every thread finished.
 *
 * The settings are process-wide: what a task sees is whichever value was
 * set last (docs/thread-safety.md); the test checks only that nothing races
 * or hangs and that tasks on private handles stay correct.
 *
 * THREADS_N (threads, default 8), THREADS_M (operations each, default 150).
 */
#define _GNU_SOURCE
#include "../harness.h"
#include "../faults/fakedm.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

static int nthreads = 8, nops = 150;
static atomic_int log_lines, reentries, done_threads, failures_seen;
static _Thread_local int in_callback;

static void env_sizes(void)
{
	const char *s;

	if ((s = getenv("THREADS_N")) && atoi(s) > 0)
		nthreads = atoi(s);
	if ((s = getenv("THREADS_M")) && atoi(s) > 0)
		nops = atoi(s);
	if (nthreads > 64)
		nthreads = 64;
}

static void setup_devices(void)
{
	int i;
	char name[64];

	fk_reset();
	fk_add_device(TP "base", "CAPI-base", "0 2048 zero", 0);
	fk_add_device(TP "top", "CAPI-top", "0 1024 linear 253:0 0\n1024 1024 linear 253:0 1024", 0);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), TP "dev%d", i);
		fk_add_device(name, NULL, "0 8 zero", 0);
	}
	fk_message_reply("hello", "world");
}

/* a task on a private handle, every getter of its type; 1 if it worked */
static int info_task(const char *name)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	struct dm_info info;
	int ok = 0;

	if (!dmt)
		return 0;
	if (dm_task_set_name(dmt, name) && dm_task_run(dmt) && dm_task_get_info(dmt, &info)) {
		const char *n = dm_task_get_name(dmt);
		ok = info.exists && n && !strcmp(n, name);
	}
	dm_task_destroy(dmt);
	return ok;
}

/* the log callback: counts lines and, outside a nested call, calls back
 * into the library from some of them */
static void reentrant_log(int level, const char *file, int line, int dm_errno_or_class,
			  const char *f, ...)
{
	(void)level;
	(void)file;
	(void)line;
	(void)dm_errno_or_class;
	(void)f;
	if (atomic_fetch_add(&log_lines, 1) % 8 || in_callback)
		return;
	in_callback = 1;
	atomic_fetch_add(&reentries, 1);
	(void)dm_log_is_non_default();
	(void)dm_get_name_mangling_mode();
	(void)dm_udev_get_sync_support();
	(void)info_task(TP "base");
	in_callback = 0;
}

static void old_style_log(int level, const char *file, int line, const char *f, ...)
{
	(void)level;
	(void)file;
	(void)line;
	(void)f;
	atomic_fetch_add(&log_lines, 1);
}

static void op_list(void)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST);
	struct dm_names *n;
	unsigned next = 0;
	int c = 0;

	if (dmt && dm_task_run(dmt) && (n = dm_task_get_names(dmt)) && n->dev) {
		do {
			n = (struct dm_names *)((char *)n + next);
			(void)strlen(n->name);
			next = n->next;
		} while (next && ++c < 1000);
	}
	if (dmt)
		dm_task_destroy(dmt);
}

static void op_table(int type)
{
	struct dm_task *dmt = dm_task_create(type);
	void *next = NULL;
	uint64_t s, l;
	char *t, *p;
	int c = 0;

	if (dmt && dm_task_set_name(dmt, TP "top") && dm_task_run(dmt)) {
		do {
			next = dm_get_next_target(dmt, next, &s, &l, &t, &p);
			if (t && p)
				(void)(strlen(t) + strlen(p));
		} while (next && ++c < 100);
	}
	if (dmt)
		dm_task_destroy(dmt);
}

static void op_create_remove(int thread, int i)
{
	char name[64];
	struct dm_task *dmt;

	snprintf(name, sizeof(name), TP "t%d-%d", thread, i);
	if ((dmt = dm_task_create(DM_DEVICE_CREATE))) {
		if (dm_task_set_name(dmt, name) && dm_task_add_target(dmt, 0, 8, "zero", ""))
			(void)dm_task_run(dmt);
		dm_task_destroy(dmt);
	}
	if ((dmt = dm_task_create(DM_DEVICE_REMOVE))) {
		if (dm_task_set_name(dmt, name))
			(void)dm_task_run(dmt);
		dm_task_destroy(dmt);
	}
}

static void op_message(void)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TARGET_MSG);
	const char *r;

	if (dmt && dm_task_set_name(dmt, TP "base") && dm_task_set_sector(dmt, 0) &&
	    dm_task_set_message(dmt, "hello") && dm_task_run(dmt)) {
		r = dm_task_get_message_response(dmt);
		if (!r || strcmp(r, "world"))
			atomic_fetch_add(&failures_seen, 1);
	}
	if (dmt)
		dm_task_destroy(dmt);
}

static void op_tree(void)
{
	struct dm_tree *t = dm_tree_create();
	void *h = NULL;
	struct dm_tree_node *c;

	if (!t)
		return;
	(void)dm_tree_add_dev(t, 253, 1);
	while ((c = dm_tree_next_child(&h, dm_tree_find_node(t, 0, 0), 0)))
		(void)dm_tree_node_get_name(c);
	dm_tree_free(t);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg, i;

	for (i = 0; i < nops; i++) {
		switch ((i + id) % 16) {
		case 0: if (!info_task(TP "base")) atomic_fetch_add(&failures_seen, 1); break;
		case 1: op_list(); break;
		case 2: op_table(DM_DEVICE_TABLE); break;
		case 3: op_table(DM_DEVICE_STATUS); break;
		case 4: op_create_remove(id, i); break;
		case 5: op_message(); break;
		case 6: dm_set_name_mangling_mode(i & 1 ? DM_STRING_MANGLING_AUTO : DM_STRING_MANGLING_NONE); break;
		case 7: dm_udev_set_sync_support(i & 1); dm_udev_set_checking(i & 2); break;
		case 8: dm_log_init_verbose(i % 8); break;
		case 9:
			if (i & 1)
				dm_log_with_errno_init(reentrant_log);
			else
				dm_log_init(old_style_log);
			break;
		case 10: dm_lib_release(); break;
		case 11: dm_hold_control_dev(i & 1); break;
		case 12: dm_set_dev_dir(h_tmpdir); break;
		case 13: op_tree(); break;
		case 14: dm_task_update_nodes(); break;
		default: (void)dm_get_name_mangling_mode(); (void)dm_udev_get_sync_support(); (void)dm_log_is_non_default(); break;
		}
	}
	atomic_fetch_add(&done_threads, 1);
	return NULL;
}

static void run_threads(void)
{
	pthread_t th[64];
	int i;

	for (i = 0; i < nthreads; i++)
		REQUIRE(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
}

TEST(every_export_from_many_threads, T_INFO)
{
	env_sizes();
	setup_devices();
	dm_log_with_errno_init(reentrant_log);
	dm_log_init_verbose(7);
	alarm(400);
	run_threads();
	alarm(0);
	CHECK_INT(atomic_load(&done_threads), nthreads);
	CHECK_INT(atomic_load(&failures_seen), 0);
	fact_info("threads=%d ops=%d log lines=%d re-entries from the log callback=%d", nthreads,
		  nops, atomic_load(&log_lines), atomic_load(&reentries));
	h_note("%d threads x %d ops, %d log lines, %d re-entries, %d ioctls", nthreads, nops,
	       atomic_load(&log_lines), atomic_load(&reentries), fk_calls());
	CHECK(atomic_load(&reentries) > 0);
}

/* every log line calls into the library: tasks from many threads, one of
 * them releasing the control device and switching verbosity meanwhile */
static void *reenter_worker(void *arg)
{
	int i, id = (int)(intptr_t)arg;

	for (i = 0; i < nops / 2; i++) {
		if (!info_task(TP "top"))
			atomic_fetch_add(&failures_seen, 1);
		if (id == 0 && i % 10 == 0)
			dm_lib_release();
		if (id == 1)
			dm_log_init_verbose(i % 2 ? 7 : 3);
	}
	atomic_fetch_add(&done_threads, 1);
	return NULL;
}

TEST(log_callback_reentry_does_not_deadlock, T_INFO)
{
	pthread_t th[64];
	int i;

	env_sizes();
	setup_devices();
	dm_log_with_errno_init(reentrant_log);
	dm_log_init_verbose(7);
	alarm(400);
	for (i = 0; i < nthreads; i++)
		REQUIRE(pthread_create(&th[i], NULL, reenter_worker, (void *)(intptr_t)i) == 0);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	alarm(0);
	CHECK_INT(atomic_load(&done_threads), nthreads);
	CHECK_INT(atomic_load(&failures_seen), 0);
	CHECK(atomic_load(&reentries) > 0);
	fact_info("log lines=%d re-entries=%d", atomic_load(&log_lines), atomic_load(&reentries));
}
