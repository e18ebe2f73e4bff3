/* schema.c: admission of custom resources against their CRD's structural
 * schema, in the real server's order: drop non-nullable nulls that have no
 * default, prune unknown fields (or, with fieldValidation=Strict, refuse
 * them with 400 "strict decoding error: unknown field ..."), apply
 * defaults, then validate, answering 422 Invalid with every problem named
 * by field, in the apiextensions-apiserver's wording:
 *
 *   HTTPServer.peerop.io "web" is invalid: spec.replicas: Invalid value: -1:
 *   spec.replicas in body should be greater than or equal to 0
 *
 * Supported: type (integer accepts whole floats), nullable, enum,
 * required, minimum/maximum (exclusive too), multipleOf, minLength/
 * maxLength (in characters), pattern, minItems/maxItems,
 * minProperties/maxProperties, properties, additionalProperties, items,
 * x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string,
 * x-kubernetes-embedded-resource, and uniqueness of
 * x-kubernetes-list-type set and map lists.
 * Not supported (accepted without checking): allOf/anyOf/oneOf/not,
 * format, x-kubernetes-validations (CEL).
 *
 * pattern is ECMA-262 in the CRD and POSIX extended regular expressions
 * here: \d \w \s (and \D \W \S), (?:...) and escaped punctuation are
 * translated; lookarounds, lazy quantifiers and Unicode classes are not,
 * and a pattern that does not compile is not enforced (logged once). */
#include "apiserver.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vctx {
	json_t *causes;     /* [{reason, message, field}] */
	json_t *unknown;    /* pruned paths (strings) */
	char path[1024];
	size_t len;
} vctx;

/* ---- paths ---- */

static size_t path_push_key(vctx *v, const char *key)
{
	size_t old = v->len;
	int n = snprintf(v->path + v->len, sizeof(v->path) - v->len, "%s%s", v->len ? "." : "", key);
	if (n > 0)
		v->len = v->len + (size_t)n < sizeof(v->path) ? v->len + (size_t)n : sizeof(v->path) - 1;
	return old;
}

static size_t path_push_index(vctx *v, size_t i)
{
	size_t old = v->len;
	int n = snprintf(v->path + v->len, sizeof(v->path) - v->len, "[%zu]", i);
	if (n > 0)
		v->len = v->len + (size_t)n < sizeof(v->path) ? v->len + (size_t)n : sizeof(v->path) - 1;
	return old;
}

static void path_pop(vctx *v, size_t old)
{
	v->len = old;
	v->path[old] = '\0';
}

/* ---- errors ---- */

/* A value as Go's field errors print it: strings quoted, numbers bare. */
static char *show(const json_t *x)
{
	if (!x)
		return strdup("null");
	return json_dumps(x, JSON_ENCODE_ANY | JSON_COMPACT);
}

static void cause(vctx *v, const char *reason, const char *fmt, ...) PEEROP_FORMAT(3, 4);
static void cause(vctx *v, const char *reason, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	json_array_append_new(v->causes, json_pack("{s:s,s:s,s:s}", "reason", reason,
		"message", msg ? msg : "", "field", v->path));
	free(msg);
}

/* "Invalid value: X: <path> in body <what>" */
static void invalid(vctx *v, const json_t *x, const char *what)
{
	char *s = show(x);
	cause(v, "FieldValueInvalid", "Invalid value: %s: %s in body %s", s ? s : "", v->path, what);
	free(s);
}

