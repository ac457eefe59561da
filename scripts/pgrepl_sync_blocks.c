/*-------------------------------------------------------------------------
 *
 * pgrepl_sync_blocks.c
 *	  Bring files of a stale copy of a data directory up to date with their
 *	  source by comparing contents, rewriting only the differing blocks in
 *	  place.  pgrepl_clone_standby uses it on a local source for the
 *	  relation files (base/, global/), where rsync's checksum pass and its
 *	  delta transfer would each read both sides again.
 *
 *	  Usage: pgrepl_sync_blocks SOURCE_DIR TARGET_DIR < paths
 *
 *	  paths are NUL-separated, relative to both directories.  For each one
 *	  that exists in both as a regular file, the target is compared with
 *	  the source in 64 kB blocks read side by side; a block that differs is
 *	  written over, the source's tail past the target's end is appended,
 *	  a longer target is truncated, and the target takes the source's mode
 *	  and modification time, so that rsync's size-and-time check afterwards
 *	  passes it by.  Other paths are left for rsync.  The copy is taken in
 *	  backup mode: a block the primary changes while it is read is put
 *	  right by WAL replay, as with any base backup.  Prints one summary line.
 *	  Exit status 0, or 1 after an error (named on stderr).
 *
 *	  Plain C and POSIX: it runs without the server.
 *
 *-------------------------------------------------------------------------
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE				/* getdelim, asprintf */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK_SIZE (64 * 1024)

static const char *progname = "pgrepl_sync_blocks";

typedef struct SyncTotals
{
	long long	files;			/* files compared */
	long long	changed;		/* of which some bytes were written */
	long long	compared;		/* bytes read from the source */
	long long	written;		/* bytes written to the target */
} SyncTotals;

static void
fail(const char *what, const char *path)
{
	fprintf(stderr, "%s: %s \"%s\": %s\n", progname, what, path, strerror(errno));
	exit(1);
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

/*
 * sync_file
 *		Make target's contents, mode and mtime those of source.  A source
 *		that vanished (a dropped relation) is left for rsync's --delete.
 */
static void
sync_file(const char *source, const char *target, char *sbuf, char *tbuf, SyncTotals *totals)
{
	int			sfd;
	int			tfd;
	struct stat sst;
	struct timespec times[2];
	off_t		offset = 0;
	int			changed = 0;

	sfd = open(source, O_RDONLY);
	if (sfd < 0 && errno == ENOENT)
		return;
	if (sfd < 0)
		fail("could not open", source);
	tfd = open(target, O_RDWR);
	if (tfd < 0 && errno == ENOENT)
	{
		close(sfd);
		return;
	}
	if (tfd < 0)
		fail("could not open", target);

	for (;;)
	{
		ssize_t		slen = read_at(sfd, sbuf, BLOCK_SIZE, offset, source);
		ssize_t		tlen;

		if (slen == 0)
			break;
		tlen = read_at(tfd, tbuf, slen, offset, target);
		if (tlen != slen || memcmp(sbuf, tbuf, slen) != 0)
		{
			write_at(tfd, sbuf, slen, offset, target);
			totals->written += slen;
			changed = 1;
		}
		totals->compared += slen;
		offset += slen;
		if (slen < BLOCK_SIZE)
			break;
	}

	/* the source as read to its end: that is the target's length */
	if (fstat(sfd, &sst) != 0)
		fail("could not stat", source);
	{
		struct stat tst;

		if (fstat(tfd, &tst) != 0)
			fail("could not stat", target);
		if (tst.st_size > offset)
		{
			if (ftruncate(tfd, offset) != 0)
				fail("could not truncate", target);
			changed = 1;
		}
	}
	if (fchmod(tfd, sst.st_mode & 07777) != 0)
		fail("could not set the mode of", target);
	times[0] = sst.st_atim;
	times[1] = sst.st_mtim;
	if (futimens(tfd, times) != 0)
		fail("could not set the time of", target);
	if (close(tfd) != 0)
		fail("could not close", target);
	close(sfd);
	totals->files++;
	totals->changed += changed;
}

int
main(int argc, char **argv)
{
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	char	   *sbuf;
	char	   *tbuf;
	SyncTotals	totals = {0};

	if (argc != 3)
	{
		fprintf(stderr, "Usage: %s SOURCE_DIR TARGET_DIR < NUL-separated relative paths\n", progname);
		return 2;
	}
	sbuf = malloc(BLOCK_SIZE);
	tbuf = malloc(BLOCK_SIZE);
	if (sbuf == NULL || tbuf == NULL)
	{
		fprintf(stderr, "%s: out of memory\n", progname);
		return 1;
	}

	while ((len = getdelim(&line, &cap, '\0', stdin)) > 0)
	{
		char	   *source;
		char	   *target;

		if (line[len - 1] == '\0')
			len--;
		line[len] = '\0';
		if (len == 0 || line[0] == '/' || strstr(line, "..") != NULL)
		{
			fprintf(stderr, "%s: not a relative path inside the directory: \"%s\"\n", progname, line);
			return 1;
		}
		if (asprintf(&source, "%s/%s", argv[1], line) < 0 ||
			asprintf(&target, "%s/%s", argv[2], line) < 0)
		{
			fprintf(stderr, "%s: out of memory\n", progname);
			return 1;
		}
		sync_file(source, target, sbuf, tbuf, &totals);
		free(source);
		free(target);
	}

	printf("%lld files compared, %lld changed; %lld MB read, %lld MB rewritten\n",
		   totals.files, totals.changed, totals.compared >> 20, totals.written >> 20);
	free(line);
	free(sbuf);
	free(tbuf);
	return 0;
}
