/*-------------------------------------------------------------------------
 *
 * backup.c
 *	  SQL face of the backups held by background workers: backup_start,
 *	  backup_stop, backup_abort, backup_extend, and backup_slots behind the
 *	  backups view.
 *
 * backup_start checks its arguments, takes a shared-memory slot for the
 * label (labels are unique among unfinished backups; at most
 * pgrepl_admin.max_backups at once), starts the slot's worker
 * (backup_worker.c) and waits until the worker says the backup runs or
 * why it could not start it.  backup_stop and backup_abort, from any
 * session, put a request in the slot, wake the worker and wait until it
 * publishes the end.  Sessions wait on the slots' condition variable.  A
 * backup_start that fails, is cancelled or whose session ends (a FATAL:
 * pg_terminate_backend, its client gone) while it waits aborts the backup
 * it was starting, so that no way of going away leaves one running.
 * backup_extend moves a running backup's expiry (a lease that its copier
 * keeps renewing, so that a copier cut off from the server lets the backup
 * end soon, at its expiry, without being able to say so).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "backup.h"
#include "backup_slots.h"
#include "backup_worker.h"
#include "compat.h"
#include "home_database.h"
#include "settings.h"
#include "shmem.h"
#include "sql_args.h"
#include "sql_version.h"

#define BACKUP_SLOTS_COLS 10
#define BACKUP_STOP_COLS 3
#define WAIT_RECHECK_MS 1000
/* the longest timeout: 100 years of 365.25 days */
#define MAX_TIMEOUT_SECONDS (100 * DAYS_PER_YEAR * SECS_PER_DAY)

PG_FUNCTION_INFO_V1(backup_start);
PG_FUNCTION_INFO_V1(backup_stop);
PG_FUNCTION_INFO_V1(backup_abort);
PG_FUNCTION_INFO_V1(backup_extend);
PG_FUNCTION_INFO_V1(backup_slots);

/*
 * label_arg
 *		The label argument, checked: 1 to BACKUP_LABEL_MAX bytes (what
 *		pg_backup_start accepts), no control characters (it becomes a line
 *		of backup_label).
 */
static char *
label_arg(FunctionCallInfo fcinfo)
{
	char	   *label;
	size_t		len;

	pgrepl_require_arg(fcinfo, 0, "label");
	label = text_to_cstring(PG_GETARG_TEXT_PP(0));
	len = strlen(label);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("label must not be empty")));
	if (len > BACKUP_LABEL_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("label must be at most %d bytes long", BACKUP_LABEL_MAX)));
	for (size_t i = 0; i < len; i++)
	{
		if ((unsigned char) label[i] < 0x20 || label[i] == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("label must not contain control characters")));
	}
	return label;
}

/*
 * timeout_arg
 *		Argument n, a time-out, in seconds; the setting's value when NULL
 *		and allow_null, else NULL is refused.
 */
static int64
timeout_arg(FunctionCallInfo fcinfo, int n, bool allow_null)
{
	double		secs;

	if (allow_null && PG_ARGISNULL(n))
		return pgrepl_backup_timeout;
	pgrepl_require_arg(fcinfo, n, "timeout");
	secs = pgrepl_interval_seconds(PG_GETARG_INTERVAL_P(n));
	if (secs < 1 || secs > MAX_TIMEOUT_SECONDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must be between 1 second and 100 years")));
	return (int64) secs;
}

/* Ask a standby's caller to go to the primary rather than wait forever. */
static void
refuse_on_standby(void)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgrepl_admin cannot start a backup on a standby"),
				 errdetail("The server is in recovery; pgrepl_admin's backup workers run on a primary only."),
				 errhint("Run pgrepl_admin.backup_start() on the primary.")));
}

/*
 * claim_slot
 *		Take a slot for a new backup with this label, or refuse.  Returns the
 *		slot's number and sets *generation.  Takes a free slot, else the one
 *		whose backup ended longest ago, releasing a result nobody read.
 */
