/*
 * bench_watch.c: watch-stream decoding and informer memory.
 *
 *   bench_watch decode [MB]      decoder vs json_loadb over the same lines
 *   bench_watch memory N         RSS per cached object vs its JSON size
 *
 * Objects are Deployment-sized (labels, annotations, a pod template with
 * two containers, managedFields from two managers), as a real cluster's.
 */
#include "config.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "watch_internal.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *deployment(int i, int with_managed_fields)
{
	char name[64], rv[32], uid[64];
	json_t *d, *containers = json_array();
	int c;
	snprintf(name, sizeof(name), "web-%06d", i);
	snprintf(rv, sizeof(rv), "%d", 100000 + i);
	snprintf(uid, sizeof(uid), "6f1c9a2e-%04x-4b8e-9d3a-%012d", i & 0xffff, i);
	for (c = 0; c < 2; c++) {
		json_array_append_new(containers, json_pack(
			"{s:s, s:s, s:[{s:s, s:i, s:s}], s:[{s:s,s:s},{s:s,s:s}],"
			" s:{s:{s:s,s:s}, s:{s:s,s:s}}, s:{s:{s:s,s:i}, s:i, s:i},"
			" s:{s:b, s:b, s:i, s:{s:[s]}}, s:s, s:s, s:s}",
			"name", c ? "sidecar" : "server",
			"image", c ? "registry.example.com/sidecar:1.4.2" : "registry.example.com/peerop-server:0.1.0",
			"ports", "name", "http", "containerPort", 8080 + c, "protocol", "TCP",
			"env", "name", "POD_NAME", "value", "from-downward-api", "name", "LOG_FORMAT", "value", "json",
			"resources", "requests", "cpu", "50m", "memory", "32Mi", "limits", "cpu", "200m", "memory", "64Mi",
			"readinessProbe", "httpGet", "path", "/readyz", "port", 8080, "periodSeconds", 5, "timeoutSeconds", 1,
			"securityContext", "runAsNonRoot", 1, "readOnlyRootFilesystem", 1, "runAsUser", 65532,
			"capabilities", "drop", "ALL",
			"terminationMessagePath", "/dev/termination-log", "terminationMessagePolicy", "File",
			"imagePullPolicy", "IfNotPresent"));
	}
	d = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:i, s:s, s:{s:s,s:s,s:s}, s:{s:s,s:s}},"
		" s:{s:i, s:{s:{s:s}}, s:{s:{s:{s:s,s:s}}, s:{s:o, s:s, s:i}}, s:{s:s, s:{s:s,s:s}}},"
		" s:{s:i, s:i, s:i, s:i, s:[{s:s,s:s,s:s,s:s,s:s,s:s}]}}",
		"apiVersion", "apps/v1", "kind", "Deployment",
		"metadata", "name", name, "namespace", "default", "uid", uid, "resourceVersion", rv, "generation", 3,
		"creationTimestamp", "2026-11-26T10:00:00Z",
		"labels", "app", name, "app.kubernetes.io/managed-by", "peerop-operator", "tier", "web",
		"annotations", "deployment.kubernetes.io/revision", "3", "peerop.io/config-hash", "9f86d081884c7d659a2feaa0c55ad015",
		"spec", "replicas", 3, "selector", "matchLabels", "app", name,
		"template", "metadata", "labels", "app", name, "tier", "web",
		"spec", "containers", containers, "serviceAccountName", "peerop-server", "terminationGracePeriodSeconds", 30,
		"strategy", "type", "RollingUpdate", "rollingUpdate", "maxSurge", "25%", "maxUnavailable", "25%",
		"status", "observedGeneration", 3, "replicas", 3, "readyReplicas", 3, "availableReplicas", 3,
		"conditions", "type", "Available", "status", "True", "reason", "MinimumReplicasAvailable",
		"message", "Deployment has minimum availability.", "lastUpdateTime", "2026-11-26T10:00:05Z",
		"lastTransitionTime", "2026-11-26T10:00:05Z");
	if (with_managed_fields) {
		json_t *mf = json_array();
		int m;
		for (m = 0; m < 2; m++) {
			json_t *fields = json_object();
			json_t *spec = json_object();
			int f;
			for (f = 0; f < 25; f++) {
				char k[48];
				snprintf(k, sizeof(k), "f:field%02d", f);
				json_object_set_new(spec, k, json_pack("{s:{}, s:{}}", "f:a", "f:b"));
			}
			json_object_set_new(fields, "f:spec", spec);
			json_array_append_new(mf, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}",
				"manager", m ? "kube-controller-manager" : "peerop-operator",
				"operation", m ? "Update" : "Apply", "apiVersion", "apps/v1",
				"time", "2026-11-26T10:00:05Z", "fieldsType", "FieldsV1", "fieldsV1", fields));
		}
		json_object_set_new(json_object_get(d, "metadata"), "managedFields", mf);
	}
	return d;
}

/* ---- decode ---- */
static unsigned long long decoded;
static int count_event(peerop__watch_raw_type t, json_t *o, void *arg)
{
	(void)t; (void)o; (void)arg;
	decoded++;
	return 0;
}

