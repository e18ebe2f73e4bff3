/* api_read.c: GET of one object (and its status, scale and log
 * subresources) and LIST with selectors and limit/continue paging. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

static const char *ns_of(const dc_target *t)
{
	return t->rt->namespaced ? (t->ns ? t->ns : "") : "";
}

void dc_api_get(dc_req *rq, dc_resp *rs, const dc_target *t0)
{
	dc_store *s = rq->srv->store;
	dc_target t = *t0;
	dc_entry *e;
	peerop__buf b = PEEROP__BUF_INIT;
	size_t len;
	dc_include inc;
	int table = t.sub ? 0 : dc_table_wanted(rq, rs, &inc);

	if (table < 0 || !dc_target_lock(s, &t, rs))
		return;
	e = dc_coll_get(t.rt->coll, ns_of(&t), t.name);
	if (!e) {
		dc_resp_status(rs, dc_not_found(t.rt, t.name));
	} else if (t.sub && !strcmp(t.sub, "scale")) {
		json_t *obj = dc_obj_parse(e->obj);
		dc_resp_json(rs, 200, dc_scale_get(t.rt, obj));
		json_decref(obj);
	} else if (t.sub && !strcmp(t.sub, "log")) {
		dc_api_log_locked(rq, rs, e);
	} else if (table && dc_table_render(&b, t.rt, &e->obj, 1, inc, true, NULL) == 0) {
		rs->content_type = DC_TABLE_CONTENT_TYPE;
		len = b.len;
		dc_resp_raw(rs, 200, peerop__buf_detach(&b), len);
	} else if (!table && dc_rtype_render(t.rt, e->obj, &b) == 0) {
		rs->content_type = "application/json";
		len = b.len;
		dc_resp_raw(rs, 200, peerop__buf_detach(&b), len);
	} else {
		dc_resp_error(rs, 500, "InternalError", "out of memory");
	}
	pthread_mutex_unlock(&s->mu);
	peerop__buf_dispose(&b);
}

/* ---- continue tokens: base64url of {"v":"meta.k8s.io/v1","rv":N,"start":KEY},
 * the shape the real server uses; KEY is the last key already returned. */

