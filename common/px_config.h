/*
 * px_config.h - the cluster configuration file.
 *
 * One INI file describes the whole cluster and serves every process
 * (coordinator replicas, participant agents, clients):
 *
 *     [cluster]            name (the gid prefix, [A-Za-z0-9]+, 1..63) and
 *                          the timing knobs below, all optional but name;
 *                          security (curve, the default, or none),
 *                          client_keys (directory of allowed clients'
 *                          public keys), client_key_file (a client's key)
 *     [coordinator.N]      N = 0..n-1, n in {1, 3, 5}: endpoint, data_dir,
 *                          public_key (Z85; required with curve), key_file
 *     [participant.NAME]   NAME [A-Za-z0-9_-]+, 1..63: id (1..65534),
 *                          endpoint, conninfo, pool (1..1024, default 8),
 *                          public_key, key_file
 *
 * security = none is refused unless every endpoint is loopback or ipc.
 *
 * Endpoints start with tcp:// or ipc://; a tcp:// one is tcp://HOST:PORT
 * with PORT 1..65535.  No two coordinators or participants may have the
 * same endpoint, compared as addresses: localhost is 127.0.0.1, numeric
 * hosts are read as the resolver reads them, a wildcard host (*, 0.0.0.0,
 * ::) takes its port on every address; host names are not looked up.
 * Numbers are unsigned decimal.
 * Unknown sections or keys, duplicate keys or sections, and indented lines
 * (libinih would read them as continuations of the previous value) are
 * errors.  A line may hold at most 197 characters (libinih's fixed line
 * buffer); " ;" starts an inline comment, so a value cannot contain it.
 * See docs/configuration.md for a full example.
 *
 * This is not part of the pure core: px_config.c reads a file (through
 * libinih; link with -linih).
 */
#ifndef PX_CONFIG_H
#define PX_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define PX_CFG_COORD_MAX 5u
#define PX_CFG_NAME_MAX 63u      /* cluster and participant names */
#define PX_CFG_ENDPOINT_MAX 255u
#define PX_CFG_PATH_MAX 1023u
#define PX_CFG_CONNINFO_MAX 1023u
#define PX_CFG_PART_ID_MAX 65534u
#define PX_CFG_POOL_MAX 1024u

/* Defaults of the optional keys. */
#define PX_CFG_DEF_HEARTBEAT_MS 50u
#define PX_CFG_DEF_LEASE_MS 300u
#define PX_CFG_DEF_TXN_TIMEOUT_MS 5000u
#define PX_CFG_DEF_AGENT_IDLE_TIMEOUT_MS 30000u
#define PX_CFG_DEF_RESEND_MS 200u
#define PX_CFG_DEF_SYNC_MS 2000u
#define PX_CFG_DEF_HORIZON_MS 600000u
#define PX_CFG_DEF_MAX_LIVE 100000u
#define PX_CFG_DEF_POOL 8u

/* security = curve | none ([cluster]; docs/design.md "Security") */
#define PX_SECURITY_NONE 0u
#define PX_SECURITY_CURVE 1u

struct px_config_coord {
	uint8_t id;              /* equals its index in px_config.coord */
	char endpoint[256];
	char data_dir[1024];
	uint8_t public_key[32];  /* security = curve: required */
	char key_file[1024];     /* its key pair (paxcommit keygen); read by that replica only; "" if absent */
	char metrics[160];       /* host:port of its /metrics; "" if absent */
};

struct px_config_part {
	char name[64];
	uint16_t id;             /* 1..65534, unique */
	char endpoint[256];
	char conninfo[1024];     /* libpq conninfo, verbatim */
	uint32_t pool;
	uint8_t public_key[32];  /* security = curve: required */
	char key_file[1024];     /* its key pair; read by that agent only; "" if absent */
	char metrics[160];       /* host:port of its /metrics; "" if absent */
};

struct px_config {
	char name[64];           /* cluster name = gid prefix */
	uint32_t heartbeat_ms, lease_ms, txn_timeout_ms, agent_idle_timeout_ms, resend_ms,
		sync_ms;
	uint64_t horizon_ms;
	uint32_t max_live;
	uint32_t max_live_client; /* max_live_per_client; default max_live / 4 (at least 1) */
	uint8_t security;        /* PX_SECURITY_*; default curve */
	char client_keys[1024];  /* directory of the clients' NAME.pub files (the allow-list); "" if absent */
	char client_key_file[1024]; /* a client's own key pair; "" if absent */
	uint8_t ncoord;          /* 1, 3 or 5; coord[0..ncoord-1] are valid */
	struct px_config_coord coord[5];
	uint16_t npart;          /* >= 1 */
	struct px_config_part *part; /* npart entries, sorted by id; owned */
};

/*
 * Read and check the configuration file at path into *out.
 *
 * Returns 0 on success.  *out then owns one heap array (out->part); release
 * it with px_config_free().  Every string is copied, nothing points into
 * the file or into path.
 *
 * On any error returns nonzero, leaves *out zeroed (nothing to free; calling
 * px_config_free() on it is harmless) and writes a NUL-terminated message
 * into err (truncated to errcap bytes; err may be NULL when errcap is 0):
 *     "PATH:LINE: message"  for a problem on one line, e.g.
 *                           "cluster.conf:12: unknown key 'endpiont' in [coordinator.1]"
 *                           (a missing required key names its section's header line)
 *     "PATH: message"       for a whole-file problem, e.g. the file cannot be
 *                           opened or a required section is missing.
 * Only the first error is reported.
 */
int px_config_load(const char *path, struct px_config *out, char *err, size_t errcap);

/* Free what px_config_load() allocated and zero *c.  NULL-safe; idempotent. */
void px_config_free(struct px_config *c);

/* The participant of that name or id, or NULL.  The pointer is into c->part
 * and valid until px_config_free(c). */
const struct px_config_part *px_config_part_by_name(const struct px_config *c, const char *name);
const struct px_config_part *px_config_part_by_id(const struct px_config *c, uint16_t id);

#endif
