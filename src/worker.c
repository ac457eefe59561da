/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The pgrepl_admin maintenance worker: one background worker that runs
 *	  the periodic tasks listed in task_registry.c; and the fallback
 *	  worker, the same loop in a second background worker, which runs only
 *	  the tasks marked own_worker (sync_fallback).
 *
 * The fallback has a bound to keep (it acts within about a tenth of
 * pgrepl_admin.synchronous_fallback_after after the delay): in a worker of
 * its own, no other task's run can hold it up, be it a certificate renewal
 * waiting up to 30 s for the new certificate to be served or a task waiting
 * for a lock a session holds on one of the extension's tables.  Each worker
 * publishes its own pid and the states of its own tasks.
 *
 * The worker connects to the database named by pgrepl_admin.database.  It
 * starts as soon as the server accepts read-only connections, so it runs on
 * a primary and on a hot standby alike.  Each pass of its loop it:
 *
 *	- checks that the extension exists in its database at the library's
 *	  version (if not, it logs that once and looks again every
 *	  EXTENSION_RECHECK_MS);
 *	- runs each task that is due, in a transaction of its own; a task that
 *	  writes is held back while the server is in recovery and taken up as
 *	  soon as it is promoted; a task that asks to run at promotion runs
 *	  first then (hba_sync: the promoted server's pg_hba.conf is rendered
 *	  before anything else);
 *	- sleeps on its latch until the next task is due.  Nothing wakes it
 *	  in between except a signal (SIGHUP reloads the settings, SIGTERM
 *	  ends it), the commit of a CREATE or ALTER EXTENSION in any session
 *	  (so that it takes up its tasks at once, not at its next look for
 *	  the extension) or, on a standby, its look every TASK_POLL_MS for
 *	  promotion and at the tasks' polls (hba_sync: has replay moved?).
 *	  That look takes no transaction: an idle standby costs one wake-up
 *	  and a few reads of shared memory a second.
 *
 * A task that throws an ERROR does not take the worker down: the error is
 * logged and shown in pgrepl_admin.worker_status, and the task is retried
 * after a delay that doubles with each consecutive failure.  If the worker
 * itself dies, the postmaster starts it again after RESTART_SECONDS.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_extension_d.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bgw_transaction.h"
#include "safe_search_path.h"
#include "settings.h"
#include "shmem.h"
#include "sql_version.h"
#include "task.h"
#include "worker.h"

#define WORKER_NAME "pgrepl_admin maintenance"
#define FALLBACK_WORKER_NAME "pgrepl_admin sync fallback"
#define RESTART_SECONDS 5
#define EXTENSION_RECHECK_MS (5 * 1000)
#define RETRY_FIRST_MS (5 * 1000)
#define RETRY_MAX_MS (10 * 60 * 1000)

/*
 * register_worker
 *		Register one of the two workers: main_arg 0 runs the tasks without
 *		own_worker, 1 those with it.
 */
static void
register_worker(const char *name, int which)
{
	BackgroundWorker worker = {0};

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = RESTART_SECONDS;
	strlcpy(worker.bgw_library_name, "pgrepl_admin", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgrepl_maintenance_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, name, BGW_MAXLEN);
	strlcpy(worker.bgw_type, name, BGW_MAXLEN);
	worker.bgw_main_arg = Int32GetDatum(which);
	RegisterBackgroundWorker(&worker);
}

/*
 * pgrepl_register_maintenance_worker
 *		Register the maintenance worker and the fallback worker with the
 *		postmaster; called from _PG_init while shared_preload_libraries is
 *		being processed.
 */
void
pgrepl_register_maintenance_worker(void)
{
	register_worker(WORKER_NAME, 0);
	register_worker(FALLBACK_WORKER_NAME, 1);
}

static object_access_hook_type prev_object_access_hook = NULL;
/* tasks whose poll found work: their follow() runs in the next pass */
static bool follow_due[PGREPL_MAX_TASKS];
/* whether the last pass saw the server in recovery */
static bool was_in_recovery = false;
static bool wake_worker_at_commit = false;
/* in this process: true for the fallback worker */
static bool is_fallback_worker = false;
static const char *worker_name = WORKER_NAME;

