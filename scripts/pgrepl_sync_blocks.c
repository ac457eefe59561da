/*-------------------------------------------------------------------------
 *
 * pgrepl_sync_blocks.c
 *	  Bring files of a stale copy of a data directory up to date with their
 *	  source by comparing contents, rewriting only the differing blocks in
 *	  place.  pgrepl_clone_standby uses it on a local source for the files
 *	  present on both sides, where rsync's checksum pass and its delta
 *	  transfer would each read both sides again.
 *
 *	  Usage: pgrepl_sync_blocks [-j JOBS] SOURCE_DIR TARGET_DIR < paths
 *
 *	  paths are NUL-separated, relative to both directories.  For each one
 *	  that exists in both as a regular file (not a symbolic link), the target is compared with
 *	  the source in 64 kB blocks read side by side; a block that differs is
 *	  written over, the source's tail past the target's end is appended,
 *	  a longer target is truncated, and the target takes the source's mode
 *	  and modification time, so that rsync's size-and-time check afterwards
 *	  passes it by.  Other paths are left for rsync.
 *
 *	  The work is cut into chunks of at most 8 MB of a file, which JOBS
 *	  threads (default: one per CPU, at most 16) take in turn, so that the
 *	  cores share even one large relation segment; the thread that ends a
 *	  file's last chunk sets its length, mode and time.  A file's last chunk
 *	  reads on to the source's end as it is then, so that a file that grew
 *	  since it was listed is copied whole.
 *
 *	  The copy is taken in backup mode: a block the primary changes while it
 *	  is read is put right by WAL replay, as with any base backup.  Prints
 *	  one summary line.  Exit status 0, or 1 after an error (named on
 *	  stderr).
 *
 *	  Plain C, POSIX and pthreads: it runs without the server.
 *
 *-------------------------------------------------------------------------
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE				/* getdelim, asprintf */
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK_SIZE (64 * 1024)
#define CHUNK_SIZE (8 * 1024 * 1024)
#define MAX_JOBS 16

static const char *progname = "pgrepl_sync_blocks";

/* one file present on both sides, and how its chunks went */
typedef struct SyncFile
{
	char	   *source;
	char	   *target;
	int			chunks_left;	/* chunks not done yet */
	off_t		end;			/* how far the source was read: its length */
	int			changed;		/* some bytes of the target were written */
	int			vanished;		/* one side disappeared: left for rsync */
} SyncFile;

/* a piece of a file; length -1 reads on to the source's end */
typedef struct SyncChunk
{
	SyncFile   *file;
	off_t		offset;
	off_t		length;
} SyncChunk;

typedef struct SyncTotals
{
	long long	files;			/* files compared */
	long long	changed;		/* of which some bytes were written */
	long long	compared;		/* bytes read from the source */
	long long	written;		/* bytes written to the target */
} SyncTotals;

/* the work, shared by the threads */
static SyncChunk *chunks;
static size_t nchunks;
static size_t next_chunk;		/* the next chunk to take, under lock */
static SyncTotals totals;		/* under lock */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static pthread_mutex_t failing = PTHREAD_MUTEX_INITIALIZER;

/*
 * Report an error and end the process.  Any thread may fail: the first one
 * reports, and the process ends without running exit handlers under the
 * other threads' feet.
 */
static void
fail_with(const char *message)
{
	pthread_mutex_lock(&failing);
	fprintf(stderr, "%s: %s\n", progname, message);
	_exit(1);
}

static void
fail(const char *what, const char *path)
{
	char		message[4096];

	snprintf(message, sizeof(message), "%s \"%s\": %s", what, path, strerror(errno));
	fail_with(message);
}

static void
out_of_memory(void)
{
	fail_with("out of memory");
}

