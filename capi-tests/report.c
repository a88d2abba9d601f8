/* dm_report_* (and dm_percent_*): report API edge cases. Facts compare the
 * return values and every line the library logs (report output included)
 * between stock and ours. The engine itself is covered byte for byte by
 * report-oracle/ (run.sh runs it too). */
#define _GNU_SOURCE
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------- a small report definition ---------------- */

/* struct dm_list / struct dm_str_list built by hand (layout only). */
struct t_list {
	struct t_list *n, *p;
};
struct t_str_list {
	struct t_list list;
	const char *str;
};

struct thing {
	const char *name;
	int i;
	int32_t i32;
	uint32_t u32;
	uint64_t u64;
	dm_percent_t pct;
	uint64_t sectors;
	time_t when;
	const char *tags[4];
	const char *delim;
	int fail;		/* the "fail" field's report_fn returns 0 */
	int null_data;		/* the type's data_fn returns NULL */
};

#define T_THING 1
#define T_OTHER 2

static int data_calls, report_calls;
static struct dm_report *seen_rh;
static struct dm_pool *seen_mem;
static void *seen_private;
static const void *seen_data;

static void *thing_data(void *obj)
{
	const struct thing *t = obj;

	data_calls++;
	return t->null_data ? NULL : obj;
}

static void *other_data(void *obj)
{
	data_calls++;
	return obj;
}

static int note(struct dm_report *rh, struct dm_pool *mem, const void *data, void *priv)
{
	report_calls++;
	seen_rh = rh;
	seen_mem = mem;
	seen_private = priv;
	seen_data = data;
	return 1;
}

static int name_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		     const void *data, void *priv)
{
	note(rh, mem, data, priv);
	return dm_report_field_string(rh, field, (const char *const *)data);
}

static int int_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		    const void *data, void *priv)
{
	note(rh, mem, data, priv);
	return dm_report_field_int(rh, field, (const int *)data);
}

static int int32_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		      const void *data, void *priv)
{
	note(rh, mem, data, priv);
	return dm_report_field_int32(rh, field, (const int32_t *)data);
}

static int uint32_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		       const void *data, void *priv)
{
	note(rh, mem, data, priv);
	return dm_report_field_uint32(rh, field, (const uint32_t *)data);
}

static int uint64_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		       const void *data, void *priv)
{
	note(rh, mem, data, priv);
	return dm_report_field_uint64(rh, field, (const uint64_t *)data);
}

static int pct_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		    const void *data, void *priv)
{
	note(rh, mem, data, priv);
	return dm_report_field_percent(rh, field, (const dm_percent_t *)data);
}

/* a size field as LVM-style code writes it: text and a double sort value */
static int size_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		     const void *data, void *priv)
{
	uint64_t sectors = *(const uint64_t *)data;
	double *d;
	char *s;

	note(rh, mem, data, priv);
	if (!(d = dm_pool_alloc(mem, sizeof(*d))) || !(s = dm_pool_zalloc(mem, 32)))
		return 0;
	*d = (double)sectors;
	snprintf(s, 32, "%.2fk", (double)sectors / 2);
	dm_report_field_set_value(field, s, d);
	return 1;
}

static int time_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		     const void *data, void *priv)
{
	time_t *t;
	char *s;

	note(rh, mem, data, priv);
	if (!(t = dm_pool_alloc(mem, sizeof(*t))) || !(s = dm_pool_zalloc(mem, 32)))
		return 0;
	*t = *(const time_t *)data;
	snprintf(s, 32, "@%lld", (long long)*t);
	dm_report_field_set_value(field, s, t);
	return 1;
}

static int list_disp_any(struct dm_report *rh, struct dm_pool *mem,
			 struct dm_report_field *field, const void *data, void *priv, int sorted)
{
	const struct thing *t = (const struct thing *)((const char *)data -
						       offsetof(struct thing, tags));
	struct t_list head;
	struct t_str_list items[4];
	int i;

	note(rh, mem, data, priv);
	head.n = head.p = &head;
	for (i = 0; i < 4 && t->tags[i]; i++) {
		items[i].str = t->tags[i];
		items[i].list.n = &head;
		items[i].list.p = head.p;
		head.p->n = &items[i].list;
		head.p = &items[i].list;
	}
	if (sorted)
		return dm_report_field_string_list(rh, field, (const struct dm_list *)&head,
						   t->delim);
	return dm_report_field_string_list_unsorted(rh, field, (const struct dm_list *)&head,
						    t->delim);
}

static int list_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		     const void *data, void *priv)
{
	return list_disp_any(rh, mem, field, data, priv, 1);
}

static int ulist_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		      const void *data, void *priv)
{
	return list_disp_any(rh, mem, field, data, priv, 0);
}

/* set_value with the string itself as sort value on a number field */
static int strnum_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		       const void *data, void *priv)
{
	char *s;

	note(rh, mem, data, priv);
	if (!(s = dm_pool_strdup(mem, "42")))
		return 0;
	dm_report_field_set_value(field, s, NULL);
	return 1;
}

static int fail_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		     const void *data, void *priv)
{
	const struct thing *t = (const struct thing *)((const char *)data -
						       offsetof(struct thing, fail));
	static const char *ok = "fine";

	note(rh, mem, data, priv);
	if (t->fail)
		return 0;
	return dm_report_field_string(rh, field, &ok);
}

