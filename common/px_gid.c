#include "px_gid.h"

#include <stdio.h>
#include <string.h>

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static size_t make(char *buf, size_t cap, const char *prefix, uint64_t birth_ms, uint64_t client, uint64_t seq,
		   int xa)
{
	size_t plen = strlen(prefix);
	if (plen == 0 || plen > PX_PREFIX_MAX)
		return 0;
	for (size_t i = 0; i < plen; i++)
		if (!is_alnum(prefix[i]))
			return 0;
	int n = snprintf(buf, cap, "%s_%llu_%016llx_%s%llu", prefix, (unsigned long long)birth_ms,
			 (unsigned long long)client, xa ? "x" : "", (unsigned long long)seq);
	if (n < 0 || (size_t)n >= cap || n >= 200)
		return 0;
	return (size_t)n;
}

size_t px_gid_make(char *buf, size_t cap, const char *prefix, uint64_t birth_ms, uint64_t client, uint64_t seq)
{
	return make(buf, cap, prefix, birth_ms, client, seq, 0);
}

size_t px_gid_make_xa(char *buf, size_t cap, const char *prefix, uint64_t birth_ms, uint64_t client, uint64_t seq)
{
	return make(buf, cap, prefix, birth_ms, client, seq, 1);
}

/* Parse a decimal field [p, end); at most 20 digits, no overflow. */
static int parse_dec(const char *p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	if (p == end || end - p > 20)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Parse gid; *xa says whether its seq carries the XA mark. */
static int parse(const char *gid, size_t len, uint64_t *birth_ms, size_t *prefix_len, int *xa, uint64_t *client)
{
	/* Find the last three underscores: prefix _ birth _ client _ seq. */
	const char *us[3];
	int found = 0;
	if (len == 0 || len >= 200)
		return -1;
	for (size_t i = len; i-- > 0 && found < 3;)
		if (gid[i] == '_')
			us[found++] = gid + i;
	if (found < 3)
		return -1;
	const char *end = gid + len;
	const char *seq_b = us[0] + 1, *cli_b = us[1] + 1, *birth_b = us[2] + 1;
	uint64_t seq, birth;
	if (us[2] == gid || (size_t)(us[2] - gid) > PX_PREFIX_MAX)
		return -1; /* empty or too long prefix */
	for (const char *p = gid; p < us[2]; p++)
		if (!is_alnum(*p))
			return -1;
	*xa = seq_b < end && *seq_b == 'x';
	if (parse_dec(seq_b + *xa, end, &seq) || parse_dec(birth_b, us[1], &birth))
		return -1;
	if (us[0] - cli_b != 16)
		return -1;
	uint64_t cli = 0;
	for (const char *p = cli_b; p < us[0]; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return -1;
		cli = cli << 4 | (uint64_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
	}
	*birth_ms = birth;
	if (client)
		*client = cli;
	if (prefix_len)
		*prefix_len = (size_t)(us[2] - gid);
	return 0;
}

int px_gid_parse(const char *gid, size_t len, uint64_t *birth_ms, size_t *prefix_len)
{
	int xa;
	return parse(gid, len, birth_ms, prefix_len, &xa, NULL);
}

int px_gid_is_xa(const char *gid, size_t len)
{
	uint64_t birth;
	int xa;
	return parse(gid, len, &birth, NULL, &xa, NULL) == 0 && xa;
}

int px_gid_client(const char *gid, size_t len, uint64_t *client)
{
	uint64_t birth;
	int xa;
	return parse(gid, len, &birth, NULL, &xa, client);
}

uint64_t px_gid_ahead_ms(const char *gid, size_t len, uint64_t now)
{
	uint64_t birth;
	if (px_gid_parse(gid, len, &birth, NULL) || birth <= now)
		return 0;
	return birth - now;
}

uint64_t px_hash(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}
