/* obj.c: immutable stored objects, and small JSON helpers. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

dc_obj *dc_obj_new(const json_t *o, uint64_t rv)
{
	dc_obj *d = calloc(1, sizeof(*d));
	const json_t *meta = json_object_get(o, "metadata");
	const json_t *refs = json_object_get(meta, "ownerReferences");
	const json_t *labels = json_object_get(meta, "labels");
	size_t i;

	if (!d)
		return NULL;
	d->refs = 1;
	d->rv = rv;
	/* JSON_COMPACT output is what the real server sends; key order is
	 * kept as inserted so objects read back as they were written. */
	d->json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	d->ns = dup_or_empty(json_string_value(json_object_get(meta, "namespace")));
	d->name = dup_or_empty(json_string_value(json_object_get(meta, "name")));
	d->uid = dup_or_empty(json_string_value(json_object_get(meta, "uid")));
	if (!d->json || !d->ns || !d->name || !d->uid)
		goto fail;
	d->len = strlen(d->json);
	if (json_is_object(labels) && json_object_size(labels) > 0)
		d->labels = json_deep_copy(labels);
	if (json_is_array(refs) && json_array_size(refs) > 0) {
		size_t n = json_array_size(refs);
		d->owners = calloc(n, sizeof(char *));
		d->owner_block = calloc(n, 1);
		if (!d->owners || !d->owner_block)
			goto fail;
		for (i = 0; i < n; i++) {
			const json_t *r = json_array_get(refs, i);
			const char *uid = json_string_value(json_object_get(r, "uid"));
			if (!uid)
				continue;
			d->owners[d->nowners] = strdup(uid);
			if (!d->owners[d->nowners])
				goto fail;
			d->owner_block[d->nowners] = json_is_true(json_object_get(r, "blockOwnerDeletion"));
			d->nowners++;
		}
	}
	d->nfinalizers = json_array_size(json_object_get(meta, "finalizers"));
	d->deleting = json_object_get(meta, "deletionTimestamp") != NULL;
	return d;
fail:
	dc_obj_unref(d);
	return NULL;
}

dc_obj *dc_obj_ref(dc_obj *o)
{
	if (o)
		__atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
	return o;
}

void dc_obj_unref(dc_obj *o)
{
	size_t i;
	if (!o || __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	free(o->json);
	free(o->ns);
	free(o->name);
	free(o->uid);
	json_decref(o->labels);
	for (i = 0; i < o->nowners; i++)
		free(o->owners[i]);
	free(o->owners);
	free(o->owner_block);
	free(o);
}

json_t *dc_obj_parse(const dc_obj *o)
{
	return json_loadb(o->json, o->len, JSON_DECODE_ANY, NULL);
}

bool dc_obj_has_finalizer(const dc_obj *o, const char *f)
{
	json_t *obj, *fin, *v;
	size_t i;
	bool found = false;
	if (o->nfinalizers == 0)
		return false;
	obj = dc_obj_parse(o);
	fin = json_object_get(json_object_get(obj, "metadata"), "finalizers");
	json_array_foreach(fin, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), f) == 0)
			found = true;
	json_decref(obj);
	return found;
}

json_t *dc_json_path(const json_t *o, const char *path)
{
	char key[256];
	const char *p = path;
	while (o && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		o = json_object_get(o, key);
		p += n + (dot ? 1 : 0);
		if (!dot)
			break;
	}
	return (json_t *)o;
}

const char *dc_json_str(const json_t *o, const char *path)
{
	return json_string_value(dc_json_path(o, path));
}

int dc_json_set_path(json_t *o, const char *path, json_t *v)
{
	char key[256];
	const char *p = path;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		json_t *next;
		if (n >= sizeof(key) || n == 0 || !json_is_object(o)) {
			json_decref(v);
			return PEEROP_EINVAL;
		}
		memcpy(key, p, n);
		key[n] = '\0';
		if (!dot)
			return json_object_set_new(o, key, v) == 0 ? 0 : PEEROP_ENOMEM;
		next = json_object_get(o, key);
		if (!json_is_object(next)) {
			next = json_object();
			if (json_object_set_new(o, key, next) != 0) {
				json_decref(v);
				return PEEROP_ENOMEM;
			}
		}
		o = next;
		p = dot + 1;
	}
}

json_t *dc_json_meta(json_t *o)
{
	json_t *m = json_object_get(o, "metadata");
	if (!json_is_object(m)) {
		m = json_object();
		json_object_set_new(o, "metadata", m);
	}
	return m;
}

void dc_now_rfc3339(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void dc_now_rfc3339_nano(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char base[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%09ldZ", base, ts.tv_nsec);
}

void dc_new_uid(char out[37])
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof(b)) != 1) {
		uint64_t x = peerop__rand_below(UINT64_MAX), y = peerop__now_us();
		memcpy(b, &x, 8);
		memcpy(b + 8, &y, 8);
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		b[10], b[11], b[12], b[13], b[14], b[15]);
}