/* a value from the report's value cache */
static int cached_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		       const void *data, void *priv)
{
	const char *v = dm_report_value_cache_get(rh, "cached");
	static const char *none = "-";

	note(rh, mem, data, priv);
	if (!dm_report_value_cache_get(rh, "seen"))
		if (!dm_report_value_cache_set(rh, "seen", "yes"))
			return 0;
	return dm_report_field_string(rh, field, v ? &v : &none);
}

static const struct dm_report_object_type types[] = {
	{ T_THING, "Thing", "thing_", thing_data },
	{ T_OTHER, "Other", "other_", other_data },
	{ 0, "", "", NULL },
};

#define OFF(f) ((uint32_t)offsetof(struct thing, f))
#define STR DM_REPORT_FIELD_TYPE_STRING
#define NUM DM_REPORT_FIELD_TYPE_NUMBER
#define LEFT DM_REPORT_FIELD_ALIGN_LEFT
#define RIGHT DM_REPORT_FIELD_ALIGN_RIGHT

static const struct dm_report_field_type fields[] = {
	{ T_THING, STR | LEFT, OFF(name), 4, "name", "Name", name_disp, "The name." },
	{ T_THING, NUM, OFF(i), 3, "num", "Num", int_disp, "An int." },
	{ T_THING, NUM, OFF(i32), 3, "i32", "I32", int32_disp, "An int32." },
	/* stock compares the whole flag word: an aligned number field gets no
	 * selection value parser ("Forbidden NULL custom") */
	{ T_THING, NUM | RIGHT, OFF(u32), 3, "u32", "U32", uint32_disp, "A uint32." },
	{ T_THING, NUM, OFF(u64), 3, "u64", "U64", uint64_disp, "A uint64." },
	{ T_THING, DM_REPORT_FIELD_TYPE_PERCENT, OFF(pct), 4, "pct", "Pct", pct_disp,
	  "A percentage." },
	{ T_THING, DM_REPORT_FIELD_TYPE_SIZE, OFF(sectors), 5, "size", "Size", size_disp,
	  "A size." },
	{ T_THING, DM_REPORT_FIELD_TYPE_TIME | LEFT, OFF(when), 5, "when", "When", time_disp,
	  "A time." },
	{ T_THING, DM_REPORT_FIELD_TYPE_STRING_LIST, OFF(tags), 4, "tags", "Tags", list_disp,
	  "Tags, sorted." },
	{ T_THING, DM_REPORT_FIELD_TYPE_STRING_LIST, OFF(tags), 4, "utags", "UTags", ulist_disp,
	  "Tags, as given." },
	{ T_THING, NUM | RIGHT, OFF(name), 3, "strnum", "StrNum", strnum_disp,
	  "A number shown from a string." },
	{ T_THING, STR | LEFT, OFF(fail), 4, "fail", "Fail", fail_disp, "Fails when asked." },
	{ T_OTHER, STR | LEFT, OFF(name), 6, "cached", "Cached", cached_disp, "From the cache." },
	{ 0, 0, 0, 0, "", "", NULL, NULL },
};

static struct thing things[] = {
	{ "beta", 2, -2, 2, 20000000000ULL, 50000000, 2048, 1000, { "x", "a", NULL }, NULL, 0, 0 },
	{ "alpha", 10, 10, 4000000000U, 1, DM_PERCENT_100, 4096, 2000, { "m", NULL }, "+", 0, 0 },
	{ "gamma", -1, 0, 0, 0, DM_PERCENT_INVALID, 1, 0, { NULL }, NULL, 0, 0 },
	{ "delta", 0, 0, 0, 0, 1, 0, 3000, { "zz", "b", "c", NULL }, "::", 0, 0 },
};
#define NTHINGS ((int)(sizeof(things) / sizeof(things[0])))

static struct dm_report *mk(const char *out, uint32_t flags, const char *keys)
{
	uint32_t rt = T_THING;

	return dm_report_init(&rt, types, fields, out, " | ", flags, keys, (void *)&things);
}

static int report_all(struct dm_report *rh)
{
	int i, r = 1;

	for (i = 0; i < NTHINGS; i++)
		r &= dm_report_object(rh, &things[i]);
	return r;
}

/*
 * (Stock crashes on a NULL separator with more than one field: the tests
 * always give one.)
 *
 * Stock writes into selection strings while parsing them (a NUL after a
 * name, put back afterwards), so they must be writable, as argv is.
 */
static char *W(const char *s)
{
	static char buf[8][256];
	static int n;
	char *b = buf[n++ % 8];

	snprintf(b, sizeof(buf[0]), "%s", s);
	return b;
}

#define ALIGNED DM_REPORT_OUTPUT_ALIGNED
#define BUFFERED DM_REPORT_OUTPUT_BUFFERED
#define HEADINGS DM_REPORT_OUTPUT_HEADINGS

/* ---------------- output ---------------- */

TEST(every_setter_columns, T_MATCH)
{
	struct dm_report *rh = mk("name,num,i32,u32,u64,pct,size,when,tags,utags", ALIGNED |
				  BUFFERED | HEADINGS, "-num");

	REQUIRE(rh);
	fact("objects=%d", report_all(rh));
	fact("output=%d", dm_report_output(rh));
	fact("calls data=%d report=%d", data_calls, report_calls);
	dm_report_free(rh);
	fact_logs("out", 6);
}

