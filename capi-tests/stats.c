/* dm_stats_* and dm_histogram_*: the statistics family.
 *
 * Without a kernel: histogram bounds from strings and arrays (errors
 * included), handles that are unbound or never listed (walks, getters,
 * argument checks, the "not bound" line), file-map and dmfilemapd argument
 * checks, the compat versions of dm_stats_create_region, and NULL handles
 * (ours only: stock dereferences most of them).
 *
 * With --kernel: regions with areas on "zero" devices, I/O and the counters
 * and metrics it gives, print_region, clear and delete, histograms (bounds
 * chosen so that every I/O falls in one known bin, which makes counts and
 * dm_histogram_to_string() output identical between runs) with every
 * formatting flag, precise timestamps, groups and aliases, walks over all of
 * it, and file maps of a file on ext4 on a dm device on a loop device
 * (create, update, dmfilemapd without the daemon).
 *
 * Handle addresses in log lines are replaced by ADDR before they become
 * facts. */
#define _GNU_SOURCE
#include "harness.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define M T_MATCH
#define K (T_MATCH | T_KERNEL)
#define NK (T_MATCH | T_NOKERNEL)

/* ---------------- helpers ---------------- */

/* A log line with "0x<hex>" replaced by ADDR. */
static void unaddr(const char *in, char *out, size_t size)
{
	size_t o = 0;

	while (*in && o + 1 < size) {
		if (in[0] == '0' && in[1] == 'x') {
			const char *p = in + 2;
			while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
				p++;
			if (p > in + 2) {
				o += (size_t)snprintf(out + o, size - o, "ADDR");
				if (o >= size)
					o = size - 1;
				in = p;
				continue;
			}
		}
		out[o++] = *in++;
	}
	out[o] = '\0';
}

/* Facts of the captured log lines up to maxlevel, then clear the capture. */
static void logs(const char *tag, int maxlevel)
{
	char text[1100];
	int i, n = 0;

	for (i = 0; i < h_log_n; i++) {
		if ((h_log[i].level & 0xf) > maxlevel)
			continue;
		unaddr(h_log[i].text, text, sizeof(text));
		fact("%s.log[%d] L%d/%d %s", tag, n++, h_log[i].level, h_log[i].errclass, text);
	}
	fact("%s.log.count=%d", tag, n);
	log_clear();
}

/* The same, as informational facts. */
static void logs_info(const char *tag, int maxlevel)
{
	char text[1100];
	int i, n = 0;

	for (i = 0; i < h_log_n; i++) {
		if ((h_log[i].level & 0xf) > maxlevel)
			continue;
		unaddr(h_log[i].text, text, sizeof(text));
		fact_info("%s.log[%d] L%d/%d %s", tag, n++, h_log[i].level, h_log[i].errclass, text);
	}
	log_clear();
}

/* "nr=N [lower-upper:count ...] sum=S" or "NULL". */
static const char *hist_line(const struct dm_histogram *h)
{
	static char buf[2048];
	size_t o = 0;
	int i, n;

	if (!h)
		return "NULL";
	n = dm_histogram_get_nr_bins(h);
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "nr=%d [", n);
	for (i = 0; i < n && i < 40 && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%llu-%llu/%llu:%llu:%d",
				      i ? " " : "",
				      (unsigned long long)dm_histogram_get_bin_lower(h, i),
				      (unsigned long long)dm_histogram_get_bin_upper(h, i),
				      (unsigned long long)dm_histogram_get_bin_width(h, i),
				      (unsigned long long)dm_histogram_get_bin_count(h, i),
				      dm_histogram_get_bin_percent(h, i));
	if (o < sizeof(buf))
		snprintf(buf + o, sizeof(buf) - o, "] sum=%llu",
			 (unsigned long long)dm_histogram_get_sum(h));
	return buf;
}

typedef int (*create_v104_fn)(struct dm_stats *, uint64_t *, uint64_t, uint64_t, int64_t,
			      const char *, const char *);
typedef int (*create_v106_fn)(struct dm_stats *, uint64_t *, uint64_t, uint64_t, int64_t, int,
			      const char *, const char *);

static void *versioned(const char *name, const char *version)
{
	void *p = dlvsym(RTLD_DEFAULT, name, version);

	if (!p)
		h_note("dlvsym(%s, %s): %s", name, version, dlerror());
	return p;
}

/* Whether an executable "dmfilemapd" is on PATH (Debian 12 ships none). */
static int have_dmfilemapd(void)
{
	const char *path = getenv("PATH");
	char dir[512], file[600];
	const char *p = path ? path : "/usr/bin:/bin";

	while (*p) {
		size_t n = strcspn(p, ":");
		snprintf(dir, sizeof(dir), "%.*s", (int)n, p);
		snprintf(file, sizeof(file), "%s/dmfilemapd", *dir ? dir : ".");
		if (access(file, X_OK) == 0)
			return 1;
		p += n;
		if (*p == ':')
			p++;
	}
	return 0;
}

/* ---------------- histogram bounds ---------------- */

TEST(bounds_from_string, M)
{
	static const char *inputs[] = {
		"10ms,20,1s,5us,7ns,3", "10,,20", "5ms,", "ms", "us", "0", "1s,2",
		"99999999999999999999999", "18446744073709551615s", "", "-1", "10ks",
		"10,s", "10x", "1 ,2", ",10", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16",
		"100ns,1us,1ms,1s", "2,1", "1ns", "3s,", "7us,8",
	};
	char tag[32];
	size_t i;

	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct dm_histogram *h;

		log_clear();
		h = dm_histogram_bounds_from_string(inputs[i]);
		fact("[%zu] '%s' -> %s", i, inputs[i], hist_line(h));
		snprintf(tag, sizeof(tag), "in%zu", i);
		logs(tag, 6);
		dm_histogram_bounds_destroy(h);
	}
	CHECK_INT(h_log_n, 0);
}

TEST(bounds_from_uint64, M)
{
	static const uint64_t a[] = { 1000, 2000, 1000000, 0 };
	static const uint64_t b[] = { 5, 0, 7 };
	static const uint64_t c[] = { 0, 5, 0 };
	static const uint64_t d[] = { 3, 2, 1, 0 };
	static const uint64_t e[] = { UINT64_MAX, 0 };
	const uint64_t *cases[] = { a, b, c, d, e, NULL };
	char tag[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dm_histogram *h;

		log_clear();
		h = dm_histogram_bounds_from_uint64(cases[i]);
		fact("[%zu] -> %s", i, hist_line(h));
		snprintf(tag, sizeof(tag), "u%zu", i);
		logs(tag, 6);
		dm_histogram_bounds_destroy(h);
	}
	dm_histogram_bounds_destroy(NULL);
	logs("destroy-null", 6);
}

/* dmsetup frees bounds with free(): they must be one malloc'ed block */
TEST(bounds_freed_with_free, M)
{
	struct dm_histogram *h = dm_histogram_bounds_from_string("1ms,2ms,3ms");

	REQUIRE(h);
	CHECK_INT(dm_histogram_get_nr_bins(h), 3);
	free(h);
	logs("free", 6);
}

/* stock dereferences the missing handle of a bounds histogram */
TEST(bounds_to_string, T_OURS)
{
	struct dm_histogram *h = dm_histogram_bounds_from_string("1ms,2ms,10ms");
	const char *s;

	REQUIRE(h);
	s = dm_histogram_to_string(h, -1, 0, DM_HISTOGRAM_BOUNDS_RANGE | DM_HISTOGRAM_SUFFIX);
	CHECK_STR(s, "0s-1ms,1ms-2ms,2ms-10ms");
	s = dm_histogram_to_string(h, 1, -1, DM_HISTOGRAM_VALUES | DM_HISTOGRAM_BOUNDS_UPPER);
	CHECK_STR(s, "2000000:0");
	s = dm_histogram_to_string(h, -1, 0, 0);
	CHECK_STR(s, "");
	CHECK(dm_histogram_to_string(h, -1, 0, DM_HISTOGRAM_VALUES) ==
	      dm_histogram_to_string(h, -1, 0, DM_HISTOGRAM_VALUES));
	CHECK_INT(log_count(3), 0);
	dm_histogram_bounds_destroy(h);
}

/* ---------------- handles without a device ---------------- */

