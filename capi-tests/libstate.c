/* Library-wide state: versions, directories, uuid prefix, name mangling mode,
 * first contact with the driver, control fd lifecycle, sysfs device queries. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

int h_helper(const char *what)
{
	if (!strcmp(what, "mangling")) {
		printf("%d\n", (int)dm_get_name_mangling_mode());
		return 0;
	}
	return 2;
}

/* ---------------- no kernel needed ---------------- */

TEST(library_version, T_MATCH)
{
	char buf[64];
	int r;

	memset(buf, 'X', sizeof(buf));
	r = dm_get_library_version(buf, sizeof(buf));
	CHECK_INT(r, 1);
	CHECK_STR(buf, "1.02.185 (2022-05-18)");
	fact("version=%d '%s'", r, buf);

	/* exactly fits: 21 characters + NUL */
	memset(buf, 'X', sizeof(buf));
	r = dm_get_library_version(buf, 22);
	CHECK_INT(r, 1);
	fact("size22=%d '%s'", r, buf);

	/* too small: 0, truncated snprintf-style */
	memset(buf, 'X', sizeof(buf));
	r = dm_get_library_version(buf, 5);
	CHECK_INT(r, 0);
	buf[sizeof(buf) - 1] = '\0';
	fact("size5=%d '%.5s'", r, buf);
	r = dm_get_library_version(buf, 21);
	CHECK_INT(r, 0);
	fact("size21=%d", r);
	CHECK_INT(log_count(4), 0);
}

TEST(dev_dir_default, T_MATCH | T_DEVDIR)
{
	CHECK_STR(dm_dir(), "/dev/mapper");
	fact("dm_dir=%s", dm_dir());
}

TEST(set_dev_dir, T_MATCH | T_DEVDIR)
{
	int r;

	r = dm_set_dev_dir("/capitest/dev");
	CHECK_INT(r, 1);
	CHECK_STR(dm_dir(), "/capitest/dev/mapper");
	fact("abs=%d %s", r, dm_dir());

	r = dm_set_dev_dir("/capitest/dev2/");
	CHECK_INT(r, 1);
	CHECK_STR(dm_dir(), "/capitest/dev2/mapper");
	fact("slash=%d %s", r, dm_dir());

	r = dm_set_dev_dir("/");
	CHECK_INT(r, 1);
	fact("root=%d %s", r, dm_dir());

	log_clear();
	r = dm_set_dev_dir("relative/dev");
	CHECK_INT(r, 0);
	CHECK_STR(dm_dir(), "/mapper");
	CHECK(log_count(7) >= 1);
	fact("relative=%d %s logged=%d", r, dm_dir(), log_count(7) > 0);
	fact_info("relative first log: %s", log_first(7) ? log_first(7) : "-");

	r = dm_set_dev_dir("");
	CHECK_INT(r, 0);
	fact("empty=%d %s", r, dm_dir());
	CHECK_INT(log_count(3), 0);
}

TEST(sysfs_dir, T_MATCH)
{
	int r;

	CHECK_STR(dm_sysfs_dir(), "/sys/");
	fact("default=%s", dm_sysfs_dir());
	r = dm_set_sysfs_dir("/capitest/sys");
	CHECK_INT(r, 1);
	CHECK_STR(dm_sysfs_dir(), "/capitest/sys/");
	fact("abs=%d %s", r, dm_sysfs_dir());
	r = dm_set_sysfs_dir("/capitest/sys2/");
	CHECK_INT(r, 1);
	CHECK_STR(dm_sysfs_dir(), "/capitest/sys2/");
	fact("slash=%d %s", r, dm_sysfs_dir());
	r = dm_set_sysfs_dir("rel/sys");
	CHECK_INT(r, 0);
	CHECK_STR(dm_sysfs_dir(), "/capitest/sys2/");
	fact("relative=%d %s", r, dm_sysfs_dir());
	r = dm_set_sysfs_dir("");
	CHECK_INT(r, 1);
	CHECK_STR(dm_sysfs_dir(), "");
	fact("empty=%d '%s'", r, dm_sysfs_dir());
	dm_set_sysfs_dir("/sys");
	r = dm_set_sysfs_dir(NULL);
	CHECK_INT(r, 1);
	CHECK_STR(dm_sysfs_dir(), "");
	fact("null=%d '%s'", r, dm_sysfs_dir());
	CHECK_INT(log_count(3), 0);
}

