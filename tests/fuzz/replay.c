/*
 * replay.c - run a fuzz target over saved inputs, without libFuzzer.
 *
 * Links against any file that defines LLVMFuzzerTestOneInput:
 *
 *     cc ... tests/fuzz/replay.c tests/fuzz/fuzz_X.c <code under test>
 *     ./replay_X tests/fuzz/corpus/X [more dirs or files]
 *
 * Directories are walked recursively in name order; every regular file is
 * one input, passed in a heap block of exactly its size so that sanitizers
 * and valgrind see any read past its end.
 *
 * Exit status: 0 after at least one input, 1 if there were none, 2 if a
 * path could not be read (the other paths are still replayed).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct replay {
	unsigned long count;
	int failed;
};

static void fail(struct replay *rp, const char *path, int err)
{
	fprintf(stderr, "replay: %s: %s\n", path, strerror(err));
	rp->failed = 1;
}

static void replay_file(struct replay *rp, const char *path, size_t size)
{
	uint8_t *buf;
	size_t got;
	FILE *f;

	f = fopen(path, "rb");
	if (!f) {
		fail(rp, path, errno);
		return;
	}
	/* malloc(0) may return NULL; an empty input still gets a block */
	buf = malloc(size ? size : 1);
	if (!buf) {
		fclose(f);
		fail(rp, path, ENOMEM);
		return;
	}
	got = fread(buf, 1, size, f);
	if (got != size || ferror(f)) {
		fail(rp, path, EIO);
		free(buf);
		fclose(f);
		return;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, size);
	rp->count++;
	free(buf);
}

static void replay_path(struct replay *rp, const char *path);

static void replay_dir(struct replay *rp, const char *path)
{
	struct dirent **ents;
	size_t plen = strlen(path);
	int n, i;

	n = scandir(path, &ents, NULL, alphasort);
	if (n < 0) {
		fail(rp, path, errno);
		return;
	}
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char *child;

		if (strcmp(name, ".") && strcmp(name, "..")) {
			child = malloc(plen + strlen(name) + 2);
			if (!child) {
				fail(rp, path, ENOMEM);
			} else {
				sprintf(child, "%s/%s", path, name);
				replay_path(rp, child);
				free(child);
			}
		}
		free(ents[i]);
	}
	free(ents);
}

static void replay_path(struct replay *rp, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		fail(rp, path, errno);
		return;
	}
	if (S_ISDIR(st.st_mode))
		replay_dir(rp, path);
	else if (S_ISREG(st.st_mode))
		replay_file(rp, path, (size_t)st.st_size);
	else
		fail(rp, path, EINVAL);
}

int main(int argc, char **argv)
{
	struct replay rp = {0, 0};
	int i;

	for (i = 1; i < argc; i++)
		replay_path(&rp, argv[i]);
	printf("replayed %lu inputs\n", rp.count);
	if (rp.failed)
		return 2;
	if (rp.count == 0) {
		fprintf(stderr, "replay: no inputs\n");
		return 1;
	}
	return 0;
}
