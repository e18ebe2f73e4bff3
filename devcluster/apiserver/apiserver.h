/*
 * apiserver.h: the API server part of the local control plane (see
 * devcluster/README.md, "Layout and the dependency rule": this header
 * includes only base.h and the public headers; nothing here knows the
 * parts above it, client/, controllers/, kubelet/, cmd/).
 *
 * peerop-devcluster is a development and test tool, not part of libpeerop:
 * its names start with dc_ (not peerop__) so they can never collide with the
 * library's internals, which tests link in the same program.
 *
 * Layers, bottom up (one file each, named for what it holds):
 *   obj.c        immutable stored objects (serialized JSON + indexed metadata)
 *   rtypes.c     THE resource type table: built-ins, and CRD-derived types
 *   store.c      collections, the global resourceVersion, uid/owner indexes,
 *                the bounded event history that watches read from
 *   persist.c    the append-only, fsync'd write log (--data-dir)
 *   selector.c   label and field selectors
 *   patch.c      merge patch, JSON patch, and the patch-type dispatch table
 *   status.c     Status error objects
 *   api_*.c      the REST verbs: read (get/list), write (create/update/patch),
 *                delete (finalizers, garbage collection, namespaces,
 *                graceful pod deletion), watch, pods/log (api_log.c)
 *   podlog.c     container logs, written by the kubelet (podlog.c, below)
 *   qos.c        pod QoS classes and Kubernetes quantities
 *   crd.c        CustomResourceDefinition -> served types
 *   discovery.c  /api, /apis, /api/v1, /apis/g/v discovery documents
 *   table.c      meta.k8s.io Table replies (kubectl get), with printers.c
 *                (built-in columns) and jsonpath.c (CRD printer columns)
 *   schemas.c    OpenAPI schemas of the types (builtin-schemas.yaml, CRDs)
 *   schema.c     CRD structural schemas: pruning, defaulting, validation
 *   smp.c        strategic merge patch (built-in types)
 *   apply.c      server-side apply, with managed_fields.c (field sets,
 *                metadata.managedFields)
 *   openapi.c    /openapi/v2 and /openapi/v3 documents
 *   yaml_body.c  YAML request bodies (server-side apply) to JSON
 *   protobuf.c   protobuf request bodies of the typed clients, with
 *                pb_types.c (message descriptors)
 *   tls.c        CA and serving certificate generation (OpenSSL)
 *   server.c     libmicrohttpd glue, routing, auth, kubeconfig
 *   faults.c     the fault-injection admin API under /_devcluster/
 *
 * With --run-pods, components run on top (cmd/cluster.h starts them through
 * dc_server_options.components_start): the controller manager
 * (controllers/) and a kubelet that runs pods as local processes (kubelet/).
 *
 * Locking: one mutex per store (dc_store.mu) guards every structure below
 * the HTTP layer. Requests are short; the lock is never held while writing
 * to a socket. Stored objects (dc_obj) are immutable and reference-counted,
 * so watchers format them outside the lock.
 */
#ifndef DEVCLUSTER_H
#define DEVCLUSTER_H

#include "base.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ------------------------------------------------------------ obj.c */
/* One stored version of an object. Immutable once made; shared by the
 * collection, the event history and watchers through a reference count.
 * The object is kept as compact serialized JSON (what every read and watch
 * sends, so reads cost a memcpy, and 100,000 objects stay small) plus the
 * few parsed fields that indexes and selectors need. Writers re-parse the
 * JSON, which costs microseconds for typical objects. */
typedef struct dc_obj {
	int refs;                 /* atomic */
	uint64_t rv;
	char *json;
	size_t len;
	char *ns;                 /* "" for cluster-scoped objects */
	char *name;
	char *uid;
	json_t *labels;           /* metadata.labels or NULL */
	char **owners;            /* ownerReferences[].uid */
	unsigned char *owner_block; /* blockOwnerDeletion per owner */
	size_t nowners;
	size_t nfinalizers;
	bool deleting;            /* metadata.deletionTimestamp set */
} dc_obj;

/* Serialize o (borrowed) and index it. NULL on allocation failure. */
dc_obj *dc_obj_new(const json_t *o, uint64_t rv);
dc_obj *dc_obj_ref(dc_obj *o);
void dc_obj_unref(dc_obj *o);
/* A fresh, caller-owned parse of the stored JSON. */
json_t *dc_obj_parse(const dc_obj *o);
bool dc_obj_has_finalizer(const dc_obj *o, const char *f);

/* Small JSON helpers used everywhere. */
const char *dc_json_str(const json_t *o, const char *path); /* "metadata.name" */
json_t *dc_json_path(const json_t *o, const char *path);    /* borrowed or NULL */
/* Set (creating objects on the way) the value at a dotted path; steals v. */
int dc_json_set_path(json_t *o, const char *path, json_t *v);
json_t *dc_json_meta(json_t *o);   /* metadata object, created if missing */
void dc_now_rfc3339(char *buf, size_t size); /* "2026-01-02T03:04:05Z" */
/* RFC 3339 with nanoseconds ("2026-01-02T03:04:05.123456789Z"). */
void dc_now_rfc3339_nano(char *buf, size_t size);
void dc_new_uid(char out[37]);

/* ------------------------------------------------------------ rtypes.c */
enum {
	DC_RT_STATUS     = 1u << 0,  /* has a status subresource */
	DC_RT_SCALE      = 1u << 1,  /* has a scale subresource */
	DC_RT_GENERATION = 1u << 2,  /* maintains metadata.generation */
	DC_RT_LOG        = 1u << 3,  /* has a log subresource (pods) */
	DC_RT_CUSTOM     = 1u << 4,  /* defined by a CRD */
	DC_RT_FINALIZE   = 1u << 5   /* has a finalize subresource (namespaces) */
};

typedef struct dc_coll dc_coll;
typedef struct dc_store dc_store;

