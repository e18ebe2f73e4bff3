/*
 * check_leader.c: Lease leader election against the in-process local
 * control plane.
 *
 * Candidates record their callbacks; the callbacks check the invariants as
 * they run (never two leaders of one Lease by is_leader(), started and
 * stopped alternate, is_leader() agrees with them). Timing is only asserted
 * as lower bounds the algorithm guarantees whatever the load ("did not take
 * over before the lease could expire") or with deadlines many times what
 * the operation needs.
 */
#include "config.h"

#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watchhelp.h"
#include "kube_testhelp.h"
#include "leader_internal.h"

static const peerop_kube_resource LEASES = { "coordination.k8s.io", "v1", "leases", 1 };

#define MAXC 24

typedef struct cand {
	peerop_leader *l;        /* atomic: callbacks of others read it */
	char id[64];
	char lease[64];
	int idx;
	/* guarded by mu */
	int leading_cb;          /* between on_started_leading and on_stopped_leading */
	int started, stopped;
	uint64_t started_ms;     /* when on_started_leading last ran */
	char trace[1024];        /* on_new_leader: "a,-,b," ('-' for none) */
} cand;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static cand C[MAXC];
static char events[8192];    /* "S0 T0 S1 ": started/stopped by index, in order */
static int violations;
static char first_violation[512];
static env *E;
static peerop_kube_client *CL;  /* the client candidates use: E's, or a scripted server's */

static void violation(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&mu);
	if (violations++ == 0) {
		va_start(ap, fmt);
		vsnprintf(first_violation, sizeof(first_violation), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&mu);
}

static peerop_leader *handle(int i)
{
	return __atomic_load_n(&C[i].l, __ATOMIC_ACQUIRE);
}

static void append(char *buf, size_t size, const char *s)
{
	size_t n = strlen(buf);
	if (n + strlen(s) + 1 < size)
		memcpy(buf + n, s, strlen(s) + 1);
}

static void on_started(void *p)
{
	cand *c = p;
	peerop_leader *self = handle(c->idx);
	char ev[16];
	int j;

	pthread_mutex_lock(&mu);
	if (c->leading_cb)
		violation("%s: on_started_leading twice", c->id);
	c->leading_cb = 1;
	c->started++;
	c->started_ms = th_now_ms();
	snprintf(ev, sizeof(ev), "S%d ", c->idx);
	append(events, sizeof(events), ev);
	pthread_mutex_unlock(&mu);
	for (j = 0; j < MAXC; j++) {
		peerop_leader *o = handle(j);
		if (j != c->idx && o && strcmp(C[j].lease, c->lease) == 0 && peerop_leader_is_leader(o))
			violation("%s started leading while %s is leader", c->id, C[j].id);
	}
	if (self && !peerop_leader_is_leader(self))
		violation("%s: is_leader 0 in on_started_leading", c->id);
}

static void on_stopped(void *p)
{
	cand *c = p;
	peerop_leader *self = handle(c->idx);
	char ev[16];

	pthread_mutex_lock(&mu);
	if (!c->leading_cb)
		violation("%s: on_stopped_leading without on_started_leading", c->id);
	c->leading_cb = 0;
	c->stopped++;
	snprintf(ev, sizeof(ev), "T%d ", c->idx);
	append(events, sizeof(events), ev);
	pthread_mutex_unlock(&mu);
	if (self && peerop_leader_is_leader(self))
		violation("%s: is_leader 1 in on_stopped_leading", c->id);
}

static void on_new_leader(const char *identity, void *p)
{
	cand *c = p;
	if (identity && strlen(identity) > PEEROP__LEADER_MAX_IDENTITY)
		violation("%s: on_new_leader with an identity of %zu bytes", c->id, strlen(identity));
	pthread_mutex_lock(&mu);
	append(c->trace, sizeof(c->trace), identity && *identity ? identity : "-");
	append(c->trace, sizeof(c->trace), ",");
	pthread_mutex_unlock(&mu);
}

static int get_int(int *field)
{
	int v;
	pthread_mutex_lock(&mu);
	v = *field;
	pthread_mutex_unlock(&mu);
	return v;
}

static void start_cand(int i, const char *id, const char *lease, unsigned lease_ms, unsigned renew_ms,
	unsigned retry_ms, int no_release)
{
	peerop_leader_options o = PEEROP_LEADER_OPTIONS_INIT;
	peerop_leader *l = NULL;
	cand *c = &C[i];

	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->lease, sizeof(c->lease), "%s", lease);
	c->idx = i;
	o.ns = "default";
	o.name = lease;
	o.identity = id;
	o.lease_duration_ms = lease_ms;
	o.renew_deadline_ms = renew_ms;
	o.retry_period_ms = retry_ms;
	o.no_release_on_stop = no_release;
	o.on_started_leading = on_started;
	o.on_stopped_leading = on_stopped;
	o.on_new_leader = on_new_leader;
	o.payload = c;
	ck_assert_msg(peerop_leader_start(&l, CL, &o) == 0, "%s", peerop_error_last()->message);
	ck_assert_str_eq(peerop_leader_identity(l), id);
	__atomic_store_n(&c->l, l, __ATOMIC_RELEASE);
}

static int is_leader(int i)
{
	return peerop_leader_is_leader(handle(i));
}

/* Bit i set when candidate i (among the first n) says it leads. */
static unsigned leaders_mask(int n)
{
	unsigned m = 0;
	int i;
	for (i = 0; i < n; i++)
		if (is_leader(i))
			m |= 1u << i;
	return m;
}

static int one_bit(unsigned m)
{
	return m && !(m & (m - 1));
}

static int bit_index(unsigned m)
{
	int i = 0;
	while (!(m & 1u)) {
		m >>= 1;
		i++;
	}
	return i;
}

