/* dcpods.c: see dcpods.h. */
#include "config.h"
#include "testhelp.h"
#include "dcpods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *dcp_items(dct *t, const char *path)
{
	long code;
	json_t *j = dct_call(t, &code, "GET", path, NULL), *items;
	items = code == 200 ? json_incref(json_object_get(j, "items")) : NULL;
	json_decref(j);
	return items ? items : json_array();
}

size_t dcp_count(dct *t, const char *path)
{
	json_t *items = dcp_items(t, path);
	size_t n = json_array_size(items);
	json_decref(items);
	return n;
}

json_t *dcp_get(dct *t, const char *path)
{
	long code;
	json_t *j = dct_call(t, &code, "GET", path, NULL);
	if (code != 200) {
		json_decref(j);
		return NULL;
	}
	return j;
}

void dcp_create(dct *t, const char *path, const char *body)
{
	long code;
	json_t *j = dct_call(t, &code, "POST", path, body);
	ck_assert_msg(code == 201, "POST %s: %ld %s", path, code,
		json_string_value(json_object_get(j, "message")) ? json_string_value(json_object_get(j, "message")) : "");
	json_decref(j);
}

int dcp_mark_ready(dct *t, const char *path)
{
	json_t *items = dcp_items(t, path), *p;
	size_t i;
	int n = 0;
	json_array_foreach(items, i, p) {
		char url[512], ts[32];
		const char *name = dc_json_str(p, "metadata.name");
		json_t *patch, *j;
		long code;
		if (dc_json_path(p, "metadata.deletionTimestamp") ||
		    !strcmp(dc_json_str(p, "status.phase") ? dc_json_str(p, "status.phase") : "", "Running"))
			continue;
		dc_now_rfc3339(ts, sizeof(ts));
		patch = json_pack("{s:{s:s,s:[{s:s,s:s,s:s}]}}", "status", "phase", "Running", "conditions",
			"type", "Ready", "status", "True", "lastTransitionTime", ts);
		snprintf(url, sizeof(url), "/api/v1/namespaces/%s/pods/%s/status", dc_json_str(p, "metadata.namespace"), name);
		{
			char *body = json_dumps(patch, JSON_COMPACT);
			j = dct_patch(t, &code, url, "application/merge-patch+json", body);
			free(body);
		}
		if (code == 200)
			n++;
		json_decref(j);
		json_decref(patch);
	}
	json_decref(items);
	return n;
}

long long dcp_int(dct *t, const char *path, const char *field)
{
	json_t *j = dcp_get(t, path), *v = j ? dc_json_path(j, field) : NULL;
	long long n = json_is_integer(v) ? json_integer_value(v) : -1;
	json_decref(j);
	return n;
}

char *dcp_str(dct *t, const char *path, const char *field)
{
	json_t *j = dcp_get(t, path);
	const char *s = j ? dc_json_str(j, field) : NULL;
	char *r = s ? strdup(s) : NULL;
	json_decref(j);
	return r;
}

char *dcp_cond(dct *t, const char *path, const char *type, const char *field)
{
	json_t *j = dcp_get(t, path), *c;
	size_t i;
	char *r = NULL;
	json_array_foreach(j ? dc_json_path(j, "status.conditions") : NULL, i, c) {
		const char *ty = dc_json_str(c, "type");
		if (ty && !strcmp(ty, type) && dc_json_str(c, field))
			r = strdup(dc_json_str(c, field));
	}
	json_decref(j);
	return r;
}

bool dcp_has_event(dct *t, const char *reason, const char *msg)
{
	json_t *items = dcp_items(t, EVENTS), *e;
	size_t i;
	bool found = false;
	json_array_foreach(items, i, e) {
		const char *r = dc_json_str(e, "reason"), *m = dc_json_str(e, "message");
		if (r && !strcmp(r, reason) && (!msg || (m && strstr(m, msg))))
			found = true;
	}
	json_decref(items);
	return found;
}

/* ---- with a kubelet ---- */

#include <curl/curl.h>
#include <dirent.h>
#include <unistd.h>

static char img_podapp[1200], img_server[1200];
static const char *images[] = { img_podapp, "shell=/bin/sh", img_server, NULL };
static char marker[64];

bool dcp_root(void)
{
	return geteuid() == 0;
}

const char *dcp_marker(void)
{
	if (!marker[0])
		snprintf(marker, sizeof(marker), "dctest-%d-%llu", (int)getpid(), (unsigned long long)th_now_ms());
	return marker;
}

