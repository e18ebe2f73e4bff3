/*
 * internal.h: declarations shared by the library's own files.
 *
 * The building blocks (errors, logging, buffers, clocks, the map) are the
 * internal base library (base/base.h), which devcluster/ links too; what
 * only lib/ shares among its modules lives in each module's own
 * *_internal.h. Nothing here is exported (see base.h).
 */
#ifndef PEEROP_INTERNAL_H
#define PEEROP_INTERNAL_H

#include "base.h"

#endif /* PEEROP_INTERNAL_H */