/* The stored Lease, or NULL when there is none. */
static json_t *get_lease(const char *name)
{
	json_t *o = NULL;
	int rc = peerop_kube_get(&o, E->client, &LEASES, "default", name);
	if (rc == PEEROP_ENOTFOUND)
		return NULL;
	ck_assert_msg(rc == 0, "GET lease %s: %s", name, peerop_error_last()->message);
	return o;
}

static const json_t *spec_of(const json_t *lease, const char *key)
{
	return json_object_get(json_object_get(lease, "spec"), key);
}

static int holder_is(int i, const char *want)
{
	char *h = peerop_leader_holder(handle(i));
	int eq = h && want && strcmp(h, want) == 0;
	peerop_free(h);
	return eq;
}

static int is_microtime(const json_t *v)
{
	regex_t re;
	int ok;
	if (!json_is_string(v))
		return 0;
	ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$",
		REG_EXTENDED | REG_NOSUB), 0);
	ok = regexec(&re, json_string_value(v), 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

/* A Lease as this candidate writes it. */
static void assert_written_by(const char *lease, const char *id, long long duration_s)
{
	json_t *o = get_lease(lease);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(spec_of(o, "holderIdentity")), id);
	ck_assert_int_eq(json_integer_value(spec_of(o, "leaseDurationSeconds")), duration_s);
	ck_assert_msg(is_microtime(spec_of(o, "renewTime")), "renewTime %s",
		json_string_value(spec_of(o, "renewTime")));
	ck_assert(is_microtime(spec_of(o, "acquireTime")));
	ck_assert(json_is_integer(spec_of(o, "leaseTransitions")));
	json_decref(o);
}

static void assert_released(const char *lease, long long transitions)
{
	json_t *o = get_lease(lease);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(spec_of(o, "holderIdentity")), "");
	ck_assert_int_eq(json_integer_value(spec_of(o, "leaseDurationSeconds")), 1);
	ck_assert(is_microtime(spec_of(o, "renewTime")));
	if (transitions >= 0)
		ck_assert_int_eq(json_integer_value(spec_of(o, "leaseTransitions")), transitions);
	json_decref(o);
}

static void setup(bool data)
{
	memset(C, 0, sizeof(C));
	events[0] = '\0';
	violations = 0;
	E = env_start(NULL, data);
	CL = E->client;
}

/* Stop every candidate (so no callback reads a freed handle), then free. */
static void stop_all(void)
{
	int i;
	for (i = 0; i < MAXC; i++)
		peerop_leader_stop(handle(i));
	for (i = 0; i < MAXC; i++) {
		peerop_leader *l = handle(i);
		__atomic_store_n(&C[i].l, NULL, __ATOMIC_RELEASE);
		peerop_leader_free(l);
	}
	ck_assert_msg(violations == 0, "%d violations; first: %s", violations, first_violation);
}

static void teardown(void)
{
	stop_all();
	env_stop(E);
	E = NULL;
	CL = NULL;
}

static const char *trace_of(int i)
{
	static char copy[1024];
	pthread_mutex_lock(&mu);
	memcpy(copy, C[i].trace, sizeof(copy));
	pthread_mutex_unlock(&mu);
	return copy;
}

/* Create a Lease from raw JSON for its spec (NULL: no spec at all). */
static void put_raw_lease(const char *name, const char *spec_json)
{
	peerop__buf b = PEEROP__BUF_INIT;
	dct_resp r;
	ck_assert_int_eq(peerop__buf_printf(&b, "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
		"\"metadata\":{\"name\":\"%s\"}", name), 0);
	if (spec_json) {
		ck_assert_int_eq(peerop__buf_puts(&b, ",\"spec\":"), 0);
		ck_assert_int_eq(peerop__buf_puts(&b, spec_json), 0);
	}
	ck_assert_int_eq(peerop__buf_puts(&b, "}"), 0);
	dct_req(E->t, &r, "POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", NULL, b.ptr);
	ck_assert_msg(r.code == 201, "create lease %s: %ld %s", name, r.code, r.body ? r.body : "");
	dct_resp_free(&r);
	peerop__buf_dispose(&b);
}

/* ---- races the local control plane cannot be made to lose on cue ---------- */

/* One Lease "race" in default, served by a kt_server; a race lost is
 * scripted: the next create answers AlreadyExists, or the next replace
 * answers Conflict and deletes the Lease, as if another candidate had just
 * written it and the API server had then lost its data. */
typedef struct script {
	pthread_mutex_t mu;
	json_t *lease;
	long long rv;
	int lose_create, lose_replace;
	uint64_t raced_ms;     /* when the lost race was answered */
	uint64_t created_ms;   /* when the last create succeeded */
	int creates;
} script;

static char *status_body(int code, const char *reason)
{
	json_t *st = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
		"status", "Failure", "reason", reason, "message", reason, "code", code);
	char *s = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	return s;
}

static void reply(kt_resp *resp, int code, const char *reason, const json_t *obj)
{
	resp->status = code;
	resp->body = obj ? json_dumps(obj, JSON_COMPACT) : status_body(code, reason);
}

static void stamp(script *sc, json_t *obj)
{
	char rv[32];
	snprintf(rv, sizeof(rv), "%lld", ++sc->rv);
	json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
	json_decref(sc->lease);
	sc->lease = json_incref(obj);
}

