/*-------------------------------------------------------------------------
 *
 * backup_worker.c
 *	  The backup worker: a dynamic background worker that starts one
 *	  non-exclusive backup, holds it, and ends it.
 *
 * Since PostgreSQL 15 a backup belongs to the process that started it and
 * ends with that process, so a session that wants a backup to outlive it
 * (a copy driven by a script over several connections, a filesystem
 * snapshot) cannot hold it itself.  backup_start() starts one of these
 * workers for each backup.  The worker connects to the database backup_start
 * was called from and:
 *
 *	- writes the backup's row into pgrepl_admin.backup_history (starting;
 *	  the slot learns the row's id before it commits), runs
 *	  pg_backup_start(label, fast), records the start LSN in the row, shows
 *	  itself "holding backup" in pg_stat_activity and then publishes the
 *	  LSN in its shared-memory slot (state running) with the backup's
 *	  expiry: backup_start's time-out counts from then, not from the call
 *	  (a spread start checkpoint can take longer than the time-out);
 *	- while it starts the backup, an abort request (backup_abort, or
 *	  backup_start's caller gone) ends it as soon as the row is written;
 *	  the request's SIGINT cuts short pg_backup_start's wait for its
 *	  checkpoint;
 *	- sleeps on its latch until a session asks it to stop or abort, or the
 *	  backup's expiry passes (backup_extend moves it: the worker reads it
 *	  from the slot each time it wakes);
 *	- on a stop request runs pg_backup_stop(wait_for_archive), hands the
 *	  label and tablespace map files to the asking session in a pinned
 *	  dynamic shared memory segment (they have no size bound), records them
 *	  in backup_history and publishes stopped;
 *	- on an abort request, its time-out, SIGTERM (pg_terminate_backend,
 *	  server shutdown) or SIGINT (pg_cancel_backend) ends the backup in the
 *	  server first, then records and publishes aborted with the reason, and
 *	  logs it;
 *	- on an error, ends the backup the same way and publishes failed.
 *
 * It then exits; it is never restarted.  If it exits any other way (a FATAL
 * while it starts the backup or waits for WAL archiving), the server's own
 * abort handler ends the backup, then record_unexpected_exit records and
 * publishes failed or aborted (backup_worker_exit publishes it when even
 * that is impossible: the postmaster's death, a FATAL before the worker was
 * connected).  After a crash the shared memory starts
 * empty, and the row it left "running" is shown as failed by the view.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "storage/procsignal.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"

#include "backup_history.h"
#include "backup_slots.h"
#include "backup_worker.h"
#include "bgw_transaction.h"
#include "safe_search_path.h"

#define BACKUP_WORKER_TYPE "pgrepl_admin backup"

/* this worker's slot, and its generation */
static int	my_index = -1;
static uint64 my_generation = 0;

/* what a transaction's work needs and returns */
typedef struct BackupStep
{
	BackupSlot	slot;			/* a copy of the slot */
	bool		wait_for_archive;
	XLogRecPtr	lsn;			/* start or stop LSN */
	char	   *labelfile;		/* from pg_backup_stop, in TopMemoryContext */
	char	   *spcmapfile;
} BackupStep;

typedef void (*BackupStepFn) (BackupStep *step);

/*
 * backup_worker_launch
 *		Register the worker for slot index of this generation, to start
 *		now; NULL when no background worker slot is free.
 */
BackgroundWorkerHandle *
backup_worker_launch(int index, uint64 generation)
{
	BackgroundWorker worker = {0};
	BackgroundWorkerHandle *handle;

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pgrepl_admin", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgrepl_backup_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgrepl_admin backup worker %d", index);
	strlcpy(worker.bgw_type, BACKUP_WORKER_TYPE, BGW_MAXLEN);
	worker.bgw_main_arg = Int32GetDatum(index);
	memcpy(worker.bgw_extra, &generation, sizeof(generation));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

/* Copy our slot under the lock; false when it is no longer ours. */
static bool
copy_my_slot(BackupSlot *copy)
{
	BackupSlot *slot;

	LWLockAcquire(backup_shared->lock, LW_SHARED);
	slot = backup_slot_for(my_index, my_generation);
	if (slot != NULL)
		memcpy(copy, slot, sizeof(BackupSlot));
	LWLockRelease(backup_shared->lock);
	return slot != NULL;
}

/*
 * publish
 *		Set our slot's state (and, when given, the other fields the step
 *		produced), and tell the waiting sessions.
 */
