/*-------------------------------------------------------------------------
 *
 * sql_version.c
 *	  The check that the installed SQL objects and this library are the
 *	  same version.
 *
 * After a package upgrade the new library is loaded while the database
 * still holds the old version's SQL objects until ALTER EXTENSION ... UPDATE
 * runs (and the other way round after a downgrade).  The C functions and
 * the worker call pgrepl_require_sql_version() so that a mismatch is a
 * clear error with a hint rather than undefined behaviour.  The catalog
 * lookup is made once per transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "compat.h"
#include "sql_version.h"

#ifndef PGREPL_VERSION
#error "PGREPL_VERSION must be defined (the Makefile takes it from pgrepl_admin.control)"
#endif

/*
 * pgrepl_installed_sql_version
 *		The version of the extension installed in this database, palloc'd;
 *		NULL when it is not installed.
 */
char *
pgrepl_installed_sql_version(void)
{
	Oid			ext = get_extension_oid("pgrepl_admin", true);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *version = NULL;

	if (!OidIsValid(ext))
		return NULL;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * pgrepl_require_sql_version
 *		Raise an error unless the installed SQL objects are this library's
 *		version.
 */
void
pgrepl_require_sql_version(void)
{
	static LocalTransactionId checked_in = InvalidLocalTransactionId;
	char	   *installed;

	if (checked_in == PGREPL_MY_LXID)
		return;
	installed = pgrepl_installed_sql_version();
	if (installed != NULL && strcmp(installed, PGREPL_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgrepl_admin's SQL objects are version %s, but its library is version %s",
						installed, PGREPL_VERSION),
				 errhint("Run ALTER EXTENSION pgrepl_admin UPDATE (or install the library that matches version %s).",
						 installed)));
	checked_in = PGREPL_MY_LXID;
}
