/*
 * seqping: ping every peer of a peers file one after another, the way the
 * original project did (a loop of blocking GETs), as the baseline for
 * bench-peer-fanout.sh. Prints one line per round: "round N: X ms".
 *
 *   seqping PEERS_FILE ROUNDS [reuse]
 *
 * Without "reuse", each ping opens a new connection (requests.get() in a
 * loop); with it, one handle keeps connections alive between pings.
 */
#include "config.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "internal.h"
#include "peerop/peer.h"

static size_t sink(char *d, size_t s, size_t n, void *u)
{
	PEEROP__UNUSED(d);
	PEEROP__UNUSED(u);
	return s * n;
}

int main(int argc, char **argv)
{
	char *data = NULL;
	size_t len = 0, n = 0, i;
	peerop_peer *peers = NULL;
	int rounds, r, reuse;
	CURL *shared = NULL;

	if (argc < 3) {
		fprintf(stderr, "usage: seqping PEERS_FILE ROUNDS [reuse]\n");
		return 2;
	}
	rounds = atoi(argv[2]);
	reuse = argc > 3 && strcmp(argv[3], "reuse") == 0;
	if (peerop__read_file(&data, &len, argv[1], 0) != 0 ||
	    peerop_peers_parse(&peers, &n, argv[1], data, len) != 0) {
		fprintf(stderr, "seqping: %s\n", peerop_error_last()->message);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (reuse) {
		/* room for one open connection per peer, or nothing is reused */
		shared = curl_easy_init();
		curl_easy_setopt(shared, CURLOPT_MAXCONNECTS, (long)n + 1);
	}
	for (r = 1; r <= rounds; r++) {
		uint64_t t0 = peerop__now_us();
		unsigned int ok = 0;
		for (i = 0; i < n; i++) {
			char url[300];
			long status = 0;
			CURL *e = reuse ? shared : curl_easy_init();
			snprintf(url, sizeof(url), "http://%s:%u/ping", peers[i].host, peers[i].port);
			curl_easy_setopt(e, CURLOPT_URL, url);
			curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
			curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
			curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
			if (curl_easy_perform(e) == CURLE_OK &&
			    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200)
				ok++;
			if (!reuse)
				curl_easy_cleanup(e);
		}
		printf("round %d: %.1f ms (%u/%zu pongs)\n", r, (double)(peerop__now_us() - t0) / 1000.0, ok, n);
		fflush(stdout);
	}
	{
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		printf("cpu: %.1f ms per round\n", ((double)ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
			(double)ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3) / rounds);
	}
	if (shared)
		curl_easy_cleanup(shared);
	peerop_peer_list_free(peers, n);
	free(data);
	curl_global_cleanup();
	return 0;
}
