/*
 * pinger_report.c: what the pinger tells the world: the log lines, the
 * result callback, /peers and the metrics.
 *
 * The log lines keep the original project's shape exactly:
 *   Pinged http://10.1.2.3:8080/ping - Response: pong from demoweb-7d9f-abcde (0.8 ms)
 *   Failed to ping http://10.1.2.4:8080/ping: timeout after 2000 ms (3rd failure, next try in 8 s)
 * with the same facts as structured fields, for the JSON log format.
 */
#include "pinger_internal.h"

#include <stdlib.h>
#include <string.h>

const double peerop__latency_bounds[PEEROP__LATENCY_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5
};

/* s as it may go into a text log line: a peer names itself (X-Peerop-Id)
 * and a peers file names peers, so a control character (an escape
 * sequence for the terminal, a line break forging a line), a backslash or
 * a byte outside ASCII is written \xNN. Truncated to fit size (>= 5). */
const char *peerop__printable(char *buf, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (n + 1 >= size)
				break;
			buf[n++] = (char)c;
		} else {
			if (n + 4 >= size)
				break;
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		}
	}
	buf[n] = '\0';
	return buf;
}

const char *peerop__ordinal(char *buf, size_t size, unsigned int n)
{
	const char *suffix = "th";
	if (n % 100 < 11 || n % 100 > 13) {
		if (n % 10 == 1)
			suffix = "st";
		else if (n % 10 == 2)
			suffix = "nd";
		else if (n % 10 == 3)
			suffix = "rd";
	}
	snprintf(buf, size, "%u%s", n, suffix);
	return buf;
}

static void log_result(const peerop_pinger *p, const peerop__ping_peer *peer, const peerop_ping_result *r)
{
	char lat[32], fails[16], next[32], who[300], ord[16], shown_text[4 * PEEROP__ID_MAX + 8];
	char url_text[1200], reason_text[1200];
	const char *shown;

	snprintf(lat, sizeof(lat), "%.1f", r->latency_ms);
	if (r->ok) {
		peerop_log_field f[6] = {
			{ "url", r->url }, { "peer", r->peer_id }, { "responder", r->responder_id ? r->responder_id : "" },
			{ "result", "pong" }, { "latency_ms", lat }, { "confirmed", r->responder_id ? "true" : "false" },
		};
		if (r->responder_id)
			shown = r->responder_id;
		else if (r->peer_id[0])
			shown = r->peer_id;
		else {
			snprintf(who, sizeof(who), strchr(peer->host, ':') ? "[%s]:%u" : "%s:%u", peer->host, peer->port);
			shown = who;
		}
		/* (the fields are escaped by the log formats; the message is not) */
		peerop__log(PEEROP_LOG_INFO, "peer", f, PEEROP__ARRAY_SIZE(f),
			"Pinged %s - Response: pong from %s%s (%s ms)", peerop__printable(url_text, sizeof(url_text), r->url),
			peerop__printable(shown_text, sizeof(shown_text), shown), r->responder_id ? "" : " (unconfirmed)", lat);
		return;
	}
	snprintf(fails, sizeof(fails), "%u", r->failures);
	snprintf(next, sizeof(next), "%g", r->next_try_ms / 1000.0);
	{
		peerop_log_field f[7] = {
			{ "url", r->url }, { "peer", r->peer_id }, { "result", "failed" },
			{ "reason", r->reason }, { "error", peerop_error_name(r->error) },
			{ "failures", fails }, { "next_try_s", next },
		};
		peerop__log(PEEROP_LOG_WARN, "peer", f, PEEROP__ARRAY_SIZE(f),
			"Failed to ping %s: %s (%s failure, next try in %s s)",
			peerop__printable(url_text, sizeof(url_text), r->url),
			peerop__printable(reason_text, sizeof(reason_text), r->reason),
			peerop__ordinal(ord, sizeof(ord), r->failures), next);
	}
	PEEROP__UNUSED(p);
}

