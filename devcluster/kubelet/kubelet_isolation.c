/* kubelet_isolation.c: what a container runs as and what it sees: its
 * identity from the securityContext (runAsUser, runAsGroup, else the
 * user's group in /etc/passwd, supplementalGroups, fsGroup, runAsNonRoot),
 * and its mounts (volumeMounts with subPath kept inside the volume, the
 * service account token, readOnlyRootFilesystem), checked here in the
 * kubelet and set up by the shim (kubelet_mounts.c). */
#include "kubelet.h"

#include <openssl/crypto.h>
#include <time.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the security context ---- */

static const json_t *sec(const kl_pod *p, const kl_ctr *c, const char *field)
{
	const json_t *v = dc_json_path(c->spec, "securityContext");
	v = json_object_get(v, field);
	if (!v)
		v = json_object_get(dc_json_path(p->spec0, "spec.securityContext"), field);
	return v;
}

/* The identity the container runs as; false with a waiting reason. */
bool kl_identity(kl_pod *p, kl_ctr *c, kl_spawn *sp, gid_t *groups, size_t *ngroups)
{
	const json_t *u = sec(p, c, "runAsUser"), *g = sec(p, c, "runAsGroup"), *nr = sec(p, c, "runAsNonRoot");
	const json_t *sup = json_object_get(dc_json_path(p->spec0, "spec.securityContext"), "supplementalGroups");
	const json_t *fsg = json_object_get(dc_json_path(p->spec0, "spec.securityContext"), "fsGroup"), *v;
	long long uid = json_is_integer(u) ? json_integer_value(u) : -1;
	long long gid = json_is_integer(g) ? json_integer_value(g) : -1;
	char msg[600];
	size_t i;

	*ngroups = 0;
	sp->uid = sp->gid = -1;
	if ((u && (uid < 0 || uid > 2147483647)) || (g && (gid < 0 || gid > 2147483647))) {
		kl_set_waiting(c, "CreateContainerConfigError", "runAsUser and runAsGroup must be between 0 and 2147483647");
		return false;
	}
	if (json_is_true(nr) && (uid == 0 || (uid < 0 && geteuid() == 0))) {
		snprintf(msg, sizeof(msg), "container has runAsNonRoot and image will run as root (pod: \"%s_%s(%s)\", "
			"container: %s)", p->name, p->ns, p->uid, c->name);
		kl_set_waiting(c, "CreateContainerConfigError", msg);
		return false;
	}
	if ((uid >= 0 && (uid_t)uid != geteuid()) || (gid >= 0 && (gid_t)gid != getegid())) {
		if (geteuid() != 0) {
			kl_set_waiting(c, "CreateContainerError", "runAsUser/runAsGroup need peerop-devcluster to run as root");
			return false;
		}
	}
	if (uid >= 0 && gid < 0) {
		/* the user's primary group, as a runtime reads /etc/passwd; else 0 */
		struct passwd pw, *res = NULL;
		char buf[2048];
		gid = getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) == 0 && res ? (long long)pw.pw_gid : 0;
	}
	sp->uid = uid;
	sp->gid = gid;
	if (gid >= 0)
		groups[(*ngroups)++] = (gid_t)gid;
	if (json_is_integer(fsg) && *ngroups < 32)
		groups[(*ngroups)++] = (gid_t)json_integer_value(fsg);
	json_array_foreach(sup, i, v)
		if (json_is_integer(v) && *ngroups < 32)
			groups[(*ngroups)++] = (gid_t)json_integer_value(v);
	return true;
}

/* ---- mounts ---- */

#define SA_PATH "/var/run/secrets/kubernetes.io/serviceaccount"

/* Is the service account token mounted (as the ServiceAccount admission
 * plugin adds it): only with TLS (in-cluster clients speak HTTPS), unless
 * automountServiceAccountToken is false or the path is mounted already. */
bool kl_sa_mount(const kl_pod *p, const kl_ctr *c)
{
	const json_t *m, *pa = dc_json_path(p->spec0, "spec.automountServiceAccountToken");
	size_t i;
	if (!p->k->srv->opts.tls || !p->k->namespaces || json_is_false(pa))
		return false;
	if (!json_is_true(pa)) {
		/* the pod says nothing: its ServiceAccount decides */
		dc_store *s = p->k->srv->store;
		const char *sa = dc_json_str(p->spec0, "spec.serviceAccountName");
		dc_entry *e;
		bool off = false;
		pthread_mutex_lock(&s->mu);
		e = dc_coll_get(dc_store_coll(s, "", "serviceaccounts"), p->ns, sa && *sa ? sa : "default");
		if (e) {
			json_t *o = dc_obj_parse(e->obj);
			off = json_is_false(json_object_get(o, "automountServiceAccountToken"));
			json_decref(o);
		}
		pthread_mutex_unlock(&s->mu);
		if (off)
			return false;
	}
	json_array_foreach(json_object_get(c->spec, "volumeMounts"), i, m) {
		const char *mp = json_string_value(json_object_get(m, "mountPath"));
		if (mp && !strncmp(mp, SA_PATH, strlen(SA_PATH)))
			return false;
	}
	return true;
}

