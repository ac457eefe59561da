/*-------------------------------------------------------------------------
 *
 * bgw_transaction.c
 *	  The one way pgrepl_admin's background workers (the maintenance
 *	  worker's tasks, the backup workers' steps) run a unit of work.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "bgw_transaction.h"

/*
 * bgw_run_in_transaction
 *		Run fn(arg) in a transaction of its own, with SPI connected and a
 *		snapshot pushed, showing activity in pg_stat_activity meanwhile.
 *		Returns NULL once it committed.  An ERROR is caught: the transaction
 *		is rolled back and a copy of the error, made in cxt, is returned for
 *		the caller to record and report.  FATAL (SIGTERM, say) still ends
 *		the process.  On return the current memory context is cxt.
 */
ErrorData *
bgw_run_in_transaction(BgwWorkFn fn, void *arg, const char *activity, MemoryContext cxt)
{
	ErrorData  *edata = NULL;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, activity);

		fn(arg);

		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(cxt);
	return edata;
}
