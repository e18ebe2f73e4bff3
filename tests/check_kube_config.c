/* check_kube_config.c: kubeconfig parsing and merging, in-cluster config,
 * exec plugins and token files, and bad input of every kind. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube_internal.h"
#include "kube_testhelp.h"
#include "testhelp.h"

static kt_certs certs;
static char *dir;

static void setup(void)
{
	dir = th_tmpdir();
	ck_assert_ptr_nonnull(dir);
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	peerop_error_clear();
}

static void teardown(void)
{
	th_tmpdir_remove(dir);
	dir = NULL;
}

static int load_path(peerop_kube_config **cfg, const char *path, const char *context)
{
	peerop_kube_config_options o = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	o.kubeconfig = path;
	o.context = context;
	return peerop_kube_config_load(cfg, &o);
}

static char *subdir(const char *name)
{
	char *p = th_path(dir, name);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	return p;
}

static void copy_file(const char *from, const char *to)
{
	char *data = th_slurp(from);
	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(th_write_str(to, data), 0);
	free(data);
}

/* merge-a.yaml in dir/a (with certs/ca.crt), merge-b.yaml in dir/b (with token.txt) */
static void merged_fixture(char **a, char **b)
{
	char *da = subdir("a"), *db = subdir("b"), *dc, *ca, *tok;
	dc = th_path(da, "certs");
	ck_assert_int_eq(mkdir(dc, 0700), 0);
	ca = th_path(dc, "ca.crt");
	copy_file(certs.ca_crt, ca);
	tok = th_path(db, "token.txt");
	ck_assert_int_eq(th_write_str(tok, "token-b-from-file\n"), 0);
	*a = kt_fixture(da, "merge-a.yaml", NULL);
	*b = kt_fixture(db, "merge-b.yaml", NULL);
	free(da); free(db); free(dc); free(ca); free(tok);
}

START_TEST(test_merge_first_wins)
{
	peerop_kube_config *cfg = NULL;
	char *a, *b, list[4096];

	merged_fixture(&a, &b);
	snprintf(list, sizeof(list), "%s:%s", a, b);
	setenv("KUBECONFIG", list, 1);
	ck_assert_int_eq(peerop_kube_config_load(&cfg, NULL), 0);
	/* current-context, the context, the cluster and the user all from a */
	ck_assert_str_eq(peerop_kube_config_context(cfg), "ctx-a");
	ck_assert_str_eq(peerop_kube_config_server(cfg), "https://a.example.test:6443");
	ck_assert_str_eq(peerop_kube_config_namespace(cfg), "alpha");
	ck_assert_int_eq(cfg->auth, PEEROP__KUBE_AUTH_TOKEN);
	ck_assert_str_eq(cfg->token, "token-a-inline");
	/* the CA path was relative to a's directory */
	ck_assert_ptr_nonnull(cfg->ca.data);
	ck_assert(strstr(cfg->ca.data, "BEGIN CERTIFICATE") != NULL);
	peerop_kube_config_free(cfg);

	/* a context from a using a cluster from a and a user only b defines;
	 * b's relative tokenFile resolves against b's directory */
	ck_assert_int_eq(peerop_kube_config_load(&cfg, &(peerop_kube_config_options){
		PEEROP_KUBE_CONFIG_OPTIONS_VERSION, NULL, "ctx-shared", NULL, NULL, 0, 0, 0 }), 0);
	ck_assert_str_eq(peerop_kube_config_server(cfg), "https://first.example.test");
	ck_assert_int_eq(cfg->insecure, 1);
	ck_assert_str_eq(peerop_kube_config_namespace(cfg), "default");
	ck_assert_int_eq(cfg->auth, PEEROP__KUBE_AUTH_TOKEN_FILE);
	ck_assert_str_eq(cfg->token, "token-b-from-file");
	peerop_kube_config_free(cfg);

	/* the other order: b's current-context and entries win */
	snprintf(list, sizeof(list), "%s:%s", b, a);
	ck_assert_int_eq(load_path(&cfg, list, NULL), 0);
	ck_assert_str_eq(peerop_kube_config_context(cfg), "ctx-b");
	ck_assert_str_eq(peerop_kube_config_server(cfg), "http://b.example.test:8080");
	peerop_kube_config_free(cfg);
	ck_assert_int_eq(load_path(&cfg, list, "ctx-a"), 0);
	ck_assert_str_eq(peerop_kube_config_namespace(cfg), "wrong");
	peerop_kube_config_free(cfg);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_missing_files)
{
	peerop_kube_config *cfg = NULL;
	char *a, *b, *none, list[4096];
	const peerop_error *e;

	merged_fixture(&a, &b);
	none = th_path(dir, "does-not-exist.yaml");
	/* a missing file in a list is skipped, as kubectl does */
	snprintf(list, sizeof(list), "%s::%s", none, a);
	ck_assert_int_eq(load_path(&cfg, list, NULL), 0);
	ck_assert_str_eq(peerop_kube_config_context(cfg), "ctx-a");
	peerop_kube_config_free(cfg);
	/* none found: ENOENT naming the file */
	cfg = (peerop_kube_config *)1;
	ck_assert_int_eq(load_path(&cfg, none, NULL), PEEROP_ENOENT);
	ck_assert_ptr_null(cfg);
	e = peerop_error_last();
	ck_assert_int_eq(e->code, PEEROP_ENOENT);
	ck_assert_msg(strstr(e->message, "does-not-exist.yaml") != NULL, "%s", e->message);
	/* no KUBECONFIG and a HOME without .kube/config */
	setenv("HOME", dir, 1);
	ck_assert_int_eq(peerop_kube_config_load(&cfg, NULL), PEEROP_ENOENT);
	ck_assert_msg(strstr(peerop_error_last()->message, ".kube/config") != NULL, "%s", peerop_error_last()->message);
	free(a); free(b); free(none);
}
END_TEST

