/*
 * e2e_run.h - what both end-to-end suites share: run a group, or only the
 * test named by E2E_ONLY (the planted-bug checks use that), and connect a
 * client.  Include after <cmocka.h>.
 */
#ifndef E2E_RUN_H
#define E2E_RUN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paxcommit.h"

/* A client connection to the cluster of config file conf, or the test fails. */
static inline struct pc_conn *e2e_connect(const char *conf)
{
	struct pc_conn *pc;
	char err[600];
	if (pc_connect(conf, &pc, err, sizeof(err)))
		fail_msg("pc_connect: %s", err);
	return pc;
}

static inline int e2e_run(const char *group, const struct CMUnitTest *all, size_t n)
{
	const char *only = getenv("E2E_ONLY");
	if (!only)
		return _cmocka_run_group_tests(group, all, n, NULL, NULL);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(all[i].name, only))
			return _cmocka_run_group_tests(only, &all[i], 1, NULL, NULL);
	fprintf(stderr, "no test %s\n", only);
	return 2;
}

#endif