static void
publish(PgreplBackupState state, const BackupStep *step, const char *error)
{
	BackupSlot *slot;

	LWLockAcquire(backup_shared->lock, LW_EXCLUSIVE);
	slot = backup_slot_for(my_index, my_generation);
	if (slot != NULL)
	{
		slot->state = state;
		if (step != NULL)
		{
			slot->history_id = step->slot.history_id;
			slot->start_lsn = step->slot.start_lsn;
			slot->stop_lsn = step->slot.stop_lsn;
			slot->stopped_at = step->slot.stopped_at;
			slot->result = step->slot.result;
		}
		if (error != NULL)
			strlcpy(slot->error, error, BACKUP_ERROR_LEN);
		if (state == BACKUP_RUNNING && step != NULL)
			slot->expires_at = step->slot.expires_at;
		if (backup_state_is_final(state))
			slot->worker_latch = NULL;
	}
	LWLockRelease(backup_shared->lock);
	ConditionVariableBroadcast(&backup_shared->changed);
}

/* a step and its state, for bgw_run_in_transaction */
typedef struct BackupStepCall
{
	BackupStepFn fn;
	BackupStep *step;
} BackupStepCall;

static void
run_step_work(void *arg)
{
	BackupStepCall *call = arg;

	call->fn(call->step);
}

/*
 * run_step
 *		Run fn in a transaction of its own with SPI connected.  Returns
 *		NULL on success, else the error's message (the error is logged, and
 *		the transaction rolled back; the backup itself is left as it is).
 */
static char *
run_step(BackupStepFn fn, BackupStep *step, const char *activity)
{
	BackupStepCall call = {fn, step};
	ErrorData  *edata;
	char	   *error;

	edata = bgw_run_in_transaction(run_step_work, &call, activity, CurrentMemoryContext);
	if (edata == NULL)
		return NULL;
	error = pstrdup(edata->message ? edata->message : "unknown error");
	ereport(LOG,
			(errmsg("pgrepl_admin backup \"%s\": %s failed: %s",
					step->slot.label, activity, error)));
	return error;
}

/*
 * Step: pg_backup_start(label, fast), called through fmgr: a fresh worker
 * has nothing to parse or plan it with in its caches.
 */
static void
start_step(BackupStep *step)
{
	step->lsn = DatumGetLSN(OidFunctionCall2(F_PG_BACKUP_START,
											 CStringGetTextDatum(step->slot.label),
											 BoolGetDatum(step->slot.fast)));
}

/* A text attribute of a composite result, as a string in TopMemoryContext. */
static char *
text_attribute(HeapTupleHeader tuple, int attno)
{
	bool		isnull;
	Datum		d = GetAttributeByNum(tuple, attno, &isnull);

	return MemoryContextStrdup(TopMemoryContext, isnull ? "" : TextDatumGetCString(d));
}

/* Step: pg_backup_stop(wait_for_archive), its three results kept. */
static void
stop_step(BackupStep *step)
{
	HeapTupleHeader tuple;
	bool		isnull;

	tuple = DatumGetHeapTupleHeader(OidFunctionCall1(F_PG_BACKUP_STOP,
													 BoolGetDatum(step->wait_for_archive)));
	step->lsn = DatumGetLSN(GetAttributeByNum(tuple, 1, &isnull));
	if (isnull)
		elog(ERROR, "pg_backup_stop returned no stop LSN");
	step->labelfile = text_attribute(tuple, 2);
	step->spcmapfile = text_attribute(tuple, 3);
}

/* Step: write the backup's row as the slot copy says. */
static void
record_step(BackupStep *step)
{
	step->slot.history_id = backup_history_save(&step->slot, step->labelfile, step->spcmapfile);
}

/*
 * Step: insert the backup's row, and put its id in the slot before the
 * row commits, so that the backups view, which matches rows to slots by
 * id, never shows the row of a backup still starting as an orphan.
 */
static void
insert_step(BackupStep *step)
{
	BackupSlot *slot;

	record_step(step);
	LWLockAcquire(backup_shared->lock, LW_EXCLUSIVE);
	slot = backup_slot_for(my_index, my_generation);
	if (slot != NULL)
		slot->history_id = step->slot.history_id;
	LWLockRelease(backup_shared->lock);
}

/*
 * record
 *		Update the backup's row; a failure is logged and otherwise ignored:
 *		the slot still tells the truth, and the backup must end anyway.  (The
 *		row's first write is no such bookkeeping: without it, no backup.)
 */
static void
record(BackupStep *step)
{
	(void) run_step(record_step, step, "recording the backup in pgrepl_admin.backup_history");
}

