/* selector.c: label selectors (equality and set-based) and field selectors,
 * with the grammar of k8s.io/apimachinery/pkg/labels and .../fields. */
#include "apiserver.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum op { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_EXISTS, OP_NOTEXISTS, OP_GT, OP_LT };

typedef struct req {
	char *key;
	enum op op;
	char **vals;
	size_t nvals;
} req;

struct dc_selector {
	req *r;
	size_t n;
};

void dc_selector_free(dc_selector *sel)
{
	size_t i, j;
	if (!sel)
		return;
	for (i = 0; i < sel->n; i++) {
		free(sel->r[i].key);
		for (j = 0; j < sel->r[i].nvals; j++)
			free(sel->r[i].vals[j]);
		free(sel->r[i].vals);
	}
	free(sel->r);
	free(sel);
}

static req *add_req(dc_selector *sel)
{
	req *nr = realloc(sel->r, (sel->n + 1) * sizeof(*nr));
	if (!nr)
		return NULL;
	sel->r = nr;
	memset(&nr[sel->n], 0, sizeof(*nr));
	return &nr[sel->n++];
}

static int add_val(req *r, const char *v, size_t n)
{
	char **nv = realloc(r->vals, (r->nvals + 1) * sizeof(*nv));
	if (!nv)
		return -1;
	r->vals = nv;
	nv[r->nvals] = peerop__strndup(v, n);
	if (!nv[r->nvals])
		return -1;
	r->nvals++;
	return 0;
}

static bool key_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/';
}

static bool value_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* A label key: [prefix/]name, name <= 63 chars starting and ending alnum. */
static bool valid_key(const char *k, size_t n)
{
	const char *slash = memchr(k, '/', n);
	const char *name = slash ? slash + 1 : k;
	size_t nn = n - (size_t)(name - k), i;
	if (nn == 0 || nn > 63 || (slash && (slash == k || slash - k > 253)))
		return false;
	if (!isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[nn - 1]))
		return false;
	for (i = 0; i < nn; i++)
		if (!value_char(name[i]))
			return false;
	return true;
}

static bool valid_value(const char *v, size_t n)
{
	size_t i;
	if (n == 0)
		return true;
	if (n > 63 || !isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]))
		return false;
	for (i = 0; i < n; i++)
		if (!value_char(v[i]))
			return false;
	return true;
}

static int fail(char **err, dc_selector *sel, const char *fmt, const char *text)
{
	dc_selector_free(sel);
	if (asprintf(err, fmt, text) < 0)
		*err = NULL;
	return PEEROP_EINVALID;
}

#define SKIPWS(p) while (*(p) == ' ' || *(p) == '\t') (p)++

/* One label value at *p (possibly empty), added to r. */
static bool take_value(const char **p, req *r)
{
	const char *v = *p;
	while (value_char(**p))
		(*p)++;
	return valid_value(v, (size_t)(*p - v)) && add_val(r, v, (size_t)(*p - v)) == 0;
}

