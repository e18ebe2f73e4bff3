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
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	if (ca) {
		if (add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
		    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
		    add_ext(x, x, NID_subject_key_identifier, "hash"))
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
	if (out->ca_pem && out->cert_pem && out->key_pem)
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
	memset(t, 0, sizeof(*t));
}
