/*
 * kube_yaml.c: YAML to JSON with libyaml's event parser.
 *
 * Events rather than libyaml's document loader because the loader lets an
 * alias refer to a node still being built (a cycle), and expands nothing
 * lazily; here an anchor is registered only once its node is complete, so
 * aliases can only point backwards and share the finished json_t (jansson
 * values may have several parents). Depth and alias uses are bounded so a
 * hostile file cannot exhaust the stack or the CPU, and anchors are found
 * in a hash map (a list made a file of many anchors and aliases quadratic).
 *
 * A kubeconfig holds secrets: what libyaml copied of the text (its input
 * buffers, each scalar of each event) is wiped before it is freed, and a
 * caller may collect every string made (peerop__yaml_to_json_ex) to wipe
 * them when done with the tree.
 */
#include "kube_internal.h"

#include <string.h>
#include <openssl/crypto.h>
#include <yaml.h>

#define YAML_MAX_DEPTH 64
#define YAML_MAX_ALIASES 10000

typedef struct frame {
	json_t *node;      /* object or array being filled */
	char *key;         /* pending mapping key, or NULL */
	char *anchor;      /* to register when the node ends */
	size_t key_line;
} frame;

typedef struct yctx {
	const char *name;
	frame stack[YAML_MAX_DEPTH];
	int depth;
	peerop__map anchors;   /* name -> json_t * (a reference) */
	size_t aliases;
	json_t *root;
	json_t *strings;       /* every string scalar made, or NULL: not collected */
} yctx;

static int syntax(const char *name, const yaml_mark_t *m, const char *what)
{
	return peerop__error_set(PEEROP_ESYNTAX, "%s:%zu:%zu: %s", name,
		m->line + 1, m->column + 1, what);
}

static int add_anchor(yctx *y, const char *name, json_t *value)
{
	void *old = NULL;
	/* YAML lets a later anchor reuse a name: the newest definition wins. */
	if (peerop__map_put(&y->anchors, name, json_incref(value), &old) < 0) {
		json_decref(value);
		return PEEROP_ENOMEM;
	}
	json_decref(old);
	return 0;
}

/* Attach a finished value to the enclosing container (or make it the root). */
static int attach(yctx *y, json_t *value, const yaml_mark_t *m)
{
	frame *f;
	if (y->depth == 0) {
		if (!y->root)
			y->root = json_incref(value);
		return 0;
	}
	f = &y->stack[y->depth - 1];
	if (json_is_array(f->node))
		return json_array_append(f->node, value) ? PEEROP_ENOMEM : 0;
	if (!f->key) {
		/* value in key position: only scalar keys are supported */
		if (!json_is_string(value))
			return syntax(y->name, m, "mapping keys must be scalars");
		f->key = strdup(json_string_value(value));
		f->key_line = m->line;
		return f->key ? 0 : PEEROP_ENOMEM;
	}
	if (json_object_get(f->node, f->key)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "duplicate key \"%.100s\"", f->key);
		return syntax(y->name, m, msg);
	}
	if (json_object_set(f->node, f->key, value))
		return PEEROP_ENOMEM;
	free(f->key);
	f->key = NULL;
	return 0;
}

static int push(yctx *y, json_t *node, const yaml_char_t *anchor_name, const yaml_mark_t *m)
{
	frame *f;
	if (!node)
		return PEEROP_ENOMEM;
	if (y->depth >= YAML_MAX_DEPTH) {
		json_decref(node);
		return syntax(y->name, m, "nested too deeply");
	}
	f = &y->stack[y->depth++];
	f->node = node;
	f->key = NULL;
	f->anchor = anchor_name ? strdup((const char *)anchor_name) : NULL;
	return 0;
}

static int pop(yctx *y, const yaml_mark_t *m)
{
	frame f = y->stack[--y->depth];
	int rc = 0;
	if (f.key)
		rc = syntax(y->name, m, "mapping key without a value");
	if (rc == 0 && f.anchor)
		rc = add_anchor(y, f.anchor, f.node);
	if (rc == 0)
		rc = attach(y, f.node, m);
	json_decref(f.node);
	free(f.key);
	free(f.anchor);
	return rc;
}

/* A plain "", "~" or "null" is YAML's null: kubeconfig writers use it for
 * "not set" (`exec: null`, `token:`). */