/*
 * A served resource: one (group, version, plural). Every fact about a type
 * lives here, so discovery, OpenAPI, Table output and short names
 * read this table instead of special cases. Versions of one resource share
 * one storage collection (coll); objects are stored in the storage version
 * and converted on the way in and out.
 */
typedef struct dc_rtype {
	char *group;            /* "" for the core group */
	char *version;
	char *api_version;      /* "v1" or "apps/v1" */
	char *plural;
	char *singular;
	char *kind;
	char *list_kind;
	bool namespaced;
	bool storage;           /* this version is the storage version */
	unsigned flags;         /* DC_RT_* */
	char *short_names;      /* comma-separated, or "" */
	char *categories;       /* comma-separated, or "" */
	char *fields;           /* extra field-selector keys, comma-separated */
	/* scale subresource: dotted paths ("spec.replicas"); selector may be "" */
	char *scale_spec, *scale_status, *scale_selector;
	json_t *printer_columns; /* array of {name,type,jsonPath,...} or NULL */
	json_t *schema;          /* CRD openAPIV3Schema for this version, or the
	                          * built-in schema (builtin-schemas.yaml), or NULL */
	/* Type-specific behaviour; each may be NULL. */
	void (*defaults)(json_t *obj);                 /* on create */
	/* obj from storage form to this version (in place), and back. */
	void (*to_version)(json_t *obj, const struct dc_rtype *rt);
	void (*from_version)(json_t *obj, const struct dc_rtype *rt);
	/* Admission on create and update (status writes too, with
	 * DC_ADMIT_STATUS): may default or prune obj (storage form); returns a
	 * Status (422 naming the fields, 400 for unknown fields under
	 * DC_ADMIT_STRICT) to reject it, or NULL. old is NULL on create. CRD
	 * types use dc_schema_admit (structural schemas). */
	json_t *(*admit)(const struct dc_rtype *rt, json_t *obj, const json_t *old, unsigned flags);
	/* Extra field selector values beyond metadata.name/namespace. */
	const char *(*field_value)(const json_t *obj, const char *field);
	dc_coll *coll;
} dc_rtype;

typedef json_t *(*dc_admit_fn)(const struct dc_rtype *rt, json_t *obj, const json_t *old, unsigned flags);

/* defaults.c: the admit hook of built-in types whose writes the real server
 * defaults or converts on decode (pods, workloads' pod templates, secrets),
 * or NULL. */
dc_admit_fn dc_builtin_admit_for(const char *group, const char *plural);
/* The defaults of a PodSpec (in place; anything not an object is left). */
void dc_podspec_defaults(json_t *spec);

/* dc_rtype.admit flags */
#define DC_ADMIT_STATUS 1u   /* a status subresource write: only .status changes */
#define DC_ADMIT_STRICT 2u   /* fieldValidation=Strict: unknown fields are refused */

/* Register the built-in types. */
int dc_rtypes_init_builtin(dc_store *s);
/* Lookup (group, version, plural): NULL if not served. */
const dc_rtype *dc_rtype_find(dc_store *s, const char *group, const char *version, const char *plural);
/* Any served version of a group-kind (for ownerReferences, events). */
const dc_rtype *dc_rtype_find_kind(dc_store *s, const char *group, const char *kind);
dc_rtype *dc_rtype_new(void);
/* A private copy (watches keep one: a CRD's types go when it is deleted). */
dc_rtype *dc_rtype_clone(const dc_rtype *rt);
void dc_rtype_free(dc_rtype *rt);
int dc_rtype_add(dc_store *s, dc_rtype *rt);  /* takes rt; creates/joins its coll */
void dc_rtypes_remove_coll(dc_store *s, dc_coll *c); /* stop serving a CRD's types */
/* Convert a parsed stored object to rt's version (in place). */
void dc_rtype_out(const dc_rtype *rt, json_t *obj);
/* Convert an incoming object from rt's version to storage (in place). */
void dc_rtype_in(const dc_rtype *rt, json_t *obj);
/* Value of a field selector key, NULL if the key is unsupported. */
const char *dc_rtype_field(const dc_rtype *rt, const json_t *obj, const char *field, bool *supported);
/* Append a stored object as rt's version to b (a memcpy when no
 * conversion is needed). */
int dc_rtype_render(const dc_rtype *rt, const dc_obj *o, peerop__buf *b);
/* The same, for an object parsed from storage (consumed). */
int dc_rtype_render_json(const dc_rtype *rt, json_t *obj, peerop__buf *b);

/* ------------------------------------------------------------ store.c */
typedef struct dc_entry {
	char *key;               /* "ns/name" ("/name" for cluster-scoped) */
	dc_obj *obj;
	dc_coll *coll;
} dc_entry;

struct dc_coll {
	char *resource;          /* "configmaps", "deployments.apps": for messages */
	char *group;
	char *plural;
	bool namespaced;
	bool active;             /* false once its CRD is gone */
	const dc_rtype *storage_type;
	peerop__map entries;         /* key -> dc_entry */
	dc_entry **arr;          /* every entry, always sorted by key */
	size_t n, cap;
	/* Called after every committed change (CRDs register their types).
	 * obj is NULL when the object was removed. */
	void (*on_commit)(dc_store *s, dc_coll *c, const dc_obj *obj, const dc_obj *old);
};

typedef enum dc_evtype { DC_EV_ADDED, DC_EV_MODIFIED, DC_EV_DELETED } dc_evtype;

typedef struct dc_event {
	uint64_t rv;
	dc_evtype type;
	dc_coll *coll;
	dc_obj *obj;             /* the new state (for DELETED: the last state) */
	dc_obj *old;             /* the previous state, or NULL */
} dc_event;

typedef struct dc_persist dc_persist;

typedef struct dc_store_options {
	size_t history_size;     /* events kept for watches (0: 10000) */
	const char *data_dir;    /* NULL: in memory only */
} dc_store_options;

