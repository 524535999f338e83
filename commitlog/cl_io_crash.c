/*
 * cl_io_crash.c - simulated power loss over another backend (see
 * cl_io_crash.h for the model).
 *
 * Bookkeeping: an inode per file, identified independently of its name so
 * that renames and unlinks of open files behave as on POSIX.  Each inode
 * holds its durable bytes and the changes made since its last sync; the
 * layer holds two name tables (current and durable) and the namespace
 * operations made since the last sync_dir.  Every call is forwarded to the
 * wrapped backend first and recorded only if it succeeded, so the wrapped
 * backend always holds the current (page cache) state.
 */
#include "cl_io_crash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum op_kind { OP_WRITE, OP_TRUNC, OP_ALLOC };

struct file_op {
	int kind;
	uint64_t off;  /* OP_WRITE: offset */
	uint64_t len;  /* OP_WRITE: length; OP_TRUNC / OP_ALLOC: the size */
	uint8_t *data; /* OP_WRITE: a copy of the bytes */
	uint64_t no;   /* issue order over the whole directory */
};

struct inode {
	uint8_t *dur; /* durable bytes */
	size_t dlen;
	struct file_op *ops; /* unsynced changes, in issue order */
	size_t nops, capops;
	struct inode *next; /* every inode of the layer */
	int live;           /* scratch mark used by crash() */
};

struct dent {
	char *name;
	struct inode *ino;
};

struct names {
	struct dent *v;
	size_t n, cap;
};

enum ns_kind { NS_CREATE, NS_RENAME, NS_UNLINK };

struct ns_op {
	int kind;
	char *a, *b; /* CREATE/UNLINK: a; RENAME: a -> b */
	struct inode *ino;
};

struct crash_file {
	struct inode *ino;
	struct cl_file *inner; /* NULL once a crash killed it */
};

struct cl_io_crash {
	struct cl_io io;
	struct cl_io *inner;
	struct inode *inodes;
	struct names cur, dur;
	struct ns_op *ns;
	size_t nns, capns;
	struct crash_file **open; /* files opened through this layer */
	size_t nopen, capopen;
	uint64_t opno;
	struct cl_crash_stats st;
};

/* ---- small helpers ---- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n]. */
static uint64_t rng_upto(uint64_t *s, uint64_t n)
{
	return n == UINT64_MAX ? rng_next(s) : rng_next(s) % (n + 1);
}

static char *dup_str(const char *s)
{
	char *p = malloc(strlen(s) + 1);

	if (p)
		strcpy(p, s);
	return p;
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t nc;
	void *p;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 8;
	p = realloc(*v, nc * size);
	if (!p)
		return ENOMEM;
	*v = p;
	*cap = nc;
	return 0;
}

/* Resize a byte buffer, zero-filling growth. */
static int bytes_resize(uint8_t **p, size_t *len, uint64_t size)
{
	uint8_t *q;

	if (size > SIZE_MAX)
		return EFBIG;
	if (size == *len)
		return 0;
	q = realloc(*p, size ? (size_t)size : 1);
	if (!q)
		return ENOMEM;
	if (size > *len)
		memset(q + *len, 0, (size_t)size - *len);
	*p = q;
	*len = (size_t)size;
	return 0;
}

static int bytes_write(uint8_t **p, size_t *len, uint64_t off, const uint8_t *src, uint64_t n)
{
	int err = 0;

	if (off + n > *len)
		err = bytes_resize(p, len, off + n);
	if (!err && n)
		memcpy(*p + off, src, (size_t)n);
	return err;
}

/* Apply one change (all of it) to a byte buffer. */
static int op_apply(uint8_t **p, size_t *len, const struct file_op *op)
{
	switch (op->kind) {
	case OP_WRITE:
		return bytes_write(p, len, op->off, op->data, op->len);
	case OP_TRUNC:
		return bytes_resize(p, len, op->len);
	default:
		return op->len > *len ? bytes_resize(p, len, op->len) : 0;
	}
}

/* Apply a torn version of a write: keep a prefix, maybe garbage after it.
 * *kept gets the number of its bytes kept. */