static int
claim_slot(const char *label, bool fast, int64 timeout_secs, uint64 *generation)
{
	BackupSlot *slot = NULL;
	dsm_handle	unread = DSM_HANDLE_INVALID;
	int			index = -1;
	int			unfinished = 0;
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(backup_shared->lock, LW_EXCLUSIVE);
	if (backup_slot_by_label(label, true) != NULL)
	{
		LWLockRelease(backup_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("a backup with label \"%s\" is already in progress", label),
				 errhint("Stop it with pgrepl_admin.backup_stop() or abort it with pgrepl_admin.backup_abort(), or choose another label.")));
	}
	for (int i = 0; i < backup_shared->nslots; i++)
	{
		BackupSlot *s = &backup_shared->slots[i];

		if (!backup_state_is_final(s->state))
			unfinished++;
		else if (slot == NULL || s->state == BACKUP_FREE ||
				 (slot->state != BACKUP_FREE && s->stopped_at < slot->stopped_at))
		{
			slot = s;
			index = i;
		}
	}
	if (slot == NULL)
	{
		LWLockRelease(backup_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many backups in progress: pgrepl_admin.max_backups allows %d at a time",
						backup_shared->nslots),
				 errdetail("%d backups are starting, running or stopping.", unfinished),
				 errhint("Stop or abort one of them, or raise pgrepl_admin.max_backups (a restart is needed).")));
	}

	unread = slot->result;
	memset(slot, 0, sizeof(BackupSlot));
	slot->state = BACKUP_STARTING;
	slot->generation = ++backup_shared->generation;
	strlcpy(slot->label, label, sizeof(slot->label));
	slot->fast = fast;
	slot->database = MyDatabaseId;
	slot->started_at = now;
	/* the time-out counts from when the backup runs (see the worker) */
	slot->timeout_secs = timeout_secs;
	slot->expires_at = 0;
	slot->result = DSM_HANDLE_INVALID;
	*generation = slot->generation;
	LWLockRelease(backup_shared->lock);

	if (unread != DSM_HANDLE_INVALID)
		dsm_unpin_segment(unread);
	return index;
}

/* Read a slot's state, if the slot still belongs to that backup. */
static PgreplBackupState
slot_state(int index, uint64 generation, BackupSlot *copy)
{
	BackupSlot *slot;
	PgreplBackupState state = BACKUP_FREE;

	LWLockAcquire(backup_shared->lock, LW_SHARED);
	slot = backup_slot_for(index, generation);
	if (slot != NULL)
	{
		state = slot->state;
		if (copy != NULL)
			memcpy(copy, slot, sizeof(BackupSlot));
	}
	LWLockRelease(backup_shared->lock);
	return state;
}

/*
 * mark_failed_if_unfinished
 *		The worker is gone without having said how the backup ended (it
 *		could not be started at all): say it failed.
 */
static void
mark_failed_if_unfinished(int index, uint64 generation)
{
	BackupSlot *slot;
	bool		changed = false;

	LWLockAcquire(backup_shared->lock, LW_EXCLUSIVE);
	slot = backup_slot_for(index, generation);
	if (slot != NULL && !backup_state_is_final(slot->state))
	{
		backup_slot_set_error(slot, "the backup worker ended before it could start the backup; see the server log");
		slot->state = BACKUP_FAILED;
		slot->stopped_at = GetCurrentTimestamp();
		changed = true;
	}
	LWLockRelease(backup_shared->lock);
	if (changed)
		ConditionVariableBroadcast(&backup_shared->changed);
}

/*
 * wait_for_slot
 *		Wait until the backup has left the starting state (until_final:
 *		until it has ended) and return its state, copying the slot into
 *		*copy.  With a worker handle, a worker that vanished without a word
 *		counts as a failure.  Interruptible.
 */
