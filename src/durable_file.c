/*-------------------------------------------------------------------------
 *
 * durable_file.c
 *	  Atomic, durable file writes: a crash at any moment leaves either the
 *	  old file or the new one, whole.
 *
 * A write goes to "<path>.tmp" in the same directory, created with the
 * final mode (so a key is never readable by others, not even briefly), is
 * checked and fsync'd, then durable_rename() puts it in place and fsyncs
 * the directory.  A temporary file left by a crash is simply replaced by
 * the next write.
 *
 * A file can also be staged (durable_file_stage: written without fsync)
 * and put in place later by durable_rename(), which fsyncs it first; the
 * managed pg_hba.conf is written that way, checked, then renamed at
 * commit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_perm.h"
#include "storage/fd.h"

#include "durable_file.h"

/*
 * make_dir
 *		Create a directory if it does not exist, with the data directory's
 *		mode or, when private, 0700; make its creation durable.
 */
static void
make_dir(const char *path, bool private)
{
	struct stat st;
	int			rc;

	if (stat(path, &st) == 0)
	{
		if (!S_ISDIR(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("\"%s\" exists but is not a directory", path)));
		return;
	}
	rc = private ? mkdir(path, S_IRWXU) : MakePGDirectory(path);
	if (rc != 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", path)));
	fsync_fname(path, true);
	{
		char	   *parent = pstrdup(path);
		char	   *slash = strrchr(parent, '/');

		if (slash != NULL)
		{
			*slash = '\0';
			fsync_fname(slash == parent ? "/" : parent, true);
		}
		pfree(parent);
	}
}

/*
 * durable_file_make_dir
 *		Create a directory with the data directory's mode if it does not
 *		exist, and make its creation durable.
 */
void
durable_file_make_dir(const char *path)
{
	make_dir(path, false);
}

/*
 * durable_file_make_private_dir
 *		The same with mode 0700, whatever the data directory's mode (a
 *		directory for secrets outside the data directory).
 */
void
durable_file_make_private_dir(const char *path)
{
	make_dir(path, true);
}

/*
 * write_new_file
 *		Create path (replacing a leftover) with the given mode and write len
 *		bytes of data to it; fsync it when sync.  Removes it on failure.
 */
static void
write_new_file(const char *path, const char *data, size_t len, mode_t mode, bool sync)
{
	int			fd;
	size_t		done = 0;

	if (unlink(path) != 0 && errno != ENOENT)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not remove file \"%s\": %m", path)));

	fd = OpenTransientFilePerm(path, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY, mode);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", path)));

	while (done < len)
	{
		ssize_t		n = write(fd, data + done, len - done);

		if (n <= 0)
		{
			int			save_errno = errno;

			CloseTransientFile(fd);
			unlink(path);
			errno = (n == 0) ? ENOSPC : save_errno;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write file \"%s\": %m", path)));
		}
		done += n;
	}
	if (sync && pg_fsync(fd) != 0)
	{
		int			save_errno = errno;

		CloseTransientFile(fd);
		unlink(path);
		errno = save_errno;
		ereport(data_sync_elevel(ERROR),
				(errcode_for_file_access(),
				 errmsg("could not fsync file \"%s\": %m", path)));
	}
	if (CloseTransientFile(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", path)));
}

/*
 * durable_file_write
 *		Replace path with len bytes of data, atomically and durably.  The
 *		file has the given mode from its creation on; when it cannot be put
 *		in place, the temporary file is removed.
 */
void
durable_file_write(const char *path, const char *data, size_t len, mode_t mode)
{
	char		tmp[MAXPGPATH];

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	write_new_file(tmp, data, len, mode, true);
	PG_TRY();
	{
		(void) durable_rename(tmp, path, ERROR);
	}
	PG_CATCH();
	{
		/* not left behind: it may hold a private key */
		(void) unlink(tmp);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * durable_file_stage
 *		Write a file that is to be put in place later with
 *		durable_rename(), which fsyncs it before the rename: it is not
 *		fsync'd here (a crash leaves at worst a stray staged file).
 */
void
durable_file_stage(const char *path, const char *data, size_t len, mode_t mode)
{
	write_new_file(path, data, len, mode, false);
}

/*
 * durable_file_read
 *		The whole content of path, NUL-terminated, in the current memory
 *		context; NULL when the file does not exist and missing_ok.
 */
char *
durable_file_read(const char *path, size_t *len, bool missing_ok)
{
	int			fd;
	struct stat st;
	char	   *buf;
	size_t		done = 0;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno == ENOENT && missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	}
	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	if (st.st_size > 10 * 1024 * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("file \"%s\" is too large", path)));

	buf = palloc(st.st_size + 1);
	while (done < (size_t) st.st_size)
	{
		ssize_t		n = read(fd, buf + done, st.st_size - done);

		if (n < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", path)));
		if (n == 0)
			break;
		done += n;
	}
	CloseTransientFile(fd);
	buf[done] = '\0';
	if (len)
		*len = done;
	return buf;
}

/*
 * durable_file_remove
 *		Remove path (if it exists) and make the removal durable.
 */
void
durable_file_remove(const char *path)
{
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return;
	(void) durable_unlink(path, ERROR);
}

/*
 * durable_file_list
 *		The paths ("dir/name") of the files in dir whose names are prefix +
 *		something + suffix, in no particular order; NIL when dir does not
 *		exist.
 */
List *
durable_file_list(const char *dir, const char *prefix, const char *suffix)
{
	size_t		p = strlen(prefix);
	size_t		s = strlen(suffix);
	List	   *paths = NIL;
	DIR		   *d;
	struct dirent *de;

	d = AllocateDir(dir);
	if (d == NULL && errno == ENOENT)
		return NIL;
	while ((de = ReadDir(d, dir)) != NULL)
	{
		size_t		n = strlen(de->d_name);

		if (n > p + s && strncmp(de->d_name, prefix, p) == 0 &&
			strcmp(de->d_name + n - s, suffix) == 0)
			paths = lappend(paths, psprintf("%s/%s", dir, de->d_name));
	}
	FreeDir(d);
	return paths;
}