struct dc_store {
	pthread_mutex_t mu;
	pthread_cond_t cond;     /* broadcast on every commit and watch fault */
	uint64_t rv;             /* the global resourceVersion counter */
	uint64_t compacted_rv;   /* events with rv <= this are no longer kept */
	dc_event *ring;          /* events compacted_rv+1 .. rv, oldest at head */
	size_t ring_cap, ring_head, ring_len;
	dc_rtype **types;
	size_t ntypes, types_cap;
	dc_coll **colls;
	size_t ncolls, colls_cap;
	peerop__map uids;            /* uid -> dc_entry */
	peerop__map owners;          /* owner uid -> dc_deps */
	dc_persist *log;
	/* watch faults: watchers compare their start epoch with watch_epoch */
	uint64_t watch_epoch;
	bool stall_watches;
	bool stopping;
	int nwatchers;
	struct dc_podlogs *podlogs; /* container logs (podlog.c, below) */
	char *kubelet_node;      /* while a kubelet runs: its node, whose pods are
	                          * deleted gracefully (it kills them first) */
};

int dc_store_new(dc_store **out, const dc_store_options *opts);
void dc_store_free(dc_store *s);
dc_coll *dc_store_coll(dc_store *s, const char *group, const char *plural);
/* Lookup by namespace ("" for cluster-scoped) and name. Lock held. */
dc_entry *dc_coll_get(dc_coll *c, const char *ns, const char *name);
dc_entry *dc_store_by_uid(dc_store *s, const char *uid);
/* Create the ServiceAccount "default" of namespace ns if missing. */
int dc_store_ensure_default_sa(dc_store *s, const char *ns);
/* The range [*lo, *hi) of coll->arr in namespace ns (everything if NULL). */
void dc_coll_range(dc_coll *c, const char *ns, size_t *lo, size_t *hi);
/* The index of the first entry with key > after, within [lo, hi). */
size_t dc_coll_after(dc_coll *c, size_t lo, size_t hi, const char *after);
/* Dependents of an owner uid (entries). */
size_t dc_store_dependents(dc_store *s, const char *owner_uid, dc_entry ***out);

/*
 * Commit one change with the store locked: assigns the next resourceVersion
 * (written into obj's metadata), appends to the log and fsyncs it (when
 * persistent), updates indexes, records the event, wakes watchers.
 * obj == NULL removes the entry (its last state becomes the DELETED event,
 * with the new resourceVersion). obj is borrowed; on success *out (if not
 * NULL) receives a borrowed pointer to the stored version.
 * Returns 0, or PEEROP_EIO when the log could not be written (nothing changed).
 */
int dc_store_commit(dc_store *s, dc_coll *c, const char *ns, const char *name,
	json_t *obj, dc_obj **out);
/* Install a stored version (takes nobj) under key ("ns/name"), or remove
 * the entry (deleted; nobj is its last state). replay: from the log at
 * start, so neither logged again nor recorded as a watch event. */
int dc_store_apply(dc_store *s, dc_coll *c, const char *key, dc_obj *nobj,
	bool deleted, bool replay);
/* Wait (lock held) for a commit or for ms; false on timeout. */
bool dc_store_wait(dc_store *s, unsigned ms);
/* Append to the log of a pod's first container (lock held), as if it had
 * written data. PEEROP_ENOENT if there is no such pod. */
int dc_store_pod_log_append(dc_store *s, const char *ns, const char *name, const char *data, size_t len);
/* Forget all history (fault injection): every watch from an older rv gets 410. */
void dc_store_expire_history(dc_store *s);
/* Event with resourceVersion rv (compacted_rv < rv <= s->rv). */
const dc_event *dc_store_event(const dc_store *s, uint64_t rv);

/* ------------------------------------------------------------ persist.c */
/* Open (creating) DIR/log.jsonl, replay it into s, compact it. */
int dc_persist_open(dc_store *s, const char *dir);
/* Append one record and fsync it. Lock held. */
int dc_persist_put(dc_persist *p, const dc_coll *c, const dc_obj *o);
int dc_persist_del(dc_persist *p, const dc_coll *c, const dc_obj *o, uint64_t rv);
void dc_persist_close(dc_persist *p);

/* ------------------------------------------------------------ selector.c */
typedef struct dc_selector dc_selector;
/* Parse a label selector; NULL or "" selects everything (*out = NULL).
 * On error returns PEEROP_EINVALID with *err a malloc'd message. */
int dc_label_selector_parse(dc_selector **out, const char *text, char **err);
bool dc_label_selector_match(const dc_selector *sel, const json_t *labels);
/* Field selectors: "a=b,c!=d". Keys are checked later against the type. */
int dc_field_selector_parse(dc_selector **out, const char *text, char **err);
/* Validate the keys for rt; a malloc'd message names the first bad one. */
char *dc_field_selector_check(const dc_selector *sel, const dc_rtype *rt);
bool dc_field_selector_match(const dc_selector *sel, const dc_rtype *rt, const dc_obj *o);
void dc_selector_free(dc_selector *sel);
/* Format a metav1.LabelSelector as a string selector ("a=b,c in (d)"). */
char *dc_label_selector_format(const json_t *ls);

/* ------------------------------------------------------------ patch.c */
/* What a patch implementation may need beyond the documents: the request
 * (fieldManager, force, fieldValidation), the target type (strategic merge
 * keys, schema) and whether the object exists (server-side apply creates). */
typedef struct dc_patch_ctx {
	const struct dc_req *rq;
	const struct dc_rtype *rt;
	bool exists;
} dc_patch_ctx;
/* Apply a patch document to target (the object as the client sees it, in
 * the served version; the caller's working copy, which the patch may change
 * in place). 0 and *out (new reference), or an HTTP status (400, 409, 415,
 * 422) with *err a malloc'd message. */
typedef int (*dc_patch_fn)(json_t **out, const json_t *target, const json_t *patch,
	const dc_patch_ctx *ctx, char **err);
