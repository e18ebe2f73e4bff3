/*
 * peer_file.c: the peers file format and peer lists.
 *
 *   {"peers":[{"id":"demoweb-0","host":"10.1.2.3","port":8080}, ...]}
 *
 * Syntax errors carry jansson's line and column; well-formed files with a
 * wrong field name the element (`peers[2].port`), so a person can find the
 * mistake without a debugger. Unknown keys are ignored, so a newer writer
 * can add fields an older server does not know.
 */
#include "peer_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PEERS 100000

int peerop__peer_list_append(peerop_peer **list, size_t *count, size_t *cap,
	const char *id, const char *host, unsigned int port, peerop_peer_source source)
{
	peerop_peer *p;
	char *i, *h;

	if (*count == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		p = realloc(*list, nc * sizeof(*p));
		if (!p)
			return peerop__error_set(PEEROP_ENOMEM, "peers: out of memory");
		*list = p;
		*cap = nc;
	}
	i = peerop__strdup(id ? id : "");
	h = peerop__strdup(host);
	if (!i || !h) {
		free(i);
		free(h);
		return peerop__error_set(PEEROP_ENOMEM, "peers: out of memory");
	}
	p = &(*list)[(*count)++];
	p->id = i;
	p->host = h;
	p->port = port;
	p->source = source;
	return 0;
}

PEEROP_EXTERN(void) peerop_peer_list_free(peerop_peer *list, size_t count)
{
	size_t i;
	if (!list)
		return;
	for (i = 0; i < count; i++) {
		free((char *)list[i].id);
		free((char *)list[i].host);
	}
	free(list);
}

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int valid_host(const char *h)
{
	size_t n = strlen(h);
	return n > 0 && n <= 253 && printable(h) && !strpbrk(h, " /@[]?#");
}

static int parse_peer(peerop_peer **list, size_t *n, size_t *cap, const char *name,
	size_t idx, json_t *e)
{
	json_t *id = json_object_get(e, "id"), *host = json_object_get(e, "host"),
		*port = json_object_get(e, "port");
	json_int_t pv;

	if (!json_is_object(e))
		return peerop__error_set(PEEROP_ECONFIG, "%s: peers[%zu]: expected an object "
			"{\"id\":..,\"host\":..,\"port\":..}", name, idx);
	if (id && !json_is_null(id) && (!json_is_string(id) || json_string_length(id) > 253 ||
	    !printable(json_string_value(id))))
		return peerop__error_set(PEEROP_ECONFIG, "%s: peers[%zu].id: expected a string of at most "
			"253 printable characters", name, idx);
	if (!json_is_string(host) || !valid_host(json_string_value(host)))
		return peerop__error_set(PEEROP_ECONFIG, "%s: peers[%zu].host: %s", name, idx,
			host ? "expected a host name or address (IPv6 without brackets)" : "missing");
	if (!json_is_integer(port) || (pv = json_integer_value(port)) < 1 || pv > 65535)
		return peerop__error_set(PEEROP_ECONFIG, "%s: peers[%zu].port: %s", name, idx,
			port ? "expected an integer 1-65535" : "missing");
	return peerop__peer_list_append(list, n, cap, json_is_string(id) ? json_string_value(id) : "",
		json_string_value(host), (unsigned int)pv, PEEROP_PEER_FILE);
}

PEEROP_EXTERN(int) peerop_peers_parse(peerop_peer **out, size_t *count, const char *name,
	const char *data, size_t len)
{
	json_error_t err;
	json_t *root, *peers;
	peerop_peer *list = NULL;
	size_t n = 0, cap = 0, i;
	int rc = 0;

	if (!out || !count || (!data && len))
		return peerop__error_set(PEEROP_EINVAL, "peers parse: missing argument");
	*out = NULL;
	*count = 0;
	if (!name)
		name = "peers";
	for (i = 0; i < len && strchr(" \t\r\n", data[i]) && data[i]; i++)
		;
	if (i == len)
		return peerop__error_set(PEEROP_ESYNTAX, "%s: the file is empty (expected {\"peers\":[...]})", name);
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		return peerop__error_set(PEEROP_ESYNTAX, "%s: line %d, column %d: %s", name,
			err.line, err.column, err.text);
	peers = json_object_get(root, "peers");
	if (!json_is_object(root))
		rc = peerop__error_set(PEEROP_ECONFIG, "%s: expected a JSON object {\"peers\":[...]}", name);
	else if (!json_is_array(peers))
		rc = peerop__error_set(PEEROP_ECONFIG, "%s: \"peers\": %s", name,
			peers ? "expected an array" : "missing (expected {\"peers\":[...]})");
	else if (json_array_size(peers) > MAX_PEERS)
		rc = peerop__error_set(PEEROP_ETOOLARGE, "%s: more than %d peers", name, MAX_PEERS);
	for (i = 0; rc == 0 && i < json_array_size(peers); i++)
		rc = parse_peer(&list, &n, &cap, name, i, json_array_get(peers, i));
	json_decref(root);
	if (rc) {
		peerop_peer_list_free(list, n);
		return rc;
	}
	*out = list;
	*count = n;
	return 0;
}

/* The inverse of peerop_peers_parse(), for whoever writes peers files
 * (peerop-operator into a ConfigMap): the same rules, so what it writes the
 * servers can always read. One peer per line keeps diffs and
 * `kubectl get cm -o yaml` readable; ids sorted by the caller stay put. */
PEEROP_EXTERN(int) peerop_peers_format(char **out, const peerop_peer *list, size_t count)
{
	peerop__buf b = PEEROP__BUF_INIT;
	size_t i;
	int rc = 0;

	if (!out || (!list && count))
		return peerop__error_set(PEEROP_EINVAL, "peers format: missing argument");
	*out = NULL;
	if (count > MAX_PEERS)
		return peerop__error_set(PEEROP_ETOOLARGE, "peers format: more than %d peers", MAX_PEERS);
	for (i = 0; i < count; i++) {
		const char *id = list[i].id ? list[i].id : "";
		if (strlen(id) > 253 || !printable(id))
			return peerop__error_set(PEEROP_ECONFIG, "peers format: peers[%zu].id: expected at most "
				"253 printable characters", i);
		if (!list[i].host || !valid_host(list[i].host))
			return peerop__error_set(PEEROP_ECONFIG, "peers format: peers[%zu].host: expected a host "
				"name or address (IPv6 without brackets)", i);
		if (list[i].port < 1 || list[i].port > 65535)
			return peerop__error_set(PEEROP_ECONFIG, "peers format: peers[%zu].port: expected 1-65535", i);
	}
	rc |= peerop__buf_puts(&b, "{\"peers\":[");
	for (i = 0; i < count; i++) {
		rc |= peerop__buf_puts(&b, i ? ",\n  {\"id\":\"" : "\n  {\"id\":\"");
		rc |= peerop__buf_put_json_escaped(&b, list[i].id ? list[i].id : "");
		rc |= peerop__buf_puts(&b, "\",\"host\":\"");
		rc |= peerop__buf_put_json_escaped(&b, list[i].host);
		rc |= peerop__buf_printf(&b, "\",\"port\":%u}", list[i].port);
	}
	rc |= peerop__buf_puts(&b, count ? "\n]}\n" : "]}\n");
	if (rc < 0) {
		peerop__buf_dispose(&b);
		return peerop__error_set(PEEROP_ENOMEM, "out of memory");
	}
	*out = peerop__buf_detach(&b);
	return 0;
}
