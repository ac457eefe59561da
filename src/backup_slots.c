/*-------------------------------------------------------------------------
 *
 * backup_slots.c
 *	  The shared-memory slots of the backups held by backup workers.
 *
 * A session that calls backup_start takes a slot (under the lock), fills in
 * the label and what the worker needs, and starts the worker; from then on
 * the worker publishes the backup's state, LSNs and error there, and any
 * session asks it to stop or abort by setting the slot's request and its
 * latch.  Every change of state is broadcast on one condition variable, on
 * which sessions wait.  A slot whose backup has ended keeps its last state
 * until a new backup takes it; the generation number tells a worker (and
 * its exit callback) whether the slot is still its own.
 *
 * The number of slots is pgrepl_admin.max_backups, read by the postmaster
 * when it sizes shared memory (shmem.c calls the two functions below).
 * The shared memory is rebuilt empty after a crash: backups in the server
 * do not survive one either.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "backup_slots.h"
#include "settings.h"

#define BACKUP_LWLOCK_TRANCHE "pgrepl_admin backups"

BackupShared *backup_shared = NULL;

static Size
backup_slots_shmem_size(void)
{
	return add_size(offsetof(BackupShared, slots),
					mul_size(pgrepl_max_backups, sizeof(BackupSlot)));
}

/*
 * backup_slots_shmem_request
 *		Reserve the slots and their lock; only valid in a shmem_request_hook.
 */
void
backup_slots_shmem_request(void)
{
	RequestAddinShmemSpace(backup_slots_shmem_size());
	RequestNamedLWLockTranche(BACKUP_LWLOCK_TRANCHE, 1);
}

/*
 * backup_slots_shmem_startup
 *		Attach to (and the first time, initialise) the slots.  The caller
 *		holds AddinShmemInitLock.
 */
void
backup_slots_shmem_startup(void)
{
	bool		found;

	backup_shared = ShmemInitStruct("pgrepl_admin backups", backup_slots_shmem_size(), &found);
	if (!found)
	{
		memset(backup_shared, 0, backup_slots_shmem_size());
		backup_shared->lock = &(GetNamedLWLockTranche(BACKUP_LWLOCK_TRANCHE))->lock;
		ConditionVariableInit(&backup_shared->changed);
		backup_shared->nslots = pgrepl_max_backups;
		for (int i = 0; i < backup_shared->nslots; i++)
			backup_shared->slots[i].result = DSM_HANDLE_INVALID;
	}
}

/* The name of a state, as the backups view shows it. */
const char *
backup_state_name(PgreplBackupState state)
{
	switch (state)
	{
		case BACKUP_FREE:
			return "free";
		case BACKUP_STARTING:
			return "starting";
		case BACKUP_RUNNING:
			return "running";
		case BACKUP_STOPPING:
			return "stopping";
		case BACKUP_STOPPED:
			return "stopped";
		case BACKUP_ABORTED:
			return "aborted";
		case BACKUP_FAILED:
			return "failed";
	}
	return "unknown";
}

/* Whether a backup in this state has ended (or never was). */
bool
backup_state_is_final(PgreplBackupState state)
{
	return state == BACKUP_FREE || state == BACKUP_STOPPED ||
		state == BACKUP_ABORTED || state == BACKUP_FAILED;
}

/*
 * backup_slot_by_label
 *		The slot holding the backup with this label; with unfinished_only,
 *		only one that has not ended.  When several ended backups had the
 *		label, the latest one.  The caller holds the lock.
 */
BackupSlot *
backup_slot_by_label(const char *label, bool unfinished_only)
{
	BackupSlot *found = NULL;

	for (int i = 0; i < backup_shared->nslots; i++)
	{
		BackupSlot *slot = &backup_shared->slots[i];

		if (slot->state == BACKUP_FREE || strcmp(slot->label, label) != 0)
			continue;
		if (!backup_state_is_final(slot->state))
			return slot;
		if (!unfinished_only &&
			(found == NULL || slot->started_at > found->started_at))
			found = slot;
	}
	return found;
}

/*
 * backup_slot_for
 *		Slot number index if it still belongs to the given generation, else
 *		NULL.  The caller holds the lock.
 */
BackupSlot *
backup_slot_for(int index, uint64 generation)
{
	BackupSlot *slot;

	if (index < 0 || index >= backup_shared->nslots)
		return NULL;
	slot = &backup_shared->slots[index];
	return slot->generation == generation ? slot : NULL;
}

/* Set the slot's error message.  The caller holds the lock exclusively. */
void
backup_slot_set_error(BackupSlot *slot, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	vsnprintf(slot->error, BACKUP_ERROR_LEN, fmt, args);
	va_end(args);
}

/* Wake the slot's worker, if it runs yet.  The caller holds the lock. */
void
backup_slot_wake_worker(BackupSlot *slot)
{
	if (slot->worker_latch != NULL)
		SetLatch(slot->worker_latch);
}

/*
 * backup_slot_request_abort
 *		Ask the slot's worker to abort its backup (why: BACKUP_REQUEST_ABORT
 *		or BACKUP_REQUEST_ABANDON).  A worker still starting the backup
 *		that has written its backup_history row is also sent SIGINT, which
 *		cuts short a wait in pg_backup_start for its checkpoint (before
 *		the row exists it looks for a request itself, after writing it).  A
 *		worker that has not attached yet never will: the backup ends here,
 *		as aborted.  The caller holds the lock exclusively, and broadcasts
 *		the change after releasing it.
 */
void
backup_slot_request_abort(BackupSlot *slot, BackupRequest why)
{
	slot->request = why;
	if (slot->state == BACKUP_STARTING && slot->worker_pid == 0)
	{
		slot->state = BACKUP_ABORTED;
		slot->stopped_at = GetCurrentTimestamp();
		strlcpy(slot->error, backup_abort_reason(why), BACKUP_ERROR_LEN);
		return;
	}
	backup_slot_wake_worker(slot);
	if (slot->state == BACKUP_STARTING && slot->history_id != 0 &&
		slot->worker_latch != NULL)
		(void) kill(slot->worker_pid, SIGINT);
}

/* Why a backup ended on an abort request, as the backups view says. */
const char *
backup_abort_reason(BackupRequest why)
{
	if (why == BACKUP_REQUEST_ABANDON)
		return "the session that called pgrepl_admin.backup_start() was cancelled, terminated or failed before the backup ran";
	return "aborted with pgrepl_admin.backup_abort()";
}
