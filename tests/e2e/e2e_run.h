/*
 * e2e_run.h - run an end-to-end group, or only the test named by E2E_ONLY
 * (the planted-bug checks use that).  Include after <cmocka.h>.
 */
#ifndef E2E_RUN_H
#define E2E_RUN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
