/*
 * so_smoke.c - the shared client library links and works: an unreadable
 * configuration is reported as such, with the file named.
 */
#include <stdio.h>
#include <string.h>

#include "paxcommit.h"

int main(void)
{
	struct pc_conn *pc = NULL;
	char err[600];
	int rc = pc_connect("/nonexistent/cluster.conf", &pc, err, sizeof(err));
	if (rc != PC_ECONFIG || pc || !strstr(err, "/nonexistent/cluster.conf")) {
		fprintf(stderr, "so_smoke: pc_connect returned %d (%s)\n", rc, err);
		return 1;
	}
	printf("so_smoke: libpaxcommit.so loaded; pc_connect reports: %s\n", err);
	return 0;
}
