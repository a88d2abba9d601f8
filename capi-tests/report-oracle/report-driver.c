/*
 * report-driver: drives libdevmapper's report engine (dm_report_*) from a
 * line-based case file and prints a transcript of everything the library
 * logs, plus the result of every call.  Run against stock libdevmapper it
 * produces the golden outputs used by the Rust engine's tests
 * (devmapper/tests/fixtures/report/); linked against our library it becomes
 * a differential test of the C shell.  It uses only the public libdevmapper
 * API, so it is independent of our implementation.
 *
 * Case file: one command a line, arguments separated by '|'.  In arguments,
 * backslash escapes: \\ \| \n \t \xHH.  Lines starting with '#' and empty
 * lines are ignored.  See README.md beside this file for the commands.
 *
 * Transcript: each log message as "L<level>|<text>" (level as passed to the
 * log function, e.g. 4 for report lines, 132 for help text, 3 for errors;
 * debug-level messages are dropped), each call's result as "=<cmd> <ret>".
 * Newlines and backslashes in logged text are escaped as \n and \\.
 */

#define _GNU_SOURCE
#include <libdevmapper.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 512
#define MAX_TYPES 32
#define MAX_FIELDS 256
#define MAX_RESERVED 64
#define MAX_REPORTS 8

static void die(const char *msg, int lineno)
{
	fprintf(stderr, "report-driver: line %d: %s\n", lineno, msg);
	exit(2);
}

static void put_escaped(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", stdout);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static void log_fn(int level, const char *file, int line, int dm_errno_or_class,
		   const char *f, ...)
{
	va_list ap;
	char *msg = NULL;

	(void) file;
	(void) line;
	(void) dm_errno_or_class;

	if ((level & 0x7f) >= 7)
		return;	/* debug: <backtrace> etc. */

	va_start(ap, f);
	if (vasprintf(&msg, f, ap) < 0)
		msg = NULL;
	va_end(ap);
	printf("L%d|", level);
	put_escaped(msg ? msg : "(null)");
	putchar('\n');
	free(msg);
}

