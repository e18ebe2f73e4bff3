/* check_devcluster_pods_units.c: the kubelet's parsers and small parts on
 * their own, with malformed, oversized and hostile input: image matching,
 * $(VAR) expansion, quantities and QoS classes, mount paths, the atomic
 * volume writer, pod IPs shared between servers, container logs. */
#include "config.h"
#include "testhelp.h"
#include "dcpods.h"
#include "kubelet.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

START_TEST(test_image_lookup)
{
	static const char *const images[] = {
		"peerop/server=/bin/generic", "peerop/server:1.2=/bin/exact", "reg.example:5000/app=/bin/reg",
		"x@sha256:abc=/bin/digest", "bad-entry-without-equals", NULL };
	ck_assert_str_eq(kl_image_lookup(images, "peerop/server:1.2"), "/bin/exact");
	ck_assert_str_eq(kl_image_lookup(images, "peerop/server:9"), "/bin/generic");
	ck_assert_str_eq(kl_image_lookup(images, "peerop/server"), "/bin/generic");
	ck_assert_str_eq(kl_image_lookup(images, "peerop/server@sha256:ff"), "/bin/generic");
	/* a registry port is not a tag */
	ck_assert_str_eq(kl_image_lookup(images, "reg.example:5000/app:3"), "/bin/reg");
	ck_assert_ptr_null(kl_image_lookup(images, "reg.example:5001/app:3"));
	ck_assert_str_eq(kl_image_lookup(images, "x@sha256:abc"), "/bin/digest");
	ck_assert_ptr_null(kl_image_lookup(images, "x@sha256:other"));
	ck_assert_ptr_null(kl_image_lookup(images, "peerop/serverx"));
	ck_assert_ptr_null(kl_image_lookup(images, "peerop"));
	ck_assert_ptr_null(kl_image_lookup(images, ""));
	ck_assert_ptr_null(kl_image_lookup(images, NULL));
	ck_assert_ptr_null(kl_image_lookup(NULL, "peerop/server"));
	ck_assert_ptr_null(kl_image_lookup(images, "bad-entry-without-equals"));
}
END_TEST

START_TEST(test_expand)
{
	char e0[] = "A=1", e1[] = "B=two", e2[] = "EMPTY=", e3[] = "LONG=$(A)";
	char *env[] = { e0, e1, e2, e3, NULL };
	static const char *const cases[][2] = {
		{ "$(A)", "1" }, { "x$(B)y", "xtwoy" }, { "$(EMPTY)", "" }, { "$$(A)", "$(A)" }, { "$$", "$" },
		{ "$(NOPE)", "$(NOPE)" }, { "$(A", "$(A" }, { "$(", "$(" }, { "$", "$" }, { "$()", "$()" },
		{ "$(LONG)", "$(A)" },   /* no recursion */
		{ "$(A)$(B)$(A)", "1two1" }, { "", "" }, { "$$$(A)", "$1" }, { "a$b", "a$b" },
	};
	size_t i;
	for (i = 0; i < PEEROP__ARRAY_SIZE(cases); i++) {
		char *r = kl_expand(cases[i][0], env);
		ck_assert_msg(r && !strcmp(r, cases[i][1]), "%s -> %s", cases[i][0], r ? r : "(null)");
		free(r);
	}
	{
		/* big input, no environment */
		char *big = malloc(1 << 20), *r;
		memset(big, '$', (1 << 20) - 1);
		big[(1 << 20) - 1] = '\0';
		r = kl_expand(big, NULL);
		ck_assert_uint_eq(strlen(r), (1 << 19));
		free(r);
		free(big);
	}
}
END_TEST

