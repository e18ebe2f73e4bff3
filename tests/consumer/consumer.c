/* A program outside the tree, built only with pkg-config --cflags --libs libpeerop. */
#include <stdio.h>
#include <string.h>
#include <peerop/peerop.h>

int main(void)
{
	if (peerop_global_init() != 0)
		return 1;
	if (strcmp(peerop_version(), PEEROP_VERSION) != 0) {
		fprintf(stderr, "header %s, library %s\n", PEEROP_VERSION, peerop_version());
		return 1;
	}
	printf("consumer: libpeerop %s: %s\n", peerop_version(), peerop_strerror(PEEROP_ENOENT));
	peerop_global_cleanup();
	return 0;
}
