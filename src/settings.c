/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  Definition of every pgrepl_admin.* configuration parameter.
 *
 * Settings read only by the postmaster (the worker's database) are defined
 * only while the library is being preloaded: defining them later would
 * pretend they could take effect without a restart.  The prefix is reserved
 * so that a misspelt pgrepl_admin.* name is an error, not a silent
 * placeholder.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "ca_key.h"
#include "settings.h"

char	   *pgrepl_database = NULL;
int			pgrepl_lag_sample_interval = 10;
int			pgrepl_lag_history_retention = 7 * 24 * 60 * 60;
int			pgrepl_lag_warn_bytes = 16 * 1024;
int			pgrepl_lag_warn_time = 30 * 1000;
int			pgrepl_lag_stall_after = 60;
bool		pgrepl_cert_auto_renew = true;
int			pgrepl_cert_renew_before = 30 * 24 * 60 * 60;
int			pgrepl_cert_check_interval = 60 * 60;
char	   *pgrepl_ca_key_directory = NULL;
char	   *pgrepl_ca_key_directory_unused = NULL;

/* backups held by background workers */
int			pgrepl_max_backups = 4;
int			pgrepl_backup_timeout = 12 * 60 * 60;
int			pgrepl_backup_history_retention = 30 * 24 * 60 * 60;

/* standby provisioning */
int			pgrepl_hba_position = PGREPL_HBA_POSITION_TOP;
int			pgrepl_hba_check_interval = 60;
char	   *pgrepl_primary_host = NULL;

/* synchronous replication */
int			pgrepl_synchronous_fallback_after = 0;

static const struct config_enum_entry hba_position_options[] = {
	{"top", PGREPL_HBA_POSITION_TOP, false},
	{"bottom", PGREPL_HBA_POSITION_BOTTOM, false},
	{NULL, 0, false}
};

/*
 * pgrepl_define_settings
 *		Define all settings; called once from _PG_init.
 */
void
pgrepl_define_settings(void)
{
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("pgrepl_admin.database",
								   "Database the pgrepl_admin maintenance worker connects to, the only one where the extension can be installed.",
								   "The worker runs its tasks only once CREATE EXTENSION pgrepl_admin "
								   "has been run in this database.",
								   &pgrepl_database,
								   PGREPL_DEFAULT_DATABASE,
								   PGC_POSTMASTER,
								   0,
								   NULL, NULL, NULL);
	else
	{
		/*
		 * Loaded on demand, the library cannot define a postmaster-only
		 * setting, yet the value postgresql.conf gives it still names the
		 * one database where the extension belongs (home_database.c): read
		 * it from its placeholder before the prefix is reserved, which
		 * removes the placeholder.
		 */
		const char *configured = GetConfigOption("pgrepl_admin.database", true, false);

		pgrepl_database = MemoryContextStrdup(TopMemoryContext,
											  configured ? configured : PGREPL_DEFAULT_DATABASE);
	}

	DefineCustomIntVariable("pgrepl_admin.lag_sample_interval",
							"Interval between two samples of replication lag into pgrepl_admin.lag_history.",
							"Zero turns sampling off.",
							&pgrepl_lag_sample_interval,
							10,
							0, 24 * 60 * 60,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgrepl_admin.lag_history_retention",
							"How long rows of pgrepl_admin.lag_history are kept.",
							NULL,
							&pgrepl_lag_history_retention,
							7 * 24 * 60 * 60,
							60, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgrepl_admin.lag_warn_bytes",
							"Replay lag in bytes above which pgrepl_admin.replication_lag calls a standby lagging.",
							NULL,
							&pgrepl_lag_warn_bytes,
							16 * 1024,
							1, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgrepl_admin.lag_warn_time",
							"Replay lag in time above which pgrepl_admin.replication_lag calls a standby lagging.",
							NULL,
							&pgrepl_lag_warn_time,
							30 * 1000,
							1, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgrepl_admin.lag_stall_after",
							"How long a standby's replay position may stay unmoved, while the primary's WAL moves, before it is called stalled.",
							"Stalls are seen in the worker's lag samples, so this should be a few pgrepl_admin.lag_sample_interval long.",
							&pgrepl_lag_stall_after,
							60,
							1, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("pgrepl_admin.cert_auto_renew",
							 "Whether the maintenance worker renews the managed server certificate.",
							 "It renews it, with a new key, once less than pgrepl_admin.cert_renew_before "
							 "of its validity is left.",
							 &pgrepl_cert_auto_renew,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pgrepl_admin.cert_renew_before",
							"How long before its expiry the managed server certificate is renewed.",
							NULL,
							&pgrepl_cert_renew_before,
							30 * 24 * 60 * 60,
							60, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgrepl_admin.cert_check_interval",
							"Interval between two checks of the certificates' expiry by the maintenance worker.",
							NULL,
							&pgrepl_cert_check_interval,
							60 * 60,
							1, 24 * 60 * 60,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	/*
	 * Without preloading the setting cannot be defined (PGC_POSTMASTER);
	 * its placeholder, removed below, is remembered so that
	 * ca_key_directory() can refuse a value that is not in force.
	 */
	if (!process_shared_preload_libraries_in_progress)
	{
		const char *unused = GetConfigOption("pgrepl_admin.ca_key_directory", true, false);

		if (unused != NULL && unused[0] != '\0')
			pgrepl_ca_key_directory_unused = MemoryContextStrdup(TopMemoryContext, unused);
	}

	/* the boot value is computed once and kept for RESET */
	if (process_shared_preload_libraries_in_progress)
	{
		char	   *dir = ca_key_default_directory();

		DefineCustomStringVariable("pgrepl_admin.ca_key_directory",
								   "Directory outside the data directory where the CA's private key is kept.",
								   "By default a sibling of the data directory, pgrepl_admin_ca_<name of the data directory>. "
								   "Copies of the data directory (base backups, standbys) do not include it.",
								   &pgrepl_ca_key_directory,
								   dir ? MemoryContextStrdup(TopMemoryContext, dir) : "",
								   PGC_POSTMASTER,
								   GUC_SUPERUSER_ONLY,
								   ca_key_directory_check_hook, NULL, NULL);
	}

	/* backups held by background workers */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("pgrepl_admin.max_backups",
								"Maximum number of backups held by pgrepl_admin at the same time.",
								"Each takes a background worker slot (max_worker_processes) while it runs.",
								&pgrepl_max_backups,
								4,
								1, 64,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

	DefineCustomIntVariable("pgrepl_admin.backup_timeout",
							"Default time after which a backup started with pgrepl_admin.backup_start() is aborted.",
							"backup_start's timeout argument overrides it.",
							&pgrepl_backup_timeout,
							12 * 60 * 60,
							1, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgrepl_admin.backup_history_retention",
							"How long rows of pgrepl_admin.backup_history are kept after their backup ended.",
							NULL,
							&pgrepl_backup_history_retention,
							30 * 24 * 60 * 60,
							60, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	/* --- standby provisioning --- */

	DefineCustomEnumVariable("pgrepl_admin.hba_position",
							 "Where the pgrepl_admin managed block goes in pg_hba.conf.",
							 "top: before the first rule of the file, so that managed rules match first; "
							 "bottom: after every other line.",
							 &pgrepl_hba_position,
							 PGREPL_HBA_POSITION_TOP,
							 hba_position_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pgrepl_admin.hba_check_interval",
							"Interval between two checks of pg_hba.conf against pgrepl_admin.hba_rules by the maintenance worker.",
							"The worker rewrites the managed block when it differs. Zero turns the check off.",
							&pgrepl_hba_check_interval,
							60,
							0, 24 * 60 * 60,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomStringVariable("pgrepl_admin.primary_host",
							   "Host name or address of this server in the primary_conninfo that add_standby() returns.",
							   "Empty means the machine's host name.",
							   &pgrepl_primary_host,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	/* --- synchronous replication --- */

	DefineCustomIntVariable("pgrepl_admin.synchronous_fallback_after",
							"How long fewer synchronous standbys than the stored setting asks for may be connected before the maintenance worker lowers synchronous_standby_names to those that are.",
							"Zero (the default) turns the fallback off: commits then wait for missing synchronous standbys for as long as they are gone. "
							"The fallback trades durability for availability.",
							&pgrepl_synchronous_fallback_after,
							0,
							0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("pgrepl_admin");
}
