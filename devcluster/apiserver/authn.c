/* authn.c: who sends a request, as kube-apiserver's authenticators and its
 * impersonation filter say it:
 *
 *   - the admin token of the written kubeconfig: user "admin", groups
 *     system:masters and system:authenticated;
 *   - a ServiceAccount token (sa_token.c): system:serviceaccount:NS:NAME,
 *     groups system:serviceaccounts, system:serviceaccounts:NS,
 *     system:authenticated;
 *   - then Impersonate-User / -Group / -Uid / -Extra-* headers, each
 *     authorized for the requester by the impersonate verb on users,
 *     groups, serviceaccounts, uids or userextras/KEY.
 *
 * Anything else is 401 (no anonymous access but the probes and /version,
 * which server.c answers before asking). */
#include "apiserver.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

void dc_user_dispose(dc_user *u)
{
	size_t i;
	if (!u)
		return;
	free(u->name);
	free(u->uid);
	for (i = 0; i < u->ngroups; i++)
		free(u->groups[i]);
	free(u->groups);
	json_decref(u->extra);
	memset(u, 0, sizeof(*u));
}

int dc_user_add_group(dc_user *u, const char *g)
{
	char **ng, *c;
	if (dc_user_in_group(u, g))
		return 0;
	ng = realloc(u->groups, (u->ngroups + 1) * sizeof(*ng));
	if (!ng)
		return PEEROP_ENOMEM;
	u->groups = ng;
	if (!(c = strdup(g)))
		return PEEROP_ENOMEM;
	u->groups[u->ngroups++] = c;
	return 0;
}

bool dc_user_in_group(const dc_user *u, const char *g)
{
	size_t i;
	for (i = 0; u && i < u->ngroups; i++)
		if (!strcmp(u->groups[i], g))
			return true;
	return false;
}

json_t *dc_user_info_json(const dc_user *u)
{
	json_t *o = json_pack("{s:s}", "username", u->name ? u->name : ""), *g = json_array();
	size_t i;
	if (u->uid)
		json_object_set_new(o, "uid", json_string(u->uid));
	for (i = 0; i < u->ngroups; i++)
		json_array_append_new(g, json_string(u->groups[i]));
	json_object_set_new(o, "groups", g);
	if (u->extra && json_object_size(u->extra))
		json_object_set(o, "extra", u->extra);
	return o;
}

static int set_admin(dc_user *u)
{
	memset(u, 0, sizeof(*u));
	u->name = strdup("admin");
	if (!u->name || dc_user_add_group(u, "system:masters") || dc_user_add_group(u, "system:authenticated")) {
		dc_user_dispose(u);
		return PEEROP_ENOMEM;
	}
	return 0;
}

int dc_authn_token(dc_server *srv, const char *token, const json_t *audiences, dc_user *u, char **why)
{
	size_t n = strlen(srv->token);
	if (why)
		*why = NULL;
	memset(u, 0, sizeof(*u));
	if (strlen(token) == n && CRYPTO_memcmp(token, srv->token, n) == 0)
		return set_admin(u) ? -1 : 0;
	/* a JWT has two dots; an opaque token that is not ours is simply wrong */
	if (!strchr(token, '.')) {
		if (why)
			*why = strdup("invalid bearer token");
		return -1;
	}
	return dc_sa_token_verify(srv->sa_keys, srv->store, token, audiences, u, why);
}

static void unauthorized(dc_resp *rs)
{
	dc_resp_error(rs, 401, "Unauthorized", "Unauthorized");
}

/* ---- impersonation ---- */

