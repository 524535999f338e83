/*
 * px_keys.h - CURVE key files and a process's keyring.
 *
 * Key files (paxcommit keygen NAME writes both):
 *   NAME.key  mode 0600, the key pair:   public = <Z85>
 *                                        secret = <Z85>
 *   NAME.pub  mode 0644, the public key: public = <Z85>
 * Lines starting with '#' and blank lines are comments.  A secret key file
 * that its group or others may read is refused, as ssh refuses one ("chmod
 * 600 FILE").  The public key in a key pair file must be the secret key's.
 *
 * The keyring is what px_net needs to speak CURVE and what the ZAP handler
 * (px_zap.h) needs to tell roles apart: this process's key pair, every
 * replica's and participant's public key from the cluster config, and (in a
 * replica or an agent) the client allow-list, the *.pub files of the
 * directory that [cluster] client_keys names.
 *
 * Not part of the pure core: it reads files and calls libzmq.
 */
#ifndef PX_KEYS_H
#define PX_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "px_auth.h"
#include "px_config.h"
#include "px_update.h"

#define PX_KEYS_CLIENTS_MAX 100000u

struct px_keyring {
	int curve;                      /* 0: security = none (nothing below is set) */
	uint8_t pub[PX_KEY_LEN], sec[PX_KEY_LEN]; /* this process's */
	uint8_t nreplica;
	uint8_t replica[5][PX_KEY_LEN];
	size_t npart;
	struct px_keyring_part {
		uint16_t id;
		uint8_t pub[PX_KEY_LEN];
	} *part;                        /* sorted by id */
	size_t nclient;
	uint8_t (*client)[PX_KEY_LEN];  /* sorted; the allow-list */
};

/* Read a key pair file: 0, or -1 with a message naming the file in err. */
int px_key_read_pair(const char *path, uint8_t pub[PX_KEY_LEN], uint8_t sec[PX_KEY_LEN], char *err,
		     size_t errcap);
/* Read a public key file (a key pair file also has its public line). */
int px_key_read_public(const char *path, uint8_t pub[PX_KEY_LEN], char *err, size_t errcap);

/* Make a key pair and write PREFIX.key (0600) and PREFIX.pub (0644), neither
 * of which may exist yet.  name goes into their comment line.  0, or -1
 * with err. */
int px_key_generate(const char *prefix, const char *name, char *err, size_t errcap);

/*
 * Build the keyring of process `self` (a replica, an agent or a client)
 * from cfg.  Its key pair file: key_file if not NULL, else its config
 * section's key_file (a client: [cluster] client_key_file, or the
 * environment's PAXCOMMIT_CLIENT_KEY first).  A replica or an agent also
 * reads the client allow-list.  With security = none it only zeroes *k.
 * 0, or -1 with err (naming the file).  Free with px_keyring_free.
 */
int px_keyring_load(struct px_keyring *k, const struct px_config *cfg, struct px_addr self, const char *key_file,
		    char *err, size_t errcap);
void px_keyring_free(struct px_keyring *k);
/* Read the client allow-list of directory dir (its *.pub files), sorted,
 * into a new array *out of *n keys (free() it).  0, or -1 with err (naming
 * the file); nothing is returned then. */
int px_keyring_read_clients(const char *dir, uint8_t (**out)[PX_KEY_LEN], size_t *n, char *err, size_t errcap);

/* The role of public key pub: 1 and *who (a client's id is its key id),
 * or 0 if it is no one's. */
int px_keyring_role(const struct px_keyring *k, const uint8_t pub[PX_KEY_LEN], struct px_addr *who);
/* The public key of replica or participant `who`, or NULL. */
const uint8_t *px_keyring_peer(const struct px_keyring *k, struct px_addr who);

#endif
