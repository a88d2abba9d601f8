/* Result getters against the kernel: info, table/status iteration, deps,
 * names, versions, target version, errno, timestamps, names/uuids with
 * mangling, driver version. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/sysmacros.h>

#define K (T_MATCH | T_KERNEL)

static void walk_targets(struct dm_task *dmt, const char *tag, const char *const expect[][4], int nexp)
{
	void *next = NULL;
	uint64_t start, len;
	char *type, *params;
	int i = 0;

	do {
		next = dm_get_next_target(dmt, next, &start, &len, &type, &params);
		if (!type)
			break;
		fact("%s[%d] %llu %llu %s '%s'", tag, i, (unsigned long long)start,
		     (unsigned long long)len, type, params ? params : "(null)");
		if (i < nexp) {
			CHECK_INT(start, strtoull(expect[i][0], NULL, 10));
			CHECK_INT(len, strtoull(expect[i][1], NULL, 10));
			CHECK_STR(type, expect[i][2]);
			if (expect[i][3])
				CHECK_STR(params, expect[i][3]);
		}
		i++;
	} while (next && i < 64);
	CHECK_INT(i, nexp);
	fact("%s count=%d", tag, i);
}

TEST(table_and_status_iteration, K)
{
	struct dm_task *dmt;
	char table[256], base[32];
	const char *exp_table[3][4] = {
		{ "0", "100", "zero", "" },
		{ "100", "200", "error", "" },
		{ "300", "50", "linear", NULL },
	};
	char linear_params[64];

	REQUIRE(create_dev(TP "itbase", NULL, "0 1000 zero"));
	dev_path_of(TP "itbase", base, sizeof(base));
	snprintf(table, sizeof(table), "0 100 zero\n100 200 error\n300 50 linear %s 10", base);
	REQUIRE(create_dev(TP "iter", NULL, table));
	snprintf(linear_params, sizeof(linear_params), "%s 10", base);
	exp_table[2][3] = linear_params;

	dmt = run_for(DM_DEVICE_TABLE, TP "iter");
	REQUIRE(dmt);
	walk_targets(dmt, "table", exp_table, 3);
	dm_task_destroy(dmt);

	dmt = run_for(DM_DEVICE_STATUS, TP "iter");
	REQUIRE(dmt);
	{
		const char *exp_status[3][4] = {
			{ "0", "100", "zero", "" },
			{ "100", "200", "error", "" },
			{ "300", "50", "linear", "" },
		};
		walk_targets(dmt, "status", exp_status, 3);
	}
	dm_task_destroy(dmt);

	/* no targets: outputs zeroed, NULL returned */
	REQUIRE(create_dev(TP "notable", NULL, NULL));
	dmt = run_for(DM_DEVICE_TABLE, TP "notable");
	REQUIRE(dmt);
	{
		uint64_t start = 7, len = 7;
		char *type = (char *)"x", *params = (char *)"y";
		void *n = dm_get_next_target(dmt, NULL, &start, &len, &type, &params);
		CHECK(n == NULL);
		CHECK_INT(start, 0);
		CHECK_INT(len, 0);
		CHECK(type == NULL);
		CHECK(params == NULL);
		fact("empty: next=%s start=%llu len=%llu type=%s params=%s", n ? "ptr" : "NULL",
		     (unsigned long long)start, (unsigned long long)len, type ? type : "NULL",
		     params ? params : "NULL");
	}
	dm_task_destroy(dmt);

	/* the inactive table, when asked for */
	CHECK(load_table(TP "notable", "0 64 error"));
	dmt = task_for(DM_DEVICE_TABLE, TP "notable");
	REQUIRE(dmt);
	CHECK_INT(dm_task_query_inactive_table(dmt), 1);
	REQUIRE(dm_task_run(dmt));
	{
		const char *exp[1][4] = { { "0", "64", "error", "" } };
		walk_targets(dmt, "inactive", exp, 1);
	}
	dm_task_destroy(dmt);
	dmt = run_for(DM_DEVICE_TABLE, TP "notable");
	REQUIRE(dmt);
	walk_targets(dmt, "live-while-inactive", NULL, 0);
	dm_task_destroy(dmt);

	/* a task that never ran has no targets */
	dmt = task_for(DM_DEVICE_TABLE, TP "iter");
	REQUIRE(dmt);
	walk_targets(dmt, "not-run", NULL, 0);
	dm_task_destroy(dmt);
	CHECK(remove_dev(TP "iter"));
	CHECK(remove_dev(TP "itbase"));
	CHECK(remove_dev(TP "notable"));
	CHECK_INT(log_count(3), 0);
}

