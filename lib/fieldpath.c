/*
 * fieldpath.c: JSON values by dotted path (see peerop/fieldpath.h).
 *
 * A path is parsed once into segments (a key, or an array index), on the
 * stack: at most 64 segments of a path of at most 4096 bytes, so a hostile
 * path costs nothing but a refusal. Keys are unescaped into one buffer the
 * size of the path, which no unescaping can outgrow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <peerop/fieldpath.h>
#include "internal.h"

#define MAX_PATH 4096
#define MAX_SEGS 64

typedef struct seg {
	const char *key;   /* NULL: an index */
	size_t index;
} seg;

typedef struct parsed {
	seg segs[MAX_SEGS];
	size_t n;
	char keys[MAX_PATH + 1];
} parsed;

static int bad(const char *path, const char *why)
{
	return peerop__error_set(PEEROP_EINVAL, "field path \"%.200s\": %s", path ? path : "(null)", why);
}

static int parse(parsed *p, const char *path)
{
	const char *s = path;
	char *k = p->keys;
	size_t len;

	p->n = 0;
	if (!path || !*path)
		return bad(path, "empty");
	if ((len = strlen(path)) > MAX_PATH)
		return peerop__error_set(PEEROP_EINVAL, "field path of %zu bytes: longer than %d", len, MAX_PATH);
	for (;;) {
		/* a key: up to an unescaped '.' or '[' */
		char *start = k;
		while (*s && *s != '.' && *s != '[') {
			if (*s == '\\') {
				if (s[1] != '.' && s[1] != '\\' && s[1] != '[')
					return bad(path, "a backslash escapes only '.', '[' or '\\'");
				s++;
			}
			*k++ = *s++;
		}
		*k++ = '\0';
		if (k - 1 == start)
			return bad(path, "empty key");
		if (p->n == MAX_SEGS)
			return bad(path, "more than 64 segments");
		p->segs[p->n].key = start;
		p->segs[p->n++].index = 0;
		/* indexes: [N]... */
		while (*s == '[') {
			char *end;
			unsigned long long v;
			if (s[1] < '0' || s[1] > '9')
				return bad(path, "an index is a decimal number in brackets");
			errno = 0;
			v = strtoull(s + 1, &end, 10);
			if (errno || *end != ']' || v > (unsigned long long)(SIZE_MAX / 2))
				return bad(path, "an index is a decimal number in brackets");
			if (p->n == MAX_SEGS)
				return bad(path, "more than 64 segments");
			p->segs[p->n].key = NULL;
			p->segs[p->n++].index = (size_t)v;
			s = end + 1;
		}
		if (!*s)
			return 0;
		if (*s != '.')
			return bad(path, "expected '.' or '[' after an index");
		s++;
	}
}

/* Follow segs[0..n) from obj; *out the value reached (NULL: absent). */
static int walk(json_t **out, const json_t *obj, const char *path, const parsed *p, size_t n)
{
	json_t *cur = (json_t *)obj;
	size_t i;

	*out = NULL;
	for (i = 0; i < n; i++) {
		const seg *sg = &p->segs[i];
		if (sg->key) {
			if (!json_is_object(cur))
				return peerop__error_set(json_is_null(cur) ? PEEROP_ENOTFOUND : PEEROP_EINVAL,
					"field path \"%.200s\": not an object before \"%.100s\"", path, sg->key);
			cur = json_object_get(cur, sg->key);
			if (!cur)
				return peerop__error_set(PEEROP_ENOTFOUND, "field path \"%.200s\": no \"%.100s\"",
					path, sg->key);
		} else {
			if (!json_is_array(cur))
				return peerop__error_set(json_is_null(cur) ? PEEROP_ENOTFOUND : PEEROP_EINVAL,
					"field path \"%.200s\": not a list before [%zu]", path, sg->index);
			if (sg->index >= json_array_size(cur))
				return peerop__error_set(PEEROP_ENOTFOUND, "field path \"%.200s\": [%zu] is past the end (%zu)",
					path, sg->index, json_array_size(cur));
			cur = json_array_get(cur, sg->index);
		}
	}
	if (json_is_null(cur))
		return peerop__error_set(PEEROP_ENOTFOUND, "field path \"%.200s\": null", path);
	*out = cur;
	return 0;
}

int peerop_fieldpath_lookup(json_t **out, const json_t *obj, const char *path)
{
	parsed p;
	json_t *v;
	int rc;

	if (out)
		*out = NULL;
	if (!out)
		return PEEROP_EINVAL;
	if ((rc = parse(&p, path)) < 0)
		return rc;
	if (!obj)
		return peerop__error_set(PEEROP_ENOTFOUND, "field path \"%.200s\": no object", path);
	if ((rc = walk(&v, obj, path, &p, p.n)) < 0)
		return rc;
	*out = v;
	return 0;
}

