/*
 * kubelet.h: the node of peerop-devcluster: a kubelet that runs pods as
 * local processes.
 *
 *   kubelet.c          the node object, scheduling (binding pending pods),
 *                      following the store (pods, and the ConfigMaps and
 *                      Secrets they use), one worker per pod
 *   kubelet_pod.c      a pod worker: volumes, container starts, restarts
 *                      with back-off, graceful termination, status
 *   kubelet_prober.c   a pod's prober thread (kubelet_probes.c: one probe)
 *   kubelet_isolation.c a container's identity and mounts (securityContext,
 *                      volumeMounts, the service account token)
 *   kubelet_status.c   PodStatus: phase, conditions, containerStatuses, QoS
 *   kubelet_env.c      the command line and environment of a container
 *                      (images, command/args, env, valueFrom, $(VAR))
 *   kubelet_spawn.c    starting a container: the shim process, namespaces,
 *                      identity, exec; signals
 *   kubelet_mounts.c   the container's mount namespace (in the child)
 *   kubelet_volumes.c  configMap, secret, emptyDir, downwardAPI and
 *                      projected volumes on disk, updated atomically
 *   kubelet_probes.c   liveness, readiness and startup probes
 *   ipam.c             pod IPs on the loopback (127.0.0.2, .3, ...)
 *   podlog.c           container logs (the pods/log subresource)
 *
 * Threads: the kubelet's follower (follow.c) turns store events into pod
 * keys and hands each pod's latest object to its worker thread, which owns
 * the processes; a pod with probes gets a prober thread. Lock order: store,
 * then a pod's mutex; nothing calls into the store while holding a pod's
 * mutex.
 */
#ifndef DEVCLUSTER_KUBELET_H
#define DEVCLUSTER_KUBELET_H

#include "client.h"

#include <sys/types.h>

typedef struct dc_kubelet dc_kubelet;
typedef struct dc_kubelet_options {
	const char *const *images;    /* "IMAGE=PATH" mappings, NULL-terminated;
	                               * borrowed: must outlive the kubelet */
	const char *node_name;        /* NULL: "devcluster" */
	unsigned restart_backoff_s;   /* the first restart back-off (0: 10; doubles up to 300) */
	bool allow_host_path;         /* run pods with hostPath volumes (refused by default:
	                               * they are this machine's files, and the kubelet is root) */
} dc_kubelet_options;
int dc_kubelet_start(dc_kubelet **out, dc_server *srv, const dc_kubelet_options *opts);
/* Stop every pod's processes (SIGTERM, their grace period, SIGKILL) and
 * the threads. Pod objects stay as they are: a restart with the same data
 * directory runs them again. NULL is a no-op. */
void dc_kubelet_stop(dc_kubelet *k);

#define KL_COMPONENT "kubelet"
#define KL_MAX_ENV_BYTES (1u << 20)    /* all of a container's environment */
#define KL_MAX_ARGS_BYTES (1u << 20)   /* all of its command line */

/* ------------------------------------------------------------ ipam.c */
typedef struct dc_ipam dc_ipam;
dc_ipam *dc_ipam_new(void);
void dc_ipam_free(dc_ipam *a);
/* The address of owner (a pod uid): the one it has, else want (an address
 * it had before a restart) if free, else the lowest free from 127.0.0.2.
 * 0, or PEEROP_ENOMEM when 127.0.0.0/8 is exhausted. */
int dc_ipam_get(dc_ipam *a, const char *owner, const char *want, char out[16]);
void dc_ipam_release(dc_ipam *a, const char *owner);
/* Skip addresses something listens on (the default); off for tests that
 * expect exact addresses on a machine others share. */
void dc_ipam_skip_listened(dc_ipam *a, bool on);

/* ------------------------------------------------------------ kubelet_env.c */
/* What a container runs: argv and envp (NULL-terminated, malloc'd), its
 * working directory, or an error with the waiting reason the real kubelet
 * would report (ErrImagePull, CreateContainerConfigError...). */
