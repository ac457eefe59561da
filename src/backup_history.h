/*-------------------------------------------------------------------------
 *
 * backup_history.h
 *	  The pgrepl_admin.backup_history table: rows written by the backup
 *	  workers, and the maintenance task that prunes them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_BACKUP_HISTORY_H
#define PGREPL_BACKUP_HISTORY_H

#include "backup_slots.h"
#include "task.h"

extern int64 backup_history_save(const BackupSlot *slot, const char *labelfile,
								 const char *spcmapfile);

extern const MaintenanceTask backup_history_prune_task;

#endif							/* PGREPL_BACKUP_HISTORY_H */
