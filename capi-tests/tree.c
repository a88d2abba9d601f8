/* dm_tree_*, the read side: building a dependency tree with dm_tree_add_dev
 * and walking it (dm_tree_next_child, dm_tree_node_num_children, getters,
 * lookups by device and uuid, flags and cookie).
 *
 * Without a kernel every major is a non-dm major, so dm_tree_add_dev makes
 * leaves without any ioctl. With --kernel a stack of devices over two loop
 * devices (linear, snapshot-origin, snapshot and a linear on top) is built
 * and walked. */
#define _GNU_SOURCE
#include "harness.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define M T_MATCH
#define K (T_MATCH | T_KERNEL)

/* ---------------- helpers ---------------- */

struct loopdev {
	char path[64];
	int fd;
	uint32_t major, minor;
};

static struct loopdev loops[2];
static int nloops;

static const char *label(const struct dm_tree_node *n)
{
	static char buf[4][64];
	static int idx;
	const struct dm_info *i = dm_tree_node_get_info(n);
	const char *name = dm_tree_node_get_name(n);
	int k;

	if (name && *name)
		return name;
	for (k = 0; k < nloops; k++)
		if (i->major == loops[k].major && i->minor == loops[k].minor)
			return k ? "<loop1>" : "<loop0>";
	idx = (idx + 1) % 4;
	snprintf(buf[idx], sizeof(buf[idx]), "<%u:%u%s>", i->major, i->minor,
		 i->major || i->minor ? "" : " root");
	return buf[idx];
}

static void children_line(const struct dm_tree_node *n, uint32_t inverted, char *out, size_t size)
{
	void *h = NULL;
	struct dm_tree_node *c;
	size_t len = 0;
	int guard = 0;

	out[0] = '\0';
	while ((c = dm_tree_next_child(&h, n, inverted)) && guard++ < 64)
		len += (size_t)snprintf(out + len, size - len, "%s%s", len ? "," : "", label(c));
	CHECK(h == NULL);
}

/* dmsetup's walk: recurse into children that have children of their own. */
static void walk(const struct dm_tree_node *n, uint32_t inverted, int depth, const char *tag)
{
	void *h = NULL;
	struct dm_tree_node *c;

	while ((c = dm_tree_next_child(&h, n, inverted))) {
		const struct dm_info *i = dm_tree_node_get_info(c);
		char kids[512], parents[512];
		int has = dm_tree_node_num_children(c, inverted);

		children_line(c, 0, kids, sizeof(kids));
		children_line(c, 1, parents, sizeof(parents));
		fact("%s %*s%s exists=%d uuid='%s' children=%d parents=%d uses=[%s] used_by=[%s]",
		     tag, depth * 2, "", label(c), i->exists, dm_tree_node_get_uuid(c),
		     dm_tree_node_num_children(c, 0), dm_tree_node_num_children(c, 1), kids,
		     parents);
		if (has && depth < 20)
			walk(c, inverted, depth + 1, tag);
	}
}

/* A sparse file on a loop device with LO_FLAGS_AUTOCLEAR: the loop goes
 * away by itself once the test process (which holds it open) has exited and
 * the devices on it are removed, even when the test fails half-way. */
static int loop_attach(struct loopdev *l, const char *file, off_t size)
{
	struct loop_info64 li;
	int ctl, n, ffd, tries;

	ffd = open(file, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (ffd < 0 || ftruncate(ffd, size) != 0)
		return 0;
	if ((ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC)) < 0)
		return 0;
	for (tries = 0; tries < 16; tries++) {
		if ((n = ioctl(ctl, LOOP_CTL_GET_FREE)) < 0)
			break;
		snprintf(l->path, sizeof(l->path), "/dev/loop%d", n);
		if ((l->fd = open(l->path, O_RDWR | O_CLOEXEC)) < 0)
			break;
		if (ioctl(l->fd, LOOP_SET_FD, ffd) == 0)
			break;
		close(l->fd);
		l->fd = -1;
	}
	close(ctl);
	close(ffd);
	if (l->fd < 0)
		return 0;
	memset(&li, 0, sizeof(li));
	li.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (ioctl(l->fd, LOOP_SET_STATUS64, &li) != 0)
		h_note("LOOP_SET_STATUS64 failed on %s", l->path);
	l->major = 7;
	l->minor = (uint32_t)n;
	{
		struct stat st;
		if (fstat(l->fd, &st) == 0) {
			l->major = major(st.st_rdev);
			l->minor = minor(st.st_rdev);
		}
	}
	return 1;
}