/* read up to len bytes at offset, retrying short reads; returns bytes read */
static ssize_t
read_at(int fd, char *buf, size_t len, off_t offset, const char *path)
{
	size_t		done = 0;

	while (done < len)
	{
		ssize_t		n = pread(fd, buf + done, len - done, offset + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("could not read", path);
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

static void
write_at(int fd, const char *buf, size_t len, off_t offset, const char *path)
{
	size_t		done = 0;

	while (done < len)
	{
		ssize_t		n = pwrite(fd, buf + done, len - done, offset + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("could not write", path);
		done += n;
	}
}

/* open path, or -1 when it does not exist (any more) */
static int
open_if_exists(const char *path, int flags)
{
	int			fd = open(path, flags);

	if (fd < 0 && errno != ENOENT)
		fail("could not open", path);
	return fd;
}

/*
 * open_target
 *		Open the target's copy for reading and writing, or -1 when it does
 *		not exist (any more).  A copy without its owner's write permission
 *		(a read-only key, say) gets it: its mode is set to the source's at
 *		the end anyway.
 */
static int
open_target(const char *path)
{
	int			fd = open(path, O_RDWR | O_NOFOLLOW);
	struct stat st;

	if (fd < 0 && errno == EACCES && lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		chmod(path, (st.st_mode & 07777) | S_IWUSR) == 0)
		fd = open(path, O_RDWR | O_NOFOLLOW);
	if (fd < 0 && errno != ENOENT)
		fail("could not open", path);
	return fd;
}

/*
 * finish_file
 *		After the file's last chunk: cut the target to the length the source
 *		was read to, and give it the source's mode and modification time.
 */
static void
finish_file(SyncFile *file)
{
	struct stat sst;
	struct stat tst;
	struct timespec times[2];
	int			tfd;

	if (file->vanished)
		return;

	/*
	 * The source's time as it is now, after the read: a file changed since
	 * was read either before the change or after it.  Relation files are
	 * put right by WAL replay either way; any other file's copy is the
	 * source as it was at some moment of the copy, as with rsync, and a
	 * later re-run compares contents, not times.  (The time from before
	 * the read would make rsync copy again, whole, every relation file the
	 * primary wrote to meanwhile.)
	 */
	if (stat(file->source, &sst) != 0)
	{
		if (errno == ENOENT)
			return;
		fail("could not stat", file->source);
	}
	tfd = open_target(file->target);
	if (tfd < 0)
		return;
	if (fstat(tfd, &tst) != 0)
		fail("could not stat", file->target);
	if (tst.st_size > file->end)
	{
		if (ftruncate(tfd, file->end) != 0)
			fail("could not truncate", file->target);
		file->changed = 1;
	}
	if (fchmod(tfd, sst.st_mode & 07777) != 0)
		fail("could not set the mode of", file->target);
	times[0] = sst.st_atim;
	times[1] = sst.st_mtim;
	if (futimens(tfd, times) != 0)
		fail("could not set the time of", file->target);
	if (close(tfd) != 0)
		fail("could not close", file->target);

	pthread_mutex_lock(&lock);
	totals.files++;
	totals.changed += file->changed;
	pthread_mutex_unlock(&lock);
}

/*
 * sync_chunk
 *		Make the chunk's bytes of the target those of the source; then, if
 *		it was its file's last chunk to end, finish the file.
 */
static void
sync_chunk(const SyncChunk *chunk, char *sbuf, char *tbuf)
{
	SyncFile   *file = chunk->file;
	off_t		offset = chunk->offset;
	off_t		stop = chunk->length < 0 ? -1 : chunk->offset + chunk->length;
	long long	compared = 0;
	long long	written = 0;
	int			vanished = 0;
	int			last;
	int			sfd;
	int			tfd = -1;

	sfd = open_if_exists(file->source, O_RDONLY | O_NOFOLLOW);
	if (sfd >= 0)
		tfd = open_target(file->target);
	if (sfd < 0 || tfd < 0)
		vanished = 1;

	while (!vanished && (stop < 0 || offset < stop))
	{
		size_t		want = BLOCK_SIZE;
		ssize_t		slen;
		ssize_t		tlen;

		if (stop >= 0 && stop - offset < (off_t) want)
			want = stop - offset;
		slen = read_at(sfd, sbuf, want, offset, file->source);
		if (slen == 0)
			break;
		tlen = read_at(tfd, tbuf, slen, offset, file->target);
		if (tlen != slen || memcmp(sbuf, tbuf, slen) != 0)
		{
			write_at(tfd, sbuf, slen, offset, file->target);
			written += slen;
		}
		compared += slen;
		offset += slen;
		if ((size_t) slen < want)
			break;
	}
	if (tfd >= 0 && close(tfd) != 0)
		fail("could not close", file->target);
	if (sfd >= 0)
		close(sfd);

	pthread_mutex_lock(&lock);
	/* a chunk that found nothing to read says nothing of the length */
	if (compared > 0 && offset > file->end)
		file->end = offset;
	file->changed |= (written > 0);
	file->vanished |= vanished;
	last = (--file->chunks_left == 0);
	totals.compared += compared;
	totals.written += written;
	pthread_mutex_unlock(&lock);

	if (last)
		finish_file(file);
}

/* a thread: take chunks until there are none left */
static void *
sync_thread(void *arg)
{
	char	   *sbuf = malloc(BLOCK_SIZE);
	char	   *tbuf = malloc(BLOCK_SIZE);

	(void) arg;
	if (sbuf == NULL || tbuf == NULL)
		out_of_memory();
	for (;;)
	{
		size_t		i;

		pthread_mutex_lock(&lock);
		i = next_chunk++;
		pthread_mutex_unlock(&lock);
		if (i >= nchunks)
			break;
		sync_chunk(&chunks[i], sbuf, tbuf);
	}
	free(sbuf);
	free(tbuf);
	return NULL;
}

/* whether path is a regular file (not a link to one); false when missing */
static int
regular_file(const char *path, struct stat *st)
{
	if (lstat(path, st) == 0)
		return S_ISREG(st->st_mode);
	if (errno != ENOENT)
		fail("could not stat", path);
	return 0;
}

/*
 * add_file
 *		List path's chunks if it is a regular file on both sides; other
 *		paths are rsync's.
 */
static void
add_file(const char *source_dir, const char *target_dir, const char *path)
{
	SyncFile   *file;
	struct stat sst;
	struct stat tst;
	off_t		n;
	static size_t capacity = 0;

	file = calloc(1, sizeof(SyncFile));
	if (file == NULL ||
		asprintf(&file->source, "%s/%s", source_dir, path) < 0 ||
		asprintf(&file->target, "%s/%s", target_dir, path) < 0)
		out_of_memory();
	if (!regular_file(file->source, &sst) || !regular_file(file->target, &tst))
	{
		free(file->source);
		free(file->target);
		free(file);
		return;
	}

	n = sst.st_size > 0 ? (sst.st_size + CHUNK_SIZE - 1) / CHUNK_SIZE : 1;
	file->chunks_left = (int) n;
	for (off_t i = 0; i < n; i++)
	{
		if (nchunks == capacity)
		{
			capacity = capacity ? 2 * capacity : 1024;
			chunks = realloc(chunks, capacity * sizeof(SyncChunk));
			if (chunks == NULL)
				out_of_memory();
		}
		chunks[nchunks].file = file;
		chunks[nchunks].offset = i * CHUNK_SIZE;
		chunks[nchunks].length = (i == n - 1) ? -1 : CHUNK_SIZE;
		nchunks++;
	}
}

/* whether a relative path has a ".." component */
static int
has_parent_component(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2)
	{
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return 1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "Usage: %s [-j JOBS] SOURCE_DIR TARGET_DIR < NUL-separated relative paths\n", progname);
	exit(2);
}

int
main(int argc, char **argv)
{
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	long		jobs = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t	threads[MAX_JOBS];
	int			opt;

	while ((opt = getopt(argc, argv, "j:")) != -1)
	{
		char	   *end;

		if (opt != 'j')
			usage();
		jobs = strtol(optarg, &end, 10);
		if (*end != '\0' || jobs < 1 || jobs > MAX_JOBS)
		{
			fprintf(stderr, "%s: -j wants a number of threads from 1 to %d\n", progname, MAX_JOBS);
			return 2;
		}
	}
	if (argc - optind != 2)
		usage();
	if (jobs < 1)
		jobs = 1;
	if (jobs > MAX_JOBS)
		jobs = MAX_JOBS;

	while ((len = getdelim(&line, &cap, '\0', stdin)) > 0)
	{
		if (line[len - 1] == '\0')
			len--;
		line[len] = '\0';
		if (len == 0 || line[0] == '/' || has_parent_component(line))
		{
			fprintf(stderr, "%s: not a relative path inside the directory: \"%s\"\n", progname, line);
			return 1;
		}
		add_file(argv[optind], argv[optind + 1], line);
	}
	free(line);

	for (long i = 0; i < jobs; i++)
	{
		errno = pthread_create(&threads[i], NULL, sync_thread, NULL);
		if (errno != 0)
			fail("could not start a thread for", argv[optind + 1]);
	}
	for (long i = 0; i < jobs; i++)
		pthread_join(threads[i], NULL);

	printf("%lld files compared, %lld changed; %lld MB read, %lld MB rewritten\n",
		   totals.files, totals.changed, totals.compared >> 20, totals.written >> 20);
	return 0;
}
