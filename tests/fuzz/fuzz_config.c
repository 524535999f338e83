/*
 * fuzz_config.c - fuzz target of the cluster configuration reader
 * (common/px_config.c, with libinih).
 *
 * Any input, written to a file and loaded: either an error message that
 * starts with the file's path and leaves the config empty, or a config
 * that keeps every documented rule (1, 3 or 5 coordinators numbered in
 * order, at least one participant, ids unique and sorted, names and
 * endpoints well formed, lease above heartbeat, horizon above the txn
 * timeout, keys with security = curve).  Any violation aborts.
 *
 * Built with -fsanitize=fuzzer for fuzzing, or linked with replay.c to
 * run the saved corpus without libFuzzer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static char path[64];

static void remove_file(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		/* a tmpfs if there is one: a file per input is most of the cost */
		snprintf(path, sizeof(path), "%s/px_fuzz_config.%d", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
			 (int)getpid());
		atexit(remove_file);
	}
	FILE *f = fopen(path, "w");
	check(f != NULL);
	check(fwrite(data, 1, size, f) == size);
	check(fclose(f) == 0);
	struct px_config c;
	char err[600];
	int rc = px_config_load(path, &c, err, sizeof(err));
	if (rc) {
		check(strncmp(err, path, strlen(path)) == 0);
		check(c.part == NULL && c.npart == 0 && c.ncoord == 0);
		px_config_free(&c);
		return 0;
	}
	check(c.ncoord == 1 || c.ncoord == 3 || c.ncoord == 5);
	check(c.npart >= 1 && c.part != NULL);
	check(c.name[0] != 0 && strlen(c.name) <= PX_CFG_NAME_MAX);
	check(c.lease_ms > c.heartbeat_ms && c.horizon_ms > c.txn_timeout_ms);
	check(c.security == PX_SECURITY_CURVE || c.security == PX_SECURITY_NONE);
	for (uint8_t i = 0; i < c.ncoord; i++) {
		check(c.coord[i].id == i);
		check(!strncmp(c.coord[i].endpoint, "tcp://", 6) || !strncmp(c.coord[i].endpoint, "ipc://", 6));
		check(c.coord[i].data_dir[0] != 0);
		/* with curve, every key is its own */
		for (uint8_t j = 0; c.security == PX_SECURITY_CURVE && j < i; j++)
			check(memcmp(c.coord[i].public_key, c.coord[j].public_key, sizeof(c.coord[i].public_key)) != 0);
	}
	for (uint16_t i = 0; i < c.npart; i++) {
		const struct px_config_part *p = &c.part[i];
		check(p->id >= 1 && p->id <= PX_CFG_PART_ID_MAX);
		check(i == 0 || c.part[i - 1].id < p->id);
		check(p->pool >= 1 && p->pool <= PX_CFG_POOL_MAX);
		check(p->name[0] != 0 && p->conninfo[0] != 0);
		check(px_config_part_by_id(&c, p->id) == p);
		check(px_config_part_by_name(&c, p->name) == p);
	}
	px_config_free(&c);
	check(c.part == NULL);
	return 0;
}
