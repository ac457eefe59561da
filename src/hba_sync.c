/*-------------------------------------------------------------------------
 *
 * hba_sync.c
 *	  The hba_sync maintenance task: repairs drift between pg_hba.conf and
 *	  pgrepl_admin.hba_rules, and on a standby makes the file follow the
 *	  replicated table.
 *
 * Every pgrepl_admin.hba_check_interval it renders the file from the table
 * exactly as a committing transaction does (hba_file_sync_now) and, when
 * the live file differs (someone edited inside the managed block, an old
 * file was restored, the server crashed between a commit and its rename),
 * installs the checked result, reloads and logs what it changed.
 *
 * On a standby, where the table changes only by replay and no commit
 * writes the file, it also follows the table within about a second of a
 * replayed change, whatever the interval, so that a promoted standby
 * already admits what the primary admitted:
 *
 *	- each TASK_POLL_MS the worker calls hba_sync_poll(), outside any
 *	  transaction: it compares the replay position with the one it saw
 *	  last (one read of shared memory).  An idle standby stops there;
 *	- when replay moved, hba_sync_follow() reads the table (a few rows)
 *	  and compares its rules, rendered as their lines, with those it last
 *	  rendered into the file; only when they differ does it do what the
 *	  drift check does, with those very rules: render, check with the
 *	  server's parser, rename durably, reload, log.  A busy standby thus
 *	  costs one small query a second; an edit of the file by hand is left
 *	  to the drift check, as on a primary;
 *	- the poll's position is taken before the transaction's snapshot, so
 *	  every change replayed up to it is seen.  It counts as followed only
 *	  once the render has succeeded: after a failure the worker's back-off
 *	  applies, then the next poll tries again.
 *
 * When the worker sees the server promoted, it runs the whole check at
 * once, before any other task (run_at_promotion), also when the interval
 * is 0: the new primary's file is right however the last replay went.
 * Reading the table is allowed in recovery, and the file is not part of
 * the database.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "lib/stringinfo.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "hba_file.h"
#include "hba_sync.h"
#include "settings.h"

/* the replay position of the last poll, and of the last one followed */
static XLogRecPtr polled_lsn = InvalidXLogRecPtr;
static XLogRecPtr followed_lsn = InvalidXLogRecPtr;

/* the lines of the rules last rendered by hba_sync_follow(), or NULL */
static char *followed_rules = NULL;

static int
hba_sync_interval(void)
{
	return pgrepl_hba_check_interval;
}

static void
hba_sync_run(void)
{
	(void) hba_file_sync_now();
}

/* Whether replay moved since the last position followed. */
static bool
hba_sync_poll(void)
{
	polled_lsn = GetXLogReplayRecPtr(NULL);
	return polled_lsn != followed_lsn;
}

/*
 * hba_sync_follow
 *		On a standby, after replay moved: render the file from the table
 *		when its rules differ from those last rendered.
 */
static void
hba_sync_follow(void)
{
	XLogRecPtr	lsn = polled_lsn;
	List	   *rules;
	ListCell   *lc;
	StringInfoData lines;

	PushActiveSnapshot(GetLatestSnapshot());
	rules = hba_file_read_rules();
	PopActiveSnapshot();

	initStringInfo(&lines);
	foreach(lc, rules)
		appendStringInfoString(&lines, hba_file_rule_line(lfirst(lc)));

	if (followed_rules == NULL || strcmp(lines.data, followed_rules) != 0)
	{
		(void) hba_file_sync_rules(rules);
		if (followed_rules != NULL)
			pfree(followed_rules);
		followed_rules = MemoryContextStrdup(TopMemoryContext, lines.data);
	}
	followed_lsn = lsn;
}

const MaintenanceTask hba_sync_task = {
	.name = "hba_sync",
	.description = "Rewrites the managed block of pg_hba.conf when it differs from pgrepl_admin.hba_rules, on a primary and on a standby, where it also follows replayed changes of the table within seconds.",
	.runs_in_recovery = true,
	.interval_seconds = hba_sync_interval,
	.run = hba_sync_run,
	.poll = hba_sync_poll,
	.follow = hba_sync_follow,
	.run_at_promotion = true,
};