char *kl_pod_token(dc_server *srv, const json_t *pod, const json_t *audiences, int64_t ttl, int64_t *exp,
	char *err, size_t errsize)
{
	dc_store *s = srv->store;
	const char *ns = dc_json_str(pod, "metadata.namespace"), *sa = dc_json_str(pod, "spec.serviceAccountName");
	const char *name = dc_json_str(pod, "metadata.name"), *uid = dc_json_str(pod, "metadata.uid");
	char *sa_uid = NULL, *tok;
	dc_entry *e;
	if (!sa || !*sa)
		sa = "default";
	if (!ns || !name || !uid) {
		snprintf(err, errsize, "the pod has no namespace, name or uid");
		return NULL;
	}
	pthread_mutex_lock(&s->mu);
	e = dc_coll_get(dc_store_coll(s, "", "serviceaccounts"), ns, sa);
	if (e)
		sa_uid = strdup(e->obj->uid);
	pthread_mutex_unlock(&s->mu);
	if (!sa_uid) {
		snprintf(err, errsize, "failed to fetch token: serviceaccounts \"%s\" not found", sa);
		return NULL;
	}
	tok = dc_sa_token_issue(srv->sa_keys, ns, sa, sa_uid, name, uid, audiences, ttl, exp);
	free(sa_uid);
	if (!tok)
		snprintf(err, errsize, "failed to fetch token: cannot sign it");
	return tok;
}

/* The token (the pod's ServiceAccount's, bound to the pod, expiring after
 * 3607 s as the ServiceAccount admission plugin asks, rewritten at 80% of
 * its life as the kubelet does), the CA and the namespace. */