/* Let go of the loops: with autoclear they detach once unused. */
static void loops_detach(void)
{
	int k;

	for (k = 0; k < nloops; k++)
		if (loops[k].fd >= 0)
			close(loops[k].fd);
	nloops = 0;
}

/* ---------------- without a kernel (non-dm leaves only) ---------------- */

TEST(empty_tree, M)
{
	struct dm_tree *t = dm_tree_create();
	struct dm_tree_node *root;
	const struct dm_info *i;
	void *h = NULL;

	REQUIRE(t);
	root = dm_tree_find_node(t, 0, 0);
	REQUIRE(root);
	CHECK(dm_tree_find_node_by_uuid(t, NULL) == root);
	CHECK(dm_tree_find_node_by_uuid(t, "") == root);
	CHECK(dm_tree_find_node_by_uuid(t, "LVM-x") == NULL);
	CHECK(dm_tree_find_node(t, 7, 0) == NULL);
	CHECK_STR(dm_tree_node_get_name(root), "");
	CHECK_STR(dm_tree_node_get_uuid(root), "");
	CHECK(dm_tree_node_get_context(root) == NULL);
	i = dm_tree_node_get_info(root);
	REQUIRE(i);
	CHECK(i->exists == 0 && i->major == 0 && i->minor == 0 && i->open_count == 0);
	CHECK_INT(dm_tree_node_num_children(root, 0), 0);
	CHECK_INT(dm_tree_node_num_children(root, 1), 0);
	CHECK_INT(dm_tree_node_size_changed(root), 0);
	CHECK(dm_tree_next_child(&h, root, 0) == NULL && h == NULL);
	CHECK(dm_tree_next_child(&h, root, 1) == NULL && h == NULL);
	CHECK_INT(dm_tree_children_use_uuid(root, "LVM-", 4), 0);
	CHECK_INT(dm_tree_get_cookie(root), 0);
	dm_tree_set_cookie(root, 0x0d4d0001);
	CHECK_INT(dm_tree_get_cookie(root), 0x0d4d0001);
	dm_tree_skip_lockfs(root);
	dm_tree_use_no_flush_suspend(root);
	dm_tree_retry_remove(root);
	fact("root: name='%s' uuid='%s' exists=%d kids=%d/%d cookie=%x",
	     dm_tree_node_get_name(root), dm_tree_node_get_uuid(root), i->exists,
	     dm_tree_node_num_children(root, 0), dm_tree_node_num_children(root, 1),
	     dm_tree_get_cookie(root));
	fact_logs("empty", 7);
	dm_tree_free(t);
	dm_tree_free(NULL);
}

