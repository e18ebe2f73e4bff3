/* sa_token.c: ServiceAccount tokens as the real server issues them: JWTs
 * signed RS256 (OpenSSL), with the claims of kube-apiserver's TokenRequest
 * (iss, sub, aud, exp, iat, nbf, jti, and "kubernetes.io": namespace,
 * serviceaccount name and uid, the pod it is bound to), checked back on
 * every request (signature, time, audience, and that the ServiceAccount and
 * pod still exist with the same uid: deleting either revokes the token).
 * Also the TokenRequest subresource and TokenReview.
 *
 * The signing key (RSA 2048) is made at the first token, not at start: a
 * test suite starts hundreds of servers that never issue one. It lives as
 * long as the dc_server, across /_devcluster/restart. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#define MAX_JWT 16384

struct dc_sa_keys {
	pthread_mutex_t mu;
	EVP_PKEY *key;
	char kid[64];
};

dc_sa_keys *dc_sa_keys_new(void)
{
	dc_sa_keys *k = calloc(1, sizeof(*k));
	if (k)
		pthread_mutex_init(&k->mu, NULL);
	return k;
}

void dc_sa_keys_free(dc_sa_keys *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->key);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

/* ---- base64url without padding (RFC 7515) ---- */

static char *b64url(const unsigned char *in, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	size_t i, len;
	if (!out)
		return NULL;
	len = (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	return out;
}

/* Decode n characters of base64url; NULL if malformed. */
static unsigned char *unb64url(const char *in, size_t n, size_t *outlen)
{
	size_t pad = (4 - n % 4) % 4, i;
	char *tmp;
	unsigned char *out;
	int len;
	if (n % 4 == 1)
		return NULL;
	tmp = malloc(n + pad + 1);
	out = malloc((n + pad) / 4 * 3 + 1);
	if (!tmp || !out) {
		free(tmp);
		free(out);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		char c = in[i];
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			goto bad;
		tmp[i] = c;
	}
	memset(tmp + n, '=', pad);
	tmp[n + pad] = '\0';
	len = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)(n + pad));
	if (len < 0)
		goto bad;
	*outlen = (size_t)len - pad;
	out[*outlen] = '\0';
	free(tmp);
	return out;
bad:
	free(tmp);
	free(out);
	return NULL;
}

/* The key, made at the first use. Called with k->mu held. */
static EVP_PKEY *key_locked(dc_sa_keys *k)
{
	unsigned char *der = NULL, md[32];
	int n;
	char *kid;
	if (k->key)
		return k->key;
	k->key = EVP_RSA_gen(2048);
	if (!k->key)
		return NULL;
	/* the key id as kube-apiserver derives it: the SHA-256 of the public
	 * key's DER, base64url */
	n = i2d_PUBKEY(k->key, &der);
	if (n > 0 && EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL) == 1 && (kid = b64url(md, 32))) {
		snprintf(k->kid, sizeof(k->kid), "%s", kid);
		free(kid);
	}
	OPENSSL_free(der);
	return k->key;
}

static char *sign(dc_sa_keys *k, const char *input, size_t n)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	char *out = NULL;
	EVP_PKEY *key;
	pthread_mutex_lock(&k->mu);
	key = key_locked(k);
	if (ctx && key && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input, n) == 1)
		out = b64url(sig, siglen);
	pthread_mutex_unlock(&k->mu);
	EVP_MD_CTX_free(ctx);
	return out;
}

