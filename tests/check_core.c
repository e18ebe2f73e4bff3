/* check_core.c: errors, logging, buffers, utilities, version. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "testhelp.h"

START_TEST(test_version)
{
	ck_assert_str_eq(peerop_version(), PEEROP_VERSION);
	ck_assert_uint_eq(peerop_version_num(), PEEROP_VERSION_NUM);
	ck_assert(PEEROP_AT_LEAST_VERSION(0, 0, 1));
	ck_assert(!PEEROP_AT_LEAST_VERSION(PEEROP_VERSION_MAJOR + 1, 0, 0));
}
END_TEST

START_TEST(test_strerror_distinct)
{
	int a, b;
	/* every code has its own text and name; unknown codes are safe */
	for (a = PEEROP_EUNSUPPORTED; a <= 0; a++) {
		ck_assert_str_ne(peerop_strerror(a), "unknown error");
		ck_assert_str_ne(peerop_error_name(a), "PEEROP_E?");
		for (b = a + 1; b <= 0; b++) {
			ck_assert_str_ne(peerop_strerror(a), peerop_strerror(b));
			ck_assert_str_ne(peerop_error_name(a), peerop_error_name(b));
		}
	}
	ck_assert_str_eq(peerop_strerror(-9999), "unknown error");
	ck_assert_str_eq(peerop_strerror(12345), "unknown error");
}
END_TEST

static void *other_thread(void *arg)
{
	(void)arg;
	/* a fresh thread starts with no error, and setting one here is invisible
	 * to the main thread */
	if (peerop_error_last()->code != PEEROP_OK)
		return (void *)1;
	peerop__error_set(PEEROP_EIO, "thread error");
	return NULL;
}

START_TEST(test_error_thread_local)
{
	pthread_t t;
	void *ret = (void *)2;
	const peerop_error *e;

	ck_assert_int_eq(peerop__error_set(PEEROP_ENOENT, "file %s missing", "/x"), PEEROP_ENOENT);
	ck_assert(pthread_create(&t, NULL, other_thread, NULL) == 0);
	pthread_join(t, &ret);
	ck_assert_ptr_null(ret);
	e = peerop_error_last();
	ck_assert_int_eq(e->code, PEEROP_ENOENT);
	ck_assert_str_eq(e->message, "file /x missing");
	ck_assert_int_eq(e->http_status, 0);

	peerop__error_set_http(PEEROP_ECONFLICT, 409, "Conflict", "the object has been modified");
	e = peerop_error_last();
	ck_assert_int_eq(e->http_status, 409);
	ck_assert_str_eq(e->reason, "Conflict");
	peerop__error_prefix("PUT %s: ", "/api/v1/x");
	ck_assert_str_eq(peerop_error_last()->message, "PUT /api/v1/x: the object has been modified");

	peerop_error_clear();
	ck_assert_int_eq(peerop_error_last()->code, 0);
	ck_assert_str_eq(peerop_error_last()->message, "");
}
END_TEST

START_TEST(test_error_long_message_truncates)
{
	char big[10000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	peerop__error_set(PEEROP_EINVAL, "%s", big);
	ck_assert_uint_lt(strlen(peerop_error_last()->message), sizeof(big));
	peerop__error_prefix("%s", big);
	ck_assert_uint_lt(strlen(peerop_error_last()->message), sizeof(big));
}
END_TEST

START_TEST(test_buf_basics)
{
	peerop__buf b = PEEROP__BUF_INIT;
	char *s;
	int i;
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(peerop__buf_printf(&b, "%d,", i), 0);
	ck_assert(strncmp(b.ptr, "0,1,2,", 6) == 0);
	ck_assert_uint_eq(strlen(b.ptr), b.len);
	peerop__buf_consume(&b, 2);
	ck_assert(strncmp(b.ptr, "1,2,", 4) == 0);
	peerop__buf_consume(&b, b.len + 10);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.ptr, "");
	peerop__buf_puts(&b, "abc");
	s = peerop__buf_detach(&b);
	ck_assert_str_eq(s, "abc");
	ck_assert_ptr_null(b.ptr);
	free(s);
	peerop__buf_dispose(&b);
}
END_TEST

