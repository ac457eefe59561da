/*-------------------------------------------------------------------------
 *
 * sql_args.c
 *	  Argument checks shared by the SQL functions.
 *
 * The functions are not STRICT, so that a NULL argument is an error that
 * names it instead of a silent NULL result.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "sql_args.h"

/* Error out when argument n (named name) is NULL. */
void
pgrepl_require_arg(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}