TEST(uuid_prefix, T_MATCH)
{
	int r;

	CHECK_STR(dm_uuid_prefix(), "LVM-");
	fact("default=%s", dm_uuid_prefix());
	r = dm_set_uuid_prefix("CAPITEST-");
	CHECK_INT(r, 1);
	CHECK_STR(dm_uuid_prefix(), "CAPITEST-");
	r = dm_set_uuid_prefix("ABCDEFGHIJKLMNO"); /* 15: the maximum */
	CHECK_INT(r, 1);
	CHECK_STR(dm_uuid_prefix(), "ABCDEFGHIJKLMNO");
	fact("15chars=%d %s", r, dm_uuid_prefix());

	log_clear();
	r = dm_set_uuid_prefix("ABCDEFGHIJKLMNOP"); /* 16: too long */
	CHECK_INT(r, 0);
	CHECK_STR(dm_uuid_prefix(), "ABCDEFGHIJKLMNO");
	CHECK(log_has("too long", 3));
	fact("16chars=%d %s", r, dm_uuid_prefix());
	fact_logs("16chars", 4);

	r = dm_set_uuid_prefix("");
	CHECK_INT(r, 1);
	CHECK_STR(dm_uuid_prefix(), "");
	fact("empty=%d '%s'", r, dm_uuid_prefix());

	log_clear();
	r = dm_set_uuid_prefix(NULL);
	CHECK_INT(r, 0);
	CHECK_STR(dm_uuid_prefix(), "");
	fact("null=%d '%s'", r, dm_uuid_prefix());
}

TEST(mangling_mode, T_MATCH)
{
	const char *env = getenv("DM_DEFAULT_NAME_MANGLING_MODE");

	if (!env)
		CHECK_INT(dm_get_name_mangling_mode(), DM_STRING_MANGLING_AUTO);
	fact("default=%d", (int)dm_get_name_mangling_mode());
	CHECK_INT(dm_set_name_mangling_mode(DM_STRING_MANGLING_NONE), 1);
	CHECK_INT(dm_get_name_mangling_mode(), DM_STRING_MANGLING_NONE);
	CHECK_INT(dm_set_name_mangling_mode(DM_STRING_MANGLING_HEX), 1);
	CHECK_INT(dm_get_name_mangling_mode(), DM_STRING_MANGLING_HEX);
	CHECK_INT(dm_set_name_mangling_mode(DM_STRING_MANGLING_AUTO), 1);
	CHECK_INT(dm_get_name_mangling_mode(), DM_STRING_MANGLING_AUTO);
	CHECK_INT(log_count(4), 0);
}

/* stock stores any value without validation; ours may refuse it */
TEST(mangling_mode_invalid, T_INFO)
{
	int r = dm_set_name_mangling_mode((dm_string_mangling_t)7);

	fact("set7=%d get=%d errors=%d", r, (int)dm_get_name_mangling_mode(), log_count(3));
	r = dm_set_name_mangling_mode((dm_string_mangling_t)-1);
	fact("set-1=%d get=%d", r, (int)dm_get_name_mangling_mode());
}

/* the constructor reads DM_DEFAULT_NAME_MANGLING_MODE */
TEST(mangling_mode_env, T_MATCH)
{
	const char *vals[] = { "none", "auto", "hex", "NONE", "Hex", "bogus", NULL };
	char env[64];
	int i;

	for (i = 0; vals[i]; i++) {
		const char *out;

		snprintf(env, sizeof(env), "DM_DEFAULT_NAME_MANGLING_MODE=%s", vals[i]);
		out = run_helper("mangling", env, NULL);
		REQUIRE(out);
		fact("%s -> %s", vals[i], out);
		if (!strcmp(vals[i], "none") || !strcmp(vals[i], "NONE"))
			CHECK_STR(out, "0");
		if (!strcmp(vals[i], "hex") || !strcmp(vals[i], "Hex"))
			CHECK_STR(out, "2");
		if (!strcmp(vals[i], "auto"))
			CHECK_STR(out, "1");
	}
}