/* majors that are not device-mapper's become leaves, without an ioctl */
TEST(non_dm_leaves, M)
{
	struct dm_tree *t = dm_tree_create();
	struct dm_tree_node *root, *a, *b;
	void *h = NULL;
	char line[256];

	REQUIRE(t);
	root = dm_tree_find_node(t, 0, 0);
	CHECK_INT(dm_tree_add_dev(t, 7, 200), 1);
	CHECK_INT(dm_tree_add_dev_with_udev_flags(t, 7, 201, 0x40), 1);
	CHECK_INT(dm_tree_add_dev(t, 7, 200), 1);
	a = dm_tree_find_node(t, 7, 200);
	b = dm_tree_find_node(t, 7, 201);
	REQUIRE(a && b && a != b && a != root);
	CHECK_STR(dm_tree_node_get_name(a), "");
	CHECK_STR(dm_tree_node_get_uuid(a), "");
	CHECK_INT(dm_tree_node_get_info(a)->exists, 0);
	CHECK_INT(dm_tree_node_get_info(b)->major, 7);
	CHECK_INT(dm_tree_node_get_info(b)->minor, 201);
	/* both are top and bottom level */
	CHECK_INT(dm_tree_node_num_children(a, 0), 0);
	CHECK_INT(dm_tree_node_num_children(a, 1), 0);
	CHECK_INT(dm_tree_node_num_children(root, 0), 2);
	CHECK_INT(dm_tree_node_num_children(root, 1), 2);
	CHECK(dm_tree_next_child(&h, root, 0) == a);
	CHECK(dm_tree_next_child(&h, root, 0) == b);
	CHECK(dm_tree_next_child(&h, root, 0) == NULL);
	CHECK(h == NULL);
	/* the cursor starts over after the end */
	CHECK(dm_tree_next_child(&h, root, 0) == a);
	h = NULL;
	CHECK(dm_tree_next_child(&h, a, 0) == root);
	CHECK(dm_tree_next_child(&h, a, 0) == NULL);
	CHECK(dm_tree_next_child(&h, a, 1) == root);
	children_line(root, 0, line, sizeof(line));
	fact("root uses [%s]", line);
	children_line(root, 1, line, sizeof(line));
	fact("root used by [%s]", line);
	children_line(a, 0, line, sizeof(line));
	fact("leaf uses [%s]", line);
	/* the getters' pointers stay valid and stable */
	CHECK(dm_tree_node_get_info(a) == dm_tree_node_get_info(dm_tree_find_node(t, 7, 200)));
	/* children_use_uuid looks at the root's empty uuid here */
	fact("use_uuid NULL=%d LVM-/4=%d LVM-/0=%d", dm_tree_children_use_uuid(a, NULL, 0),
	     dm_tree_children_use_uuid(a, "LVM-", 4), dm_tree_children_use_uuid(a, "LVM-", 0));
	/* udev flags: the change is logged at debug level */
	dm_tree_node_set_udev_flags(b, 0x40);
	dm_tree_node_set_udev_flags(b, 0x1000);
	dm_tree_node_set_udev_flags(a, 0x0);
	fact_logs("leaves", 7);
	dm_tree_free(t);
}

/* ours only: NULL trees/nodes/handles fail with a message (stock crashes) */
TEST(null_arguments, T_OURS)
{
	struct dm_tree *t = dm_tree_create();
	struct dm_tree_node *root;

	REQUIRE(t);
	root = dm_tree_find_node(t, 0, 0);
	CHECK_INT(dm_tree_add_dev(NULL, 7, 1), 0);
	CHECK(dm_tree_find_node(NULL, 0, 0) == NULL);
	CHECK(dm_tree_find_node_by_uuid(NULL, "x") == NULL);
	CHECK(dm_tree_next_child(NULL, root, 0) == NULL);
	CHECK(dm_tree_next_child(NULL, NULL, 0) == NULL);
	CHECK(dm_tree_node_get_name(NULL) == NULL);
	CHECK(dm_tree_node_get_info(NULL) == NULL);
	CHECK_INT(dm_tree_node_num_children(NULL, 0), 0);
	dm_tree_set_cookie(NULL, 1);
	dm_tree_set_optional_uuid_suffixes(NULL, NULL);
	CHECK(log_count(3) >= 9);
	CHECK(log_has("called with a NULL", 3));
	dm_tree_free(t);
}

/* ---------------- with a kernel: a real stack ---------------- */

/* linear base over two loops; cow on loop1; origin and snapshot of base;
 * top over the snapshot */
