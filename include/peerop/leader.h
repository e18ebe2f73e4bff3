/**
 * @file peerop/leader.h
 * @brief Leader election with a coordination.k8s.io/v1 Lease.
 *
 * Several replicas of a controller run; one holds the Lease and works, the
 * others wait to take over. The rules are client-go's leaderelection:
 *
 * - a candidate acquires the Lease when it has no holder, when the holder
 *   released it, or when its record (holderIdentity, renewTime, ...) has
 *   not changed for leaseDurationSeconds measured on the candidate's own
 *   clock since it last saw it change (clocks of other machines are never
 *   compared with ours);
 * - every write is a PUT with the resourceVersion read (409 Conflict: lost
 *   the race, try again after the retry period) or a create (409
 *   AlreadyExists: someone else was first);
 * - the leader renews every retry period; if it cannot renew for the renew
 *   deadline it stops leading (on_stopped_leading) before the lease could
 *   expire for the others, and then competes again;
 * - on stop, a leader releases the Lease by writing an empty
 *   holderIdentity with leaseDurationSeconds 1, so a successor takes over
 *   at once instead of waiting out the lease.
 *
 * Defaults: lease 15 s, renew deadline 10 s, retry period 2 s.
 *
 * Threading: the elector runs on its own thread and calls the callbacks
 * from it, one at a time. peerop_leader_is_leader() may be called from
 * any thread.
 */
#ifndef PEEROP_LEADER_H
#define PEEROP_LEADER_H

#include <peerop/common.h>
#include <peerop/kube.h>
#include <peerop/metrics.h>

PEEROP_BEGIN_DECL

/** A leader elector. */
typedef struct peerop_leader peerop_leader;

/** Called when this candidate starts or stops leading. */
typedef void (*peerop_leader_cb)(void *payload);

/** Called when the observed holder changes (NULL or "" while there is none); borrowed. */
typedef void (*peerop_leader_new_leader_cb)(const char *identity, void *payload);

/** Options of peerop_leader_start(). Zero means "the default" everywhere. */
typedef struct peerop_leader_options {
	unsigned int version;            /**< PEEROP_LEADER_OPTIONS_VERSION */
	const char *ns;                  /**< the Lease's namespace; NULL: the client's default */
	const char *name;                /**< the Lease's name; required */
	/** This candidate's identity (usually the pod name); NULL: hostname + "_" + random. */
	const char *identity;
	unsigned int lease_duration_ms;  /**< default 15000; whole seconds on the wire */
	unsigned int renew_deadline_ms;  /**< default 10000; must be < lease duration */
	unsigned int retry_period_ms;    /**< default 2000; must be < renew deadline */
	/** Do not release the Lease on stop (the default is to release it). */
	int no_release_on_stop;
	peerop_leader_cb on_started_leading;       /**< optional */
	peerop_leader_cb on_stopped_leading;       /**< optional */
	peerop_leader_new_leader_cb on_new_leader; /**< optional */
	void *payload;                   /**< passed to the callbacks */
} peerop_leader_options;

#define PEEROP_LEADER_OPTIONS_VERSION 1
/** Static initialiser for peerop_leader_options. */
#define PEEROP_LEADER_OPTIONS_INIT { PEEROP_LEADER_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, 0, \
	NULL, NULL, NULL, NULL }

/**
 * Initialise options to their defaults.
 * @return 0, or PEEROP_EINVAL for an unknown version
 */
PEEROP_EXTERN(int) peerop_leader_options_init(peerop_leader_options *opts, unsigned int version);

/**
 * Start competing for the Lease on a new thread.
 *
 * @param out receives the elector; free with peerop_leader_free()
 * @param client borrowed; must outlive the elector
 * @param opts copied
 * @return 0, PEEROP_EINVAL (no name, durations out of order), PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_leader_start(peerop_leader **out, peerop_kube_client *client,
	const peerop_leader_options *opts);

/** 1 while this candidate holds the Lease and has renewed it within the renew deadline. */
PEEROP_EXTERN(int) peerop_leader_is_leader(const peerop_leader *l);

/**
 * The identity of the holder last observed (a copy to release with
 * peerop_free()), or NULL when there is none.
 */
PEEROP_EXTERN(char *) peerop_leader_holder(const peerop_leader *l);

/** This candidate's identity (owned by the elector). */
PEEROP_EXTERN(const char *) peerop_leader_identity(const peerop_leader *l);

/** The Lease's name (owned by the elector). */
PEEROP_EXTERN(const char *) peerop_leader_name(const peerop_leader *l);

/**
 * A metrics collector (peerop_metrics_collect_cb), payload the elector:
 * `leader_election_master_status{name}`, 1 while leading, else 0.
 */
PEEROP_EXTERN(int) peerop_leader_collect_metrics(peerop_metrics_writer *w, void *leader);

/**
 * Stop competing. A leader calls on_stopped_leading and then releases the
 * Lease (unless no_release_on_stop). Returns once the thread has ended;
 * no callback runs after it returns. Not from a callback. Idempotent.
 */
PEEROP_EXTERN(void) peerop_leader_stop(peerop_leader *l);

/** Stop (if needed) and release. NULL is a no-op. */
PEEROP_EXTERN(void) peerop_leader_free(peerop_leader *l);

PEEROP_END_DECL

#endif /* PEEROP_LEADER_H */
