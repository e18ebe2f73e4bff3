/* table.c: meta.k8s.io/v1 Table replies, what `kubectl get` asks for with
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...`: column
 * definitions, one row of cells per object, and each row's object as
 * PartialObjectMetadata (includeObject=Metadata, the default), the whole
 * object (Object) or nothing (None). Built-in types get the real server's
 * columns (printers.c); custom resources get Name plus their CRD's
 * additionalPrinterColumns (Age alone when the CRD declares none). */
#include "apiserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Does one media range ("application/json;as=Table;v=v1;g=meta.k8s.io")
 * name a v1 Table? Parameters in any order, spaces around them allowed. */
static bool is_table_range(const char *r, size_t n)
{
	bool as = false, g = false, v = false;
	size_t i = 0, field = 0;
	while (i <= n) {
		size_t j = i, k;
		while (j < n && r[j] != ';')
			j++;
		while (i < j && r[i] == ' ')
			i++;
		k = j;
		while (k > i && r[k - 1] == ' ')
			k--;
		if (field++ == 0) {
			if (k - i != 16 || strncasecmp(r + i, "application/json", 16))
				return false;
		} else if (k - i == 8 && !strncmp(r + i, "as=Table", 8)) {
			as = true;
		} else if (k - i == 13 && !strncmp(r + i, "g=meta.k8s.io", 13)) {
			g = true;
		} else if (k - i == 4 && !strncmp(r + i, "v=v1", 4)) {
			v = true;
		}
		i = j + 1;
	}
	return as && g && v;
}

/* A range the reply can satisfy as plain JSON (ends the search): JSON
 * without an "as=" conversion (PartialObjectMetadata is not offered), or a
 * wildcard. */
static bool is_plain_range(const char *r, size_t n)
{
	while (n && *r == ' ')
		r++, n--;
	if (n >= 16 && !strncasecmp(r, "application/json", 16))
		return !memmem(r, n, "as=", 3);
	return (n >= 3 && !strncmp(r, "*/*", 3)) || (n >= 13 && !strncasecmp(r, "application/*", 13));
}

int dc_table_wanted(const dc_req *rq, dc_resp *rs, dc_include *inc)
{
	const char *a = rq->accept, *io = dc_req_query(rq, "includeObject");
	bool table = false;
	while (a && *a) {
		const char *comma = strchr(a, ',');
		size_t n = comma ? (size_t)(comma - a) : strlen(a);
		if (is_table_range(a, n)) {
			table = true;
			break;
		}
		if (is_plain_range(a, n))
			break;
		a = comma ? comma + 1 : NULL;
	}
	*inc = DC_INC_METADATA;
	if (io && *io) {
		if (!strcmp(io, "None"))
			*inc = DC_INC_NONE;
		else if (!strcmp(io, "Object"))
			*inc = DC_INC_OBJECT;
		else if (strcmp(io, "Metadata")) {
			dc_resp_error(rs, 400, "BadRequest", "includeObject: Unsupported value: \"%s\": supported "
				"values: \"Metadata\", \"None\", \"Object\"", io);
			return -1;
		}
	}
	return table ? 1 : 0;
}

/* ---- custom resources: the CRD's columns ---- */

static json_t *cr_columns(const dc_rtype *rt)
{
	json_t *cols = json_array(), *c;
	size_t i;
	json_array_append_new(cols, json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", "Name", "type", "string",
		"format", "name", "description", "Name must be unique within a namespace. Is required when creating resources, "
		"although some resources may allow a client to request the generation of an appropriate name automatically.",
		"priority", 0));
	if (json_array_size(rt->printer_columns) == 0) {
		json_array_append_new(cols, json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", "Age", "type", "date",
			"format", "", "description", "", "priority", 0));
		return cols;
	}
	json_array_foreach(rt->printer_columns, i, c) {
		const char *f = dc_json_str(c, "format"), *d = dc_json_str(c, "description");
		json_array_append_new(cols, json_pack("{s:s?,s:s?,s:s,s:s,s:I}",
			"name", dc_json_str(c, "name"), "type", dc_json_str(c, "type"),
			"format", f ? f : "", "description", d ? d : "",
			"priority", json_integer_value(json_object_get(c, "priority"))));
	}
	return cols;
}

