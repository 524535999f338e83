/*
 * cl_io.h - the file I/O seam of the commit log.
 *
 * The log never calls the operating system itself.  Every file operation
 * goes through a struct cl_io: a table of methods plus the backend's
 * context, in the spirit of SQLite's sqlite3_io_methods.  Four backends
 * exist:
 *
 *   posix  (cl_io_posix.c) real files in one directory;
 *   mem    (cl_io_mem.c)   files in memory, for tests and the fuzzer;
 *   crash  (cl_io_crash.h) wraps another backend and, on a simulated
 *                          crash, throws away what was not yet synced;
 *   fault  (cl_io_fault.h) wraps another backend and fails a chosen call.
 *
 * Names are plain file names inside the backend's one directory (no '/').
 *
 * Every method returns 0 or a positive errno value (ENOENT, ENOSPC, EIO,
 * ...).  A method never retries a failure on its own, and never reports
 * success for work it did not do: a short write is finished or reported.
 *
 * Durability contract (what the crash backend simulates, and what the
 * posix backend gets from the kernel):
 *   - data written by write/truncate/allocate is durable once sync() on
 *     that file returns 0;
 *   - creating, renaming and unlinking a name is durable once sync_dir()
 *     returns 0;
 *   - a rename is atomic: after a crash the name refers to the old file or
 *     to the new one.
 */
#ifndef CL_IO_H
#define CL_IO_H

#include <stddef.h>
#include <stdint.h>

/* An open file.  Each backend keeps its own structure behind it; the log
 * only passes the pointer back to the backend that returned it. */
struct cl_file;

/* open() flags. */
enum cl_io_open_flags {
	CL_IO_CREATE = 1u << 0, /* create the file if it does not exist */
	CL_IO_TRUNC = 1u << 1   /* empty the file (with CL_IO_CREATE: a fresh file) */
};

/* list() calls fn once per name; a non-zero return stops the walk and is
 * returned by list(). */
typedef int (*cl_io_list_fn)(void *arg, const char *name);

struct cl_io {
	void *ctx; /* the backend's state, passed back to every method */

	/* Open name for reading and writing.  ENOENT if it does not exist
	 * and CL_IO_CREATE is not given. */
	int (*open)(void *ctx, const char *name, unsigned flags, struct cl_file **out);
	/* Release the file.  Never reports an error: durability comes from
	 * sync(), never from close (close(2) errors after a successful
	 * fdatasync carry no information about the data). */
	void (*close)(void *ctx, struct cl_file *f);
	/* Read up to len bytes at off; *got < len only at the end of file. */
	int (*read)(void *ctx, struct cl_file *f, uint64_t off, void *buf, size_t len,
		    size_t *got);
	/* Write all len bytes at off (extending the file with zeros if off is
	 * past its end), or fail. */
	int (*write)(void *ctx, struct cl_file *f, uint64_t off, const void *buf, size_t len);
	/* Make the file's data and size durable (fdatasync). */
	int (*sync)(void *ctx, struct cl_file *f);
	/* Set the file's size; new bytes read as zeros. */
	int (*truncate)(void *ctx, struct cl_file *f, uint64_t size);
	/* Reserve disk space so that the file is at least size bytes long; new
	 * bytes read as zeros, existing bytes are untouched.  May be NULL:
	 * the log then does not preallocate. */
	int (*allocate)(void *ctx, struct cl_file *f, uint64_t size);
	/* The file's current size in bytes. */
	int (*size)(void *ctx, struct cl_file *f, uint64_t *size);
	/* Atomically replace `to` (if it exists) by `from`. */
	int (*rename)(void *ctx, const char *from, const char *to);
	int (*unlink)(void *ctx, const char *name);
	/* Call fn for every name in the directory, in no particular order. */
	int (*list)(void *ctx, cl_io_list_fn fn, void *arg);
	/* Make creations, renames and unlinks durable (fsync of the directory). */
	int (*sync_dir)(void *ctx);
};

/* ---- posix backend: real files in one directory (cl_io_posix.c) ---- */

struct cl_io_posix;

/*
 * A backend on directory `dir`, which is created (mode 0755, and its parent
 * synced) if it does not exist.  Returns 0 and *out, or an errno value.
 * The backend copies `dir`; destroy it with cl_io_posix_destroy() after
 * every log using it is closed.
 */
int cl_io_posix_new(const char *dir, struct cl_io_posix **out);
/* The method table; valid until the backend is destroyed. */
struct cl_io *cl_io_posix_io(struct cl_io_posix *p);
void cl_io_posix_destroy(struct cl_io_posix **p);

/* ---- in-memory backend (cl_io_mem.c) ---- */

struct cl_io_mem;

/* An empty in-memory directory, or NULL if out of memory.  sync() and
 * sync_dir() do nothing and never fail; wrap it in the crash backend to
 * model durability. */
struct cl_io_mem *cl_io_mem_new(void);
struct cl_io *cl_io_mem_io(struct cl_io_mem *m);
/* Frees every file, open or not.  Close the logs using it first. */
void cl_io_mem_destroy(struct cl_io_mem **m);

/*
 * Test hooks, working on the directory behind the method table.
 * cl_io_mem_view: a writable view of a file's bytes (flip bytes in place to
 * simulate corruption); valid until the next call that changes the file.
 * ENOENT if there is no such file.
 * cl_io_mem_set: create or replace a file with a copy of data[0..len).
 * Returns 0, or ENOMEM.
 */
int cl_io_mem_view(struct cl_io_mem *m, const char *name, uint8_t **data, size_t *len);
int cl_io_mem_set(struct cl_io_mem *m, const char *name, const void *data, size_t len);

#endif
