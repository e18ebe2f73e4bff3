/* psa.c: Pod Security admission as the real server runs it
 * (k8s.io/pod-security-admission): a namespace's labels
 * pod-security.kubernetes.io/enforce and /warn name a level (privileged,
 * baseline, restricted); a Pod violating its namespace's enforce level is
 * refused (403, "violates PodSecurity "restricted:latest": ..."), and a
 * Pod, or the pod template of a workload (Deployment, ReplicaSet...), that
 * violates the enforce or warn level gets a Warning header ("would violate
 * PodSecurity ..."), which kubectl prints. The checks are the real ones
 * for the fields this server knows, in the real order and words: host
 * namespaces, privileged, capabilities, hostPath and other volume types,
 * hostPorts, allowPrivilegeEscalation, runAsNonRoot, runAsUser, seccomp,
 * SELinux, /proc mount, sysctls, AppArmor.
 *
 * Not here: the audit level (there is no audit log), exemptions, and
 * *-version labels (every level is "latest"). */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LVL_PRIVILEGED, LVL_BASELINE, LVL_RESTRICTED, LVL_INVALID };

static int level_of(const char *v)
{
	if (!v)
		return LVL_PRIVILEGED;
	if (!strcmp(v, "privileged"))
		return LVL_PRIVILEGED;
	if (!strcmp(v, "baseline"))
		return LVL_BASELINE;
	if (!strcmp(v, "restricted"))
		return LVL_RESTRICTED;
	return LVL_INVALID;
}

static const char *const level_names[] = { "privileged", "baseline", "restricted", "restricted" };

/* A list of names as the real messages write them: container "a" /
 * containers "a", "b". */
typedef struct names {
	const char *v[64];
	size_t n;
} names;

static void add(names *l, const char *s)
{
	size_t i;
	if (!s)
		s = "";
	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return;
	if (l->n < PEEROP__ARRAY_SIZE(l->v))
		l->v[l->n++] = s;
}

static void put_names(peerop__buf *b, const char *one, const char *many, const names *l)
{
	size_t i;
	peerop__buf_printf(b, "%s ", l->n == 1 ? one : many);
	for (i = 0; i < l->n; i++)
		peerop__buf_printf(b, "%s\"%s\"", i ? ", " : "", l->v[i]);
}

typedef struct ctr_ref {
	const char *name;
	const json_t *c;
} ctr_ref;

static size_t containers(const json_t *spec, ctr_ref *out, size_t max)
{
	static const char *const lists[] = { "initContainers", "containers", "ephemeralContainers" };
	size_t i, j, n = 0;
	const json_t *c;
	for (i = 0; i < PEEROP__ARRAY_SIZE(lists); i++)
		json_array_foreach(json_object_get(spec, lists[i]), j, c)
			if (json_is_object(c) && n < max) {
				out[n].name = json_string_value(json_object_get(c, "name"));
				out[n++].c = c;
			}
	return n;
}

static const json_t *sc(const json_t *o, const char *k)
{
	return json_object_get(json_object_get(o, "securityContext"), k);
}

static void sep(peerop__buf *b)
{
	if (b->len)
		peerop__buf_puts(b, ", ");
}

static bool in_set(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(v, *set))
			return true;
	return false;
}

/* The violations of spec at level lvl, as the real message lists them
 * ("" when none). malloc'd. */
