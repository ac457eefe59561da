/*-------------------------------------------------------------------------
 *
 * lag_sample.h
 *	  The maintenance task that samples replication lag into
 *	  pgrepl_admin.lag_history.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_LAG_SAMPLE_H
#define PGREPL_LAG_SAMPLE_H

#include "task.h"

extern const MaintenanceTask lag_sample_task;

#endif							/* PGREPL_LAG_SAMPLE_H */
