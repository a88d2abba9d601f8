/*
 * Key material must never reach freed heap memory, log lines or output:
 * every heap block the process frees is scanned (libhscan.so interposes
 * free/realloc) for windows of a random dm-crypt key while the library
 * loads crypt tables, reads them back, iterates them, sends "key set"
 * messages (whitespace variants included), fails on rejected tables, and
 * logs at every verbosity to the default logger and to a callback.
 *
 * Built twice: `heapscan` links the fake driver (capi-tests/faults/fakedm.c,
 * no kernel needed); `heapscan-kernel` talks to a real kernel with dm-crypt
 * (run it as root in the VM with CAPI_KERNEL=1).
 *
 * The test keeps the key XOR-masked in static memory and builds plain
 * copies only in stack buffers, wiped after use, so the scan sees only what
 * the library (and the fake driver, which wipes what it frees) allocates.
 */
#define _GNU_SOURCE
#include "../harness.h"
#include "hscan.h"
#ifdef HS_FAKE
#include "../faults/fakedm.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef HS_FAKE
#define F 0
#else
#define F T_KERNEL
#endif

#define MASK 0x5a
#define KEYLEN 64
#define WIN 24

static unsigned char masked_key[KEYLEN];
static char base_dev[32];

static void wipe(void *p, size_t n)
{
	memset(p, 0, n);
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

static void key_into(char *dst)
{
	int i;

	for (i = 0; i < KEYLEN; i++)
		dst[i] = (char)(masked_key[i] ^ MASK);
}

/* "prefix<key>suffix" into buf (a stack buffer the caller wipes) */
static void with_key(char *buf, size_t size, const char *prefix, const char *suffix)
{
	size_t n = strlen(prefix);

	REQUIRE(n + KEYLEN + strlen(suffix) + 1 <= size);
	memcpy(buf, prefix, n);
	key_into(buf + n);
	strcpy(buf + n + KEYLEN, suffix);
}

/* A new random key; watch three overlapping windows of it. */
static void new_key(void)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[KEYLEN];
	char plain[KEYLEN];
	int fd = open("/dev/urandom", O_RDONLY), i;

	REQUIRE(fd >= 0 && read(fd, rnd, sizeof(rnd)) == (ssize_t)sizeof(rnd));
	close(fd);
	for (i = 0; i < KEYLEN; i++)
		masked_key[i] = (unsigned char)hex[rnd[i] & 15] ^ MASK;
	wipe(rnd, sizeof(rnd));
	key_into(plain);
	hs_unwatch_all();
	hs_watch(plain, WIN);
	hs_watch(plain + (KEYLEN - WIN) / 2, WIN);
	hs_watch(plain + KEYLEN - WIN, WIN);
	wipe(plain, sizeof(plain));
	hs_reset();
}

/* Whether text contains a window of the key. */
static int has_key(const char *text, size_t len)
{
	char plain[KEYLEN];
	int found = 0, w;

	key_into(plain);
	for (w = 0; w <= KEYLEN - WIN && !found; w += (KEYLEN - WIN) / 2)
		found = memmem(text, len, plain + w, WIN) != NULL;
	wipe(plain, sizeof(plain));
	return found;
}

static int logs_have_key(void)
{
	int i;

	for (i = 0; i < h_log_n; i++)
		if (has_key(h_log[i].text, strlen(h_log[i].text)))
			return 1;
	return 0;
}

static void setup(void)
{
	REQUIRE(hs_active());
	new_key();
#ifdef HS_FAKE
	REQUIRE(fk_add_device(TP "hsbase", NULL, "0 4096 zero", 0) >= 0);
	snprintf(base_dev, sizeof(base_dev), "253:0");
#else
	REQUIRE(create_dev(TP "hsbase", NULL, "0 4096 zero"));
	dev_path_of(TP "hsbase", base_dev, sizeof(base_dev));
	if (access("/sys/module/dm_crypt", F_OK) && system("modprobe dm_crypt 2>/dev/null") != 0)
		SKIP("no dm-crypt module");
#endif
}