static void handle_state(const char *tag, struct dm_stats *dms)
{
	uint64_t v = 77;
	int r;

	fact("%s nr_regions=%llu nr_groups=%llu nr_areas=%llu", tag,
	     (unsigned long long)dm_stats_get_nr_regions(dms),
	     (unsigned long long)dm_stats_get_nr_groups(dms),
	     (unsigned long long)dm_stats_get_nr_areas(dms));
	fact("%s region_present(0)=%d group_present(0)=%d group_present(NONE)=%d", tag,
	     dm_stats_region_present(dms, 0), dm_stats_group_present(dms, 0),
	     dm_stats_group_present(dms, DM_STATS_GROUP_NONE));
	fact("%s cur_region=%llx cur_area=%llx object=%d cur_object=%d", tag,
	     (unsigned long long)dm_stats_get_current_region(dms),
	     (unsigned long long)dm_stats_get_current_area(dms),
	     dm_stats_object_type(dms, DM_STATS_REGION_CURRENT, DM_STATS_AREA_CURRENT),
	     dm_stats_current_object_type(dms));
	fact("%s object(NOT_PRESENT)=%d object(GROUP|3)=%d object(0,WALK_REGION)=%d", tag,
	     dm_stats_object_type(dms, UINT64_MAX, 0),
	     dm_stats_object_type(dms, DM_STATS_WALK_GROUP | 3, 0),
	     dm_stats_object_type(dms, 0, DM_STATS_WALK_REGION));
	r = dm_stats_get_region_start(dms, &v, 0);
	fact("%s region_start=%d v=%llu", tag, r, (unsigned long long)v);
	r = dm_stats_get_region_len(dms, &v, 0);
	fact("%s region_len=%d v=%llu", tag, r, (unsigned long long)v);
	r = dm_stats_get_region_area_len(dms, &v, 0);
	fact("%s region_area_len=%d v=%llu", tag, r, (unsigned long long)v);
	r = dm_stats_get_area_start(dms, &v, 0, 0);
	fact("%s area_start=%d v=%llu", tag, r, (unsigned long long)v);
	r = dm_stats_get_area_offset(dms, &v, 0, 0);
	fact("%s area_offset=%d v=%llu", tag, r, (unsigned long long)v);
	fact("%s region_nr_areas(GROUP)=%llu", tag,
	     (unsigned long long)dm_stats_get_region_nr_areas(dms, DM_STATS_WALK_GROUP));
}

TEST(create_and_state, M)
{
	struct dm_stats *a = dm_stats_create("capitest"), *b = dm_stats_create(NULL),
			*c = dm_stats_create("");

	REQUIRE(a && b && c);
	handle_state("a", a);
	dm_stats_set_sampling_interval_ms(a, 1500);
	fact("interval ns=%llu ms=%llu",
	     (unsigned long long)dm_stats_get_sampling_interval_ns(a),
	     (unsigned long long)dm_stats_get_sampling_interval_ms(a));
	dm_stats_set_sampling_interval_ns(a, 1234567);
	fact("interval ns=%llu ms=%llu",
	     (unsigned long long)dm_stats_get_sampling_interval_ns(a),
	     (unsigned long long)dm_stats_get_sampling_interval_ms(a));
	dm_stats_set_sampling_interval_ns(b, 999999);
	fact("interval ns=%llu ms=%llu",
	     (unsigned long long)dm_stats_get_sampling_interval_ns(b),
	     (unsigned long long)dm_stats_get_sampling_interval_ms(b));
	fact("set_program_id(0,'')=%d", dm_stats_set_program_id(a, 0, ""));
	logs("pid-empty", 6);
	fact("set_program_id(0,NULL)=%d", dm_stats_set_program_id(a, 0, NULL));
	logs("pid-null", 6);
	fact("set_program_id(1,'')=%d", dm_stats_set_program_id(a, 1, ""));
	fact("set_program_id(1,NULL)=%d", dm_stats_set_program_id(a, 1, NULL));
	fact("set_program_id(0,'x')=%d", dm_stats_set_program_id(a, 0, "x"));
	logs("pid", 6);
	dm_stats_destroy(a);
	dm_stats_destroy(b);
	dm_stats_destroy(c);
	dm_stats_destroy(NULL);
	logs("destroy", 6);
}

/* stock's walk_end reads the missing region table of an unlisted handle:
 * only the calls that stop before it are compared */
TEST(walks_unlisted, M)
{
	struct dm_stats *dms = dm_stats_create("capitest");
	int r;

	REQUIRE(dms);
	r = dm_stats_walk_init(dms, 0x10);
	fact("walk_init(0x10)=%d", r);
	r = dm_stats_walk_init(dms, DM_STATS_WALK_ALL | 0x100000000000000ULL);
	fact("walk_init(ALL|bit56)=%d", r);
	logs("init-bad", 3);
	r = dm_stats_walk_init(dms, DM_STATS_WALK_ALL | DM_STATS_WALK_SKIP_SINGLE_AREA);
	fact("walk_init(ALL|SKIP)=%d", r);
	dm_stats_walk_start(dms);
	dm_stats_walk_next(dms);
	dm_stats_walk_next_region(dms);
	handle_state("walked", dms);
	logs("walks", 6);
	dm_stats_destroy(dms);
}

/* as documented, every walk of an empty handle ends at once */
TEST(walk_end_unlisted, T_OURS)
{
	struct dm_stats *dms = dm_stats_create("capitest");
	int n;

	REQUIRE(dms);
	CHECK_INT(dm_stats_walk_end(dms), 1);
	n = 0;
	dm_stats_foreach_region(dms)
		n++;
	CHECK_INT(n, 0);
	n = 0;
	dm_stats_foreach_area(dms)
		n++;
	CHECK_INT(n, 0);
	n = 0;
	dm_stats_foreach_group(dms)
		n++;
	CHECK_INT(n, 0);
	n = 0;
	dm_stats_walk_do(dms) {
		n++;
		dm_stats_walk_next(dms);
	} dm_stats_walk_while(dms);
	CHECK_INT(n, 1);
	CHECK_INT(log_count(6), 0);
	dm_stats_destroy(dms);
}

/* metrics: no interval -> 0 quietly; an unknown metric is logged */
TEST(metric_validation, M)
{
	struct dm_stats *dms = dm_stats_create("capitest");
	double v = -1;
	dm_percent_t p = -5;
	int r;

	REQUIRE(dms);
	r = dm_stats_get_metric(dms, DM_STATS_READS_PER_SEC, 0, 0, &v);
	fact("no-interval metric=%d v=%g", r, v);
	r = dm_stats_get_metric(dms, 99, 0, 0, &v);
	fact("no-interval bad metric=%d v=%g", r, v);
	r = dm_stats_get_utilization(dms, &p, 0, 0);
	fact("no-interval utilization=%d p=%d", r, p);
	r = dm_stats_get_reads_per_sec(dms, &v, 0, 0) + dm_stats_get_throughput(dms, &v, 0, 0) +
	    dm_stats_get_service_time(dms, &v, 0, 0) +
	    dm_stats_get_average_wr_wait_time(dms, &v, 0, 0);
	fact("no-interval named=%d", r);
	logs("no-interval", 6);
	dm_stats_set_sampling_interval_ms(dms, 1000);
	r = dm_stats_get_metric(dms, DM_STATS_NR_METRICS, 0, 0, &v);
	fact("metric NR=%d v=%g", r, v);
	r = dm_stats_get_metric(dms, -1, 0, 0, &v);
	fact("metric -1=%d v=%g", r, v);
	logs("bad-metric", 6);
	dm_stats_destroy(dms);
}

TEST(filemapd_mode, M)
{
	static const char *modes[] = { "inode", "path", "bogus", "", "INODE", "path " };
	size_t i;

	fact("NULL -> %d", dm_filemapd_mode_from_string(NULL));
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		fact("'%s' -> %d", modes[i], dm_filemapd_mode_from_string(modes[i]));
	logs("modes", 6);
}

TEST(start_filemapd_arguments, M)
{
	int fd = open("/dev/null", O_RDONLY);

	REQUIRE(fd >= 0);
	fact("fd=-1: %d", dm_stats_start_filemapd(-1, 0, NULL, DM_FILEMAPD_FOLLOW_INODE, 0, 0));
	fact("relative: %d", dm_stats_start_filemapd(fd, 0, "rel/path", DM_FILEMAPD_FOLLOW_INODE, 0, 0));
	fact("empty: %d", dm_stats_start_filemapd(fd, 0, "", DM_FILEMAPD_FOLLOW_INODE, 0, 0));
	fact("mode NONE: %d", dm_stats_start_filemapd(fd, 0, "/x", DM_FILEMAPD_FOLLOW_NONE, 0, 0));
	fact("foreground 2: %d", dm_stats_start_filemapd(fd, 0, "/x", DM_FILEMAPD_FOLLOW_PATH, 2, 0));
	fact("verbose 4: %d", dm_stats_start_filemapd(fd, 0, "/x", DM_FILEMAPD_FOLLOW_PATH, 1, 4));
	fact("fd 12345678: %d",
	     dm_stats_start_filemapd(12345678, 0, "/x", DM_FILEMAPD_FOLLOW_PATH, 0, 0));
	fact("group 12345678: %d",
	     dm_stats_start_filemapd(fd, 12345678, "/x", DM_FILEMAPD_FOLLOW_PATH, 0, 0));
	logs("args", 6);
	close(fd);
}

