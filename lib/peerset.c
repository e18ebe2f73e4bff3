/*
 * peerset.c: the set of peers, merged from the peers file, a DNS name and
 * static URLs.
 *
 * The lock guards the lists only; file reads, parsing, DNS lookups and the
 * change callback all happen outside it, so a slow disk or resolver never
 * holds up the pinger or /peers. A bad file never replaces a good one: the
 * last good list stays, and the error is logged once per distinct error
 * (not once per poll).
 */
#include "peer_internal.h"
#include "peerset_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

PEEROP_EXTERN(int) peerop_peerset_options_init(peerop_peerset_options *opts, unsigned int version)
{
	peerop_peerset_options def = PEEROP_PEERSET_OPTIONS_INIT;
	if (!opts || version != PEEROP_PEERSET_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerset options: unsupported version %u", version);
	*opts = def;
	return 0;
}

PEEROP_EXTERN(int) peerop_peerset_new(peerop_peerset **out, const peerop_peerset_options *opts)
{
	peerop_peerset *s;

	if (!out || !opts || opts->version != PEEROP_PEERSET_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerset: missing or unsupported options");
	*out = NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return peerop__error_set(PEEROP_ENOMEM, "peerset: out of memory");
	pthread_mutex_init(&s->lock, NULL);
	s->wake[0] = s->wake[1] = -1;
	s->file_limit = opts->file_limit ? opts->file_limit : (1u << 20);
	s->poll_ms = opts->poll_ms ? opts->poll_ms : 2000;
	s->poll_only = opts->poll_only;
	s->on_change = opts->on_change;
	s->payload = opts->payload;
	if (opts->file && !(s->file = peerop__strdup(opts->file))) {
		peerop_peerset_free(s);
		return peerop__error_set(PEEROP_ENOMEM, "peerset: out of memory");
	}
	if (s->file)
		peerop__peerset_reload(s, 0);
	*out = s;
	return 0;
}

static void notify(peerop_peerset *s)
{
	if (s->on_change)
		s->on_change(s, s->payload);
}

/* Log a failed load once per distinct message: a poll that finds the same
 * broken file again stays quiet. */
static void report_bad(peerop_peerset *s, int rc)
{
	const char *msg = peerop_error_last()->message;
	int fresh;

	pthread_mutex_lock(&s->lock);
	fresh = !s->last_error || strcmp(s->last_error, msg) != 0;
	if (fresh) {
		free(s->last_error);
		s->last_error = peerop__strdup(msg);
	}
	pthread_mutex_unlock(&s->lock);
	if (fresh) {
		peerop_log_field f[2] = { { "file", s->file }, { "error", peerop_error_name(rc) } };
		peerop__log(PEEROP_LOG_ERROR, "peer", f, 2, "Peers file not loaded, %s: %s",
			s->loaded ? "keeping the last good peer set" : "no peers from it yet", msg);
	}
}

int peerop__peerset_reload(peerop_peerset *s, int do_notify)
{
	char *data = NULL;
	size_t len = 0, n = 0;
	peerop_peer *list = NULL;
	int rc, was_bad;

	rc = peerop__read_file(&data, &len, s->file, s->file_limit);
	if (rc) {
		report_bad(s, rc);
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	if (s->loaded && s->content && s->content_len == len && memcmp(s->content, data, len) == 0) {
		was_bad = s->last_error != NULL;
		free(s->last_error);
		s->last_error = NULL;
		pthread_mutex_unlock(&s->lock);
		free(data);
		if (was_bad)
			peerop__info("peer", "Peers file %s is readable again, unchanged: %zu peers",
				s->file, s->nfile);
		return 0;
	}
	pthread_mutex_unlock(&s->lock);

	rc = peerop_peers_parse(&list, &n, s->file, data, len);
	if (rc) {
		free(data);
		report_bad(s, rc);
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	peerop_peer_list_free(s->file_peers, s->nfile);
	s->file_peers = list;
	s->nfile = n;
	free(s->content);
	s->content = data;
	s->content_len = len;
	s->loaded = 1;
	s->generation++;
	free(s->last_error);
	s->last_error = NULL;
	pthread_mutex_unlock(&s->lock);
	{
		char nb[24];
		peerop_log_field f[2] = { { "file", s->file }, { "peers", nb } };
		snprintf(nb, sizeof(nb), "%zu", n);
		peerop__log(PEEROP_LOG_INFO, "peer", f, 2, "Loaded %zu peers from %s", n, s->file);
	}
	if (do_notify)
		notify(s);
	return 0;
}

PEEROP_EXTERN(int) peerop_peerset_reload(peerop_peerset *s)
{
	if (!s)
		return peerop__error_set(PEEROP_EINVAL, "peerset reload: no set");
	if (!s->file)
		return 0;
	return peerop__peerset_reload(s, 1);
}

PEEROP_EXTERN(int) peerop_peerset_add_static(peerop_peerset *s, const char *url)
{
	char *host = NULL;
	unsigned int port;
	int rc;

	if (!s)
		return peerop__error_set(PEEROP_EINVAL, "peerset: no set");
	if ((rc = peerop__parse_peer_url(&host, &port, url)) != 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	rc = peerop__peer_list_append(&s->static_peers, &s->nstatic, &s->capstatic, "", host, port,
		PEEROP_PEER_STATIC);
	if (rc == 0)
		s->generation++;
	pthread_mutex_unlock(&s->lock);
	free(host);
	if (rc == 0)
		notify(s);
	return rc;
}

PEEROP_EXTERN(int) peerop_peerset_set_dns(peerop_peerset *s, const char *name_port)
{
	char *host = NULL;
	unsigned int port;
	int rc;

	if (!s)
		return peerop__error_set(PEEROP_EINVAL, "peerset: no set");
	if ((rc = peerop__split_hostport(&host, &port, name_port, "DNS peers")) != 0)
		return rc;
	if (!*host || port == 0) {
		free(host);
		return peerop__error_set(PEEROP_EINVAL, "DNS peers \"%.128s\": expected NAME:PORT", name_port);
	}
	pthread_mutex_lock(&s->lock);
	free(s->dns_name);
	s->dns_name = host;
	s->dns_port = port;
	s->generation++;
	pthread_mutex_unlock(&s->lock);
	notify(s);
	return 0;
}

PEEROP_EXTERN(int) peerop_peerset_loaded(const peerop_peerset *s)
{
	int loaded;
	if (!s)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&s->lock);
	loaded = !s->file || s->loaded;
	pthread_mutex_unlock((pthread_mutex_t *)&s->lock);
	return loaded;
}

PEEROP_EXTERN(unsigned long) peerop_peerset_generation(const peerop_peerset *s)
{
	unsigned long g;
	if (!s)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&s->lock);
	g = s->generation;
	pthread_mutex_unlock((pthread_mutex_t *)&s->lock);
	return g;
}

void peerop__peer_key(char buf[PEEROP__PEER_KEY_MAX], const char *host, unsigned int port)
{
	snprintf(buf, PEEROP__PEER_KEY_MAX, "%u/%s", port, host);
}

unsigned long peerop__peerset_version(peerop_peerset *s, int *resolves)
{
	unsigned long g;
	pthread_mutex_lock(&s->lock);
	g = s->generation;
	*resolves = s->dns_name != NULL;
	pthread_mutex_unlock(&s->lock);
	return g;
}

/* Append the peers not seen yet. A map of the addresses taken keeps this
 * linear: a snapshot of a thousand peers used to compare every pair. */
static int append_unique(peerop_peer **list, size_t *n, size_t *cap, peerop__map *seen,
	const peerop_peer *from, size_t count)
{
	char key[PEEROP__PEER_KEY_MAX];
	size_t i;
	int rc = 0;
	for (i = 0; rc == 0 && i < count; i++) {
		peerop__peer_key(key, from[i].host, from[i].port);
		if (peerop__map_get(seen, key))
			continue;
		if (peerop__map_put(seen, key, seen, NULL) != 0)
			rc = peerop__error_set(PEEROP_ENOMEM, "peers: out of memory");
		else
			rc = peerop__peer_list_append(list, n, cap, from[i].id, from[i].host, from[i].port,
				from[i].source);
	}
	return rc;
}

PEEROP_EXTERN(int) peerop_peerset_snapshot(peerop_peer **out, size_t *count, peerop_peerset *s)
{
	peerop_peer *list = NULL, *dns = NULL;
	peerop__map seen = PEEROP__MAP_INIT;
	size_t n = 0, cap = 0, ndns = 0;
	char *dns_name = NULL;
	unsigned int dns_port = 0;
	int rc;

	if (!out || !count || !s)
		return peerop__error_set(PEEROP_EINVAL, "peerset snapshot: missing argument");
	*out = NULL;
	*count = 0;
	pthread_mutex_lock(&s->lock);
	rc = append_unique(&list, &n, &cap, &seen, s->file_peers, s->nfile);
	if (rc == 0)
		rc = append_unique(&list, &n, &cap, &seen, s->static_peers, s->nstatic);
	if (rc == 0 && s->dns_name && !(dns_name = peerop__strdup(s->dns_name)))
		rc = PEEROP_ENOMEM;
	dns_port = s->dns_port;
	pthread_mutex_unlock(&s->lock);

	if (rc == 0 && dns_name) {
		/* a failed lookup costs this round its DNS peers, nothing more */
		if (peerop__resolve_peers(&dns, &ndns, dns_name, dns_port) != 0) {
			peerop_log_field f[1] = { { "dns", dns_name } };
			peerop__log(PEEROP_LOG_ERROR, "peer", f, 1, "%s; no DNS peers this round",
				peerop_error_last()->message);
		} else {
			rc = append_unique(&list, &n, &cap, &seen, dns, ndns);
		}
		peerop_peer_list_free(dns, ndns);
	}
	free(dns_name);
	peerop__map_dispose(&seen);
	if (rc) {
		peerop_peer_list_free(list, n);
		return rc;
	}
	*out = list;
	*count = n;
	return 0;
}

PEEROP_EXTERN(void) peerop_peerset_free(peerop_peerset *s)
{
	if (!s)
		return;
	peerop__peerset_unwatch(s);
	peerop_peer_list_free(s->file_peers, s->nfile);
	peerop_peer_list_free(s->static_peers, s->nstatic);
	free(s->dns_name);
	free(s->content);
	free(s->last_error);
	free(s->file);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
