/*
 * leader_internal.h: the Lease record as the elector reads and writes it
 * (leader_record.c), shared with the elector (leader.c) and the tests.
 */
#ifndef PEEROP_LEADER_INTERNAL_H
#define PEEROP_LEADER_INTERNAL_H

#include "internal.h"

#include <jansson.h>

/* Longest holderIdentity taken as an identity. Identities are pod or host
 * names (at most 253 bytes) plus a suffix; anything longer is hostile and is
 * neither copied, logged nor passed to callbacks. */
#define PEEROP__LEADER_MAX_IDENTITY 4096

/* The largest leaseDurationSeconds the API's int32 field can hold. */
#define PEEROP__LEADER_MAX_DURATION_S 2147483647LL

typedef enum peerop__leader_holder {
	PEEROP__LEADER_FREE = 0,   /* no spec, no holderIdentity, null or "": anyone may take it */
	PEEROP__LEADER_HELD,       /* held by holder */
	PEEROP__LEADER_UNREADABLE  /* held by someone we cannot name (spec or holder of a wrong
	                            * type, or a holder over PEEROP__LEADER_MAX_IDENTITY) */
} peerop__leader_holder;

/* What a Lease says, read leniently: the elector must keep working (and
 * never crash) whatever another program stored in the object. */
typedef struct peerop__leader_record {
	peerop__leader_holder state;
	const char *holder;        /* borrowed from the Lease; NULL unless HELD */
	long long duration_s;      /* leaseDurationSeconds in [1, int32 max], else 0 (unusable) */
	long long transitions;     /* leaseTransitions if a non-negative int32, else 0 */
	const char *acquire_time;  /* borrowed; NULL if absent or not a string */
} peerop__leader_record;

/* Read the spec of a Lease (any JSON value; NULL reads as a Lease without
 * spec). Never fails: what cannot be read is classified above. */
void peerop__leader_record_read(peerop__leader_record *out, const json_t *lease);

/* The spec this candidate writes: a new reference, or NULL when out of
 * memory. holder "" releases. acquire_time NULL means "now". */
json_t *peerop__leader_spec_new(const char *holder, long long duration_s,
	const char *acquire_time, long long transitions, long long wall_us);

/* A MicroTime: RFC 3339, UTC, six fractional digits
 * ("2026-11-26T13:46:59.123456Z"); size >= 32. */
void peerop__leader_format_microtime(char *buf, size_t size, long long wall_us);

/* The leaseDurationSeconds written for a lease of ms: rounded up, so the
 * others never wait less than this candidate's renew deadline assumes. */
long long peerop__leader_wire_seconds(unsigned int lease_ms);

/* Wall clock in microseconds (for renewTime and acquireTime only: expiry
 * is judged on the monotonic clock). */
long long peerop__leader_wall_us(void);

#endif /* PEEROP_LEADER_INTERNAL_H */