static int op_apply_torn(uint8_t **p, size_t *len, const struct file_op *op, uint64_t *rng,
			 const struct cl_crash_plan *plan, uint64_t *kept)
{
	uint64_t keep, glen = 0, k;
	int garbage, err;

	keep = plan->tear < 0 ? rng_upto(rng, op->len) : (uint64_t)plan->tear;
	if (keep > op->len)
		keep = op->len;
	garbage = plan->garbage < 0 ? (int)(rng_next(rng) & 1) : plan->garbage;
	if (garbage && keep < op->len)
		glen = 1 + rng_upto(rng, op->len - keep - 1);
	err = bytes_write(p, len, op->off, op->data, keep);
	if (!err && glen)
		err = bytes_resize(p, len, op->off + keep + glen > *len ? op->off + keep + glen : *len);
	for (k = 0; !err && k < glen; k++)
		(*p)[op->off + keep + k] = (uint8_t)rng_next(rng);
	*kept = keep;
	return err;
}

/* Count one write (or page) of `len` bytes of which `keep` survived. */
static void count_fate(struct cl_crash_stats *st, uint64_t keep, uint64_t len)
{
	if (keep >= len)
		st->kept++;
	else if (keep)
		st->torn++;
	else
		st->lost++;
}

static void ops_clear(struct inode *ino)
{
	for (size_t i = 0; i < ino->nops; i++)
		free(ino->ops[i].data);
	ino->nops = 0;
}

static struct inode *inode_new(struct cl_io_crash *c)
{
	struct inode *ino = calloc(1, sizeof(*ino));

	if (ino) {
		ino->next = c->inodes;
		c->inodes = ino;
	}
	return ino;
}

static void inode_free(struct inode *ino)
{
	ops_clear(ino);
	free(ino->ops);
	free(ino->dur);
	free(ino);
}

/* ---- name tables ---- */

static struct dent *names_find(struct names *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return &t->v[i];
	return NULL;
}

static int names_set(struct names *t, const char *name, struct inode *ino)
{
	struct dent *e = names_find(t, name);
	char *copy;

	if (e) {
		e->ino = ino;
		return 0;
	}
	if (grow((void **)&t->v, &t->cap, t->n, sizeof(*t->v)))
		return ENOMEM;
	copy = dup_str(name);
	if (!copy)
		return ENOMEM;
	t->v[t->n].name = copy;
	t->v[t->n].ino = ino;
	t->n++;
	return 0;
}

static void names_del(struct names *t, const char *name)
{
	struct dent *e = names_find(t, name);

	if (e) {
		free(e->name);
		*e = t->v[--t->n];
	}
}

static void names_free(struct names *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].name);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static int names_copy(struct names *dst, const struct names *src)
{
	struct names t = {0};

	for (size_t i = 0; i < src->n; i++) {
		if (names_set(&t, src->v[i].name, src->v[i].ino)) {
			names_free(&t);
			return ENOMEM;
		}
	}
	names_free(dst);
	*dst = t;
	return 0;
}

static int ns_apply(struct names *t, const struct ns_op *op)
{
	struct dent *e;

	switch (op->kind) {
	case NS_CREATE:
		return names_set(t, op->a, op->ino);
	case NS_RENAME:
		e = names_find(t, op->a);
		if (e) {
			struct inode *ino = e->ino;

			names_del(t, op->a);
			return names_set(t, op->b, ino);
		}
		return 0;
	default:
		names_del(t, op->a);
		return 0;
	}
}

static int ns_push(struct cl_io_crash *c, int kind, const char *a, const char *b,
		   struct inode *ino)
{
	struct ns_op *op;

	if (grow((void **)&c->ns, &c->capns, c->nns, sizeof(*c->ns)))
		return ENOMEM;
	op = &c->ns[c->nns];
	op->kind = kind;
	op->ino = ino;
	op->a = dup_str(a);
	op->b = b ? dup_str(b) : NULL;
	if (!op->a || (b && !op->b)) {
		free(op->a);
		free(op->b);
		return ENOMEM;
	}
	c->nns++;
	return 0;
}

static void ns_clear(struct cl_io_crash *c)
{
	for (size_t i = 0; i < c->nns; i++) {
		free(c->ns[i].a);
		free(c->ns[i].b);
	}
	c->nns = 0;
}

/* ---- methods ---- */

/* Reserve room for one more change on ino (so that recording it after the
 * wrapped backend succeeded cannot fail). */
