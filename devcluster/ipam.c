/* ipam.c: pod IPs on the loopback.
 *
 * Linux routes all of 127.0.0.0/8 to lo and lets a socket bind any of it,
 * so each pod gets an address of its own (127.0.0.2, .3, ... 127.0.1.1,
 * ...; never 127.0.0.1, the host's, nor an address ending in .0 or .255)
 * and every pod can listen on the same containerPort, as in a cluster.
 * Addresses are reused (lowest free first) once their pod is gone, and a
 * pod keeps the address its status recorded across a restart when it is
 * still free. */
#include "kubelet.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST 0x7f000002u
#define LAST 0x7ffffffeu

struct dc_ipam {
	pthread_mutex_t mu;
	dc_map *by_owner;   /* uid -> malloc'd "127.x.y.z" */
	dc_map *by_ip;      /* "127.x.y.z" -> (void *)1: taken */
	uint32_t hint;      /* no address below it is free */
};

dc_ipam *dc_ipam_new(void)
{
	dc_ipam *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	pthread_mutex_init(&a->mu, NULL);
	a->by_owner = dc_map_new();
	a->by_ip = dc_map_new();
	a->hint = FIRST;
	if (!a->by_owner || !a->by_ip) {
		dc_ipam_free(a);
		return NULL;
	}
	return a;
}

static int free_val(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	free(val);
	return 0;
}

void dc_ipam_free(dc_ipam *a)
{
	if (!a)
		return;
	if (a->by_owner) {
		dc_map_each(a->by_owner, free_val, NULL);
		dc_map_free(a->by_owner);
	}
	dc_map_free(a->by_ip);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

static void fmt_ip(uint32_t v, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255u, (v >> 8) & 255u, v & 255u);
}

static bool usable(uint32_t v)
{
	return v >= FIRST && v <= LAST && (v & 255u) != 0 && (v & 255u) != 255u;
}

static int take(dc_ipam *a, const char *owner, const char *ip)
{
	char *copy = strdup(ip);
	if (!copy || dc_map_put(a->by_owner, owner, copy) != 0) {
		free(copy);
		return PEEROP_ENOMEM;
	}
	if (dc_map_put(a->by_ip, ip, (void *)1) != 0) {
		free(dc_map_del(a->by_owner, owner));
		return PEEROP_ENOMEM;
	}
	return 0;
}

int dc_ipam_get(dc_ipam *a, const char *owner, const char *want, char out[16])
{
	const char *have;
	struct in_addr in;
	uint32_t v;
	char buf[16];
	int rc = PEEROP_ENOMEM;

	pthread_mutex_lock(&a->mu);
	have = dc_map_get(a->by_owner, owner);
	if (have) {
		snprintf(out, 16, "%s", have);
		pthread_mutex_unlock(&a->mu);
		return 0;
	}
	if (want && inet_pton(AF_INET, want, &in) == 1 && usable(ntohl(in.s_addr))) {
		fmt_ip(ntohl(in.s_addr), buf);
		if (!dc_map_get(a->by_ip, buf) && take(a, owner, buf) == 0) {
			snprintf(out, 16, "%s", buf);
			pthread_mutex_unlock(&a->mu);
			return 0;
		}
	}
	for (v = a->hint; v <= LAST; v++) {
		if (!usable(v))
			continue;
		fmt_ip(v, buf);
		if (dc_map_get(a->by_ip, buf))
			continue;
		rc = take(a, owner, buf);
		if (rc == 0) {
			snprintf(out, 16, "%s", buf);
			a->hint = v;
		}
		break;
	}
	pthread_mutex_unlock(&a->mu);
	return rc;
}

void dc_ipam_release(dc_ipam *a, const char *owner)
{
	char *ip;
	struct in_addr in;
	pthread_mutex_lock(&a->mu);
	ip = dc_map_del(a->by_owner, owner);
	if (ip) {
		dc_map_del(a->by_ip, ip);
		if (inet_pton(AF_INET, ip, &in) == 1 && ntohl(in.s_addr) < a->hint)
			a->hint = ntohl(in.s_addr);
		free(ip);
	}
	pthread_mutex_unlock(&a->mu);
}
