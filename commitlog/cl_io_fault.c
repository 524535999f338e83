/*
 * cl_io_fault.c - fail chosen calls of a wrapped backend (cl_io_fault.h).
 */
#include "cl_io_fault.h"

#include <stdlib.h>

#define NKINDS 6

struct cl_io_fault {
	struct cl_io io;
	struct cl_io *inner;
	unsigned kinds; /* armed kinds; 0 when disarmed */
	uint64_t nth, seen;
	int err, sticky;
	uint64_t calls[NKINDS];
	uint64_t injected;
};

/* Count a call of `kind`; returns the errno value to fail it with, or 0. */
static int fault_hit(struct cl_io_fault *f, unsigned kind)
{
	for (unsigned i = 0; i < NKINDS; i++)
		if (kind == 1u << i)
			f->calls[i]++;
	if (!(f->kinds & kind))
		return 0;
	f->seen++;
	if (f->seen == f->nth || (f->sticky && f->seen > f->nth)) {
		f->injected++;
		return f->err;
	}
	return 0;
}

static int f_open(void *ctx, const char *name, unsigned flags, struct cl_file **out)
{
	struct cl_io_fault *f = ctx;
	int err = fault_hit(f, flags & CL_IO_CREATE ? CL_FAULT_NAMES : CL_FAULT_READ);

	*out = NULL;
	return err ? err : f->inner->open(f->inner->ctx, name, flags, out);
}

static void f_close(void *ctx, struct cl_file *file)
{
	struct cl_io_fault *f = ctx;

	f->inner->close(f->inner->ctx, file);
}

static int f_read(void *ctx, struct cl_file *file, uint64_t off, void *buf, size_t len,
		  size_t *got)
{
	struct cl_io_fault *f = ctx;
	int err = fault_hit(f, CL_FAULT_READ);

	*got = 0;
	return err ? err : f->inner->read(f->inner->ctx, file, off, buf, len, got);
}

static int f_write(void *ctx, struct cl_file *file, uint64_t off, const void *buf, size_t len)
{
	struct cl_io_fault *f = ctx;
	int err = fault_hit(f, CL_FAULT_WRITE);

	return err ? err : f->inner->write(f->inner->ctx, file, off, buf, len);
}

static int f_sync(void *ctx, struct cl_file *file)
{
	struct cl_io_fault *f = ctx;
	int err = fault_hit(f, CL_FAULT_SYNC);

	return err ? err : f->inner->sync(f->inner->ctx, file);
}

static int f_truncate(void *ctx, struct cl_file *file, uint64_t size)
{
	struct cl_io_fault *f = ctx;
	int err = fault_hit(f, CL_FAULT_RESIZE);

	return err ? err : f->inner->truncate(f->inner->ctx, file, size);
}

static int f_allocate(void *ctx, struct cl_file *file, uint64_t size)
{
	struct cl_io_fault *f = ctx;
	int err = fault_hit(f, CL_FAULT_RESIZE);

	return err ? err : f->inner->allocate(f->inner->ctx, file, size);
}

static int f_size(void *ctx, struct cl_file *file, uint64_t *size)
{
	struct cl_io_fault *f = ctx;
	int err = fault_hit(f, CL_FAULT_READ);

	return err ? err : f->inner->size(f->inner->ctx, file, size);
}

static int f_rename(void *ctx, const char *from, const char *to)
{
	struct cl_io_fault *f = ctx;
	int err = fault_hit(f, CL_FAULT_NAMES);

	return err ? err : f->inner->rename(f->inner->ctx, from, to);
}

static int f_unlink(void *ctx, const char *name)
{
	struct cl_io_fault *f = ctx;
	int err = fault_hit(f, CL_FAULT_NAMES);

	return err ? err : f->inner->unlink(f->inner->ctx, name);
}

static int f_list(void *ctx, cl_io_list_fn fn, void *arg)
{
	struct cl_io_fault *f = ctx;
	int err = fault_hit(f, CL_FAULT_READ);

	return err ? err : f->inner->list(f->inner->ctx, fn, arg);
}

static int f_sync_dir(void *ctx)
{
	struct cl_io_fault *f = ctx;
	int err = fault_hit(f, CL_FAULT_SYNC_DIR);

	return err ? err : f->inner->sync_dir(f->inner->ctx);
}

struct cl_io_fault *cl_io_fault_new(struct cl_io *inner)
{
	struct cl_io_fault *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->inner = inner;
	f->io.ctx = f;
	f->io.open = f_open;
	f->io.close = f_close;
	f->io.read = f_read;
	f->io.write = f_write;
	f->io.sync = f_sync;
	f->io.truncate = f_truncate;
	f->io.allocate = inner->allocate ? f_allocate : NULL;
	f->io.size = f_size;
	f->io.rename = f_rename;
	f->io.unlink = f_unlink;
	f->io.list = f_list;
	f->io.sync_dir = f_sync_dir;
	return f;
}

struct cl_io *cl_io_fault_io(struct cl_io_fault *f)
{
	return &f->io;
}

void cl_io_fault_destroy(struct cl_io_fault **fp)
{
	free(*fp);
	*fp = NULL;
}

void cl_io_fault_arm(struct cl_io_fault *f, unsigned kinds, uint64_t nth, int err, int sticky)
{
	f->kinds = kinds;
	f->nth = nth;
	f->seen = 0;
	f->err = err;
	f->sticky = sticky;
}

void cl_io_fault_disarm(struct cl_io_fault *f)
{
	f->kinds = 0;
}

uint64_t cl_io_fault_calls(const struct cl_io_fault *f, unsigned kinds)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < NKINDS; i++)
		if (kinds & (1u << i))
			n += f->calls[i];
	return n;
}

uint64_t cl_io_fault_injected(const struct cl_io_fault *f)
{
	return f->injected;
}
