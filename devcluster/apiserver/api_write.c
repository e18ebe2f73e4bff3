/* api_write.c: POST (create), PUT (update) and PATCH, for objects and for
 * their status and scale subresources. Every write funnels into
 * write_locked(), which applies the real server's rules: preconditions,
 * system metadata, status/spec separation, generation, no-op detection. */
#include "apiserver.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool media_is(const char *ct, const char *want)
{
	size_t n = strlen(want);
	while (ct && *ct == ' ')
		ct++;
	return ct && !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The body of a create or update: JSON, YAML, or the protobuf encoding of
 * the kinds typed clients send (protobuf.c). Replies and returns NULL on
 * failure. */
json_t *dc_req_body(dc_req *rq, dc_resp *rs)
{
	json_error_t jerr;
	json_t *o = NULL;
	char *err = NULL;
	if (media_is(rq->content_type, "application/vnd.kubernetes.protobuf")) {
		int code = dc_protobuf_decode(rq->body ? rq->body : "", rq->body_len, &o, &err);
		if (code) {
			dc_resp_error(rs, code, NULL, "%s", err ? err : "the protobuf body could not be decoded");
			free(err);
			return NULL;
		}
	} else if (media_is(rq->content_type, "application/yaml")) {
		o = dc_yaml_decode(rq->body, rq->body_len, &err);
		if (!o) {
			dc_resp_error(rs, 400, "BadRequest", "the body of the request could not be decoded: %s", err ? err : "");
			free(err);
			return NULL;
		}
	} else if (rq->content_type && *rq->content_type && !media_is(rq->content_type, "application/json") &&
	    !media_is(rq->content_type, "*/*")) {
		dc_resp_error(rs, 415, "UnsupportedMediaType",
			"the body of the request was in an unknown format - accepted media types include: application/json, "
			"application/yaml, application/vnd.kubernetes.protobuf");
		return NULL;
	} else {
		o = json_loadb(rq->body ? rq->body : "", rq->body_len, 0, &jerr);
	}
	if (!o) {
		dc_resp_error(rs, 400, "BadRequest", "the body of the request could not be decoded: %s (line %d, column %d)",
			jerr.text, jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(o) || (json_object_get(o, "metadata") && !json_is_object(json_object_get(o, "metadata")))) {
		json_decref(o);
		dc_resp_error(rs, 400, "BadRequest", "the body of the request must be a JSON object with an object \"metadata\"");
		return NULL;
	}
	return o;
}

/* kind and apiVersion, when the body has them, must name the target type. */
static bool check_kind(const dc_rtype *rt, const json_t *o, const char *kind, const char *api_version, dc_resp *rs)
{
	const char *k = json_string_value(json_object_get(o, "kind"));
	const char *v = json_string_value(json_object_get(o, "apiVersion"));
	if ((json_object_get(o, "kind") && !k) || (json_object_get(o, "apiVersion") && !v)) {
		dc_resp_error(rs, 400, "BadRequest", "kind and apiVersion must be strings");
		return false;
	}
	if (v && *v && strcmp(v, api_version)) {
		dc_resp_error(rs, 400, "BadRequest", "the API version in the data (%s) does not match the expected API version (%s)", v, api_version);
		return false;
	}
	if (k && *k && strcmp(k, kind)) {
		dc_resp_error(rs, 400, "BadRequest", "the kind in the data (%s) does not match the expected kind (%s) for %s",
			k, kind, rt->coll->resource);
		return false;
	}
	return true;
}

json_t *dc_invalid(const dc_rtype *rt, const char *name, const char *field, const char *cause, const char *detail)
{
	char msg[1200];
	json_t *st;
	/* the qualified kind, as the real server writes it: "Deployment.apps" */
	snprintf(msg, sizeof(msg), "%s%s%s \"%s\" is invalid: %s: %s", rt->kind, rt->group[0] ? "." : "",
		rt->group, name ? name : "", field, detail);
	st = dc_status(422, "Invalid", msg, name, rt->group, rt->kind);
	json_object_set_new(json_object_get(st, "details"), "causes",
		json_pack("[{s:s,s:s,s:s}]", "reason", cause, "message", detail, "field", field));
	return st;
}

/* RFC 1123 subdomain (max 253) or label (max 63, no dots). NULL if valid. */
static const char *name_problem(const char *n, bool label)
{
	size_t len = strlen(n), i;
	if (len == 0)
		return "must not be empty";
	if (len > (label ? 63u : 253u))
		return label ? "must be no more than 63 characters" : "must be no more than 253 characters";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)n[i];
		bool ok = (c >= 'a' && c <= 'z') || isdigit(c) || c == '-' || (!label && c == '.');
		if (!ok)
			goto bad;
	}
	if (!isalnum((unsigned char)n[0]) || !isalnum((unsigned char)n[len - 1]))
		goto bad;
	return NULL;
bad:
	return label ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
		"and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
		"for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
		: "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
		"and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
		"validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
}

