/*
 * report-bench: the dm_report_* API over many rows, with a selection and
 * sort keys (issue 8's "dm_report with a selection over 100 000 rows"; see
 * bench/README.md, section "Tools").
 *
 * Written against the stock API (#include <libdevmapper.h>, -ldevmapper,
 * soname libdevmapper.so.1.02.1, no rpath) and built once, so the same
 * binary runs against the system's stock library or ours through
 * LD_LIBRARY_PATH. Needs no kernel.
 *
 *   report-bench [ROWS]      (default 100000, or $DMB_ROWS)
 *
 * The report (five fields: two strings, a number, a size shown with
 * dm_size_to_string, a percent; aligned, buffered, with headings, sorted by
 * "-size,name", a unique order) goes where libdm's default log sends
 * report lines: stdout. The selection mixes string, number, size, percent
 * and regex comparisons with &&, ||, ! and parentheses, and keeps about a
 * third of the rows. The rows are made before the report starts; the
 * report's phases are timed and printed on stderr:
 *
 *   LIB <path of the libdevmapper loaded> <its version>
 *   PHASE init|objects|output|free <ms>
 *
 * Under callgrind (built with HAVE_CALLGRIND) the program dumps twice: after
 * making the rows ("rows": start-up and the benchmark's own work) and after
 * freeing the report ("report": dm_report_init_with_selection, the
 * dm_report_object calls with the field callbacks, dm_report_output,
 * dm_report_free); the rest of the run is in the final dump.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libdevmapper.h>

#ifdef HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_DUMP_STATS_AT(s) ((void)(s))
#endif

#define ROW_TYPE 1

struct row {
	const char *name;
	const char *kind;
	uint64_t num;
	uint64_t size;		/* sectors */
	dm_percent_t pct;
};

static const char *const kinds[] = { "linear", "striped", "raid1", "thin", "cache" };

static void *row_data(void *obj)
{
	return obj;
}

static int str_disp(struct dm_report *rh, struct dm_pool *mem,
		    struct dm_report_field *field, const void *data, void *priv)
{
	(void)mem;
	(void)priv;
	return dm_report_field_string(rh, field, (const char *const *)data);
}

static int num_disp(struct dm_report *rh, struct dm_pool *mem,
		    struct dm_report_field *field, const void *data, void *priv)
{
	(void)mem;
	(void)priv;
	return dm_report_field_uint64(rh, field, (const uint64_t *)data);
}

/* As LVM shows sizes: human units, the sort value a double in sectors. */
static int size_disp(struct dm_report *rh, struct dm_pool *mem,
		     struct dm_report_field *field, const void *data, void *priv)
{
	const uint64_t size = *(const uint64_t *)data;
	const char *s;
	double *sortval;

	(void)rh;
	(void)priv;
	if (!(s = dm_size_to_string(mem, size, 'h', 0, 0, 1, DM_SIZE_UNIT)))
		return 0;
	if (!(sortval = dm_pool_alloc(mem, sizeof(*sortval))))
		return 0;
	*sortval = (double)size;
	dm_report_field_set_value(field, s, sortval);
	return 1;
}

static int pct_disp(struct dm_report *rh, struct dm_pool *mem,
		    struct dm_report_field *field, const void *data, void *priv)
{
	(void)mem;
	(void)priv;
	return dm_report_field_percent(rh, field, (const dm_percent_t *)data);
}

static const struct dm_report_object_type types[] = {
	{ ROW_TYPE, "Row", "row_", row_data },
	{ 0, NULL, NULL, NULL },
};

#define FIELD(id, flags, member, width, head, fn, desc) \
	{ ROW_TYPE, (flags), offsetof(struct row, member), (width), id, head, fn, desc }