static int bench_decode(size_t mb)
{
	peerop__buf stream = PEEROP__BUF_INIT;
	size_t *starts, nlines = 0, cap = 1024, i;
	double t0, t_ours = 1e9, t_base = 1e9;
	int round;

	starts = malloc(cap * sizeof(*starts));
	for (i = 0; stream.len < mb << 20; i++) {
		json_t *ev = json_pack("{s:s, s:o}", "type", i % 5 ? "MODIFIED" : "ADDED", "object", deployment((int)i, 1));
		char *s = json_dumps(ev, JSON_COMPACT);
		if (nlines == cap)
			starts = realloc(starts, (cap *= 2) * sizeof(*starts));
		starts[nlines++] = stream.len;
		peerop__buf_puts(&stream, s);
		peerop__buf_putc(&stream, '\n');
		free(s);
		json_decref(ev);
	}
	/* The machine is noisy: time the two decoders on alternating blocks of
	 * ~1 MB (the same lines for both, the order flipped every block) so
	 * that load changes hit both alike, and take the best of 3 rounds. */
	for (round = 0; round < 3; round++) {
		peerop__watch_decoder d;
		double ours = 0, base = 0;
		size_t line = 0;
		int flip = 0;
		peerop__watch_decoder_init(&d, 0, count_event, NULL);
		decoded = 0;
		while (line < nlines) {
			size_t last = line + 240 < nlines ? line + 240 : nlines;
			size_t from = starts[line], to = last < nlines ? starts[last] : stream.len;
			int k;
			for (k = 0; k < 2; k++) {
				if ((k == 0) == !flip) {
					size_t off;
					t0 = now_s();
					/* 16 KiB chunks, as curl delivers them: boundaries fall mid-event */
					for (off = from; off < to; off += 16384) {
						size_t n = to - off < 16384 ? to - off : 16384;
						if (peerop__watch_decoder_feed(&d, stream.ptr + off, n) != 0) {
							fprintf(stderr, "decode error: %s\n", peerop_error_last()->message);
							return 1;
						}
					}
					ours += now_s() - t0;
				} else {
					t0 = now_s();
					for (i = line; i < last; i++) {
						size_t end = i + 1 < nlines ? starts[i + 1] : stream.len;
						json_error_t err;
						json_t *ev = json_loadb(stream.ptr + starts[i], end - starts[i] - 1, 0, &err);
						if (!ev)
							return 1;
						json_decref(ev);
					}
					base += now_s() - t0;
				}
			}
			flip = !flip;
			line = last;
		}
		peerop__watch_decoder_finish(&d);
		peerop__watch_decoder_dispose(&d);
		if (decoded != nlines) {
			fprintf(stderr, "decoded %llu of %zu events\n", decoded, nlines);
			return 1;
		}
		if (ours < t_ours)
			t_ours = ours;
		if (base < t_base)
			t_base = base;
	}
	printf("| stream | events | avg event | decoder MB/s | json_loadb MB/s | ratio (target >= 0.8) |\n");
	printf("|---|---|---|---|---|---|\n");
	printf("| %.1f MB | %zu | %zu B | %.1f | %.1f | %.2f |\n", (double)stream.len / 1e6, nlines,
		stream.len / nlines, (double)stream.len / 1e6 / t_ours, (double)stream.len / 1e6 / t_base,
		t_base / t_ours);
	free(starts);
	peerop__buf_dispose(&stream);
	return 0;
}

/* ---- memory ---- */
static long rss_kb(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int bench_memory(int n)
{
	peerop__store *s;
	long before, after;
	size_t json_full = 0, json_stripped = 0;
	int i;

	peerop__store_new(&s);
	peerop__store_add_index(s, "owner", peerop__index_controller_uid, NULL);
	peerop__store_add_index(s, "app", peerop__index_label, (void *)"app");
	malloc_trim(0);
	before = rss_kb();
	for (i = 0; i < n; i++) {
		json_t *d = deployment(i, 1);
		char *s1 = json_dumps(d, JSON_COMPACT);
		json_full += strlen(s1);
		free(s1);
		/* the informer's default transform */
		json_object_del(json_object_get(d, "metadata"), "managedFields");
		s1 = json_dumps(d, JSON_COMPACT);
		json_stripped += strlen(s1);
		free(s1);
		peerop__store_upsert(s, d);
		json_decref(d);
	}
	malloc_trim(0);
	after = rss_kb();
	printf("| %d | %zu B | %zu B | %.0f B | %.2fx |\n", n, json_full / (size_t)n, json_stripped / (size_t)n,
		(double)(after - before) * 1024.0 / n, (double)(after - before) * 1024.0 / (double)json_stripped);
	peerop__store_free(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "decode") == 0)
		return bench_decode(argc >= 3 ? (size_t)atoi(argv[2]) : 64);
	if (argc >= 3 && strcmp(argv[1], "memory") == 0)
		return bench_memory(atoi(argv[2]));
	fprintf(stderr, "usage: bench_watch decode [MB] | memory N\n");
	return 2;
}
