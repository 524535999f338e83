/*
 * px_keys.c - CURVE key files and the keyring (see px_keys.h).
 */
#include "px_keys.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void seterr(char *err, size_t cap, const char *fmt, ...)
{
	if (!cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

/* Read "public = Z85" and "secret = Z85" lines; *has bit 0 public, bit 1
 * secret.  Checks the mode when want_secret. */
static int read_keys(const char *path, int want_secret, uint8_t pub[PX_KEY_LEN], uint8_t sec[PX_KEY_LEN],
		     char *err, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		seterr(err, cap, "%s: cannot open key file: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		seterr(err, cap, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		seterr(err, cap, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	char *line = NULL;
	size_t lcap = 0;
	int has = 0, lineno = 0, rc = 0;
	ssize_t n;
	while (rc == 0 && (n = getline(&line, &lcap, f)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = 0;
		const char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			continue;
		int which = strncmp(s, "public", 6) == 0 ? 0 : strncmp(s, "secret", 6) == 0 ? 1 : -1;
		const char *v = which >= 0 ? s + 6 : s;
		while (which >= 0 && (*v == ' ' || *v == '\t'))
			v++;
		if (which < 0 || *v != '=') {
			seterr(err, cap, "%s:%d: expected 'public = KEY' or 'secret = KEY'", path, lineno);
			rc = -1;
			break;
		}
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		if (has & (1 << which)) {
			seterr(err, cap, "%s:%d: a second %s key", path, lineno, which ? "secret" : "public");
			rc = -1;
		} else if (px_z85_decode_key(v, strlen(v), which ? sec : pub) != 0) {
			seterr(err, cap, "%s:%d: not a CURVE key (40 characters of Z85)", path, lineno);
			rc = -1;
		}
		has |= 1 << which;
	}
	free(line);
	if (rc == 0 && ferror(f)) {
		seterr(err, cap, "%s: read error", path);
		rc = -1;
	}
	fclose(f);
	if (rc)
		return -1;
	if (!(has & 1)) {
		seterr(err, cap, "%s: no 'public = KEY' line", path);
		return -1;
	}
	if (want_secret && !(has & 2)) {
		seterr(err, cap, "%s: no 'secret = KEY' line: this is a public key file, not a key pair (NAME.key)",
		       path);
		return -1;
	}
	if (!want_secret && (has & 2)) {
		seterr(err, cap,
		       "%s: holds a secret key: give the public key file (NAME.pub), and keep NAME.key where "
		       "only its owner reads it",
		       path);
		return -1;
	}
	if (want_secret && (st.st_mode & 077)) {
		seterr(err, cap,
		       "%s: permissions %04o are too open for a secret key (its group or others may "
		       "read it): chmod 600 %s",
		       path, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	if (want_secret) {
		char zs[PX_KEY_Z85_LEN + 1], zp[PX_KEY_Z85_LEN + 1];
		uint8_t derived[PX_KEY_LEN];
		px_z85_encode_key(sec, zs);
		if (zmq_curve_public(zp, zs) != 0 || px_z85_decode_key(zp, PX_KEY_Z85_LEN, derived) != 0 ||
		    memcmp(derived, pub, PX_KEY_LEN) != 0) {
			seterr(err, cap, "%s: the public key is not the secret key's", path);
			return -1;
		}
	}
	return 0;
}

int px_key_read_pair(const char *path, uint8_t pub[PX_KEY_LEN], uint8_t sec[PX_KEY_LEN], char *err, size_t errcap)
{
	return read_keys(path, 1, pub, sec, err, errcap);
}

int px_key_read_public(const char *path, uint8_t pub[PX_KEY_LEN], char *err, size_t errcap)
{
	uint8_t sec[PX_KEY_LEN];
	return read_keys(path, 0, pub, sec, err, errcap);
}

static int write_file(const char *path, mode_t mode, const char *text, char *err, size_t cap)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		seterr(err, cap, "%s: %s", path, strerror(errno));
		return -1;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			seterr(err, cap, "%s: write: %s", path, strerror(w < 0 ? errno : EIO));
			close(fd);
			unlink(path);
			return -1;
		}
		off += (size_t)w;
	}
	/* the umask may have taken bits away, never added: set exactly */
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0 || close(fd) != 0) {
		seterr(err, cap, "%s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int px_key_generate(const char *prefix, const char *name, char *err, size_t errcap)
{
	char kpath[1100], ppath[1100];
	if (snprintf(kpath, sizeof(kpath), "%s.key", prefix) >= (int)sizeof(kpath) ||
	    snprintf(ppath, sizeof(ppath), "%s.pub", prefix) >= (int)sizeof(ppath)) {
		seterr(err, errcap, "%s: path too long", prefix);
		return -1;
	}
	struct stat st;
	if (stat(kpath, &st) == 0 || stat(ppath, &st) == 0) {
		seterr(err, errcap, "%s: exists already; remove it first to make a new key pair",
		       stat(kpath, &st) == 0 ? kpath : ppath);
		return -1;
	}
	char zp[PX_KEY_Z85_LEN + 1], zs[PX_KEY_Z85_LEN + 1];
	if (zmq_curve_keypair(zp, zs) != 0) {
		seterr(err, errcap, "zmq_curve_keypair: %s (libzmq without CURVE?)", zmq_strerror(zmq_errno()));
		return -1;
	}
	char text[512];
	snprintf(text, sizeof(text),
		 "# paxcommit CURVE key pair of %s: keep it secret (mode 0600)\npublic = %s\nsecret = %s\n", name, zp,
		 zs);
	int rc = write_file(kpath, 0600, text, err, errcap);
	memset(text, 0, sizeof(text));
	memset(zs, 0, sizeof(zs));
	if (rc)
		return -1;
	snprintf(text, sizeof(text), "# paxcommit CURVE public key of %s\npublic = %s\n", name, zp);
	if (write_file(ppath, 0644, text, err, errcap)) {
		unlink(kpath);
		return -1;
	}
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, PX_KEY_LEN);
}

static int load_clients(struct px_keyring *k, const char *dir, char *err, size_t cap)
{
	DIR *d = opendir(dir);
	if (!d) {
		seterr(err, cap, "client_keys %s: %s", dir, strerror(errno));
		return -1;
	}
	size_t kcap = 0;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".pub") != 0 || e->d_name[0] == '.')
			continue;
		if (k->nclient == PX_KEYS_CLIENTS_MAX) {
			seterr(err, cap, "client_keys %s: more than %u keys", dir, PX_KEYS_CLIENTS_MAX);
			rc = -1;
			break;
		}
		if (k->nclient == kcap) {
			size_t nc = kcap ? 2 * kcap : 64;
			void *p = realloc(k->client, nc * PX_KEY_LEN);
			if (!p) {
				seterr(err, cap, "out of memory");
				rc = -1;
				break;
			}
			k->client = p;
			kcap = nc;
		}
		char path[2048];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (px_key_read_public(path, k->client[k->nclient], err, cap))
			rc = -1;
		else
			k->nclient++;
	}
	closedir(d);
	if (rc == 0 && k->nclient)
		qsort(k->client, k->nclient, PX_KEY_LEN, cmp_key);
	return rc;
}

int px_keyring_read_clients(const char *dir, uint8_t (**out)[PX_KEY_LEN], size_t *n, char *err, size_t errcap)
{
	struct px_keyring t;
	memset(&t, 0, sizeof(t));
	if (load_clients(&t, dir, err, errcap)) {
		free(t.client);
		return -1;
	}
	*out = t.client;
	*n = t.nclient;
	return 0;
}

void px_keyring_free(struct px_keyring *k)
{
	if (!k)
		return;
	free(k->part);
	free(k->client);
	memset(k, 0, sizeof(*k)); /* the secret key too */
}

int px_keyring_load(struct px_keyring *k, const struct px_config *cfg, struct px_addr self, const char *key_file,
		    char *err, size_t errcap)
{
	memset(k, 0, sizeof(*k));
	if (cfg->security != PX_SECURITY_CURVE)
		return 0;
	k->curve = 1;
	k->nreplica = cfg->ncoord;
	for (uint8_t i = 0; i < cfg->ncoord; i++)
		memcpy(k->replica[i], cfg->coord[i].public_key, PX_KEY_LEN);
	k->part = calloc(cfg->npart ? cfg->npart : 1, sizeof(*k->part));
	if (!k->part) {
		seterr(err, errcap, "out of memory");
		return -1;
	}
	k->npart = cfg->npart;
	for (uint16_t i = 0; i < cfg->npart; i++) { /* cfg->part is sorted by id */
		k->part[i].id = cfg->part[i].id;
		memcpy(k->part[i].pub, cfg->part[i].public_key, PX_KEY_LEN);
	}
	const uint8_t *expect = NULL;
	char who[100];
	const char *own = key_file;
	if (self.kind == PX_NODE_REPLICA && self.id < cfg->ncoord) {
		expect = cfg->coord[self.id].public_key;
		snprintf(who, sizeof(who), "[coordinator.%u]", (unsigned)self.id);
		if (!own)
			own = cfg->coord[self.id].key_file;
	} else if (self.kind == PX_NODE_AGENT) {
		const struct px_config_part *p = px_config_part_by_id(cfg, (uint16_t)self.id);
		if (!p) {
			seterr(err, errcap, "no participant with id %llu", (unsigned long long)self.id);
			goto fail;
		}
		expect = p->public_key;
		snprintf(who, sizeof(who), "[participant.%s]", p->name);
		if (!own)
			own = p->key_file;
	} else {
		snprintf(who, sizeof(who), "this client");
		const char *env = getenv("PAXCOMMIT_CLIENT_KEY");
		if (!own)
			own = env && *env ? env : cfg->client_key_file;
	}
	if (!own || !*own) {
		seterr(err, errcap,
		       "security = curve, and %s has no key pair: set key_file in its section%s (make one with "
		       "paxcommit keygen)",
		       who, self.kind == PX_NODE_CLIENT ? " ([cluster] client_key_file, or PAXCOMMIT_CLIENT_KEY)" : "");
		goto fail;
	}
	if (px_key_read_pair(own, k->pub, k->sec, err, errcap))
		goto fail;
	if (expect && memcmp(expect, k->pub, PX_KEY_LEN) != 0) {
		char a[PX_KEY_Z85_LEN + 1], b[PX_KEY_Z85_LEN + 1];
		px_z85_encode_key(k->pub, a);
		px_z85_encode_key(expect, b);
		seterr(err, errcap, "%s: its public key %s is not %s's public_key %s in the cluster config", own, a, who, b);
		goto fail;
	}
	if (self.kind != PX_NODE_CLIENT) {
		if (!cfg->client_keys[0]) {
			seterr(err, errcap,
			       "security = curve, and [cluster] has no client_keys: name the directory of the "
			       "clients' public key files (NAME.pub), which may be empty");
			goto fail;
		}
		if (load_clients(k, cfg->client_keys, err, errcap))
			goto fail;
	}
	return 0;
fail:
	px_keyring_free(k);
	return -1;
}

int px_keyring_role(const struct px_keyring *k, const uint8_t pub[PX_KEY_LEN], struct px_addr *who)
{
	for (uint8_t i = 0; i < k->nreplica; i++)
		if (memcmp(k->replica[i], pub, PX_KEY_LEN) == 0) {
			*who = px_addr_of(PX_NODE_REPLICA, i);
			return 1;
		}
	for (size_t i = 0; i < k->npart; i++)
		if (memcmp(k->part[i].pub, pub, PX_KEY_LEN) == 0) {
			*who = px_addr_of(PX_NODE_AGENT, k->part[i].id);
			return 1;
		}
	if (k->nclient && bsearch(pub, k->client, k->nclient, PX_KEY_LEN, cmp_key)) {
		*who = px_addr_of(PX_NODE_CLIENT, px_key_id(pub));
		return 1;
	}
	return 0;
}

const uint8_t *px_keyring_peer(const struct px_keyring *k, struct px_addr who)
{
	if (who.kind == PX_NODE_REPLICA && who.id < k->nreplica)
		return k->replica[who.id];
	if (who.kind == PX_NODE_AGENT) {
		size_t lo = 0, hi = k->npart;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (k->part[mid].id == who.id)
				return k->part[mid].pub;
			if (k->part[mid].id < who.id)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return NULL;
}
