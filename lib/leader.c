/*
 * leader.c: leader election with a coordination.k8s.io/v1 Lease, by
 * client-go's rules (stated in include/peerop/leader.h).
 *
 * Time. Expiry is judged on this process's clock only: a record expires
 * when its spec has not changed for its leaseDurationSeconds since this
 * candidate saw it change. renewTime is written for people, never read.
 * Durations are measured on CLOCK_BOOTTIME, which (unlike CLOCK_MONOTONIC)
 * goes on while the machine is suspended: a leader waking up from a
 * suspend knows at once that its lease may be gone. Waits are relative
 * waits on a CLOCK_MONOTONIC condition variable (condition variables
 * cannot wait on CLOCK_BOOTTIME), repeated until CLOCK_BOOTTIME says so. A leader counts its renew deadline from the moment it *sent* its
 * last successful write: the others saw that write no earlier, so it stops
 * leading before anyone can judge its lease expired.
 *
 * Bounded calls. A call in flight cannot be interrupted, so every call must
 * end in time for the renew deadline to be kept: the elector talks through
 * a client of its own, made from the caller's configuration and options
 * with no retries (the elector retries every retry period itself) and
 * each request capped at lease - renew deadline. No call starts after the
 * renew deadline, so a leader calls on_stopped_leading at most that cap
 * after its deadline, which is still before its lease could expire for the
 * others.
 */
#include "internal.h"
#include "kube_internal.h"
#include "leader_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define DEF_LEASE_MS 15000u
#define DEF_RENEW_MS 10000u
#define DEF_RETRY_MS 2000u
/* Candidates wait retry + up to 1.2 x retry between attempts to acquire (as
 * client-go does), so candidates started together spread out. */
#define ACQUIRE_JITTER 1.2

static const peerop_kube_resource LEASES = { "coordination.k8s.io", "v1", "leases", 1 };

struct peerop_leader {
	peerop_leader_options opts;   /* defaults filled in; strings point below */
	char *ns, *name, *identity;
	char *desc;                   /* "ns/name", for messages */
	long long wire_s;             /* the leaseDurationSeconds this candidate writes */
	unsigned int call_ms;         /* cap on one API call */
	peerop_kube_client *client;   /* the elector's own (see the top of the file) */

	pthread_t thread;
	int thread_started;
	int joined;
	pthread_mutex_t join_lock;

	int stop;                     /* atomic */
	pthread_mutex_t lock;
	pthread_cond_t cond;          /* signalled by stop */
	/* Guarded by lock (is_leader() and holder() read them on any thread);
	 * written by the elector thread only, which reads them without it. */
	int leading;
	uint64_t renewed_ms;          /* monotonic: when the last good write was sent */
	char *holder;                 /* the holder last observed, or NULL */

	/* The elector thread only. */
	json_t *lease;                /* the Lease as last read or written; NULL: none */
	uint64_t observed_ms;         /* when its spec was last seen to change */
	int last_rc;                  /* outcome of the previous attempt (log changes only) */
	int vanished;                 /* the Lease, held by another, was found deleted */
	int raced;                    /* a write of ours lost to another's (AlreadyExists,
	                               * Conflict) since the Lease was last read */
};

static int stopped(const peerop_leader *l)
{
	return __atomic_load_n(&l->stop, __ATOMIC_ACQUIRE);
}

