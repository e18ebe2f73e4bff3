/* yaml_body.c: YAML request bodies (application/apply-patch+yaml, and
 * application/yaml creates and updates) decoded to JSON with libyaml's
 * event parser, the way the real server's sigs.k8s.io/yaml (go-yaml v2,
 * YAML 1.1) reads them: plain scalars become null, booleans (true, yes, on,
 * y...), integers (decimal, 0x, 0o, 0b, 0-prefixed octal, underscores) and
 * floats; quoted scalars and !!str stay strings; mapping keys become
 * strings; `<<` merge keys are honoured. JSON is valid YAML, so JSON
 * bodies take the same path.
 *
 * Hostile input gets a clean error, never a blow-up: at most one document,
 * nesting at most DC_YAML_MAX_DEPTH deep, and at most DC_YAML_MAX_NODES
 * values in the result, counting every alias expansion (a "billion laughs"
 * body stops at the budget), no duplicate keys, no Inf/NaN (JSON has none).
 * Errors read like the real server's: "yaml: line N: problem". */
#include "apiserver.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct anchor {
	char *name;
	json_t *value;
	size_t nodes;            /* values in it, for the expansion budget */
} anchor;

typedef struct frame {
	json_t *node;            /* object or array being filled */
	char *key;               /* pending mapping key */
	bool key_is_merge;       /* the pending key is a plain "<<" */
	json_t *merges;          /* mappings merged in with "<<", applied at the end */
	char *anchor;
	size_t start_nodes;
} frame;

typedef struct ydec {
	frame stack[DC_YAML_MAX_DEPTH];
	int depth;
	anchor *anchors;
	size_t nanchors;
	size_t nodes;
	json_t *root;
	bool have_root;
	char *err;
} ydec;

static int fail(ydec *y, const yaml_mark_t *m, const char *fmt, ...) PEEROP_FORMAT(3, 4);
static int fail(ydec *y, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (y->err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(&y->err, "yaml: line %zu: %s", m ? m->line + 1 : 1, msg) < 0)
		y->err = NULL;
	return -1;
}

static int count(ydec *y, size_t n, const yaml_mark_t *m)
{
	if (n > DC_YAML_MAX_NODES || y->nodes + n > DC_YAML_MAX_NODES)
		return fail(y, m, "document too large: more than %d values (aliases count every time they are used)",
			DC_YAML_MAX_NODES);
	y->nodes += n;
	return 0;
}

/* ---- scalar resolution (YAML 1.1 as go-yaml v2) ---- */

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?: go-yaml's float syntax */
static bool float_syntax(const char *p)
{
	bool digits = false;
	if (*p == '+' || *p == '-')
		p++;
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits = true;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* An integer or float in YAML 1.1 plain syntax (underscores ignored), or
 * NULL (the scalar is a string). *bad: a number JSON cannot hold. */
static json_t *number(const char *in, bool *bad)
{
	char buf[128], *end;
	const char *p;
	size_t n = 0;
	int base = 10;
	bool neg = false;
	double d;
	*bad = false;
	if (strlen(in) >= sizeof(buf))
		return NULL;
	for (p = in; *p; p++)
		if (*p != '_')
			buf[n++] = *p;
	buf[n] = '\0';
	p = buf;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16, p += 2;
	else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
		base = 8, p += 2;
	else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
		base = 2, p += 2;
	else if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
		base = 8, p += 1;
	if (*p && *p != '-' && *p != '+' && *p != ' ') {
		unsigned long long v;
		errno = 0;
		v = strtoull(p, &end, base);
		if (!*end && !errno && v <= (neg ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX))
			return json_integer(neg ? (json_int_t)(0 - v) : (json_int_t)v);
	}
	if (!float_syntax(buf))
		return NULL;
	d = strtod(buf, &end);
	if (*end || !isfinite(d)) {
		*bad = true;
		return NULL;
	}
	/* what Go's encoding/json writes for a whole float64: an integer */
	if (d == floor(d) && fabs(d) < 9007199254740992.0)
		return json_integer((json_int_t)d);
	return json_real(d);
}

static json_t *scalar(ydec *y, const yaml_event_t *ev)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const trues[] = { "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
		"on", "On", "ON", NULL };
	static const char *const falses[] = { "n", "N", "no", "No", "NO", "false", "False", "FALSE",
		"off", "Off", "OFF", NULL };
	static const char *const infs[] = { ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
		"-.Inf", "-.INF", ".nan", ".NaN", ".NAN", NULL };
	const char *v = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	size_t len = ev->data.scalar.length;
	json_t *out;
	bool bad;

	if (memchr(v, '\0', len))
		return fail(y, &ev->start_mark, "NUL character in a scalar"), NULL;
	/* quoted, !!str, the non-specific "!" and !!binary (base64 text, as
	 * Go's []byte in JSON) are strings as written */
	if ((!tag && ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) ||
	    (tag && (!strcmp(tag, YAML_STR_TAG) || !strcmp(tag, "!") ||
		     !strcmp(tag, "tag:yaml.org,2002:binary")))) {
		out = json_stringn(v, len);
		goto check;
	}
	if (in_list(v, nulls))
		return json_null();
	if (in_list(v, trues))
		return json_true();
	if (in_list(v, falses))
		return json_false();
	if (in_list(v, infs))
		return fail(y, &ev->start_mark, "infinity and NaN have no JSON representation: %s", v), NULL;
	out = number(v, &bad);
	if (bad)
		return fail(y, &ev->start_mark, "number out of range: %.60s", v), NULL;
	if (out)
		return out;
	if (tag && (!strcmp(tag, YAML_INT_TAG) || !strcmp(tag, YAML_FLOAT_TAG)))
		return fail(y, &ev->start_mark, "cannot decode !!%s `%.60s`",
			!strcmp(tag, YAML_INT_TAG) ? "int" : "float", v), NULL;
	out = json_stringn(v, len);
check:
	if (!out)
		fail(y, &ev->start_mark, "invalid UTF-8 in a scalar");
	return out;
}