/* ---- argument splitting ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Splits line in place; returns argc. */
static int split_args(char *line, char **argv)
{
	int argc = 0;
	char *r = line, *w = line;

	argv[argc++] = w;
	while (*r) {
		if (*r == '\\' && r[1]) {
			r++;
			switch (*r) {
			case 'n': *w++ = '\n'; r++; break;
			case 't': *w++ = '\t'; r++; break;
			case 'x':
				if (hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
					*w++ = (char) (hexval(r[1]) * 16 + hexval(r[2]));
					r += 3;
				} else
					*w++ = *r++;
				break;
			default: *w++ = *r++;
			}
		} else if (*r == '|') {
			*w++ = '\0';
			r++;
			if (argc >= MAX_ARGS)
				return -1;
			argv[argc++] = w;
		} else
			*w++ = *r++;
	}
	*w = '\0';
	return argc;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

/* "-" means NULL for optional strings */
static const char *opt(const char *s)
{
	return strcmp(s, "-") ? xstrdup(s) : NULL;
}

/* ---- values ---- */

/*
 * String lists for dm_report_field_string_list: struct dm_list and
 * struct dm_str_list are built by hand with their layout, so that the driver
 * needs neither the list functions nor the full list types from the library
 * under test (it only needs the report API).
 */
struct drv_list {
	struct drv_list *n, *p;
};

struct drv_str_list {
	struct drv_list list;
	const char *str;
};

static void drv_list_init(struct drv_list *head)
{
	head->n = head->p = head;
}

static void drv_list_add(struct drv_list *head, struct drv_list *elem)
{
	elem->n = head;
	elem->p = head->p;
	head->p->n = elem;
	head->p = elem;
}

enum vkind {
	V_STR, V_INT, V_INT32, V_UINT32, V_UINT64, V_PERCENT, V_LIST, V_LIST_UNSORTED,
	V_SETVAL, V_SETVAL_U64, V_SETVAL_DBL, V_SETVAL_TIME, V_FAIL
};

struct spec {
	enum vkind kind;
	const char *s;
	int64_t i;
	uint64_t u;
	double d;
	const char *delim;
	struct drv_list *list;
};

struct object {
	struct spec specs[MAX_FIELDS];
};

static struct dm_pool *_mem;

static void parse_spec(struct spec *sp, const char *text, int lineno)
{
	const char *colon = strchr(text, ':');
	size_t klen = colon ? (size_t) (colon - text) : strlen(text);
	const char *rest = colon ? colon + 1 : "";
	char kind[16];

	if (klen >= sizeof(kind))
		die("bad value kind", lineno);
	memcpy(kind, text, klen);
	kind[klen] = '\0';
	memset(sp, 0, sizeof(*sp));

	if (!strcmp(kind, "s")) {
		sp->kind = V_STR;
		sp->s = xstrdup(rest);
	} else if (!strcmp(kind, "i")) {
		sp->kind = V_INT;
		sp->i = strtoll(rest, NULL, 0);
	} else if (!strcmp(kind, "i32")) {
		sp->kind = V_INT32;
		sp->i = strtoll(rest, NULL, 0);
	} else if (!strcmp(kind, "u32")) {
		sp->kind = V_UINT32;
		sp->u = strtoull(rest, NULL, 0);
	} else if (!strcmp(kind, "u64")) {
		sp->kind = V_UINT64;
		sp->u = strtoull(rest, NULL, 0);
	} else if (!strcmp(kind, "p")) {
		sp->kind = V_PERCENT;
		sp->i = strtoll(rest, NULL, 0);
	} else if (!strcmp(kind, "l") || !strcmp(kind, "lu")) {
		/* l:DELIM:<sep><items...>  DELIM "-" = NULL */
		const char *c2 = strchr(rest, ':');
		char *items, *p, sep;
		struct drv_str_list *sl;

		if (!c2)
			die("bad list spec", lineno);
		sp->kind = kind[1] ? V_LIST_UNSORTED : V_LIST;
		if (c2 - rest == 1 && rest[0] == '-')
			sp->delim = NULL;
		else
			sp->delim = strndup(rest, (size_t) (c2 - rest));
		if (!(sp->list = malloc(sizeof(*sp->list))))
			abort();
		drv_list_init(sp->list);
		items = xstrdup(c2 + 1);
		if (*items) {
			sep = *items;
			p = items + 1;
			for (;;) {
				char *e = strchr(p, sep);
				if (e)
					*e = '\0';
				if (!(sl = malloc(sizeof(*sl))))
					abort();
				sl->str = xstrdup(p);
				drv_list_add(sp->list, &sl->list);
				if (!e)
					break;
				p = e + 1;
			}
		}
	} else if (!strcmp(kind, "sv")) {
		sp->kind = V_SETVAL;
		sp->s = xstrdup(rest);
	} else if (!strcmp(kind, "svu") || !strcmp(kind, "svd") || !strcmp(kind, "svt")) {
		/* svu:NUM:TEXT */
		const char *c2 = strchr(rest, ':');
		if (!c2)
			die("bad set_value spec", lineno);
		if (kind[2] == 'u') {
			sp->kind = V_SETVAL_U64;
			sp->u = strtoull(rest, NULL, 0);
		} else if (kind[2] == 'd') {
			sp->kind = V_SETVAL_DBL;
			sp->d = strtod(rest, NULL);
		} else {
			sp->kind = V_SETVAL_TIME;
			sp->i = strtoll(rest, NULL, 0);
		}
		sp->s = xstrdup(c2 + 1);
	} else if (!strcmp(kind, "fail")) {
		sp->kind = V_FAIL;
	} else
		die("unknown value kind", lineno);
}

static int _disp(struct dm_report *rh, struct dm_pool *mem,
		 struct dm_report_field *field, const void *data, void *private)
{
	const struct spec *sp = data;
	int iv;
	int32_t i32;
	uint32_t u32;
	uint64_t u64, *up;
	double *dp;
	time_t *tp;
	dm_percent_t pc;

	(void) private;

	switch (sp->kind) {
	case V_STR:
		return dm_report_field_string(rh, field, &sp->s);
	case V_INT:
		iv = (int) sp->i;
		return dm_report_field_int(rh, field, &iv);
	case V_INT32:
		i32 = (int32_t) sp->i;
		return dm_report_field_int32(rh, field, &i32);
	case V_UINT32:
		u32 = (uint32_t) sp->u;
		return dm_report_field_uint32(rh, field, &u32);
	case V_UINT64:
		u64 = sp->u;
		return dm_report_field_uint64(rh, field, &u64);
	case V_PERCENT:
		pc = (dm_percent_t) sp->i;
		return dm_report_field_percent(rh, field, &pc);
	case V_LIST:
		return dm_report_field_string_list(rh, field, (const struct dm_list *) sp->list,
						   sp->delim);
	case V_LIST_UNSORTED:
		return dm_report_field_string_list_unsorted(rh, field,
							    (const struct dm_list *) sp->list,
							    sp->delim);
	case V_SETVAL:
		dm_report_field_set_value(field, sp->s, NULL);
		return 1;
	case V_SETVAL_U64:
		if (!(up = dm_pool_alloc(mem, sizeof(*up))))
			return 0;
		*up = sp->u;
		dm_report_field_set_value(field, sp->s, up);
		return 1;
	case V_SETVAL_DBL:
		if (!(dp = dm_pool_alloc(mem, sizeof(*dp))))
			return 0;
		*dp = sp->d;
		dm_report_field_set_value(field, sp->s, dp);
		return 1;
	case V_SETVAL_TIME:
		if (!(tp = dm_pool_alloc(mem, sizeof(*tp))))
			return 0;
		*tp = (time_t) sp->i;
		dm_report_field_set_value(field, sp->s, tp);
		return 1;
	case V_FAIL:
		return 0;
	}
	return 0;
}

/* ---- types, fields, reserved values ---- */

static struct dm_report_object_type _types[MAX_TYPES + 1];
static int _ntypes;
static int _null_data[MAX_TYPES];
static struct dm_report_field_type _fields[MAX_FIELDS + 1];
static int _nfields;
static struct dm_report_reserved_value _reserved[MAX_RESERVED + 1];
static int _nreserved;

#define DATA_FN(n) \
static void *_data_fn_##n(void *obj) { return _null_data[n] ? NULL : obj; }
DATA_FN(0) DATA_FN(1) DATA_FN(2) DATA_FN(3) DATA_FN(4) DATA_FN(5) DATA_FN(6) DATA_FN(7)
DATA_FN(8) DATA_FN(9) DATA_FN(10) DATA_FN(11) DATA_FN(12) DATA_FN(13) DATA_FN(14) DATA_FN(15)
static void *(*_data_fns[16])(void *) = {
	_data_fn_0, _data_fn_1, _data_fn_2, _data_fn_3, _data_fn_4, _data_fn_5, _data_fn_6, _data_fn_7,
	_data_fn_8, _data_fn_9, _data_fn_10, _data_fn_11, _data_fn_12, _data_fn_13, _data_fn_14, _data_fn_15
};

/*
 * The test handler for DYNAMIC_VALUE / FUZZY_NAMES reserved values:
 *  PARSE_FUZZY_NAME: "fzerr" -> 0 (error), "fznot" -> -1 (not implemented),
 *    other names starting "fz" -> canonical "fuzzy", anything else -> no match.
 *  GET_DYNAMIC_VALUE: "dynerr" -> 0, "dynnot" -> -1, "dynnull" -> NULL value,
 *    else a value by field type: number/percent {3, 9}, size {2048.0, 4096.0},
 *    time {1000, 2000}, string "dynstr".
 */
static int _handler(struct dm_report *rh, struct dm_pool *mem, uint32_t field_num,
		    dm_report_reserved_action_t action, const void *data_in,
		    const void **data_out)
{
	static const uint64_t nums[2] = { 3, 9 };
	static const double dbls[2] = { 2048.0, 4096.0 };
	static const time_t times[2] = { 1000, 2000 };
	static const char *str = "dynstr";
	const char *name = data_in;

	(void) rh;
	(void) mem;

	if (action == DM_REPORT_RESERVED_PARSE_FUZZY_NAME) {
		*data_out = NULL;
		if (!strcmp(name, "fzerr"))
			return 0;
		if (!strcmp(name, "fznot"))
			return -1;
		if (!strncmp(name, "fz", 2))
			*data_out = "fuzzy";
		return 1;
	}
	if (!strcmp(name, "dynerr"))
		return 0;
	if (!strcmp(name, "dynnot"))
		return -1;
	if (!strcmp(name, "dynnull")) {
		*data_out = NULL;
		return 1;
	}
	switch (_fields[field_num].flags & DM_REPORT_FIELD_TYPE_MASK) {
	case DM_REPORT_FIELD_TYPE_SIZE: *data_out = dbls; break;
	case DM_REPORT_FIELD_TYPE_TIME: *data_out = times; break;
	case DM_REPORT_FIELD_TYPE_STRING: *data_out = str; break;
	default: *data_out = nums;
	}
	return 1;
}

/* reserved|TYPEFLAGS|FIELDNUM|VALUE|DESC|name...
 * VALUE: u:N[:M]  d:X[:Y]  t:N[:M]  s:STR  h (handler) */
static void add_reserved(int argc, char **argv, int lineno)
{
	struct dm_report_reserved_value *rv;
	struct dm_report_field_reserved_value *frv;
	uint32_t type;
	const void *value;
	const char **names;
	const char *v;
	int i;

	if (argc < 5 || _nreserved >= MAX_RESERVED)
		die("bad reserved", lineno);
	type = (uint32_t) strtoul(argv[1], NULL, 0);
	v = argv[3];
	if (v[0] == 'h') {
		value = (const void *) _handler;
	} else if (v[0] == 's' && v[1] == ':') {
		value = xstrdup(v + 2);
	} else if ((v[0] == 'u' || v[0] == 'd' || v[0] == 't') && v[1] == ':') {
		const char *c2 = strchr(v + 2, ':');
		if (v[0] == 'u') {
			uint64_t *u = calloc(2, sizeof(*u));
			u[0] = strtoull(v + 2, NULL, 0);
			if (c2)
				u[1] = strtoull(c2 + 1, NULL, 0);
			value = u;
		} else if (v[0] == 'd') {
			double *d = calloc(2, sizeof(*d));
			d[0] = strtod(v + 2, NULL);
			if (c2)
				d[1] = strtod(c2 + 1, NULL);
			value = d;
		} else {
			time_t *t = calloc(2, sizeof(*t));
			t[0] = (time_t) strtoll(v + 2, NULL, 0);
			if (c2)
				t[1] = (time_t) strtoll(c2 + 1, NULL, 0);
			value = t;
		}
	} else
		die("bad reserved value", lineno);

	if (!(type & DM_REPORT_FIELD_TYPE_MASK)) {
		if (!(frv = malloc(sizeof(*frv))))
			abort();
		frv->field_num = (uint32_t) strtoul(argv[2], NULL, 0);
		frv->value = value;
		value = frv;
	}

	if (!(names = calloc((size_t) argc, sizeof(*names))))
		abort();
	for (i = 5; i < argc; i++)
		names[i - 5] = xstrdup(argv[i]);

	rv = &_reserved[_nreserved++];
	memcpy((void *) &rv->type, &type, sizeof(type));
	rv->value = value;
	rv->names = names;
	rv->description = xstrdup(argv[4]);
}

/* ---- main ---- */

static struct dm_report *_reports[MAX_REPORTS];
static int _cur = -1;
static struct dm_report_group *_group;

static uint32_t parse_flags(const char *s)
{
	/* numeric, or names joined by ',' */
	uint32_t f = 0;
	char *dup, *tok, *save = NULL;

	if (!*s || (*s >= '0' && *s <= '9'))
		return (uint32_t) strtoul(s, NULL, 0);
	dup = xstrdup(s);
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "aligned")) f |= DM_REPORT_OUTPUT_ALIGNED;
		else if (!strcmp(tok, "buffered")) f |= DM_REPORT_OUTPUT_BUFFERED;
		else if (!strcmp(tok, "headings")) f |= DM_REPORT_OUTPUT_HEADINGS;
		else if (!strcmp(tok, "prefix")) f |= DM_REPORT_OUTPUT_FIELD_NAME_PREFIX;
		else if (!strcmp(tok, "unquoted")) f |= DM_REPORT_OUTPUT_FIELD_UNQUOTED;
		else if (!strcmp(tok, "rows")) f |= DM_REPORT_OUTPUT_COLUMNS_AS_ROWS;
		else if (!strcmp(tok, "multiple")) f |= DM_REPORT_OUTPUT_MULTIPLE_TIMES;
		else if (!strcmp(tok, "none")) ;
		else {
			fprintf(stderr, "report-driver: unknown flag %s\n", tok);
			exit(2);
		}
	}
	free(dup);
	return f;
}

