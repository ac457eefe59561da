/*-------------------------------------------------------------------------
 *
 * backup_worker.h
 *	  The dynamic background worker that starts, holds and ends one backup.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_BACKUP_WORKER_H
#define PGREPL_BACKUP_WORKER_H

#include "postmaster/bgworker.h"

/* the worker's result segment: labelfile, then spcmapfile, both NUL-ended */
typedef struct BackupResult
{
	Size		labelfile_len;
	Size		spcmapfile_len;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} BackupResult;

extern BackgroundWorkerHandle *backup_worker_launch(int index, uint64 generation);
extern PGDLLEXPORT void pgrepl_backup_worker_main(Datum main_arg);

#endif							/* PGREPL_BACKUP_WORKER_H */
