/* protobuf.c: request bodies in Kubernetes' protobuf encoding
 * (application/vnd.kubernetes.protobuf), decoded to the JSON the rest of
 * the server works with.
 *
 * Why: client-go's generated (typed) clients send protobuf for built-in
 * types, and nothing falls back to JSON on a 415: client-go's 415 fallback
 * covers CBOR only. `kubectl create configmap|secret|namespace|service|
 * serviceaccount|deployment` (1.32 and 1.34) and helm's release storage
 * (a Secret, created, updated and deleted through the typed client) fail
 * on a server that cannot read protobuf.
 *
 * What: the envelope ("k8s\0" + runtime.Unknown{typeMeta, raw,
 * contentEncoding, contentType}) and, for the raw message, a table of
 * message descriptors (pb_types.c) with the real field numbers of those
 * kinds. A kind without a descriptor, a field number the descriptor does
 * not know, or compressed content is refused with 415 naming what was not
 * understood, so a client is never silently given a half-decoded object.
 * JSON follows Go's encoding of the same objects: empty strings, zero
 * numbers and false are omitted unless the Go field is a pointer (then
 * present means set), bytes are base64, Time is RFC 3339. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>

typedef struct pbr {
	const unsigned char *p, *end;
} pbr;

typedef struct pbctx {
	char *err;
	int code;     /* 400 malformed, 415 not supported */
	int depth;
} pbctx;

#define PB_MAX_DEPTH 32

static int fail(pbctx *c, int code, const char *fmt, ...) PEEROP_FORMAT(3, 4);
static int fail(pbctx *c, int code, const char *fmt, ...)
{
	va_list ap;
	if (c->err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&c->err, fmt, ap) < 0)
		c->err = NULL;
	va_end(ap);
	c->code = code;
	return -1;
}