static PgreplBackupState
wait_for_slot(int index, uint64 generation, bool until_final,
			  BackgroundWorkerHandle *handle, BackupSlot *copy)
{
	PgreplBackupState state;

	ConditionVariablePrepareToSleep(&backup_shared->changed);
	for (;;)
	{
		pid_t		pid;

		state = slot_state(index, generation, copy);
		if (backup_state_is_final(state) || (!until_final && state != BACKUP_STARTING))
			break;
		if (handle != NULL && GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED)
		{
			mark_failed_if_unfinished(index, generation);
			continue;
		}
		(void) ConditionVariableTimedSleep(&backup_shared->changed, WAIT_RECHECK_MS,
										   PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	return state;
}

/* Put a request in the slot and wake its worker.  The caller holds the lock. */
static void
request(BackupSlot *slot, BackupRequest what, bool wait_for_archive)
{
	slot->request = what;
	slot->wait_for_archive = wait_for_archive;
	backup_slot_wake_worker(slot);
}

/* the backup this session's backup_start is starting, for its cleanup */
typedef struct StartingBackup
{
	int			index;
	uint64		generation;
} StartingBackup;

static StartingBackup starting;

/*
 * abandon_starting
 *		backup_start's cleanup, on an ERROR (a cancel) or a FATAL (the
 *		session terminated, its client gone) while it waits: abort the
 *		backup it was starting, so that no backup is left running for
 *		nobody.  The worker records it as aborted and exits.
 */
static void
abandon_starting(int code, Datum arg)
{
	StartingBackup *backup = (StartingBackup *) DatumGetPointer(arg);
	BackupSlot *slot;

	LWLockReleaseAll();
	ConditionVariableCancelSleep();
	LWLockAcquire(backup_shared->lock, LW_EXCLUSIVE);
	slot = backup_slot_for(backup->index, backup->generation);
	if (slot != NULL && !backup_state_is_final(slot->state) &&
		slot->request == BACKUP_REQUEST_NONE)
		backup_slot_request_abort(slot, BACKUP_REQUEST_ABANDON);
	LWLockRelease(backup_shared->lock);
	ConditionVariableBroadcast(&backup_shared->changed);
}

/*
 * backup_start(label, fast, timeout)
 *		Start a backup held by a worker; returns its start LSN once it runs.
 */
Datum
backup_start(PG_FUNCTION_ARGS)
{
	char	   *label;
	bool		fast;
	int64		timeout_secs;
	int			index;
	uint64		generation;
	BackgroundWorkerHandle *handle;
	BackupSlot	copy;
	PgreplBackupState state;
	pid_t		pid;

	pgrepl_require_sql_version();
	pgrepl_require_home_database();
	pgrepl_require_preload("pgrepl_admin.backup_start");
	label = label_arg(fcinfo);
	pgrepl_require_arg(fcinfo, 1, "fast");
	fast = PG_GETARG_BOOL(1);
	timeout_secs = timeout_arg(fcinfo, 2, true);
	refuse_on_standby();

	index = claim_slot(label, fast, timeout_secs, &generation);
	handle = backup_worker_launch(index, generation);
	if (handle == NULL)
	{
		LWLockAcquire(backup_shared->lock, LW_EXCLUSIVE);
		if (backup_slot_for(index, generation) != NULL)
			backup_shared->slots[index].state = BACKUP_FREE;
		LWLockRelease(backup_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a background worker for backup \"%s\"", label),
				 errhint("Raise max_worker_processes (a restart is needed); each running backup takes one worker.")));
	}

	/* an ERROR or a FATAL while waiting must not leave a backup behind */
	starting.index = index;
	starting.generation = generation;
	PG_ENSURE_ERROR_CLEANUP(abandon_starting, PointerGetDatum(&starting));
	{
		if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_POSTMASTER_DIED)
			ereport(ERROR,
					(errcode(ERRCODE_ADMIN_SHUTDOWN),
					 errmsg("the postmaster died while backup \"%s\" was starting", label)));
		state = wait_for_slot(index, generation, false, handle, &copy);
	}
	PG_END_ENSURE_ERROR_CLEANUP(abandon_starting, PointerGetDatum(&starting));

	if (state != BACKUP_RUNNING && state != BACKUP_STOPPING && state != BACKUP_STOPPED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not start backup \"%s\"", label),
				 errdetail("The backup worker reports: %s.",
						   copy.error[0] != '\0' ? copy.error : backup_state_name(state))));
	PG_RETURN_LSN(copy.start_lsn);
}

/*
 * find_unfinished
 *		The slot of the unfinished backup with this label, or an error that
 *		says what became of it.  Returns with the lock held exclusively.
 */
static BackupSlot *
find_unfinished(const char *label, const char *what)
{
	BackupSlot *slot;

	LWLockAcquire(backup_shared->lock, LW_EXCLUSIVE);
	slot = backup_slot_by_label(label, true);
	if (slot == NULL)
	{
		BackupSlot *ended = backup_slot_by_label(label, false);
		char		ended_as[32] = "";
		char	   *ended_at = NULL;

		if (ended != NULL)
		{
			strlcpy(ended_as, backup_state_name(ended->state), sizeof(ended_as));
			ended_at = pstrdup(timestamptz_to_str(ended->stopped_at));
		}
		LWLockRelease(backup_shared->lock);
		if (ended_at != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("backup \"%s\" is not in progress", label),
					 errdetail("It ended as %s at %s.", ended_as, ended_at),
					 errhint("See pgrepl_admin.backups.")));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no backup with label \"%s\" is in progress", label),
				 errhint("See pgrepl_admin.backups.")));
	}
	if (slot->state == BACKUP_STOPPING || slot->request != BACKUP_REQUEST_NONE)
	{
		bool		stopping = slot->state == BACKUP_STOPPING ||
			slot->request == BACKUP_REQUEST_STOP;

		LWLockRelease(backup_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s backup \"%s\": it is already being %s", what, label,
						stopping ? "stopped" : "aborted")));
	}
	return slot;
}

