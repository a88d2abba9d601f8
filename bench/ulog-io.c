/* bench/ulog-io.c - the write workload of `make bench-ulog` (bench/ulog.sh):
 * one process, queue depth 1, 4 KiB (or BS) writes to a block device for
 * a fixed time, printing one result line.
 *
 *   ulog-io DEVICE seq|rand BS SPAN_BYTES SECONDS direct|dsync|fsync [SEED]
 *
 * direct: O_DIRECT;  dsync: O_DIRECT|O_DSYNC;  fsync: O_DIRECT and an
 * fdatasync() after every write. seq writes block after block, wrapping at
 * SPAN_BYTES; rand picks a block of the span at random (xorshift64, SEED).
 * Output: "ops=N bytes=B secs=S iops=I mbps=M" (MB = 10^6 bytes).
 * Exit status 1 on any error (message on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: ulog-io DEVICE seq|rand BS SPAN_BYTES SECONDS direct|dsync|fsync [SEED]\n");
		return 2;
	}
	const char *dev = argv[1];
	int rand_mode = strcmp(argv[2], "rand") == 0;
	size_t bs = strtoull(argv[3], NULL, 0);
	uint64_t span = strtoull(argv[4], NULL, 0);
	double secs = strtod(argv[5], NULL);
	const char *sync = argv[6];
	uint64_t x = argc > 7 ? strtoull(argv[7], NULL, 0) : 0x9e3779b97f4a7c15ULL;
	int flags = O_WRONLY | O_DIRECT;
	int per_write_fsync = 0;

	if (strcmp(sync, "dsync") == 0)
		flags |= O_DSYNC;
	else if (strcmp(sync, "fsync") == 0)
		per_write_fsync = 1;
	else if (strcmp(sync, "direct") != 0) {
		fprintf(stderr, "ulog-io: unknown mode %s\n", sync);
		return 2;
	}
	if (bs == 0 || bs % 512 != 0 || span < bs || secs <= 0) {
		fprintf(stderr, "ulog-io: bad sizes\n");
		return 2;
	}
	if (x == 0)
		x = 1;
	uint64_t blocks = span / bs;
	void *buf;
	if (posix_memalign(&buf, 4096, bs) != 0) {
		fprintf(stderr, "ulog-io: out of memory\n");
		return 1;
	}
	memset(buf, 0x5a, bs);
	int fd = open(dev, flags);
	if (fd < 0) {
		fprintf(stderr, "ulog-io: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	uint64_t ops = 0, next = 0;
	double t0 = now(), t = t0, end = t0 + secs;
	while (t < end) {
		uint64_t b;
		if (rand_mode) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			b = x % blocks;
		} else {
			b = next;
			next = next + 1 == blocks ? 0 : next + 1;
		}
		ssize_t w = pwrite(fd, buf, bs, (off_t)(b * bs));
		if (w != (ssize_t)bs) {
			fprintf(stderr, "ulog-io: write at %" PRIu64 ": %s\n", b * bs,
				w < 0 ? strerror(errno) : "short write");
			return 1;
		}
		if (per_write_fsync && fdatasync(fd) != 0) {
			fprintf(stderr, "ulog-io: fdatasync: %s\n", strerror(errno));
			return 1;
		}
		ops++;
		t = now();
	}
	double el = t - t0;
	printf("ops=%" PRIu64 " bytes=%" PRIu64 " secs=%.3f iops=%.1f mbps=%.3f\n", ops,
	       ops * (uint64_t)bs, el, (double)ops / el, (double)(ops * bs) / el / 1e6);
	close(fd);
	free(buf);
	return 0;
}
