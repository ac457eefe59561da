/*-------------------------------------------------------------------------
 *
 * home_database.c
 *	  The one database where pgrepl_admin lives: pgrepl_admin.database.
 *
 * pg_hba.conf, the certificates under $PGDATA/pgrepl_admin and the backups
 * belong to the server, while pgrepl_admin.hba_rules, its lock and the
 * backup history belong to one database.  Two installs would be two
 * writers sharing no lock, each rendering pg_hba.conf from its own table
 * (the worker's hba_sync would remove the other's rules, a reject rule
 * among them).  So there is one install, in pgrepl_admin.database, as
 * pg_cron has one in cron.database_name: the install script refuses any
 * other database, and every function that writes server-wide state
 * refuses to run elsewhere, which covers an install that an older version
 * let into a second database (the hint says to drop it).
 *
 * Without preloading, the setting is not defined, but its value from
 * postgresql.conf (or the default, postgres) still decides (settings.c):
 * the worker will use the same database once the library is preloaded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"

#include "compat.h"
#include "home_database.h"
#include "settings.h"

PG_FUNCTION_INFO_V1(require_home_database);

#define HOME_DATABASE_DETAIL \
	"pg_hba.conf, the certificates and the backups are managed for the whole server from the database named by pgrepl_admin.database."

/* Whether this session is connected to pgrepl_admin.database. */
static bool
in_home_database(void)
{
	char	   *here = get_database_name(MyDatabaseId);

	return here != NULL && strcmp(here, pgrepl_database) == 0;
}

/*
 * pgrepl_require_home_database
 *		Raise an error unless this is pgrepl_admin.database: called by the
 *		functions that write pg_hba.conf, the certificates, the backups or
 *		replication roles.
 */
void
pgrepl_require_home_database(void)
{
	if (!in_home_database())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgrepl_admin can only be used in database \"%s\"", pgrepl_database),
				 errdetail(HOME_DATABASE_DETAIL),
				 errhint("Drop the extension in this database with DROP EXTENSION pgrepl_admin, and administer replication from database \"%s\".",
						 pgrepl_database)));
}

/*
 * require_home_database()
 *		Called by the install script (and dropped by it): CREATE EXTENSION
 *		outside pgrepl_admin.database is refused.
 */
Datum
require_home_database(PG_FUNCTION_ARGS)
{
	if (!in_home_database())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgrepl_admin can only be installed in database \"%s\"", pgrepl_database),
				 errdetail(HOME_DATABASE_DETAIL),
				 errhint("Create it in database \"%s\"; to use this database instead, set pgrepl_admin.database = '%s' in postgresql.conf and restart the server.",
						 pgrepl_database, get_database_name(MyDatabaseId))));
	PG_RETURN_VOID();
}
