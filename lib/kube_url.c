/*
 * kube_url.c: API paths and query strings. Shared with the watch module so
 * that every URL is built (and every segment encoded) in one place.
 */
#include "kube_internal.h"

#include <string.h>

static int segment(peerop__buf *b, const char *s)
{
	int rc = peerop__buf_putc(b, '/');
	return rc < 0 ? rc : peerop__buf_put_urlencoded(b, s);
}

int peerop__kube_path(peerop__buf *b, const peerop_kube_resource *res, const char *ns,
	const char *name, const char *subresource)
{
	int rc;

	if (!res || !res->version || !*res->version || !res->resource || !*res->resource)
		return peerop__error_set(PEEROP_EINVAL, "resource: version and resource (plural) are required");
	if (name && !*name)
		return peerop__error_set(PEEROP_EINVAL, "%s: empty object name", res->resource);
	if (subresource && (!*subresource || !name))
		return peerop__error_set(PEEROP_EINVAL, "%s: a subresource needs an object name", res->resource);
	/* "." and ".." would be resolved away by URL normalisation. */
	if (name && (!strcmp(name, ".") || !strcmp(name, "..")))
		return peerop__error_set(PEEROP_EINVAL, "%s: invalid object name \"%s\"", res->resource, name);
	if (res->group && *res->group) {
		rc = peerop__buf_puts(b, "/apis");
		if (rc == 0)
			rc = segment(b, res->group);
	} else {
		rc = peerop__buf_puts(b, "/api");
	}
	if (rc == 0)
		rc = segment(b, res->version);
	if (rc == 0 && res->namespaced && ns && *ns) {
		rc = peerop__buf_puts(b, "/namespaces");
		if (rc == 0)
			rc = segment(b, ns);
	} else if (rc == 0 && res->namespaced && name) {
		return peerop__error_set(PEEROP_EINVAL, "%s/%s: a namespaced object needs a namespace", res->resource, name);
	}
	if (rc == 0)
		rc = segment(b, res->resource);
	if (rc == 0 && name)
		rc = segment(b, name);
	if (rc == 0 && subresource)
		rc = segment(b, subresource);
	return rc < 0 ? peerop__error_set(rc, "building a URL: %s", peerop_strerror(rc)) : 0;
}

int peerop__kube_query_add(peerop__buf *b, const char *key, const char *value)
{
	int rc;
	if (!value)
		return 0;
	rc = peerop__buf_putc(b, b->ptr && memchr(b->ptr, '?', b->len) ? '&' : '?');
	if (rc == 0)
		rc = peerop__buf_put_urlencoded(b, key);
	if (rc == 0)
		rc = peerop__buf_putc(b, '=');
	if (rc == 0)
		rc = peerop__buf_put_urlencoded(b, value);
	return rc < 0 ? peerop__error_set(rc, "building a URL: %s", peerop_strerror(rc)) : 0;
}
