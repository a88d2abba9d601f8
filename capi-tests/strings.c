/* The string family (dm_split_words, dm_split_lvm_name, dm_snprintf,
 * dm_asprintf/dm_vasprintf, dm_basename, dm_count_chars, escaping,
 * dm_strncpy, dm_format_dev, dm_units_to_factor, dm_size_to_string,
 * dm_build_dm_name/uuid) and the percent helpers.
 *
 * The functions that allocate from a struct dm_pool need dm_pool_create,
 * which is looked up at run time: when the library under test has no pools
 * yet, those tests are skipped. */
#define _GNU_SOURCE
#include "harness.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdlib.h>

#define M T_MATCH

/* Show a string with its control and non-ASCII bytes escaped. */
static const char *show(const char *s)
{
	static char buf[4][512];
	static int idx;
	char *o;
	size_t n = 0;

	if (!s)
		return "(null)";
	idx = (idx + 1) % 4;
	o = buf[idx];
	for (; *s && n + 5 < sizeof(buf[0]); s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c > 0x7e || c == '\\')
			n += (size_t)snprintf(o + n, 5, "\\x%02x", c);
		else
			o[n++] = (char)c;
	}
	o[n] = '\0';
	return o;
}

/* The first n bytes of a buffer, NULs included, escaped like show(). */
static const char *show_n(const char *s, size_t len)
{
	static char buf[512];
	size_t i, n = 0;

	for (i = 0; i < len && n + 5 < sizeof(buf); i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || c == '\\')
			n += (size_t)snprintf(buf + n, 5, "\\x%02x", c);
		else
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return buf;
}

/* ---------------- pools, when the library has them ---------------- */

typedef struct dm_pool *(*pool_create_fn)(const char *, size_t);
typedef void (*pool_destroy_fn)(struct dm_pool *);

static struct dm_pool *pool_or_skip(pool_destroy_fn *destroy)
{
	pool_create_fn create = (pool_create_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "dm_pool_create");
	struct dm_pool *p;

	*destroy = (pool_destroy_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "dm_pool_destroy");
	if (!create || !*destroy)
		SKIP("the library has no dm_pool_create/dm_pool_destroy yet");
	p = create("capitest", 1024);
	REQUIRE(p);
	return p;
}

/* ---------------- words and LVM names ---------------- */

TEST(split_words, M)
{
	static const char *const inputs[] = {
		"", "   ", "one", "  one two\tthree\n", "a  b   c    d e f g h i j", "x\x0by\x0cz\rw",
		"tail ", "\xa0nbsp\xa0 x",
	};
	unsigned i, max;

	for (i = 0; i < DM_ARRAY_SIZE(inputs); i++)
		for (max = 0; max < 5; max += 2) {
			char buf[64], *argv[8], line[256];
			int n, k;
			size_t len = 0;

			strcpy(buf, inputs[i]);
			memset(argv, 0, sizeof(argv));
			n = dm_split_words(buf, max, 0, argv);
			line[0] = '\0';
			for (k = 0; k < n && k < 8; k++)
				len += (size_t)snprintf(line + len, sizeof(line) - len, " [%ld]'%s'",
							(long)(argv[k] - buf), show(argv[k]));
			fact("words(\"%s\", %u) = %d%s; buffer now '%s'", show(inputs[i]), max, n,
			     line, show_n(buf, strlen(inputs[i])));
		}
	CHECK_INT(log_count(7), 0);
}

TEST(split_lvm_name_in_place, M)
{
	static const char *const names[] = {
		"vg-lv", "vg--a-lv--b", "vg-lv-layer", "vg-lv-layer-more", "vg", "", "vg-", "-lv",
		"vg--", "vg---lv", "a-b-c-", "vg-lv_mlog", "--", "---", "a--", "-",
	};
	unsigned i;

	for (i = 0; i < DM_ARRAY_SIZE(names); i++) {
		char buf[64];
		char *vg = buf, *lv = NULL, *layer = NULL;

		strcpy(buf, names[i]);
		CHECK_INT(dm_split_lvm_name(NULL, NULL, &vg, &lv, &layer), 1);
		REQUIRE(vg == buf && lv && layer);
		fact("split '%s': vg='%s' lv[%ld]='%s' layer[%ld]='%s'", names[i], vg,
		     (long)(lv - buf), lv, (long)(layer - buf), layer);
	}
	CHECK_INT(log_count(7), 0);
}