TEST(sort_keys_by_type, T_MATCH)
{
	/* not string lists: stock compares their sort values' pointer bytes */
	static const char *keys[] = { "size", "-when", "pct", "u64", "-name", "i32", "-i32,name" };
	struct dm_report *rh;
	size_t k;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		rh = mk("name", BUFFERED, keys[k]);
		REQUIRE(rh);
		report_all(rh);
		dm_report_output(rh);
		dm_report_free(rh);
	}
	fact_logs("sort", 6);
}

TEST(rows_prefix_unquoted, T_MATCH)
{
	struct dm_report *rh = mk("name,num,tags", DM_REPORT_OUTPUT_COLUMNS_AS_ROWS | HEADINGS |
				  ALIGNED, NULL);
	int r1, r2, r3;

	REQUIRE(rh);
	report_all(rh);
	r1 = dm_report_column_headings(rh);
	dm_report_output(rh);
	dm_report_free(rh);
	rh = mk("name,num,pct", DM_REPORT_OUTPUT_FIELD_NAME_PREFIX | BUFFERED, NULL);
	REQUIRE(rh);
	r2 = dm_report_set_output_field_name_prefix(rh, "capi_");
	report_all(rh);
	dm_report_output(rh);
	dm_report_free(rh);
	rh = mk("name,num", DM_REPORT_OUTPUT_FIELD_NAME_PREFIX | DM_REPORT_OUTPUT_FIELD_UNQUOTED,
		NULL);
	REQUIRE(rh);
	r3 = dm_report_set_output_field_name_prefix(rh, "x");
	report_all(rh);
	dm_report_free(rh);
	fact("headings_rows=%d prefix=%d prefix=%d", r1, r2, r3);
	fact_logs("rows", 6);
}

TEST(column_headings_repeat, T_MATCH)
{
	struct dm_report *rh = mk("name,num", ALIGNED | HEADINGS, NULL);
	int r1, r2;

	REQUIRE(rh);
	r1 = dm_report_column_headings(rh);
	dm_report_object(rh, &things[0]);
	r2 = dm_report_column_headings(rh);
	dm_report_object(rh, &things[1]);
	fact("headings=%d,%d", r1, r2);
	dm_report_free(rh);
	fact_logs("head", 6);
}

TEST(compact_fields, T_MATCH)
{
	struct dm_report *rh = mk("name,tags,num,pct", ALIGNED | BUFFERED | HEADINGS, NULL);
	int r[6];

	REQUIRE(rh);
	/* gamma alone: no tags, invalid percentage: both columns empty */
	dm_report_object(rh, &things[2]);
	r[0] = dm_report_compact_fields(rh);
	dm_report_output(rh);
	dm_report_free(rh);
	rh = mk("name,tags,num,pct", ALIGNED | BUFFERED | HEADINGS, NULL);
	REQUIRE(rh);
	dm_report_object(rh, &things[2]);
	r[1] = dm_report_compact_given_fields(rh, "pct,name");
	dm_report_output(rh);
	r[2] = dm_report_compact_given_fields(rh, "nosuch");
	r[3] = dm_report_compact_given_fields(rh, NULL);
	dm_report_free(rh);
	/* unbuffered: no effect */
	rh = mk("name,tags", ALIGNED, NULL);
	REQUIRE(rh);
	r[4] = dm_report_compact_fields(rh);
	dm_report_object(rh, &things[2]);
	r[5] = dm_report_compact_fields(rh);
	dm_report_free(rh);
	fact("compact=%d given=%d bad=%d null=%d unbuffered=%d,%d", r[0], r[1], r[2], r[3], r[4],
	     r[5]);
	fact_logs("compact", 6);
}

TEST(is_empty_destroy_rows, T_MATCH)
{
	struct dm_report *rh = mk("name", BUFFERED, NULL);
	int e[4];

	REQUIRE(rh);
	e[0] = dm_report_is_empty(rh);
	report_all(rh);
	e[1] = dm_report_is_empty(rh);
	dm_report_destroy_rows(rh);
	e[2] = dm_report_is_empty(rh);
	dm_report_output(rh);
	dm_report_object(rh, &things[3]);
	dm_report_output(rh);
	e[3] = dm_report_is_empty(rh);
	fact("empty=%d,%d,%d,%d", e[0], e[1], e[2], e[3]);
	dm_report_free(rh);
	fact_logs("empty", 6);
}

/* unbuffered reports print each object at once; many rows, small memory */
TEST(many_rows, T_MATCH)
{
	struct dm_report *rh = mk("name,num,tags", 0, NULL);
	struct thing t = things[0];
	char name[32];
	int i, ok = 1;

	REQUIRE(rh);
	for (i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "n%05d", i);
		t.name = name;
		t.i = i;
		ok &= dm_report_object(rh, &t);
		if (i % 1000 == 0)
			log_clear();
	}
	fact("ok=%d", ok);
	dm_report_free(rh);
	rh = mk("name,num", BUFFERED, "-num");
	REQUIRE(rh);
	for (i = 0; i < 3000; i++) {
		t.i = i % 7;
		t.name = "same";
		ok &= dm_report_object(rh, &t);
	}
	log_clear();
	ok &= dm_report_output(rh);
	fact("ok=%d lines=%d first='%s'", ok, log_count(4), log_first(4) ? log_first(4) : "");
	dm_report_free(rh);
}

