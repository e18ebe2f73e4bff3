/**
 * @file peerop/global.h
 * @brief Process-wide initialisation and memory release.
 */
#ifndef PEEROP_GLOBAL_H
#define PEEROP_GLOBAL_H

#include <peerop/common.h>

PEEROP_BEGIN_DECL

/**
 * Initialise the library (and libcurl underneath). Reference-counted: each
 * call must be paired with peerop_global_cleanup(). Call it from the main
 * thread before starting any other thread that uses libpeerop, as
 * curl_global_init() requires.
 *
 * @return 0, or a negative PEEROP_E* code if libcurl could not initialise
 */
PEEROP_EXTERN(int) peerop_global_init(void);

/** Undo one peerop_global_init(); the last one releases libcurl. */
PEEROP_EXTERN(void) peerop_global_cleanup(void);

/**
 * Release memory the library allocated and handed to the caller
 * (strings returned through `char **out` parameters). NULL is a no-op.
 */
PEEROP_EXTERN(void) peerop_free(void *ptr);

PEEROP_END_DECL

#endif /* PEEROP_GLOBAL_H */
