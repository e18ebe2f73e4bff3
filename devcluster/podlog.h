/*
 * podlog.h: container logs (podlog.c), kept by the store for the pods/log
 * subresource (api_log.c) and written by the kubelet.
 */
#ifndef DEVCLUSTER_PODLOG_H
#define DEVCLUSTER_PODLOG_H

#include "devcluster.h"

typedef struct dc_podlogs dc_podlogs;
dc_podlogs *dc_podlogs_new(void);
void dc_podlogs_free(dc_podlogs *l);
/* Wake and end every follower (the server stops). */
void dc_podlogs_close(dc_podlogs *l);

/* A container instance starts: the current log becomes the previous one. */
void dc_podlog_start(dc_podlogs *l, const char *uid, const char *ctr);
/* Append output (any bytes; cut into lines, each stamped when read). */
void dc_podlog_write(dc_podlogs *l, const char *uid, const char *ctr, const char *data, size_t len);
/* The instance ended: flush a partial line; followers finish. */
void dc_podlog_end(dc_podlogs *l, const char *uid, const char *ctr);
/* The pod is gone: forget its logs; followers finish. */
void dc_podlog_forget(dc_podlogs *l, const char *uid);

/* What a read asks for (the pods/log query). */
typedef struct dc_logq {
	bool previous;          /* the instance before the current one */
	bool timestamps;        /* keep the RFC 3339 stamp in front of each line */
	long long tail_lines;   /* -1: every line */
	long long limit_bytes;  /* -1: no limit */
	time_t since;           /* 0: every line; else lines stamped at or after */
} dc_logq;
/* Append the log to out. PEEROP_ENOENT for a previous instance that does
 * not exist. *end_off and *instance (if not NULL) say where a follower
 * continues. */
int dc_podlog_read(dc_podlogs *l, const char *uid, const char *ctr, const dc_logq *q, peerop__buf *out,
	uint64_t *end_off, uint64_t *instance);
/* Follow: append what comes after *off of that instance, waiting up to
 * ms. Returns 1 when the stream is over (the instance ended or restarted,
 * the pod went, the server stops), else 0. */
int dc_podlog_wait(dc_podlogs *l, const char *uid, const char *ctr, const dc_logq *q, uint64_t *off,
	uint64_t instance, peerop__buf *out, unsigned ms);

#endif /* DEVCLUSTER_PODLOG_H */