/* Decode a patch body; NULL decode means JSON. NULL and *err on failure. */
typedef json_t *(*dc_patch_decode_fn)(const char *body, size_t len, char **err);
/* One row per PATCH Content-Type. Server-side apply's row has apply ==
 * NULL: it is not a function of the document alone (it creates, records
 * managers, reports conflicts), so dc_api_patch hands it to apply.c. */
typedef struct dc_patch_type {
	const char *media_type;
	dc_patch_fn apply;
	dc_patch_decode_fn decode;
} dc_patch_type;
extern const dc_patch_type dc_patch_types[];
/* The row for a Content-Type (parameters ignored), or NULL. */
const dc_patch_type *dc_patch_type_find(const char *content_type);
/* Decode body and apply it with type pt; same results as dc_patch_fn,
 * plus 400 for a body that does not decode. */
int dc_patch_apply(json_t **out, const dc_patch_type *pt, const json_t *target,
	const char *body, size_t len, const dc_patch_ctx *ctx, char **err);
/* The 415 message listing the supported patch types (malloc'd). */
char *dc_patch_unsupported_message(void);
json_t *dc_merge_patch(const json_t *target, const json_t *patch); /* RFC 7386 */
/* smp.c: strategic merge patch of target (served form) for type rt; 0 and
 * *out, or 400/415/422 with *err. Custom resources get 415. */
int dc_smp_apply(json_t **out, const json_t *target, const json_t *patch, const dc_rtype *rt, char **err);
int dc_json_patch(json_t **out, const json_t *target, const json_t *ops, char **err);

/* ------------------------------------------------------------ status.c */
/* A Status object (new reference). kind is the resource (NotFound,
 * AlreadyExists, Conflict) or the Kind (Invalid), as the real server does. */
json_t *dc_status(int code, const char *reason, const char *message,
	const char *name, const char *group, const char *kind);
const char *dc_reason_for(int code);

/* ------------------------------------------------------------ requests */
typedef struct dc_server dc_server;

/* Who sends a request (user.Info). */
typedef struct dc_user {
	char *name;
	char *uid;                /* may be NULL */
	char **groups;
	size_t ngroups;
	json_t *extra;            /* {key: [values]} or NULL */
} dc_user;

void dc_user_dispose(dc_user *u);
int dc_user_add_group(dc_user *u, const char *g);
bool dc_user_in_group(const dc_user *u, const char *g);
json_t *dc_user_info_json(const dc_user *u); /* {username, uid, groups, extra} */

/* One HTTP request, as the API layer sees it. */
typedef struct dc_req {
	dc_server *srv;
	void *conn;               /* struct MHD_Connection * */
	const char *method;
	const char *path;
	char **segs;              /* path split on '/', empty segments dropped */
	int nsegs;
	const char *content_type;
	const char *accept;
	char *body;
	size_t body_len;
	bool managed_done;        /* managedFields already computed (server-side apply) */
	/* who asks (authn.c); NULL for the in-process components, which act
	 * as the control plane itself and are not authorized */
	const dc_user *user;
	/* in-process requests (local.c) have no connection (conn NULL): their
	 * query is these pairs (key, value, ..., NULL) and their only header
	 * the User-Agent */
	const char *const *local_query;
	const char *local_agent;
} dc_req;

/* The reply. Either a body or a streaming reader (watches). */
typedef struct dc_resp {
	int code;
	char *body;               /* owned */
	size_t len;
	const char *content_type; /* static */
	int retry_after;          /* seconds, 0: none */
	char *warnings;           /* Warning headers' texts, '\n'-separated (owned), or NULL */
	void *stream;             /* struct MHD_Response * for streaming replies */
} dc_resp;

const char *dc_req_query(const dc_req *rq, const char *key);
/* A boolean query parameter as the real server reads ListOptions and the
 * other option structs: absent, "false" or "0" (any case) is false. */
bool dc_req_query_bool(const dc_req *rq, const char *key);
/* The request body as a JSON object: JSON, YAML or protobuf (the kinds
 * typed clients send). Replies and returns NULL when it is none. */
json_t *dc_req_body(dc_req *rq, dc_resp *rs);
const char *dc_req_header(const dc_req *rq, const char *name);
void dc_resp_json(dc_resp *rs, int code, json_t *body);       /* steals body */
void dc_resp_raw(dc_resp *rs, int code, char *body, size_t len); /* steals body */
void dc_resp_error(dc_resp *rs, int code, const char *reason, const char *fmt, ...) PEEROP_FORMAT(4, 5);
void dc_resp_status(dc_resp *rs, json_t *status);             /* steals */
/* Add a Warning header (299 - "text") to the reply; kubectl prints them. */
void dc_resp_warning(dc_resp *rs, const char *text);

/* The resolved target of an API path. */
typedef struct dc_target {
	const dc_rtype *rt;       /* valid only with the store locked: see dc_target_lock */
	const char *group, *version, *plural;
	bool namespaced;          /* copied from rt at routing */
	unsigned flags;
	const char *ns;           /* NULL when the path names no namespace */
	const char *name;         /* NULL for a collection */
	const char *sub;          /* subresource or NULL */
} dc_target;

/* Lock the store and re-find t->rt (a CRD may have gone since routing).
 * false: the type is no longer served; 404 replied and the lock released. */
bool dc_target_lock(dc_store *s, dc_target *t, dc_resp *rs);

/* api.c: route an /api or /apis request. Returns false if the path is not
 * an API resource path (the caller answers 404). */
bool dc_api_handle(dc_req *rq, dc_resp *rs);

/* api_read.c */
void dc_api_get(dc_req *rq, dc_resp *rs, const dc_target *t);
void dc_api_list(dc_req *rq, dc_resp *rs, const dc_target *t);
/* Parse labelSelector/fieldSelector for rt; false: 400 replied. */
bool dc_parse_selectors(dc_req *rq, dc_resp *rs, const dc_rtype *rt,
	dc_selector **lsel, dc_selector **fsel);