static int op_reserve(struct inode *ino)
{
	return grow((void **)&ino->ops, &ino->capops, ino->nops, sizeof(*ino->ops));
}

static void op_push(struct cl_io_crash *c, struct inode *ino, int kind, uint64_t off,
		    uint64_t len, uint8_t *data)
{
	struct file_op *op = &ino->ops[ino->nops++];

	op->kind = kind;
	op->off = off;
	op->len = len;
	op->data = data;
	op->no = ++c->opno;
}

static int crash_open(void *ctx, const char *name, unsigned flags, struct cl_file **out)
{
	struct cl_io_crash *c = ctx;
	struct dent *e = names_find(&c->cur, name);
	struct crash_file *f;
	struct inode *ino;
	int err;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f || grow((void **)&c->open, &c->capopen, c->nopen, sizeof(*c->open))) {
		free(f);
		return ENOMEM;
	}
	ino = e ? e->ino : inode_new(c);
	if (!ino || op_reserve(ino)) {
		free(f);
		return ENOMEM;
	}
	err = c->inner->open(c->inner->ctx, name, flags, &f->inner);
	if (!err && !e) {
		/* created: a new name, durable only after sync_dir */
		err = names_set(&c->cur, name, ino);
		if (!err)
			err = ns_push(c, NS_CREATE, name, NULL, ino);
	}
	if (err) {
		if (f->inner)
			c->inner->close(c->inner->ctx, f->inner);
		free(f);
		return err;
	}
	if (flags & CL_IO_TRUNC)
		op_push(c, ino, OP_TRUNC, 0, 0, NULL);
	f->ino = ino;
	c->open[c->nopen++] = f;
	*out = (struct cl_file *)f;
	return 0;
}

static void crash_close(void *ctx, struct cl_file *file)
{
	struct cl_io_crash *c = ctx;
	struct crash_file *f = (struct crash_file *)file;

	if (!f)
		return;
	if (f->inner)
		c->inner->close(c->inner->ctx, f->inner);
	for (size_t i = 0; i < c->nopen; i++) {
		if (c->open[i] == f) {
			c->open[i] = c->open[--c->nopen];
			break;
		}
	}
	free(f);
}

static int crash_read(void *ctx, struct cl_file *file, uint64_t off, void *buf, size_t len,
		      size_t *got)
{
	struct cl_io_crash *c = ctx;
	struct crash_file *f = (struct crash_file *)file;

	*got = 0;
	if (!f->inner)
		return EIO;
	return c->inner->read(c->inner->ctx, f->inner, off, buf, len, got);
}

static int crash_write(void *ctx, struct cl_file *file, uint64_t off, const void *buf,
		       size_t len)
{
	struct cl_io_crash *c = ctx;
	struct crash_file *f = (struct crash_file *)file;
	uint8_t *copy;
	int err;

	if (!f->inner)
		return EIO;
	if (op_reserve(f->ino))
		return ENOMEM;
	copy = malloc(len ? len : 1);
	if (!copy)
		return ENOMEM;
	err = c->inner->write(c->inner->ctx, f->inner, off, buf, len);
	if (err) {
		free(copy);
		return err;
	}
	if (len)
		memcpy(copy, buf, len);
	op_push(c, f->ino, OP_WRITE, off, len, copy);
	return 0;
}

static int crash_resize(struct cl_io_crash *c, struct crash_file *f, int kind, uint64_t size)
{
	int err;

	if (!f->inner)
		return EIO;
	if (op_reserve(f->ino))
		return ENOMEM;
	if (kind == OP_TRUNC)
		err = c->inner->truncate(c->inner->ctx, f->inner, size);
	else
		err = c->inner->allocate(c->inner->ctx, f->inner, size);
	if (!err)
		op_push(c, f->ino, kind, 0, size, NULL);
	return err;
}

static int crash_truncate(void *ctx, struct cl_file *file, uint64_t size)
{
	return crash_resize(ctx, (struct crash_file *)file, OP_TRUNC, size);
}

static int crash_allocate(void *ctx, struct cl_file *file, uint64_t size)
{
	return crash_resize(ctx, (struct crash_file *)file, OP_ALLOC, size);
}

