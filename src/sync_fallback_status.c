/*-------------------------------------------------------------------------
 *
 * sync_fallback_status.c
 *	  pgrepl_admin.synchronous_fallback(): where the synchronous fallback
 *	  stands, as the maintenance worker last published it in shared
 *	  memory (sync_fallback.c).  The synchronous_status view and check()
 *	  read it.
 *
 * It never fails for want of the worker: without preloading, on a standby
 * or while the worker is not running it says so in fallback_state, so
 * that the views built on it keep working.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xlog.h"
#include "catalog/pg_type_d.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"

#include "shmem.h"
#include "sql_version.h"
#include "sync_fallback.h"

#define SYNC_FALLBACK_COLS 7

PG_FUNCTION_INFO_V1(synchronous_fallback);

static const char *
state_name(SyncFallbackState state)
{
	switch (state)
	{
		case SYNC_FALLBACK_UNKNOWN:
			return "starting";
		case SYNC_FALLBACK_OFF:
			return "off";
		case SYNC_FALLBACK_IDLE:
			return "idle";
		case SYNC_FALLBACK_MANUAL:
			return "manual";
		case SYNC_FALLBACK_OK:
			return "ok";
		case SYNC_FALLBACK_MISSING:
			return "missing";
		case SYNC_FALLBACK_ACTIVE:
			return "active";
		case SYNC_FALLBACK_CATCHING_UP:
			return "catching-up";
	}
	return "unknown";
}

/*
 * synchronous_fallback
 *		One row: fallback_state, fallback_since, fallback_at,
 *		missing_standbys, value_in_force, stored_value, restore_lsn.
 */
Datum
synchronous_fallback(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[SYNC_FALLBACK_COLS] = {0};
	bool		nulls[SYNC_FALLBACK_COLS] = {0};
	SyncFallbackStatus *st;
	pid_t		worker_pid;
	const char *state;

	pgrepl_require_sql_version();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	for (int i = 0; i < SYNC_FALLBACK_COLS; i++)
		nulls[i] = true;

	if (pgrepl_shared == NULL)
		state = "not-preloaded";
	else if (RecoveryInProgress())
		state = "standby";
	else
	{
		st = palloc(sizeof(SyncFallbackStatus));
		LWLockAcquire(pgrepl_shared->lock, LW_SHARED);
		memcpy(st, &pgrepl_shared->sync_fallback, sizeof(SyncFallbackStatus));
		worker_pid = pgrepl_shared->fallback_worker_pid;
		LWLockRelease(pgrepl_shared->lock);

		state = worker_pid == 0 ? "stopped" : state_name(st->state);
		if (worker_pid != 0 && st->state != SYNC_FALLBACK_UNKNOWN)
		{
			if (st->since != 0)
			{
				values[1] = TimestampTzGetDatum(st->since);
				nulls[1] = false;
			}
			if (st->fallback_at != 0)
			{
				values[2] = TimestampTzGetDatum(st->fallback_at);
				nulls[2] = false;
			}
			{
				Datum	   *names = palloc(sizeof(Datum) * Max(st->nmissing, 1));
				const char *p = st->missing;

				for (int i = 0; i < st->nmissing; i++)
				{
					names[i] = CStringGetTextDatum(p);
					p += strlen(p) + 1;
				}
				values[3] = PointerGetDatum(construct_array(names, st->nmissing, TEXTOID,
															-1, false, TYPALIGN_INT));
				nulls[3] = false;
			}
			values[4] = CStringGetTextDatum(st->in_force);
			nulls[4] = false;
			if (st->stored[0] != '\0')
			{
				values[5] = CStringGetTextDatum(st->stored);
				nulls[5] = false;
			}
			if (st->restore_lsn != InvalidXLogRecPtr)
			{
				values[6] = LSNGetDatum(st->restore_lsn);
				nulls[6] = false;
			}
		}
	}
	values[0] = CStringGetTextDatum(state);
	nulls[0] = false;

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
