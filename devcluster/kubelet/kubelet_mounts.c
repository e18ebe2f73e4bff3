/* kubelet_mounts.c: a container's view of the file system, built by its
 * shim in a private mount namespace (root only) before the container
 * starts. The container sees the host's file system, as a container sees
 * its image, plus:
 *
 * - each volume bind-mounted at its mountPath (read-only when readOnly);
 * - a mount point that does not exist on the host is created without
 *   touching the host: its parent directory is "shadowed", replaced in this
 *   namespace by a private tmpfs holding the same entries (each one
 *   bind-mounted from the original, symlinks copied), where the missing
 *   directory can be made. A missing top-level directory shadows "/" the
 *   same way and the shim chroots into the new root;
 * - with securityContext.readOnlyRootFilesystem, every mount but /proc,
 *   /sys, /dev and the writable volumes is remounted read-only.
 *
 * This runs in a child of a multi-threaded process, so it only makes
 * system calls and async-signal-safe library calls, on static or stack
 * buffers: no malloc. */
#include "kubelet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_OURS 64

static dev_t ours[MAX_OURS];
static int nours, nstages;

static int seterr(char *err, size_t size, const char *what, const char *path)
{
	snprintf(err, size, "%s %s: %s", what, path, strerror(errno));
	return -1;
}

const char *kl_mount_path_problem(const char *path)
{
	const char *p;
	if (!path || path[0] != '/')
		return "must be an absolute path";
	if (strlen(path) >= PATH_MAX / 4)
		return "is too long";
	for (p = path; *p == '/'; p++)
		;
	if (!*p)
		return "must not be the root directory";
	while (*p) {
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return "must not contain '.' or '..' components";
		p += n;
		while (*p == '/')
			p++;
	}
	return NULL;
}

static bool is_ours(const char *dir)
{
	struct stat st;
	int i;
	if (stat(dir, &st) != 0)
		return false;
	for (i = 0; i < nours; i++)
		if (ours[i] == st.st_dev)
			return true;
	return false;
}

static void remember(const char *dir)
{
	struct stat st;
	if (nours < MAX_OURS && stat(dir, &st) == 0)
		ours[nours++] = st.st_dev;
}

static int join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

struct linux_dirent64 {
	ino64_t d_ino;
	off64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Give one entry of d a stand-in under stage. */
static int stand_in(const char *d, const char *name, const char *stage, char *err, size_t errsize)
{
	char src[PATH_MAX], dst[PATH_MAX], link[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd;
	if (join(src, sizeof(src), d, name) || join(dst, sizeof(dst), stage, name)) {
		errno = ENAMETOOLONG;
		return seterr(err, errsize, "path", d);
	}
	if (lstat(src, &st) != 0)
		return 0;  /* gone meanwhile */
	if (S_ISLNK(st.st_mode)) {
		n = readlink(src, link, sizeof(link) - 1);
		if (n < 0)
			return seterr(err, errsize, "readlink", src);
		link[n] = '\0';
		return symlink(link, dst) == 0 ? 0 : seterr(err, errsize, "symlink", dst);
	}
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, st.st_mode & 07777) != 0)
			return seterr(err, errsize, "mkdir", dst);
		return mount(src, dst, NULL, MS_BIND | MS_REC, NULL) == 0 ? 0 : seterr(err, errsize, "bind", src);
	}
	fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return seterr(err, errsize, "create", dst);
	close(fd);
	return mount(src, dst, NULL, MS_BIND, NULL) == 0 ? 0 : seterr(err, errsize, "bind", src);
}