typedef struct kl_exec {
	char **argv;
	char **envp;
	char *workdir;          /* NULL: the process's own (/ in the container) */
	char *image_path;       /* the executable the image maps to */
	char *reason;           /* on error */
	char *message;
} kl_exec;
/* Resolve image (with the --image table), command/args and env of ctr
 * (a container spec) in pod, whose IP is ip, reading ConfigMaps and
 * Secrets from the store (locks it). 0, or -1 with ex->reason/message. */
int kl_exec_build(kl_exec *ex, const dc_kubelet *k, const json_t *pod, const json_t *ctr, const char *ip);
void kl_exec_dispose(kl_exec *ex);
/* The executable for an image: exact match first (name:tag or @digest),
 * then the image name without tag or digest; NULL if unmapped. */
const char *kl_image_lookup(const char *const *images, const char *image);
/* Expand $(VAR) with env (NULL-terminated "K=V"); $$ is a literal $. */
char *kl_expand(const char *s, char *const *env);
/* Decode base64 (whitespace allowed) into a malloc'd, NUL-terminated
 * buffer of *len bytes; NULL if malformed. */
char *kl_b64_decode(const char *s, size_t *len);
/* A core/v1 object (plural "configmaps", "secrets", "pods"...) parsed from
 * the store (locks it), or NULL. */
json_t *kl_store_get(dc_server *srv, const char *plural, const char *ns, const char *name);

/* ------------------------------------------------------------ kubelet_mounts.c */
/* One bind mount of the container's mount namespace. */
typedef struct kl_mount {
	char *source;           /* host path (a volume directory, or a file in it) */
	char *target;           /* absolute path in the container */
	bool readonly;
	bool file;              /* a file (subPath to a file), not a directory */
	char *root;             /* with a subPath: the volume's real path, which the
	                         * source must still be inside when it is mounted */
} kl_mount;
typedef struct kl_fs {
	kl_mount *mounts;
	size_t nmounts;
	bool readonly_root;
	char *scratch;          /* a host directory the child may use (tmpfs staging) */
} kl_fs;
/* In the child, after unshare(CLONE_NEWNS): make every mount private,
 * create missing mount points on private tmpfs (never on the host), bind
 * the volumes, make / read-only if asked. Only async-signal-safe calls and
 * no allocation. 0, or -1 with a message in err. */
int kl_fs_setup(const kl_fs *fs, char *err, size_t errsize);
/* Validate a mountPath: absolute, no "." or ".." components, not "/". */
const char *kl_mount_path_problem(const char *path);

/* ------------------------------------------------------------ kubelet_spawn.c */
typedef struct kl_spawn {
	const kl_exec *ex;
	const kl_fs *fs;
	bool namespaces;        /* root: own mount, PID and UTS namespaces */
	const char *hostname;   /* with namespaces: the pod's name */
	long long uid, gid;     /* -1: unchanged */
	const gid_t *groups;    /* supplementary groups, ngroups of them */
	size_t ngroups;
} kl_spawn;
typedef struct kl_proc {
	pid_t shim;             /* the process the kubelet forked */
	int pidfd;              /* readable when the shim exits */
	int status_fd;          /* the shim's reports: pid, exit, errors */
	int out_fd, err_fd;     /* the container's stdout and stderr */
	pid_t pid;              /* the container's process (host pid), 0 until known */
	bool ns;                /* started in its own namespaces */
	char sbuf[600];         /* a partial report line */
	size_t slen;
} kl_proc;
/* Start a container. 0, or -1 and a message in err (a failed exec is
 * reported later, through the status pipe: see kl_proc_read_status). */
int kl_proc_start(kl_proc *p, const kl_spawn *sp, char *err, size_t errsize);
/* Read the shim's reports. Returns 1 when the container exited (*wstatus
 * set), 0 when nothing final yet, -1 when the shim vanished. exec_err
 * receives an exec failure's message. */
int kl_proc_read_status(kl_proc *p, int *wstatus, char *exec_err, size_t errsize);
/* Signal the container (SIGTERM...); SIGKILL kills the shim, which takes
 * the container (and, with namespaces, everything it started) with it. */