/* Commands on a report that does not exist (init failed) are skipped. */
#define CUR_OR_SKIP() \
	if (_cur < 0 || _cur >= MAX_REPORTS || !_reports[_cur]) { \
		printf("=%s skipped\n", argv[0]); \
		return; \
	}

static struct dm_report *cur(int lineno)
{
	(void) lineno;
	return _reports[_cur];
}

static struct object *make_object(int argc, char **argv, int first, int lineno)
{
	struct object *o = calloc(1, sizeof(*o));
	int i;

	if (!o)
		abort();
	for (i = first; i < argc && i - first < MAX_FIELDS; i++)
		parse_spec(&o->specs[i - first], argv[i], lineno);
	for (; i - first < MAX_FIELDS; i++)
		o->specs[i - first].kind = V_FAIL;
	return o;
}

static void run_line(char *line, int lineno);

static char **_lines;
static int *_linenos;
static int _nlines;

int main(int argc_main, char **argv_main)
{
	FILE *in;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, i, j, prelude_end = -1, cases = 0;
	pid_t pid;
	int status;

	if (argc_main != 2) {
		fprintf(stderr, "usage: report-driver CASEFILE\n");
		return 2;
	}
	if (!(in = fopen(argv_main[1], "r"))) {
		perror(argv_main[1]);
		return 2;
	}
	while ((n = getline(&line, &cap, in)) >= 0) {
		lineno++;
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		if (!(_lines = realloc(_lines, sizeof(*_lines) * (size_t) (_nlines + 1))) ||
		    !(_linenos = realloc(_linenos, sizeof(*_linenos) * (size_t) (_nlines + 1))))
			abort();
		_lines[_nlines] = xstrdup(line);
		_linenos[_nlines++] = lineno;
	}
	free(line);
	fclose(in);

	setvbuf(stdout, NULL, _IOLBF, 0);

	for (i = 0; i < _nlines; i++)
		if (!strncmp(_lines[i], "case|", 5)) {
			if (prelude_end < 0)
				prelude_end = i;
			cases++;
		}
	if (prelude_end < 0)
		prelude_end = _nlines;

	/* A file without "case|" lines is one case. */
	for (i = cases ? prelude_end : 0; i < _nlines || !cases; ) {
		int start = i, end;

		if (cases) {
			printf("### %s\n", _lines[i] + 5);
			start = i + 1;
		}
		for (end = start; end < _nlines && strncmp(_lines[end], "case|", 5); end++)
			;
		fflush(stdout);
		if ((pid = fork()) < 0)
			abort();
		if (!pid) {
			dm_log_with_errno_init(log_fn);
			if (!(_mem = dm_pool_create("driver", 1024)))
				exit(2);
			if (cases)
				for (j = 0; j < prelude_end; j++)
					run_line(_lines[j], _linenos[j]);
			for (j = start; j < end; j++)
				run_line(_lines[j], _linenos[j]);
			fflush(stdout);
			_exit(0);
		}
		if (waitpid(pid, &status, 0) < 0)
			abort();
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			printf("=CRASHED\n");
		if (!cases)
			break;
		i = end;
	}

	return 0;
}

