/*
 * The chaos suite's EIO nemesis: an LD_PRELOAD library under a coordinator
 * that makes the disk fail as a real one does.
 *
 * While the file named by PX_EIO_FILE exists, every fsync and fdatasync
 * fails with EIO, and, as Linux may do after a failed writeback, the data
 * written to that file since its last good sync is lost: the shim writes
 * zeros over it before it reports the error.  Bytes that were synced before
 * stay as they were.  Each injected failure appends a line to
 * PX_EIO_FILE.hits, which the checker reads: a replica that saw one must
 * have stopped (exit 4, fail-stop) by the heal.
 *
 * Without PX_EIO_FILE in the environment the shim passes everything through.
 * It tracks the bounds of what pwrite wrote since the last sync, per descriptor.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FD 1024

/* Bytes above synced_end were never made durable, so zeroing the bounds of
 * the writes since the last sync, above it, loses exactly those writes (a
 * gap between them above synced_end was never written at all). */
struct fdstate {
	off_t synced_end; /* the end of the bytes made durable by a good sync */
	int dirty;        /* written since the last sync: [lo, hi) bounds it */
	off_t lo, hi;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct fdstate *fds[MAX_FD];
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_close)(int);

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_once(void)
{
	real_pwrite = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
}

/* Every thread finds the real calls set (ZeroMQ's threads close too). */
static void init(void)
{
	pthread_once(&once, init_once);
}

static const char *ctl(void)
{
	return getenv("PX_EIO_FILE");
}

static void note_write(int fd, off_t off, ssize_t n)
{
	if (fd < 0 || fd >= MAX_FD || n <= 0 || !ctl())
		return;
	pthread_mutex_lock(&mu);
	struct fdstate *s = fds[fd];
	if (!s)
		s = fds[fd] = calloc(1, sizeof *s);
	if (s) {
		off_t end = off + n;
		if (!s->dirty)
			s->lo = off, s->hi = end;
		if (off < s->lo)
			s->lo = off;
		if (end > s->hi)
			s->hi = end;
		s->dirty = 1;
	}
	pthread_mutex_unlock(&mu);
}

static void zero(int fd, off_t from, off_t to)
{
	static const char z[4096];
	while (from < to) {
		size_t k = (size_t)(to - from) < sizeof z ? (size_t)(to - from) : sizeof z;
		ssize_t w = real_pwrite(fd, z, k, from);
		if (w <= 0)
			return;
		from += w;
	}
}

/* A sync of fd: fails (and loses the unsynced data) while the control file
 * exists, else passes through. */
static int sync_fd(int fd, int (*real)(int))
{
	init();
	const char *c = ctl();
	if (c && access(c, F_OK) == 0) {
		pthread_mutex_lock(&mu);
		struct fdstate *s = fd >= 0 && fd < MAX_FD ? fds[fd] : NULL;
		if (s && s->dirty) {
			zero(fd, s->lo > s->synced_end ? s->lo : s->synced_end, s->hi);
			s->dirty = 0;
		}
		pthread_mutex_unlock(&mu);
		char path[4096];
		snprintf(path, sizeof path, "%s.hits", c);
		int h = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (h >= 0) {
			char line[64];
			int k = snprintf(line, sizeof line, "eio fd %d pid %d\n", fd, (int)getpid());
			if (write(h, line, (size_t)k) < 0) { /* the hit is also in the daemon's log */
			}
			real_close(h);
		}
		errno = EIO;
		return -1;
	}
	int rc = real(fd);
	if (rc == 0 && fd >= 0 && fd < MAX_FD) {
		pthread_mutex_lock(&mu);
		struct fdstate *s = fds[fd];
		if (s && s->dirty) {
			if (s->hi > s->synced_end)
				s->synced_end = s->hi;
			s->dirty = 0;
		}
		pthread_mutex_unlock(&mu);
	}
	return rc;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	init();
	ssize_t w = real_pwrite(fd, buf, n, off);
	note_write(fd, off, w);
	return w;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

int fsync(int fd)
{
	init();
	return sync_fd(fd, real_fsync);
}

int fdatasync(int fd)
{
	init();
	return sync_fd(fd, real_fdatasync);
}

int close(int fd)
{
	init();
	if (fd >= 0 && fd < MAX_FD) {
		pthread_mutex_lock(&mu);
		free(fds[fd]);
		fds[fd] = NULL;
		pthread_mutex_unlock(&mu);
	}
	return real_close(fd);
}