TEST(suspended_counter, T_MATCH)
{
	CHECK_INT(dm_get_suspended_counter(), 0);
	fact("counter=%d", dm_get_suspended_counter());
}

TEST(release_and_exit_without_use, T_MATCH)
{
	dm_task_update_nodes();
	dm_lib_release();
	dm_hold_control_dev(1);
	dm_lib_release();
	dm_hold_control_dev(0);
	dm_lib_release();
	dm_lib_exit();
	dm_lib_exit();
	CHECK_INT(log_count(4), 0);
	fact("errors=%d", log_count(4));
}

TEST(is_dm_major_without_driver, T_MATCH | T_NOKERNEL)
{
	int ones = 0;
	uint32_t m;

	for (m = 0; m < 512; m++)
		ones += dm_is_dm_major(m);
	CHECK_INT(ones, 0);
	fact("majors=%d", ones);
	fact_info("errors=%d", log_count(3));
}

/* first contact without the driver: NULL and the classic failure lines */
TEST(task_create_without_driver, T_MATCH | T_NOKERNEL)
{
	struct dm_task *dmt;
	struct stat st;
	char path[600];

	dmt = dm_task_create(DM_DEVICE_INFO);
	CHECK(dmt == NULL);
	if (dmt)
		dm_task_destroy(dmt);
	CHECK(log_has("Failure to communicate with kernel device-mapper driver.", 3));
	CHECK(log_has("Incompatible libdevmapper 1.02.185 (2022-05-18) and kernel driver (unknown version).", 3));
	if (geteuid() == 0)
		CHECK(log_has("Check that device-mapper is available in the kernel.", 3));
	fact("first=%s", dmt ? "task" : "NULL");
	fact_logs("first", 4);
	fact_logs_info("first.notice", 5);

	/* control node and directory were created anyway */
	snprintf(path, sizeof(path), "%s/mapper", h_tmpdir);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	fact("mapper dir=%d mode=%o", S_ISDIR(st.st_mode), st.st_mode & 07777);
	snprintf(path, sizeof(path), "%s/mapper/control", h_tmpdir);
	REQUIRE(stat(path, &st) == 0);
	CHECK(S_ISCHR(st.st_mode));
	CHECK_INT(major(st.st_rdev), 10);
	CHECK_INT(minor(st.st_rdev), 236);
	CHECK_INT(st.st_mode & 07777, 0600);
	fact("control chr=%d rdev=%u:%u mode=%o", S_ISCHR(st.st_mode), major(st.st_rdev),
	     minor(st.st_rdev), st.st_mode & 07777);

	/* the failure is cached: silent NULL */
	log_clear();
	dmt = dm_task_create(DM_DEVICE_LIST);
	CHECK(dmt == NULL);
	CHECK_INT(log_count(4), 0);
	fact("second=%s errors=%d", dmt ? "task" : "NULL", log_count(4));
	if (dmt)
		dm_task_destroy(dmt);

	/* dm_lib_exit resets the cache: the check runs (and fails) again */
	dm_lib_exit();
	log_clear();
	dmt = dm_task_create(DM_DEVICE_VERSION);
	CHECK(dmt == NULL);
	CHECK(log_has("Failure to communicate with kernel device-mapper driver.", 3));
	fact("after_exit=%s", dmt ? "task" : "NULL");
	fact_logs("after_exit", 4);
	if (dmt)
		dm_task_destroy(dmt);
}

/* a bogus type is not validated by dm_task_create: same failure */
TEST(task_create_bad_type_without_driver, T_MATCH | T_NOKERNEL)
{
	struct dm_task *dmt = dm_task_create(99);

	CHECK(dmt == NULL);
	CHECK(log_has("Failure to communicate with kernel device-mapper driver.", 3));
	fact("create99=%s", dmt ? "task" : "NULL");
	fact_logs("create99", 3);
	if (dmt)
		dm_task_destroy(dmt);
}