static const char *type_of(const json_t *x)
{
	switch (json_typeof(x)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

static void num_str(char *buf, size_t size, const json_t *n)
{
	if (json_is_integer(n))
		snprintf(buf, size, "%lld", (long long)json_integer_value(n));
	else
		snprintf(buf, size, "%g", json_number_value(n));
}

/* ---- pruning and defaulting ---- */

static bool preserves(const json_t *s)
{
	return json_is_true(json_object_get(s, "x-kubernetes-preserve-unknown-fields"));
}

static const json_t *child_schema(const json_t *s, const char *key)
{
	const json_t *p = json_object_get(json_object_get(s, "properties"), key);
	const json_t *ap;
	if (p)
		return p;
	ap = json_object_get(s, "additionalProperties");
	return json_is_object(ap) ? ap : NULL;
}

/* Fields of ObjectMeta: everything else under a resource's metadata is
 * dropped, as decoding into ObjectMeta does. */
static bool object_meta_field(const char *k)
{
	static const char *const known[] = { "name", "generateName", "namespace", "selfLink", "uid",
		"resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
		"deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
		"managedFields", NULL };
	const char *const *p;
	for (p = known; *p; p++)
		if (!strcmp(*p, k))
			return true;
	return false;
}

static void prune(vctx *v, json_t *x, const json_t *s, bool resource_root)
{
	const char *k;
	json_t *val, *item;
	void *tmp;
	size_t i, old;
	if (!s)
		return;
	if (json_is_object(x)) {
		bool keep_all = preserves(s);
		bool embedded = resource_root || json_is_true(json_object_get(s, "x-kubernetes-embedded-resource"));
		json_object_foreach_safe(x, tmp, k, val) {
			const json_t *cs = child_schema(s, k);
			old = path_push_key(v, k);
			if (embedded && (!strcmp(k, "apiVersion") || !strcmp(k, "kind"))) {
				/* kept as they are */
			} else if (embedded && !strcmp(k, "metadata") && json_is_object(val)) {
				const char *mk;
				json_t *mv;
				void *mt;
				json_object_foreach_safe(val, mt, mk, mv) {
					if (!object_meta_field(mk)) {
						size_t o2 = path_push_key(v, mk);
						json_array_append_new(v->unknown, json_string(v->path));
						path_pop(v, o2);
						json_object_del(val, mk);
					}
				}
			} else if (json_is_null(val) && cs && !json_is_true(json_object_get(cs, "nullable")) &&
				   !json_object_get(cs, "default")) {
				/* a null the schema does not allow and cannot default: dropped */
				json_object_del(x, k);
			} else if (cs) {
				prune(v, val, cs, false);
			} else if (!keep_all) {
				json_array_append_new(v->unknown, json_string(v->path));
				json_object_del(x, k);
			}
			path_pop(v, old);
		}
	} else if (json_is_array(x)) {
		const json_t *is = json_object_get(s, "items");
		json_array_foreach(x, i, item) {
			old = path_push_index(v, i);
			prune(v, item, is, false);
			path_pop(v, old);
		}
	}
}

static void apply_defaults(json_t *x, const json_t *s)
{
	const char *k;
	json_t *val, *p;
	size_t i;
	if (!s)
		return;
	if (json_is_object(x)) {
		json_object_foreach(json_object_get(s, "properties"), k, p) {
			json_t *d = json_object_get(p, "default"), *cur = json_object_get(x, k);
			if (d && (!cur || (json_is_null(cur) && !json_is_true(json_object_get(p, "nullable")))))
				json_object_set_new(x, k, json_deep_copy(d));
		}
		json_object_foreach(x, k, val)
			apply_defaults(val, child_schema(s, k));
	} else if (json_is_array(x)) {
		json_array_foreach(x, i, val)
			apply_defaults(val, json_object_get(s, "items"));
	}
}

/* ---- validation ---- */

/* ECMA-262 (as CRDs write patterns) to POSIX ERE; NULL if it cannot be. */
static char *ecma_to_ere(const char *p)
{
	peerop__buf b = PEEROP__BUF_INIT;
	bool in_class = false;
	peerop__buf_puts(&b, "");
	for (; *p; p++) {
		if (p[0] == '(' && p[1] == '?' && p[2] == ':') {
			peerop__buf_putc(&b, '(');
			p += 2;
		} else if (p[0] == '(' && p[1] == '?') {
			goto unsupported; /* lookarounds, named groups, flags */
		} else if (p[0] == '\\' && p[1]) {
			char c = *++p;
			const char *cls = c == 'd' ? "0-9" : c == 'w' ? "A-Za-z0-9_" : c == 's' ? "[:space:]" : NULL;
			const char *neg = c == 'D' ? "0-9" : c == 'W' ? "A-Za-z0-9_" : c == 'S' ? "[:space:]" : NULL;
			if (cls)
				peerop__buf_printf(&b, in_class ? "%s" : "[%s]", cls);
			else if (neg && !in_class)
				peerop__buf_printf(&b, "[^%s]", neg);
			else if (neg || c == 'p' || c == 'P' || c == 'u' || c == 'x' || (c >= '1' && c <= '9'))
				goto unsupported;
			else if (c == 'n')
				peerop__buf_putc(&b, '\n');
			else if (c == 't')
				peerop__buf_putc(&b, '\t');
			else if (in_class)
				peerop__buf_putc(&b, c); /* escaped punctuation in a class is itself */
			else if (strchr(".[]()*+?{}|^$\\", c))
				peerop__buf_printf(&b, "\\%c", c);
			else
				peerop__buf_putc(&b, c);
		} else if ((p[0] == '*' || p[0] == '+' || p[0] == '?' || p[0] == '}') && p[1] == '?' && !in_class) {
			goto unsupported; /* lazy quantifiers */
		} else {
			if (p[0] == '[' && !in_class)
				in_class = true;
			else if (p[0] == ']' && in_class)
				in_class = false;
			peerop__buf_putc(&b, *p);
		}
	}
	return peerop__buf_detach(&b);
unsupported:
	peerop__buf_dispose(&b);
	return NULL;
}

/* 1 match, 0 no match, -1 the pattern cannot be checked here */
static int pattern_match(const char *pattern, const char *s)
{
	char *ere = ecma_to_ere(pattern);
	regex_t re;
	int rc;
	if (!ere || regcomp(&re, ere, REG_EXTENDED | REG_NOSUB) != 0) {
		peerop__debug("devcluster", "pattern %s is not enforced (not expressible as a POSIX ERE)", pattern);
		free(ere);
		return -1;
	}
	rc = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	free(ere);
	return rc;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static bool type_ok(const json_t *x, const char *type, const json_t *s)
{
	if (json_is_true(json_object_get(s, "x-kubernetes-int-or-string")))
		return json_is_integer(x) || json_is_string(x) ||
			(json_is_real(x) && json_real_value(x) == floor(json_real_value(x)));
	if (!type)
		return true;
	if (!strcmp(type, "object"))
		return json_is_object(x);
	if (!strcmp(type, "array"))
		return json_is_array(x);
	if (!strcmp(type, "string"))
		return json_is_string(x);
	if (!strcmp(type, "boolean"))
		return json_is_boolean(x);
	if (!strcmp(type, "number"))
		return json_is_number(x);
	if (!strcmp(type, "integer"))
		return json_is_integer(x) || (json_is_real(x) && json_real_value(x) == floor(json_real_value(x)));
	return true;
}

static void check_numbers(vctx *v, const json_t *x, const json_t *s)
{
	const json_t *mn = json_object_get(s, "minimum"), *mx = json_object_get(s, "maximum");
	const json_t *mo = json_object_get(s, "multipleOf");
	double d = json_number_value(x);
	char lim[64], what[128];
	if (json_is_number(mn)) {
		bool ex = json_is_true(json_object_get(s, "exclusiveMinimum"));
		num_str(lim, sizeof(lim), mn);
		if (ex ? d <= json_number_value(mn) : d < json_number_value(mn)) {
			snprintf(what, sizeof(what), "should be greater than %s%s", ex ? "" : "or equal to ", lim);
			invalid(v, x, what);
		}
	}
	if (json_is_number(mx)) {
		bool ex = json_is_true(json_object_get(s, "exclusiveMaximum"));
		num_str(lim, sizeof(lim), mx);
		if (ex ? d >= json_number_value(mx) : d > json_number_value(mx)) {
			snprintf(what, sizeof(what), "should be less than %s%s", ex ? "" : "or equal to ", lim);
			invalid(v, x, what);
		}
	}
	if (json_is_number(mo) && json_number_value(mo) > 0) {
		double q = d / json_number_value(mo);
		if (fabs(q - round(q)) > 1e-9) {
			num_str(lim, sizeof(lim), mo);
			snprintf(what, sizeof(what), "should be a multiple of %s", lim);
			invalid(v, x, what);
		}
	}
}

static void check_string(vctx *v, const json_t *x, const json_t *s)
{
	const json_t *mn = json_object_get(s, "minLength"), *mx = json_object_get(s, "maxLength");
	const char *pat = json_string_value(json_object_get(s, "pattern"));
	size_t n = utf8_chars(json_string_value(x));
	char what[1200];
	if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn)) {
		snprintf(what, sizeof(what), "should be at least %lld chars long", (long long)json_integer_value(mn));
		invalid(v, x, what);
	}
	if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx))
		cause(v, "FieldValueTooLong", "Too long: may not be more than %lld bytes",
			(long long)json_integer_value(mx));
	if (pat && pattern_match(pat, json_string_value(x)) == 0) {
		snprintf(what, sizeof(what), "should match '%.1000s'", pat);
		invalid(v, x, what);
	}
}

