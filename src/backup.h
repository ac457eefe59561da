/*-------------------------------------------------------------------------
 *
 * backup.h
 *	  SQL face of backups held by background workers: backup_start,
 *	  backup_stop, backup_abort, backup_extend and backup_slots (behind the
 *	  backups view).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_BACKUP_H
#define PGREPL_BACKUP_H

#include "fmgr.h"

extern PGDLLEXPORT Datum backup_start(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum backup_stop(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum backup_abort(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum backup_extend(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum backup_slots(PG_FUNCTION_ARGS);

#endif							/* PGREPL_BACKUP_H */