static int buf_dump(const char *p, size_t n, void *b)
{
	return peerop__buf_put(b, p, n) == 0 ? 0 : -1;
}

static void reply_obj(dc_resp *rs, int code, const dc_rtype *rt, const json_t *obj, bool scale)
{
	peerop__buf b = PEEROP__BUF_INIT;
	size_t len;
	int rc;
	if (scale) {
		dc_resp_json(rs, code, dc_scale_get(rt, obj));
		return;
	}
	if (rt->storage || !rt->to_version)
		/* the storage version needs no conversion: dump obj itself */
		rc = peerop__buf_puts(&b, "") || json_dump_callback(obj, buf_dump, &b, JSON_COMPACT | JSON_PRESERVE_ORDER);
	else
		rc = dc_rtype_render_json(rt, json_deep_copy(obj), &b);
	if (rc != 0) {
		peerop__buf_dispose(&b);
		dc_resp_error(rs, 500, "InternalError", "out of memory");
		return;
	}
	len = b.len;
	rs->content_type = "application/json";
	dc_resp_raw(rs, code, peerop__buf_detach(&b), len);
}

static void reply_commit_error(dc_resp *rs, int rc)
{
	dc_resp_error(rs, 500, "InternalError", "the write could not be persisted: %s",
		rc == PEEROP_EIO ? peerop_error_last()->message : peerop_strerror(rc));
}

/* obj minus metadata and status: what generation tracks */
static json_t *spec_part(const json_t *o)
{
	json_t *c = json_copy((json_t *)o);
	json_object_del(c, "metadata");
	json_object_del(c, "status");
	return c;
}

static void copy_field(json_t *dst, const json_t *src, const char *key)
{
	json_t *v = json_object_get(src, key);
	if (v)
		json_object_set(dst, key, v);
	else
		json_object_del(dst, key);
}

static bool finalizers_added(const json_t *old, const json_t *nw)
{
	json_t *of = dc_json_path(old, "metadata.finalizers"), *nf = dc_json_path(nw, "metadata.finalizers"), *v, *w;
	size_t i, j;
	json_array_foreach(nf, i, v) {
		bool found = false;
		json_array_foreach(of, j, w)
			if (json_equal(v, w))
				found = true;
		if (!found)
			return true;
	}
	return false;
}

/* fieldValidation: Ignore, Warn (treated as Ignore: no warning headers)
 * or Strict. false: a bad value, 400 replied. */
static bool field_validation_ok(dc_req *rq, dc_resp *rs)
{
	const char *fv = dc_req_query(rq, "fieldValidation");
	if (!fv || !*fv || !strcmp(fv, "Ignore") || !strcmp(fv, "Warn") || !strcmp(fv, "Strict"))
		return true;
	dc_resp_error(rs, 400, "BadRequest", "fieldValidation: Unsupported value: \"%s\": supported values: "
		"\"Ignore\", \"Strict\", \"Warn\"", fv);
	return false;
}