START_TEST(test_buf_limit)
{
	peerop__buf b = PEEROP__BUF_INIT;
	b.limit = 8;
	ck_assert_int_eq(peerop__buf_puts(&b, "12345678"), 0);
	ck_assert_int_eq(peerop__buf_puts(&b, "9"), PEEROP_ETOOLARGE);
	/* a refused append loses nothing that was there */
	ck_assert_str_eq(b.ptr, "12345678");
	ck_assert_int_eq(peerop__buf_grow(&b, SIZE_MAX), PEEROP_ENOMEM);
	peerop__buf_dispose(&b);
}
END_TEST

START_TEST(test_buf_escapes)
{
	peerop__buf b = PEEROP__BUF_INIT;
	peerop__buf_put_urlencoded(&b, "app in (a,b)&x=1/é~");
	ck_assert_str_eq(b.ptr, "app%20in%20%28a%2Cb%29%26x%3D1%2F%C3%A9~");
	peerop__buf_clear(&b);
	peerop__buf_put_json_escaped(&b, "a\"b\\c\n\x01z");
	ck_assert_str_eq(b.ptr, "a\\\"b\\\\c\\n\\u0001z");
	peerop__buf_dispose(&b);
}
END_TEST

START_TEST(test_read_file_errors)
{
	char *dir = th_tmpdir(), *p, *data = NULL;
	size_t len = 1;
	ck_assert_ptr_nonnull(dir);
	p = th_path(dir, "missing");
	ck_assert_int_eq(peerop__read_file(&data, &len, p, 0), PEEROP_ENOENT);
	ck_assert_ptr_null(data);
	ck_assert_ptr_nonnull(strstr(peerop_error_last()->message, p));
	free(p);

	p = th_path(dir, "big");
	th_write_str(p, "0123456789");
	ck_assert_int_eq(peerop__read_file(&data, &len, p, 5), PEEROP_ETOOLARGE);
	ck_assert_ptr_nonnull(strstr(peerop_error_last()->message, p));
	ck_assert_int_eq(peerop__read_file(&data, &len, p, 10), 0);
	ck_assert_str_eq(data, "0123456789");
	ck_assert_uint_eq(len, 10);
	free(data);
	/* a directory cannot be read as a file */
	ck_assert_int_eq(peerop__read_file(&data, &len, dir, 0), PEEROP_EIO);
	free(p);

	p = th_path(dir, "empty");
	th_write_str(p, "");
	ck_assert_int_eq(peerop__read_file(&data, &len, p, 0), 0);
	ck_assert_str_eq(data, "");
	ck_assert_uint_eq(len, 0);
	free(data);
	free(p);
	th_tmpdir_remove(dir);
}
END_TEST

START_TEST(test_log_levels_and_format)
{
	peerop_log_level lv;
	char *all;
	ck_assert_int_eq(peerop_log_level_parse(&lv, "Debug"), 0);
	ck_assert_int_eq(lv, PEEROP_LOG_DEBUG);
	ck_assert_int_eq(peerop_log_level_parse(&lv, "warning"), 0);
	ck_assert_int_eq(lv, PEEROP_LOG_WARN);
	ck_assert_int_eq(peerop_log_level_parse(&lv, "loud"), PEEROP_EINVAL);

	/* nothing installed: nothing enabled, nothing printed */
	peerop_log_set_callback(NULL, PEEROP_LOG_TRACE, NULL);
	ck_assert(!peerop_log_enabled(PEEROP_LOG_ERROR));

	th_log_capture_start(PEEROP_LOG_INFO);
	ck_assert(!peerop_log_enabled(PEEROP_LOG_DEBUG));
	ck_assert(peerop_log_enabled(PEEROP_LOG_INFO));
	peerop__debug("test", "hidden %d", 1);
	{
		peerop_log_field f[] = { { "peer", "a b" }, { "n", "3" } };
		peerop__log(PEEROP_LOG_WARN, "test", f, 2, "visible %s", "line");
	}
	all = th_log_captured();
	ck_assert_ptr_null(strstr(all, "hidden"));
	ck_assert_ptr_nonnull(strstr(all, "WARN  visible line peer=\"a b\" n=3"));
	free(all);
	th_log_capture_stop();
}
END_TEST