/* ns NULL: any namespace. */
bool dc_obj_matches(const dc_rtype *rt, const dc_obj *o, const char *ns,
	const dc_selector *lsel, const dc_selector *fsel);
/* api_write.c */
void dc_api_create(dc_req *rq, dc_resp *rs, const dc_target *t);
void dc_api_update(dc_req *rq, dc_resp *rs, const dc_target *t);
void dc_api_patch(dc_req *rq, dc_resp *rs, const dc_target *t);
/* The write paths, with the store locked (t locked by dc_target_lock);
 * in is the object in storage form (borrowed). They reply. Server-side
 * apply calls them after computing the applied object (rq->managed_done). */
void dc_create_locked(dc_req *rq, dc_resp *rs, const dc_target *t, json_t *in, int dry);
/* status_only: a status subresource write; scale_reply: answer with a Scale. */
void dc_update_locked(dc_req *rq, dc_resp *rs, const dc_rtype *rt, dc_entry *e,
	json_t *in, bool status_only, int dry, bool scale_reply);
/* A 422 Invalid Status naming the field. */
json_t *dc_invalid(const dc_rtype *rt, const char *name, const char *field,
	const char *cause, const char *detail);
/* api_delete.c */
void dc_api_delete(dc_req *rq, dc_resp *rs, const dc_target *t);
void dc_api_delete_collection(dc_req *rq, dc_resp *rs, const dc_target *t);
/* Delete with the lock held (GC, namespaces, CRDs use it). policy:
 * "Background", "Foreground" or "Orphan". Returns 0 or PEEROP_EIO. */
int dc_delete_entry(dc_store *s, dc_entry *e, const char *policy, bool dry_run,
	dc_obj **out_last);
/* The same with DeleteOptions.gracePeriodSeconds (-1: the object's own):
 * a pod on the kubelet's node that has not ended is only marked
 * (deletionTimestamp in grace seconds) until the kubelet has stopped it
 * and deletes it with 0; a shorter grace period shortens a pending one. */
int dc_delete_entry_grace(dc_store *s, dc_entry *e, const char *policy, bool dry_run,
	long long grace, dc_obj **out_last);
/* After an object was removed: drive GC of its dependents and owners. */
int dc_gc_after_remove(dc_store *s, const dc_obj *gone);
/* Delete ns/name of coll if it has owners and none of them exists. */
int dc_gc_dangling(dc_store *s, dc_coll *coll, const char *ns, const char *name);
/* Commit a modified version of an existing entry (lock held). */
int dc_commit_update(dc_store *s, dc_entry *e, json_t *obj);
/* api_watch.c */
void dc_api_watch(dc_req *rq, dc_resp *rs, const dc_target *t);
/* crd.c */
void dc_crd_on_commit(dc_store *s, dc_coll *c, const dc_obj *obj, const dc_obj *old);
/* Check a CRD before it is stored; a malloc'd message or NULL. */
char *dc_crd_validate(dc_store *s, const json_t *crd, const json_t *old);
void dc_crd_set_status(json_t *crd);
/* Remove every object of the CRD's collection (lock held). */
int dc_crd_delete_objects(dc_store *s, const json_t *crd);

/* Common query handling. */
/* 1: dryRun=All; 0: not a dry run; -1: an invalid value (400 replied). */
int dc_dry_run(const dc_req *rq, dc_resp *rs);
/* Parse a resourceVersion query value; false if malformed. */
bool dc_parse_rv(const char *s, uint64_t *out);
/* Wait (lock held) until s->rv >= rv, up to ms. */
bool dc_wait_rv(dc_store *s, uint64_t rv, unsigned ms);
/* 504 ResourceVersionTooLarge */
void dc_resp_too_large_rv(dc_resp *rs, uint64_t want, uint64_t have);
/* Messages name the resource as "plural.group". */
json_t *dc_not_found(const dc_rtype *rt, const char *name);

/* qos.c: a pod's QoS class ("BestEffort", "Burstable", "Guaranteed")
 * from its spec, and Kubernetes quantities ("100m", "1Gi") as numbers. */
const char *dc_pod_qos(const json_t *spec);
bool dc_quantity_parse(const char *s, double *out);
/* api_log.c: GET pods/NAME/log with the store locked (e: the pod). */
void dc_api_log_locked(dc_req *rq, dc_resp *rs, dc_entry *e);

/* scale.c: the Scale view of obj, and writing a Scale back into obj. */
json_t *dc_scale_get(const dc_rtype *rt, const json_t *obj);
int dc_scale_set(const dc_rtype *rt, json_t *obj, const json_t *scale, char **err);

/* ------------------------------------------------------------ discovery.c */
/* Answer a discovery path (/api, /api/v1, /apis, /apis/g, /apis/g/v);
 * false when rq names no discovery document. */
bool dc_discovery_handle(dc_req *rq, dc_resp *rs);
/* Kubernetes version priority: <0 when a is preferred (v1 < v1beta2 < v1alpha1). */
int dc_version_compare(const char *a, const char *b);

/* ------------------------------------------------------------ table.c */
typedef enum dc_include { DC_INC_METADATA, DC_INC_NONE, DC_INC_OBJECT } dc_include;
#define DC_TABLE_CONTENT_TYPE "application/json;as=Table;v=v1;g=meta.k8s.io"
/* 1 when Accept asks for a meta.k8s.io/v1 Table before plain JSON, 0 if
 * not; *inc from includeObject. -1: a bad includeObject (400 replied). */
int dc_table_wanted(const dc_req *rq, dc_resp *rs, dc_include *inc);
/* Append a Table of objs (stored objects of rt's collection) to b.
 * headers: with columnDefinitions (watch events after the first go without).
 * list_meta (borrowed, may be NULL) becomes the Table's metadata. */
