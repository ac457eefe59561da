/*-------------------------------------------------------------------------
 *
 * worker_status.h
 *	  SQL face of the maintenance worker's state.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_WORKER_STATUS_H
#define PGREPL_WORKER_STATUS_H

#include "fmgr.h"

extern PGDLLEXPORT Datum worker_status(PG_FUNCTION_ARGS);

#endif							/* PGREPL_WORKER_STATUS_H */