START_TEST(test_unknown_context)
{
	peerop_kube_config *cfg = NULL;
	char *a, *b, *bad;

	merged_fixture(&a, &b);
	ck_assert_int_eq(load_path(&cfg, a, "no-such-context"), PEEROP_ENOCONTEXT);
	ck_assert_msg(strstr(peerop_error_last()->message, "\"no-such-context\"") != NULL, "%s", peerop_error_last()->message);
	ck_assert_msg(strstr(peerop_error_last()->message, "merge-a.yaml") != NULL, "%s", peerop_error_last()->message);
	/* ctx-shared names a user that only merge-b.yaml defines */
	ck_assert_int_eq(load_path(&cfg, a, "ctx-shared"), PEEROP_ENOCONTEXT);
	ck_assert_msg(strstr(peerop_error_last()->message, "user \"user-b\"") != NULL, "%s", peerop_error_last()->message);
	bad = kt_fixture(dir, "bad-unknown-context.yaml", NULL);
	ck_assert_int_eq(load_path(&cfg, bad, NULL), PEEROP_ENOCONTEXT);
	ck_assert_msg(strstr(peerop_error_last()->message, "\"nowhere\"") != NULL, "%s", peerop_error_last()->message);
	ck_assert_ptr_null(cfg);
	free(a); free(b); free(bad);
}
END_TEST

START_TEST(test_namespace_override)
{
	peerop_kube_config *cfg = NULL;
	peerop_kube_config_options o;
	char *a, *b;
	merged_fixture(&a, &b);
	ck_assert_int_eq(peerop_kube_config_options_init(&o, PEEROP_KUBE_CONFIG_OPTIONS_VERSION), 0);
	ck_assert_int_eq(peerop_kube_config_options_init(&o, 999), PEEROP_EINVAL);
	o.kubeconfig = a;
	o.ns = "override";
	ck_assert_int_eq(peerop_kube_config_load(&cfg, &o), 0);
	ck_assert_str_eq(peerop_kube_config_namespace(cfg), "override");
	peerop_kube_config_free(cfg);
	peerop_kube_config_free(NULL);
	free(a); free(b);
}
END_TEST

START_TEST(test_inline_certificates)
{
	char *ca = kt_base64(certs.ca_pem), *crt = kt_base64(certs.client_crt_pem), *key = kt_base64(certs.client_key_pem);
	const char *pairs[] = { "SERVER", "https://127.0.0.1:6443", "CA_DATA", ca, "CERT_DATA", crt, "KEY_DATA", key, NULL };
	char *path = kt_fixture(dir, "inline.yaml", pairs);
	peerop_kube_config *cfg = NULL;

	ck_assert_int_eq(load_path(&cfg, path, NULL), 0);
	ck_assert_str_eq(peerop_kube_config_namespace(cfg), "ns-inline");
	ck_assert_uint_eq(cfg->ca.len, strlen(certs.ca_pem));
	ck_assert_mem_eq(cfg->ca.data, certs.ca_pem, cfg->ca.len);
	ck_assert_mem_eq(cfg->cert.data, certs.client_crt_pem, cfg->cert.len);
	ck_assert_uint_eq(cfg->key.len, strlen(certs.client_key_pem));
	ck_assert_mem_eq(cfg->key.data, certs.client_key_pem, cfg->key.len);
	ck_assert_int_eq(cfg->auth, PEEROP__KUBE_AUTH_NONE);
	peerop_kube_config_free(cfg);
	free(path);

	/* a client certificate without its key is a configuration error */
	{
		const char *p2[] = { "SERVER", "https://127.0.0.1:6443", "CA_DATA", ca, "CERT_DATA", crt, "KEY_DATA", "null", NULL };
		path = kt_fixture(dir, "inline.yaml", p2);
		ck_assert_int_eq(load_path(&cfg, path, NULL), PEEROP_ECONFIG);
		ck_assert_msg(strstr(peerop_error_last()->message, "client-key") != NULL, "%s", peerop_error_last()->message);
		free(path);
	}
	/* a key that is not a key: ECERT naming the field, never the data */
	{
		const char *p3[] = { "SERVER", "https://127.0.0.1:6443", "CA_DATA", ca, "CERT_DATA", crt, "KEY_DATA", ca, NULL };
		path = kt_fixture(dir, "inline.yaml", p3);
		ck_assert_int_eq(load_path(&cfg, path, NULL), PEEROP_ECERT);
		ck_assert_msg(strstr(peerop_error_last()->message, "client-key-data") != NULL, "%s", peerop_error_last()->message);
		ck_assert(strstr(peerop_error_last()->message, "BEGIN") == NULL);
		free(path);
	}
	free(ca); free(crt); free(key);
}
END_TEST

static void expect_error(const char *fixture, int code, const char *needle)
{
	peerop_kube_config *cfg = NULL;
	char *path = kt_fixture(dir, fixture, NULL);
	int rc = load_path(&cfg, path, NULL);
	ck_assert_msg(rc == code, "%s: got %s (%s), want %s", fixture, peerop_error_name(rc),
		peerop_error_last()->message, peerop_error_name(code));
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(peerop_error_last()->message, needle) != NULL, "%s: message \"%s\" lacks \"%s\"",
		fixture, peerop_error_last()->message, needle);
	ck_assert_msg(strstr(peerop_error_last()->message, fixture) != NULL || code == PEEROP_ECERT,
		"message does not name the file: %s", peerop_error_last()->message);
	free(path);
}

START_TEST(test_bad_files)
{
	/* malformed and truncated YAML: ESYNTAX with file:line:column */
	expect_error("bad-malformed.yaml", PEEROP_ESYNTAX, "bad-malformed.yaml:");
	expect_error("bad-truncated.yaml", PEEROP_ESYNTAX, "bad-truncated.yaml:7:");
	expect_error("bad-duplicate-key.yaml", PEEROP_ESYNTAX, "duplicate key \"current-context\"");
	expect_error("bad-no-server.yaml", PEEROP_ECONFIG, "clusters[\"c\"].server: missing");
	/* an unreadable or garbled CA: ECERT naming the file or the field */
	expect_error("bad-ca-missing.yaml", PEEROP_ECERT, "no-such-ca.crt");
	expect_error("bad-ca-garbage.yaml", PEEROP_ECERT, "certificate-authority-data");
	/* the token in that file is nowhere in the message */
	ck_assert(strstr(peerop_error_last()->message, "secret-token-in-bad-file") == NULL);
}
END_TEST

