/*
 * Strings: the formatting functions are C-variadic (they live in shim.c).
 *
 * dm_snprintf returns -1 when the buffer is too small (the pre-C99
 * snprintf convention). dm_asprintf and dm_vasprintf allocate the result
 * with dm_malloc (free it with dm_free) and return its size including the
 * NUL, or -1.
 */
int dm_snprintf(char *buf, size_t bufsize, const char *format, ...)
    __attribute__ ((format(printf, 3, 4)));
int dm_asprintf(char **buf, const char *format, ...)
    __attribute__ ((format(printf, 2, 3)));
int dm_vasprintf(char **buf, const char *format, va_list ap)
    __attribute__ ((format(printf, 2, 0)));

/* The kind of suffix dm_size_to_string() appends. */
typedef enum dm_size_suffix_e {
    DM_SIZE_LONG = 0,   /* Megabyte */
    DM_SIZE_SHORT = 1,  /* MB or MiB */
    DM_SIZE_UNIT = 2    /* M or m */
} dm_size_suffix_t;
