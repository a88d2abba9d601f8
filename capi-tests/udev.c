/* Udev synchronisation API: sync support, checking, cookies, waits.
 * Neither this host nor the VM runs udev, so sync support is always off;
 * the tests pin down the documented no-udev behaviour. */
#define _GNU_SOURCE
#include "harness.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void need_no_udev(void)
{
	if (access("/run/udev/control", F_OK) == 0)
		SKIP("udev is running here");
}

/* SysV semaphores whose key carries the libdm cookie magic */
static int count_cookie_sems(void)
{
	FILE *f = fopen("/proc/sysvipc/sem", "r");
	char line[512];
	long key;
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%ld", &key) == 1 && ((unsigned long)key >> 16) == 0x0D4D)
			n++;
	fclose(f);
	return n;
}

TEST(sync_support_without_udev, T_MATCH)
{
	int a, b, c;

	need_no_udev();
	a = dm_udev_get_sync_support();
	dm_udev_set_sync_support(1);
	b = dm_udev_get_sync_support();
	dm_udev_set_sync_support(0);
	c = dm_udev_get_sync_support();
	CHECK_INT(a, 0);
	CHECK_INT(b, 0);
	CHECK_INT(c, 0);
	fact("default=%d set1=%d set0=%d", a, b, c);
}

TEST(checking, T_MATCH)
{
	int a, b, c;

	a = dm_udev_get_checking();
	dm_udev_set_checking(0);
	b = dm_udev_get_checking();
	dm_udev_set_checking(1);
	c = dm_udev_get_checking();
	CHECK_INT(a, 1);
	CHECK_INT(b, 0);
	CHECK_INT(c, 1);
	fact("default=%d set0=%d set1=%d", a, b, c);
	CHECK_INT(log_count(4), 0);
}

/* stock stores the raw int */
TEST(checking_nonboolean, T_INFO)
{
	dm_udev_set_checking(5);
	fact("set5=%d", dm_udev_get_checking());
}

TEST(create_cookie_without_sync, T_MATCH)
{
	uint32_t cookie = 0xdeadbeef;
	int r, before, after;

	need_no_udev();
	before = count_cookie_sems();
	r = dm_udev_create_cookie(&cookie);
	after = count_cookie_sems();
	CHECK_INT(r, 1);
	CHECK_INT(cookie, 0);
	CHECK_INT(after, before);
	fact("r=%d cookie=%u new_semaphores=%d", r, cookie, after - before);
	dm_udev_set_sync_support(1);
	cookie = 7;
	r = dm_udev_create_cookie(&cookie);
	CHECK_INT(r, 1);
	CHECK_INT(cookie, 0);
	fact("forced: r=%d cookie=%u", r, cookie);
}

TEST(complete_and_wait_without_sync, T_MATCH)
{
	int a, b, c, d;

	need_no_udev();
	a = dm_udev_complete(0);
	b = dm_udev_complete(0x0D4D1234);
	c = dm_udev_wait(0);
	d = dm_udev_wait(0x0D4D1234);
	CHECK_INT(a, 1);
	CHECK_INT(b, 1);
	CHECK_INT(c, 1);
	CHECK_INT(d, 1);
	fact("complete(0)=%d complete(x)=%d wait(0)=%d wait(x)=%d", a, b, c, d);
	fact_logs_info("all", 4);
}

/* the quirk: with cookie 0 or no sync, ready stays 0 */
TEST(wait_immediate_quirk, T_MATCH)
{
	int ready = 55, r;

	need_no_udev();
	r = dm_udev_wait_immediate(0, &ready);
	CHECK_INT(r, 1);
	CHECK_INT(ready, 0);
	fact("cookie0: r=%d ready=%d", r, ready);
	ready = 55;
	r = dm_udev_wait_immediate(0x0D4D1234, &ready);
	CHECK_INT(r, 1);
	CHECK_INT(ready, 0);
	fact("cookieX: r=%d ready=%d", r, ready);
}

/* ---------------- with a kernel ---------------- */

/* no cookie: the node operation is stacked; wait_immediate(0) does not run
 * it (quirk), dm_udev_wait(0) does */
TEST(wait_runs_node_ops, T_MATCH | T_KERNEL)
{
	struct stat st;
	int ready = 55, a, b, c;

	need_no_udev();
	REQUIRE(dm_set_dev_dir(h_tmpdir));
	REQUIRE(create_dev(TP "uw", NULL, "0 8 zero"));
	a = stat(tmp_path("mapper/" TP "uw"), &st) == 0;
	CHECK_INT(dm_udev_wait_immediate(0, &ready), 1);
	b = stat(tmp_path("mapper/" TP "uw"), &st) == 0;
	CHECK_INT(dm_udev_wait(0), 1);
	c = stat(tmp_path("mapper/" TP "uw"), &st) == 0;
	CHECK_INT(a, 0);
	CHECK_INT(b, 0);
	CHECK_INT(c, 1);
	fact("node after run=%d after wait_immediate=%d (ready=%d) after wait=%d", a, b, ready, c);
	CHECK(remove_dev(TP "uw"));
	dm_udev_wait(0);
	CHECK(stat(tmp_path("mapper/" TP "uw"), &st) != 0);
}