/* the crypt parameters with the key, into a stack buffer */
static void crypt_params(char *buf, size_t size)
{
	char tail[64];

	snprintf(tail, sizeof(tail), " 0 %s 0", base_dev);
	with_key(buf, size, "aes-xts-plain64 ", tail);
}

static int create_crypt(const char *name, int secure)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_CREATE);
	char params[256];
	int r;

	REQUIRE(dmt && dm_task_set_name(dmt, name));
	if (secure)
		dm_task_secure_data(dmt);
	crypt_params(params, sizeof(params));
	CHECK_INT(dm_task_add_target(dmt, 0, 2048, "crypt", params), 1);
	wipe(params, sizeof(params));
	r = dm_task_run(dmt);
	dm_task_destroy(dmt);
	return r;
}

static void read_back(const char *name, int secure, int want_key)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TABLE);
	void *next = NULL;
	uint64_t start, len;
	char *type, *params;
	int n = 0, seen = 0;

	REQUIRE(dmt && dm_task_set_name(dmt, name));
	if (secure)
		dm_task_secure_data(dmt);
	REQUIRE(dm_task_run(dmt));
	do {
		next = dm_get_next_target(dmt, next, &start, &len, &type, &params);
		if (params && has_key(params, strlen(params)))
			seen = 1;
		n++;
	} while (next && n < 100);
	dm_task_destroy(dmt);
	CHECK_INT(n, 1);
	if (want_key)
		CHECK_INT(seen, 1);
}

/* Under ours the result must be clean; stock 1.02.185 leaks some copies
 * (informational for stock, see finish_info). */
static void finish_info(const char *what)
{
	unsigned long hits;

	dm_lib_release();
	dm_lib_exit();
	hits = hs_hits();
	fact_info("%s: freed blocks with the key=%lu (%s)", what, hits, hits ? hs_first_hit() : "");
	if (h_is_ours() && hits)
		h_fail(__FILE__, __LINE__, "%s: %lu freed block(s) held the key; first: %s", what, hits,
		       hs_first_hit());
	fact_info("%s: log lines with the key=%d", what, logs_have_key());
	if (h_is_ours())
		CHECK_INT(logs_have_key(), 0);
}

TEST(create_with_crypt_table, F | T_INFO)
{
	setup();
	CHECK_INT(create_crypt(TP "hscrypt", 1), 1);
	finish_info("create+load+resume");
}

TEST(reload_and_resume, F | T_INFO)
{
	struct dm_task *dmt;
	char params[256];

	setup();
	REQUIRE((dmt = dm_task_create(DM_DEVICE_CREATE)) && dm_task_set_name(dmt, TP "hsre"));
	REQUIRE(dm_task_run(dmt));
	dm_task_destroy(dmt);
	REQUIRE((dmt = dm_task_create(DM_DEVICE_RELOAD)) && dm_task_set_name(dmt, TP "hsre"));
	dm_task_secure_data(dmt);
	crypt_params(params, sizeof(params));
	CHECK_INT(dm_task_add_target(dmt, 0, 2048, "crypt", params), 1);
	wipe(params, sizeof(params));
	CHECK_INT(dm_task_run(dmt), 1);
	dm_task_destroy(dmt);
	REQUIRE((dmt = dm_task_create(DM_DEVICE_RESUME)) && dm_task_set_name(dmt, TP "hsre"));
	CHECK_INT(dm_task_run(dmt), 1);
	dm_task_destroy(dmt);
	finish_info("reload+resume");
}

TEST(table_read_back_secure, F | T_INFO)
{
	setup();
	REQUIRE(create_crypt(TP "hsrb", 1));
	hs_reset();
	read_back(TP "hsrb", 1, 1);
	finish_info("table read back (secure)");
}