/* Whether task i is this worker's to run. */
static inline bool
my_task(int i)
{
	return pgrepl_tasks[i]->own_worker == is_fallback_worker;
}

/* Where this worker publishes its pid. */
static inline pid_t *
my_pid_slot(void)
{
	return is_fallback_worker ? &pgrepl_shared->fallback_worker_pid : &pgrepl_shared->worker_pid;
}

/*
 * extension_changed
 *		Object access hook: a CREATE or ALTER EXTENSION (of any extension:
 *		its name is not visible yet) marks the transaction, so that its
 *		commit wakes the worker.
 */
static void
extension_changed(ObjectAccessType access, Oid classId, Oid objectId,
				  int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (classId == ExtensionRelationId &&
		(access == OAT_POST_CREATE || access == OAT_POST_ALTER))
		wake_worker_at_commit = true;
}

/*
 * wake_worker_on_commit
 *		Transaction callback: once a transaction that created or altered an
 *		extension has committed, set both workers' latches, so that each
 *		looks for its extension now rather than at its next re-check.
 */
static void
wake_worker_on_commit(XactEvent event, void *arg)
{
	pid_t		pids[2];
	PGPROC	   *proc;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	if (!wake_worker_at_commit)
		return;
	wake_worker_at_commit = false;
	if (event != XACT_EVENT_COMMIT || pgrepl_shared == NULL)
		return;

	LWLockAcquire(pgrepl_shared->lock, LW_SHARED);
	pids[0] = pgrepl_shared->worker_pid;
	pids[1] = pgrepl_shared->fallback_worker_pid;
	LWLockRelease(pgrepl_shared->lock);
	for (int i = 0; i < lengthof(pids); i++)
	{
		if (pids[i] != 0 && (proc = BackendPidGetProc(pids[i])) != NULL)
			SetLatch(&proc->procLatch);
	}
}

/*
 * pgrepl_wake_worker_on_extension_change
 *		Install the hook and callback above; called from _PG_init while
 *		preloading, so every backend has them.
 */
void
pgrepl_wake_worker_on_extension_change(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = extension_changed;
	RegisterXactCallback(wake_worker_on_commit, NULL);
}

/* Publish a task's state under the lock. */
static void
set_task_state(int i, TaskState state, TimestampTz next_run)
{
	LWLockAcquire(pgrepl_shared->lock, LW_EXCLUSIVE);
	pgrepl_shared->tasks[i].state = state;
	pgrepl_shared->tasks[i].next_run = next_run;
	LWLockRelease(pgrepl_shared->lock);
}

/* Put every task of this worker into the same state, unscheduled. */
static void
set_all_task_states(TaskState state)
{
	for (int i = 0; i < pgrepl_task_count; i++)
	{
		if (my_task(i))
			set_task_state(i, state, 0);
	}
}

/* on_shmem_exit callback: say that nobody runs this worker's tasks any more. */
static void
worker_exit(int code, Datum arg)
{
	set_all_task_states(TASK_STATE_STOPPED);
	LWLockAcquire(pgrepl_shared->lock, LW_EXCLUSIVE);
	*my_pid_slot() = 0;
	LWLockRelease(pgrepl_shared->lock);
}

/*
 * installed_version
 *		The version of the extension in the worker's database, as committed;
 *		NULL when CREATE EXTENSION pgrepl_admin has not been run there.
 */
static char *
installed_version(MemoryContext cxt)
{
	char	   *version;
	char	   *copy = NULL;

	StartTransactionCommand();
	version = pgrepl_installed_sql_version();
	if (version != NULL)
		copy = MemoryContextStrdup(cxt, version);
	CommitTransactionCommand();
	return copy;
}

/* Delay before retrying a task that failed "failures" times in a row. */
static long
retry_delay_ms(int failures)
{
	long		delay = RETRY_FIRST_MS;

	while (--failures > 0 && delay < RETRY_MAX_MS)
		delay *= 2;
	return Min(delay, RETRY_MAX_MS);
}

/*
 * task_retry_delay_ms
 *		Delay before retrying a task that failed "failures" times in a row:
 *		the back-off, except for a task with a worker of its own (the
 *		fallback), which is retried at its next tick: its bound holds
 *		whatever failed before (a refused ALTER SYSTEM, a full disk), and
 *		it delays no other task.
 */
