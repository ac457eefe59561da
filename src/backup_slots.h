/*-------------------------------------------------------------------------
 *
 * backup_slots.h
 *	  The shared-memory slots through which sessions and backup workers
 *	  talk: one slot per backup, pgrepl_admin.max_backups of them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_BACKUP_SLOTS_H
#define PGREPL_BACKUP_SLOTS_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "storage/condition_variable.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

/* pg_backup_start refuses labels longer than MAXPGPATH bytes; so do we */
#define BACKUP_LABEL_MAX MAXPGPATH
#define BACKUP_ERROR_LEN 512

/* where a backup stands; the names are those of the backups view */
typedef enum PgreplBackupState
{
	BACKUP_FREE = 0,			/* the slot holds no backup */
	BACKUP_STARTING,			/* the worker is starting it */
	BACKUP_RUNNING,				/* the worker holds it */
	BACKUP_STOPPING,			/* the worker is stopping it */
	BACKUP_STOPPED,				/* stopped: labelfile and spcmapfile exist */
	BACKUP_ABORTED,				/* ended on request, time-out or SIGTERM */
	BACKUP_FAILED				/* an error or an unexpected exit ended it */
} PgreplBackupState;

/* what a session asks of the worker */
typedef enum BackupRequest
{
	BACKUP_REQUEST_NONE = 0,
	BACKUP_REQUEST_STOP,
	BACKUP_REQUEST_ABORT,		/* backup_abort() */
	BACKUP_REQUEST_ABANDON,		/* backup_start()'s caller went away */
	BACKUP_REQUEST_EXPIRE		/* the worker saw its expiry pass */
} BackupRequest;

typedef struct BackupSlot
{
	PgreplBackupState state;
	uint64		generation;		/* changes each time the slot is taken */
	char		label[BACKUP_LABEL_MAX + 1];
	bool		fast;
	Oid			database;		/* where the worker connects */
	Oid			role;			/* as whom */
	pid_t		worker_pid;		/* 0 until the worker runs, and after */
	Latch	   *worker_latch;	/* to wake the worker; NULL until it runs */
	int64		history_id;		/* its backup_history row; 0 before */
	XLogRecPtr	start_lsn;
	XLogRecPtr	stop_lsn;
	TimestampTz started_at;		/* when backup_start asked for it */
	int64		timeout_secs;	/* backup_start's time-out */
	TimestampTz expires_at;		/* 0 while it starts; then the time it
								 * began to run + timeout, or as extended */
	TimestampTz stopped_at;		/* when it ended, however */
	BackupRequest request;
	bool		wait_for_archive;	/* for a stop request */
	/* pinned segment with labelfile and spcmapfile, until backup_stop reads it */
	dsm_handle	result;
	char		error[BACKUP_ERROR_LEN];
} BackupSlot;

typedef struct BackupShared
{
	LWLock	   *lock;			/* protects every slot */
	ConditionVariable changed;	/* broadcast on every state change */
	uint64		generation;		/* last generation given to a slot */
	int			nslots;
	BackupSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} BackupShared;

/* NULL unless the library was preloaded */
extern BackupShared *backup_shared;

extern void backup_slots_shmem_request(void);
extern void backup_slots_shmem_startup(void);

extern const char *backup_state_name(PgreplBackupState state);
extern bool backup_state_is_final(PgreplBackupState state);
extern BackupSlot *backup_slot_by_label(const char *label, bool unfinished_only);
extern BackupSlot *backup_slot_for(int index, uint64 generation);
extern void backup_slot_set_error(BackupSlot *slot, const char *fmt,...) pg_attribute_printf(2, 3);
extern void backup_slot_wake_worker(BackupSlot *slot);
extern void backup_slot_request_abort(BackupSlot *slot, BackupRequest why);
extern const char *backup_abort_reason(BackupRequest why);

#endif							/* PGREPL_BACKUP_SLOTS_H */
