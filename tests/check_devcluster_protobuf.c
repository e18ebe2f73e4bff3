/* check_devcluster_protobuf.c: request bodies in Kubernetes' protobuf
 * encoding, as kubectl create (1.32, 1.34) and helm's typed clients send
 * them: real bodies captured from kubectl, decoded and served; kinds and
 * fields not decoded refused with 415; malformed, truncated and mutated
 * bodies refused cleanly. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PB "application/vnd.kubernetes.protobuf"

/* Bodies captured with `kubectl -v=10 create ... --dry-run=server`. */
static const char cm_134[] = /* 1.34: configmap pc --from-literal=a=b --from-literal=empty= */
	"6b3873000a0f0a0276311209436f6e6669674d617012270a120a02706312001a0022002a0032003800420012060a01611201621209"
	"0a05656d70747912001a002200";
static const char cm_132[] = /* 1.32: configmap pc --from-literal=a=b */
	"6b3873000a0f0a0276311209436f6e6669674d6170121c0a120a02706312001a0022002a0032003800420012060a01611201621a002200";
static const char secret_134[] = /* secret generic ps --from-literal=k=v --type=my/type */
	"6b3873000a0c0a027631120653656372657412250a120a02707312001a0022002a0032003800420012060a016b1201761a076d792f74"
	"7970651a002200";
static const char ns_134[] = /* namespace pn */
	"6b3873000a0f0a02763112094e616d657370616365121a0a120a02706e12001a0022002a0032003800420012001a020a001a002200";
static const char svc_134[] = /* service nodeport psvc --tcp=80:8080 --node-port=30080 */
	"6b3873000a0d0a027631120753657276696365126d0a210a047073766312001a0022002a003200380042005a0b0a0361707012047073"
	"766312440a1d0a0738302d38303830120354435018502207080010903f1a002880eb01120b0a036170701204707376631a0022084e6f"
	"6465506f72743a00420052005a00600068001a020a001a002200";
static const char deploy_134[] = /* deployment pd --image=nginx:1 --replicas=0 --port=8080 */
	"6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b7010a1d0a02706412001a0022002a003200380042005a090a03"
	"617070120270641287010800120b0a090a03617070120270641a6e0a1b0a0012001a0022002a003200380042005a090a036170701202"
	"7064124f12310a056e67696e7812076e67696e783a312a00320b0a00100018903f22002a0042006a007200800100880100900100a201"
	"001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c080010001800200028003800"
	"1a002200";

static size_t unhex(const char *h, unsigned char *out)
{
	size_t n = 0;
	for (; h[0] && h[1]; h += 2) {
		unsigned v;
		sscanf(h, "%2x", &v);
		out[n++] = (unsigned char)v;
	}
	return n;
}

static json_t *decode_hex(const char *hex, int *code, char **err)
{
	unsigned char buf[4096];
	size_t n = unhex(hex, buf);
	json_t *j = NULL;
	*code = dc_protobuf_decode((const char *)buf, n, &j, err);
	return j;
}

static json_t *decode_ok(const char *hex)
{
	int code;
	char *err = NULL;
	json_t *j = decode_hex(hex, &code, &err);
	ck_assert_msg(code == 0, "decode: %d %s", code, err ? err : "");
	return j;
}