START_TEST(test_unreadable_ca_file)
{
	/* a CA file that exists but cannot be read (not a regular file) */
	char *sub = subdir("ca-dir");
	const char *yaml =
		"current-context: t\nclusters:\n- name: c\n  cluster: {server: https://x.test, certificate-authority: ca-dir}\n"
		"contexts:\n- name: t\n  context: {cluster: c}\n";
	char *path = kt_write_template(dir, "unreadable.yaml", yaml, NULL);
	peerop_kube_config *cfg = NULL;
	ck_assert_int_eq(load_path(&cfg, path, NULL), PEEROP_ECERT);
	ck_assert_msg(strstr(peerop_error_last()->message, "ca-dir") != NULL, "%s", peerop_error_last()->message);
	free(sub);
	free(path);
}
END_TEST

static int load_text(const char *text, size_t len)
{
	peerop_kube_config *cfg = NULL;
	char *path = th_path(dir, "hostile.yaml");
	int rc;
	ck_assert_int_eq(th_write_file(path, text, len), 0);
	rc = load_path(&cfg, path, NULL);
	ck_assert_ptr_null(cfg);
	free(path);
	return rc;
}

START_TEST(test_hostile_yaml)
{
	peerop__buf b = PEEROP__BUF_INIT;
	int i;
	const char bin[] = "\x00\x01\xff\xfe garbage \x80\x81";
	const char badutf[] = "current-context: \"\xc3\x28\"\n";

	/* deep nesting stops at a bound instead of the stack */
	for (i = 0; i < 5000; i++)
		peerop__buf_putc(&b, '[');
	ck_assert_int_eq(load_text(b.ptr, b.len), PEEROP_ESYNTAX);
	ck_assert_msg(strstr(peerop_error_last()->message, "nested too deeply") != NULL, "%s", peerop_error_last()->message);
	peerop__buf_clear(&b);
	/* a billion laughs: aliases are shared, and their number is bounded */
	peerop__buf_puts(&b, "a: &a [x, x, x, x, x, x, x, x, x, x]\n");
	for (i = 1; i < 12; i++)
		peerop__buf_printf(&b, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n",
			'a' + i, 'a' + i, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1,
			'a' + i - 1, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1);
	peerop__buf_puts(&b, "big: [*l, *l, *l]\n");
	/* 10^12 nodes if expanded: parsed at once, since nothing is copied */
	ck_assert_int_eq(load_text(b.ptr, b.len), PEEROP_ENOCONTEXT);
	for (i = 0; i < 10000; i++)
		peerop__buf_printf(&b, "k%d: *a\n", i);
	ck_assert_int_eq(load_text(b.ptr, b.len), PEEROP_ESYNTAX);
	ck_assert_msg(strstr(peerop_error_last()->message, "too many aliases") != NULL, "%s", peerop_error_last()->message);
	peerop__buf_dispose(&b);
	/* an alias to itself cannot make a cycle */
	ck_assert_int_eq(load_text("a: &x [*x]\n", 11), PEEROP_ESYNTAX);
	/* binary garbage, invalid UTF-8, tabs, a scalar or a list at the top */
	ck_assert_int_eq(load_text(bin, sizeof(bin) - 1), PEEROP_ESYNTAX);
	ck_assert_int_eq(load_text(badutf, strlen(badutf)), PEEROP_ESYNTAX);
	ck_assert_int_eq(load_text("clusters:\n\t- name: x\n", 21), PEEROP_ESYNTAX);
	ck_assert_int_eq(load_text("just a string\n", 14), PEEROP_ESYNTAX);
	ck_assert_int_eq(load_text("- a\n- b\n", 8), PEEROP_ESYNTAX);
	/* wrong types where lists and mappings belong */
	ck_assert_int_eq(load_text("clusters: nope\n", 15), PEEROP_ECONFIG);
	ck_assert_int_eq(load_text("clusters:\n- cluster: {server: x}\n", 33), PEEROP_ECONFIG);
	ck_assert_int_eq(load_text("current-context: [a]\n", 21), PEEROP_ECONFIG);
	/* empty: no context */
	ck_assert_int_eq(load_text("", 0), PEEROP_ENOCONTEXT);
}
END_TEST

START_TEST(test_proxy_and_server_name_fields)
{
	const char *tmpl = "current-context: t\nclusters:\n- name: c\n  cluster: {server: https://x.test, @F@}\n"
		"contexts:\n- name: t\n  context: {cluster: c}\n";
	const char *good[] = { "F", "proxy-url: socks5://127.0.0.1:1080, tls-server-name: kubernetes.test", NULL };
	const char *bad_proxy[] = { "F", "proxy-url: ftp://p.test", NULL };
	const char *bad_name[] = { "F", "tls-server-name: \"a:b\"", NULL };
	peerop_kube_config *cfg = NULL;
	char *path = kt_write_template(dir, "f.yaml", tmpl, good);
	ck_assert_int_eq(load_path(&cfg, path, NULL), 0);
	ck_assert_str_eq(cfg->proxy_url, "socks5://127.0.0.1:1080");
	ck_assert_str_eq(cfg->tls_server_name, "kubernetes.test");
	peerop_kube_config_free(cfg);
	free(path);
	path = kt_write_template(dir, "f.yaml", tmpl, bad_proxy);
	ck_assert_int_eq(load_path(&cfg, path, NULL), PEEROP_ECONFIG);
	ck_assert_msg(strstr(peerop_error_last()->message, "proxy-url") != NULL, "%s", peerop_error_last()->message);
	free(path);
	path = kt_write_template(dir, "f.yaml", tmpl, bad_name);
	ck_assert_int_eq(load_path(&cfg, path, NULL), PEEROP_ECONFIG);
	ck_assert_msg(strstr(peerop_error_last()->message, "tls-server-name") != NULL, "%s", peerop_error_last()->message);
	free(path);
}
END_TEST

START_TEST(test_oversized)
{
	peerop_kube_config_options o = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	char *path = th_path(dir, "big.yaml");
	size_t n = 5u << 20;
	char *big = malloc(n);
	memset(big, '#', n);
	big[n - 1] = '\n';
	ck_assert_int_eq(th_write_file(path, big, n), 0);
	o.kubeconfig = path;
	ck_assert_int_eq(peerop_kube_config_load(&cfg, &o), PEEROP_ETOOLARGE);
	ck_assert_msg(strstr(peerop_error_last()->message, "big.yaml") != NULL, "%s", peerop_error_last()->message);
	o.max_file_size = 1024;
	ck_assert_int_eq(th_write_file(path, big, 2048), 0);
	ck_assert_int_eq(peerop_kube_config_load(&cfg, &o), PEEROP_ETOOLARGE);
	free(big);
	free(path);
}
END_TEST

