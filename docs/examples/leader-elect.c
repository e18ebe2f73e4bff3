/*
 * leader-elect: compete for a Lease and say when this process leads.
 * Built by `make check` so that docs/leader.md cannot drift from the API.
 *
 *   leader-elect LEASE [IDENTITY]     (uses $KUBECONFIG or in-cluster config)
 *
 * Run it twice: one leads; stop that one (Ctrl-C) and the other takes over
 * within a retry period or two, because the Lease is released on stop.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <peerop/peerop.h>

static volatile sig_atomic_t done;

static void on_signal(int sig)
{
	(void)sig;
	done = 1;
}

/* Callbacks run on the elector's thread, one at a time. */
static void on_started(void *payload)
{
	(void)payload;
	puts("leading: start working");
	fflush(stdout);
}

static void on_stopped(void *payload)
{
	(void)payload;
	puts("not leading: stop working now");
	fflush(stdout);
}

static void on_new_leader(const char *identity, void *payload)
{
	(void)payload;
	printf("leader: %s\n", identity ? identity : "(none)");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	peerop_leader_options o = PEEROP_LEADER_OPTIONS_INIT;
	peerop_kube_config *cfg = NULL;
	peerop_kube_client *client = NULL;
	peerop_leader *l = NULL;
	int rc = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: leader-elect LEASE [IDENTITY]\n");
		return 2;
	}
	if (peerop_global_init() != 0)
		return 1;
	if (peerop_kube_config_auto(&cfg, NULL) != 0 || peerop_kube_client_new(&client, cfg, NULL) != 0)
		goto fail;
	o.name = argv[1];
	o.identity = argc > 2 ? argv[2] : NULL;   /* NULL: hostname_<random> */
	o.on_started_leading = on_started;
	o.on_stopped_leading = on_stopped;
	o.on_new_leader = on_new_leader;
	if (peerop_leader_start(&l, client, &o) != 0)
		goto fail;
	printf("competing for %s as %s\n", argv[1], peerop_leader_identity(l));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!done)
		pause();
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "leader-elect: %s\n", peerop_error_last()->message);
out:
	peerop_leader_free(l);     /* on_stopped_leading if leading, then the release */
	peerop_kube_client_free(client);
	peerop_kube_config_free(cfg);
	peerop_global_cleanup();
	return rc;
}