TEST(split_lvm_name_errors, M)
{
	char *vg = NULL, *lv, *layer;

	CHECK_INT(dm_split_lvm_name(NULL, "vg-lv", &vg, &lv, NULL), 0);
	CHECK_INT(dm_split_lvm_name(NULL, "vg-lv", NULL, &lv, &layer), 0);
	CHECK_INT(dm_split_lvm_name(NULL, "vg-lv", &vg, &lv, &layer), 0);
	fact_logs("split", 7);
}

TEST(split_lvm_name_pool, M)
{
	pool_destroy_fn destroy;
	struct dm_pool *mem = pool_or_skip(&destroy);
	char *vg = NULL, *lv = NULL, *layer = NULL;
	const char *name = "vg--x-lv-real";

	CHECK_INT(dm_split_lvm_name(mem, name, &vg, &lv, &layer), 1);
	REQUIRE(vg && lv && layer);
	CHECK(vg != name);
	CHECK_STR(name, "vg--x-lv-real");
	fact("vg='%s' lv='%s' layer='%s'", vg, lv, layer);
	vg = (char *)"sentinel";
	CHECK_INT(dm_split_lvm_name(mem, NULL, &vg, &lv, &layer), 0);
	fact("NULL name keeps vg: %d", vg && !strcmp(vg, "sentinel"));
	fact_logs("pool", 7);
	destroy(mem);
}

TEST(build_dm_name_uuid, M)
{
	static const char *const parts[][3] = {
		{ "vg", "lv", NULL }, { "vg", "lv", "" }, { "v-g", "l--v", "real" },
		{ "vg", "lv", "_mlog" }, { "-", "-", "-" }, { "", "", "x" },
	};
	pool_destroy_fn destroy;
	struct dm_pool *mem = pool_or_skip(&destroy);
	unsigned i;

	for (i = 0; i < DM_ARRAY_SIZE(parts); i++) {
		char *n = dm_build_dm_name(mem, parts[i][0], parts[i][1], parts[i][2]);
		char *u = dm_build_dm_uuid(mem, "LVM-", parts[i][1], parts[i][2]);

		fact("name(%s,%s,%s)='%s' uuid='%s'", parts[i][0], parts[i][1],
		     parts[i][2] ? parts[i][2] : "NULL", n ? n : "(null)", u ? u : "(null)");
	}
	fact_logs("build", 7);
	destroy(mem);
}

/* ---------------- formatting ---------------- */

TEST(snprintf_contract, M)
{
	char buf[8];
	int r;

	memset(buf, 'Z', sizeof(buf));
	r = dm_snprintf(buf, sizeof(buf), "%s", "1234567");
	fact("fits: %d '%s'", r, buf);
	CHECK_INT(r, 7);
	memset(buf, 'Z', sizeof(buf));
	r = dm_snprintf(buf, sizeof(buf), "%d-%s", 12345, "678");
	fact("too long: %d '%s'", r, buf);
	CHECK_INT(r, -1);
	memset(buf, 'Z', sizeof(buf));
	r = dm_snprintf(buf, 0, "x");
	fact("size 0: %d buf[0]=%c", r, buf[0]);
	r = dm_snprintf(NULL, 0, "%s", "");
	fact("NULL/0 empty: %d", r);
	r = dm_snprintf(buf, 1, "%s", "");
	fact("size 1 empty: %d '%s'", r, buf);
	CHECK_INT(log_count(7), 0);
}

