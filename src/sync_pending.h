/*-------------------------------------------------------------------------
 *
 * sync_pending.h
 *	  The sync_pending task: deferred synchronous standbys named once they
 *	  stream.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SYNC_PENDING_H
#define PGREPL_SYNC_PENDING_H

#include "task.h"

extern const MaintenanceTask sync_pending_task;

#endif							/* PGREPL_SYNC_PENDING_H */