int dc_table_render(peerop__buf *b, const dc_rtype *rt, dc_obj *const *objs, size_t n,
	dc_include inc, bool headers, json_t *list_meta);
/* printers.c: built-in columns (new reference) and one object's cells. */
json_t *dc_printer_columns(const dc_rtype *rt);
json_t *dc_printer_cells(const dc_rtype *rt, const json_t *obj, time_t now);
/* "5m", "3h12m", "2d": apimachinery's duration.HumanDuration. */
void dc_human_duration(char *buf, size_t size, long long secs);
/* RFC 3339 UTC ("...Z", fractions allowed) to time_t. */
bool dc_parse_time(const char *s, time_t *out);
/* The age of timestamp ts at now, or "<unknown>". */
void dc_human_age(char *buf, size_t size, const char *ts, time_t now);
/* jsonpath.c: append the values expr selects in obj to the array out
 * (borrowed references). PEEROP_EINVAL for an unsupported expression. */
int dc_jsonpath_eval(const char *expr, const json_t *obj, json_t *out);

/* ------------------------------------------------------------ yaml_body.c */
#define DC_YAML_MAX_DEPTH 128
#define DC_YAML_MAX_NODES 1000000
/* One YAML (or JSON) document to JSON, typed as go-yaml v2 types it.
 * NULL and *err (malloc'd, "yaml: line N: ...") for malformed or hostile
 * input, several documents, or an empty one. */
json_t *dc_yaml_decode(const char *data, size_t len, char **err);

/* ------------------------------------------------------------ schemas.c */
/* The built-in component schemas (name -> schema), parsed once; read-only. */
const json_t *dc_builtin_schemas(void);
/* The component name of a built-in kind ("io.k8s.api.core.v1.Pod") or NULL. */
const char *dc_builtin_schema_name(const char *group, const char *version, const char *kind);
/* The root schema of a type: its CRD's, or the built-in one; may be NULL. */
const json_t *dc_type_schema(const dc_rtype *rt);
/* Follow $ref / allOf: [{$ref}] to the schema that has the properties. */
const json_t *dc_schema_resolve(const json_t *s);
/* An extension (or any keyword) on s, else on what s refers to. */
const json_t *dc_schema_ext(const json_t *s, const char *name);
/* The schema of property key of an object schema (or its
 * additionalProperties), and of the items of an array schema; NULL if
 * unknown. All borrowed, all NULL-safe. */
const json_t *dc_schema_prop(const json_t *s, const char *key);
const json_t *dc_schema_items(const json_t *s);
/* A string-keyed map (additionalProperties, no properties)? */
bool dc_schema_is_map(const json_t *s);
/* Add to components every built-in schema that from refers to, transitively. */
void dc_schemas_add_referenced(json_t *components, const json_t *from);

/* ------------------------------------------------------------ schema.c */
/* The admission hook of CRD types: prune, default and validate obj against
 * rt's structural schema (see schema.c for what is supported). */
json_t *dc_schema_admit(const dc_rtype *rt, json_t *obj, const json_t *old, unsigned flags);

/* ------------------------------------------------------------ smp.c, apply.c */
/* Server-side apply of rq's body to t's object (e, or NULL: create it).
 * Store locked (t locked by dc_target_lock); replies. */
void dc_apply_locked(dc_req *rq, dc_resp *rs, const dc_target *t, dc_entry *e, int dry);

/* ------------------------------------------------------------ managed_fields.c */
/* Field sets in their fieldsV1 form (see managed_fields.c). Results are
 * new references; arguments borrowed and NULL-safe. */
bool dc_fs_empty(const json_t *s);
json_t *dc_fs_union(const json_t *a, const json_t *b);
json_t *dc_fs_diff(const json_t *a, const json_t *b);
json_t *dc_fs_intersect(const json_t *a, const json_t *b);
/* The fields of obj, as an Apply owns them. */
json_t *dc_fs_from_object(const json_t *obj, const json_t *schema);
/* What changed from old to nw. cr: unstructured, every new node is a member. */
void dc_fs_compare(const json_t *old, const json_t *nw, const json_t *schema, bool cr,
	json_t **added, json_t **modified, json_t **removed);
/* Remove from x the members of rm, keeping what keep still covers. */
void dc_fs_remove(json_t *x, const json_t *rm, const json_t *keep, const json_t *schema);
/* Member paths as the real server prints them: .spec.containers[name="a"].image */
json_t *dc_fs_paths(const json_t *s);
/* The part of obj that managers own (no apiVersion/kind/server metadata;
 * status or not, by subresource "" / "status" / "scale"). */
json_t *dc_fs_tracked(const dc_rtype *rt, const json_t *obj, const char *subresource);
typedef enum dc_ltype { DC_LT_ATOMIC, DC_LT_SET, DC_LT_MAP } dc_ltype;
/* How a list schema splits: keys borrowed, or *own (to free) when made up. */
dc_ltype dc_list_type(const json_t *s, const json_t **keys, json_t **own);
bool dc_map_atomic(const json_t *s);
/* The path element ("k:{...}", "v:...", "i:N") of item i of list x. */
char *dc_fs_item_pe(const json_t *x, size_t i, const json_t *s);
char *dc_fs_item_key(const json_t *item, const json_t *keys, const json_t *item_schema);
/* managedFields entries (a JSON array) */
json_t *dc_mf_find(json_t *entries, const char *manager, const char *operation, const char *sub);
/* Set (or, for an empty set, remove) an entry; steals set; keeps the
 * entry (and its time) as it is when the set did not change. */
void dc_mf_set(json_t *entries, const char *manager, const char *operation, const char *sub,
	const char *api_version, json_t *set);
bool dc_mf_valid(const json_t *entries, char **err);
/* fieldManager, else the User-Agent's product name, as the real server. */
const char *dc_field_manager(const dc_req *rq, char *buf, size_t size);
/* Record an ordinary write (create: old NULL) of nw by rq's manager in
 * nw's metadata.managedFields. 0, or 400 with *err (bad managedFields). */
