/*
 * peerset_watch.c: reload the peers file when it changes.
 *
 * We watch the file's directory, not the file: Kubernetes updates a mounted
 * ConfigMap by writing a new timestamped directory and renaming the `..data`
 * symlink over the old one, so the file's own inode never changes and a
 * watch on it would never fire. Events in the directory (a rename of
 * ..data, an in-place write, a create) start a short debounce, so a file
 * written in several syscalls is read once, after the last one. A bare
 * IN_MODIFY (a truncation, a write) waits for its writer's close, up to
 * DEBOUNCE_MAX_MS: a writer descheduled between truncating the file and
 * writing it must not make us read, and report, an empty file.
 *
 * Polling runs all the time, as the fallback when inotify is unavailable
 * (no inotify, too many watches, the directory missing at start) and as a
 * safety net: a stat signature (device, inode, size, mtime, ctime of what
 * the path resolves to) decides whether to read the file again, once it
 * has stayed the same for one more poll (a file caught in the middle of a
 * write changes again before then).
 */
#include "peerset_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEBOUNCE_MS 50
#define DEBOUNCE_MAX_MS 500

typedef struct file_sig {
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime_;
} file_sig;

static void signature(file_sig *sig, const char *path)
{
	struct stat st;
	memset(sig, 0, sizeof(*sig));
	if (stat(path, &st) != 0)
		return;
	sig->exists = 1;
	sig->dev = st.st_dev;
	sig->ino = st.st_ino;
	sig->size = st.st_size;
	sig->mtime = st.st_mtim;
	sig->ctime_ = st.st_ctim;
}

static int same_sig(const file_sig *a, const file_sig *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
		a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
		a->ctime_.tv_sec == b->ctime_.tv_sec && a->ctime_.tv_nsec == b->ctime_.tv_nsec;
}

static int add_dir_watch(int ifd, const char *file)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(file, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == file)
		strcpy(dir, "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - file), file);
	return inotify_add_watch(ifd, dir, IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM |
		IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
}

/* Drain the inotify queue; returns 1 if the watch itself went away.
 * *settled is set when an event says a change is complete (a close after
 * writing, a rename, a create, a delete), as opposed to a bare IN_MODIFY. */
static int drain(int ifd, int *settled)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int lost = 0;
	for (;;) {
		ssize_t n = read(ifd, buf, sizeof(buf));
		char *p;
		if (n <= 0)
			break;
		for (p = buf; p < buf + n; ) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
				lost = 1;
			if (ev->mask & ~(uint32_t)IN_MODIFY)
				*settled = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	return lost;
}

static void *watch_main(void *arg)
{
	peerop_peerset *s = arg;
	file_sig last, now, candidate;
	int ifd = s->inotify_fd, wd = s->inotify_wd, pending = 1, settled = 0, warned = 0;
	uint64_t first_event = 0, last_event = 0, next_poll;

	/* The watch is in place since peerop_peerset_watch(); a change between
	 * the first load and then would be missed without this first look. It
	 * is taken as an unsettled change: a writer busy right now gets to close
	 * the file first (or DEBOUNCE_MAX_MS pass). */
	first_event = last_event = peerop__now_ms();
	signature(&last, s->file);
	candidate = last;
	next_poll = peerop__now_ms() + s->poll_ms;
	for (;;) {
		struct pollfd pfd[2];
		uint64_t t = peerop__now_ms();
		int timeout, nfds = 1;

		if (ifd >= 0 && wd < 0) {
			wd = add_dir_watch(ifd, s->file);
			if (wd < 0 && !warned) {
				peerop__warn("peer", "cannot watch the directory of %s with inotify (%s): "
					"polling every %u ms", s->file, strerror(errno), s->poll_ms);
				warned = 1;
			} else if (wd >= 0) {
				warned = 0;
			}
		}
		if (pending) {
			uint64_t due = settled ? last_event + DEBOUNCE_MS : first_event + DEBOUNCE_MAX_MS;
			if (due > first_event + DEBOUNCE_MAX_MS)
				due = first_event + DEBOUNCE_MAX_MS;
			timeout = due > t ? (int)(due - t) : 0;
		} else {
			timeout = next_poll > t ? (int)(next_poll - t) : 0;
		}
		pfd[0].fd = s->wake[0];
		pfd[0].events = POLLIN;
		if (ifd >= 0 && wd >= 0) {
			pfd[1].fd = ifd;
			pfd[1].events = POLLIN;
			nfds = 2;
		}
		if (poll(pfd, (nfds_t)nfds, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		t = peerop__now_ms();
		if (nfds == 2 && pfd[1].revents) {
			int done = 0;
			if (drain(ifd, &done)) {
				inotify_rm_watch(ifd, wd);
				wd = -1;
				done = 1;
			}
			if (!pending) {
				first_event = t;
				settled = 0;
			}
			settled |= done;
			pending = 1;
			last_event = t;
			continue;
		}
		if (pending) {
			if (t < first_event + DEBOUNCE_MAX_MS && (!settled || t < last_event + DEBOUNCE_MS))
				continue;
			pending = 0;
			signature(&last, s->file);
			candidate = last;
			peerop__peerset_reload(s, 1);
			continue;
		}
		if (t >= next_poll) {
			next_poll = t + s->poll_ms;
			signature(&now, s->file);
			if (same_sig(&now, &last)) {
				candidate = now;
			} else if (same_sig(&now, &candidate)) {
				/* changed, and unchanged since the previous poll: read it */
				last = now;
				peerop__peerset_reload(s, 1);
			} else {
				candidate = now;
			}
		}
	}
	if (ifd >= 0)
		close(ifd);
	return NULL;
}

PEEROP_EXTERN(int) peerop_peerset_watch(peerop_peerset *s)
{
	if (!s)
		return peerop__error_set(PEEROP_EINVAL, "peerset watch: no set");
	if (!s->file)
		return 0;
	if (s->watching)
		return peerop__error_set(PEEROP_EINVAL, "peerset: watching already");
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0)
		return peerop__error_set(PEEROP_ERROR, "peerset watch: pipe: %s", strerror(errno));
	/* Watch before returning, so that a change made right after this call is seen. */
	s->inotify_fd = s->inotify_wd = -1;
	if (!s->poll_only && (s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		peerop__warn("peer", "inotify unavailable (%s): polling %s every %u ms",
			strerror(errno), s->file, s->poll_ms);
	if (s->inotify_fd >= 0)
		s->inotify_wd = add_dir_watch(s->inotify_fd, s->file);
	if (pthread_create(&s->thread, NULL, watch_main, s) != 0) {
		if (s->inotify_fd >= 0)
			close(s->inotify_fd);
		close(s->wake[0]);
		close(s->wake[1]);
		s->wake[0] = s->wake[1] = -1;
		return peerop__error_set(PEEROP_ERROR, "peerset watch: cannot start a thread");
	}
	s->watching = 1;
	return 0;
}

void peerop__peerset_unwatch(peerop_peerset *s)
{
	if (!s->watching)
		return;
	if (write(s->wake[1], "x", 1) < 0) {
		/* the pipe is empty and ours: a write cannot fail short of EBADF */
	}
	pthread_join(s->thread, NULL);
	close(s->wake[0]);
	close(s->wake[1]);
	s->wake[0] = s->wake[1] = -1;
	s->watching = 0;
}