START_TEST(test_log_json)
{
	peerop_log_field f[] = { { "k", "v\"q" } };
	peerop_log_record r = { PEEROP_LOG_ERROR, "kube", "bad \"thing\"\n", f, 1, 0 };
	char *line = NULL;
	ck_assert_int_eq(peerop_log_format_record(&line, PEEROP_LOG_FORMAT_JSON, &r), 0);
	ck_assert_str_eq(line, "{\"time\":\"1970-01-01T00:00:00.000Z\",\"level\":\"error\",\"component\":\"kube\","
		"\"msg\":\"bad \\\"thing\\\"\\n\",\"k\":\"v\\\"q\"}");
	peerop_free(line);
}
END_TEST

/* The timestamp of every log line: the cached seconds must never leak
 * from one second into another, whatever order the times come in. */
static void reference_time(char *buf, size_t size, long long ms)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char tmp[32];
	gmtime_r(&secs, &tm);
	strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03dZ", tmp, (int)(ms % 1000));
}

START_TEST(test_log_time_format)
{
	static const long long times[] = {
		0, 999, 1000, 1001, 1785062736999LL, 1785062737000LL, 1785062736000LL, 1785062736500LL,
		59999, 60000, 86399999, 86400000, 951782400000LL /* 2000-02-29 */, 4102444799999LL, 5, 5
	};
	static const size_t sizes[] = { 40, 25, 24, 20, 1 };
	size_t i, k;
	for (i = 0; i < PEEROP__ARRAY_SIZE(times); i++)
		for (k = 0; k < PEEROP__ARRAY_SIZE(sizes); k++) {
			char got[40], want[40];
			memset(got, 'x', sizeof(got));
			peerop__format_time_ms(got, sizes[k], times[i]);
			reference_time(want, sizes[k], times[i]);
			ck_assert_msg(strcmp(got, want) == 0, "%lld in %zu bytes: \"%s\", not \"%s\"",
				times[i], sizes[k], got, want);
		}
	/* the text format pads every level to five columns */
	{
		static const char *want[] = { "TRACE m", "DEBUG m", "INFO  m", "WARN  m", "ERROR m", "OFF   m" };
		peerop_log_record r = { PEEROP_LOG_TRACE, "core", "m", NULL, 0, 1785062736789LL };
		for (i = 0; i < PEEROP__ARRAY_SIZE(want); i++) {
			char *line = NULL;
			r.level = (peerop_log_level)i;
			ck_assert_int_eq(peerop_log_format_record(&line, PEEROP_LOG_FORMAT_TEXT, &r), 0);
			ck_assert_str_eq(line + 25, want[i]);
			ck_assert(strncmp(line, "2026-07-26T10:45:36.789Z ", 25) == 0);
			peerop_free(line);
		}
	}
}
END_TEST