int dc_label_selector_parse(dc_selector **out, const char *text, char **err)
{
	dc_selector *sel;
	const char *p = text;
	*out = NULL;
	*err = NULL;
	if (!text)
		return 0;
	SKIPWS(p);
	if (!*p)
		return 0;
	sel = calloc(1, sizeof(*sel));
	if (!sel)
		return PEEROP_ENOMEM;
	for (;;) {
		req *r = add_req(sel);
		const char *k;
		size_t kn;
		bool neg = false;
		if (!r)
			return fail(err, sel, "out of memory%s", "");
		SKIPWS(p);
		if (*p == '!') {
			neg = true;
			p++;
			SKIPWS(p);
		}
		k = p;
		while (key_char(*p))
			p++;
		kn = (size_t)(p - k);
		if (!valid_key(k, kn))
			return fail(err, sel, "unable to parse requirement: invalid label key in selector \"%s\"", text);
		r->key = peerop__strndup(k, kn);
		SKIPWS(p);
		if (neg) {
			r->op = OP_NOTEXISTS;
		} else if (*p == ',' || *p == '\0') {
			r->op = OP_EXISTS;
		} else if (p[0] == '=' || (p[0] == '!' && p[1] == '=') || p[0] == '>' || p[0] == '<') {
			if (p[0] == '!') { r->op = OP_NE; p += 2; }
			else if (p[0] == '>') { r->op = OP_GT; p++; }
			else if (p[0] == '<') { r->op = OP_LT; p++; }
			else { r->op = OP_EQ; p += (p[1] == '=') ? 2 : 1; }
			SKIPWS(p);
			if (!take_value(&p, r))
				return fail(err, sel, "unable to parse requirement: invalid label value in selector \"%s\"", text);
			if ((r->op == OP_GT || r->op == OP_LT) && (r->vals[0][0] == '\0' ||
			    strspn(r->vals[0], "0123456789") != strlen(r->vals[0])))
				return fail(err, sel, "unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer in selector \"%s\"", text);
		} else if (!strncmp(p, "in", 2) || !strncmp(p, "notin", 5)) {
			r->op = p[0] == 'i' ? OP_IN : OP_NOTIN;
			p += r->op == OP_IN ? 2 : 5;
			SKIPWS(p);
			if (*p != '(')
				return fail(err, sel, "unable to parse requirement: expected '(' in selector \"%s\"", text);
			p++;
			for (;;) {
				SKIPWS(p);
				if (!take_value(&p, r))
					return fail(err, sel, "unable to parse requirement: invalid label value in selector \"%s\"", text);
				SKIPWS(p);
				if (*p == ',') {
					p++;
					continue;
				}
				if (*p == ')') {
					p++;
					break;
				}
				return fail(err, sel, "unable to parse requirement: expected ',' or ')' in selector \"%s\"", text);
			}
		} else {
			return fail(err, sel, "unable to parse requirement: unknown operator in selector \"%s\"", text);
		}
		SKIPWS(p);
		if (*p == '\0')
			break;
		if (*p != ',')
			return fail(err, sel, "unable to parse requirement: unexpected text in selector \"%s\"", text);
		p++;
	}
	*out = sel;
	return 0;
}

static bool in_vals(const req *r, const char *v)
{
	size_t i;
	for (i = 0; i < r->nvals; i++)
		if (!strcmp(r->vals[i], v))
			return true;
	return false;
}

bool dc_label_selector_match(const dc_selector *sel, const json_t *labels)
{
	size_t i;
	if (!sel)
		return true;
	for (i = 0; i < sel->n; i++) {
		const req *r = &sel->r[i];
		const char *v = json_string_value(json_object_get(labels, r->key));
		switch (r->op) {
		case OP_EQ:
			if (!v || strcmp(v, r->vals[0]))
				return false;
			break;
		case OP_NE:
			if (v && !strcmp(v, r->vals[0]))
				return false;
			break;
		case OP_IN:
			if (!v || !in_vals(r, v))
				return false;
			break;
		case OP_NOTIN:
			if (v && in_vals(r, v))
				return false;
			break;
		case OP_EXISTS:
			if (!v)
				return false;
			break;
		case OP_NOTEXISTS:
			if (v)
				return false;
			break;
		case OP_GT:
		case OP_LT: {
			char *end;
			long long a, b = strtoll(r->vals[0], NULL, 10);
			if (!v)
				return false;
			a = strtoll(v, &end, 10);
			if (*end || !*v || (r->op == OP_GT ? !(a > b) : !(a < b)))
				return false;
			break;
		}
		}
	}
	return true;
}

