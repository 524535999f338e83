/*
 * cl_io_mem.c - an in-memory directory behind the cl_io method table.
 *
 * Files are reference-counted nodes, so that an open file keeps its bytes
 * after its name is unlinked or renamed away, as with POSIX files.  Syncs
 * do nothing: this backend models a disk that never loses anything.  The
 * crash backend (cl_io_crash.c) wraps it to model one that does.
 */
#include "cl_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct mem_node {
	uint8_t *data;
	size_t len, cap;
	unsigned refs; /* names and open files pointing at it */
};

struct mem_name {
	char *name;
	struct mem_node *node;
};

struct mem_file {
	struct mem_node *node;
};

struct cl_io_mem {
	struct cl_io io;
	struct mem_name *names;
	size_t nnames, capnames;
};

static void node_put(struct mem_node *n)
{
	if (n && --n->refs == 0) {
		free(n->data);
		free(n);
	}
}

static struct mem_name *find(struct cl_io_mem *m, const char *name)
{
	for (size_t i = 0; i < m->nnames; i++)
		if (strcmp(m->names[i].name, name) == 0)
			return &m->names[i];
	return NULL;
}

/* Grow n's buffer to hold at least size bytes; new bytes are zero. */
static int node_reserve(struct mem_node *n, size_t size)
{
	size_t cap;
	uint8_t *p;

	if (size <= n->cap)
		return 0;
	cap = n->cap ? n->cap : 256;
	while (cap < size) {
		if (cap > SIZE_MAX / 2)
			return ENOMEM;
		cap *= 2;
	}
	p = realloc(n->data, cap);
	if (!p)
		return ENOMEM;
	memset(p + n->cap, 0, cap - n->cap);
	n->data = p;
	n->cap = cap;
	return 0;
}

static int node_resize(struct mem_node *n, size_t size)
{
	int err = node_reserve(n, size);

	if (err)
		return err;
	if (size < n->len) /* keep the spare capacity zeroed */
		memset(n->data + size, 0, n->len - size);
	n->len = size;
	return 0;
}

/* Bind name to a fresh empty node; returns it, or NULL if out of memory. */
static struct mem_node *add_name(struct cl_io_mem *m, const char *name)
{
	struct mem_node *n;
	char *copy;

	if (m->nnames == m->capnames) {
		size_t cap = m->capnames ? m->capnames * 2 : 16;
		struct mem_name *v = realloc(m->names, cap * sizeof(*v));

		if (!v)
			return NULL;
		m->names = v;
		m->capnames = cap;
	}
	n = calloc(1, sizeof(*n));
	copy = malloc(strlen(name) + 1);
	if (!n || !copy) {
		free(n);
		free(copy);
		return NULL;
	}
	strcpy(copy, name);
	n->refs = 1;
	m->names[m->nnames].name = copy;
	m->names[m->nnames].node = n;
	m->nnames++;
	return n;
}

static void drop_name(struct cl_io_mem *m, struct mem_name *e)
{
	free(e->name);
	node_put(e->node);
	*e = m->names[--m->nnames];
}

static int mem_open(void *ctx, const char *name, unsigned flags, struct cl_file **out)
{
	struct cl_io_mem *m = ctx;
	struct mem_name *e = find(m, name);
	struct mem_node *n;
	struct mem_file *f;

	*out = NULL;
	if (!e && !(flags & CL_IO_CREATE))
		return ENOENT;
	f = malloc(sizeof(*f));
	if (!f)
		return ENOMEM;
	n = e ? e->node : add_name(m, name);
	if (!n) {
		free(f);
		return ENOMEM;
	}
	if (flags & CL_IO_TRUNC)
		node_resize(n, 0); /* shrinking cannot fail */
	n->refs++;
	f->node = n;
	*out = (struct cl_file *)f;
	return 0;
}

static void mem_close(void *ctx, struct cl_file *file)
{
	struct mem_file *f = (struct mem_file *)file;

	(void)ctx;
	if (f) {
		node_put(f->node);
		free(f);
	}
}

static int mem_read(void *ctx, struct cl_file *file, uint64_t off, void *buf, size_t len,
		    size_t *got)
{
	struct mem_node *n = ((struct mem_file *)file)->node;
	size_t k = 0;

	(void)ctx;
	if (off < n->len) {
		k = n->len - (size_t)off;
		if (k > len)
			k = len;
		memcpy(buf, n->data + off, k);
	}
	*got = k;
	return 0;
}