/*
 * Report lines go to the log function; the default one (dmsetup's) prints
 * them to stdout whole, however long.
 */
TEST(long_line_default_logger, T_MATCH)
{
	int pfd[2], st;
	char buf[4096];
	ssize_t n;
	long total = 0;
	pid_t pid;

	REQUIRE(pipe(pfd) == 0);
	fflush(stdout);
	pid = fork();
	REQUIRE(pid >= 0);
	if (!pid) {
		static char name[20001];
		struct thing t = things[0];
		struct dm_report *rh;

		dup2(pfd[1], 1);
		close(pfd[0]);
		memset(name, 'x', sizeof(name) - 1);
		t.name = name;
		dm_log_with_errno_init(NULL);
		if (!(rh = mk("name,num", 0, NULL)))
			_exit(2);
		dm_report_object(rh, &t);
		dm_report_free(rh);
		fflush(stdout);
		_exit(0);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], buf, sizeof(buf))) > 0)
		total += n;
	close(pfd[0]);
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	fact("stdout_bytes=%ld", total);
}

/* ---------------- callbacks ---------------- */

TEST(callback_arguments, T_MATCH)
{
	struct dm_report *rh = mk("num", 0, NULL);
	char *s;

	REQUIRE(rh);
	dm_report_object(rh, &things[1]);
	fact("rh_is_report=%d mem_set=%d private=%d data_is_field=%d", seen_rh == rh,
	     seen_mem != NULL, seen_private == (void *)&things, seen_data == &things[1].i);
	/* the pool is a real pool */
	s = dm_pool_strdup(seen_mem, "pool works");
	CHECK(s && !strcmp(s, "pool works"));
	dm_report_free(rh);
}

TEST(callback_call_counts, T_MATCH)
{
	uint32_t rt = T_THING;
	struct dm_report *rh;

	rh = mk("name,num", BUFFERED, "u64,-name");
	REQUIRE(rh);
	data_calls = report_calls = 0;
	dm_report_object(rh, &things[0]);
	fact("plain: data=%d report=%d", data_calls, report_calls);
	dm_report_free(rh);
	rh = dm_report_init_with_selection(&rt, types, fields, "name", NULL, BUFFERED, NULL,
					   W("u64>1 && pct>=0"), NULL, NULL);
	REQUIRE(rh);
	data_calls = report_calls = 0;
	dm_report_object(rh, &things[0]);
	fact("selection: data=%d report=%d", data_calls, report_calls);
	dm_report_free(rh);
	fact_logs("calls", 6);
}

TEST(report_fn_fails, T_MATCH)
{
	struct dm_report *rh = mk("name,fail,num", BUFFERED, NULL);
	struct thing bad = things[0], nodata = things[1];
	int r1, r2, r3, sel = -7;

	REQUIRE(rh);
	bad.fail = 1;
	nodata.null_data = 1;
	r1 = dm_report_object(rh, &bad);
	r2 = dm_report_object_is_selected(rh, &nodata, 1, &sel);
	r3 = dm_report_object(rh, &things[2]);
	dm_report_output(rh);
	fact("fail=%d nodata=%d sel=%d ok=%d", r1, r2, sel, r3);
	dm_report_free(rh);
	fact_logs("fail", 6);
}

TEST(percent_values, T_MATCH)
{
	static const dm_percent_t p[] = { 0, 1, 500000, DM_PERCENT_1, 99999999, DM_PERCENT_100,
					  DM_PERCENT_INVALID, DM_PERCENT_FAILED, 999990000,
					  1000000000, -5 };
	struct dm_report *rh;
	struct thing t = things[0];
	size_t i;

	rh = mk("pct", 0, NULL);
	REQUIRE(rh);
	for (i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		t.pct = p[i];
		fact("pct=%d r=%d", p[i], dm_report_object(rh, &t));
	}
	dm_report_free(rh);
	fact("make=%d,%d,%d,%d,%d", dm_make_percent(0, 0), dm_make_percent(0, 5),
	     dm_make_percent(1, 3), dm_make_percent(5, 5), dm_make_percent(999999, 1000000));
	fact("float=%.6f,%.6f round=%.6f,%.6f,%.6f", dm_percent_to_float(12345678),
	     dm_percent_to_float(DM_PERCENT_INVALID), dm_percent_to_round_float(1, 2),
	     dm_percent_to_round_float(99999999, 2), dm_percent_to_round_float(50000000, 11));
	fact_logs("pct", 6);
}

TEST(string_as_number_sort_value, T_MATCH)
{
	struct dm_report *rh = mk("name,strnum", BUFFERED, "strnum");

	REQUIRE(rh);
	report_all(rh);
	dm_report_output(rh);
	dm_report_free(rh);
	fact_logs("strnum", 6);
}