static char *violations(const json_t *spec, const json_t *meta, int lvl)
{
	peerop__buf b = PEEROP__BUF_INIT;
	ctr_ref cs[128];
	size_t n = containers(spec, cs, PEEROP__ARRAY_SIZE(cs)), i, j;
	const json_t *v, *vol;
	bool restricted = lvl >= LVL_RESTRICTED;
	static const char *const baseline_caps[] = { "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID",
		"KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT", NULL };
	static const char *const ok_volumes[] = { "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
		"persistentVolumeClaim", "projected", "secret", NULL };
	static const char *const safe_sysctls[] = { "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
		"net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
		"net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
		"net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", NULL };

	if (lvl <= LVL_PRIVILEGED)
		return strdup("");

	/* allowPrivilegeEscalation (restricted) */
	if (restricted) {
		names l = { { 0 }, 0 };
		for (i = 0; i < n; i++)
			if (!json_is_false(sc(cs[i].c, "allowPrivilegeEscalation")))
				add(&l, cs[i].name);
		if (l.n) {
			sep(&b);
			peerop__buf_puts(&b, "allowPrivilegeEscalation != false (");
			put_names(&b, "container", "containers", &l);
			peerop__buf_puts(&b, " must set securityContext.allowPrivilegeEscalation=false)");
		}
	}
	/* AppArmor: no Unconfined profile */
	{
		names l = { { 0 }, 0 };
		const char *t = json_string_value(json_object_get(sc(spec, "appArmorProfile"), "type"));
		const char *k;
		json_t *a;
		if (t && !strcmp(t, "Unconfined"))
			add(&l, "pod");
		json_object_foreach((json_t *)json_object_get(meta, "annotations"), k, a)
			if (!strncmp(k, "container.apparmor.security.beta.kubernetes.io/", 47) && json_is_string(a) &&
			    !strcmp(json_string_value(a), "unconfined"))
				add(&l, k + 47);
		for (i = 0; i < n; i++) {
			t = json_string_value(json_object_get(sc(cs[i].c, "appArmorProfile"), "type"));
			if (t && !strcmp(t, "Unconfined"))
				add(&l, cs[i].name);
		}
		if (l.n) {
			sep(&b);
			peerop__buf_puts(&b, "forbidden AppArmor profile (");
			for (i = 0; i < l.n; i++)
				peerop__buf_printf(&b, "%s%s", i ? ", " : "", strcmp(l.v[i], "pod") ? l.v[i] : "pod");
			peerop__buf_puts(&b, " must not use an Unconfined AppArmor profile)");
		}
	}
	/* capabilities: baseline forbids adding beyond the default set;
	 * restricted wants drop ALL and adds NET_BIND_SERVICE at most */
	{
		names l = { { 0 }, 0 }, drop = { { 0 }, 0 }, added = { { 0 }, 0 }, caps = { { 0 }, 0 };
		for (i = 0; i < n; i++) {
			const json_t *c = sc(cs[i].c, "capabilities"), *x;
			bool all = false, bad = false;
			json_array_foreach(json_object_get(c, "drop"), j, x)
				if (json_is_string(x) && !strcmp(json_string_value(x), "ALL"))
					all = true;
			json_array_foreach(json_object_get(c, "add"), j, x) {
				const char *cap = json_string_value(x);
				if (!cap)
					continue;
				if (restricted ? strcmp(cap, "NET_BIND_SERVICE") != 0 : !in_set(cap, baseline_caps)) {
					add(&caps, cap);
					bad = true;
				}
			}
			if (bad)
				add(restricted ? &added : &l, cs[i].name);
			if (restricted && !all)
				add(&drop, cs[i].name);
		}
		if (!restricted && l.n) {
			sep(&b);
			peerop__buf_puts(&b, "non-default capabilities (");
			put_names(&b, "container", "containers", &l);
			peerop__buf_puts(&b, " must not include ");
			for (i = 0; i < caps.n; i++)
				peerop__buf_printf(&b, "%s\"%s\"", i ? ", " : "", caps.v[i]);
			peerop__buf_puts(&b, " in securityContext.capabilities.add)");
		}
		if (restricted && (drop.n || added.n)) {
			sep(&b);
			peerop__buf_puts(&b, "unrestricted capabilities (");
			if (drop.n) {
				put_names(&b, "container", "containers", &drop);
				peerop__buf_puts(&b, " must set securityContext.capabilities.drop=[\"ALL\"]");
			}
			if (added.n) {
				if (drop.n)
					peerop__buf_puts(&b, "; ");
				put_names(&b, "container", "containers", &added);
				peerop__buf_puts(&b, " must not include ");
				for (i = 0; i < caps.n; i++)
					peerop__buf_printf(&b, "%s\"%s\"", i ? ", " : "", caps.v[i]);
				peerop__buf_puts(&b, " in securityContext.capabilities.add");
			}
			peerop__buf_putc(&b, ')');
		}
	}
	/* host namespaces */
	{
		static const char *const hn[] = { "hostNetwork", "hostPID", "hostIPC" };
		bool any = false;
		for (i = 0; i < PEEROP__ARRAY_SIZE(hn); i++)
			if (json_is_true(json_object_get(spec, hn[i]))) {
				if (!any) {
					sep(&b);
					peerop__buf_puts(&b, "host namespaces (");
				}
				peerop__buf_printf(&b, "%s%s=true", any ? ", " : "", hn[i]);
				any = true;
			}
		if (any)
			peerop__buf_putc(&b, ')');
	}
	/* hostPath volumes (baseline; restricted lists every restricted type) */
	if (!restricted) {
		names l = { { 0 }, 0 };
		json_array_foreach(json_object_get(spec, "volumes"), i, vol)
			if (json_object_get(vol, "hostPath"))
				add(&l, json_string_value(json_object_get(vol, "name")));
		if (l.n) {
			sep(&b);
			peerop__buf_puts(&b, "hostPath volumes (");
			put_names(&b, "volume", "volumes", &l);
			peerop__buf_putc(&b, ')');
		}
	}
	/* hostPorts */
	{
		names l = { { 0 }, 0 };
		char ports[64][12];
		names pl = { { 0 }, 0 };
		size_t np = 0;
		for (i = 0; i < n; i++)
			json_array_foreach(json_object_get(cs[i].c, "ports"), j, v) {
				json_int_t hp = json_integer_value(json_object_get(v, "hostPort"));
				if (hp) {
					add(&l, cs[i].name);
					if (np < 64) {
						snprintf(ports[np], sizeof(ports[np]), "%lld", (long long)hp);
						add(&pl, ports[np++]);
					}
				}
			}
		if (l.n) {
			sep(&b);
			peerop__buf_puts(&b, "hostPort (");
			put_names(&b, "container", "containers", &l);
			peerop__buf_printf(&b, " %s %s ", l.n == 1 ? "uses" : "use", pl.n == 1 ? "hostPort" : "hostPorts");
			for (i = 0; i < pl.n; i++)
				peerop__buf_printf(&b, "%s%s", i ? ", " : "", pl.v[i]);
			peerop__buf_putc(&b, ')');
		}
	}
	/* privileged */
	{
		names l = { { 0 }, 0 };
		for (i = 0; i < n; i++)
			if (json_is_true(sc(cs[i].c, "privileged")))
				add(&l, cs[i].name);
		if (l.n) {
			sep(&b);
			peerop__buf_puts(&b, "privileged (");
			put_names(&b, "container", "containers", &l);
			peerop__buf_puts(&b, " must not set securityContext.privileged=true)");
		}
	}
	/* procMount */
	{
		names l = { { 0 }, 0 };
		for (i = 0; i < n; i++) {
			const char *pm = json_string_value(sc(cs[i].c, "procMount"));
			if (pm && strcmp(pm, "Default"))
				add(&l, cs[i].name);
		}
		if (l.n) {
			sep(&b);
			peerop__buf_puts(&b, "procMount (");
			put_names(&b, "container", "containers", &l);
			peerop__buf_puts(&b, " must not set securityContext.procMount to \"Unmasked\")");
		}
	}
	/* restricted volume types */
	if (restricted) {
		names l = { { 0 }, 0 }, types = { { 0 }, 0 };
		json_array_foreach(json_object_get(spec, "volumes"), i, vol) {
			const char *k;
			json_t *x;
			json_object_foreach((json_t *)vol, k, x)
				if (strcmp(k, "name") && !in_set(k, ok_volumes)) {
					add(&l, json_string_value(json_object_get(vol, "name")));
					add(&types, k);
				}
		}
		if (l.n) {
			sep(&b);
			peerop__buf_puts(&b, "restricted volume types (");
			put_names(&b, "volume", "volumes", &l);
			peerop__buf_printf(&b, " %s restricted volume %s ", l.n == 1 ? "uses" : "use",
				types.n == 1 ? "type" : "types");
			for (i = 0; i < types.n; i++)
				peerop__buf_printf(&b, "%s\"%s\"", i ? ", " : "", types.v[i]);
			peerop__buf_putc(&b, ')');
		}
	}
	/* runAsNonRoot, runAsUser (restricted) */
	if (restricted) {
		const json_t *pod_nr = sc(spec, "runAsNonRoot");
		names unset = { { 0 }, 0 }, bad = { { 0 }, 0 };
		bool pod_false = json_is_false(pod_nr);
		for (i = 0; i < n; i++) {
			const json_t *c_nr = sc(cs[i].c, "runAsNonRoot");
			if (json_is_false(c_nr))
				add(&bad, cs[i].name);
			else if (!json_is_true(c_nr) && !json_is_true(pod_nr))
				add(&unset, cs[i].name);
		}
		if (pod_false || bad.n || unset.n) {
			bool first = true;
			sep(&b);
			peerop__buf_puts(&b, "runAsNonRoot != true (");
			if (pod_false) {
				peerop__buf_puts(&b, "pod must not set securityContext.runAsNonRoot=false");
				first = false;
			}
			if (bad.n) {
				if (!first)
					peerop__buf_puts(&b, "; ");
				put_names(&b, "container", "containers", &bad);
				peerop__buf_puts(&b, " must not set securityContext.runAsNonRoot=false");
				first = false;
			}
			if (unset.n && !pod_false) {
				if (!first)
					peerop__buf_puts(&b, "; ");
				put_names(&b, "pod or container", "pod or containers", &unset);
				peerop__buf_puts(&b, " must set securityContext.runAsNonRoot=true");
			}
			peerop__buf_putc(&b, ')');
		}
		{
			bool pod0 = json_is_integer(sc(spec, "runAsUser")) && json_integer_value(sc(spec, "runAsUser")) == 0;
			names l = { { 0 }, 0 };
			for (i = 0; i < n; i++)
				if (json_is_integer(sc(cs[i].c, "runAsUser")) && json_integer_value(sc(cs[i].c, "runAsUser")) == 0)
					add(&l, cs[i].name);
			if (pod0 || l.n) {
				sep(&b);
				peerop__buf_puts(&b, "runAsUser=0 (");
				if (pod0)
					peerop__buf_puts(&b, l.n ? "pod and " : "pod");
				if (l.n)
					put_names(&b, "container", "containers", &l);
				peerop__buf_puts(&b, " must not set runAsUser=0)");
			}
		}
	}
	/* SELinux */
	{
		names l = { { 0 }, 0 };
		static const char *const types[] = { "", "container_t", "container_init_t", "container_kvm_t",
			"container_engine_t", NULL };
		const json_t *o = sc(spec, "seLinuxOptions");
		const char *t = json_string_value(json_object_get(o, "type"));
		if (json_object_get(o, "user") || json_object_get(o, "role") || (t && !in_set(t, types)))
			add(&l, "pod");
		for (i = 0; i < n; i++) {
			o = sc(cs[i].c, "seLinuxOptions");
			t = json_string_value(json_object_get(o, "type"));
			if (json_object_get(o, "user") || json_object_get(o, "role") || (t && !in_set(t, types)))
				add(&l, cs[i].name);
		}
		if (l.n) {
			sep(&b);
			peerop__buf_puts(&b, "seLinuxOptions (");
			for (i = 0; i < l.n; i++)
				peerop__buf_printf(&b, "%s%s%s%s", i ? ", " : "", strcmp(l.v[i], "pod") ? "container \"" : "",
					l.v[i], strcmp(l.v[i], "pod") ? "\"" : "");
			peerop__buf_puts(&b, " set forbidden securityContext.seLinuxOptions)");
		}
	}
	/* seccompProfile */
	{
		const char *pt = json_string_value(json_object_get(sc(spec, "seccompProfile"), "type"));
		bool pod_ok = pt && (!strcmp(pt, "RuntimeDefault") || !strcmp(pt, "Localhost"));
		names bad = { { 0 }, 0 }, unset = { { 0 }, 0 };
		bool pod_bad = pt && !pod_ok && (restricted || !strcmp(pt, "Unconfined"));
		for (i = 0; i < n; i++) {
			const char *ct = json_string_value(json_object_get(sc(cs[i].c, "seccompProfile"), "type"));
			if (ct) {
				if (!strcmp(ct, "Unconfined") || (restricted && strcmp(ct, "RuntimeDefault") && strcmp(ct, "Localhost")))
					add(&bad, cs[i].name);
			} else if (restricted && !pod_ok) {
				add(&unset, cs[i].name);
			}
		}
		if (pod_bad || bad.n || (unset.n && !pod_bad)) {
			bool first = true;
			sep(&b);
			peerop__buf_puts(&b, "seccompProfile (");
			if (pod_bad) {
				peerop__buf_printf(&b, "pod must not set securityContext.seccompProfile.type to \"%s\"", pt);
				first = false;
			}
			if (bad.n) {
				if (!first)
					peerop__buf_puts(&b, "; ");
				put_names(&b, "container", "containers", &bad);
				peerop__buf_puts(&b, " must not set securityContext.seccompProfile.type to \"Unconfined\"");
				first = false;
			}
			if (unset.n && !pod_bad) {
				if (!first)
					peerop__buf_puts(&b, "; ");
				put_names(&b, "pod or container", "pod or containers", &unset);
				peerop__buf_puts(&b, " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or "
					"\"Localhost\"");
			}
			peerop__buf_putc(&b, ')');
		}
	}
	/* sysctls */
	{
		names l = { { 0 }, 0 };
		json_array_foreach(sc(spec, "sysctls"), i, v) {
			const char *sn = json_string_value(json_object_get(v, "name"));
			if (sn && !in_set(sn, safe_sysctls))
				add(&l, sn);
		}
		if (l.n) {
			sep(&b);
			peerop__buf_puts(&b, "forbidden sysctls (");
			for (i = 0; i < l.n; i++)
				peerop__buf_printf(&b, "%s%s", i ? ", " : "", l.v[i]);
			peerop__buf_putc(&b, ')');
		}
	}
	return b.ptr ? peerop__buf_detach(&b) : strdup("");
}

