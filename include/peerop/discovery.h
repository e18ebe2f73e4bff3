/**
 * @file peerop/discovery.h
 * @brief API discovery and a cached REST mapper: which resource serves a kind.
 *
 * A program that handles objects it did not compile in (a YAML file, a
 * kind named in a spec) needs to know that `apps/v1` `Deployment` is the
 * namespaced resource `deployments`. peerop_discovery asks the API server
 * once per group-version (`/api/v1`, `/apis/GROUP/VERSION`) and keeps the
 * answer, as client-go's cached discovery and controller-runtime's REST
 * mapper do. A kind it does not know makes it ask again (a CRD installed
 * since), at most once a second per group-version, so a stream of unknown
 * kinds cannot turn into a stream of requests.
 *
 * Threading: a peerop_discovery may be shared by any number of threads.
 */
#ifndef PEEROP_DISCOVERY_H
#define PEEROP_DISCOVERY_H

#include <jansson.h>
#include <peerop/common.h>
#include <peerop/kube.h>

PEEROP_BEGIN_DECL

/** A cached discovery client. */
typedef struct peerop_discovery peerop_discovery;

/**
 * Create one; nothing is asked until the first lookup.
 *
 * @param out receives it; free with peerop_discovery_free()
 * @param client borrowed; must outlive it
 * @return 0, PEEROP_EINVAL, PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_discovery_new(peerop_discovery **out, peerop_kube_client *client);

/**
 * The resource serving a kind.
 *
 * @param out receives group, version, resource (plural) and scope; the
 *        strings are owned by d and valid until peerop_discovery_free()
 * @param api_version "v1", "apps/v1", "peerop.io/v1alpha1"
 * @param kind "Deployment"
 * @return 0; PEEROP_ENOTFOUND (the server has no such group-version, or
 *         it has no such kind); PEEROP_EINVAL; the REST call's error
 */
PEEROP_EXTERN(int) peerop_discovery_resource_for(peerop_kube_resource *out, peerop_discovery *d,
	const char *api_version, const char *kind);

/** peerop_discovery_resource_for() with the object's own apiVersion and kind. */
PEEROP_EXTERN(int) peerop_discovery_resource_of(peerop_kube_resource *out, peerop_discovery *d,
	const json_t *object);

/** Forget what was learned: the next lookups ask the server again. */
PEEROP_EXTERN(void) peerop_discovery_invalidate(peerop_discovery *d);

/** Requests made to the server so far (for tests and benchmarks). */
PEEROP_EXTERN(unsigned long long) peerop_discovery_requests(const peerop_discovery *d);

/** Release. NULL is a no-op. */
PEEROP_EXTERN(void) peerop_discovery_free(peerop_discovery *d);

PEEROP_END_DECL

#endif /* PEEROP_DISCOVERY_H */
