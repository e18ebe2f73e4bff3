/* dchelp.c: see dchelp.h. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dct *dct_start(const dc_server_options *opts, bool data)
{
	dc_cluster_options co;
	memset(&co, 0, sizeof(co));
	if (opts)
		co.server = *opts;
	return dct_start_cluster(&co, data);
}

dct *dct_start_cluster(const dc_cluster_options *opts, bool data)
{
	dct *t = calloc(1, sizeof(*t));
	dc_cluster_options co = *opts;
	dc_server_options *o = &co.server;
	char *dd = NULL;
	int rc;
	o->listen = "127.0.0.1:0";
	t->dir = th_tmpdir();
	ck_assert_ptr_nonnull(t->dir);
	if (data) {
		dd = t->data_dir = th_path(t->dir, "data");
		o->data_dir = dd;
	}
	rc = dc_cluster_start(&t->cluster, &co);
	ck_assert_msg(rc == 0, "dc_cluster_start: %s", peerop_error_last()->message);
	t->srv = dc_cluster_server(t->cluster);
	snprintf(t->url, sizeof(t->url), "%s", dc_server_url(t->srv));
	t->token = strdup(dc_server_token(t->srv));
	if (o->tls) {
		t->ca_file = th_path(t->dir, "ca.pem");
		th_write_str(t->ca_file, dc_server_ca_pem(t->srv));
	}
	return t;
}

void dct_stop_server(dct *t)
{
	if (t->cluster)
		dc_cluster_free(t->cluster);
	else
		dc_server_free(t->srv);
	t->cluster = NULL;
	t->srv = NULL;
}

void dct_stop(dct *t)
{
	if (!t)
		return;
	dct_stop_server(t);
	free(t->data_dir);
	th_tmpdir_remove(t->dir);
	free(t->token);
	free(t->ca_file);
	free(t);
}

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
	peerop__buf *b = ud;
	return peerop__buf_put(b, p, s * n) == 0 ? s * n : 0;
}

typedef struct hdrs {
	char *ct;
	char *ra;
} hdrs;

static size_t on_header(char *p, size_t s, size_t n, void *ud)
{
	dct_resp *r = ud;
	size_t len = s * n;
	char line[4096];
	size_t m = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
	memcpy(line, p, m);
	line[m] = '\0';
	while (m > 0 && (line[m - 1] == '\r' || line[m - 1] == '\n'))
		line[--m] = '\0';
	if (!strncasecmp(line, "Content-Type: ", 14))
		snprintf(r->content_type, sizeof(r->content_type), "%.100s", line + 14);
	if (!strncasecmp(line, "Retry-After: ", 13))
		snprintf(r->retry_after, sizeof(r->retry_after), "%.20s", line + 13);
	if (!strncasecmp(line, "Warning: ", 9)) {
		size_t w = strlen(r->warnings);
		snprintf(r->warnings + w, sizeof(r->warnings) - w, "%s%s", w ? "\n" : "", line + 9);
	}
	return len;
}

static CURL *easy(dct *t, const char *path, struct curl_slist **h, const char *token)
{
	CURL *c = curl_easy_init();
	char url[4096], auth[17000];
	snprintf(url, sizeof(url), "%s%s", t->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	if (t->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, t->ca_file);
	if (!token)
		token = t->token;
	if (*token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		*h = curl_slist_append(*h, auth);
	}
	if (t->accept) {
		char acc[512];
		snprintf(acc, sizeof(acc), "Accept: %s", t->accept);
		*h = curl_slist_append(*h, acc);
	}
	if (t->user_agent)
		curl_easy_setopt(c, CURLOPT_USERAGENT, t->user_agent);
	for (const char *const *x = t->headers; x && *x; x++)
		*h = curl_slist_append(*h, *x);
	return c;
}

void dct_req_ex(dct *t, dct_resp *r, const char *method, const char *path,
	const char *ctype, const char *body, size_t len, const char *token)
{
	struct curl_slist *h = NULL;
	CURL *c = easy(t, path, &h, token);
	peerop__buf b = PEEROP__BUF_INIT;
	char ct[160];
	CURLcode cc;
	memset(r, 0, sizeof(*r));
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype ? ctype : "application/json");
		h = curl_slist_append(h, ct);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	cc = curl_easy_perform(c);
	/* a failed transfer is code 0: callers assert on the code they expect */
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
	else
		peerop__buf_puts(&b, curl_easy_strerror(cc));
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	r->body = b.ptr ? peerop__buf_detach(&b) : strdup("");
	r->json = json_loads(r->body, 0, NULL);
}

void dct_req(dct *t, dct_resp *r, const char *method, const char *path, const char *ctype, const char *body)
{
	dct_req_ex(t, r, method, path, ctype, body, body ? strlen(body) : 0, NULL);
}

void dct_resp_free(dct_resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

json_t *dct_call(dct *t, long *code, const char *method, const char *path, const char *body)
{
	dct_resp r;
	json_t *j;
	dct_req(t, &r, method, path, NULL, body);
	*code = r.code;
	j = r.json ? json_incref(r.json) : json_null();
	dct_resp_free(&r);
	return j;
}

json_t *dct_patch(dct *t, long *code, const char *path, const char *ctype, const char *body)
{
	dct_resp r;
	json_t *j;
	dct_req(t, &r, "PATCH", path, ctype, body);
	*code = r.code;
	j = r.json ? json_incref(r.json) : json_null();
	dct_resp_free(&r);
	return j;
}

char *dct_make_cm(dct *t, const char *ns, const char *name, const char *labels)
{
	char path[512], body[1024];
	long code;
	json_t *j;
	char *rv;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"%s%s},"
		"\"data\":{\"k\":\"v\"}}", name, labels ? ",\"labels\":" : "", labels ? labels : "");
	j = dct_call(t, &code, "POST", path, body);
	ck_assert_msg(code == 201, "create %s/%s: %ld", ns, name, code);
	rv = strdup(json_string_value(json_object_get(json_object_get(j, "metadata"), "resourceVersion")));
	json_decref(j);
	return rv;
}