TEST(next_target_on_input_table, F | T_INFO)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_RELOAD);
	char params[256];
	void *next = NULL;
	uint64_t start, len;
	char *type, *p;
	int n = 0;

	setup();
	REQUIRE(dmt && dm_task_set_name(dmt, TP "hsin"));
	crypt_params(params, sizeof(params));
	CHECK_INT(dm_task_add_target(dmt, 0, 2048, "crypt", params), 1);
	CHECK_INT(dm_task_add_target(dmt, 2048, 2048, "crypt", params), 1);
	wipe(params, sizeof(params));
	do {
		next = dm_get_next_target(dmt, next, &start, &len, &type, &p);
		n++;
	} while (next && n < 10);
	CHECK_INT(n, 2);
	/* adding a target after iterating rebuilds the copies */
	crypt_params(params, sizeof(params));
	CHECK_INT(dm_task_add_target(dmt, 4096, 2048, "crypt", params), 1);
	wipe(params, sizeof(params));
	next = dm_get_next_target(dmt, NULL, &start, &len, &type, &p);
	dm_task_destroy(dmt);
	finish_info("dm_get_next_target on an input table");
}

/* dm-crypt takes key messages only while suspended (the fake driver
 * takes them any time) */
static void messages_allowed(const char *dev, int allowed)
{
#ifdef HS_FAKE
	(void)dev;
	(void)allowed;
#else
	REQUIRE(simple_task(allowed ? DM_DEVICE_SUSPEND : DM_DEVICE_RESUME, dev));
#endif
}

static void key_message(const char *dev, const char *prefix, const char *suffix, int secure)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TARGET_MSG);
	char msg[256];

	REQUIRE(dmt && dm_task_set_name(dmt, dev));
	if (secure)
		dm_task_secure_data(dmt);
	with_key(msg, sizeof(msg), prefix, suffix);
	CHECK_INT(dm_task_set_message(dmt, msg), 1);
	wipe(msg, sizeof(msg));
	CHECK_INT(dm_task_set_sector(dmt, 0), 1);
	CHECK_INT(dm_task_run(dmt), 1);
	dm_task_destroy(dmt);
}

TEST(key_set_messages, F | T_INFO)
{
	static const char *const prefixes[] = {
		"key set ", "key  set ", "\tkey set ", " key set ", "key\tset\t", "key set\t", "  key   set   ",
	};
	size_t i;

	setup();
	REQUIRE(create_crypt(TP "hsmsg", 1));
	hs_reset();
	dm_log_init_verbose(7);
	messages_allowed(TP "hsmsg", 1);
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		key_message(TP "hsmsg", prefixes[i], "", 1);
		key_message(TP "hsmsg", prefixes[i], " ", 0);
	}
	messages_allowed(TP "hsmsg", 0);
	finish_info("key set messages");
}

TEST(table_rejected_by_kernel, F | T_INFO)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_CREATE);
	char params[256];

	setup();
	REQUIRE(dmt && dm_task_set_name(dmt, TP "hsrej"));
	dm_task_secure_data(dmt);
#ifdef HS_FAKE
	fk_fault(-1, 9 /* DM_TABLE_LOAD_CMD */, FK_ERRNO, EINVAL);
	crypt_params(params, sizeof(params));
#else
	/* a cipher the kernel does not know */
	with_key(params, sizeof(params), "nosuchcipher-xts-plain64 ", " 0 ");
	strcat(params, base_dev);
	strcat(params, " 0");
#endif
	dm_log_init_verbose(7);
	CHECK_INT(dm_task_add_target(dmt, 0, 2048, "crypt", params), 1);
	wipe(params, sizeof(params));
	CHECK_INT(dm_task_run(dmt), 0);
	dm_task_destroy(dmt);
	finish_info("table rejected by the kernel");
}