static void script_handler(const kt_req *req, kt_resp *resp, void *arg)
{
	static const char *coll = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
	script *sc = arg;
	json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
	int one = !strcmp(req->path, "/apis/coordination.k8s.io/v1/namespaces/default/leases/race");

	pthread_mutex_lock(&sc->mu);
	if (one && !strcmp(req->method, "GET")) {
		reply(resp, sc->lease ? 200 : 404, "NotFound", sc->lease);
	} else if (!strcmp(req->path, coll) && !strcmp(req->method, "POST") && json_is_object(body)) {
		if (sc->lease || sc->lose_create) {
			if (sc->lose_create) {
				sc->lose_create = 0;
				sc->raced_ms = th_now_ms();
			}
			reply(resp, 409, "AlreadyExists", NULL);
		} else {
			stamp(sc, body);
			sc->created_ms = th_now_ms();
			sc->creates++;
			reply(resp, 201, NULL, sc->lease);
		}
	} else if (one && !strcmp(req->method, "PUT") && json_is_object(body)) {
		const char *rv = json_string_value(json_object_get(json_object_get(body, "metadata"), "resourceVersion"));
		char cur[32];
		snprintf(cur, sizeof(cur), "%lld", sc->rv);
		if (!sc->lease) {
			reply(resp, 404, "NotFound", NULL);
		} else if (sc->lose_replace || !rv || strcmp(rv, cur) != 0) {
			if (sc->lose_replace) {
				sc->lose_replace = 0;
				sc->raced_ms = th_now_ms();
				json_decref(sc->lease);
				sc->lease = NULL;
			}
			reply(resp, 409, "Conflict", NULL);
		} else {
			stamp(sc, body);
			reply(resp, 200, NULL, sc->lease);
		}
	} else {
		reply(resp, 404, "NotFound", NULL);
	}
	pthread_mutex_unlock(&sc->mu);
	json_decref(body);
}

static uint64_t script_get(script *sc, const uint64_t *field)
{
	uint64_t v;
	pthread_mutex_lock(&sc->mu);
	v = *field;
	pthread_mutex_unlock(&sc->mu);
	return v;
}

static int script_creates(script *sc)
{
	int v;
	pthread_mutex_lock(&sc->mu);
	v = sc->creates;
	pthread_mutex_unlock(&sc->mu);
	return v;
}

/* A candidate that lost a write to another's, and then finds the Lease
 * gone, waits out a lease before creating it: the winner may be leading
 * though this candidate never read its record. (This was check_leader's
 * flake under load: the loser of the first create race found the Lease
 * gone after the in-memory restart, created it at once and led beside
 * the winner.) */
START_TEST(test_lost_race_then_gone)
{
	script sc;
	kt_server *srv;
	char *dir, *path;
	const char *pairs[] = { "URL", NULL, NULL };
	peerop_kube_config_options co = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	uint64_t raced;

	memset(C, 0, sizeof(C));
	events[0] = '\0';
	violations = 0;
	memset(&sc, 0, sizeof(sc));
	pthread_mutex_init(&sc.mu, NULL);
	sc.lose_create = 1;
	srv = kt_server_start(NULL, NULL, NULL, script_handler, &sc);
	dir = th_tmpdir();
	pairs[1] = kt_server_url(srv);
	path = kt_write_template(dir, "kubeconfig", "current-context: t\nclusters:\n- name: c\n  cluster:\n"
		"    server: @URL@\nusers:\n- name: u\n  user:\n    token: abc\ncontexts:\n- name: t\n"
		"  context: {cluster: c, user: u, namespace: default}\n", pairs);
	co.kubeconfig = path;
	ck_assert_msg(peerop_kube_config_load(&cfg, &co) == 0, "%s", peerop_error_last()->message);
	ck_assert_msg(peerop_kube_client_new(&CL, cfg, NULL) == 0, "%s", peerop_error_last()->message);
	peerop_kube_config_free(cfg);

	/* the create race: lost, then the Lease is not there */
	start_cand(0, "loser", "race", 3000, 1500, 300, 0);
	ck_assert(TH_WAIT_UNTIL(is_leader(0), 30000));
	raced = script_get(&sc, &sc.raced_ms);
	ck_assert_uint_gt(raced, 0);
	ck_assert_msg(C[0].started_ms >= raced + 3000, "created %lld ms after losing the race",
		(long long)C[0].started_ms - (long long)raced);

	/* a replace lost while leading, then the Lease is not there */
	pthread_mutex_lock(&sc.mu);
	sc.lose_replace = 1;
	pthread_mutex_unlock(&sc.mu);
	ck_assert(TH_WAIT_UNTIL(get_int(&C[0].stopped) >= 1, 30000));
	ck_assert(TH_WAIT_UNTIL(script_creates(&sc) >= 2, 30000));
	raced = script_get(&sc, &sc.raced_ms);
	ck_assert_msg(script_get(&sc, &sc.created_ms) >= raced + 3000, "created %lld ms after losing the race",
		(long long)script_get(&sc, &sc.created_ms) - (long long)raced);
	ck_assert(TH_WAIT_UNTIL(is_leader(0), 30000));

	stop_all();
	peerop_kube_client_free(CL);
	CL = NULL;
	kt_server_stop(srv);
	json_decref(sc.lease);
	pthread_mutex_destroy(&sc.mu);
	free(path);
	th_tmpdir_remove(dir);
}
END_TEST

/* ---- the record, alone ------------------------------------------------------ */

