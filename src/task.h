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
 * contains it, records it and retries with back-off.  A task may also
 * poll, cheaply and outside any transaction, on a standby, to do work as
 * soon as replay brings it rather than at its interval, and may ask to run
 * first at promotion.
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

	/*
	 * Optional, for a task that runs in recovery: on a standby the worker
	 * calls poll() every TASK_POLL_MS, outside any transaction (so it must
	 * be cheap and must not touch the database), unless the task is in
	 * back-off after a failure.  When it returns true, follow() runs at
	 * once, like run(), whatever the interval (also 0), and counts as a run
	 * of the task without moving its next interval run.
	 */
	bool		(*poll) (void);
	void		(*follow) (void);
	/* true: run() runs as soon as the worker sees the server promoted, first */
	bool		run_at_promotion;

	/*
	 * true: the task runs in a background worker of its own (the fallback
	 * worker), which runs no other task, so that no other task's run (a
	 * certificate renewal waiting up to 30 s for "served") can delay it
	 */
	bool		own_worker;
} MaintenanceTask;

/* a task's current interval in milliseconds; 0 = disabled */
static inline long
maintenance_task_interval_ms(const MaintenanceTask *task)
{
	if (task->interval_ms != NULL)
		return task->interval_ms();
	return task->interval_seconds() * 1000L;
}

/* how often the worker polls on a standby, and looks for its promotion */
#define TASK_POLL_MS 1000

/* every task, in a fixed order (task_registry.c) */
extern const MaintenanceTask *const pgrepl_tasks[];
extern const int pgrepl_task_count;

#endif							/* PGREPL_TASK_H */
