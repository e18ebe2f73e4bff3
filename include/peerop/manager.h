/**
 * @file peerop/manager.h
 * @brief A manager: the lifecycle of an operator in one object.
 *
 * As controller-runtime's Manager, a peerop_manager owns what every
 * operator wires by hand: the Kubernetes client, the controllers, leader
 * election, the probe server (`/healthz` with registrable checks,
 * `/readyz` once every cache has synced), the `/metrics` server (on its
 * own address, or the probes' when both are the same), and signals. An
 * operator's main becomes a declaration: peerop_manager_new(), then
 * peerop_manager_add_controller() and the controller's owned resources,
 * then peerop_manager_run() until SIGTERM (docs/reconcile.md has the
 * example; examples/peerop-operator.c is one).
 *
 * Leader election: with leader_elect, controllers run only while this
 * replica holds the Lease. Losing it ends the process at once with exit
 * status 1 (controller-runtime's default: a replica that lost the lease
 * must not write again, and draining reconciles would write), unless
 * no_exit_on_lost_lease, where the controllers are stopped without a
 * grace period and peerop_manager_run() returns PEEROP_ECANCELED.
 *
 * Signals: peerop_manager_new() blocks SIGTERM and SIGINT in the calling
 * thread (so every thread created afterwards inherits the mask, and no
 * library thread takes them); peerop_manager_run() waits for them. The
 * first marks the process not ready, stops the controllers (reconciles
 * in flight get graceful_shutdown_ms), releases the Lease and returns;
 * a second one during that time ends the process at once.
 *
 * Threading: create, add and run from the main thread;
 * peerop_manager_stop() may be called from any thread.
 */
#ifndef PEEROP_MANAGER_H
#define PEEROP_MANAGER_H

#include <peerop/common.h>
#include <peerop/kube.h>
#include <peerop/metrics.h>
#include <peerop/reconcile.h>

PEEROP_BEGIN_DECL

/** A manager. */
typedef struct peerop_manager peerop_manager;

/** Options of peerop_manager_new(). Zero means "the default" everywhere. */
typedef struct peerop_manager_options {
	unsigned int version;                  /**< PEEROP_MANAGER_OPTIONS_VERSION */
	/** kubeconfig path (NULL: controller-runtime's rules, see peerop_kube_config_auto()). */
	const char *kubeconfig;
	const char *context;                   /**< kubeconfig context; NULL: current */
	/** Client options (QPS, burst, timeouts); NULL: defaults. Borrowed during new. */
	const peerop_kube_client_options *client_options;
	/** `/metrics` address (`:8080`, `127.0.0.1:8080`); NULL, "" or "0": none. */
	const char *metrics_bind_address;
	/** `/healthz` and `/readyz` address; NULL, "" or "0": none. The same
	 *  address as metrics_bind_address: one server for all three. */
	const char *health_probe_bind_address;
	int leader_elect;                      /**< run controllers only while holding a Lease */
	const char *leader_election_id;        /**< the Lease's name; required with leader_elect */
	const char *leader_election_namespace; /**< NULL: the client's namespace */
	/** This replica's identity (Lease holder, httpd identity); NULL: host name + random. */
	const char *identity;
	unsigned int lease_duration_ms;        /**< default 15000 */
	unsigned int renew_deadline_ms;        /**< default 10000 */
	unsigned int retry_period_ms;          /**< default 2000 */
	/** What reconciles in flight get on SIGTERM; default 30000. Overrides
	 *  each controller's shutdown_grace_ms. */
	unsigned int graceful_shutdown_ms;
	/** On a lost Lease, stop the controllers and return from run instead of exiting. */
	int no_exit_on_lost_lease;
} peerop_manager_options;

#define PEEROP_MANAGER_OPTIONS_VERSION 1
/** Static initialiser for peerop_manager_options. */
#define PEEROP_MANAGER_OPTIONS_INIT { PEEROP_MANAGER_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, \
	0, NULL, NULL, NULL, 0, 0, 0, 0, 0 }

/**
 * Initialise options to their defaults.
 * @return 0, or PEEROP_EINVAL for an unknown version
 */
PEEROP_EXTERN(int) peerop_manager_options_init(peerop_manager_options *opts, unsigned int version);

/**
 * Create a manager: loads the configuration, makes the client, checks
 * the addresses; blocks SIGTERM and SIGINT in the calling thread. Nothing
 * listens or runs before peerop_manager_run().
 *
 * @param out receives the manager; free with peerop_manager_free()
 * @param opts copied
 * @return 0; PEEROP_EINVAL (leader_elect without an id, a bad address);
 *         a configuration or client error
 */
PEEROP_EXTERN(int) peerop_manager_new(peerop_manager **out, const peerop_manager_options *opts);

/** The manager's client (owned by the manager). */
PEEROP_EXTERN(peerop_kube_client *) peerop_manager_client(peerop_manager *m);

/**
 * Create a controller on the manager's client; the manager starts it (when
 * leading) and stops it. Add its owned and watched resources to *out
 * before peerop_manager_run().
 *
 * @param out receives the controller, owned by the manager
 * @return as peerop_controller_new(); PEEROP_EINVAL once running
 */
PEEROP_EXTERN(int) peerop_manager_add_controller(peerop_controller **out, peerop_manager *m,
	const peerop_controller_options *opts);

/**
 * A probe check: 0 if healthy; otherwise a negative code, and it may set
 * peerop_error_last()'s message through the library's calls. Runs on an
 * HTTP server thread for each probe; must not block long.
 */
typedef int (*peerop_manager_check_fn)(void *payload);

/**
 * Register a check for `/healthz` (readyz 0) or `/readyz` (readyz 1),
 * before run. A probe answers 200 when every check passes, else 500 with
 * the failing checks' names. `/readyz` always includes the manager's own
 * check, "caches": every controller's caches have synced (or this replica
 * is standing by for the Lease).
 *
 * @param name [a-z0-9-]+, unique per probe
 */
PEEROP_EXTERN(int) peerop_manager_add_check(peerop_manager *m, int readyz, const char *name,
	peerop_manager_check_fn fn, void *payload);

/** Serve another collector on `/metrics` (before run). */
PEEROP_EXTERN(int) peerop_manager_add_metrics(peerop_manager *m, peerop_metrics_collect_cb collect,
	void *payload);

/**
 * Run until SIGTERM/SIGINT or peerop_manager_stop(): serve the probes and
 * metrics, compete for the Lease (or start the controllers), then stop as
 * the file comment says.
 *
 * @return 0 after a clean stop; PEEROP_ETIMEOUT if reconciles outlived the
 *         grace period; PEEROP_ECANCELED after a lost Lease (with
 *         no_exit_on_lost_lease); an error starting a server or controller
 */
PEEROP_EXTERN(int) peerop_manager_run(peerop_manager *m);

/** Make peerop_manager_run() stop as on SIGTERM. Any thread; idempotent. */
PEEROP_EXTERN(void) peerop_manager_stop(peerop_manager *m);

/** The port the probe server (which = 0) or the metrics server (1) listens on while running; 0: none. */
PEEROP_EXTERN(unsigned int) peerop_manager_port(const peerop_manager *m, int which);

/** 1 while this replica leads (always 1 without leader election, once running). */
PEEROP_EXTERN(int) peerop_manager_is_leader(const peerop_manager *m);

/** Stop (if running) and release everything the manager owns. NULL is a no-op. */
PEEROP_EXTERN(void) peerop_manager_free(peerop_manager *m);

PEEROP_END_DECL

#endif /* PEEROP_MANAGER_H */