char *dc_sa_token_issue(dc_sa_keys *k, const char *ns, const char *sa, const char *sa_uid,
	const char *pod_name, const char *pod_uid, const json_t *audiences, int64_t ttl, int64_t *exp)
{
	time_t now = time(NULL);
	char jti[37], sub[600], kid[64];
	json_t *hdr, *claims, *kio, *aud;
	char *h = NULL, *c = NULL, *hb = NULL, *cb = NULL, *input = NULL, *sig = NULL, *out = NULL;

	pthread_mutex_lock(&k->mu);
	if (!key_locked(k)) {
		pthread_mutex_unlock(&k->mu);
		return NULL;
	}
	snprintf(kid, sizeof(kid), "%s", k->kid);
	pthread_mutex_unlock(&k->mu);
	dc_new_uid(jti);
	snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", ns, sa);
	aud = json_array_size(audiences) ? json_deep_copy(audiences) : json_pack("[s]", DC_SA_ISSUER);
	*exp = (int64_t)now + ttl;
	hdr = json_pack("{s:s,s:s}", "alg", "RS256", "kid", kid);
	kio = json_pack("{s:s,s:{s:s,s:s}}", "namespace", ns, "serviceaccount", "name", sa, "uid", sa_uid ? sa_uid : "");
	if (kio && pod_name)
		json_object_set_new(kio, "pod", json_pack("{s:s,s:s}", "name", pod_name, "uid", pod_uid ? pod_uid : ""));
	claims = json_pack("{s:o,s:I,s:I,s:s,s:s,s:o,s:I,s:s}", "aud", aud, "exp", (json_int_t)*exp,
		"iat", (json_int_t)now, "iss", DC_SA_ISSUER, "jti", jti, "kubernetes.io", kio,
		"nbf", (json_int_t)now, "sub", sub);
	if (hdr && claims && (h = json_dumps(hdr, JSON_COMPACT)) && (c = json_dumps(claims, JSON_COMPACT)) &&
	    (hb = b64url((unsigned char *)h, strlen(h))) && (cb = b64url((unsigned char *)c, strlen(c))) &&
	    asprintf(&input, "%s.%s", hb, cb) >= 0 && (sig = sign(k, input, strlen(input))))
		if (asprintf(&out, "%s.%s", input, sig) < 0)
			out = NULL;
	json_decref(hdr);
	json_decref(claims);
	free(h);
	free(c);
	free(hb);
	free(cb);
	free(input);
	free(sig);
	return out;
}

static int why_set(char **why, const char *msg)
{
	if (why)
		*why = strdup(msg);
	return -1;
}

static bool aud_ok(const json_t *claim, const json_t *want)
{
	const json_t *w, *c;
	size_t i, j;
	json_t *def = NULL;
	bool ok = false;
	if (!want || !json_array_size(want))
		want = def = json_pack("[s]", DC_SA_ISSUER);
	json_array_foreach(want, i, w)
		if (json_is_string(claim) ? json_equal(claim, w) : false)
			ok = true;
	if (json_is_array(claim))
		json_array_foreach(claim, j, c)
			json_array_foreach(want, i, w)
				if (json_is_string(c) && json_equal(c, w))
					ok = true;
	json_decref(def);
	return ok;
}

static bool verify_sig(dc_sa_keys *k, const char *input, size_t n, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx;
	bool ok = false;
	pthread_mutex_lock(&k->mu);
	/* no key yet: nothing was ever issued, nothing is valid */
	if (k->key && (ctx = EVP_MD_CTX_new())) {
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->key) == 1 &&
			EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)input, n) == 1;
		EVP_MD_CTX_free(ctx);
	}
	pthread_mutex_unlock(&k->mu);
	return ok;
}

/* The uid of ns/name in collection plural of the core group, or NULL.
 * Lock held. */
static const char *live_uid(dc_store *s, const char *plural, const char *ns, const char *name)
{
	dc_coll *c = dc_store_coll(s, "", plural);
	dc_entry *e = c ? dc_coll_get(c, ns, name) : NULL;
	return e ? e->obj->uid : NULL;
}