/* Debian ships no dmfilemapd: in the foreground the exec fails in place */
TEST(start_filemapd_missing_daemon, M)
{
	int fd = open("/dev/null", O_RDONLY), r;

	REQUIRE(fd >= 0);
	if (have_dmfilemapd())
		SKIP("a dmfilemapd is on PATH");
	r = dm_stats_start_filemapd(fd, 3, "/dev/null", DM_FILEMAPD_FOLLOW_INODE, 1, 0);
	fact("foreground=%d", r);
	logs("foreground", 6);
	/* in the background stock forks first: the parent succeeds and the child
	 * logs the exec failure in its own process; ours logs it here */
	r = dm_stats_start_filemapd(fd, 3, "/dev/null", DM_FILEMAPD_FOLLOW_PATH, 0, 3);
	fact("background=%d", r);
	logs_info("background", 3);
	log_clear();
	close(fd);
}

TEST(unbound_handle, M)
{
	struct dm_stats *dms = dm_stats_create("capitest");
	uint64_t id = 77, *ids;
	char *buf;
	int fd = open("/dev/null", O_RDONLY), r;

	REQUIRE(dms && fd >= 0);
	fact("list=%d", dm_stats_list(dms, NULL));
	{
		char line[128];
		snprintf(line, sizeof(line), "Stats handle at %p is not bound.", (void *)dms);
		CHECK(log_has(line, 3));
	}
	logs("list", 6);
	fact("list(all)=%d", dm_stats_list(dms, DM_STATS_ALL_PROGRAMS));
	logs("list-all", 6);
	fact("populate=%d", dm_stats_populate(dms, NULL, DM_STATS_REGIONS_ALL));
	logs("populate", 6);
	fact("populate(3)=%d", dm_stats_populate(dms, "x", 3));
	logs("populate3", 6);
	fact("populate(GROUP)=%d", dm_stats_populate(dms, NULL, DM_STATS_WALK_GROUP));
	logs("populate-group", 6);
	r = dm_stats_create_region(dms, &id, 0, 0, -4, 0, NULL, NULL, "aux");
	fact("create_region=%d id=%llu", r, (unsigned long long)id);
	logs("create", 6);
	fact("delete_region=%d", dm_stats_delete_region(dms, 0));
	logs("delete", 6);
	fact("clear_region=%d", dm_stats_clear_region(dms, 0));
	logs("clear", 6);
	buf = dm_stats_print_region(dms, 0, 0, 0, 0);
	fact("print_region=%s", buf ? buf : "NULL");
	logs("print", 6);
	fact("create_group=%d", dm_stats_create_group(dms, "0", NULL, &id));
	logs("create_group", 6);
	fact("set_alias=%d", dm_stats_set_alias(dms, 0, "a"));
	fact("set_alias(NULL)=%d", dm_stats_set_alias(dms, 0, NULL));
	logs("set_alias", 6);
	fact("delete_group=%d", dm_stats_delete_group(dms, 0, 0));
	logs("delete_group", 6);
	ids = dm_stats_update_regions_from_fd(dms, fd, 0);
	fact("update_regions_from_fd=%s", ids ? "ids" : "NULL");
	logs("update", 6);
	free(ids);
	handle_state("unbound", dms);
	logs("state", 6);
	close(fd);
	dm_stats_destroy(dms);
}

/* the compat versions of dm_stats_create_region */
TEST(create_region_versions, M)
{
	struct dm_stats *dms = dm_stats_create("capitest");
	create_v104_fn v104 = (create_v104_fn)versioned("dm_stats_create_region", "DM_1_02_104");
	create_v106_fn v106 = (create_v106_fn)versioned("dm_stats_create_region", "DM_1_02_106");
	void *v107 = versioned("dm_stats_create_region", "DM_1_02_107");
	uint64_t id = 5;
	int r;

	REQUIRE(dms && v104 && v106 && v107);
	CHECK(v107 == (void *)dm_stats_create_region);
	CHECK(v104 != (create_v104_fn)v107 && v106 != (create_v106_fn)v107);
	r = v104(dms, &id, 0, 0, 1, "p", "a");
	fact("v104=%d id=%llu", r, (unsigned long long)id);
	logs("v104", 6);
	r = v106(dms, &id, 0, 0, 1, 1, NULL, NULL);
	fact("v106=%d id=%llu", r, (unsigned long long)id);
	logs("v106", 6);
	dm_stats_destroy(dms);
}

TEST(bind_from_fd_errors, M)
{
	struct dm_stats *dms = dm_stats_create("capitest");
	int fd;

	REQUIRE(dms);
	fact("fd -1: %d", dm_stats_bind_from_fd(dms, -1));
	fact("fd -7: %d", dm_stats_bind_from_fd(dms, -7));
	fact("fd 1000: %d", dm_stats_bind_from_fd(dms, 1000));
	logs("bad", 6);
	fd = open("/dev/null", O_RDONLY);
	REQUIRE(fd >= 0);
	fact("/dev/null: %d", dm_stats_bind_from_fd(dms, fd));
	logs("devnull", 6);
	close(fd);
	/* /dev/null lives on a file system of major 0: the handle stays unbound */
	fact("list after /dev/null: %d", dm_stats_list(dms, NULL));
	logs("list", 6);
	dm_stats_destroy(dms);
}

TEST(regions_from_fd_validation, M)
{
	struct dm_stats *dms = dm_stats_create("capitest");
	struct dm_histogram *b = dm_histogram_bounds_from_string("1ms");
	int fd, dir, sv[2];
	uint64_t *ids;

	REQUIRE(dms && b);
	fd = open(tmp_path("file"), O_CREAT | O_RDWR, 0600);
	dir = open(h_tmpdir, O_RDONLY | O_DIRECTORY);
	REQUIRE(fd >= 0 && dir >= 0);
	REQUIRE(write(fd, "data", 4) == 4);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);

	ids = dm_stats_create_regions_from_fd(dms, fd, 0, 0, NULL, "alias");
	fact("alias without group: %s", ids ? "ids" : "NULL");
	logs("alias", 6);
	ids = dm_stats_create_regions_from_fd(dms, -1, 1, 0, NULL, NULL);
	fact("fd -1: %s", ids ? "ids" : "NULL");
	logs("fd-1", 6);
	ids = dm_stats_create_regions_from_fd(dms, 999, 1, 0, b, NULL);
	fact("fd 999: %s", ids ? "ids" : "NULL");
	logs("fd999", 6);
	ids = dm_stats_create_regions_from_fd(dms, dir, 1, 0, NULL, NULL);
	fact("directory: %s", ids ? "ids" : "NULL");
	logs("dir", 6);
	ids = dm_stats_create_regions_from_fd(dms, sv[0], 1, 0, NULL, NULL);
	fact("socket: %s", ids ? "ids" : "NULL");
	logs("socket", 6);
	ids = dm_stats_create_regions_from_fd(dms, fd, 1, 1, b, "a");
	fact("not on dm: %s", ids ? "ids" : "NULL");
	logs("file", 6);
	ids = dm_stats_update_regions_from_fd(dms, -1, 0);
	fact("update fd -1: %s", ids ? "ids" : "NULL");
	logs("update-fd-1", 6);
	close(sv[0]);
	close(sv[1]);
	close(fd);
	close(dir);
	dm_histogram_bounds_destroy(b);
	dm_stats_destroy(dms);
}

/* without the driver: the version check fails once, loudly (lines up to
 * warnings: the control node's creation lines belong to another family) */
TEST(precise_support_nokernel, NK)
{
	struct dm_stats *dms = dm_stats_create("capitest");
	struct dm_histogram *b = dm_histogram_bounds_from_string("1ms");
	uint64_t id = 9;

	REQUIRE(dms && b);
	fact("supports=%d", dm_message_supports_precise_timestamps());
	logs("first", 4);
	fact("supports=%d precise=%d histogram=%d", dm_message_supports_precise_timestamps(),
	     dm_stats_driver_supports_precise(), dm_stats_driver_supports_histogram());
	logs("again", 4);
	fact("create precise=%d", dm_stats_create_region(dms, &id, 0, 0, 1, 1, NULL, NULL, ""));
	fact("create bounds=%d", dm_stats_create_region(dms, &id, 0, 0, 1, 0, b, NULL, ""));
	fact("create plain=%d", dm_stats_create_region(dms, &id, 0, 0, 1, 0, NULL, NULL, ""));
	logs("create", 4);
	dm_histogram_bounds_destroy(b);
	dm_stats_destroy(dms);
}