/* What a pipe holds right now (non-blocking reads), appended to out. */
static size_t pipe_drain(int fd, char *out, size_t size)
{
	size_t len = strlen(out);
	ssize_t n;
	while (len + 1 < size && (n = read(fd, out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	return len;
}

/* A stream sink flushes each line, except inside a batch, which flushes
 * once at its end; a batch writing to a second stream flushes the first. */
START_TEST(test_log_stream_batch)
{
	int a[2], b[2];
	FILE *fa, *fb;
	peerop_log_stream sa, sb;
	peerop_log_record r = { PEEROP_LOG_INFO, "core", "one", NULL, 0, 0 };
	char got_a[4096] = "", got_b[4096] = "";

	ck_assert_int_eq(pipe(a), 0);
	ck_assert_int_eq(pipe(b), 0);
	ck_assert_int_eq(fcntl(a[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(fcntl(b[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_ptr_nonnull(fa = fdopen(a[1], "w"));
	ck_assert_ptr_nonnull(fb = fdopen(b[1], "w"));
	/* fully buffered: only a flush makes a line visible */
	setvbuf(fa, NULL, _IOFBF, 16384);
	setvbuf(fb, NULL, _IOFBF, 16384);
	sa.stream = fa;
	sa.format = PEEROP_LOG_FORMAT_TEXT;
	sb.stream = fb;
	sb.format = PEEROP_LOG_FORMAT_JSON;

	peerop_log_stream_cb(&r, &sa);
	pipe_drain(a[0], got_a, sizeof(got_a));
	ck_assert_str_eq(got_a, "1970-01-01T00:00:00.000Z INFO  one\n");

	got_a[0] = '\0';
	peerop__log_batch_begin();
	r.message = "two";
	peerop_log_stream_cb(&r, &sa);
	peerop__log_batch_begin();
	r.message = "three";
	peerop_log_stream_cb(&r, &sa);
	peerop__log_batch_end();
	ck_assert_uint_eq(pipe_drain(a[0], got_a, sizeof(got_a)), 0);
	peerop__log_batch_end();
	pipe_drain(a[0], got_a, sizeof(got_a));
	ck_assert_str_eq(got_a, "1970-01-01T00:00:00.000Z INFO  two\n1970-01-01T00:00:00.000Z INFO  three\n");

	got_a[0] = '\0';
	peerop__log_batch_begin();
	r.message = "four";
	peerop_log_stream_cb(&r, &sa);
	ck_assert_uint_eq(pipe_drain(a[0], got_a, sizeof(got_a)), 0);
	peerop_log_stream_cb(&r, &sb);
	pipe_drain(a[0], got_a, sizeof(got_a));
	ck_assert_str_eq(got_a, "1970-01-01T00:00:00.000Z INFO  four\n");
	ck_assert_uint_eq(pipe_drain(b[0], got_b, sizeof(got_b)), 0);
	peerop__log_batch_end();
	pipe_drain(b[0], got_b, sizeof(got_b));
	ck_assert_str_eq(got_b, "{\"time\":\"1970-01-01T00:00:00.000Z\",\"level\":\"info\",\"component\":\"core\","
		"\"msg\":\"four\"}\n");

	/* an unbalanced end is harmless */
	peerop__log_batch_end();
	fclose(fa);
	fclose(fb);
	close(a[0]);
	close(b[0]);
}
END_TEST

START_TEST(test_log_long_message)
{
	char big[3000];
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	th_log_capture_start(PEEROP_LOG_TRACE);
	peerop__info("test", "%s", big);
	ck_assert_int_eq(th_log_count(big), 1);
	th_log_capture_stop();
}
END_TEST

START_TEST(test_jitter_range)
{
	int i;
	for (i = 0; i < 10000; i++) {
		uint64_t j = peerop__jitter(1000, 0.2);
		ck_assert_uint_ge(j, 800);
		ck_assert_uint_le(j, 1200);
		ck_assert_uint_lt(peerop__rand_below(7), 7);
	}
	ck_assert_uint_eq(peerop__rand_below(0), 0);
	ck_assert_uint_eq(peerop__jitter(0, 0.5), 0);
}
END_TEST

START_TEST(test_global_refcount)
{
	ck_assert_int_eq(peerop_global_init(), 0);
	ck_assert_int_eq(peerop_global_init(), 0);
	peerop_global_cleanup();
	peerop_global_cleanup();
	peerop_global_cleanup(); /* one too many is harmless */
	peerop_free(NULL);
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_strerror_distinct);
	tcase_add_test(tc, test_error_thread_local);
	tcase_add_test(tc, test_error_long_message_truncates);
	tcase_add_test(tc, test_buf_basics);
	tcase_add_test(tc, test_buf_limit);
	tcase_add_test(tc, test_buf_escapes);
	tcase_add_test(tc, test_read_file_errors);
	tcase_add_test(tc, test_log_levels_and_format);
	tcase_add_test(tc, test_log_json);
	tcase_add_test(tc, test_log_time_format);
	tcase_add_test(tc, test_log_stream_batch);
	tcase_add_test(tc, test_log_long_message);
	tcase_add_test(tc, test_jitter_range);
	tcase_add_test(tc, test_global_refcount);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(core_suite());
}