/* params with backslashes and long parameter strings survive the round trip */
/* The targets of a task that has not run, read back as added: parameters
 * as given (the kernel gets backslashes doubled), empty ones, a type name
 * of 15 bytes, a gap; again after more targets are added. No kernel. */
TEST(input_targets_before_run, K)
{
	static const char *const params[] = { "7:0 2048", "", "a\\b \\\\c\\", "x y z 0123456789abcdef 0" };
	static const char *const types[] = { "linear", "zero", "abcdefghijklmno", "crypt" };
	struct dm_task *dmt = dm_task_create(DM_DEVICE_RELOAD);
	uint64_t start, len;
	char *type, *params_out;
	void *next = NULL;
	int i, n;

	REQUIRE(dmt);
	CHECK(dm_get_next_target(dmt, NULL, &start, &len, &type, &params_out) == NULL);
	fact("empty: %llu %llu %s %s", (unsigned long long)start, (unsigned long long)len,
	     type ? type : "(null)", params_out ? params_out : "(null)");
	for (i = 0; i < 4; i++)
		CHECK_INT(dm_task_add_target(dmt, (uint64_t)i * 8 + (i == 3), 8, types[i], params[i]), 1);
	for (int pass = 0; pass < 2; pass++) {
		n = 0;
		next = NULL;
		do {
			next = dm_get_next_target(dmt, next, &start, &len, &type, &params_out);
			fact("pass%d[%d] %llu %llu %s '%s' more=%d", pass, n, (unsigned long long)start,
			     (unsigned long long)len, type ? type : "(null)",
			     params_out ? params_out : "(null)", next != NULL);
			if (n < 4) {
				CHECK_STR(type, types[n]);
				CHECK_STR(params_out, params[n]);
			}
			n++;
		} while (next && n < 16);
		CHECK_INT(n, 4 + pass);
		CHECK_INT(dm_task_add_target(dmt, 40, 8, "error", "\\"), 1);
		if (pass)
			break;
	}
	dm_task_destroy(dmt);
}

/* dm_task_add_target's fast path (short type, parameters of at most 15
 * bytes without a backslash, room in the table) and the other path meet:
 * parameters of 0 to 40 bytes, backslashes anywhere (first, last, 15th
 * byte), bytes sharing bits with a backslash ('L', 'P', 'T', 'X', '@',
 * 0x04), type names of 1 to 16 bytes, gaps and zero lengths, and enough
 * targets to fill the table's storage exactly and grow it. Read back as
 * added before a run; summed up in a hash that must match stock's. */