/* without the driver: a bound handle fails at the first ioctl */
TEST(bound_nokernel, NK)
{
	struct dm_stats *dms = dm_stats_create("capitest");
	char *buf;
	uint64_t id = 3;

	REQUIRE(dms);
	fact("bind_name=%d", dm_stats_bind_name(dms, TP "none"));
	fact("list=%d", dm_stats_list(dms, NULL));
	logs("list", 4);
	buf = dm_stats_print_region(dms, DM_STATS_WALK_GROUP, 0, 0, 0);
	fact("print(GROUP)=%s", buf ? buf : "NULL");
	logs("print-group", 4);
	buf = dm_stats_print_region(dms, 0, 0, 0, 0);
	fact("print=%s", buf ? buf : "NULL");
	logs("print", 4);
	fact("create=%d", dm_stats_create_region(dms, &id, 0, 0, 1, 0, NULL, "p", NULL));
	logs("create", 4);
	fact("clear=%d", dm_stats_clear_region(dms, 0));
	logs("clear", 4);
	fact("delete=%d", dm_stats_delete_region(dms, 0));
	logs("delete", 4);
	fact("bind_uuid=%d", dm_stats_bind_uuid(dms, "CAPITEST-none"));
	fact("list=%d", dm_stats_list(dms, NULL));
	logs("uuid", 4);
	fact("bind_devno=%d", dm_stats_bind_devno(dms, 253, 0));
	fact("list=%d", dm_stats_list(dms, NULL));
	logs("devno", 4);
	fact("bind_devno(0)=%d", dm_stats_bind_devno(dms, 0, 1));
	fact("list=%d", dm_stats_list(dms, NULL));
	logs("devno0", 4);
	dm_stats_destroy(dms);
}

/* stock dereferences a NULL handle in most functions; the walk functions,
 * the counts, the geometry getters and destroy accept it quietly */
TEST(null_handle, T_OURS)
{
	uint64_t v = 5;
	double d;
	dm_percent_t p;
	char *buf = NULL;

	/* quiet in stock too */
	CHECK_INT(dm_stats_walk_init(NULL, DM_STATS_WALK_AREA), 0);
	dm_stats_walk_start(NULL);
	dm_stats_walk_next(NULL);
	CHECK_INT(dm_stats_walk_end(NULL), 1);
	CHECK_INT(dm_stats_get_nr_regions(NULL), 0);
	CHECK_INT(dm_stats_get_nr_groups(NULL), 0);
	CHECK_INT(dm_stats_group_present(NULL, 0), 0);
	CHECK_INT(dm_stats_get_region_start(NULL, &v, 0), 0);
	CHECK_INT(dm_stats_get_region_len(NULL, &v, 0), 0);
	CHECK_INT(dm_stats_get_region_area_len(NULL, &v, 0), 0);
	CHECK_INT(dm_stats_get_area_start(NULL, &v, 0, 0), 0);
	CHECK_INT(dm_stats_get_area_offset(NULL, &v, 0, 0), 0);
	dm_stats_destroy(NULL);
	CHECK_INT(v, 5);
	CHECK_INT(log_count(6), 0);

	/* refused with a message here */
	CHECK_INT(dm_stats_bind_name(NULL, "x"), 0);
	CHECK_INT(dm_stats_bind_devno(NULL, 1, 1), 0);
	CHECK_INT(dm_stats_list(NULL, NULL), 0);
	CHECK_INT(dm_stats_populate(NULL, NULL, 0), 0);
	CHECK_INT(dm_stats_create_region(NULL, &v, 0, 0, 1, 0, NULL, NULL, ""), 0);
	CHECK(dm_stats_print_region(NULL, 0, 0, 0, 0) == NULL);
	dm_stats_buffer_destroy(NULL, buf);
	CHECK_INT(dm_stats_region_present(NULL, 0), 0);
	CHECK_INT(dm_stats_get_reads(NULL, 0, 0), 0);
	CHECK_INT(dm_stats_get_counter(NULL, DM_STATS_WRITES_COUNT, 0, 0), 0);
	CHECK_INT(dm_stats_get_metric(NULL, DM_STATS_THROUGHPUT, 0, 0, &d), 0);
	CHECK_INT(dm_stats_get_utilization(NULL, &p, 0, 0), 0);
	CHECK(dm_stats_get_histogram(NULL, 0, 0) == NULL);
	CHECK(dm_stats_get_region_program_id(NULL, 0) == NULL);
	CHECK(dm_stats_get_alias(NULL, 0) == NULL);
	CHECK_INT(dm_stats_get_group_descriptor(NULL, 0, &buf), 0);
	CHECK_INT(dm_stats_object_type(NULL, 0, 0), DM_STATS_OBJECT_TYPE_NONE);
	dm_stats_walk_next_region(NULL);
	CHECK(dm_stats_create_regions_from_fd(NULL, 0, 1, 0, NULL, NULL) == NULL);
	CHECK_INT(dm_histogram_get_nr_bins(NULL), 0);
	CHECK(dm_histogram_to_string(NULL, -1, 0, 0) == NULL);
	CHECK(dm_histogram_bounds_from_string(NULL) == NULL);
	CHECK_INT(log_count(3), 22);
	CHECK(log_has("called with a NULL stats handle", 3));
	CHECK(log_has("called with a NULL histogram", 3));
	log_dump(3);
}

/* ---------------- with a kernel ---------------- */

struct loopdev {
	char path[64];
	int fd;
};

/* A file in the tmp dir on a loop device with LO_FLAGS_AUTOCLEAR: it goes
 * away once the test has closed it and the devices on it are removed. */
static int loop_attach(struct loopdev *l, const char *file, off_t size)
{
	struct loop_info64 li;
	int ctl, n = -1, ffd, tries;

	l->fd = -1;
	ffd = open(file, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (ffd < 0 || ftruncate(ffd, size) != 0)
		return 0;
	if ((ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC)) < 0) {
		close(ffd);
		return 0;
	}
	for (tries = 0; tries < 16; tries++) {
		if ((n = ioctl(ctl, LOOP_CTL_GET_FREE)) < 0)
			break;
		snprintf(l->path, sizeof(l->path), "/dev/loop%d", n);
		if ((l->fd = open(l->path, O_RDWR | O_CLOEXEC)) < 0)
			break;
		if (ioctl(l->fd, LOOP_SET_FD, ffd) == 0)
			break;
		close(l->fd);
		l->fd = -1;
	}
	close(ctl);
	close(ffd);
	if (l->fd < 0)
		return 0;
	memset(&li, 0, sizeof(li));
	li.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (ioctl(l->fd, LOOP_SET_STATUS64, &li) != 0)
		h_note("LOOP_SET_STATUS64 failed on %s", l->path);
	return 1;
}

/* A private block node of a dm device. */
static int dm_node(const char *name, const char *node)
{
	struct dm_info info;

	if (!get_info(name, &info) || !info.exists)
		return 0;
	unlink(node);
	return mknod(node, S_IFBLK | 0600, makedev(info.major, info.minor)) == 0;
}

/* Direct I/O of `sectors` 512-byte sectors at `sector`. */
static int dio(int fd, int write_it, uint64_t sector, unsigned sectors)
{
	void *buf;
	ssize_t n;
	size_t len = (size_t)sectors * 512;

	if (posix_memalign(&buf, 4096, len))
		return 0;
	memset(buf, 0x5a, len);
	if (write_it)
		n = pwrite(fd, buf, len, (off_t)(sector * 512));
	else
		n = pread(fd, buf, len, (off_t)(sector * 512));
	free(buf);
	return n == (ssize_t)len;
}

/* The deterministic counters of an area, region or group. */
static void counters_fact(const char *tag, struct dm_stats *dms, uint64_t r, uint64_t a)
{
	fact("%s reads=%llu merged=%llu rsect=%llu writes=%llu wmerged=%llu wsect=%llu inflight=%llu",
	     tag, (unsigned long long)dm_stats_get_reads(dms, r, a),
	     (unsigned long long)dm_stats_get_reads_merged(dms, r, a),
	     (unsigned long long)dm_stats_get_read_sectors(dms, r, a),
	     (unsigned long long)dm_stats_get_writes(dms, r, a),
	     (unsigned long long)dm_stats_get_writes_merged(dms, r, a),
	     (unsigned long long)dm_stats_get_write_sectors(dms, r, a),
	     (unsigned long long)dm_stats_get_io_in_progress(dms, r, a));
	/* every named getter is the enum getter */
	CHECK_INT(dm_stats_get_counter(dms, DM_STATS_READS_COUNT, r, a), dm_stats_get_reads(dms, r, a));
	CHECK_INT(dm_stats_get_counter(dms, DM_STATS_READ_NSECS, r, a), dm_stats_get_read_nsecs(dms, r, a));
	CHECK_INT(dm_stats_get_counter(dms, DM_STATS_WRITE_NSECS, r, a), dm_stats_get_write_nsecs(dms, r, a));
	CHECK_INT(dm_stats_get_counter(dms, DM_STATS_IO_NSECS, r, a), dm_stats_get_io_nsecs(dms, r, a));
	CHECK_INT(dm_stats_get_counter(dms, DM_STATS_WEIGHTED_IO_NSECS, r, a),
		  dm_stats_get_weighted_io_nsecs(dms, r, a));
	CHECK_INT(dm_stats_get_counter(dms, DM_STATS_TOTAL_READ_NSECS, r, a),
		  dm_stats_get_total_read_nsecs(dms, r, a));
	CHECK_INT(dm_stats_get_counter(dms, DM_STATS_TOTAL_WRITE_NSECS, r, a),
		  dm_stats_get_total_write_nsecs(dms, r, a));
}

