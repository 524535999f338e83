/*
 * fuzz_sql.c - fuzz target of the agent's statement classifier
 * (participant/pa_sql.c).
 *
 * Any input: the verdict is NULL or one of the refused keywords, reading
 * only the input's bytes (the sanitizers check), and it is the same
 * verdict after what PostgreSQL's lexer skips is put in front (a block
 * comment, a line comment, blanks, an opening parenthesis) and after ASCII
 * letters are upper-cased.  A statement that starts with a refused keyword
 * after such a prefix is refused.  Any violation aborts.
 *
 * Built with -fsanitize=fuzzer for fuzzing, or linked with replay.c to
 * run the saved corpus without libFuzzer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pa_sql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static const char *const refused[] = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "PREPARE"};

static int same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* pa_sql_forbidden of prefix + data, in an exact-size heap block */
static const char *with_prefix(const char *prefix, const uint8_t *data, size_t size)
{
	size_t pl = strlen(prefix);
	char *buf = malloc(pl + size + 1);
	check(buf != NULL);
	memcpy(buf, prefix, pl);
	if (size)
		memcpy(buf + pl, data, size);
	const char *v = pa_sql_forbidden(buf, pl + size);
	free(buf);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *copy = malloc(size ? size : 1);
	check(copy != NULL);
	if (size)
		memcpy(copy, data, size);
	const char *v = pa_sql_forbidden(copy, size);
	int known = v == NULL;
	for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++)
		known |= same(v, refused[k]);
	check(known);
	/* what the lexer skips changes nothing */
	static const char *const skips[] = {"/* x /* nested */ */ ", "-- line\n", " \t\r\n\f\v", "(", "/**/"};
	for (size_t k = 0; k < sizeof(skips) / sizeof(skips[0]); k++)
		check(same(with_prefix(skips[k], data, size), v));
	/* keywords are case-insensitive */
	for (size_t i = 0; i < size; i++)
		if (copy[i] >= 'a' && copy[i] <= 'z')
			copy[i] = (char)(copy[i] - 'a' + 'A');
	check(same(pa_sql_forbidden(copy, size), v));
	free(copy);
	/* a refused keyword in front, then a blank: refused (ROLLBACK TO aside) */
	for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
		char pre[32];
		strcpy(pre, refused[k]);
		strcat(pre, " ");
		const char *w = with_prefix(pre, data, size);
		if (strcmp(refused[k], "ROLLBACK"))
			check(same(w, refused[k]));
		else
			check(w == NULL || same(w, "ROLLBACK"));
	}
	return 0;
}