/* a regular file where the control node should be is replaced */
TEST(control_node_replaced, T_MATCH | T_NOKERNEL)
{
	struct stat st;
	struct dm_task *dmt;
	int fd;

	REQUIRE(mkdir(tmp_path("mapper"), 0755) == 0);
	fd = open(tmp_path("mapper/control"), O_CREAT | O_WRONLY, 0644);
	REQUIRE(fd >= 0);
	close(fd);
	dmt = dm_task_create(DM_DEVICE_VERSION);
	CHECK(dmt == NULL);
	REQUIRE(stat(tmp_path("mapper/control"), &st) == 0);
	CHECK(S_ISCHR(st.st_mode));
	fact("chr=%d rdev=%u:%u", S_ISCHR(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
	fact_logs("replace", 3);
	if (dmt)
		dm_task_destroy(dmt);
}

TEST(driver_queries_without_driver, T_MATCH | T_NOKERNEL)
{
	char buf[64] = "";
	int r;

	r = dm_driver_version(buf, sizeof(buf));
	CHECK_INT(r, 0);
	fact("dm_driver_version=%d", r);
	r = dm_mknodes(NULL);
	CHECK_INT(r, 0);
	fact("dm_mknodes(NULL)=%d", r);
	r = dm_mknodes("capitest-x");
	CHECK_INT(r, 0);
	fact("dm_mknodes(name)=%d", r);
	r = dm_cookie_supported();
	CHECK_INT(r, 0);
	fact("dm_cookie_supported=%d", r);
	fact_logs("all", 3);
}

/* ---- sysfs-based device queries, against a fake sysfs tree ---- */

static void make_fake_sysfs(void)
{
	REQUIRE(mkdir(tmp_path("sys"), 0755) == 0);
	REQUIRE(mkdir(tmp_path("sys/dev"), 0755) == 0);
	REQUIRE(mkdir(tmp_path("sys/dev/block"), 0755) == 0);
	REQUIRE(mkdir(tmp_path("sys/devices"), 0755) == 0);
	REQUIRE(mkdir(tmp_path("sys/devices/loop0"), 0755) == 0);
	REQUIRE(mkdir(tmp_path("sys/devices/loop0/holders"), 0755) == 0);
	REQUIRE(mkdir(tmp_path("sys/devices/loop1"), 0755) == 0);
	REQUIRE(mkdir(tmp_path("sys/devices/loop1/holders"), 0755) == 0);
	REQUIRE(mkdir(tmp_path("sys/fs"), 0755) == 0);
	REQUIRE(mkdir(tmp_path("sys/fs/ext4"), 0755) == 0);
	REQUIRE(mkdir(tmp_path("sys/fs/ext4/loop1"), 0755) == 0);
	REQUIRE(mkdir(tmp_path("sys/fs/xfs"), 0755) == 0);
	REQUIRE(close(open(tmp_path("sys/devices/loop0/holders/dm-7"), O_CREAT | O_WRONLY, 0644)) == 0);
	REQUIRE(symlink("../../devices/loop0", tmp_path("sys/dev/block/7:0")) == 0);
	REQUIRE(symlink("../../devices/loop1", tmp_path("sys/dev/block/7:1")) == 0);
	REQUIRE(dm_set_sysfs_dir(tmp_path("sys")) == 1);
}

TEST(device_get_name_fake_sysfs, T_MATCH)
{
	char buf[64];
	int r;

	make_fake_sysfs();
	memset(buf, 0, sizeof(buf));
	r = dm_device_get_name(7, 0, 0, buf, sizeof(buf));
	CHECK_INT(r, 1);
	CHECK_STR(buf, "loop0");
	fact("7:0 dm-name=%d '%s'", r, buf);
	memset(buf, 0, sizeof(buf));
	r = dm_device_get_name(7, 1, 1, buf, sizeof(buf));
	CHECK_INT(r, 1);
	CHECK_STR(buf, "loop1");
	fact("7:1 kernel-name=%d '%s'", r, buf);

	/* exact fit (5 chars + NUL) and one byte short */
	memset(buf, 0, sizeof(buf));
	r = dm_device_get_name(7, 0, 1, buf, 6);
	fact("size6=%d '%s'", r, buf);
	CHECK_INT(r, 1);
	log_clear();
	memset(buf, 0, sizeof(buf));
	r = dm_device_get_name(7, 0, 1, buf, 5);
	CHECK_INT(r, 0);
	CHECK(log_count(3) >= 1);
	fact("size5=%d errors=%d", r, log_count(3) > 0);
	fact_logs_info("size5", 3);

	/* missing device */
	log_clear();
	memset(buf, 0, sizeof(buf));
	r = dm_device_get_name(7, 9, 1, buf, sizeof(buf));
	CHECK_INT(r, 0);
	fact("7:9=%d errors=%d", r, log_count(3) > 0);
	fact_logs_info("7:9", 4);

	/* sysfs disabled */
	dm_set_sysfs_dir("");
	log_clear();
	r = dm_device_get_name(7, 0, 1, buf, sizeof(buf));
	CHECK_INT(r, 0);
	fact("nosysfs=%d errors=%d", r, log_count(3));
}

TEST(device_holders_mounted_fake_sysfs, T_MATCH)
{
	int a, b, c;

	make_fake_sysfs();
	a = dm_device_has_holders(7, 0);
	b = dm_device_has_holders(7, 1);
	log_clear();
	c = dm_device_has_holders(7, 9);
	CHECK_INT(a, 1);
	CHECK_INT(b, 0);
	CHECK_INT(c, 0);
	fact("holders 7:0=%d 7:1=%d 7:9=%d", a, b, c);
	fact_logs_info("holders 7:9", 4);

	a = dm_device_has_mounted_fs(7, 0);
	b = dm_device_has_mounted_fs(7, 1);
	log_clear();
	c = dm_device_has_mounted_fs(7, 9);
	CHECK_INT(a, 0);
	CHECK_INT(b, 1);
	CHECK_INT(c, 0);
	fact("mounted 7:0=%d 7:1=%d 7:9=%d", a, b, c);
	fact_logs_info("mounted 7:9", 4);

	dm_set_sysfs_dir("");
	a = dm_device_has_holders(7, 0);
	b = dm_device_has_mounted_fs(7, 1);
	fact("nosysfs holders=%d mounted=%d", a, b);
}

/* ---------------- with a kernel ---------------- */

TEST(driver_version, T_MATCH | T_KERNEL)
{
	char buf[64] = "", buf2[64] = "";
	unsigned a, b, c;
	struct dm_task *dmt;
	int r;

	r = dm_driver_version(buf, sizeof(buf));
	CHECK_INT(r, 1);
	CHECK(sscanf(buf, "%u.%u.%u", &a, &b, &c) == 3 && a == 4);
	fact("dm_driver_version=%d %s", r, buf);

	dmt = run_for(DM_DEVICE_VERSION, NULL);
	REQUIRE(dmt);
	r = dm_task_get_driver_version(dmt, buf2, sizeof(buf2));
	CHECK_INT(r, 1);
	CHECK_STR(buf2, buf);
	memset(buf2, 'X', sizeof(buf2));
	r = dm_task_get_driver_version(dmt, buf2, 4);
	buf2[sizeof(buf2) - 1] = '\0';
	fact("size4=%d '%.4s'", r, buf2);
	dm_task_destroy(dmt);
	CHECK_INT(log_count(3), 0);
}

TEST(control_fd_lifecycle, T_MATCH | T_KERNEL)
{
	int n0, n1, n2, n3, n4;

	n0 = count_fds_to("mapper/control");
	CHECK(simple_task(DM_DEVICE_VERSION, NULL));
	n1 = count_fds_to("mapper/control");
	dm_lib_release();
	n2 = count_fds_to("mapper/control");
	dm_hold_control_dev(1);
	CHECK(simple_task(DM_DEVICE_LIST, NULL));
	dm_lib_release();
	n3 = count_fds_to("mapper/control");
	dm_hold_control_dev(0);
	dm_lib_release();
	n4 = count_fds_to("mapper/control");
	CHECK_INT(n0, 0);
	CHECK_INT(n1, 1);
	CHECK_INT(n2, 0);
	CHECK_INT(n3, 1);
	CHECK_INT(n4, 0);
	fact("fds: start=%d run=%d release=%d held=%d unheld=%d", n0, n1, n2, n3, n4);
	/* a run after release reopens */
	CHECK(simple_task(DM_DEVICE_VERSION, NULL));
	CHECK_INT(count_fds_to("mapper/control"), 1);
}

TEST(control_fd_cloexec, T_INFO | T_KERNEL)
{
	char path[64], target[256];
	int fd, flags = -1;
	ssize_t len;

	REQUIRE(simple_task(DM_DEVICE_VERSION, NULL));
	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strstr(target, "mapper/control")) {
			flags = fcntl(fd, F_GETFD);
			break;
		}
	}
	fact("FD_CLOEXEC=%d", flags < 0 ? -1 : !!(flags & FD_CLOEXEC));
}

