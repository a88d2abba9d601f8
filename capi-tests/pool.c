/* dm_pool_*: the pool allocator (all 16 functions). Facts compare stock and
 * ours: results, log lines, and the distances between the addresses handed
 * out (the chunk layout and alignment rules are stock's). */
#define _GNU_SOURCE
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static long dist(const void *a, const void *b)
{
	return (long)((const char *)a - (const char *)b);
}

TEST(create_destroy, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);
	struct dm_pool *q = dm_pool_create("capitest2", 100000);

	REQUIRE(p && q);
	CHECK_INT(dm_pool_locked(p), 0);
	dm_pool_destroy(p);
	dm_pool_destroy(q);
	/* a pool that never allocated can be emptied */
	p = dm_pool_create(NULL, 1);
	REQUIRE(p);
	dm_pool_empty(p);
	dm_pool_destroy(p);
	fact_logs("create", 6);
}

/* alloc: alignment of double; stock's _align_chunk always advances */
TEST(alloc_layout, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);
	char *a, *b, *c, *d, *e;

	REQUIRE(p);
	a = dm_pool_alloc(p, 1);
	b = dm_pool_alloc(p, 1);
	c = dm_pool_alloc(p, 8);
	d = dm_pool_alloc(p, 8);
	e = dm_pool_alloc(p, 0);
	REQUIRE(a && b && c && d && e);
	fact("a%%16=%ld b-a=%ld c-b=%ld d-c=%ld e-d=%ld", (long)((uintptr_t)a % 16),
	     dist(b, a), dist(c, b), dist(d, c), dist(e, d));
	CHECK((uintptr_t)a % 8 == 0 && (uintptr_t)b % 8 == 0 && (uintptr_t)c % 8 == 0);
	memset(a, 1, 1);
	memset(c, 2, 8);
	memset(d, 3, 8);
	dm_pool_destroy(p);
	fact_logs("alloc", 6);
}

TEST(alloc_aligned, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);
	static const unsigned al[] = { 1, 2, 4, 8, 16, 32, 64, 128, 512, 4096, 3, 6, 12 };
	char *prev = NULL, *r;
	size_t i;

	REQUIRE(p);
	for (i = 0; i < sizeof(al) / sizeof(al[0]); i++) {
		r = dm_pool_alloc_aligned(p, 5, al[i]);
		REQUIRE(r);
		memset(r, 0x5a, 5);
		/* chunks are 16-byte aligned: beyond that (and for alignments
		 * that are not powers of two) the result depends on the address
		 * malloc gave */
		if (!(al[i] & (al[i] - 1)))
			CHECK((uintptr_t)r % al[i] == 0);
		if (al[i] <= 16 && !(al[i] & (al[i] - 1)))
			fact("align=%u step=%ld", al[i], prev ? dist(r, prev) : 0L);
		prev = r;
	}
	dm_pool_destroy(p);
	fact_logs("aligned", 6);
}

TEST(zalloc_strdup_strndup, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);
	unsigned char *z;
	char *s, *e, *n1, *n2, *n3;
	int i, nz = 0;

	REQUIRE(p);
	/* dirty the memory first, then free it and take it again */
	z = dm_pool_alloc(p, 512);
	REQUIRE(z);
	memset(z, 0xff, 512);
	dm_pool_free(p, z);
	z = dm_pool_zalloc(p, 512);
	REQUIRE(z);
	for (i = 0; i < 512; i++)
		nz += z[i] != 0;
	s = dm_pool_strdup(p, "capitest string");
	e = dm_pool_strdup(p, "");
	n1 = dm_pool_strndup(p, "abcdef", 3);
	n2 = dm_pool_strndup(p, "abc", 10);
	n3 = dm_pool_strndup(p, "abc", 0);
	REQUIRE(s && e && n1 && n2 && n3);
	CHECK_INT(nz, 0);
	CHECK_STR(s, "capitest string");
	CHECK_STR(n1, "abc");
	CHECK_STR(n2, "abc");
	CHECK_STR(n3, "");
	/* strndup takes n + 1 bytes whatever the string's length */
	fact("nz=%d s='%s' e='%s' n1='%s' n2='%s' n3='%s' n2-n1=%ld n3-n2=%ld", nz, s, e, n1, n2,
	     n3, dist(n2, n1), dist(n3, n2));
	dm_pool_destroy(p);
	fact_logs("dup", 6);
}