static const char *devno_of(const char *name)
{
	static char buf[4][32];
	static int idx;
	struct dm_info info;

	REQUIRE(get_info(name, &info) && info.exists);
	idx = (idx + 1) % 4;
	snprintf(buf[idx], sizeof(buf[idx]), "%u:%u", info.major, info.minor);
	return buf[idx];
}

static int build_stack(void)
{
	char table[512];
	const char *L0, *L1;

	loops[0].fd = loops[1].fd = -1;
	REQUIRE(loop_attach(&loops[0], tmp_path("l0.img"), 16 << 20));
	nloops = 1;
	REQUIRE(loop_attach(&loops[1], tmp_path("l1.img"), 16 << 20));
	nloops = 2;
	L0 = loops[0].path;
	L1 = loops[1].path;
	snprintf(table, sizeof(table), "0 16384 linear %s 0\n16384 16384 linear %s 0", L0, L1);
	REQUIRE(create_dev(TP "tree-base", "CAPITEST-tree-base", table));
	snprintf(table, sizeof(table), "0 16384 linear %s 16384", L1);
	REQUIRE(create_dev(TP "tree-cow", "CAPITEST-tree-cow", table));
	snprintf(table, sizeof(table), "0 32768 snapshot-origin %s", devno_of(TP "tree-base"));
	REQUIRE(create_dev(TP "tree-origin", "CAPITEST-tree-origin", table));
	snprintf(table, sizeof(table), "0 32768 snapshot %s %s P 8", devno_of(TP "tree-base"),
		 devno_of(TP "tree-cow"));
	REQUIRE(create_dev(TP "tree-snap", "CAPITEST-tree-snap", table));
	snprintf(table, sizeof(table), "0 32768 linear %s 0", devno_of(TP "tree-snap"));
	REQUIRE(create_dev(TP "tree-top", "LVM-CAPITEST-tree-top", table));
	return 1;
}

static void teardown_stack(void)
{
	static const char *const order[] = { "tree-top", "tree-snap", "tree-origin", "tree-cow",
					     "tree-base" };
	char name[64];
	unsigned k;

	for (k = 0; k < DM_ARRAY_SIZE(order); k++) {
		snprintf(name, sizeof(name), TP "%s", order[k]);
		remove_dev(name);
	}
	loops_detach();
}

static struct dm_tree_node *add_named(struct dm_tree *t, const char *name, uint16_t flags)
{
	struct dm_info info;

	REQUIRE(get_info(name, &info) && info.exists);
	CHECK_INT(dm_tree_add_dev_with_udev_flags(t, info.major, info.minor, flags), 1);
	return dm_tree_find_node(t, info.major, info.minor);
}

/* keep only the tree's own log lines */
static void tree_logs(const char *tag)
{
	int i, n = 0;

	for (i = 0; i < h_log_n; i++)
		if (strstr(h_log[i].text, "deptree") || strstr(h_log[i].text, "udev_flags") ||
		    strstr(h_log[i].text, "_deps") || (h_log[i].level & 0xf) <= 3)
			fact("%s.log[%d] L%d %s", tag, n++, h_log[i].level, h_log[i].text);
	fact("%s.log.count=%d", tag, n);
}