TEST(lib_exit_then_reuse, T_MATCH | T_KERNEL)
{
	CHECK(simple_task(DM_DEVICE_VERSION, NULL));
	dm_lib_exit();
	CHECK_INT(count_fds_to("mapper/control"), 0);
	CHECK(simple_task(DM_DEVICE_VERSION, NULL));
	CHECK_INT(log_count(3), 0);
}

TEST(cookie_supported_kernel, T_MATCH | T_KERNEL)
{
	CHECK_INT(dm_cookie_supported(), 1);
	fact("cookie_supported=%d", dm_cookie_supported());
}

TEST(is_dm_major_kernel, T_MATCH | T_KERNEL)
{
	uint32_t maj;

	REQUIRE(create_dev(TP "major", NULL, "0 8 zero"));
	maj = dm_major_of(TP "major");
	REQUIRE(maj);
	CHECK_INT(dm_is_dm_major(maj), 1);
	CHECK_INT(dm_is_dm_major(7), 0);
	CHECK_INT(dm_is_dm_major(1), 0);
	fact("dm=%d loop=%d mem=%d", dm_is_dm_major(maj), dm_is_dm_major(7), dm_is_dm_major(1));
	CHECK(remove_dev(TP "major"));
}

TEST(device_sysfs_kernel, T_MATCH | T_KERNEL)
{
	struct dm_info base, top;
	char buf[128], table[128];
	int r;

	REQUIRE(create_dev(TP "sysbase", NULL, "0 64 zero"));
	REQUIRE(get_info(TP "sysbase", &base) && base.exists);
	snprintf(table, sizeof(table), "0 64 linear %u:%u 0", base.major, base.minor);
	REQUIRE(create_dev(TP "systop", NULL, table));
	REQUIRE(get_info(TP "systop", &top) && top.exists);

	r = dm_device_get_name(top.major, top.minor, 0, buf, sizeof(buf));
	CHECK_INT(r, 1);
	CHECK_STR(buf, TP "systop");
	fact("dm-name=%d %s", r, buf);
	r = dm_device_get_name(top.major, top.minor, 1, buf, sizeof(buf));
	CHECK_INT(r, 1);
	CHECK(!strncmp(buf, "dm-", 3));
	fact("kernel-name=%d prefix=%.3s", r, buf);

	CHECK_INT(dm_device_has_holders(base.major, base.minor), 1);
	CHECK_INT(dm_device_has_holders(top.major, top.minor), 0);
	CHECK_INT(dm_device_has_mounted_fs(base.major, base.minor), 0);
	CHECK_INT(dm_device_has_mounted_fs(top.major, top.minor), 0);
	fact("holders base=%d top=%d", dm_device_has_holders(base.major, base.minor),
	     dm_device_has_holders(top.major, top.minor));
	CHECK(remove_dev(TP "systop"));
	CHECK(remove_dev(TP "sysbase"));
}