START_TEST(test_yaml_to_json)
{
	json_t *j = NULL;
	const char *y = "base: &b {server: s, n: 1}\nuse: *b\nnothing: ~\nempty:\nquoted: \"null\"\nlist: [a, 'b']\n";
	ck_assert_int_eq(peerop__yaml_to_json(&j, y, strlen(y), "t"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "use"), "server")), "s");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "use"), "n")), "1");
	ck_assert(json_is_null(json_object_get(j, "nothing")));
	ck_assert(json_is_null(json_object_get(j, "empty")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "quoted")), "null");
	ck_assert_int_eq(json_array_size(json_object_get(j, "list")), 2);
	json_decref(j);
	/* only the first document counts */
	ck_assert_int_eq(peerop__yaml_to_json(&j, "a: 1\n---\nb: 2\n", 14, "t"), 0);
	ck_assert_ptr_null(json_object_get(j, "b"));
	json_decref(j);
}
END_TEST

/* Many anchors (found in a hash map), redefined ones (the newest wins),
 * and every string collected for wiping. */
START_TEST(test_yaml_many_anchors)
{
	peerop__buf y = PEEROP__BUF_INIT;
	json_t *j = NULL, *strings = json_array();
	char key[32], want[32];
	int i;

	for (i = 0; i < 5000; i++)
		peerop__buf_printf(&y, "k%d: &a%d v%d\n", i, i, i);
	peerop__buf_puts(&y, "k5000: &a7 redefined\n");
	for (i = 0; i < 5000; i++)
		peerop__buf_printf(&y, "r%d: *a%d\n", i, i);
	ck_assert_int_eq(peerop__yaml_to_json_ex(&j, strings, y.ptr, y.len, "t"), 0);
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "r%d", i);
		snprintf(want, sizeof(want), "v%d", i);
		ck_assert_str_eq(json_string_value(json_object_get(j, key)), i == 7 ? "redefined" : want);
	}
	ck_assert_int_eq(json_array_size(strings), 5001 + 5001 + 5000); /* keys are scalars too */
	peerop__json_strings_wipe(strings);
	ck_assert_str_eq(json_string_value(json_object_get(j, "k1")), "");
	ck_assert_int_eq(json_string_length(json_object_get(j, "k1")), 2); /* zeroed in place */
	json_decref(strings);
	json_decref(j);
	peerop__buf_dispose(&y);
}
END_TEST

