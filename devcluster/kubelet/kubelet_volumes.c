/* kubelet_volumes.c: a pod's volumes on disk, laid out as the kubelet does
 * under DIR/pods/<uid>/volumes/<plugin>/<volume>:
 *
 *   ..2026_11_26_10_35_37.123456789/   the files of this version
 *   ..data -> ..2026_11_26_10_35_37.123456789
 *   peers.json -> ..data/peers.json    one symlink per top-level entry
 *
 * for configMap, secret, downwardAPI and projected volumes. An update
 * writes a new timestamped directory and renames a ..data_tmp symlink
 * over ..data (AtomicWriter: a reader sees the old version or the new
 * one, never a mix), then fixes the top-level symlinks and removes the old
 * directory; peerop-server's hot reload watches exactly that swap.
 * emptyDir is a plain directory; hostPath is the host's path. Item paths
 * are relative, without ".." components, and a volume's files never leave
 * its directory. */
#include "kubelet.h"

#include <openssl/crypto.h>
#include <time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_VOLUME_BYTES (64u * 1024u * 1024u)

static int verr(char *err, size_t size, const char *fmt, ...) PEEROP_FORMAT(3, 4);
static int verr(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return -1;
}

/* snprintf for paths: a path too long is cut (and then not found), which
 * the checks after each call report. */
static void pathf(char *out, size_t size, const char *fmt, ...) PEEROP_FORMAT(3, 4);
static void pathf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

/* ---- removing trees without following symlinks ---- */

static void remove_at(int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;
		if (!d && fd >= 0)
			close(fd);
		while (d && (de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				remove_at(dirfd(d), de->d_name);
		if (d)
			closedir(d);
		unlinkat(dfd, name, AT_REMOVEDIR);
	} else {
		unlinkat(dfd, name, 0);
	}
}

void kl_remove_tree(const char *path)
{
	remove_at(AT_FDCWD, path);
}

/* ---- the atomic writer ---- */

/* A payload path: relative, no "." or ".." components, not empty. */
static const char *path_problem(const char *p)
{
	const char *c = p;
	if (!*p)
		return "must not be empty";
	if (p[0] == '/')
		return "must be a relative path";
	if (strlen(p) > 4096)
		return "is too long";
	if (!strncmp(p, "..", 2))
		return "must not start with '..'";
	while (*c) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return "must not contain '.', '..' or empty components";
		if (n > 255)
			return "has a component longer than 255 bytes";
		c += n;
		if (*c == '/')
			c++;
	}
	return NULL;
}

static int mkdirs(const char *base, const char *rel)
{
	char path[PATH_MAX];
	size_t bl = strlen(base);
	const char *p = rel;
	while ((p = strchr(p, '/')) != NULL) {
		if (bl + 1 + (size_t)(p - rel) >= sizeof(path))
			return -1;
		pathf(path, sizeof(path), "%s/%.*s", base, (int)(p - rel), rel);
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return -1;
		p++;
	}
	return 0;
}

/* Do the files under dir (a version directory) equal files? */
static bool same_payload(const char *dir, const json_t *files)
{
	const char *k;
	json_t *f;
	json_object_foreach((json_t *)files, k, f) {
		char path[PATH_MAX], *have = NULL;
		size_t len = 0;
		struct stat st;
		const json_t *data = json_object_get(f, "data");
		bool eq;
		pathf(path, sizeof(path), "%s/%s", dir, k);
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
		    (st.st_mode & 07777) != (mode_t)json_integer_value(json_object_get(f, "mode")))
			return false;
		if (peerop__read_file(&have, &len, path, MAX_VOLUME_BYTES) != 0)
			return false;
		eq = len == json_string_length(data) && !memcmp(have, json_string_value(data), len);
		free(have);
		if (!eq)
			return false;
	}
	return true;
}

/* The top-level names of a payload. */
static bool in_top(const json_t *files, const char *name)
{
	const char *k;
	json_t *f;
	size_t n = strlen(name);
	json_object_foreach((json_t *)files, k, f) {
		(void)f;
		if (!strncmp(k, name, n) && (k[n] == '\0' || k[n] == '/'))
			return true;
	}
	return false;
}