static void kubelet_opts(dc_cluster_options *o)
{
	char cwd[1024];
	memset(o, 0, sizeof(*o));
	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, ".");
	/* the tests run in the build tree's tests/ */
	snprintf(img_podapp, sizeof(img_podapp), "podapp=%s/dc-podapp", cwd);
	snprintf(img_server, sizeof(img_server), "peerop-server=%s/../examples/peerop-server", cwd);
	o->controllers = true;
	o->kubelet = true;
	o->node.images = images;
	o->node.restart_backoff_s = 1;
}

dct *dcp_start_kubelet(bool data)
{
	dc_cluster_options o;
	kubelet_opts(&o);
	return dct_start_cluster(&o, data);
}

dct *dcp_restart_kubelet(dct *t)
{
	dc_cluster_options o;
	int rc;
	kubelet_opts(&o);
	o.server.listen = "127.0.0.1:0";
	o.server.data_dir = t->data_dir;
	dc_cluster_free(t->cluster);
	rc = dc_cluster_start(&t->cluster, &o);
	ck_assert_msg(rc == 0, "dc_cluster_start: %s", peerop_error_last()->message);
	t->srv = dc_cluster_server(t->cluster);
	snprintf(t->url, sizeof(t->url), "%s", dc_server_url(t->srv));
	free(t->token);
	t->token = strdup(dc_server_token(t->srv));
	return t;
}

int dcp_procs(const char *m)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d)) != NULL) {
		char path[300], buf[8192];
		size_t len, i;
		FILE *f;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (i = 0; i < len; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[len] = '\0';
		/* zombies have an empty command line: they are gone already */
		if (len && strstr(buf, m))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static size_t on_data(char *p, size_t s, size_t n, void *ud)
{
	peerop__buf *b = ud;
	peerop__buf_put(b, p, s * n);
	return s * n;
}

char *dcp_http(const char *url, long *code)
{
	CURL *c = curl_easy_init();
	peerop__buf b = PEEROP__BUF_INIT;
	CURLcode rc;
	*code = 0;
	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		peerop__buf_dispose(&b);
		return NULL;
	}
	if (!b.ptr)
		peerop__buf_puts(&b, "");
	return peerop__buf_detach(&b);
}

char *dcp_pod_ip(dct *t, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), PODS "/%s", name);
	return dcp_str(t, path, "status.podIP");
}

bool dcp_pod_ready(dct *t, const char *name)
{
	char path[512], *st;
	bool ok;
	snprintf(path, sizeof(path), PODS "/%s", name);
	st = dcp_cond(t, path, "Ready", "status");
	ok = st && !strcmp(st, "True");
	free(st);
	return ok;
}

char *dcp_ctr(dct *t, const char *name, const char *field)
{
	char path[512];
	json_t *p, *cs;
	const char *v;
	char *r = NULL;
	snprintf(path, sizeof(path), PODS "/%s", name);
	p = dcp_get(t, path);
	cs = p ? json_array_get(dc_json_path(p, "status.containerStatuses"), 0) : NULL;
	v = cs ? dc_json_str(cs, field) : NULL;
	if (v)
		r = strdup(v);
	else if (cs && json_is_integer(dc_json_path(cs, field)) && asprintf(&r, "%lld",
		(long long)json_integer_value(dc_json_path(cs, field))) < 0)
		r = NULL;
	json_decref(p);
	return r;
}

bool dcp_pod_says(dct *t, const char *name, const char *path, const char *want)
{
	char *ip = dcp_pod_ip(t, name), url[600], *body;
	long code;
	bool ok;
	if (!ip)
		return false;
	snprintf(url, sizeof(url), "http://%s:8080%s", ip, path);
	free(ip);
	body = dcp_http(url, &code);
	ok = body && code == 200 && !strcmp(body, want);
	free(body);
	return ok;
}

bool dcp_pod_event(dct *t, const char *pod, const char *reason, const char *msg)
{
	json_t *items = dcp_items(t, EVENTS), *e;
	size_t i;
	bool found = false;
	json_array_foreach(items, i, e) {
		const char *r = dc_json_str(e, "reason"), *m = dc_json_str(e, "message");
		const char *n = dc_json_str(e, "involvedObject.name");
		if (r && n && !strcmp(r, reason) && !strcmp(n, pod) && (!msg || (m && strstr(m, msg))))
			found = true;
	}
	json_decref(items);
	return found;
}

bool dcp_pod_gone(dct *t, const char *name)
{
	char path[512];
	long code;
	snprintf(path, sizeof(path), PODS "/%s", name);
	json_decref(dct_call(t, &code, "GET", path, NULL));
	return code == 404;
}
