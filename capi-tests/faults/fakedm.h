/*
 * fakedm: a device-mapper "kernel" in user space, for tests without a
 * driver and for fault injection.
 *
 * libfakedm.so interposes open/open64/openat/openat64/close/ioctl and the
 * stat family. A path ending in "/mapper/control" is reported as the dm
 * control node (char 10:236) and opening it gives a descriptor whose dm
 * ioctls are answered here, the way Linux 6.1's dm-ioctl.c answers them
 * (interface 4.47.0): devices, live and inactive tables, lists, versions,
 * deps, status/table text, target messages, BUFFER_FULL when a reply does
 * not fit. "/proc/devices" is answered with a list that names
 * device-mapper (major 253). Everything else passes through to libc.
 *
 * It works under LD_PRELOAD (for any program, stock dmsetup included) and
 * when linked before libc (the fault tests do both). Tests steer it with
 * the functions below: the state lives in the process, so a test that
 * forks gets a private copy in the child.
 *
 * Faults: each one applies to the ioctl number `at` (0-based, counted since
 * fk_reset) or to every ioctl (at = -1), optionally only to one command
 * (cmd = DM_*_CMD number, -1 = any). The reply is built first, then the
 * fault edits it (or replaces it with an errno).
 */
#ifndef FAKEDM_H
#define FAKEDM_H

#include <stdint.h>

enum fk_kind {
	FK_ERRNO = 1,        /* fail with errno arg (nothing written back) */
	FK_TRUNCATE,         /* data_size = data_start + arg (payload cut) */
	FK_DATA_START,       /* data_start = arg */
	FK_DATA_SIZE_GROW,   /* data_size = buffer size + arg (past the buffer) */
	FK_BUFFER_FULL,      /* BUFFER_FULL set; data_size = arg (0: buffer size) */
	FK_TARGET_COUNT,     /* target_count = arg */
	FK_UNTERM_NAME,      /* header name field without a NUL */
	FK_UNTERM_UUID,      /* header uuid field without a NUL */
	FK_UNTERM_STRING,    /* payload string number arg (-1: last, -2: all)
			      * without its NUL: its record, and for the last
			      * record the rest of the buffer, filled with 'X' */
	FK_BAD_NEXT,         /* next field number arg/16 gets bad value arg%16
			      * (see fakedm.c: bad_next_value) */
	FK_CORRUPT,          /* arg = seed: random bytes of the payload changed */
	FK_CORRUPT_HEADER,   /* arg = seed: random header fields changed */
	FK_LAYOUT,           /* answer with the payload layout of command arg */
	FK_FLAGS,            /* flags ^= arg */
	FK_VERSION,          /* version[0] = arg in the reply */
	FK_JUNK_TAIL,        /* bytes past data_size (to the buffer end) = 'Z' */
	FK_HUGE_LIST,        /* a well-formed reply of arg payload bytes of the
			      * smallest records of the command (names,
			      * versions, deps, status specs); BUFFER_FULL
			      * asking for that size until the buffer fits */
	FK_KIND_MAX
};

#define FK_BAD_NEXT_MODES 7

/* Reset the fake: no devices, no faults, counters zero, no message replies. */
void fk_reset(void);
/* Forget faults and zero the counters; keep the devices. */
void fk_clear_faults(void);
/* Add a fault (up to 16). */
void fk_fault(int at, int cmd, int kind, long arg);
/* ioctls answered (or failed) since the last reset / clear. */
int fk_calls(void);
/* Faults applied since the last reset / clear. */
int fk_faults(void);
/* Payload strings / next fields of the last reply (for sweeping indices). */
int fk_last_strings(void);
int fk_last_nexts(void);
/* Command number of ioctl number i since the reset (-1 if none), and the
 * payload strings and next fields its reply had (before any fault). */
int fk_cmd_of(int i);
int fk_strings_of(int i);
int fk_nexts_of(int i);

/* Create a device directly (no ioctl counted). table: "start len type
 * params" lines separated by '\n' (NULL: no table); it becomes live (or
 * inactive if inactive != 0). Returns the minor or -1. */
int fk_add_device(const char *name, const char *uuid, const char *table, int inactive);
/* Set a device's open count (a busy device refuses remove with EBUSY). */
void fk_set_open_count(const char *name, int n);
/* Answer TARGET_MSG messages starting with prefix with response
 * (NULL response: accepted, no data out). Up to 16. */
void fk_message_reply(const char *prefix, const char *response);
/* Number of devices. */
int fk_device_count(void);
/* Whether the fake is active in this process (for skip messages). */
int fk_active(void);

#endif