static void run_line(char *line, int lineno)
{
	char *argv[MAX_ARGS];
	int argc, r, i;

	{
		if ((argc = split_args(line, argv)) < 1)
			die("too many args", lineno);
		if (!strcmp(argv[0], "type")) {
			/* type|ID|DESC|PREFIX[|nulldata] */
			if (argc < 4 || _ntypes >= 16)
				die("bad type", lineno);
			_types[_ntypes].id = (uint32_t) strtoul(argv[1], NULL, 0);
			/* Same description text, same pointer: as the string
			 * literals of a real caller are merged by the compiler
			 * (stock's help listing compares description pointers). */
			_types[_ntypes].desc = NULL;
			for (i = 0; i < _ntypes; i++)
				if (!strcmp(_types[i].desc, argv[2]))
					_types[_ntypes].desc = _types[i].desc;
			if (!_types[_ntypes].desc)
				_types[_ntypes].desc = xstrdup(argv[2]);
			_types[_ntypes].prefix = xstrdup(argv[3]);
			_types[_ntypes].data_fn = _data_fns[_ntypes];
			_null_data[_ntypes] = argc > 4 && !strcmp(argv[4], "nulldata");
			_ntypes++;
		} else if (!strcmp(argv[0], "field")) {
			/* field|TYPE|FLAGS|WIDTH|ID|HEADING|DESC */
			struct dm_report_field_type *f;
			if (argc != 7 || _nfields >= MAX_FIELDS)
				die("bad field", lineno);
			f = &_fields[_nfields];
			f->type = (uint32_t) strtoul(argv[1], NULL, 0);
			f->flags = (uint32_t) strtoul(argv[2], NULL, 0);
			f->offset = (uint32_t) (_nfields * sizeof(struct spec));
			f->width = (int32_t) strtol(argv[3], NULL, 0);
			strncpy((char *) f->id, argv[4], DM_REPORT_FIELD_TYPE_ID_LEN - 1);
			strncpy((char *) f->heading, argv[5], DM_REPORT_FIELD_TYPE_HEADING_LEN - 1);
			f->report_fn = _disp;
			f->desc = xstrdup(argv[6]);
			_nfields++;
		} else if (!strcmp(argv[0], "reserved")) {
			add_reserved(argc, argv, lineno);
		} else if (!strcmp(argv[0], "init") || !strcmp(argv[0], "initsel")) {
			/* init|TYPES|FIELDS|SEP|FLAGS|KEYS   initsel|...|SELECTION[|noreserved] */
			uint32_t rt;
			if (argc < 6 || (argv[0][4] && argc < 7))
				die("bad init", lineno);
			for (i = 0; i < MAX_REPORTS && _reports[i]; i++)
				;
			if (i == MAX_REPORTS)
				die("too many reports", lineno);
			rt = (uint32_t) strtoul(argv[1], NULL, 0);
			if (!argv[0][4])
				_reports[i] = dm_report_init(&rt, _types, _fields, opt(argv[2]),
							     opt(argv[3]), parse_flags(argv[4]),
							     opt(argv[5]), NULL);
			else
				_reports[i] = dm_report_init_with_selection(&rt, _types, _fields,
							     opt(argv[2]), opt(argv[3]),
							     parse_flags(argv[4]), opt(argv[5]),
							     opt(argv[6]),
							     (argc > 7 && !strcmp(argv[7], "noreserved")) || !_nreserved ? NULL : _reserved,
							     NULL);
			if (_reports[i]) {
				_cur = i;
				printf("=%s %d types=0x%x\n", argv[0], i, rt);
			} else
				printf("=%s NULL types=0x%x\n", argv[0], rt);
		} else if (!strcmp(argv[0], "use")) {
			_cur = atoi(argv[1]);
			if (_cur < 0 || _cur >= MAX_REPORTS)
				die("bad report index", lineno);
		} else if (!strcmp(argv[0], "row")) {
			CUR_OR_SKIP();
			r = dm_report_object(cur(lineno), make_object(argc, argv, 1, lineno));
			printf("=row %d\n", r);
		} else if (!strcmp(argv[0], "rowsel")) {
			CUR_OR_SKIP();
			/* rowsel|DO_OUTPUT|specs... */
			int sel = -1;
			r = dm_report_object_is_selected(cur(lineno), make_object(argc, argv, 2, lineno),
							 atoi(argv[1]), &sel);
			printf("=rowsel %d selected=%d\n", r, sel);
		} else if (!strcmp(argv[0], "output")) {
			CUR_OR_SKIP();
			r = dm_report_output(cur(lineno));
			printf("=output %d\n", r);
		} else if (!strcmp(argv[0], "headings")) {
			CUR_OR_SKIP();
			r = dm_report_column_headings(cur(lineno));
			printf("=headings %d\n", r);
		} else if (!strcmp(argv[0], "compact")) {
			CUR_OR_SKIP();
			r = dm_report_compact_fields(cur(lineno));
			printf("=compact %d\n", r);
		} else if (!strcmp(argv[0], "compactgiven")) {
			CUR_OR_SKIP();
			r = dm_report_compact_given_fields(cur(lineno), opt(argv[1]));
			printf("=compactgiven %d\n", r);
		} else if (!strcmp(argv[0], "setsel")) {
			CUR_OR_SKIP();
			r = dm_report_set_selection(cur(lineno), opt(argv[1]));
			printf("=setsel %d\n", r);
		} else if (!strcmp(argv[0], "prefix")) {
			CUR_OR_SKIP();
			r = dm_report_set_output_field_name_prefix(cur(lineno), argv[1]);
			printf("=prefix %d\n", r);
		} else if (!strcmp(argv[0], "isempty")) {
			CUR_OR_SKIP();
			r = dm_report_is_empty(cur(lineno));
			printf("=isempty %d\n", r);
		} else if (!strcmp(argv[0], "destroyrows")) {
			CUR_OR_SKIP();
			dm_report_destroy_rows(cur(lineno));
			printf("=destroyrows\n");
		} else if (!strcmp(argv[0], "free")) {
			CUR_OR_SKIP();
			dm_report_free(cur(lineno));
			_reports[_cur] = NULL;
			printf("=free\n");
		} else if (!strcmp(argv[0], "group")) {
			_group = dm_report_group_create((dm_report_group_type_t) atoi(argv[1]), NULL);
			printf("=group %s\n", _group ? "ok" : "NULL");
		} else if (!strcmp(argv[0], "push")) {
			/* push|REPORT_INDEX or -|NAME or - */
			struct dm_report *rep = strcmp(argv[1], "-") ? _reports[atoi(argv[1])] : NULL;
			r = dm_report_group_push(_group, rep, (void *) opt(argv[2]));
			printf("=push %d\n", r);
		} else if (!strcmp(argv[0], "pop")) {
			r = dm_report_group_pop(_group);
			printf("=pop %d\n", r);
		} else if (!strcmp(argv[0], "popall")) {
			r = dm_report_group_output_and_pop_all(_group);
			printf("=popall %d\n", r);
		} else if (!strcmp(argv[0], "groupdestroy")) {
			r = dm_report_group_destroy(_group);
			_group = NULL;
			printf("=groupdestroy %d\n", r);
		} else if (!strcmp(argv[0], "percent")) {
			/* percent|NUM|DENOM : dm_make_percent and the float helpers */
			dm_percent_t p = dm_make_percent(strtoull(argv[1], NULL, 0),
							 strtoull(argv[2], NULL, 0));
			printf("=percent %d %.6f %.6f\n", p, dm_percent_to_float(p),
			       dm_percent_to_round_float(p, 2));
		} else
			die("unknown command", lineno);
	}
}