void peerop__pinger_report(peerop_pinger *p, peerop__ping_peer *peer, peerop_ping_result *r)
{
	double secs = r->latency_ms / 1000.0;
	size_t i;

	/* A pong carrying our own identity: the set lists this server under
	 * another name or address. Stop pinging it, say so once. */
	if (r->ok && r->responder_id && strcmp(r->responder_id, p->self_id) == 0) {
		pthread_mutex_lock(&p->lock);
		if (!peer->self && p->stats.peers > 0)
			p->stats.peers--;   /* the set is not re-read each round to recount */
		peer->self = 1;
		pthread_mutex_unlock(&p->lock);
		char url_text[1200];
		peerop__info("peer", "Not pinging %s again: it is this server (%s)",
			peerop__printable(url_text, sizeof(url_text), r->url), p->self_id);
		return;
	}
	pthread_mutex_lock(&p->lock);
	peer->last_ok = r->ok;
	peer->failures = r->failures;
	if (r->ok) {
		peer->pongs++;
		p->stats.pongs++;
		snprintf(peer->last_seen, sizeof(peer->last_seen), "%s",
			r->responder_id ? r->responder_id : r->peer_id);
		peer->confirmed = r->responder_id != NULL;
		peer->last_error[0] = '\0';
		peer->lat_last = r->latency_ms;
		if (peer->pongs == 1 || r->latency_ms < peer->lat_min)
			peer->lat_min = r->latency_ms;
		if (r->latency_ms > peer->lat_max)
			peer->lat_max = r->latency_ms;
		peer->lat_sum += r->latency_ms;
		for (i = 0; i < PEEROP__LATENCY_BUCKETS; i++)
			if (secs <= peerop__latency_bounds[i])
				p->lat_counts[i]++;
		p->lat_sum += secs;
	} else {
		peer->fails++;
		p->stats.failures++;
		snprintf(peer->last_error, sizeof(peer->last_error), "%s", r->reason);
	}
	pthread_mutex_unlock(&p->lock);

	if (!p->quiet)
		log_result(p, peer, r);
	if (p->on_result)
		p->on_result(r, p->payload);
}

PEEROP_EXTERN(void) peerop_pinger_get_stats(const peerop_pinger *p, peerop_pinger_stats *out)
{
	if (!p || !out)
		return;
	pthread_mutex_lock((pthread_mutex_t *)&p->lock);
	*out = p->stats;
	pthread_mutex_unlock((pthread_mutex_t *)&p->lock);
}

static const char *source_name(peerop_peer_source s)
{
	return s == PEEROP_PEER_DNS ? "dns" : s == PEEROP_PEER_STATIC ? "static" : "file";
}

