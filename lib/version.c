/* version.c: the version of the library actually loaded. */
#include "internal.h"

PEEROP_EXTERN(const char *) peerop_version(void)
{
	return PEEROP_VERSION;
}

PEEROP_EXTERN(unsigned int) peerop_version_num(void)
{
	return PEEROP_VERSION_NUM;
}