static int crash_sync(void *ctx, struct cl_file *file)
{
	struct cl_io_crash *c = ctx;
	struct crash_file *f = (struct crash_file *)file;
	struct inode *ino = f->ino;
	int err;

	if (!f->inner)
		return EIO;
	err = c->inner->sync(c->inner->ctx, f->inner);
	for (size_t i = 0; !err && i < ino->nops; i++)
		err = op_apply(&ino->dur, &ino->dlen, &ino->ops[i]);
	if (!err)
		ops_clear(ino);
	return err;
}

static int crash_size(void *ctx, struct cl_file *file, uint64_t *size)
{
	struct cl_io_crash *c = ctx;
	struct crash_file *f = (struct crash_file *)file;

	if (!f->inner)
		return EIO;
	return c->inner->size(c->inner->ctx, f->inner, size);
}

static int crash_rename(void *ctx, const char *from, const char *to)
{
	struct cl_io_crash *c = ctx;
	struct dent *e = names_find(&c->cur, from);
	struct inode *ino;
	int err;

	if (!e)
		return ENOENT;
	ino = e->ino;
	if (grow((void **)&c->ns, &c->capns, c->nns, sizeof(*c->ns)))
		return ENOMEM;
	err = c->inner->rename(c->inner->ctx, from, to);
	if (err)
		return err;
	names_del(&c->cur, from);
	err = names_set(&c->cur, to, ino);
	if (!err)
		err = ns_push(c, NS_RENAME, from, to, ino);
	return err;
}

static int crash_unlink(void *ctx, const char *name)
{
	struct cl_io_crash *c = ctx;
	int err = c->inner->unlink(c->inner->ctx, name);

	if (err)
		return err;
	names_del(&c->cur, name);
	return ns_push(c, NS_UNLINK, name, NULL, NULL);
}

static int crash_list(void *ctx, cl_io_list_fn fn, void *arg)
{
	struct cl_io_crash *c = ctx;

	return c->inner->list(c->inner->ctx, fn, arg);
}

static int crash_sync_dir(void *ctx)
{
	struct cl_io_crash *c = ctx;
	int err = c->inner->sync_dir(c->inner->ctx);

	if (!err)
		err = names_copy(&c->dur, &c->cur);
	if (!err)
		ns_clear(c);
	return err;
}

/* ---- setup ---- */

struct scan {
	struct cl_io_crash *c;
};

/* Read one file of inner into a fresh durable inode. */
static int adopt(void *arg, const char *name)
{
	struct scan *s = arg;
	struct cl_io *in = s->c->inner;
	struct cl_file *f = NULL;
	struct inode *ino = inode_new(s->c);
	uint64_t size = 0;
	size_t got = 0;
	int err;

	if (!ino)
		return ENOMEM;
	err = in->open(in->ctx, name, 0, &f);
	if (!err)
		err = in->size(in->ctx, f, &size);
	if (!err)
		err = bytes_resize(&ino->dur, &ino->dlen, size);
	if (!err && size)
		err = in->read(in->ctx, f, 0, ino->dur, (size_t)size, &got);
	if (!err && got != size)
		err = EIO;
	if (f)
		in->close(in->ctx, f);
	if (!err)
		err = names_set(&s->c->cur, name, ino);
	return err;
}

int cl_io_crash_new(struct cl_io *inner, struct cl_io_crash **out)
{
	struct cl_io_crash *c = calloc(1, sizeof(*c));
	struct scan s;
	int err;

	*out = NULL;
	if (!c)
		return ENOMEM;
	c->inner = inner;
	s.c = c;
	err = inner->list(inner->ctx, adopt, &s);
	if (!err)
		err = names_copy(&c->dur, &c->cur);
	if (err) {
		cl_io_crash_destroy(&c);
		return err;
	}
	c->io.ctx = c;
	c->io.open = crash_open;
	c->io.close = crash_close;
	c->io.read = crash_read;
	c->io.write = crash_write;
	c->io.sync = crash_sync;
	c->io.truncate = crash_truncate;
	c->io.allocate = inner->allocate ? crash_allocate : NULL;
	c->io.size = crash_size;
	c->io.rename = crash_rename;
	c->io.unlink = crash_unlink;
	c->io.list = crash_list;
	c->io.sync_dir = crash_sync_dir;
	*out = c;
	return 0;
}

struct cl_io *cl_io_crash_io(struct cl_io_crash *c)
{
	return &c->io;
}