static json_t *cr_cell(const json_t *col, const json_t *obj, time_t now)
{
	const char *type = dc_json_str(col, "type"), *path = dc_json_str(col, "jsonPath");
	json_t *res = json_array(), *v, *cell = NULL;
	if (!path || dc_jsonpath_eval(path, obj, res) != 0 || json_array_size(res) == 0)
		goto out;
	v = json_array_get(res, 0);
	if (type && !strcmp(type, "date")) {
		char buf[32];
		dc_human_age(buf, sizeof(buf), json_string_value(v), now);
		cell = json_string(buf);
	} else if (json_array_size(res) == 1 && !json_is_object(v) && !json_is_array(v)) {
		cell = json_incref(v);
	} else {
		/* several values, or a structure: printed joined, as kubectl does */
		peerop__buf b = PEEROP__BUF_INIT;
		size_t i;
		json_array_foreach(res, i, v) {
			char *s = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			peerop__buf_printf(&b, "%s%s", i ? "," : "", s ? s : "");
			free(s);
		}
		cell = json_string(b.ptr ? b.ptr : "");
		peerop__buf_dispose(&b);
	}
out:
	json_decref(res);
	return cell ? cell : json_null();
}

static json_t *cr_cells(const dc_rtype *rt, const json_t *obj, time_t now)
{
	json_t *cells = json_array(), *c;
	size_t i;
	json_array_append_new(cells, json_string(dc_json_str(obj, "metadata.name")));
	if (json_array_size(rt->printer_columns) == 0) {
		char buf[32];
		dc_human_age(buf, sizeof(buf), dc_json_str(obj, "metadata.creationTimestamp"), now);
		json_array_append_new(cells, json_string(buf));
		return cells;
	}
	json_array_foreach(rt->printer_columns, i, c)
		json_array_append_new(cells, cr_cell(c, obj, now));
	return cells;
}

/* ---- rows and tables ---- */

static json_t *row(const dc_rtype *rt, const dc_obj *o, dc_include inc, time_t now)
{
	json_t *obj = dc_obj_parse(o), *r;
	if (!obj)
		return NULL;
	r = json_pack("{s:o}", "cells", (rt->flags & DC_RT_CUSTOM) ? cr_cells(rt, obj, now)
		: dc_printer_cells(rt, obj, now));
	if (inc == DC_INC_METADATA)
		json_object_set_new(r, "object", json_pack("{s:s,s:s,s:O}", "kind", "PartialObjectMetadata",
			"apiVersion", "meta.k8s.io/v1", "metadata", json_object_get(obj, "metadata")));
	if (inc == DC_INC_OBJECT) {
		dc_rtype_out(rt, obj);
		json_object_set(r, "object", obj);
	}
	json_decref(obj);
	return r;
}

int dc_table_render(peerop__buf *b, const dc_rtype *rt, dc_obj *const *objs, size_t n,
	dc_include inc, bool headers, json_t *list_meta)
{
	json_t *t = json_pack("{s:s,s:s,s:o}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
		"metadata", list_meta ? json_incref(list_meta) : json_object()), *rows = json_array();
	time_t now = time(NULL);
	char *s;
	size_t i;
	int rc;
	if (!t || !rows) {
		json_decref(t);
		json_decref(rows);
		return PEEROP_ENOMEM;
	}
	/* kubectl reuses the last columns when a watch event's table has none */
	json_object_set_new(t, "columnDefinitions", headers ? ((rt->flags & DC_RT_CUSTOM) ? cr_columns(rt)
		: dc_printer_columns(rt)) : json_array());
	for (i = 0; i < n; i++) {
		json_t *r = row(rt, objs[i], inc, now);
		if (r)
			json_array_append_new(rows, r);
	}
	json_object_set_new(t, "rows", rows);
	s = json_dumps(t, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(t);
	if (!s)
		return PEEROP_ENOMEM;
	rc = peerop__buf_puts(b, s);
	free(s);
	return rc;
}