json_t *dct_load_yaml(const char *relpath)
{
	char *path = th_path(TOP_SRCDIR, relpath), *text = th_slurp(path), *err = NULL;
	json_t *j;
	ck_assert_msg(text != NULL, "cannot read %s", path);
	j = dc_yaml_decode(text, strlen(text), &err);
	ck_assert_msg(j != NULL, "%s: %s", path, err ? err : "?");
	free(err);
	free(text);
	free(path);
	return j;
}

void dct_make_crd(dct *t)
{
	json_t *crd = dct_load_yaml("charts/peerop/crds/httpservers.peerop.io.yaml"), *j;
	char *body = json_dumps(crd, JSON_COMPACT);
	long code;
	j = dct_call(t, &code, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body);
	ck_assert_msg(code == 201, "create CRD: %ld %s", code, json_string_value(json_object_get(j, "message")));
	json_decref(j);
	json_decref(crd);
	free(body);
}

const char *dct_reason(const json_t *j)
{
	const char *r = json_string_value(json_object_get(j, "reason"));
	return r ? r : "";
}

/* ---- watch streams ---- */

struct dct_watch {
	pthread_t thread;
	pthread_mutex_t mu;
	CURL *c;
	struct curl_slist *h;
	peerop__buf partial;
	json_t *events;
	bool ended;
	bool stop;
	long code;
};

static size_t on_stream(char *p, size_t s, size_t n, void *ud)
{
	dct_watch *w = ud;
	size_t len = s * n;
	char *nl;
	pthread_mutex_lock(&w->mu);
	peerop__buf_put(&w->partial, p, len);
	while (w->partial.ptr && (nl = memchr(w->partial.ptr, '\n', w->partial.len)) != NULL) {
		size_t line = (size_t)(nl - w->partial.ptr);
		json_t *ev = json_loadb(w->partial.ptr, line, 0, NULL);
		if (ev)
			json_array_append_new(w->events, ev);
		else
			json_array_append_new(w->events, json_pack("{s:s}", "type", "UNPARSEABLE"));
		peerop__buf_consume(&w->partial, line + 1);
	}
	pthread_mutex_unlock(&w->mu);
	return len;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	dct_watch *w = ud;
	int stop;
	(void)a; (void)b; (void)c; (void)d;
	pthread_mutex_lock(&w->mu);
	stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

static void *watch_main(void *arg)
{
	dct_watch *w = arg;
	long code = 0;
	curl_easy_perform(w->c);
	curl_easy_getinfo(w->c, CURLINFO_RESPONSE_CODE, &code);
	pthread_mutex_lock(&w->mu);
	w->code = code;
	w->ended = true;
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

dct_watch *dct_watch_start(dct *t, const char *path)
{
	dct_watch *w = calloc(1, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	w->events = json_array();
	w->c = easy(t, path, &w->h, NULL);
	curl_easy_setopt(w->c, CURLOPT_TIMEOUT, 0L);
	curl_easy_setopt(w->c, CURLOPT_HTTPHEADER, w->h);
	curl_easy_setopt(w->c, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(w->c, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(w->c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(w->c, CURLOPT_XFERINFODATA, w);
	ck_assert(pthread_create(&w->thread, NULL, watch_main, w) == 0);
	return w;
}

size_t dct_watch_count(dct_watch *w)
{
	size_t n;
	pthread_mutex_lock(&w->mu);
	n = json_array_size(w->events);
	pthread_mutex_unlock(&w->mu);
	return n;
}

json_t *dct_watch_event(dct_watch *w, size_t i)
{
	json_t *e;
	pthread_mutex_lock(&w->mu);
	e = json_array_get(w->events, i);
	pthread_mutex_unlock(&w->mu);
	return e;
}

const char *dct_ev_type(dct_watch *w, size_t i)
{
	const char *s = json_string_value(json_object_get(dct_watch_event(w, i), "type"));
	return s ? s : "";
}

const char *dct_ev_name(dct_watch *w, size_t i)
{
	json_t *o = json_object_get(dct_watch_event(w, i), "object");
	const char *s = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
	return s ? s : "";
}

bool dct_watch_ended(dct_watch *w)
{
	bool e;
	pthread_mutex_lock(&w->mu);
	e = w->ended;
	pthread_mutex_unlock(&w->mu);
	return e;
}

long dct_watch_code(dct_watch *w)
{
	long c;
	pthread_mutex_lock(&w->mu);
	c = w->code;
	pthread_mutex_unlock(&w->mu);
	return c;
}

bool dct_watch_wait(dct_watch *w, size_t n, unsigned timeout_ms)
{
	return TH_WAIT_UNTIL(dct_watch_count(w) >= n, timeout_ms);
}

void dct_watch_stop(dct_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	curl_easy_cleanup(w->c);
	curl_slist_free_all(w->h);
	json_decref(w->events);
	peerop__buf_dispose(&w->partial);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