static long
task_retry_delay_ms(const MaintenanceTask *task, int failures)
{
	if (task->own_worker)
		return maintenance_task_interval_ms(task);
	return retry_delay_ms(failures);
}

/* BgwWorkFn for a task's run() */
static void
run_task_work(void *arg)
{
	((const MaintenanceTask *) arg)->run();
}

/* BgwWorkFn for a task's follow() */
static void
follow_task_work(void *arg)
{
	((const MaintenanceTask *) arg)->follow();
}

/*
 * run_task
 *		Run task i once in a transaction of its own, its run() or, with
 *		follow, its follow(), and record the outcome.  An ERROR is caught,
 *		logged and recorded; the task is then retried with back-off (at its
 *		next tick for a task with a worker of its own).  FATAL (e.g.
 *		SIGTERM) still ends the worker.
 */
static void
run_task(int i, bool follow, MemoryContext loop_cxt)
{
	const MaintenanceTask *task = pgrepl_tasks[i];
	TaskStatus *status = &pgrepl_shared->tasks[i];
	TimestampTz started = GetCurrentTimestamp();
	TimestampTz was_next_run = status->next_run;
	ErrorData  *edata = NULL;
	TimestampTz next_run;

	set_task_state(i, TASK_STATE_RUNNING, 0);
	edata = bgw_run_in_transaction(follow ? follow_task_work : run_task_work,
								   unconstify(MaintenanceTask *, task),
								   task->name, loop_cxt);

	LWLockAcquire(pgrepl_shared->lock, LW_EXCLUSIVE);
	status->last_run = started;
	status->runs++;
	if (edata == NULL)
	{
		status->outcome = TASK_OUTCOME_OK;
		status->consecutive_failures = 0;
		status->last_error[0] = '\0';
		/* following replay does not move the interval's next run */
		next_run = follow && was_next_run != 0 ? was_next_run :
			TimestampTzPlusMilliseconds(started, maintenance_task_interval_ms(task));
	}
	else
	{
		status->outcome = TASK_OUTCOME_ERROR;
		status->failures++;
		status->consecutive_failures++;
		strlcpy(status->last_error, edata->message ? edata->message : "unknown error",
				PGREPL_ERROR_LEN);
		next_run = task->own_worker ?
			TimestampTzPlusMilliseconds(started, task_retry_delay_ms(task, status->consecutive_failures)) :
			TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										task_retry_delay_ms(task, status->consecutive_failures));
	}
	status->state = TASK_STATE_SCHEDULED;
	status->next_run = next_run;
	LWLockRelease(pgrepl_shared->lock);

	/*
	 * a task retried at every tick logs the 1st, 2nd, 4th, 8th... failure in
	 * a row, not ten WARNINGs a second
	 */
	if (edata != NULL && task->own_worker &&
		(status->consecutive_failures & (status->consecutive_failures - 1)) == 0)
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("pgrepl_admin task \"%s\" failed: %s", task->name, edata->message),
				 errdetail("It failed %d time(s) in a row and is retried at every run (every %ld ms); the next WARNING comes after %d failures in a row.",
						   status->consecutive_failures, maintenance_task_interval_ms(task),
						   status->consecutive_failures * 2)));
	else if (edata != NULL && !task->own_worker)
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("pgrepl_admin task \"%s\" failed: %s", task->name, edata->message),
				 errdetail("It failed %d time(s) in a row and will be retried in %ld seconds.",
						   status->consecutive_failures,
						   retry_delay_ms(status->consecutive_failures) / 1000)));
}

/*
 * run_due_tasks
 *		Run every task whose time has come, bring the published states up
 *		to date, and return how long the worker may sleep (-1: until woken).
 *		Just after a promotion, the tasks that run at promotion go first;
 *		then, in recovery, those whose poll found work follow.
 */