static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	while (d && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

int kl_atomic_write(const char *voldir, const json_t *files, char *err, size_t errsize)
{
	char data[PATH_MAX], tmp[PATH_MAX], old[PATH_MAX], ts[64], newname[PATH_MAX], path[PATH_MAX];
	const char *k;
	json_t *f;
	ssize_t n;
	struct timespec now;
	struct tm tm;
	DIR *d;
	struct dirent *de;
	size_t total = 0;

	json_object_foreach((json_t *)files, k, f) {
		const char *problem = path_problem(k);
		if (problem)
			return verr(err, errsize, "invalid path \"%.200s\": %s", k, problem);
		total += json_string_length(json_object_get(f, "data"));
	}
	if (total > MAX_VOLUME_BYTES)
		return verr(err, errsize, "the volume's files exceed %u bytes", MAX_VOLUME_BYTES);
	if (mkdir(voldir, 0755) != 0 && errno != EEXIST)
		return verr(err, errsize, "mkdir %s: %s", voldir, strerror(errno));
	pathf(data, sizeof(data), "%s/..data", voldir);
	n = readlink(data, old, sizeof(old) - 1);
	if (n > 0) {
		old[n] = '\0';
		pathf(path, sizeof(path), "%s/%s", voldir, old);
		/* unchanged (the same files, nothing else): nothing to do */
		if (!strchr(old, '/') && same_payload(path, files) && count_files(path) <= json_object_size(files)) {
			size_t extra = 0;
			d = opendir(path);
			while (d && (de = readdir(d)) != NULL)
				if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && !in_top(files, de->d_name))
					extra++;
			if (d)
				closedir(d);
			if (extra == 0)
				return 0;
		}
	} else {
		old[0] = '\0';
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "..%Y_%m_%d_%H_%M_%S.", &tm);
	pathf(newname, sizeof(newname), "%s%09ld", ts, now.tv_nsec);
	pathf(path, sizeof(path), "%s/%s", voldir, newname);
	if (mkdir(path, 0755) != 0)
		return verr(err, errsize, "mkdir %s: %s", path, strerror(errno));
	json_object_foreach((json_t *)files, k, f) {
		char file[PATH_MAX];
		const json_t *content = json_object_get(f, "data");
		int fd;
		if (mkdirs(path, k) != 0)
			goto fail;
		pathf(file, sizeof(file), "%s/%s", path, k);
		fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			goto fail;
		if (write(fd, json_string_value(content), json_string_length(content)) !=
		    (ssize_t)json_string_length(content) ||
		    fchmod(fd, (mode_t)json_integer_value(json_object_get(f, "mode")) & 07777) != 0) {
			close(fd);
			goto fail;
		}
		close(fd);
	}
	/* the swap: one rename, atomic for readers */
	pathf(tmp, sizeof(tmp), "%s/..data_tmp", voldir);
	unlink(tmp);
	if (symlink(newname, tmp) != 0 || rename(tmp, data) != 0)
		goto fail;
	/* user-visible names: one symlink per top-level entry */
	json_object_foreach((json_t *)files, k, f) {
		char top[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
		size_t tl = strcspn(k, "/");
		pathf(top, sizeof(top), "%.*s", (int)tl, k);
		pathf(link, sizeof(link), "%s/%s", voldir, top);
		pathf(target, sizeof(target), "..data/%s", top);
		n = readlink(link, path, sizeof(path) - 1);
		if (n >= 0) {
			path[n] = '\0';
			if (!strcmp(path, target))
				continue;
		}
		remove_at(AT_FDCWD, link);
		if (symlink(target, link) != 0)
			return verr(err, errsize, "symlink %s: %s", link, strerror(errno));
	}
	/* names of the old version that are gone, and the old version */
	d = opendir(voldir);
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || in_top(files, de->d_name))
			continue;
		remove_at(dirfd(d), de->d_name);
	}
	if (d)
		closedir(d);
	if (old[0] && !strchr(old, '/') && strcmp(old, newname)) {
		pathf(path, sizeof(path), "%s/%s", voldir, old);
		remove_at(AT_FDCWD, path);
	}
	return 0;
fail:
	verr(err, errsize, "writing %s: %s", path, strerror(errno));
	remove_at(AT_FDCWD, path);
	return -1;
}

/* ---- payloads ---- */

static long long mode_of(const json_t *item, long long def)
{
	const json_t *m = json_object_get(item, "mode");
	long long v = json_is_integer(m) ? json_integer_value(m) : def;
	return v < 0 || v > 0777 ? def : v;
}