/* dm_pool_free(p, x) frees x and everything allocated after it */
TEST(free_semantics, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);
	char *a, *b, *c, *d, *e, *f;

	REQUIRE(p);
	a = dm_pool_alloc(p, 100);
	b = dm_pool_alloc(p, 100);
	c = dm_pool_alloc(p, 100);
	REQUIRE(a && b && c);
	memset(a, 'a', 100);
	dm_pool_free(p, b);
	/* the next allocation starts where b did (plus stock's alignment step) */
	d = dm_pool_alloc(p, 100);
	CHECK(d >= b && d <= b + 8);
	CHECK(a[99] == 'a');
	dm_pool_free(p, a);
	e = dm_pool_alloc(p, 50);
	CHECK(e >= a && e <= a + 8);
	f = dm_pool_alloc(p, 10);
	fact("d-b=%ld e-a=%ld f-e=%ld", dist(d, b), dist(e, a), dist(f, e));
	dm_pool_destroy(p);
	fact_logs("free", 6);
}

/* chunks: many allocations over many chunks, freed back to one in the first
 * chunk, and emptied */
TEST(many_small_allocations, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest", 1024);
	enum { N = 100000 };
	uint32_t **v = malloc(N * sizeof(*v));
	char *first, *again;
	int i, bad = 0, newchunks = 0;

	REQUIRE(p && v);
	for (i = 0; i < N; i++) {
		v[i] = dm_pool_alloc(p, (size_t)(4 + i % 29));
		REQUIRE(v[i]);
		*v[i] = (uint32_t)i;
		/* the usual step: the size, then up to the next multiple of 8,
		 * a whole 8 when already aligned; anything else is a new chunk */
		if (i && dist(v[i], v[i - 1]) != (long)(4 + (i - 1) % 29 + 8 - (4 + (i - 1) % 29) % 8))
			newchunks++;
	}
	for (i = 0; i < N; i++)
		bad += *v[i] != (uint32_t)i;
	CHECK_INT(bad, 0);
	first = (char *)v[0];
	dm_pool_free(p, v[N / 2]);
	for (i = 0; i < N / 2; i++)
		bad += *v[i] != (uint32_t)i;
	CHECK_INT(bad, 0);
	dm_pool_empty(p);
	again = dm_pool_alloc(p, 4);
	CHECK(again == first);
	fact("bad=%d irregular_steps=%d again_is_first=%d", bad, newchunks, again == first);
	free(v);
	dm_pool_destroy(p);
	fact_logs("many", 6);
}

/* big requests get a chunk of their own; above 50,000,000 bytes dm_malloc
 * refuses (NULL, no abort) */
TEST(huge_allocations, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);
	char *small, *big, *small2, *huge, *hz, *hs;

	REQUIRE(p);
	small = dm_pool_alloc(p, 16);
	big = dm_pool_alloc(p, 40000000);
	REQUIRE(small && big);
	big[0] = 1;
	big[39999999] = 2;
	small2 = dm_pool_alloc(p, 16);
	REQUIRE(small2);
	log_clear();
	huge = dm_pool_alloc(p, 60000000);
	hz = dm_pool_zalloc(p, 50000000);
	hs = dm_pool_strndup(p, "abc", 49999999);
	CHECK(huge == NULL && hz == NULL && hs == NULL);
	fact("big_in_own_chunk=%d small2_in_big_chunk=%d huge=%d hz=%d hs=%d",
	     !(big > small && big < small + 1024),
	     small2 > big && small2 < big + 40000000 + 64, huge != NULL, hz != NULL, hs != NULL);
	fact_logs("huge", 6);
	/* the pool still works */
	small = dm_pool_alloc(p, 16);
	CHECK(small != NULL);
	dm_pool_destroy(p);
}