TEST(value_cache, T_MATCH)
{
	uint32_t rt = T_OTHER;
	struct dm_report *rh = dm_report_init(&rt, types, fields, "cached", NULL, 0, NULL, NULL);
	static int a, b;
	int r[4];
	const void *g[4];

	REQUIRE(rh);
	g[0] = dm_report_value_cache_get(rh, "nothing");
	r[0] = dm_report_value_cache_set(rh, "k", &a);
	g[1] = dm_report_value_cache_get(rh, "k");
	r[1] = dm_report_value_cache_set(rh, "k", &b);
	g[2] = dm_report_value_cache_get(rh, "k");
	r[2] = dm_report_value_cache_set(rh, "", NULL);
	g[3] = dm_report_value_cache_get(rh, "");
	fact("get0=%d set=%d get=%d set=%d get=%d setnull=%d getnull=%d", g[0] == NULL, r[0],
	     g[1] == &a, r[1], g[2] == &b, r[2], g[3] == NULL);
	/* from a report function */
	dm_report_object(rh, &things[0]);
	r[3] = dm_report_value_cache_set(rh, "cached", "from cache");
	dm_report_object(rh, &things[0]);
	fact("set=%d seen='%s'", r[3], (const char *)dm_report_value_cache_get(rh, "seen"));
	dm_report_free(rh);
	fact_logs("cache", 6);
}

/* ---------------- init errors and help ---------------- */

TEST(bad_field_list, T_MATCH)
{
	uint32_t rt = T_THING;
	struct dm_report *rh;

	rh = dm_report_init(&rt, types, fields, "name,bogus", NULL, 0, NULL, NULL);
	fact("init=%s types=0x%x", rh ? "ok" : "NULL", rt);
	if (rh)
		dm_report_free(rh);
	rt = T_THING;
	rh = dm_report_init(&rt, types, fields, "name", NULL, 0, "-nosuch", NULL);
	fact("badkey=%s types=0x%x", rh ? "ok" : "NULL", rt);
	if (rh)
		dm_report_free(rh);
	rt = 0;
	rh = dm_report_init(&rt, types, fields, "thing_name,other_cached", NULL, 0, NULL, NULL);
	fact("prefixed=%s types=0x%x", rh ? "ok" : "NULL", rt);
	if (rh)
		dm_report_free(rh);
	rh = dm_report_init(NULL, types, fields, "name,,num", NULL, 0, "", NULL);
	fact("null_types_arg=%s", rh ? "ok" : "NULL");
	if (rh)
		dm_report_free(rh);
	fact_logs("bad", 6);
}

TEST(help_field, T_MATCH)
{
	uint32_t rt = T_THING;
	struct dm_report *rh = dm_report_init(&rt, types, fields, "help", NULL, 0, NULL, NULL);
	int r;

	REQUIRE(rh);
	r = dm_report_object(rh, &things[0]);
	fact("object=%d output=%d types=0x%x", r, dm_report_output(rh), rt);
	dm_report_free(rh);
	fact_logs("help", 6);
}

static const struct dm_report_object_type reserved_types[] = {
	{ 0x80000000u, "Bad", "bad_", thing_data },
	{ 0, "", "", NULL },
};

TEST(reserved_type_id, T_MATCH)
{
	uint32_t rt = 0;
	struct dm_report *rh = dm_report_init(&rt, reserved_types, fields, "name", NULL, 0, NULL,
					      NULL);

	fact("init=%s", rh ? "ok" : "NULL");
	if (rh)
		dm_report_free(rh);
	fact_logs("reserved_type", 6);
}

/* ---------------- selection ---------------- */

TEST(selection, T_MATCH)
{
	uint32_t rt = T_THING;
	struct dm_report *rh;
	int i, sel[NTHINGS], r[NTHINGS], s1, s2;

	rh = dm_report_init_with_selection(&rt, types, fields, "name,num,selected", " ",
					   ALIGNED | BUFFERED | HEADINGS, "name", W("num>1 || tags=b"),
					   NULL, NULL);
	REQUIRE(rh);
	fact("types=0x%x", rt);
	for (i = 0; i < NTHINGS; i++) {
		sel[i] = -1;
		r[i] = dm_report_object_is_selected(rh, &things[i], 0, &sel[i]);
		fact("is_selected[%d]=%d sel=%d", i, r[i], sel[i]);
	}
	report_all(rh);
	dm_report_output(rh);
	report_all(rh);
	s1 = dm_report_set_selection(rh, W("name=~^[ab]"));
	dm_report_output(rh);
	s2 = dm_report_set_selection(rh, W("num="));
	fact("setsel=%d,%d", s1, s2);
	dm_report_free(rh);
	/* process-wide: a plain report now has "selected" too */
	rt = T_THING;
	rh = dm_report_init(&rt, types, fields, "name,selected", " ", 0, NULL, NULL);
	fact("later_plain_with_selected=%s", rh ? "ok" : "NULL");
	if (rh) {
		dm_report_object(rh, &things[0]);
		dm_report_free(rh);
	}
	fact_logs("sel", 6);
}

TEST(selection_errors, T_MATCH)
{
	static const char *bad[] = { "num>", "nosuch=1", "name=~(", "(num=1", "num=1 &&",
				     "size>1q", "when>'tomorrow'", "num!!1" };
	uint32_t rt;
	struct dm_report *rh;
	size_t k;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		rt = T_THING;
		rh = dm_report_init_with_selection(&rt, types, fields, "name", NULL, 0, NULL,
						   W(bad[k]), NULL, NULL);
		fact("sel='%s' init=%s", bad[k], rh ? "ok" : "NULL");
		if (rh)
			dm_report_free(rh);
	}
	fact_logs("selerr", 6);
}

