/* patch.c: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the
 * table that maps a PATCH Content-Type to its implementation: these two,
 * strategic merge patch (smp.c) and server-side apply (apply.c). */
#include "apiserver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_err(char **err, const char *fmt, ...) PEEROP_FORMAT(2, 3);
static int set_err(char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return -1;
}

/* ---- RFC 7386 ---- */

static json_t *merge(json_t *target, const json_t *patch)
{
	const char *k;
	json_t *v;
	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
	}
	json_object_foreach((json_t *)patch, k, v) {
		if (json_is_null(v)) {
			json_object_del(target, k);
		} else {
			json_t *cur = json_object_get(target, k);
			json_t *m = merge(cur ? json_incref(cur) : NULL, v);
			json_object_set_new(target, k, m);
		}
	}
	return target;
}

json_t *dc_merge_patch(const json_t *target, const json_t *patch)
{
	return merge(json_deep_copy(target), patch);
}

static int merge_patch_fn(json_t **out, const json_t *target, const json_t *patch,
	const dc_patch_ctx *ctx, char **err)
{
	(void)ctx;
	/* the target is the caller's working copy (see dc_patch_fn): merged
	 * in place, saving a deep copy per patch */
	*out = merge(json_incref((json_t *)target), patch);
	if (!*out)
		return set_err(err, "out of memory"), 500;
	return 0;
}

/* ---- RFC 6901 pointers and RFC 6902 operations ---- */

/* Split a pointer into its parent container and last token (unescaped).
 * Returns the container (borrowed) or NULL; *tok is malloc'd. */
static json_t *resolve_parent(json_t *doc, const char *ptr, char **tok)
{
	const char *p = ptr;
	json_t *cur = doc;
	*tok = NULL;
	if (*p != '/')
		return NULL;
	for (;;) {
		const char *next = strchr(p + 1, '/');
		size_t n = next ? (size_t)(next - p - 1) : strlen(p + 1);
		peerop__buf t = PEEROP__BUF_INIT;
		size_t i;
		for (i = 0; i < n; i++) {
			char c = p[1 + i];
			if (c == '~' && i + 1 < n && (p[2 + i] == '0' || p[2 + i] == '1')) {
				c = p[2 + i] == '0' ? '~' : '/';
				i++;
			} else if (c == '~') {
				peerop__buf_dispose(&t);
				return NULL;
			}
			peerop__buf_putc(&t, c);
		}
		if (!t.ptr)
			peerop__buf_puts(&t, "");
		if (!next) {
			*tok = peerop__buf_detach(&t);
			return cur;
		}
		if (json_is_object(cur)) {
			cur = json_object_get(cur, t.ptr);
		} else if (json_is_array(cur)) {
			char *end;
			unsigned long idx;
			errno = 0;
			idx = strtoul(t.ptr, &end, 10);
			cur = (*end || !*t.ptr || errno || (t.ptr[0] == '0' && t.ptr[1])) ? NULL : json_array_get(cur, idx);
		} else {
			cur = NULL;
		}
		peerop__buf_dispose(&t);
		if (!cur)
			return NULL;
		p = next;
	}
}

static bool array_index(const json_t *arr, const char *tok, bool allow_end, size_t *idx)
{
	char *end;
	unsigned long v;
	if (allow_end && !strcmp(tok, "-")) {
		*idx = json_array_size(arr);
		return true;
	}
	if (!*tok || (tok[0] == '0' && tok[1]) || tok[0] == '-' || tok[0] == '+')
		return false;
	errno = 0;
	v = strtoul(tok, &end, 10);
	if (*end || errno)
		return false;
	*idx = v;
	return allow_end ? v <= json_array_size(arr) : v < json_array_size(arr);
}

static json_t *get_ptr(json_t *doc, const char *ptr)
{
	char *tok;
	json_t *parent, *v = NULL;
	size_t idx;
	if (!*ptr)
		return doc;
	parent = resolve_parent(doc, ptr, &tok);
	if (parent && tok) {
		if (json_is_object(parent))
			v = json_object_get(parent, tok);
		else if (json_is_array(parent) && array_index(parent, tok, false, &idx))
			v = json_array_get(parent, idx);
	}
	free(tok);
	return v;
}

