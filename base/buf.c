/*
 * buf.c: a growable, NUL-terminated byte buffer.
 *
 * Growth is geometric (x1.5) so appends are amortised O(1); a limit lets
 * network readers refuse oversized input before allocating it.
 */
#include "base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int peerop__buf_grow(peerop__buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1)
		return PEEROP_ENOMEM;
	need = b->len + extra + 1;
	if (b->limit && need - 1 > b->limit)
		return peerop__error_set(PEEROP_ETOOLARGE, "buffer limit of %zu bytes exceeded", b->limit);
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 3 * 2 ? need : cap + cap / 2;
	p = realloc(b->ptr, cap);
	if (!p)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
	p[b->len] = '\0'; /* the invariant holds even before the first append */
	b->ptr = p;
	b->cap = cap;
	return 0;
}

int peerop__buf_put(peerop__buf *b, const void *data, size_t len)
{
	int rc = peerop__buf_grow(b, len);
	if (rc)
		return rc;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return 0;
}

int peerop__buf_puts(peerop__buf *b, const char *s)
{
	return peerop__buf_put(b, s, strlen(s));
}

int peerop__buf_putc(peerop__buf *b, char c)
{
	return peerop__buf_put(b, &c, 1);
}

int peerop__buf_vprintf(peerop__buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, rc;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return peerop__error_set(PEEROP_EINVAL, "bad format string");
	if ((rc = peerop__buf_grow(b, (size_t)n)) != 0)
		return rc;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int peerop__buf_printf(peerop__buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;
	va_start(ap, fmt);
	rc = peerop__buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int peerop__buf_put_urlencoded(peerop__buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int rc;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			rc = peerop__buf_putc(b, (char)c);
		} else {
			char enc[3] = { '%', hex[c >> 4], hex[c & 15] };
			rc = peerop__buf_put(b, enc, 3);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int peerop__buf_put_json_escaped(peerop__buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	int rc;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *esc = NULL;
		char u[7];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if ((rc = peerop__buf_put(b, run, (size_t)(s - run))) != 0)
			return rc;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
			u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = '\0';
			esc = u;
		}
		if ((rc = peerop__buf_puts(b, esc)) != 0)
			return rc;
		run = s + 1;
	}
	return peerop__buf_put(b, run, (size_t)(s - run));
}

void peerop__buf_consume(peerop__buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->ptr, b->ptr + n, b->len - n);
		b->len -= n;
	}
	if (b->ptr)
		b->ptr[b->len] = '\0';
}

void peerop__buf_clear(peerop__buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

char *peerop__buf_detach(peerop__buf *b)
{
	char *p = b->ptr;
	b->ptr = NULL;
	b->len = b->cap = 0;
	return p;
}

void peerop__buf_dispose(peerop__buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}