void cl_io_crash_destroy(struct cl_io_crash **cp)
{
	struct cl_io_crash *c = *cp;

	if (!c)
		return;
	while (c->nopen)
		crash_close(c, (struct cl_file *)c->open[c->nopen - 1]);
	free(c->open);
	while (c->inodes) {
		struct inode *next = c->inodes->next;

		inode_free(c->inodes);
		c->inodes = next;
	}
	names_free(&c->cur);
	names_free(&c->dur);
	ns_clear(c);
	free(c->ns);
	free(c);
	*cp = NULL;
}

uint64_t cl_io_crash_unsynced(const struct cl_io_crash *c)
{
	uint64_t n = 0;

	for (const struct inode *ino = c->inodes; ino; ino = ino->next)
		for (size_t i = 0; i < ino->nops; i++)
			if (ino->ops[i].kind == OP_WRITE)
				n += ino->ops[i].len;
	return n;
}

void cl_io_crash_stats(const struct cl_io_crash *c, struct cl_crash_stats *out)
{
	*out = c->st;
}

/* ---- the crash ---- */

static int unlink_one(void *arg, const char *name)
{
	struct cl_io *in = arg;

	return in->unlink(in->ctx, name);
}

/* Collect every name of inner (unlinking while listing is not allowed). */
static int collect(void *arg, const char *name)
{
	return names_set(arg, name, NULL);
}

/* CL_CRASH_PAGES: each page of each unsynced write on its own. */
static int settle_pages(struct inode *ino, uint64_t *rng, const struct cl_crash_plan *plan,
			struct cl_crash_stats *st)
{
	uint64_t page = plan->page > 0 ? (uint64_t)plan->page : 512;
	size_t nres = 0, kres, ires = 0;
	int hole = 0, reordered = 0, err = 0;

	for (size_t i = 0; i < ino->nops; i++)
		nres += ino->ops[i].kind != OP_WRITE;
	kres = (size_t)rng_upto(rng, nres);
	for (size_t i = 0; !err && i < ino->nops; i++) {
		const struct file_op *op = &ino->ops[i];
		uint64_t end = op->off + op->len, a, b;

		if (op->kind != OP_WRITE) {
			if (ires++ < kres)
				err = op_apply(&ino->dur, &ino->dlen, op);
			continue;
		}
		st->writes++;
		for (a = op->off; !err && a < end; a = b) {
			uint64_t plen, keep, fate = rng_next(rng) % 3;
			const uint8_t *src = op->data + (a - op->off);
			int rest = 0; /* 0 as it was, 1 zeros, 2 garbage */

			b = (a / page + 1) * page;
			if (b > end)
				b = end;
			plen = b - a;
			if (fate == 0) {
				keep = 0; /* lost: the page stays as it was */
			} else if (fate == 1 || plen == 1) {
				keep = plen;
			} else {
				keep = 1 + rng_upto(rng, plen - 2);
				rest = plan->garbage == 1 ? 2
				       : plan->garbage == 0 ? (int)(rng_next(rng) & 1)
							    : (int)(rng_next(rng) % 3);
			}
			err = bytes_write(&ino->dur, &ino->dlen, a, src, keep);
			if (!err && rest && b > ino->dlen)
				err = bytes_resize(&ino->dur, &ino->dlen, b);
			for (uint64_t k = a + keep; !err && rest && k < b; k++)
				ino->dur[k] = rest == 1 ? 0 : (uint8_t)rng_next(rng);
			count_fate(st, keep, plen);
			if (keep && hole)
				reordered = 1;
			if (keep < plen)
				hole = 1;
		}
	}
	st->reordered += (uint64_t)reordered;
	ops_clear(ino);
	return err;
}