/* add/replace value (stolen) at ptr; *doc may be replaced for the root. */
static int put_ptr(json_t **doc, const char *ptr, json_t *value, bool replace, char **err)
{
	char *tok;
	json_t *parent;
	size_t idx;
	int rc = 0;
	if (!*ptr) {
		json_decref(*doc);
		*doc = value;
		return 0;
	}
	parent = resolve_parent(*doc, ptr, &tok);
	if (!parent || !tok) {
		rc = set_err(err, "doc is missing path: \"%s\": missing value", ptr);
	} else if (json_is_object(parent)) {
		if (replace && !json_object_get(parent, tok))
			rc = set_err(err, "doc is missing key: \"%s\": missing value", ptr);
		else
			json_object_set(parent, tok, value);
	} else if (json_is_array(parent)) {
		if (!array_index(parent, tok, !replace, &idx))
			rc = set_err(err, "unable to access invalid index: \"%s\"", ptr);
		else if (replace)
			json_array_set(parent, idx, value);
		else
			json_array_insert(parent, idx, value);
	} else {
		rc = set_err(err, "doc is missing path: \"%s\": missing value", ptr);
	}
	json_decref(value);
	free(tok);
	return rc;
}

static int remove_ptr(json_t *doc, const char *ptr, char **err)
{
	char *tok;
	json_t *parent = *ptr ? resolve_parent(doc, ptr, &tok) : (tok = NULL, NULL);
	size_t idx;
	int rc = 0;
	if (!parent || !tok)
		rc = set_err(err, "doc is missing path: \"%s\": missing value", ptr);
	else if (json_is_object(parent)) {
		if (json_object_del(parent, tok) != 0)
			rc = set_err(err, "doc is missing key: \"%s\": missing value", ptr);
	} else if (json_is_array(parent) && array_index(parent, tok, false, &idx)) {
		json_array_remove(parent, idx);
	} else {
		rc = set_err(err, "unable to remove nonexistent key: \"%s\": missing value", ptr);
	}
	free(tok);
	return rc;
}

