/* dm_malloc, dm_zalloc, dm_realloc, dm_strdup, dm_free (the *_wrapper
 * functions behind the header macros). */
#define _GNU_SOURCE
#include "harness.h"

#include <stdlib.h>

TEST(malloc_free, T_MATCH)
{
	char *p = dm_malloc(100);

	REQUIRE(p);
	memset(p, 0xa5, 100);
	dm_free(p);
	dm_free(NULL);
	CHECK_INT(log_count(4), 0);
	fact("ok=1");
}

TEST(zalloc_zeroes, T_MATCH)
{
	unsigned char *p = dm_zalloc(4096);
	int i, nz = 0;

	REQUIRE(p);
	for (i = 0; i < 4096; i++)
		nz += p[i] != 0;
	CHECK_INT(nz, 0);
	dm_free(p);
	fact("nonzero=%d", nz);
}

TEST(realloc_keeps_content, T_MATCH)
{
	char *p = dm_malloc(16), *q;

	REQUIRE(p);
	memcpy(p, "0123456789abcde", 16);
	q = dm_realloc(p, 1 << 20);
	REQUIRE(q);
	CHECK_STR(q, "0123456789abcde");
	q[(1 << 20) - 1] = 'x';
	p = dm_realloc(q, 8);
	REQUIRE(p);
	CHECK(!memcmp(p, "01234567", 8));
	dm_free(p);
	p = dm_realloc(NULL, 32);
	CHECK(p != NULL);
	dm_free(p);
	fact("ok=1");
}

TEST(strdup_copies, T_MATCH)
{
	const char *src = "capitest string";
	char *s = dm_strdup(src), *e = dm_strdup("");

	REQUIRE(s && e);
	CHECK(s != src);
	CHECK_STR(s, src);
	CHECK_STR(e, "");
	fact("s='%s' e='%s'", s, e);
	dm_free(s);
	dm_free(e);
}

/* memory handed out must be plain libc malloc memory */
TEST(interop_with_libc_free, T_MATCH)
{
	char *a = dm_malloc(10), *b = dm_strdup("x"), *c = dm_zalloc(10), *d = malloc(10);

	REQUIRE(a && b && c && d);
	free(a);
	free(b);
	free(c);
	dm_free(d);
	fact("ok=1");
}

/* the stock library refuses single allocations above 50,000,000 bytes */
TEST(huge_allocation, T_INFO)
{
	void *p;

	p = dm_malloc(50000000);
	fact("malloc(50000000)=%s", p ? "ptr" : "NULL");
	dm_free(p);
	log_clear();
	p = dm_malloc(50000001);
	fact("malloc(50000001)=%s", p ? "ptr" : "NULL");
	dm_free(p);
	p = dm_zalloc(60000000);
	fact("zalloc(60000000)=%s", p ? "ptr" : "NULL");
	dm_free(p);
	p = dm_realloc(NULL, 60000000);
	fact("realloc(NULL,60000000)=%s", p ? "ptr" : "NULL");
	dm_free(p);
	fact_logs_info("huge", 3);
}

TEST(zero_sizes, T_INFO)
{
	void *p = dm_malloc(0), *q = dm_zalloc(0), *r;

	fact("malloc(0)=%s zalloc(0)=%s", p ? "ptr" : "NULL", q ? "ptr" : "NULL");
	dm_free(p);
	dm_free(q);
	p = dm_malloc(8);
	r = dm_realloc(p, 0);
	fact("realloc(p,0)=%s", r ? "ptr" : "NULL");
	dm_free(r);
}