TEST(table_rejected_by_library, F | T_INFO)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_CREATE);
	char params[256];

	setup();
	REQUIRE(dmt && dm_task_set_name(dmt, TP "hsgap"));
	crypt_params(params, sizeof(params));
	CHECK_INT(dm_task_add_target(dmt, 0, 2048, "crypt", params), 1);
	/* a gap: refused before any ioctl */
	CHECK_INT(dm_task_add_target(dmt, 4096, 2048, "crypt", params), 1);
	wipe(params, sizeof(params));
	dm_log_init_verbose(7);
	CHECK_INT(dm_task_run(dmt), 0);
	dm_task_destroy(dmt);
	/* a table on a task type that takes none */
	REQUIRE((dmt = dm_task_create(DM_DEVICE_INFO)) && dm_task_set_name(dmt, TP "hsbase"));
	crypt_params(params, sizeof(params));
	CHECK_INT(dm_task_add_target(dmt, 0, 2048, "crypt", params), 1);
	wipe(params, sizeof(params));
	(void)dm_task_run(dmt);
	dm_task_destroy(dmt);
	finish_info("table rejected by the library");
}

/* everything above, at verbosity 7, with the default logger writing to a
 * file that is then searched */
static void everything(void)
{
	char params[256];
	struct dm_task *dmt;

	REQUIRE(create_crypt(TP "hsall", 1));
	read_back(TP "hsall", 1, 1);
	read_back(TP "hsall", 0, 0);
	messages_allowed(TP "hsall", 1);
	key_message(TP "hsall", "key set ", "", 1);
	key_message(TP "hsall", "  key\tset ", "", 0);
	messages_allowed(TP "hsall", 0);
	REQUIRE((dmt = dm_task_create(DM_DEVICE_RELOAD)) && dm_task_set_name(dmt, TP "hsall"));
	crypt_params(params, sizeof(params));
	CHECK_INT(dm_task_add_target(dmt, 0, 2048, "crypt", params), 1);
	wipe(params, sizeof(params));
	CHECK_INT(dm_task_run(dmt), 1);
	dm_task_destroy(dmt);
}

TEST(default_logger_verbose, F | T_INFO)
{
	char path[512], buf[1 << 16];
	int fd, saved_out, saved_err;
	ssize_t n;

	setup();
	snprintf(path, sizeof(path), "%s/log", h_tmpdir);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	dup2(fd, 1);
	dup2(fd, 2);
	dm_log_init(NULL); /* the built-in logger */
	dm_log_init_verbose(7);
	everything();
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	REQUIRE(n >= 0);
	buf[n] = '\0';
	fact_info("default logger wrote %zd bytes", n);
	CHECK(n > 0);
	fact_info("default logger output with the key=%d", has_key(buf, (size_t)n));
	if (h_is_ours())
		CHECK_INT(has_key(buf, (size_t)n), 0);
	wipe(buf, sizeof(buf));
	finish_info("default logger at verbosity 7");
}

TEST(callback_logger_verbose, F | T_INFO)
{
	setup();
	log_capture();
	dm_log_init_verbose(7);
	everything();
	CHECK(h_log_n > 0);
	finish_info("log callback at verbosity 7");
}

TEST(scan_works, T_INFO | F)
{
	/* the scanner itself: a freed copy of the key is found */
	char *copy;

	setup();
	copy = malloc(KEYLEN + 1);
	REQUIRE(copy);
	key_into(copy);
	copy[KEYLEN] = '\0';
	free(copy);
	CHECK_INT(hs_hits(), 1);
	hs_reset();
	copy = malloc(8);
	REQUIRE(copy);
	copy = realloc(copy, KEYLEN + 1);
	REQUIRE(copy);
	key_into(copy);
	copy = realloc(copy, 2 * KEYLEN);
	CHECK_INT(hs_hits(), 1);
	wipe(copy, 2 * KEYLEN);
	free(copy);
	CHECK_INT(hs_hits(), 1);
	hs_reset();
}