START_TEST(test_quantities_and_qos)
{
	double v;
	json_t *spec;
	ck_assert(dc_quantity_parse("100m", &v) && v > 0.099 && v < 0.101);
	ck_assert(dc_quantity_parse("1Gi", &v) && v == 1073741824.0);
	ck_assert(dc_quantity_parse("2", &v) && v == 2);
	ck_assert(dc_quantity_parse("1e3", &v) && v == 1000);
	ck_assert(!dc_quantity_parse("", &v));
	ck_assert(!dc_quantity_parse("abc", &v));
	ck_assert(!dc_quantity_parse("1Qi", &v));
	ck_assert(!dc_quantity_parse("inf", &v));
	ck_assert(!dc_quantity_parse(NULL, &v));
	spec = json_loads("{\"containers\":[{\"name\":\"a\"}]}", 0, NULL);
	ck_assert_str_eq(dc_pod_qos(spec), "BestEffort");
	json_decref(spec);
	spec = json_loads("{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}",
		0, NULL);
	ck_assert_str_eq(dc_pod_qos(spec), "Guaranteed");
	json_decref(spec);
	spec = json_loads("{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
		"\"requests\":{\"cpu\":\"1000m\",\"memory\":\"1024Mi\"}}}]}", 0, NULL);
	ck_assert_str_eq(dc_pod_qos(spec), "Guaranteed");
	json_decref(spec);
	spec = json_loads("{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
		"\"requests\":{\"cpu\":\"500m\"}}}]}", 0, NULL);
	ck_assert_str_eq(dc_pod_qos(spec), "Burstable");
	json_decref(spec);
	spec = json_loads("{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},"
		"{\"name\":\"b\"}]}", 0, NULL);
	ck_assert_str_eq(dc_pod_qos(spec), "Burstable");
	json_decref(spec);
	spec = json_loads("{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"garbage\"}}}]}", 0, NULL);
	ck_assert_str_eq(dc_pod_qos(spec), "BestEffort");
	json_decref(spec);
	ck_assert_str_eq(dc_pod_qos(NULL), "BestEffort");
}
END_TEST

START_TEST(test_mount_paths)
{
	ck_assert_ptr_null(kl_mount_path_problem("/etc/app"));
	ck_assert_ptr_null(kl_mount_path_problem("/etc//app/"));
	ck_assert_ptr_null(kl_mount_path_problem("/a.b/..c/c.."));
	ck_assert_ptr_nonnull(kl_mount_path_problem("/"));
	ck_assert_ptr_nonnull(kl_mount_path_problem("///"));
	ck_assert_ptr_nonnull(kl_mount_path_problem(""));
	ck_assert_ptr_nonnull(kl_mount_path_problem(NULL));
	ck_assert_ptr_nonnull(kl_mount_path_problem("etc/app"));
	ck_assert_ptr_nonnull(kl_mount_path_problem("/etc/../root"));
	ck_assert_ptr_nonnull(kl_mount_path_problem("/etc/./x"));
	ck_assert_ptr_nonnull(kl_mount_path_problem("/.."));
	{
		char big[PATH_MAX];
		memset(big, 'a', sizeof(big) - 1);
		big[0] = '/';
		big[sizeof(big) - 1] = '\0';
		ck_assert_ptr_nonnull(kl_mount_path_problem(big));
	}
}
END_TEST

static json_t *files1(const char *k, const char *v, int mode)
{
	return json_pack("{s:{s:s,s:i}}", k, "data", v, "mode", mode);
}

START_TEST(test_atomic_writer)
{
	char *dir = th_tmpdir(), vol[512], path[1024], link[256], first[256], err[512];
	json_t *f;
	ssize_t n;
	struct stat st;
	static const char *const hostile[] = { "../x", "a/../../x", "/etc/passwd", "..data", "a//b", "./a", "", ".." };
	size_t i;

	snprintf(vol, sizeof(vol), "%s/vol", dir);
	f = json_pack("{s:{s:s,s:i},s:{s:s,s:i}}", "a", "data", "1", "mode", 0644, "sub/b", "data", "2", "mode", 0600);
	ck_assert_int_eq(kl_atomic_write(vol, f, err, sizeof(err)), 0);
	json_decref(f);
	snprintf(path, sizeof(path), "%s/..data", vol);
	n = readlink(path, first, sizeof(first) - 1);
	ck_assert_int_gt(n, 0);
	first[n] = '\0';
	snprintf(path, sizeof(path), "%s/sub", vol);
	n = readlink(path, link, sizeof(link) - 1);
	ck_assert_int_gt(n, 0);
	link[n] = '\0';
	ck_assert_str_eq(link, "..data/sub");
	snprintf(path, sizeof(path), "%s/sub/b", vol);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* the same payload: nothing changes */
	f = json_pack("{s:{s:s,s:i},s:{s:s,s:i}}", "a", "data", "1", "mode", 0644, "sub/b", "data", "2", "mode", 0600);
	ck_assert_int_eq(kl_atomic_write(vol, f, err, sizeof(err)), 0);
	json_decref(f);
	snprintf(path, sizeof(path), "%s/..data", vol);
	n = readlink(path, link, sizeof(link) - 1);
	link[n] = '\0';
	ck_assert_str_eq(link, first);
	/* a new payload: a new version, "sub" gone, the old version removed */
	f = files1("a", "changed", 0640);
	ck_assert_int_eq(kl_atomic_write(vol, f, err, sizeof(err)), 0);
	json_decref(f);
	n = readlink(path, link, sizeof(link) - 1);
	link[n] = '\0';
	ck_assert_str_ne(link, first);
	snprintf(path, sizeof(path), "%s/sub", vol);
	ck_assert_int_ne(lstat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/%s", vol, first);
	ck_assert_int_ne(lstat(path, &st), 0);
	{
		char *text = NULL;
		size_t len;
		snprintf(path, sizeof(path), "%s/a", vol);
		ck_assert_int_eq(peerop__read_file(&text, &len, path, 100), 0);
		ck_assert_str_eq(text, "changed");
		free(text);
	}
	/* hostile paths are refused and write nothing */
	for (i = 0; i < PEEROP__ARRAY_SIZE(hostile); i++) {
		f = files1(hostile[i], "evil", 0644);
		err[0] = '\0';
		ck_assert_msg(kl_atomic_write(vol, f, err, sizeof(err)) != 0, "%s accepted", hostile[i]);
		ck_assert_ptr_nonnull(strstr(err, "invalid path"));
		json_decref(f);
	}
	snprintf(path, sizeof(path), "%s/x", dir);
	ck_assert_int_ne(access(path, F_OK), 0);
	/* binary content, with NULs */
	f = json_object();
	json_object_set_new(f, "bin", json_pack("{s:o,s:i}", "data", json_stringn("a\0b", 3), "mode", 0644));
	ck_assert_int_eq(kl_atomic_write(vol, f, err, sizeof(err)), 0);
	json_decref(f);
	snprintf(path, sizeof(path), "%s/bin", vol);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 3);
	kl_remove_tree(vol);
	ck_assert_int_ne(access(vol, F_OK), 0);
	th_tmpdir_remove(dir);
}
END_TEST

