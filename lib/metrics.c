/*
 * metrics.c: the Prometheus text exposition format (version 0.0.4).
 *
 * The writer refuses invalid names instead of emitting them: one bad
 * sample would make a scraper reject the whole document.
 */
#include "internal.h"
#include "peer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct peerop_metrics_writer {
	peerop__buf *out;
	char family[128];
	peerop_metric_type type;
	int started;
};

static int valid_name(const char *s, int allow_colon)
{
	const char *p;
	if (!s || !*s)
		return 0;
	for (p = s; *p; p++) {
		char c = *p;
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			(allow_colon && c == ':');
		if (!alpha && !(p != s && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

/* HELP text escapes backslash and newline; label values also the quote. */
static int put_escaped(peerop__buf *b, const char *s, int quote)
{
	int rc = 0;
	for (; *s && !rc; s++) {
		if (*s == '\\')
			rc = peerop__buf_puts(b, "\\\\");
		else if (*s == '\n')
			rc = peerop__buf_puts(b, "\\n");
		else if (quote && *s == '"')
			rc = peerop__buf_puts(b, "\\\"");
		else
			rc = peerop__buf_putc(b, *s);
	}
	return rc;
}

static int put_value(peerop__buf *b, double v)
{
	if (isnan(v))
		return peerop__buf_puts(b, "NaN");
	if (isinf(v))
		return peerop__buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	/* integers print without an exponent; avoids needing libm for floor() */
	if (v > -1e15 && v < 1e15 && v == (double)(long long)v)
		return peerop__buf_printf(b, "%.0f", v);
	return peerop__buf_printf(b, "%.17g", v);
}

PEEROP_EXTERN(int) peerop_metrics_family(peerop_metrics_writer *w, const char *name,
	peerop_metric_type type, const char *help)
{
	static const char *types[] = { "counter", "gauge", "histogram" };
	int rc = 0;

	if (!w || !valid_name(name, 1) || strlen(name) >= sizeof(w->family) ||
	    (unsigned)type >= PEEROP__ARRAY_SIZE(types))
		return peerop__error_set(PEEROP_EINVAL, "metrics: invalid family name \"%.64s\"",
			name ? name : "(null)");
	strcpy(w->family, name);
	w->type = type;
	w->started = 1;
	rc |= peerop__buf_printf(w->out, "# HELP %s ", name);
	rc |= put_escaped(w->out, help && *help ? help : name, 0);
	rc |= peerop__buf_printf(w->out, "\n# TYPE %s %s\n", name, types[type]);
	return rc ? peerop__error_set(PEEROP_ENOMEM, "metrics: out of memory") : 0;
}

PEEROP_EXTERN(int) peerop_metrics_sample(peerop_metrics_writer *w, const char *suffix,
	const peerop_metric_label *labels, size_t nlabels, double value)
{
	size_t i;
	int rc = 0;

	if (!w || !w->started)
		return peerop__error_set(PEEROP_EINVAL, "metrics: sample before any family");
	if (suffix && *suffix) {
		if (w->type != PEEROP_METRIC_HISTOGRAM || (strcmp(suffix, "_bucket") &&
		    strcmp(suffix, "_sum") && strcmp(suffix, "_count")))
			return peerop__error_set(PEEROP_EINVAL, "metrics: suffix \"%.32s\" not allowed for %s",
				suffix, w->family);
	}
	for (i = 0; i < nlabels; i++)
		if (!valid_name(labels[i].name, 0) || strncmp(labels[i].name, "__", 2) == 0 ||
		    !labels[i].value)
			return peerop__error_set(PEEROP_EINVAL, "metrics: invalid label \"%.64s\" on %s",
				labels[i].name ? labels[i].name : "(null)", w->family);
	rc |= peerop__buf_puts(w->out, w->family);
	if (suffix)
		rc |= peerop__buf_puts(w->out, suffix);
	if (nlabels) {
		rc |= peerop__buf_putc(w->out, '{');
		for (i = 0; i < nlabels; i++) {
			rc |= peerop__buf_printf(w->out, "%s%s=\"", i ? "," : "", labels[i].name);
			rc |= put_escaped(w->out, labels[i].value, 1);
			rc |= peerop__buf_putc(w->out, '"');
		}
		rc |= peerop__buf_putc(w->out, '}');
	}
	rc |= peerop__buf_putc(w->out, ' ');
	rc |= put_value(w->out, value);
	rc |= peerop__buf_putc(w->out, '\n');
	return rc ? peerop__error_set(PEEROP_ENOMEM, "metrics: out of memory") : 0;
}

PEEROP_EXTERN(int) peerop_metrics_histogram(peerop_metrics_writer *w, const char *name,
	const char *help, const peerop_metric_label *labels, size_t nlabels,
	const double *bounds, const unsigned long long *counts, size_t nbounds,
	unsigned long long count, double sum)
{
	peerop_metric_label l[9];
	char le[48];
	size_t i;
	int rc;

	if (nlabels > 8)
		return peerop__error_set(PEEROP_EINVAL, "metrics: too many labels on %s", name);
	if ((rc = peerop_metrics_family(w, name, PEEROP_METRIC_HISTOGRAM, help)) != 0)
		return rc;
	if (nlabels)
		memcpy(l, labels, nlabels * sizeof(*l));
	l[nlabels].name = "le";
	l[nlabels].value = le;
	for (i = 0; i <= nbounds; i++) {
		if (i < nbounds)
			snprintf(le, sizeof(le), "%g", bounds[i]);
		else
			strcpy(le, "+Inf");
		rc = peerop_metrics_sample(w, "_bucket", l, nlabels + 1,
			(double)(i < nbounds ? counts[i] : count));
		if (rc)
			return rc;
	}
	if ((rc = peerop_metrics_sample(w, "_sum", labels, nlabels, sum)) != 0)
		return rc;
	return peerop_metrics_sample(w, "_count", labels, nlabels, (double)count);
}

int peerop__metrics_run(peerop__buf *out, peerop_metrics_collect_cb collect, void *payload)
{
	peerop_metrics_writer w;
	memset(&w, 0, sizeof(w));
	w.out = out;
	return collect(&w, payload);
}

PEEROP_EXTERN(int) peerop_metrics_render(char **out, const peerop_metrics_collect_cb *collectors,
	void *const *payloads, size_t ncollectors)
{
	peerop__buf b = PEEROP__BUF_INIT;
	size_t i;
	int rc;

	if (!out || (ncollectors && !collectors))
		return peerop__error_set(PEEROP_EINVAL, "metrics: missing argument");
	*out = NULL;
	if ((rc = peerop__buf_puts(&b, "")) != 0)
		return rc;
	for (i = 0; i < ncollectors; i++) {
		if ((rc = peerop__metrics_run(&b, collectors[i], payloads ? payloads[i] : NULL)) != 0) {
			peerop__buf_dispose(&b);
			return rc;
		}
	}
	*out = peerop__buf_detach(&b);
	return 0;
}