/*
 * end_in_server
 *		Make sure this process holds no backup in the server any more.
 */
static void
end_in_server(void)
{
	if (get_backup_status() == SESSION_BACKUP_RUNNING)
		do_pg_abort_backup(0, BoolGetDatum(false));
}

/*
 * end_backup
 *		End the backup without a stop: end it in the server, then record
 *		and publish the final state with its reason.
 */
static void
end_backup(BackupStep *step, PgreplBackupState state, const char *reason)
{
	/*
	 * A SIGTERM or SIGINT is being answered (or the process exits on a
	 * FATAL): let the abort and the last writes run (they wait at most for
	 * lock_timeout).  A second SIGTERM still ends the writes.  Cleared
	 * before the abort, which checks for interrupts from PostgreSQL 17.
	 */
	ProcDiePending = false;
	QueryCancelPending = false;
	end_in_server();

	step->slot.state = state;
	step->slot.stopped_at = GetCurrentTimestamp();
	strlcpy(step->slot.error, reason, BACKUP_ERROR_LEN);
	/* a row that could not be written at the start is not tried again */
	if (step->slot.history_id != 0)
		record(step);
	publish(state, step, reason);
}

/*
 * finish
 *		End the backup without a stop (abort, time-out, SIGTERM, SIGINT,
 *		error), log it, and exit.
 */
static void
finish(BackupStep *step, PgreplBackupState state, int elevel, const char *reason)
{
	end_backup(step, state, reason);
	ereport(elevel,
			(errmsg("pgrepl_admin backup \"%s\" %s: %s", step->slot.label,
					backup_state_name(state), reason)));
	proc_exit(0);
}

/*
 * abort_if_requested
 *		While the backup starts: end it now if a session asked for an abort
 *		(backup_abort, or backup_start's caller gone).
 */
static void
abort_if_requested(BackupStep *step)
{
	BackupSlot	now_slot;

	if (copy_my_slot(&now_slot) &&
		(now_slot.request == BACKUP_REQUEST_ABORT || now_slot.request == BACKUP_REQUEST_ABANDON))
		finish(step, BACKUP_ABORTED, LOG, backup_abort_reason(now_slot.request));
}

/*
 * stop
 *		Stop the backup with pg_backup_stop, hand its files to the asking
 *		session, record and publish it, and exit.
 */
static void
stop(BackupStep *step)
{
	char	   *error;
	Size		label_len;
	Size		map_len;
	dsm_segment *seg;
	BackupResult *result;

	publish(BACKUP_STOPPING, NULL, NULL);
	error = run_step(stop_step, step, "pg_backup_stop");
	if (error != NULL)
		finish(step, BACKUP_FAILED, WARNING,
			   psprintf("pg_backup_stop failed: %s", error));

	label_len = strlen(step->labelfile);
	map_len = strlen(step->spcmapfile);
	seg = dsm_create(add_size(offsetof(BackupResult, data), label_len + map_len + 2), 0);
	result = dsm_segment_address(seg);
	result->labelfile_len = label_len;
	result->spcmapfile_len = map_len;
	memcpy(result->data, step->labelfile, label_len + 1);
	memcpy(result->data + label_len + 1, step->spcmapfile, map_len + 1);
	/* it outlives this process; backup_stop (or the slot's next user) unpins it */
	dsm_pin_segment(seg);
	step->slot.result = dsm_segment_handle(seg);
	dsm_detach(seg);

	step->slot.state = BACKUP_STOPPED;
	step->slot.stop_lsn = step->lsn;
	step->slot.stopped_at = GetCurrentTimestamp();
	record(step);
	publish(BACKUP_STOPPED, step, NULL);
	ereport(LOG,
			(errmsg("pgrepl_admin backup \"%s\" stopped at %X/%X", step->slot.label,
					LSN_FORMAT_ARGS(step->lsn))));
	proc_exit(0);
}

/*
 * record_unexpected_exit
 *		before_shmem_exit callback, registered once the worker is connected
 *		and before pg_backup_start registers the server's abort handler,
 *		which therefore runs first and has ended the backup in the server.
 *		A worker that exits without having ended through finish() or stop()
 *		(a FATAL: SIGTERM while it starts or stops the backup) records and
 *		publishes the end here, in a last transaction, as the server's
 *		RemoveTempRelationsCallback does at exit.  An error here is a FATAL
 *		(the process is exiting); backup_worker_exit then still publishes.
 */