/* The metrics that only depend on counts (interval 1 s), and that the time
 * based ones are computed. */
static void metrics_fact(const char *tag, struct dm_stats *dms, uint64_t r, uint64_t a)
{
	double v[DM_STATS_NR_METRICS], named;
	dm_percent_t util = -1;
	int i, ok[DM_STATS_NR_METRICS];

	for (i = 0; i < DM_STATS_NR_METRICS; i++) {
		v[i] = -1;
		ok[i] = dm_stats_get_metric(dms, i, r, a, &v[i]);
	}
	fact("%s rrqm=%d:%.3f wrqm=%d:%.3f r/s=%d:%.3f w/s=%d:%.3f rsec/s=%d:%.3f wsec/s=%d:%.3f "
	     "arqsz=%d:%.3f tput=%d:%.3f", tag,
	     ok[0], v[0], ok[1], v[1], ok[2], v[2], ok[3], v[3], ok[4], v[4], ok[5], v[5],
	     ok[6], v[6], ok[12], v[12]);
	fact("%s time-based ok: qusz=%d await=%d r_await=%d w_await=%d svctm=%d util=%d", tag,
	     ok[7], ok[8], ok[9], ok[10], ok[11], ok[13]);
	CHECK(dm_stats_get_reads_per_sec(dms, &named, r, a) && named == v[2]);
	CHECK(dm_stats_get_average_request_size(dms, &named, r, a) && named == v[6]);
	CHECK(dm_stats_get_average_queue_size(dms, &named, r, a) && named == v[7]);
	CHECK(dm_stats_get_service_time(dms, &named, r, a) && named == v[11]);
	CHECK(dm_stats_get_utilization(dms, &util, r, a));
	CHECK(util >= 0 && util <= DM_PERCENT_100);
}

static void region_facts(const char *tag, struct dm_stats *dms)
{
	uint64_t start = 0, len = 0, alen = 0;

	dm_stats_get_current_region_start(dms, &start);
	dm_stats_get_current_region_len(dms, &len);
	dm_stats_get_current_region_area_len(dms, &alen);
	fact("%s region=%llx obj=%d start=%llu len=%llu area_len=%llu areas=%llu prog='%s' aux='%s' "
	     "precise=%d bins=%d group=%llx alias='%s'", tag,
	     (unsigned long long)dm_stats_get_current_region(dms), dm_stats_current_object_type(dms),
	     (unsigned long long)start, (unsigned long long)len, (unsigned long long)alen,
	     (unsigned long long)dm_stats_get_current_nr_areas(dms),
	     dm_stats_get_current_region_program_id(dms), dm_stats_get_current_region_aux_data(dms),
	     dm_stats_get_current_region_precise_timestamps(dms),
	     dm_stats_get_region_nr_histogram_bins(dms, DM_STATS_REGION_CURRENT),
	     (unsigned long long)dm_stats_get_group_id(dms, DM_STATS_REGION_CURRENT),
	     dm_stats_get_alias(dms, DM_STATS_REGION_CURRENT) ?
		     dm_stats_get_alias(dms, DM_STATS_REGION_CURRENT) : "(null)");
}

static void walk_facts(const char *tag, struct dm_stats *dms, uint64_t flags)
{
	char t[64];
	int n = 0;

	CHECK_INT(dm_stats_walk_init(dms, flags), 1);
	dm_stats_walk_start(dms);
	while (!dm_stats_walk_end(dms) && n < 200) {
		uint64_t astart = 0, aoff = 0, alen = 0;

		snprintf(t, sizeof(t), "%s[%d]", tag, n++);
		dm_stats_get_current_area_start(dms, &astart);
		dm_stats_get_current_area_offset(dms, &aoff);
		dm_stats_get_current_area_len(dms, &alen);
		fact("%s region=%llx area=%llx obj=%d astart=%llu aoff=%llu alen=%llu", t,
		     (unsigned long long)dm_stats_get_current_region(dms),
		     (unsigned long long)dm_stats_get_current_area(dms),
		     dm_stats_current_object_type(dms), (unsigned long long)astart,
		     (unsigned long long)aoff, (unsigned long long)alen);
		dm_stats_walk_next(dms);
	}
	fact("%s visited=%d", tag, n);
}

/* The first fields of each line of a print_region text: range, reads,
 * merges, sectors, writes, merges, sectors, in flight (times left out). */
static void print_facts(const char *tag, const char *text)
{
	char line[1024];
	const char *p = text;
	int n = 0;

	if (!text) {
		fact("%s NULL", tag);
		return;
	}
	while (*p) {
		size_t len = strcspn(p, "\n");
		char range[64];
		unsigned long long f[9];

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		if (sscanf(line, "%63s %llu %llu %llu %llu %llu %llu %llu %llu %llu", range, &f[0],
			   &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8]) == 10)
			fact("%s[%d] %s %llu %llu %llu %llu %llu %llu %llu", tag, n, range, f[0], f[1],
			     f[2], f[4], f[5], f[6], f[8]);
		else
			fact("%s[%d] unparsed: %s", tag, n, line);
		n++;
		p += len;
		if (*p)
			p++;
	}
	fact("%s lines=%d", tag, n);
}

#define DEV TP "stats"

/* a zero device of 8192 sectors and a handle bound to it */
static struct dm_stats *zero_dev(const char *program_id, int *fd)
{
	struct dm_stats *dms;

	REQUIRE(create_dev(DEV, NULL, "0 8192 zero"));
	REQUIRE(dm_node(DEV, tmp_path("blk")));
	if (fd) {
		*fd = open(tmp_path("blk"), O_RDWR | O_DIRECT);
		REQUIRE(*fd >= 0);
	}
	dms = dm_stats_create(program_id);
	REQUIRE(dms);
	REQUIRE(dm_stats_bind_name(dms, DEV));
	return dms;
}

TEST(precise_support_kernel, K)
{
	fact("supports=%d precise=%d histogram=%d", dm_message_supports_precise_timestamps(),
	     dm_stats_driver_supports_precise(), dm_stats_driver_supports_histogram());
	logs("support", 6);
}