static void put_file(json_t *files, const char *path, const char *data, size_t len, long long mode)
{
	json_object_set_new(files, path, json_pack("{s:o,s:I}", "data", json_stringn_nocheck(data, len),
		"mode", (json_int_t)mode));
}

/* The keys of a ConfigMap or Secret (items, or every key) into files. */
static int source_files(json_t *files, dc_server *srv, const char *ns, const json_t *src, bool secret, char *err,
	size_t errsize)
{
	const char *name = json_string_value(json_object_get(src, secret ? "secretName" : "name"));
	long long defmode = dc_json_int(src, "defaultMode", 0644);
	bool optional = json_is_true(json_object_get(src, "optional"));
	const json_t *items = json_object_get(src, "items"), *item;
	json_t *obj, *all = json_object();
	const char *k;
	json_t *v;
	size_t i;

	if (!name) {
		json_decref(all);
		return verr(err, errsize, "the %s volume source has no name", secret ? "secret" : "configMap");
	}
	obj = kl_store_get(srv, secret ? "secrets" : "configmaps", ns, name);
	if (!obj) {
		json_decref(all);
		if (optional)
			return 0;
		return verr(err, errsize, "%s \"%s\" not found", secret ? "secret" : "configmap", name);
	}
	/* every key with its bytes */
	json_object_foreach(json_object_get(obj, "data"), k, v) {
		size_t len;
		char *bytes = secret ? kl_b64_decode(json_string_value(v) ? json_string_value(v) : "", &len) : NULL;
		if (secret && bytes)
			json_object_set_new(all, k, json_stringn_nocheck(bytes, len));
		else if (!secret && json_is_string(v))
			json_object_set(all, k, v);
		free(bytes);
	}
	if (!secret) {
		json_object_foreach(json_object_get(obj, "binaryData"), k, v) {
			size_t len;
			char *bytes = kl_b64_decode(json_string_value(v) ? json_string_value(v) : "", &len);
			if (bytes)
				json_object_set_new(all, k, json_stringn_nocheck(bytes, len));
			free(bytes);
		}
	}
	if (json_array_size(items)) {
		json_array_foreach(items, i, item) {
			const char *key = json_string_value(json_object_get(item, "key"));
			const char *path = json_string_value(json_object_get(item, "path"));
			const json_t *val = key ? json_object_get(all, key) : NULL;
			if (!val) {
				if (optional)
					continue;
				json_decref(obj);
				json_decref(all);
				return verr(err, errsize, "%s references non-existent %s key: %s", secret ? "secret" : "configmap",
					secret ? "secret" : "config", key ? key : "");
			}
			put_file(files, path ? path : key, json_string_value(val), json_string_length(val),
				mode_of(item, defmode));
		}
	} else {
		json_object_foreach(all, k, v)
			put_file(files, k, json_string_value(v), json_string_length(v), defmode);
	}
	json_decref(obj);
	json_decref(all);
	return 0;
}