TEST(object_build, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);
	char *o, *after;
	char buf[16];
	int i;

	REQUIRE(p);
	REQUIRE(dm_pool_begin_object(p, 16));
	for (i = 0; i < 50; i++) {
		snprintf(buf, sizeof(buf), "%d, ", i);
		REQUIRE(dm_pool_grow_object(p, buf, 0));
	}
	REQUIRE(dm_pool_grow_object(p, "xyz", 2));
	REQUIRE(dm_pool_grow_object(p, "\0", 1));
	o = dm_pool_end_object(p);
	REQUIRE(o);
	after = dm_pool_alloc(p, 1);
	REQUIRE(after);
	fact("len=%zu head='%.12s' tail='%s' after-o=%ld", strlen(o), o, o + strlen(o) - 6,
	     dist(after, o));
	dm_pool_destroy(p);
	fact_logs("object", 6);
}

/* growing past the chunk moves the object to a new chunk (copied) */
TEST(object_moves_to_new_chunk, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);
	char *pre, *o, chunk[100];
	int i, bad = 0;

	REQUIRE(p);
	pre = dm_pool_alloc(p, 900);
	REQUIRE(pre);
	REQUIRE(dm_pool_begin_object(p, 10));
	for (i = 0; i < 300; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		REQUIRE(dm_pool_grow_object(p, chunk, sizeof(chunk)));
	}
	o = dm_pool_end_object(p);
	REQUIRE(o);
	for (i = 0; i < 300 * 100; i++)
		bad += o[i] != 'a' + (i / 100) % 26;
	CHECK_INT(bad, 0);
	fact("bad=%d moved=%d", bad, !(o > pre && o < pre + 1024));
	dm_pool_destroy(p);
}

TEST(object_misuse, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);
	char *o1, *o2, *o3, *a, *o4;

	REQUIRE(p);
	/* abandon: the next object starts at the same place */
	REQUIRE(dm_pool_begin_object(p, 8));
	REQUIRE(dm_pool_grow_object(p, "abandoned", 0));
	dm_pool_abandon_object(p);
	REQUIRE(dm_pool_begin_object(p, 8));
	REQUIRE(dm_pool_grow_object(p, "kept", 5));
	o1 = dm_pool_end_object(p);
	REQUIRE(o1);
	CHECK_STR(o1, "kept");
	/* begin twice: the first object is dropped */
	REQUIRE(dm_pool_begin_object(p, 8));
	REQUIRE(dm_pool_grow_object(p, "first", 0));
	REQUIRE(dm_pool_begin_object(p, 8));
	REQUIRE(dm_pool_grow_object(p, "second", 7));
	o2 = dm_pool_end_object(p);
	REQUIRE(o2);
	CHECK_STR(o2, "second");
	/* grow without begin (a chunk exists): appends at the free space */
	REQUIRE(dm_pool_grow_object(p, "loose", 6));
	o3 = dm_pool_end_object(p);
	REQUIRE(o3);
	CHECK_STR(o3, "loose");
	/* end without anything grown: an empty object */
	REQUIRE(dm_pool_begin_object(p, 8));
	o4 = dm_pool_end_object(p);
	/* alloc during an object overlaps it (as stock) */
	REQUIRE(dm_pool_begin_object(p, 8));
	REQUIRE(dm_pool_grow_object(p, "obj", 4));
	a = dm_pool_alloc(p, 8);
	REQUIRE(a);
	fact("o2-o1=%ld o3-o2=%ld o4-o3=%ld a-o4=%ld", dist(o2, o1), dist(o3, o2), dist(o4, o3),
	     dist(a, o4));
	dm_pool_abandon_object(p);
	dm_pool_destroy(p);
	fact_logs("misuse", 6);
}

