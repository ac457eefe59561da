/*-------------------------------------------------------------------------
 *
 * sync_fallback.h
 *	  The maintenance task that lowers synchronous_standby_names when the
 *	  synchronous standbys are gone for pgrepl_admin.synchronous_fallback_after,
 *	  and restores the stored setting when they are back and caught up.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SYNC_FALLBACK_H
#define PGREPL_SYNC_FALLBACK_H

#include "fmgr.h"

#include "task.h"

extern const MaintenanceTask sync_fallback_task;

/* SQL face: pgrepl_admin.synchronous_fallback() (sync_fallback_status.c) */
extern PGDLLEXPORT Datum synchronous_fallback(PG_FUNCTION_ARGS);

#endif							/* PGREPL_SYNC_FALLBACK_H */
