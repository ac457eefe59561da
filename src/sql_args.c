/*-------------------------------------------------------------------------
 *
 * sql_args.c
 *	  Checks of SQL function arguments shared by the SQL faces.
 *
 * Functions that are not STRICT check their NULLs themselves, so that a
 * NULL gets an error naming the argument rather than a NULL result.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "sql_args.h"

/* Error out when argument n (named name) is NULL. */
void
require_arg(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}
