/* cluster.c: the API server with the controller manager and a kubelet
 * beside it (cluster.h). The server calls back here to start the
 * components once it listens and to stop them before it replaces or frees
 * its store, so they always run against the current one. */
#include "config.h"
#include "cluster.h"

#include <stdlib.h>

struct dc_cluster {
	dc_cluster_options opts;
	dc_server *srv;
	dc_ctlmgr *ctl;
	dc_kubelet *kubelet;
};

static void components_stop(dc_server *srv, void *arg)
{
	dc_cluster *c = arg;
	(void)srv;
	dc_ctlmgr_stop(c->ctl);
	c->ctl = NULL;
	dc_kubelet_stop(c->kubelet);
	c->kubelet = NULL;
	dc_events_reset();
}

static int components_start(dc_server *srv, void *arg)
{
	dc_cluster *c = arg;
	int rc = 0;
	if (c->opts.controllers)
		rc = dc_ctlmgr_start(&c->ctl, srv);
	if (rc == 0 && c->opts.kubelet)
		rc = dc_kubelet_start(&c->kubelet, srv, &c->opts.node);
	if (rc != 0)
		components_stop(srv, c);
	return rc;
}

int dc_cluster_start(dc_cluster **out, const dc_cluster_options *opts)
{
	dc_cluster *c = calloc(1, sizeof(*c));
	int rc;
	*out = NULL;
	if (!c)
		return PEEROP_ENOMEM;
	c->opts = *opts;
	c->opts.server.components_start = components_start;
	c->opts.server.components_stop = components_stop;
	c->opts.server.components_arg = c;
	rc = dc_server_start(&c->srv, &c->opts.server);
	if (rc != 0) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void dc_cluster_free(dc_cluster *c)
{
	if (!c)
		return;
	dc_server_free(c->srv);
	free(c);
}

dc_server *dc_cluster_server(const dc_cluster *c)
{
	return c->srv;
}

dc_kubelet *dc_cluster_kubelet(const dc_cluster *c)
{
	return c->kubelet;
}