/* Field selector terms: key=value, key==value, key!=value; '\' escapes. */
int dc_field_selector_parse(dc_selector **out, const char *text, char **err)
{
	dc_selector *sel;
	const char *p = text;
	*out = NULL;
	*err = NULL;
	if (!text || !*text)
		return 0;
	sel = calloc(1, sizeof(*sel));
	if (!sel)
		return PEEROP_ENOMEM;
	while (*p) {
		req *r = add_req(sel);
		const char *k = p;
		peerop__buf v = PEEROP__BUF_INIT;
		if (!r)
			return fail(err, sel, "out of memory%s", "");
		while (*p && *p != '=' && *p != '!' && *p != ',')
			p++;
		if (p == k || !*p || *p == ',')
			return fail(err, sel, "invalid field selector: '%s'", text);
		r->key = peerop__strndup(k, (size_t)(p - k));
		if (p[0] == '!' && p[1] == '=') {
			r->op = OP_NE;
			p += 2;
		} else if (p[0] == '=') {
			r->op = OP_EQ;
			p += p[1] == '=' ? 2 : 1;
		} else {
			return fail(err, sel, "invalid field selector: '%s'", text);
		}
		while (*p && *p != ',') {
			if (*p == '\\' && p[1])
				p++;
			if (peerop__buf_putc(&v, *p) != 0) {
				peerop__buf_dispose(&v);
				return fail(err, sel, "out of memory%s", "");
			}
			p++;
		}
		if (add_val(r, v.ptr ? v.ptr : "", v.len) != 0) {
			peerop__buf_dispose(&v);
			return fail(err, sel, "out of memory%s", "");
		}
		peerop__buf_dispose(&v);
		if (*p == ',')
			p++;
	}
	*out = sel;
	return 0;
}

char *dc_field_selector_check(const dc_selector *sel, const dc_rtype *rt)
{
	size_t i;
	char *msg;
	for (i = 0; sel && i < sel->n; i++) {
		bool ok;
		dc_rtype_field(rt, NULL, sel->r[i].key, &ok);
		if (!ok) {
			if (asprintf(&msg, "field label not supported: %s", sel->r[i].key) < 0)
				return strdup("field label not supported");
			return msg;
		}
	}
	return NULL;
}

bool dc_field_selector_match(const dc_selector *sel, const dc_rtype *rt, const dc_obj *o)
{
	json_t *parsed = NULL;
	bool ok = true;
	size_t i;
	for (i = 0; sel && ok && i < sel->n; i++) {
		const req *r = &sel->r[i];
		const char *v;
		bool sup;
		if (!strcmp(r->key, "metadata.name"))
			v = o->name;
		else if (!strcmp(r->key, "metadata.namespace"))
			v = o->ns;
		else {
			if (!parsed)
				parsed = dc_obj_parse(o);
			v = dc_rtype_field(rt, parsed, r->key, &sup);
			if (!v)
				v = "";
		}
		ok = (r->op == OP_EQ) == (strcmp(v, r->vals[0]) == 0);
	}
	json_decref(parsed);
	return ok;
}

char *dc_label_selector_format(const json_t *ls)
{
	peerop__buf b = PEEROP__BUF_INIT;
	const char *k;
	json_t *v, *e;
	size_t i, j;
	json_object_foreach((json_t *)json_object_get(ls, "matchLabels"), k, v) {
		peerop__buf_printf(&b, "%s%s=%s", b.len ? "," : "", k, json_string_value(v) ? json_string_value(v) : "");
	}
	json_array_foreach(json_object_get(ls, "matchExpressions"), i, e) {
		const char *key = json_string_value(json_object_get(e, "key"));
		const char *op = json_string_value(json_object_get(e, "operator"));
		json_t *vals = json_object_get(e, "values"), *x;
		if (!key || !op)
			continue;
		if (b.len)
			peerop__buf_putc(&b, ',');
		if (!strcmp(op, "Exists")) {
			peerop__buf_puts(&b, key);
		} else if (!strcmp(op, "DoesNotExist")) {
			peerop__buf_printf(&b, "!%s", key);
		} else {
			peerop__buf_printf(&b, "%s %s (", key, !strcmp(op, "In") ? "in" : "notin");
			json_array_foreach(vals, j, x)
				peerop__buf_printf(&b, "%s%s", j ? "," : "", json_string_value(x) ? json_string_value(x) : "");
			peerop__buf_putc(&b, ')');
		}
	}
	return b.ptr ? peerop__buf_detach(&b) : strdup("");
}