static int call_vasprintf(char **out, const char *f, ...) __attribute__((format(printf, 2, 3)));
static int call_vasprintf(char **out, const char *f, ...)
{
	va_list ap;
	int r;

	va_start(ap, f);
	r = dm_vasprintf(out, f, ap);
	va_end(ap);
	return r;
}

TEST(asprintf_sizes, M)
{
	static const int lens[] = { 0, 1, 15, 16, 17, 100, 4095, 100000 };
	unsigned i;

	for (i = 0; i < DM_ARRAY_SIZE(lens); i++) {
		char *a = NULL, *v = NULL;
		int ra = dm_asprintf(&a, "%*s|", lens[i], "x");
		int rv = call_vasprintf(&v, "%*s|", lens[i], "y");

		REQUIRE(a && v);
		CHECK_INT(strlen(a) + 1, ra);
		CHECK_INT(strlen(v) + 1, rv);
		CHECK(a[strlen(a) - 2] == 'x' || lens[i] == 0);
		fact("len %d: asprintf=%d vasprintf=%d", lens[i], ra, rv);
		dm_free(a);
		dm_free(v);
	}
	CHECK_INT(log_count(7), 0);
}

/* dm_malloc refuses more than 50,000,000 bytes: so does dm_asprintf */
TEST(asprintf_huge, M)
{
	char *a = (char *)"sentinel";
	int r = dm_asprintf(&a, "%*s", 60000000, "x");

	fact("r=%d result=%s", r, a ? "ptr" : "NULL");
	CHECK_INT(r, -1);
	CHECK(a == NULL);
	fact_logs("huge", 7);
}

TEST(basename_count_escape, M)
{
	static const char *const paths[] = { "/dev/mapper/x", "x", "/dev/", "", "/", "a/b/" };
	static const char *const esc[] = { "", "plain", "q\"uo\\te", "\\\\\"\"", "end\\", "\"" };
	const char bytes[] = "a-b\0-c\xff\xff";
	unsigned i;

	for (i = 0; i < DM_ARRAY_SIZE(paths); i++) {
		const char *b = dm_basename(paths[i]);
		fact("basename('%s') = +%ld '%s'", paths[i], (long)(b - paths[i]), b);
	}
	fact("count '-' 8=%u 3=%u 0=%u; NUL=%u; 0xff as -1=%u as 255=%u",
	     dm_count_chars(bytes, 8, '-'), dm_count_chars(bytes, 3, '-'),
	     dm_count_chars(NULL, 0, '-'), dm_count_chars(bytes, 8, 0), dm_count_chars(bytes, 8, -1),
	     dm_count_chars(bytes, 8, 255));
	for (i = 0; i < DM_ARRAY_SIZE(esc); i++) {
		size_t n = dm_escaped_len(esc[i]);
		char *out = malloc(n), *r, back[64];

		REQUIRE(out);
		r = dm_escape_double_quotes(out, esc[i]);
		CHECK(r == out);
		CHECK_INT(strlen(out) + 1, n);
		strcpy(back, out);
		dm_unescape_double_quotes(back);
		CHECK_STR(back, esc[i]);
		fact("escape '%s': len=%zu '%s' back='%s'", show(esc[i]), n, show(out), show(back));
		free(out);
	}
	{
		char odd[] = "a\\b\\\\\\\"c\\";
		dm_unescape_double_quotes(odd);
		fact("unescape odd: '%s'", show(odd));
	}
	CHECK_INT(log_count(7), 0);
}

TEST(unescape_colons_and_at_signs, M)
{
	static const char *const inputs[] = {
		"/dev/sda:1-2@tag", "a\\:b:c", "a\\@b@c\\\\d", "\\\\:", "x\\", "\\x", "", "::@@",
		"\\:\\@", "@:",
	};
	unsigned i;

	for (i = 0; i < DM_ARRAY_SIZE(inputs); i++) {
		char buf[64];
		char *colon = (char *)"unset", *at = (char *)"unset";

		strcpy(buf, inputs[i]);
		dm_unescape_colons_and_at_signs(buf, &colon, &at);
		fact("'%s' -> '%s' colon=%ld at=%ld", show(inputs[i]), show(buf),
		     colon ? (long)(colon - buf) : -1L, at ? (long)(at - buf) : -1L);
		strcpy(buf, inputs[i]);
		dm_unescape_colons_and_at_signs(buf, NULL, NULL);
	}
	CHECK_INT(log_count(7), 0);
}