/* A type's admission hook (schema defaulting, pruning, validation): false
 * when it rejected obj, with the reply set. */
static bool admitted(const dc_req *rq, const dc_rtype *rt, json_t *obj, const json_t *old, bool status_only,
	dc_resp *rs)
{
	const char *fv = dc_req_query(rq, "fieldValidation");
	unsigned flags = (status_only ? DC_ADMIT_STATUS : 0) | (fv && !strcmp(fv, "Strict") ? DC_ADMIT_STRICT : 0);
	json_t *st = rt->admit ? rt->admit(rt, obj, old, flags) : NULL;
	if (!st && !status_only)
		st = dc_psa_admit(rq->srv->store, rt, obj, old, rs);
	if (!st)
		return true;
	dc_resp_status(rs, st);
	return false;
}

/* An update of entry e with in (storage form). Lock held; replies. */
void dc_update_locked(dc_req *rq, dc_resp *rs, const dc_rtype *rt, dc_entry *e,
	json_t *in, bool status_only, int dry, bool scale_reply)
{
	dc_store *s = rq->srv->store;
	json_t *old = dc_obj_parse(e->obj), *nw, *om, *nm, *a, *b;
	const char *rvp = dc_json_str(in, "metadata.resourceVersion");
	const char *uidp = dc_json_str(in, "metadata.uid");
	char cur_rv[32];
	dc_obj *stored = NULL;
	bool changed;
	int rc;
	static const char *const system_meta[] = { "uid", "creationTimestamp", "deletionTimestamp",
		"deletionGracePeriodSeconds", "generation", "namespace", "name" };
	size_t i;

	snprintf(cur_rv, sizeof(cur_rv), "%llu", (unsigned long long)e->obj->rv);
	if (rvp && *rvp && strcmp(rvp, cur_rv)) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "Operation cannot be fulfilled on %s \"%s\": the object has been "
			"modified; please apply your changes to the latest version and try again",
			rt->coll->resource, e->obj->name);
		dc_resp_status(rs, dc_status(409, "Conflict", msg, e->obj->name, rt->group, rt->plural));
		goto out_old;
	}
	if (uidp && *uidp && strcmp(uidp, e->obj->uid)) {
		char msg[256];
		snprintf(msg, sizeof(msg), "Precondition failed: UID in precondition: %s, UID in object meta: %s",
			uidp, e->obj->uid);
		dc_resp_status(rs, dc_status(409, "Conflict", msg, e->obj->name, rt->group, rt->plural));
		goto out_old;
	}
	if (status_only) {
		/* a status write changes only .status (and, from server-side
		 * apply, the managedFields it computed) */
		nw = json_deep_copy(old);
		copy_field(nw, in, "status");
		if (rq->managed_done)
			copy_field(dc_json_meta(nw), json_object_get(in, "metadata"), "managedFields");
	} else {
		/* in is the caller's, only released after this: changed in place
		 * (a deep copy per write showed in profiles) */
		nw = json_incref(in);
		if (rt->flags & DC_RT_STATUS)
			copy_field(nw, old, "status");
	}
	om = json_object_get(old, "metadata");
	nm = dc_json_meta(nw);
	for (i = 0; i < PEEROP__ARRAY_SIZE(system_meta); i++)
		copy_field(nm, om, system_meta[i]);
	json_object_del(nm, "selfLink");
	if (json_object_get(om, "deletionTimestamp") && finalizers_added(old, nw)) {
		dc_resp_status(rs, dc_invalid(rt, e->obj->name, "metadata.finalizers", "FieldValueForbidden",
			"Forbidden: no new finalizers can be added if the object is being deleted"));
		goto out_nw;
	}
	if (rt->coll->on_commit == dc_crd_on_commit && !status_only) {
		char *msg = dc_crd_validate(s, nw, old);
		if (msg) {
			dc_resp_status(rs, dc_invalid(rt, e->obj->name, "spec", "FieldValueInvalid", msg));
			free(msg);
			goto out_nw;
		}
	}
	if (!admitted(rq, rt, nw, old, status_only, rs))
		goto out_nw;
	if (rt->flags & DC_RT_GENERATION) {
		json_int_t g = json_integer_value(json_object_get(om, "generation"));
		a = spec_part(old);
		b = spec_part(nw);
		if (!json_equal(a, b))
			g++;
		json_object_set_new(nm, "generation", json_integer(g ? g : 1));
		json_decref(a);
		json_decref(b);
	}
	if (!rq->managed_done) {
		char *err = NULL;
		int code = dc_managed_update(rq, rt, nw, old, status_only ? "status" : scale_reply ? "scale" : "", &err);
		if (code) {
			dc_resp_error(rs, code, NULL, "%s", err ? err : "invalid managedFields");
			free(err);
			goto out_nw;
		}
		nm = dc_json_meta(nw);
	}
	/* a write that changes nothing is not a new revision */
	json_object_del(nm, "resourceVersion");
	json_object_del(om, "resourceVersion");
	changed = !json_equal(old, nw);
	json_object_set_new(om, "resourceVersion", json_string(cur_rv));
	if (!changed || dry) {
		json_object_set_new(nm, "resourceVersion", json_string(cur_rv));
		reply_obj(rs, 200, rt, changed ? nw : old, scale_reply);
		goto out_nw;
	}
	rc = dc_store_commit(s, e->coll, e->obj->ns, e->obj->name, nw, &stored);
	if (rc != 0) {
		reply_commit_error(rs, rc);
		goto out_nw;
	}
	if (!scale_reply && (rt->storage || !rt->to_version)) {
		/* the stored form is the reply: no second serialization */
		char *copy = malloc(stored->len + 1);
		if (copy) {
			memcpy(copy, stored->json, stored->len + 1);
			rs->content_type = "application/json";
			dc_resp_raw(rs, 200, copy, stored->len);
		} else {
			dc_resp_error(rs, 500, "InternalError", "out of memory");
		}
	} else {
		reply_obj(rs, 200, rt, nw, scale_reply);
	}
	/* the last finalizer removed from an object being deleted: it goes now */
	if (stored->deleting && stored->nfinalizers == 0) {
		dc_obj *gone = dc_obj_ref(stored);
		if (dc_store_commit(s, e->coll, gone->ns, gone->name, NULL, NULL) == 0)
			dc_gc_after_remove(s, gone);
		dc_obj_unref(gone);
	} else if (stored->nowners) {
		dc_obj *kept = dc_obj_ref(stored);
		dc_gc_dangling(s, e->coll, kept->ns, kept->name);
		dc_obj_unref(kept);
	}