/* Replace directory d, in this namespace, by a tmpfs with the same entries. */
static int shadow(const char *scratch, const char *d, char *err, size_t errsize)
{
	static char dents[32768];
	char stage[PATH_MAX];
	struct stat st;
	int dfd, sfd;
	long n;

	snprintf(stage, sizeof(stage), "%s/s%d", scratch, nstages++);
	if (stat(d, &st) != 0)
		return seterr(err, errsize, "stat", d);
	if (mkdir(stage, 0700) != 0)
		return seterr(err, errsize, "mkdir", stage);
	if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m") != 0)
		return seterr(err, errsize, "mount a tmpfs on", stage);
	remember(stage);
	dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return seterr(err, errsize, "open", d);
	while ((n = syscall(SYS_getdents64, dfd, dents, sizeof(dents))) > 0) {
		long off = 0;
		while (off < n) {
			struct linux_dirent64 *de = (struct linux_dirent64 *)(dents + off);
			off += de->d_reclen;
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (stand_in(d, de->d_name, stage, err, errsize) != 0) {
				close(dfd);
				return -1;
			}
		}
	}
	close(dfd);
	if (chmod(stage, st.st_mode & 07777) != 0 || chown(stage, st.st_uid, st.st_gid) != 0)
		return seterr(err, errsize, "chmod", stage);
	sfd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return seterr(err, errsize, "open", stage);
	if (mount(stage, d, NULL, MS_MOVE, NULL) != 0) {
		close(sfd);
		return seterr(err, errsize, "move a tmpfs onto", d);
	}
	if (!strcmp(d, "/")) {
		/* a mount on top of "/" is only entered by changing root */
		if (fchdir(sfd) != 0 || chroot(".") != 0 || chdir("/") != 0) {
			close(sfd);
			return seterr(err, errsize, "chroot into the new", d);
		}
	}
	close(sfd);
	return 0;
}

/* Make target exist in this namespace, as a directory or (file) a file,
 * creating only on our own tmpfs. Symlinks on the way are followed. */