TEST(stack_walk, K)
{
	struct dm_tree *t;
	struct dm_tree_node *top, *snap, *origin, *root;
	const char *suffixes[] = { "real", "cow", NULL };

	build_stack();
	t = dm_tree_create();
	REQUIRE(t);
	top = add_named(t, TP "tree-top", 0);
	origin = add_named(t, TP "tree-origin", 0);
	REQUIRE(top && origin);
	root = dm_tree_find_node(t, 0, 0);
	walk(root, 0, 0, "down");
	walk(root, 1, 0, "up");
	snap = dm_tree_find_node_by_uuid(t, "CAPITEST-tree-snap");
	REQUIRE(snap);
	CHECK_STR(dm_tree_node_get_name(snap), TP "tree-snap");
	CHECK_INT(dm_tree_node_num_children(snap, 0), 2);
	CHECK_INT(dm_tree_node_num_children(snap, 1), 1);
	/* lookups: exact, without the default prefix, without a suffix */
	CHECK(dm_tree_find_node_by_uuid(t, "LVM-CAPITEST-tree-top") == top);
	CHECK(dm_tree_find_node_by_uuid(t, "LVM-CAPITEST-tree-snap") == snap);
	CHECK(dm_tree_find_node_by_uuid(t, "CAPITEST-tree-snap-real") == NULL);
	dm_tree_set_optional_uuid_suffixes(t, suffixes);
	CHECK(dm_tree_find_node_by_uuid(t, "CAPITEST-tree-snap-real") == snap);
	CHECK(dm_tree_find_node_by_uuid(t, "CAPITEST-tree-snap-pool") == NULL);
	CHECK(dm_tree_find_node_by_uuid(t, "LVM-CAPITEST-tree-snap-cow") == NULL);
	fact("snap by uuid: %s", label(snap));
	fact("children_use_uuid top CAPITEST=%d LVM-=%d; snap CAPITEST-tree-b=%d; origin x=%d",
	     dm_tree_children_use_uuid(top, "CAPITEST", 8), dm_tree_children_use_uuid(top, "LVM-", 4),
	     dm_tree_children_use_uuid(snap, "CAPITEST-tree-b", 15),
	     dm_tree_children_use_uuid(origin, "x", 1));
	tree_logs("walk");
	dm_tree_free(t);
	teardown_stack();
}

/* implicit devices get the "no rules" udev flags until added explicitly */
TEST(stack_udev_flags, K)
{
	struct dm_tree *t;
	struct dm_tree_node *n;
	const char *names[] = { "tree-top", "tree-snap", "tree-cow", "tree-base" };
	char name[64];
	unsigned k;

	build_stack();
	t = dm_tree_create();
	REQUIRE(t);
	add_named(t, TP "tree-top", 0x100);
	/* tree-cow added explicitly afterwards: its flags are replaced */
	add_named(t, TP "tree-cow", 0x200);
	log_clear();
	for (k = 0; k < DM_ARRAY_SIZE(names); k++) {
		struct dm_info info;

		snprintf(name, sizeof(name), TP "%s", names[k]);
		REQUIRE(get_info(name, &info));
		n = dm_tree_find_node(t, info.major, info.minor);
		REQUIRE(n);
		log_clear();
		dm_tree_node_set_udev_flags(n, 0x8000);
		tree_logs(names[k]);
	}
	n = dm_tree_find_node(t, loops[1].major, loops[1].minor);
	REQUIRE(n);
	log_clear();
	dm_tree_node_set_udev_flags(n, 0x8000);
	tree_logs("loop1");
	dm_tree_free(t);
	teardown_stack();
}

/* a device that is gone: the DEPS ioctl fails, the tree keeps what it has */
TEST(stack_missing_device, K)
{
	struct dm_tree *t = dm_tree_create();
	struct dm_info info;
	uint32_t dmmajor;

	REQUIRE(t);
	REQUIRE(create_dev(TP "tree-lone", "CAPITEST-tree-lone", "0 8 zero"));
	REQUIRE(get_info(TP "tree-lone", &info));
	dmmajor = info.major;
	CHECK_INT(dm_tree_add_dev(t, info.major, info.minor), 1);
	log_clear();
	CHECK_INT(dm_tree_add_dev(t, dmmajor, 1048000), 0);
	tree_logs("missing");
	CHECK(dm_tree_find_node(t, info.major, info.minor) != NULL);
	CHECK(dm_tree_find_node(t, dmmajor, 1048000) == NULL);
	walk(dm_tree_find_node(t, 0, 0), 0, 0, "after");
	dm_tree_free(t);
	remove_dev(TP "tree-lone");
}