static json_t *peer_json(const peerop__ping_peer *peer)
{
	json_t *o = json_object(), *lat = json_object();
	int rc = 0;
	if (!o || !lat) {
		json_decref(o);
		json_decref(lat);
		return NULL;
	}
	rc |= json_object_set_new(o, "url", json_string(peer->url));
	rc |= json_object_set_new(o, "host", json_string(peer->host));
	rc |= json_object_set_new(o, "port", json_integer(peer->port));
	rc |= json_object_set_new(o, "id", json_string(peer->id));
	rc |= json_object_set_new(o, "source", json_string(source_name(peer->source)));
	rc |= json_object_set_new(o, "last_seen_id",
		peer->last_seen[0] ? json_string(peer->last_seen) : json_null());
	rc |= json_object_set_new(o, "confirmed", json_boolean(peer->confirmed));
	rc |= json_object_set_new(o, "last_result", json_string(
		peer->last_ok < 0 ? "pending" : peer->last_ok ? "ok" : "failed"));
	rc |= json_object_set_new(o, "last_error",
		peer->last_error[0] ? json_string(peer->last_error) : json_null());
	rc |= json_object_set_new(o, "consecutive_failures", json_integer(peer->failures));
	rc |= json_object_set_new(o, "pongs", json_integer((json_int_t)peer->pongs));
	rc |= json_object_set_new(o, "failures", json_integer((json_int_t)peer->fails));
	if (peer->pongs) {
		rc |= json_object_set_new(lat, "last", json_real(peer->lat_last));
		rc |= json_object_set_new(lat, "min", json_real(peer->lat_min));
		rc |= json_object_set_new(lat, "avg", json_real(peer->lat_sum / (double)peer->pongs));
		rc |= json_object_set_new(lat, "max", json_real(peer->lat_max));
	}
	rc |= json_object_set_new(o, "latency_ms", lat);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

PEEROP_EXTERN(int) peerop_pinger_status(json_t **out, const peerop_pinger *p)
{
	peerop_pinger *mp = (peerop_pinger *)p;
	json_t *root, *arr;
	size_t i;
	int rc = 0;

	if (!out || !p)
		return peerop__error_set(PEEROP_EINVAL, "pinger status: missing argument");
	*out = NULL;
	root = json_object();
	arr = json_array();
	if (!root || !arr) {
		json_decref(root);
		json_decref(arr);
		return peerop__error_set(PEEROP_ENOMEM, "pinger status: out of memory");
	}
	pthread_mutex_lock(&mp->lock);
	rc |= json_object_set_new(root, "self", json_string(p->self_id));
	rc |= json_object_set_new(root, "interval_ms", json_integer(p->interval_ms));
	rc |= json_object_set_new(root, "rounds", json_integer((json_int_t)p->stats.rounds));
	for (i = 0; i < p->npeers && rc == 0; i++)
		if (!p->peers[i]->self)
			rc |= json_array_append_new(arr, peer_json(p->peers[i]));
	pthread_mutex_unlock(&mp->lock);
	rc |= json_object_set_new(root, "peers", arr);
	if (rc) {
		json_decref(root);
		return peerop__error_set(PEEROP_ENOMEM, "pinger status: out of memory");
	}
	*out = root;
	return 0;
}

PEEROP_EXTERN(int) peerop_pinger_collect_metrics(peerop_metrics_writer *w, void *payload)
{
	peerop_pinger *p = payload;
	peerop_pinger_stats st;
	unsigned long long counts[PEEROP__LATENCY_BUCKETS];
	double lat_sum;
	peerop_metric_label l[2];
	unsigned int failing = 0;
	size_t i;
	int rc;

	if (!p)
		return peerop__error_set(PEEROP_EINVAL, "pinger metrics: no pinger");
	pthread_mutex_lock(&p->lock);
	st = p->stats;
	memcpy(counts, p->lat_counts, sizeof(counts));
	lat_sum = p->lat_sum;
	for (i = 0; i < p->npeers; i++)
		failing += !p->peers[i]->self && p->peers[i]->last_ok == 0;
	pthread_mutex_unlock(&p->lock);

	l[0].name = "result";
	l[0].value = "pong";
	if ((rc = peerop_metrics_family(w, "peerop_pings_total", PEEROP_METRIC_COUNTER,
	    "Pings sent to peers, by result")) != 0 ||
	    (rc = peerop_metrics_sample(w, NULL, l, 1, (double)st.pongs)) != 0)
		return rc;
	l[0].value = "failed";
	if ((rc = peerop_metrics_sample(w, NULL, l, 1, (double)st.failures)) != 0)
		return rc;
	if ((rc = peerop_metrics_histogram(w, "peerop_ping_latency_seconds",
	    "Time from sending a ping to the end of the pong", NULL, 0, peerop__latency_bounds,
	    counts, PEEROP__LATENCY_BUCKETS, st.pongs, lat_sum)) != 0)
		return rc;
	if ((rc = peerop_metrics_family(w, "peerop_ping_rounds_total", PEEROP_METRIC_COUNTER,
	    "Rounds of pings completed")) != 0 ||
	    (rc = peerop_metrics_sample(w, NULL, NULL, 0, (double)st.rounds)) != 0)
		return rc;
	if ((rc = peerop_metrics_family(w, "peerop_ping_round_duration_seconds", PEEROP_METRIC_GAUGE,
	    "Duration of the last complete round, first ping sent to last reply")) != 0 ||
	    (rc = peerop_metrics_sample(w, NULL, NULL, 0, st.last_round_ms / 1000.0)) != 0)
		return rc;
	if ((rc = peerop_metrics_family(w, "peerop_peers", PEEROP_METRIC_GAUGE,
	    "Peers pinged (this server excluded)")) != 0 ||
	    (rc = peerop_metrics_sample(w, NULL, NULL, 0, (double)st.peers)) != 0)
		return rc;
	if ((rc = peerop_metrics_family(w, "peerop_peers_failing", PEEROP_METRIC_GAUGE,
	    "Peers whose last ping failed")) != 0 ||
	    (rc = peerop_metrics_sample(w, NULL, NULL, 0, (double)failing)) != 0)
		return rc;
	return 0;
}

static int serve_peers(peerop_httpd_request *req, void *payload)
{
	json_t *st = NULL;
	char *text;
	int rc = peerop_pinger_status(&st, payload);
	if (rc)
		return rc;
	text = json_dumps(st, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(st);
	if (!text)
		return peerop__error_set(PEEROP_ENOMEM, "/peers: out of memory");
	rc = peerop_httpd_respond(req, 200, "application/json", text, strlen(text));
	free(text);
	return rc;
}

PEEROP_EXTERN(int) peerop_pinger_serve(peerop_pinger *p, peerop_httpd *h)
{
	int rc;
	if (!p || !h)
		return peerop__error_set(PEEROP_EINVAL, "pinger serve: missing argument");
	if ((rc = peerop_httpd_add_route(h, "/peers", PEEROP_HTTPD_GET | PEEROP_HTTPD_HEAD,
	    serve_peers, p)) != 0)
		return rc;
	return peerop_httpd_add_metrics(h, peerop_pinger_collect_metrics, p);
}
