/*-------------------------------------------------------------------------
 *
 * hba_sync.c
 *	  The hba_sync maintenance task: repairs drift between pg_hba.conf and
 *	  pgrepl_admin.hba_rules.
 *
 * Every pgrepl_admin.hba_check_interval it renders the file from the table
 * exactly as a committing transaction does (hba_file_sync_now) and, when
 * the live file differs (someone edited inside the managed block, an old
 * file was restored, the server crashed between a commit and its rename),
 * installs the checked result, reloads and logs what it changed.  It runs
 * on a standby too: there it renders the table replicated from the
 * primary into the standby's own pg_hba.conf, so that a promoted standby
 * already admits the other standbys.  Reading the table is allowed in
 * recovery, and the file is not part of the database.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "hba_file.h"
#include "hba_sync.h"
#include "settings.h"

static int
hba_sync_interval(void)
{
	return pgrepl_hba_check_interval;
}

static void
hba_sync_run(void)
{
	(void) hba_file_sync_now();
}

const MaintenanceTask hba_sync_task = {
	.name = "hba_sync",
	.description = "Rewrites the managed block of pg_hba.conf when it differs from pgrepl_admin.hba_rules, on a primary and on a standby.",
	.runs_in_recovery = true,
	.interval_seconds = hba_sync_interval,
	.run = hba_sync_run,
};