START_TEST(test_ipam_shared)
{
	char *dir = th_tmpdir(), a1[16], a2[16], b1[16], again[16];
	dc_ipam *a, *b;
	setenv("PEEROP_DEVCLUSTER_IPS_DIR", dir, 1);
	a = dc_ipam_new();
	b = dc_ipam_new();
	/* exact addresses: not skipping what others on this machine listen on */
	dc_ipam_skip_listened(a, false);
	dc_ipam_skip_listened(b, false);
	ck_assert_int_eq(dc_ipam_get(a, "uid-1", NULL, a1), 0);
	ck_assert_str_eq(a1, "127.0.0.2");
	ck_assert_int_eq(dc_ipam_get(a, "uid-1", NULL, again), 0);
	ck_assert_str_eq(again, a1);
	ck_assert_int_eq(dc_ipam_get(a, "uid-2", NULL, a2), 0);
	ck_assert_str_eq(a2, "127.0.0.3");
	/* another server (another lock holder) skips what the first holds */
	ck_assert_int_eq(dc_ipam_get(b, "uid-x", "127.0.0.2", b1), 0);
	ck_assert_str_eq(b1, "127.0.0.4");
	/* released, reused lowest first */
	dc_ipam_release(a, "uid-1");
	ck_assert_int_eq(dc_ipam_get(b, "uid-y", NULL, b1), 0);
	ck_assert_str_eq(b1, "127.0.0.2");
	/* a wanted address that is free is kept; a malformed one ignored */
	ck_assert_int_eq(dc_ipam_get(a, "uid-3", "127.0.9.9", again), 0);
	ck_assert_str_eq(again, "127.0.9.9");
	ck_assert_int_eq(dc_ipam_get(a, "uid-4", "10.0.0.1", again), 0);
	ck_assert_str_eq(again, "127.0.0.5");
	ck_assert_int_eq(dc_ipam_get(a, "uid-5", "127.0.0.255", again), 0);
	ck_assert_str_eq(again, "127.0.0.6");
	ck_assert_int_eq(dc_ipam_get(a, "uid-6", "garbage", again), 0);
	ck_assert_str_eq(again, "127.0.0.7");
	dc_ipam_release(a, "nobody");
	/* a server gone (freed) frees its addresses */
	dc_ipam_free(b);
	b = dc_ipam_new();
	dc_ipam_skip_listened(b, false);
	ck_assert_int_eq(dc_ipam_get(b, "uid-z", NULL, b1), 0);
	ck_assert_str_eq(b1, "127.0.0.2");
	dc_ipam_free(a);
	dc_ipam_free(b);
	/* a new address something listens on (a process a dead server left
	 * behind) is skipped; a wanted one is not (it may be the pod's own
	 * previous process, still dying) */
	{
		struct sockaddr_in sa;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fd, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(0x7f000002u);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(listen(fd, 1), 0);
		a = dc_ipam_new();
		ck_assert_int_eq(dc_ipam_get(a, "uid-l", NULL, a1), 0);
		ck_assert_str_ne(a1, "127.0.0.2");
		ck_assert_int_eq(dc_ipam_get(a, "uid-w", "127.0.0.2", a2), 0);
		ck_assert_str_eq(a2, "127.0.0.2");
		dc_ipam_free(a);
		close(fd);
	}
	unsetenv("PEEROP_DEVCLUSTER_IPS_DIR");
	th_tmpdir_remove(dir);
}
END_TEST