/*
 * read_result
 *		Take the stopped backup's label and map files out of the worker's
 *		segment and release it.  NULL when another session took them.
 */
static bool
read_result(int index, uint64 generation, char **labelfile, char **spcmapfile)
{
	BackupSlot *slot;
	dsm_handle	handle = DSM_HANDLE_INVALID;
	dsm_segment *seg;
	BackupResult *result;

	LWLockAcquire(backup_shared->lock, LW_EXCLUSIVE);
	slot = backup_slot_for(index, generation);
	if (slot != NULL)
	{
		handle = slot->result;
		slot->result = DSM_HANDLE_INVALID;
	}
	LWLockRelease(backup_shared->lock);
	if (handle == DSM_HANDLE_INVALID)
		return false;

	seg = dsm_attach(handle);
	if (seg == NULL)
		elog(ERROR, "could not attach to the result of backup slot %d", index);
	result = dsm_segment_address(seg);
	*labelfile = pnstrdup(result->data, result->labelfile_len);
	*spcmapfile = pnstrdup(result->data + result->labelfile_len + 1, result->spcmapfile_len);
	dsm_unpin_segment(handle);
	dsm_detach(seg);
	return true;
}

/*
 * backup_stop(label, wait_for_archive)
 *		Stop a backup held by a worker, from any session; one row with the
 *		stop LSN and the contents of backup_label and tablespace_map.
 */
Datum
backup_stop(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *label;
	BackupSlot *slot;
	BackupSlot	copy;
	PgreplBackupState state;
	int			index;
	uint64		generation;
	char	   *labelfile;
	char	   *spcmapfile;
	Datum		values[BACKUP_STOP_COLS];
	bool		nulls[BACKUP_STOP_COLS] = {0};

	pgrepl_require_sql_version();
	pgrepl_require_home_database();
	pgrepl_require_preload("pgrepl_admin.backup_stop");
	label = label_arg(fcinfo);
	pgrepl_require_arg(fcinfo, 1, "wait_for_archive");
	InitMaterializedSRF(fcinfo, 0);

	slot = find_unfinished(label, "stop");
	index = slot - backup_shared->slots;
	generation = slot->generation;
	request(slot, BACKUP_REQUEST_STOP, PG_GETARG_BOOL(1));
	LWLockRelease(backup_shared->lock);

	state = wait_for_slot(index, generation, true, NULL, &copy);
	if (state != BACKUP_STOPPED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("backup \"%s\" could not be stopped", label),
				 errdetail("It ended as %s: %s.", backup_state_name(state),
						   copy.error[0] != '\0' ? copy.error : "no reason was given")));
	if (!read_result(index, generation, &labelfile, &spcmapfile))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the files of backup \"%s\" were already taken", label),
				 errhint("They are kept in pgrepl_admin.backup_history.")));

	values[0] = LSNGetDatum(copy.stop_lsn);
	values[1] = CStringGetTextDatum(labelfile);
	values[2] = CStringGetTextDatum(spcmapfile);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/*
 * backup_abort(label)
 *		Abort a backup held by a worker, from any session; true once it has
 *		ended as aborted, false when no backup with that label is in
 *		progress.
 */
Datum
backup_abort(PG_FUNCTION_ARGS)
{
	char	   *label;
	BackupSlot *slot;
	BackupSlot	copy;
	int			index;
	uint64		generation;

	pgrepl_require_sql_version();
	pgrepl_require_home_database();
	pgrepl_require_preload("pgrepl_admin.backup_abort");
	label = label_arg(fcinfo);

	LWLockAcquire(backup_shared->lock, LW_EXCLUSIVE);
	slot = backup_slot_by_label(label, true);
	if (slot == NULL)
	{
		LWLockRelease(backup_shared->lock);
		PG_RETURN_BOOL(false);
	}
	if (slot->state == BACKUP_STOPPING || slot->request == BACKUP_REQUEST_STOP)
	{
		LWLockRelease(backup_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot abort backup \"%s\": it is already being stopped", label)));
	}
	index = slot - backup_shared->slots;
	generation = slot->generation;
	/* one already being aborted is waited for */
	if (slot->request == BACKUP_REQUEST_NONE)
		backup_slot_request_abort(slot, BACKUP_REQUEST_ABORT);
	LWLockRelease(backup_shared->lock);
	ConditionVariableBroadcast(&backup_shared->changed);

	PG_RETURN_BOOL(wait_for_slot(index, generation, true, NULL, &copy) == BACKUP_ABORTED);
}