static int ensure(const char *scratch, const char *target, bool file, char *err, size_t errsize)
{
	char cur[PATH_MAX] = "/", rest[PATH_MAX], next[PATH_MAX], link[PATH_MAX], tmp[PATH_MAX];
	int hops = 0;
	snprintf(rest, sizeof(rest), "%s", target);
	for (;;) {
		char *p = rest, *c, *slash;
		struct stat st;
		bool last;
		while (*p == '/')
			p++;
		if (!*p)
			return 0;
		c = p;
		slash = strchr(c, '/');
		if (slash)
			*slash = '\0';
		snprintf(tmp, sizeof(tmp), "%s", slash ? slash + 1 : "");
		while (tmp[0] == '/')
			memmove(tmp, tmp + 1, strlen(tmp));
		last = tmp[0] == '\0';
		if (!strcmp(c, ".")) {
			snprintf(rest, sizeof(rest), "%s", tmp);
			continue;
		}
		if (!strcmp(c, "..")) {
			char *s = strrchr(cur, '/');
			if (s && s != cur)
				*s = '\0';
			else
				strcpy(cur, "/");
			snprintf(rest, sizeof(rest), "%s", tmp);
			continue;
		}
		if (join(next, sizeof(next), cur, c)) {
			errno = ENAMETOOLONG;
			return seterr(err, errsize, "mount point", target);
		}
		if (lstat(next, &st) == 0) {
			if (S_ISLNK(st.st_mode)) {
				ssize_t n = readlink(next, link, sizeof(link) - 1);
				if (n < 0 || ++hops > 40) {
					errno = n < 0 ? errno : ELOOP;
					return seterr(err, errsize, "mount point", target);
				}
				link[n] = '\0';
				if (link[0] == '/')
					strcpy(cur, "/");
				if ((size_t)snprintf(rest, sizeof(rest), "%s/%s", link, tmp) >= sizeof(rest)) {
					errno = ENAMETOOLONG;
					return seterr(err, errsize, "mount point", target);
				}
				continue;
			}
			if (last && file != !S_ISDIR(st.st_mode)) {
				errno = file ? EISDIR : ENOTDIR;
				return seterr(err, errsize, "mount point", target);
			}
			if (!last && !S_ISDIR(st.st_mode)) {
				errno = ENOTDIR;
				return seterr(err, errsize, "mount point", next);
			}
		} else {
			if (errno != ENOENT)
				return seterr(err, errsize, "mount point", next);
			if (!is_ours(cur) && shadow(scratch, cur, err, errsize) != 0)
				return -1;
			if (last && file) {
				int fd = open(next, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
				if (fd < 0)
					return seterr(err, errsize, "create the mount point", next);
				close(fd);
			} else if (mkdir(next, 0755) != 0) {
				return seterr(err, errsize, "create the mount point", next);
			}
		}
		snprintf(cur, sizeof(cur), "%s", next);
		snprintf(rest, sizeof(rest), "%s", tmp);
	}
}

/* Unescape a mountinfo path (\040 for a space...) in place. */
static void unescape(char *s)
{
	char *r = s, *w = s;
	while (*r) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/' || (n == 1 && dir[0] == '/'));
}

static int remount_readonly(const kl_fs *fs, char *err, size_t errsize)
{
	static char info[262144];
	ssize_t len = 0, n;
	char *line, *save = NULL;
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return seterr(err, errsize, "open", "/proc/self/mountinfo");
	while (len < (ssize_t)sizeof(info) - 1 && (n = read(fd, info + len, sizeof(info) - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	info[len] = '\0';
	for (line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[7], *sp = NULL, *tok;
		unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
		size_t i, nf = 0;
		bool keep = false;
		for (tok = strtok_r(line, " ", &sp); tok && nf < 7; tok = strtok_r(NULL, " ", &sp))
			f[nf++] = tok;
		if (nf < 6)
			continue;
		unescape(f[4]);
		if (under(f[4], "/proc") || under(f[4], "/sys") || under(f[4], "/dev") || under(f[4], fs->scratch))
			continue;
		for (i = 0; i < fs->nmounts; i++)
			if (!fs->mounts[i].readonly && under(f[4], fs->mounts[i].target))
				keep = true;
		if (keep)
			continue;
		/* keep the flags a bind remount may not drop */
		if (strstr(f[5], "nosuid"))
			flags |= MS_NOSUID;
		if (strstr(f[5], "nodev"))
			flags |= MS_NODEV;
		if (strstr(f[5], "noexec"))
			flags |= MS_NOEXEC;
		if (mount(NULL, f[4], NULL, flags, NULL) != 0 && !strcmp(f[4], "/"))
			return seterr(err, errsize, "remount read-only", "/");
	}
	return 0;
}

int kl_fs_setup(const kl_fs *fs, char *err, size_t errsize)
{
	size_t i;
	nours = nstages = 0;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return seterr(err, errsize, "make private", "/");
	if (fs->nmounts == 0 && !fs->readonly_root)
		return 0;
	if (mount("tmpfs", fs->scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=1m") != 0)
		return seterr(err, errsize, "mount a tmpfs on", fs->scratch);
	remember(fs->scratch);
	if (fs->readonly_root && shadow(fs->scratch, "/", err, errsize) != 0)
		return -1;
	for (i = 0; i < fs->nmounts; i++) {
		const kl_mount *m = &fs->mounts[i];
		if (ensure(fs->scratch, m->target, m->file, err, errsize) != 0)
			return -1;
		if (m->root) {
			/* a subPath: what is mounted is the very object checked to be
			 * inside the volume (opened without following a last symlink,
			 * its real path read back from the descriptor), so a symlink
			 * swapped in since the check cannot lead out of it */
			char fdpath[32], real[PATH_MAX];
			size_t rn = strlen(m->root);
			ssize_t n;
			int fd = open(m->source, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return seterr(err, errsize, "open the subPath", m->source);
			snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
			n = readlink(fdpath, real, sizeof(real) - 1);
			if (n >= 0)
				real[n] = '\0';
			if (n < 0 || (size_t)n < rn || memcmp(real, m->root, rn) != 0 || (real[rn] != '/' && real[rn] != '\0')) {
				close(fd);
				snprintf(err, errsize, "subPath %s leads out of its volume", m->source);
				return -1;
			}
			if (mount(fdpath, m->target, NULL, MS_BIND | MS_REC, NULL) != 0) {
				int e = errno;
				close(fd);
				errno = e;
				return seterr(err, errsize, "bind-mount the volume on", m->target);
			}
			close(fd);
		} else if (mount(m->source, m->target, NULL, MS_BIND | MS_REC, NULL) != 0) {
			return seterr(err, errsize, "bind-mount the volume on", m->target);
		}
		if (m->readonly && mount(NULL, m->target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
			NULL) != 0)
			return seterr(err, errsize, "remount read-only", m->target);
	}
	if (fs->readonly_root)
		return remount_readonly(fs, err, errsize);
	return 0;
}