/* The key of a list-map item, as the real server prints duplicates. */
static json_t *map_key(const json_t *item, const json_t *keys)
{
	json_t *k = json_object(), *name;
	size_t i;
	json_array_foreach(keys, i, name) {
		const char *n = json_string_value(name);
		if (n && json_object_get(item, n))
			json_object_set(k, n, json_object_get(item, n));
	}
	return k;
}

static void validate(vctx *v, const json_t *x, const json_t *s);

static void check_array(vctx *v, const json_t *x, const json_t *s)
{
	const json_t *mn = json_object_get(s, "minItems"), *mx = json_object_get(s, "maxItems");
	const char *lt = json_string_value(json_object_get(s, "x-kubernetes-list-type"));
	const json_t *keys = json_object_get(s, "x-kubernetes-list-map-keys");
	size_t n = json_array_size(x), i, j, old;
	json_t *item;
	char what[128];
	if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn)) {
		snprintf(what, sizeof(what), "should have at least %lld items", (long long)json_integer_value(mn));
		invalid(v, x, what);
	}
	if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx))
		cause(v, "FieldValueTooMany", "Too many: %zu: must have at most %lld items", n,
			(long long)json_integer_value(mx));
	json_array_foreach(x, i, item) {
		old = path_push_index(v, i);
		validate(v, item, json_object_get(s, "items"));
		if (lt && (!strcmp(lt, "set") || !strcmp(lt, "map"))) {
			json_t *ki = !strcmp(lt, "map") ? map_key(item, keys) : json_incref(item);
			for (j = 0; j < i; j++) {
				json_t *kj = !strcmp(lt, "map") ? map_key(json_array_get(x, j), keys)
					: json_incref(json_array_get(x, j));
				bool dup = json_equal(ki, kj);
				json_decref(kj);
				if (dup) {
					char *sv = show(ki);
					cause(v, "FieldValueDuplicate", "Duplicate value: %s", sv ? sv : "");
					free(sv);
					break;
				}
			}
			json_decref(ki);
		}
		path_pop(v, old);
	}
}

