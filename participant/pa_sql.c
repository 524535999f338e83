/*
 * pa_sql.c - the agent's statement classifier (see pa_sql.h).
 */
#include "pa_sql.h"

#include <string.h>
#include <strings.h>

/* PostgreSQL's lexer: what separates tokens (scan.l's `space`, with the
 * vertical tab that PostgreSQL 16 added), and what continues a keyword. */
static int sql_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static int sql_ident_char(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
	       ch == '$' || ch >= 0x80;
}

/* Skip blanks, `--` comments and (nested) `/ * * /` comments, and opening
 * parentheses, the way PostgreSQL's lexer skips them. */
static size_t sql_skip(const char *sql, size_t len, size_t i)
{
	for (;;) {
		while (i < len && (sql_space(sql[i]) || sql[i] == '('))
			i++;
		if (i + 1 < len && sql[i] == '-' && sql[i + 1] == '-') {
			while (i < len && sql[i] != '\n' && sql[i] != '\r')
				i++;
			continue;
		}
		if (i + 1 < len && sql[i] == '/' && sql[i + 1] == '*') {
			int depth = 0;
			do {
				if (i + 1 < len && sql[i] == '/' && sql[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (i + 1 < len && sql[i] == '*' && sql[i + 1] == '/') {
					depth--;
					i += 2;
				} else {
					i++;
				}
			} while (depth > 0 && i < len);
			continue;
		}
		return i;
	}
}

/* Does the keyword kw start at sql[i] (case-insensitive, whole word)? */
static int sql_word(const char *sql, size_t len, size_t i, const char *kw)
{
	size_t n = strlen(kw);
	return i + n <= len && !strncasecmp(sql + i, kw, n) && (i + n == len || !sql_ident_char((unsigned char)sql[i + n]));
}

/* Statements that would end or nest the participant's transaction behind
 * the coordinators' back: the first keyword, after whatever PostgreSQL's
 * lexer skips.  This is the first line of defence only: after every
 * statement the agent also checks that PostgreSQL still reports the
 * transaction open (exec_done), and a statement that left it dooms the
 * gid.  (COMMIT PREPARED and ROLLBACK PREPARED start with COMMIT and
 * ROLLBACK, so they are never run for a client.) */
const char *pa_sql_forbidden(const char *sql, size_t len)
{
	size_t i = sql_skip(sql, len, 0);
	static const char *const bad[] = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "PREPARE", NULL};
	for (int k = 0; bad[k]; k++) {
		if (!sql_word(sql, len, i, bad[k]))
			continue;
		/* ROLLBACK TO [SAVEPOINT] stays inside the transaction */
		if (!strcmp(bad[k], "ROLLBACK") && sql_word(sql, len, sql_skip(sql, len, i + 8), "TO"))
			return NULL;
		return bad[k];
	}
	return NULL;
}