static int is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return ev->data.scalar.length == 0 || !strcmp(v, "~") || !strcmp(v, "null") ||
		!strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int on_event(yctx *y, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	json_t *v;
	int rc;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (is_null(ev))
			v = json_null();
		else
			v = json_stringn((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (!v)
			return syntax(y->name, m, "scalar is not valid UTF-8 or holds a NUL byte");
		if (y->strings && json_is_string(v) && json_array_append(y->strings, v)) {
			json_decref(v);
			return PEEROP_ENOMEM;
		}
		rc = ev->data.scalar.anchor ? add_anchor(y, (const char *)ev->data.scalar.anchor, v) : 0;
		if (rc == 0)
			rc = attach(y, v, m);
		json_decref(v);
		return rc;
	case YAML_ALIAS_EVENT:
		if (++y->aliases > YAML_MAX_ALIASES)
			return syntax(y->name, m, "too many aliases");
		if ((v = peerop__map_get(&y->anchors, (const char *)ev->data.alias.anchor)) != NULL)
			return attach(y, v, m);
		return syntax(y->name, m, "alias to an unknown or unfinished anchor");
	case YAML_SEQUENCE_START_EVENT:
		return push(y, json_array(), ev->data.sequence_start.anchor, m);
	case YAML_MAPPING_START_EVENT:
		return push(y, json_object(), ev->data.mapping_start.anchor, m);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return pop(y, m);
	default:
		return 0;
	}
}

static void yctx_dispose(yctx *y)
{
	size_t pos = 0;
	const char *name;
	void *v;
	while (y->depth > 0) {
		frame *f = &y->stack[--y->depth];
		json_decref(f->node);
		free(f->key);
		free(f->anchor);
	}
	while (peerop__map_next(&y->anchors, &pos, &name, &v))
		json_decref(v);
	peerop__map_dispose(&y->anchors);
	json_decref(y->root);
}

/* Wipe what libyaml holds of the text before it frees it. */
static void wipe_parser(yaml_parser_t *p)
{
	if (p->raw_buffer.start)
		OPENSSL_cleanse(p->raw_buffer.start, (size_t)(p->raw_buffer.end - p->raw_buffer.start));
	if (p->buffer.start)
		OPENSSL_cleanse(p->buffer.start, (size_t)(p->buffer.end - p->buffer.start));
}

static void wipe_event(yaml_event_t *ev)
{
	if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.value)
		OPENSSL_cleanse(ev->data.scalar.value, ev->data.scalar.length);
}

void peerop__json_strings_wipe(json_t *strings)
{
	size_t i;
	json_t *v;
	json_array_foreach(strings, i, v)
		if (json_is_string(v))
			OPENSSL_cleanse((void *)json_string_value(v), json_string_length(v));
}

int peerop__yaml_to_json(json_t **out, const char *data, size_t len, const char *name)
{
	return peerop__yaml_to_json_ex(out, NULL, data, len, name);
}

int peerop__yaml_to_json_ex(json_t **out, json_t *strings, const char *data, size_t len, const char *name)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	yctx y;
	int rc = 0, done = 0;

	*out = NULL;
	memset(&y, 0, sizeof(y));
	y.name = name ? name : "yaml";
	y.strings = strings;
	if (!yaml_parser_initialize(&parser))
		return peerop__error_set(PEEROP_ENOMEM, "%s: out of memory", y.name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			char msg[256];
			snprintf(msg, sizeof(msg), "%s%s%s",
				parser.problem ? parser.problem : "malformed YAML",
				parser.context ? " " : "", parser.context ? parser.context : "");
			rc = syntax(y.name, &parser.problem_mark, msg);
			break;
		}
		/* Only the first document counts; stop at its end. */
		if (ev.type == YAML_DOCUMENT_END_EVENT || ev.type == YAML_STREAM_END_EVENT)
			done = 1;
		else
			rc = on_event(&y, &ev);
		wipe_event(&ev);
		yaml_event_delete(&ev);
	}
	wipe_parser(&parser);
	yaml_parser_delete(&parser);
	if (rc == PEEROP_ENOMEM)
		rc = peerop__error_set(PEEROP_ENOMEM, "%s: out of memory", y.name);
	if (rc == 0) {
		/* An empty document, or a bare scalar, carries no configuration. */
		if (!y.root || json_is_null(y.root) || json_is_string(y.root)) {
			if (y.root && json_string_length(y.root) > 0) {
				rc = peerop__error_set(PEEROP_ESYNTAX, "%s:1:1: expected a mapping, found a scalar", y.name);
			} else {
				json_decref(y.root);
				y.root = json_object();
				if (!y.root)
					rc = peerop__error_set(PEEROP_ENOMEM, "%s: out of memory", y.name);
			}
		}
	}
	if (rc == 0) {
		*out = y.root;
		y.root = NULL;
	}
	yctx_dispose(&y);
	return rc;
}
