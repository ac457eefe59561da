/*-------------------------------------------------------------------------
 *
 * backup_history.c
 *	  Rows of pgrepl_admin.backup_history, and their pruning.
 *
 * A backup worker writes its backup's row itself, in the database the
 * backup was started from: before it starts the backup (state starting;
 * the start's checkpoint flushes it), once the backup runs (running, with
 * its start LSN), and again when it ends (stopped with its labelfile and
 * spcmapfile, aborted or failed with the reason).  A row left unfinished
 * because the worker could not write it any more (a crash, a restart) is
 * shown as failed by the backups view and pruned like the others.
 *
 * The backup_history_prune task deletes rows whose backup ended more than
 * pgrepl_admin.backup_history_retention ago, in the maintenance worker's
 * database.  It writes, so it runs on a primary only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"

#include "backup_history.h"
#include "settings.h"

#define PRUNE_INTERVAL_SECONDS (60 * 60)
#define SAVE_NARGS 11

static const char *const insert_sql =
"INSERT INTO pgrepl_admin.backup_history "
"  (label, state, worker_pid, start_lsn, started_at, expires_at, "
"   stop_lsn, stopped_at, error, labelfile, spcmapfile) "
"VALUES ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id";

static const char *const update_sql =
"UPDATE pgrepl_admin.backup_history "
"SET label = $2, state = $3, worker_pid = $4, start_lsn = $5, started_at = $6, "
"    expires_at = $7, stop_lsn = $8, stopped_at = $9, error = $10, "
"    labelfile = $11, spcmapfile = $12 "
"WHERE id = $1 RETURNING id";

static const char *const prune_sql =
"DELETE FROM pgrepl_admin.backup_history h "
"WHERE COALESCE(h.stopped_at, h.started_at) < pg_catalog.now() - pg_catalog.make_interval(secs => $1) "
"  AND NOT EXISTS (SELECT FROM pgrepl_admin.backup_slots() s "
"                  WHERE s.history_id = h.id AND s.state IN ('starting', 'running', 'stopping'))";

/* Set parameter i to a text, or NULL. */
static void
text_arg(Datum *values, char *nulls, int i, const char *text)
{
	nulls[i] = (text == NULL) ? 'n' : ' ';
	values[i] = (text == NULL) ? (Datum) 0 : CStringGetTextDatum(text);
}

/*
 * backup_history_save
 *		Insert (slot->history_id is 0) or update the backup's row from the
 *		slot, a copy taken by the caller, and return the row's id.  Runs in
 *		the caller's transaction, with SPI connected (how long it waits
 *		for a lock, and that its commit does not wait for a WAL flush, are
 *		the backup worker's settings).
 */
int64
backup_history_save(const BackupSlot *slot, const char *labelfile, const char *spcmapfile)
{
	Oid			argtypes[SAVE_NARGS + 1] = {INT8OID, TEXTOID, TEXTOID, INT4OID, PG_LSNOID,
		TIMESTAMPTZOID, TIMESTAMPTZOID, PG_LSNOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[SAVE_NARGS + 1];
	char		nulls[SAVE_NARGS + 1];
	bool		isnull;
	int			rc;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(slot->history_id);
	values[1] = CStringGetTextDatum(slot->label);
	values[2] = CStringGetTextDatum(backup_state_name(slot->state));
	values[3] = Int32GetDatum(slot->worker_pid);
	values[4] = LSNGetDatum(slot->start_lsn);
	nulls[4] = XLogRecPtrIsInvalid(slot->start_lsn) ? 'n' : ' ';
	values[5] = TimestampTzGetDatum(slot->started_at);
	values[6] = TimestampTzGetDatum(slot->expires_at);
	nulls[6] = (slot->expires_at == 0) ? 'n' : ' ';
	values[7] = LSNGetDatum(slot->stop_lsn);
	nulls[7] = XLogRecPtrIsInvalid(slot->stop_lsn) ? 'n' : ' ';
	values[8] = TimestampTzGetDatum(slot->stopped_at);
	nulls[8] = (slot->stopped_at == 0) ? 'n' : ' ';
	text_arg(values, nulls, 9, slot->error[0] != '\0' ? slot->error : NULL);
	text_arg(values, nulls, 10, labelfile);
	text_arg(values, nulls, 11, spcmapfile);

	/* $1 is the row's id, which only the update uses */
	rc = SPI_execute_with_args(slot->history_id == 0 ? insert_sql : update_sql,
							   SAVE_NARGS + 1, argtypes, values, nulls, false, 1);
	if ((rc != SPI_OK_INSERT_RETURNING && rc != SPI_OK_UPDATE_RETURNING) || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("could not record backup \"%s\" in pgrepl_admin.backup_history", slot->label)));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static int
backup_history_prune_interval(void)
{
	return PRUNE_INTERVAL_SECONDS;
}

/*
 * backup_history_prune_run
 *		Delete rows of backups that ended more than the retention ago (for a
 *		row its worker never finished, that started that long ago and is not
 *		held any more).
 */
static void
backup_history_prune_run(void)
{
	Oid			argtypes[1] = {FLOAT8OID};
	Datum		args[1] = {Float8GetDatum((double) pgrepl_backup_history_retention)};
	int			rc;

	rc = SPI_execute_with_args(prune_sql, 1, argtypes, args, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "pruning backup_history failed: %s", SPI_result_code_string(rc));
}

const MaintenanceTask backup_history_prune_task = {
	.name = "backup_history_prune",
	.description = "Prunes pgrepl_admin.backup_history of backups that ended before pgrepl_admin.backup_history_retention.",
	.runs_in_recovery = false,
	.interval_seconds = backup_history_prune_interval,
	.run = backup_history_prune_run,
};
