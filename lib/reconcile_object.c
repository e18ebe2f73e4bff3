/*
 * reconcile_object.c: helpers reconcile functions use on objects:
 * controller ownerReferences and metav1.Condition lists.
 *
 * Conditions follow apimachinery's meta.SetStatusCondition: the list is a
 * map keyed by type, lastTransitionTime moves only when status changes
 * (so "how long has it been Ready" stays meaningful), and reason,
 * message and observedGeneration are refreshed on every call. Returning
 * whether anything changed lets a controller skip a status write that
 * would change nothing, which keeps it from waking itself up in a loop.
 */
#include <string.h>
#include <time.h>
#include <peerop/reconcile.h>
#include "internal.h"
#include "controller_internal.h"

static const char *str_at(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s && *s ? s : NULL;
}

const char *peerop_object_controller_uid(const json_t *object)
{
	json_t *refs = json_object_get(json_object_get(object, "metadata"), "ownerReferences");
	size_t i;
	json_t *r;

	json_array_foreach(refs, i, r) {
		if (json_is_true(json_object_get(r, "controller")))
			return str_at(r, "uid");
	}
	return NULL;
}

int peerop_object_set_controller(json_t *object, const json_t *owner)
{
	json_t *ometa = json_object_get(owner, "metadata"), *meta, *refs, *ref, *r;
	const char *api = str_at(owner, "apiVersion"), *kind = str_at(owner, "kind");
	const char *name = str_at(ometa, "name"), *uid = str_at(ometa, "uid");
	size_t i;

	if (!json_is_object(object))
		return peerop__error_set(PEEROP_EINVAL, "set controller: the object is not a JSON object");
	if (!api || !kind || !name || !uid)
		return peerop__error_set(PEEROP_EINVAL,
			"set controller: the owner lacks %s", !api ? "apiVersion" : !kind ? "kind" :
			!name ? "metadata.name" : "metadata.uid");
	meta = json_object_get(object, "metadata");
	if (!meta) {
		if (json_object_set_new(object, "metadata", meta = json_object()) < 0)
			return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	} else if (!json_is_object(meta)) {
		return peerop__error_set(PEEROP_EINVAL, "set controller: metadata is not an object");
	}
	refs = json_object_get(meta, "ownerReferences");
	if (!refs) {
		if (json_object_set_new(meta, "ownerReferences", refs = json_array()) < 0)
			return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	} else if (!json_is_array(refs)) {
		return peerop__error_set(PEEROP_EINVAL, "set controller: metadata.ownerReferences is not a list");
	}
	ref = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion", api, "kind", kind,
		"name", name, "uid", uid, "controller", 1, "blockOwnerDeletion", 1);
	if (!ref)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	/* One controller at most (the API server refuses two); a reference to
	 * the same owner without controller: true is upgraded in place. */
	json_array_foreach(refs, i, r) {
		const char *ruid = str_at(r, "uid");
		if (ruid && !strcmp(ruid, uid))
			return json_array_set_new(refs, i, ref) < 0 ?
				peerop__error_set(PEEROP_ENOMEM, "out of memory") : 0;
		if (json_is_true(json_object_get(r, "controller"))) {
			json_decref(ref);
			return peerop__error_set(PEEROP_ECONFLICT,
				"set controller: the object is already controlled by %s %s (uid %s)",
				str_at(r, "kind") ? str_at(r, "kind") : "?", str_at(r, "name") ? str_at(r, "name") : "?",
				ruid ? ruid : "?");
		}
	}
	return json_array_append_new(refs, ref) < 0 ? peerop__error_set(PEEROP_ENOMEM, "out of memory") : 0;
}

json_t *peerop_condition_find(const json_t *conditions, const char *type)
{
	size_t i;
	json_t *c;

	if (!type)
		return NULL;
	json_array_foreach(conditions, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

int peerop_condition_is_true(const json_t *conditions, const char *type)
{
	const char *s = json_string_value(json_object_get(peerop_condition_find(conditions, type), "status"));
	return s && !strcmp(s, "True");
}

/* What the API server accepts (metav1.Condition validation):
 * reason: ^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$, at most 1024 bytes;
 * type: a qualified name ("Ready", "example.com/Ready"): an optional DNS
 * subdomain prefix and '/', then [A-Za-z0-9][-A-Za-z0-9_.]* ending
 * alphanumeric, at most 316 bytes. A bad one would fail the whole status
 * write on the server; refusing it here names the culprit. */
static int is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int is_alnum(char c) { return is_alpha(c) || (c >= '0' && c <= '9'); }

static int reason_ok(const char *s)
{
	size_t n;

	if (!s || !is_alpha(*s) || (n = strlen(s)) > 1024)
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && ((s[i] != ',' && s[i] != ':') || i == n - 1))
			return 0;
	return 1;
}

static int name_part_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return 0;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

static int prefix_ok(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
		if ((c == '-' || c == '.') && (i == 0 || i == n - 1 || s[i - 1] == '.' || (c == '.' && s[i - 1] == '-')))
			return 0;
	}
	return 1;
}

