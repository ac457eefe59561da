/*-------------------------------------------------------------------------
 *
 * lag_sample.c
 *	  Periodic sampling of replication lag into pgrepl_admin.lag_history,
 *	  and pruning of samples older than pgrepl_admin.lag_history_retention.
 *
 * The sample is one row per connected walsender: how many bytes each of
 * the standby's sent, written, flushed and replayed positions is behind
 * pg_current_wal_lsn(), the server's time lags (zero, not NULL, once the
 * standby has replayed everything) and the WAL its slot retains.  It
 * writes, and pg_current_wal_lsn() cannot be called during recovery, so the
 * task runs on a primary only.  SQL is the clearest way to say it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"

#include "lag_sample.h"
#include "settings.h"

static const char *const insert_sample_sql =
"WITH here AS (SELECT pg_catalog.pg_current_wal_lsn() AS lsn) "
"INSERT INTO pgrepl_admin.lag_history "
"  (sampled_at, standby_name, client_addr, state, sync_state, "
"   sent_lag_bytes, write_lag_bytes, flush_lag_bytes, replay_lag_bytes, "
"   write_lag, flush_lag, replay_lag, slot_name, slot_retained_bytes) "
"SELECT pg_catalog.now(), r.application_name, r.client_addr, r.state, r.sync_state, "
"       pg_catalog.pg_wal_lsn_diff(here.lsn, r.sent_lsn), "
"       pg_catalog.pg_wal_lsn_diff(here.lsn, r.write_lsn), "
"       pg_catalog.pg_wal_lsn_diff(here.lsn, r.flush_lsn), "
"       pg_catalog.pg_wal_lsn_diff(here.lsn, r.replay_lsn), "
"       COALESCE(r.write_lag, CASE WHEN r.write_lsn >= here.lsn THEN interval '0' END), "
"       COALESCE(r.flush_lag, CASE WHEN r.flush_lsn >= here.lsn THEN interval '0' END), "
"       COALESCE(r.replay_lag, CASE WHEN r.replay_lsn >= here.lsn THEN interval '0' END), "
"       s.slot_name, pg_catalog.pg_wal_lsn_diff(here.lsn, s.restart_lsn) "
"FROM pg_catalog.pg_stat_replication r CROSS JOIN here "
"LEFT JOIN pg_catalog.pg_replication_slots s ON s.active_pid = r.pid";

static const char *const prune_sql =
"DELETE FROM pgrepl_admin.lag_history "
"WHERE sampled_at < pg_catalog.now() - pg_catalog.make_interval(secs => $1)";

static int
lag_sample_interval(void)
{
	return pgrepl_lag_sample_interval;
}

/*
 * lag_sample_run
 *		Insert one sample per connected standby and prune old samples.
 */
static void
lag_sample_run(void)
{
	Oid			argtypes[1] = {FLOAT8OID};
	Datum		args[1] = {Float8GetDatum((double) pgrepl_lag_history_retention)};
	int			rc;

	rc = SPI_execute(insert_sample_sql, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "inserting a lag sample failed: %s", SPI_result_code_string(rc));

	rc = SPI_execute_with_args(prune_sql, 1, argtypes, args, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "pruning lag_history failed: %s", SPI_result_code_string(rc));
}

const MaintenanceTask lag_sample_task = {
	.name = "lag_sample",
	.description = "Samples replication lag into pgrepl_admin.lag_history and prunes old samples.",
	.runs_in_recovery = false,
	.interval_seconds = lag_sample_interval,
	.run = lag_sample_run,
};
