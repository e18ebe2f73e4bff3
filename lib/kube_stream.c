/*
 * kube_stream.c: a long GET whose body is handed over as it arrives (the
 * transport under watch streams).
 *
 * It runs a private curl multi handle on the calling thread so that the
 * loop wakes at least every 50 ms: the stop flag is seen promptly and the
 * idle timeout is ours (libcurl's progress callback may be called only once
 * a second, and its low-speed limit cannot tell "idle" from "slow"). The
 * easy handle is not pooled: a stream holds its connection for minutes.
 */
#include "kube_internal.h"

#include <string.h>
#include <curl/curl.h>

#define STREAM_TICK_MS 50
#define STREAM_ERROR_BODY_MAX (64u << 10)

typedef struct stream_state {
	CURL *easy;
	const peerop__kube_stream_opts *o;
	long status;           /* known once headers are in */
	peerop__buf err_body;  /* the body of a non-200 reply */
	uint64_t last_byte_ms;
	int cb_rc;             /* what on_data asked for; 0: nothing */
} stream_state;

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userp)
{
	stream_state *s = userp;
	size_t n = size * nmemb;

	s->last_byte_ms = peerop__now_ms();
	if (s->status == 0)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200) {
		/* Keep the start of an error body for its Status; drop the rest. */
		if (s->err_body.len < STREAM_ERROR_BODY_MAX) {
			size_t room = STREAM_ERROR_BODY_MAX - s->err_body.len;
			if (peerop__buf_put(&s->err_body, ptr, n < room ? n : room) < 0)
				return 0;
		}
		return n;
	}
	if (s->o->on_data) {
		int rc = s->o->on_data(ptr, n, s->o->payload);
		if (rc != 0) {
			s->cb_rc = rc < 0 ? rc : PEEROP_ECANCELED;
			return 0; /* aborts the transfer */
		}
	}
	return n;
}