/* the cookie flow as cryptsetup/lvm use it, with sync "forced" on */
TEST(cookie_flow_without_udev, T_MATCH | T_KERNEL)
{
	struct dm_task *dmt;
	struct stat st;
	struct dm_info info;
	uint32_t cookie = 0;
	int r, before, node, sems;

	need_no_udev();
	REQUIRE(dm_set_dev_dir(h_tmpdir));
	dm_udev_set_sync_support(1);
	CHECK_INT(dm_udev_get_sync_support(), 0);
	before = count_cookie_sems();

	dmt = task_for(DM_DEVICE_CREATE, TP "cookie");
	REQUIRE(dmt);
	REQUIRE(add_table(dmt, "0 8 zero"));
	r = dm_task_set_cookie(dmt, &cookie, 0);
	CHECK_INT(r, 1);
	CHECK_INT(cookie, 0);
	fact("set_cookie=%d cookie=%u", r, cookie);
	r = dm_task_run(dmt);
	CHECK_INT(r, 1);
	dm_task_destroy(dmt);
	r = dm_udev_wait(cookie);
	CHECK_INT(r, 1);
	node = stat(tmp_path("mapper/" TP "cookie"), &st) == 0 && S_ISBLK(st.st_mode);
	CHECK_INT(node, 1);
	REQUIRE(get_info(TP "cookie", &info) && info.exists);
	CHECK_INT(info.live_table, 1);
	CHECK_INT(info.suspended, 0);
	fact("wait=%d node=%d live=%d", r, node, info.live_table);

	/* remove with a cookie: node removed by the library fallback */
	dmt = task_for(DM_DEVICE_REMOVE, TP "cookie");
	REQUIRE(dmt);
	cookie = 0;
	CHECK_INT(dm_task_set_cookie(dmt, &cookie, DM_UDEV_LOW_PRIORITY_FLAG), 1);
	CHECK_INT(cookie, 0);
	CHECK_INT(dm_task_run(dmt), 1);
	dm_task_destroy(dmt);
	CHECK_INT(dm_udev_wait(cookie), 1);
	node = stat(tmp_path("mapper/" TP "cookie"), &st) == 0;
	CHECK_INT(node, 0);
	sems = count_cookie_sems();
	CHECK_INT(sems, before);
	fact("after remove node=%d new_semaphores=%d", node, sems - before);
	CHECK_INT(log_count(3), 0);
}

/* DISABLE_LIBRARY_FALLBACK: "udev will do it" -> no node is made */
TEST(cookie_disable_library_fallback, T_MATCH | T_KERNEL)
{
	struct dm_task *dmt;
	struct stat st;
	uint32_t cookie = 0;
	int node;

	need_no_udev();
	REQUIRE(dm_set_dev_dir(h_tmpdir));
	dmt = task_for(DM_DEVICE_CREATE, TP "nofb");
	REQUIRE(dmt);
	REQUIRE(add_table(dmt, "0 8 zero"));
	CHECK_INT(dm_task_set_cookie(dmt, &cookie, DM_UDEV_DISABLE_LIBRARY_FALLBACK), 1);
	CHECK_INT(dm_task_run(dmt), 1);
	dm_task_destroy(dmt);
	CHECK_INT(dm_udev_wait(cookie), 1);
	node = stat(tmp_path("mapper/" TP "nofb"), &st) == 0;
	CHECK_INT(node, 0);
	fact("node=%d", node);
	CHECK(remove_dev(TP "nofb"));
	dm_udev_wait(0);
}

TEST(cookie_on_non_uevent_task, T_MATCH | T_KERNEL)
{
	struct dm_task *dmt;
	uint32_t cookie = 0;
	int r1, r2;

	need_no_udev();
	dmt = task_for(DM_DEVICE_INFO, TP "none");
	REQUIRE(dmt);
	r1 = dm_task_set_cookie(dmt, &cookie, 0);
	r2 = dm_task_run(dmt);
	CHECK_INT(r1, 1);
	CHECK_INT(r2, 1);
	fact("set_cookie=%d run=%d cookie=%u", r1, r2, cookie);
	dm_task_destroy(dmt);
	CHECK_INT(dm_udev_wait(cookie), 1);
}
