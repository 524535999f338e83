/*
 * cl_io_posix.c - the cl_io methods on real files in one directory.
 *
 * The only file of the commit log that talks to the operating system.
 *
 *   - Files are opened relative to a descriptor of the directory (openat,
 *     renameat, unlinkat), so the directory cannot change under the log.
 *   - pread/pwrite loop over short transfers and EINTR.
 *   - sync is fdatasync: data, plus the metadata needed to read it back
 *     (the file size), not timestamps.
 *   - sync_dir is fsync of the directory descriptor: it makes creations,
 *     renames and unlinks durable (POSIX leaves that open; Linux file
 *     systems honour it, and it is the documented way).
 *   - allocate is posix_fallocate: the blocks are reserved (ENOSPC shows up
 *     here, not in a later write), and later writes inside the allocated
 *     size do not change the file size, so their fdatasync does not have
 *     to log a size change.
 *   - Errors are returned as errno values, never retried (except EINTR,
 *     which is not a failure of the operation).
 */
#ifndef _POSIX_C_SOURCE /* the build normally sets it; this file needs POSIX 2008 */
#define _POSIX_C_SOURCE 200809L
#endif

#include "cl_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h> /* renameat */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_DIRECTORY
#define O_DIRECTORY 0
#endif

struct cl_io_posix {
	struct cl_io io;
	int dirfd;
};

struct posix_file {
	int fd;
};

static int fd_of(struct cl_file *f)
{
	return ((struct posix_file *)f)->fd;
}

static int px_open(void *ctx, const char *name, unsigned flags, struct cl_file **out)
{
	struct cl_io_posix *p = ctx;
	int oflags = O_RDWR | O_CLOEXEC, fd;
	struct posix_file *f;

	*out = NULL;
	if (flags & CL_IO_CREATE)
		oflags |= O_CREAT;
	if (flags & CL_IO_TRUNC)
		oflags |= O_TRUNC;
	f = malloc(sizeof(*f));
	if (!f)
		return ENOMEM;
	do
		fd = openat(p->dirfd, name, oflags, 0644);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		int e = errno;

		free(f);
		return e;
	}
	f->fd = fd;
	*out = (struct cl_file *)f;
	return 0;
}

static void px_close(void *ctx, struct cl_file *f)
{
	(void)ctx;
	if (!f)
		return;
	/* Not retried on EINTR: on Linux the descriptor is gone either way. */
	close(fd_of(f));
	free(f);
}