static void
record_unexpected_exit(int code, Datum arg)
{
	BackupStep *step = (BackupStep *) DatumGetPointer(arg);
	BackupSlot	now_slot;
	PgreplBackupState state;
	char	   *reason;

	AbortOutOfAnyTransaction();
	LWLockReleaseAll();
	if (!copy_my_slot(&now_slot) || backup_state_is_final(now_slot.state) ||
		!PostmasterIsAlive())
		return;
	state = now_slot.state == BACKUP_RUNNING ? BACKUP_ABORTED : BACKUP_FAILED;
	reason = psprintf("the backup worker exited while the backup was %s (see the server log); the server ended the backup",
					  backup_state_name(now_slot.state));
	end_backup(step, state, reason);
}

/*
 * backup_worker_exit
 *		on_shmem_exit callback.  It runs after the server's own abort
 *		handler (a before_shmem_exit callback), so when the worker exits
 *		without having published an end, the backup has already been ended
 *		in the server: say so.
 */
static void
backup_worker_exit(int code, Datum arg)
{
	BackupSlot *slot;
	bool		changed = false;

	LWLockReleaseAll();
	LWLockAcquire(backup_shared->lock, LW_EXCLUSIVE);
	slot = backup_slot_for(my_index, my_generation);
	if (slot != NULL && !backup_state_is_final(slot->state))
	{
		backup_slot_set_error(slot,
							  "the backup worker exited while the backup was %s; the server ended the backup",
							  backup_state_name(slot->state));
		slot->state = slot->state == BACKUP_RUNNING ? BACKUP_ABORTED : BACKUP_FAILED;
		slot->stopped_at = GetCurrentTimestamp();
		changed = true;
	}
	if (slot != NULL)
		slot->worker_latch = NULL;
	LWLockRelease(backup_shared->lock);
	if (changed)
		ConditionVariableBroadcast(&backup_shared->changed);
}

/*
 * claim_expiry
 *		Whether the backup's expiry has passed at now, as its slot says
 *		under the lock; if so, mark it as being aborted, so that from then on
 *		backup_extend (and backup_stop) refuse it rather than extend a
 *		backup that ends anyway.  False when a session's request came
 *		first: the caller's next look answers it.  Sets *expires_at to the
 *		slot's expiry.
 */
static bool
claim_expiry(TimestampTz now, TimestampTz *expires_at)
{
	BackupSlot *slot;
	bool		expired = false;

	LWLockAcquire(backup_shared->lock, LW_EXCLUSIVE);
	slot = backup_slot_for(my_index, my_generation);
	if (slot != NULL)
	{
		*expires_at = slot->expires_at;
		if (slot->request == BACKUP_REQUEST_NONE && now >= slot->expires_at)
		{
			slot->request = BACKUP_REQUEST_EXPIRE;
			expired = true;
		}
	}
	LWLockRelease(backup_shared->lock);
	return expired;
}

/*
 * hold
 *		Hold the running backup until a request, the expiry, SIGTERM or
 *		SIGINT ends it.  Never returns.
 *
 * Both signals only set their flag and the latch here: the loop looks at
 * them itself, so that the backup always ends through finish() (recorded),
 * never through the FATAL that CHECK_FOR_INTERRUPTS() would raise.  Of the
 * other interrupts, a worker that sleeps owes an answer to two:
 * ProcSignal barriers (DROP DATABASE waits for them) and requests to log
 * its memory contexts.
 */