void kl_proc_signal(kl_proc *p, int sig);
/* Reap the shim if it exited; close the descriptors. */
void kl_proc_close(kl_proc *p);
/* The shim's own exit status, when it has exited: 1 and *wstatus. */
int kl_proc_reap(kl_proc *p, int *wstatus);
/* Wait up to ms for the shim to exit and reap it: 1 when reaped. */
int kl_proc_wait(kl_proc *p, unsigned ms);

/* ------------------------------------------------------------ kubelet_volumes.c */
/* Materialize pod's volumes under dir (DIR/volumes/<kind>/<name>);
 * ConfigMaps and Secrets are read from the store (locks it). Existing
 * volumes are updated with the kubelet's atomic writer (a new
 * ..<timestamp> directory, the ..data symlink swapped by rename). 0 when
 * every volume is ready; -1 with a message (the FailedMount event's). */
int kl_volumes_sync(dc_server *srv, const json_t *pod, const char *dir, char *err, size_t errsize);
/* The same; *token_refresh gets when the projected ServiceAccount tokens
 * it wrote are due for a rewrite (unix s, 80% of their life), 0 if none. */
int kl_volumes_sync_tokens(dc_server *srv, const json_t *pod, const char *dir, int64_t *token_refresh,
	char *err, size_t errsize);
/* The host directory of a volume (by name), malloc'd; NULL if the pod has
 * no such volume or its kind is not supported (*problem says why). */
char *kl_volume_path(const json_t *pod, const char *dir, const char *name, const char **problem);
/* Write one volume's files atomically (exposed for tests): files is an
 * object path -> {"data": base64 or "text": string, "mode": int}. */
int kl_atomic_write(const char *voldir, const json_t *files, char *err, size_t errsize);
/* rm -rf that does not follow symlinks (the pod directory at deletion). */
void kl_remove_tree(const char *path);

/* ------------------------------------------------------------ kubelet_probes.c */
typedef enum kl_probe_kind { KL_LIVENESS, KL_READINESS, KL_STARTUP } kl_probe_kind;
/* Run one probe (a Probe object) of container ctr against ip; pid is the
 * container's process (exec probes join its mount namespace), ex what it
 * runs with (environment, working directory). 1 success, 0 failure with
 * msg (the Unhealthy event's text). */
int kl_probe_run(const json_t *probe, const json_t *ctr, const char *ip, pid_t pid, const kl_exec *ex, char *msg,
	size_t msgsize);

/* ------------------------------------------------------------ pod workers */
typedef enum kl_state { KL_WAITING, KL_RUNNING, KL_TERMINATED } kl_state;

typedef struct kl_ctr {
	char *name;
	bool init;                /* an init container: runs to completion, in order, first */
	const json_t *spec;       /* in the worker's pod object */
	kl_proc proc;
	kl_exec ex;               /* what the running instance runs */
	bool running;             /* started, end not yet seen */
	bool exited;              /* the end is known (exit status or vanished shim) */
	int wstatus;
	char exec_err[512];
	uint64_t run_id;          /* bumped at every start */
	uint64_t started_ms;      /* monotonic, of this instance */
	/* status */
	kl_state state;
	char reason[64];          /* waiting or terminated reason */
	char message[1024];
	char started_at[32], finished_at[32];
	int exit_code;
	json_t *last_state;       /* {"terminated": {...}} or NULL */
	int restarts;
	bool ever_started;
	bool done;                /* terminated for good (restartPolicy) */
	char id[80];              /* containerID */
	/* back-off */
	unsigned backoff_s;       /* the next delay; 0: restart at once */
	uint64_t backoff_until;   /* monotonic ms; 0: none */
	uint64_t last_exit_ms;
	/* termination */
	bool killing;
	uint64_t kill_at;         /* SIGKILL after this (monotonic ms) */
	/* probes: written by the prober, under the pod's mutex */
	bool ready;               /* readiness (true without a readiness probe, once started) */
	bool started;             /* the startup probe passed (or there is none) */
	bool live_failed;         /* the liveness probe failed enough: restart */
	bool startup_failed;      /* the startup probe failed enough: restart */
	char probe_msg[512];      /* the failure that did it */
} kl_ctr;