START_TEST(test_urls)
{
	peerop__buf b = PEEROP__BUF_INIT;
	peerop_kube_resource pods = { "", "v1", "pods", 1 };
	peerop_kube_resource deps = { "apps", "v1", "deployments", 1 };
	peerop_kube_resource nodes = { NULL, "v1", "nodes", 0 };
	peerop_kube_resource bad = { "x", NULL, "y", 0 };

	ck_assert_int_eq(peerop__kube_path(&b, &pods, "default", "web-1", NULL), 0);
	ck_assert_str_eq(b.ptr, "/api/v1/namespaces/default/pods/web-1");
	peerop__buf_clear(&b);
	ck_assert_int_eq(peerop__kube_path(&b, &deps, "ns", "d", "scale"), 0);
	ck_assert_str_eq(b.ptr, "/apis/apps/v1/namespaces/ns/deployments/d/scale");
	peerop__buf_clear(&b);
	ck_assert_int_eq(peerop__kube_path(&b, &pods, "", NULL, NULL), 0);
	ck_assert_str_eq(b.ptr, "/api/v1/pods");
	peerop__buf_clear(&b);
	ck_assert_int_eq(peerop__kube_path(&b, &nodes, "ignored", "n/1", NULL), 0);
	ck_assert_str_eq(b.ptr, "/api/v1/nodes/n%2F1");
	peerop__buf_clear(&b);
	ck_assert_int_eq(peerop__kube_query_add(&b, "labelSelector", "app=web,tier!=db"), 0);
	ck_assert_int_eq(peerop__kube_query_add(&b, "x", NULL), 0);
	ck_assert_int_eq(peerop__kube_query_add(&b, "continue", "a b&c"), 0);
	ck_assert_str_eq(b.ptr, "?labelSelector=app%3Dweb%2Ctier%21%3Ddb&continue=a%20b%26c");
	peerop__buf_clear(&b);
	ck_assert_int_eq(peerop__kube_path(&b, &bad, NULL, NULL, NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop__kube_path(&b, &pods, "ns", "", NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop__kube_path(&b, &pods, "ns", "..", NULL), PEEROP_EINVAL);
	ck_assert_int_eq(peerop__kube_path(&b, &pods, "ns", NULL, "status"), PEEROP_EINVAL);
	ck_assert_int_eq(peerop__kube_path(&b, &pods, "", "x", NULL), PEEROP_EINVAL);
	peerop__buf_dispose(&b);
}
END_TEST

START_TEST(test_rfc3339)
{
	long long t;
	ck_assert_int_eq(peerop__parse_rfc3339(&t, "1970-01-01T00:00:01Z"), 0);
	ck_assert_int_eq(t, 1000);
	ck_assert_int_eq(peerop__parse_rfc3339(&t, "2026-01-02T03:04:05.5Z"), 0);
	ck_assert_int_eq(t % 1000, 500);
	ck_assert_int_eq(peerop__parse_rfc3339(&t, "1970-01-01T01:00:00+01:00"), 0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(peerop__parse_rfc3339(&t, "1970-01-01T00:00:00"), PEEROP_ESYNTAX);
	ck_assert_int_eq(peerop__parse_rfc3339(&t, "yesterday"), PEEROP_ESYNTAX);
	ck_assert_int_eq(peerop__parse_rfc3339(&t, "1970-01-01T00:00:00Zjunk"), PEEROP_ESYNTAX);
}
END_TEST

/* ---- exec plugins ---- */

static peerop_kube_config *exec_config_t(const char *mode, const char *api, unsigned int timeout_ms)
{
	char *ca = kt_base64(certs.ca_pem), *plugin = kt_fixture(dir, "plugin.sh", NULL), *path;
	const char *pairs[] = { "SERVER", "https://127.0.0.1:6443", "CA_DATA", ca, "MODE", mode,
		"STATE", dir, "API", api, NULL };
	peerop_kube_config_options o = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	ck_assert_int_eq(chmod(plugin, 0700), 0);
	path = kt_fixture(dir, "exec.yaml", pairs);
	o.kubeconfig = path;
	o.exec_timeout_ms = timeout_ms;
	ck_assert_int_eq(peerop_kube_config_load(&cfg, &o), 0);
	ck_assert_int_eq(cfg->auth, PEEROP__KUBE_AUTH_EXEC);
	free(ca); free(plugin); free(path);
	return cfg;
}

static peerop_kube_config *exec_config(const char *mode, const char *api)
{
	return exec_config_t(mode, api, 1500);
}

static int runs(void)
{
	char *p = th_path(dir, "count"), *s = th_slurp(p);
	int n = s ? atoi(s) : 0;
	free(p); free(s);
	return n;
}

START_TEST(test_exec_plugin)
{
	peerop_kube_config *cfg = exec_config("ok", "client.authentication.k8s.io/v1");
	peerop__kube_cred cred;
	char *info, *p;
	json_t *j;

	ck_assert_int_eq(runs(), 0); /* nothing runs at load time */
	ck_assert_int_eq(peerop__kube_cred_get(&cred, cfg, peerop__now_ms()), 0);
	ck_assert_str_eq(cred.token, "exec-token-1");
	peerop__kube_cred_dispose(&cred);
	/* cached until it expires */
	ck_assert_int_eq(peerop__kube_cred_get(&cred, cfg, peerop__now_ms()), 0);
	ck_assert_str_eq(cred.token, "exec-token-1");
	ck_assert_int_eq(runs(), 1);
	/* two hours later it has expired: the plugin runs again */
	peerop__kube_cred_dispose(&cred);
	ck_assert_int_eq(peerop__kube_cred_get_at(&cred, cfg, peerop__now_ms(), peerop__wall_ms() + 7200 * 1000LL), 0);
	ck_assert_str_eq(cred.token, "exec-token-2");
	/* after a 401, too */
	ck_assert_int_eq(peerop__kube_cred_invalidate(cfg, cred.generation), 1);
	peerop__kube_cred_dispose(&cred);
	ck_assert_int_eq(peerop__kube_cred_get(&cred, cfg, peerop__now_ms()), 0);
	ck_assert_str_eq(cred.token, "exec-token-3");
	peerop__kube_cred_dispose(&cred);
	/* what the plugin was given: args, env, KUBERNETES_EXEC_INFO with the cluster */
	p = th_path(dir, "args");
	info = th_slurp(p);
	ck_assert_str_eq(info, "--mode ok\n");
	free(info); free(p);
	p = th_path(dir, "info");
	info = th_slurp(p);
	j = json_loads(info, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "ExecCredential");
	ck_assert(json_is_false(json_object_get(json_object_get(j, "spec"), "interactive")));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(j, "spec"), "cluster"), "server")),
		"https://127.0.0.1:6443");
	json_decref(j);
	free(info); free(p);
	peerop_kube_config_free(cfg);
}
END_TEST

START_TEST(test_exec_v1beta1_and_expired)
{
	peerop_kube_config *cfg;
	peerop__kube_cred cred;
	setenv("API", "client.authentication.k8s.io/v1beta1", 1);
	cfg = exec_config("expired", "client.authentication.k8s.io/v1beta1");
	ck_assert_int_eq(peerop__kube_cred_get(&cred, cfg, peerop__now_ms()), 0);
	ck_assert_str_eq(cred.token, "exec-token-1");
	peerop__kube_cred_dispose(&cred);
	/* an expired credential is never reused */
	ck_assert_int_eq(peerop__kube_cred_get(&cred, cfg, peerop__now_ms()), 0);
	ck_assert_str_eq(cred.token, "exec-token-2");
	peerop__kube_cred_dispose(&cred);
	peerop_kube_config_free(cfg);
	unsetenv("API");
}
END_TEST

START_TEST(test_exec_failures)
{
	static const struct { const char *mode; const char *needle; } cases[] = {
		{ "fail", "exited with status 3: plugin says no" },
		{ "garbage", "not JSON" },
		{ "hang", "timed out" },
		{ "closed", "timed out" },     /* closed its output, still running */
		{ "orphan", "timed out" },     /* left a child holding the output */
		{ "ctrl", "control character" },
	};
	size_t i;
	for (i = 0; i < PEEROP__ARRAY_SIZE(cases); i++) {
		peerop_kube_config *cfg = exec_config(cases[i].mode, "client.authentication.k8s.io/v1");
		peerop__kube_cred cred;
		char *p = th_path(dir, "count");
		unlink(p);
		free(p);
		ck_assert_int_eq(peerop__kube_cred_get(&cred, cfg, peerop__now_ms()), PEEROP_EEXEC);
		ck_assert_msg(strstr(peerop_error_last()->message, cases[i].needle) != NULL, "%s: %s",
			cases[i].mode, peerop_error_last()->message);
		ck_assert_msg(strstr(peerop_error_last()->message, "plugin.sh") != NULL, "%s", peerop_error_last()->message);
		ck_assert_ptr_null(cred.token);
		peerop_kube_config_free(cfg);
	}
}
END_TEST

/* What the orphan plugin left behind was killed with it (its process
 * group): gone, or a zombie waiting for its new parent. */
static int orphan_gone(void *arg)
{
	char path[64], *st;
	const char *close_paren;
	int gone;
	snprintf(path, sizeof(path), "/proc/%d/stat", *(int *)arg);
	st = th_slurp(path);
	close_paren = st ? strrchr(st, ')') : NULL;
	gone = !st || (close_paren && close_paren[1] == ' ' && (close_paren[2] == 'Z' || close_paren[2] == 'X'));
	free(st);
	return gone;
}