static bool varint(pbr *r, uint64_t *v)
{
	uint64_t x = 0;
	int shift;
	for (shift = 0; shift < 64 && r->p < r->end; shift += 7) {
		unsigned char b = *r->p++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

static bool delimited(pbr *r, pbr *out)
{
	uint64_t n;
	if (!varint(r, &n) || n > (uint64_t)(r->end - r->p))
		return false;
	out->p = r->p;
	out->end = r->p + n;
	r->p += n;
	return true;
}

/* Skip a field of wire type wt (only for the envelope's unknown parts). */
static bool skip(pbr *r, unsigned wt)
{
	uint64_t v;
	pbr sub;
	switch (wt) {
	case 0: return varint(r, &v);
	case 1: if (r->end - r->p < 8) return false; r->p += 8; return true;
	case 2: return delimited(r, &sub);
	case 5: if (r->end - r->p < 4) return false; r->p += 4; return true;
	default: return false;
	}
}

/* A C string of n bytes that need not be NUL-terminated (strndup would
 * read past them looking for one). */
static char *dup_n(const unsigned char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static json_t *base64(const unsigned char *p, size_t n)
{
	unsigned char *out = malloc(4 * ((n + 2) / 3) + 1);
	json_t *s;
	if (!out)
		return NULL;
	EVP_EncodeBlock(out, p, (int)n);
	s = json_string((char *)out);
	free(out);
	return s;
}

static json_t *decode_msg(pbctx *c, pbr *r, const dc_pb_msg *m);

/* metav1.Time {seconds, nanos}: RFC 3339, or NULL for the zero time. */
static json_t *decode_time(pbctx *c, pbr *r)
{
	uint64_t key, v, secs = 0;
	char buf[40];
	struct tm tm;
	time_t t;
	while (r->p < r->end) {
		if (!varint(r, &key) || (key & 7) != 0 || !varint(r, &v))
			return fail(c, 400, "malformed protobuf body: a Time"), NULL;
		if ((key >> 3) == 1)
			secs = v;
	}
	if (secs == 0)
		return json_null();
	t = (time_t)(int64_t)secs;
	if (!gmtime_r(&t, &tm))
		return fail(c, 400, "malformed protobuf body: a Time out of range"), NULL;
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

/* map<string, V> entries: {1: key, 2: value} */
static int decode_map_entry(pbctx *c, pbr *r, json_t *obj, dc_pb_kind vk)
{
	uint64_t key;
	pbr k = { NULL, NULL }, v = { NULL, NULL };
	json_t *val;
	char *ks;
	while (r->p < r->end) {
		if (!varint(r, &key) || (key & 7) != 2)
			return fail(c, 400, "malformed protobuf body: a map entry");
		if ((key >> 3) == 1 && !delimited(r, &k))
			return fail(c, 400, "malformed protobuf body: a map key");
		else if ((key >> 3) == 2 && !delimited(r, &v))
			return fail(c, 400, "malformed protobuf body: a map value");
		else if ((key >> 3) != 1 && (key >> 3) != 2)
			return fail(c, 415, "protobuf: unknown field %llu in a map entry", (unsigned long long)(key >> 3));
	}
	if (!k.p)
		k.p = k.end = (const unsigned char *)"";
	if (!v.p)
		v.p = v.end = (const unsigned char *)"";
	if (memchr(k.p, 0, (size_t)(k.end - k.p)))
		return fail(c, 400, "protobuf: a NUL in a map key");
	if (vk == DC_PB_BYTES) {
		val = base64(v.p, (size_t)(v.end - v.p));
	} else if (vk == DC_PB_MAP_SQ) {
		/* resource.Quantity {1: string} */
		static const dc_pb_field qf[] = { { 1, "s", DC_PB_STRING, DC_PB_KEEP, NULL }, { 0, NULL, 0, 0, NULL } };
		static const dc_pb_msg qm = { "Quantity", qf };
		json_t *q = decode_msg(c, &v, &qm);
		val = q ? json_incref(json_object_get(q, "s")) : NULL;
		json_decref(q);
		if (!val && !c->err)
			val = json_string("0");
	} else {
		val = json_stringn((const char *)v.p, (size_t)(v.end - v.p));
	}
	if (!val)
		return fail(c, 400, "protobuf: a map value is not valid UTF-8");
	ks = dup_n(k.p, (size_t)(k.end - k.p));
	if (!ks || json_object_set_new(obj, ks, val) != 0) {
		free(ks);
		return fail(c, 400, "protobuf: a map key is not valid UTF-8");
	}
	free(ks);
	return 0;
}

/* One field's value (wire data in r for length-delimited, v for varints). */
static json_t *decode_value(pbctx *c, const dc_pb_field *f, pbr *r, uint64_t v)
{
	switch (f->kind) {
	case DC_PB_STRING: {
		json_t *s = json_stringn((const char *)r->p, (size_t)(r->end - r->p));
		if (!s)
			fail(c, 400, "protobuf: %s is not valid UTF-8", f->json);
		return s;
	}
	case DC_PB_BYTES:
		return base64(r->p, (size_t)(r->end - r->p));
	case DC_PB_INT:
		return json_integer((json_int_t)(int64_t)v);
	case DC_PB_BOOL:
		return json_boolean(v != 0);
	case DC_PB_MSG:
		return decode_msg(c, r, f->msg);
	case DC_PB_TIME:
		return decode_time(c, r);
	case DC_PB_RAWJSON: {
		/* runtime.RawExtension / FieldsV1: {1: raw JSON bytes} */
		uint64_t key;
		pbr raw = { NULL, NULL };
		json_t *j;
		while (r->p < r->end) {
			if (!varint(r, &key) || (key & 7) != 2 || (key >> 3) != 1 || !delimited(r, &raw))
				return fail(c, 400, "malformed protobuf body: %s", f->json), NULL;
		}
		if (!raw.p)
			return json_object();
		j = json_loadb((const char *)raw.p, (size_t)(raw.end - raw.p), 0, NULL);
		if (!j)
			fail(c, 400, "protobuf: %s is not valid JSON", f->json);
		return j;
	}
	case DC_PB_INTORSTR: {
		/* intstr.IntOrString {1: type (0 int, 1 string), 2: intVal, 3: strVal} */
		static const dc_pb_field fs[] = {
			{ 1, "type", DC_PB_INT, DC_PB_KEEP, NULL }, { 2, "i", DC_PB_INT, DC_PB_KEEP, NULL },
			{ 3, "s", DC_PB_STRING, DC_PB_KEEP, NULL }, { 0, NULL, 0, 0, NULL } };
		static const dc_pb_msg m = { "IntOrString", fs };
		json_t *o = decode_msg(c, r, &m), *out;
		if (!o)
			return NULL;
		if (json_integer_value(json_object_get(o, "type")) == 1)
			out = json_object_get(o, "s") ? json_incref(json_object_get(o, "s")) : json_string("");
		else
			out = json_integer(json_integer_value(json_object_get(o, "i")));
		json_decref(o);
		return out;
	}
	default:
		return fail(c, 415, "protobuf: %s has an unsupported kind", f->json), NULL;
	}
}

static bool empty_value(const json_t *v)
{
	return json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0) ||
		(json_is_integer(v) && json_integer_value(v) == 0) || json_is_false(v);
}

static json_t *decode_msg(pbctx *c, pbr *r, const dc_pb_msg *m)
{
	json_t *obj = json_object();
	uint64_t key, v = 0;
	if (++c->depth > PB_MAX_DEPTH) {
		json_decref(obj);
		return fail(c, 400, "protobuf: nested too deeply"), NULL;
	}
	while (r->p < r->end) {
		const dc_pb_field *f;
		unsigned num, wt;
		pbr sub = { NULL, NULL };
		json_t *val = NULL;
		if (!varint(r, &key))
			goto malformed;
		num = (unsigned)(key >> 3);
		wt = (unsigned)(key & 7);
		for (f = m->fields; f->json && f->num != num; f++)
			;
		if (!f->json) {
			fail(c, 415, "devcluster cannot decode field %u of the protobuf encoding of %s (it knows %s's fields "
				"kubectl and helm send); send application/json", num, m->name, m->name);
			goto out;
		}
		if (f->kind == DC_PB_INT || f->kind == DC_PB_BOOL) {
			if (wt != 0 || !varint(r, &v))
				goto malformed;
		} else if (wt != 2 || !delimited(r, &sub)) {
			goto malformed;
		}
		if (f->kind == DC_PB_MAP_SS || f->kind == DC_PB_MAP_SB || f->kind == DC_PB_MAP_SQ) {
			json_t *map = json_object_get(obj, f->json);
			if (!map) {
				map = json_object();
				json_object_set_new(obj, f->json, map);
			}
			if (decode_map_entry(c, &sub, map, f->kind == DC_PB_MAP_SS ? DC_PB_STRING :
				f->kind == DC_PB_MAP_SB ? DC_PB_BYTES : DC_PB_MAP_SQ) != 0)
				goto out;
			continue;
		}
		val = decode_value(c, f, &sub, v);
		if (!val)
			goto out;
		if (f->flags & DC_PB_REPEATED) {
			json_t *arr = json_object_get(obj, f->json);
			if (!arr) {
				arr = json_array();
				json_object_set_new(obj, f->json, arr);
			}
			json_array_append_new(arr, val);
		} else if (!(f->flags & DC_PB_KEEP) && empty_value(val)) {
			/* Go's omitempty for a non-pointer field */
			json_object_del(obj, f->json);
			json_decref(val);
		} else if (json_is_null(val)) {
			json_decref(val);
		} else {
			json_object_set_new(obj, f->json, val);
		}
	}
	c->depth--;
	return obj;
malformed:
	fail(c, 400, "malformed protobuf body (in %s)", m->name);
out:
	json_decref(obj);
	c->depth--;
	return NULL;
}

int dc_protobuf_decode(const char *body, size_t len, json_t **out, char **err)
{
	pbr r = { (const unsigned char *)body, (const unsigned char *)body + len }, tm = { NULL, NULL }, raw = { NULL, NULL };
	pbctx c = { NULL, 0, 0 };
	char *api_version = NULL, *kind = NULL;
	const dc_pb_msg *m;
	json_t *obj;
	uint64_t key;

	*out = NULL;
	*err = NULL;
	if (len < 4 || memcmp(body, "k8s\0", 4)) {
		*err = strdup("the protobuf body lacks the \"k8s\\0\" prefix of Kubernetes' encoding");
		return 400;
	}
	r.p += 4;
	/* runtime.Unknown */
	while (r.p < r.end) {
		pbr s;
		if (!varint(&r, &key))
			goto malformed;
		if ((key & 7) != 2) {
			if (!skip(&r, (unsigned)(key & 7)))
				goto malformed;
			continue;
		}
		if (!delimited(&r, &s))
			goto malformed;
		if ((key >> 3) == 1)
			tm = s;
		else if ((key >> 3) == 2)
			raw = s;
		else if ((key >> 3) == 3 && s.end > s.p) {
			*err = strdup("compressed protobuf bodies (contentEncoding) are not supported: send application/json");
			return 415;
		}
	}
	while (tm.p && tm.p < tm.end) {
		pbr s;
		if (!varint(&tm, &key) || (key & 7) != 2 || !delimited(&tm, &s))
			goto malformed;
		if ((key >> 3) == 1 && !api_version)
			api_version = dup_n(s.p, (size_t)(s.end - s.p));
		else if ((key >> 3) == 2 && !kind)
			kind = dup_n(s.p, (size_t)(s.end - s.p));
	}
	if (!kind || !*kind || !raw.p) {
		free(api_version);
		free(kind);
		*err = strdup("the protobuf body names no kind");
		return 400;
	}
	m = dc_pb_find(api_version ? api_version : "", kind);
	if (!m) {
		if (asprintf(err, "devcluster decodes protobuf bodies of the kinds kubectl create and helm send, not "
			"%s %s: send application/json", api_version ? api_version : "", kind) < 0)
			*err = NULL;
		free(api_version);
		free(kind);
		return 415;
	}
	obj = decode_msg(&c, &raw, m);
	if (!obj) {
		free(api_version);
		free(kind);
		*err = c.err ? c.err : strdup("malformed protobuf body");
		return c.code ? c.code : 400;
	}
	if (strcmp(kind, "DeleteOptions")) {
		json_object_set_new(obj, "apiVersion", json_string(api_version ? api_version : ""));
		json_object_set_new(obj, "kind", json_string(kind));
	}
	free(api_version);
	free(kind);
	*out = obj;
	return 0;
malformed:
	free(api_version);
	free(kind);
	*err = strdup("malformed protobuf body (the runtime.Unknown envelope)");
	return 400;
}