typedef struct imp {
	const char *user, *uid;
	const char *groups[64];
	size_t ngroups;
	const char *extra_keys[32], *extra_vals[32];
	size_t nextra;
	bool overflow;
} imp;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	imp *m = cls;
	(void)kind;
	if (!value)
		return MHD_YES;
	if (!strcasecmp(key, "Impersonate-User")) {
		m->user = value;
	} else if (!strcasecmp(key, "Impersonate-Uid")) {
		m->uid = value;
	} else if (!strcasecmp(key, "Impersonate-Group")) {
		if (m->ngroups < PEEROP__ARRAY_SIZE(m->groups))
			m->groups[m->ngroups++] = value;
		else
			m->overflow = true;
	} else if (!strncasecmp(key, "Impersonate-Extra-", 18)) {
		if (m->nextra < PEEROP__ARRAY_SIZE(m->extra_keys)) {
			m->extra_keys[m->nextra] = key + 18;
			m->extra_vals[m->nextra++] = value;
		} else {
			m->overflow = true;
		}
	}
	return MHD_YES;
}

/* May u impersonate (resource, name[, ns])? Else a 403 reply. */
static bool may_impersonate(dc_server *srv, const dc_user *u, const char *group, const char *resource,
	const char *sub, const char *ns, const char *name, dc_resp *rs)
{
	dc_attrs a = { true, "impersonate", group, "", resource, sub ? sub : "", name, ns ? ns : "", "" };
	char *reason = NULL;
	bool ok;
	pthread_mutex_lock(&srv->store->mu);
	ok = dc_rbac_allowed(srv->store, u, &a, &reason);
	pthread_mutex_unlock(&srv->store->mu);
	if (!ok)
		dc_resp_status(rs, dc_forbidden(u, &a, ok ? NULL : reason));
	free(reason);
	return ok;
}

static int impersonate(dc_server *srv, const imp *m, dc_user *u, dc_resp *rs)
{
	dc_user nu;
	size_t i;
	const char *sa_prefix = "system:serviceaccount:";
	bool is_sa;
	if (m->overflow) {
		dc_resp_error(rs, 400, "BadRequest", "too many impersonation headers");
		return 400;
	}
	if (!m->user) {
		dc_resp_status(rs, dc_status(500, "InternalError", "Internal error occurred: requested "
			"impersonation of groups, uid or extra without a user (Impersonate-User)", NULL, NULL, NULL));
		return 500;
	}
	memset(&nu, 0, sizeof(nu));
	is_sa = !strncmp(m->user, sa_prefix, strlen(sa_prefix));
	if (is_sa) {
		/* system:serviceaccount:NS:NAME is the serviceaccounts resource */
		char ns[256], name[256];
		const char *p = m->user + strlen(sa_prefix), *colon = strchr(p, ':');
		if (!colon || colon == p || !colon[1] || (size_t)(colon - p) >= sizeof(ns) || strlen(colon + 1) >= sizeof(name)) {
			dc_resp_error(rs, 400, "BadRequest", "Impersonate-User %s: not a service account name", m->user);
			return 400;
		}
		snprintf(ns, sizeof(ns), "%.*s", (int)(colon - p), p);
		snprintf(name, sizeof(name), "%s", colon + 1);
		if (!may_impersonate(srv, u, "", "serviceaccounts", NULL, ns, name, rs))
			return 403;
		if (m->ngroups == 0) {
			char g[300];
			snprintf(g, sizeof(g), "system:serviceaccounts:%s", ns);
			if (dc_user_add_group(&nu, "system:serviceaccounts") || dc_user_add_group(&nu, g))
				goto oom;
		}
	} else if (!may_impersonate(srv, u, "", "users", NULL, NULL, m->user, rs)) {
		return 403;
	}
	for (i = 0; i < m->ngroups; i++) {
		if (!may_impersonate(srv, u, "", "groups", NULL, NULL, m->groups[i], rs)) {
			dc_user_dispose(&nu);
			return 403;
		}
		if (dc_user_add_group(&nu, m->groups[i]))
			goto oom;
	}
	if (m->uid && !may_impersonate(srv, u, "authentication.k8s.io", "uids", NULL, NULL, m->uid, rs)) {
		dc_user_dispose(&nu);
		return 403;
	}
	for (i = 0; i < m->nextra; i++) {
		char key[256];
		json_t *arr;
		size_t j;
		snprintf(key, sizeof(key), "%s", m->extra_keys[i]);
		for (j = 0; key[j]; j++)
			key[j] = (char)(key[j] >= 'A' && key[j] <= 'Z' ? key[j] - 'A' + 'a' : key[j]);
		if (!may_impersonate(srv, u, "authentication.k8s.io", "userextras", key, NULL, m->extra_vals[i], rs)) {
			dc_user_dispose(&nu);
			return 403;
		}
		if (!nu.extra)
			nu.extra = json_object();
		arr = json_object_get(nu.extra, key);
		if (!arr) {
			arr = json_array();
			json_object_set_new(nu.extra, key, arr);
		}
		json_array_append_new(arr, json_string(m->extra_vals[i]));
	}
	nu.name = strdup(m->user);
	if (m->uid)
		nu.uid = strdup(m->uid);
	/* everyone but system:anonymous is system:authenticated */
	if (!nu.name || (strcmp(m->user, "system:anonymous") && dc_user_add_group(&nu, "system:authenticated")))
		goto oom;
	dc_user_dispose(u);
	*u = nu;
	return 0;
oom:
	dc_user_dispose(&nu);
	dc_resp_error(rs, 500, "InternalError", "out of memory");
	return 500;
}

