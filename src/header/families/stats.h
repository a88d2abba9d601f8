/*
 * I/O statistics (dm_stats_*) and latency histograms (dm_histogram_*).
 *
 * A struct dm_stats handle is bound to one device (by name, uuid, device
 * number or an open file on it) and talks to the kernel's dm-stats with
 * target messages: regions (ranges of sectors, optionally split into areas
 * of equal size) are created, listed (dm_stats_list), read
 * (dm_stats_populate), cleared and deleted. Counters and the metrics derived
 * from them (given a sampling interval) are read for one area, for a whole
 * region or for a group of regions; a cursor walks areas, regions and groups
 * in turn (dm_stats_walk_* and the iterator macros below). Strings and
 * histograms a handle returns belong to it: they stay valid at least until
 * the next dm_stats_list(), dm_stats_populate(), dm_stats_bind_*() or
 * dm_stats_destroy() of that handle. Buffers from dm_stats_print_region()
 * are given back with dm_stats_buffer_destroy(); region id arrays from the
 * file-mapping functions end with DM_STATS_REGION_NOT_PRESENT (UINT64_MAX)
 * and are freed with dm_free(). Bounds made by dm_histogram_bounds_from_*()
 * belong to the caller (dm_histogram_bounds_destroy()).
 */
struct dm_stats;
struct dm_histogram;

/* dm_stats_list(): every region, whatever program created it. */
#define DM_STATS_ALL_PROGRAMS ""

/* dm_stats_populate(): every region of the device. */
#define DM_STATS_REGIONS_ALL UINT64_MAX

/* The region or area under the handle's cursor. */
#define DM_STATS_REGION_CURRENT UINT64_MAX
#define DM_STATS_AREA_CURRENT UINT64_MAX

/* The group id of a region that belongs to no group. */
#define DM_STATS_GROUP_NONE UINT64_MAX

/*
 * What the cursor visits (dm_stats_walk_init()). As region or area ids,
 * DM_STATS_WALK_REGION (as an area) names a whole region and
 * DM_STATS_WALK_GROUP (alone: the cursor's group; ORed with a group id:
 * that group) names a group.
 */
#define DM_STATS_WALK_AREA   0x1000000000000ULL
#define DM_STATS_WALK_REGION 0x2000000000000ULL
#define DM_STATS_WALK_GROUP  0x4000000000000ULL
#define DM_STATS_WALK_ALL    0x7000000000000ULL
#define DM_STATS_WALK_DEFAULT (DM_STATS_WALK_AREA | DM_STATS_WALK_REGION)
/* Leave out regions with a single area from a region walk. */
#define DM_STATS_WALK_SKIP_SINGLE_AREA   0x8000000000000ULL

/* What a region id / area id pair names. */
typedef enum dm_stats_obj_type_e {
    DM_STATS_OBJECT_TYPE_NONE,
    DM_STATS_OBJECT_TYPE_AREA,
    DM_STATS_OBJECT_TYPE_REGION,
    DM_STATS_OBJECT_TYPE_GROUP
} dm_stats_obj_type_t;

/* The kernel's counters, for dm_stats_get_counter(). */
typedef enum dm_stats_counter_e {
    DM_STATS_READS_COUNT,
    DM_STATS_READS_MERGED_COUNT,
    DM_STATS_READ_SECTORS_COUNT,
    DM_STATS_READ_NSECS,
    DM_STATS_WRITES_COUNT,
    DM_STATS_WRITES_MERGED_COUNT,
    DM_STATS_WRITE_SECTORS_COUNT,
    DM_STATS_WRITE_NSECS,
    DM_STATS_IO_IN_PROGRESS_COUNT,
    DM_STATS_IO_NSECS,
    DM_STATS_WEIGHTED_IO_NSECS,
    DM_STATS_TOTAL_READ_NSECS,
    DM_STATS_TOTAL_WRITE_NSECS,
    DM_STATS_NR_COUNTERS
} dm_stats_counter_t;

/* Metrics derived from the counters (iostat's), for dm_stats_get_metric(). */
typedef enum dm_stats_metric_e {
    DM_STATS_RD_MERGES_PER_SEC,
    DM_STATS_WR_MERGES_PER_SEC,
    DM_STATS_READS_PER_SEC,
    DM_STATS_WRITES_PER_SEC,
    DM_STATS_READ_SECTORS_PER_SEC,
    DM_STATS_WRITE_SECTORS_PER_SEC,
    DM_STATS_AVERAGE_REQUEST_SIZE,
    DM_STATS_AVERAGE_QUEUE_SIZE,
    DM_STATS_AVERAGE_WAIT_TIME,
    DM_STATS_AVERAGE_RD_WAIT_TIME,
    DM_STATS_AVERAGE_WR_WAIT_TIME,
    DM_STATS_SERVICE_TIME,
    DM_STATS_THROUGHPUT,
    DM_STATS_UTILIZATION,
    DM_STATS_NR_METRICS
} dm_stats_metric_t;

/* How dmfilemapd follows a mapped file: by its inode or by its path. */
typedef enum dm_filemapd_mode_e {
    DM_FILEMAPD_FOLLOW_INODE,
    DM_FILEMAPD_FOLLOW_PATH,
    DM_FILEMAPD_FOLLOW_NONE
} dm_filemapd_mode_t;

/* dm_histogram_to_string() flags. */
#define DM_HISTOGRAM_SUFFIX  0x1    /* bounds with ns/us/ms/s suffixes */
#define DM_HISTOGRAM_VALUES  0x2    /* the bin counts */
#define DM_HISTOGRAM_PERCENT 0x4    /* the counts as percentages of the sum */
#define DM_HISTOGRAM_BOUNDS_LOWER 0x10  /* each bin's lower bound */
#define DM_HISTOGRAM_BOUNDS_UPPER 0x20  /* each bin's upper bound */
#define DM_HISTOGRAM_BOUNDS_RANGE 0x30  /* each bin as "lower-upper" */

/*
 * Iterate over the regions, the areas or the groups of a listed or
 * populated handle; the cursor is the current object inside the loop.
 */
#define dm_stats_foreach_region(dms) \
    for (dm_stats_walk_init((dms), DM_STATS_WALK_REGION), dm_stats_walk_start((dms)); \
         !dm_stats_walk_end((dms)); \
         dm_stats_walk_next_region((dms)))

#define dm_stats_foreach_area(dms) \
    for (dm_stats_walk_init((dms), DM_STATS_WALK_AREA), dm_stats_walk_start((dms)); \
         !dm_stats_walk_end((dms)); \
         dm_stats_walk_next((dms)))

#define dm_stats_foreach_group(dms) \
    for (dm_stats_walk_init((dms), DM_STATS_WALK_GROUP), dm_stats_walk_start((dms)); \
         !dm_stats_walk_end((dms)); \
         dm_stats_walk_next((dms)))

/*
 * A walk with the flags of the last dm_stats_walk_init():
 *     dm_stats_walk_do(dms) { ...; dm_stats_walk_next(dms); }
 *     dm_stats_walk_while(dms);
 */
#define dm_stats_walk_do(dms) \
    do { \
        dm_stats_walk_start((dms)); \
        do

#define dm_stats_walk_while(dms) \
        while (!dm_stats_walk_end((dms))); \
    } while (0)