out_nw:
	json_decref(nw);
out_old:
	json_decref(old);
}

static bool split_ns_check(const dc_target *t, json_t *in, dc_resp *rs, bool namespaced)
{
	json_t *meta = dc_json_meta(in);
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	if (!namespaced) {
		json_object_del(meta, "namespace");
		return true;
	}
	if (ns && *ns && t->ns && strcmp(ns, t->ns)) {
		dc_resp_error(rs, 400, "BadRequest",
			"the namespace of the provided object does not match the namespace sent on the request");
		return false;
	}
	if (t->ns)
		json_object_set_new(meta, "namespace", json_string(t->ns));
	return true;
}

static void random_suffix(char out[6])
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	int i;
	for (i = 0; i < 5; i++)
		out[i] = alphabet[peerop__rand_below(sizeof(alphabet) - 1)];
	out[5] = '\0';
}

void dc_api_create(dc_req *rq, dc_resp *rs, const dc_target *t0)
{
	dc_store *s = rq->srv->store;
	dc_target t = *t0;
	json_t *in = field_validation_ok(rq, rs) ? dc_req_body(rq, rs) : NULL;
	int dry = in ? dc_dry_run(rq, rs) : 0;

	if (!in || dry < 0) {
		json_decref(in);
		return;
	}
	if (!dc_target_lock(s, &t, rs)) {
		json_decref(in);
		return;
	}
	if (check_kind(t.rt, in, t.rt->kind, t.rt->api_version, rs) && split_ns_check(&t, in, rs, t.rt->namespaced)) {
		dc_rtype_in(t.rt, in);
		dc_create_locked(rq, rs, &t, in, dry);
	}
	pthread_mutex_unlock(&s->mu);
	json_decref(in);
}