TEST(add_target_fast_and_other_paths, K)
{
	static const char odd[] = { 'L', 'P', 'T', 'X', '@', 0x04, 'D', 'H' };
	struct dm_task *dmt = dm_task_create(DM_DEVICE_RELOAD);
	char ty[17], p[41];
	uint64_t at = 0, start, len, h = 1469598103934665603ull;
	char *type, *params;
	void *next = NULL;
	int i, n = 0, added = 0, refused = 0, bad = 0;

	REQUIRE(dmt);
	for (i = 0; i < 3000; i++) {
		int tl = 1 + i % 16, pl = (i * 7) % 41, r;
		uint64_t s = at, l = 8;
		memcpy(ty, "abcdefghijklmnop", (size_t)tl);
		ty[tl] = 0;
		for (int k = 0; k < pl; k++)
			p[k] = (char)('0' + k % 10);
		p[pl] = 0;
		if (pl && i % 11 == 3)
			p[(i / 11) % pl] = '\\';
		if (pl && i % 11 == 7)
			p[pl - 1] = '\\';
		if (pl > 14 && i % 11 == 9)
			p[14] = '\\';
		if (pl && i % 5 == 1)
			p[(i / 5) % pl] = odd[i % 8];
		if (i % 97 == 3)
			s++;
		if (i % 89 == 4)
			l = 0;
		r = dm_task_add_target(dmt, s, l, ty, p);
		if (tl == 16) {
			refused += !r;
			continue;
		}
		added += r;
		at = s + l;
	}
	do {
		next = dm_get_next_target(dmt, next, &start, &len, &type, &params);
		if (!type || !params) {
			bad++;
			break;
		}
		h = (h ^ start) * 1099511628211ull;
		h = (h ^ len) * 1099511628211ull;
		for (const char *c = type; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull;
		for (const char *c = params; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ull;
		h = (h ^ 0xfe) * 1099511628211ull;
		n++;
	} while (next && n < 4000);
	fact("added=%d refused=%d walked=%d bad=%d hash=%016llx", added, refused, n, bad,
	     (unsigned long long)h);
	CHECK_INT(n, added);
	CHECK_INT(bad, 0);
	dm_task_destroy(dmt);
}

TEST(table_params_escaping, K)
{
	struct dm_task *dmt;
	uint64_t start, len;
	char *type, *params;
	char table[256], base[32];

	REQUIRE(create_dev(TP "escbase", NULL, "0 64 zero"));
	dev_path_of(TP "escbase", base, sizeof(base));
	/* linear accepts "maj:min offset"; extra spaces are normalized by the kernel */
	snprintf(table, sizeof(table), "0 64 linear %s   0", base);
	REQUIRE(create_dev(TP "esc", NULL, table));
	dmt = run_for(DM_DEVICE_TABLE, TP "esc");
	REQUIRE(dmt);
	dm_get_next_target(dmt, NULL, &start, &len, &type, &params);
	fact("params='%s' ok=%d", params ? "<base> 0" : "(null)",
	     params && !strncmp(params, base, strlen(base)) && !strcmp(params + strlen(base), " 0"));
	dm_task_destroy(dmt);
	CHECK(remove_dev(TP "esc"));
	CHECK(remove_dev(TP "escbase"));
}

TEST(deps, K)
{
	struct dm_task *dmt;
	struct dm_deps *deps;
	struct dm_info base;
	char table[128];

	REQUIRE(create_dev(TP "depbase", NULL, "0 64 zero"));
	REQUIRE(get_info(TP "depbase", &base) && base.exists);
	snprintf(table, sizeof(table), "0 32 linear %u:%u 0\n32 32 linear %u:%u 32", base.major,
		 base.minor, base.major, base.minor);
	REQUIRE(create_dev(TP "deptop", NULL, table));

	dmt = run_for(DM_DEVICE_DEPS, TP "deptop");
	REQUIRE(dmt);
	deps = dm_task_get_deps(dmt);
	REQUIRE(deps);
	CHECK_INT(deps->count, 1);
	if (deps->count >= 1) {
		CHECK_INT(major(deps->device[0]), base.major);
		CHECK_INT(minor(deps->device[0]), base.minor);
	}
	fact("top: count=%u dev_is_base=%d", deps->count,
	     deps->count >= 1 && deps->device[0] == makedev(base.major, base.minor));
	dm_task_destroy(dmt);

	dmt = run_for(DM_DEVICE_DEPS, TP "depbase");
	REQUIRE(dmt);
	deps = dm_task_get_deps(dmt);
	REQUIRE(deps);
	CHECK_INT(deps->count, 0);
	fact("base: count=%u", deps->count);
	dm_task_destroy(dmt);
	CHECK(remove_dev(TP "deptop"));
	CHECK(remove_dev(TP "depbase"));
}

TEST(names_list, K)
{
	struct dm_task *dmt;
	struct dm_names *names;
	struct dm_info a, b;
	unsigned next;
	int found_a = 0, found_b = 0, n = 0, dev_ok = 0;

	REQUIRE(create_dev(TP "name-a", NULL, "0 8 zero"));
	REQUIRE(create_dev(TP "name-b", "CAPITEST-name-b", NULL));
	REQUIRE(get_info(TP "name-a", &a));
	REQUIRE(get_info(TP "name-b", &b));

	dmt = run_for(DM_DEVICE_LIST, NULL);
	REQUIRE(dmt);
	names = dm_task_get_names(dmt);
	REQUIRE(names);
	REQUIRE(names->dev);
	do {
		next = names->next;
		if (!strcmp(names->name, TP "name-a")) {
			found_a++;
			dev_ok += names->dev == makedev(a.major, a.minor);
		}
		if (!strcmp(names->name, TP "name-b")) {
			found_b++;
			dev_ok += names->dev == makedev(b.major, b.minor);
		}
		n++;
		names = (struct dm_names *)((char *)names + next);
	} while (next && n < 100000);
	CHECK_INT(found_a, 1);
	CHECK_INT(found_b, 1);
	CHECK_INT(dev_ok, 2);
	fact("found a=%d b=%d dev_ok=%d", found_a, found_b, dev_ok);
	dm_task_destroy(dmt);

	/* lvm's way of asking for uuids too: still walkable the same way */
	dmt = task_for(DM_DEVICE_LIST, NULL);
	REQUIRE(dmt);
	CHECK_INT(dm_task_set_newuuid(dmt, " "), 1);
	REQUIRE(dm_task_run(dmt));
	names = dm_task_get_names(dmt);
	REQUIRE(names && names->dev);
	found_a = found_b = n = 0;
	do {
		next = names->next;
		found_a += !strcmp(names->name, TP "name-a");
		found_b += !strcmp(names->name, TP "name-b");
		n++;
		names = (struct dm_names *)((char *)names + next);
	} while (next && n < 100000);
	CHECK_INT(found_a, 1);
	CHECK_INT(found_b, 1);
	fact("with uuid flag: found a=%d b=%d", found_a, found_b);
	dm_task_destroy(dmt);

	/* many devices: the list grows past the first buffer size */
	{
		char name[128];
		int i, cnt = 0;

		for (i = 0; i < 200; i++) {
			snprintf(name, sizeof(name), TP "many-%03d-padding-padding-padding-padding-padding-padding", i);
			if (!create_dev(name, NULL, NULL))
				break;
		}
		CHECK_INT(i, 200);
		dmt = run_for(DM_DEVICE_LIST, NULL);
		REQUIRE(dmt);
		names = dm_task_get_names(dmt);
		n = 0;
		do {
			next = names->next;
			cnt += !strncmp(names->name, TP "many-", strlen(TP "many-"));
			n++;
			names = (struct dm_names *)((char *)names + next);
		} while (next && n < 100000);
		CHECK_INT(cnt, 200);
		fact("many: listed=%d", cnt);
		dm_task_destroy(dmt);
	}
}

TEST(versions_list, K)
{
	struct dm_task *dmt;
	struct dm_versions *v, *last = NULL;
	uint32_t lin[3] = { 0, 0, 0 };
	int has_linear = 0, has_zero = 0, has_error = 0, has_striped = 0, n = 0;

	dmt = run_for(DM_DEVICE_LIST_VERSIONS, NULL);
	REQUIRE(dmt);
	v = dm_task_get_versions(dmt);
	REQUIRE(v);
	do {
		last = v;
		if (!strcmp(v->name, "linear")) {
			has_linear = 1;
			memcpy(lin, v->version, sizeof(lin));
		}
		has_zero |= !strcmp(v->name, "zero");
		has_error |= !strcmp(v->name, "error");
		has_striped |= !strcmp(v->name, "striped");
		n++;
		v = (struct dm_versions *)((char *)v + v->next);
	} while (last != v && n < 1000);
	CHECK(has_linear && has_zero && has_error && has_striped);
	fact("linear=%d zero=%d error=%d striped=%d linear_version=%u.%u.%u", has_linear, has_zero,
	     has_error, has_striped, lin[0], lin[1], lin[2]);
	dm_task_destroy(dmt);

	/* one target's version */
	dmt = task_for(DM_DEVICE_GET_TARGET_VERSION, "linear");
	REQUIRE(dmt);
	REQUIRE(dm_task_run(dmt));
	v = dm_task_get_versions(dmt);
	REQUIRE(v);
	CHECK_STR(v->name, "linear");
	CHECK(!memcmp(v->version, lin, sizeof(lin)));
	CHECK_INT(v->next, 0);
	fact("target-version linear: %s %u.%u.%u next=%u", v->name, v->version[0], v->version[1],
	     v->version[2], v->next);
	dm_task_destroy(dmt);

	/* unknown target */
	dmt = task_for(DM_DEVICE_GET_TARGET_VERSION, "capitest-nosuch");
	REQUIRE(dmt);
	log_clear();
	fact("unknown: run=%d errno=%d", dm_task_run(dmt), dm_task_get_errno(dmt));
	fact_logs("unknown", 3);
	dm_task_destroy(dmt);
}

TEST(info_fields, K)
{
	struct dm_task *dmt;
	struct dm_info info;

	/* missing device: INFO succeeds with exists = 0 */
	dmt = run_for(DM_DEVICE_INFO, TP "missing");
	REQUIRE(dmt);
	memset(&info, 0x55, sizeof(info));
	CHECK_INT(dm_task_get_info(dmt, &info), 1);
	CHECK_INT(info.exists, 0);
	CHECK_INT(info.major, 0);
	CHECK_INT(info.open_count, 0);
	fact("missing: exists=%d suspended=%d live=%d major=%u minor=%u targets=%d", info.exists,
	     info.suspended, info.live_table, info.major, info.minor, info.target_count);
	fact("missing: errno=%d", dm_task_get_errno(dmt));
	dm_task_destroy(dmt);

	/* get_info before run: 0 */
	dmt = task_for(DM_DEVICE_INFO, TP "missing");
	REQUIRE(dmt);
	CHECK_INT(dm_task_get_info(dmt, &info), 0);
	fact("not run: get_info=%d", dm_task_get_info(dmt, &info));
	dm_task_destroy(dmt);

	/* event_nr increases with a table event? just check it is stable */
	REQUIRE(create_dev(TP "info", NULL, "0 8 zero"));
	REQUIRE(get_info(TP "info", &info));
	CHECK_INT(info.exists, 1);
	CHECK_INT(info.event_nr, 0);
	fact("fresh: event_nr=%u internal_suspend=%d", info.event_nr, info.internal_suspend);

	/* lookup by major:minor instead of name */
	{
		struct dm_info byname = info, bynum;

		dmt = task_for(DM_DEVICE_INFO, NULL);
		REQUIRE(dmt);
		CHECK_INT(dm_task_set_major(dmt, byname.major), 1);
		CHECK_INT(dm_task_set_minor(dmt, byname.minor), 1);
		REQUIRE(dm_task_run(dmt));
		CHECK(dm_task_get_info(dmt, &bynum));
		CHECK_INT(bynum.exists, 1);
		CHECK_INT(bynum.minor, byname.minor);
		CHECK_STR(dm_task_get_name(dmt), TP "info");
		fact("by devno: exists=%d name=%s", bynum.exists, dm_task_get_name(dmt));
		dm_task_destroy(dmt);
	}
	/* lookup by uuid */
	REQUIRE(create_dev(TP "info-u", "CAPITEST-info-u", "0 8 zero"));
	dmt = task_for(DM_DEVICE_INFO, NULL);
	REQUIRE(dmt);
	CHECK_INT(dm_task_set_uuid(dmt, "CAPITEST-info-u"), 1);
	REQUIRE(dm_task_run(dmt));
	CHECK(dm_task_get_info(dmt, &info));
	CHECK_INT(info.exists, 1);
	CHECK_STR(dm_task_get_name(dmt), TP "info-u");
	CHECK_STR(dm_task_get_uuid(dmt), "CAPITEST-info-u");
	fact("by uuid: exists=%d name=%s uuid=%s", info.exists, dm_task_get_name(dmt), dm_task_get_uuid(dmt));
	dm_task_destroy(dmt);

	/* a device without uuid reports "" */
	dmt = run_for(DM_DEVICE_INFO, TP "info");
	REQUIRE(dmt);
	CHECK_STR(dm_task_get_uuid(dmt), "");
	fact("no uuid: '%s'", dm_task_get_uuid(dmt));
	dm_task_destroy(dmt);
	CHECK(remove_dev(TP "info"));
	CHECK(remove_dev(TP "info-u"));
}

/* errno of failing ioctls; ENXIO is not an error for INFO/STATUS/MKNODES */
TEST(errno_of_missing_device, K)
{
	const int types[] = { DM_DEVICE_INFO, DM_DEVICE_STATUS, DM_DEVICE_TABLE, DM_DEVICE_DEPS,
			      DM_DEVICE_RESUME, DM_DEVICE_SUSPEND, DM_DEVICE_REMOVE, DM_DEVICE_CLEAR,
			      DM_DEVICE_WAITEVENT, DM_DEVICE_MKNODES };
	const char *tn[] = { "info", "status", "table", "deps", "resume", "suspend", "remove",
			     "clear", "waitevent", "mknodes" };
	unsigned i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct dm_task *dmt = task_for(types[i], TP "nosuchdev");
		struct dm_info info;
		int r, gi;

		REQUIRE(dmt);
		log_clear();
		r = dm_task_run(dmt);
		memset(&info, 0, sizeof(info));
		gi = dm_task_get_info(dmt, &info);
		fact("%s: run=%d errno=%d get_info=%d exists=%d", tn[i], r, dm_task_get_errno(dmt), gi,
		     info.exists);
		fact_logs(tn[i], 3);
		if (types[i] == DM_DEVICE_INFO || types[i] == DM_DEVICE_STATUS ||
		    types[i] == DM_DEVICE_MKNODES)
			CHECK_INT(r, 1);
		else
			CHECK_INT(r, 0);
		if (types[i] == DM_DEVICE_TABLE)
			CHECK_INT(dm_task_get_errno(dmt), ENXIO);
		dm_task_destroy(dmt);
	}
}

TEST(ioctl_timestamp, K)
{
	struct dm_task *dmt;

	dmt = task_for(DM_DEVICE_VERSION, NULL);
	REQUIRE(dmt);
	REQUIRE(dm_task_run(dmt));
	CHECK(dm_task_get_ioctl_timestamp(dmt) == NULL);
	fact("without flag: %s", dm_task_get_ioctl_timestamp(dmt) ? "ptr" : "NULL");
	dm_task_destroy(dmt);

	dmt = task_for(DM_DEVICE_LIST, NULL);
	REQUIRE(dmt);
	CHECK_INT(dm_task_set_record_timestamp(dmt), 1);
	REQUIRE(dm_task_run(dmt));
	CHECK(dm_task_get_ioctl_timestamp(dmt) != NULL);
	fact("with flag: %s", dm_task_get_ioctl_timestamp(dmt) ? "ptr" : "NULL");
	dm_task_destroy(dmt);
	dm_lib_release();
}

/* names/uuids with characters outside the udev whitelist */
TEST(name_mangling, K)
{
	struct dm_task *dmt;
	char *m, *u;

	/* AUTO: the space goes to the kernel as \x20, comes back unmangled */
	REQUIRE(dm_set_name_mangling_mode(DM_STRING_MANGLING_AUTO));
	REQUIRE(create_dev(TP "m a", "CAPITEST-m a", "0 8 zero"));
	dmt = run_for(DM_DEVICE_INFO, TP "m a");
	REQUIRE(dmt);
	CHECK_STR(dm_task_get_name(dmt), TP "m a");
	CHECK_STR(dm_task_get_uuid(dmt), "CAPITEST-m a");
	m = dm_task_get_name_mangled(dmt);
	u = dm_task_get_name_unmangled(dmt);
	CHECK_STR(m, TP "m\\x20a");
	CHECK_STR(u, TP "m a");
	fact("auto: name='%s' mangled='%s' unmangled='%s'", dm_task_get_name(dmt), m, u);
	dm_free(m);
	dm_free(u);
	m = dm_task_get_uuid_mangled(dmt);
	u = dm_task_get_uuid_unmangled(dmt);
	CHECK_STR(m, "CAPITEST-m\\x20a");
	CHECK_STR(u, "CAPITEST-m a");
	fact("auto: uuid='%s' mangled='%s' unmangled='%s'", dm_task_get_uuid(dmt), m, u);
	dm_free(m);
	dm_free(u);
	dm_task_destroy(dmt);

	/* the kernel has the mangled name: NONE mode shows it raw */
	REQUIRE(dm_set_name_mangling_mode(DM_STRING_MANGLING_NONE));
	dmt = run_for(DM_DEVICE_INFO, TP "m\\x20a");
	REQUIRE(dmt);
	CHECK_STR(dm_task_get_name(dmt), TP "m\\x20a");
	m = dm_task_get_name_mangled(dmt);
	u = dm_task_get_name_unmangled(dmt);
	CHECK_STR(m, TP "m\\x20a");
	CHECK_STR(u, TP "m a");
	fact("none: name='%s' mangled='%s' unmangled='%s'", dm_task_get_name(dmt), m, u);
	dm_free(m);
	dm_free(u);
	m = dm_task_get_uuid_mangled(dmt);
	u = dm_task_get_uuid_unmangled(dmt);
	fact("none: uuid='%s' mangled='%s' unmangled='%s'", dm_task_get_uuid(dmt), m, u);
	dm_free(m);
	dm_free(u);
	dm_task_destroy(dmt);

	/* HEX mode getters on the same device */
	REQUIRE(dm_set_name_mangling_mode(DM_STRING_MANGLING_AUTO));
	dmt = run_for(DM_DEVICE_INFO, TP "m a");
	REQUIRE(dmt);
	REQUIRE(dm_set_name_mangling_mode(DM_STRING_MANGLING_HEX));
	m = dm_task_get_name_mangled(dmt);
	u = dm_task_get_name_unmangled(dmt);
	fact("hex: name='%s' mangled='%s' unmangled='%s'", dm_task_get_name(dmt), m ? m : "NULL", u ? u : "NULL");
	dm_free(m);
	dm_free(u);
	dm_task_destroy(dmt);
	REQUIRE(dm_set_name_mangling_mode(DM_STRING_MANGLING_AUTO));

	/* mixed mangled/unmangled input is refused in AUTO mode */
	dmt = dm_task_create(DM_DEVICE_INFO);
	REQUIRE(dmt);
	log_clear();
	fact("auto mixed: set_name=%d", dm_task_set_name(dmt, TP "x\\x20y z"));
	fact_logs("auto mixed", 3);
	log_clear();
	fact("auto double: set_name=%d", dm_task_set_name(dmt, TP "x\\x5cx20"));
	fact_logs("auto double", 3);
	dm_task_destroy(dmt);

	/* a name already mangled is taken as is in AUTO mode */
	dmt = run_for(DM_DEVICE_INFO, TP "m\\x20a");
	REQUIRE(dmt);
	{
		struct dm_info info;
		CHECK(dm_task_get_info(dmt, &info));
		CHECK_INT(info.exists, 1);
		fact("auto premangled: exists=%d name='%s'", info.exists, dm_task_get_name(dmt));
	}
	dm_task_destroy(dmt);
	CHECK(remove_dev(TP "m a"));
}

TEST(task_driver_version_any_task, K)
{
	struct dm_task *dmt;
	char a[32] = "", b[32] = "";

	REQUIRE(dm_driver_version(a, sizeof(a)));
	dmt = run_for(DM_DEVICE_LIST, NULL);
	REQUIRE(dmt);
	CHECK_INT(dm_task_get_driver_version(dmt, b, sizeof(b)), 1);
	CHECK_STR(b, a);
	fact("list task version equals driver version=%d", !strcmp(a, b));
	dm_task_destroy(dmt);
}
