/**
 * @file peerop/peerop.h
 * @brief The umbrella header: include this one.
 *
 * libpeerop: list+watch that never loses an event, a controller runtime, and
 * peer pinging over an embedded HTTP server, over a Kubernetes client.
 */
#ifndef PEEROP_H
#define PEEROP_H

#include <peerop/common.h>
#include <peerop/version.h>
#include <peerop/error.h>
#include <peerop/log.h>
#include <peerop/global.h>
#include <peerop/kube.h>
#include <peerop/watch.h>
#include <peerop/informer.h>
#include <peerop/metrics.h>
#include <peerop/httpd.h>
#include <peerop/peer.h>
#include <peerop/workqueue.h>
#include <peerop/leader.h>
#include <peerop/reconcile.h>
#include <peerop/fieldpath.h>
#include <peerop/predicate.h>
#include <peerop/finalizer.h>
#include <peerop/discovery.h>
#include <peerop/events.h>
#include <peerop/manager.h>

#endif /* PEEROP_H */