TEST(selection_help, T_MATCH)
{
	uint32_t rt = T_THING;
	struct dm_report *rh = dm_report_init_with_selection(&rt, types, fields, "name", NULL, 0,
							     NULL, W("help"), NULL, NULL);

	REQUIRE(rh);
	fact("object=%d", dm_report_object(rh, &things[0]));
	dm_report_free(rh);
	fact_logs("selhelp", 6);
}

TEST(object_is_selected_without_output_or_result, T_MATCH)
{
	uint32_t rt = T_THING;
	struct dm_report *rh = dm_report_init_with_selection(&rt, types, fields, "name", NULL, 0,
							     NULL, W("num>1"), NULL, NULL);

	REQUIRE(rh);
	fact("r=%d", dm_report_object_is_selected(rh, &things[0], 0, NULL));
	dm_report_free(rh);
	fact_logs("nosel", 6);
}

/* reserved values, one of them through a C handler */
static struct dm_report *handler_rh;
static int handler_calls, handler_mem_ok;

static int handler(struct dm_report *rh, struct dm_pool *mem, uint32_t field_num,
		   dm_report_reserved_action_t action, const void *data_in, const void **data_out)
{
	static const uint64_t range[2] = { 1, 5 };
	const char *name = data_in;
	char *canon;

	handler_calls++;
	handler_rh = rh;
	handler_mem_ok = mem != NULL;
	(void)field_num;
	if (action == DM_REPORT_RESERVED_PARSE_FUZZY_NAME) {
		*data_out = NULL;
		if (!strcmp(name, "broken"))
			return 0;
		if (!strncmp(name, "small", 5)) {
			if (!(canon = dm_pool_strdup(mem, "small")))
				return 0;
			*data_out = canon;
		}
		return 1;
	}
	if (!strcmp(name, "small")) {
		*data_out = range;
		return 1;
	}
	return -1;
}

TEST(reserved_values_and_handler, T_MATCH)
{
	static const char *none_names[] = { "none", "nothing", NULL };
	static const char *small_names[] = { "small", NULL };
	static const uint64_t zero = 0;
	static const double big = 1e9;
	static const char *big_names[] = { "huge", NULL };
	static const struct dm_report_field_reserved_value frv = { 6, &big };
	static const struct dm_report_reserved_value rv[] = {
		{ DM_REPORT_FIELD_TYPE_NUMBER, &zero, none_names, "Nothing at all." },
		{ DM_REPORT_FIELD_TYPE_NUMBER | DM_REPORT_FIELD_RESERVED_VALUE_RANGE |
		  DM_REPORT_FIELD_RESERVED_VALUE_DYNAMIC_VALUE |
		  DM_REPORT_FIELD_RESERVED_VALUE_FUZZY_NAMES, (const void *)handler, small_names,
		  "Small numbers." },
		{ DM_REPORT_FIELD_TYPE_NONE, &frv, big_names, "A big size." },
		{ 0, NULL, NULL, NULL },
	};
	static const char *sels[] = { "num=none", "num=small", "num=smallish", "num=broken",
				      "size<huge", "num=nothing || size=huge", "u32=0" };
	uint32_t rt;
	struct dm_report *rh;
	size_t k;
	int i;

	for (k = 0; k < sizeof(sels) / sizeof(sels[0]); k++) {
		rt = T_THING;
		handler_calls = 0;
		handler_rh = NULL;
		rh = dm_report_init_with_selection(&rt, types, fields, "name,num", " ", 0, NULL,
						   W(sels[k]), rv, NULL);
		fact("sel='%s' init=%s handler_calls=%d handler_rh_ok=%d mem_ok=%d", sels[k],
		     rh ? "ok" : "NULL", handler_calls, !handler_calls || handler_rh == rh,
		     !handler_calls || handler_mem_ok);
		if (!rh)
			continue;
		for (i = 0; i < NTHINGS; i++)
			dm_report_object(rh, &things[i]);
		dm_report_free(rh);
	}
	rt = T_THING;
	rh = dm_report_init_with_selection(&rt, types, fields, "name", NULL, 0, NULL, W("help"),
					   rv, NULL);
	if (rh)
		dm_report_free(rh);
	fact_logs("reserved", 6);
}

/* ---------------- groups ---------------- */

TEST(json_group, T_MATCH)
{
	struct dm_report_group *g = dm_report_group_create(DM_REPORT_GROUP_JSON, NULL);
	struct dm_report *a = mk("name,num,tags", ALIGNED | HEADINGS, NULL);
	uint32_t rt = T_OTHER;
	struct dm_report *b = dm_report_init(&rt, types, fields, "cached", NULL, 0, NULL, NULL);
	int r[6];

	REQUIRE(g && a && b);
	r[0] = dm_report_group_push(g, a, (void *)"things");
	report_all(a);
	r[1] = dm_report_output(a);
	r[2] = dm_report_group_pop(g);
	r[3] = dm_report_group_push(g, b, (void *)"others");
	dm_report_object(b, &things[0]);
	r[4] = dm_report_group_output_and_pop_all(g);
	r[5] = dm_report_group_destroy(g);
	fact("push=%d output=%d pop=%d push=%d popall=%d destroy=%d", r[0], r[1], r[2], r[3], r[4],
	     r[5]);
	dm_report_free(a);
	dm_report_free(b);
	fact_logs("json", 6);
}