static void warn(dc_resp *rs, const char *fmt, const char *level, const char *what)
{
	char *w = NULL;
	if (asprintf(&w, fmt, level, what) < 0)
		return;
	dc_resp_warning(rs, w);
	free(w);
}

json_t *dc_psa_admit(dc_store *s, const dc_rtype *rt, const json_t *obj, const json_t *old, dc_resp *rs)
{
	const char *ns = dc_json_str(obj, "metadata.namespace"), *name = dc_json_str(obj, "metadata.name");
	const json_t *spec, *meta, *labels;
	dc_coll *nsc;
	dc_entry *e;
	json_t *nso;
	int enforce, warnl;
	bool pod = !rt->group[0] && !strcmp(rt->plural, "pods");
	json_t *st = NULL;
	char *ve = NULL, *vw = NULL;
	if (!ns || !*ns)
		return NULL;
	if (pod) {
		spec = json_object_get(obj, "spec");
		meta = json_object_get(obj, "metadata");
		/* an update of a pod is judged only when its spec changes (the real
		 * admission ignores metadata and status updates) */
		if (old && json_equal(json_object_get(old, "spec"), spec))
			return NULL;
	} else if (!strcmp(rt->group, "apps") || !strcmp(rt->group, "batch")) {
		const json_t *tmpl = dc_json_path(obj, !strcmp(rt->plural, "cronjobs") ? "spec.jobTemplate.spec.template" :
			"spec.template");
		spec = json_object_get(tmpl, "spec");
		meta = json_object_get(tmpl, "metadata");
		if (!spec || (old && json_equal(dc_json_path(old, "spec.template"), tmpl)))
			return NULL;
	} else {
		return NULL;
	}
	nsc = dc_store_coll(s, "", "namespaces");
	e = nsc ? dc_coll_get(nsc, "", ns) : NULL;
	if (!e || !e->obj->labels)
		return NULL;
	labels = e->obj->labels;
	enforce = level_of(json_string_value(json_object_get(labels, "pod-security.kubernetes.io/enforce")));
	warnl = level_of(json_string_value(json_object_get(labels, "pod-security.kubernetes.io/warn")));
	(void)nso;
	if (enforce == LVL_PRIVILEGED && warnl == LVL_PRIVILEGED)
		return NULL;
	ve = violations(spec, meta, enforce);
	vw = warnl == enforce ? strdup(ve ? ve : "") : violations(spec, meta, warnl);
	if (pod && ve && *ve) {
		char *msg = NULL;
		if (asprintf(&msg, "pods \"%s\" is forbidden: violates PodSecurity \"%s:latest\": %s", name ? name : "",
			level_names[enforce], ve) >= 0)
			st = dc_status(403, "Forbidden", msg, name, "", "pods");
		free(msg);
	} else if (ve && *ve) {
		warn(rs, "would violate PodSecurity \"%s:latest\": %s", level_names[enforce], ve);
	}
	if (!st && vw && *vw && (warnl != enforce || pod))
		warn(rs, "would violate PodSecurity \"%s:latest\": %s", level_names[warnl], vw);
	free(ve);
	free(vw);
	return st;
}