/* The user of a client certificate signed by this server's CA (GnuTLS,
 * under libmicrohttpd, verified it against MHD_OPTION_HTTPS_MEM_TRUST):
 * CN is the user, each O a group. false without a valid one. */
static bool cert_user(dc_server *srv, dc_req *rq, dc_user *u)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *peers;
	unsigned n = 0, status = 0;
	const unsigned char *der;
	X509 *x;
	X509_NAME *name;
	int i;
	bool ok = false;
	if (!srv->opts.tls || !rq->conn)
		return false;
	ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return false;
	peers = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
	if (!peers || n == 0)
		return false;
	if (gnutls_certificate_verify_peers2((gnutls_session_t)ci->tls_session, &status) != 0 || status != 0)
		return false;
	der = peers[0].data;
	x = d2i_X509(NULL, &der, (long)peers[0].size);
	if (!x)
		return false;
	/* a client certificate: clientAuth, if it says what it is for */
	if ((X509_get_extension_flags(x) & EXFLAG_XKUSAGE) && !(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT))
		goto out;
	name = X509_get_subject_name(x);
	memset(u, 0, sizeof(*u));
	for (i = 0; i < X509_NAME_entry_count(name); i++) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		unsigned char *utf8 = NULL;
		if ((nid != NID_commonName && nid != NID_organizationName) ||
		    ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e)) < 0)
			continue;
		if (nid == NID_commonName) {
			free(u->name);
			u->name = strdup((char *)utf8);
		} else {
			dc_user_add_group(u, (char *)utf8);
		}
		OPENSSL_free(utf8);
	}
	ok = u->name && *u->name && dc_user_add_group(u, "system:authenticated") == 0;
	if (!ok)
		dc_user_dispose(u);
out:
	X509_free(x);
	return ok;
}

int dc_authenticate(dc_server *srv, dc_req *rq, dc_resp *rs, dc_user *u)
{
	const char *h = dc_req_header(rq, "Authorization");
	imp m;
	memset(u, 0, sizeof(*u));
	/* as the real server's union authenticator: a client certificate
	 * first, then a bearer token */
	if (!cert_user(srv, rq, u)) {
		if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
			unauthorized(rs);
			return 401;
		}
		h += 7;
		while (*h == ' ')
			h++;
		if (!*h || dc_authn_token(srv, h, NULL, u, NULL) != 0) {
			unauthorized(rs);
			return 401;
		}
	}
	memset(&m, 0, sizeof(m));
	if (rq->conn)
		MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, collect, &m);
	if (m.user || m.ngroups || m.uid || m.nextra) {
		int code = impersonate(srv, &m, u, rs);
		if (code) {
			dc_user_dispose(u);
			return code;
		}
	}
	return 0;
}
