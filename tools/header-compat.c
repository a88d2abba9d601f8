/*
 * Source-compatibility check of include/libdevmapper.h against the stock
 * libdevmapper 1.02.185 interface, for the names this project exports.
 *
 * Compiled (never run) by tools/check-header.sh as C99 with -pedantic and as
 * C++11, and linked against the built library: every prototype, struct
 * layout, constant value and macro a stock-built client relies on must be
 * identical, and every declared function must resolve with C linkage.
 */

#include <libdevmapper.h>

#ifdef __cplusplus
#include <type_traits>
#define SAME_TYPE(expr, type) (std::is_same<decltype(expr), type>::value)
#define CHECK(cond, what) static_assert(cond, what)
#else
#define SAME_TYPE(expr, type) __builtin_types_compatible_p(__typeof__(expr), type)
#define CHECK(cond, what) _Static_assert(cond, what)
#endif

/* A function has exactly the stock prototype. */
#define PROTO(fn, type) CHECK(SAME_TYPE(&fn, type), #fn ": prototype differs from libdevmapper.h 1.02.185")
/* A constant has the stock value. */
#define VALUE(name, value) CHECK((name) == (value), #name ": value differs")
/* A struct member has the stock type and offset. */
#define MEMBER(st, field, type, offset)                                                            \
	CHECK(SAME_TYPE(((struct st *)0)->field, type), #st "." #field ": type differs");           \
	CHECK(offsetof(struct st, field) == (offset), #st "." #field ": offset differs")

/* Opaque handles stay incomplete types that clients can name. */
struct dm_task;
struct dm_timestamp;
struct dm_tree;
struct dm_tree_node;
struct dm_pool;
struct dm_stats;
struct dm_histogram;

/* ---- logging ---- */
CHECK(SAME_TYPE((dm_log_fn)0, void (*)(int, const char *, int, const char *, ...)), "dm_log_fn");
CHECK(SAME_TYPE((dm_log_with_errno_fn)0, void (*)(int, const char *, int, int, const char *, ...)),
      "dm_log_with_errno_fn");
PROTO(dm_log_init, void (*)(dm_log_fn));
PROTO(dm_log_with_errno_init, void (*)(dm_log_with_errno_fn));
PROTO(dm_log_init_verbose, void (*)(int));
PROTO(dm_log_is_non_default, int (*)(void));

/* ---- task types and enums ---- */
VALUE(DM_DEVICE_CREATE, 0);
VALUE(DM_DEVICE_RELOAD, 1);
VALUE(DM_DEVICE_REMOVE, 2);
VALUE(DM_DEVICE_REMOVE_ALL, 3);
VALUE(DM_DEVICE_SUSPEND, 4);
VALUE(DM_DEVICE_RESUME, 5);
VALUE(DM_DEVICE_INFO, 6);
VALUE(DM_DEVICE_DEPS, 7);
VALUE(DM_DEVICE_RENAME, 8);
VALUE(DM_DEVICE_VERSION, 9);
VALUE(DM_DEVICE_STATUS, 10);
VALUE(DM_DEVICE_TABLE, 11);
VALUE(DM_DEVICE_WAITEVENT, 12);
VALUE(DM_DEVICE_LIST, 13);
VALUE(DM_DEVICE_CLEAR, 14);
VALUE(DM_DEVICE_MKNODES, 15);
VALUE(DM_DEVICE_LIST_VERSIONS, 16);
VALUE(DM_DEVICE_TARGET_MSG, 17);
VALUE(DM_DEVICE_SET_GEOMETRY, 18);
VALUE(DM_DEVICE_ARM_POLL, 19);
VALUE(DM_DEVICE_GET_TARGET_VERSION, 20);

VALUE(DM_ADD_NODE_ON_RESUME, 0);
VALUE(DM_ADD_NODE_ON_CREATE, 1);
CHECK(sizeof(dm_add_node_t) == sizeof(int), "dm_add_node_t is an enum");
CHECK(sizeof(enum dm_add_node_e) == sizeof(int), "enum dm_add_node_e");

VALUE(DM_STRING_MANGLING_NONE, 0);
VALUE(DM_STRING_MANGLING_AUTO, 1);
VALUE(DM_STRING_MANGLING_HEX, 2);
CHECK(sizeof(dm_string_mangling_t) == sizeof(int), "dm_string_mangling_t is an enum");
CHECK(sizeof(enum dm_string_mangling_e) == sizeof(int), "enum dm_string_mangling_e");

/* ---- constants ---- */
VALUE(DM_READ_AHEAD_AUTO, UINT32_MAX);
VALUE(DM_READ_AHEAD_NONE, 0);
VALUE(DM_READ_AHEAD_MINIMUM_FLAG, 0x1);
VALUE(DM_FORMAT_DEV_BUFSIZE, 13);
CHECK(sizeof("" DM_UDEV_DEV_DIR "") == sizeof("/dev/"), "DM_UDEV_DEV_DIR is the string \"/dev/\"");
VALUE(DM_DEV_DIR_UMASK, 0022);
VALUE(DM_CONTROL_NODE_UMASK, 0177);
VALUE(DM_COOKIE_MAGIC, 0x0D4D);
VALUE(DM_UDEV_FLAGS_MASK, 0xFFFF0000);
CHECK(sizeof(DM_UDEV_FLAGS_MASK) == sizeof(unsigned int), "DM_UDEV_FLAGS_MASK is an unsigned int");
CHECK(DM_UDEV_FLAGS_MASK > 0, "DM_UDEV_FLAGS_MASK is unsigned");
VALUE(DM_UDEV_FLAGS_SHIFT, 16);
VALUE(DM_COOKIE_AUTO_CREATE, 0);
VALUE(DM_UDEV_DISABLE_DM_RULES_FLAG, 0x0001);
VALUE(DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG, 0x0002);
VALUE(DM_UDEV_DISABLE_DISK_RULES_FLAG, 0x0004);
VALUE(DM_UDEV_DISABLE_OTHER_RULES_FLAG, 0x0008);
VALUE(DM_UDEV_LOW_PRIORITY_FLAG, 0x0010);
VALUE(DM_UDEV_DISABLE_LIBRARY_FALLBACK, 0x0020);
VALUE(DM_UDEV_PRIMARY_SOURCE_FLAG, 0x0040);
VALUE(DM_SUBSYSTEM_UDEV_FLAG0, 0x0100);
VALUE(DM_SUBSYSTEM_UDEV_FLAG1, 0x0200);
VALUE(DM_SUBSYSTEM_UDEV_FLAG2, 0x0400);
VALUE(DM_SUBSYSTEM_UDEV_FLAG3, 0x0800);
VALUE(DM_SUBSYSTEM_UDEV_FLAG4, 0x1000);
VALUE(DM_SUBSYSTEM_UDEV_FLAG5, 0x2000);
VALUE(DM_SUBSYSTEM_UDEV_FLAG6, 0x4000);
VALUE(DM_SUBSYSTEM_UDEV_FLAG7, 0x8000);

/* ---- structs ---- */
CHECK(sizeof(struct dm_info) == 48, "struct dm_info is 48 bytes");
MEMBER(dm_info, exists, int, 0);
MEMBER(dm_info, suspended, int, 4);
MEMBER(dm_info, live_table, int, 8);
MEMBER(dm_info, inactive_table, int, 12);
MEMBER(dm_info, open_count, int32_t, 16);
MEMBER(dm_info, event_nr, uint32_t, 20);
MEMBER(dm_info, major, uint32_t, 24);
MEMBER(dm_info, minor, uint32_t, 28);
MEMBER(dm_info, read_only, int, 32);
MEMBER(dm_info, target_count, int32_t, 36);
MEMBER(dm_info, deferred_remove, int, 40);
MEMBER(dm_info, internal_suspend, int, 44);

CHECK(sizeof(struct dm_deps) == 8, "struct dm_deps: 8-byte header, flexible array");
MEMBER(dm_deps, count, uint32_t, 0);
MEMBER(dm_deps, filler, uint32_t, 4);
CHECK(offsetof(struct dm_deps, device) == 8, "dm_deps.device");
CHECK(sizeof(((struct dm_deps *)0)->device[0]) == sizeof(uint64_t), "dm_deps.device[] is uint64_t");

CHECK(sizeof(struct dm_names) == 16, "struct dm_names");
MEMBER(dm_names, dev, uint64_t, 0);
MEMBER(dm_names, next, uint32_t, 8);
CHECK(offsetof(struct dm_names, name) == 12, "dm_names.name");
CHECK(sizeof(((struct dm_names *)0)->name[0]) == 1, "dm_names.name[] is char");

CHECK(sizeof(struct dm_versions) == 16, "struct dm_versions");
MEMBER(dm_versions, next, uint32_t, 0);
CHECK(offsetof(struct dm_versions, version) == 4, "dm_versions.version");
CHECK(sizeof(((struct dm_versions *)0)->version) == 3 * sizeof(uint32_t), "dm_versions.version[3]");
CHECK(offsetof(struct dm_versions, name) == 16, "dm_versions.name");

/* ---- task family ---- */
PROTO(dm_task_create, struct dm_task *(*)(int));
PROTO(dm_task_destroy, void (*)(struct dm_task *));
PROTO(dm_task_run, int (*)(struct dm_task *));
PROTO(dm_task_update_nodes, void (*)(void));
PROTO(dm_task_set_name, int (*)(struct dm_task *, const char *));
PROTO(dm_task_set_uuid, int (*)(struct dm_task *, const char *));
PROTO(dm_task_set_newname, int (*)(struct dm_task *, const char *));
PROTO(dm_task_set_newuuid, int (*)(struct dm_task *, const char *));
PROTO(dm_task_set_major, int (*)(struct dm_task *, int));
PROTO(dm_task_set_minor, int (*)(struct dm_task *, int));
PROTO(dm_task_set_major_minor, int (*)(struct dm_task *, int, int, int));
PROTO(dm_task_set_uid, int (*)(struct dm_task *, uid_t));
PROTO(dm_task_set_gid, int (*)(struct dm_task *, gid_t));
PROTO(dm_task_set_mode, int (*)(struct dm_task *, mode_t));
PROTO(dm_task_set_ro, int (*)(struct dm_task *));
PROTO(dm_task_set_cookie, int (*)(struct dm_task *, uint32_t *, uint16_t));
PROTO(dm_task_set_event_nr, int (*)(struct dm_task *, uint32_t));
PROTO(dm_task_set_geometry,
      int (*)(struct dm_task *, const char *, const char *, const char *, const char *));
PROTO(dm_task_set_message, int (*)(struct dm_task *, const char *));
PROTO(dm_task_set_sector, int (*)(struct dm_task *, uint64_t));
PROTO(dm_task_set_read_ahead, int (*)(struct dm_task *, uint32_t, uint32_t));
PROTO(dm_task_set_add_node, int (*)(struct dm_task *, dm_add_node_t));
PROTO(dm_task_set_record_timestamp, int (*)(struct dm_task *));
PROTO(dm_task_no_flush, int (*)(struct dm_task *));
PROTO(dm_task_no_open_count, int (*)(struct dm_task *));
PROTO(dm_task_skip_lockfs, int (*)(struct dm_task *));
PROTO(dm_task_query_inactive_table, int (*)(struct dm_task *));
PROTO(dm_task_suppress_identical_reload, int (*)(struct dm_task *));
PROTO(dm_task_secure_data, int (*)(struct dm_task *));
PROTO(dm_task_retry_remove, int (*)(struct dm_task *));
PROTO(dm_task_deferred_remove, int (*)(struct dm_task *));
PROTO(dm_task_enable_checks, int (*)(struct dm_task *));
PROTO(dm_task_ima_measurement, int (*)(struct dm_task *));
PROTO(dm_task_add_target,
      int (*)(struct dm_task *, uint64_t, uint64_t, const char *, const char *));
PROTO(dm_get_next_target,
      void *(*)(struct dm_task *, void *, uint64_t *, uint64_t *, char **, char **));
PROTO(dm_task_get_info, int (*)(struct dm_task *, struct dm_info *));
PROTO(dm_task_get_errno, int (*)(struct dm_task *));
PROTO(dm_task_get_ioctl_timestamp, struct dm_timestamp *(*)(struct dm_task *));
PROTO(dm_task_get_message_response, const char *(*)(struct dm_task *));
PROTO(dm_task_get_name, const char *(*)(const struct dm_task *));
PROTO(dm_task_get_name_mangled, char *(*)(const struct dm_task *));
PROTO(dm_task_get_name_unmangled, char *(*)(const struct dm_task *));
PROTO(dm_task_get_uuid, const char *(*)(const struct dm_task *));
PROTO(dm_task_get_uuid_mangled, char *(*)(const struct dm_task *));
PROTO(dm_task_get_uuid_unmangled, char *(*)(const struct dm_task *));
PROTO(dm_task_get_names, struct dm_names *(*)(struct dm_task *));
PROTO(dm_task_get_deps, struct dm_deps *(*)(struct dm_task *));
PROTO(dm_task_get_versions, struct dm_versions *(*)(struct dm_task *));
PROTO(dm_task_get_read_ahead, uint32_t (*)(const struct dm_task *, uint32_t *));
PROTO(dm_task_get_driver_version, int (*)(struct dm_task *, char *, size_t));

/* ---- library state ---- */
PROTO(dm_get_library_version, int (*)(char *, size_t));
PROTO(dm_driver_version, int (*)(char *, size_t));
PROTO(dm_set_dev_dir, int (*)(const char *));
PROTO(dm_dir, const char *(*)(void));
PROTO(dm_set_sysfs_dir, int (*)(const char *));
PROTO(dm_sysfs_dir, const char *(*)(void));
PROTO(dm_set_uuid_prefix, int (*)(const char *));
PROTO(dm_uuid_prefix, const char *(*)(void));
PROTO(dm_lib_init, void (*)(void));
PROTO(dm_lib_release, void (*)(void));
PROTO(dm_lib_exit, void (*)(void));
PROTO(dm_hold_control_dev, void (*)(int));
PROTO(dm_mknodes, int (*)(const char *));
PROTO(dm_get_suspended_counter, int (*)(void));
PROTO(dm_is_dm_major, int (*)(uint32_t));
PROTO(dm_device_get_name, int (*)(uint32_t, uint32_t, int, char *, size_t));
PROTO(dm_device_has_holders, int (*)(uint32_t, uint32_t));
PROTO(dm_device_has_mounted_fs, int (*)(uint32_t, uint32_t));
PROTO(dm_set_name_mangling_mode, int (*)(dm_string_mangling_t));
PROTO(dm_get_name_mangling_mode, dm_string_mangling_t (*)(void));

/* ---- udev ---- */
PROTO(dm_cookie_supported, int (*)(void));
PROTO(dm_udev_set_sync_support, void (*)(int));
PROTO(dm_udev_get_sync_support, int (*)(void));
PROTO(dm_udev_set_checking, void (*)(int));
PROTO(dm_udev_get_checking, int (*)(void));
PROTO(dm_udev_create_cookie, int (*)(uint32_t *));
PROTO(dm_udev_complete, int (*)(uint32_t));
PROTO(dm_udev_wait, int (*)(uint32_t));
PROTO(dm_udev_wait_immediate, int (*)(uint32_t, int *));

/* ---- memory ---- */
PROTO(dm_malloc_wrapper, void *(*)(size_t, const char *, int));
PROTO(dm_malloc_aligned_wrapper, void *(*)(size_t, size_t, const char *, int));
PROTO(dm_zalloc_wrapper, void *(*)(size_t, const char *, int));
PROTO(dm_realloc_wrapper, void *(*)(void *, unsigned int, const char *, int));
PROTO(dm_strdup_wrapper, char *(*)(const char *, const char *, int));
PROTO(dm_free_wrapper, void (*)(void *));
PROTO(dm_dump_memory_wrapper, int (*)(void));
PROTO(dm_bounds_check_wrapper, void (*)(void));

/* ---- pools ---- */
struct dm_pool;
PROTO(dm_pool_create, struct dm_pool *(*)(const char *, size_t));
PROTO(dm_pool_destroy, void (*)(struct dm_pool *));
PROTO(dm_pool_alloc, void *(*)(struct dm_pool *, size_t));
PROTO(dm_pool_alloc_aligned, void *(*)(struct dm_pool *, size_t, unsigned));
PROTO(dm_pool_empty, void (*)(struct dm_pool *));
PROTO(dm_pool_free, void (*)(struct dm_pool *, void *));
PROTO(dm_pool_locked, int (*)(struct dm_pool *));
PROTO(dm_pool_lock, int (*)(struct dm_pool *, int));
PROTO(dm_pool_unlock, int (*)(struct dm_pool *, int));
PROTO(dm_pool_begin_object, int (*)(struct dm_pool *, size_t));
PROTO(dm_pool_grow_object, int (*)(struct dm_pool *, const void *, size_t));
PROTO(dm_pool_end_object, void *(*)(struct dm_pool *));
PROTO(dm_pool_abandon_object, void (*)(struct dm_pool *));
PROTO(dm_pool_strdup, char *(*)(struct dm_pool *, const char *));
PROTO(dm_pool_strndup, char *(*)(struct dm_pool *, const char *, size_t));
PROTO(dm_pool_zalloc, void *(*)(struct dm_pool *, size_t));

/* ---- percentages ---- */
CHECK(DM_PERCENT_CHAR == '%', "DM_PERCENT_CHAR");
/* ---- dependency trees (read side) ---- */
PROTO(dm_tree_create, struct dm_tree *(*)(void));
PROTO(dm_tree_free, void (*)(struct dm_tree *));
PROTO(dm_tree_set_optional_uuid_suffixes, void (*)(struct dm_tree *, const char **));
PROTO(dm_tree_add_dev, int (*)(struct dm_tree *, uint32_t, uint32_t));
PROTO(dm_tree_add_dev_with_udev_flags, int (*)(struct dm_tree *, uint32_t, uint32_t, uint16_t));
PROTO(dm_tree_find_node, struct dm_tree_node *(*)(struct dm_tree *, uint32_t, uint32_t));
PROTO(dm_tree_find_node_by_uuid, struct dm_tree_node *(*)(struct dm_tree *, const char *));
PROTO(dm_tree_next_child,
      struct dm_tree_node *(*)(void **, const struct dm_tree_node *, uint32_t));
PROTO(dm_tree_node_get_name, const char *(*)(const struct dm_tree_node *));
PROTO(dm_tree_node_get_uuid, const char *(*)(const struct dm_tree_node *));
PROTO(dm_tree_node_get_info, const struct dm_info *(*)(const struct dm_tree_node *));
PROTO(dm_tree_node_get_context, void *(*)(const struct dm_tree_node *));
PROTO(dm_tree_node_size_changed, int (*)(const struct dm_tree_node *));
PROTO(dm_tree_node_num_children, int (*)(const struct dm_tree_node *, uint32_t));
PROTO(dm_tree_children_use_uuid, int (*)(struct dm_tree_node *, const char *, size_t));
PROTO(dm_tree_skip_lockfs, void (*)(struct dm_tree_node *));
PROTO(dm_tree_use_no_flush_suspend, void (*)(struct dm_tree_node *));
PROTO(dm_tree_retry_remove, void (*)(struct dm_tree_node *));
PROTO(dm_tree_node_set_udev_flags, void (*)(struct dm_tree_node *, uint16_t));
PROTO(dm_tree_set_cookie, void (*)(struct dm_tree_node *, uint32_t));
PROTO(dm_tree_get_cookie, uint32_t (*)(struct dm_tree_node *));

/* ---- timestamps ---- */
PROTO(dm_timestamp_alloc, struct dm_timestamp *(*)(void));
PROTO(dm_timestamp_get, int (*)(struct dm_timestamp *));
PROTO(dm_timestamp_copy, void (*)(struct dm_timestamp *, struct dm_timestamp *));
PROTO(dm_timestamp_compare, int (*)(struct dm_timestamp *, struct dm_timestamp *));
PROTO(dm_timestamp_delta, uint64_t (*)(struct dm_timestamp *, struct dm_timestamp *));
PROTO(dm_timestamp_destroy, void (*)(struct dm_timestamp *));

/* ---- strings ---- */
PROTO(dm_split_lvm_name, int (*)(struct dm_pool *, const char *, char **, char **, char **));
PROTO(dm_split_words, int (*)(char *, unsigned, unsigned, char **));
PROTO(dm_snprintf, int (*)(char *, size_t, const char *, ...));
PROTO(dm_basename, const char *(*)(const char *));
PROTO(dm_count_chars, unsigned (*)(const char *, size_t, const int));
PROTO(dm_escaped_len, size_t (*)(const char *));
PROTO(dm_build_dm_name, char *(*)(struct dm_pool *, const char *, const char *, const char *));
PROTO(dm_build_dm_uuid, char *(*)(struct dm_pool *, const char *, const char *, const char *));
PROTO(dm_escape_double_quotes, char *(*)(char *, const char *));
PROTO(dm_unescape_double_quotes, void (*)(char *));
PROTO(dm_unescape_colons_and_at_signs, void (*)(char *, char **, char **));
PROTO(dm_strncpy, int (*)(char *, const char *, size_t));
PROTO(dm_units_to_factor, uint64_t (*)(const char *, char *, int, const char **));
PROTO(dm_size_to_string, const char *(*)(struct dm_pool *, uint64_t, char, int, uint64_t, int,
					  dm_size_suffix_t));
PROTO(dm_asprintf, int (*)(char **, const char *, ...));
PROTO(dm_vasprintf, int (*)(char **, const char *, va_list));
PROTO(dm_format_dev, int (*)(char *, int, uint32_t, uint32_t));
VALUE(DM_SIZE_LONG, 0);
VALUE(DM_SIZE_SHORT, 1);
VALUE(DM_SIZE_UNIT, 2);
CHECK(sizeof(dm_size_suffix_t) == sizeof(int), "dm_size_suffix_t is an enum");
CHECK(sizeof(enum dm_size_suffix_e) == sizeof(int), "enum dm_size_suffix_e");

/* ---- percent ---- */
VALUE(DM_PERCENT_CHAR, '%');
VALUE(DM_PERCENT_0, 0);
VALUE(DM_PERCENT_1, 1000000);
VALUE(DM_PERCENT_100, 100000000);
VALUE(DM_PERCENT_INVALID, -1);
VALUE(DM_PERCENT_FAILED, -2);
CHECK(SAME_TYPE((dm_percent_t)0, int32_t), "dm_percent_t is int32_t");
CHECK(sizeof(dm_percent_range_t) == sizeof(int), "dm_percent_range_t is an enum");
CHECK(sizeof(enum dm_percent_range_e) == sizeof(int), "enum dm_percent_range_e");
CHECK(sizeof(dm_percent_range_t) == sizeof(int), "dm_percent_range_t is an enum");
CHECK(sizeof(enum dm_percent_range_e) == sizeof(int), "enum dm_percent_range_e");
CHECK(SAME_TYPE((dm_percent_t)0, int32_t), "dm_percent_t is int32_t");
PROTO(dm_percent_to_float, float (*)(dm_percent_t));
PROTO(dm_percent_to_round_float, float (*)(dm_percent_t, unsigned));
PROTO(dm_make_percent, dm_percent_t (*)(uint64_t, uint64_t));

/* ---- reports ---- */
struct dm_list;
struct dm_report;
struct dm_report_field;
struct dm_report_group;

VALUE(DM_REPORT_FIELD_MASK, 0x00000FFF);
VALUE(DM_REPORT_FIELD_ALIGN_MASK, 0x0000000F);
VALUE(DM_REPORT_FIELD_ALIGN_LEFT, 0x00000001);
VALUE(DM_REPORT_FIELD_ALIGN_RIGHT, 0x00000002);
VALUE(DM_REPORT_FIELD_TYPE_MASK, 0x00000FF0);
VALUE(DM_REPORT_FIELD_TYPE_NONE, 0x00000000);
VALUE(DM_REPORT_FIELD_TYPE_STRING, 0x00000010);
VALUE(DM_REPORT_FIELD_TYPE_NUMBER, 0x00000020);
VALUE(DM_REPORT_FIELD_TYPE_SIZE, 0x00000040);
VALUE(DM_REPORT_FIELD_TYPE_PERCENT, 0x00000080);
VALUE(DM_REPORT_FIELD_TYPE_STRING_LIST, 0x00000100);
VALUE(DM_REPORT_FIELD_TYPE_TIME, 0x00000200);
VALUE(DM_REPORT_FIELD_RESERVED_VALUE_MASK, 0x0000000F);
VALUE(DM_REPORT_FIELD_RESERVED_VALUE_NAMED, 0x00000001);
VALUE(DM_REPORT_FIELD_RESERVED_VALUE_RANGE, 0x00000002);
VALUE(DM_REPORT_FIELD_RESERVED_VALUE_DYNAMIC_VALUE, 0x00000004);
VALUE(DM_REPORT_FIELD_RESERVED_VALUE_FUZZY_NAMES, 0x00000008);
VALUE(DM_REPORT_FIELD_TYPE_ID_LEN, 32);
VALUE(DM_REPORT_FIELD_TYPE_HEADING_LEN, 32);
VALUE(DM_REPORT_OUTPUT_MASK, 0x000000FF);
VALUE(DM_REPORT_OUTPUT_ALIGNED, 0x00000001);
VALUE(DM_REPORT_OUTPUT_BUFFERED, 0x00000002);
VALUE(DM_REPORT_OUTPUT_HEADINGS, 0x00000004);
VALUE(DM_REPORT_OUTPUT_FIELD_NAME_PREFIX, 0x00000008);
VALUE(DM_REPORT_OUTPUT_FIELD_UNQUOTED, 0x00000010);
VALUE(DM_REPORT_OUTPUT_COLUMNS_AS_ROWS, 0x00000020);
VALUE(DM_REPORT_OUTPUT_MULTIPLE_TIMES, 0x00000040);
VALUE(DM_REPORT_RESERVED_PARSE_FUZZY_NAME, 0);
VALUE(DM_REPORT_RESERVED_GET_DYNAMIC_VALUE, 1);
CHECK(sizeof(dm_report_reserved_action_t) == sizeof(int), "dm_report_reserved_action_t is an enum");
VALUE(DM_REPORT_GROUP_SINGLE, 0);
VALUE(DM_REPORT_GROUP_BASIC, 1);
VALUE(DM_REPORT_GROUP_JSON, 2);
CHECK(sizeof(dm_report_group_type_t) == sizeof(int), "dm_report_group_type_t is an enum");
CHECK(sizeof(enum dm_report_group_type_e) == sizeof(int), "enum dm_report_group_type_e");

typedef int (*compat_report_fn)(struct dm_report *, struct dm_pool *, struct dm_report_field *,
				const void *, void *);
CHECK(sizeof(struct dm_report_object_type) == 32, "struct dm_report_object_type");
MEMBER(dm_report_object_type, id, uint32_t, 0);
MEMBER(dm_report_object_type, desc, const char *, 8);
MEMBER(dm_report_object_type, prefix, const char *, 16);
MEMBER(dm_report_object_type, data_fn, void *(*)(void *), 24);
CHECK(sizeof(struct dm_report_field_type) == 96, "struct dm_report_field_type");
MEMBER(dm_report_field_type, type, uint32_t, 0);
MEMBER(dm_report_field_type, flags, uint32_t, 4);
MEMBER(dm_report_field_type, offset, uint32_t, 8);
MEMBER(dm_report_field_type, width, int32_t, 12);
MEMBER(dm_report_field_type, id, const char[32], 16);
MEMBER(dm_report_field_type, heading, const char[32], 48);
MEMBER(dm_report_field_type, report_fn, compat_report_fn, 80);
MEMBER(dm_report_field_type, desc, const char *, 88);
CHECK(sizeof(struct dm_report_field_reserved_value) == 16, "struct dm_report_field_reserved_value");
MEMBER(dm_report_field_reserved_value, field_num, uint32_t, 0);
MEMBER(dm_report_field_reserved_value, value, const void *, 8);
CHECK(sizeof(struct dm_report_reserved_value) == 32, "struct dm_report_reserved_value");
MEMBER(dm_report_reserved_value, type, const uint32_t, 0);
MEMBER(dm_report_reserved_value, value, const void *, 8);
MEMBER(dm_report_reserved_value, names, const char **, 16);
MEMBER(dm_report_reserved_value, description, const char *, 24);
CHECK(SAME_TYPE((dm_report_reserved_handler)0,
		int (*)(struct dm_report *, struct dm_pool *, uint32_t, dm_report_reserved_action_t,
			const void *, const void **)),
      "dm_report_reserved_handler");

PROTO(dm_report_init, struct dm_report *(*)(uint32_t *, const struct dm_report_object_type *,
					     const struct dm_report_field_type *, const char *,
					     const char *, uint32_t, const char *, void *));
PROTO(dm_report_init_with_selection,
      struct dm_report *(*)(uint32_t *, const struct dm_report_object_type *,
			    const struct dm_report_field_type *, const char *, const char *, uint32_t,
			    const char *, const char *, const struct dm_report_reserved_value *, void *));
PROTO(dm_report_object, int (*)(struct dm_report *, void *));
PROTO(dm_report_object_is_selected, int (*)(struct dm_report *, void *, int, int *));
PROTO(dm_report_compact_fields, int (*)(struct dm_report *));
PROTO(dm_report_compact_given_fields, int (*)(struct dm_report *, const char *));
PROTO(dm_report_is_empty, int (*)(struct dm_report *));
PROTO(dm_report_destroy_rows, void (*)(struct dm_report *));
PROTO(dm_report_output, int (*)(struct dm_report *));
PROTO(dm_report_column_headings, int (*)(struct dm_report *));
PROTO(dm_report_free, void (*)(struct dm_report *));
PROTO(dm_report_set_output_field_name_prefix, int (*)(struct dm_report *, const char *));
PROTO(dm_report_set_selection, int (*)(struct dm_report *, const char *));
PROTO(dm_report_value_cache_set, int (*)(struct dm_report *, const char *, const void *));
PROTO(dm_report_value_cache_get, const void *(*)(struct dm_report *, const char *));
PROTO(dm_report_field_string,
      int (*)(struct dm_report *, struct dm_report_field *, const char *const *));
PROTO(dm_report_field_string_list,
      int (*)(struct dm_report *, struct dm_report_field *, const struct dm_list *, const char *));
PROTO(dm_report_field_string_list_unsorted,
      int (*)(struct dm_report *, struct dm_report_field *, const struct dm_list *, const char *));
PROTO(dm_report_field_int32, int (*)(struct dm_report *, struct dm_report_field *, const int32_t *));
PROTO(dm_report_field_uint32, int (*)(struct dm_report *, struct dm_report_field *, const uint32_t *));
PROTO(dm_report_field_int, int (*)(struct dm_report *, struct dm_report_field *, const int *));
PROTO(dm_report_field_uint64, int (*)(struct dm_report *, struct dm_report_field *, const uint64_t *));
PROTO(dm_report_field_percent,
      int (*)(struct dm_report *, struct dm_report_field *, const dm_percent_t *));
PROTO(dm_report_field_set_value, void (*)(struct dm_report_field *, const void *, const void *));
PROTO(dm_report_group_create, struct dm_report_group *(*)(dm_report_group_type_t, void *));
PROTO(dm_report_group_push, int (*)(struct dm_report_group *, struct dm_report *, void *));
PROTO(dm_report_group_pop, int (*)(struct dm_report_group *));
PROTO(dm_report_group_output_and_pop_all, int (*)(struct dm_report_group *));
PROTO(dm_report_group_destroy, int (*)(struct dm_report_group *));

/* ---- statistics and histograms ---- */
PROTO(dm_stats_create, struct dm_stats *(*)(const char *));
PROTO(dm_stats_bind_devno, int (*)(struct dm_stats *, int, int));
PROTO(dm_stats_bind_name, int (*)(struct dm_stats *, const char *));
PROTO(dm_stats_bind_uuid, int (*)(struct dm_stats *, const char *));
PROTO(dm_stats_bind_from_fd, int (*)(struct dm_stats *, int));
PROTO(dm_message_supports_precise_timestamps, int (*)(void));
PROTO(dm_stats_driver_supports_precise, int (*)(void));
PROTO(dm_stats_driver_supports_histogram, int (*)(void));
PROTO(dm_stats_get_region_precise_timestamps, int (*)(const struct dm_stats *, uint64_t));
PROTO(dm_stats_get_current_region_precise_timestamps, int (*)(const struct dm_stats *));
PROTO(dm_stats_list, int (*)(struct dm_stats *, const char *));
PROTO(dm_stats_populate, int (*)(struct dm_stats *, const char *, uint64_t));
PROTO(dm_stats_create_region, int (*)(struct dm_stats *, uint64_t *, uint64_t, uint64_t, int64_t, int, struct dm_histogram *, const char *, const char *));
PROTO(dm_stats_delete_region, int (*)(struct dm_stats *, uint64_t));
PROTO(dm_stats_clear_region, int (*)(struct dm_stats *, uint64_t));
PROTO(dm_stats_print_region, char *(*)(struct dm_stats *, uint64_t, unsigned, unsigned, unsigned));
PROTO(dm_stats_buffer_destroy, void (*)(struct dm_stats *, char *));
PROTO(dm_stats_get_nr_regions, uint64_t (*)(const struct dm_stats *));
PROTO(dm_stats_get_nr_groups, uint64_t (*)(const struct dm_stats *));
PROTO(dm_stats_region_present, int (*)(const struct dm_stats *, uint64_t));
PROTO(dm_stats_get_region_nr_areas, uint64_t (*)(const struct dm_stats *, uint64_t));
PROTO(dm_stats_get_nr_areas, uint64_t (*)(const struct dm_stats *));
PROTO(dm_stats_group_present, int (*)(const struct dm_stats *, uint64_t));
PROTO(dm_stats_get_region_nr_histogram_bins, int (*)(const struct dm_stats *, uint64_t));
PROTO(dm_histogram_bounds_from_string, struct dm_histogram *(*)(const char *));
PROTO(dm_histogram_bounds_from_uint64, struct dm_histogram *(*)(const uint64_t *));
PROTO(dm_histogram_bounds_destroy, void (*)(struct dm_histogram *));
PROTO(dm_stats_destroy, void (*)(struct dm_stats *));
PROTO(dm_stats_set_sampling_interval_ns, void (*)(struct dm_stats *, uint64_t));
PROTO(dm_stats_set_sampling_interval_ms, void (*)(struct dm_stats *, uint64_t));
PROTO(dm_stats_get_sampling_interval_ns, uint64_t (*)(const struct dm_stats *));
PROTO(dm_stats_get_sampling_interval_ms, uint64_t (*)(const struct dm_stats *));
PROTO(dm_stats_set_program_id, int (*)(struct dm_stats *, int, const char *));
PROTO(dm_stats_get_region_start, int (*)(const struct dm_stats *, uint64_t *, uint64_t));
PROTO(dm_stats_get_region_len, int (*)(const struct dm_stats *, uint64_t *, uint64_t));
PROTO(dm_stats_get_region_area_len, int (*)(const struct dm_stats *, uint64_t *, uint64_t));
PROTO(dm_stats_get_area_start, int (*)(const struct dm_stats *, uint64_t *, uint64_t, uint64_t));
PROTO(dm_stats_get_area_offset, int (*)(const struct dm_stats *, uint64_t *, uint64_t, uint64_t));
PROTO(dm_stats_get_region_program_id, const char *(*)(const struct dm_stats *, uint64_t));
PROTO(dm_stats_get_region_aux_data, const char *(*)(const struct dm_stats *, uint64_t));
PROTO(dm_stats_walk_init, int (*)(struct dm_stats *, uint64_t));
PROTO(dm_stats_walk_start, void (*)(struct dm_stats *));
PROTO(dm_stats_walk_next, void (*)(struct dm_stats *));
PROTO(dm_stats_walk_next_region, void (*)(struct dm_stats *));
PROTO(dm_stats_walk_end, int (*)(struct dm_stats *));
PROTO(dm_stats_object_type, dm_stats_obj_type_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_current_object_type, dm_stats_obj_type_t (*)(const struct dm_stats *));
PROTO(dm_stats_get_current_nr_areas, uint64_t (*)(const struct dm_stats *));
PROTO(dm_stats_get_current_region, uint64_t (*)(const struct dm_stats *));
PROTO(dm_stats_get_current_area, uint64_t (*)(const struct dm_stats *));
PROTO(dm_stats_get_current_region_start, int (*)(const struct dm_stats *, uint64_t *));
PROTO(dm_stats_get_current_region_len, int (*)(const struct dm_stats *, uint64_t *));
PROTO(dm_stats_get_current_region_area_len, int (*)(const struct dm_stats *, uint64_t *));
PROTO(dm_stats_get_current_area_start, int (*)(const struct dm_stats *, uint64_t *));
PROTO(dm_stats_get_current_area_offset, int (*)(const struct dm_stats *, uint64_t *));
PROTO(dm_stats_get_current_area_len, int (*)(const struct dm_stats *, uint64_t *));
PROTO(dm_stats_get_current_region_program_id, const char *(*)(const struct dm_stats *));
PROTO(dm_stats_get_current_region_aux_data, const char *(*)(const struct dm_stats *));
PROTO(dm_stats_create_group, int (*)(struct dm_stats *, const char *, const char *, uint64_t *));
PROTO(dm_stats_delete_group, int (*)(struct dm_stats *, uint64_t, int));
PROTO(dm_stats_set_alias, int (*)(struct dm_stats *, uint64_t, const char *));
PROTO(dm_stats_get_alias, const char *(*)(const struct dm_stats *, uint64_t));
PROTO(dm_stats_get_group_id, uint64_t (*)(const struct dm_stats *, uint64_t));
PROTO(dm_stats_get_group_descriptor, int (*)(const struct dm_stats *, uint64_t, char **));
PROTO(dm_stats_create_regions_from_fd, uint64_t *(*)(struct dm_stats *, int, int, int, struct dm_histogram *, const char *));
PROTO(dm_stats_update_regions_from_fd, uint64_t *(*)(struct dm_stats *, int, uint64_t));
PROTO(dm_filemapd_mode_from_string, dm_filemapd_mode_t (*)(const char *));
PROTO(dm_stats_start_filemapd, int (*)(int, uint64_t, const char *, dm_filemapd_mode_t, unsigned, unsigned));
PROTO(dm_stats_get_counter, uint64_t (*)(const struct dm_stats *, dm_stats_counter_t, uint64_t, uint64_t));
PROTO(dm_stats_get_reads, uint64_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_get_reads_merged, uint64_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_get_read_sectors, uint64_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_get_read_nsecs, uint64_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_get_writes, uint64_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_get_writes_merged, uint64_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_get_write_sectors, uint64_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_get_write_nsecs, uint64_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_get_io_in_progress, uint64_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_get_io_nsecs, uint64_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_get_weighted_io_nsecs, uint64_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_get_total_read_nsecs, uint64_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_get_total_write_nsecs, uint64_t (*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_stats_get_metric, int (*)(const struct dm_stats *, int, uint64_t, uint64_t, double *));
PROTO(dm_stats_get_rd_merges_per_sec, int (*)(const struct dm_stats *, double *, uint64_t, uint64_t));
PROTO(dm_stats_get_wr_merges_per_sec, int (*)(const struct dm_stats *, double *, uint64_t, uint64_t));
PROTO(dm_stats_get_reads_per_sec, int (*)(const struct dm_stats *, double *, uint64_t, uint64_t));
PROTO(dm_stats_get_writes_per_sec, int (*)(const struct dm_stats *, double *, uint64_t, uint64_t));
PROTO(dm_stats_get_read_sectors_per_sec, int (*)(const struct dm_stats *, double *, uint64_t, uint64_t));
PROTO(dm_stats_get_write_sectors_per_sec, int (*)(const struct dm_stats *, double *, uint64_t, uint64_t));
PROTO(dm_stats_get_average_request_size, int (*)(const struct dm_stats *, double *, uint64_t, uint64_t));
PROTO(dm_stats_get_service_time, int (*)(const struct dm_stats *, double *, uint64_t, uint64_t));
PROTO(dm_stats_get_average_queue_size, int (*)(const struct dm_stats *, double *, uint64_t, uint64_t));
PROTO(dm_stats_get_average_wait_time, int (*)(const struct dm_stats *, double *, uint64_t, uint64_t));
PROTO(dm_stats_get_average_rd_wait_time, int (*)(const struct dm_stats *, double *, uint64_t, uint64_t));
PROTO(dm_stats_get_average_wr_wait_time, int (*)(const struct dm_stats *, double *, uint64_t, uint64_t));
PROTO(dm_stats_get_throughput, int (*)(const struct dm_stats *, double *, uint64_t, uint64_t));
PROTO(dm_stats_get_utilization, int (*)(const struct dm_stats *, dm_percent_t *, uint64_t, uint64_t));
PROTO(dm_stats_get_histogram, struct dm_histogram *(*)(const struct dm_stats *, uint64_t, uint64_t));
PROTO(dm_histogram_get_nr_bins, int (*)(const struct dm_histogram *));
PROTO(dm_histogram_get_bin_lower, uint64_t (*)(const struct dm_histogram *, int));
PROTO(dm_histogram_get_bin_upper, uint64_t (*)(const struct dm_histogram *, int));
PROTO(dm_histogram_get_bin_width, uint64_t (*)(const struct dm_histogram *, int));
PROTO(dm_histogram_get_bin_count, uint64_t (*)(const struct dm_histogram *, int));
PROTO(dm_histogram_get_bin_percent, dm_percent_t (*)(const struct dm_histogram *, int));
PROTO(dm_histogram_get_sum, uint64_t (*)(const struct dm_histogram *));
PROTO(dm_histogram_to_string, const char *(*)(const struct dm_histogram *, int, int, int));
VALUE(DM_STATS_REGIONS_ALL, UINT64_MAX);
VALUE(DM_STATS_REGION_CURRENT, UINT64_MAX);
VALUE(DM_STATS_AREA_CURRENT, UINT64_MAX);
VALUE(DM_STATS_GROUP_NONE, UINT64_MAX);
VALUE(DM_STATS_WALK_AREA, 0x1000000000000ULL);
VALUE(DM_STATS_WALK_REGION, 0x2000000000000ULL);
VALUE(DM_STATS_WALK_GROUP, 0x4000000000000ULL);
VALUE(DM_STATS_WALK_ALL, 0x7000000000000ULL);
VALUE(DM_STATS_WALK_DEFAULT, 0x3000000000000ULL);
VALUE(DM_STATS_WALK_SKIP_SINGLE_AREA, 0x8000000000000ULL);
CHECK(SAME_TYPE(DM_STATS_WALK_AREA, unsigned long long), "DM_STATS_WALK_AREA type");
CHECK(sizeof(DM_STATS_ALL_PROGRAMS) == 1, "DM_STATS_ALL_PROGRAMS is \"\"");
VALUE(DM_STATS_OBJECT_TYPE_NONE, 0);
VALUE(DM_STATS_OBJECT_TYPE_AREA, 1);
VALUE(DM_STATS_OBJECT_TYPE_REGION, 2);
VALUE(DM_STATS_OBJECT_TYPE_GROUP, 3);
CHECK(sizeof(dm_stats_obj_type_t) == sizeof(int), "dm_stats_obj_type_t");
VALUE(DM_STATS_READS_COUNT, 0);
VALUE(DM_STATS_READ_NSECS, 3);
VALUE(DM_STATS_WRITE_NSECS, 7);
VALUE(DM_STATS_IO_IN_PROGRESS_COUNT, 8);
VALUE(DM_STATS_TOTAL_WRITE_NSECS, 12);
VALUE(DM_STATS_NR_COUNTERS, 13);
VALUE(DM_STATS_RD_MERGES_PER_SEC, 0);
VALUE(DM_STATS_AVERAGE_REQUEST_SIZE, 6);
VALUE(DM_STATS_SERVICE_TIME, 11);
VALUE(DM_STATS_UTILIZATION, 13);
VALUE(DM_STATS_NR_METRICS, 14);
CHECK(sizeof(dm_stats_counter_t) == sizeof(int) && sizeof(dm_stats_metric_t) == sizeof(int),
      "dm_stats_counter_t, dm_stats_metric_t");
VALUE(DM_FILEMAPD_FOLLOW_INODE, 0);
VALUE(DM_FILEMAPD_FOLLOW_PATH, 1);
VALUE(DM_FILEMAPD_FOLLOW_NONE, 2);
VALUE(DM_HISTOGRAM_SUFFIX, 0x1);
VALUE(DM_HISTOGRAM_VALUES, 0x2);
VALUE(DM_HISTOGRAM_PERCENT, 0x4);
VALUE(DM_HISTOGRAM_BOUNDS_LOWER, 0x10);
VALUE(DM_HISTOGRAM_BOUNDS_UPPER, 0x20);
VALUE(DM_HISTOGRAM_BOUNDS_RANGE, 0x30);

/* Static tables as stock-built programs write them (dmsetup's style). */
static void *compat_data(void *obj) { return obj; }
static int compat_disp(struct dm_report *rh, struct dm_pool *mem, struct dm_report_field *field,
		       const void *data, void *private_data)
{
	(void)mem;
	(void)private_data;
	return dm_report_field_string(rh, field, (const char *const *)data);
}
static const struct dm_report_object_type compat_types[] = {
	{ 1, "Thing", "thing_", compat_data },
	{ 0, "", "", NULL },
};
static const struct dm_report_field_type compat_fields[] = {
	{ 1, DM_REPORT_FIELD_TYPE_STRING | DM_REPORT_FIELD_ALIGN_LEFT, 0, 4, "name", "Name",
	  compat_disp, "The name." },
	{ 0, 0, 0, 0, "", "", NULL, NULL },
};
static const char *compat_names[] = { "none", NULL };
static const uint64_t compat_zero = 0;
static const struct dm_report_reserved_value compat_reserved[] = {
	{ DM_REPORT_FIELD_TYPE_NUMBER, &compat_zero, compat_names, "Nothing." },
	{ 0, NULL, NULL, NULL },
};

/* The macros expand to the wrappers with the caller's position. */
int header_compat_use_macros(void);
int header_compat_use_macros(void)
{
	char *s = dm_strdup("x");
	void *p = dm_malloc(8);
	void *a = dm_malloc_aligned(64, 64);
	void *z = dm_zalloc(8);
	int sizes[DM_FORMAT_DEV_BUFSIZE];
	const char *dir = DM_UDEV_DEV_DIR "mapper";
	int ok = DM_TO_STRING(DM_COOKIE_AUTO_CREATE)[0] != '\0' && dir[0] == '/';

	p = dm_realloc(p, 16);
	dm_free(s);
	dm_free(p);
	dm_free(a);
	dm_free(z);
	dm_bounds_check();
	return ok + dm_dump_memory() + (int)DM_ARRAY_SIZE(sizes);
}

/* The report and pool tables and calls compile as stock-built code does. */
int header_compat_use_report(void);
int header_compat_use_report(void)
{
	uint32_t types = 1;
	struct dm_pool *mem = dm_pool_create("compat", 0);
	struct dm_report *rh = dm_report_init_with_selection(&types, compat_types, compat_fields,
							     "name", " ", DM_REPORT_OUTPUT_ALIGNED,
							     NULL, "", compat_reserved, NULL);
	struct dm_report_group *g = dm_report_group_create(DM_REPORT_GROUP_JSON, NULL);
	const char *name = "x";
	int r = dm_report_group_push(g, rh, (void *)"things") && dm_report_object(rh, &name);

	if (mem && dm_pool_begin_object(mem, 8) && dm_pool_grow_object(mem, name, 0))
		r += dm_pool_end_object(mem) != NULL;
	dm_report_group_destroy(g);
	dm_report_free(rh);
	dm_pool_destroy(mem);
	return r;
}

/* The walk macros expand as in stock (dmsetup's loops). */
int header_compat_use_stats(void);
int header_compat_use_stats(void)
{
	struct dm_stats *dms = dm_stats_create(DM_STATS_ALL_PROGRAMS);
	uint64_t n = 0;

	if (!dms)
		return 0;
	dm_stats_foreach_region(dms)
		n += dm_stats_get_current_region(dms);
	dm_stats_foreach_area(dms)
		n += dm_stats_get_current_area(dms);
	dm_stats_foreach_group(dms)
		n += dm_stats_get_group_id(dms, DM_STATS_REGION_CURRENT);
	dm_stats_walk_init(dms, DM_STATS_WALK_DEFAULT);
	dm_stats_walk_do(dms) {
		n += dm_stats_current_object_type(dms) == DM_STATS_OBJECT_TYPE_GROUP;
		dm_stats_walk_next(dms);
	} dm_stats_walk_while(dms);
	dm_stats_destroy(dms);
	return (int)n;
}

int main(void)
{
	return header_compat_use_macros() == 0 || header_compat_use_report() < 0 ||
	       header_compat_use_stats() < 0;
}
