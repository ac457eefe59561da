/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Allocation of pgrepl_admin's shared memory, and the check that SQL
 *	  functions needing it make.
 *
 * The module entry (pgrepl_admin.c) calls pgrepl_shmem_request() from its
 * shmem_request_hook and pgrepl_shmem_startup() from its
 * shmem_startup_hook; both only run when the library is preloaded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/shmem.h"

#include "backup_slots.h"
#include "shmem.h"

#define PGREPL_LWLOCK_TRANCHE "pgrepl_admin"

PgreplShared *pgrepl_shared = NULL;

Size
pgrepl_shmem_size(void)
{
	return MAXALIGN(sizeof(PgreplShared));
}

/*
 * pgrepl_shmem_request
 *		Reserve our space and our lock; only valid in a shmem_request_hook.
 */
void
pgrepl_shmem_request(void)
{
	RequestAddinShmemSpace(pgrepl_shmem_size());
	RequestNamedLWLockTranche(PGREPL_LWLOCK_TRANCHE, 1);

	/* backups held by background workers */
	backup_slots_shmem_request();
}

/*
 * pgrepl_shmem_startup
 *		Attach to (and the first time, initialise) the shared state.
 */
void
pgrepl_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pgrepl_shared = ShmemInitStruct("pgrepl_admin", pgrepl_shmem_size(), &found);
	if (!found)
	{
		memset(pgrepl_shared, 0, pgrepl_shmem_size());
		pgrepl_shared->lock = &(GetNamedLWLockTranche(PGREPL_LWLOCK_TRANCHE))->lock;
	}

	/* backups held by background workers */
	backup_slots_shmem_startup();

	LWLockRelease(AddinShmemInitLock);
}

/*
 * pgrepl_require_preload
 *		Raise a clear error when shared memory is missing because the
 *		library was loaded on demand rather than preloaded.  "what" names
 *		the thing that cannot work, for the message.
 */
void
pgrepl_require_preload(const char *what)
{
	if (pgrepl_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s requires pgrepl_admin to be loaded through shared_preload_libraries", what),
				 errhint("Add pgrepl_admin to shared_preload_libraries in postgresql.conf and restart the server.")));
}