static void
hold(BackupStep *step)
{
	for (;;)
	{
		BackupSlot	now_slot;
		TimestampTz now;
		long		sleep_ms;

		if (!copy_my_slot(&now_slot))
		{
			/* cannot happen: a running backup's slot is not taken */
			end_in_server();
			elog(FATAL, "backup slot %d was taken while its backup ran", my_index);
		}
		/* (backup_extend may have moved the expiry; it is recorded at the end) */
		step->slot.expires_at = now_slot.expires_at;

		if (ProcDiePending)
			finish(step, BACKUP_ABORTED, LOG,
				   "the backup worker was terminated (pg_terminate_backend() or server shutdown)");
		if (now_slot.request == BACKUP_REQUEST_ABORT || now_slot.request == BACKUP_REQUEST_ABANDON)
			finish(step, BACKUP_ABORTED, LOG, backup_abort_reason(now_slot.request));
		if (QueryCancelPending)
			finish(step, BACKUP_ABORTED, LOG,
				   "the backup worker was cancelled (pg_cancel_backend())");
		if (now_slot.request == BACKUP_REQUEST_STOP)
		{
			step->wait_for_archive = now_slot.wait_for_archive;
			stop(step);
		}
		now = GetCurrentTimestamp();
		if (now >= step->slot.expires_at &&
			claim_expiry(now, &step->slot.expires_at))
			finish(step, BACKUP_ABORTED, WARNING,
				   psprintf("not stopped before its time-out expired at %s",
							timestamptz_to_str(step->slot.expires_at)));

		if (ProcSignalBarrierPending)
			ProcessProcSignalBarrier();
		if (LogMemoryContextPending)
			ProcessLogMemoryContextInterrupt();
		sleep_ms = TimestampDifferenceMilliseconds(now, step->slot.expires_at);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(Min(sleep_ms, 60 * 1000L), 1), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * pgrepl_backup_worker_main
 *		Entry point of a backup worker; main_arg is its slot's number and
 *		bgw_extra its generation.
 */
void
pgrepl_backup_worker_main(Datum main_arg)
{
	BackupStep	step = {0};
	BackupSlot *slot;
	char	   *error;
	char		activity[64 + BACKUP_LABEL_MAX];

	my_index = DatumGetInt32(main_arg);
	memcpy(&my_generation, MyBgworkerEntry->bgw_extra, sizeof(my_generation));

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	LWLockAcquire(backup_shared->lock, LW_EXCLUSIVE);
	slot = backup_slot_for(my_index, my_generation);
	if (slot == NULL || slot->state != BACKUP_STARTING)
	{
		/* the session gave up on it before it ran */
		LWLockRelease(backup_shared->lock);
		proc_exit(0);
	}
	slot->worker_pid = MyProcPid;
	slot->worker_latch = MyLatch;
	memcpy(&step.slot, slot, sizeof(BackupSlot));
	LWLockRelease(backup_shared->lock);
	on_shmem_exit(backup_worker_exit, (Datum) 0);

	/* as the bootstrap superuser; the SQL functions' privileges stand guard */
	BackgroundWorkerInitializeConnectionByOid(step.slot.database, InvalidOid, 0);
	/* whatever ALTER DATABASE or ALTER ROLE set (safe_search_path.c) */
	pgrepl_safe_search_path_for_worker();
	before_shmem_exit(record_unexpected_exit, PointerGetDatum(&step));
	pgstat_report_appname(BACKUP_WORKER_TYPE);

	/*
	 * The worker's only writes are its backup's backup_history row, and none
	 * waits for a WAL flush or a standby: the row is inserted (starting)
	 * before pg_backup_start, whose checkpoint flushes the WAL up to its own
	 * record, and so the row, before the backup is reported running; the
	 * later updates are bookkeeping that a crash moments after them may
	 * lose (the view then shows the row, left unfinished, as failed).
	 * No write waits long for a lock, so that a worker asked to end never
	 * hangs on one.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "10s", PGC_SUSET, PGC_S_OVERRIDE);
	error = run_step(insert_step, &step, "recording the backup in pgrepl_admin.backup_history");
	if (error != NULL)
	{
		step.slot.history_id = 0;
		abort_if_requested(&step);
		finish(&step, BACKUP_FAILED, LOG,
			   psprintf("could not record the backup in pgrepl_admin.backup_history: %s", error));
	}
	abort_if_requested(&step);

	/* an abort request from now on comes with SIGINT, which cuts this short */
	error = run_step(start_step, &step, "pg_backup_start");
	if (error != NULL)
	{
		abort_if_requested(&step);
		finish(&step, BACKUP_FAILED, LOG, psprintf("pg_backup_start failed: %s", error));
	}

	step.slot.state = BACKUP_RUNNING;
	step.slot.start_lsn = step.lsn;
	record(&step);
	abort_if_requested(&step);
	/* true from the moment backup_start() returns */
	snprintf(activity, sizeof(activity), "holding backup \"%s\"", step.slot.label);
	pgstat_report_activity(STATE_IDLE, activity);

	/*
	 * The time-out counts from here, when backup_start() is told that the
	 * backup runs: not from the call, which a spread start checkpoint may
	 * have taken longer than the time-out to answer.  (The row written
	 * above has no expiry yet; the last one has it.)
	 */
	step.slot.expires_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   step.slot.timeout_secs * 1000);
	publish(BACKUP_RUNNING, &step, NULL);
	ereport(LOG,
			(errmsg("pgrepl_admin backup \"%s\" started at %X/%X", step.slot.label,
					LSN_FORMAT_ARGS(step.lsn))));
	hold(&step);
}