static long
run_due_tasks(MemoryContext loop_cxt)
{
	bool		in_recovery = RecoveryInProgress();
	long		sleep_ms = -1;

	if (was_in_recovery && !in_recovery)
	{
		for (int i = 0; i < pgrepl_task_count; i++)
		{
			if (my_task(i) && pgrepl_tasks[i]->run_at_promotion)
				run_task(i, false, loop_cxt);
		}
	}
	was_in_recovery = in_recovery;

	for (int i = 0; i < pgrepl_task_count; i++)
	{
		if (follow_due[i] && in_recovery && my_task(i))
			run_task(i, true, loop_cxt);
		follow_due[i] = false;
	}

	for (int i = 0; i < pgrepl_task_count; i++)
	{
		const MaintenanceTask *task = pgrepl_tasks[i];
		TaskStatus *status = &pgrepl_shared->tasks[i];
		TimestampTz now = GetCurrentTimestamp();
		long		until_due;

		if (!my_task(i))
			continue;
		if (maintenance_task_interval_ms(task) <= 0)
		{
			set_task_state(i, TASK_STATE_DISABLED, 0);
			continue;
		}
		if (in_recovery && !task->runs_in_recovery)
		{
			/* wait_for_work() looks for the promotion */
			set_task_state(i, TASK_STATE_WAITING_PROMOTION, 0);
			continue;
		}

		/* a task that was not scheduled (first pass, promotion) is due now */
		if (status->state != TASK_STATE_SCHEDULED || status->next_run == 0)
			set_task_state(i, TASK_STATE_SCHEDULED, now);

		if (status->next_run <= now)
		{
			run_task(i, false, loop_cxt);
			now = GetCurrentTimestamp();
		}

		until_due = TimestampDifferenceMilliseconds(now, status->next_run);
		sleep_ms = (sleep_ms < 0) ? until_due : Min(sleep_ms, until_due);
	}
	return sleep_ms;
}

/*
 * reschedule_after_reload
 *		After a change of settings, due times follow the new intervals:
 *		a task that last succeeded at T runs next at T + its new interval.
 *		Tasks in back-off keep their retry time.
 */
static void
reschedule_after_reload(void)
{
	for (int i = 0; i < pgrepl_task_count; i++)
	{
		TaskStatus *status = &pgrepl_shared->tasks[i];
		long		interval = maintenance_task_interval_ms(pgrepl_tasks[i]);

		if (!my_task(i))
			continue;
		if (status->state == TASK_STATE_SCHEDULED &&
			status->consecutive_failures == 0 && status->last_run != 0 &&
			interval > 0)
			set_task_state(i, TASK_STATE_SCHEDULED,
						   TimestampTzPlusMilliseconds(status->last_run, interval));
	}
}

/*
 * poll_tasks
 *		On a standby, ask each task that polls and is not in back-off
 *		whether replay brought it work, without a transaction, and mark
 *		those that say so.  Returns whether the worker should make a pass
 *		now: a task has work, or the server is no longer in recovery.
 */
static bool
poll_tasks(void)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		wake = false;

	if (!RecoveryInProgress())
		return true;
	for (int i = 0; i < pgrepl_task_count; i++)
	{
		const MaintenanceTask *task = pgrepl_tasks[i];
		TaskStatus *status = &pgrepl_shared->tasks[i];

		if (task->poll == NULL || !task->runs_in_recovery || !my_task(i))
			continue;
		if (status->consecutive_failures > 0 &&
			now < TimestampTzPlusMilliseconds(status->last_run,
											  retry_delay_ms(status->consecutive_failures)))
			continue;
		if (task->poll())
			follow_due[i] = wake = true;
	}
	return wake;
}

/*
 * wait_for_work
 *		Sleep until sleep_ms have passed (-1: no limit) or the latch is set.
 *		With polling, while the server is in recovery, look every
 *		TASK_POLL_MS whether it was promoted or a task's poll found work,
 *		and return early if so.
 */
