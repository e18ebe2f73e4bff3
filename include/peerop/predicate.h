/**
 * @file peerop/predicate.h
 * @brief Event filters: which updates of a primary object are worth a reconcile.
 *
 * A predicate compares an object's previous and new state and says whether
 * the change matters. A controller given predicates
 * (peerop_controller_options.predicates) queues an updated primary only if
 * at least one of them says so; creations, deletions, the start of a
 * deletion (metadata.deletionTimestamp set) and the initial list always
 * pass. The usual choice is peerop_predicate_generation_changed, which
 * skips the updates a controller causes itself by writing status (the API
 * server bumps metadata.generation only for spec changes), as
 * controller-runtime's GenerationChangedPredicate does.
 *
 * Threading: predicates run on the cache's thread and must not block.
 */
#ifndef PEEROP_PREDICATE_H
#define PEEROP_PREDICATE_H

#include <jansson.h>
#include <peerop/common.h>

PEEROP_BEGIN_DECL

/**
 * A predicate.
 *
 * @param old_obj the state before the update; borrowed
 * @param new_obj the state after it; borrowed
 * @return nonzero if the update should be reconciled
 */
typedef int (*peerop_predicate_fn)(const json_t *old_obj, const json_t *new_obj, void *payload);

/** A predicate and its payload, for peerop_controller_options.predicates. */
typedef struct peerop_predicate {
	peerop_predicate_fn fn;
	void *payload;
} peerop_predicate;

/** metadata.generation changed (a spec change, for resources with a status subresource). */
PEEROP_EXTERN(int) peerop_predicate_generation_changed(const json_t *old_obj, const json_t *new_obj,
	void *payload);

/** metadata.labels changed (added, removed or a value changed). */
PEEROP_EXTERN(int) peerop_predicate_labels_changed(const json_t *old_obj, const json_t *new_obj,
	void *payload);

/** metadata.annotations changed. */
PEEROP_EXTERN(int) peerop_predicate_annotations_changed(const json_t *old_obj, const json_t *new_obj,
	void *payload);

/** 1 if the object is being deleted (metadata.deletionTimestamp is set). */
PEEROP_EXTERN(int) peerop_object_is_deleting(const json_t *obj);

PEEROP_END_DECL

#endif /* PEEROP_PREDICATE_H */