int peerop__qualified_name_ok(const char *s)
{
	const char *slash;
	size_t n;

	if (!s || (n = strlen(s)) > 316)
		return 0;
	if ((slash = strchr(s, '/')) != NULL)
		return prefix_ok(s, (size_t)(slash - s)) && name_part_ok(slash + 1, strlen(slash + 1));
	return name_part_ok(s, n);
}

static int set_str(json_t *obj, const char *key, const char *value, int *changed)
{
	const char *old = json_string_value(json_object_get(obj, key));

	if (old && !strcmp(old, value))
		return 0;
	*changed = 1;
	return json_object_set_new(obj, key, json_string(value));
}

int peerop_condition_set(json_t *conditions, const char *type, const char *status,
	const char *reason, const char *message, long long observed_generation, long long now_s)
{
	json_t *c;
	int changed = 0, rc = 0;
	char when[32];
	time_t t;
	struct tm tm;

	if (!json_is_array(conditions))
		return peerop__error_set(PEEROP_EINVAL, "condition: conditions is not a list");
	if (!peerop__qualified_name_ok(type))
		return peerop__error_set(PEEROP_EINVAL, "condition: type \"%.64s\" is not a valid condition type",
			type ? type : "(null)");
	if (!status || (strcmp(status, "True") && strcmp(status, "False") && strcmp(status, "Unknown")))
		return peerop__error_set(PEEROP_EINVAL, "condition %s: status must be True, False or Unknown",
			type);
	if (!reason_ok(reason))
		return peerop__error_set(PEEROP_EINVAL, "condition %s: reason \"%.64s\" is not CamelCase",
			type, reason ? reason : "(null)");
	if (observed_generation < 0)
		return peerop__error_set(PEEROP_EINVAL, "condition %s: negative observedGeneration", type);
	if (!message)
		message = "";
	/* The API limits messages to 32768 bytes; a longer one would make the
	 * whole status write fail, so cut it (at a UTF-8 boundary). */
	char *cut = NULL;
	if (strlen(message) > 32768) {
		size_t n = 32768;
		while (n > 0 && ((unsigned char)message[n] & 0xC0) == 0x80)
			n--;
		if (!(cut = peerop__strndup(message, n)))
			return peerop__error_set(PEEROP_ENOMEM, "out of memory");
		message = cut;
	}

	t = now_s > 0 ? (time_t)now_s : time(NULL);
	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm)) {
		free(cut);
		return peerop__error_set(PEEROP_EINVAL, "condition %s: time out of range", type);
	}

	c = peerop_condition_find(conditions, type);
	if (!c) {
		c = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "type", type, "status", status,
			"observedGeneration", (json_int_t)observed_generation, "lastTransitionTime", when,
			"reason", reason, "message", message);
		free(cut);
		if (!c || json_array_append_new(conditions, c) < 0)
			return peerop__error_set(PEEROP_ENOMEM, "out of memory");
		return 1;
	}
	{
		const char *old = json_string_value(json_object_get(c, "status"));
		if (!old || strcmp(old, status) || !json_string_value(json_object_get(c, "lastTransitionTime")))
			rc |= set_str(c, "lastTransitionTime", when, &changed);
	}
	rc |= set_str(c, "status", status, &changed);
	rc |= set_str(c, "reason", reason, &changed);
	rc |= set_str(c, "message", message, &changed);
	free(cut);
	if (json_integer_value(json_object_get(c, "observedGeneration")) != observed_generation ||
	    !json_is_integer(json_object_get(c, "observedGeneration"))) {
		changed = 1;
		rc |= json_object_set_new(c, "observedGeneration", json_integer(observed_generation));
	}
	if (rc < 0)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	return changed;
}