/* Milliseconds on CLOCK_BOOTTIME (see the top of the file). */
static uint64_t now_ms(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		return peerop__now_ms();
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait until now_ms() reaches at_ms, or a stop; nonzero when stopped. */
static int wait_until(peerop_leader *l, uint64_t at_ms)
{
	uint64_t now;
	pthread_mutex_lock(&l->lock);
	while (!stopped(l) && (now = now_ms()) < at_ms)
		peerop__cond_timedwait_ms(&l->cond, &l->lock, at_ms - now);
	pthread_mutex_unlock(&l->lock);
	return stopped(l);
}

static void log_event(peerop_leader *l, peerop_log_level level, const char *holder, const char *fmt, ...)
	PEEROP_FORMAT(4, 5);

static void log_event(peerop_leader *l, peerop_log_level level, const char *holder, const char *fmt, ...)
{
	peerop_log_field f[3];
	size_t n = 0;
	va_list ap;
	if (!peerop__log_enabled(level))
		return;
	f[n].key = "lease";
	f[n++].value = l->desc;
	f[n].key = "identity";
	f[n++].value = l->identity;
	if (holder) {
		f[n].key = "holder";
		f[n++].value = holder;
	}
	va_start(ap, fmt);
	peerop__logv(level, "leader", f, n, fmt, ap);
	va_end(ap);
}

static int is_me(const peerop_leader *l, const peerop__leader_record *rec)
{
	return rec->state == PEEROP__LEADER_HELD && strcmp(rec->holder, l->identity) == 0;
}

/* Note the holder now observed (NULL: none, or one that cannot be named);
 * tell on_new_leader when it changed. */
static void observe_holder(peerop_leader *l, const char *holder)
{
	char *copy = NULL, *old;
	if (holder ? l->holder && strcmp(holder, l->holder) == 0 : !l->holder)
		return;
	if (holder && !(copy = strdup(holder)))
		return; /* out of memory: noticed again at the next read */
	pthread_mutex_lock(&l->lock);
	old = l->holder;
	l->holder = copy;
	pthread_mutex_unlock(&l->lock);
	free(old);
	log_event(l, PEEROP_LOG_INFO, holder, "lease %s: %s%s", l->desc,
		holder ? "new leader " : "no leader named in the Lease", holder ? holder : "");
	if (l->opts.on_new_leader)
		l->opts.on_new_leader(holder, l->opts.payload);
}

static int spec_equal(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return a == b;
	return json_equal(a, b);
}

/* Keep a Lease just read or written (stolen); note when its spec changed. */
static void observe_lease(peerop_leader *l, json_t *lease)
{
	if (!l->lease || l->vanished ||
	    !spec_equal(json_object_get(l->lease, "spec"), json_object_get(lease, "spec")))
		l->observed_ms = now_ms();
	json_decref(l->lease);
	l->lease = lease;
	l->vanished = 0;
	l->raced = 0;
}

static void forget_lease(peerop_leader *l)
{
	json_decref(l->lease);
	l->lease = NULL;
}

/* PUT spec (stolen) over base, the Lease as read, with its resourceVersion
 * as the precondition; or create the Lease when base is NULL. *sent_ms
 * receives when the request left. On success l->lease is the stored one. */
static int write_lease(peerop_leader *l, const json_t *base, json_t *spec, uint64_t *sent_ms)
{
	json_t *obj, *stored = NULL;
	int rc;

	if (!spec)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	if (base) {
		const json_t *rv = json_object_get(json_object_get(base, "metadata"), "resourceVersion");
		if (!json_is_string(rv) || json_string_length(rv) == 0) {
			json_decref(spec);
			return peerop__error_set(PEEROP_EPROTO,
				"lease %s has no metadata.resourceVersion: not writing it without one", l->desc);
		}
		obj = json_deep_copy(base);
	} else {
		obj = json_pack("{s:{s:s, s:s}}", "metadata", "name", l->name, "namespace", l->ns);
	}
	if (!obj || json_object_set_new(obj, "spec", spec) < 0 ||
	    json_object_set_new(obj, "apiVersion", json_string("coordination.k8s.io/v1")) < 0 ||
	    json_object_set_new(obj, "kind", json_string("Lease")) < 0) {
		if (!obj)
			json_decref(spec);
		json_decref(obj);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	*sent_ms = now_ms();
	if (base)
		rc = peerop_kube_replace(&stored, l->client, &LEASES, l->ns, l->name, obj, NULL);
	else
		rc = peerop_kube_create(&stored, l->client, &LEASES, l->ns, obj, NULL);
	json_decref(obj);
	if (rc == 0)
		observe_lease(l, stored);
	else if (rc == PEEROP_EEXISTS || rc == PEEROP_ECONFLICT)
		l->raced = 1; /* someone else wrote it just now: see create() */
	return rc;
}

static json_t *my_spec(peerop_leader *l, const char *acquire_time, long long transitions)
{
	return peerop__leader_spec_new(l->identity, l->wire_s, acquire_time, transitions,
		peerop__leader_wall_us());
}

/* May a call start now? Not after stop, nor after deadline_ms (0: none). */
static int may_call(peerop_leader *l, uint64_t deadline_ms)
{
	if (stopped(l))
		return peerop__error_set(PEEROP_ECANCELED, "lease %s: stopping", l->desc);
	if (deadline_ms && now_ms() >= deadline_ms)
		return peerop__error_set(PEEROP_ETIMEOUT, "lease %s: renew deadline passed", l->desc);
	return 0;
}

/* How long a record stays valid after it last changed. A duration the API
 * could not have stored (missing, not an integer, < 1) is replaced by ours. */
static uint64_t record_ms(const peerop_leader *l, const peerop__leader_record *rec)
{
	return (uint64_t)(rec->duration_s ? rec->duration_s : l->wire_s) * 1000u;
}

/* The Lease is not there: create it. But if it was last seen held by
 * another, its deletion is a change of the record like any other: that
 * holder may still be leading (it learns at its next renewal), so its
 * lease is waited out first. The same holds when a write of ours lost a
 * race since the last read (l->raced): someone else wrote the Lease then,
 * and may lead, though we never saw its record. Its duration is unknown:
 * ours is waited (the record we hold is not theirs). Without this, a
 * candidate that lost the race to create the Lease, and then found it gone
 * (an API server that lost its data), created it at once while the winner
 * still led. */
static int create(peerop_leader *l, uint64_t deadline_ms, uint64_t *sent_ms)
{
	peerop__leader_record rec;
	uint64_t wait_ms = 0;
	int held, rc;

	peerop__leader_record_read(&rec, l->lease);
	held = l->lease && rec.state != PEEROP__LEADER_FREE && !is_me(l, &rec);
	if (held)
		wait_ms = record_ms(l, &rec);
	if (l->raced && wait_ms < (uint64_t)l->wire_s * 1000u)
		wait_ms = (uint64_t)l->wire_s * 1000u;
	if (held || l->raced) {
		if (!l->vanished) {
			const char *who = held ? (rec.holder ? rec.holder : "an unreadable holder") :
				"a candidate that won a race against this one";
			l->vanished = 1;
			l->observed_ms = now_ms();
			log_event(l, PEEROP_LOG_INFO, held ? rec.holder : NULL, "lease %s: deleted while held by %s: "
				"waiting %lld s before creating it", l->desc, who, (long long)(wait_ms / 1000));
		}
		if (now_ms() - l->observed_ms < wait_ms)
			return 0;
	}
	forget_lease(l);
	l->vanished = 0;
	l->raced = 0;
	if ((rc = may_call(l, deadline_ms)) < 0)
		return rc;
	rc = write_lease(l, NULL, my_spec(l, NULL, 0), sent_ms);
	if (rc < 0) {
		observe_holder(l, NULL);
		return rc; /* PEEROP_EEXISTS: someone else was first */
	}
	observe_holder(l, l->identity);
	return 1;
}

/*
 * One try (client-go's tryAcquireOrRenew). Returns 1 when this candidate
 * holds the Lease, having written it (the request left at *sent_ms); 0 when
 * another holder's unexpired record was read; or a negative code: the API
 * failed, a race was lost (PEEROP_ECONFLICT, PEEROP_EEXISTS), the deadline
 * passed (PEEROP_ETIMEOUT) or stop was asked (PEEROP_ECANCELED).
 * deadline_ms: 0, or when no call may start any more (a leader's renew
 * deadline).
 */
static int attempt(peerop_leader *l, uint64_t deadline_ms, uint64_t *sent_ms)
{
	peerop__leader_record rec;
	json_t *got = NULL, *spec;
	int rc;

	if (l->leading && l->lease) {
		/* A leader writes over the version it wrote last (one request);
		 * only when someone else changed the Lease does it read it. */
		peerop__leader_record_read(&rec, l->lease);
		if (is_me(l, &rec)) {
			if ((rc = may_call(l, deadline_ms)) < 0)
				return rc;
			rc = write_lease(l, l->lease, my_spec(l, rec.acquire_time, rec.transitions), sent_ms);
			if (rc == 0)
				return 1;
			if (rc != PEEROP_ECONFLICT && rc != PEEROP_ENOTFOUND)
				return rc;
		}
	}
	if ((rc = may_call(l, deadline_ms)) < 0)
		return rc;
	rc = peerop_kube_get(&got, l->client, &LEASES, l->ns, l->name);
	if (rc == PEEROP_ENOTFOUND)
		return create(l, deadline_ms, sent_ms);
	if (rc < 0)
		return rc;
	observe_lease(l, got);
	peerop__leader_record_read(&rec, l->lease);
	observe_holder(l, rec.state == PEEROP__LEADER_HELD ? rec.holder : NULL);
	if (is_me(l, &rec)) {
		/* Ours: renewing, or this identity restarted. Keep the record's
		 * acquireTime and transition count. */
		spec = my_spec(l, rec.acquire_time, rec.transitions);
	} else {
		if (rec.state != PEEROP__LEADER_FREE) {
			if (now_ms() - l->observed_ms < record_ms(l, &rec))
				return 0;
			log_event(l, PEEROP_LOG_INFO, rec.holder,
				"lease %s: the record of %s has not changed for %lld s: taking over", l->desc,
				rec.holder ? rec.holder : "an unreadable holder",
				rec.duration_s ? rec.duration_s : l->wire_s);
		}
		spec = my_spec(l, NULL, rec.transitions < 2147483647LL ? rec.transitions + 1 : rec.transitions);
	}
	if ((rc = may_call(l, deadline_ms)) < 0) {
		json_decref(spec);
		return rc;
	}
	rc = write_lease(l, l->lease, spec, sent_ms);
	if (rc < 0)
		return rc; /* PEEROP_ECONFLICT: another candidate wrote first */
	observe_holder(l, l->identity);
	return 1;
}

static void start_leading(peerop_leader *l, uint64_t sent_ms)
{
	pthread_mutex_lock(&l->lock);
	l->leading = 1;
	l->renewed_ms = sent_ms;
	pthread_mutex_unlock(&l->lock);
	log_event(l, PEEROP_LOG_INFO, l->identity, "lease %s: acquired by %s", l->desc, l->identity);
	if (l->opts.on_started_leading)
		l->opts.on_started_leading(l->opts.payload);
}

/* After a successful renewal: extend leadership. If the renew deadline
 * passed while the call ran, is_leader() has already said 0; stay
 * consistent with it (stop, then take the Lease again) rather than lead
 * again without on_started_leading. */
static int extend(peerop_leader *l, uint64_t sent_ms)
{
	int ok;
	pthread_mutex_lock(&l->lock);
	ok = now_ms() < l->renewed_ms + l->opts.renew_deadline_ms;
	if (ok)
		l->renewed_ms = sent_ms;
	pthread_mutex_unlock(&l->lock);
	return ok;
}

static void stop_leading(peerop_leader *l, const char *why)
{
	pthread_mutex_lock(&l->lock);
	l->leading = 0;
	pthread_mutex_unlock(&l->lock);
	log_event(l, PEEROP_LOG_INFO, NULL, "lease %s: %s stopped leading: %s", l->desc, l->identity, why);
	if (l->opts.on_stopped_leading)
		l->opts.on_stopped_leading(l->opts.payload);
}

/* On stop: give the Lease up (holder "", leaseDurationSeconds 1) if the
 * record last seen is ours, so a successor need not wait it out. One more
 * read and write after a conflict; no retry after other failures (stop
 * must return). */
static void release(peerop_leader *l)
{
	peerop__leader_record rec;
	uint64_t sent;
	int rc = 0, tries;

	for (tries = 0; tries < 2; tries++) {
		json_t *got = NULL;
		if (!l->lease)
			return;
		peerop__leader_record_read(&rec, l->lease);
		if (!is_me(l, &rec))
			return;
		rc = write_lease(l, l->lease, peerop__leader_spec_new("", 1, NULL, rec.transitions,
			peerop__leader_wall_us()), &sent);
		if (rc == 0) {
			log_event(l, PEEROP_LOG_INFO, NULL, "lease %s: released by %s", l->desc, l->identity);
			observe_holder(l, NULL);
			return;
		}
		if (rc != PEEROP_ECONFLICT)
			break;
		if ((rc = peerop_kube_get(&got, l->client, &LEASES, l->ns, l->name)) < 0)
			break;
		observe_lease(l, got);
	}
	if (rc < 0)
		log_event(l, PEEROP_LOG_WARN, NULL, "lease %s: could not release it: %s", l->desc,
			peerop_error_last()->message);
}

/* A failed attempt: log it when the outcome differs from the last one. */
static void note_failure(peerop_leader *l, int rc)
{
	peerop_log_level level = PEEROP_LOG_DEBUG;
	if (rc != 0 && rc != PEEROP_ECONFLICT && rc != PEEROP_EEXISTS && rc != PEEROP_ECANCELED &&
	    (l->leading || rc != l->last_rc))
		level = PEEROP_LOG_WARN;
	l->last_rc = rc;
	if (rc == 0)
		log_event(l, PEEROP_LOG_DEBUG, l->holder, "lease %s: held by %s", l->desc,
			l->holder ? l->holder : "an unreadable holder");
	else
		log_event(l, level, NULL, "lease %s: %s failed: %s", l->desc,
			l->leading ? "renewal" : "attempt to acquire", peerop_error_last()->message);
}

static void *thread_main(void *arg)
{
	peerop_leader *l = arg;
	uint64_t next = 0;

	while (!wait_until(l, next)) {
		uint64_t sent = 0, now, deadline = 0;
		int rc;

		if (l->leading)
			deadline = l->renewed_ms + l->opts.renew_deadline_ms;
		rc = attempt(l, deadline, &sent);
		now = now_ms();
		if (rc != 1)
			note_failure(l, rc);
		else
			l->last_rc = 1;
		if (rc == PEEROP_ECANCELED)
			break;
		if (!l->leading) {
			if (rc == 1 && stopped(l))
				break; /* acquired as stop was asked: not leading; release() gives it back */
			if (rc == 1 && now - sent >= l->opts.renew_deadline_ms) {
				/* the write took so long that is_leader() would say 0
				 * at once: renew first (the Lease is ours now) */
				next = now;
				continue;
			}
			if (rc == 1) {
				start_leading(l, sent);
				next = now + l->opts.retry_period_ms;
			} else {
				next = now + l->opts.retry_period_ms +
					peerop__rand_below((uint64_t)(l->opts.retry_period_ms * ACQUIRE_JITTER) + 1);
			}
			continue;
		}
		if (rc == 1 && extend(l, sent)) {
			next = now + l->opts.retry_period_ms;
			continue;
		}
		if (rc == 1) {
			stop_leading(l, "renewed only after the renew deadline");
		} else if (rc == 0) {
			stop_leading(l, "the lease is held by another candidate");
		} else if (now >= deadline) {
			stop_leading(l, "could not renew the lease within the renew deadline");
		} else {
			/* Try again within the deadline; wake at the deadline at the
			 * latest, to stop leading in time. */
			next = now + l->opts.retry_period_ms;
			if (next > deadline)
				next = deadline;
			continue;
		}
		next = now + l->opts.retry_period_ms;
	}
	if (l->leading)
		stop_leading(l, "stopping");
	if (!l->opts.no_release_on_stop)
		release(l);
	return NULL;
}

/* ---- the API --------------------------------------------------------------- */

PEEROP_EXTERN(int) peerop_leader_options_init(peerop_leader_options *opts, unsigned int version)
{
	peerop_leader_options init = PEEROP_LEADER_OPTIONS_INIT;
	if (!opts || version != PEEROP_LEADER_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_leader_options_init: unknown version %u", version);
	*opts = init;
	return 0;
}

/* hostname + "_" + 32 random hex digits, as client-go programs make theirs. */
static char *default_identity(void)
{
	char host[256], hex[33];
	unsigned char rnd[16];
	peerop__buf b = PEEROP__BUF_INIT;
	size_t i;

	if (gethostname(host, sizeof(host)) != 0 || !host[0])
		strcpy(host, "peerop");
	host[sizeof(host) - 1] = '\0';
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		for (i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)peerop__rand_below(256);
	for (i = 0; i < sizeof(rnd); i++) {
		hex[2 * i] = "0123456789abcdef"[rnd[i] >> 4];
		hex[2 * i + 1] = "0123456789abcdef"[rnd[i] & 15];
	}
	hex[32] = '\0';
	if (peerop__buf_printf(&b, "%s_%s", host, hex) < 0)
		return NULL;
	return peerop__buf_detach(&b);
}

static void leader_release(peerop_leader *l)
{
	peerop_kube_client_free(l->client);
	json_decref(l->lease);
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l->desc);
	free(l->holder);
	pthread_mutex_destroy(&l->lock);
	pthread_mutex_destroy(&l->join_lock);
	pthread_cond_destroy(&l->cond);
	free(l);
}

static int check_options(const peerop_leader_options *o)
{
	if (o->version != PEEROP_LEADER_OPTIONS_VERSION)
		return peerop__error_set(PEEROP_EINVAL, "peerop_leader_start: unknown options version %u", o->version);
	if (!o->name || !*o->name)
		return peerop__error_set(PEEROP_EINVAL, "peerop_leader_start: the Lease's name is required");
	if (o->identity && (!*o->identity || strlen(o->identity) > PEEROP__LEADER_MAX_IDENTITY))
		return peerop__error_set(PEEROP_EINVAL, "peerop_leader_start: identity must be 1 to %d bytes",
			PEEROP__LEADER_MAX_IDENTITY);
	if (o->ns && !*o->ns)
		return peerop__error_set(PEEROP_EINVAL, "peerop_leader_start: ns is empty (NULL means the client's)");
	return 0;
}

/* The elector's own client: the caller's configuration and options, with
 * every request capped at call_ms and no retries. */
static int make_client(peerop_leader *l, peerop_kube_client *caller)
{
	peerop_kube_client_options co = caller->opts;
	if (co.request_timeout_ms > l->call_ms)
		co.request_timeout_ms = l->call_ms;
	if (co.connect_timeout_ms > l->call_ms)
		co.connect_timeout_ms = l->call_ms;
	co.max_retries = -1;
	return peerop_kube_client_new(&l->client, caller->cfg, &co);
}

PEEROP_EXTERN(int) peerop_leader_start(peerop_leader **out, peerop_kube_client *client,
	const peerop_leader_options *opts)
{
	peerop_leader *l;
	peerop__buf desc = PEEROP__BUF_INIT;
	const char *ns;
	int rc;

	if (out)
		*out = NULL;
	if (!out || !client || !opts)
		return peerop__error_set(PEEROP_EINVAL, "peerop_leader_start: out, client and opts are required");
	if ((rc = check_options(opts)) < 0)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l)
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	pthread_mutex_init(&l->lock, NULL);
	pthread_mutex_init(&l->join_lock, NULL);
	if (peerop__cond_init_monotonic(&l->cond) < 0) {
		pthread_mutex_destroy(&l->lock);
		pthread_mutex_destroy(&l->join_lock);
		free(l);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}

	l->opts = *opts;
	if (!l->opts.lease_duration_ms)
		l->opts.lease_duration_ms = DEF_LEASE_MS;
	if (!l->opts.renew_deadline_ms)
		l->opts.renew_deadline_ms = DEF_RENEW_MS;
	if (!l->opts.retry_period_ms)
		l->opts.retry_period_ms = DEF_RETRY_MS;
	if (l->opts.renew_deadline_ms >= l->opts.lease_duration_ms ||
	    l->opts.retry_period_ms >= l->opts.renew_deadline_ms) {
		rc = peerop__error_set(PEEROP_EINVAL, "peerop_leader_start: need retry period (%u ms) < "
			"renew deadline (%u ms) < lease duration (%u ms)", l->opts.retry_period_ms,
			l->opts.renew_deadline_ms, l->opts.lease_duration_ms);
		leader_release(l);
		return rc;
	}
	l->wire_s = peerop__leader_wire_seconds(l->opts.lease_duration_ms);
	l->call_ms = l->opts.lease_duration_ms - l->opts.renew_deadline_ms;

	ns = opts->ns ? opts->ns : peerop_kube_config_namespace(peerop_kube_client_config(client));
	l->ns = strdup(ns);
	l->name = strdup(opts->name);
	l->identity = opts->identity ? strdup(opts->identity) : default_identity();
	if (!l->ns || !l->name || !l->identity || peerop__buf_printf(&desc, "%s/%s", l->ns, l->name) < 0) {
		leader_release(l);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	l->desc = peerop__buf_detach(&desc);
	l->opts.ns = l->ns;
	l->opts.name = l->name;
	l->opts.identity = l->identity;
	if ((rc = make_client(l, client)) < 0) {
		leader_release(l);
		return rc;
	}
	if (pthread_create(&l->thread, NULL, thread_main, l) != 0) {
		leader_release(l);
		return peerop__error_set(PEEROP_ERROR, "peerop_leader_start: cannot start a thread");
	}
	l->thread_started = 1;
	*out = l;
	return 0;
}

PEEROP_EXTERN(int) peerop_leader_is_leader(const peerop_leader *l)
{
	peerop_leader *m = (peerop_leader *)l;
	int r;
	if (!l)
		return 0;
	pthread_mutex_lock(&m->lock);
	r = m->leading && now_ms() < m->renewed_ms + m->opts.renew_deadline_ms;
	pthread_mutex_unlock(&m->lock);
	return r;
}

PEEROP_EXTERN(char *) peerop_leader_holder(const peerop_leader *l)
{
	peerop_leader *m = (peerop_leader *)l;
	char *copy;
	if (!l)
		return NULL;
	pthread_mutex_lock(&m->lock);
	copy = m->holder ? strdup(m->holder) : NULL;
	pthread_mutex_unlock(&m->lock);
	return copy;
}

PEEROP_EXTERN(const char *) peerop_leader_identity(const peerop_leader *l)
{
	return l ? l->identity : NULL;
}

PEEROP_EXTERN(void) peerop_leader_stop(peerop_leader *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	peerop__join_once(l->thread, l->thread_started, &l->join_lock, &l->joined);
}

PEEROP_EXTERN(void) peerop_leader_free(peerop_leader *l)
{
	if (!l)
		return;
	peerop_leader_stop(l);
	leader_release(l);
}

PEEROP_EXTERN(const char *) peerop_leader_name(const peerop_leader *l)
{
	return l ? l->name : NULL;
}

/* client-go's leader_election_master_status: 1 while leading, 0 otherwise. */
PEEROP_EXTERN(int) peerop_leader_collect_metrics(peerop_metrics_writer *w, void *leader)
{
	peerop_leader *l = leader;
	peerop_metric_label lab[1];
	int rc;

	if (!l)
		return PEEROP_EINVAL;
	lab[0].name = "name";
	lab[0].value = l->name;
	rc = peerop_metrics_family(w, "leader_election_master_status", PEEROP_METRIC_GAUGE,
		"Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, "
		"1 indicates master.");
	return rc ? rc : peerop_metrics_sample(w, NULL, lab, 1, peerop_leader_is_leader(l) ? 1.0 : 0.0);
}
