/*-------------------------------------------------------------------------
 *
 * bgw_transaction.h
 *	  A unit of work in a background worker: its own transaction, SPI
 *	  connected, errors contained.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_BGW_TRANSACTION_H
#define PGREPL_BGW_TRANSACTION_H

#include "utils/elog.h"
#include "utils/palloc.h"

typedef void (*BgwWorkFn) (void *arg);

extern ErrorData *bgw_run_in_transaction(BgwWorkFn fn, void *arg, const char *activity,
										 MemoryContext cxt);

#endif							/* PGREPL_BGW_TRANSACTION_H */