TEST(lock_unlock, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);
	char *a;
	int r[12];

	REQUIRE(p);
	a = dm_pool_alloc(p, 32);
	REQUIRE(a);
	memset(a, 0, 32);
	r[0] = dm_pool_lock(p, 1);
	r[1] = dm_pool_locked(p);
	r[2] = dm_pool_lock(p, 1);
	r[3] = dm_pool_unlock(p, 1);
	r[4] = dm_pool_locked(p);
	r[5] = dm_pool_unlock(p, 1);
	/* a write while locked is detected by the checksum */
	r[6] = dm_pool_lock(p, 1);
	a[5] = 'x';
	r[7] = dm_pool_unlock(p, 1);
	r[8] = dm_pool_locked(p);
	/* without the checksum nothing is compared; allocation is not refused */
	r[9] = dm_pool_lock(p, 0);
	a = dm_pool_alloc(p, 8);
	r[10] = a != NULL;
	r[11] = dm_pool_unlock(p, 0);
	fact("lock=%d locked=%d relock=%d unlock=%d locked=%d reunlock=%d", r[0], r[1], r[2], r[3],
	     r[4], r[5]);
	fact("write-while-locked: lock=%d unlock=%d locked=%d", r[6], r[7], r[8]);
	fact("no-crc: lock=%d alloc=%d unlock=%d", r[9], r[10], r[11]);
	/* allocating while locked changes the pool: a crc unlock fails */
	r[0] = dm_pool_lock(p, 1);
	a = dm_pool_alloc(p, 8);
	r[1] = dm_pool_unlock(p, 1);
	fact("alloc-while-locked: lock=%d unlock=%d", r[0], r[1]);
	dm_pool_destroy(p);
	fact_logs("lock", 6);
}

TEST(lock_messages_null_name, T_MATCH)
{
	struct dm_pool *p = dm_pool_create(NULL, 0);
	int r1, r2, r3;

	REQUIRE(p);
	r1 = dm_pool_unlock(p, 0);
	r2 = dm_pool_lock(p, 0);
	r3 = dm_pool_lock(p, 0);
	fact("unlock=%d lock=%d lock=%d", r1, r2, r3);
	CHECK(dm_pool_unlock(p, 0));
	dm_pool_destroy(p);
	fact_logs("lock", 6);
}

/* a pool without chunks: freeing a foreign pointer logs an error */
TEST(free_foreign_pointer_empty_pool, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);
	int x;

	REQUIRE(p);
	dm_pool_free(p, &x);
	CHECK(dm_pool_alloc(p, 8) != NULL);
	dm_pool_destroy(p);
	fact_logs("foreign", 6);
}

/* chunk_hint + header wraps in size_t: stock ends with the minimum chunk */
TEST(create_wrapping_hint, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest", SIZE_MAX - 10);
	char *a, *b;

	REQUIRE(p);
	a = dm_pool_alloc(p, 600);
	b = dm_pool_alloc(p, 600);
	REQUIRE(a && b);
	fact("second_alloc_in_new_chunk=%d", !(b > a && b < a + 1024));
	dm_pool_destroy(p);
}

/* ---- ours only: stock corrupts memory, hangs or crashes on these ---- */

static int child_status(void)
{
	int st;

	if (wait(&st) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

TEST(null_pool, T_OURS)
{
	char s[] = "x";

	CHECK(dm_pool_alloc(NULL, 8) == NULL);
	CHECK(dm_pool_alloc_aligned(NULL, 8, 8) == NULL);
	CHECK(dm_pool_zalloc(NULL, 8) == NULL);
	CHECK(dm_pool_strdup(NULL, s) == NULL);
	CHECK(dm_pool_strndup(NULL, s, 1) == NULL);
	CHECK(dm_pool_begin_object(NULL, 8) == 0);
	CHECK(dm_pool_grow_object(NULL, s, 1) == 0);
	CHECK(dm_pool_end_object(NULL) == NULL);
	CHECK(dm_pool_lock(NULL, 1) == 0);
	CHECK(dm_pool_unlock(NULL, 1) == 0);
	CHECK(dm_pool_locked(NULL) == 0);
	dm_pool_abandon_object(NULL);
	dm_pool_empty(NULL);
	dm_pool_free(NULL, s);
	dm_pool_destroy(NULL);
	CHECK(log_count(3) >= 14);
}

TEST(null_strings, T_OURS)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);

	REQUIRE(p);
	CHECK(dm_pool_strdup(p, NULL) == NULL);
	CHECK(dm_pool_strndup(p, NULL, 4) == NULL);
	CHECK(dm_pool_grow_object(p, NULL, 0) == 0);
	CHECK(dm_pool_grow_object(p, NULL, 4) == 0);
	CHECK_INT(log_count(3), 4);
	dm_pool_destroy(p);
}

