/*-------------------------------------------------------------------------
 *
 * sync_promotion.h
 *	  The sync_promotion task: no synchronous standby on a standby, and the
 *	  stored setting, less this server itself, at its promotion.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SYNC_PROMOTION_H
#define PGREPL_SYNC_PROMOTION_H

#include "fmgr.h"
#include "task.h"

extern const MaintenanceTask sync_promotion_task;
extern char *sync_own_name(void);
extern bool sync_promotion_pending(void);
extern PGDLLEXPORT Datum synchronous_self(PG_FUNCTION_ARGS);

#endif							/* PGREPL_SYNC_PROMOTION_H */