int dc_managed_update(const dc_req *rq, const dc_rtype *rt, json_t *nw, const json_t *old,
	const char *subresource, char **err);

/* ------------------------------------------------------------ protobuf.c */
typedef enum dc_pb_kind {
	DC_PB_STRING, DC_PB_BYTES, DC_PB_INT, DC_PB_BOOL, DC_PB_MSG, DC_PB_TIME,
	DC_PB_RAWJSON,   /* {1: raw JSON} (FieldsV1, RawExtension) */
	DC_PB_INTORSTR,  /* intstr.IntOrString */
	DC_PB_MAP_SS, DC_PB_MAP_SB, DC_PB_MAP_SQ  /* map<string, string|bytes|Quantity> */
} dc_pb_kind;
#define DC_PB_REPEATED 1u
#define DC_PB_KEEP 2u      /* a Go pointer: present means set, even to zero */
typedef struct dc_pb_msg dc_pb_msg;
typedef struct dc_pb_field {
	unsigned num;
	const char *json;
	dc_pb_kind kind;
	unsigned flags;
	const dc_pb_msg *msg;
} dc_pb_field;
struct dc_pb_msg {
	const char *name;
	const dc_pb_field *fields;   /* ends with json == NULL */
};
/* pb_types.c: the descriptor of a kind, or NULL. */
const dc_pb_msg *dc_pb_find(const char *api_version, const char *kind);
/* A Kubernetes protobuf body (envelope + message) as JSON: 0 and *out, or
 * 400 (malformed) / 415 (a kind or field not decoded here) with *err. */
int dc_protobuf_decode(const char *body, size_t len, json_t **out, char **err);

/* ------------------------------------------------------------ openapi.c */
/* Answer /openapi/v2 and /openapi/v3[/...]; false for other paths. */
bool dc_openapi_handle(dc_req *rq, dc_resp *rs);

/* ------------------------------------------------------------ podlog.c */
/* Container logs, kept by the store for the pods/log subresource
 * (api_log.c) and written by the kubelet. */
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

/* ------------------------------------------------------------ tls.c */
/* PEM strings (malloc'd): a fresh CA, and a serving cert for 127.0.0.1,
 * ::1, localhost and extra_ip (an address, or NULL) signed by it. */
typedef struct dc_tls {
	char *ca_pem;
	char *cert_pem;
	char *key_pem;
	char *ca_key_pem;         /* signs client certificates */
} dc_tls;
int dc_tls_generate(dc_tls *out, const char *extra_ip);
/* A client certificate (CN = user, O = each group; clientAuth) and its key
 * signed by the CA, valid for a year. 0 and two malloc'd PEMs. */
int dc_tls_client_cert(const dc_tls *t, const char *user, const char *const *groups, size_t ngroups,
	char **cert_pem, char **key_pem);
void dc_tls_dispose(dc_tls *t);

/* ------------------------------------------------------------ server.c */
typedef struct dc_server_options {
	const char *listen;           /* "127.0.0.1:PORT" (PORT 0: any) */
	const char *kubeconfig_out;   /* written once listening; may be NULL */
	const char *data_dir;         /* NULL: memory only */
	bool tls;                     /* HTTPS (the program's default); without,
	                               * plain HTTP, on loopback only */
	bool allow_non_loopback;      /* listen on a non-loopback address (with tls) */
	const char *token;            /* NULL: random */
	unsigned bookmark_interval_s; /* 0: 60 */
	size_t history_size;          /* 0: 10000 */
	size_t max_body;              /* 0: 3 MiB, as the real server */
	/* called (from another thread) when a restart failed and nothing serves */
	void (*on_fatal)(void *payload);
	void *on_fatal_payload;
	/* Components that run against the store (the cluster layer, cmd/,
	 * registers the controllers and the kubelet here; the API server knows
	 * nothing of them): started once the server listens, stopped before
	 * the store is replaced (a restart) or freed. Both may be NULL. */
	int (*components_start)(dc_server *srv, void *arg);
	void (*components_stop)(dc_server *srv, void *arg);
	void *components_arg;
} dc_server_options;

/* How the next watch streams are spoiled (for clients' fault tests). */
typedef enum dc_corrupt {
	DC_CORRUPT_NONE = 0,
	DC_CORRUPT_TRUNCATE, /* cut the first event in half and drop the connection */
	DC_CORRUPT_GARBAGE,  /* a malformed line before the first event */
	DC_CORRUPT_OVERSIZE, /* a huge (valid, harmless) bookmark before the first event */
	DC_CORRUPT_EMPTY     /* 200 and an empty body at once, as a stale-RV answer */
} dc_corrupt;

struct dc_faults {
	pthread_mutex_t mu;
	int fail_code;            /* 429, 500 or 504 */
	int fail_left;
	int retry_after;
	unsigned delay_ms;
	dc_corrupt corrupt;       /* for the next corrupt_left watch requests */
	int corrupt_left;
	size_t corrupt_bytes;     /* size of the oversized event */
	int no_streaming_lists;   /* 0: served; 1: rejected (422) as by old servers; 2: ignored */
};

struct dc_server {
	dc_server_options opts;
	char *listen_host;
	unsigned port;
	char *token;
	dc_tls tls;
	char *kubeconfig_json;
	void *daemon;                 /* struct MHD_Daemon * */
	dc_store *store;
	struct dc_faults faults;
	/* a restart asked over the admin API runs on a detached thread once
	 * the asking request is answered; freeing the server waits for it */
	pthread_mutex_t restart_mu;
	pthread_cond_t restart_cond;
	bool restart_running;
	bool closing;
	uint64_t restarts;
	char url[192];
	bool components_running;
	struct dc_sa_keys *sa_keys;   /* ServiceAccount token signing */
};

