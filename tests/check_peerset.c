/* check_peerset.c: the peers file format, addresses and URLs, and peer sets
 * reloading their file (in place, the ConfigMap way, by polling), keeping
 * the last good set when the file goes bad. */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "peerset_internal.h"
#include "testhelp.h"

static const char good3[] =
	"{\"peers\":[{\"id\":\"demoweb-0\",\"host\":\"10.1.2.3\",\"port\":8080},\n"
	" {\"id\":\"demoweb-1\",\"host\":\"fd00::1\",\"port\":8081},\n"
	" {\"host\":\"web.example\",\"port\":80,\"extra\":true}]}";

START_TEST(test_parse_good)
{
	peerop_peer *list = NULL;
	size_t n = 0;
	ck_assert_int_eq(peerop_peers_parse(&list, &n, "p.json", good3, strlen(good3)), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(list[0].id, "demoweb-0");
	ck_assert_str_eq(list[0].host, "10.1.2.3");
	ck_assert_uint_eq(list[0].port, 8080);
	ck_assert_str_eq(list[1].host, "fd00::1");
	ck_assert_str_eq(list[2].id, "");
	ck_assert_int_eq(list[2].source, PEEROP_PEER_FILE);
	peerop_peer_list_free(list, n);
	ck_assert_int_eq(peerop_peers_parse(&list, &n, "p.json", "{\"peers\":[]}", 12), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(list);
	peerop_peer_list_free(NULL, 0);
}
END_TEST

static void expect_bad(const char *data, size_t len, int code, const char *needle)
{
	peerop_peer *list = (peerop_peer *)1;
	size_t n = 7;
	int rc = peerop_peers_parse(&list, &n, "/etc/peerop/peers.json", data, len);
	ck_assert_msg(rc == code, "%.60s: got %s, want %s (%s)", data, peerop_error_name(rc),
		peerop_error_name(code), peerop_error_last()->message);
	ck_assert_ptr_null(list);
	ck_assert_uint_eq(n, 0);
	ck_assert_msg(strstr(peerop_error_last()->message, "/etc/peerop/peers.json") != NULL,
		"no file name in: %s", peerop_error_last()->message);
	ck_assert_msg(strstr(peerop_error_last()->message, needle) != NULL, "want \"%s\" in: %s",
		needle, peerop_error_last()->message);
}

START_TEST(test_parse_bad)
{
	static const unsigned char junk[] = { 0x7b, 0x00, 0xff, 0xfe, 0x22, 0x01 };
	char *big;
	size_t i;

	expect_bad("", 0, PEEROP_ESYNTAX, "empty");
	expect_bad(" \n\t ", 4, PEEROP_ESYNTAX, "empty");
	/* half-written: cut in the middle of an element */
	expect_bad(good3, 60, PEEROP_ESYNTAX, "line 2, column");
	expect_bad("{\"peers\":[\n{\"id\":\"a\",\n\"host\":\"1.2.3.4\",\n\"port\":80,,}]}", 48,
		PEEROP_ESYNTAX, "line 4");
	expect_bad((const char *)junk, sizeof(junk), PEEROP_ESYNTAX, "line 1");
	expect_bad("[1,2]", 5, PEEROP_ECONFIG, "expected a JSON object");
	expect_bad("{}", 2, PEEROP_ECONFIG, "\"peers\": missing");
	expect_bad("{\"peers\":{}}", 12, PEEROP_ECONFIG, "\"peers\": expected an array");
	expect_bad("{\"peers\":[1]}", 13, PEEROP_ECONFIG, "peers[0]: expected an object");
	expect_bad("{\"peers\":[{\"host\":\"a\",\"port\":1},{\"host\":\"b\",\"port\":70000}]}", 59,
		PEEROP_ECONFIG, "peers[1].port");
	expect_bad("{\"peers\":[{\"host\":\"b\",\"port\":\"80\"}]}", 36, PEEROP_ECONFIG, "peers[0].port");
	expect_bad("{\"peers\":[{\"port\":80}]}", 23, PEEROP_ECONFIG, "peers[0].host: missing");
	expect_bad("{\"peers\":[{\"host\":\"a b\",\"port\":80}]}", 36, PEEROP_ECONFIG, "peers[0].host");
	expect_bad("{\"peers\":[{\"host\":\"[::1]\",\"port\":80}]}", 38, PEEROP_ECONFIG, "peers[0].host");
	expect_bad("{\"peers\":[{\"id\":7,\"host\":\"a\",\"port\":80}]}", 41, PEEROP_ECONFIG, "peers[0].id");
	expect_bad("{\"peers\":[],\"peers\":[]}", 23, PEEROP_ESYNTAX, "duplicate");
	/* a huge but valid-looking host name */
	big = malloc(2000);
	strcpy(big, "{\"peers\":[{\"host\":\"");
	for (i = strlen(big); i < 1000; i++)
		big[i] = 'a';
	strcpy(big + 1000, "\",\"port\":80}]}");
	expect_bad(big, strlen(big), PEEROP_ECONFIG, "peers[0].host");
	free(big);
}
END_TEST

/* format is the inverse of parse: a round trip keeps every field, hostile
 * ids are escaped, and what parse would refuse format refuses too. */
START_TEST(test_format_round_trip)
{
	peerop_peer in[3] = {
		{ "web-0", "10.1.2.3", 8080, PEEROP_PEER_FILE },
		{ "we\"ird\\id\u00e9", "fd00::1", 1, PEEROP_PEER_FILE },
		{ NULL, "db.example", 65535, PEEROP_PEER_STATIC },
	}, bad;
	peerop_peer *out = NULL;
	size_t n = 0, i;
	char *text = NULL;

	ck_assert_int_eq(peerop_peers_format(&text, in, 3), 0);
	ck_assert_int_eq(peerop_peers_parse(&out, &n, "cm", text, strlen(text)), 0);
	ck_assert_uint_eq(n, 3);
	for (i = 0; i < 3; i++) {
		ck_assert_str_eq(out[i].id, in[i].id ? in[i].id : "");
		ck_assert_str_eq(out[i].host, in[i].host);
		ck_assert_uint_eq(out[i].port, in[i].port);
	}
	peerop_peer_list_free(out, n);
	peerop_free(text);

	ck_assert_int_eq(peerop_peers_format(&text, NULL, 0), 0);
	ck_assert_str_eq(text, "{\"peers\":[]}\n");
	ck_assert_int_eq(peerop_peers_parse(&out, &n, "cm", text, strlen(text)), 0);
	ck_assert_uint_eq(n, 0);
	peerop_peer_list_free(out, n);
	peerop_free(text);

	bad = in[0];
	bad.port = 0;
	ck_assert_int_eq(peerop_peers_format(&text, &bad, 1), PEEROP_ECONFIG);
	ck_assert_ptr_null(text);
	bad.port = 70000;
	ck_assert_int_eq(peerop_peers_format(&text, &bad, 1), PEEROP_ECONFIG);
	bad = in[0];
	bad.host = "[::1]";
	ck_assert_int_eq(peerop_peers_format(&text, &bad, 1), PEEROP_ECONFIG);
	ck_assert(strstr(peerop_error_last()->message, "peers[0].host"));
	bad.host = NULL;
	ck_assert_int_eq(peerop_peers_format(&text, &bad, 1), PEEROP_ECONFIG);
	bad = in[0];
	bad.id = "new\nline";
	ck_assert_int_eq(peerop_peers_format(&text, &bad, 1), PEEROP_ECONFIG);
	ck_assert_int_eq(peerop_peers_format(NULL, in, 1), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_peers_format(&text, NULL, 1), PEEROP_EINVAL);
}
END_TEST

START_TEST(test_addresses)
{
	char *host = NULL;
	unsigned int port = 0;
	peerop__buf b = PEEROP__BUF_INIT;
	char ord[16];

	ck_assert_int_eq(peerop__split_hostport(&host, &port, "10.1.2.3:8080", "t"), 0);
	ck_assert_str_eq(host, "10.1.2.3");
	ck_assert_uint_eq(port, 8080);
	free(host);
	ck_assert_int_eq(peerop__split_hostport(&host, &port, "[::1]:80", "t"), 0);
	ck_assert_str_eq(host, "::1");
	free(host);
	ck_assert_int_eq(peerop__split_hostport(&host, &port, ":9", "t"), 0);
	ck_assert_str_eq(host, "");
	free(host);
	ck_assert_int_eq(peerop__split_hostport(&host, &port, "*:9", "t"), 0);
	ck_assert_str_eq(host, "");
	free(host);
	ck_assert_int_eq(peerop__parse_peer_url(&host, &port, "http://web-1.svc:8081/ping"), 0);
	ck_assert_str_eq(host, "web-1.svc");
	ck_assert_uint_eq(port, 8081);
	free(host);
	ck_assert_int_eq(peerop__parse_peer_url(&host, &port, "http://[fd00::2]:8081"), 0);
	ck_assert_str_eq(host, "fd00::2");
	free(host);
	ck_assert_int_eq(peerop__parse_peer_url(&host, &port, "127.0.0.1:1"), 0);
	free(host);
	ck_assert_int_eq(peerop__parse_peer_url(&host, &port, "https://a:1"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop__parse_peer_url(&host, &port, "http://a:1/other"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop__parse_peer_url(&host, &port, "http://a"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop__parse_peer_url(&host, &port, "http://:80"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop__parse_peer_url(&host, &port, "http://a:0"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop__parse_peer_url(&host, &port, "http://user@a:80"), PEEROP_EINVAL);
	ck_assert_ptr_null(host);

	ck_assert_int_eq(peerop__peer_url(&b, "fd00::1", 80), 0);
	ck_assert_str_eq(b.ptr, "http://[fd00::1]:80/ping");
	peerop__buf_dispose(&b);

	ck_assert(peerop__is_local_addr("127.0.0.1"));
	ck_assert(peerop__is_local_addr("127.9.9.9"));
	ck_assert(peerop__is_local_addr("::1"));
	ck_assert(peerop__is_local_addr("::ffff:127.0.0.1"));
	ck_assert(!peerop__is_local_addr("192.0.2.77"));
	ck_assert(!peerop__is_local_addr("web.example"));
	ck_assert(peerop__same_addr("::ffff:10.0.0.1", "10.0.0.1"));
	ck_assert(!peerop__same_addr("10.0.0.1", "10.0.0.2"));

	ck_assert_str_eq(peerop__ordinal(ord, sizeof(ord), 1), "1st");
	ck_assert_str_eq(peerop__ordinal(ord, sizeof(ord), 2), "2nd");
	ck_assert_str_eq(peerop__ordinal(ord, sizeof(ord), 3), "3rd");
	ck_assert_str_eq(peerop__ordinal(ord, sizeof(ord), 4), "4th");
	ck_assert_str_eq(peerop__ordinal(ord, sizeof(ord), 11), "11th");
	ck_assert_str_eq(peerop__ordinal(ord, sizeof(ord), 12), "12th");
	ck_assert_str_eq(peerop__ordinal(ord, sizeof(ord), 13), "13th");
	ck_assert_str_eq(peerop__ordinal(ord, sizeof(ord), 22), "22nd");
	ck_assert_str_eq(peerop__ordinal(ord, sizeof(ord), 101), "101st");
}
END_TEST

/* ---- sets that reload -------------------------------------------------------- */

typedef struct watch_ctx {
	int changes;
} watch_ctx;

static void count_change(peerop_peerset *set, void *payload)
{
	watch_ctx *w = payload;
	PEEROP__UNUSED(set);
	__atomic_add_fetch(&w->changes, 1, __ATOMIC_ACQ_REL);
}

static size_t snapshot_count(peerop_peerset *s, const char *want_id)
{
	peerop_peer *list = NULL;
	size_t n = 0, i, found = 0;
	ck_assert_int_eq(peerop_peerset_snapshot(&list, &n, s), 0);
	for (i = 0; i < n; i++)
		if (want_id && strcmp(list[i].id, want_id) == 0)
			found = 1;
	peerop_peer_list_free(list, n);
	return want_id ? found : n;
}

static const char *file2 = "{\"peers\":[{\"id\":\"a\",\"host\":\"127.0.0.1\",\"port\":1001},"
	"{\"id\":\"b\",\"host\":\"127.0.0.1\",\"port\":1002}]}";
static const char *file3 = "{\"peers\":[{\"id\":\"a\",\"host\":\"127.0.0.1\",\"port\":1001},"
	"{\"id\":\"b\",\"host\":\"127.0.0.1\",\"port\":1002},{\"id\":\"c\",\"host\":\"127.0.0.1\",\"port\":1003}]}";

static peerop_peerset *new_set(const char *file, int poll_only, watch_ctx *w)
{
	peerop_peerset_options o;
	peerop_peerset *s = NULL;
	ck_assert_int_eq(peerop_peerset_options_init(&o, PEEROP_PEERSET_OPTIONS_VERSION), 0);
	o.file = file;
	o.poll_only = poll_only;
	o.poll_ms = 100;
	o.on_change = count_change;
	o.payload = w;
	ck_assert_int_eq(peerop_peerset_new(&s, &o), 0);
	return s;
}

static void run_in_place(int poll_only)
{
	char *dir = th_tmpdir(), *path = th_path(dir, "peers.json");
	watch_ctx w = { 0 };
	peerop_peerset *s;
	unsigned long gen;

	th_log_capture_start(PEEROP_LOG_INFO);
	ck_assert_int_eq(th_write_str(path, file2), 0);
	s = new_set(path, poll_only, &w);
	ck_assert(peerop_peerset_loaded(s));
	ck_assert_uint_eq(snapshot_count(s, NULL), 2);
	ck_assert_int_eq(peerop_peerset_watch(s), 0);
	ck_assert_int_eq(peerop_peerset_watch(s), PEEROP_EINVAL);

	/* rewritten in place */
	gen = peerop_peerset_generation(s);
	ck_assert_int_eq(th_write_str(path, file3), 0);
	ck_assert(TH_WAIT_UNTIL(snapshot_count(s, "c") == 1, 20000));
	ck_assert_uint_gt(peerop_peerset_generation(s), gen);
	ck_assert(TH_WAIT_UNTIL(__atomic_load_n(&w.changes, __ATOMIC_ACQUIRE) >= 1, 5000));

	/* broken: the last good set stays, one error names the file and position */
	ck_assert_int_eq(th_write_str(path, "{\"peers\":[{\"id\":\"a\",\"ho"), 0);
	ck_assert(TH_WAIT_UNTIL(th_log_count("Peers file not loaded") >= 1, 20000));
	ck_assert(TH_WAIT_UNTIL(th_log_count("line 1, column") >= 1, 5000));
	ck_assert_uint_eq(snapshot_count(s, NULL), 3);
	/* touching the same broken content again logs nothing new */
	{
		uint64_t until = th_now_ms() + 400;
		ck_assert_int_eq(th_write_str(path, "{\"peers\":[{\"id\":\"a\",\"ho"), 0);
		TH_WAIT_UNTIL(th_now_ms() >= until, 1000);
		ck_assert_int_eq(th_log_count("Peers file not loaded"), 1);
	}
	/* back to good */
	ck_assert_int_eq(th_write_str(path, file2), 0);
	ck_assert(TH_WAIT_UNTIL(snapshot_count(s, NULL) == 2, 20000));
	peerop_peerset_free(s);
	th_log_capture_stop();
	free(path);
	th_tmpdir_remove(dir);
}

START_TEST(test_reload_in_place_inotify)
{
	run_in_place(0);
}
END_TEST

START_TEST(test_reload_in_place_polling)
{
	run_in_place(1);
}
END_TEST

/* A writer descheduled between truncating the file and writing it: the
 * empty file in between must not be loaded or reported. With inotify a
 * bare truncation waits for the writer's close; polling waits until the
 * file has stayed the same for one more poll (so a pause shorter than the
 * poll interval is covered). */
static void paused_writer(int poll_only, unsigned pause_ms)
{
	char *dir = th_tmpdir(), *path = th_path(dir, "peers.json");
	watch_ctx w = { 0 };
	peerop_peerset *s;
	int fd;

	th_log_capture_start(PEEROP_LOG_INFO);
	ck_assert_int_eq(th_write_str(path, file2), 0);
	s = new_set(path, poll_only, &w);
	ck_assert_int_eq(peerop_peerset_watch(s), 0);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	th_sleep_ms(pause_ms);
	ck_assert_int_eq(write(fd, file3, strlen(file3)), (ssize_t)strlen(file3));
	close(fd);
	ck_assert(TH_WAIT_UNTIL(snapshot_count(s, "c") == 1, 20000));
	ck_assert_int_eq(th_log_count("Peers file not loaded"), 0);
	ck_assert_uint_eq(snapshot_count(s, NULL), 3);
	peerop_peerset_free(s);
	th_log_capture_stop();
	free(path);
	th_tmpdir_remove(dir);
}

START_TEST(test_paused_writer_inotify)
{
	paused_writer(0, 300);
}
END_TEST

START_TEST(test_paused_writer_polling)
{
	paused_writer(1, 40);
}
END_TEST

/* Lay out a directory the way the kubelet does for a ConfigMap volume:
 *   peers.json -> ..data/peers.json, ..data -> ..<ts>/, ..<ts>/peers.json
 * and update it the same way: a new timestamped dir, a new ..data_tmp
 * symlink renamed over ..data, the old dir removed. */
static void configmap_write(const char *dir, const char *content, int gen)
{
	char ts[64], *tsdir, *file, *tmp, *data, *old = NULL;
	char target[128];
	ssize_t n;

	snprintf(ts, sizeof(ts), "..2026_11_26_10_00_%02d.%d", gen, gen);
	tsdir = th_path(dir, ts);
	ck_assert_int_eq(mkdir(tsdir, 0755), 0);
	file = th_path(tsdir, "peers.json");
	ck_assert_int_eq(th_write_str(file, content), 0);
	data = th_path(dir, "..data");
	n = readlink(data, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		old = th_path(dir, target);
	}
	tmp = th_path(dir, "..data_tmp");
	ck_assert_int_eq(symlink(ts, tmp), 0);
	ck_assert_int_eq(rename(tmp, data), 0);
	if (old) {
		char *oldfile = th_path(old, "peers.json");
		unlink(oldfile);
		rmdir(old);
		free(oldfile);
		free(old);
	} else {
		char *link = th_path(dir, "peers.json");
		ck_assert_int_eq(symlink("..data/peers.json", link), 0);
		free(link);
	}
	free(tsdir);
	free(file);
	free(tmp);
	free(data);
}

START_TEST(test_reload_configmap_swap)
{
	char *dir = th_tmpdir(), *path = th_path(dir, "peers.json");
	watch_ctx w = { 0 };
	peerop_peerset *s;

	configmap_write(dir, file2, 1);
	s = new_set(path, 0, &w);
	ck_assert_uint_eq(snapshot_count(s, NULL), 2);
	ck_assert_int_eq(peerop_peerset_watch(s), 0);
	configmap_write(dir, file3, 2);
	ck_assert(TH_WAIT_UNTIL(snapshot_count(s, "c") == 1, 20000));
	configmap_write(dir, "{\"peers\":[{\"id\":\"z\",\"host\":\"::1\",\"port\":9}]}", 3);
	ck_assert(TH_WAIT_UNTIL(snapshot_count(s, "z") == 1, 20000));
	ck_assert_uint_eq(snapshot_count(s, NULL), 1);
	peerop_peerset_free(s);
	free(path);
	th_tmpdir_remove(dir);
}
END_TEST

START_TEST(test_bad_files_keep_last_good)
{
	char *dir = th_tmpdir(), *path = th_path(dir, "peers.json");
	watch_ctx w = { 0 };
	peerop_peerset_options o = PEEROP_PEERSET_OPTIONS_INIT;
	peerop_peerset *s = NULL;
	char *big;

	th_log_capture_start(PEEROP_LOG_INFO);
	/* missing at start: not loaded, not an error for new() */
	s = new_set(path, 1, &w);
	ck_assert(!peerop_peerset_loaded(s));
	ck_assert_int_eq(th_log_count("no peers from it yet"), 1);
	ck_assert_int_eq(peerop_peerset_reload(s), PEEROP_ENOENT);
	ck_assert_int_eq(th_log_count("no peers from it yet"), 1);
	ck_assert_int_eq(th_write_str(path, file2), 0);
	ck_assert_int_eq(peerop_peerset_reload(s), 0);
	ck_assert(peerop_peerset_loaded(s));
	ck_assert_int_eq(w.changes, 1);

	ck_assert_int_eq(th_write_str(path, ""), 0);
	ck_assert_int_eq(peerop_peerset_reload(s), PEEROP_ESYNTAX);
	ck_assert_ptr_nonnull(strstr(peerop_error_last()->message, "empty"));
	ck_assert_int_eq(th_write_str(path, "{\"peers\":[{\"host\":\"x\",\"port\":0}]}"), 0);
	ck_assert_int_eq(peerop_peerset_reload(s), PEEROP_ECONFIG);
	/* unreadable: a directory where the file should be */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_int_eq(peerop_peerset_reload(s), PEEROP_EIO);
	ck_assert_int_eq(rmdir(path), 0);
	/* unreadable by permission, when not root */
	if (geteuid() != 0) {
		ck_assert_int_eq(th_write_str(path, file3), 0);
		ck_assert_int_eq(chmod(path, 0), 0);
		ck_assert_int_eq(peerop_peerset_reload(s), PEEROP_EIO);
		unlink(path);
	}
	ck_assert_int_eq(peerop_peerset_reload(s), PEEROP_ENOENT);
	ck_assert(peerop_peerset_loaded(s));
	ck_assert_uint_eq(snapshot_count(s, NULL), 2);
	ck_assert_int_eq(th_log_count("keeping the last good peer set"), 4 + (geteuid() != 0));
	ck_assert_int_eq(w.changes, 1);
	peerop_peerset_free(s);

	/* oversized */
	big = calloc(1, 5000);
	memset(big, ' ', 4999);
	memcpy(big, file2, strlen(file2));
	ck_assert_int_eq(th_write_str(path, big), 0);
	o.file = path;
	o.file_limit = 4096;
	ck_assert_int_eq(peerop_peerset_new(&s, &o), 0);
	ck_assert(!peerop_peerset_loaded(s));
	ck_assert_int_eq(peerop_peerset_reload(s), PEEROP_ETOOLARGE);
	ck_assert_ptr_nonnull(strstr(peerop_error_last()->message, path));
	peerop_peerset_free(s);
	free(big);
	th_log_capture_stop();
	free(path);
	th_tmpdir_remove(dir);
}
END_TEST

START_TEST(test_static_and_dns)
{
	peerop_peerset_options o = PEEROP_PEERSET_OPTIONS_INIT;
	peerop_peerset *s = NULL;
	peerop_peer *list = NULL;
	size_t n = 0, i;
	int saw_v4 = 0;

	ck_assert_int_eq(peerop_peerset_new(&s, &o), 0);
	ck_assert(peerop_peerset_loaded(s));
	ck_assert_int_eq(peerop_peerset_add_static(s, "http://127.0.0.1:7001"), 0);
	ck_assert_int_eq(peerop_peerset_add_static(s, "http://127.0.0.1:7001/ping"), 0);
	ck_assert_int_eq(peerop_peerset_add_static(s, "ftp://x"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_peerset_set_dns(s, "localhost"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_peerset_set_dns(s, "localhost:7002"), 0);
	ck_assert_int_eq(peerop_peerset_snapshot(&list, &n, s), 0);
	for (i = 0; i < n; i++) {
		if (list[i].source == PEEROP_PEER_DNS) {
			ck_assert_uint_eq(list[i].port, 7002);
			saw_v4 |= strcmp(list[i].host, "127.0.0.1") == 0;
		}
	}
	ck_assert(saw_v4);
	ck_assert_uint_ge(n, 2); /* the duplicate static URL counts once */
	peerop_peer_list_free(list, n);

	/* an unresolvable name: an error for this round, the others stay */
	th_log_capture_start(PEEROP_LOG_INFO);
	ck_assert_int_eq(peerop_peerset_set_dns(s, "no-such-host.invalid:80"), 0);
	ck_assert_int_eq(peerop_peerset_snapshot(&list, &n, s), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(list[0].host, "127.0.0.1");
	ck_assert_int_eq(th_log_count("no-such-host.invalid"), 1);
	peerop_peer_list_free(list, n);
	th_log_capture_stop();
	peerop_peerset_free(s);
	peerop_peerset_free(NULL);
}
END_TEST

static Suite *peerset_suite(void)
{
	Suite *s = suite_create("peerset");
	TCase *tc = tcase_create("peerset");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_format_round_trip);
	tcase_add_test(tc, test_addresses);
	tcase_add_test(tc, test_reload_in_place_inotify);
	tcase_add_test(tc, test_reload_in_place_polling);
	tcase_add_test(tc, test_reload_configmap_swap);
	tcase_add_test(tc, test_paused_writer_inotify);
	tcase_add_test(tc, test_paused_writer_polling);
	tcase_add_test(tc, test_bad_files_keep_last_good);
	tcase_add_test(tc, test_static_and_dns);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(peerset_suite());
}
