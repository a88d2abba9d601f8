/* libhscan.so: scan every freed heap block for watched patterns (see hscan.c). */
#ifndef HSCAN_H
#define HSCAN_H

#include <stddef.h>

/* Watch for this byte string (12..256 bytes; up to 8 patterns). The copy
 * kept here lives in static memory, never on the heap. */
void hs_watch(const void *pattern, size_t len);
void hs_unwatch_all(void);
/* Zero the counters. */
void hs_reset(void);
/* Freed blocks that contained a watched pattern, blocks and bytes scanned. */
unsigned long hs_hits(void);
unsigned long hs_blocks(void);
unsigned long hs_bytes(void);
/* Where the first hit was freed ("" if none). */
const char *hs_first_hit(void);
/* Whether free() is interposed in this process. */
int hs_active(void);

#endif