/* The content ino has after the crash, computed into its durable buffer. */
static int settle(struct inode *ino, uint64_t *rng, const struct cl_crash_plan *plan,
		  const struct file_op *last_write, struct cl_crash_stats *st)
{
	uint64_t kept;
	int err = 0, hole = 0;

	if (plan->mode == CL_CRASH_PAGES)
		return settle_pages(ino, rng, plan, st);
	if (plan->mode == CL_CRASH_PREFIX) {
		size_t keep = (size_t)rng_upto(rng, ino->nops);

		for (size_t i = 0; !err && i < ino->nops; i++) {
			const struct file_op *op = &ino->ops[i];

			st->writes += op->kind == OP_WRITE;
			if (i >= keep) {
				if (op->kind == OP_WRITE)
					count_fate(st, 0, op->len);
			} else if (i + 1 == keep && op->kind == OP_WRITE) {
				err = op_apply_torn(&ino->dur, &ino->dlen, op, rng, plan, &kept);
				count_fate(st, kept, op->len);
			} else {
				err = op_apply(&ino->dur, &ino->dlen, op);
				if (op->kind == OP_WRITE)
					count_fate(st, op->len, op->len);
			}
		}
	} else {
		for (size_t i = 0; !err && i < ino->nops; i++) {
			const struct file_op *op = &ino->ops[i];

			if (op->kind != OP_WRITE)
				continue;
			st->writes++;
			if (op == last_write) {
				err = op_apply_torn(&ino->dur, &ino->dlen, op, rng, plan, &kept);
				count_fate(st, kept, op->len);
				st->reordered += kept && hole;
			} else {
				count_fate(st, 0, op->len);
				hole = hole || op->len;
			}
		}
	}
	ops_clear(ino);
	return err;
}

int cl_io_crash_crash(struct cl_io_crash *c, uint64_t seed, const struct cl_crash_plan *p)
{
	struct cl_crash_plan plan = {-1, -1, -1, -1, 0};
	const struct file_op *last_write = NULL;
	struct names after = {0}, old = {0};
	struct inode **link, *ino;
	uint64_t rng = seed, kept;
	int err;

	if (p)
		plan = *p;
	if (!p)
		plan.mode = (int)(rng_next(&rng) & 1);
	c->st.crashes++;

	/* Kill every open file. */
	for (size_t i = 0; i < c->nopen; i++) {
		if (c->open[i]->inner)
			c->inner->close(c->inner->ctx, c->open[i]->inner);
		c->open[i]->inner = NULL;
	}

	/* The directory: durable names plus a prefix of the later ops. */
	kept = plan.dir_ops < 0 ? rng_upto(&rng, c->nns) : (uint64_t)plan.dir_ops;
	if (kept > c->nns)
		kept = c->nns;
	err = names_copy(&after, &c->dur);
	for (size_t i = 0; !err && i < kept; i++)
		err = ns_apply(&after, &c->ns[i]);
	ns_clear(c);

	/* The files: the last unsynced write of the directory, for DROP. */
	for (ino = c->inodes; ino; ino = ino->next)
		for (size_t i = 0; i < ino->nops; i++)
			if (ino->ops[i].kind == OP_WRITE &&
			    (!last_write || ino->ops[i].no > last_write->no))
				last_write = &ino->ops[i];
	for (ino = c->inodes; ino; ino = ino->next)
		ino->live = 0;
	for (size_t i = 0; i < after.n; i++)
		after.v[i].ino->live = 1;
	/* Settle the surviving files (in list order, so that one seed always
	 * gives one result) and forget the others. */
	for (ino = c->inodes; ino; ino = ino->next) {
		if (ino->live && !err)
			err = settle(ino, &rng, &plan, last_write, &c->st);
	}
	for (link = &c->inodes; *link;) {
		ino = *link;
		if (!ino->live) {
			*link = ino->next;
			inode_free(ino);
		} else {
			link = &ino->next;
		}
	}

	/* Rewrite the wrapped directory. */
	if (!err)
		err = c->inner->list(c->inner->ctx, collect, &old);
	for (size_t i = 0; !err && i < old.n; i++)
		err = unlink_one(c->inner, old.v[i].name);
	names_free(&old);
	for (size_t i = 0; !err && i < after.n; i++) {
		struct cl_file *f = NULL;
		struct inode *a = after.v[i].ino;

		err = c->inner->open(c->inner->ctx, after.v[i].name, CL_IO_CREATE | CL_IO_TRUNC, &f);
		if (!err && a->dlen)
			err = c->inner->write(c->inner->ctx, f, 0, a->dur, a->dlen);
		if (f)
			c->inner->close(c->inner->ctx, f);
	}
	if (!err)
		err = names_copy(&c->cur, &after);
	if (!err)
		err = names_copy(&c->dur, &after);
	names_free(&after);
	return err;
}