json_t *peerop_fieldpath_get(const json_t *obj, const char *path)
{
	json_t *v = NULL;
	return peerop_fieldpath_lookup(&v, obj, path) == 0 ? v : NULL;
}

const char *peerop_fieldpath_string(const json_t *obj, const char *path)
{
	return json_string_value(peerop_fieldpath_get(obj, path));
}

int peerop_fieldpath_int(long long *out, const json_t *obj, const char *path)
{
	json_t *v;
	int rc;

	if (!out)
		return PEEROP_EINVAL;
	if ((rc = peerop_fieldpath_lookup(&v, obj, path)) < 0)
		return rc;
	if (!json_is_integer(v))
		return peerop__error_set(PEEROP_EINVAL, "field path \"%.200s\": not an integer", path);
	*out = (long long)json_integer_value(v);
	return 0;
}

int peerop_fieldpath_set(json_t *obj, const char *path, json_t *value)
{
	return peerop_fieldpath_set_new(obj, path, json_incref(value));
}

int peerop_fieldpath_set_new(json_t *obj, const char *path, json_t *value)
{
	parsed p;
	json_t *cur = obj;
	size_t i;
	int rc;

	if ((rc = parse(&p, path)) < 0)
		goto fail;
	if (!value) {
		rc = peerop__error_set(PEEROP_ENOMEM, "field path \"%.200s\": no value (out of memory?)", path);
		goto fail;
	}
	if (!json_is_object(obj)) {
		rc = bad(path, "set needs a JSON object");
		goto fail;
	}
	for (i = 0; i < p.n; i++) {
		const seg *sg = &p.segs[i];
		int last = i + 1 == p.n;
		json_t *next;
		if (sg->key) {
			if (!json_is_object(cur)) {
				rc = peerop__error_set(PEEROP_EINVAL, "field path \"%.200s\": not an object before \"%.100s\"",
					path, sg->key);
				goto fail;
			}
			if (last) {
				if (json_object_set_new(cur, sg->key, value) < 0)
					return peerop__error_set(PEEROP_ENOMEM, "out of memory");
				return 0;
			}
			next = json_object_get(cur, sg->key);
			if (!next || json_is_null(next)) {
				/* create what is missing: an object, unless an index follows */
				if (!p.segs[i + 1].key) {
					rc = peerop__error_set(PEEROP_EINVAL, "field path \"%.200s\": no list \"%.100s\" to index",
						path, sg->key);
					goto fail;
				}
				if (!(next = json_object()) || json_object_set_new(cur, sg->key, next) < 0) {
					rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
					goto fail;
				}
			}
			cur = next;
		} else {
			if (!json_is_array(cur) || sg->index >= json_array_size(cur)) {
				rc = peerop__error_set(PEEROP_EINVAL, "field path \"%.200s\": [%zu] is not in a list", path,
					sg->index);
				goto fail;
			}
			if (last) {
				if (json_array_set_new(cur, sg->index, value) < 0)
					return peerop__error_set(PEEROP_ENOMEM, "out of memory");
				return 0;
			}
			cur = json_array_get(cur, sg->index);
		}
	}
	rc = bad(path, "nothing to set");   /* not reached: parse() gives at least one segment */
fail:
	json_decref(value);
	return rc;
}

int peerop_fieldpath_del(json_t *obj, const char *path)
{
	parsed p;
	json_t *parent;
	const seg *sg;
	int rc;

	if ((rc = parse(&p, path)) < 0)
		return rc;
	if (!obj)
		return peerop__error_set(PEEROP_ENOTFOUND, "field path \"%.200s\": no object", path);
	if (p.n == 1)
		parent = obj;
	else if ((rc = walk(&parent, obj, path, &p, p.n - 1)) < 0)
		return rc;
	sg = &p.segs[p.n - 1];
	if (sg->key) {
		if (!json_is_object(parent))
			return peerop__error_set(PEEROP_EINVAL, "field path \"%.200s\": not an object before \"%.100s\"",
				path, sg->key);
		if (json_object_del(parent, sg->key) < 0)
			return peerop__error_set(PEEROP_ENOTFOUND, "field path \"%.200s\": no \"%.100s\"", path, sg->key);
		return 0;
	}
	if (!json_is_array(parent))
		return peerop__error_set(PEEROP_EINVAL, "field path \"%.200s\": not a list before [%zu]", path, sg->index);
	if (json_array_remove(parent, sg->index) < 0)
		return peerop__error_set(PEEROP_ENOTFOUND, "field path \"%.200s\": [%zu] is past the end", path, sg->index);
	return 0;
}
