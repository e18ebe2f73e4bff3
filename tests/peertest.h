/*
 * peertest.h: helpers for the peer-ping tests: a blocking HTTP client
 * (libcurl), raw sockets for hostile clients, and a misbehaving peer
 * server whose replies the test chooses.
 */
#ifndef PEEROP_PEERTEST_H
#define PEEROP_PEERTEST_H

#include <stddef.h>
#include <pthread.h>

/* One request with libcurl; returns the status (0 when no reply).
 * *body and *id (the X-Peerop-Id header) are malloc'd when not NULL. */
long pt_http(const char *method, const char *url, const char *req_body, char **body, char **id);
/* GET http://127.0.0.1:port/path */
long pt_get(unsigned int port, const char *path, char **body);

/* A TCP connection to 127.0.0.1:port (or ::1 when v6), blocking, or -1. */
int pt_connect(unsigned int port, int v6);
/* Send everything; 0 or -1. */
int pt_send(int fd, const void *data, size_t len);
/* Read until the peer closes or timeout_ms passes; malloc'd, NUL-terminated. */
char *pt_recv_all(int fd, unsigned int timeout_ms);

/* What a bad peer answers. */
typedef enum pt_mode {
	PT_PONG,          /* a correct pong with X-Peerop-Id */
	PT_PONG_ANON,     /* a correct pong without the identity header */
	PT_WRONG_BODY,    /* 200 "hello\n" */
	PT_STATUS_500,    /* 500 */
	PT_REDIRECT,      /* 302 to /elsewhere */
	PT_HUGE_BODY,     /* 200 with 8 MiB of body */
	PT_RESET,         /* headers and half the body, then RST */
	PT_SILENT,        /* accepts, reads, never answers */
	PT_GARBAGE        /* binary junk instead of HTTP */
} pt_mode;

typedef struct pt_server pt_server;
/* Start a bad peer on 127.0.0.1, a free port. */
pt_server *pt_server_start(pt_mode mode, const char *id);
unsigned int pt_server_port(const pt_server *s);
/* Requests seen so far. */
unsigned int pt_server_hits(pt_server *s);
void pt_server_stop(pt_server *s);

#endif