static int px_read(void *ctx, struct cl_file *f, uint64_t off, void *buf, size_t len,
		   size_t *got)
{
	uint8_t *p = buf;
	size_t done = 0;

	(void)ctx;
	while (done < len) {
		size_t chunk = len - done;
		ssize_t n;

		if (chunk > (size_t)SSIZE_MAX)
			chunk = (size_t)SSIZE_MAX;
		if (off + done > (uint64_t)INT64_MAX)
			return EFBIG;
		n = pread(fd_of(f), p + done, chunk, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*got = done;
			return errno;
		}
		if (n == 0)
			break; /* end of file */
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

static int px_write(void *ctx, struct cl_file *f, uint64_t off, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;

	(void)ctx;
	while (done < len) {
		size_t chunk = len - done;
		ssize_t n;

		if (chunk > (size_t)SSIZE_MAX)
			chunk = (size_t)SSIZE_MAX;
		if (off + done > (uint64_t)INT64_MAX)
			return EFBIG;
		n = pwrite(fd_of(f), p + done, chunk, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (n == 0)
			return EIO; /* no progress and no reason: do not spin */
		done += (size_t)n; /* short write: go on with the rest */
	}
	return 0;
}

static int px_sync(void *ctx, struct cl_file *f)
{
	(void)ctx;
	/* A failed fdatasync is final (the kernel may have dropped the dirty
	 * pages); only EINTR, which reports nothing about the data, is retried. */
	while (fdatasync(fd_of(f)) != 0) {
#if defined(PX_PLANT_DAEMON_BUG) && PX_PLANT_DAEMON_BUG == 2
		/* Planted bug for the chaos suite: a failed sync is taken for a
		 * good one (the data it lost is acknowledged as durable). */
		return 0;
#endif
		if (errno != EINTR)
			return errno;
	}
	return 0;
}

static int px_truncate(void *ctx, struct cl_file *f, uint64_t size)
{
	(void)ctx;
	if (size > (uint64_t)INT64_MAX)
		return EFBIG;
	while (ftruncate(fd_of(f), (off_t)size) != 0) {
		if (errno != EINTR)
			return errno;
	}
	return 0;
}

static int px_allocate(void *ctx, struct cl_file *f, uint64_t size)
{
	int e;

	(void)ctx;
	if (size > (uint64_t)INT64_MAX)
		return EFBIG;
	do
		e = posix_fallocate(fd_of(f), 0, (off_t)size); /* returns the error */
	while (e == EINTR);
	if (e == EOPNOTSUPP || e == ENOSYS) {
		/* No allocation on this file system: extend the size only (a
		 * sparse file reads as zeros), which keeps the contract. */
		struct stat st;

		if (fstat(fd_of(f), &st) != 0)
			return errno;
		if ((uint64_t)st.st_size >= size)
			return 0;
		return px_truncate(ctx, f, size);
	}
	return e;
}

static int px_size(void *ctx, struct cl_file *f, uint64_t *size)
{
	struct stat st;

	(void)ctx;
	if (fstat(fd_of(f), &st) != 0)
		return errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int px_rename(void *ctx, const char *from, const char *to)
{
	struct cl_io_posix *p = ctx;

	return renameat(p->dirfd, from, p->dirfd, to) != 0 ? errno : 0;
}

static int px_unlink(void *ctx, const char *name)
{
	struct cl_io_posix *p = ctx;

	return unlinkat(p->dirfd, name, 0) != 0 ? errno : 0;
}

static int px_list(void *ctx, cl_io_list_fn fn, void *arg)
{
	struct cl_io_posix *p = ctx;
	struct dirent *de;
	int fd, rc = 0;
	DIR *d;

	/* A fresh descriptor: fdopendir takes it over, and the directory
	 * stream's position must not be shared between listings. */
	fd = openat(p->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		return e;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			rc = errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = fn(arg, de->d_name);
		if (rc)
			break;
	}
	closedir(d);
	return rc;
}

static int px_sync_dir(void *ctx)
{
	struct cl_io_posix *p = ctx;

	while (fsync(p->dirfd) != 0) {
		if (errno != EINTR)
			return errno;
	}
	return 0;
}

/* Create dir, and make its entry durable by syncing its parent. */
static int make_dir(const char *dir)
{
	size_t n = strlen(dir);
	char *parent;
	int fd, e = 0;

	if (mkdir(dir, 0755) != 0)
		return errno == EEXIST ? 0 : errno;
	parent = malloc(n + 3);
	if (!parent)
		return ENOMEM;
	strcpy(parent, dir);
	while (n > 1 && parent[n - 1] == '/') /* "a/b/" -> "a/b" */
		parent[--n] = '\0';
	while (n > 0 && parent[n - 1] != '/')
		n--;
	if (n == 0)
		strcpy(parent, ".");
	else
		parent[n] = '\0'; /* keeps the slash: "/" or "a/" */
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
	} else {
		if (fsync(fd) != 0)
			e = errno;
		close(fd);
	}
	free(parent);
	return e;
}

int cl_io_posix_new(const char *dir, struct cl_io_posix **out)
{
	struct cl_io_posix *p;
	int e;

	*out = NULL;
	e = make_dir(dir);
	if (e)
		return e;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dirfd < 0) {
		e = errno;
		free(p);
		return e;
	}
	p->io.ctx = p;
	p->io.open = px_open;
	p->io.close = px_close;
	p->io.read = px_read;
	p->io.write = px_write;
	p->io.sync = px_sync;
	p->io.truncate = px_truncate;
	p->io.allocate = px_allocate;
	p->io.size = px_size;
	p->io.rename = px_rename;
	p->io.unlink = px_unlink;
	p->io.list = px_list;
	p->io.sync_dir = px_sync_dir;
	*out = p;
	return 0;
}

struct cl_io *cl_io_posix_io(struct cl_io_posix *p)
{
	return &p->io;
}

void cl_io_posix_destroy(struct cl_io_posix **pp)
{
	struct cl_io_posix *p = *pp;

	if (!p)
		return;
	close(p->dirfd);
	free(p);
	*pp = NULL;
}