/*
 * backup_extend(label, timeout)
 *		Move a running backup's expiry to now + timeout (1 second to 100
 *		years, so never into the past), from any session; returns the new
 *		expiry.  Under the slots' lock, as the worker's own claim of an
 *		expired backup (claim_expiry in backup_worker.c): a backup whose
 *		expiry the worker has seen pass is being aborted, and refused here,
 *		so that an extension that returns always holds.  The worker is
 *		woken to sleep until the new expiry.
 */
Datum
backup_extend(PG_FUNCTION_ARGS)
{
	char	   *label;
	int64		timeout_secs;
	BackupSlot *slot;
	TimestampTz expires_at;

	pgrepl_require_sql_version();
	pgrepl_require_home_database();
	pgrepl_require_preload("pgrepl_admin.backup_extend");
	label = label_arg(fcinfo);
	timeout_secs = timeout_arg(fcinfo, 1, false);

	slot = find_unfinished(label, "extend");
	if (slot->state != BACKUP_RUNNING)
	{
		LWLockRelease(backup_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot extend backup \"%s\": it is still starting", label),
				 errhint("Extend it once pgrepl_admin.backup_start() has returned.")));
	}
	expires_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_secs * 1000);
	slot->expires_at = expires_at;
	backup_slot_wake_worker(slot);
	LWLockRelease(backup_shared->lock);
	PG_RETURN_TIMESTAMPTZ(expires_at);
}

/* A timestamp column: NULL for 0, which means "none". */
static void
set_time(Datum *values, bool *nulls, int col, TimestampTz t)
{
	values[col] = TimestampTzGetDatum(t);
	nulls[col] = (t == 0);
}

/* An LSN column: NULL when invalid. */
static void
set_lsn(Datum *values, bool *nulls, int col, XLogRecPtr lsn)
{
	values[col] = LSNGetDatum(lsn);
	nulls[col] = XLogRecPtrIsInvalid(lsn);
}

/*
 * backup_slots
 *		SRF behind the backups view: one row per backup in shared memory,
 *		running or ended since the server started.  history_id is the
 *		backup's backup_history row in this database, NULL for a backup
 *		started from another database.
 */
Datum
backup_slots(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	BackupSlot *copy;
	int			nslots;

	pgrepl_require_sql_version();
	pgrepl_require_preload("pgrepl_admin.backups");
	nslots = backup_shared->nslots;
	copy = palloc(sizeof(BackupSlot) * nslots);
	LWLockAcquire(backup_shared->lock, LW_SHARED);
	memcpy(copy, backup_shared->slots, sizeof(BackupSlot) * nslots);
	LWLockRelease(backup_shared->lock);

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < nslots; i++)
	{
		BackupSlot *slot = &copy[i];
		Datum		values[BACKUP_SLOTS_COLS] = {0};
		bool		nulls[BACKUP_SLOTS_COLS] = {0};

		if (slot->state == BACKUP_FREE)
			continue;
		values[0] = Int64GetDatum(slot->history_id);
		nulls[0] = slot->history_id == 0 || slot->database != MyDatabaseId;
		values[1] = CStringGetTextDatum(slot->label);
		values[2] = CStringGetTextDatum(backup_state_name(slot->state));
		values[3] = Int32GetDatum(slot->worker_pid);
		nulls[3] = slot->worker_pid == 0;
		set_lsn(values, nulls, 4, slot->start_lsn);
		set_time(values, nulls, 5, slot->started_at);
		set_time(values, nulls, 6, slot->expires_at);
		set_lsn(values, nulls, 7, slot->stop_lsn);
		set_time(values, nulls, 8, slot->stopped_at);
		values[9] = CStringGetTextDatum(slot->error);
		nulls[9] = slot->error[0] == '\0';
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