static void
wait_for_work(long sleep_ms, bool polling)
{
	TimestampTz until = sleep_ms < 0 ? 0 :
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(), sleep_ms);

	polling = polling && RecoveryInProgress();
	for (;;)
	{
		long		wait_ms = -1;
		int			events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH;
		int			rc;

		if (until != 0)
			wait_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);
		if (polling)
			wait_ms = (wait_ms < 0) ? TASK_POLL_MS : Min(wait_ms, TASK_POLL_MS);
		if (wait_ms >= 0)
			events |= WL_TIMEOUT;
		rc = WaitLatch(MyLatch, events, wait_ms, PG_WAIT_EXTENSION);

		/*
		 * The latch is reset only when it woke us: a latch reset after a
		 * time-out would lose a SIGTERM (or a wake-up) that came in
		 * between, and this loop, which runs for as long as the server is
		 * in recovery when there is no due time, would never end (a
		 * standby's fast shutdown waited for the fallback worker until
		 * pg_ctl gave up).
		 */
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		/*
		 * Poll before returning at the due time too: a task due every
		 * TASK_POLL_MS or more often (sync_promotion, every second on a
		 * standby) would otherwise end every wait before any poll, and
		 * replay would never be followed.
		 */
		if (polling && poll_tasks())
			return;
		if ((rc & WL_LATCH_SET) || ConfigReloadPending ||
			(until != 0 && GetCurrentTimestamp() >= until))
			return;
	}
}

/*
 * pgrepl_maintenance_worker_main
 *		Entry point of the maintenance worker (main_arg 0) and of the
 *		fallback worker (main_arg 1).
 */
void
pgrepl_maintenance_worker_main(Datum main_arg)
{
	MemoryContext loop_cxt;
	enum
	{
		WAITING_NOTHING,
		WAITING_CREATE,
		WAITING_UPDATE
	}			waiting = WAITING_NOTHING;

	is_fallback_worker = DatumGetInt32(main_arg) == 1;
	worker_name = is_fallback_worker ? FALLBACK_WORKER_NAME : WORKER_NAME;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(pgrepl_database, NULL, 0);
	pgstat_report_appname(worker_name);

	/*
	 * The tasks write bookkeeping only (lag samples, pruning): their commits
	 * need not wait for a WAL flush, and must never wait for a synchronous
	 * standby, least of all one that is gone, which is when the lag samples
	 * matter most.  An override, so that a reload does not undo it.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	/* whatever ALTER DATABASE or ALTER ROLE set (safe_search_path.c) */
	pgrepl_safe_search_path_for_worker();

	LWLockAcquire(pgrepl_shared->lock, LW_EXCLUSIVE);
	*my_pid_slot() = MyProcPid;
	LWLockRelease(pgrepl_shared->lock);
	set_all_task_states(TASK_STATE_WAITING_EXTENSION);
	on_shmem_exit(worker_exit, (Datum) 0);

	loop_cxt = AllocSetContextCreate(TopMemoryContext,
									 "pgrepl_admin maintenance loop",
									 ALLOCSET_DEFAULT_SIZES);

	ereport(LOG,
			(errmsg("%s worker started in database \"%s\"",
					worker_name, pgrepl_database)));

	for (;;)
	{
		long		sleep_ms;
		bool		running;
		char	   *version;

		/* what the maintenance worker says of the extension, said once */
		int			chatter = is_fallback_worker ? DEBUG1 : LOG;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			reschedule_after_reload();
		}

		MemoryContextSwitchTo(loop_cxt);
		version = installed_version(loop_cxt);
		running = version != NULL && strcmp(version, PGREPL_VERSION) == 0;
		if (running)
		{
			if (waiting != WAITING_NOTHING)
				ereport(chatter,
						(errmsg("%s worker found the extension in database \"%s\" and starts its tasks",
								worker_name, pgrepl_database)));
			waiting = WAITING_NOTHING;
			sleep_ms = run_due_tasks(loop_cxt);
		}
		else
		{
			/* say once what it waits for, and again when that changes */
			if (version == NULL && waiting != WAITING_CREATE)
				ereport(chatter,
						(errmsg("%s worker is waiting for CREATE EXTENSION pgrepl_admin in database \"%s\"",
								worker_name, pgrepl_database)));
			else if (version != NULL && waiting != WAITING_UPDATE)
				ereport(chatter,
						(errmsg("%s worker is waiting for ALTER EXTENSION pgrepl_admin UPDATE in database \"%s\"",
								worker_name, pgrepl_database),
						 errdetail("The SQL objects are version %s, the library is version %s.",
								   version, PGREPL_VERSION)));
			waiting = version == NULL ? WAITING_CREATE : WAITING_UPDATE;
			set_all_task_states(TASK_STATE_WAITING_EXTENSION);
			sleep_ms = EXTENSION_RECHECK_MS;
		}
		MemoryContextReset(loop_cxt);

		wait_for_work(sleep_ms, running);
	}
}
