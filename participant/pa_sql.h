/*
 * pa_sql.h - which client statements the participant agent refuses.
 *
 * pa_sql_forbidden() looks at the first keyword of a statement, after what
 * PostgreSQL's lexer skips (blanks, -- and nested block comments, opening
 * parentheses), and names it when it would end or nest the participant's
 * transaction behind the coordinators' back: BEGIN, START, COMMIT, END,
 * ROLLBACK (but not ROLLBACK TO), ABORT, PREPARE.  NULL otherwise.  Reads
 * only sql[0..len); sql need not be NUL-terminated.  Pure: the fuzzer
 * tests/fuzz/fuzz_sql.c and the unit tests call it directly.
 */
#ifndef PA_SQL_H
#define PA_SQL_H

#include <stddef.h>

const char *pa_sql_forbidden(const char *sql, size_t len);

#endif