TEST(strncpy_contract, M)
{
	static const size_t ns[] = { 0, 1, 2, 5, 6, 7, 64 };
	unsigned i;

	for (i = 0; i < DM_ARRAY_SIZE(ns); i++) {
		char dest[16];
		int r;

		memset(dest, 'Z', sizeof(dest));
		dest[15] = '\0';
		r = dm_strncpy(dest, "hello", ns[i]);
		fact("n=%zu: r=%d dest='%s'", ns[i], r, dest);
	}
	CHECK_INT(log_count(7), 0);
}

TEST(format_dev, M)
{
	static const int sizes[] = { 0, 7, 8, 9, 12, 13, 64 };
	unsigned i;

	for (i = 0; i < DM_ARRAY_SIZE(sizes); i++) {
		char buf[64];
		int a, b;

		memset(buf, 'Z', sizeof(buf));
		buf[63] = '\0';
		a = dm_format_dev(buf, sizes[i], 253, 1);
		fact("size %d 253:1 -> %d '%.20s'", sizes[i], a, buf);
		memset(buf, 'Z', sizeof(buf));
		buf[63] = '\0';
		b = dm_format_dev(buf, sizes[i], 4095, 1048575);
		fact("size %d 4095:1048575 -> %d '%.20s'", sizes[i], b, buf);
	}
	CHECK_INT(log_count(7), 0);
}

/* ---------------- units and sizes ---------------- */

TEST(units_to_factor, M)
{
	static const char *const inputs[] = {
		"h", "H", "r", "R", "b", "B", "s", "S", "k", "K", "m", "M", "g", "G", "t", "T", "p",
		"P", "e", "E", "u", "U", "x", "", "kb", "1k", "8k", "8K", "2s", "3b", "1.5k", "1.5K",
		"0.5m", "2.5", "2.5h", "8h", "1e3k", "1e3", "1e", "1ek", "0x10k", "0x1p4k", "0x",
		"12.k", "007m", "99999999999999999999k", "18446744073709551616b", "1e400k", "1e-400k",
		"100e", "16e", "10kx", "10 k", "3.999999999999999999s", "0.0000001k", "5.5E",
	};
	unsigned i;
	int strict;

	for (i = 0; i < DM_ARRAY_SIZE(inputs); i++)
		for (strict = 0; strict < 2; strict++) {
			char t1 = 1, t2 = 2;
			const char *end = NULL;
			uint64_t f = dm_units_to_factor(inputs[i], &t1, strict, &end);

			(void)dm_units_to_factor(inputs[i], &t2, strict, NULL);
			fact("'%s' strict=%d: factor=%llu type=%s%d end=+%ld", show(inputs[i]), strict,
			     (unsigned long long)f, t1 == 1 && t2 == 2 ? "unset:" : "",
			     t1 == 1 && t2 == 2 ? 0 : t1, (long)(end - inputs[i]));
		}
	CHECK_INT(log_count(7), 0);
}

