/*-------------------------------------------------------------------------
 *
 * task.h
 *	  What a maintenance task is, for the worker's scheduler.
 *
 * Each concern (lag sampling, certificate renewal, ...) describes its
 * periodic work with one MaintenanceTask in its own file; task_registry.c
 * lists them all.  The scheduler in worker.c runs each task's run function
 * inside its own transaction with SPI connected and a snapshot pushed, so a
 * task is plain SQL-or-C work that may throw an ERROR: the scheduler
 * contains it, records it and retries with back-off.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_TASK_H
#define PGREPL_TASK_H

typedef struct MaintenanceTask
{
	/* short name, shown in pgrepl_admin.worker_status */
	const char *name;
	/* one sentence saying what the task does */
	const char *description;
	/* true when the task only reads, and so may run on a hot standby */
	bool		runs_in_recovery;
	/* current interval in seconds, from the task's setting; 0 = disabled */
	int			(*interval_seconds) (void);
	/*
	 * or, for a task that must run more often than once a second, its
	 * interval in milliseconds (when set, interval_seconds is not used)
	 */
	int			(*interval_ms) (void);
	/* the work; runs in a transaction, SPI connected */
	void		(*run) (void);
} MaintenanceTask;

/* a task's current interval in milliseconds; 0 = disabled */
static inline long
maintenance_task_interval_ms(const MaintenanceTask *task)
{
	if (task->interval_ms != NULL)
		return task->interval_ms();
	return task->interval_seconds() * 1000L;
}

/* every task, in a fixed order (task_registry.c) */
extern const MaintenanceTask *const pgrepl_tasks[];
extern const int pgrepl_task_count;

#endif							/* PGREPL_TASK_H */
