/*-------------------------------------------------------------------------
 *
 * pgrepl_admin.c
 *	  Module entry of pgrepl_admin: it defines the settings, requests the
 *	  shared memory and registers the maintenance worker.  Every feature
 *	  lives in its own file under src/.
 *
 * Loaded through shared_preload_libraries, the module gets its shared
 * memory and its worker, the managed key files get their 0600 mode back if
 * a copy of the data directory loosened it, and a CA key left in the data
 * directory by version 1.0 moves out of it.  Loaded on demand (CREATE
 * EXTENSION without preloading), it has neither shared memory nor worker:
 * functions that need them fail with a hint (see pgrepl_require_preload),
 * and the rest works.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"

#include "cert_store.h"
#include "compat.h"
#include "settings.h"
#include "shmem.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
pgrepl_shmem_request_hook(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	pgrepl_shmem_request();
}

static void
pgrepl_shmem_startup_hook(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	pgrepl_shmem_startup();
}

void
_PG_init(void)
{
	pgrepl_define_settings();

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgrepl_shmem_request_hook;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgrepl_shmem_startup_hook;

	pgrepl_register_maintenance_worker();
	pgrepl_wake_worker_on_extension_change();

	/* before the postmaster loads the SSL files, which it wants 0600 */
	cert_store_secure_modes();
	/* a CA key that version 1.0 kept in the data directory moves out */
	cert_store_migrate_at_start();
}
