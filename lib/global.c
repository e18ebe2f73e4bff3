/*
 * global.c: reference-counted process initialisation.
 *
 * curl_global_init() is not thread-safe on older libcurl and must run
 * before any other thread uses libcurl; we count so that a program and a
 * library it loads can both call peerop_global_init() safely.
 */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <curl/curl.h>

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int global_refs;

PEEROP_EXTERN(int) peerop_global_init(void)
{
	int rc = 0;
	pthread_mutex_lock(&global_lock);
	if (global_refs == 0) {
		CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);
		if (c != CURLE_OK)
			rc = peerop__error_set(PEEROP_ERROR, "curl_global_init failed: %s",
				curl_easy_strerror(c));
	}
	if (rc == 0)
		global_refs++;
	pthread_mutex_unlock(&global_lock);
	return rc;
}

PEEROP_EXTERN(void) peerop_global_cleanup(void)
{
	pthread_mutex_lock(&global_lock);
	if (global_refs > 0 && --global_refs == 0)
		curl_global_cleanup();
	pthread_mutex_unlock(&global_lock);
}

PEEROP_EXTERN(void) peerop_free(void *ptr)
{
	free(ptr);
}