TEST(regions_and_areas, K)
{
	int fd;
	struct dm_stats *dms = zero_dev("capitest", &fd);
	uint64_t id0 = 99, id1 = 99, id2 = 99, id3 = 99, idx = 99;
	char *text, *text2;
	int r;

	fact("create whole/4=%d", dm_stats_create_region(dms, &id0, 0, 0, -4, 0, NULL, NULL, ""));
	fact("create 1024+2048/512=%d",
	     dm_stats_create_region(dms, &id1, 1024, 2048, 512, 0, NULL, NULL, "user_data"));
	fact("create other program=%d",
	     dm_stats_create_region(dms, &id2, 0, 0, -1, 0, NULL, "other", "x"));
	fact("create aux with a space=%d",
	     dm_stats_create_region(dms, &idx, 0, 0, -1, 0, NULL, NULL, "user data"));
	fact("create step 0=%d", dm_stats_create_region(dms, &idx, 0, 0, 0, 0, NULL, NULL, ""));
	fact("create partial step=%d",
	     dm_stats_create_region(dms, &id3, 100, 1000, 300, 0, NULL, NULL, "-dash"));
	fact("ids %llu %llu %llu %llu", (unsigned long long)id0, (unsigned long long)id1,
	     (unsigned long long)id2, (unsigned long long)id3);
	logs("create", 6);

	r = dm_stats_list(dms, NULL);
	fact("list(own)=%d nr=%llu", r, (unsigned long long)dm_stats_get_nr_regions(dms));
	handle_state("own", dms);
	dm_stats_foreach_region(dms)
		region_facts("own", dms);
	r = dm_stats_list(dms, DM_STATS_ALL_PROGRAMS);
	fact("list(all)=%d nr=%llu areas=%llu", r, (unsigned long long)dm_stats_get_nr_regions(dms),
	     (unsigned long long)dm_stats_get_nr_areas(dms));
	dm_stats_foreach_region(dms)
		region_facts("all", dms);
	walk_facts("default", dms, DM_STATS_WALK_DEFAULT);
	walk_facts("regions-skip", dms, DM_STATS_WALK_REGION | DM_STATS_WALK_SKIP_SINGLE_AREA);
	walk_facts("all", dms, DM_STATS_WALK_ALL);
	logs("list", 6);

	/* I/O: clear first (anything that probed the new device is forgotten) */
	REQUIRE(dm_stats_clear_region(dms, id0) && dm_stats_clear_region(dms, id1) &&
		dm_stats_clear_region(dms, id2) && dm_stats_clear_region(dms, id3));
	REQUIRE(dio(fd, 0, 0, 8) && dio(fd, 0, 0, 8) && dio(fd, 0, 2048, 16) &&
		dio(fd, 1, 1024, 8) && dio(fd, 1, 6144, 32) && dio(fd, 0, 8184, 8));
	fact("populate=%d", dm_stats_populate(dms, DM_STATS_ALL_PROGRAMS, DM_STATS_REGIONS_ALL));
	logs("populate", 6);
	dm_stats_set_sampling_interval_ms(dms, 1000);
	{
		char tag[64];
		dm_stats_walk_init(dms, DM_STATS_WALK_DEFAULT);
		dm_stats_walk_start(dms);
		while (!dm_stats_walk_end(dms)) {
			snprintf(tag, sizeof(tag), "r%llx.a%llx",
				 (unsigned long long)dm_stats_get_current_region(dms),
				 (unsigned long long)dm_stats_get_current_area(dms));
			counters_fact(tag, dms, DM_STATS_REGION_CURRENT, DM_STATS_AREA_CURRENT);
			metrics_fact(tag, dms, DM_STATS_REGION_CURRENT, DM_STATS_AREA_CURRENT);
			dm_stats_walk_next(dms);
		}
	}
	counters_fact("explicit r0a2", dms, id0, 2);
	counters_fact("explicit r1 region", dms, id1, DM_STATS_WALK_REGION);
	logs("counters", 6);

	/* the kernel's own text; populate cleared the counters */
	text = dm_stats_print_region(dms, id0, 0, 0, 0);
	print_facts("print0", text);
	REQUIRE(dio(fd, 0, 4096, 8));
	text2 = dm_stats_print_region(dms, id0, 1, 2, 1);
	print_facts("print0-lines1-2-clear", text2);
	dm_stats_buffer_destroy(dms, text);
	text = dm_stats_print_region(dms, id0, 0, 0, 0);
	print_facts("print0-after-clear", text);
	dm_stats_buffer_destroy(dms, text);
	print_facts("print-missing", dm_stats_print_region(dms, 77, 0, 0, 0));
	logs("print", 6);

	fact("clear missing=%d", dm_stats_clear_region(dms, 77));
	logs("clear-missing", 6);
	fact("delete missing=%d", dm_stats_delete_region(dms, 77));
	logs("delete-missing", 6);
	r = dm_stats_delete_region(dms, id2);
	fact("delete id2=%d present=%d nr=%llu", r, dm_stats_region_present(dms, id2),
	     (unsigned long long)dm_stats_get_nr_regions(dms));
	r = dm_stats_list(dms, "");
	fact("list=%d nr=%llu", r, (unsigned long long)dm_stats_get_nr_regions(dms));
	/* a fresh, unlisted handle lists for the delete and forgets again */
	{
		struct dm_stats *other = dm_stats_create("capitest");
		REQUIRE(other && dm_stats_bind_name(other, DEV));
		r = dm_stats_delete_region(other, id3);
		fact("unlisted delete id3=%d nr=%llu", r,
		     (unsigned long long)dm_stats_get_nr_regions(other));
		fact("unlisted delete again=%d", dm_stats_delete_region(other, id3));
		dm_stats_destroy(other);
	}
	logs("delete", 6);
	fact("populate one=%d", dm_stats_populate(dms, NULL, id1));
	counters_fact("one", dms, id1, DM_STATS_WALK_REGION);
	fact("populate missing=%d", dm_stats_populate(dms, NULL, 55));
	logs("populate-one", 6);

	CHECK(dm_stats_delete_region(dms, id0) && dm_stats_delete_region(dms, id1));
	r = dm_stats_list(dms, NULL);
	fact("list empty=%d nr=%llu", r, (unsigned long long)dm_stats_get_nr_regions(dms));
	fact("populate empty=%d", dm_stats_populate(dms, NULL, DM_STATS_REGIONS_ALL));
	logs("empty", 6);
	dm_stats_destroy(dms);
	close(fd);
	CHECK(remove_dev(DEV));
}

/* bounds chosen so that each I/O lands in the 1ns-10s bin: the counts are
 * the same in every run, and so is every string */
TEST(histograms, K)
{
	static const int flagsets[] = {
		0, DM_HISTOGRAM_VALUES, DM_HISTOGRAM_PERCENT, DM_HISTOGRAM_VALUES | DM_HISTOGRAM_PERCENT,
		DM_HISTOGRAM_SUFFIX, DM_HISTOGRAM_BOUNDS_LOWER, DM_HISTOGRAM_BOUNDS_UPPER,
		DM_HISTOGRAM_BOUNDS_RANGE,
		DM_HISTOGRAM_BOUNDS_LOWER | DM_HISTOGRAM_SUFFIX,
		DM_HISTOGRAM_BOUNDS_UPPER | DM_HISTOGRAM_SUFFIX,
		DM_HISTOGRAM_BOUNDS_RANGE | DM_HISTOGRAM_SUFFIX,
		DM_HISTOGRAM_BOUNDS_LOWER | DM_HISTOGRAM_VALUES,
		DM_HISTOGRAM_BOUNDS_UPPER | DM_HISTOGRAM_VALUES | DM_HISTOGRAM_SUFFIX,
		DM_HISTOGRAM_BOUNDS_RANGE | DM_HISTOGRAM_VALUES | DM_HISTOGRAM_SUFFIX,
		DM_HISTOGRAM_BOUNDS_RANGE | DM_HISTOGRAM_PERCENT | DM_HISTOGRAM_SUFFIX,
		DM_HISTOGRAM_BOUNDS_RANGE | DM_HISTOGRAM_VALUES | DM_HISTOGRAM_PERCENT,
		DM_HISTOGRAM_BOUNDS_UPPER | DM_HISTOGRAM_PERCENT,
		0x7 | 0x30 | 0x40,
	};
	static const int widths[] = { -1, 0, 3, 8, 20 };
	int fd;
	struct dm_stats *dms = zero_dev("capitest", &fd);
	struct dm_histogram *bounds = dm_histogram_bounds_from_string("1ns,10s,20s");
	struct dm_histogram *ms = dm_histogram_bounds_from_string("5s,10s");
	struct dm_histogram *h, *h0, *h1, *hr;
	uint64_t id = 99, idm = 99, idp = 99;
	size_t i, j;

	REQUIRE(bounds && ms);
	fact("create hist=%d", dm_stats_create_region(dms, &id, 0, 0, -2, 0, bounds, NULL, "h"));
	fact("create ms hist=%d", dm_stats_create_region(dms, &idm, 0, 4096, -1, 0, ms, NULL, "foo"));
	fact("create precise=%d", dm_stats_create_region(dms, &idp, 0, 0, -1, 1, NULL, NULL, "p"));
	logs("create", 6);
	dm_histogram_bounds_destroy(bounds);
	dm_histogram_bounds_destroy(ms);
	REQUIRE(dm_stats_list(dms, NULL));
	dm_stats_foreach_region(dms)
		region_facts("listed", dms);
	h = dm_stats_get_histogram(dms, id, 0);
	fact("listed bounds: %s", hist_line(h));
	fact("listed ms bounds: %s", hist_line(dm_stats_get_histogram(dms, idm, 0)));
	fact("no histogram: %s", hist_line(dm_stats_get_histogram(dms, idp, 0)));

	REQUIRE(dm_stats_clear_region(dms, id) && dm_stats_clear_region(dms, idm) &&
		dm_stats_clear_region(dms, idp));
	REQUIRE(dio(fd, 0, 0, 8) && dio(fd, 0, 8, 8) && dio(fd, 1, 16, 8) && dio(fd, 0, 4096, 8));
	REQUIRE(dm_stats_populate(dms, NULL, DM_STATS_REGIONS_ALL));
	h0 = dm_stats_get_histogram(dms, id, 0);
	h1 = dm_stats_get_histogram(dms, id, 1);
	hr = dm_stats_get_histogram(dms, id, DM_STATS_WALK_REGION);
	fact("area0: %s", hist_line(h0));
	fact("area1: %s", hist_line(h1));
	fact("region: %s", hist_line(hr));
	CHECK(h0 == dm_stats_get_histogram(dms, id, 0));
	CHECK(hr == dm_stats_get_histogram(dms, id, DM_STATS_WALK_REGION));
	fact("ms region sum=%llu",
	     (unsigned long long)dm_histogram_get_sum(dm_stats_get_histogram(dms, idm, DM_STATS_WALK_REGION)));
	for (i = 0; i < sizeof(flagsets) / sizeof(flagsets[0]); i++)
		for (j = 0; j < sizeof(widths) / sizeof(widths[0]); j++) {
			const char *all = dm_histogram_to_string(hr, -1, widths[j], flagsets[i]);
			const char *one = dm_histogram_to_string(hr, 1, widths[j], flagsets[i]);
			const char *last = dm_histogram_to_string(h0, 3, widths[j], flagsets[i]);
			fact("flags=0x%x width=%d all='%s' bin1='%s' last='%s'", flagsets[i], widths[j],
			     all ? all : "NULL", one ? one : "NULL", last ? last : "NULL");
		}
	logs("to_string", 6);

	/* the cursor's histogram, in a walk */
	dm_stats_foreach_area(dms) {
		struct dm_histogram *c = dm_stats_get_histogram(dms, DM_STATS_REGION_CURRENT,
								 DM_STATS_AREA_CURRENT);
		fact("walk r%llu a%llu: %s", (unsigned long long)dm_stats_get_current_region(dms),
		     (unsigned long long)dm_stats_get_current_area(dms), hist_line(c));
	}
	/* a new region with the bounds of a listed histogram */
	{
		uint64_t id2 = 99;
		struct dm_histogram *b = dm_stats_get_histogram(dms, id, 0);
		fact("create from handle bounds=%d", dm_stats_create_region(dms, &id2, 100, 100, -1, 0,
									   b, NULL, ""));
		REQUIRE(dm_stats_list(dms, NULL));
		fact("its bounds: %s", hist_line(dm_stats_get_histogram(dms, id2, 0)));
	}
	fact("precise counters: precise=%d", dm_stats_get_region_precise_timestamps(dms, idp));
	logs("more", 6);
	dm_stats_destroy(dms);
	close(fd);
	CHECK(remove_dev(DEV));
}

