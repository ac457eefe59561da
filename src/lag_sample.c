/*-------------------------------------------------------------------------
 *
 * lag_sample.c
 *	  Periodic sampling of replication lag into pgrepl_admin.lag_history,
 *	  and pruning of samples older than pgrepl_admin.lag_history_retention.
 *
 * A sample is the rows of pgrepl_admin.replication_lag (connected
 * standbys, registered ones that are not connected, orphaned slots) with
 * the primary's and the standby's positions, which the view's stall
 * detection reads back.  Comparing each standby's new status with its
 * previous sample, the task logs one WARNING when a standby becomes
 * lagging, stalled or disconnected and one LOG when it recovers, and
 * nothing while a state holds.  A standby registered before it was cloned
 * that has never streamed gets one LOG that it has not connected yet, no
 * WARNING, and when it connects for the first time it is not said to be
 * back "again".
 * Samples older than
 * pgrepl_admin.lag_history_retention are pruned once a minute.  It writes,
 * so it runs on a primary only.
 * SQL is the clearest way to say it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"

#include "utils/timestamp.h"

#include "lag_sample.h"
#include "settings.h"

/* old samples are pruned at most this often */
#define PRUNE_INTERVAL_MS (60 * 1000)

static const char *const insert_sample_sql =
"WITH ins AS ("
"  INSERT INTO pgrepl_admin.lag_history "
"    (sampled_at, standby_name, client_addr, state, sync_state, "
"     sent_lag_bytes, write_lag_bytes, flush_lag_bytes, replay_lag_bytes, "
"     write_lag, flush_lag, replay_lag, slot_name, slot_retained_bytes, "
"     status, wal_lsn, replay_lsn) "
"  SELECT pg_catalog.now(), standby_name, client_addr, state, sync_state, "
"         sent_lag_bytes, write_lag_bytes, flush_lag_bytes, replay_lag_bytes, "
"         write_lag, flush_lag, replay_lag, slot_name, slot_retained_bytes, "
"         status, pgrepl_admin.wal_position(), replay_lsn "
"  FROM pgrepl_admin.replication_lag "
"  RETURNING standby_name, status, replay_lag_bytes, replay_lag::text) "
"SELECT i.standby_name, i.status, p.status, i.replay_lag_bytes::text, i.replay_lag, "
"       CASE WHEN (p.status IS NOT DISTINCT FROM 'disconnected') <> (i.status = 'disconnected') "
"            THEN EXISTS (SELECT FROM pgrepl_admin.lag_history h "
"                         WHERE h.standby_name = i.standby_name AND h.status <> 'disconnected') "
"       END "
"FROM ins i "
"LEFT JOIN LATERAL (SELECT h.status FROM pgrepl_admin.lag_history h "
"                   WHERE h.standby_name = i.standby_name "
"                   ORDER BY h.sampled_at DESC LIMIT 1) p ON true "
"WHERE i.standby_name IS NOT NULL";

static const char *const prune_sql =
"DELETE FROM pgrepl_admin.lag_history "
"WHERE sampled_at < pg_catalog.now() - pg_catalog.make_interval(secs => $1)";

static int
lag_sample_interval(void)
{
	return pgrepl_lag_sample_interval;
}

static bool
is_problem(const char *status)
{
	return status != NULL &&
		(strcmp(status, "lagging") == 0 || strcmp(status, "stalled") == 0 ||
		 strcmp(status, "disconnected") == 0);
}

/*
 * log_transitions
 *		One line per standby whose status changed into or out of a problem
 *		state since its previous sample.  Columns: standby_name, status,
 *		previous status, replay lag in bytes and in time, and for one that
 *		becomes or stops being disconnected whether an earlier sample (the
 *		statement's snapshot does not see the new ones) saw it connected.
 *
 * A registered standby that has never streamed (add_standby() comes before
 * the clone) is disconnected from its first sample on: that is expected,
 * and gets one LOG saying it has not connected yet, not a WARNING.  Once a
 * sample has seen it connected, losing it is a WARNING as for any other.
 */
static void
log_transitions(void)
{
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tuple, desc, 1);
		char	   *status = SPI_getvalue(tuple, desc, 2);
		char	   *previous = SPI_getvalue(tuple, desc, 3);
		char	   *bytes = SPI_getvalue(tuple, desc, 4);
		char	   *delay = SPI_getvalue(tuple, desc, 5);
		char	   *seen_before = SPI_getvalue(tuple, desc, 6);

		if (previous != NULL && strcmp(status, previous) == 0)
			continue;
		if (strcmp(status, "disconnected") == 0 && seen_before != NULL &&
			strcmp(seen_before, "f") == 0)
			ereport(LOG,
					(errmsg("standby \"%s\" has not connected yet", name),
					 errdetail("No sample kept in pgrepl_admin.lag_history saw it connected; it is warned about once it has streamed and is lost.")));
		else if (is_problem(status))
			ereport(WARNING,
					(errmsg("standby \"%s\" is %s", name, status),
					 previous ? errdetail("It was %s; replay lag %s bytes, %s.", previous,
										  bytes ? bytes : "unknown", delay ? delay : "unknown") : 0,
					 errhint("See pgrepl_admin.replication_lag.")));
		else if (seen_before != NULL && strcmp(seen_before, "f") == 0)
			ereport(LOG,
					(errmsg("standby \"%s\" is %s, no longer %s", name, status, previous),
					 errdetail("No sample kept in pgrepl_admin.lag_history saw it connected before.")));
		else if (is_problem(previous))
			ereport(LOG,
					(errmsg("standby \"%s\" is %s again, no longer %s", name, status, previous)));
	}
}

/*
 * keep_plan
 *		Prepare a statement once per worker process and keep its plan: the
 *		sample runs every few seconds for the life of the worker.
 */
static SPIPlanPtr
keep_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, argtypes);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*plan = p;
	}
	return *plan;
}

/*
 * lag_sample_run
 *		Insert one sample of replication_lag and log status changes; prune
 *		old samples once a minute, and at once when the retention changed.
 */
static void
lag_sample_run(void)
{
	static SPIPlanPtr insert_plan = NULL;
	static SPIPlanPtr prune_plan = NULL;
	static TimestampTz last_prune = 0;
	static int	pruned_with_retention = -1;
	Oid			argtypes[1] = {FLOAT8OID};
	Datum		args[1] = {Float8GetDatum((double) pgrepl_lag_history_retention)};
	TimestampTz now = GetCurrentTimestamp();
	int			rc;

	rc = SPI_execute_plan(keep_plan(&insert_plan, insert_sample_sql, 0, NULL), NULL, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "inserting a lag sample failed: %s", SPI_result_code_string(rc));
	log_transitions();

	if (TimestampDifferenceExceeds(last_prune, now, PRUNE_INTERVAL_MS) ||
		pruned_with_retention != pgrepl_lag_history_retention)
	{
		rc = SPI_execute_plan(keep_plan(&prune_plan, prune_sql, 1, argtypes), args, NULL, false, 0);
		if (rc != SPI_OK_DELETE)
			elog(ERROR, "pruning lag_history failed: %s", SPI_result_code_string(rc));
		last_prune = now;
		pruned_with_retention = pgrepl_lag_history_retention;
	}
}

const MaintenanceTask lag_sample_task = {
	.name = "lag_sample",
	.description = "Samples pgrepl_admin.replication_lag into pgrepl_admin.lag_history, logs status changes and prunes old samples.",
	.runs_in_recovery = false,
	.interval_seconds = lag_sample_interval,
	.run = lag_sample_run,
};