START_TEST(test_exec_kills_its_group)
{
	peerop_kube_config *cfg = exec_config("orphan", "client.authentication.k8s.io/v1");
	peerop__kube_cred cred;
	char *p = th_path(dir, "orphan"), *pid_text;
	int pid;

	unlink(p);
	ck_assert_int_eq(peerop__kube_cred_get(&cred, cfg, peerop__now_ms()), PEEROP_EEXEC);
	pid_text = th_slurp(p);
	ck_assert_ptr_nonnull(pid_text);
	pid = atoi(pid_text);
	ck_assert_int_gt(pid, 1);
	ck_assert_msg(th_wait_until(20000, orphan_gone, &pid), "the plugin's child %d lives on", pid);
	free(pid_text);
	free(p);
	peerop_kube_config_free(cfg);
}
END_TEST

typedef struct cred_runner {
	peerop_kube_config *cfg;
	pthread_t thread;
	int rc;
	char token[64];
} cred_runner;

static void *cred_main(void *arg)
{
	cred_runner *r = arg;
	peerop__kube_cred cred;
	r->rc = peerop__kube_cred_get(&cred, r->cfg, peerop__now_ms());
	if (r->rc == 0)
		snprintf(r->token, sizeof(r->token), "%s", cred.token ? cred.token : "");
	peerop__kube_cred_dispose(&cred);
	return NULL;
}

static int plugin_started(void *arg)
{
	(void)arg;
	return runs() >= 1;
}

/* The configuration's lock is free while a plugin runs (other threads'
 * requests go on), and a second thread needing the credential waits for
 * the run under way rather than starting another. The plugin answers only
 * once the test, having taken the lock, says go. */
START_TEST(test_exec_runs_unlocked)
{
	peerop_kube_config *cfg;
	cred_runner a, b;
	char *count = th_path(dir, "count"), *go = th_path(dir, "go");

	unlink(count);
	unlink(go);
	cfg = exec_config_t("gate", "client.authentication.k8s.io/v1", 60000);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.cfg = b.cfg = cfg;
	ck_assert_int_eq(pthread_create(&a.thread, NULL, cred_main, &a), 0);
	ck_assert(th_wait_until(20000, plugin_started, NULL));
	ck_assert_int_eq(pthread_create(&b.thread, NULL, cred_main, &b), 0);
	/* takes the lock: blocked until the plugin ends if it were held */
	ck_assert_int_eq(peerop__kube_cred_invalidate(cfg, 12345), 1);
	ck_assert_int_eq(th_write_str(go, "go"), 0);
	pthread_join(a.thread, NULL);
	pthread_join(b.thread, NULL);
	ck_assert_int_eq(a.rc, 0);
	ck_assert_int_eq(b.rc, 0);
	ck_assert_str_eq(a.token, "exec-token-1");
	ck_assert_str_eq(b.token, "exec-token-1");
	ck_assert_int_eq(runs(), 1);
	unlink(go);
	free(go);
	free(count);
	peerop_kube_config_free(cfg);
}
END_TEST

/* A token goes into an HTTP header: one with a control character (a line
 * break would end the header and smuggle another) is refused where it is
 * read: inline, from a token file, and (above) from an exec plugin. */
START_TEST(test_token_control_characters)
{
	static const char *tokens[] = { "\"abc\\r\\nX-Evil: 1\"", "\"a\\tb\"", "\"a\\x7fb\"", "\"a\\x01b\"" };
	peerop_kube_config_options o = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	char *tf, *path;
	size_t i;

	for (i = 0; i < PEEROP__ARRAY_SIZE(tokens); i++) {
		const char *pairs[] = { "SERVER", "https://127.0.0.1:6443", "CA_DATA", "", "TOKEN", tokens[i], NULL };
		path = kt_fixture(dir, "token.yaml", pairs);
		o.kubeconfig = path;
		ck_assert_int_eq(peerop_kube_config_load(&cfg, &o), PEEROP_ECONFIG);
		ck_assert_msg(strstr(peerop_error_last()->message, "token: holds a control character") != NULL, "%s: %s",
			tokens[i], peerop_error_last()->message);
		free(path);
	}
	/* a token file: surrounding white space is trimmed, inner control characters refused */
	tf = th_path(dir, "ctrl-token");
	ck_assert_int_eq(th_write_str(tf, "abc\001def\n"), 0);
	ck_assert_int_eq(peerop__kube_read_token(&path, tf, 0), PEEROP_ECONFIG);
	ck_assert_msg(strstr(peerop_error_last()->message, "control character") != NULL, "%s", peerop_error_last()->message);
	ck_assert_int_eq(th_write_str(tf, "  abcdef\r\n"), 0);
	ck_assert_int_eq(peerop__kube_read_token(&path, tf, 0), 0);
	ck_assert_str_eq(path, "abcdef");
	peerop__secret_free(path);
	free(tf);
}
END_TEST

START_TEST(test_exec_bad_config)
{
	const char *yaml =
		"current-context: t\nclusters:\n- name: c\n  cluster: {server: https://x.test}\n"
		"users:\n- name: u\n  user:\n    exec: {apiVersion: @API@, command: @CMD@}\n"
		"contexts:\n- name: t\n  context: {cluster: c, user: u}\n";
	const char *p1[] = { "API", "client.authentication.k8s.io/v1alpha1", "CMD", "x", NULL };
	const char *p2[] = { "API", "client.authentication.k8s.io/v1", "CMD", "\"\"", NULL };
	const char *p3[] = { "API", "client.authentication.k8s.io/v1", "CMD", "/nonexistent/plugin", NULL };
	peerop_kube_config *cfg = NULL;
	peerop__kube_cred cred;
	char *path = kt_write_template(dir, "e.yaml", yaml, p1);
	ck_assert_int_eq(load_path(&cfg, path, NULL), PEEROP_ECONFIG);
	ck_assert_msg(strstr(peerop_error_last()->message, "exec.apiVersion") != NULL, "%s", peerop_error_last()->message);
	free(path);
	path = kt_write_template(dir, "e.yaml", yaml, p2);
	ck_assert_int_eq(load_path(&cfg, path, NULL), PEEROP_ECONFIG);
	ck_assert_msg(strstr(peerop_error_last()->message, "exec.command") != NULL, "%s", peerop_error_last()->message);
	free(path);
	path = kt_write_template(dir, "e.yaml", yaml, p3);
	ck_assert_int_eq(load_path(&cfg, path, NULL), 0);
	ck_assert_int_eq(peerop__kube_cred_get(&cred, cfg, peerop__now_ms()), PEEROP_EEXEC);
	ck_assert_msg(strstr(peerop_error_last()->message, "/nonexistent/plugin") != NULL, "%s", peerop_error_last()->message);
	peerop_kube_config_free(cfg);
	free(path);
}
END_TEST

