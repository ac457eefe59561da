/*-------------------------------------------------------------------------
 *
 * worker_status.c
 *	  pgrepl_admin.worker_status(): one row per maintenance task with what
 *	  the worker last published about it in shared memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "shmem.h"
#include "task.h"
#include "worker_status.h"
#include "sql_version.h"

#define WORKER_STATUS_COLS 12

PG_FUNCTION_INFO_V1(worker_status);

static const char *
task_state_name(TaskState state)
{
	switch (state)
	{
		case TASK_STATE_STOPPED:
			return "stopped";
		case TASK_STATE_WAITING_EXTENSION:
			return "waiting-extension";
		case TASK_STATE_WAITING_PROMOTION:
			return "waiting-promotion";
		case TASK_STATE_DISABLED:
			return "disabled";
		case TASK_STATE_SCHEDULED:
			return "scheduled";
		case TASK_STATE_RUNNING:
			return "running";
	}
	return "unknown";
}

/* A timestamp column: NULL for 0, which means "none". */
static void
set_time(Datum *values, bool *nulls, int col, TimestampTz t)
{
	values[col] = TimestampTzGetDatum(t);
	nulls[col] = (t == 0);
}

/*
 * worker_status
 *		SRF behind the pgrepl_admin.worker_status view.  Copies the shared
 *		state under the lock first, so that rows are built without it.
 */
Datum
worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TaskStatus	copy[PGREPL_MAX_TASKS];
	pid_t		maintenance_pid;
	pid_t		fallback_pid;

	pgrepl_require_sql_version();
	pgrepl_require_preload("pgrepl_admin.worker_status");

	LWLockAcquire(pgrepl_shared->lock, LW_SHARED);
	memcpy(copy, pgrepl_shared->tasks, sizeof(copy));
	maintenance_pid = pgrepl_shared->worker_pid;
	fallback_pid = pgrepl_shared->fallback_worker_pid;
	LWLockRelease(pgrepl_shared->lock);

	InitMaterializedSRF(fcinfo, 0);

	for (int i = 0; i < pgrepl_task_count; i++)
	{
		const MaintenanceTask *task = pgrepl_tasks[i];
		TaskStatus *status = &copy[i];
		Datum		values[WORKER_STATUS_COLS] = {0};
		bool		nulls[WORKER_STATUS_COLS] = {0};
		long		interval = maintenance_task_interval_ms(task);
		pid_t		worker_pid = task->own_worker ? fallback_pid : maintenance_pid;

		values[0] = CStringGetTextDatum(task->name);
		values[1] = CStringGetTextDatum(task->description);
		values[2] = BoolGetDatum(task->runs_in_recovery);
		if (interval > 0)
		{
			Interval   *iv = palloc0(sizeof(Interval));

			iv->time = (int64) interval * 1000;
			values[3] = IntervalPGetDatum(iv);
		}
		else
			nulls[3] = true;
		values[4] = CStringGetTextDatum(task_state_name(worker_pid ? status->state : TASK_STATE_STOPPED));
		set_time(values, nulls, 5, status->last_run);
		set_time(values, nulls, 6, status->state == TASK_STATE_SCHEDULED ? status->next_run : 0);
		if (status->outcome == TASK_OUTCOME_NONE)
			nulls[7] = true;
		else
			values[7] = CStringGetTextDatum(status->outcome == TASK_OUTCOME_OK ? "ok" : "error");
		if (status->last_error[0] != '\0')
			values[8] = CStringGetTextDatum(status->last_error);
		else
			nulls[8] = true;
		values[9] = Int64GetDatum(status->runs);
		values[10] = Int64GetDatum(status->failures);
		if (worker_pid != 0)
			values[11] = Int32GetDatum(worker_pid);
		else
			nulls[11] = true;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
