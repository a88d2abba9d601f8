/* dm_timestamp_*: CLOCK_MONOTONIC readings, compare/delta/copy, and the
 * timestamp dm_task_get_ioctl_timestamp hands out. */
#define _GNU_SOURCE
#include "harness.h"

#include <time.h>

#define M T_MATCH

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

TEST(alloc_is_zero, M)
{
	struct dm_timestamp *a = dm_timestamp_alloc(), *b = dm_timestamp_alloc();

	REQUIRE(a && b);
	CHECK_INT(dm_timestamp_compare(a, b), 0);
	CHECK_INT(dm_timestamp_delta(a, b), 0);
	REQUIRE(dm_timestamp_get(b) == 1);
	/* a is the zero reading: the delta is the clock's value itself */
	{
		uint64_t before = now_ns(), d = dm_timestamp_delta(a, b), after = now_ns();

		CHECK(d != 0);
		CHECK(d <= after);
		CHECK(d + 1000000000u >= before);
		fact("zero vs now: compare=%d/%d delta_is_clock=%d", dm_timestamp_compare(a, b),
		     dm_timestamp_compare(b, a), d <= after && d + 1000000000u >= before);
	}
	dm_timestamp_destroy(a);
	dm_timestamp_destroy(b);
	dm_timestamp_destroy(NULL);
	CHECK_INT(log_count(7), 0);
}

TEST(monotonic_compare_delta, M)
{
	struct dm_timestamp *t1 = dm_timestamp_alloc(), *t2 = dm_timestamp_alloc();
	uint64_t outer0, outer1, d;

	REQUIRE(t1 && t2);
	outer0 = now_ns();
	REQUIRE(dm_timestamp_get(t1) == 1);
	/* spin until the clock moves (no sleeping) */
	do
		REQUIRE(dm_timestamp_get(t2) == 1);
	while (dm_timestamp_compare(t1, t2) == 0);
	outer1 = now_ns();
	d = dm_timestamp_delta(t2, t1);
	CHECK_INT(dm_timestamp_compare(t1, t2), -1);
	CHECK_INT(dm_timestamp_compare(t2, t1), 1);
	CHECK_INT(dm_timestamp_compare(t2, t2), 0);
	CHECK_INT(dm_timestamp_delta(t1, t2), d);
	CHECK(d > 0 && d <= outer1 - outer0);
	fact("earlier/later: %d %d %d, symmetric delta: %d", dm_timestamp_compare(t1, t2),
	     dm_timestamp_compare(t2, t1), dm_timestamp_compare(t1, t1),
	     dm_timestamp_delta(t1, t2) == dm_timestamp_delta(t2, t1));
	dm_timestamp_destroy(t1);
	dm_timestamp_destroy(t2);
}

TEST(copy, M)
{
	struct dm_timestamp *a = dm_timestamp_alloc(), *b = dm_timestamp_alloc();

	REQUIRE(a && b);
	REQUIRE(dm_timestamp_get(a));
	CHECK(dm_timestamp_compare(a, b) == 1);
	dm_timestamp_copy(b, a);
	CHECK_INT(dm_timestamp_compare(a, b), 0);
	CHECK_INT(dm_timestamp_delta(a, b), 0);
	dm_timestamp_copy(a, a);
	CHECK_INT(dm_timestamp_compare(a, b), 0);
	fact("copy equal: %d", dm_timestamp_compare(a, b));
	dm_timestamp_destroy(a);
	dm_timestamp_destroy(b);
}

/* dm_timestamp_get(NULL) fails quietly in both libraries */
TEST(get_null, M)
{
	CHECK_INT(dm_timestamp_get(NULL), 0);
	fact_logs("get_null", 7);
}

/* the ioctl timestamp is a struct dm_timestamp like the others */
TEST(ioctl_timestamp_interop, M | T_KERNEL)
{
	struct dm_task *dmt = task_for(DM_DEVICE_VERSION, NULL);
	struct dm_timestamp *before = dm_timestamp_alloc(), *after = dm_timestamp_alloc(), *copy;
	struct dm_timestamp *io;

	REQUIRE(dmt && before && after);
	CHECK_INT(dm_task_set_record_timestamp(dmt), 1);
	REQUIRE(dm_timestamp_get(before));
	REQUIRE(dm_task_run(dmt));
	REQUIRE(dm_timestamp_get(after));
	io = dm_task_get_ioctl_timestamp(dmt);
	REQUIRE(io);
	CHECK(dm_timestamp_compare(before, io) <= 0);
	CHECK(dm_timestamp_compare(io, after) <= 0);
	CHECK(dm_timestamp_delta(before, io) <= dm_timestamp_delta(before, after));
	copy = dm_timestamp_alloc();
	REQUIRE(copy);
	dm_timestamp_copy(copy, io);
	CHECK_INT(dm_timestamp_compare(copy, io), 0);
	fact("before<=ioctl<=after: %d %d, copy equal: %d", dm_timestamp_compare(before, io) <= 0,
	     dm_timestamp_compare(io, after) <= 0, dm_timestamp_compare(copy, io));
	dm_timestamp_destroy(copy);
	dm_timestamp_destroy(before);
	dm_timestamp_destroy(after);
	dm_task_destroy(dmt);
	dm_lib_release();
}

/* ours only: NULL timestamps fail with a message instead of crashing */
TEST(null_timestamps, T_OURS)
{
	struct dm_timestamp *a = dm_timestamp_alloc();

	REQUIRE(a);
	CHECK_INT(dm_timestamp_compare(NULL, a), 0);
	CHECK_INT(dm_timestamp_compare(a, NULL), 0);
	CHECK_INT(dm_timestamp_delta(NULL, a), 0);
	dm_timestamp_copy(NULL, a);
	dm_timestamp_copy(a, NULL);
	CHECK_INT(log_count(3), 5);
	CHECK(log_has("called with a NULL timestamp", 3));
	dm_timestamp_destroy(a);
}
