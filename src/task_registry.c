/*-------------------------------------------------------------------------
 *
 * task_registry.c
 *	  The list of the maintenance worker's tasks.
 *
 * A new periodic job is added by writing its MaintenanceTask in its own
 * concern's file and naming it here.  The order is the order of
 * pgrepl_admin.worker_status and of the slots in shared memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "backup_history.h"
#include "cert_renew.h"
#include "hba_sync.h"
#include "lag_sample.h"
#include "shmem.h"
#include "sync_fallback.h"
#include "sync_pending.h"
#include "sync_promotion.h"
#include "task.h"

const MaintenanceTask *const pgrepl_tasks[] = {
	/* first: at promotion, the setting before any other task runs */
	&sync_promotion_task,
	/* then: after a restart it puts the stored synchronous setting back */
	&sync_fallback_task,
	&sync_pending_task,
	&lag_sample_task,
	&cert_renew_task,
	&backup_history_prune_task,
	&hba_sync_task,
};

const int	pgrepl_task_count = lengthof(pgrepl_tasks);

StaticAssertDecl(lengthof(pgrepl_tasks) <= PGREPL_MAX_TASKS,
				 "raise PGREPL_MAX_TASKS");
