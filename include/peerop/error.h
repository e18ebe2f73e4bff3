/**
 * @file peerop/error.h
 * @brief Error codes and the per-thread detail of the last failure.
 *
 * Every fallible function returns an int: 0 on success, a negative
 * PEEROP_E* code on failure. The codes are few and stable: a code is never
 * renumbered and a retired code is never reused. The detail (the server's
 * Status, the file and line of a bad kubeconfig, the URL that failed) is kept
 * per thread and read with peerop_error_last().
 */
#ifndef PEEROP_ERROR_H
#define PEEROP_ERROR_H

#include <peerop/common.h>

PEEROP_BEGIN_DECL

/** Error codes. Values are part of the ABI. */
typedef enum peerop_error_code {
	PEEROP_OK           =   0,  /**< success */
	PEEROP_ERROR        =  -1,  /**< unclassified failure */
	PEEROP_ENOMEM       =  -2,  /**< out of memory */
	PEEROP_EINVAL       =  -3,  /**< invalid argument from the caller */
	PEEROP_ENOENT       =  -4,  /**< a file does not exist */
	PEEROP_EIO          =  -5,  /**< a file exists but cannot be read or written */
	PEEROP_ESYNTAX      =  -6,  /**< malformed or truncated input (YAML, JSON) */
	PEEROP_ECONFIG      =  -7,  /**< well-formed configuration with a missing or wrong field */
	PEEROP_ENOCONTEXT   =  -8,  /**< a kubeconfig context, cluster or user is not defined */
	PEEROP_ECERT        =  -9,  /**< a certificate, key or CA cannot be read or parsed */
	PEEROP_ETLS         = -10,  /**< TLS handshake or peer verification failed */
	PEEROP_ECONNECT     = -11,  /**< name resolution or connection failed */
	PEEROP_ETIMEOUT     = -12,  /**< an operation timed out */
	PEEROP_EPROTO       = -13,  /**< the peer answered something that is not the protocol */
	PEEROP_ETRUNCATED   = -14,  /**< the connection closed in the middle of a reply */
	PEEROP_EAUTH        = -15,  /**< HTTP 401: credentials missing, expired or rejected */
	PEEROP_EFORBIDDEN   = -16,  /**< HTTP 403 */
	PEEROP_ENOTFOUND    = -17,  /**< HTTP 404: the object or resource does not exist */
	PEEROP_EEXISTS      = -18,  /**< HTTP 409 AlreadyExists */
	PEEROP_ECONFLICT    = -19,  /**< HTTP 409 Conflict: stale resourceVersion or field manager conflict */
	PEEROP_EGONE        = -20,  /**< HTTP 410: resourceVersion or continue token expired */
	PEEROP_EINVALID     = -21,  /**< HTTP 422 Invalid, or 400 BadRequest */
	PEEROP_ETOOMANY     = -22,  /**< HTTP 429 after the allowed retries */
	PEEROP_EUNAVAILABLE = -23,  /**< HTTP 5xx after the allowed retries */
	PEEROP_EHTTP        = -24,  /**< any other unsuccessful HTTP status */
	PEEROP_EEXEC        = -25,  /**< an exec credential plugin failed */
	PEEROP_ETOOLARGE    = -26,  /**< input exceeds a configured size limit */
	PEEROP_ECANCELED    = -27,  /**< the operation was stopped on request */
	PEEROP_EUNSUPPORTED = -28   /**< the feature is not available here */
} peerop_error_code;

/**
 * Detail of the last failure on the calling thread.
 *
 * The strings are owned by the library and stay valid until the next
 * failing call on the same thread.
 */
typedef struct peerop_error {
	int code;            /**< a PEEROP_E* code */
	int http_status;     /**< HTTP status of the reply, 0 if there was none */
	const char *reason;  /**< Kubernetes Status reason ("NotFound", "Conflict"...) or "" */
	const char *message; /**< human-readable text naming the file, field or URL; never a secret */
} peerop_error;

/**
 * The detail of the last failure on this thread.
 *
 * @return a pointer to thread-local storage, never NULL; code is PEEROP_OK
 *         if nothing has failed on this thread since the last clear.
 */
PEEROP_EXTERN(const peerop_error *) peerop_error_last(void);

/** Forget the last failure on this thread. */
PEEROP_EXTERN(void) peerop_error_clear(void);

/**
 * Static text for an error code ("no such file", "conflict"...).
 *
 * @param code a PEEROP_E* code, or any int
 * @return static text; never NULL, "unknown error" for unknown codes
 */
PEEROP_EXTERN(const char *) peerop_strerror(int code);

/**
 * The symbolic name of an error code ("PEEROP_ENOENT").
 *
 * @return static text; never NULL, "PEEROP_E?" for unknown codes
 */
PEEROP_EXTERN(const char *) peerop_error_name(int code);

PEEROP_END_DECL

#endif /* PEEROP_ERROR_H */