static const struct dm_report_field_type fields[] = {
	FIELD("name", DM_REPORT_FIELD_TYPE_STRING, name, 4,
	      "Name", str_disp, "Name of the row."),
	FIELD("kind", DM_REPORT_FIELD_TYPE_STRING, kind, 4,
	      "Kind", str_disp, "Kind of the row."),
	FIELD("num", DM_REPORT_FIELD_TYPE_NUMBER, num, 3,
	      "Num", num_disp, "A number."),
	FIELD("size", DM_REPORT_FIELD_TYPE_SIZE, size, 4,
	      "Size", size_disp, "A size."),
	FIELD("pct", DM_REPORT_FIELD_TYPE_PERCENT, pct, 3,
	      "Pct", pct_disp, "A percentage."),
	{ 0, 0, 0, 0, "", "", NULL, NULL },
};

static const char SELECTION[] =
	"(kind =~ \"^(lin|rai)\" && size >= 512m && num < 90000)"
	" || (name =~ \"lv0[0-4][0-9]*[05]$\" && !(pct < 50%))"
	" || (kind = \"cache\" && size < 64m)";

/* "vgNN-lvNNNNNN" (lv modulo 10^6), without printf: the rows should cost
 * little next to the report. */
static void put_name(char *p, uint32_t vg, uint32_t lv)
{
	memcpy(p, "vg00-lv000000", 14);
	p[2] += vg / 10 % 10;
	p[3] += vg % 10;
	for (int k = 12; k >= 7; k--, lv /= 10)
		p[k] += lv % 10;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	const char *env = getenv("DMB_ROWS");
	long n = argc > 1 ? atol(argv[1]) : env ? atol(env) : 100000;
	uint32_t report_types = ROW_TYPE;
	struct dm_report *rh;
	struct row *rows;
	char *names;
	char version[64] = "?";
	Dl_info di;
	double t0, t1, t2, t3, t4;
	int rc = 0;

	if (n <= 0 || n > 10000000) {
		fprintf(stderr, "usage: report-bench [ROWS (1..10000000)]\n");
		return 2;
	}
	if (!dm_get_library_version(version, sizeof(version)))
		strcpy(version, "?");
	fprintf(stderr, "LIB %s %s\n",
		dladdr((void *)dm_report_init, &di) && di.dli_fname ? di.dli_fname : "?", version);

	/* The rows: fixed pseudo-random values, so every run reports the same. */
	rows = calloc(n, sizeof(*rows));
	names = malloc(n * 16);
	if (!rows || !names) {
		fprintf(stderr, "ERR out of memory\n");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		uint32_t h = (uint32_t)i * 2654435761u;
		h ^= h >> 15;
		put_name(names + 16 * i, h % 16, (uint32_t)i);
		rows[i].name = names + 16 * i;
		rows[i].kind = kinds[(h >> 4) % 5];
		rows[i].num = (h >> 8) % 100000;
		rows[i].size = ((h >> 12) % 4096 + 1) * 2048;
		rows[i].pct = (dm_percent_t)((h % 10001) * (DM_PERCENT_1 / 100));
	}
	CALLGRIND_DUMP_STATS_AT("rows");

	t0 = now_ms();
	rh = dm_report_init_with_selection(&report_types, types, fields, "name,kind,num,size,pct", " ",
					   DM_REPORT_OUTPUT_ALIGNED | DM_REPORT_OUTPUT_BUFFERED |
					   DM_REPORT_OUTPUT_HEADINGS,
					   "-size,name", SELECTION, NULL, NULL);
	if (!rh) {
		fprintf(stderr, "ERR dm_report_init_with_selection failed\n");
		return 1;
	}
	t1 = now_ms();
	for (long i = 0; i < n; i++)
		if (!dm_report_object(rh, &rows[i])) {
			fprintf(stderr, "ERR dm_report_object failed on row %ld\n", i);
			rc = 1;
			break;
		}
	t2 = now_ms();
	if (!dm_report_output(rh)) {
		fprintf(stderr, "ERR dm_report_output failed\n");
		rc = 1;
	}
	fflush(stdout);
	t3 = now_ms();
	dm_report_free(rh);
	t4 = now_ms();
	CALLGRIND_DUMP_STATS_AT("report");

	fprintf(stderr, "PHASE init %.3f\nPHASE objects %.3f\nPHASE output %.3f\nPHASE free %.3f\n",
		t1 - t0, t2 - t1, t3 - t2, t4 - t3);
	free(rows);
	free(names);
	return rc;
}