START_TEST(test_record)
{
	static const struct { const char *json; peerop__leader_holder state; long long dur, trans; int acq; } cases[] = {
		{ "{}", PEEROP__LEADER_FREE, 0, 0, 0 },
		{ "{\"spec\":null}", PEEROP__LEADER_FREE, 0, 0, 0 },
		{ "{\"spec\":[]}", PEEROP__LEADER_UNREADABLE, 0, 0, 0 },
		{ "{\"spec\":{\"holderIdentity\":\"\",\"leaseDurationSeconds\":1}}", PEEROP__LEADER_FREE, 1, 0, 0 },
		{ "{\"spec\":{\"holderIdentity\":null}}", PEEROP__LEADER_FREE, 0, 0, 0 },
		{ "{\"spec\":{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":15,\"leaseTransitions\":4,"
		  "\"acquireTime\":\"2026-01-02T03:04:05.123456Z\"}}", PEEROP__LEADER_HELD, 15, 4, 1 },
		{ "{\"spec\":{\"holderIdentity\":7,\"leaseDurationSeconds\":0}}", PEEROP__LEADER_UNREADABLE, 0, 0, 0 },
		{ "{\"spec\":{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":-3,\"leaseTransitions\":-1}}",
		  PEEROP__LEADER_HELD, 0, 0, 0 },
		{ "{\"spec\":{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":2147483648,\"acquireTime\":\"x\"}}",
		  PEEROP__LEADER_HELD, 0, 0, 0 },
		{ "{\"spec\":{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":2147483647,\"acquireTime\":5}}",
		  PEEROP__LEADER_HELD, 2147483647LL, 0, 0 },
		{ "{\"spec\":{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":\"15\",\"leaseTransitions\":1.5}}",
		  PEEROP__LEADER_HELD, 0, 0, 0 },
		{ "{\"spec\":{\"holderIdentity\":\"a\\u0000b\"}}", PEEROP__LEADER_UNREADABLE, 0, 0, 0 },
	};
	peerop__leader_record r;
	char *big;
	json_t *o;
	char buf[40];
	size_t i;

	for (i = 0; i < PEEROP__ARRAY_SIZE(cases); i++) {
		json_error_t err;
		o = json_loads(cases[i].json, JSON_ALLOW_NUL, &err);
		ck_assert_msg(o != NULL, "%s: %s", cases[i].json, err.text);
		peerop__leader_record_read(&r, o);
		ck_assert_msg(r.state == cases[i].state, "%s: state %d", cases[i].json, r.state);
		ck_assert_msg(r.duration_s == cases[i].dur, "%s: duration %lld", cases[i].json, r.duration_s);
		ck_assert_msg(r.transitions == cases[i].trans, "%s: transitions %lld", cases[i].json, r.transitions);
		ck_assert_msg(!!r.acquire_time == cases[i].acq, "%s: acquireTime", cases[i].json);
		ck_assert(r.state == PEEROP__LEADER_HELD ? r.holder != NULL : r.holder == NULL);
		json_decref(o);
	}
	peerop__leader_record_read(&r, NULL);
	ck_assert_int_eq(r.state, PEEROP__LEADER_FREE);

	/* a holder over the limit is neither copied nor named */
	big = malloc(PEEROP__LEADER_MAX_IDENTITY + 2);
	memset(big, 'x', PEEROP__LEADER_MAX_IDENTITY + 1);
	big[PEEROP__LEADER_MAX_IDENTITY + 1] = '\0';
	o = json_pack("{s:{s:s}}", "spec", "holderIdentity", big);
	peerop__leader_record_read(&r, o);
	ck_assert_int_eq(r.state, PEEROP__LEADER_UNREADABLE);
	ck_assert_ptr_null(r.holder);
	json_decref(o);
	big[PEEROP__LEADER_MAX_IDENTITY] = '\0';
	o = json_pack("{s:{s:s}}", "spec", "holderIdentity", big);
	peerop__leader_record_read(&r, o);
	ck_assert_int_eq(r.state, PEEROP__LEADER_HELD);
	json_decref(o);
	free(big);

	peerop__leader_format_microtime(buf, sizeof(buf), 0);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000000Z");
	peerop__leader_format_microtime(buf, sizeof(buf), 1795700819000042LL);
	ck_assert_str_eq(buf, "2026-11-26T13:46:59.000042Z");
	ck_assert_int_eq(peerop__leader_wire_seconds(0), 1);
	ck_assert_int_eq(peerop__leader_wire_seconds(1), 1);
	ck_assert_int_eq(peerop__leader_wire_seconds(1000), 1);
	ck_assert_int_eq(peerop__leader_wire_seconds(1001), 2);
	ck_assert_int_eq(peerop__leader_wire_seconds(2500), 3);
	ck_assert_int_eq(peerop__leader_wire_seconds(15000), 15);

	o = peerop__leader_spec_new("me", 15, NULL, 3, 1795700819123456LL);
	ck_assert_str_eq(json_string_value(json_object_get(o, "holderIdentity")), "me");
	ck_assert_str_eq(json_string_value(json_object_get(o, "renewTime")), "2026-11-26T13:46:59.123456Z");
	ck_assert_str_eq(json_string_value(json_object_get(o, "acquireTime")), "2026-11-26T13:46:59.123456Z");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "leaseTransitions")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "leaseDurationSeconds")), 15);
	json_decref(o);
}
END_TEST

/* ---- elections ------------------------------------------------------------ */

START_TEST(test_three_candidates)
{
	uint64_t until;
	int samples = 0, agreed = 0, i, lead;
	unsigned m;

	setup(false);
	th_log_capture_start(PEEROP_LOG_INFO);
	for (i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof(id), "cand-%d", i);
		start_cand(i, id, "three", 3000, 1500, 300, 0);
	}
	ck_assert(TH_WAIT_UNTIL(one_bit(leaders_mask(3)), 20000));
	/* Watch for a while (renewals happen every 300 ms): never two leaders,
	 * and when the leader is the same before and after reading the Lease,
	 * the Lease names it. */
	until = th_now_ms() + 4000;
	while (th_now_ms() < until) {
		unsigned a = leaders_mask(3), b;
		json_t *o = get_lease("three");
		b = leaders_mask(3);
		ck_assert_msg(!(a & (a - 1)) && !(b & (b - 1)), "two leaders: %x %x", a, b);
		if (a == b && a) {
			ck_assert_ptr_nonnull(o);
			ck_assert_str_eq(json_string_value(spec_of(o, "holderIdentity")), C[bit_index(a)].id);
			agreed++;
		}
		json_decref(o);
		samples++;
		th_sleep_ms(20);
	}
	ck_assert_int_gt(agreed, 0);
	ck_assert(TH_WAIT_UNTIL(one_bit(m = leaders_mask(3)), 20000));
	lead = bit_index(m);
	ck_assert(TH_WAIT_UNTIL(holder_is(0, C[lead].id) && holder_is(1, C[lead].id) && holder_is(2, C[lead].id),
		10000));
	ck_assert_int_ge(get_int(&C[lead].started), 1);
	for (i = 0; i < 3; i++)
		ck_assert_msg(strstr(trace_of(i), C[lead].id) != NULL, "%s saw %s", C[i].id, trace_of(i));
	assert_written_by("three", C[lead].id, 3);
	ck_assert_int_ge(th_log_count("acquired by"), 1);
	teardown();
	/* the leader released the Lease on stop; nothing logged a token */
	ck_assert_int_ge(th_log_count("released by"), 1);
	th_log_capture_stop();
	(void)samples;
}
END_TEST

