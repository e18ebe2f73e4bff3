/* api_log.c: GET /api/v1/namespaces/NS/pods/NAME/log, what `kubectl logs`
 * reads: `container` (required when the pod has several), `previous`,
 * `timestamps`, `tailLines`, `limitBytes`, `sinceSeconds`, `sinceTime`
 * and `follow`, which streams new lines until the container instance
 * ends, the pod goes, the client leaves or the server stops. Errors are
 * the real server's: 400 naming the containers to choose from, or saying
 * the container is waiting to start. */
#include "apiserver.h"

#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct follower {
	dc_podlogs *logs;
	char *uid, *ctr;
	dc_logq q;
	uint64_t off, instance;
	peerop__buf out;
	size_t out_off;
	bool over;
	int fd;
} follower;

static bool flag(const dc_req *rq, const char *key)
{
	return dc_req_query_bool(rq, key);
}

/* An integer query value; def when absent; false when malformed. */
static bool int_query(const dc_req *rq, const char *key, long long def, long long *out)
{
	const char *v = dc_req_query(rq, key);
	uint64_t n;
	*out = def;
	if (!v || !*v)
		return true;
	if (!dc_parse_rv(v, &n) || n > (1ull << 53))
		return false;
	*out = (long long)n;
	return true;
}

static bool client_gone(int fd)
{
	struct pollfd p = { fd, POLLRDHUP, 0 };
	if (fd < 0)
		return false;
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static ssize_t follow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	follower *f = cls;
	(void)pos;
	for (;;) {
		if (f->out_off < f->out.len) {
			size_t n = f->out.len - f->out_off;
			if (n > max)
				n = max;
			memcpy(buf, f->out.ptr + f->out_off, n);
			f->out_off += n;
			return (ssize_t)n;
		}
		peerop__buf_clear(&f->out);
		f->out_off = 0;
		if (f->over)
			return MHD_CONTENT_READER_END_OF_STREAM;
		f->over = dc_podlog_wait(f->logs, f->uid, f->ctr, &f->q, &f->off, f->instance, &f->out, 1000) != 0;
		if (f->out.len == 0 && client_gone(f->fd))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

static void follow_free(void *cls)
{
	follower *f = cls;
	peerop__buf_dispose(&f->out);
	free(f->uid);
	free(f->ctr);
	free(f);
}

/* The container's status entry in pod, or NULL. */
static const json_t *ctr_status(const json_t *pod, const char *name)
{
	static const char *const lists[] = { "status.containerStatuses", "status.initContainerStatuses" };
	const json_t *cs;
	size_t i, l;
	for (l = 0; l < PEEROP__ARRAY_SIZE(lists); l++)
		json_array_foreach(dc_json_path(pod, lists[l]), i, cs) {
			const char *n = dc_json_str(cs, "name");
			if (n && !strcmp(n, name))
				return cs;
		}
	return NULL;
}

void dc_api_log_locked(dc_req *rq, dc_resp *rs, dc_entry *e)
{
	dc_store *s = rq->srv->store;
	json_t *pod = dc_obj_parse(e->obj), *c;
	const json_t *ctrs = dc_json_path(pod, "spec.containers"), *cs;
	const char *want = dc_req_query(rq, "container"), *ctr = NULL, *since_time = dc_req_query(rq, "sinceTime");
	peerop__buf names = PEEROP__BUF_INIT, out = PEEROP__BUF_INIT;
	long long since_s;
	dc_logq q;
	size_t i, len;
	int rc;

	memset(&q, 0, sizeof(q));
	json_array_foreach(ctrs, i, c) {
		const char *n = json_string_value(json_object_get(c, "name"));
		if (!n)
			continue;
		peerop__buf_printf(&names, "%s%s", names.len ? " " : "", n);
		if ((want && *want && !strcmp(n, want)) || ((!want || !*want) && json_array_size(ctrs) == 1))
			ctr = n;
	}
	/* init containers are asked for by name */
	json_array_foreach(dc_json_path(pod, "spec.initContainers"), i, c) {
		const char *n = json_string_value(json_object_get(c, "name"));
		if (n && want && !strcmp(n, want))
			ctr = n;
	}
	if (!ctr) {
		if (want && *want)
			dc_resp_error(rs, 400, "BadRequest", "container %s is not valid for pod %s", want, e->obj->name);
		else
			dc_resp_error(rs, 400, "BadRequest", "a container name must be specified for pod %s, choose one of: [%s]%s",
				e->obj->name, names.ptr ? names.ptr : "", json_array_size(dc_json_path(pod, "spec.initContainers")) ?
				" or one of the init containers" : "");
		goto out;
	}
	q.previous = flag(rq, "previous");
	q.timestamps = flag(rq, "timestamps");
	if (!int_query(rq, "tailLines", -1, &q.tail_lines) || !int_query(rq, "limitBytes", -1, &q.limit_bytes) ||
	    !int_query(rq, "sinceSeconds", 0, &since_s) || q.limit_bytes == 0) {
		dc_resp_error(rs, 422, "Invalid", "PodLogOptions \"%s\" is invalid: tailLines, limitBytes and sinceSeconds "
			"must be positive integers", e->obj->name);
		goto out;
	}
	if (since_s > 0)
		q.since = time(NULL) - (time_t)since_s;
	if (since_time && *since_time && !dc_parse_time(since_time, &q.since)) {
		dc_resp_error(rs, 400, "BadRequest", "sinceTime: invalid value \"%s\"", since_time);
		goto out;
	}
	cs = ctr_status(pod, ctr);
	if (q.previous && !dc_json_path(cs, "lastState.terminated")) {
		dc_resp_error(rs, 400, "BadRequest", "previous terminated container \"%s\" in pod \"%s\" not found", ctr,
			e->obj->name);
		goto out;
	}
	rc = dc_podlog_read(s->podlogs, e->obj->uid, ctr, &q, &out, NULL, NULL);
	if (rc == 0 && out.len == 0 && !q.previous && dc_json_str(cs, "state.waiting.reason") &&
	    !dc_json_path(cs, "lastState.terminated")) {
		/* nothing ran yet: what the real server says */
		dc_resp_error(rs, 400, "BadRequest", "container \"%s\" in pod \"%s\" is waiting to start: %s", ctr,
			e->obj->name, dc_json_str(cs, "state.waiting.reason"));
		goto out;
	}
	if (rc != 0) {
		dc_resp_error(rs, 400, "BadRequest", "previous terminated container \"%s\" in pod \"%s\" not found", ctr,
			e->obj->name);
		goto out;
	}
	if (flag(rq, "follow") && !q.previous && rq->conn) {
		follower *f = calloc(1, sizeof(*f));
		struct MHD_Response *resp;
		const union MHD_ConnectionInfo *ci;
		peerop__buf_clear(&out);
		if (!f || !(f->uid = strdup(e->obj->uid)) || !(f->ctr = strdup(ctr))) {
			if (f)
				follow_free(f);
			dc_resp_error(rs, 500, "InternalError", "out of memory");
			goto out;
		}
		f->logs = s->podlogs;
		f->q = q;
		f->q.limit_bytes = -1;
		f->fd = -1;
		dc_podlog_read(s->podlogs, e->obj->uid, ctr, &q, &f->out, &f->off, &f->instance);
		ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			f->fd = ci->connect_fd;
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, follow_read, f, follow_free);
		if (!resp) {
			follow_free(f);
			dc_resp_error(rs, 500, "InternalError", "out of memory");
			goto out;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, private");
		rs->code = 200;
		rs->stream = resp;
		goto out;
	}
	if (!out.ptr)
		peerop__buf_puts(&out, "");
	rs->content_type = "text/plain";
	len = out.len;
	dc_resp_raw(rs, 200, peerop__buf_detach(&out), len);
out:
	peerop__buf_dispose(&names);
	peerop__buf_dispose(&out);
	json_decref(pod);
}