/* a histogram of the handle is not the caller's: stock logs, then frees
 * memory of its pool (and aborts); here it is only logged */
TEST(owned_histogram_destroy, T_OURS | T_KERNEL)
{
	struct dm_stats *dms = zero_dev("capitest", NULL);
	struct dm_histogram *b = dm_histogram_bounds_from_string("1ms,2ms");
	struct dm_histogram *h;
	uint64_t id;

	REQUIRE(b);
	REQUIRE(dm_stats_create_region(dms, &id, 0, 0, -1, 0, b, NULL, ""));
	dm_histogram_bounds_destroy(b);
	REQUIRE(dm_stats_list(dms, NULL));
	h = dm_stats_get_histogram(dms, id, 0);
	REQUIRE(h);
	log_clear();
	dm_histogram_bounds_destroy(h);
	CHECK(log_has("Freeing invalid histogram bounds pointer", 3));
	CHECK_INT(dm_histogram_get_nr_bins(h), 3);
	CHECK_STR(dm_histogram_to_string(h, -1, -1, DM_HISTOGRAM_BOUNDS_UPPER | DM_HISTOGRAM_SUFFIX),
		  "1ms,2ms,>2ms");
	dm_stats_destroy(dms);
	CHECK(remove_dev(DEV));
}

TEST(groups_and_aliases, K)
{
	int fd;
	struct dm_stats *dms = zero_dev("capitest", &fd);
	uint64_t ids[5], gid = 99;
	char *desc = NULL;
	int i, r;

	for (i = 0; i < 5; i++)
		REQUIRE(dm_stats_create_region(dms, &ids[i], (uint64_t)i * 1024, 1024 + (i == 1 ? 512 : 0),
					       -2, 0, NULL, NULL, i == 2 ? "aux2" : ""));
	REQUIRE(dm_stats_list(dms, NULL));
	r = dm_stats_create_group(dms, "0-2", "grp", &gid);
	fact("create_group 0-2=%d gid=%llu", r, (unsigned long long)gid);
	logs("create", 6);
	fact("nr_groups before list=%llu", (unsigned long long)dm_stats_get_nr_groups(dms));
	REQUIRE(dm_stats_list(dms, NULL));
	fact("nr_groups=%llu present=%d present(1)=%d", (unsigned long long)dm_stats_get_nr_groups(dms),
	     dm_stats_group_present(dms, 0), dm_stats_group_present(dms, 1));
	r = dm_stats_get_group_descriptor(dms, 0, &desc);
	fact("descriptor=%d '%s'", r, desc ? desc : "");
	/* (DM_STATS_WALK_GROUP | 0 is the cursor's group, not group 0) */
	fact("alias(0)='%s' alias(1)='%s' alias(3)='%s'", dm_stats_get_alias(dms, 0),
	     dm_stats_get_alias(dms, 1), dm_stats_get_alias(dms, 3));
	fact("group_id(1)=%llx group_id(3)=%llx", (unsigned long long)dm_stats_get_group_id(dms, 1),
	     (unsigned long long)dm_stats_get_group_id(dms, 3));
	fact("aux(2)='%s' aux(GROUP|0)='%s' prog(GROUP|0)='%s'", dm_stats_get_region_aux_data(dms, 2),
	     dm_stats_get_region_aux_data(dms, DM_STATS_WALK_GROUP),
	     dm_stats_get_region_program_id(dms, DM_STATS_WALK_GROUP | 0));
	logs("listed", 6);

	/* errors */
	fact("again=%d", dm_stats_create_group(dms, "1,3", NULL, &gid));
	fact("missing=%d", dm_stats_create_group(dms, "3,9", NULL, &gid));
	fact("bad list=%d", dm_stats_create_group(dms, "3-", NULL, &gid));
	fact("alias ungrouped=%d", dm_stats_set_alias(dms, 3, "x"));
	fact("alias member=%d", dm_stats_set_alias(dms, 1, "x"));
	fact("delete missing group=%d", dm_stats_delete_group(dms, 3, 0));
	fact("delete out of range=%d", dm_stats_delete_group(dms, 40, 0));
	logs("errors", 6);

	fact("set_alias=%d", dm_stats_set_alias(dms, 0, "renamed"));
	REQUIRE(dm_stats_list(dms, NULL));
	fact("alias now='%s'", dm_stats_get_alias(dms, 2));
	logs("alias", 6);

	REQUIRE(dm_stats_clear_region(dms, 0) && dm_stats_clear_region(dms, 1) &&
		dm_stats_clear_region(dms, 2) && dm_stats_clear_region(dms, 3) &&
		dm_stats_clear_region(dms, 4));
	REQUIRE(dio(fd, 0, 0, 8) && dio(fd, 0, 1100, 8) && dio(fd, 1, 2048, 16) &&
		dio(fd, 0, 3072, 8));
	REQUIRE(dm_stats_populate(dms, NULL, DM_STATS_REGIONS_ALL));
	dm_stats_set_sampling_interval_ns(dms, 500000000);
	walk_facts("walk-all", dms, DM_STATS_WALK_ALL);
	walk_facts("walk-group", dms, DM_STATS_WALK_GROUP);
	walk_facts("walk-region-group", dms, DM_STATS_WALK_REGION | DM_STATS_WALK_GROUP);
	dm_stats_foreach_group(dms) {
		char tag[32];
		snprintf(tag, sizeof(tag), "fg%llx", (unsigned long long)dm_stats_get_current_region(dms));
		region_facts(tag, dms);
		counters_fact(tag, dms, DM_STATS_REGION_CURRENT, DM_STATS_AREA_CURRENT);
		metrics_fact(tag, dms, DM_STATS_REGION_CURRENT, DM_STATS_AREA_CURRENT);
		/* area 1 of every member, summed */
		counters_fact("area1", dms, DM_STATS_REGION_CURRENT, 1);
	}
	logs("group-io", 6);

	fact("ungroup=%d", dm_stats_delete_group(dms, 0, 0));
	REQUIRE(dm_stats_list(dms, NULL));
	fact("after ungroup nr_regions=%llu nr_groups=%llu",
	     (unsigned long long)dm_stats_get_nr_regions(dms),
	     (unsigned long long)dm_stats_get_nr_groups(dms));
	r = dm_stats_create_group(dms, "2-4", NULL, &gid);
	fact("regroup 2-4=%d gid=%llu", r, (unsigned long long)gid);
	REQUIRE(dm_stats_list(dms, NULL));
	fact("delete member 3=%d", dm_stats_delete_region(dms, 3));
	REQUIRE(dm_stats_list(dms, NULL));
	desc = NULL;
	r = dm_stats_get_group_descriptor(dms, 2, &desc);
	fact("descriptor=%d '%s'", r, desc ? desc : "");
	fact("delete group with regions=%d", dm_stats_delete_group(dms, 2, 1));
	REQUIRE(dm_stats_list(dms, NULL));
	fact("left nr_regions=%llu nr_groups=%llu", (unsigned long long)dm_stats_get_nr_regions(dms),
	     (unsigned long long)dm_stats_get_nr_groups(dms));
	dm_stats_foreach_region(dms)
		region_facts("left", dms);
	logs("delete", 6);
	dm_stats_destroy(dms);
	close(fd);
	CHECK(remove_dev(DEV));
}