int dc_sa_token_verify(dc_sa_keys *k, dc_store *s, const char *jwt, const json_t *audiences, dc_user *u,
	char **why)
{
	const char *d1, *d2, *ns, *sa, *sa_uid, *pod, *pod_uid, *live;
	unsigned char *hraw = NULL, *craw = NULL, *sig = NULL;
	size_t hn, cn, sn, n = strlen(jwt);
	json_t *hdr = NULL, *cl = NULL, *v;
	time_t now = time(NULL);
	char name[600];
	int rc = -1;

	memset(u, 0, sizeof(*u));
	if (why)
		*why = NULL;
	if (n > MAX_JWT)
		return why_set(why, "token too long");
	d1 = strchr(jwt, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return why_set(why, "not a JWT");
	hraw = unb64url(jwt, (size_t)(d1 - jwt), &hn);
	craw = unb64url(d1 + 1, (size_t)(d2 - d1 - 1), &cn);
	sig = unb64url(d2 + 1, strlen(d2 + 1), &sn);
	if (!hraw || !craw || !sig) {
		why_set(why, "malformed JWT encoding");
		goto out;
	}
	hdr = json_loadb((const char *)hraw, hn, JSON_REJECT_DUPLICATES, NULL);
	cl = json_loadb((const char *)craw, cn, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(hdr) || !json_is_object(cl)) {
		why_set(why, "malformed JWT");
		goto out;
	}
	v = json_object_get(hdr, "alg");
	if (!json_is_string(v) || strcmp(json_string_value(v), "RS256")) {
		why_set(why, "unexpected signing algorithm");
		goto out;
	}
	if (!verify_sig(k, jwt, (size_t)(d2 - jwt), sig, sn)) {
		why_set(why, "invalid signature");
		goto out;
	}
	v = json_object_get(cl, "iss");
	if (!json_is_string(v) || strcmp(json_string_value(v), DC_SA_ISSUER)) {
		why_set(why, "unknown issuer");
		goto out;
	}
	if (!json_is_integer(json_object_get(cl, "exp")) || json_integer_value(json_object_get(cl, "exp")) <= now) {
		why_set(why, "service account token has expired");
		goto out;
	}
	if (json_is_integer(json_object_get(cl, "nbf")) && json_integer_value(json_object_get(cl, "nbf")) > now + 60) {
		why_set(why, "service account token is not valid yet");
		goto out;
	}
	if (!aud_ok(json_object_get(cl, "aud"), audiences)) {
		why_set(why, "token audiences is invalid for the target audiences");
		goto out;
	}
	v = json_object_get(cl, "kubernetes.io");
	ns = dc_json_str(v, "namespace");
	sa = dc_json_str(v, "serviceaccount.name");
	sa_uid = dc_json_str(v, "serviceaccount.uid");
	pod = dc_json_str(v, "pod.name");
	pod_uid = dc_json_str(v, "pod.uid");
	if (!ns || !sa || !sa_uid) {
		why_set(why, "token lacks the kubernetes.io claims");
		goto out;
	}
	pthread_mutex_lock(&s->mu);
	live = live_uid(s, "serviceaccounts", ns, sa);
	if (!live || strcmp(live, sa_uid)) {
		pthread_mutex_unlock(&s->mu);
		why_set(why, live ? "service account UID does not match the token" : "service account not found");
		goto out;
	}
	if (pod) {
		live = live_uid(s, "pods", ns, pod);
		if (!live || !pod_uid || strcmp(live, pod_uid)) {
			pthread_mutex_unlock(&s->mu);
			why_set(why, live ? "pod UID does not match the token" : "pod the token is bound to not found");
			goto out;
		}
	}
	pthread_mutex_unlock(&s->mu);
	snprintf(name, sizeof(name), "system:serviceaccount:%s:%s", ns, sa);
	u->name = strdup(name);
	u->uid = strdup(sa_uid);
	snprintf(name, sizeof(name), "system:serviceaccounts:%s", ns);
	if (!u->name || !u->uid || dc_user_add_group(u, "system:serviceaccounts") || dc_user_add_group(u, name) ||
	    dc_user_add_group(u, "system:authenticated")) {
		dc_user_dispose(u);
		why_set(why, "out of memory");
		goto out;
	}
	if (pod) {
		u->extra = json_pack("{s:[s],s:[s]}", "authentication.kubernetes.io/pod-name", pod,
			"authentication.kubernetes.io/pod-uid", pod_uid);
	}
	rc = 0;
out:
	json_decref(hdr);
	json_decref(cl);
	free(hraw);
	free(craw);
	free(sig);
	return rc;
}

/* ---- TokenRequest ---- */

static void token_invalid(dc_resp *rs, const char *name, const char *field, const char *detail)
{
	char msg[1024];
	json_t *st;
	snprintf(msg, sizeof(msg), "TokenRequest.authentication.k8s.io \"%s\" is invalid: %s: %s", name, field, detail);
	st = dc_status(422, "Invalid", msg, name, "authentication.k8s.io", "TokenRequest");
	json_object_set_new(json_object_get(st, "details"), "causes", json_pack("[{s:s,s:s,s:s}]",
		"reason", "FieldValueInvalid", "message", detail, "field", field));
	dc_resp_status(rs, st);
}

void dc_api_token_request(dc_req *rq, dc_resp *rs, const char *ns, const char *name)
{
	dc_store *s = rq->srv->store;
	json_t *in, *spec, *aud, *ref, *out;
	json_int_t ttl = 3600;
	const char *sa_uid = NULL, *pod = NULL, *pod_uid = NULL;
	char *sa_uid_c = NULL, *pod_c = NULL, *pod_uid_c = NULL, *tok, ts[32];
	int64_t exp;
	time_t et;
	struct tm tm;
	dc_entry *e;

	if (strcmp(rq->method, "POST")) {
		dc_resp_error(rs, 405, "MethodNotAllowed", "the server does not allow this method on the requested "
			"resource (%s)", rq->method);
		return;
	}
	in = rq->body_len ? dc_req_body(rq, rs) : json_object();
	if (!in)
		return;
	spec = json_object_get(in, "spec");
	if (spec && !json_is_object(spec)) {
		dc_resp_error(rs, 400, "BadRequest", "TokenRequest.spec: expected an object");
		json_decref(in);
		return;
	}
	aud = json_object_get(spec, "audiences");
	if (aud && !json_is_null(aud)) {
		size_t i;
		json_t *a;
		bool ok = json_is_array(aud);
		json_array_foreach(aud, i, a)
			ok = ok && json_is_string(a) && json_string_length(a) > 0;
		if (!ok) {
			dc_resp_error(rs, 400, "BadRequest", "TokenRequest.spec.audiences: expected a list of non-empty strings");
			json_decref(in);
			return;
		}
	}
	if (json_object_get(spec, "expirationSeconds") && !json_is_null(json_object_get(spec, "expirationSeconds"))) {
		if (!json_is_integer(json_object_get(spec, "expirationSeconds"))) {
			dc_resp_error(rs, 400, "BadRequest", "TokenRequest.spec.expirationSeconds: expected an integer");
			json_decref(in);
			return;
		}
		ttl = json_integer_value(json_object_get(spec, "expirationSeconds"));
	}
	if (ttl < 600) {
		char d[128];
		snprintf(d, sizeof(d), "Invalid value: %lld: may not specify a duration less than 10 minutes", (long long)ttl);
		token_invalid(rs, name, "spec.expirationSeconds", d);
		json_decref(in);
		return;
	}
	if (ttl > 4294967296LL) {
		char d[128];
		snprintf(d, sizeof(d), "Invalid value: %lld: may not specify a duration larger than 2^32 seconds",
			(long long)ttl);
		token_invalid(rs, name, "spec.expirationSeconds", d);
		json_decref(in);
		return;
	}
	ref = json_object_get(spec, "boundObjectRef");
	pthread_mutex_lock(&s->mu);
	e = dc_coll_get(dc_store_coll(s, "", "serviceaccounts"), ns, name);
	if (!e) {
		pthread_mutex_unlock(&s->mu);
		{
			char msg[600];
			snprintf(msg, sizeof(msg), "serviceaccounts \"%s\" not found", name);
			dc_resp_status(rs, dc_status(404, "NotFound", msg, name, "", "serviceaccounts"));
		}
		json_decref(in);
		return;
	}
	sa_uid_c = strdup(e->obj->uid);
	if (json_is_object(ref)) {
		const char *kind = dc_json_str(ref, "kind"), *rn = dc_json_str(ref, "name"), *ru = dc_json_str(ref, "uid");
		dc_entry *pe;
		if (!kind || strcmp(kind, "Pod") || !rn) {
			pthread_mutex_unlock(&s->mu);
			token_invalid(rs, name, "spec.boundObjectRef.kind", "Unsupported value: only a Pod is supported here");
			free(sa_uid_c);
			json_decref(in);
			return;
		}
		pe = dc_coll_get(dc_store_coll(s, "", "pods"), ns, rn);
		if (!pe || (ru && *ru && strcmp(ru, pe->obj->uid))) {
			char msg[700];
			pthread_mutex_unlock(&s->mu);
			snprintf(msg, sizeof(msg), "pods \"%s\" not found", rn);
			dc_resp_status(rs, dc_status(404, "NotFound", msg, rn, "", "pods"));
			free(sa_uid_c);
			json_decref(in);
			return;
		}
		pod_c = strdup(rn);
		pod_uid_c = strdup(pe->obj->uid);
	}
	pthread_mutex_unlock(&s->mu);
	sa_uid = sa_uid_c;
	pod = pod_c;
	pod_uid = pod_uid_c;
	tok = sa_uid ? dc_sa_token_issue(rq->srv->sa_keys, ns, name, sa_uid, pod, pod_uid, aud, ttl, &exp) : NULL;
	if (!tok) {
		dc_resp_error(rs, 500, "InternalError", "cannot sign the token");
	} else {
		et = (time_t)exp;
		gmtime_r(&et, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		out = json_pack("{s:s,s:s,s:{s:s,s:s,s:n},s:{s:o,s:I},s:{s:s,s:s}}",
			"kind", "TokenRequest", "apiVersion", "authentication.k8s.io/v1",
			"metadata", "name", name, "namespace", ns, "creationTimestamp",
			"spec", "audiences", json_array_size(aud) ? json_deep_copy(aud) : json_pack("[s]", DC_SA_ISSUER),
			"expirationSeconds", ttl, "status", "token", tok, "expirationTimestamp", ts);
		if (json_is_object(ref))
			json_object_set(json_object_get(out, "spec"), "boundObjectRef", ref);
		else
			json_object_set_new(json_object_get(out, "spec"), "boundObjectRef", json_null());
		OPENSSL_cleanse(tok, strlen(tok));
		free(tok);
		dc_resp_json(rs, 201, out);
	}
	free(sa_uid_c);
	free(pod_c);
	free(pod_uid_c);
	json_decref(in);
}

void dc_api_token_review(dc_req *rq, dc_resp *rs)
{
	json_t *in;
	const char *tok;
	json_t *aud, *status, *out;
	dc_user u;
	char *why = NULL;

	in = dc_req_body(rq, rs);
	if (!in)
		return;
	if (!json_is_object(json_object_get(in, "spec"))) {
		dc_resp_error(rs, 400, "BadRequest", "a TokenReview needs a spec");
		json_decref(in);
		return;
	}
	tok = dc_json_str(in, "spec.token");
	aud = dc_json_path(in, "spec.audiences");
	if (!tok || !*tok) {
		dc_resp_status(rs, dc_status(422, "Invalid", "TokenReview.authentication.k8s.io \"\" is invalid: "
			"spec.token: Required value", NULL, "authentication.k8s.io", "TokenReview"));
		json_decref(in);
		return;
	}
	if (dc_authn_token(rq->srv, tok, json_is_array(aud) ? aud : NULL, &u, &why) == 0) {
		status = json_pack("{s:b,s:o,s:o}", "authenticated", 1, "user", dc_user_info_json(&u),
			"audiences", json_array_size(aud) ? json_deep_copy(aud) : json_pack("[s]", DC_SA_ISSUER));
		dc_user_dispose(&u);
	} else {
		status = json_pack("{s:b,s:{},s:s}", "authenticated", 0, "user", "error", why ? why : "invalid bearer token");
	}
	free(why);
	out = json_pack("{s:s,s:s,s:{s:n},s:O,s:o}", "kind", "TokenReview", "apiVersion", "authentication.k8s.io/v1",
		"metadata", "creationTimestamp", "spec", json_object_get(in, "spec"), "status", status);
	json_decref(in);
	dc_resp_json(rs, 201, out);
}
