/*
 * Reports (dm_report_*).
 *
 * A report shows fields of objects as columns (or rows, or JSON through a
 * report group), sorted and filtered by a selection. The caller describes
 * its object types and their fields in two arrays, each ended by an entry
 * whose callback is NULL; for every object reported, each needed field's
 * report_fn is called with the data its type's data_fn returns (plus the
 * field's offset) and sets the value with one of the dm_report_field_*
 * functions. Values shown by dm_report_field_set_value() are best allocated
 * from the pool the callback receives, which lives as long as the rows.
 */
struct dm_list;
struct dm_pool;
struct dm_report;
struct dm_report_field;
struct dm_report_group;


/* An object type: its id (a power of two) and how to get its data. */
struct dm_report_object_type {
	uint32_t id;
	const char *desc;
	const char *prefix;		/* prefix of its field names, or NULL */
	void *(*data_fn)(void *object);	/* NULL ends the array */
};

/* Field flags: alignment and value type. */
#define DM_REPORT_FIELD_MASK				0x00000FFF
#define DM_REPORT_FIELD_ALIGN_MASK			0x0000000F
#define DM_REPORT_FIELD_ALIGN_LEFT			0x00000001
#define DM_REPORT_FIELD_ALIGN_RIGHT			0x00000002
#define DM_REPORT_FIELD_TYPE_MASK			0x00000FF0
#define DM_REPORT_FIELD_TYPE_NONE			0x00000000
#define DM_REPORT_FIELD_TYPE_STRING			0x00000010
#define DM_REPORT_FIELD_TYPE_NUMBER			0x00000020
#define DM_REPORT_FIELD_TYPE_SIZE			0x00000040
#define DM_REPORT_FIELD_TYPE_PERCENT			0x00000080
#define DM_REPORT_FIELD_TYPE_STRING_LIST		0x00000100
#define DM_REPORT_FIELD_TYPE_TIME			0x00000200

/* Reserved value flags (struct dm_report_reserved_value.type). */
#define DM_REPORT_FIELD_RESERVED_VALUE_MASK		0x0000000F
#define DM_REPORT_FIELD_RESERVED_VALUE_NAMED		0x00000001 /* a weaker reservation: the names only */
#define DM_REPORT_FIELD_RESERVED_VALUE_RANGE		0x00000002 /* a low and a high value */
#define DM_REPORT_FIELD_RESERVED_VALUE_DYNAMIC_VALUE	0x00000004 /* value given by a handler */
#define DM_REPORT_FIELD_RESERVED_VALUE_FUZZY_NAMES	0x00000008 /* names recognised by a handler */

#define DM_REPORT_FIELD_TYPE_ID_LEN 32
#define DM_REPORT_FIELD_TYPE_HEADING_LEN 32

/* A field of an object type. */
struct dm_report_field_type {
	uint32_t type;		/* the object type's id */
	uint32_t flags;		/* DM_REPORT_FIELD_* */
	uint32_t offset;	/* of the field's data in what data_fn returns */
	int32_t width;		/* minimum width */
	const char id[DM_REPORT_FIELD_TYPE_ID_LEN];		/* its name */
	const char heading[DM_REPORT_FIELD_TYPE_HEADING_LEN];	/* its column title */
	int (*report_fn)(struct dm_report *rh, struct dm_pool *mem,
			 struct dm_report_field *field, const void *data,
			 void *private_data);	/* NULL ends the array */
	const char *desc;
};

/* The value of a reserved value for one field (type DM_REPORT_FIELD_TYPE_NONE). */
struct dm_report_field_reserved_value {
	uint32_t field_num;	/* index in the field array */
	const void *value;	/* of the field's type */
};

/*
 * A value with names that selections may use instead of the value itself,
 * for every field of a type (type DM_REPORT_FIELD_TYPE_*) or for one field
 * (DM_REPORT_FIELD_TYPE_NONE: value points to a struct
 * dm_report_field_reserved_value). The value is a uint64_t (number, percent),
 * a double (size, in 512-byte sectors), a time_t (time) or a const char *
 * (string), two of them with DM_REPORT_FIELD_RESERVED_VALUE_RANGE, or a
 * dm_report_reserved_handler with _DYNAMIC_VALUE or _FUZZY_NAMES. An array
 * of them ends with a NULL value.
 */
struct dm_report_reserved_value {
	const uint32_t type;
	const void *value;
	const char **names;		/* NULL-terminated */
	const char *description;
};

/* What a reserved value handler is asked. */
typedef enum dm_report_reserved_action_e {
	DM_REPORT_RESERVED_PARSE_FUZZY_NAME,	/* in: a name, out: the canonical name or NULL */
	DM_REPORT_RESERVED_GET_DYNAMIC_VALUE,	/* in: a canonical name, out: its value or NULL */
} dm_report_reserved_action_t;

/* A reserved value handler: 1 done, 0 error, -1 action not implemented. */
typedef int (*dm_report_reserved_handler) (struct dm_report *rh,
					   struct dm_pool *mem,
					   uint32_t field_num,
					   dm_report_reserved_action_t action,
					   const void *data_in,
					   const void **data_out);

/* Output flags of dm_report_init. */
#define DM_REPORT_OUTPUT_MASK			0x000000FF
#define DM_REPORT_OUTPUT_ALIGNED		0x00000001
#define DM_REPORT_OUTPUT_BUFFERED		0x00000002
#define DM_REPORT_OUTPUT_HEADINGS		0x00000004
#define DM_REPORT_OUTPUT_FIELD_NAME_PREFIX	0x00000008
#define DM_REPORT_OUTPUT_FIELD_UNQUOTED		0x00000010
#define DM_REPORT_OUTPUT_COLUMNS_AS_ROWS	0x00000020
#define DM_REPORT_OUTPUT_MULTIPLE_TIMES		0x00000040

/* Report groups: several reports as one document. */
typedef enum dm_report_group_type_e {
	DM_REPORT_GROUP_SINGLE,
	DM_REPORT_GROUP_BASIC,
	DM_REPORT_GROUP_JSON
} dm_report_group_type_t;