int dc_server_start(dc_server **out, const dc_server_options *opts);
/* Stop serving: ends every watch, closes every connection. */
void dc_server_free(dc_server *srv);
/* Stop and start again on the same port with the same data directory;
 * in-memory state is rebuilt from the log (lost without --data-dir). */
int dc_server_restart(dc_server *srv);
unsigned dc_server_port(const dc_server *srv);
const char *dc_server_token(const dc_server *srv);
/* "http(s)://127.0.0.1:PORT" (static within srv) */
const char *dc_server_url(const dc_server *srv);
/* The kubeconfig as JSON (a valid YAML document). */
const char *dc_server_kubeconfig(const dc_server *srv);
const char *dc_server_ca_pem(const dc_server *srv);

/* ------------------------------------------------------------ sa_token.c */
/* ServiceAccount tokens: RS256 JWTs signed with a key made at the first use
 * (OpenSSL), as the real server's TokenRequest issues them. */
#define DC_SA_ISSUER "https://kubernetes.default.svc.cluster.local"
typedef struct dc_sa_keys dc_sa_keys;
dc_sa_keys *dc_sa_keys_new(void);
void dc_sa_keys_free(dc_sa_keys *k);
/* A token for system:serviceaccount:ns:sa (uid sa_uid) for audiences (an
 * array; NULL or empty: the API server's), valid for ttl seconds, bound to
 * a pod when pod_name is given. *exp gets the expiry (unix seconds).
 * malloc'd, or NULL. */
char *dc_sa_token_issue(dc_sa_keys *k, const char *ns, const char *sa, const char *sa_uid,
	const char *pod_name, const char *pod_uid, const json_t *audiences, int64_t ttl, int64_t *exp);
/* Verify a token's signature, time and audience (audiences NULL: the API
 * server's) and that its ServiceAccount (and pod) still exist with the same
 * uid. Store lock NOT held. 0 and *u, or -1 and *why (malloc'd). */
int dc_sa_token_verify(dc_sa_keys *k, dc_store *s, const char *jwt, const json_t *audiences, dc_user *u,
	char **why);
/* POST .../serviceaccounts/NAME/token (TokenRequest) and
 * /apis/authentication.k8s.io/v1/tokenreviews. */
void dc_api_token_request(dc_req *rq, dc_resp *rs, const char *ns, const char *name);
void dc_api_token_review(dc_req *rq, dc_resp *rs);

/* ------------------------------------------------------------ authn.c */
/* Who sends rq: the admin token, a ServiceAccount token, then
 * impersonation (authorized by the impersonate verb). 0 and *u; or an HTTP
 * code (401, 403) with the reply written. */
int dc_authenticate(dc_server *srv, dc_req *rq, dc_resp *rs, dc_user *u);
/* The identity of a bearer token (admin or ServiceAccount). */
int dc_authn_token(dc_server *srv, const char *token, const json_t *audiences, dc_user *u, char **why);

/* ------------------------------------------------------------ rbac.c */
/* What a request asks, as the real server's RequestInfo and
 * authorizer.Attributes name it. */
typedef struct dc_attrs {
	bool resource_request;
	const char *verb;
	const char *group, *version, *resource, *subresource, *name, *ns; /* "" when absent */
	const char *path;         /* non-resource requests */
} dc_attrs;

/* Does RBAC allow it? Store lock held. *reason (malloc'd, may be NULL):
 * why it was allowed, or the RBAC errors met (a missing role). */
bool dc_rbac_allowed(dc_store *s, const dc_user *u, const dc_attrs *a, char **reason);
/* The rules that apply to u in namespace ns (SelfSubjectRulesReview
 * status: resourceRules, nonResourceRules, incomplete). Lock held. */
json_t *dc_rbac_rules_status(dc_store *s, const dc_user *u, const char *ns);
/* Create the default cluster roles and bindings that are missing
 * (bootstrap policy). Lock held. */
int dc_rbac_bootstrap(dc_store *s);

/* ------------------------------------------------------------ psa.c */
/* Pod Security admission of a Pod or a workload's pod template (lock
 * held): a Status (403) when a Pod violates its namespace's enforce
 * level, else NULL, with Warning headers added to rs. */
json_t *dc_psa_admit(dc_store *s, const dc_rtype *rt, const json_t *obj, const json_t *old, dc_resp *rs);

/* ------------------------------------------------------------ authz.c */
/* The attributes of rq (strings point into rq or buf). */
void dc_request_attrs(const dc_req *rq, dc_attrs *a, char *buf, size_t size);
/* Authorize rq for rq->user: true, or false with a 403 reply written. */
bool dc_authorize(dc_req *rq, dc_resp *rs);
/* The 403 Status for a denied a of u ("pods is forbidden: User ..."). */
json_t *dc_forbidden(const dc_user *u, const dc_attrs *a, const char *reason);
/* The access reviews (authorization.k8s.io/v1) and SelfSubjectReview:
 * true when rq was one of them (replied). */
bool dc_api_reviews(dc_req *rq, dc_resp *rs);

/* ------------------------------------------------------------ faults.c */
/* Handle /_devcluster/...; the caller has authenticated the request. */
void dc_faults_handle(dc_req *rq, dc_resp *rs);
/* Consume one injected failure, if any: true and a reply when injected. */
bool dc_faults_take(dc_server *srv, dc_resp *rs);
unsigned dc_faults_delay(dc_server *srv);
void dc_faults_close_watches(dc_store *s);
/* Take one armed stream corruption for a new watch (DC_CORRUPT_NONE if none). */
dc_corrupt dc_faults_take_corrupt(dc_server *srv, size_t *bytes);
/* How watches treat sendInitialEvents now: 0 served, 1 rejected, 2 ignored. */
int dc_faults_streaming_lists(dc_server *srv);
void dc_faults_stall_watches(dc_store *s, bool on);

#endif /* DEVCLUSTER_H */