START_TEST(test_release_on_stop)
{
	uint64_t t_stop;
	char *log, *token;

	setup(false);
	token = strdup(E->t->token);
	th_log_capture_start(PEEROP_LOG_DEBUG);
	/* A lease of 20 s: a successor that takes over within 15 s of the stop
	 * did so because the Lease was released, not because it expired. */
	start_cand(0, "first", "rel", 20000, 15000, 300, 0);
	ck_assert(TH_WAIT_UNTIL(is_leader(0), 20000));
	start_cand(1, "second", "rel", 20000, 15000, 300, 0);
	ck_assert(TH_WAIT_UNTIL(holder_is(1, "first"), 10000));
	t_stop = th_now_ms();
	peerop_leader_stop(handle(0));
	ck_assert(!is_leader(0));
	ck_assert_int_eq(get_int(&C[0].stopped), 1);
	ck_assert_msg(TH_WAIT_UNTIL(is_leader(1), 15000), "no takeover %llu ms after a release",
		(unsigned long long)(th_now_ms() - t_stop));
	/* the successor saw the Lease released (no holder) before taking it */
	ck_assert_str_eq(trace_of(1), "first,-,second,");
	pthread_mutex_lock(&mu);
	ck_assert_str_eq(events, "S0 T0 S1 ");
	pthread_mutex_unlock(&mu);
	assert_written_by("rel", "second", 20);
	/* the last one releases too: an empty holder, 1 s, the count kept */
	peerop_leader_stop(handle(1));
	assert_released("rel", 1);
	ck_assert_int_ge(th_log_count("released by first"), 1);
	log = th_log_captured();
	ck_assert_ptr_null(strstr(log, token));
	free(log);
	free(token);
	th_log_capture_stop();
	teardown();
}
END_TEST

