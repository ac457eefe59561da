/*-------------------------------------------------------------------------
 *
 * sync_pending.c
 *	  The sync_pending maintenance task: a standby that add_standby(
 *	  synchronous => true) could not name at once, because it did not
 *	  stream yet, becomes a synchronous standby when it first streams.
 *
 * Naming a standby that does not stream would make every commit wait for
 * it, by surprise, until it streams, and for ever if it never comes (the
 * runbook's add_standby('db4', ..., synchronous => true) before the clone).
 * add_standby() therefore defers it: its name goes into
 * synchronous_setting.pending, its result row says "deferred", and nothing
 * is written.  Every second this task, on a primary, looks for a pending
 * name that streams now (pg_stat_replication, state streaming, its
 * application_name) and names it through sync_setting_standby_added(), the
 * very path of add_standby(): in the worker's transaction, under the
 * setting's lock, written at commit and reloaded, and logged.
 * set_synchronous() forgets every pending name (the DBA chose anew), and
 * remove_standby() its own; the names are read again under the setting's
 * lock, so that one forgotten by a set_synchronous() that committed after
 * the first read is not named.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/varlena.h"

#include "spi_query.h"
#include "sync_pending.h"
#include "sync_setting.h"

static int
sync_pending_interval(void)
{
	return 1;
}

/*
 * sync_pending_run
 *		Name every pending standby that streams now.
 */
static void
sync_pending_run(void)
{
	char	  **row = pgrepl_query_row("SELECT pg_catalog.string_agg(p, ',') "
									   "FROM pgrepl_admin.synchronous_setting s, pg_catalog.unnest(s.pending) p "
									   "WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_stat_replication r "
									   "              WHERE pg_catalog.lower(r.application_name) OPERATOR(pg_catalog.=) pg_catalog.lower(p) "
									   "                AND r.state OPERATOR(pg_catalog.=) 'streaming')",
									   0, NULL);
	List	   *names = NIL;
	ListCell   *lc;

	if (row == NULL || row[0] == NULL)
		return;
	if (!SplitIdentifierString(pstrdup(row[0]), ',', &names))
		elog(ERROR, "unexpected standby list \"%s\"", row[0]);
	/*
	 * The names were read without the setting's lock: a set_synchronous()
	 * that committed since forgot them (the DBA chose anew).  Under the
	 * lock, with a snapshot taken after it, only a name still pending is
	 * named.
	 */
	sync_setting_lock();
	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		const char *done;
		char	  **value;

		if (pgrepl_query_row("SELECT 1 FROM pgrepl_admin.synchronous_setting "
							 "WHERE $1 OPERATOR(pg_catalog.=) ANY (pending)",
							 1, &name) == NULL)
			continue;
		done = sync_setting_standby_added(name, true);
		value = pgrepl_query_row("SELECT value FROM pgrepl_admin.synchronous_setting", 0, NULL);

		if (strcmp(done, "deferred") != 0)
			ereport(LOG,
					(errmsg("pgrepl_admin: standby \"%s\" streams: it is now a synchronous standby", name),
					 errdetail("add_standby(synchronous => true) deferred it until it streamed; synchronous_standby_names is now '%s'.",
							   value ? value[0] : "")));
	}
}

const MaintenanceTask sync_pending_task = {
	.name = "sync_pending",
	.description = "Makes a standby that add_standby(synchronous => true) deferred a synchronous standby when it first streams.",
	.runs_in_recovery = false,
	.interval_seconds = sync_pending_interval,
	.run = sync_pending_run,
};