void dc_create_locked(dc_req *rq, dc_resp *rs, const dc_target *tp, json_t *in, int dry)
{
	dc_store *s = rq->srv->store;
	const dc_target t = *tp;
	const dc_rtype *rt = t.rt;
	json_t *meta = dc_json_meta(in);
	const char *name, *gen;
	char *genname = NULL, uid[37], ts[32];
	const char *problem;
	dc_entry *nse;
	int rc;

	name = json_string_value(json_object_get(meta, "name"));
	gen = json_string_value(json_object_get(meta, "generateName"));
	if ((!name || !*name) && gen && *gen) {
		int tries;
		for (tries = 0; tries < 8; tries++) {
			char sfx[6];
			free(genname);
			random_suffix(sfx);
			if (asprintf(&genname, "%.*s%s", 58, gen, sfx) < 0) {
				genname = NULL;
				break;
			}
			if (!dc_coll_get(rt->coll, rt->namespaced ? t.ns : "", genname))
				break;
		}
		if (genname)
			json_object_set_new(meta, "name", json_string(genname));
		name = genname;
	}
	if (!name || !*name) {
		dc_resp_status(rs, dc_invalid(rt, "", "metadata.name", "FieldValueRequired",
			"Required value: name or generateName is required"));
		goto out;
	}
	problem = name_problem(name, !strcmp(rt->plural, "namespaces") && !rt->group[0]);
	if (problem) {
		char detail[1024];
		snprintf(detail, sizeof(detail), "Invalid value: \"%.300s\": %s", name, problem);
		dc_resp_status(rs, dc_invalid(rt, name, "metadata.name", "FieldValueInvalid", detail));
		goto out;
	}
	if (rt->namespaced) {
		const dc_rtype *nsrt = dc_rtype_find(s, "", "v1", "namespaces");
		nse = dc_coll_get(nsrt->coll, "", t.ns);
		if (!nse) {
			dc_resp_status(rs, dc_not_found(nsrt, t.ns));
			goto out;
		}
		if (nse->obj->deleting) {
			char msg[1024];
			snprintf(msg, sizeof(msg), "%s \"%s\" is forbidden: unable to create new content in namespace %s "
				"because it is being terminated", rt->coll->resource, name, t.ns);
			dc_resp_status(rs, dc_status(403, "Forbidden", msg, name, rt->group, rt->plural));
			goto out;
		}
	}
	if (dc_coll_get(rt->coll, rt->namespaced ? t.ns : "", name)) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s \"%s\" already exists", rt->coll->resource, name);
		dc_resp_status(rs, dc_status(409, "AlreadyExists", msg, name, rt->group, rt->plural));
		goto out;
	}
	/* system metadata is the server's */
	dc_new_uid(uid);
	dc_now_rfc3339(ts, sizeof(ts));
	json_object_set_new(meta, "uid", json_string(uid));
	json_object_set_new(meta, "creationTimestamp", json_string(ts));
	json_object_del(meta, "resourceVersion");
	json_object_del(meta, "deletionTimestamp");
	json_object_del(meta, "deletionGracePeriodSeconds");
	json_object_del(meta, "selfLink");
	if (rt->flags & DC_RT_GENERATION)
		json_object_set_new(meta, "generation", json_integer(1));
	else
		json_object_del(meta, "generation");
	/* with a status subresource, status is not settable on create */
	if (rt->flags & DC_RT_STATUS)
		json_object_del(in, "status");
	if (rt->coll->storage_type && rt->coll->storage_type->defaults)
		rt->coll->storage_type->defaults(in);
	if (!admitted(rq, rt, in, NULL, false, rs))
		goto out;
	if (!rq->managed_done) {
		char *err = NULL;
		int code = dc_managed_update(rq, rt, in, NULL, "", &err);
		if (code) {
			dc_resp_error(rs, code, NULL, "%s", err ? err : "invalid managedFields");
			free(err);
			goto out;
		}
	}
	if (rt->coll->on_commit == dc_crd_on_commit) {
		char *msg = dc_crd_validate(s, in, NULL);
		if (msg) {
			dc_resp_status(rs, dc_invalid(rt, name, "spec", "FieldValueInvalid", msg));
			free(msg);
			goto out;
		}
		dc_crd_set_status(in);
	}
	if (!dry) {
		rc = dc_store_commit(s, rt->coll, rt->namespaced ? t.ns : "", name, in, NULL);
		if (rc != 0) {
			reply_commit_error(rs, rc);
			goto out;
		}
	}
	reply_obj(rs, 201, rt, in, false);
	if (!dry)
		dc_gc_dangling(s, rt->coll, rt->namespaced ? t.ns : "", name);
	/* the serviceaccounts controller's part, done at once */
	if (!dry && !rt->group[0] && !strcmp(rt->plural, "namespaces"))
		dc_store_ensure_default_sa(s, name);