/* ---- token files and in-cluster ---- */

/* The credential at monotonic time now carries token want. */
static void expect_token(peerop_kube_config *cfg, uint64_t now, const char *want)
{
	peerop__kube_cred cred;
	ck_assert_msg(peerop__kube_cred_get(&cred, cfg, now) == 0, "%s", peerop_error_last()->message);
	ck_assert_str_eq(cred.token, want);
	peerop__kube_cred_dispose(&cred);
}

START_TEST(test_token_file_rotation)
{
	const char *yaml =
		"current-context: t\nclusters:\n- name: c\n  cluster: {server: https://x.test}\n"
		"users:\n- name: u\n  user: {tokenFile: tok}\ncontexts:\n- name: t\n  context: {cluster: c, user: u}\n";
	char *tok = th_path(dir, "tok"), *path;
	peerop_kube_config *cfg = NULL;
	peerop__kube_cred cred;
	uint64_t now = peerop__now_ms();

	ck_assert_int_eq(th_write_str(tok, "first\n"), 0);
	path = kt_write_template(dir, "t.yaml", yaml, NULL);
	ck_assert_int_eq(load_path(&cfg, path, NULL), 0);
	ck_assert_int_eq(th_write_str(tok, "second\n"), 0);
	/* within a minute: the cached token */
	expect_token(cfg, now + 1000, "first");
	/* a minute later: re-read */
	ck_assert_int_eq(peerop__kube_cred_get(&cred, cfg, now + 61000), 0);
	ck_assert_str_eq(cred.token, "second");
	/* after a 401: re-read at once */
	ck_assert_int_eq(th_write_str(tok, "third\n"), 0);
	ck_assert_int_eq(peerop__kube_cred_invalidate(cfg, cred.generation), 1);
	peerop__kube_cred_dispose(&cred);
	expect_token(cfg, now + 62000, "third");
	/* a failed read (file gone, then empty) keeps the last good token */
	unlink(tok);
	expect_token(cfg, now + 200000, "third");
	ck_assert_int_eq(th_write_str(tok, ""), 0);
	expect_token(cfg, now + 400000, "third");
	peerop_kube_config_free(cfg);
	free(tok);
	free(path);
}
END_TEST

/* A log callback that checks the config's lock is free while it runs. */
static peerop_kube_config *locked_cfg;
static int records, under_lock;

static void lock_probe(const peerop_log_record *rec, void *payload)
{
	(void)rec;
	(void)payload;
	records++;
	if (pthread_mutex_trylock(&locked_cfg->lock) != 0)
		under_lock++;
	else
		pthread_mutex_unlock(&locked_cfg->lock);
}

START_TEST(test_no_log_callback_under_lock)
{
	peerop_kube_config *ecfg = exec_config("ok", "client.authentication.k8s.io/v1");
	peerop__kube_cred cred;
	char *tok = th_path(dir, "tok"), *path;
	const char *yaml =
		"current-context: t\nclusters:\n- name: c\n  cluster: {server: https://x.test}\n"
		"users:\n- name: u\n  user: {tokenFile: tok}\ncontexts:\n- name: t\n  context: {cluster: c, user: u}\n";
	peerop_kube_config *tcfg = NULL;

	ck_assert_int_eq(th_write_str(tok, "a\n"), 0);
	path = kt_write_template(dir, "t.yaml", yaml, NULL);
	ck_assert_int_eq(load_path(&tcfg, path, NULL), 0);
	peerop_log_set_callback(lock_probe, PEEROP_LOG_TRACE, NULL);
	/* a token change (debug) and a failed re-read (warning) */
	locked_cfg = tcfg;
	ck_assert_int_eq(th_write_str(tok, "b\n"), 0);
	ck_assert_int_eq(peerop__kube_cred_get(&cred, tcfg, peerop__now_ms() + 61000), 0);
	peerop__kube_cred_dispose(&cred);
	unlink(tok);
	ck_assert_int_eq(peerop__kube_cred_get(&cred, tcfg, peerop__now_ms() + 130000), 0);
	peerop__kube_cred_dispose(&cred);
	/* an exec plugin run (debug) */
	locked_cfg = ecfg;
	ck_assert_int_eq(peerop__kube_cred_get(&cred, ecfg, peerop__now_ms()), 0);
	peerop__kube_cred_dispose(&cred);
	peerop_log_set_callback(NULL, PEEROP_LOG_OFF, NULL);
	ck_assert_int_ge(records, 3);
	ck_assert_int_eq(under_lock, 0);
	peerop_kube_config_free(tcfg);
	peerop_kube_config_free(ecfg);
	free(tok);
	free(path);
}
END_TEST

static char *incluster_root(void)
{
	char *root = subdir("sa"), *p;
	p = th_path(root, "ca.crt");
	copy_file(certs.ca_crt, p);
	free(p);
	p = th_path(root, "token");
	ck_assert_int_eq(th_write_str(p, "sa-token-1\n"), 0);
	free(p);
	p = th_path(root, "namespace");
	ck_assert_int_eq(th_write_str(p, "kube-app"), 0);
	free(p);
	return root;
}