START_TEST(test_no_release_on_stop)
{
	json_t *o;
	char *rv1;
	uint64_t t_pre;
	const char *h;

	setup(false);
	start_cand(0, "first", "norel", 3000, 1500, 300, 1);
	ck_assert(TH_WAIT_UNTIL(is_leader(0), 20000));
	start_cand(1, "second", "norel", 3000, 1500, 300, 1);
	ck_assert(TH_WAIT_UNTIL(holder_is(1, "first"), 10000));
	/* See the leader renew after t_pre: its last change is later than t_pre,
	 * so the successor cannot take over before t_pre + 3 s. */
	o = get_lease("norel");
	rv1 = strdup(json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion")));
	json_decref(o);
	t_pre = th_now_ms();
	ck_assert(TH_WAIT_UNTIL(({
		json_t *x = get_lease("norel");
		int changed = strcmp(json_string_value(json_object_get(json_object_get(x, "metadata"),
			"resourceVersion")), rv1) != 0;
		json_decref(x);
		changed; }), 10000));
	free(rv1);
	peerop_leader_stop(handle(0));
	ck_assert_int_eq(get_int(&C[0].stopped), 1);
	o = get_lease("norel");
	h = json_string_value(spec_of(o, "holderIdentity"));
	ck_assert_msg(h && (strcmp(h, "first") == 0 || strcmp(h, "second") == 0), "holder %s", h ? h : "(none)");
	ck_assert_int_eq(json_integer_value(spec_of(o, "leaseDurationSeconds")), 3);
	json_decref(o);
	ck_assert(TH_WAIT_UNTIL(is_leader(1), 30000));
	ck_assert_msg(C[1].started_ms + 5 >= t_pre + 3000, "took over %lld ms after the last renewal was seen",
		(long long)C[1].started_ms - (long long)t_pre);
	ck_assert_str_eq(trace_of(1), "first,second,");
	teardown();
}
END_TEST

/* The leader cannot renew (every request fails with 500): it stops leading
 * before anyone else starts, then competes again. */
START_TEST(test_renew_failures)
{
	const char *s1, *t0;

	setup(false);
	start_cand(0, "first", "fail", 3000, 1500, 300, 0);
	ck_assert(TH_WAIT_UNTIL(is_leader(0), 20000));
	start_cand(1, "second", "fail", 3000, 1500, 300, 0);
	ck_assert(TH_WAIT_UNTIL(holder_is(1, "first"), 10000));
	admin(E, "/_devcluster/fail?code=500&count=1000000");
	ck_assert(TH_WAIT_UNTIL(get_int(&C[0].stopped) >= 1, 20000));
	ck_assert(!is_leader(0));
	ck_assert(!is_leader(1));
	admin(E, "/_devcluster/reset");
	ck_assert(TH_WAIT_UNTIL(one_bit(leaders_mask(2)), 20000));
	pthread_mutex_lock(&mu);
	t0 = strstr(events, "T0");
	s1 = strstr(events, "S1");
	ck_assert_msg(t0 && (!s1 || s1 > t0), "events %s", events);
	pthread_mutex_unlock(&mu);
	if (!is_leader(0)) {
		/* the other took over: the first still competes, and gets it back */
		peerop_leader_stop(handle(1));
		ck_assert(TH_WAIT_UNTIL(is_leader(0), 20000));
	}
	ck_assert_int_ge(get_int(&C[0].started), 2);
	teardown();
}
END_TEST

/* The API server hangs: calls are capped (lease - renew deadline), so the
 * leader still stops leading, and stop returns. */
START_TEST(test_api_hangs)
{
	uint64_t t0;

	setup(false);
	start_cand(0, "first", "hang", 3000, 1500, 300, 0);
	ck_assert(TH_WAIT_UNTIL(is_leader(0), 20000));
	admin(E, "/_devcluster/delay?ms=6000");
	ck_assert(TH_WAIT_UNTIL(get_int(&C[0].stopped) >= 1, 20000));
	ck_assert(!is_leader(0));
	admin(E, "/_devcluster/delay?ms=0");
	ck_assert(TH_WAIT_UNTIL(is_leader(0), 20000));
	ck_assert_int_ge(get_int(&C[0].started), 2);
	/* hang again, and stop while calls hang: each is capped at 1.5 s */
	admin(E, "/_devcluster/delay?ms=6000");
	t0 = th_now_ms();
	peerop_leader_stop(handle(0));
	ck_assert_msg(th_now_ms() - t0 < 20000, "stop took %llu ms", (unsigned long long)(th_now_ms() - t0));
	admin(E, "/_devcluster/delay?ms=0");
	teardown();
}
END_TEST

static void restart_while_leading(bool data)
{
	int lead, i;
	unsigned m;

	setup(data);
	start_cand(0, "first", "restart", 3000, 1500, 300, 0);
	start_cand(1, "second", "restart", 3000, 1500, 300, 0);
	ck_assert(TH_WAIT_UNTIL(one_bit(m = leaders_mask(2)), 20000));
	lead = bit_index(m);
	ck_assert_int_eq(dc_server_restart(E->t->srv), 0);
	/* after the restart: one leader, and the Lease names it */
	for (i = 0;; i++) {
		json_t *o;
		const char *h;
		int ok;
		ck_assert_msg(TH_WAIT_UNTIL(one_bit(m = leaders_mask(2)), 20000), "no leader after the restart");
		o = get_lease("restart");
		h = o ? json_string_value(spec_of(o, "holderIdentity")) : NULL;
		ok = h && strcmp(h, C[bit_index(m)].id) == 0 && leaders_mask(2) == m;
		json_decref(o);
		if (ok)
			break;
		ck_assert_msg(i < 100, "the Lease never named the leader");
		th_sleep_ms(50);
	}
	/* (the callbacks checked that nobody started while another led) */
	(void)lead;
	teardown();
}

START_TEST(test_restart_persisted)
{
	restart_while_leading(true);
}
END_TEST

START_TEST(test_restart_in_memory)
{
	restart_while_leading(false);
}
END_TEST

/* is_leader() turns 0 at the renew deadline even while the elector's
 * thread is blocked in a call (here: every reply delayed 10 s, calls capped
 * at lease - renew deadline = 5 s), before on_stopped_leading runs. */
START_TEST(test_is_leader_while_blocked)
{
	int stopped_then;

	setup(false);
	start_cand(0, "first", "blocked", 6000, 1000, 300, 0);
	ck_assert(TH_WAIT_UNTIL(is_leader(0), 20000));
	admin(E, "/_devcluster/delay?ms=10000");
	ck_assert(TH_WAIT_UNTIL(!is_leader(0), 20000));
	stopped_then = get_int(&C[0].stopped);
	ck_assert_msg(stopped_then == 0, "is_leader() stayed 1 until on_stopped_leading");
	ck_assert(TH_WAIT_UNTIL(get_int(&C[0].stopped) >= 1, 30000));
	admin(E, "/_devcluster/delay?ms=0");
	teardown();
}
END_TEST

/* A Lease deleted while another holds it: that holder may still lead (it
 * learns at its next renewal), so the candidate waits out its lease
 * before creating the Lease again. */
START_TEST(test_deleted_lease)
{
	uint64_t t_del;

	setup(false);
	/* 6 s: long enough that the heir cannot have taken it over by expiry
	 * before the deletion */
	put_raw_lease("deleted", "{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":6}");
	start_cand(0, "heir", "deleted", 3000, 1500, 300, 0);
	ck_assert(TH_WAIT_UNTIL(holder_is(0, "ghost"), 20000));
	t_del = th_now_ms();
	ck_assert_int_eq(peerop_kube_delete(NULL, E->client, &LEASES, "default", "deleted", NULL), 0);
	ck_assert(TH_WAIT_UNTIL(is_leader(0), 20000));
	ck_assert_msg(C[0].started_ms >= t_del + 6000, "created %lld ms after the deletion",
		(long long)C[0].started_ms - (long long)t_del);
	ck_assert_str_eq(trace_of(0), "ghost,heir,");
	assert_written_by("deleted", "heir", 3);
	teardown();
}
END_TEST

/* renewTime far in the future or the past changes nothing: a foreign
 * holder's record expires leaseDurationSeconds after this candidate first
 * saw it. */
START_TEST(test_clock_skew)
{
	uint64_t t_start;
	int i;

	setup(false);
	put_raw_lease("skew-future", "{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":2,"
		"\"acquireTime\":\"2099-01-01T00:00:00.000000Z\",\"renewTime\":\"2099-01-01T00:00:00.000000Z\"}");
	put_raw_lease("skew-past", "{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":2,"
		"\"acquireTime\":\"1970-01-01T00:00:01.000000Z\",\"renewTime\":\"1970-01-01T00:00:01.000000Z\"}");
	t_start = th_now_ms();
	start_cand(0, "future-watcher", "skew-future", 3000, 1500, 300, 0);
	start_cand(1, "past-watcher", "skew-past", 3000, 1500, 300, 0);
	ck_assert(TH_WAIT_UNTIL(is_leader(0) && is_leader(1), 20000));
	for (i = 0; i < 2; i++) {
		ck_assert_msg(C[i].started_ms >= t_start + 2000, "%s took over after %lld ms", C[i].id,
			(long long)C[i].started_ms - (long long)t_start);
		ck_assert_msg(strncmp(trace_of(i), "ghost,", 6) == 0, "%s", trace_of(i));
		assert_written_by(C[i].lease, C[i].id, 3);
	}
	teardown();
}
END_TEST

/* Leases other programs stored, from odd to hostile. */
START_TEST(test_hostile_leases)
{
	static const struct { const char *name; const char *spec; long long min_ms; } cases[] = {
		{ "h-nospec", NULL, 0 },
		{ "h-nullspec", "null", 0 },
		{ "h-specstr", "\"garbage\"", 3000 },      /* unreadable: our 3 s */
		{ "h-specarr", "[1,2]", 3000 },
		{ "h-holder-int", "{\"holderIdentity\":42,\"leaseDurationSeconds\":2}", 2000 },
		{ "h-holder-obj", "{\"holderIdentity\":{\"a\":1}}", 3000 },
		{ "h-holder-ctl", "{\"holderIdentity\":\"\\u001b]0;x\\u0007\\n\",\"leaseDurationSeconds\":2}", 2000 },
		{ "h-empty", "{\"holderIdentity\":\"\",\"leaseDurationSeconds\":100000}", 0 },
		{ "h-dur-str", "{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":\"15\"}", 3000 },
		{ "h-dur-zero", "{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":0}", 3000 },
		{ "h-dur-neg", "{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":-5}", 3000 },
		{ "h-dur-huge", "{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":1000000000000}", 3000 },
		{ "h-dur-real", "{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":2.5}", 3000 },
		{ "h-junk", "{\"holderIdentity\":\"\",\"leaseTransitions\":\"abc\",\"acquireTime\":123,"
		  "\"renewTime\":\"not a time\"}", 0 },
		{ "h-bad-times", "{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":1,\"leaseTransitions\":-7,"
		  "\"acquireTime\":\"garbage\",\"renewTime\":[]}", 1000 },
		{ "h-big-holder", NULL, 2000 },           /* 1 MiB holderIdentity, built below */
		{ "h-dur-max", "{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":2147483647}", -1 },
	};
	const size_t n = PEEROP__ARRAY_SIZE(cases);
	uint64_t t_start;
	size_t i;
	int never = -1;

	setup(false);
	for (i = 0; i < n; i++) {
		if (strcmp(cases[i].name, "h-big-holder") == 0) {
			peerop__buf b = PEEROP__BUF_INIT;
			size_t k;
			ck_assert_int_eq(peerop__buf_puts(&b, "{\"holderIdentity\":\""), 0);
			for (k = 0; k < 1024; k++)
				ck_assert_int_eq(peerop__buf_printf(&b, "%01024d", 7), 0);
			ck_assert_int_eq(peerop__buf_puts(&b, "\",\"leaseDurationSeconds\":2}"), 0);
			put_raw_lease(cases[i].name, b.ptr);
			peerop__buf_dispose(&b);
		} else {
			put_raw_lease(cases[i].name, cases[i].spec);
		}
	}
	t_start = th_now_ms();
	for (i = 0; i < n; i++) {
		char id[64];
		snprintf(id, sizeof(id), "taker-%s", cases[i].name);
		start_cand((int)i, id, cases[i].name, 3000, 1500, 300, 0);
		if (cases[i].min_ms < 0)
			never = (int)i;
	}
	for (i = 0; i < n; i++) {
		if (cases[i].min_ms < 0)
			continue;
		ck_assert_msg(TH_WAIT_UNTIL(is_leader((int)i), 30000), "%s: never taken over", cases[i].name);
		ck_assert_msg(C[i].started_ms + 5 >= t_start + (uint64_t)cases[i].min_ms,
			"%s: taken over after %lld ms, before %lld ms", cases[i].name,
			(long long)C[i].started_ms - (long long)t_start, cases[i].min_ms);
		assert_written_by(cases[i].name, C[i].id, 3);
	}
	/* A lease of 68 years is honoured: still not taken over after our
	 * own lease duration and several retries. */
	ck_assert_int_ge(never, 0);
	while (th_now_ms() < t_start + 5000) {
		ck_assert(!is_leader(never));
		th_sleep_ms(50);
	}
	ck_assert(!is_leader(never));
	ck_assert(holder_is(never, "ghost"));
	teardown();
}
END_TEST

/* ---- options, lifecycle ------------------------------------------------- */

START_TEST(test_options)
{
	peerop_leader_options o, init = PEEROP_LEADER_OPTIONS_INIT;
	peerop_leader *l = (peerop_leader *)&o, *l2 = NULL;
	char *big;
	const char *id;
	json_t *lease;

	ck_assert_int_eq(peerop_leader_options_init(NULL, PEEROP_LEADER_OPTIONS_VERSION), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_leader_options_init(&o, 99), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_leader_options_init(&o, PEEROP_LEADER_OPTIONS_VERSION), 0);
	ck_assert_mem_eq(&o, &init, sizeof(o));

	setup(false);
	ck_assert_int_eq(peerop_leader_start(&l, E->client, &o), PEEROP_EINVAL); /* no name */
	ck_assert_ptr_null(l);
	o.name = "";
	ck_assert_int_eq(peerop_leader_start(&l, E->client, &o), PEEROP_EINVAL);
	o.name = "opts";
	ck_assert_int_eq(peerop_leader_start(NULL, E->client, &o), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_leader_start(&l, NULL, &o), PEEROP_EINVAL);
	ck_assert_int_eq(peerop_leader_start(&l, E->client, NULL), PEEROP_EINVAL);
	o.version = 2;
	ck_assert_int_eq(peerop_leader_start(&l, E->client, &o), PEEROP_EINVAL);
	o.version = PEEROP_LEADER_OPTIONS_VERSION;
	o.identity = "";
	ck_assert_int_eq(peerop_leader_start(&l, E->client, &o), PEEROP_EINVAL);
	big = malloc(PEEROP__LEADER_MAX_IDENTITY + 2);
	memset(big, 'a', PEEROP__LEADER_MAX_IDENTITY + 1);
	big[PEEROP__LEADER_MAX_IDENTITY + 1] = '\0';
	o.identity = big;
	ck_assert_int_eq(peerop_leader_start(&l, E->client, &o), PEEROP_EINVAL);
	free(big);
	o.identity = NULL;
	o.ns = "";
	ck_assert_int_eq(peerop_leader_start(&l, E->client, &o), PEEROP_EINVAL);
	o.ns = NULL;
	/* durations out of order */
	o.lease_duration_ms = 3000;
	o.renew_deadline_ms = 3000;
	ck_assert_int_eq(peerop_leader_start(&l, E->client, &o), PEEROP_EINVAL);
	o.renew_deadline_ms = 4000;
	ck_assert_int_eq(peerop_leader_start(&l, E->client, &o), PEEROP_EINVAL);
	o.renew_deadline_ms = 0; /* the default 10 s is not under a 3 s lease */
	ck_assert_int_eq(peerop_leader_start(&l, E->client, &o), PEEROP_EINVAL);
	ck_assert(strstr(peerop_error_last()->message, "renew deadline") != NULL);
	o.renew_deadline_ms = 1500;
	o.retry_period_ms = 1500;
	ck_assert_int_eq(peerop_leader_start(&l, E->client, &o), PEEROP_EINVAL);
	o.retry_period_ms = 0;  /* the default 2 s is not under 1.5 s */
	ck_assert_int_eq(peerop_leader_start(&l, E->client, &o), PEEROP_EINVAL);
	ck_assert_ptr_null(l);

	/* all defaults but the name: the client's namespace, a made-up identity */
	peerop_leader_options_init(&o, PEEROP_LEADER_OPTIONS_VERSION);
	o.name = "opts";
	ck_assert_int_eq(peerop_leader_start(&l, E->client, &o), 0);
	ck_assert_int_eq(peerop_leader_start(&l2, E->client, &o), 0);
	id = peerop_leader_identity(l);
	ck_assert_msg(strlen(id) > 33 && id[strlen(id) - 33] == '_', "identity %s", id);
	ck_assert_str_ne(id, peerop_leader_identity(l2));
	ck_assert(TH_WAIT_UNTIL(peerop_leader_is_leader(l) || peerop_leader_is_leader(l2), 20000));
	assert_written_by("opts", peerop_leader_is_leader(l) ? id : peerop_leader_identity(l2), 15);
	peerop_leader_stop(l);
	peerop_leader_stop(l);  /* twice */
	ck_assert(!peerop_leader_is_leader(l));
	peerop_leader_free(l);
	peerop_leader_free(l2);

	/* a lease under a second goes on the wire as 1 s */
	o.name = "subsecond";
	o.lease_duration_ms = 500;
	o.renew_deadline_ms = 400;
	o.retry_period_ms = 100;
	ck_assert_int_eq(peerop_leader_start(&l, E->client, &o), 0);
	ck_assert(TH_WAIT_UNTIL(peerop_leader_is_leader(l), 20000));
	lease = get_lease("subsecond");
	ck_assert_int_eq(json_integer_value(spec_of(lease, "leaseDurationSeconds")), 1);
	json_decref(lease);
	peerop_leader_free(l);

	/* NULL everywhere */
	peerop_leader_free(NULL);
	peerop_leader_stop(NULL);
	ck_assert_int_eq(peerop_leader_is_leader(NULL), 0);
	ck_assert_ptr_null(peerop_leader_holder(NULL));
	ck_assert_ptr_null(peerop_leader_identity(NULL));
	teardown();
}
END_TEST

/* stop wakes a candidate out of a half-hour wait at once, leader or not. */
START_TEST(test_stop_is_prompt)
{
	uint64_t t0, waiting_ms, leading_ms;
	json_t *held, *after;

	setup(false);
	put_raw_lease("prompt-held", "{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":3600}");
	start_cand(0, "waiter", "prompt-held", 3600000, 3000000, 1800000, 0);
	start_cand(1, "leader", "prompt-free", 3600000, 3000000, 1800000, 0);
	ck_assert(TH_WAIT_UNTIL(is_leader(1), 20000));
	ck_assert(TH_WAIT_UNTIL(holder_is(0, "ghost"), 20000));
	held = get_lease("prompt-held");
	t0 = th_now_ms();
	peerop_leader_stop(handle(0));
	waiting_ms = th_now_ms() - t0;
	/* a candidate that did not hold the Lease leaves it alone on stop */
	after = get_lease("prompt-held");
	ck_assert(json_equal(held, after));
	json_decref(held);
	json_decref(after);
	t0 = th_now_ms();
	peerop_leader_stop(handle(1));
	leading_ms = th_now_ms() - t0;
	ck_assert_msg(waiting_ms < 60000 && leading_ms < 60000, "stop took %llu and %llu ms",
		(unsigned long long)waiting_ms, (unsigned long long)leading_ms);
	ck_assert_int_eq(get_int(&C[1].stopped), 1);
	ck_assert_int_eq(get_int(&C[0].started), 0);
	assert_released("prompt-free", 0);
	teardown();
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("leader");
	TCase *tc = tcase_create("leader");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_record);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, test_three_candidates);
	tcase_add_test(tc, test_release_on_stop);
	tcase_add_test(tc, test_no_release_on_stop);
	tcase_add_test(tc, test_renew_failures);
	tcase_add_test(tc, test_api_hangs);
	tcase_add_test(tc, test_restart_persisted);
	tcase_add_test(tc, test_restart_in_memory);
	tcase_add_test(tc, test_lost_race_then_gone);
	tcase_add_test(tc, test_is_leader_while_blocked);
	tcase_add_test(tc, test_deleted_lease);
	tcase_add_test(tc, test_clock_skew);
	tcase_add_test(tc, test_hostile_leases);
	tcase_add_test(tc, test_stop_is_prompt);
	suite_add_tcase(s, tc);
	return s;
}
