/*
 * peerset_internal.h: the peer set's state, shared by peerset.c (the set)
 * and peerset_watch.c (the thread that watches the peers file).
 */
#ifndef PEEROP_PEERSET_INTERNAL_H
#define PEEROP_PEERSET_INTERNAL_H

#include "peer_internal.h"

#include <pthread.h>

struct peerop_peerset {
	pthread_mutex_t lock;          /* guards everything below but the options */
	/* options, fixed after new */
	char *file;
	size_t file_limit;
	unsigned int poll_ms;
	int poll_only;
	peerop_peerset_change_cb on_change;
	void *payload;
	/* the file's last good content and peers */
	peerop_peer *file_peers;
	size_t nfile;
	char *content;
	size_t content_len;
	int loaded;
	char *last_error;              /* the error last logged, so it is logged once */
	/* other sources */
	peerop_peer *static_peers;
	size_t nstatic, capstatic;
	char *dns_name;
	unsigned int dns_port;
	unsigned long generation;
	/* the watcher thread */
	pthread_t thread;
	int watching;
	int wake[2];
	int inotify_fd, inotify_wd;    /* set up by peerop_peerset_watch(), then the thread's */
};

/* Read and parse the file; keep the last good set on failure (peerset.c). */
int peerop__peerset_reload(peerop_peerset *s, int do_notify);
/* Stop the watcher thread if it runs (peerset_watch.c). */
void peerop__peerset_unwatch(peerop_peerset *s);

#endif /* PEEROP_PEERSET_INTERNAL_H */
