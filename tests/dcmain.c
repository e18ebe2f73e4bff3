/* dcmain.c: main() shared by the check_devcluster_* programs. */
#include "config.h"
#include "testhelp.h"
#include "dchelp.h"

#include <curl/curl.h>
#include <stdlib.h>

int main(void)
{
	int rc;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = th_run_suite(suite());
	curl_global_cleanup();
	return rc;
}
