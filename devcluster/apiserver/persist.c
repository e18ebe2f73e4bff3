/* persist.c: the write log behind --data-dir.
 *
 * DIR/log.jsonl holds one record per line: an 8-digit hex CRC-32 of the
 * JSON text, a space, the JSON, a newline. Every acknowledged write is
 * appended and fdatasync'd before the reply, so kill -9 loses nothing that
 * was acknowledged. At start the log is replayed and rewritten as a
 * snapshot (one record per live object plus the resourceVersion counter),
 * so it never grows without bound across restarts.
 *
 * A bad last record is what a crash in the middle of an append leaves: it
 * is dropped with a log line. A bad record followed by good ones is
 * corruption: start-up fails with the file and line, and nothing is changed. */
#include "apiserver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct dc_persist {
	int fd;
	int lockfd;   /* flock'd: one server per data dir */
	char *path;
	off_t size;
};

static uint32_t crc_table[256];

static void crc_init(void)
{
	uint32_t i, j, c;
	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32_of(const char *p, size_t n)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	uint32_t c = 0xFFFFFFFFu;
	size_t i;
	pthread_once(&once, crc_init);
	for (i = 0; i < n; i++)
		c = crc_table[(c ^ (unsigned char)p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Frame one record's JSON text into b. */
static int frame(peerop__buf *b, const char *json, size_t len)
{
	int rc = peerop__buf_printf(b, "%08x ", crc32_of(json, len));
	if (rc == 0)
		rc = peerop__buf_put(b, json, len);
	if (rc == 0)
		rc = peerop__buf_putc(b, '\n');
	return rc;
}

static int put_record(peerop__buf *b, const dc_coll *c, const dc_obj *o)
{
	peerop__buf j = PEEROP__BUF_INIT;
	int rc = peerop__buf_puts(&j, "{\"op\":\"put\",\"g\":\"");
	if (rc == 0) rc = peerop__buf_put_json_escaped(&j, c->group);
	if (rc == 0) rc = peerop__buf_puts(&j, "\",\"p\":\"");
	if (rc == 0) rc = peerop__buf_put_json_escaped(&j, c->plural);
	if (rc == 0) rc = peerop__buf_printf(&j, "\",\"rv\":%llu,\"obj\":", (unsigned long long)o->rv);
	if (rc == 0) rc = peerop__buf_put(&j, o->json, o->len);
	if (rc == 0) rc = peerop__buf_putc(&j, '}');
	if (rc == 0) rc = frame(b, j.ptr, j.len);
	peerop__buf_dispose(&j);
	return rc;
}

static int append(dc_persist *p, peerop__buf *b)
{
	if (write_all(p->fd, b->ptr, b->len) != 0 || fdatasync(p->fd) != 0) {
		int err = errno;
		/* never leave a torn record in the middle of the log */
		if (ftruncate(p->fd, p->size) != 0)
			peerop__errlog("devcluster", "%s: cannot truncate after a failed write: %s",
				p->path, strerror(errno));
		peerop__buf_dispose(b);
		return peerop__error_set(PEEROP_EIO, "%s: write failed: %s", p->path, strerror(err));
	}
	p->size += (off_t)b->len;
	peerop__buf_dispose(b);
	return 0;
}

int dc_persist_put(dc_persist *p, const dc_coll *c, const dc_obj *o)
{
	peerop__buf b = PEEROP__BUF_INIT;
	if (put_record(&b, c, o) != 0) {
		peerop__buf_dispose(&b);
		return PEEROP_ENOMEM;
	}
	return append(p, &b);
}

int dc_persist_del(dc_persist *p, const dc_coll *c, const dc_obj *o, uint64_t rv)
{
	peerop__buf b = PEEROP__BUF_INIT;
	json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "op", "del", "g", c->group, "p", c->plural,
		"rv", (json_int_t)rv, "ns", o->ns, "name", o->name);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	int rc = s ? frame(&b, s, strlen(s)) : PEEROP_ENOMEM;
	free(s);
	json_decref(j);
	if (rc != 0) {
		peerop__buf_dispose(&b);
		return rc;
	}
	return append(p, &b);
}

/* Apply one record. Returns 0, or a message (malloc'd) for a bad record. */
static char *replay_record(dc_store *s, const char *json, size_t len)
{
	json_error_t jerr;
	json_t *r = json_loadb(json, len, 0, &jerr);
	const char *op = json_string_value(json_object_get(r, "op"));
	const char *g = json_string_value(json_object_get(r, "g"));
	const char *pl = json_string_value(json_object_get(r, "p"));
	json_t *rvj = json_object_get(r, "rv");
	uint64_t rv = json_is_integer(rvj) ? (uint64_t)json_integer_value(rvj) : 0;
	char *err = NULL;

	if (!r) {
		if (asprintf(&err, "not JSON: %s", jerr.text) < 0)
			err = NULL;
		return err ? err : strdup("not JSON");
	}
	if (op && !strcmp(op, "rv") && json_is_integer(rvj)) {
		if (rv > s->rv)
			s->rv = rv;
		s->compacted_rv = s->rv;
	} else if (op && g && pl && rv && (!strcmp(op, "put") || !strcmp(op, "del"))) {
		dc_coll *c = dc_store_coll(s, g, pl);
		bool del = !strcmp(op, "del");
		const char *ns = del ? json_string_value(json_object_get(r, "ns")) : NULL;
		const char *name = del ? json_string_value(json_object_get(r, "name")) : NULL;
		dc_obj *o = NULL;
		char *key = NULL;
		if (!c) {
			err = strdup("out of memory");
		} else if (del) {
			dc_entry *e = ns && name ? dc_coll_get(c, ns, name) : NULL;
			if (e) {
				o = dc_obj_ref(e->obj);
				o->rv = o->rv > rv ? o->rv : rv;
				if (rv > s->rv)
					s->rv = rv;
				if (asprintf(&key, "%s/%s", ns, name) < 0)
					key = NULL;
			}
		} else {
			json_t *obj = json_object_get(r, "obj");
			o = json_is_object(obj) ? dc_obj_new(obj, rv) : NULL;
			if (!o)
				err = strdup("record without an object");
			else if (asprintf(&key, "%s/%s", o->ns, o->name) < 0)
				key = NULL;
		}
		if (o && key)
			dc_store_apply(s, c, key, o, del, true);
		else if (o)
			dc_obj_unref(o);
		free(key);
	} else {
		err = strdup("unknown record");
	}
	json_decref(r);
	return err;
}

static int replay(dc_store *s, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *bad = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0, bad_line = 0;
	off_t good_end = 0, offset = 0;
	int rc = 0;

	if (!f)
		return errno == ENOENT ? 0 : peerop__error_set(PEEROP_EIO, "%s: %s", path, strerror(errno));
	while ((n = getline(&line, &cap, f)) > 0) {
		char *end;
		unsigned long crc;
		lineno++;
		offset += n;
		if (bad) {
			/* a bad record followed by more data: the file is corrupt */
			rc = peerop__error_set(PEEROP_ESYNTAX,
				"%s: line %ld is corrupt (%s) and is not the last record; "
				"refusing to start (move the file away to start empty)", path, bad_line, bad);
			break;
		}
		if (line[n - 1] != '\n') {
			bad = strdup("truncated record");
			bad_line = lineno;
			continue;
		}
		line[--n] = '\0';
		crc = strtoul(line, &end, 16);
		if (n < 10 || end != line + 8 || line[8] != ' ' ||
		    crc32_of(line + 9, (size_t)n - 9) != (uint32_t)crc) {
			bad = strdup("checksum mismatch");
			bad_line = lineno;
			continue;
		}
		bad = replay_record(s, line + 9, (size_t)n - 9);
		if (bad) {
			bad_line = lineno;
			continue;
		}
		good_end = offset;
	}
	free(line);
	fclose(f);
	if (rc == 0 && bad) {
		peerop__warn("devcluster", "%s: dropping a bad last record at line %ld (%s), "
			"as a crash in the middle of a write leaves; %lld bytes kept",
			path, bad_line, bad, (long long)good_end);
	}
	free(bad);
	return rc;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	int rc;
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Rewrite the log as a snapshot of the live objects. */
static int compact(dc_store *s, const char *dir, const char *path)
{
	char *tmp = NULL;
	int fd, rc = 0;
	size_t i, j;
	peerop__buf b = PEEROP__BUF_INIT;
	char rec[64];

	if (asprintf(&tmp, "%s/log.jsonl.tmp", dir) < 0)
		return PEEROP_ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = peerop__error_set(PEEROP_EIO, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	for (i = 0; rc == 0 && i < s->ncolls; i++) {
		dc_coll *c = s->colls[i];
		for (j = 0; rc == 0 && j < c->n; j++) {
			rc = put_record(&b, c, c->arr[j]->obj);
			if (rc == 0 && b.len > (1u << 20)) {
				if (write_all(fd, b.ptr, b.len) != 0)
					rc = PEEROP_EIO;
				peerop__buf_clear(&b);
			}
		}
	}
	snprintf(rec, sizeof(rec), "{\"op\":\"rv\",\"rv\":%llu}", (unsigned long long)s->rv);
	if (rc == 0)
		rc = frame(&b, rec, strlen(rec));
	if (rc == 0 && (write_all(fd, b.ptr, b.len) != 0 || fsync(fd) != 0))
		rc = PEEROP_EIO;
	peerop__buf_dispose(&b);
	close(fd);
	if (rc == 0 && (rename(tmp, path) != 0 || fsync_dir(dir) != 0))
		rc = PEEROP_EIO;
	if (rc != 0) {
		unlink(tmp);
		rc = peerop__error_set(PEEROP_EIO, "%s: cannot write the compacted log: %s", path, strerror(errno));
	}
	free(tmp);
	return rc;
}

int dc_persist_open(dc_store *s, const char *dir)
{
	dc_persist *p;
	char *path = NULL, *lock = NULL;
	int rc, lfd;
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return peerop__error_set(PEEROP_EIO, "data dir %s: %s", dir, strerror(errno));
	if (asprintf(&path, "%s/log.jsonl", dir) < 0 || asprintf(&lock, "%s/lock", dir) < 0) {
		free(path);
		return PEEROP_ENOMEM;
	}
	/* two servers on one data dir would interleave their logs */
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock);
	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) != 0) {
		rc = peerop__error_set(PEEROP_EIO, "data dir %s: %s", dir,
			lfd < 0 ? strerror(errno) : "in use by another devcluster");
		if (lfd >= 0)
			close(lfd);
		free(path);
		return rc;
	}
	pthread_mutex_lock(&s->mu);
	rc = replay(s, path);
	if (rc == 0)
		rc = compact(s, dir, path);
	pthread_mutex_unlock(&s->mu);
	if (rc != 0) {
		close(lfd);
		free(path);
		return rc;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(lfd);
		free(path);
		return PEEROP_ENOMEM;
	}
	p->path = path;
	p->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (p->fd < 0 || fstat(p->fd, &st) != 0) {
		rc = peerop__error_set(PEEROP_EIO, "%s: %s", path, strerror(errno));
		if (p->fd >= 0)
			close(p->fd);
		free(p->path);
		free(p);
		close(lfd);
		return rc;
	}
	p->size = st.st_size;
	p->lockfd = lfd;
	s->log = p;
	return 0;
}

void dc_persist_close(dc_persist *p)
{
	if (!p)
		return;
	close(p->fd);
	close(p->lockfd);
	free(p->path);
	free(p);
}
