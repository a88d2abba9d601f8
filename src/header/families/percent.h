/*
 * Percentages: fixed point, in millionths of a percent (DM_PERCENT_1 is one
 * percent). Build them with dm_make_percent(), which never rounds a value
 * strictly between 0 and 100 % to either end.
 */
#define DM_PERCENT_CHAR '%'

typedef enum dm_percent_range_e {
    DM_PERCENT_0 = 0,
    DM_PERCENT_1 = 1000000,
    DM_PERCENT_100 = 100 * DM_PERCENT_1,
    DM_PERCENT_INVALID = -1,
    DM_PERCENT_FAILED = -2
} dm_percent_range_t;

typedef int32_t dm_percent_t;
