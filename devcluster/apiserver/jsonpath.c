/* jsonpath.c: the subset of kubectl's JSONPath that CRD printer columns
 * use: `.a.b`, `['a.b']`, `[N]` (negative from the end), `[*]`, and filters
 * `[?(@.x.y=="v")]` / `!=` with a string, number or boolean literal, with an
 * optional `{...}` wrapper. Not supported: recursive descent (`..`),
 * slices, unions, functions. The real server accepts any JSONPath when a
 * CRD is stored, and so do we; an unsupported expression yields no value
 * (the cell prints as <none>). */
#include "apiserver.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef enum step_kind { ST_FIELD, ST_INDEX, ST_ALL, ST_FILTER } step_kind;

typedef struct step {
	step_kind kind;
	char *name;          /* ST_FIELD; ST_FILTER: the @-relative dotted path */
	long index;          /* ST_INDEX */
	bool neq;            /* ST_FILTER: != instead of == */
	json_t *literal;     /* ST_FILTER */
} step;

#define MAX_STEPS 32

static void steps_free(step *st, int n)
{
	int i;
	for (i = 0; i < n; i++) {
		free(st[i].name);
		json_decref(st[i].literal);
	}
}

/* A filter literal: "str", 'str', a number, true or false. */
static json_t *parse_literal(const char **pp)
{
	const char *p = *pp;
	json_t *v = NULL;
	if (*p == '"' || *p == '\'') {
		char q = *p++;
		const char *e = strchr(p, q);
		if (!e)
			return NULL;
		v = json_stringn(p, (size_t)(e - p));
		p = e + 1;
	} else if (!strncmp(p, "true", 4)) {
		v = json_true(), p += 4;
	} else if (!strncmp(p, "false", 5)) {
		v = json_false(), p += 5;
	} else if (*p == '-' || isdigit((unsigned char)*p)) {
		char *end;
		double d = strtod(p, &end);
		if (end == p)
			return NULL;
		/* an integer only when it is one and fits: converting a double
		 * out of json_int_t's range is undefined (found by fuzzing) */
		v = d >= -9.2e18 && d <= 9.2e18 && d == (double)(json_int_t)d ? json_integer((json_int_t)d) :
			json_real(d);
		p = end;
	}
	*pp = p;
	return v;
}

/* Parse "[?(@.a.b==lit)]" starting after "[?(". */
static bool parse_filter(const char **pp, step *s)
{
	const char *p = *pp, *start;
	if (*p++ != '@')
		return false;
	if (*p == '.')
		p++;
	start = p;
	while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.'))
		p++;
	s->name = strndup(start, (size_t)(p - start));
	while (*p == ' ')
		p++;
	if (!strncmp(p, "==", 2))
		s->neq = false;
	else if (!strncmp(p, "!=", 2))
		s->neq = true;
	else
		return false;
	p += 2;
	while (*p == ' ')
		p++;
	s->literal = parse_literal(&p);
	while (*p == ' ')
		p++;
	if (!s->name || !s->literal || strncmp(p, ")]", 2))
		return false;
	s->kind = ST_FILTER;
	*pp = p + 2;
	return true;
}

static int parse(const char *expr, step *st)
{
	const char *p = expr;
	size_t len = strlen(expr);
	int n = 0;
	char *copy = NULL;
	if (len >= 2 && expr[0] == '{' && expr[len - 1] == '}') {
		copy = strndup(expr + 1, len - 2);
		if (!copy)
			return -1;
		p = copy;
	}
	while (*p) {
		step *s = &st[n];
		if (n == MAX_STEPS)
			goto bad;
		memset(s, 0, sizeof(*s));
		if (*p == '.') {
			const char *start = ++p;
			if (*p == '.')
				goto bad; /* recursive descent: not supported */
			while (*p && *p != '.' && *p != '[')
				p++;
			if (p == start)
				continue; /* a lone trailing "." (or the root "."): nothing to do */
			s->kind = ST_FIELD;
			s->name = strndup(start, (size_t)(p - start));
		} else if (!strncmp(p, "[*]", 3)) {
			s->kind = ST_ALL;
			p += 3;
		} else if (!strncmp(p, "[?(", 3)) {
			p += 3;
			if (!parse_filter(&p, s))
				goto bad;
		} else if (p[0] == '[' && (p[1] == '\'' || p[1] == '"')) {
			char q = p[1];
			const char *e = strchr(p + 2, q);
			if (!e || e[1] != ']')
				goto bad;
			s->kind = ST_FIELD;
			s->name = strndup(p + 2, (size_t)(e - p - 2));
			p = e + 2;
		} else if (p[0] == '[') {
			char *end;
			s->index = strtol(p + 1, &end, 10);
			if (end == p + 1 || *end != ']')
				goto bad;
			s->kind = ST_INDEX;
			p = end + 1;
		} else {
			goto bad;
		}
		n++;
		if (s->kind == ST_FIELD && !s->name)
			goto bad;
	}
	free(copy);
	return n;
bad:
	/* st[n] was cleared before anything could fail, unless the table is full */
	steps_free(st, n < MAX_STEPS ? n + 1 : n);
	free(copy);
	return -1;
}

static void eval(const step *st, int n, const json_t *node, json_t *out)
{
	size_t i;
	json_t *v;
	if (!node)
		return;
	if (n == 0) {
		json_array_append(out, (json_t *)node);
		return;
	}
	switch (st->kind) {
	case ST_FIELD:
		eval(st + 1, n - 1, json_object_get(node, st->name), out);
		break;
	case ST_INDEX:
		if (json_is_array(node)) {
			long idx = st->index < 0 ? (long)json_array_size(node) + st->index : st->index;
			if (idx >= 0)
				eval(st + 1, n - 1, json_array_get(node, (size_t)idx), out);
		}
		break;
	case ST_ALL:
		if (json_is_array(node)) {
			json_array_foreach(node, i, v)
				eval(st + 1, n - 1, v, out);
		} else if (json_is_object(node)) {
			const char *k;
			json_object_foreach((json_t *)node, k, v)
				eval(st + 1, n - 1, v, out);
		}
		break;
	case ST_FILTER:
		json_array_foreach(node, i, v) {
			json_t *got = dc_json_path(v, st->name);
			bool eq = got && json_equal(got, st->literal);
			if (eq != st->neq)
				eval(st + 1, n - 1, v, out);
		}
		break;
	}
}

int dc_jsonpath_eval(const char *expr, const json_t *obj, json_t *out)
{
	step st[MAX_STEPS];
	int n = parse(expr, st);
	if (n < 0)
		return PEEROP_EINVAL;
	eval(st, n, obj, out);
	steps_free(st, n);
	return 0;
}