/* Headers arrive (and bytes, for the idle clock) before any body. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userp)
{
	stream_state *s = userp;
	(void)ptr;
	s->last_byte_ms = peerop__now_ms();
	return size * nmemb;
}

static int stopped(const peerop__kube_stream_opts *o)
{
	return o->stop && __atomic_load_n(o->stop, __ATOMIC_ACQUIRE) != 0;
}

/* One attempt. *status receives the HTTP status (0 if none). */
static int stream_once(peerop_kube_client *c, const char *url, const peerop__kube_stream_opts *o,
	const peerop__kube_cred *cred, long *status)
{
	stream_state s;
	CURLM *multi = NULL;
	void *headers = NULL;
	char errbuf[CURL_ERROR_SIZE];
	int rc = 0, running = 1;
	CURLcode result = CURLE_OK;
	uint64_t t0;

	peerop__kube_throttle(c);
	t0 = peerop__now_ms();
	memset(&s, 0, sizeof(s));
	s.o = o;
	*status = 0;
	if (!(s.easy = curl_easy_init()) || !(multi = curl_multi_init())) {
		rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = peerop__kube_easy_setup(s.easy, c, "GET", url, NULL, cred, &headers)) < 0)
		goto done;
	errbuf[0] = '\0';
	curl_easy_setopt(s.easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(s.easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(s.easy, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(s.easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(s.easy, CURLOPT_HEADERDATA, &s);
	/* A stream is long and may be quiet: no overall or low-speed limit;
	 * the idle timeout below and TCP keepalive catch a dead peer. */
	curl_easy_setopt(s.easy, CURLOPT_TIMEOUT_MS, 0L);
	curl_easy_setopt(s.easy, CURLOPT_LOW_SPEED_LIMIT, 0L);
	curl_easy_setopt(s.easy, CURLOPT_LOW_SPEED_TIME, 0L);
	if (curl_multi_add_handle(multi, s.easy) != CURLM_OK) {
		rc = peerop__error_set(PEEROP_ENOMEM, "out of memory");
		goto done;
	}
	s.last_byte_ms = t0;
	while (running) {
		CURLMsg *msg;
		unsigned int idle;
		int left;
		if (curl_multi_perform(multi, &running) != CURLM_OK) {
			rc = peerop__error_set(PEEROP_ERROR, "GET %s: libcurl multi failure", url);
			break;
		}
		while ((msg = curl_multi_info_read(multi, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE)
				result = msg->data.result;
		if (!running || s.cb_rc)
			break;
		if (stopped(o)) {
			rc = peerop__error_set(PEEROP_ECANCELED, "GET %s: stream stopped", url);
			break;
		}
		idle = o->idle_timeout_live ? __atomic_load_n(o->idle_timeout_live, __ATOMIC_RELAXED) : o->idle_timeout_ms;
		if (idle && peerop__now_ms() - s.last_byte_ms >= idle) {
			rc = peerop__error_set(PEEROP_ETIMEOUT, "GET %s: no data for %u ms", url, idle);
			break;
		}
		curl_multi_poll(multi, NULL, 0, STREAM_TICK_MS, NULL);
	}
	curl_easy_getinfo(s.easy, CURLINFO_RESPONSE_CODE, status);
	peerop__kube_count_request(c, "GET", *status ? *status : -1);
	if (o->retry_after_ms) {
		curl_off_t ra = 0;
		*o->retry_after_ms = 0;
		if (*status != 200 && curl_easy_getinfo(s.easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			*o->retry_after_ms = ra > 3600 ? 3600000u : (unsigned int)ra * 1000u;
	}
	if (rc == 0 && s.cb_rc) {
		rc = s.cb_rc;
		if (rc == PEEROP_ECANCELED && peerop_error_last()->code != PEEROP_ECANCELED)
			peerop__error_set(PEEROP_ECANCELED, "GET %s: stopped by the data callback", url);
	} else if (rc == 0 && result != CURLE_OK) {
		rc = peerop__kube_set_curl_error(result, "GET", url, errbuf);
	} else if (rc == 0 && *status != 200) {
		rc = peerop__kube_set_http_error(*status, s.err_body.ptr, s.err_body.len, "GET", url, cred->token);
	}
	peerop__debug("kube", "GET %s (stream) -> %ld after %llu ms: %s", url, *status,
		(unsigned long long)(peerop__now_ms() - t0), rc ? peerop_error_name(rc) : "ended");
done:
	if (multi && s.easy)
		curl_multi_remove_handle(multi, s.easy);
	if (s.easy)
		curl_easy_cleanup(s.easy);
	if (multi)
		curl_multi_cleanup(multi);
	peerop__kube_headers_free(headers);
	peerop__buf_dispose(&s.err_body);
	return rc;
}

int peerop__kube_stream(peerop_kube_client *c, const char *path_and_query, const peerop__kube_stream_opts *o)
{
	peerop__buf url = PEEROP__BUF_INIT;
	int rc, attempt;

	if (!c || !path_and_query || !o)
		return peerop__error_set(PEEROP_EINVAL, "peerop__kube_stream: client, path and options are required");
	if (o->retry_after_ms)
		*o->retry_after_ms = 0; /* also when no reply comes at all */
	if ((rc = peerop__kube_url(&url, c, path_and_query)) < 0)
		return rc;
	for (attempt = 0; attempt < 2; attempt++) {
		peerop__kube_cred cred;
		long status = 0;
		if (stopped(o)) {
			rc = peerop__error_set(PEEROP_ECANCELED, "GET %s: stream stopped", url.ptr);
			break;
		}
		if ((rc = peerop__kube_cred_get(&cred, c->cfg, peerop__now_ms())) < 0) {
			peerop__error_prefix("GET %s: ", url.ptr);
			break;
		}
		rc = stream_once(c, url.ptr, o, &cred, &status);
		/* A 401 delivered nothing: refresh a rotating credential, once. */
		if (rc == PEEROP_EAUTH && status == 401 && attempt == 0 &&
		    peerop__kube_cred_invalidate(c->cfg, cred.generation)) {
			peerop__kube_cred_dispose(&cred);
			continue;
		}
		peerop__kube_cred_dispose(&cred);
		break;
	}
	peerop__buf_dispose(&url);
	return rc;
}
