/**
 * @file peerop/metrics.h
 * @brief Rendering metrics in the Prometheus text exposition format.
 *
 * libpeerop keeps no global registry. A component that has figures to
 * show (the HTTP server, the pinger, a program's own counters) offers a
 * collector: a function that, when /metrics is scraped, writes its current
 * values through a peerop_metrics_writer. The writer checks metric and label
 * names, escapes label values and HELP text and writes each family's
 * `# HELP` and `# TYPE` lines, so the output passes `promtool check metrics`.
 *
 * Names follow Prometheus conventions: counters end in `_total`, durations
 * are in seconds (`_seconds`), sizes in bytes.
 */
#ifndef PEEROP_METRICS_H
#define PEEROP_METRICS_H

#include <peerop/common.h>

PEEROP_BEGIN_DECL

/** Where a collector writes; owned by the library, valid during the collector call only. */
typedef struct peerop_metrics_writer peerop_metrics_writer;

/** The kind of a metric family, as `# TYPE` spells it. */
typedef enum peerop_metric_type {
	PEEROP_METRIC_COUNTER = 0,   /**< only goes up; the name ends in `_total` */
	PEEROP_METRIC_GAUGE = 1,     /**< goes up and down */
	PEEROP_METRIC_HISTOGRAM = 2  /**< `_bucket{le=...}`, `_sum` and `_count` samples */
} peerop_metric_type;

/** One label of a sample. Both strings are borrowed. */
typedef struct peerop_metric_label {
	const char *name;   /**< `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` */
	const char *value;  /**< any UTF-8 text; escaped by the writer */
} peerop_metric_label;

/**
 * A collector: writes the current values of its metrics.
 *
 * Called on an HTTP server thread for each scrape, possibly concurrently
 * with itself: it must only read shared state under its own lock and must
 * not block on the network.
 *
 * @return 0, or a negative PEEROP_E* code to fail the scrape (500)
 */
typedef int (*peerop_metrics_collect_cb)(peerop_metrics_writer *w, void *payload);

/**
 * Start a metric family: writes its `# HELP` and `# TYPE` lines.
 *
 * @param name the family name (`peerop_pings_total`); for a histogram the
 *        name without `_bucket`, `_sum` or `_count`
 * @param help one line of text
 * @return 0, PEEROP_EINVAL for an invalid name, PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_metrics_family(peerop_metrics_writer *w, const char *name,
	peerop_metric_type type, const char *help);

/**
 * Write one sample of the family started last.
 *
 * @param suffix NULL for counters and gauges; `"_bucket"`, `"_sum"` or
 *        `"_count"` for histograms
 * @param labels may be NULL when nlabels is 0
 * @param value written with full precision; infinities as `+Inf`/`-Inf`
 * @return 0, PEEROP_EINVAL (no family started, bad label name or suffix),
 *         PEEROP_ENOMEM
 */
PEEROP_EXTERN(int) peerop_metrics_sample(peerop_metrics_writer *w, const char *suffix,
	const peerop_metric_label *labels, size_t nlabels, double value);

/**
 * Write a whole histogram family from cumulative bucket counts.
 *
 * @param bounds the upper bounds of the buckets, increasing (`+Inf` is added)
 * @param counts cumulative count of observations <= bounds[i], nbounds entries
 * @param count the number of observations (the `+Inf` bucket)
 * @param sum the sum of the observations
 * @return as peerop_metrics_family()
 */
PEEROP_EXTERN(int) peerop_metrics_histogram(peerop_metrics_writer *w, const char *name,
	const char *help, const peerop_metric_label *labels, size_t nlabels,
	const double *bounds, const unsigned long long *counts, size_t nbounds,
	unsigned long long count, double sum);

/**
 * Run collectors into one exposition document, for programs that serve or
 * push metrics themselves (peerop_httpd serves them on /metrics).
 *
 * @param out receives the text, to release with peerop_free()
 * @param collectors ncollectors functions, each called with payloads[i]
 * @return 0, or the first collector's error (nothing is returned then)
 */
PEEROP_EXTERN(int) peerop_metrics_render(char **out, const peerop_metrics_collect_cb *collectors,
	void *const *payloads, size_t ncollectors);

PEEROP_END_DECL

#endif /* PEEROP_METRICS_H */