out:
	free(genname);
}

static dc_entry *find_or_404(dc_store *s, const dc_target *t, dc_resp *rs)
{
	dc_entry *e = dc_coll_get(t->rt->coll, t->rt->namespaced ? t->ns : "", t->name);
	if (!e)
		dc_resp_status(rs, dc_not_found(t->rt, t->name));
	(void)s;
	return e;
}

/* Scale PUT/PATCH: the new Scale sc becomes spec replicas of the object. */
static void scale_write(dc_req *rq, dc_resp *rs, const dc_rtype *rt, dc_entry *e, const json_t *sc, int dry)
{
	json_t *obj = dc_obj_parse(e->obj);
	char *err = NULL;
	const char *rvp = dc_json_str(sc, "metadata.resourceVersion");
	int code = dc_scale_set(rt, obj, sc, &err);
	if (code) {
		dc_resp_status(rs, dc_invalid(rt, e->obj->name, "spec.replicas", "FieldValueInvalid", err ? err : "invalid"));
		free(err);
		json_decref(obj);
		return;
	}
	/* the Scale's resourceVersion is the object's: a precondition */
	if (rvp)
		json_object_set_new(dc_json_meta(obj), "resourceVersion", json_string(rvp));
	else
		json_object_del(dc_json_meta(obj), "resourceVersion");
	dc_update_locked(rq, rs, rt, e, obj, false, dry, true);
	json_decref(obj);
}

void dc_api_update(dc_req *rq, dc_resp *rs, const dc_target *t0)
{
	dc_store *s = rq->srv->store;
	dc_target t = *t0;
	json_t *in = field_validation_ok(rq, rs) ? dc_req_body(rq, rs) : NULL;
	const char *name;
	int dry = in ? dc_dry_run(rq, rs) : 0;
	bool scale = t.sub && !strcmp(t.sub, "scale");
	dc_entry *e;

	if (!in || dry < 0) {
		json_decref(in);
		return;
	}
	if (!dc_target_lock(s, &t, rs)) {
		json_decref(in);
		return;
	}
	if (scale ? !check_kind(t.rt, in, "Scale", "autoscaling/v1", rs)
		  : !check_kind(t.rt, in, t.rt->kind, t.rt->api_version, rs))
		goto out;
	name = dc_json_str(in, "metadata.name");
	if (name && *name && strcmp(name, t.name)) {
		dc_resp_error(rs, 400, "BadRequest", "the name of the object (%s) does not match the name on the URL (%s)",
			name, t.name);
		goto out;
	}
	if (!scale && !split_ns_check(&t, in, rs, t.rt->namespaced))
		goto out;
	if (!(e = find_or_404(s, &t, rs)))
		goto out;
	if (scale) {
		scale_write(rq, rs, t.rt, e, in, dry);
	} else {
		dc_rtype_in(t.rt, in);
		dc_update_locked(rq, rs, t.rt, e, in, t.sub != NULL, dry, false);
	}
out:
	pthread_mutex_unlock(&s->mu);
	json_decref(in);
}