/* metadata.labels and annotations as the downward API writes them. */
static char *kv_lines(const json_t *m)
{
	peerop__buf b = PEEROP__BUF_INIT;
	const char **keys;
	size_t n = json_object_size(m), i = 0, j;
	const char *k;
	json_t *v;
	keys = calloc(n + 1, sizeof(*keys));
	json_object_foreach((json_t *)m, k, v)
		if (keys)
			keys[i++] = k;
	for (i = 1; keys && i < n; i++)
		for (j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	for (i = 0; keys && i < n; i++) {
		peerop__buf_printf(&b, "%s=\"", keys[i]);
		peerop__buf_put_json_escaped(&b, json_string_value(json_object_get(m, keys[i])));
		peerop__buf_puts(&b, "\"\n");
	}
	free(keys);
	if (!b.ptr)
		peerop__buf_puts(&b, "");
	return peerop__buf_detach(&b);
}

static int downward_files(json_t *files, const json_t *pod, const json_t *src, char *err, size_t errsize)
{
	long long defmode = dc_json_int(src, "defaultMode", 0644);
	const json_t *item;
	size_t i;
	json_array_foreach(json_object_get(src, "items"), i, item) {
		const char *path = json_string_value(json_object_get(item, "path"));
		const char *fp = dc_json_str(item, "fieldRef.fieldPath");
		char *text = NULL;
		if (!path || !fp)
			return verr(err, errsize, "downwardAPI item %zu: path and fieldRef.fieldPath are needed", i);
		if (!strcmp(fp, "metadata.labels"))
			text = kv_lines(dc_json_path(pod, "metadata.labels"));
		else if (!strcmp(fp, "metadata.annotations"))
			text = kv_lines(dc_json_path(pod, "metadata.annotations"));
		else if (!strcmp(fp, "metadata.name") || !strcmp(fp, "metadata.namespace") || !strcmp(fp, "metadata.uid"))
			text = strdup(dc_json_str(pod, fp) ? dc_json_str(pod, fp) : "");
		else
			return verr(err, errsize, "downwardAPI: unsupported fieldPath \"%s\"", fp);
		put_file(files, path, text ? text : "", text ? strlen(text) : 0, mode_of(item, defmode));
		free(text);
	}
	return 0;
}

/* The files of a volume of a kind the atomic writer serves; NULL for
 * other kinds (*err empty) or on error. */
static json_t *payload(dc_server *srv, const json_t *pod, const json_t *vol, int64_t *refresh, char *err,
	size_t errsize)
{
	const char *ns = dc_json_str(pod, "metadata.namespace");
	json_t *files = json_object(), *src;
	const json_t *p;
	size_t i;
	int rc = 0;
	err[0] = '\0';
	if ((p = json_object_get(vol, "configMap")))
		rc = source_files(files, srv, ns, p, false, err, errsize);
	else if ((p = json_object_get(vol, "secret")))
		rc = source_files(files, srv, ns, p, true, err, errsize);
	else if ((p = json_object_get(vol, "downwardAPI")))
		rc = downward_files(files, pod, p, err, errsize);
	else if ((p = json_object_get(vol, "projected"))) {
		json_array_foreach(json_object_get(p, "sources"), i, src) {
			json_t *s;
			if ((s = json_object_get(src, "configMap"))) {
				rc = source_files(files, srv, ns, s, false, err, errsize);
			} else if ((s = json_object_get(src, "secret"))) {
				json_t *copy = json_deep_copy(s);
				/* projected secrets name themselves "name" */
				json_object_set(copy, "secretName", json_object_get(s, "name"));
				rc = source_files(files, srv, ns, copy, true, err, errsize);
				json_decref(copy);
			} else if ((s = json_object_get(src, "downwardAPI"))) {
				rc = downward_files(files, pod, s, err, errsize);
			} else if ((s = json_object_get(src, "serviceAccountToken"))) {
				/* a token of the pod's own ServiceAccount, bound to the
				 * pod, for the audience asked (never the admin token) */
				const char *path = json_string_value(json_object_get(s, "path"));
				const char *aud = json_string_value(json_object_get(s, "audience"));
				json_t *auds = aud && *aud ? json_pack("[s]", aud) : NULL;
				int64_t ttl = dc_json_int(s, "expirationSeconds", 3600), exp = 0, now = (int64_t)time(NULL);
				char *tok = kl_pod_token(srv, pod, auds, ttl < 600 ? 600 : ttl, &exp, err, errsize);
				json_decref(auds);
				if (!tok) {
					rc = -1;
					break;
				}
				put_file(files, path ? path : "token", tok, strlen(tok), dc_json_int(p, "defaultMode", 0644));
				OPENSSL_cleanse(tok, strlen(tok));
				free(tok);
				if (!*refresh || now + (exp - now) * 8 / 10 < *refresh)
					*refresh = now + (exp - now) * 8 / 10;
			}
			if (rc)
				break;
		}
	} else {
		json_decref(files);
		return NULL;
	}
	if (rc) {
		json_decref(files);
		return NULL;
	}
	return files;
}

static const char *plugin_of(const json_t *vol)
{
	static const char *const kinds[][2] = {
		{ "configMap", "kubernetes.io~configmap" }, { "secret", "kubernetes.io~secret" },
		{ "emptyDir", "kubernetes.io~empty-dir" }, { "downwardAPI", "kubernetes.io~downward-api" },
		{ "projected", "kubernetes.io~projected" },
	};
	size_t i;
	for (i = 0; i < PEEROP__ARRAY_SIZE(kinds); i++)
		if (json_object_get(vol, kinds[i][0]))
			return kinds[i][1];
	return NULL;
}

static bool name_ok(const char *n)
{
	return n && *n && strlen(n) <= 63 && !strchr(n, '/') && strcmp(n, ".") && strcmp(n, "..");
}

char *kl_volume_path(const json_t *pod, const char *dir, const char *name, const char **problem)
{
	const json_t *vol = NULL, *v;
	const char *plugin, *hp;
	char *path = NULL;
	size_t i;
	*problem = NULL;
	json_array_foreach(dc_json_path(pod, "spec.volumes"), i, v)
		if (json_is_string(json_object_get(v, "name")) && !strcmp(json_string_value(json_object_get(v, "name")),
			name))
			vol = v;
	if (!vol) {
		*problem = "no volume of that name";
		return NULL;
	}
	if ((hp = dc_json_str(vol, "hostPath.path")) != NULL) {
		if (hp[0] != '/') {
			*problem = "hostPath.path must be absolute";
			return NULL;
		}
		return strdup(hp);
	}
	plugin = plugin_of(vol);
	if (!plugin || !name_ok(name)) {
		*problem = plugin ? "invalid volume name" : "a volume kind peerop-devcluster does not provide "
			"(configMap, secret, emptyDir, downwardAPI, projected and hostPath are)";
		return NULL;
	}
	if (asprintf(&path, "%s/volumes/%s/%s", dir, plugin, name) < 0)
		return NULL;
	return path;
}

int kl_volumes_sync(dc_server *srv, const json_t *pod, const char *dir, char *err, size_t errsize)
{
	int64_t refresh;
	return kl_volumes_sync_tokens(srv, pod, dir, &refresh, err, errsize);
}

int kl_volumes_sync_tokens(dc_server *srv, const json_t *pod, const char *dir, int64_t *token_refresh,
	char *err, size_t errsize)
{
	const json_t *vol;
	char path[PATH_MAX];
	size_t i;
	*token_refresh = 0;
	pathf(path, sizeof(path), "%s/volumes", dir);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return verr(err, errsize, "mkdir %s: %s", dir, strerror(errno));
	mkdir(path, 0755);
	json_array_foreach(dc_json_path(pod, "spec.volumes"), i, vol) {
		const char *name = json_string_value(json_object_get(vol, "name"));
		const char *plugin = plugin_of(vol), *hp = dc_json_str(vol, "hostPath.path");
		json_t *files;
		if (!name_ok(name))
			return verr(err, errsize, "volume %zu: invalid name", i);
		if (hp) {
			const char *type = dc_json_str(vol, "hostPath.type");
			struct stat st;
			if (type && !strcmp(type, "DirectoryOrCreate") && mkdir(hp, 0755) != 0 && errno != EEXIST)
				return verr(err, errsize, "hostPath %s: %s", hp, strerror(errno));
			if (stat(hp, &st) != 0)
				return verr(err, errsize, "MountVolume.SetUp failed for volume \"%s\" : hostPath %s: %s", name, hp,
					strerror(errno));
			continue;
		}
		if (!plugin)
			return verr(err, errsize, "MountVolume.SetUp failed for volume \"%s\" : a volume kind "
				"peerop-devcluster does not provide", name);
		pathf(path, sizeof(path), "%s/volumes/%s", dir, plugin);
		mkdir(path, 0755);
		pathf(path, sizeof(path), "%s/volumes/%s/%s", dir, plugin, name);
		if (json_object_get(vol, "emptyDir")) {
			if (mkdir(path, 0777) != 0 && errno != EEXIST)
				return verr(err, errsize, "mkdir %s: %s", path, strerror(errno));
			chmod(path, 0777);
			continue;
		}
		files = payload(srv, pod, vol, token_refresh, err, errsize);
		if (!files) {
			char why[512];
			pathf(why, sizeof(why), "%s", err);
			return verr(err, errsize, "MountVolume.SetUp failed for volume \"%s\" : %s", name, why);
		}
		if (kl_atomic_write(path, files, err, errsize) != 0) {
			char why[512];
			pathf(why, sizeof(why), "%s", err);
			json_decref(files);
			return verr(err, errsize, "MountVolume.SetUp failed for volume \"%s\" : %s", name, why);
		}
		json_decref(files);
	}
	return 0;
}
