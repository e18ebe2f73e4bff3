/* testhelp.c: see testhelp.h. */
#include "config.h"
#include "testhelp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t th_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *th_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *tmpl;
	size_t n;
	if (!base || !*base)
		base = "/tmp";
	n = strlen(base) + 32;
	tmpl = malloc(n);
	snprintf(tmpl, n, "%s/peerop-test-XXXXXX", base);
	if (!mkdtemp(tmpl)) {
		free(tmpl);
		return NULL;
	}
	return tmpl;
}

static void rmrf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			char *sub;
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			sub = th_path(path, e->d_name);
			rmrf(sub);
			free(sub);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

void th_tmpdir_remove(char *dir)
{
	if (dir)
		rmrf(dir);
	free(dir);
}

char *th_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

int th_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	if (len && fwrite(data, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

int th_write_str(const char *path, const char *s)
{
	return th_write_file(path, s, strlen(s));
}

char *th_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *nb;
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	if (!buf)
		buf = malloc(1);
	buf[len] = '\0';
	return buf;
}

void th_sleep_ms(unsigned ms)
{
	usleep(ms * 1000u);
}

int th_wait_until_impl(uint64_t deadline, int (*check)(void *), void *arg)
{
	for (;;) {
		if (check(arg))
			return 1;
		if (th_now_ms() >= deadline)
			return check(arg);
		usleep(5000);
	}
}

int th_wait_until(uint64_t timeout_ms, int (*check)(void *), void *arg)
{
	return th_wait_until_impl(th_now_ms() + timeout_ms, check, arg);
}

/* ---- log capture ---- */
static pthread_mutex_t cap_lock = PTHREAD_MUTEX_INITIALIZER;
static char *cap_buf;
static size_t cap_len, cap_cap;

static void capture_cb(const peerop_log_record *rec, void *payload)
{
	char *line = NULL;
	size_t n;
	(void)payload;
	if (peerop_log_format_record(&line, PEEROP_LOG_FORMAT_TEXT, rec) != 0)
		return;
	n = strlen(line);
	pthread_mutex_lock(&cap_lock);
	if (cap_len + n + 2 > cap_cap) {
		size_t nc = (cap_cap ? cap_cap : 4096);
		char *nb;
		while (nc < cap_len + n + 2)
			nc *= 2;
		nb = realloc(cap_buf, nc);
		if (nb) {
			cap_buf = nb;
			cap_cap = nc;
		}
	}
	if (cap_len + n + 2 <= cap_cap) {
		memcpy(cap_buf + cap_len, line, n);
		cap_len += n;
		cap_buf[cap_len++] = '\n';
		cap_buf[cap_len] = '\0';
	}
	pthread_mutex_unlock(&cap_lock);
	peerop_free(line);
	if (getenv("TH_LOG_ECHO"))
		fprintf(stderr, "[log] %s\n", rec->message);
}

void th_log_capture_start(peerop_log_level min_level)
{
	pthread_mutex_lock(&cap_lock);
	free(cap_buf);
	cap_buf = NULL;
	cap_len = cap_cap = 0;
	pthread_mutex_unlock(&cap_lock);
	peerop_log_set_callback(capture_cb, min_level, NULL);
}

void th_log_capture_stop(void)
{
	peerop_log_set_callback(NULL, PEEROP_LOG_OFF, NULL);
	pthread_mutex_lock(&cap_lock);
	free(cap_buf);
	cap_buf = NULL;
	cap_len = cap_cap = 0;
	pthread_mutex_unlock(&cap_lock);
}

char *th_log_captured(void)
{
	char *s;
	pthread_mutex_lock(&cap_lock);
	s = strdup(cap_buf ? cap_buf : "");
	pthread_mutex_unlock(&cap_lock);
	return s;
}

int th_log_count(const char *needle)
{
	char *all = th_log_captured();
	char *line, *save = NULL;
	int count = 0;
	for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, needle))
			count++;
	free(all);
	return count;
}

int th_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