START_TEST(test_decode_kubectl_bodies)
{
	json_t *j;
	j = decode_ok(cm_134);
	ck_assert_str_eq(dc_json_str(j, "apiVersion"), "v1");
	ck_assert_str_eq(dc_json_str(j, "kind"), "ConfigMap");
	ck_assert_str_eq(dc_json_str(j, "metadata.name"), "pc");
	ck_assert_ptr_null(dc_json_path(j, "metadata.namespace"));        /* "" is omitted */
	ck_assert_ptr_null(dc_json_path(j, "metadata.creationTimestamp")); /* the zero Time */
	ck_assert_ptr_null(dc_json_path(j, "metadata.generation"));
	ck_assert_str_eq(dc_json_str(j, "data.a"), "b");
	ck_assert_str_eq(dc_json_str(j, "data.empty"), "");                /* map values are kept */
	json_decref(j);
	j = decode_ok(cm_132);
	ck_assert_str_eq(dc_json_str(j, "data.a"), "b");
	json_decref(j);
	j = decode_ok(secret_134);
	ck_assert_str_eq(dc_json_str(j, "data.k"), "dg==");                /* bytes: base64 */
	ck_assert_str_eq(dc_json_str(j, "type"), "my/type");
	json_decref(j);
	j = decode_ok(ns_134);
	ck_assert_str_eq(dc_json_str(j, "kind"), "Namespace");
	ck_assert(json_is_object(dc_json_path(j, "spec")));
	json_decref(j);
	j = decode_ok(svc_134);
	ck_assert_str_eq(dc_json_str(j, "metadata.labels.app"), "psvc");
	ck_assert_str_eq(dc_json_str(j, "spec.type"), "NodePort");
	ck_assert_str_eq(dc_json_str(j, "spec.selector.app"), "psvc");
	{
		json_t *p = json_array_get(dc_json_path(j, "spec.ports"), 0);
		ck_assert_str_eq(dc_json_str(p, "name"), "80-8080");
		ck_assert_str_eq(dc_json_str(p, "protocol"), "TCP");
		ck_assert_int_eq(json_integer_value(json_object_get(p, "port")), 80);
		ck_assert_int_eq(json_integer_value(json_object_get(p, "targetPort")), 8080);  /* IntOrString */
		ck_assert_int_eq(json_integer_value(json_object_get(p, "nodePort")), 30080);
	}
	ck_assert_ptr_null(dc_json_path(j, "spec.healthCheckNodePort"));
	json_decref(j);
	j = decode_ok(deploy_134);
	ck_assert_str_eq(dc_json_str(j, "apiVersion"), "apps/v1");
	ck_assert(json_is_integer(dc_json_path(j, "spec.replicas")));        /* a pointer: 0 is kept */
	ck_assert_int_eq(json_integer_value(dc_json_path(j, "spec.replicas")), 0);
	ck_assert_str_eq(dc_json_str(j, "spec.selector.matchLabels.app"), "pd");
	{
		json_t *c = json_array_get(dc_json_path(j, "spec.template.spec.containers"), 0);
		ck_assert_str_eq(dc_json_str(c, "name"), "nginx");
		ck_assert_str_eq(dc_json_str(c, "image"), "nginx:1");
		ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(c, "ports"), 0),
			"containerPort")), 8080);
		ck_assert(json_is_object(json_object_get(c, "resources")));
		ck_assert_ptr_null(json_object_get(c, "stdin"));
	}
	ck_assert(json_is_object(dc_json_path(j, "spec.strategy")));
	ck_assert_ptr_null(dc_json_path(j, "spec.paused"));
	json_decref(j);
}
END_TEST

START_TEST(test_protobuf_over_http)
{
	dct *t = dct_start(NULL, false);
	dct_resp r;
	unsigned char buf[4096];
	size_t n;
	long code;
	json_t *j;
	static const struct { const char *hex, *path, *get; } cases[] = {
		{ cm_134, "/api/v1/namespaces/default/configmaps", "/api/v1/namespaces/default/configmaps/pc" },
		{ secret_134, "/api/v1/namespaces/default/secrets", "/api/v1/namespaces/default/secrets/ps" },
		{ ns_134, "/api/v1/namespaces", "/api/v1/namespaces/pn" },
		{ svc_134, "/api/v1/namespaces/default/services", "/api/v1/namespaces/default/services/psvc" },
		{ deploy_134, "/apis/apps/v1/namespaces/default/deployments", "/apis/apps/v1/namespaces/default/deployments/pd" },
	};
	size_t i;
	t->user_agent = "kubectl/v1.34.5 (linux/amd64) kubernetes/ebfac05";
	for (i = 0; i < PEEROP__ARRAY_SIZE(cases); i++) {
		char path[256];
		n = unhex(cases[i].hex, buf);
		snprintf(path, sizeof(path), "%s?fieldManager=kubectl-create&fieldValidation=Strict", cases[i].path);
		dct_req_ex(t, &r, "POST", path, PB, (const char *)buf, n, NULL);
		ck_assert_msg(r.code == 201, "%s: %ld %s", cases[i].path, r.code, r.body);
		ck_assert_str_eq(r.content_type, "application/json");
		dct_resp_free(&r);
		j = dct_call(t, &code, "GET", cases[i].get, NULL);
		ck_assert_int_eq(code, 200);
		ck_assert_str_eq(dc_json_str(json_array_get(dc_json_path(j, "metadata.managedFields"), 0), "manager"),
			"kubectl-create");
		json_decref(j);
	}
	j = dct_call(t, &code, "GET", "/api/v1/namespaces/default/configmaps/pc", NULL);
	ck_assert_str_eq(dc_json_str(j, "data.a"), "b");
	json_decref(j);
	/* the same body again: AlreadyExists, as JSON */
	n = unhex(cm_132, buf);
	dct_req_ex(t, &r, "POST", "/api/v1/namespaces/default/configmaps", PB, (const char *)buf, n, NULL);
	ck_assert_int_eq(r.code, 409);
	ck_assert_str_eq(dct_reason(r.json), "AlreadyExists");
	dct_resp_free(&r);
	/* PUT in protobuf (helm updates its release Secrets so) */
	n = unhex(cm_132, buf);
	dct_req_ex(t, &r, "PUT", "/api/v1/namespaces/default/configmaps/pc", PB, (const char *)buf, n, NULL);
	ck_assert_msg(r.code == 200, "%ld %s", r.code, r.body);
	ck_assert_ptr_null(dc_json_path(r.json, "data.empty"));
	dct_resp_free(&r);
	dct_stop(t);
}
END_TEST