TEST(basic_group, T_MATCH)
{
	struct dm_report_group *g = dm_report_group_create(DM_REPORT_GROUP_BASIC, NULL);
	struct dm_report *a = mk("name,num", ALIGNED | HEADINGS | BUFFERED, NULL);
	struct dm_report *b = mk("name,u64", ALIGNED | HEADINGS | BUFFERED, NULL);
	int r[4];

	REQUIRE(g && a && b);
	r[0] = dm_report_group_push(g, a, (void *)"First");
	report_all(a);
	dm_report_output(a);
	r[1] = dm_report_group_pop(g);
	r[2] = dm_report_group_push(g, b, (void *)"Second");
	report_all(b);
	r[3] = dm_report_group_destroy(g);
	fact("push=%d pop=%d push=%d destroy=%d", r[0], r[1], r[2], r[3]);
	dm_report_free(a);
	dm_report_free(b);
	fact_logs("basic", 6);
}

TEST(single_group_two_reports, T_MATCH)
{
	struct dm_report_group *g = dm_report_group_create(DM_REPORT_GROUP_SINGLE, NULL);
	struct dm_report *a = mk("name", 0, NULL), *b = mk("num", 0, NULL);
	int r[4];

	REQUIRE(g && a && b);
	r[0] = dm_report_group_push(g, a, NULL);
	r[1] = dm_report_group_push(g, b, NULL);
	r[2] = dm_report_object(a, &things[0]);
	r[3] = dm_report_group_destroy(g);
	fact("push=%d push=%d object=%d destroy=%d", r[0], r[1], r[2], r[3]);
	dm_report_free(a);
	dm_report_free(b);
	fact_logs("single", 6);
}

TEST(json_unnamed_top_level, T_MATCH)
{
	struct dm_report_group *g = dm_report_group_create(DM_REPORT_GROUP_JSON, NULL);
	int r[5];

	REQUIRE(g);
	r[0] = dm_report_group_push(g, NULL, NULL);
	r[1] = dm_report_group_push(g, NULL, (void *)"list");
	r[2] = dm_report_group_push(g, NULL, NULL);
	r[3] = dm_report_group_pop(g);
	r[4] = dm_report_group_destroy(g);
	fact("r=%d,%d,%d,%d,%d", r[0], r[1], r[2], r[3], r[4]);
	fact_logs("unnamed", 6);
}

