/* ipam.c: pod IPs on the loopback.
 *
 * Linux routes all of 127.0.0.0/8 to lo and lets a socket bind any of it,
 * so each pod gets an address of its own (127.0.0.2, .3, ... 127.0.1.1,
 * ...; never 127.0.0.1, the host's, nor an address ending in .0 or .255)
 * and every pod can listen on the same containerPort, as in a cluster.
 * Addresses are reused (lowest free first) once their pod is gone, and a
 * pod keeps the address its status recorded across a restart when it is
 * still free.
 *
 * Several servers may run on one machine (tests run in parallel): an
 * address is only taken with an flock on a file named after it in a
 * directory every server shares ($PEEROP_DEVCLUSTER_IPS_DIR, else
 * /tmp/peerop-devcluster-ips). The kernel drops the lock when its holder
 * exits, even by kill -9, so no address stays taken by a dead server.
 * A new address on which something listens (a process a dead server left
 * behind, or anything else on the machine) is skipped too: its pod could
 * not bind its port, or would be mistaken for the stranger. */
#include "kubelet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIRST 0x7f000002u
#define LAST 0x7ffffffeu

struct dc_ipam {
	pthread_mutex_t mu;
	peerop__map by_owner;   /* uid -> malloc'd "127.x.y.z" */
	peerop__map by_ip;      /* "127.x.y.z" -> the locked descriptor + 2 (never NULL) */
	char *dir;          /* the shared lock directory, or NULL (no locks) */
	bool skip_listened;
};

/* Lock ip machine-wide: the descriptor holding the lock, -2 when another
 * process holds it, -1 when locks cannot be used (then ip is taken). */
static int lock_ip(const dc_ipam *a, const char *ip)
{
	char path[4200];
	int fd;
	if (!a->dir)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", a->dir, ip);
	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? -2 : -1;
	}
	return fd;
}

dc_ipam *dc_ipam_new(void)
{
	dc_ipam *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	pthread_mutex_init(&a->mu, NULL);
	a->skip_listened = true;
	{
		const char *d = getenv("PEEROP_DEVCLUSTER_IPS_DIR");
		a->dir = strdup(d && *d ? d : "/tmp/peerop-devcluster-ips");
		/* shared by every user's servers, as /tmp is */
		if (a->dir && mkdir(a->dir, 01777) == 0)
			chmod(a->dir, 01777);
	}
	if (!a->dir) {
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

static int close_lock(const char *key, void *val, void *arg)
{
	intptr_t fd = (intptr_t)val - 2;
	(void)key;
	(void)arg;
	if (fd >= 0)
		close((int)fd);
	return 0;
}

void dc_ipam_free(dc_ipam *a)
{
	if (!a)
		return;
	peerop__map_each(&a->by_owner, free_val, NULL);
	peerop__map_dispose(&a->by_owner);
	peerop__map_each(&a->by_ip, close_lock, NULL);
	peerop__map_dispose(&a->by_ip);
	pthread_mutex_destroy(&a->mu);
	free(a->dir);
	free(a);
}

/* The IPv4 addresses with a listening TCP socket (host order), from
 * /proc/net/tcp; *n receives their count. NULL when none or unreadable. */
static uint32_t *listening(size_t *n)
{
	FILE *f = fopen("/proc/net/tcp", "re");
	uint32_t *v = NULL;
	size_t cap = 0;
	char line[512];

	*n = 0;
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		unsigned int addr, port, st;
		if (sscanf(line, " %*u: %8X:%4X %*8X:%*4X %2X", &addr, &port, &st) != 3 || st != 0x0A)
			continue;
		if (*n == cap) {
			uint32_t *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		/* printed as the in-memory (network order) word read as a native int */
		v[(*n)++] = ntohl((uint32_t)addr);
	}
	fclose(f);
	return v;
}

static bool in_list(const uint32_t *v, size_t n, uint32_t ip)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (v[i] == ip)
			return true;
	return false;
}

static void fmt_ip(uint32_t v, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255u, (v >> 8) & 255u, v & 255u);
}

static bool usable(uint32_t v)
{
	return v >= FIRST && v <= LAST && (v & 255u) != 0 && (v & 255u) != 255u;
}

/* 0 taken; 1 held by another server; PEEROP_ENOMEM */
static int take(dc_ipam *a, const char *owner, const char *ip)
{
	char *copy;
	int fd = lock_ip(a, ip);
	if (fd == -2)
		return 1;
	copy = strdup(ip);
	if (!copy || peerop__map_put(&a->by_owner, owner, copy, NULL) != 0) {
		free(copy);
		if (fd >= 0)
			close(fd);
		return PEEROP_ENOMEM;
	}
	if (peerop__map_put(&a->by_ip, ip, (void *)(intptr_t)(fd + 2), NULL) != 0) {
		free(peerop__map_remove(&a->by_owner, owner));
		if (fd >= 0)
			close(fd);
		return PEEROP_ENOMEM;
	}
	return 0;
}

int dc_ipam_get(dc_ipam *a, const char *owner, const char *want, char out[16])
{
	const char *have;
	struct in_addr in;
	uint32_t v, *busy;
	size_t nbusy;
	char buf[16];
	int rc = PEEROP_ENOMEM;

	pthread_mutex_lock(&a->mu);
	have = peerop__map_get(&a->by_owner, owner);
	if (have) {
		snprintf(out, 16, "%s", have);
		pthread_mutex_unlock(&a->mu);
		return 0;
	}
	/* (the wanted address is not checked: what listens there may be the
	 * pod's own previous process, still dying) */
	if (want && inet_pton(AF_INET, want, &in) == 1 && usable(ntohl(in.s_addr))) {
		fmt_ip(ntohl(in.s_addr), buf);
		if (!peerop__map_get(&a->by_ip, buf) && take(a, owner, buf) == 0) {
			snprintf(out, 16, "%s", buf);
			pthread_mutex_unlock(&a->mu);
			return 0;
		}
	}
	busy = a->skip_listened ? listening(&nbusy) : (nbusy = 0, NULL);
	/* from the start every time: another server may have released one */
	for (v = FIRST; v <= LAST; v++) {
		if (!usable(v))
			continue;
		fmt_ip(v, buf);
		if (peerop__map_get(&a->by_ip, buf) || in_list(busy, nbusy, v))
			continue;
		rc = take(a, owner, buf);
		if (rc == 1) {
			rc = PEEROP_ENOMEM;
			continue;   /* another server's */
		}
		if (rc == 0)
			snprintf(out, 16, "%s", buf);
		break;
	}
	pthread_mutex_unlock(&a->mu);
	free(busy);
	return rc;
}

void dc_ipam_skip_listened(dc_ipam *a, bool on)
{
	pthread_mutex_lock(&a->mu);
	a->skip_listened = on;
	pthread_mutex_unlock(&a->mu);
}

void dc_ipam_release(dc_ipam *a, const char *owner)
{
	char *ip;
	pthread_mutex_lock(&a->mu);
	ip = peerop__map_remove(&a->by_owner, owner);
	if (ip) {
		intptr_t fd = (intptr_t)peerop__map_remove(&a->by_ip, ip) - 2;
		if (fd >= 0)
			close((int)fd);
		free(ip);
	}
	pthread_mutex_unlock(&a->mu);
}
