/*
 * predicate.c: the built-in event filters (see peerop/predicate.h).
 *
 * An absent map and an empty one are the same thing to the API server
 * (omitempty), so they compare equal here: a label removed to leave none
 * is a change, a `labels: {}` appearing is not.
 */
#include <peerop/predicate.h>
#include "internal.h"

static json_t *meta_field(const json_t *obj, const char *key)
{
	return json_object_get(json_object_get(obj, "metadata"), key);
}

static int maps_differ(const json_t *a, const json_t *b)
{
	if (json_object_size(a) == 0 && json_object_size(b) == 0)
		return 0;
	return !json_equal(a, b);
}

int peerop_predicate_generation_changed(const json_t *old_obj, const json_t *new_obj, void *payload)
{
	json_t *a = meta_field(old_obj, "generation"), *b = meta_field(new_obj, "generation");
	(void)payload;
	/* no generation (a resource without one): every update counts */
	if (!json_is_integer(a) || !json_is_integer(b))
		return 1;
	return json_integer_value(a) != json_integer_value(b);
}

int peerop_predicate_labels_changed(const json_t *old_obj, const json_t *new_obj, void *payload)
{
	(void)payload;
	return maps_differ(meta_field(old_obj, "labels"), meta_field(new_obj, "labels"));
}

int peerop_predicate_annotations_changed(const json_t *old_obj, const json_t *new_obj, void *payload)
{
	(void)payload;
	return maps_differ(meta_field(old_obj, "annotations"), meta_field(new_obj, "annotations"));
}

int peerop_object_is_deleting(const json_t *obj)
{
	const char *ts = json_string_value(meta_field(obj, "deletionTimestamp"));
	return ts && *ts;
}