START_TEST(test_in_cluster)
{
	peerop_kube_config_options o = PEEROP_KUBE_CONFIG_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	char *root = incluster_root(), *tok = th_path(root, "token");
	uint64_t now = peerop__now_ms();

	o.incluster_root = root;
	ck_assert_int_eq(peerop_kube_config_in_cluster(&cfg, &o), PEEROP_ECONFIG);
	ck_assert_msg(strstr(peerop_error_last()->message, "KUBERNETES_SERVICE_HOST") != NULL, "%s", peerop_error_last()->message);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ck_assert_int_eq(peerop_kube_config_in_cluster(&cfg, &o), 0);
	ck_assert_str_eq(peerop_kube_config_server(cfg), "https://10.96.0.1:443");
	ck_assert_str_eq(peerop_kube_config_namespace(cfg), "kube-app");
	ck_assert_str_eq(peerop_kube_config_context(cfg), "");
	ck_assert_ptr_nonnull(cfg->ca.data);
	expect_token(cfg, now, "sa-token-1");
	/* rotation: picked up within a minute */
	ck_assert_int_eq(th_write_str(tok, "sa-token-2\n"), 0);
	expect_token(cfg, now + 60500, "sa-token-2");
	/* a failed read keeps the last good token */
	unlink(tok);
	expect_token(cfg, now + 130000, "sa-token-2");
	peerop_kube_config_free(cfg);

	/* the token must exist at start */
	ck_assert_int_eq(peerop_kube_config_in_cluster(&cfg, &o), PEEROP_ENOENT);
	ck_assert_msg(strstr(peerop_error_last()->message, "token") != NULL, "%s", peerop_error_last()->message);
	/* IPv6, the namespace option, and the auto loader choosing in-cluster */
	ck_assert_int_eq(th_write_str(tok, "sa-token-3"), 0);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	o.ns = "other";
	ck_assert_int_eq(peerop_kube_config_auto(&cfg, &o), 0);
	ck_assert_str_eq(peerop_kube_config_server(cfg), "https://[fd00::1]:443");
	ck_assert_str_eq(peerop_kube_config_namespace(cfg), "other");
	peerop_kube_config_free(cfg);
	/* an unreadable CA */
	{
		char *ca = th_path(root, "ca.crt");
		ck_assert_int_eq(th_write_str(ca, "not a certificate"), 0);
		ck_assert_int_eq(peerop_kube_config_in_cluster(&cfg, &o), PEEROP_ECERT);
		ck_assert_msg(strstr(peerop_error_last()->message, "ca.crt") != NULL, "%s", peerop_error_last()->message);
		free(ca);
	}
	free(tok);
	free(root);
}
END_TEST

START_TEST(test_auto_prefers_kubeconfig)
{
	peerop_kube_config *cfg = NULL;
	char *a, *b;
	merged_fixture(&a, &b);
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	setenv("KUBECONFIG", b, 1);
	ck_assert_int_eq(peerop_kube_config_auto(&cfg, NULL), 0);
	ck_assert_str_eq(peerop_kube_config_context(cfg), "ctx-b");
	peerop_kube_config_free(cfg);
	ck_assert_int_eq(peerop_kube_config_auto(&cfg, &(peerop_kube_config_options){
		PEEROP_KUBE_CONFIG_OPTIONS_VERSION, a, NULL, NULL, NULL, 0, 0, 0 }), 0);
	ck_assert_str_eq(peerop_kube_config_context(cfg), "ctx-a");
	peerop_kube_config_free(cfg);
	free(a); free(b);
}
END_TEST

START_TEST(test_secrets_not_logged)
{
	/* load configs with a token and a key at TRACE level: neither appears
	 * in any log line or error message */
	char *ca = kt_base64(certs.ca_pem), *crt = kt_base64(certs.client_crt_pem), *key = kt_base64(certs.client_key_pem);
	const char *pairs[] = { "SERVER", "https://127.0.0.1:6443", "CA_DATA", ca, "TOKEN", "tok-SECRET-123", NULL };
	const char *p2[] = { "SERVER", "https://127.0.0.1:6443", "CA_DATA", ca, "CERT_DATA", crt, "KEY_DATA", key, NULL };
	char *path, *logs;
	peerop_kube_config *cfg = NULL;
	peerop_kube_client *c = NULL;

	th_log_capture_start(PEEROP_LOG_TRACE);
	path = kt_fixture(dir, "token.yaml", pairs);
	ck_assert_int_eq(load_path(&cfg, path, NULL), 0);
	ck_assert_int_eq(peerop_kube_client_new(&c, cfg, NULL), 0);
	peerop_kube_client_free(c);
	peerop_kube_config_free(cfg);
	free(path);
	path = kt_fixture(dir, "inline.yaml", p2);
	ck_assert_int_eq(load_path(&cfg, path, NULL), 0);
	peerop_kube_config_free(cfg);
	free(path);
	logs = th_log_captured();
	ck_assert(strstr(logs, "kubeconfig") != NULL); /* something was logged */
	ck_assert(strstr(logs, "tok-SECRET-123") == NULL);
	ck_assert(strstr(logs, "PRIVATE KEY") == NULL);
	ck_assert(strstr(logs, key) == NULL);
	free(logs);
	th_log_capture_stop();
	free(ca); free(crt); free(key);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube_config");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_merge_first_wins);
	tcase_add_test(tc, test_missing_files);
	tcase_add_test(tc, test_unknown_context);
	tcase_add_test(tc, test_namespace_override);
	tcase_add_test(tc, test_inline_certificates);
	tcase_add_test(tc, test_bad_files);
	tcase_add_test(tc, test_unreadable_ca_file);
	tcase_add_test(tc, test_hostile_yaml);
	tcase_add_test(tc, test_oversized);
	tcase_add_test(tc, test_proxy_and_server_name_fields);
	tcase_add_test(tc, test_yaml_to_json);
	tcase_add_test(tc, test_yaml_many_anchors);
	tcase_add_test(tc, test_urls);
	tcase_add_test(tc, test_rfc3339);
	tcase_add_test(tc, test_exec_plugin);
	tcase_add_test(tc, test_exec_v1beta1_and_expired);
	tcase_add_test(tc, test_exec_failures);
	tcase_add_test(tc, test_exec_kills_its_group);
	tcase_add_test(tc, test_token_control_characters);
	tcase_add_test(tc, test_exec_runs_unlocked);
	tcase_add_test(tc, test_exec_bad_config);
	tcase_add_test(tc, test_token_file_rotation);
	tcase_add_test(tc, test_no_log_callback_under_lock);
	tcase_add_test(tc, test_in_cluster);
	tcase_add_test(tc, test_auto_prefers_kubeconfig);
	tcase_add_test(tc, test_secrets_not_logged);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return kt_main(suite, &certs);
}