static int mem_write(void *ctx, struct cl_file *file, uint64_t off, const void *buf, size_t len)
{
	struct mem_node *n = ((struct mem_file *)file)->node;
	int err;

	(void)ctx;
	if (off > SIZE_MAX - len)
		return EFBIG;
	if (off + len > n->len) {
		err = node_resize(n, (size_t)off + len);
		if (err)
			return err;
	}
	if (len)
		memcpy(n->data + off, buf, len);
	return 0;
}

static int mem_sync(void *ctx, struct cl_file *file)
{
	(void)ctx;
	(void)file;
	return 0;
}

static int mem_truncate(void *ctx, struct cl_file *file, uint64_t size)
{
	(void)ctx;
	if (size > SIZE_MAX)
		return EFBIG;
	return node_resize(((struct mem_file *)file)->node, (size_t)size);
}

static int mem_allocate(void *ctx, struct cl_file *file, uint64_t size)
{
	struct mem_node *n = ((struct mem_file *)file)->node;

	(void)ctx;
	if (size > SIZE_MAX)
		return EFBIG;
	return size > n->len ? node_resize(n, (size_t)size) : 0;
}

static int mem_size(void *ctx, struct cl_file *file, uint64_t *size)
{
	(void)ctx;
	*size = ((struct mem_file *)file)->node->len;
	return 0;
}

static int mem_rename(void *ctx, const char *from, const char *to)
{
	struct cl_io_mem *m = ctx;
	struct mem_name *src = find(m, from), *dst;
	char *copy;

	if (!src)
		return ENOENT;
	if (strcmp(from, to) == 0)
		return 0;
	copy = malloc(strlen(to) + 1);
	if (!copy)
		return ENOMEM;
	strcpy(copy, to);
	free(src->name);
	src->name = copy;
	/* Drop the old `to` (if any).  Look it up after the rename of src,
	 * skipping src itself, because drop_name moves entries around. */
	for (size_t i = 0; i < m->nnames; i++) {
		dst = &m->names[i];
		if (dst != src && strcmp(dst->name, to) == 0) {
			drop_name(m, dst);
			break;
		}
	}
	return 0;
}

static int mem_unlink(void *ctx, const char *name)
{
	struct cl_io_mem *m = ctx;
	struct mem_name *e = find(m, name);

	if (!e)
		return ENOENT;
	drop_name(m, e);
	return 0;
}

static int mem_list(void *ctx, cl_io_list_fn fn, void *arg)
{
	struct cl_io_mem *m = ctx;

	for (size_t i = 0; i < m->nnames; i++) {
		int rc = fn(arg, m->names[i].name);

		if (rc)
			return rc;
	}
	return 0;
}

static int mem_sync_dir(void *ctx)
{
	(void)ctx;
	return 0;
}

struct cl_io_mem *cl_io_mem_new(void)
{
	struct cl_io_mem *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->io.ctx = m;
	m->io.open = mem_open;
	m->io.close = mem_close;
	m->io.read = mem_read;
	m->io.write = mem_write;
	m->io.sync = mem_sync;
	m->io.truncate = mem_truncate;
	m->io.allocate = mem_allocate;
	m->io.size = mem_size;
	m->io.rename = mem_rename;
	m->io.unlink = mem_unlink;
	m->io.list = mem_list;
	m->io.sync_dir = mem_sync_dir;
	return m;
}

struct cl_io *cl_io_mem_io(struct cl_io_mem *m)
{
	return &m->io;
}

void cl_io_mem_destroy(struct cl_io_mem **mp)
{
	struct cl_io_mem *m = *mp;

	if (!m)
		return;
	while (m->nnames)
		drop_name(m, &m->names[m->nnames - 1]);
	free(m->names);
	free(m);
	*mp = NULL;
}

int cl_io_mem_view(struct cl_io_mem *m, const char *name, uint8_t **data, size_t *len)
{
	struct mem_name *e = find(m, name);

	if (!e)
		return ENOENT;
	*data = e->node->data;
	*len = e->node->len;
	return 0;
}

int cl_io_mem_set(struct cl_io_mem *m, const char *name, const void *data, size_t len)
{
	struct mem_name *e = find(m, name);
	struct mem_node *n = e ? e->node : add_name(m, name);
	int err;

	if (!n)
		return ENOMEM;
	err = node_resize(n, len);
	if (err)
		return err;
	if (len)
		memcpy(n->data, data, len);
	return 0;
}
