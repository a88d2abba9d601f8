#include <inttypes.h>
#include <stdarg.h>
#include <sys/types.h>
#include <sys/stat.h>

#ifdef __linux__
#include <linux/types.h>
#endif

#include <limits.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <stddef.h>

#ifndef __GNUC__
#define __typeof__ typeof
#endif

/* Stringify a macro argument after expansion. */
#define DM_TO_STRING_EXP(A) #A
#define DM_TO_STRING(A) DM_TO_STRING_EXP(A)

/* Number of elements of an array. */
#define DM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Logging.
 *
 * One process-wide callback receives every message of the library. The
 * preferred form carries an errno value (errors) or a message class (debug
 * output); the older form has no such argument. Installing either one routes
 * the other through an adapter; passing NULL restores the built-in logger,
 * which prints warnings and errors (everything once a verbosity level is
 * set) and honours DM_DEBUG_WITH_LINE_NUMBERS and DM_ABORT_ON_INTERNAL_ERRORS.
 */
typedef void (*dm_log_with_errno_fn) (int level, const char *file, int line,
                                      int dm_errno_or_class, const char *f, ...)
    __attribute__ ((format(printf, 5, 6)));

typedef void (*dm_log_fn) (int level, const char *file, int line,
                           const char *f, ...)
    __attribute__ ((format(printf, 4, 5)));

void dm_log_with_errno_init(dm_log_with_errno_fn fn);
void dm_log_init(dm_log_fn fn);

/* 1 when a callback other than the built-in logger is installed. */
int dm_log_is_non_default(void);

/* Task types for dm_task_create(). */
enum {
    DM_DEVICE_CREATE,
    DM_DEVICE_RELOAD,
    DM_DEVICE_REMOVE,
    DM_DEVICE_REMOVE_ALL,
    DM_DEVICE_SUSPEND,
    DM_DEVICE_RESUME,
    DM_DEVICE_INFO,
    DM_DEVICE_DEPS,
    DM_DEVICE_RENAME,
    DM_DEVICE_VERSION,
    DM_DEVICE_STATUS,
    DM_DEVICE_TABLE,
    DM_DEVICE_WAITEVENT,
    DM_DEVICE_LIST,
    DM_DEVICE_CLEAR,
    DM_DEVICE_MKNODES,
    DM_DEVICE_LIST_VERSIONS,
    DM_DEVICE_TARGET_MSG,
    DM_DEVICE_SET_GEOMETRY,
    DM_DEVICE_ARM_POLL,
    DM_DEVICE_GET_TARGET_VERSION
};

/* When dm_task_set_add_node() makes the /dev/mapper node appear. */
typedef enum dm_add_node_e {
    DM_ADD_NODE_ON_RESUME,
    DM_ADD_NODE_ON_CREATE
} dm_add_node_t;

/* Name and uuid mangling modes (udev-safe character set, \xNN escapes). */
typedef enum dm_string_mangling_e {
    DM_STRING_MANGLING_NONE,
    DM_STRING_MANGLING_AUTO,
    DM_STRING_MANGLING_HEX
} dm_string_mangling_t;

/* Directory udev creates device nodes in. */
#define DM_UDEV_DEV_DIR "/dev/"

/* Library set-up and tear-down; also run automatically at load and unload. */
void dm_lib_init(void) __attribute__((constructor));
void dm_lib_exit(void) __attribute__((destructor));