static char *token_encode(uint64_t rv, const char *last_key)
{
	json_t *j = json_pack("{s:s,s:I,s:s}", "v", "meta.k8s.io/v1", "rv", (json_int_t)rv, "start", last_key);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	size_t n = s ? strlen(s) : 0, i;
	unsigned char *out = s ? malloc(4 * ((n + 2) / 3) + 1) : NULL;
	int len;
	json_decref(j);
	if (!out) {
		free(s);
		return NULL;
	}
	len = EVP_EncodeBlock(out, (const unsigned char *)s, (int)n);
	free(s);
	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (i = 0; i < (size_t)len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	return (char *)out;
}

/* Returns 0, or 400 with *err. */
static int token_decode(const char *tok, uint64_t *rv, char **start, char **err)
{
	size_t n = strlen(tok), i, padded;
	unsigned char *in, *out;
	int len;
	json_t *j;
	json_t *rvj;
	const char *st;

	*start = NULL;
	if (n == 0 || n > 8192) {
		*err = strdup("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
		return 400;
	}
	padded = (n + 3) / 4 * 4;
	in = malloc(padded + 1);
	out = malloc(padded + 1);
	if (!in || !out) {
		free(in);
		free(out);
		*err = strdup("out of memory");
		return 500;
	}
	for (i = 0; i < n; i++)
		in[i] = (unsigned char)(tok[i] == '-' ? '+' : tok[i] == '_' ? '/' : tok[i]);
	for (; i < padded; i++)
		in[i] = '=';
	in[padded] = '\0';
	len = EVP_DecodeBlock(out, in, (int)padded);
	free(in);
	if (len < 0) {
		free(out);
		*err = strdup("continue key is not valid: illegal base64 data");
		return 400;
	}
	while (len > 0 && out[len - 1] == '\0')
		len--;
	j = json_loadb((const char *)out, (size_t)len, 0, NULL);
	free(out);
	rvj = json_object_get(j, "rv");
	st = json_string_value(json_object_get(j, "start"));
	if (!j || !json_is_integer(rvj) || json_integer_value(rvj) <= 0 || !st ||
	    !json_is_string(json_object_get(j, "v")) ||
	    strcmp(json_string_value(json_object_get(j, "v")), "meta.k8s.io/v1")) {
		json_decref(j);
		*err = strdup("continue key is not valid: the encoded continue token is malformed");
		return 400;
	}
	*rv = (uint64_t)json_integer_value(rvj);
	*start = strdup(st);
	json_decref(j);
	return 0;
}

/* Shared by LIST and WATCH: parse labelSelector and fieldSelector. */
bool dc_parse_selectors(dc_req *rq, dc_resp *rs, const dc_rtype *rt,
	dc_selector **lsel, dc_selector **fsel)
{
	char *err = NULL;
	*lsel = *fsel = NULL;
	if (dc_label_selector_parse(lsel, dc_req_query(rq, "labelSelector"), &err) != 0) {
		dc_resp_error(rs, 400, "BadRequest", "%s", err ? err : "invalid label selector");
		free(err);
		return false;
	}
	if (dc_field_selector_parse(fsel, dc_req_query(rq, "fieldSelector"), &err) != 0 ||
	    (err = dc_field_selector_check(*fsel, rt)) != NULL) {
		dc_resp_error(rs, 400, "BadRequest", "%s", err ? err : "invalid field selector");
		free(err);
		dc_selector_free(*lsel);
		dc_selector_free(*fsel);
		*lsel = *fsel = NULL;
		return false;
	}
	return true;
}

bool dc_obj_matches(const dc_rtype *rt, const dc_obj *o, const char *ns,
	const dc_selector *lsel, const dc_selector *fsel)
{
	if (ns && strcmp(o->ns, ns))
		return false;
	return dc_label_selector_match(lsel, o->labels) && dc_field_selector_match(fsel, rt, o);
}

/* A List: {"kind":"XList","apiVersion":...,"metadata":META,"items":[...]},
 * items copied as stored (a memcpy when no version conversion is needed). */
static int render_list(peerop__buf *b, const dc_rtype *rt, dc_obj *const *objs, size_t n, const json_t *meta)
{
	char *m = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
	size_t i;
	int rc;
	if (!m)
		return PEEROP_ENOMEM;
	rc = peerop__buf_printf(b, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":%s,\"items\":[",
		rt->list_kind, rt->api_version, m);
	free(m);
	for (i = 0; rc == 0 && i < n; i++) {
		if (i)
			rc = peerop__buf_putc(b, ',');
		if (rc == 0)
			rc = dc_rtype_render(rt, objs[i], b);
	}
	return rc ? rc : peerop__buf_puts(b, "]}");
}

void dc_api_list(dc_req *rq, dc_resp *rs, const dc_target *t0)
{
	dc_store *s = rq->srv->store;
	dc_target t = *t0;
	dc_selector *lsel = NULL, *fsel = NULL;
	const char *limit_s = dc_req_query(rq, "limit");
	const char *cont = dc_req_query(rq, "continue");
	const char *rv_s = dc_req_query(rq, "resourceVersion");
	const char *match = dc_req_query(rq, "resourceVersionMatch");
	uint64_t limit = 0, want_rv = 0, list_rv, tok_rv = 0;
	char *start = NULL, *err = NULL, *next = NULL;
	peerop__buf b = PEEROP__BUF_INIT;
	size_t lo, hi, i, count = 0;
	dc_entry *last = NULL;
	bool more = false, filtered;
	dc_obj **page = NULL;
	json_t *meta = NULL;
	char rvbuf[32];
	dc_include inc;
	int table = dc_table_wanted(rq, rs, &inc), rc;

	if (table < 0)
		return;

	if (limit_s && *limit_s && (!dc_parse_rv(limit_s, &limit))) {
		dc_resp_error(rs, 400, "BadRequest", "limit: Invalid value: \"%s\": must be a non-negative integer", limit_s);
		return;
	}
	if (rv_s && *rv_s && !dc_parse_rv(rv_s, &want_rv)) {
		dc_resp_error(rs, 400, "BadRequest", "resourceVersion: Invalid value: \"%s\": must be an integer", rv_s);
		return;
	}
	if (dc_req_query(rq, "sendInitialEvents")) {
		dc_resp_error(rs, 422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list");
		return;
	}
	if (match && *match) {
		if (!rv_s || !*rv_s) {
			dc_resp_error(rs, 422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided");
			return;
		}
		if (strcmp(match, "NotOlderThan") && strcmp(match, "Exact")) {
			dc_resp_error(rs, 422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Unsupported value: \"%s\": supported values: \"Exact\", \"NotOlderThan\", \"\"", match);
			return;
		}
	}
	if (cont && *cont) {
		int code;
		if (rv_s && *rv_s && strcmp(rv_s, "0")) {
			dc_resp_error(rs, 400, "BadRequest", "specifying resource version is not allowed when using continue");
			return;
		}
		code = token_decode(cont, &tok_rv, &start, &err);
		if (code) {
			dc_resp_error(rs, code, NULL, "%s", err ? err : "invalid continue token");
			free(err);
			return;
		}
	}
	if (!dc_target_lock(s, &t, rs)) {
		free(start);
		return;
	}
	if (!dc_parse_selectors(rq, rs, t.rt, &lsel, &fsel))
		goto out;
	if (want_rv > s->rv && !dc_wait_rv(s, want_rv, 3000)) {
		dc_resp_too_large_rv(rs, want_rv, s->rv);
		goto out;
	}
	/* Without MVCC history, an exact read is only possible at the current
	 * revision; older ones are reported as compacted, as etcd does. */
	if (match && !strcmp(match, "Exact") && want_rv != s->rv) {
		dc_resp_error(rs, 410, "Expired", "too old resource version: %llu (%llu)",
			(unsigned long long)want_rv, (unsigned long long)s->rv);
		goto out;
	}
	if (start && tok_rv < s->compacted_rv) {
		dc_resp_error(rs, 410, "Expired", "The provided continue parameter is too old to display a "
			"consistent list result. You can start a new list without the continue parameter, or "
			"use the continue token in this response to retrieve the remainder of the results. "
			"Continuing with the provided token results in an inconsistent list - objects that were "
			"created, modified, or deleted between the time the first chunk was returned and now may "
			"show up in the list.");
		goto out;
	}
	list_rv = start ? tok_rv : s->rv;
	filtered = lsel || fsel;
	dc_coll_range(t.rt->coll, t.rt->namespaced ? t.ns : NULL, &lo, &hi);
	i = start ? dc_coll_after(t.rt->coll, lo, hi, start) : lo;
	page = malloc((hi > i ? hi - i : 1) * sizeof(*page));
	if (!page) {
		dc_resp_error(rs, 500, "InternalError", "out of memory");
		goto out;
	}
	for (; i < hi; i++) {
		dc_entry *e = t.rt->coll->arr[i];
		if (filtered && !dc_obj_matches(t.rt, e->obj, NULL, lsel, fsel))
			continue;
		if (limit && count == limit) {
			more = true;
			break;
		}
		page[count++] = e->obj;
		last = e;
	}
	snprintf(rvbuf, sizeof(rvbuf), "%llu", (unsigned long long)list_rv);
	meta = json_pack("{s:s}", "resourceVersion", rvbuf);
	if (more && last) {
		next = token_encode(list_rv, last->key);
		json_object_set_new(meta, "continue", json_string(next ? next : ""));
		if (!filtered)
			json_object_set_new(meta, "remainingItemCount", json_integer((json_int_t)(hi - i)));
	}
	if (table) {
		rc = dc_table_render(&b, t.rt, page, count, inc, true, meta);
		rs->content_type = DC_TABLE_CONTENT_TYPE;
	} else {
		rc = render_list(&b, t.rt, page, count, meta);
		rs->content_type = "application/json";
	}
	if (rc == 0) {
		size_t len = b.len;
		dc_resp_raw(rs, 200, peerop__buf_detach(&b), len);
	} else {
		dc_resp_error(rs, 500, "InternalError", "out of memory");
	}
out:
	pthread_mutex_unlock(&s->mu);
	dc_selector_free(lsel);
	dc_selector_free(fsel);
	peerop__buf_dispose(&b);
	json_decref(meta);
	free(page);
	free(start);
	free(next);
}
