/* kube_metrics.c: counting a client's requests for
 * rest_client_requests_total, as client-go's metric of that name
 * (labels code, method, host), and timing them for
 * rest_client_request_duration_seconds (labels host, verb). Each attempt
 * counts, retries included, which is what shows a server answering 429s.
 *
 * Also the client-side rate limit (qps, burst): a token bucket that a
 * caller without a token reserves one from (the count goes negative), so
 * waiting callers are served in the order they came, as Go's
 * rate.Limiter.Wait does, and sleeps outside the lock. */
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>
#include <peerop/metrics.h>
#include "kube_internal.h"

void peerop__kube_count_request(struct peerop_kube_client *c, const char *method, long code)
{
	size_t i;

	pthread_mutex_lock(&c->count_lock);
	for (i = 0; i < c->ncounts; i++)
		if (c->counts[i].code == code && !strcmp(c->counts[i].method, method))
			break;
	if (i == c->ncounts) {
		if (c->ncounts == PEEROP__KUBE_COUNTS_MAX || strlen(method) >= sizeof(c->counts[i].method)) {
			c->counts_other++;
			pthread_mutex_unlock(&c->count_lock);
			return;
		}
		strcpy(c->counts[i].method, method);
		c->counts[i].code = code;
		c->counts[i].n = 0;
		c->ncounts++;
	}
	c->counts[i].n++;
	pthread_mutex_unlock(&c->count_lock);
}

static const char *const verbs[PEEROP__KUBE_VERBS] = { "GET", "PUT", "POST", "PATCH", "DELETE", "other" };
/* client-go's buckets for rest_client_request_duration_seconds */
static const double lat_bounds[PEEROP__KUBE_LAT_BOUNDS] = {
	0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0
};

static size_t verb_index(const char *method)
{
	size_t i;

	for (i = 0; i + 1 < PEEROP__KUBE_VERBS; i++)
		if (!strcmp(method, verbs[i]))
			return i;
	return PEEROP__KUBE_VERBS - 1;
}

void peerop__kube_observe_latency(struct peerop_kube_client *c, const char *method, double secs)
{
	size_t v = verb_index(method), i;

	pthread_mutex_lock(&c->count_lock);
	for (i = 0; i < PEEROP__KUBE_LAT_BOUNDS; i++)
		if (secs <= lat_bounds[i])
			c->lat_counts[v][i]++;
	c->lat_n[v]++;
	c->lat_sum[v] += secs;
	pthread_mutex_unlock(&c->count_lock);
}

void peerop__kube_throttle(struct peerop_kube_client *c)
{
	double qps = c->opts.qps, burst, wait_s = 0;
	uint64_t now;

	if (!(qps > 0) || !(qps < 1e9))
		return;
	/* no libm (the library does not link it): whole numbers by hand */
	burst = c->opts.burst ? (double)c->opts.burst : qps < 1 ? 1.0 : (double)(unsigned long long)qps +
		(qps > (double)(unsigned long long)qps);
	now = peerop__now_us() * 1000u;
	pthread_mutex_lock(&c->count_lock);
	if (!c->tokens_ns)
		c->tokens = burst;
	else if ((c->tokens += (double)(now - c->tokens_ns) / 1e9 * qps) > burst)
		c->tokens = burst;
	c->tokens_ns = now;
	c->tokens -= 1.0;
	if (c->tokens < 0)
		wait_s = -c->tokens / qps;
	pthread_mutex_unlock(&c->count_lock);
	if (wait_s > 0)
		peerop__sleep_ms((uint64_t)(wait_s * 1000.0) + 1);
}

int peerop_kube_client_collect_metrics(peerop_metrics_writer *w, void *client)
{
	struct peerop_kube_client *c = client;
	peerop__kube_count counts[PEEROP__KUBE_COUNTS_MAX];
	size_t n, i;
	unsigned long long other;
	char code[24], host[256] = "";
	peerop_metric_label l[3] = { { "code", code }, { "host", host }, { "method", NULL } };
	CURLU *u;
	int rc;

	if (!c)
		return PEEROP_EINVAL;
	/* host[:port] of the server, as client-go labels it */
	if ((u = curl_url()) != NULL) {
		char *h = NULL, *p = NULL;
		if (curl_url_set(u, CURLUPART_URL, c->base, 0) == CURLUE_OK &&
		    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
			if (curl_url_get(u, CURLUPART_PORT, &p, 0) == CURLUE_OK)
				snprintf(host, sizeof(host), "%s:%s", h, p);
			else
				snprintf(host, sizeof(host), "%s", h);
		}
		curl_free(h);
		curl_free(p);
		curl_url_cleanup(u);
	}
	pthread_mutex_lock(&c->count_lock);
	n = c->ncounts;
	memcpy(counts, c->counts, n * sizeof(*counts));
	other = c->counts_other;
	pthread_mutex_unlock(&c->count_lock);

	rc = peerop_metrics_family(w, "rest_client_requests_total", PEEROP_METRIC_COUNTER,
		"Number of HTTP requests, partitioned by status code, method, and host");
	for (i = 0; rc == 0 && i < n; i++) {
		if (counts[i].code < 0)
			snprintf(code, sizeof(code), "<error>");
		else
			snprintf(code, sizeof(code), "%ld", counts[i].code);
		l[2].value = counts[i].method;
		rc = peerop_metrics_sample(w, NULL, l, 3, (double)counts[i].n);
	}
	if (rc == 0 && other) {
		snprintf(code, sizeof(code), "other");
		l[2].value = "other";
		rc = peerop_metrics_sample(w, NULL, l, 3, (double)other);
	}
	if (rc == 0) {
		unsigned long long lc[PEEROP__KUBE_VERBS][PEEROP__KUBE_LAT_BOUNDS], ln[PEEROP__KUBE_VERBS];
		double ls[PEEROP__KUBE_VERBS];
		peerop_metric_label vl[2] = { { "host", host }, { "verb", NULL } };
		size_t v;
		pthread_mutex_lock(&c->count_lock);
		memcpy(lc, c->lat_counts, sizeof(lc));
		memcpy(ln, c->lat_n, sizeof(ln));
		memcpy(ls, c->lat_sum, sizeof(ls));
		pthread_mutex_unlock(&c->count_lock);
		rc = peerop_metrics_family(w, "rest_client_request_duration_seconds", PEEROP_METRIC_HISTOGRAM,
			"Request latency in seconds. Broken down by verb, and host.");
		for (v = 0; rc == 0 && v < PEEROP__KUBE_VERBS; v++) {
			char le[32];
			peerop_metric_label bl[3] = { { "host", host }, { "verb", verbs[v] }, { "le", le } };
			size_t b;
			if (!ln[v])
				continue;
			vl[1].value = verbs[v];
			for (b = 0; rc == 0 && b < PEEROP__KUBE_LAT_BOUNDS; b++) {
				snprintf(le, sizeof(le), "%g", lat_bounds[b]);
				rc = peerop_metrics_sample(w, "_bucket", bl, 3, (double)lc[v][b]);
			}
			snprintf(le, sizeof(le), "+Inf");
			if (rc == 0)
				rc = peerop_metrics_sample(w, "_bucket", bl, 3, (double)ln[v]);
			if (rc == 0)
				rc = peerop_metrics_sample(w, "_sum", vl, 2, ls[v]);
			if (rc == 0)
				rc = peerop_metrics_sample(w, "_count", vl, 2, (double)ln[v]);
		}
	}
	return rc;
}