TEST(size_to_string, M)
{
	static const uint64_t sizes[] = { 0, 1, 3, 2047, 4184064, 4194303, UINT64_MAX / 512, UINT64_MAX };
	static const char units[] = "hHrRbBsSkKmMgGtTpPeEuUx";
	pool_destroy_fn destroy;
	struct dm_pool *mem = pool_or_skip(&destroy);
	unsigned i, u, si, suf;

	for (i = 0; i < DM_ARRAY_SIZE(sizes); i++)
		for (u = 0; u < sizeof(units) - 1; u++)
			for (si = 0; si < 2; si++)
				for (suf = 0; suf < 3; suf++)
					fact("%llu %c si=%u suf=%u: '%s' '%s' '%s'",
					     (unsigned long long)sizes[i], units[u], si, suf,
					     dm_size_to_string(mem, sizes[i], units[u], (int)si, 0, 1,
							       (dm_size_suffix_t)suf),
					     dm_size_to_string(mem, sizes[i], units[u], (int)si, 0, 0,
							       (dm_size_suffix_t)suf),
					     dm_size_to_string(mem, sizes[i], units[u], (int)si, 4096, 1,
							       (dm_size_suffix_t)suf));
	fact_logs("sizes", 7);
	destroy(mem);
}

/* ---------------- percent ---------------- */

static uint32_t bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

TEST(percent, M)
{
	static const uint64_t ratios[][2] = {
		{ 3, 1 }, { 22, 1 }, { 21, 1 }, { UINT64_MAX, 1 }, { 1, UINT64_MAX }, { 1, 3 },
		{ 2, 3 }, { 999999999, 1000000000 }, { 5, 0 }, { 0, 0 }, { 0, 5 }, { 7, 7 },
		{ UINT64_MAX - 1, UINT64_MAX },
	};
	static const dm_percent_t ps[] = {
		DM_PERCENT_0, 1, DM_PERCENT_INVALID, DM_PERCENT_FAILED, 5000, 9999, 10001, 999999,
		DM_PERCENT_1, 99000001, 99999000, 99999999, DM_PERCENT_100, 123456789, INT32_MAX,
		INT32_MIN,
	};
	unsigned i, d;

	for (i = 0; i < DM_ARRAY_SIZE(ratios); i++)
		fact("make(%llu, %llu) = %d", (unsigned long long)ratios[i][0],
		     (unsigned long long)ratios[i][1], dm_make_percent(ratios[i][0], ratios[i][1]));
	for (i = 0; i < DM_ARRAY_SIZE(ps); i++) {
		char line[256];
		size_t n = 0;

		for (d = 0; d < 12; d++)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %08x",
					      bits(dm_percent_to_round_float(ps[i], d)));
		fact("%d: float=%08x %.2f round:%s", ps[i], bits(dm_percent_to_float(ps[i])),
		     dm_percent_to_round_float(ps[i], 2), line);
	}
	CHECK(DM_PERCENT_CHAR == '%');
	CHECK_INT(log_count(7), 0);
}

/* ---------------- ours only: NULL arguments that crash stock ---------------- */

TEST(null_arguments, T_OURS)
{
	char *out = NULL;
	char buf[8] = "x";

	CHECK(dm_basename(NULL) == NULL);
	CHECK_INT(dm_escaped_len(NULL), 0);
	CHECK(dm_escape_double_quotes(buf, NULL) == NULL);
	dm_unescape_double_quotes(NULL);
	dm_unescape_colons_and_at_signs(NULL, NULL, NULL);
	CHECK_INT(dm_count_chars(NULL, 4, 'x'), 0);
	CHECK_INT(dm_strncpy(buf, NULL, 4), 0);
	CHECK_INT(dm_split_words(NULL, 4, 0, NULL), 0);
	strcpy(buf, "a b");
	CHECK_INT(dm_split_words(buf, 4, 0, NULL), 0);
	CHECK_INT(dm_units_to_factor(NULL, buf, 0, NULL), 0);
	CHECK_INT(dm_snprintf(buf, sizeof(buf), NULL), -1);
	CHECK_INT(dm_asprintf(&out, NULL), -1);
	CHECK(out == NULL);
	CHECK_INT(dm_asprintf(NULL, "x"), -1);
	/* no pool: fails without crashing */
	CHECK_STR(dm_size_to_string(NULL, 8, 'k', 0, 0, 1, DM_SIZE_SHORT), "");
	CHECK(dm_build_dm_name(NULL, "vg", "lv", NULL) == NULL);
	CHECK(log_count(3) >= 14);
	log_dump(3);
}