typedef struct kl_pod {
	dc_kubelet *k;
	char *uid, *ns, *name;
	pthread_t thread, prober;
	bool has_prober;
	pthread_mutex_t mu;
	pthread_cond_t probe_cond;
	/* set by the kubelet's follower, under mu */
	json_t *desired;          /* the latest stored object; NULL once gone */
	bool gone, stop, refresh;
	int wake_fd;              /* an eventfd the worker polls */
	bool finished;            /* the worker is done (the thread can be joined) */
	/* the worker's own */
	json_t *pod;              /* the object it works from (latest) */
	json_t *spec0;            /* the pod as first seen: container specs point into it */
	char ip[16];
	char *dir;                /* DIR/pods/<uid> */
	kl_ctr *ctrs;             /* the init containers first, then the others */
	size_t nctrs;
	size_t ninits;
	size_t init_next;         /* the init container to run; ninits once initialized */
	bool init_failed;         /* an init container failed for good (restartPolicy Never) */
	bool volumes_ok;
	int64_t token_refresh;    /* unix s: when the mounted tokens are rewritten (0: none) */
	char volume_err[768];
	uint64_t volume_retry;    /* monotonic ms */
	bool terminating;         /* stopping every container */
	char start_time[32];
	json_t *written;          /* the status last written */
	uint64_t write_retry;
} kl_pod;

struct dc_kubelet {
	dc_server *srv;
	char *node;
	char *root;               /* pod directories live in ROOT/<uid> */
	bool temp_root;
	bool namespaces;          /* running as root: mount/PID/UTS namespaces */
	unsigned backoff_initial;
	bool allow_host_path;
	const char *const *images; /* dc_kubelet_options.images */
	dc_ipam *ipam;
	dc_follow *f;
	dc_coll *pods, *cms, *secrets;
	pthread_mutex_t mu;       /* guards workers */
	peerop__map workers;          /* uid -> kl_pod */
};

/* kubelet_pod.c */
kl_pod *kl_pod_new(dc_kubelet *k, const json_t *pod);
/* Hand the worker a newer object (or NULL: the pod is gone). Store may be
 * locked. */
void kl_pod_update(kl_pod *p, const json_t *pod);
/* Something the pod uses changed (a ConfigMap, a Secret). */
void kl_pod_refresh(kl_pod *p);
void kl_pod_wake(kl_pod *p);
/* Ask it to stop every container (shutdown), then join and free it. */
void kl_pod_stop(kl_pod *p);
/* Join and free a finished worker. */
void kl_pod_free(kl_pod *p);
/* Does the pod use ConfigMap or Secret name (kind "configmaps"/"secrets")? */
bool kl_pod_uses(const json_t *pod, const char *plural, const char *name);

void kl_set_waiting(kl_ctr *c, const char *reason, const char *message);

/* kubelet_isolation.c: a container's identity and mounts; false with its
 * waiting reason set. */
bool kl_identity(kl_pod *p, kl_ctr *c, kl_spawn *sp, gid_t *groups, size_t *ngroups);
bool kl_build_fs(kl_pod *p, kl_ctr *c, kl_fs *fs);
void kl_fs_dispose(kl_fs *fs);
/* Does c get the service account token mounted; write that volume. */
bool kl_sa_mount(const kl_pod *p, const kl_ctr *c);
/* A token of the pod's own ServiceAccount, bound to the pod, for
 * audiences (NULL: the API server's), valid ttl seconds (what the kubelet
 * asks TokenRequest for). NULL with *err when the ServiceAccount is
 * missing. */
char *kl_pod_token(dc_server *srv, const json_t *pod, const json_t *audiences, int64_t ttl, int64_t *exp,
	char *err, size_t errsize);
int kl_sa_volume(kl_pod *p, char *err, size_t errsize);

/* kubelet_status.c: the status to write for p now (new reference). */
json_t *kl_status_build(kl_pod *p);
/* The phase the containers add up to. */
const char *kl_phase(const kl_pod *p);

/* kubelet_prober.c: the pod's prober thread */
void *kl_prober_main(void *arg);

#endif /* DEVCLUSTER_KUBELET_H */
