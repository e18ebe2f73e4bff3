/*
 * peer_internal.h: declarations shared by the peer-ping module's files
 * (metrics.c, httpd*.c, peer_*.c, pinger*.c). Not exported.
 */
#ifndef PEEROP_PEER_INTERNAL_H
#define PEEROP_PEER_INTERNAL_H

#include "internal.h"
#include "peerop/metrics.h"
#include "peerop/httpd.h"
#include "peerop/peer.h"

#include <sys/socket.h>

/* Run one collector into out (metrics.c). */
int peerop__metrics_run(peerop__buf *out, peerop_metrics_collect_cb collect, void *payload);

/* ---- addresses (peer_addr.c) ---------------------------------------------
 * Split "HOST:PORT", "[V6]:PORT", ":PORT" or "*:PORT". *host is malloc'd,
 * without brackets, "" for the wildcard forms. PEEROP_EINVAL names what
 * is wrong; what names the input in the message ("--listen"). */
int peerop__split_hostport(char **host, unsigned int *port, const char *s, const char *what);
/* Parse "http://HOST:PORT[/ping]" (or "HOST:PORT"). */
int peerop__parse_peer_url(char **host, unsigned int *port, const char *url);
/* Numeric text of an address: "10.1.2.3" or "::1" (no brackets, no port). */
void peerop__addr_text(char *buf, size_t size, const struct sockaddr *sa);
/* The URL a peer is pinged at: http://10.1.2.3:8080/ping, IPv6 in brackets. */
int peerop__peer_url(peerop__buf *b, const char *host, unsigned int port);
/* True when host (a numeric address) is one of this machine's own
 * addresses (any interface, loopback included). */
int peerop__is_local_addr(const char *host);
/* True when both are numeric addresses of the same host (::ffff:10.0.0.1 is 10.0.0.1). */
int peerop__same_addr(const char *a, const char *b);
/* True when the text is a numeric IPv4 or IPv6 address. */
int peerop__is_numeric_addr(const char *host);

/* Every A/AAAA record of name, as peers on port (peer_addr.c).
 * PEEROP_ECONNECT when the name does not resolve. */
int peerop__resolve_peers(peerop_peer **out, size_t *count, const char *name, unsigned int port);

/* "1st", "2nd", "3rd", "4th", "11th", "21st"... (pinger_report.c) */
const char *peerop__ordinal(char *buf, size_t size, unsigned int n);

/* A peer's address as one string, "PORT/HOST", to find it in a map
 * (peerset.c). Hosts are at most 253 characters, so PEEROP__PEER_KEY_MAX
 * always suffices. */
#define PEEROP__PEER_KEY_MAX 264
void peerop__peer_key(char buf[PEEROP__PEER_KEY_MAX], const char *host, unsigned int port);

/* The set's generation, and in *resolves whether every snapshot looks a
 * DNS name up (then two snapshots of one generation may differ) (peerset.c). */
unsigned long peerop__peerset_version(peerop_peerset *s, int *resolves);

/* Copy a peer's strings into one allocation list (peer_file.c). */
int peerop__peer_list_append(peerop_peer **list, size_t *count, size_t *cap,
	const char *id, const char *host, unsigned int port, peerop_peer_source source);

#endif /* PEEROP_PEER_INTERNAL_H */