START_TEST(test_podlog)
{
	dc_podlogs *l = dc_podlogs_new();
	dc_logq q = { false, false, -1, -1, 0 };
	peerop__buf b = PEEROP__BUF_INIT;
	uint64_t off, inst;
	char *big;

	dc_podlog_start(l, "u", "c");
	dc_podlog_write(l, "u", "c", "one\ntw", 6);
	dc_podlog_write(l, "u", "c", "o\nthree", 7);
	ck_assert_int_eq(dc_podlog_read(l, "u", "c", &q, &b, &off, &inst), 0);
	ck_assert_str_eq(b.ptr, "one\ntwo\n");   /* the partial line waits */
	peerop__buf_clear(&b);
	q.tail_lines = 1;
	dc_podlog_read(l, "u", "c", &q, &b, NULL, NULL);
	ck_assert_str_eq(b.ptr, "two\n");
	peerop__buf_clear(&b);
	q.tail_lines = 0;
	dc_podlog_read(l, "u", "c", &q, &b, NULL, NULL);
	ck_assert_uint_eq(b.len, 0);
	q.tail_lines = -1;
	q.limit_bytes = 5;
	dc_podlog_read(l, "u", "c", &q, &b, NULL, NULL);
	ck_assert_uint_eq(b.len, 5);
	peerop__buf_clear(&b);
	q.limit_bytes = -1;
	q.timestamps = true;
	dc_podlog_read(l, "u", "c", &q, &b, NULL, NULL);
	ck_assert_int_eq(strncmp(b.ptr, "20", 2), 0);
	ck_assert_ptr_nonnull(strstr(b.ptr, "Z one\n"));
	peerop__buf_clear(&b);
	q.timestamps = false;
	/* following: what comes after off, then the end */
	dc_podlog_write(l, "u", "c", "\n", 1);
	ck_assert_int_eq(dc_podlog_wait(l, "u", "c", &q, &off, inst, &b, 1000), 0);
	ck_assert_str_eq(b.ptr, "three\n");
	peerop__buf_clear(&b);
	dc_podlog_end(l, "u", "c");
	ck_assert_int_eq(dc_podlog_wait(l, "u", "c", &q, &off, inst, &b, 1000), 1);
	/* a new instance: the last one is "previous" */
	dc_podlog_start(l, "u", "c");
	dc_podlog_write(l, "u", "c", "second\n", 7);
	q.previous = true;
	ck_assert_int_eq(dc_podlog_read(l, "u", "c", &q, &b, NULL, NULL), 0);
	ck_assert_str_eq(b.ptr, "one\ntwo\nthree\n");
	peerop__buf_clear(&b);
	q.previous = false;
	/* a huge line without newline is cut at 16 KiB; a huge log is capped */
	big = malloc(8u << 20);
	memset(big, 'x', 8u << 20);
	dc_podlog_write(l, "u", "c", big, 8u << 20);
	free(big);
	dc_podlog_read(l, "u", "c", &q, &b, NULL, NULL);
	ck_assert_uint_le(b.len, 4u << 20);
	ck_assert_uint_gt(b.len, 2u << 20);
	peerop__buf_clear(&b);
	/* unknown containers, forgetting */
	ck_assert_int_eq(dc_podlog_read(l, "u", "nope", &q, &b, NULL, NULL), 0);
	ck_assert_uint_eq(b.len, 0);
	q.previous = true;
	ck_assert_int_eq(dc_podlog_read(l, "u", "nope", &q, &b, NULL, NULL), PEEROP_ENOENT);
	q.previous = false;
	dc_podlog_forget(l, "u");
	ck_assert_int_eq(dc_podlog_wait(l, "u", "c", &q, &off, inst, &b, 10), 1);
	peerop__buf_dispose(&b);
	dc_podlogs_close(l);
	dc_podlogs_free(l);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_pods_units");
	TCase *tc = tcase_create("units");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_image_lookup);
	tcase_add_test(tc, test_expand);
	tcase_add_test(tc, test_quantities_and_qos);
	tcase_add_test(tc, test_mount_paths);
	tcase_add_test(tc, test_atomic_writer);
	tcase_add_test(tc, test_ipam_shared);
	tcase_add_test(tc, test_podlog);
	suite_add_tcase(s, tc);
	return s;
}