/* ---- building ---- */

static const anchor *find_anchor(const ydec *y, const char *name)
{
	size_t i;
	for (i = y->nanchors; i-- > 0;)
		if (!strcmp(y->anchors[i].name, name))
			return &y->anchors[i];
	return NULL;
}

static int add_anchor(ydec *y, const char *name, json_t *value, size_t nodes)
{
	anchor *na = realloc(y->anchors, (y->nanchors + 1) * sizeof(*na));
	if (!na)
		return -1;
	y->anchors = na;
	na[y->nanchors].name = strdup(name);
	na[y->nanchors].value = json_incref(value);
	na[y->nanchors].nodes = nodes;
	if (!na[y->nanchors].name) {
		json_decref(value);
		return -1;
	}
	y->nanchors++;
	return 0;
}

/* The string form of a mapping key, as Go's YAML-to-JSON conversion writes it. */
static char *key_string(const json_t *k)
{
	if (json_is_string(k))
		return strdup(json_string_value(k));
	if (json_is_null(k))
		return strdup("null");
	if (json_is_object(k) || json_is_array(k))
		return NULL;
	return json_dumps(k, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* Put a finished value (stolen) into the enclosing container. */
static int attach(ydec *y, json_t *v, const yaml_mark_t *m, bool plain_merge_key)
{
	frame *f;
	if (!v)
		return -1;
	if (y->depth == 0) {
		y->root = v;
		y->have_root = true;
		return 0;
	}
	f = &y->stack[y->depth - 1];
	if (json_is_array(f->node))
		return json_array_append_new(f->node, v) ? (fail(y, m, "out of memory"), -1) : 0;
	if (!f->key) {
		f->key = key_string(v);
		f->key_is_merge = plain_merge_key;
		json_decref(v);
		return f->key ? 0 : fail(y, m, "mapping keys must be scalars");
	}
	if (f->key_is_merge) {
		/* "<<: *base" or "<<: [*a, *b]": merged when the mapping ends */
		json_t *list = json_is_array(v) ? v : json_pack("[o]", v);
		size_t i;
		json_t *e;
		json_array_foreach(list, i, e)
			if (!json_is_object(e)) {
				json_decref(list);
				return fail(y, m, "map merge requires map or sequence of maps as the value");
			}
		if (!f->merges)
			f->merges = json_array();
		json_array_extend(f->merges, list);
		json_decref(list);
	} else if (json_object_get(f->node, f->key)) {
		json_decref(v);
		return fail(y, m, "key \"%.100s\" already set in map", f->key);
	} else if (json_object_set_new(f->node, f->key, v)) {
		return fail(y, m, "out of memory");
	}
	free(f->key);
	f->key = NULL;
	return 0;
}

static int push(ydec *y, json_t *node, const yaml_char_t *anchor_name, const yaml_mark_t *m)
{
	frame *f;
	if (!node)
		return fail(y, m, "out of memory");
	if (y->depth >= DC_YAML_MAX_DEPTH) {
		json_decref(node);
		return fail(y, m, "nesting deeper than %d levels", DC_YAML_MAX_DEPTH);
	}
	if (count(y, 1, m)) {
		json_decref(node);
		return -1;
	}
	f = &y->stack[y->depth++];
	memset(f, 0, sizeof(*f));
	f->node = node;
	f->start_nodes = y->nodes - 1;
	if (anchor_name && !(f->anchor = strdup((const char *)anchor_name)))
		return fail(y, m, "out of memory");
	return 0;
}

static int pop(ydec *y, const yaml_mark_t *m)
{
	frame f = y->stack[--y->depth];
	size_t i;
	json_t *src;
	int rc = 0;
	/* explicit keys win over merged ones; earlier merges over later ones */
	json_array_foreach(f.merges, i, src) {
		const char *k;
		json_t *v;
		json_object_foreach(src, k, v)
			if (!json_object_get(f.node, k) && (rc = count(y, 1, m)) == 0)
				json_object_set(f.node, k, v);
	}
	json_decref(f.merges);
	if (rc == 0 && f.key)
		rc = fail(y, m, "mapping key without a value");
	if (rc == 0 && f.anchor)
		rc = add_anchor(y, f.anchor, f.node, y->nodes - f.start_nodes);
	free(f.key);
	free(f.anchor);
	if (rc) {
		json_decref(f.node);
		return -1;
	}
	return attach(y, f.node, m, false);
}

static int on_event(ydec *y, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	const anchor *a;
	json_t *v;

	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		bool merge = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag &&
			!strcmp((const char *)ev->data.scalar.value, "<<");
		if (count(y, 1, m) || !(v = scalar(y, ev)))
			return -1;
		if (ev->data.scalar.anchor && add_anchor(y, (const char *)ev->data.scalar.anchor, v, 1)) {
			json_decref(v);
			return fail(y, m, "out of memory");
		}
		return attach(y, v, m, merge);
	}
	case YAML_ALIAS_EVENT:
		a = find_anchor(y, (const char *)ev->data.alias.anchor);
		if (!a)
			return fail(y, m, "unknown anchor '%.100s' referenced", (const char *)ev->data.alias.anchor);
		/* a copy, so the result is a tree whose size the budget bounds */
		if (count(y, a->nodes, m))
			return -1;
		return attach(y, json_deep_copy(a->value), m, false);
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

json_t *dc_yaml_decode(const char *data, size_t len, char **err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	ydec y;
	int docs = 0, rc = 0;
	bool done = false;
	size_t i;

	*err = NULL;
	memset(&y, 0, sizeof(y));
	if (!yaml_parser_initialize(&parser)) {
		*err = strdup("out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)(data ? data : ""), len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = fail(&y, &parser.problem_mark, "%s%s%s", parser.problem ? parser.problem : "malformed YAML",
				parser.context ? " " : "", parser.context ? parser.context : "");
			break;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT)
			docs++;
		if (ev.type == YAML_STREAM_END_EVENT)
			done = true;
		else if (docs <= 1)
			rc = on_event(&y, &ev);
		else if (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
			 ev.type == YAML_ALIAS_EVENT || (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length))
			/* a later document with content (an empty trailing "---" is fine) */
			rc = fail(&y, &ev.start_mark, "more than one document: send one object per request");
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	while (y.depth > 0) {
		frame *f = &y.stack[--y.depth];
		json_decref(f->node);
		json_decref(f->merges);
		free(f->key);
		free(f->anchor);
	}
	for (i = 0; i < y.nanchors; i++) {
		free(y.anchors[i].name);
		json_decref(y.anchors[i].value);
	}
	free(y.anchors);
	if (rc == 0 && (!y.have_root || json_is_null(y.root)))
		rc = fail(&y, NULL, "the body is empty: expected an object");
	if (rc != 0) {
		json_decref(y.root);
		*err = y.err ? y.err : strdup("yaml: malformed document");
		return NULL;
	}
	return y.root;
}