static void check_object(vctx *v, const json_t *x, const json_t *s)
{
	const json_t *req = json_object_get(s, "required"), *r;
	const json_t *mn = json_object_get(s, "minProperties"), *mx = json_object_get(s, "maxProperties");
	const char *k;
	json_t *val;
	size_t i, old, n = json_object_size(x);
	char what[128];
	if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn)) {
		snprintf(what, sizeof(what), "should have at least %lld properties", (long long)json_integer_value(mn));
		invalid(v, x, what);
	}
	if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx)) {
		snprintf(what, sizeof(what), "should have at most %lld properties", (long long)json_integer_value(mx));
		invalid(v, x, what);
	}
	json_array_foreach(req, i, r) {
		const char *name = json_string_value(r);
		if (name && !json_object_get(x, name)) {
			old = path_push_key(v, name);
			cause(v, "FieldValueRequired", "Required value");
			path_pop(v, old);
		}
	}
	json_object_foreach((json_t *)x, k, val) {
		const json_t *cs = child_schema(s, k);
		if (!cs)
			continue;
		old = path_push_key(v, k);
		validate(v, val, cs);
		path_pop(v, old);
	}
}

static void validate(vctx *v, const json_t *x, const json_t *s)
{
	const char *type = json_string_value(json_object_get(s, "type"));
	const json_t *en = json_object_get(s, "enum");
	if (!s)
		return;
	if (json_is_null(x) && json_is_true(json_object_get(s, "nullable")))
		return;
	if (!type_ok(x, type, s)) {
		/* the real server names the value's type, not the value */
		cause(v, "FieldValueTypeInvalid", "Invalid value: \"%s\": %s in body must be of type %s: \"%s\"",
			type_of(x), v->path, json_is_true(json_object_get(s, "x-kubernetes-int-or-string"))
				? "integer,string" : type, type_of(x));
		return;
	}
	if (json_is_array(en) && json_array_size(en) > 0) {
		json_t *e;
		size_t i;
		bool found = false;
		json_array_foreach(en, i, e)
			if (json_equal(e, x) || (json_is_number(e) && json_is_number(x) &&
				json_number_value(e) == json_number_value(x)))
				found = true;
		if (!found) {
			peerop__buf b = PEEROP__BUF_INIT;
			char *sv = show(x);
			json_array_foreach(en, i, e) {
				char *es = show(e);
				peerop__buf_printf(&b, "%s%s", i ? ", " : "", es ? es : "");
				free(es);
			}
			cause(v, "FieldValueNotSupported", "Unsupported value: %s: supported values: %s", sv ? sv : "",
				b.ptr ? b.ptr : "");
			free(sv);
			peerop__buf_dispose(&b);
		}
	}
	if (json_is_number(x))
		check_numbers(v, x, s);
	else if (json_is_string(x))
		check_string(v, x, s);
	else if (json_is_array(x))
		check_array(v, x, s);
	else if (json_is_object(x))
		check_object(v, x, s);
}