int dc_json_patch(json_t **out, const json_t *target, const json_t *ops, char **err)
{
	json_t *doc, *op;
	size_t i;
	*out = NULL;
	if (!json_is_array(ops))
		return set_err(err, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"), 400;
	/* validate the whole document first: a malformed patch changes nothing */
	json_array_foreach(ops, i, op) {
		const char *name = json_string_value(json_object_get(op, "op"));
		const char *path = json_string_value(json_object_get(op, "path"));
		if (!json_is_object(op) || !name || !path)
			return set_err(err, "invalid JSON patch operation %zu: needs \"op\" and \"path\"", i), 400;
		if (strcmp(name, "add") && strcmp(name, "remove") && strcmp(name, "replace") &&
		    strcmp(name, "move") && strcmp(name, "copy") && strcmp(name, "test"))
			return set_err(err, "Unexpected kind: %s", name), 400;
		if ((!strcmp(name, "add") || !strcmp(name, "replace") || !strcmp(name, "test")) &&
		    !json_object_get(op, "value"))
			return set_err(err, "operation %zu (%s) is missing \"value\"", i, name), 400;
		if ((!strcmp(name, "move") || !strcmp(name, "copy")) &&
		    !json_is_string(json_object_get(op, "from")))
			return set_err(err, "operation %zu (%s) is missing \"from\"", i, name), 400;
		if (path[0] && path[0] != '/')
			return set_err(err, "invalid JSON pointer \"%s\"", path), 400;
	}
	doc = json_deep_copy(target);
	json_array_foreach(ops, i, op) {
		const char *name = json_string_value(json_object_get(op, "op"));
		const char *path = json_string_value(json_object_get(op, "path"));
		const char *from = json_string_value(json_object_get(op, "from"));
		json_t *value = json_object_get(op, "value");
		int rc = 0;
		if (!strcmp(name, "add")) {
			rc = put_ptr(&doc, path, json_deep_copy(value), false, err);
		} else if (!strcmp(name, "replace")) {
			rc = get_ptr(doc, path) ? put_ptr(&doc, path, json_deep_copy(value), true, err)
				: set_err(err, "replace operation does not apply: doc is missing key: %s: missing value", path);
		} else if (!strcmp(name, "remove")) {
			rc = remove_ptr(doc, path, err);
		} else if (!strcmp(name, "test")) {
			json_t *cur = get_ptr(doc, path);
			if (!cur || !json_equal(cur, value))
				rc = set_err(err, "testing value %s failed: test failed", path);
		} else { /* move, copy */
			json_t *v = get_ptr(doc, from);
			size_t fl = strlen(from);
			if (!v) {
				rc = set_err(err, "%s operation does not apply: doc is missing from path: %s: missing value", name, from);
			} else if (!strcmp(name, "move") && !strncmp(path, from, fl) && path[fl] == '/') {
				rc = set_err(err, "move operation: \"from\" %s is a prefix of \"path\" %s", from, path);
			} else {
				v = json_deep_copy(v);
				if (!strcmp(name, "move"))
					rc = remove_ptr(doc, from, err);
				if (rc == 0)
					rc = put_ptr(&doc, path, v, false, err);
				else
					json_decref(v);
			}
		}
		if (rc != 0) {
			json_decref(doc);
			return 422;
		}
	}
	*out = doc;
	return 0;
}

static int json_patch_fn(json_t **out, const json_t *target, const json_t *patch,
	const dc_patch_ctx *ctx, char **err)
{
	(void)ctx;
	return dc_json_patch(out, target, patch, err);
}

static int smp_fn(json_t **out, const json_t *target, const json_t *patch,
	const dc_patch_ctx *ctx, char **err)
{
	return dc_smp_apply(out, target, patch, ctx->rt, err);
}

const dc_patch_type dc_patch_types[] = {
	{ "application/merge-patch+json", merge_patch_fn, NULL },
	{ "application/json-patch+json", json_patch_fn, NULL },
	{ "application/strategic-merge-patch+json", smp_fn, NULL },
	{ "application/apply-patch+yaml", NULL, NULL },
	{ NULL, NULL, NULL }
};

const dc_patch_type *dc_patch_type_find(const char *content_type)
{
	const dc_patch_type *t;
	size_t n = content_type ? strcspn(content_type, ";") : 0;
	while (n > 0 && content_type[n - 1] == ' ')
		n--;
	for (t = dc_patch_types; t->media_type; t++)
		if (strlen(t->media_type) == n && !strncasecmp(content_type, t->media_type, n))
			return t;
	return NULL;
}

char *dc_patch_unsupported_message(void)
{
	const dc_patch_type *t;
	peerop__buf b = PEEROP__BUF_INIT;
	peerop__buf_puts(&b, "the body of the request was in an unknown format - accepted media types include: ");
	for (t = dc_patch_types; t->media_type; t++)
		peerop__buf_printf(&b, "%s%s", t == dc_patch_types ? "" : ", ", t->media_type);
	return peerop__buf_detach(&b);
}

int dc_patch_apply(json_t **out, const dc_patch_type *pt, const json_t *target,
	const char *body, size_t len, const dc_patch_ctx *ctx, char **err)
{
	json_error_t jerr;
	json_t *patch;
	int rc;

	*out = NULL;
	*err = NULL;
	if (pt->decode) {
		patch = pt->decode(body ? body : "", len, err);
	} else {
		patch = json_loadb(body ? body : "", len, JSON_DECODE_ANY, &jerr);
		if (!patch)
			set_err(err, "error decoding patch: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
	}
	if (!patch)
		return 400;
	rc = pt->apply(out, target, patch, ctx, err);
	json_decref(patch);
	if (rc == 0 && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		set_err(err, "the patch did not produce an object");
		return 422;
	}
	return rc;
}
