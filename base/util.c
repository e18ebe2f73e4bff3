/* util.c: clocks, randomness, strings and whole-file reads. */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t peerop__now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t peerop__now_ms(void)
{
	return peerop__now_us() / 1000u;
}

long long peerop__wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Each thread remembers the last second it formatted: a burst of log lines
 * (a round of a thousand pings) then costs one gmtime/strftime per second
 * instead of one per line. */
static __thread long long time_cache_secs = -1;
static __thread char time_cache[32];

void peerop__format_time_ms(char *buf, size_t size, long long wall_ms)
{
	time_t secs = (time_t)(wall_ms / 1000);
	struct tm tm;
	char tmp[40];
	int ms = (int)(wall_ms % 1000);
	size_t n;

	if (wall_ms < 0 || size == 0) {
		gmtime_r(&secs, &tm);
		strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(buf, size, "%s.%03dZ", tmp, ms);
		return;
	}
	if (secs != time_cache_secs) {
		gmtime_r(&secs, &tm);
		if (strftime(time_cache, sizeof(time_cache), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
			time_cache[0] = '\0';
		time_cache_secs = secs;
	}
	n = strlen(time_cache);
	memcpy(tmp, time_cache, n);
	tmp[n] = '.';
	tmp[n + 1] = (char)('0' + ms / 100);
	tmp[n + 2] = (char)('0' + ms / 10 % 10);
	tmp[n + 3] = (char)('0' + ms % 10);
	tmp[n + 4] = 'Z';
	n += 5;
	if (n >= size)
		n = size - 1;
	memcpy(buf, tmp, n);
	buf[n] = '\0';
}

/* xorshift64*: not for secrets, only for jitter and sampling. */
static __thread uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t x = rng_state;
	if (x == 0) {
		if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t)sizeof(x))
			x = peerop__now_us() ^ (uint64_t)(uintptr_t)&x;
		if (x == 0)
			x = 0x9E3779B97F4A7C15ull;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

uint64_t peerop__rand_below(uint64_t n)
{
	return n ? rng_next() % n : 0;
}

uint64_t peerop__jitter(uint64_t base, double fraction)
{
	uint64_t span;
	if (fraction <= 0 || base == 0)
		return base;
	span = (uint64_t)((double)base * fraction);
	if (span == 0)
		return base;
	return base - span + peerop__rand_below(2 * span + 1);
}

char *peerop__strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *peerop__strndup(const char *s, size_t n)
{
	return s ? strndup(s, n) : NULL;
}

int peerop__read_file(char **out, size_t *out_len, const char *path, size_t limit)
{
	peerop__buf b = PEEROP__BUF_INIT;
	int fd;

	*out = NULL;
	if (out_len)
		*out_len = 0;
	if (limit == 0)
		limit = 64u << 20;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return peerop__error_set(e == ENOENT ? PEEROP_ENOENT : PEEROP_EIO,
			"%s: %s", path, strerror(e));
	}
	{
		/* Size the buffer from the file's size up front: files read here
		 * hold secrets (kubeconfigs, tokens), and every realloc while
		 * growing would leave a copy behind in freed memory. */
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size <= limit &&
		    peerop__buf_grow(&b, (size_t)st.st_size + 16384) < 0) {
			close(fd);
			return peerop__error_set(PEEROP_ENOMEM, "%s: out of memory", path);
		}
	}
	for (;;) {
		ssize_t n;
		int rc = peerop__buf_grow(&b, 16384);
		if (rc) {
			close(fd);
			peerop__buf_dispose(&b);
			return peerop__error_set(rc, "%s: out of memory", path);
		}
		n = read(fd, b.ptr + b.len, b.cap - b.len - 1);
		if (n < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			close(fd);
			peerop__buf_dispose(&b);
			return peerop__error_set(PEEROP_EIO, "%s: %s", path, strerror(e));
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		b.ptr[b.len] = '\0';
		if (b.len > limit) {
			close(fd);
			peerop__buf_dispose(&b);
			return peerop__error_set(PEEROP_ETOOLARGE,
				"%s: larger than the limit of %zu bytes", path, limit);
		}
	}
	close(fd);
	if (out_len)
		*out_len = b.len;
	if (!b.ptr) {
		*out = calloc(1, 1);
		return *out ? 0 : peerop__error_set(PEEROP_ENOMEM, "%s: out of memory", path);
	}
	*out = peerop__buf_detach(&b);
	return 0;
}

void peerop__sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
