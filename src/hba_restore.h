/*-------------------------------------------------------------------------
 *
 * hba_restore.h
 *	  Rules that reach pgrepl_admin.hba_rules other than through the
 *	  extension's functions (a restored dump) wait until applied.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_HBA_RESTORE_H
#define PGREPL_HBA_RESTORE_H

#include "fmgr.h"

extern char **hba_restore_query_row(const char *sql, int nargs, const char *const *argv);

extern PGDLLEXPORT Datum hba_rules_guard(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum hba_apply_restored(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum hba_discard_restored(PG_FUNCTION_ARGS);

#endif							/* PGREPL_HBA_RESTORE_H */