TEST(create_region_versions_kernel, K)
{
	struct dm_stats *dms = zero_dev("capitest", NULL);
	create_v104_fn v104 = (create_v104_fn)versioned("dm_stats_create_region", "DM_1_02_104");
	create_v106_fn v106 = (create_v106_fn)versioned("dm_stats_create_region", "DM_1_02_106");
	uint64_t a = 99, b = 99, c = 99;

	REQUIRE(v104 && v106);
	fact("v104=%d", v104(dms, &a, 0, 0, -3, NULL, "old"));
	fact("v106 precise=%d", v106(dms, &b, 10, 20, 0, 1, "prog106", NULL));
	fact("v106 plain=%d", v106(dms, &c, 10, 20, 0, -1, NULL, "neg"));
	logs("create", 6);
	REQUIRE(dm_stats_list(dms, DM_STATS_ALL_PROGRAMS));
	dm_stats_foreach_region(dms)
		region_facts("listed", dms);
	dm_stats_destroy(dms);
	CHECK(remove_dev(DEV));
}

static int sh(const char *cmd)
{
	int st = system(cmd);

	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* write `count` 4 KiB blocks at 64 KiB steps from `first`, then sync */
static int sparse_blocks(int fd, int first, int count)
{
	char buf[4096];
	int i;

	memset(buf, 0xa5, sizeof(buf));
	for (i = 0; i < count; i++)
		if (pwrite(fd, buf, sizeof(buf), (off_t)(first + i) * 65536) != (ssize_t)sizeof(buf))
			return 0;
	return fsync(fd) == 0;
}

static void ids_fact(const char *tag, const uint64_t *ids)
{
	char buf[1024];
	size_t o = 0;
	int n = 0;

	if (!ids) {
		fact("%s NULL", tag);
		return;
	}
	buf[0] = '\0';
	for (; *ids != UINT64_MAX && n < 100; ids++, n++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%llu", n ? "," : "",
				      (unsigned long long)*ids);
	fact("%s n=%d [%s]", tag, n, buf);
}

/* the file system of file_maps, detached when a test stops half-way (so
 * that the harness can remove the device) */
static char mounted[512];

static void detach_mounted(void)
{
	if (mounted[0])
		umount2(mounted, MNT_DETACH);
}

TEST(file_maps, K)
{
	struct loopdev loop;
	struct dm_stats *dms;
	char table[128], cmd[512], *desc = NULL;
	uint64_t *ids, gid;
	int fd, r;

	if (!loop_attach(&loop, tmp_path("img"), 64 << 20))
		SKIP("no loop device");
	snprintf(table, sizeof(table), "0 131072 linear %s 0", loop.path);
	REQUIRE(create_dev(DEV, NULL, table));
	close(loop.fd);
	REQUIRE(dm_node(DEV, tmp_path("blk")));
	snprintf(cmd, sizeof(cmd), "mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 %s "
		 ">/dev/null 2>&1", tmp_path("blk"));
	if (!sh(cmd)) {
		remove_dev(DEV);
		SKIP("mkfs.ext4 failed");
	}
	REQUIRE(mkdir(tmp_path("mnt"), 0700) == 0);
	if (mount(tmp_path("blk"), tmp_path("mnt"), "ext4", 0, NULL)) {
		h_note("mount: %s", strerror(errno));
		remove_dev(DEV);
		SKIP("cannot mount ext4");
	}
	snprintf(mounted, sizeof(mounted), "%s", tmp_path("mnt"));
	atexit(detach_mounted);
	fd = open(tmp_path("mnt/file"), O_CREAT | O_RDWR, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(sparse_blocks(fd, 0, 4));

	dms = dm_stats_create("capitest");
	REQUIRE(dms);
	fact("bind_from_fd=%d", dm_stats_bind_from_fd(dms, fd));
	r = dm_stats_list(dms, NULL);
	fact("list=%d nr=%llu", r, (unsigned long long)dm_stats_get_nr_regions(dms));
	logs("bind", 6);

	ids = dm_stats_create_regions_from_fd(dms, fd, 1, 0, NULL, "myfile");
	ids_fact("create", ids);
	gid = ids ? ids[0] : 0;
	free(ids);
	logs("create", 6);
	REQUIRE(dm_stats_list(dms, NULL));
	fact("nr_regions=%llu nr_groups=%llu", (unsigned long long)dm_stats_get_nr_regions(dms),
	     (unsigned long long)dm_stats_get_nr_groups(dms));
	r = dm_stats_get_group_descriptor(dms, gid, &desc);
	fact("descriptor=%d '%s' alias='%s'", r, desc ? desc : "", dm_stats_get_alias(dms, gid));
	dm_stats_foreach_region(dms)
		region_facts("mapped", dms);
	logs("listed", 6);

	/* ungrouped, with a histogram (listed again: the new ids are not in
	 * the handle's table yet) */
	{
		struct dm_histogram *b = dm_histogram_bounds_from_string("1ms,5ms");
		uint64_t *more = dm_stats_create_regions_from_fd(dms, fd, 0, 0, b, NULL);
		ids_fact("ungrouped", more);
		REQUIRE(dm_stats_list(dms, NULL));
		if (more) {
			uint64_t *p;
			for (p = more; *p != UINT64_MAX; p++)
				CHECK(dm_stats_delete_region(dms, *p));
		}
		free(more);
		dm_histogram_bounds_destroy(b);
		logs("ungrouped", 6);
	}

	/* the file grows: the map follows */
	REQUIRE(sparse_blocks(fd, 8, 3));
	ids = dm_stats_update_regions_from_fd(dms, fd, gid);
	ids_fact("update grown", ids);
	free(ids);
	logs("update", 6);
	REQUIRE(ftruncate(fd, 65536 * 2) == 0 && fsync(fd) == 0);
	ids = dm_stats_update_regions_from_fd(dms, fd, gid);
	ids_fact("update truncated", ids);
	free(ids);
	logs("update-truncated", 6);
	ids = dm_stats_update_regions_from_fd(dms, fd, 40);
	ids_fact("update missing group", ids);
	free(ids);
	logs("update-missing", 6);
	REQUIRE(dm_stats_list(dms, NULL));
	desc = NULL;
	r = dm_stats_get_group_descriptor(dms, gid, &desc);
	fact("descriptor=%d '%s' alias='%s'", r, desc ? desc : "", dm_stats_get_alias(dms, gid));

	/* dmfilemapd is not installed: stock's forked child fails, the call does not */
	if (!have_dmfilemapd()) {
		r = dm_stats_start_filemapd(fd, gid, tmp_path("mnt/file"), DM_FILEMAPD_FOLLOW_INODE, 0, 0);
		fact("start_filemapd=%d", r);
		logs_info("filemapd", 3);
		log_clear();
		/* stock's child has the file open until it exits */
		while (waitpid(-1, NULL, 0) > 0)
			;
	}

	fact("delete group=%d", dm_stats_delete_group(dms, gid, 1));
	REQUIRE(dm_stats_list(dms, NULL));
	fact("left=%llu", (unsigned long long)dm_stats_get_nr_regions(dms));
	logs("cleanup", 6);
	dm_stats_destroy(dms);
	close(fd);
	CHECK(umount(tmp_path("mnt")) == 0);
	mounted[0] = '\0';
	CHECK(remove_dev(DEV));
}

TEST(device_errors_kernel, K)
{
	struct dm_stats *dms = dm_stats_create("capitest");
	uint64_t id = 9;

	REQUIRE(dms);
	fact("bind missing=%d", dm_stats_bind_name(dms, TP "missing"));
	fact("list=%d", dm_stats_list(dms, NULL));
	logs("list-missing", 6);
	fact("create on missing=%d", dm_stats_create_region(dms, &id, 0, 0, 1, 0, NULL, NULL, ""));
	logs("create-missing", 6);
	fact("print on missing=%s", dm_stats_print_region(dms, 0, 0, 0, 0) ? "text" : "NULL");
	logs("print-missing", 6);
	dm_stats_destroy(dms);

	dms = zero_dev("capitest", NULL);
	fact("huge step=%d", dm_stats_create_region(dms, &id, 0, 0, 0, 0, NULL, NULL, "x y"));
	fact("beyond end=%d", dm_stats_create_region(dms, &id, 100000, 10, 1, 0, NULL, NULL, ""));
	fact("null aux=%d", dm_stats_create_region(dms, &id, 0, 8, 1, 0, NULL, NULL, NULL));
	logs("create", 6);
	REQUIRE(dm_stats_list(dms, NULL));
	dm_stats_foreach_region(dms)
		region_facts("listed", dms);
	{
		struct dm_info info;
		int r;

		REQUIRE(get_info(DEV, &info));
		fact("bind_devno=%d", dm_stats_bind_devno(dms, (int)info.major, (int)info.minor));
		r = dm_stats_list(dms, NULL);
		fact("list=%d nr=%llu", r, (unsigned long long)dm_stats_get_nr_regions(dms));
		fact("bind_uuid(none)=%d", dm_stats_bind_uuid(dms, "CAPITEST-none"));
		fact("list=%d", dm_stats_list(dms, NULL));
	}
	logs("binds", 6);
	dm_stats_destroy(dms);
	CHECK(remove_dev(DEV));
}