int kl_sa_volume(kl_pod *p, char *err, size_t errsize)
{
	char path[PATH_MAX];
	const char *ca = dc_server_ca_pem(p->k->srv);
	int64_t exp = 0, now = (int64_t)time(NULL);
	char *tok = kl_pod_token(p->k->srv, p->pod, NULL, 3607, &exp, err, errsize);
	json_t *files = tok ? json_pack("{s:{s:s,s:i},s:{s:s,s:i},s:{s:s,s:i}}", "token", "data", tok, "mode", 0644,
		"ca.crt", "data", ca ? ca : "", "mode", 0644, "namespace", "data", p->ns, "mode", 0644) : NULL;
	int rc;
	if (tok) {
		OPENSSL_cleanse(tok, strlen(tok));
		free(tok);
	}
	if (!files)
		return -1;
	{
		int64_t at = now + (exp - now) * 8 / 10;
		if (!p->token_refresh || at < p->token_refresh)
			p->token_refresh = at;
	}
	snprintf(path, sizeof(path), "%s/volumes/kubernetes.io~projected", p->dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/volumes/kubernetes.io~projected/kube-api-access", p->dir);
	rc = files ? kl_atomic_write(path, files, err, errsize) : -1;
	json_decref(files);
	return rc;
}

void kl_fs_dispose(kl_fs *fs)
{
	size_t i;
	for (i = 0; fs->mounts && i <= fs->nmounts; i++)
		free(fs->mounts[i].root);
	for (i = 0; i < fs->nmounts; i++) {
		free(fs->mounts[i].source);
		free(fs->mounts[i].target);
	}
	free(fs->mounts);
	free(fs->scratch);
	memset(fs, 0, sizeof(*fs));
}

static int depth_cmp(const void *a, const void *b)
{
	const kl_mount *x = a, *y = b;
	size_t dx = 0, dy = 0;
	const char *s;
	for (s = x->target; *s; s++)
		dx += *s == '/';
	for (s = y->target; *s; s++)
		dy += *s == '/';
	return dx < dy ? -1 : dx > dy ? 1 : strcmp(x->target, y->target);
}

/* Is volume name of the pod a ConfigMap, Secret, downwardAPI or projected
 * one (always mounted read-only)? */
static bool projected_kind(const json_t *pod, const char *name)
{
	static const char *const kinds[] = { "configMap", "secret", "downwardAPI", "projected" };
	const json_t *v;
	size_t i, j;
	json_array_foreach(dc_json_path(pod, "spec.volumes"), i, v)
		if (json_is_string(json_object_get(v, "name")) && !strcmp(json_string_value(json_object_get(v, "name")), name))
			for (j = 0; j < PEEROP__ARRAY_SIZE(kinds); j++)
				if (json_object_get(v, kinds[j]))
					return true;
	return false;
}

/* The container's mounts; false with a waiting reason. */
bool kl_build_fs(kl_pod *p, kl_ctr *c, kl_fs *fs)
{
	const json_t *mounts = json_object_get(c->spec, "volumeMounts"), *m;
	const json_t *ro = sec(p, c, "readOnlyRootFilesystem");
	char msg[1200];
	size_t i;

	memset(fs, 0, sizeof(*fs));
	fs->readonly_root = json_is_true(ro);
	if ((json_array_size(mounts) || fs->readonly_root) && !p->k->namespaces) {
		/* not root: no mount namespace, so no mounts */
		kl_set_waiting(c, "CreateContainerError", geteuid() == 0 ? "mount namespaces are not available" :
			"volumeMounts and readOnlyRootFilesystem need peerop-devcluster to run as root (it mounts them in "
			"the container's own mount namespace)");
		return false;
	}
	if (asprintf(&fs->scratch, "%s/scratch-%s", p->dir, c->name) < 0) {
		fs->scratch = NULL;
		kl_set_waiting(c, "CreateContainerError", "out of memory");
		return false;
	}
	mkdir(fs->scratch, 0700);
	fs->mounts = calloc(json_array_size(mounts) + 2, sizeof(*fs->mounts));
	if (!fs->mounts)
		goto oom;
	if (kl_sa_mount(p, c)) {
		kl_mount *km = &fs->mounts[fs->nmounts++];
		if (asprintf(&km->source, "%s/volumes/kubernetes.io~projected/kube-api-access", p->dir) < 0)
			km->source = NULL;
		km->target = strdup(SA_PATH);
		km->readonly = true;
		if (!km->source || !km->target)
			goto oom;
	}
	json_array_foreach(mounts, i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		const char *path = json_string_value(json_object_get(m, "mountPath"));
		const char *sub = json_string_value(json_object_get(m, "subPath"));
		const char *problem = kl_mount_path_problem(path);
		char *src, real[PATH_MAX], realvol[PATH_MAX];
		kl_mount *km = &fs->mounts[fs->nmounts];
		struct stat st;
		if (problem) {
			snprintf(msg, sizeof(msg), "invalid volumeMount %s: mountPath \"%.300s\" %s", name ? name : "",
				path ? path : "", problem);
			goto bad;
		}
		src = name ? kl_volume_path(p->pod, p->dir, name, &problem) : NULL;
		if (!src) {
			snprintf(msg, sizeof(msg), "volumeMount \"%.200s\": %s", name ? name : "", problem ? problem :
				"no name");
			goto bad;
		}
		if (!realpath(src, realvol)) {
			snprintf(msg, sizeof(msg), "volume \"%s\": %.300s: %s", name, src, strerror(errno));
			free(src);
			goto bad;
		}
		free(src);
		if (sub && *sub) {
			const char *sp = sub;
			bool dotdot = sub[0] == '/';
			char *full = NULL;
			while (*sp && !dotdot) {
				size_t n = strcspn(sp, "/");
				dotdot = n == 2 && sp[0] == '.' && sp[1] == '.';
				sp += n + (sp[n] == '/');
			}
			if (dotdot) {
				snprintf(msg, sizeof(msg), "subPath \"%.300s\" must be a relative path without '..'", sub);
				goto bad;
			}
			/* the subPath, resolved, must stay in its volume */
			if (asprintf(&full, "%s/%s", realvol, sub) < 0 || !realpath(full, real)) {
				snprintf(msg, sizeof(msg), "subPath \"%.300s\" of volume \"%s\": %s", sub, name, strerror(errno));
				free(full);
				goto bad;
			}
			free(full);
			if (strncmp(real, realvol, strlen(realvol)) || (real[strlen(realvol)] != '/' &&
			    real[strlen(realvol)] != '\0')) {
				snprintf(msg, sizeof(msg), "subPath \"%.300s\" of volume \"%s\" leads out of the volume", sub, name);
				goto bad;
			}
		} else {
			snprintf(real, sizeof(real), "%s", realvol);
		}
		if (stat(real, &st) != 0) {
			snprintf(msg, sizeof(msg), "volume \"%s\": %.300s: %s", name, real, strerror(errno));
			goto bad;
		}
		km->source = strdup(real);
		km->target = strdup(path);
		if (sub && *sub && !(km->root = strdup(realvol)))
			goto oom;
		/* as the kubelet does: what the API server projects is read-only */
		km->readonly = json_is_true(json_object_get(m, "readOnly")) || projected_kind(p->pod, name);
		km->file = !S_ISDIR(st.st_mode);
		fs->nmounts++;
		if (!km->source || !km->target)
			goto oom;
	}
	qsort(fs->mounts, fs->nmounts, sizeof(*fs->mounts), depth_cmp);
	return true;
oom:
	snprintf(msg, sizeof(msg), "out of memory");
bad:
	kl_set_waiting(c, "CreateContainerConfigError", msg);
	kl_fs_dispose(fs);
	return false;
}
