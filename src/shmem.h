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

typedef struct PgreplShared
{
	LWLock	   *lock;			/* protects everything below */
	pid_t		worker_pid;		/* 0 when the worker is not running */
	TaskStatus	tasks[PGREPL_MAX_TASKS];
} PgreplShared;

/* NULL unless the library was loaded through shared_preload_libraries */
extern PgreplShared *pgrepl_shared;

extern Size pgrepl_shmem_size(void);
extern void pgrepl_shmem_request(void);
extern void pgrepl_shmem_startup(void);
extern void pgrepl_require_preload(const char *what);

#endif							/* PGREPL_SHMEM_H */