/* stock casts sizes to int: 2^31 and more "fit" in the current chunk */
TEST(sizes_above_int, T_OURS)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);

	REQUIRE(p);
	REQUIRE(dm_pool_alloc(p, 8));
	CHECK(dm_pool_alloc(p, (size_t)1 << 31) == NULL);
	CHECK(dm_pool_alloc(p, SIZE_MAX) == NULL);
	CHECK(dm_pool_alloc(p, ((size_t)1 << 32) + 8) == NULL);
	CHECK(dm_pool_strndup(p, "abc", SIZE_MAX) == NULL);
	CHECK(dm_pool_begin_object(p, (size_t)1 << 31) == 0);
	REQUIRE(dm_pool_begin_object(p, 8));
	CHECK(dm_pool_grow_object(p, "x", (size_t)1 << 40) == 0);
	dm_pool_abandon_object(p);
	CHECK(log_has("Huge memory allocation", 3));
	CHECK(dm_pool_alloc(p, 8) != NULL);
	dm_pool_destroy(p);
}

TEST(alignment_zero, T_OURS)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);

	REQUIRE(p);
	REQUIRE(dm_pool_alloc(p, 8));
	CHECK(dm_pool_alloc_aligned(p, 8, 0) == NULL);
	CHECK_INT(log_count(3), 1);
	CHECK(dm_pool_alloc(p, 8) != NULL);
	dm_pool_destroy(p);
}

/* stock walks and frees every chunk, leaving the pool on freed memory */
TEST(free_foreign_pointer, T_OURS)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);
	char *a, *b;
	int x;

	REQUIRE(p);
	a = dm_pool_alloc(p, 600);
	b = dm_pool_alloc(p, 600);
	REQUIRE(a && b);
	memset(b, 'b', 600);
	dm_pool_free(p, &x);
	CHECK(log_has("Internal error: pool_free asked to free pointer not in pool", 3));
	/* nothing was freed */
	CHECK(b[599] == 'b');
	CHECK(dm_pool_alloc(p, 8) != NULL);
	/* a pointer in a chunk's header is not in the pool either */
	log_clear();
	dm_pool_free(p, a - 16);
	CHECK(log_count(3) == 1);
	dm_pool_destroy(p);
}

/* stock loops forever rounding the chunk size up */
TEST(create_huge_hint, T_OURS)
{
	pid_t pid = fork();

	if (pid == 0) {
		alarm(10);
		_exit(dm_pool_create("capitest", ((size_t)1 << 63) + 1) == NULL ? 0 : 1);
	}
	REQUIRE(pid > 0);
	CHECK_INT(child_status(), 0);
}

/* grow and end without any chunk (stock dereferences NULL) */
TEST(object_without_chunk, T_OURS)
{
	struct dm_pool *p = dm_pool_create("capitest", 0);
	char *o;

	REQUIRE(p);
	CHECK(dm_pool_end_object(p) == NULL);
	CHECK(log_count(3) == 1);
	REQUIRE(dm_pool_grow_object(p, "abc", 4));
	o = dm_pool_end_object(p);
	REQUIRE(o);
	CHECK_STR(o, "abc");
	dm_pool_destroy(p);
}

/* unreleased pools are listed by dm_lib_exit (stock: dm_pools_check_leaks) */
TEST(leak_report_at_exit, T_MATCH)
{
	struct dm_pool *p = dm_pool_create("capitest-leak", 0);

	REQUIRE(p);
	log_clear();
	dm_lib_exit();
	fact("leak.lines=%d first='%s' last_internal=%d", log_count(3),
		  log_first(3) ? log_first(3) : "", log_has("Unreleased memory pool(s) found", 3));
	CHECK(log_count(3) == 0 || log_has("capitest-leak", 3));
}