/* ---- the admission hook ---- */

static json_t *invalid_status(const dc_rtype *rt, const char *name, json_t *causes)
{
	peerop__buf b = PEEROP__BUF_INIT;
	json_t *c, *st;
	size_t i, n = json_array_size(causes);
	peerop__buf_printf(&b, "%s%s%s \"%s\" is invalid: %s", rt->kind, rt->group[0] ? "." : "", rt->group,
		name ? name : "", n > 1 ? "[" : "");
	json_array_foreach(causes, i, c)
		peerop__buf_printf(&b, "%s%s: %s", i ? ", " : "", dc_json_str(c, "field"), dc_json_str(c, "message"));
	peerop__buf_puts(&b, n > 1 ? "]" : "");
	st = dc_status(422, "Invalid", b.ptr, name, rt->group, rt->kind);
	json_object_set(json_object_get(st, "details"), "causes", causes);
	peerop__buf_dispose(&b);
	return st;
}

json_t *dc_schema_admit(const dc_rtype *rt, json_t *obj, const json_t *old, unsigned flags)
{
	const json_t *s = rt->schema;
	vctx v;
	json_t *st = NULL, *status_schema;
	const char *name = dc_json_str(obj, "metadata.name");
	(void)old;
	if (!s)
		return NULL;
	memset(&v, 0, sizeof(v));
	v.causes = json_array();
	v.unknown = json_array();
	status_schema = (json_t *)child_schema(s, "status");
	if (flags & DC_ADMIT_STATUS) {
		/* a status write changes .status only: check that */
		json_t *status = json_object_get(obj, "status");
		if (status && status_schema) {
			size_t o = path_push_key(&v, "status");
			prune(&v, status, status_schema, false);
			apply_defaults(status, status_schema);
			validate(&v, status, status_schema);
			path_pop(&v, o);
		}
	} else {
		/* the stored status is not this write's business when the type has
		 * a status subresource: set it aside */
		json_t *keep = (rt->flags & DC_RT_STATUS) ? json_incref(json_object_get(obj, "status")) : NULL;
		if (keep)
			json_object_del(obj, "status");
		prune(&v, obj, s, true);
		apply_defaults(obj, s);
		validate(&v, obj, s);
		if (keep)
			json_object_set_new(obj, "status", keep);
	}
	if (json_array_size(v.unknown) && (flags & DC_ADMIT_STRICT)) {
		peerop__buf b = PEEROP__BUF_INIT;
		json_t *u;
		size_t i;
		peerop__buf_printf(&b, "%s in version \"%s\" cannot be handled as a %s: strict decoding error: ",
			rt->kind, rt->version, rt->kind);
		json_array_foreach(v.unknown, i, u)
			peerop__buf_printf(&b, "%sunknown field \"%s\"", i ? ", " : "", json_string_value(u));
		st = dc_status(400, "BadRequest", b.ptr, NULL, NULL, NULL);
		peerop__buf_dispose(&b);
	} else if (json_array_size(v.causes)) {
		st = invalid_status(rt, name, v.causes);
	}
	json_decref(v.causes);
	json_decref(v.unknown);
	return st;
}