static int sh(const char *cmd)
{
	int st = system(cmd);

	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

TEST(device_mounted_fs_kernel, T_MATCH | T_KERNEL)
{
	char cmd[1024], table[128], loopdev[64] = "", dev[160];
	struct dm_info info;
	FILE *f;
	int r1, r2;

	/* a loop device over a file in the tmp dir, ext2 on a dm linear on top */
	snprintf(cmd, sizeof(cmd), "truncate -s 8M %s/img && losetup -f --show %s/img > %s/loop 2>/dev/null",
		 h_tmpdir, h_tmpdir, h_tmpdir);
	if (!sh(cmd))
		SKIP("no loop device support (losetup)");
	f = fopen(tmp_path("loop"), "r");
	if (!f || !fgets(loopdev, sizeof(loopdev), f))
		SKIP("losetup printed nothing");
	fclose(f);
	loopdev[strcspn(loopdev, "\n")] = '\0';
	snprintf(table, sizeof(table), "0 16384 linear %s 0", loopdev);
	if (!create_dev(TP "fs", NULL, table)) {
		snprintf(cmd, sizeof(cmd), "losetup -d %s", loopdev);
		sh(cmd);
		REQUIRE(0);
	}
	REQUIRE(get_info(TP "fs", &info) && info.exists);
	dm_task_update_nodes();
	snprintf(dev, sizeof(dev), "%s/" TP "fs", dm_dir());
	snprintf(cmd, sizeof(cmd), "mkfs.ext2 -q %s >/dev/null 2>&1 && mkdir -p %s/mnt && mount -t ext2 %s %s/mnt 2>/dev/null",
		 dev, h_tmpdir, dev, h_tmpdir);
	if (!sh(cmd)) {
		remove_dev(TP "fs");
		snprintf(cmd, sizeof(cmd), "losetup -d %s", loopdev);
		sh(cmd);
		SKIP("cannot mkfs.ext2/mount the dm device");
	}
	r1 = dm_device_has_mounted_fs(info.major, info.minor);
	snprintf(cmd, sizeof(cmd), "umount %s/mnt", h_tmpdir);
	sh(cmd);
	r2 = dm_device_has_mounted_fs(info.major, info.minor);
	CHECK_INT(r1, 1);
	CHECK_INT(r2, 0);
	fact("mounted=%d unmounted=%d", r1, r2);
	CHECK(remove_dev(TP "fs"));
	snprintf(cmd, sizeof(cmd), "losetup -d %s", loopdev);
	sh(cmd);
}

/* dm_mknodes stacks node operations; they run on dm_task_update_nodes */
TEST(mknodes_private_dir, T_MATCH | T_KERNEL)
{
	struct stat st;
	struct dm_info info;
	int before, after, r;

	REQUIRE(dm_set_dev_dir(h_tmpdir));
	REQUIRE(create_dev(TP "mk", NULL, "0 8 zero"));
	REQUIRE(get_info(TP "mk", &info) && info.exists);
	dm_task_update_nodes();
	REQUIRE(stat(tmp_path("mapper/" TP "mk"), &st) == 0);
	CHECK(S_ISBLK(st.st_mode));
	CHECK_INT(major(st.st_rdev), info.major);
	CHECK_INT(minor(st.st_rdev), info.minor);

	REQUIRE(unlink(tmp_path("mapper/" TP "mk")) == 0);
	r = dm_mknodes(TP "mk");
	CHECK_INT(r, 1);
	before = stat(tmp_path("mapper/" TP "mk"), &st) == 0;
	dm_task_update_nodes();
	after = stat(tmp_path("mapper/" TP "mk"), &st) == 0;
	CHECK_INT(after, 1);
	fact("mknodes(name)=%d node before update=%d after=%d", r, before, after);

	/* a stale node of a device that does not exist goes away with dm_mknodes(NULL) */
	REQUIRE(mknod(tmp_path("mapper/" TP "stale"), S_IFBLK | 0600, makedev(1, 1)) == 0);
	REQUIRE(unlink(tmp_path("mapper/" TP "mk")) == 0);
	r = dm_mknodes(NULL);
	CHECK_INT(r, 1);
	dm_task_update_nodes();
	CHECK(stat(tmp_path("mapper/" TP "stale"), &st) != 0);
	CHECK(stat(tmp_path("mapper/" TP "mk"), &st) == 0);
	CHECK(stat(tmp_path("mapper/control"), &st) == 0 && S_ISCHR(st.st_mode));
	fact("mknodes(NULL)=%d stale=%d mk=%d control=%d", r,
	     stat(tmp_path("mapper/" TP "stale"), &st) == 0,
	     stat(tmp_path("mapper/" TP "mk"), &st) == 0,
	     stat(tmp_path("mapper/control"), &st) == 0);
	CHECK(remove_dev(TP "mk"));
	dm_task_update_nodes();
	CHECK(stat(tmp_path("mapper/" TP "mk"), &st) != 0);
	CHECK_INT(log_count(3), 0);
	log_dump(4);
}