START_TEST(test_delete_options_protobuf)
{
	dct *t = dct_start(NULL, false);
	dct_resp r;
	long code;
	json_t *j;
	char body[512], *uid;
	/* k8s\0 + Unknown{typeMeta{"v1","DeleteOptions"}, raw{propagationPolicy: "Orphan"}} */
	static const unsigned char orphan[] = { 'k', '8', 's', 0, 0x0a, 0x13, 0x0a, 0x02, 'v', '1', 0x12, 0x0d,
		'D', 'e', 'l', 'e', 't', 'e', 'O', 'p', 't', 'i', 'o', 'n', 's',
		0x12, 0x08, 0x22, 0x06, 'O', 'r', 'p', 'h', 'a', 'n' };
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/configmaps", "{\"metadata\":{\"name\":\"owner\"}}");
	uid = strdup(dc_json_str(j, "metadata.uid"));
	json_decref(j);
	snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"dep\",\"ownerReferences\":[{\"apiVersion\":\"v1\","
		"\"kind\":\"ConfigMap\",\"name\":\"owner\",\"uid\":\"%s\"}]}}", uid);
	j = dct_call(t, &code, "POST", "/api/v1/namespaces/default/configmaps", body);
	ck_assert_int_eq(code, 201);
	json_decref(j);
	dct_req_ex(t, &r, "DELETE", "/api/v1/namespaces/default/configmaps/owner", PB, (const char *)orphan,
		sizeof(orphan), NULL);
	ck_assert_msg(r.code == 200, "%ld %s", r.code, r.body);
	dct_resp_free(&r);
	/* orphaned, not collected */
	j = dct_call(t, &code, "GET", "/api/v1/namespaces/default/configmaps/dep", NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_null(dc_json_path(j, "metadata.ownerReferences"));
	json_decref(j);
	free(uid);
	dct_stop(t);
}
END_TEST

static void refused(const unsigned char *b, size_t n, int want, const char *needle)
{
	json_t *j = NULL;
	char *err = NULL;
	int code = dc_protobuf_decode((const char *)b, n, &j, &err);
	ck_assert_msg(code == want, "code %d, want %d (%s)", code, want, err ? err : "");
	ck_assert_ptr_null(j);
	ck_assert_msg(err && strstr(err, needle), "\"%s\" lacks \"%s\"", err ? err : "", needle);
	free(err);
}

