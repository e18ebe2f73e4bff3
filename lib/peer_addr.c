/*
 * peer_addr.c: host:port parsing, peer URLs, DNS peer lookup and "is this
 * address mine", shared by the server (where to listen) and the pinger
 * (whom to ping, and whom not to: itself).
 */
#include "peer_internal.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(unsigned int *port, const char *s, const char *what, const char *input)
{
	char *end;
	unsigned long v;
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return peerop__error_set(PEEROP_EINVAL, "%s \"%.128s\": the port must be a number 0-65535",
			what, input);
	v = strtoul(s, &end, 10);
	if (*end || v > 65535)
		return peerop__error_set(PEEROP_EINVAL, "%s \"%.128s\": port out of range 0-65535",
			what, input);
	*port = (unsigned int)v;
	return 0;
}

int peerop__split_hostport(char **host, unsigned int *port, const char *s, const char *what)
{
	const char *colon, *hs;
	size_t hl;
	int rc;

	*host = NULL;
	if (!s || !*s)
		return peerop__error_set(PEEROP_EINVAL, "%s: empty address (expected HOST:PORT)", what);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return peerop__error_set(PEEROP_EINVAL,
				"%s \"%.128s\": expected [IPV6]:PORT", what, s);
		hs = s + 1;
		hl = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return peerop__error_set(PEEROP_EINVAL,
				"%s \"%.128s\": missing port (expected HOST:PORT)", what, s);
		if (memchr(s, ':', (size_t)(colon - s)))
			return peerop__error_set(PEEROP_EINVAL,
				"%s \"%.128s\": an IPv6 address needs brackets: [ADDR]:PORT", what, s);
		hs = s;
		hl = (size_t)(colon - s);
	}
	if ((rc = parse_port(port, colon + 1, what, s)) != 0)
		return rc;
	if (hl == 1 && hs[0] == '*')
		hl = 0;
	if (hl > 253)
		return peerop__error_set(PEEROP_EINVAL, "%s: host name too long", what);
	if (memchr(hs, ' ', hl) || memchr(hs, '/', hl) || memchr(hs, '@', hl))
		return peerop__error_set(PEEROP_EINVAL, "%s \"%.128s\": invalid host", what, s);
	*host = peerop__strndup(hs, hl);
	return *host ? 0 : PEEROP_ENOMEM;
}

int peerop__parse_peer_url(char **host, unsigned int *port, const char *url)
{
	const char *rest = url, *slash;
	char *hp;
	int rc;

	*host = NULL;
	if (!url)
		return peerop__error_set(PEEROP_EINVAL, "peer URL: missing");
	if (strncmp(url, "https://", 8) == 0)
		return peerop__error_set(PEEROP_EINVAL,
			"peer URL \"%.128s\": only http:// is supported", url);
	if (strncmp(url, "http://", 7) == 0)
		rest = url + 7;
	slash = strchr(rest, '/');
	if (slash && strcmp(slash, "/") != 0 && strcmp(slash, "/ping") != 0)
		return peerop__error_set(PEEROP_EINVAL,
			"peer URL \"%.128s\": the path must be /ping or nothing", url);
	hp = peerop__strndup(rest, slash ? (size_t)(slash - rest) : strlen(rest));
	if (!hp)
		return PEEROP_ENOMEM;
	rc = peerop__split_hostport(host, port, hp, "peer URL");
	free(hp);
	if (rc == 0 && (!**host || *port == 0)) {
		free(*host);
		*host = NULL;
		return peerop__error_set(PEEROP_EINVAL,
			"peer URL \"%.128s\": needs a host and a non-zero port", url);
	}
	return rc;
}

void peerop__addr_text(char *buf, size_t size, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		/* an IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, (socklen_t)size);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)size);
	} else if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)size);
	} else {
		snprintf(buf, size, "?");
	}
}

int peerop__peer_url(peerop__buf *b, const char *host, unsigned int port)
{
	if (strchr(host, ':'))
		return peerop__buf_printf(b, "http://[%s]:%u/ping", host, port);
	return peerop__buf_printf(b, "http://%s:%u/ping", host, port);
}

int peerop__is_numeric_addr(const char *host)
{
	unsigned char tmp[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

/* Compare as addresses, so "::ffff:127.0.0.1" and "127.0.0.1" match. */
static int canonical(char *buf, size_t size, const char *host)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
	} else {
		return -1;
	}
	peerop__addr_text(buf, size, (struct sockaddr *)&ss);
	return 0;
}

int peerop__same_addr(const char *a, const char *b)
{
	char x[INET6_ADDRSTRLEN], y[INET6_ADDRSTRLEN];
	if (canonical(x, sizeof(x), a) != 0 || canonical(y, sizeof(y), b) != 0)
		return 0;
	return strcmp(x, y) == 0;
}

int peerop__is_local_addr(const char *host)
{
	struct ifaddrs *ifs, *i;
	char want[INET6_ADDRSTRLEN], have[INET6_ADDRSTRLEN];
	int found = 0;

	if (canonical(want, sizeof(want), host) != 0)
		return 0;
	/* the whole of 127.0.0.0/8 is this machine, configured or not */
	if (strncmp(want, "127.", 4) == 0 || strcmp(want, "::1") == 0)
		return 1;
	if (getifaddrs(&ifs) != 0)
		return 0;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		peerop__addr_text(have, sizeof(have), i->ifa_addr);
		found = strcmp(have, want) == 0;
	}
	freeifaddrs(ifs);
	return found;
}

int peerop__resolve_peers(peerop_peer **out, size_t *count, const char *name, unsigned int port)
{
	struct addrinfo hints, *res = NULL, *ai;
	peerop_peer *list = NULL;
	size_t n = 0, cap = 0, j;
	int gai, rc = 0;

	*out = NULL;
	*count = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	gai = getaddrinfo(name, NULL, &hints, &res);
	if (gai != 0)
		return peerop__error_set(PEEROP_ECONNECT, "DNS peers %s: %s", name, gai_strerror(gai));
	for (ai = res; ai && rc == 0; ai = ai->ai_next) {
		char text[INET6_ADDRSTRLEN];
		int dup = 0;
		peerop__addr_text(text, sizeof(text), ai->ai_addr);
		for (j = 0; j < n && !dup; j++)
			dup = strcmp(list[j].host, text) == 0;
		if (!dup)
			rc = peerop__peer_list_append(&list, &n, &cap, "", text, port, PEEROP_PEER_DNS);
	}
	freeaddrinfo(res);
	if (rc) {
		peerop_peer_list_free(list, n);
		return rc;
	}
	*out = list;
	*count = n;
	return 0;
}
