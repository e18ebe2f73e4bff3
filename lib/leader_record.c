/*
 * leader_record.c: reading and writing the spec of a coordination.k8s.io/v1
 * Lease for leader election.
 *
 * Reading is lenient on purpose. A Lease is shared with other programs (and
 * people with kubectl); whatever they stored, the elector must classify it
 * and go on: a record it cannot read counts as held by someone it cannot
 * name, which expires like any other record, so a garbage Lease delays an
 * election by one lease duration instead of wedging it or being stolen
 * from a live holder at once.
 */
#include "kube_internal.h"
#include "leader_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_INT32 2147483647LL

static long long int_in(const json_t *v, long long lo, long long hi)
{
	long long x;
	if (!json_is_integer(v))
		return -1;
	x = (long long)json_integer_value(v);
	return x >= lo && x <= hi ? x : -1;
}

void peerop__leader_record_read(peerop__leader_record *out, const json_t *lease)
{
	const json_t *spec = json_object_get(lease, "spec");
	const json_t *holder;
	long long v;

	memset(out, 0, sizeof(*out));
	out->state = PEEROP__LEADER_FREE;
	if (!spec || json_is_null(spec))
		return;
	if (!json_is_object(spec)) {
		out->state = PEEROP__LEADER_UNREADABLE;
		return;
	}
	holder = json_object_get(spec, "holderIdentity");
	if (json_is_string(holder)) {
		size_t len = json_string_length(holder);
		const char *s = json_string_value(holder);
		if (len > PEEROP__LEADER_MAX_IDENTITY || strlen(s) != len)
			out->state = PEEROP__LEADER_UNREADABLE; /* too long, or an embedded NUL */
		else if (len > 0) {
			out->state = PEEROP__LEADER_HELD;
			out->holder = s;
		}
	} else if (holder && !json_is_null(holder)) {
		out->state = PEEROP__LEADER_UNREADABLE;
	}
	v = int_in(json_object_get(spec, "leaseDurationSeconds"), 1, PEEROP__LEADER_MAX_DURATION_S);
	out->duration_s = v > 0 ? v : 0;
	v = int_in(json_object_get(spec, "leaseTransitions"), 0, MAX_INT32);
	out->transitions = v > 0 ? v : 0;
	/* acquireTime is written back when renewing: only a real timestamp is
	 * kept (the server would refuse the renewal of anything else). */
	out->acquire_time = json_string_value(json_object_get(spec, "acquireTime"));
	if (out->acquire_time) {
		long long ms;
		if (strlen(out->acquire_time) > 40 || peerop__parse_rfc3339(&ms, out->acquire_time) < 0)
			out->acquire_time = NULL;
	}
}

void peerop__leader_format_microtime(char *buf, size_t size, long long wall_us)
{
	time_t secs = (time_t)(wall_us / 1000000);
	long us = (long)(wall_us % 1000000);
	struct tm tm;
	char tmp[32];

	if (wall_us < 0) {
		secs = 0;
		us = 0;
	}
	gmtime_r(&secs, &tm);
	if (strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		tmp[0] = '\0';
	snprintf(buf, size, "%s.%06ldZ", tmp, us);
}

long long peerop__leader_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long peerop__leader_wire_seconds(unsigned int lease_ms)
{
	long long s = ((long long)lease_ms + 999) / 1000;
	return s > 0 ? s : 1;
}

json_t *peerop__leader_spec_new(const char *holder, long long duration_s,
	const char *acquire_time, long long transitions, long long wall_us)
{
	char now[32];
	peerop__leader_format_microtime(now, sizeof(now), wall_us);
	return json_pack("{s:s, s:I, s:s, s:s, s:I}",
		"holderIdentity", holder,
		"leaseDurationSeconds", (json_int_t)duration_s,
		"acquireTime", acquire_time ? acquire_time : now,
		"renewTime", now,
		"leaseTransitions", (json_int_t)transitions);
}
