/* kube_metrics.c: counting a client's requests for
 * rest_client_requests_total, as client-go's metric of that name
 * (labels code, method, host). Each attempt counts, retries included,
 * which is what shows a server answering 429s. */
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
	return rc;
}
