/*-------------------------------------------------------------------------
 *
 * hba_sync.h
 *	  The maintenance task that keeps pg_hba.conf in line with
 *	  pgrepl_admin.hba_rules.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_HBA_SYNC_H
#define PGREPL_HBA_SYNC_H

#include "task.h"

extern const MaintenanceTask hba_sync_task;

#endif							/* PGREPL_HBA_SYNC_H */
