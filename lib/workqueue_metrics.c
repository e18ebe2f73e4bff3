/*
 * workqueue_metrics.c: a queue's figures under client-go's workqueue
 * metric names (k8s.io/client-go/util/workqueue, as controller-runtime
 * registers them), labelled with the queue's name.
 */
#include <peerop/workqueue.h>
#include "internal.h"

static int family1(peerop_metrics_writer *w, const char *name, peerop_metric_type type, const char *help,
	const peerop_metric_label *l, double value)
{
	int rc = peerop_metrics_family(w, name, type, help);
	return rc ? rc : peerop_metrics_sample(w, NULL, l, 1, value);
}

int peerop_workqueue_collect_metrics(peerop_metrics_writer *w, void *queue)
{
	peerop_workqueue *q = queue;
	peerop_workqueue_stats s;
	peerop_metric_label l[1];
	double bounds[PEEROP_WORKQUEUE_DURATION_BUCKETS], b = 1e-8;
	size_t i;
	int rc;

	if (!w || !q)
		return PEEROP_EINVAL;
	peerop_workqueue_get_stats(q, &s);
	l[0].name = "name";
	l[0].value = peerop_workqueue_name(q);
	for (i = 0; i < PEEROP_WORKQUEUE_DURATION_BUCKETS; i++, b *= 10)
		bounds[i] = b;
	rc = family1(w, "workqueue_depth", PEEROP_METRIC_GAUGE, "Current depth of workqueue", l, (double)s.depth);
	if (rc == 0)
		rc = family1(w, "workqueue_adds_total", PEEROP_METRIC_COUNTER,
			"Total number of adds handled by workqueue", l, (double)s.adds_total);
	if (rc == 0)
		rc = family1(w, "workqueue_retries_total", PEEROP_METRIC_COUNTER,
			"Total number of retries handled by workqueue", l, (double)s.retries_total);
	if (rc == 0)
		rc = peerop_metrics_histogram(w, "workqueue_queue_duration_seconds",
			"How long in seconds an item stays in workqueue before being requested", l, 1, bounds,
			s.queue_wait_buckets, PEEROP_WORKQUEUE_DURATION_BUCKETS, s.gets_total, s.queue_wait_sum_s);
	if (rc == 0)
		rc = peerop_metrics_histogram(w, "workqueue_work_duration_seconds",
			"How long in seconds processing an item from workqueue takes", l, 1, bounds,
			s.work_buckets, PEEROP_WORKQUEUE_DURATION_BUCKETS, s.dones_total, s.work_sum_s);
	if (rc == 0)
		rc = family1(w, "workqueue_unfinished_work_seconds", PEEROP_METRIC_GAUGE,
			"How many seconds of work has been done that is in progress and hasn't been observed by "
			"work_duration. Large values indicate stuck threads. One can deduce the number of stuck "
			"threads by observing the rate at which this increases.", l, s.unfinished_work_s);
	if (rc == 0)
		rc = family1(w, "workqueue_longest_running_processor_seconds", PEEROP_METRIC_GAUGE,
			"How many seconds has the longest running processor for workqueue been running", l,
			s.longest_running_s);
	return rc;
}
