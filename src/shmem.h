/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  pgrepl_admin's shared memory: what the maintenance worker publishes
 *	  about itself and its tasks for other sessions to read.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SHMEM_H
#define PGREPL_SHMEM_H

#include "datatype/timestamp.h"
#include "storage/lwlock.h"

#define PGREPL_MAX_TASKS 16
#define PGREPL_ERROR_LEN 512

/* where a task stands in the scheduler */
typedef enum TaskState
{
	TASK_STATE_STOPPED = 0,		/* the worker is not running */
	TASK_STATE_WAITING_EXTENSION,	/* extension not created in the database */
	TASK_STATE_WAITING_PROMOTION,	/* writes, and the server is a standby */
	TASK_STATE_DISABLED,		/* its interval setting is 0 */
	TASK_STATE_SCHEDULED,		/* will run at next_run */
	TASK_STATE_RUNNING			/* running now */
} TaskState;

/* how the task's last run ended */
typedef enum TaskOutcome
{
	TASK_OUTCOME_NONE = 0,		/* it has not run since the worker started */
	TASK_OUTCOME_OK,
	TASK_OUTCOME_ERROR
} TaskOutcome;

typedef struct TaskStatus
{
	TaskState	state;
	TaskOutcome outcome;
	TimestampTz last_run;		/* start of the last run; 0 if none */
	TimestampTz next_run;		/* 0 when not scheduled */
	int64		runs;
	int64		failures;
	int			consecutive_failures;
	char		last_error[PGREPL_ERROR_LEN];
} TaskStatus;

/* where the synchronous fallback stands (sync_fallback.c) */
typedef enum SyncFallbackState
{
	SYNC_FALLBACK_UNKNOWN = 0,	/* the task has not run yet */
	SYNC_FALLBACK_OFF,			/* synchronous_fallback_after is 0 */
	SYNC_FALLBACK_IDLE,			/* no stored setting, or one asking for none */
	SYNC_FALLBACK_MANUAL,		/* in force is not the stored setting */
	SYNC_FALLBACK_OK,			/* enough named standbys are streaming */
	SYNC_FALLBACK_MISSING,		/* too few, since "since" */
	SYNC_FALLBACK_ACTIVE,		/* lowered, since "since" */
	SYNC_FALLBACK_CATCHING_UP	/* lowered; enough are back, not caught up */
} SyncFallbackState;

/* long enough for the quoted names of dozens of standbys */
#define PGREPL_SYNC_VALUE_LEN 2048

typedef struct SyncFallbackStatus
{
	SyncFallbackState state;
	TimestampTz since;			/* missing or lowered since; 0 otherwise */
	TimestampTz fallback_at;	/* when missing: when it lowers */
	uint64		restore_lsn;	/* catching up: the WAL position to reach */
	int			nmissing;		/* named standbys not streaming */
	char		missing[PGREPL_SYNC_VALUE_LEN]; /* their names, each NUL-ended */
	char		in_force[PGREPL_SYNC_VALUE_LEN];	/* as the worker knows it */
	char		stored[PGREPL_SYNC_VALUE_LEN];	/* set_synchronous's value */
} SyncFallbackStatus;

typedef struct PgreplShared
{
	LWLock	   *lock;			/* protects everything below */
	pid_t		worker_pid;		/* 0 when the worker is not running */
	TaskStatus	tasks[PGREPL_MAX_TASKS];
	SyncFallbackStatus sync_fallback;
	pid_t		fallback_worker_pid;	/* as worker_pid, for the worker of the
										 * tasks with own_worker (sync_fallback) */
	bool		promotion_checked;	/* sync_promotion's first run on a
									 * primary has committed (since start) */
} PgreplShared;

/* NULL unless the library was loaded through shared_preload_libraries */
extern PgreplShared *pgrepl_shared;

extern Size pgrepl_shmem_size(void);
extern void pgrepl_shmem_request(void);
extern void pgrepl_shmem_startup(void);
extern void pgrepl_require_preload(const char *what);

#endif							/* PGREPL_SHMEM_H */