TEST(group_unknown_type_and_null, T_MATCH)
{
	struct dm_report_group *g = dm_report_group_create((dm_report_group_type_t)7, NULL);
	struct dm_report *a = mk("name", 0, NULL);
	int r[8];

	REQUIRE(g && a);
	r[0] = dm_report_group_push(g, a, (void *)"x");
	r[1] = dm_report_group_push(g, NULL, NULL);
	r[2] = dm_report_group_pop(g);
	r[3] = dm_report_group_output_and_pop_all(g);
	r[4] = dm_report_group_destroy(g);
	r[5] = dm_report_group_push(NULL, a, NULL);
	r[6] = dm_report_group_pop(NULL);
	r[7] = dm_report_group_destroy(NULL);
	fact("unknown: push=%d,%d pop=%d popall=%d destroy=%d null: push=%d pop=%d destroy=%d",
	     r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
	dm_report_free(a);
	fact_logs("grp", 6);
}

/* the root item can be popped; then the group has no items */
TEST(group_pop_root, T_MATCH)
{
	struct dm_report_group *g = dm_report_group_create(DM_REPORT_GROUP_BASIC, NULL);
	int r[3];

	REQUIRE(g);
	r[0] = dm_report_group_pop(g);
	r[1] = dm_report_group_pop(g);
	r[2] = dm_report_group_destroy(g);
	fact("pop=%d pop=%d destroy=%d", r[0], r[1], r[2]);
	fact_logs("root", 6);
}

/* ---------------- NULL handles ---------------- */

/* stock checks these itself */
TEST(null_report_checked_by_stock, T_MATCH)
{
	struct dm_report *rh = mk("name", 0, NULL);
	int sel = -1, r[5];

	REQUIRE(rh);
	r[0] = dm_report_object(NULL, &things[0]);
	r[1] = dm_report_object_is_selected(NULL, &things[0], 1, &sel);
	r[2] = dm_report_object_is_selected(rh, &things[0], 0, NULL);
	r[3] = dm_report_compact_fields(NULL);
	r[4] = dm_report_compact_given_fields(NULL, NULL);
	fact("r=%d,%d,%d,%d,%d sel=%d", r[0], r[1], r[2], r[3], r[4], sel);
	dm_report_free(rh);
	fact_logs("null", 6);
}

/* ---------------- ours only: stock crashes on these ---------------- */

TEST(null_report_ours, T_OURS)
{
	uint32_t rt = T_THING;
	struct dm_report *rh = mk("name", 0, NULL);

	REQUIRE(rh);
	log_clear();
	CHECK_INT(dm_report_output(NULL), 0);
	CHECK_INT(dm_report_column_headings(NULL), 0);
	CHECK_INT(dm_report_set_selection(NULL, W("num=1")), 0);
	CHECK_INT(dm_report_set_output_field_name_prefix(NULL, "x"), 0);
	CHECK_INT(dm_report_set_output_field_name_prefix(rh, NULL), 0);
	CHECK_INT(dm_report_value_cache_set(NULL, "x", "y"), 0);
	CHECK_INT(dm_report_value_cache_set(rh, NULL, "y"), 0);
	CHECK(dm_report_value_cache_get(NULL, "x") == NULL);
	CHECK(dm_report_value_cache_get(rh, NULL) == NULL);
	CHECK_INT(dm_report_compact_given_fields(NULL, "name"), 0);
	CHECK_INT(dm_report_group_output_and_pop_all(NULL), 0);
	CHECK(dm_report_init(&rt, NULL, fields, "name", NULL, 0, NULL, NULL) == NULL);
	CHECK(dm_report_init(&rt, types, NULL, "name", NULL, 0, NULL, NULL) == NULL);
	dm_report_destroy_rows(NULL);
	dm_report_free(NULL);
	CHECK_INT(log_count(3), 15);
	/* NULL output field list: no fields */
	dm_report_free(rh);
	rh = dm_report_init(&rt, types, fields, NULL, NULL, 0, NULL, NULL);
	CHECK(rh != NULL);
	if (rh)
		dm_report_free(rh);
}

static int null_setter_disp(struct dm_report *rh, struct dm_pool *mem,
			    struct dm_report_field *field, const void *data, void *priv)
{
	const char *null_str = NULL;
	int n = 0;

	(void)mem;
	(void)data;
	(void)priv;
	n += dm_report_field_int(rh, NULL, (const int *)data);
	n += dm_report_field_int(rh, field, NULL);
	n += dm_report_field_uint64(rh, field, NULL);
	n += dm_report_field_percent(rh, field, NULL);
	n += dm_report_field_string(rh, field, NULL);
	n += dm_report_field_string(rh, field, &null_str);
	n += dm_report_field_string(NULL, field, &null_str);
	n += dm_report_field_string_list(rh, field, NULL, NULL);
	n += dm_report_field_string_list(NULL, field, NULL, NULL);
	dm_report_field_set_value(NULL, "x", NULL);
	return n == 0;
}

TEST(null_setter_arguments, T_OURS)
{
	static const struct dm_report_field_type f[] = {
		{ T_THING, STR, 0, 4, "n", "N", null_setter_disp, "x" },
		{ 0, 0, 0, 0, "", "", NULL, NULL },
	};
	uint32_t rt = T_THING;
	struct dm_report *rh = dm_report_init(&rt, types, f, "n", NULL, 0, NULL, NULL);

	REQUIRE(rh);
	log_clear();
	/* every setter refused; the report function succeeded without a value */
	CHECK_INT(dm_report_object(rh, &things[0]), 1);
	CHECK_INT(log_count(3), 10);
	dm_report_free(rh);
}

/* a report function that sets nothing: an empty value */
static int nothing_disp(struct dm_report *rh, struct dm_pool *mem,
			struct dm_report_field *field, const void *data, void *priv)
{
	(void)rh;
	(void)mem;
	(void)field;
	(void)data;
	(void)priv;
	return 1;
}

TEST(report_fn_sets_nothing, T_OURS)
{
	static const struct dm_report_field_type f[] = {
		{ T_THING, STR, 0, 4, "n", "N", nothing_disp, "x" },
		{ T_THING, STR, 0, 4, "name", "Name", name_disp, "x" },
		{ 0, 0, 0, 0, "", "", NULL, NULL },
	};
	uint32_t rt = T_THING;
	struct dm_report *rh = dm_report_init(&rt, types, f, "n,name", ":", 0, NULL, NULL);

	REQUIRE(rh);
	log_clear();
	CHECK_INT(dm_report_object(rh, &things[0]), 1);
	CHECK_STR(log_first(4), ":beta");
	dm_report_free(rh);
}

/* a report function calling back into its own report */
static int reenter_disp(struct dm_report *rh, struct dm_pool *mem,
			struct dm_report_field *field, const void *data, void *priv)
{
	static const char *s = "r";

	(void)mem;
	(void)data;
	(void)priv;
	if (dm_report_output(rh) || dm_report_set_selection(rh, W("n=1")))
		return 0;
	dm_report_free(rh);
	return dm_report_field_string(rh, field, &s);
}

TEST(reentrant_callback, T_OURS)
{
	static const struct dm_report_field_type f[] = {
		{ T_THING, STR, 0, 4, "n", "N", reenter_disp, "x" },
		{ 0, 0, 0, 0, "", "", NULL, NULL },
	};
	uint32_t rt = T_THING;
	struct dm_report *rh = dm_report_init(&rt, types, f, "n", NULL, BUFFERED, NULL, NULL);

	REQUIRE(rh);
	log_clear();
	CHECK_INT(dm_report_object(rh, &things[0]), 1);
	CHECK_INT(log_count(3), 3);
	log_clear();
	CHECK_INT(dm_report_output(rh), 1);
	CHECK_STR(log_first(4), "r");
	dm_report_free(rh);
}
