/*-------------------------------------------------------------------------
 *
 * hba_sql.h
 *	  SQL face of the managed pg_hba.conf rules: hba_add, hba_remove,
 *	  hba_sync, the hba_status view and the trigger on hba_rules; the
 *	  checked add and remove that add_standby and remove_standby share.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_HBA_SQL_H
#define PGREPL_HBA_SQL_H

#include "fmgr.h"

#include "hba_file.h"

extern void hba_rules_check(const HbaRule *rule, bool force);
extern int64 hba_rules_add(HbaRule *rule, bool force);
extern bool hba_rules_remove(int64 rule_id);
extern int64 hba_rules_find(const char *connection_type, const char *database,
							const char *role_name, const char *address, char **method);

extern PGDLLEXPORT Datum hba_add(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum hba_remove(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum hba_sync(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum hba_file_status(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum hba_rules_changed(PG_FUNCTION_ARGS);

#endif							/* PGREPL_HBA_SQL_H */
