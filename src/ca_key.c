/*-------------------------------------------------------------------------
 *
 * ca_key.c
 *	  The CA's private key, kept outside the data directory.
 *
 * Everything under the data directory travels with pg_basebackup, with a
 * standby made by pgrepl_clone_standby and with any file-level backup, and
 * whoever holds the CA key can mint client certificates that the primary's
 * cert rules accept.  So the key lives in pgrepl_admin.ca_key_directory, a
 * directory outside the data directory (by default its sibling
 * "pgrepl_admin_ca_<name of the data directory>"), mode 0700, as
 * ca-<serial>.key, mode 0600.  The CA's certificate stays in
 * $PGDATA/pgrepl_admin/ca.pem and says which CA is current; its key is
 * found by the certificate's serial.  A new CA's key file is written before
 * ca.pem is switched to its certificate, and the key of the CA it replaced
 * is removed after, so a crash at any moment leaves the current CA with its
 * key.  Only keys of serials this cluster's store names are ever removed:
 * the directory may be shared by several clusters (a DBA's choice), and
 * their keys are theirs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"

#include "ca_key.h"
#include "durable_file.h"
#include "settings.h"

#define KEY_PREFIX "ca-"
#define KEY_SUFFIX ".key"
#define DEFAULT_PREFIX "pgrepl_admin_ca_"

/*
 * ca_key_default_directory
 *		The default of pgrepl_admin.ca_key_directory: a sibling of the data
 *		directory named after it, such as /var/lib/postgresql/15/
 *		pgrepl_admin_ca_main for Debian's /var/lib/postgresql/15/main.
 *		NULL when the data directory is not known yet.
 */
char *
ca_key_default_directory(void)
{
	char	   *parent;
	const char *base;

	if (DataDir == NULL)
		return NULL;
	parent = pstrdup(DataDir);
	get_parent_directory(parent);
	base = last_dir_separator(DataDir);
	base = base ? base + 1 : DataDir;
	return psprintf("%s/%s%s", parent, DEFAULT_PREFIX, base);
}

/*
 * ca_key_directory_check_hook
 *		An absolute path outside the data directory; empty means the
 *		default.
 */
bool
ca_key_directory_check_hook(char **newval, void **extra, GucSource source)
{
	char	   *path;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (!is_absolute_path(*newval))
	{
		GUC_check_errdetail("It must be an absolute path.");
		return false;
	}
	path = pstrdup(*newval);
	canonicalize_path(path);
	if (DataDir != NULL && path_is_prefix_of_path(DataDir, path))
	{
		GUC_check_errdetail("It must not be inside the data directory, which every base backup and standby copies.");
		pfree(path);
		return false;
	}
	pfree(path);
	return true;
}

/*
 * ca_key_directory
 *		The directory of the CA keys.  An error when it is inside the data
 *		directory through a symbolic link, which the setting's check cannot
 *		see, and when the configuration sets pgrepl_admin.ca_key_directory
 *		but the setting is not in force because pgrepl_admin is not
 *		preloaded: the key would go to, or be looked for in, another
 *		directory than the DBA chose.
 */
const char *
ca_key_directory(void)
{
	const char *dir = pgrepl_ca_key_directory;
	char	   *real_dir;
	char	   *real_data;
	bool		inside;

	if (pgrepl_ca_key_directory_unused != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgrepl_admin.ca_key_directory is set but not in force"),
				 errdetail("The configuration sets it to \"%s\", but it takes effect only when pgrepl_admin is in shared_preload_libraries; without it the CA key would be kept in the default directory instead.",
						   pgrepl_ca_key_directory_unused),
				 errhint("Add pgrepl_admin to shared_preload_libraries and restart the server, or remove the setting to use the default directory.")));
	if (dir == NULL || dir[0] == '\0')
		dir = ca_key_default_directory();
	if (dir == NULL)
		elog(ERROR, "the data directory is not known");
	real_dir = realpath(dir, NULL);
	real_data = realpath(DataDir, NULL);
	inside = real_dir != NULL && real_data != NULL && path_is_prefix_of_path(real_data, real_dir);
	free(real_dir);
	free(real_data);
	if (inside)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgrepl_admin.ca_key_directory \"%s\" is inside the data directory", dir),
				 errdetail("Every base backup and standby would copy the CA private key."),
				 errhint("Set pgrepl_admin.ca_key_directory to a directory outside the data directory.")));
	return dir;
}

/* The path of the key of the CA with this serial. */
char *
ca_key_path(const char *serial)
{
	return psprintf("%s/%s%s%s", ca_key_directory(), KEY_PREFIX, serial, KEY_SUFFIX);
}

/*
 * ca_key_read
 *		The stored key of the CA with this serial, as the file holds it;
 *		NULL when this server has none.  A key file that others may read is
 *		refused, as the server refuses such an ssl_key_file.
 */
char *
ca_key_read(const char *serial)
{
	char	   *path = ca_key_path(serial);
	struct stat st;

	if (stat(path, &st) != 0)
	{
		if (errno == ENOENT || errno == ENOTDIR)
			return NULL;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the CA key file \"%s\" has group or world access", path),
				 errhint("Make it readable by the server's user alone: chmod 0600.")));
	return durable_file_read(path, NULL, true);
}

/*
 * ca_key_write
 *		Store the key of the CA with this serial, durably, creating the
 *		directory (0700) if needed.  A directory that others may enter is
 *		refused.
 */
void
ca_key_write(const char *serial, const char *key_pem)
{
	const char *dir = ca_key_directory();
	struct stat st;

	durable_file_make_private_dir(dir);
	if (stat(dir, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat directory \"%s\": %m", dir)));
	if (st.st_uid != geteuid() || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the CA key directory \"%s\" must belong to the server's user and be accessible by it alone", dir),
				 errhint("Give it to the server's user with mode 0700, or set pgrepl_admin.ca_key_directory to another directory.")));
	durable_file_write(ca_key_path(serial), key_pem, strlen(key_pem), S_IRUSR | S_IWUSR);
}

/*
 * ca_key_remove
 *		Remove the stored key of the CA with this serial, if this server has
 *		it.  The caller names a serial of this cluster's own store (a CA it
 *		replaced): the directory may be shared with other clusters, or be
 *		one the DBA keeps other files in, so nothing is removed by pattern.
 */
void
ca_key_remove(const char *serial)
{
	durable_file_remove(ca_key_path(serial));
}