void dc_api_patch(dc_req *rq, dc_resp *rs, const dc_target *t0)
{
	dc_store *s = rq->srv->store;
	dc_target t = *t0;
	int dry = dc_dry_run(rq, rs), code;
	bool scale = t.sub && !strcmp(t.sub, "scale");
	const dc_patch_type *pt = dc_patch_type_find(rq->content_type);
	dc_patch_ctx ctx;
	json_t *cur = NULL, *target = NULL, *patched = NULL;
	char *err = NULL;
	dc_entry *e;

	if (dry < 0 || !field_validation_ok(rq, rs))
		return;
	if (!pt) {
		err = dc_patch_unsupported_message();
		dc_resp_error(rs, 415, "UnsupportedMediaType", "%s", err ? err : "unsupported patch type");
		free(err);
		return;
	}
	if (pt->apply && dc_req_query(rq, "force")) {
		dc_resp_status(rs, dc_status(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: force: "
			"Forbidden: may not be specified for non-apply patch", NULL, "meta.k8s.io", "PatchOptions"));
		return;
	}
	if (!dc_target_lock(s, &t, rs))
		return;
	if (!pt->apply) {
		/* server-side apply creates a missing object */
		dc_apply_locked(rq, rs, &t, dc_coll_get(t.rt->coll, t.rt->namespaced ? t.ns : "", t.name), dry);
		goto out;
	}
	if (!(e = find_or_404(s, &t, rs)))
		goto out;
	cur = dc_obj_parse(e->obj);
	dc_rtype_out(t.rt, cur);
	target = scale ? dc_scale_get(t.rt, cur) : json_incref(cur);
	ctx.rq = rq;
	ctx.rt = t.rt;
	ctx.exists = true;
	code = dc_patch_apply(&patched, pt, target, rq->body, rq->body_len, &ctx, &err);
	if (code) {
		if (code == 422) {
			/* as the real server: a generic 422 with the reason as a cause
			 * (kubectl prints "The request is invalid: <reason>") */
			json_t *st = dc_status(422, "Invalid", "the server rejected our request due to an error in our request",
				NULL, NULL, NULL);
			json_object_set_new(st, "details", json_pack("{s:[{s:s,s:s}]}", "causes", "reason",
				"UnexpectedServerResponse", "message", err ? err : "invalid patch"));
			dc_resp_status(rs, st);
		} else
			dc_resp_error(rs, code, NULL, "%s", err ? err : "invalid patch");
		goto out;
	}
	if (scale) {
		scale_write(rq, rs, t.rt, e, patched, dry);
	} else {
		const char *name = dc_json_str(patched, "metadata.name");
		if (!check_kind(t.rt, patched, t.rt->kind, t.rt->api_version, rs))
			goto out;
		if (!name || strcmp(name, t.name)) {
			dc_resp_error(rs, 400, "BadRequest", "the name of the object (%s) does not match the name on the URL (%s)",
				name ? name : "", t.name);
			goto out;
		}
		dc_rtype_in(t.rt, patched);
		dc_update_locked(rq, rs, t.rt, e, patched, t.sub != NULL, dry, false);
	}
out:
	pthread_mutex_unlock(&s->mu);
	free(err);
	json_decref(cur);
	json_decref(target);
	json_decref(patched);
}
