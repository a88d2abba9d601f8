/*
 * libhscan.so: scans every heap block the process frees for watched byte
 * patterns (key material). Interposes free() and realloc(); a realloc is
 * done as malloc + copy + scan + free, so that a buffer holding a key is
 * caught even when glibc would have grown it in place (the next growth may
 * move it, leaving an unwiped copy behind).
 *
 * Link it (or LD_PRELOAD it) ahead of libc. Not for AddressSanitizer builds
 * (ASan owns malloc and poisons freed memory).
 */
#define _GNU_SOURCE
#include "hscan.h"

#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATTERNS 8
#define MIN_PATTERN 12

typedef void (*free_t)(void *);
typedef void *(*malloc_t)(size_t);

static free_t real_free;
static malloc_t real_malloc;
static int resolving;

static struct {
	unsigned char bytes[256];
	size_t len;
} patterns[MAX_PATTERNS];
static int npatterns;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long scanned_blocks, scanned_bytes, hits;
static char first_hit[512];

static void resolve(void)
{
	if (real_free || resolving)
		return;
	resolving = 1;
	real_malloc = (malloc_t)dlsym(RTLD_NEXT, "malloc");
	real_free = (free_t)dlsym(RTLD_NEXT, "free");
	resolving = 0;
}

__attribute__((constructor)) static void init(void)
{
	resolve();
}

static void note_hit(const void *block, size_t size, size_t at, const void *caller)
{
	Dl_info di;
	const char *obj = "?", *sym = "?";

	hits++;
	if (first_hit[0])
		return;
	if (caller && dladdr(caller, &di)) {
		obj = di.dli_fname ? di.dli_fname : "?";
		sym = di.dli_sname ? di.dli_sname : "?";
	}
	snprintf(first_hit, sizeof(first_hit),
		 "block %p of %zu bytes, key at offset %zu, freed from %s (%s)", block, size, at, sym,
		 obj);
}

static void scan(const void *p, size_t size, const void *caller)
{
	int i;

	if (!p || !npatterns)
		return;
	pthread_mutex_lock(&lock);
	scanned_blocks++;
	scanned_bytes += size;
	for (i = 0; i < npatterns; i++) {
		const unsigned char *hit = memmem(p, size, patterns[i].bytes, patterns[i].len);
		if (hit) {
			note_hit(p, size, (size_t)(hit - (const unsigned char *)p), caller);
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

void free(void *p)
{
	if (!p)
		return;
	if (!real_free) {
		resolve();
		if (!real_free)
			return; /* during dlsym: leak rather than recurse */
	}
	scan(p, malloc_usable_size(p), __builtin_return_address(0));
	real_free(p);
}

void *realloc(void *p, size_t n)
{
	void *q;
	size_t old;

	if (!real_free)
		resolve();
	if (!p)
		return real_malloc ? real_malloc(n) : NULL;
	if (!n) {
		free(p);
		return NULL;
	}
	if (!real_malloc || !(q = real_malloc(n)))
		return NULL;
	old = malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	scan(p, old, __builtin_return_address(0));
	real_free(p);
	return q;
}

void *reallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return realloc(p, n * size);
}

void hs_watch(const void *pattern, size_t len)
{
	pthread_mutex_lock(&lock);
	if (npatterns < MAX_PATTERNS && len >= MIN_PATTERN && len <= sizeof(patterns[0].bytes)) {
		memcpy(patterns[npatterns].bytes, pattern, len);
		patterns[npatterns].len = len;
		npatterns++;
	}
	pthread_mutex_unlock(&lock);
}

void hs_unwatch_all(void)
{
	pthread_mutex_lock(&lock);
	memset(patterns, 0, sizeof(patterns));
	npatterns = 0;
	pthread_mutex_unlock(&lock);
}

void hs_reset(void)
{
	pthread_mutex_lock(&lock);
	scanned_blocks = scanned_bytes = hits = 0;
	first_hit[0] = '\0';
	pthread_mutex_unlock(&lock);
}

unsigned long hs_hits(void)
{
	return hits;
}

unsigned long hs_blocks(void)
{
	return scanned_blocks;
}

unsigned long hs_bytes(void)
{
	return scanned_bytes;
}

const char *hs_first_hit(void)
{
	return first_hit;
}

int hs_active(void)
{
	return real_free != NULL;
}