START_TEST(test_unsupported_and_malformed)
{
	unsigned char buf[4096], m[4096];
	size_t n, i, k;
	int code;
	json_t *j;
	char *err;
	/* a kind not decoded here */
	static const unsigned char pod[] = { 'k', '8', 's', 0, 0x0a, 0x09, 0x0a, 0x02, 'v', '1', 0x12, 0x03, 'P', 'o', 'd',
		0x12, 0x00 };
	/* a ConfigMap with field 9, which the descriptor does not know */
	static const unsigned char extra[] = { 'k', '8', 's', 0, 0x0a, 0x0f, 0x0a, 0x02, 'v', '1', 0x12, 0x09,
		'C', 'o', 'n', 'f', 'i', 'g', 'M', 'a', 'p', 0x12, 0x03, 0x4a, 0x01, 'x' };
	static const unsigned char gz[] = { 'k', '8', 's', 0, 0x0a, 0x0f, 0x0a, 0x02, 'v', '1', 0x12, 0x09,
		'C', 'o', 'n', 'f', 'i', 'g', 'M', 'a', 'p', 0x12, 0x00, 0x1a, 0x04, 'g', 'z', 'i', 'p' };
	static const unsigned char wiretype[] = { 'k', '8', 's', 0, 0x0a, 0x0f, 0x0a, 0x02, 'v', '1', 0x12, 0x09,
		'C', 'o', 'n', 'f', 'i', 'g', 'M', 'a', 'p', 0x12, 0x02, 0x20, 0x01 };
	static const unsigned char badlen[] = { 'k', '8', 's', 0, 0x0a, 0x0f, 0x0a, 0x02, 'v', '1', 0x12, 0x09,
		'C', 'o', 'n', 'f', 'i', 'g', 'M', 'a', 'p', 0x12, 0x05, 0x0a, 0xff, 0xff, 0xff, 0x0f };
	static const unsigned char badutf8[] = { 'k', '8', 's', 0, 0x0a, 0x0f, 0x0a, 0x02, 'v', '1', 0x12, 0x09,
		'C', 'o', 'n', 'f', 'i', 'g', 'M', 'a', 'p', 0x12, 0x06, 0x0a, 0x04, 0x0a, 0x02, 0xc3, 0x28 };
	static const unsigned char nulkey[] = { 'k', '8', 's', 0, 0x0a, 0x0f, 0x0a, 0x02, 'v', '1', 0x12, 0x09,
		'C', 'o', 'n', 'f', 'i', 'g', 'M', 'a', 'p', 0x12, 0x08, 0x12, 0x06, 0x0a, 0x01, 0x00, 0x12, 0x01, 'v' };
	static const unsigned char longvarint[] = { 'k', '8', 's', 0, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	refused(pod, sizeof(pod), 415, "not v1 Pod");
	refused(extra, sizeof(extra), 415, "field 9 of the protobuf encoding of ConfigMap");
	refused(gz, sizeof(gz), 415, "compressed");
	refused((const unsigned char *)"{\"kind\":\"ConfigMap\"}", 20, 400, "k8s");
	refused((const unsigned char *)"k8s", 3, 400, "k8s");
	refused((const unsigned char *)"k8s\0", 4, 400, "no kind");
	refused(badlen, sizeof(badlen), 400, "malformed");
	refused(badutf8, sizeof(badutf8), 400, "UTF-8");
	refused(nulkey, sizeof(nulkey), 400, "NUL");
	refused(longvarint, sizeof(longvarint), 400, "malformed");
	/* immutable (field 4, a bool) given as a varint: fine */
	j = NULL;
	err = NULL;
	ck_assert_int_eq(dc_protobuf_decode((const char *)wiretype, sizeof(wiretype), &j, &err), 0);
	ck_assert(json_is_true(json_object_get(j, "immutable")));
	json_decref(j);
	/* every truncation and many mutations of a real body: a clean answer */
	n = unhex(deploy_134, buf);
	for (i = 0; i < n; i++) {
		j = NULL;
		err = NULL;
		code = dc_protobuf_decode((const char *)buf, i, &j, &err);
		ck_assert(code == 0 ? j != NULL : (j == NULL && err != NULL && (code == 400 || code == 415)));
		json_decref(j);
		free(err);
	}
	for (k = 0; k < 5000; k++) {
		memcpy(m, buf, n);
		for (i = 0; i < 1 + peerop__rand_below(4); i++)
			m[4 + peerop__rand_below(n - 4)] = (unsigned char)peerop__rand_below(256);
		j = NULL;
		err = NULL;
		code = dc_protobuf_decode((const char *)m, n, &j, &err);
		ck_assert(code == 0 ? j != NULL : (j == NULL && err != NULL && (code == 400 || code == 415)));
		json_decref(j);
		free(err);
	}
}
END_TEST

START_TEST(test_unsupported_over_http)
{
	dct *t = dct_start(NULL, false);
	dct_resp r;
	static const unsigned char pod[] = { 'k', '8', 's', 0, 0x0a, 0x09, 0x0a, 0x02, 'v', '1', 0x12, 0x03, 'P', 'o', 'd',
		0x12, 0x00 };
	dct_req_ex(t, &r, "POST", "/api/v1/namespaces/default/pods", PB, (const char *)pod, sizeof(pod), NULL);
	ck_assert_int_eq(r.code, 415);
	ck_assert_str_eq(dct_reason(r.json), "UnsupportedMediaType");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r.json, "message")), "send application/json"));
	dct_resp_free(&r);
	dct_req_ex(t, &r, "POST", "/api/v1/namespaces/default/configmaps", "application/cbor", "\xa0", 1, NULL);
	ck_assert_int_eq(r.code, 415);
	dct_resp_free(&r);
	/* YAML bodies are accepted for create */
	dct_req(t, &r, "POST", "/api/v1/namespaces/default/configmaps", "application/yaml",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yml\ndata:\n  a: \"1\"\n");
	ck_assert_msg(r.code == 201, "%ld %s", r.code, r.body);
	dct_resp_free(&r);
	dct_stop(t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("devcluster_protobuf");
	TCase *tc = tcase_create("protobuf");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_decode_kubectl_bodies);
	tcase_add_test(tc, test_protobuf_over_http);
	tcase_add_test(tc, test_delete_options_protobuf);
	tcase_add_test(tc, test_unsupported_and_malformed);
	tcase_add_test(tc, test_unsupported_over_http);
	suite_add_tcase(s, tc);
	return s;
}
