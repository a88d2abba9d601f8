/* Entry points that LLVM's ThreadSanitizer instrumentation of the Rust
 * library (rustc -Zsanitizer=thread) calls but gcc 12's libtsan lacks.
 * They forward to the libc functions, which libtsan intercepts: the access
 * is recorded all the same. Linked into the test binary only. */
#include <string.h>

void *__tsan_memcpy(void *dst, const void *src, size_t n);
void *__tsan_memmove(void *dst, const void *src, size_t n);
void *__tsan_memset(void *dst, int c, size_t n);

void *__tsan_memcpy(void *dst, const void *src, size_t n)
{
	return memcpy(dst, src, n);
}

void *__tsan_memmove(void *dst, const void *src, size_t n)
{
	return memmove(dst, src, n);
}

void *__tsan_memset(void *dst, int c, size_t n)
{
	return memset(dst, c, n);
}
