/* tls.c: a fresh CA and a serving certificate for 127.0.0.1, ::1 and
 * localhost, made with OpenSSL at every start (--tls). The CA goes into the
 * kubeconfig as certificate-authority-data, so clients verify the server. */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static char *pem_of(int (*write)(BIO *, void *), void *obj)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;
	if (!b)
		return NULL;
	if (write(b, obj) == 1) {
		/* the BIO's data is not NUL-terminated */
		n = BIO_get_mem_data(b, &data);
		out = n > 0 ? malloc((size_t)n + 1) : NULL;
		if (out) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

static int write_cert(BIO *b, void *x)
{
	return PEM_write_bio_X509(b, x);
}

static int write_key(BIO *b, void *k)
{
	return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value);

/* kind: 1 a CA, 0 a serving certificate, 2 a client certificate */
static X509 *make_cert_o(EVP_PKEY *key, const char *cn, const char *const *orgs, size_t norgs, X509 *issuer,
	EVP_PKEY *issuer_key, int kind, const char *san);

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return 0;
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
	const char *san)
{
	return make_cert_o(key, cn, NULL, 0, issuer, issuer_key, ca ? 1 : 0, san);
}

static X509 *make_cert_o(EVP_PKEY *key, const char *cn, const char *const *orgs, size_t norgs, X509 *issuer,
	EVP_PKEY *issuer_key, int kind, const char *san)
{
	bool ca = kind == 1;
	size_t oi;
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	if (!x)
		return NULL;
	X509_set_version(x, 2);
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		goto fail;
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	for (oi = 0; oi < norgs; oi++)
		X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)orgs[oi], -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	if (ca) {
		if (add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
		    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
		    add_ext(x, x, NID_subject_key_identifier, "hash"))
			goto fail;
	} else if (kind == 2) {
		if (add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
		    add_ext(x, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
		    add_ext(x, issuer, NID_ext_key_usage, "clientAuth") ||
		    add_ext(x, issuer, NID_authority_key_identifier, "keyid:always"))
			goto fail;
	} else {
		if (add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
		    add_ext(x, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
		    add_ext(x, issuer, NID_ext_key_usage, "serverAuth") ||
		    add_ext(x, issuer, NID_subject_alt_name, san) ||
		    add_ext(x, issuer, NID_authority_key_identifier, "keyid:always"))
			goto fail;
	}
	if (!X509_sign(x, issuer_key, EVP_sha256()))
		goto fail;
	BN_free(bn);
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

int dc_tls_generate(dc_tls *out, const char *extra_ip)
{
	char san[128];
	EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *key = EVP_EC_gen("P-256");
	X509 *ca = NULL, *cert = NULL;
	int rc = PEEROP_ETLS;
	memset(out, 0, sizeof(*out));
	if (!ca_key || !key)
		goto done;
	snprintf(san, sizeof(san), "IP:127.0.0.1,IP:::1,DNS:localhost%s%.64s", extra_ip ? ",IP:" : "",
		extra_ip ? extra_ip : "");
	ca = make_cert(ca_key, "peerop-devcluster-ca", NULL, ca_key, true, NULL);
	cert = ca ? make_cert(key, "peerop-devcluster", ca, ca_key, false, san) : NULL;
	if (!cert)
		goto done;
	out->ca_pem = pem_of(write_cert, ca);
	out->cert_pem = pem_of(write_cert, cert);
	out->key_pem = pem_of(write_key, key);
	out->ca_key_pem = pem_of(write_key, ca_key);
	if (out->ca_pem && out->cert_pem && out->key_pem && out->ca_key_pem)
		rc = 0;
	else
		dc_tls_dispose(out);
done:
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	if (rc)
		peerop__error_set(PEEROP_ETLS, "cannot generate the TLS certificates");
	return rc;
}

void dc_tls_dispose(dc_tls *t)
{
	if (!t)
		return;
	free(t->ca_pem);
	if (t->key_pem) {
		OPENSSL_cleanse(t->key_pem, strlen(t->key_pem));
		free(t->key_pem);
	}
	free(t->cert_pem);
	if (t->ca_key_pem) {
		OPENSSL_cleanse(t->ca_key_pem, strlen(t->ca_key_pem));
		free(t->ca_key_pem);
	}
	memset(t, 0, sizeof(*t));
}

int dc_tls_client_cert(const dc_tls *t, const char *user, const char *const *groups, size_t ngroups,
	char **cert_pem, char **key_pem)
{
	BIO *b;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *cert = NULL;
	int rc = PEEROP_ETLS;
	*cert_pem = *key_pem = NULL;
	if (!t->ca_pem || !t->ca_key_pem)
		return peerop__error_set(PEEROP_EINVAL, "no CA: the server runs without TLS");
	if ((b = BIO_new_mem_buf(t->ca_pem, -1))) {
		ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	if ((b = BIO_new_mem_buf(t->ca_key_pem, -1))) {
		ca_key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	key = EVP_EC_gen("P-256");
	if (ca && ca_key && key)
		cert = make_cert_o(key, user, groups, ngroups, ca, ca_key, 2, NULL);
	if (cert) {
		*cert_pem = pem_of(write_cert, cert);
		*key_pem = pem_of(write_key, key);
		if (*cert_pem && *key_pem)
			rc = 0;
	}
	if (rc) {
		free(*cert_pem);
		free(*key_pem);
		*cert_pem = *key_pem = NULL;
		peerop__error_set(PEEROP_ETLS, "cannot make the client certificate");
	}
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	return rc;
}
